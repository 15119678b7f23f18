#!/usr/bin/env bash
# Integration tests of `report`, `compare` and plot.py on real runs: the
# built-in server (`serve`) on a loopback port, a synthetic trace replayed
# through the vllm client, then
#   - report's JSON carries every key of the run's own summary.json with the
#     very same value, printed the same, to the last digit;
#   - compare finds the difference between two engines that differ in one
#     parameter (--step-time 30ms vs 45ms) with intervals that exclude zero,
#     and claims none between two runs of the same set-up (800 requests
#     each, so that the noise of a median is well under the 5% a claim needs);
#   - original vs replay on a trace whose records hold original timings;
#   - plot.py writes every plot (with the server's metrics) and report.html.
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
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

TR="$T/syn.jsonl.zst"
"$BIN" trace synth --duration 20s --rate 40 --input uniform:100:300 --output uniform:16:32 --seed 1 --max-records 800 -o "$TR" 2>/dev/null

# run NAME TRACE STEP [replay options...]: serve with --step-time STEP, replay at 2x into $T/NAME
run() {
    local name=$1 trace=$2 step=$3; shift 3
    rm -f "$T/$name.port"
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --preset fast --step-time "$step" >"$T/$name.serve.log" 2>&1
    local pid=$SPAWN_PID
    if ! wait_for_file "$T/$name.port" 10; then fail "$name: server started"; return 1; fi
    "$BIN" replay "$trace" --client vllm --url "http://127.0.0.1:$(cat "$T/$name.port")" --speed 2 \
        --out "$T/$name" -q "$@" >"$T/$name.log" 2>&1
    local rc=$?
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    if [ $rc = 0 ]; then pass "$name: replay exit 0"; else fail "$name: replay exit $rc" "$(tail -n 5 "$T/$name.log")"; fi
}

run A "$TR" 30ms --slo ttft=60ms,tpot=35ms --scrape-metrics 500ms
run A2 "$TR" 30ms
run B "$TR" 45ms

# --- report agrees with summary.json to the last digit ---
save "$T/A.report.json" "$BIN" report "$T/A" --format json
check "report: every key of summary.json, the same value, printed the same" "$PY" - "$T/A/summary.json" "$T/A.report.json" <<'PYEOF'
import json, re, sys
s_text, r_text = open(sys.argv[1]).read(), open(sys.argv[2]).read()
s, r = json.loads(s_text), json.loads(r_text)
bad = [k for k in s if k not in r or r[k] != s[k] or type(r[k]) is not type(s[k])]
# the printed numbers too (cJSON prints both): "key":<tab>value at the top level
top = lambda t: dict(re.findall(r'^\t"([a-z0-9_]+)":\t([^{\n]+?),?$', t, re.M))
st, rt = top(s_text), top(r_text)
bad += [k for k in st if rt.get(k) != st[k]]
if bad or len(s) < 40 or "request_goodput" not in s:
    sys.exit(f"differ: {bad}")
PYEOF
ok "report: the run's own --slo comes from run.json" pyjson "$T/A.report.json" \
    "d['goodput']['slo_from']=='run.json' and d['goodput']['slo']=={'ttft_ms':60,'tpot_ms':35} and abs(d['goodput']['met']/d['duration']/d['request_goodput']-1)<1e-12"
for f in table md csv; do
    expect_exit "report --format $f over a real run" 0 "$BIN" report "$T/A" --format "$f" --by minute
done
save "$T/A2.txt" "$BIN" report "$T/A2"
check "report: the replay kept the schedule, and says so first" "head -n 1 '$T/A2.txt' | grep -Eq '^(Send lag: the client kept the schedule|WARNING: the client was late)'"
check "report: its numbers are those replay printed" \
    "grep -h 'Median TTFT (ms):' '$T/A2.txt' | grep -qF \"\$(grep -h 'Median TTFT (ms):' '$T/A2.log')\""

# --- histogram mode on a real run: within the stated bound of numpy's percentiles ---
save "$T/A.exact.json" "$BIN" report "$T/A" --format json --exact
save "$T/A.hist.json" "$BIN" report "$T/A" --format json --histogram
if "$PY" -c 'import numpy' 2>/dev/null; then
    check "report --histogram: percentiles within the bound of numpy's over the run's own values, the rest equal" \
        "$PY" - "$T/A/requests.jsonl" "$T/A.exact.json" "$T/A.hist.json" <<'PYEOF'
import json, sys
import numpy as np
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
e, h = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
assert e["percentiles"] == "exact" and h["percentiles"] == "histogram", (e["percentiles"], h["percentiles"])
bound = h["percentile_error_bound"]
assert 0 < bound <= 0.001, bound
ok = [r for r in recs if r["ok"] and not r.get("warmup")]
itl = []  # docs/metrics.md: a gap over k tokens is k values of gap/k; k = 0 carries into the next gap
for r in ok:
    carry = 0
    for g, k in zip(r["gaps_ns"], r.get("gap_tokens") or [1] * len(r["gaps_ns"])):
        if k == 0:
            carry += g
            continue
        itl += [(g + carry) / k] * k
        carry = 0
