#!/usr/bin/env bash
# CLI tests of `report`, `compare` and analysis/plot.py over the hand-made run
# logs in tests/data/runs (answers worked out in tests/unit/test_report.c and
# test_compare.c): exit codes, every output format, golden figures.
source "$(dirname "$0")/../lib.sh"
R="$ROOT/tests/data/runs"
PY=/usr/bin/python3
# jq-like checks with Python: pyjson FILE EXPR (EXPR sees the document as d)
# save FILE CMD...: runs CMD with stdout into FILE; a test that it exits 0
# with nothing from the sanitizers on stderr.
save() {
    local f=$1; shift
    "$@" >"$f" 2>"$T/.save.err"
    local rc=$?
    if [ $rc = 0 ] && ! grep -qE 'Sanitizer|runtime error' "$T/.save.err"; then pass "exit 0: ${*#$BIN }"
    else fail "exit $rc: $*" "$(head -c 600 "$T/.save.err")"; fi
}
pyjson() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }

# --- report: usage ---
expect_out "report --help lists the options" '--exclude-warmup' "$BIN" report --help
expect_out "help report" 'report RUN_DIR' "$BIN" help report
expect_err "report without a run: exit 2" 2 'missing RUN_DIR' "$BIN" report
expect_err "report: unknown option: exit 2" 2 "unknown option '--bogus'" "$BIN" report "$R/basic" --bogus
expect_err "report --format xml: exit 2" 2 'format must be' "$BIN" report "$R/basic" --format xml
expect_err "report --slo bad: exit 2" 2 'unknown metric' "$BIN" report "$R/basic" --slo itl=5ms
expect_err "report --by tenant: exit 2" 2 'by must be' "$BIN" report "$R/basic" --by tenant
expect_err "report --series without csv: exit 2" 2 'series goes with' "$BIN" report "$R/basic" --series
expect_err "report --exclude-warmup=soon: exit 2" 2 'request count or a time' "$BIN" report "$R/basic" --exclude-warmup=soon
expect_err "report two runs: exit 2" 2 'use compare' "$BIN" report "$R/a" "$R/b"

# --- report: bad input and missing files ---
expect_err "report on a malformed log: exit 3 with file:line: field" 3 \
    'bad/requests.jsonl:2: request index 2: field "t_end_ns": expected an integer' "$BIN" report "$R/bad"
expect_err "report on a missing run: exit 4" 4 'no-such-run: cannot open' "$BIN" report "$R/no-such-run"
mkdir -p "$T/badrun" && cp "$R/a/requests.jsonl" "$T/badrun/" && echo '{"speed": ' > "$T/badrun/run.json"
expect_err "report with a malformed run.json: exit 3" 3 'run.json: not a JSON object' "$BIN" report "$T/badrun"

# --- report: the table ---
save "$T/basic.txt" "$BIN" report "$R/basic"
check "report: the first line is the send-lag verdict (late)" \
    "head -n 1 '$T/basic.txt' | grep -q '^WARNING: the client was late: send lag p99 1.91 ms exceeds 1.00 ms'"
check "report: the vLLM-style block" "grep -q 'Median TTFT (ms): *30.00' '$T/basic.txt' && grep -q 'P99 ITL (ms): *38.40' '$T/basic.txt'"
check "report: goodput under the run's own SLO" "grep -q 'SLO ttft <= 35 ms, e2el <= 115 ms (from the run' '$T/basic.txt' && grep -q 'met by 1 of 7 measured requests' '$T/basic.txt'"
check "report: errors by class with messages" "grep -q 'http_5xx *1 *14.29%' '$T/basic.txt' && grep -q 'engine overloaded' '$T/basic.txt'"
check "report: a time series" "grep -q '^Over time (2 s intervals' '$T/basic.txt'"
save "$T/a.txt" "$BIN" report "$R/a"
check "report: on-time verdict" "head -n 1 '$T/a.txt' | grep -q '^Send lag: the client kept the schedule'"
check "report: no SLO, no goodput line" "! grep -q 'goodput' '$T/a.txt'"

