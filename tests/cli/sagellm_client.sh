#!/usr/bin/env bash
# The `sagellm` client: engines driven in-process through the engine
# interface (include/sagellm/engine_abi.h). The built-in simulated engine
# over a real trace, checked against the engine's own account; an engine
# library built here and loaded with dlopen, and its broken variants (wrong
# interface version, missing symbol); the Python bridge with the test engine
# (generate path, stream path, an exception inside the engine).
source "$(dirname "$0")/../lib.sh"
CC=${CC:-cc}

# The Python half of the bridge is a .py file the build embeds: Python's own
# compiler must accept it (the bridge would fail only at run time).
ok "clients/engine_host.py compiles (py_compile)" \
    env PYTHONPYCACHEPREFIX="$T/pycache" python3 -m py_compile "$ROOT/clients/engine_host.py"
AZ="$T/azure.jsonl.zst"
"$BIN" trace convert --from azure "$SHARED/AzureLLMInferenceTrace_conv.csv" -o "$AZ" 2>/dev/null

# check_run DIR N: N records, every one ok, output lengths as the trace's, and
# the engine's times present and consistent with the client's.
check_run() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
rs = [json.loads(l) for l in open(d + "/requests.jsonl")]
bad = []
if len(rs) != n or sorted(r["index"] for r in rs) != list(range(n)):
    bad.append("expected %d records with indexes 0..%d, got %d" % (n, n - 1, len(rs)))
for r in rs:
    e = r.get("engine") or {}
    why = []
    if not r["ok"]: why.append("not ok: %s" % r["error"])
    if r["output_tokens"] != r["expected_output_tokens"]: why.append("output_tokens")
    if r["client"] != "sagellm": why.append("client")
    keys = ("t_queued_ns", "t_scheduled_ns", "t_first_token_ns", "t_finished_ns",
            "queue_ns", "prefill_ns", "decode_ns")
    if any(e.get(k) is None for k in keys):
        why.append("engine times missing: %s" % e)
    else:
        if not r["t_send_ns"] <= e["t_queued_ns"] <= e["t_scheduled_ns"] <= e["t_first_token_ns"] <= e["t_finished_ns"]:
            why.append("engine times out of order")
        if not e["t_first_token_ns"] <= r["t_first_token_ns"] or not e["t_finished_ns"] <= r["t_end_ns"]:
            why.append("the client saw a token before the engine made it")
        if (e["queue_ns"] != e["t_scheduled_ns"] - e["t_queued_ns"] or
                e["prefill_ns"] != e["t_first_token_ns"] - e["t_scheduled_ns"] or
                e["decode_ns"] != e["t_finished_ns"] - e["t_first_token_ns"]):
            why.append("queue/prefill/decode do not add up")
    if why: bad.append("%s: %s" % (r["id"], "; ".join(why)))
for b in bad[:10]: print(b)
sys.exit(1 if bad else 0)
EOF
}

# --- the built-in engine in-process over 100 Azure records ---
expect_exit "sim: replay 100 Azure records at 20x, exit 0" 0 \
    "$BIN" replay "$AZ" --client sagellm --engine sim --engine-opt preset=fast --first 100 \
    --speed 20 --out "$T/sim" -q
ok "sim: every request recorded and ok, lengths as the trace's, engine times consistent" \
    check_run "$T/sim" 100
check "sim: the engine's prompt counts equal the trace's input tokens" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/sim/requests.jsonl')]
sys.exit(0 if all(r['prompt_tokens']==r['input_tokens'] for r in rs) else 1)\""
check "sim: per-token ITL from the engine's token counts" \
    "grep -q '\"itl_basis\":[[:space:]]*\"tokens\"' '$T/sim/summary.json'"
check "sim: run.json names the engine and its configuration" "python3 -c \"
import json,sys
r=json.load(open('$T/sim/run.json'))
sys.exit(0 if r['client']=='sagellm' and r['engine']=='sim' and r['engine_config']['preset']=='fast' else 1)\""
echo '{"preset": "fast", "max_batch": 2}' > "$T/ecfg.json"
expect_exit "sim: --engine-config FILE, chat API" 0 \
    "$BIN" replay "$AZ" --client sagellm --engine sim --engine-config "$T/ecfg.json" --api chat \
    --first 20 --speed 50 --out "$T/simcfg" -q
