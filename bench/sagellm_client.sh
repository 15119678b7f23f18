#!/usr/bin/env bash
# bench/sagellm_client.sh — the in-process `sagellm` client (docs/performance.md,
# "In-process client (sagellm)"):
#   1. callback path: CPU per token callback, measured inside an engine
#      library (bench/engine_burst.c) that hands out 1,000,000 tokens one per
#      call through the real replay, less the same loop with a no-op callback;
#   2. Python bridge: CPU per token of the whole process with the test engine
#      streaming as fast as it can (the interpreter's cost, for scale);
#   3. HTTP vs in-process: the same trace through `--client sagellm --engine
#      sim` and through `--client vllm` against `serve`, same engine
#      parameters; TTFT/ITL/E2E, the delivery delay (client time minus the
#      engine's own time of the same event) and CPU of each side.
#
#   bash bench/sagellm_client.sh [RECORDS [SPEED [PRESET]]]   (default 600 1 gpu-7b)
# Needs a build with the Python bridge for part 2 (skipped otherwise).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/sagellm-bench}
N=${1:-600}
SPEED=${2:-1}
PRESET=${3:-gpu-7b}
SHARED=${SAGELLM_SHARED_TRACES:-$ROOT/../shared/traces}
[ -x "$BIN" ] || { echo "sagellm_client: build first ($BIN missing)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-inproc.XXXXXX")
SP=""
cleanup() { [ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2"; }

cc -O2 -shared -fPIC -I. bench/engine_burst.c -o "$W/engine_burst.so" -lpthread || exit 1
cc -O2 -o "$W/replay_probe" bench/replay_probe.c || exit 1
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: /cpu: /'
echo "cpus: $(nproc)"

echo
echo "== 1. callback path (engine thread CPU per on_tokens call, 1 token per call)"
python3 - >"$W/burst.jsonl" <<'EOF'
import json
print(json.dumps({"format": "sagellm-trace", "version": 1, "source": "synth"}))
for i in range(4):
    print(json.dumps({"t_us": i, "id": "b%d" % i, "api": "completions",
                      "input_tokens": 8, "output_tokens": 250000}))
EOF
for run in 1 2 3; do
    "$BIN" replay "$W/burst.jsonl" --client sagellm --engine "$W/engine_burst.so" \
        --engine-opt report="$W/burst.txt" --out "$W/burst$run" -q >/dev/null 2>&1 || {
        echo "burst run failed" >&2; exit 1; }
    printf 'run %d: %s callbacks, callback path %s ns CPU per call (engine loop alone %s ns, wall %s ns per call)\n' \
        "$run" "$(kv calls "$W/burst.txt")" "$(kv path_cpu_ns_per_call "$W/burst.txt")" \
        "$(kv loop_baseline_ns "$W/burst.txt")" "$(kv wall_ns_per_call "$W/burst.txt")"
done

echo
echo "== 2. Python bridge (test engine, stream path, no delay between tokens)"
python3 - >"$W/py.jsonl" <<'EOF'
import json
print(json.dumps({"format": "sagellm-trace", "version": 1, "source": "synth"}))
for i in range(20):
    print(json.dumps({"t_us": i * 1000, "id": "p%d" % i, "api": "completions",
                      "input_tokens": 8, "output_tokens": 5000}))
EOF
if "$W/replay_probe" -o "$W/py.txt" -- "$BIN" replay "$W/py.jsonl" --client sagellm \
        --engine python:test_engine:make_engine --engine-opt python_path="$ROOT/tests/data/py_engine" \
        --engine-opt mode=stream --engine-opt token_delay=0 --out "$W/py" -q >/dev/null 2>"$W/py.err"; then
    awk -v c="$(kv cpu_s "$W/py.txt")" -v w="$(kv wall_s "$W/py.txt")" 'BEGIN {
        printf "100,000 tokens in %.2f s: %.2f us CPU per token (whole process: interpreter, engine, bridge, replay)\n",
               w, c * 1e6 / 100000 }'
else
    echo "skipped: $(head -c 200 "$W/py.err")"
fi

echo
echo "== 3. the same trace in-process and over HTTP ($N Azure conversation records at ${SPEED}x, preset $PRESET)"
AZ="$W/azure.jsonl.zst"
"$BIN" trace convert --from azure "$SHARED/AzureLLMInferenceTrace_conv.csv" -o "$AZ" 2>/dev/null
"$W/replay_probe" -o "$W/inproc.txt" -- "$BIN" replay "$AZ" --client sagellm --engine sim \
    --engine-opt preset="$PRESET" --first "$N" --speed "$SPEED" --out "$W/inproc" -q >/dev/null 2>&1 \
    || { echo "in-process run failed" >&2; exit 1; }
"$BIN" serve --api vllm --preset "$PRESET" --port 0 --port-file "$W/port" \
    --ground-truth "$W/gt.jsonl" >/dev/null 2>"$W/serve.err" &
SP=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
[ -s "$W/port" ] || { echo "server did not start: $(cat "$W/serve.err")" >&2; exit 1; }
"$W/replay_probe" -o "$W/http.txt" -p "$SP" -- "$BIN" replay "$AZ" --client vllm \
    --url "http://127.0.0.1:$(cat "$W/port")" --first "$N" --speed "$SPEED" --out "$W/http" -q \
    >/dev/null 2>&1 || { echo "HTTP run failed" >&2; exit 1; }
kill -INT "$SP"; wait "$SP"; SP=""
python3 - "$W" "$(kv cpu_s "$W/inproc.txt")" "$(kv cpu_s "$W/http.txt")" \
    "$(sed -n 's/.*pid[0-9]*_cpu_s=\([^ ]*\).*/\1/p' "$W/http.txt")" <<'EOF'
import json, statistics, sys
w, cpu_in, cpu_http, cpu_srv = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

def load(d):
    return [json.loads(l) for l in open(f"{w}/{d}/requests.jsonl")]

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

sin, sht = (json.load(open(f"{w}/{d}/summary.json")) for d in ("inproc", "http"))
rin, rht = load("inproc"), load("http")
t0 = json.load(open(f"{w}/http/run.json"))["start_monotonic_ns"]
gt = {g["client_request_id"]: g for g in map(json.loads, open(f"{w}/gt.jsonl"))
      if g.get("type") == "request"}
# delivery delay: when the client saw the first token / the end, minus when
# the engine handed out the first token / finished (the engine's own clock)
d_first_in = [r["t_first_token_ns"] - r["engine"]["t_first_token_ns"] for r in rin if r["ok"]]
d_end_in = [r["t_end_ns"] - r["engine"]["t_finished_ns"] for r in rin if r["ok"]]
d_first_ht, d_end_ht = [], []
for r in rht:
    g = gt.get(str(r["index"]))
    if not r["ok"] or not g:
        continue
    d_first_ht.append(t0 + r["t_first_token_ns"] - g["t_first_token_ns"])
    d_end_ht.append(t0 + r["t_end_ns"] - (g["t_first_token_ns"] + g["decode_ns"]))
tok = sin["total_output_tokens"]
print(f"completed: in-process {sin['completed']} (failed {sin['failed']}), "
      f"HTTP {sht['completed']} (failed {sht['failed']}); output tokens {tok} / {sht['total_output_tokens']}")
print(f"{'metric':34s} {'in-process':>12s} {'HTTP (vllm)':>12s} {'difference':>12s}")
for k, name in (("ttft", "TTFT"), ("itl", "ITL"), ("e2el", "E2E")):
    for a in ("mean", "median", "p99"):
        key = f"{a}_{k}_ms"
        x, y = sin[key], sht[key]
        print(f"{name + ' ' + a + ' (ms)':34s} {x:12.3f} {y:12.3f} {y - x:+12.3f}")
for name, a, b in (("first-token delivery", d_first_in, d_first_ht),
                   ("end delivery", d_end_in, d_end_ht)):
    for lab, f in (("median", lambda v: statistics.median(v)), ("p99", lambda v: pct(v, 99))):
        x, y = f(a) / 1e3, f(b) / 1e3
        print(f"{name + ' ' + lab + ' (us)':34s} {x:12.1f} {y:12.1f} {y - x:+12.1f}")
print(f"{'CPU, replay process (s)':34s} {cpu_in:12.2f} {cpu_http:12.2f} {cpu_http - cpu_in:+12.2f}")
print(f"{'CPU, server process (s)':34s} {0.0:12.2f} {cpu_srv:12.2f} {cpu_srv:+12.2f}")
tot_in, tot_ht = cpu_in, cpu_http + cpu_srv
print(f"{'CPU, all (s)':34s} {tot_in:12.2f} {tot_ht:12.2f} {tot_ht - tot_in:+12.2f}")
print(f"{'CPU per output token, all (us)':34s} {tot_in * 1e6 / tok:12.2f} {tot_ht * 1e6 / tok:12.2f} "
      f"{(tot_ht - tot_in) * 1e6 / tok:+12.2f}")
EOF
