#!/usr/bin/env bash
# bench/serve_bench.sh — what the built-in server (`sagellm-bench serve`)
# sustains on one core, against this machine's own limits measured in the
# same run:
#   1. timer floor: how late clock_nanosleep(TIMER_ABSTIME) wakes here;
#   2. raw floor: small writes/s one core pushes through loopback TCP to
#      5,000 connections (no HTTP, no JSON) — the ceiling for SSE events/s;
#   3. throughput: SSE events/s with 5,000 concurrent streams, server pinned
#      to one core, client to another;
#   4. pacing: token writes against the engine's schedule (from the server's
#      ground truth) at 100 and 1,000 concurrent streams.
# Usage: bench/serve_bench.sh   (BIN, SERVE_BENCH_SECONDS=8 optional)
# Prints figures on stdout; nothing is written in the tree.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/sagellm-bench}
DUR=${SERVE_BENCH_SECONDS:-8}
[ -x "$BIN" ] || { echo "serve_bench: build first ($BIN missing)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/serve-bench.XXXXXX")
SP=
cleanup() { [ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cc -O2 -o "$W/serve_load" bench/serve_load.c -lpthread || exit 1

if [ "$(nproc)" -ge 2 ]; then
    SRV_CPU=(taskset -c 0); CLI_CPU=(taskset -c 1); PIN="0 1"
    echo "cores: server pinned to CPU 0, load generator to CPU 1 ($(nproc) CPUs)"
else
    SRV_CPU=(); CLI_CPU=(); PIN=""
    echo "cores: only one CPU: server and load generator share it (figures are lower bounds)"
fi
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: /cpu: /'

# start_server ARGS: serve on a free port, pinned; sets SP and PORT.
start_server() {
    rm -f "$W/port"
    "${SRV_CPU[@]}" "$BIN" serve --port 0 --port-file "$W/port" --preset fast \
        --max-batch 10000 --per-seq-time 0 --prefill-per-token 0 "$@" >/dev/null 2>"$W/serve.err" &
    SP=$!
    for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
    [ -s "$W/port" ] || { echo "server did not start: $(cat "$W/serve.err")" >&2; exit 1; }
    PORT=$(cat "$W/port")
}
stop_server() { kill -INT "$SP"; wait "$SP"; SP=; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo
echo "== machine floors"
TIMER=$("${SRV_CPU[@]}" "$W/serve_load" timer 2000 1000)
echo "timer wake-up lateness (2000 x 1 ms, slack 1 ns): $TIMER"
RAW=$("$W/serve_load" raw 5000 "$DUR" 200 $PIN)
echo "raw loopback writes, 200 B to 5,000 connections, one core: $RAW"
RAWW=$(kv writes_per_s "$RAW")

echo
echo "== throughput: 5,000 concurrent streams (200 tokens each, 50 steps/s, reissued as they end)"
start_server --step-time 20ms
OUT=$("${CLI_CPU[@]}" "$W/serve_load" stream "$PORT" 5000 200 "$DUR")
stop_server
echo "$OUT"
EV=$(kv events_per_s "$OUT")
awk -v e="$EV" -v r="$RAWW" -v c="$(kv conns "$OUT")" -v er="$(kv errors "$OUT")" 'BEGIN {
    printf "RESULT concurrent_streams=%d sse_events_per_s=%.0f raw_writes_per_s=%.0f ratio_to_raw=%.2f errors=%d\n", c, e, r, e / r, er }'

pacing() { # STREAMS
    start_server --step-time 20ms --ground-truth "$W/gt.jsonl" "${RT[@]}"
    OUT=$("${CLI_CPU[@]}" "$W/serve_load" stream "$PORT" "$1" 100 "$DUR")
    stop_server
    echo "$OUT"
    python3 - "$W/gt.jsonl" "$1" "$(kv p99_us "$TIMER")" <<'PY'
import json, sys
ws, wake, gap = [], {}, []
for line in open(sys.argv[1]):
    j = json.loads(line)
    if j.get("type") != "request" or j["outcome"] != "ok":
        continue
    s, e, w = j["event_sched_ns"], j["event_emit_ns"], j["event_write_ns"]
    ws += [w[i] - s[i] for i in range(len(w))]
    for i in range(len(w)):          # the engine's wake-up: first emission of each step
        wake[s[i]] = min(wake.get(s[i], 1 << 62), e[i] - s[i])
    gap += [abs((w[i] - w[i - 1]) - (s[i] - s[i - 1])) for i in range(1, len(w))]
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] / 1e3
wk = list(wake.values())
print("token write - schedule: p50 %.0f us, p99 %.0f us, max %.0f us (%d events)" % (q(ws, .5), q(ws, .99), max(ws) / 1e3, len(ws)))
print("engine wake-up - schedule (first event of each step): p50 %.0f us, p99 %.0f us (%d steps)" % (q(wk, .5), q(wk, .99), len(wk)))
print("per-stream gap error |write gap - scheduled gap|: p50 %.0f us, p99 %.0f us" % (q(gap, .5), q(gap, .99)))
print("RESULT streams=%s pacing_p99_us=%.0f wake_p99_us=%.0f gap_error_p99_us=%.0f timer_floor_p99_us=%s" % (sys.argv[2], q(ws, .99), q(wk, .99), q(gap, .99), sys.argv[3]))
PY
}

# The engine thread runs SCHED_FIFO when this user may (serve --realtime):
# otherwise the kernel may let the HTTP thread finish its time slice first.
RT=(--realtime)
if ! "$BIN" serve --port 0 --realtime --preset fast >/dev/null 2>&1 </dev/null & then :; fi
RTP=$!; sleep 0.3
if kill -0 "$RTP" 2>/dev/null; then kill "$RTP"; wait "$RTP" 2>/dev/null
else RT=(); echo "note: real-time priority refused; pacing measured without --realtime"; fi

echo
echo "== pacing: 100 concurrent streams (100 tokens each, 50 steps/s) ${RT[*]}"
pacing 100
echo
echo "== pacing: 1,000 concurrent streams (100 tokens each, 50 steps/s) ${RT[*]}"
pacing 1000
