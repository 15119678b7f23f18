#!/usr/bin/env bash
# make demo — the README's tour, end to end, on the bundled sample traces.
# Writes everything under results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/sagellm-bench}
SHARED=${SAGELLM_SHARED_TRACES:-../shared/traces}
OUT=results/demo
mkdir -p "$OUT"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

if [ ! -f "$SHARED/AzureLLMInferenceTrace_conv.csv" ]; then
    echo "demo: sample traces not found in $SHARED (set SAGELLM_SHARED_TRACES)" >&2
    exit 1
fi
step "$BIN" trace convert --from azure "$SHARED/AzureLLMInferenceTrace_conv.csv" -o "$OUT/azure_conv.jsonl.zst"
step "$BIN" trace inspect "$OUT/azure_conv.jsonl.zst"
step "$BIN" trace slice "$OUT/azure_conv.jsonl.zst" --from 60s --to 180s -o "$OUT/azure_2min.jsonl.zst"
step "$BIN" trace scale "$OUT/azure_2min.jsonl.zst" --speed 4 -o "$OUT/azure_2min_x4.jsonl.zst"
step "$BIN" trace convert --from mooncake "$SHARED/mooncake_conversation_trace.jsonl" -o "$OUT/mooncake.jsonl.zst"
step "$BIN" trace inspect "$OUT/mooncake.jsonl.zst"
step "$BIN" trace synth --duration 60s --rate 5 --arrival gamma:2 --input lognormal:1000:0.8 \
     --output uniform:64:512 --seed 1 -o "$OUT/synth.jsonl.zst"
step "$BIN" trace materialize "$OUT/synth.jsonl.zst" --api chat -o "$OUT/synth_bodies.jsonl.zst"
echo
echo "demo: traces written to $OUT/"
