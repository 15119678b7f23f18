#!/usr/bin/env bash
# bench/capture_bench.sh — what `sagellm-bench capture` sustains (docs/performance.md, "Capture"):
#   1. offline: a pcap of streamed chat exchanges (bench/capture_pcapgen.c)
#      read with -r on one core: packets/s and requests/s of CPU time, next
#      to tcpdump reading and writing the same file (libpcap's own cost);
#   2. memory: peak RSS with 10,000 connections open at once, against 10;
#   3. live (root only): `replay` sending streamed requests at RATE/s to
#      `serve` on lo while `capture -i lo` records them: the rate achieved,
#      kernel drops, incomplete exchanges, the capture's CPU time.
# Usage: bench/capture_bench.sh   (BIN; CAPTURE_BENCH_REQUESTS=100000,
#        CAPTURE_BENCH_RATE=5000, CAPTURE_BENCH_SECONDS=10 optional)
# Nothing is written in the tree; all traffic stays on 127.0.0.1.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/sagellm-bench}
REQ=${CAPTURE_BENCH_REQUESTS:-100000}
RATE=${CAPTURE_BENCH_RATE:-5000}
DUR=${CAPTURE_BENCH_SECONDS:-10}
[ -x "$BIN" ] || { echo "capture bench: build first ($BIN missing)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/capture-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$W"; }
trap cleanup EXIT
cc -O2 -o "$W/pcapgen" bench/capture_pcapgen.c || exit 1
ONE=(); [ "$(nproc)" -ge 2 ] && ONE=(taskset -c 1)
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: /cpu: /'

# rusage OUT CMD...: runs CMD (its output discarded); writes "cpu_s=USER+SYS
# maxrss_kb=N wall_s=S" to OUT and prints it.
rusage() {
    python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
line = f"cpu_s={ru.ru_utime + ru.ru_stime:.3f} maxrss_kb={ru.ru_maxrss} wall_s={time.monotonic() - t0:.3f} rc={rc}"
open(sys.argv[1], 'w').write(line + '\n')
print(line)
EOF
}
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
jget() { python3 -c "import json,sys; print(json.load(open('$1'))$2)"; }

echo
echo "== 1. offline: $REQ streamed requests (64 events each) over 1,000 connections, read on one core"
GEN=$("$W/pcapgen" stream "$W/s.pcap" "$REQ" 1000 64)
PK=$(kv packets "$GEN")
echo "pcap: $GEN ($(du -m "$W/s.pcap" | cut -f1) MB)"
cat "$W/s.pcap" > /dev/null                      # into the page cache for both readers
R=$("${ONE[@]}" bash -c "$(declare -f rusage); rusage '$W/ru' '$BIN' capture -r '$W/s.pcap' -o '$W/s.jsonl.zst' --stats '$W/s.stats' -q")
CPU=$(kv cpu_s "$R")
echo "capture -r -o .jsonl.zst: $R records=$(jget "$W/s.stats" "['records']") incomplete=$(jget "$W/s.stats" "['incomplete_total']")"
python3 -c "print(f'  {$PK/$CPU/1e6:.2f} M packets/s, {$REQ/$CPU/1e3:.1f} k requests/s of CPU time ({$CPU:.2f} s for $PK packets)')"
R2=$("${ONE[@]}" bash -c "$(declare -f rusage); rusage '$W/ru' '$BIN' capture -r '$W/s.pcap' -o - -q")
CPU2=$(kv cpu_s "$R2")
python3 -c "print(f'capture -r -o - (plain, to a pipe): {$PK/$CPU2/1e6:.2f} M packets/s, {$REQ/$CPU2/1e3:.1f} k requests/s')"
if command -v tcpdump >/dev/null; then
    R3=$("${ONE[@]}" bash -c "$(declare -f rusage); rusage '$W/ru' tcpdump -r '$W/s.pcap' -w -")
    CPU3=$(kv cpu_s "$R3")
    python3 -c "print(f'floor: tcpdump -r FILE -w - (libpcap read + write, no parsing): {$PK/$CPU3/1e6:.2f} M packets/s; capture costs {$CPU/$CPU3:.1f}x that')"
fi
rm -f "$W/s.pcap"

echo
echo "== 2. memory: 10,000 connections open at once (each mid-response, a 1 KB request held)"
"$W/pcapgen" flows "$W/f.pcap" 10000 16 >/dev/null
"$W/pcapgen" flows "$W/f10.pcap" 10 16 >/dev/null
R=$(rusage "$W/ru" "$BIN" capture -r "$W/f.pcap" -o "$W/f.jsonl" --stats "$W/f.stats" -q)
R0=$(rusage "$W/ru" "$BIN" capture -r "$W/f10.pcap" -o "$W/f10.jsonl" -q)
M=$(kv maxrss_kb "$R"); M0=$(kv maxrss_kb "$R0")
echo "peak open flows $(jget "$W/f.stats" "['peak_flows']"): max RSS $((M / 1024)) MB; with 10 flows $((M0 / 1024)) MB;" \
     "$(( (M - M0) * 1024 / 10000 )) bytes per open flow"

echo
if [ "$(id -u)" != 0 ]; then echo "== 3. live: skipped (needs root)"; exit 0; fi
echo "== 3. live: replay at $RATE streamed requests/s (8 tokens each) to serve on lo, captured with -i lo"
"$BIN" trace synth --duration "${DUR}s" --rate "$RATE" --arrival poisson --input fixed:64 --output fixed:8 \
    --seed 1 -o "$W/syn.jsonl.zst" 2>/dev/null
"$BIN" serve --port 0 --port-file "$W/port" --preset fast --max-batch 10000 --per-seq-time 0 \
    --prefill-per-token 0 >/dev/null 2>"$W/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
P=$(cat "$W/port")
rusage "$W/cap.rusage" "$BIN" capture -i lo --port "$P" -o "$W/live.jsonl.zst" --ready-file "$W/ready" \
    --stats "$W/live.stats" --duration "$((DUR + 5))s" -q >/dev/null &
PIDS+=($!)
CAPW=$!
for _ in $(seq 100); do [ -s "$W/ready" ] && break; sleep 0.05; done
"$BIN" replay "$W/syn.jsonl.zst" --client gateway --url "http://127.0.0.1:$P" --threads 2 --out "$W/r" -q \
    2>/dev/null | grep -E 'Successful|Failed|Request throughput|P99 send lag'
wait "$CAPW"
python3 - "$W/live.stats" "$(cat "$W/cap.rusage")" "$(wc -l < "$W/r/requests.jsonl")" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); ru = dict(kv.split('=') for kv in sys.argv[2].split()); n = int(sys.argv[3])
print(f"capture: {s['records']} records of {n} sent, {s['packets']} packets, kernel drops {s['kernel_drops']}, "
      f"interface drops {s['if_drops']}, incomplete {s['incomplete_total']}; CPU {float(ru['cpu_s']):.2f} s, "
      f"max RSS {int(ru['maxrss_kb']) // 1024} MB (the 64 MB capture ring included)")
EOF