ok "sim: chat run consistent" check_run "$T/simcfg" 20
expect_err "sim: a bad engine parameter is named" 2 "engine sim: engine parameter max_batch" \
    "$BIN" replay "$AZ" --client sagellm --engine sim --engine-opt max_batch=0 --first 5 --out "$T/x"
expect_err "an unknown engine is named" 2 "unknown engine 'nosuch'" \
    "$BIN" replay "$AZ" --client sagellm --engine nosuch --first 5 --out "$T/x"

# --- an engine library built here ---
"$CC" -std=c11 -O1 -shared -fPIC -I"$ROOT" "$ROOT/tests/data/engine_min.c" -o "$T/engine_min.so" -lpthread
"$CC" -std=c11 -O1 -shared -fPIC -I"$ROOT" -DENGINE_MIN_ABI=2 "$ROOT/tests/data/engine_min.c" \
    -o "$T/engine_v2.so" -lpthread
"$CC" -std=c11 -O1 -shared -fPIC -I"$ROOT" -DENGINE_MIN_NO_CANCEL "$ROOT/tests/data/engine_min.c" \
    -o "$T/engine_nocancel.so" -lpthread
expect_exit "library: replay 50 records through a dlopen'd engine, exit 0" 0 \
    "$BIN" replay "$AZ" --client sagellm --engine "$T/engine_min.so" --engine-opt batch=5 \
    --first 50 --speed 50 --out "$T/lib" -q
ok "library: every request recorded and ok, engine times consistent" check_run "$T/lib" 50
check "library: tokens arrived in the engine's batches of 5" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/lib/requests.jsonl')]
sys.exit(0 if all(set(r.get('gap_tokens',[5]))<={5,r['output_tokens']%5} for r in rs) else 1)\""
expect_err "library: a wrong interface version names both versions" 2 \
    "implements engine ABI version 2, but this sagellm-bench speaks version 1" \
    "$BIN" replay "$AZ" --client sagellm --engine "$T/engine_v2.so" --first 5 --out "$T/x"
expect_err "library: a missing symbol is named" 2 "missing symbol sagellm_engine_cancel" \
    "$BIN" replay "$AZ" --client sagellm --engine "$T/engine_nocancel.so" --first 5 --out "$T/x"
expect_err "library: a missing file is named" 2 "nothere.so: cannot open: No such file" \
    "$BIN" replay "$AZ" --client sagellm --engine "$T/nothere.so" --first 5 --out "$T/x"

# --- the Python bridge with the test engine ---
PYCFG="python_path=$ROOT/tests/data/py_engine"
"$BIN" replay "$AZ" --client sagellm --engine python:test_engine:make_engine --engine-opt "$PYCFG" \
    --first 1 --out "$T/probe" -q >/dev/null 2>"$T/probe.err"
if grep -q "without the Python bridge" "$T/probe.err"; then
    echo "skip: this build has no Python bridge (libpython3-dev missing at build time)"
    finish
    exit
fi
cat > "$T/fail.jsonl" <<'EOF'
{"format":"sagellm-trace","version":1,"source":"synth"}
{"t_us":0,"id":"ok1","api":"completions","input_tokens":3,"output_tokens":5,"body":{"prompt":"one two three","max_tokens":5}}
{"t_us":1000,"id":"bad1","api":"completions","input_tokens":3,"output_tokens":5,"body":{"prompt":"please FAIL now","max_tokens":5}}
{"t_us":2000,"id":"ok2","api":"chat","input_tokens":1,"output_tokens":6,"body":{"messages":[{"role":"user","content":"hi"}],"max_tokens":6}}
EOF
for mode in generate stream; do
    expect_exit "python $mode: replay 40 records, exit 0" 0 timeout 300 \
        "$BIN" replay "$AZ" --client sagellm --engine python:test_engine:make_engine \
        --engine-opt "$PYCFG" --engine-opt mode=$mode --first 40 --speed 50 --out "$T/py_$mode" -q
    ok "python $mode: every request recorded and ok, engine times consistent" \
        check_run "$T/py_$mode" 40
    expect_exit "python $mode: an exception inside the engine fails its request only (exit 1)" 1 \
        timeout 300 "$BIN" replay "$T/fail.jsonl" --client sagellm \
        --engine python:test_engine:make_engine --engine-opt "$PYCFG" --engine-opt mode=$mode \
        --out "$T/pyfail_$mode" -q
    check "python $mode: the failed request carries the engine's exception" "python3 -c \"
