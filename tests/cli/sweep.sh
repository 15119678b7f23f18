#!/usr/bin/env bash
# CLI and integration tests of `sweep` against the built-in server (loopback,
# free ports) with engine configurations of known capacity, and of
# `compare` on two sweeps and plot.py on a sweep.
#
# Known capacity: with --step-time S, no per-sequence or prefill cost worth
# counting (preset fast), a batch of at most B sequences and requests of
# exactly N output tokens (the vllm client forces them), a request holds a
# batch slot for N steps (its prefill step makes the first token), so the
# server completes at most B / (N * S) requests per second; with constant
# arrivals below that rate nothing queues and TTFT is one or two steps,
# above it the queue and TTFT grow without bound. Here S = 10 ms, N = 20:
# B = 4 gives 20 req/s, B = 8 gives 40 req/s.
# Tolerance: the search stops when its bracket is within 10%, and a finite
# run shows a small overload only in part (at 6% over, the wait grows by
# 60 ms a second: a 1.5 s run at 40 req/s stays within a 150 ms TTFT SLO),
# so the capacity found must lie within [0.8, 1.1] of the derived rate,
# and the ratio of the two within [1.6, 2.5] (2 expected).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
# pyjson FILE COND: COND holds of the JSON d in FILE; when it does not, the
# sweep's points (x, offered rate, verdict, attainment, client) are printed
# for the failure message.
pyjson() {
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); ok = ($2)
if not ok: print([tuple(p.get(k) for k in ('x', 'offered_rate', 'verdict', 'attainment', 'client'))
                  for p in d.get('points', [])], d.get('capacity'))
sys.exit(0 if ok else 1)" "$1"
}

TR="$T/cap.jsonl.zst"
"$BIN" trace synth --duration 4s --rate 15 --arrival constant --input fixed:16 --output fixed:20 -o "$TR" 2>/dev/null

# serve NAME [serve options...]: starts serve on a free port; sets PORT_NAME.
serve() {
    local name=$1; shift
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --preset fast --step-time 10ms "$@" \
        >"$T/$name.serve.log" 2>&1
    eval "PID_$name=$SPAWN_PID"
    if wait_for_file "$T/$name.port" 10; then eval "PORT_$name=$(cat "$T/$name.port")"
    else fail "$name: server started"; eval "PORT_$name=1"; fi
}
stop() { local p; eval "p=\$PID_$1"; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; }

# --- usage ---
expect_out "sweep --help lists its options and replay's" '--concurrency LIST' "$BIN" sweep --help
expect_out "sweep --help has replay's options" '--max-inflight N' "$BIN" sweep --help
expect_err "sweep without --search or a list: exit 2" 2 'give one of --search' "$BIN" sweep "$TR" --out "$T/x"
expect_err "sweep --speed: exit 2" 2 'set per point' "$BIN" sweep "$TR" --search --speed 2 --out "$T/x"
expect_err "sweep --speeds bad: exit 2" 2 'speeds needs' "$BIN" sweep "$TR" --speeds 1,zero --out "$T/x"
expect_err "sweep --target 2: exit 2" 2 'target needs' "$BIN" sweep "$TR" --search --target 2 --out "$T/x"
expect_err "sweep without --out: exit 2" 2 'missing --out' "$BIN" sweep "$TR" --search
expect_err "sweep on a missing trace: exit 4" 4 'cannot open|No such file' "$BIN" sweep "$T/none.jsonl.zst" --search \
    --url http://127.0.0.1:1 --out "$T/x"

serve A --max-batch 4
serve B --max-batch 8