# --- report: JSON ---
save "$T/basic.json" "$BIN" report "$R/basic" --format json --by model --interval 1s
ok "report --format json is JSON with the hand-computed figures" pyjson "$T/basic.json" \
    "d['completed']==5 and d['failed']==2 and d['median_ttft_ms']==30 and d['p90_ttft_ms']==46 and abs(d['p99_itl_ms']-38.4)<1e-12 and d['send_lag_max_us']==2000 and d['not_sent']==1 and d['trace_rate']==10 and d['errors']=={'http_5xx':1,'timeout':1}"
ok "report json: goodput, verdict, groups, series" pyjson "$T/basic.json" \
    "d['goodput']['met']==1 and d['goodput']['missed']=={'ttft':2,'e2el':2,'failed':2} and d['send_lag']['late'] and [g['group'] for g in d['groups']['rows']]==['m1','m2'] and len(d['timeseries']['rows'])==63 and d['timeseries']['rows'][0]['in_flight']==0.43"
save "$T/file.json" "$BIN" report "$R/basic/requests.jsonl" --format json --slo ttft=25ms
ok "report on the log file itself reads run.json beside it; --slo wins" pyjson "$T/file.json" \
    "d['not_sent']==1 and d['goodput']['met']==2 and d['goodput']['slo_from']=='command line'"
save "$T/none.json" "$BIN" report "$R/basic" --format json --slo none
ok "report --slo none: no goodput" pyjson "$T/none.json" "'request_goodput' not in d and d['goodput'] is None"
save "$T/ex.json" "$BIN" report "$R/basic" --format json --exclude-warmup=3
ok "report --exclude-warmup=3 leaves out indices below 3" pyjson "$T/ex.json" "d['warmup_excluded']==3 and d['completed']==3"
save "$T/ex2.json" "$BIN" report "$R/basic" --format json --exclude-warmup=61s
ok "report --exclude-warmup=61s leaves out the first 61 s" pyjson "$T/ex2.json" "d['completed']==1 and d['failed']==1"
save "$T/ex3.json" "$BIN" report "$R/basic" --format json --exclude-warmup
ok "report --exclude-warmup alone: the marked warm-up only (the default)" pyjson "$T/ex3.json" "d['warmup_excluded']==1"

# --- report: Markdown and CSV ---
expect_out "report --format md" '^\| Median TTFT \(ms\) \| 30\.00 \|$' "$BIN" report "$R/basic" --format md
expect_out "report --format md --by session has a group table" '^\| s2 \| 2 \| 0 \|' "$BIN" report "$R/basic" --format md --by session
save "$T/basic.csv" "$BIN" report "$R/basic" --format csv --by api
check "report --format csv: a header, the run, one row per group" \
    "[ \$(wc -l < '$T/basic.csv') = 4 ] && head -n 1 '$T/basic.csv' | grep -q '^api,completed,failed,duration,' && grep -q '^all,5,2,62.0019,' '$T/basic.csv' && grep -q '^completions,1,0,' '$T/basic.csv'"
save "$T/series.csv" "$BIN" report "$R/basic" --format csv --series --interval 1s
check "report --format csv --series: the time series" \
    "[ \$(wc -l < '$T/series.csv') = 64 ] && sed -n 2p '$T/series.csv' | grep -q '^0,5,5,4,1,25,39.7,0.43$'"

# --- compare ---
expect_out "compare --help" 'bootstrap' "$BIN" compare --help
expect_err "compare without runs: exit 2" 2 'missing runs' "$BIN" compare
expect_err "compare one run without original timings: exit 2" 2 'needs two runs' "$BIN" compare "$R/a"
expect_err "compare --resamples 1: exit 2" 2 'resamples needs' "$BIN" compare "$R/a" "$R/b" --resamples 1
expect_err "compare --level 2: exit 2" 2 'level needs' "$BIN" compare "$R/a" "$R/b" --level 2
expect_err "compare a malformed log: exit 3" 3 'field "t_end_ns"' "$BIN" compare "$R/a" "$R/bad"
expect_err "compare --orig where the trace is not found: exit 3" 3 'orig: trace t.jsonl.zst not found' "$BIN" compare "$R/a" "$R/b" --orig
save "$T/ab.txt" "$BIN" compare "$R/a" "$R/b"
check "compare a b: b slower in median TTFT, with the interval" \
    "grep -Eq 'B vs A +median ttft +119\.500 +169\.500 +\+50\.000 +\[\+[0-9.]+, \+[0-9.]+\] +\+41\.8% +slower' '$T/ab.txt'"
