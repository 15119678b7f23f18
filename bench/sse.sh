#!/usr/bin/env bash
# bench/sse.sh [N] — SSE parser throughput: N events (default 1,000,000) of
# a realistic vLLM chat stream fed through sse_feed in chunks of several
# sizes; prints ns per event and MB/s (CPU time of one thread). See
# bench/sse_bench.c.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-sse.XXXXXX")
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -DSAGELLM_VERSION='"bench"' -I. bench/sse_bench.c build/libsagellm.a \
   -lm -o "$W/sse_bench"
echo "== SSE parser throughput, $N events (CPU time of one thread)"
"$W/sse_bench" "$N"