# --- the search finds each capacity ---
# The capacities rest on the engine keeping its 10 ms step; another
# program taking the cores for seconds stretches the steps (and the
# client's reads) and moves a capacity down. So when either capacity is out
# of its window, the pair of searches is run once more, with the first
# attempt's points on stderr (a wrong search fails both attempts).
SWEEP=(--client vllm --slo ttft=150ms --search --tolerance 0.1 -q)
CAP_A="16 <= d['capacity']['offered_rate'] <= 22"
CAP_B="32 <= d['capacity']['offered_rate'] <= 44"
sweep_pair() {
    rm -rf "$T/swA" "$T/swB"
    "$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_A" "${SWEEP[@]}" --out "$T/swA" >"$T/swA.out" 2>"$T/swA.err"
    rcA=$?
    "$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_B" "${SWEEP[@]}" --out "$T/swB" >"$T/swB.out" 2>"$T/swB.err"
    rcB=$?
}
sweep_pair
if ! { pyjson "$T/swA/sweep.json" "$CAP_A" && pyjson "$T/swB/sweep.json" "$CAP_B"; } >"$T/sw1.why" 2>&1; then
    echo "sweep.sh: a capacity out of its window on the first attempt (machine busy?); running both again:" \
        "$(head -c 800 "$T/sw1.why")" >&2
    sweep_pair
fi
check "sweep A: exit 0" "[ $rcA = 0 ]"
ok "sweep A: capacity within [0.8, 1.1] of B/(N*S) = 20 req/s" pyjson "$T/swA/sweep.json" \
    "$CAP_A and d['complete'] and d['capacity']['status'] == 'bracketed'"
ok "sweep A: the bracket is within the tolerance" pyjson "$T/swA/sweep.json" \
    "(d['capacity']['above_x'] - d['capacity']['x']) / d['capacity']['x'] <= 0.1 + 1e-9"
ok "sweep A: an overloaded point was stopped early" pyjson "$T/swA/sweep.json" \
    "any('stopped_early' in p for p in d['points'])"
check "sweep A: the table and the capacity on stdout" \
    "grep -q '^ speed  offered achieved' '$T/swA.out' && grep -q '^capacity: speed ' '$T/swA.out' && grep -q '^points run: ' '$T/swA.out'"
check "sweep A: it waited for the server to be idle between points, and said so" \
    "grep -q 'server idle (/metrics' '$T/swA.err'"
first=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['points'][0]['dir'])" "$T/swA/sweep.json")
expect_out "sweep A: a point is a normal run directory for report" 'Serving Benchmark Result' "$BIN" report "$T/swA/$first"

check "sweep B: exit 0" "[ $rcB = 0 ]"
ok "sweep B: capacity within [0.8, 1.1] of 40 req/s" pyjson "$T/swB/sweep.json" "$CAP_B"

expect_out "compare A B: capacities and their ratio" '^capacity ratio B/A: ' "$BIN" compare "$T/swA" "$T/swB"
"$BIN" compare "$T/swA" "$T/swB" --format json >"$T/cmp.json" 2>/dev/null
ok "compare A B: B ranked above A, ratio near 2" pyjson "$T/cmp.json" "1.6 <= d['ratio']['b_over_a'] <= 2.5"
expect_err "compare a sweep with a run: exit 4" 4 'sweep.json' "$BIN" compare "$T/swA" "$T/swA/$first"

# --- plots of one sweep and of two ---
if "$PY" "$ROOT/analysis/plot.py" "$T/swA" "$T/swB" -o "$T/plots" >"$T/plot.out" 2>&1; then
    check "plot.py: latency and attainment against offered load, in report.html" \
        "[ -s '$T/plots/sweep_latency.png' ] && [ -s '$T/plots/sweep_attainment.png' ] && grep -q 'sweep_latency' '$T/plots/report.html'"
else
    fail "plot.py on two sweeps" "$(tail -n 5 "$T/plot.out")"
fi

# --- invalid points: a client held back by --max-inflight ---
"$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_B" --client vllm --slo ttft=150ms --speeds 1 --max-inflight 1 \
    --first 12 --no-early-stop -q --out "$T/swI" >"$T/swI.out" 2>&1
ok "a point whose client was late is invalid, not a failure of the server" pyjson "$T/swI/sweep.json" \
    "d['points'][0]['verdict'] == 'invalid' and d['points'][0]['client'] == 'late' and d['capacity']['x'] is None"

# --- a concurrency list (closed loop) ---
"$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_A" --client vllm --slo ttft=150ms --concurrency 2,16 --first 24 -q \
    --out "$T/swC" >"$T/swC.out" 2>&1
