#!/usr/bin/env bash
# bench/run-all.sh — runs every benchmark in turn (make bench). Each prints
# its own figures, as ratios against the machine's own limits where it can.
# Benchmarks that need an optional tool say so and skip.
set -u
cd "$(dirname "$0")/.."
export BIN=${BIN:-$PWD/bin/sagellm-bench}
rc=0
for b in trace_io.sh sse.sh prompt_speed.sh prompt_tokens.sh serve*.sh replay*.sh; do
    [ -f "bench/$b" ] || continue
    echo "######## bench/$b"
    bash "bench/$b" || { echo "bench/$b failed" >&2; rc=1; }
done
exit $rc
