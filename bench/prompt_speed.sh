#!/usr/bin/env bash
# bench/prompt_speed.sh [MB] — prompt synthesis speed on one core:
#  1. prompt_synth text throughput for 128..32768-token prompts, without and
#     with hash blocks, and prompt_make_body per chat body
#     (bench/prompt_bench.c against the library; MB of text per case,
#     default 2000);
#  2. `trace synth` of 1,000,000 records and `trace materialize` of 100,000
#     records (mean ~1,000 input tokens): wall time and records/s.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-2000}
BIN=${BIN:-$PWD/bin/sagellm-bench}
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-prompt.XXXXXX")
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -DSAGELLM_VERSION='"bench"' -I. bench/prompt_bench.c build/libsagellm.a \
   $(pkg-config --libs libzstd libcjson) -lm -o "$W/prompt_bench"
echo "== prompt synthesis (CPU time of one thread, ${MB} MB of text per case)"
"$W/prompt_bench" "$MB"

wall() { # prints seconds taken by the command
    local t0 t1
    t0=$(date +%s.%N)
    "$@" 2>/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
echo "== trace synth / trace materialize (wall time)"
s=$(wall "$BIN" trace synth -o "$W/synth.jsonl.zst" --duration 1d --rate 1000 --input lognormal:1000:1.0 \
    --output lognormal:200:0.8 --max-records 1000000 --seed 1)
printf 'trace synth, 1,000,000 length-only records (.jsonl.zst): %6.2f s  %9.0f records/s\n' "$s" \
    "$(awk -v t="$s" 'BEGIN { print 1000000 / t }')"
s=$(wall "$BIN" trace synth -o "$W/sess.jsonl.zst" --duration 1d --rate 300 --input lognormal:300:1.0 \
    --output lognormal:200:0.8 --sessions uniform:1:8 --prefix 1024:16 --max-records 1000000 --seed 1)
printf 'trace synth, 1,000,000 records with sessions + prefixes:  %6.2f s  %9.0f records/s\n' "$s" \
    "$(awk -v t="$s" 'BEGIN { print 1000000 / t }')"
"$BIN" trace slice "$W/synth.jsonl.zst" --first 100000 -o "$W/100k.jsonl.zst" 2>/dev/null
s=$(wall "$BIN" trace materialize "$W/100k.jsonl.zst" -o "$W/mat.jsonl")
bytes=$(stat -c %s "$W/mat.jsonl")
printf 'trace materialize, 100,000 records -> plain .jsonl:  %6.2f s  %9.0f records/s  %6.0f MB/s written\n' "$s" \
    "$(awk -v t="$s" 'BEGIN { print 100000 / t }')" "$(awk -v t="$s" -v b="$bytes" 'BEGIN { print b / t / 1e6 }')"
s=$(wall "$BIN" trace materialize "$W/100k.jsonl.zst" -o "$W/mat.jsonl.zst")
printf 'trace materialize, 100,000 records -> .jsonl.zst:    %6.2f s  %9.0f records/s\n' "$s" \
    "$(awk -v t="$s" 'BEGIN { print 100000 / t }')"