import json,sys
rs={r['id']:r for r in map(json.loads,open('$T/pyfail_$mode/requests.jsonl'))}
b=rs['bad1']
sys.exit(0 if len(rs)==3 and rs['ok1']['ok'] and rs['ok2']['ok'] and not b['ok']
         and b['error']['class']=='stream_error' and 'ValueError: the test engine' in b['error']['message'] else 1)\""
done
check "python stream: per-token events, generate: one event" "python3 -c \"
import json,sys
s=[json.loads(l) for l in open('$T/py_stream/requests.jsonl')]
g=[json.loads(l) for l in open('$T/py_generate/requests.jsonl')]
sys.exit(0 if all(r['events']==r['output_tokens'] for r in s) and all(r['events']==1 for r in g) else 1)\""
# An engine shaped like the original Python benchmark's backends: generate()
# with required positional temperature/top_p, the whole answer at once, its
# first-token time only as metrics.ttft_ms and epoch-millisecond timestamps.
expect_exit "python backend: a generate()-only engine with required arguments, exit 0" 0 timeout 300 \
    "$BIN" replay "$AZ" --client sagellm --engine python:backend_engine:make_engine --engine-opt "$PYCFG" \
    --engine-opt decode_ms=0.2 --first 20 --speed 50 --out "$T/py_backend"
ok "python backend: every request ok, the engine's epoch-ms times mapped onto the run's clock" \
    check_run "$T/py_backend" 20
check "python backend: TPOT of one-event responses is null in the log and n/a in the summary" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/py_backend/requests.jsonl')]
s=json.load(open('$T/py_backend/summary.json'))
sys.exit(0 if all(r['events']==1 and r['tpot_ms'] is None for r in rs) and s['mean_tpot_ms'] is None else 1)\""
expect_out "python backend: the printed table says n/a for TPOT, never 0.00" '^Mean TPOT \(ms\): +n/a$' \
    "$BIN" report "$T/py_backend"
check "python backend: the engine view, from metrics.ttft_ms, is in summary.json and below the client's TTFT" "python3 -c \"
import json,sys
s=json.load(open('$T/py_backend/summary.json'))
sys.exit(0 if s['engine_requests']==20 and 0 < s['median_engine_ttft_ms'] < s['median_ttft_ms']
         and s['median_engine_queue_ms'] > 0 and s['median_engine_prefill_ms'] > 0 else 1)\""
expect_out "python backend: report prints the engine's view, labelled" "Engine-reported.*-+$" \
    "$BIN" report "$T/py_backend"
expect_err "python: an engine that fails to start is a clear error" 2 \
    "engine.start\(\): RuntimeError: the test engine refuses to start" \
    "$BIN" replay "$AZ" --client sagellm --engine python:test_engine:make_engine \
    --engine-opt "$PYCFG" --engine-opt start_fails=true --first 5 --out "$T/x"
expect_err "python: a missing module is a clear error" 2 "ModuleNotFoundError: No module named 'no_such_mod'" \
    "$BIN" replay "$AZ" --client sagellm --engine python:no_such_mod:make --first 5 --out "$T/x"
# SIGINT with in-process requests in flight: the engine is asked to cancel
# them after the grace, every file is complete.
spawn "$BIN" replay "$AZ" --client sagellm --engine sim --engine-opt preset=gpu-7b --speed 10 \
    --grace 200ms --out "$T/sig" -q
rpid=$SPAWN_PID
for _ in $(seq 1 400); do [ -f "$T/sig/requests.jsonl" ] && [ "$(wc -l < "$T/sig/requests.jsonl")" -ge 5 ] && break; sleep 0.05; done
kill -INT "$rpid"; wait "$rpid"; rc=$?
check "in-process SIGINT: exit 5" "[ $rc = 5 ]"
check "in-process SIGINT: in-flight requests cancelled through the engine" "grep -q '\"class\":\"cancelled\"' '$T/sig/requests.jsonl'"
check "in-process SIGINT: the log is valid JSON and the summary exists" "python3 -c \"
import json
[json.loads(l) for l in open('$T/sig/requests.jsonl')]
json.load(open('$T/sig/summary.json'))\""

finish