check "compare a b: the seed and resamples are stated" "grep -q 'seed 1, 1000 resamples' '$T/ab.txt'"
check "compare a b: paired by index, all slower" "grep -Eq 'B vs A +ttft +40 +0\.0% +100\.0% +0\.0% +\+50\.000' '$T/ab.txt'"
check "compare a b: no warning" "! grep -q WARNING '$T/ab.txt'"
save "$T/abc.txt" "$BIN" compare "$R/a" "$R/b" "$R/c"
check "compare a b c: warns that c replayed another trace, differently, late" \
    "grep -q 'WARNING: runs A and C did not replay the same trace' '$T/abc.txt' && grep -q 'WARNING: runs A and C replayed the trace differently: speed 1 vs 2' '$T/abc.txt' && grep -q \"WARNING: run C's client was late\" '$T/abc.txt'"
check "compare a b c: c claims no difference" "! grep -Eq 'C vs A .*(slower|faster)\$' '$T/abc.txt'"
save "$T/s7a.json" "$BIN" compare "$R/a" "$R/b" --format json --seed 7 --resamples 300
save "$T/s7b.json" "$BIN" compare "$R/a" "$R/b" --format json --seed 7 --resamples 300
save "$T/s8.json" "$BIN" compare "$R/a" "$R/b" --format json --seed 8 --resamples 300
check "compare: the same seed gives the same intervals" "cmp -s '$T/s7a.json' '$T/s7b.json'"
check "compare: another seed, other intervals" "! cmp -s '$T/s7a.json' '$T/s8.json'"
ok "compare json: seed, resamples, ci and pairs" pyjson "$T/s7a.json" \
    "d['bootstrap']['seed']==7 and d['bootstrap']['resamples']==300 and [e['verdict'] for e in d['ci'] if e['stat']=='median']==['slower','no clear difference','slower'] and d['paired'][0]['e2el']['slower']==1"
save "$T/me.json" "$BIN" compare "$R/a" "$R/b" --format json --min-effect 50
ok "compare --min-effect 50: the 8% E2E difference is negligible" pyjson "$T/me.json" \
    "[e['verdict'] for e in d['ci'] if e['metric']=='e2el']==['negligible','negligible']"
expect_out "compare --format md" '^\| B vs A \| median ttft \|' "$BIN" compare "$R/a" "$R/b" --format md
save "$T/ab.csv" "$BIN" compare "$R/a" "$R/b" --format csv
check "compare --format csv: header and a row per figure" \
    "head -n 1 '$T/ab.csv' | grep -qx 'metric,A,B,B-A,B/A' && grep -q '^median_ttft_ms,119.5,169.5,50,' '$T/ab.csv'"

# --- original vs replay ---
save "$T/orig.txt" "$BIN" compare "$R/orig"
check "original vs replay: TTFT 50 ms originally, 9 ms replayed, over 9 requests" \
    "grep -Eq '^  A +ttft +9 +50\.00 +9\.00 ' '$T/orig.txt' && grep -Eq '^  A +e2el +9 +500\.00 +600\.00 ' '$T/orig.txt'"
cp -r "$R/orig" "$T/orig2" && mv "$T/orig2/trace.jsonl" "$T/moved-trace.jsonl"
expect_err "original: a trace that moved is not found" 2 'not found \(give it with --trace\)' "$BIN" compare "$T/orig2"
expect_out "original: --trace gives it" '^  A +ttft +9 +50\.00' "$BIN" compare "$T/orig2" --trace "$T/moved-trace.jsonl"

