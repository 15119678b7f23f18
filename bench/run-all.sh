#!/usr/bin/env bash
# bench/run-all.sh — runs every benchmark in turn (make bench). Each prints
# its own figures, as ratios against the machine's own limits where it can.
# Benchmarks that need an optional tool say so and skip.
set -u
cd "$(dirname "$0")/.."
export BIN=${BIN:-$PWD/bin/sagellm-bench}
rc=0
for b in bench/trace_io.sh bench/sse.sh bench/prompt_speed.sh bench/prompt_tokens.sh \
         bench/serve_bench.sh bench/replay.sh bench/stamp_referee.sh bench/sagellm_client.sh bench/capture*.sh bench/report*.sh; do
    [ -f "$b" ] || continue
    echo "######## $b"
    bash "$b" || { echo "$b failed" >&2; rc=1; }
done
exit $rc
