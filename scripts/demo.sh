#!/usr/bin/env bash
# make demo — the main job end to end on the built-in target:
#   1. import the public Azure conversation trace sample,
#   2. start the built-in simulated server (sagellm-bench serve) on a free port,
#   3. replay the trace's first two minutes at 2x speed through the vllm client,
#   4. print the summary and leave everything in results/demo/,
#   5. stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/sagellm-bench}
SHARED=${SAGELLM_SHARED_TRACES:-../shared/traces}
OUT=results/demo
SPEED=${DEMO_SPEED:-2}
WINDOW=${DEMO_WINDOW:-120s}
step() { printf '\n$ %s\n' "$*" | sed "s|$BIN|sagellm-bench|"; "$@"; }

src="$SHARED/AzureLLMInferenceTrace_conv.csv"
if [ ! -f "$src" ]; then
    echo "demo: $src not found (set SAGELLM_SHARED_TRACES to the folder of sample traces)" >&2
    exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
step "$BIN" trace convert --from azure --api chat "$src" -o "$OUT/azure_conv.jsonl.zst"
step "$BIN" trace inspect "$OUT/azure_conv.jsonl.zst"

printf '\n$ sagellm-bench serve --port 0 --ground-truth %s/ground_truth.jsonl &\n' "$OUT"
"$BIN" serve --port 0 --port-file "$OUT/port" --ground-truth "$OUT/ground_truth.jsonl" \
    >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 100); do [ -s "$OUT/port" ] && break; sleep 0.05; done
if [ ! -s "$OUT/port" ]; then echo "demo: the server did not start:" >&2; cat "$OUT/serve.log" >&2; exit 1; fi
url="http://127.0.0.1:$(cat "$OUT/port")"
cat "$OUT/serve.log"

step "$BIN" replay "$OUT/azure_conv.jsonl.zst" --client vllm --url "$url" --to "$WINDOW" \
     --speed "$SPEED" --out "$OUT/run" --scrape-metrics 1s --csv
kill "$server"
wait "$server" 2>/dev/null || true
trap - EXIT
echo
echo "demo: per-request log $OUT/run/requests.jsonl, summary $OUT/run/summary.json,"
echo "      run manifest $OUT/run/run.json, server ground truth $OUT/ground_truth.jsonl"

# The plots and a self-contained HTML report of the run (Debian's python3-matplotlib).
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
step "$PY" analysis/plot.py "$OUT/run" -o "$OUT/report"
echo "demo: plots and the HTML report in $OUT/report/ (open $OUT/report/report.html)"