# --- outputs shorter than forced, chunk counts, the engine view ---
# mkrun DIR OUT... : a run whose requests force 10 output tokens and get OUT
mkrun() {
    local d=$1 i=0; shift
    mkdir -p "$d"; : > "$d/requests.jsonl"
    for n in "$@"; do
        printf '{"index":%d,"ok":true,"t_sched_ns":%d,"t_send_ns":%d,"t_first_token_ns":%d,"t_last_token_ns":%d,"t_end_ns":%d,"output_tokens":%d,"events":%d,"token_source":"usage","forced_output_tokens":10,"engine":{"t_queued_ns":%d,"t_first_token_ns":%d}}\n' \
            $i $((i * 100000000)) $((i * 100000000)) $((i * 100000000 + 20000000)) $((i * 100000000 + 50000000)) \
            $((i * 100000000 + 60000000)) "$n" "$n" $((i * 100000000)) $((i * 100000000 + 5000000)) >> "$d/requests.jsonl"
        i=$((i + 1))
    done
}
mkrun "$T/full" 10 10 10
mkrun "$T/cut" 10 4 10
save "$T/cmp_tok.txt" "$BIN" compare "$T/full" "$T/cut"
check "compare warns that the runs generated different token totals, by how much, and why" \
    "grep -q '^WARNING: runs A and B generated different token totals: A 30, B 24 (-6, -20.0%).*likely cause: outputs shorter than forced' '$T/cmp_tok.txt'"
check "compare warns about the short outputs of run B" \
    "grep -q '^WARNING: run B: 1 of 3 requests that forced their output length came back short (6 tokens missing)' '$T/cmp_tok.txt'"
check "compare sets the engine view side by side" "grep -q '^  median_engine_ttft_ms ' '$T/cmp_tok.txt'"
save "$T/rep_cut.txt" "$BIN" report "$T/cut"
check "report: the short outputs, counted and warned about" \
    "grep -q '^Short outputs (below forced length): *1$' '$T/rep_cut.txt' && grep -q '^WARNING: 1 of 3 requests' '$T/rep_cut.txt'"
check "report: the engine's view in a labelled section" \
    "grep -q 'Engine-reported (engine.s own clock)' '$T/rep_cut.txt' && grep -q '^Median engine TTFT (ms): *5.00$' '$T/rep_cut.txt'"
save "$T/rep_cut.json" "$BIN" report "$T/cut" --format json
check "report json: short_outputs and the engine view" \
    "pyjson '$T/rep_cut.json' 'd[\"short_outputs\"] == 1 and d[\"forced_outputs\"] == 3 and d[\"median_engine_ttft_ms\"] == 5'"
sed -i 's/"token_source":"usage"/"token_source":"chunks"/' "$T/cut/requests.jsonl"
save "$T/rep_chunks.txt" "$BIN" report "$T/cut"
check "report: chunk counts are labelled chunks, not tokens" \
    "grep -q '^Total generated chunks (no usage): *24$' '$T/rep_chunks.txt' && ! grep -q 'Total generated tokens' '$T/rep_chunks.txt'"

# --- plot.py over the fixtures ---
if "$PY" -c 'import matplotlib, numpy' 2>/dev/null; then
    expect_exit "plot.py without runs: exit 2" 2 "$PY" "$ROOT/analysis/plot.py" -o "$T/p0"
    expect_err "plot.py on a malformed log: exit 3 with file:line: field" 3 'bad/requests.jsonl:2: field "t_end_ns"' \
        "$PY" "$ROOT/analysis/plot.py" "$R/bad" -o "$T/p1"
    expect_err "plot.py on a missing run: exit 4" 4 'cannot open' "$PY" "$ROOT/analysis/plot.py" "$R/none" -o "$T/p2"
    ok "plot.py a b c -o OUT" "$PY" "$ROOT/analysis/plot.py" "$R/a" "$R/b" "$R/c" -o "$T/plots"
    ok "plot.py: the expected files, valid non-empty PNGs, an HTML report that embeds and names them" \
        "$PY" "$ROOT/analysis/tests/plotcheck.py" "$T/plots" cdf_ttft.png cdf_tpot.png cdf_itl.png cdf_e2el.png timeseries.png \
        send_lag.png tokens_ttft.png
    check "plot.py: report.html carries the late-client warning" "grep -q \"run c's client was late\" '$T/plots/report.html'"
else
    echo "# python3-matplotlib missing: plot.py checks skipped"
fi
finish
