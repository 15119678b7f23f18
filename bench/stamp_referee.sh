#!/usr/bin/env bash
# bench/stamp_referee.sh — the time stamps of the replay and of `serve`'s
# ground truth against the wire (docs/performance.md, "Timestamps against
# the wire").
#
#   bash bench/stamp_referee.sh [STREAMS ...]      default: 100 1000
#
# For each STREAMS (N): `serve --preset fast --step-time 20ms` with its
# ground truth, pinned to CPU 0; N streamed chat requests of TOKENS (100)
# output tokens each, all sent within WINDOW_MS (100 ms) so that N are in
# flight, first by `replay --client vllm --threads 1` (once per
# --rx-stamp mode, RX_STAMPS="kernel poll", when the binary has the option)
# and then by the bare epoll reader bench/stamp_floor.c (the floor: it
# stamps each read when epoll_wait returns), all pinned to CPU 1, one after
# the other against the same server; tcpdump on lo (nanosecond stamps)
# records it all as the neutral referee. `capture -r --event-times` reads the capture back: the
# wire time of a token event is the timestamp of the TCP segment that
# carried its last byte. bench/stamp_referee.py then prints, per token
# position, p50/p99/max of (stamp - wire) for the ground truth's
# event_write_ns, the replay's token times and the floor's, and the ratio of
# the replay's to the floor's.
#
# Needs root (tcpdump on lo; installs the Debian package tcpdump when
# missing) and two cores (SERVER_CPU, CLIENT_CPU choose them; tcpdump runs
# where the kernel puts it, or on TCPDUMP_CPU; it uses 0.1-0.2 of a core at
# 1,000 streams, and the script prints how much). Everything
# runs on 127.0.0.1; every process started here is stopped on exit. KEEP=1
# keeps the work directory (pcaps, run directories, ground truth).
# BIN=OTHER/bin/sagellm-bench measures another build's `serve` and `replay`
# (an older one, say); CAPTURE_BIN (default: BIN, else this tree's binary
# when BIN has no `capture --event-times`) reads the capture.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/sagellm-bench}
TOKENS=${TOKENS:-100}
WINDOW_MS=${WINDOW_MS:-100}
RX_STAMPS=${RX_STAMPS:-kernel poll}
STREAMS=("$@")
[ ${#STREAMS[@]} -gt 0 ] || STREAMS=(100 1000)

. "$ROOT/bench/lib.sh"
BENCH_NAME=stamp_referee   # die's prefix (its own work directory and cleanup below)

[ "$(id -u)" = 0 ] || { echo "bench/stamp_referee.sh: skipped: tcpdump on lo needs root"; exit 0; }
if ! command -v tcpdump >/dev/null; then
    echo "tcpdump is not installed: installing the Debian package tcpdump (apt-get install -y tcpdump)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q tcpdump >/dev/null 2>&1 || die "apt-get install tcpdump failed"
fi
command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ] || die "needs taskset and two cores"
[ -x "$BIN" ] || make -s all >/dev/null || die "cannot build $BIN"
CAPTURE_BIN=${CAPTURE_BIN:-$BIN}
if ! "$CAPTURE_BIN" capture --help 2>&1 | grep -q -- --event-times; then
    CAPTURE_BIN=$ROOT/bin/sagellm-bench
    [ -x "$CAPTURE_BIN" ] || make -s all >/dev/null || die "cannot build $CAPTURE_BIN"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-stamps.XXXXXX")
SPID="" DPID="" CPID=""
cleanup() {
    for p in $CPID $SPID $DPID; do kill "$p" 2>/dev/null; done
    for p in $CPID $SPID $DPID; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] && echo "work directory kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$W/stamp_floor" bench/stamp_floor.c || die "cannot build bench/stamp_floor.c"
cc -O2 -o "$W/probe" bench/replay_probe.c || die "cannot build bench/replay_probe.c"
PIN_SRV=(taskset -c "${SERVER_CPU:-0}")
PIN_CLI=(taskset -c "${CLIENT_CPU:-1}")
PIN_DUMP=()
[ -n "${TCPDUMP_CPU:-}" ] && PIN_DUMP=(taskset -c "$TCPDUMP_CPU")

start_server() { # GROUND_TRUTH: sets SPID, PORT
    serve_start --preset fast --step-time 20ms --ground-truth "$1"
}
stop_pid() { [ -n "$1" ] && kill "-${2:-TERM}" "$1" 2>/dev/null && wait "$1" 2>/dev/null; }

# Packets with payload, SYN, FIN or RST only: pure ACKs are half the
# packets and say nothing about when data was sent.
payload_filter() {
    echo "tcp port $1 and (tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0 or" \
         "(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) != 0)"
}
start_tcpdump() { # FILE PORT: sets DPID once tcpdump listens
    "${PIN_DUMP[@]}" tcpdump -i lo -n -Z root -s 0 -B 262144 --time-stamp-precision=nano \
        -w "$1" "$(payload_filter "$2")" 2>"$1.err" &
    DPID=$!
    for _ in $(seq 100); do grep -q 'listening on' "$1.err" 2>/dev/null && return 0; sleep 0.05; done
    die "tcpdump did not start: $(cat "$1.err")"
}

# one N: the server, the capture, the replay, then the floor.
one() {
    local n=$1 d="$W/n$1"
    mkdir -p "$d"
    local rate=$(( n * 1000 / WINDOW_MS ))
    "$BIN" trace synth -o "$d/trace.jsonl.zst" --duration "$(( WINDOW_MS + 50 ))ms" --rate "$rate" \
        --arrival constant --input fixed:16 --output "fixed:$TOKENS" --max-records "$n" --seed 1 >/dev/null 2>&1 ||
        die "trace synth failed"
    "$BIN" trace materialize "$d/trace.jsonl.zst" -o "$d/mat.jsonl" >/dev/null 2>&1 || die "trace materialize failed"
    python3 "$ROOT/bench/vllm_body.py" "$d/mat.jsonl" "$TOKENS" "$d/body.json" || die "bench/vllm_body.py failed"
    start_server "$d/gt.jsonl"
    start_tcpdump "$d/wire.pcap" "$PORT"
    local mode modes=(default)
    "$BIN" replay --help 2>&1 | grep -q -- --rx-stamp && read -r -a modes <<<"$RX_STAMPS"
    for mode in "${modes[@]}"; do
        local opt=() r="$d/replay-$mode"
        [ "$mode" = default ] || opt=(--rx-stamp "$mode")
        run "$W/probe" -o "$r.probe" -p "$SPID" -p "$DPID" -- "${PIN_CLI[@]}" "$BIN" replay "$d/trace.jsonl.zst" \
            --client vllm --threads 1 --url "http://127.0.0.1:$PORT" --out "$r" -q "${opt[@]}" >"$r.out" 2>&1
        local rc=$?
        [ -s "$r/requests.jsonl" ] || { cat "$r.out" >&2; die "replay ($mode) of $n streams wrote no log"; }
        [ $rc = 0 ] || echo "NOTE: replay ($mode) of $n streams exited with $rc: $(tail -n 2 "$r.out")"
    done
    run "$W/probe" -o "$d/floor.probe" -p "$SPID" -p "$DPID" -- "${PIN_CLI[@]}" "$W/stamp_floor" "$PORT" \
        /v1/chat/completions "$d/body.json" "$n" "$WINDOW_MS" "$d/floor.jsonl" >"$d/floor.out" 2>&1 ||
        { cat "$d/floor.out" >&2; die "the floor's $n streams failed"; }
    sleep 2                                   # tcpdump gets the ring's last block (1 s timeout)
    stop_pid "$DPID" INT; DPID=""
    stop_pid "$SPID" INT; SPID=""
    "$CAPTURE_BIN" capture -r "$d/wire.pcap" --port "$PORT" --event-times -o "$d/wire.jsonl" -q --stats "$d/wire.stats" ||
        die "capture -r of $d/wire.pcap failed"
}

echo "== bench/stamp_referee.sh: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(uname -sr)"
echo "   serve --preset fast --step-time 20ms on CPU ${SERVER_CPU:-0}; replay --client vllm --threads 1 and the floor on CPU ${CLIENT_CPU:-1};"
echo "   $TOKENS tokens per stream, streams sent within $WINDOW_MS ms; referee: tcpdump -i lo --time-stamp-precision=nano"
args=()
for n in "${STREAMS[@]}"; do
    one "$n"
    args+=("$n" "$W/n$n")
done
python3 "$ROOT/bench/stamp_referee.py" "${args[@]}"
