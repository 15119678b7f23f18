#!/usr/bin/env bash
# bench/trace_io.sh [N] — trace format throughput and memory.
#  1. write and read N records (default 1,000,000), length-only and with
#     chat bodies, zstd and plain: records/s on one core (CPU time), MB/s,
#     compression ratio (bench/trace_bench.c against the library);
#  2. peak RSS of `trace convert` on an N-row Azure-style CSV and on one
#     ten times smaller, and of `trace slice` on the N-record trace: the
#     ratio shows whether memory grows with the trace.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIN=${BIN:-$PWD/bin/sagellm-bench}
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-trace.XXXXXX")
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -DSAGELLM_VERSION='"bench"' -I. bench/trace_bench.c build/libsagellm.a \
   $(pkg-config --libs libzstd libcjson) -lm -o "$W/trace_bench"
echo "== trace format throughput, $N records (CPU time of one thread)"
"$W/trace_bench" "$N" "$W"

echo "== peak RSS while converting (Azure-style CSV -> .jsonl.zst)"
gen_csv() { # rows file
    awk -v n="$1" 'BEGIN { printf "TIMESTAMP,ContextTokens,GeneratedTokens\r\n";
        srand(1); t = 0;
        for (i = 0; i < n; i++) { t += -log(1 - rand()) * 0.01;
            s = int(t); f = t - s; h = int(s / 3600) % 24; m = int(s / 60) % 60; sec = s % 60;
            printf "2023-11-16 %02d:%02d:%02d.%07d,%d,%d\r\n", h, m, sec, int(f * 1e7), 1 + int(rand() * 4000), 1 + int(rand() * 800) } }' > "$2"
}
small=$((N / 10))
gen_csv "$small" "$W/small.csv"
gen_csv "$N" "$W/big.csv"
rss() { python3 bench/maxrss.py "$@" 2>&1 >/dev/null | sed -nE 's/.*maxrss_kb=([0-9]+) wall_s=([0-9.]+).*/\1 \2/p' | tail -1; }
read -r rs ws < <(rss "$BIN" trace convert --from azure "$W/small.csv" -o "$W/small.jsonl.zst")
read -r rb wb < <(rss "$BIN" trace convert --from azure "$W/big.csv" -o "$W/big.jsonl.zst")
printf 'convert %9d rows: peak RSS %6d KB, %.2f s (%.0f rows/s)\n' "$small" "$rs" "$ws" "$(awk -v a="$small" -v b="$ws" "BEGIN{print a/b}")"
printf 'convert %9d rows: peak RSS %6d KB, %.2f s (%.0f rows/s)\n' "$N" "$rb" "$wb" "$(awk -v a="$N" -v b="$wb" "BEGIN{print a/b}")"
printf 'RSS ratio big/small: %.2f (1.00 = memory does not grow with the trace)\n' "$(awk -v a="$rb" -v b="$rs" "BEGIN{print a/b}")"
read -r rl wl < <(rss "$BIN" trace slice "$W/big.jsonl.zst" --from 1s -o "$W/slice.jsonl.zst")
printf 'slice   %9d records: peak RSS %6d KB, %.2f s\n' "$N" "$rl" "$wl"