ok "concurrency sweep: conc-2 passes, conc-16 fails on a batch of 4" pyjson "$T/swC/sweep.json" \
    "d['mode'] == 'concurrency' and [p['verdict'] for p in d['points']] == ['pass', 'fail'] and d['capacity']['x'] == 2"
check "concurrency sweep: directories conc-N" "[ -f '$T/swC/conc-2/summary.json' ] && [ -f '$T/swC/conc-16/run.json' ]"

# --- SIGINT mid-sweep: completed points kept, sweep.json valid ---
spawn "$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_A" --client vllm --slo ttft=150ms --speeds 1,0.25 \
    --grace 1s -q --out "$T/swS" >"$T/swS.out" 2>&1
sp=$SPAWN_PID
if wait_for_file "$T/swS/sweep.json" 20 && wait_for_file "$T/swS/speed-0.25/requests.jsonl" 10; then
    kill -INT "$sp"
    wait "$sp"
    src=$?
    check "SIGINT mid-sweep: exit 5" "[ $src = 5 ]"
    ok "SIGINT mid-sweep: sweep.json valid, the completed point kept, the other incomplete" pyjson "$T/swS/sweep.json" \
        "d['interrupted'] and not d['complete'] and [p['verdict'] for p in d['points']] == ['incomplete', 'pass']"
else
    fail "SIGINT mid-sweep: the first point completed in time"
fi
stop A

# --- a server that fails every request ---
serve F --fail-rate 1
"$BIN" sweep "$TR" --url "http://127.0.0.1:$PORT_F" --client vllm --slo ttft=150ms --search -q \
    --out "$T/swF" >"$T/swF.out" 2>"$T/swF.err"
check "a server that fails everything: exit 0, one point" "[ $? = 0 ]"
ok "a server that fails everything: no capacity, the reason stated" pyjson "$T/swF/sweep.json" \
    "d['capacity']['x'] is None and d['points_run'] == 1 and 'every request' in d['ended'] and d['points'][0]['verdict'] == 'fail'"
stop F
stop B

# --- in-process engine, and a window of the trace ---
"$BIN" sweep "$TR" --client sagellm --engine sim --engine-opt max_batch=4 --engine-opt step_fixed=10ms \
    --engine-opt step_per_seq=0 --engine-opt prefill_per_token=0 --slo ttft=150ms --speeds 0.5,4 \
    --window 2s -q --out "$T/swE" >"$T/swE.out" 2>"$T/swE.err"
check "in-process sweep: exit 0" "[ $? = 0 ]"
ok "in-process sweep: 0.5 passes, 4 fails, the window recorded" pyjson "$T/swE/sweep.json" \
    "[p['verdict'] for p in d['points']] == ['pass', 'fail'] and d['to_us'] - d['from_us'] == 2000000"
check "in-process sweep: no idle wait to ask a server for" "! grep -q 'idle' '$T/swE.err'"

# --- repeats: a point close to the target (--close 1: every point) is run N times ---
"$BIN" sweep "$TR" --client sagellm --engine sim --engine-opt max_batch=4 --engine-opt step_fixed=10ms \
    --engine-opt step_per_seq=0 --engine-opt prefill_per_token=0 --slo ttft=150ms --speeds 1 \
    --window 2s --repeat 3 --close 1 -q --out "$T/swR" >"$T/swR.out" 2>"$T/swR.err"
check "repeat: exit 0" "[ $? = 0 ]"
ok "repeat: the point ran 3 times, its attainment the mean within its spread" pyjson "$T/swR/sweep.json" \
    "d['points'][0]['runs'] == 3 and d['points'][0]['attainment_min'] <= d['points'][0]['attainment'] <= d['points'][0]['attainment_max'] and d['points_run'] == 3"
check "repeat: each run is a run directory, the table states the spread" \
    "[ -f '$T/swR/speed-1/summary.json' ] && [ -f '$T/swR/speed-1-r2/summary.json' ] && [ -f '$T/swR/speed-1-r3/summary.json' ] && grep -q '3 runs, attainment' '$T/swR.out'"

finish