values = {"itl": np.array(itl), "ttft": np.array([r["t_first_token_ns"] - r["t_send_ns"] for r in ok]),
          "e2el": np.array([r["t_end_ns"] - r["t_send_ns"] for r in ok])}
assert len(itl) > 10000, len(itl)
bad = []
for x, v in values.items():
    for q, key in ((50, "median"), (90, "p90"), (99, "p99")):
        want = float(np.percentile(v, q)) / 1e6
        if abs(e[f"{key}_{x}_ms"] - want) > 1e-12 * want:
            bad.append(f"exact {key}_{x}_ms {e[f'{key}_{x}_ms']} vs numpy {want}")
        if not abs(h[f"{key}_{x}_ms"] - want) <= bound * want * (1 + 1e-9):
            bad.append(f"histogram {key}_{x}_ms {h[f'{key}_{x}_ms']} vs numpy {want}")
    if abs(h[f"mean_{x}_ms"] - v.mean() / 1e6) > 1e-9 * v.mean() / 1e6 or abs(h[f"std_{x}_ms"] - v.std() / 1e6) > 1e-7 * v.std() / 1e6:
        bad.append(f"mean or std of {x}")
for k, v in e.items():  # everything but percentiles, means and stds is the same
    if k.startswith(("median_", "p90_", "p99_", "mean_", "std_", "percentile", "send_lag")):
        continue
    if h.get(k) != v:
        bad.append(f"{k}: {h.get(k)} vs {v}")
sys.exit("\n".join(bad) if bad else 0)
PYEOF
else
    echo "# python3-numpy missing: histogram-vs-numpy check skipped"
fi

# --- compare: different engines, and the same engine twice ---
save "$T/AB.json" "$BIN" compare "$T/A" "$T/B" --format json
ok "compare A B (step 30 vs 45 ms): TPOT, TTFT and E2E slower, intervals above zero" pyjson "$T/AB.json" \
    "all(e['verdict']=='slower' and e['excludes_zero'] and e['lo_ms']>0 for e in d['ci'] if e['stat']=='median') and len(d['ci'])==6 and 14<[e for e in d['ci'] if e['metric']=='tpot'][0]['diff_ms']<16"
ok "compare A B: paired by trace index, B slower on (nearly) every request" pyjson "$T/AB.json" \
    "d['paired'][0]['pairs']==800 and d['paired'][0]['tpot']['slower']>0.95"
ok "compare A B: same trace, no trace warning" pyjson "$T/AB.json" "not any('trace' in w for w in d['warnings'])"
save "$T/AA.json" "$BIN" compare "$T/A" "$T/A2" --format json
ok "compare A A2 (the same set-up): claims no difference" pyjson "$T/AA.json" \
    "len(d['ci'])==6 and not any(e['verdict'] in ('slower','faster') for e in d['ci'])"
[ -n "${ANALYSIS_DEBUG:-}" ] && "$BIN" compare "$T/A" "$T/A2" "$T/B" >&2
expect_out "compare A A2 B: a table" 'C vs A +median tpot' "$BIN" compare "$T/A" "$T/A2" "$T/B"

# --- original vs replay: the trace's records carry the original timings ---
"$BIN" trace cat "$TR" | "$PY" -c '
import json, sys
for i, line in enumerate(sys.stdin):
    r = json.loads(line)
    if i > 0:  # after the header: original TTFT 50 ms + 10 us per index, E2E 400 ms
        r["orig"] = {"status": 200, "ttft_us": 50000 + 10 * (i - 1), "e2e_us": 400000}
    print(json.dumps(r))' >"$T/captured.jsonl"
run O "$T/captured.jsonl" 30ms
save "$T/O.json" "$BIN" compare "$T/O" --format json
ok "compare RUN on a captured trace: original TTFT and E2E beside the replay's" pyjson "$T/O.json" \
    "(lambda x: x['ttft']['pairs']==800 and x['ttft']['original_median_ms']==53.995 and x['e2el']['original_median_ms']==400 and x['trace_changed']==False)(d['original'][0])"
save "$T/O.report.json" "$BIN" report "$T/O" --format json
check "original vs replay: the replay's median is the run's" "$PY" - "$T/O.json" "$T/O.report.json" <<'PYEOF'
import json, sys
o = json.load(open(sys.argv[1]))["original"][0]
r = json.load(open(sys.argv[2]))
sys.exit(0 if o["ttft"]["replay_median_ms"] == r["median_ttft_ms"] and o["e2el"]["replay_median_ms"] == r["median_e2el_ms"] else 1)
PYEOF

# --- plots ---
if "$PY" -c 'import matplotlib, numpy' 2>/dev/null; then
    ok "plot.py A A2 B -o OUT" "$PY" "$ROOT/analysis/plot.py" "$T/A" "$T/A2" "$T/B" -o "$T/plots"
    ok "plot.py: every plot, the server's metrics among them, in a self-contained report.html" \
        "$PY" "$ROOT/analysis/tests/plotcheck.py" "$T/plots" cdf_ttft.png cdf_tpot.png cdf_itl.png cdf_e2el.png \
        timeseries.png send_lag.png tokens_ttft.png server_metrics.png
else
    echo "# python3-matplotlib missing: plot.py checks skipped"
fi
finish
