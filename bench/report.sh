#!/usr/bin/env bash
# bench/report.sh [N] — `sagellm-bench report` over a synthetic per-request
# log of N requests (default 1,000,000), as replay writes them: the vllm
# client's fields with per-token gaps (gap_tokens), 8 to 56 output tokens
# (mean 32), 1% failures, sent over an hour. Prints wall time and peak RSS of
#   1. report --format json (the summary, SLO goodput, verdict, time series),
#   2. report --by minute (plus a summary per minute: 61 groups),
#   3. report with N / 10 requests (how time and memory grow),
#   4. compare of the log with itself (1000 bootstrap resamples),
#   5. analysis/plot.py (when python3-matplotlib is installed),
# and the memory the summary would need with --exact (docs/metrics.md: 48
# bytes per request plus 8 per ITL value; by default it folds into
# histograms past 4M values, see bench/summary_mem.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIN=${BIN:-$PWD/bin/sagellm-bench}
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-report.XXXXXX")
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null

gen() { # N DIR: a run directory with requests.jsonl and run.json
    mkdir -p "$2"
    python3 - "$1" "$2" <<'PYEOF'
import json, random, sys
n, d = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(1)
span = 3600e9
with open(f"{d}/requests.jsonl", "w") as f:
    w = f.write
    for i in range(n):
        sched = int(i * span / n)
        send = sched + rnd.randint(20000, 400000)
        if rnd.random() < 0.01:
            w('{"index":%d,"id":"r-%d","session":null,"client":"vllm","api":"chat","model":"m","warmup":false,'
              '"t_sched_ns":%d,"t_send_ns":%d,"connect_ns":0,"t_first_byte_ns":null,"t_first_token_ns":null,'
              '"t_last_token_ns":null,"t_end_ns":%d,"send_lag_us":%.3f,"output_tokens":0,"prompt_tokens":null,'
              '"gaps_ns":[],"itl_basis":"chunk","status":500,"ok":false,'
              '"error":{"class":"http_5xx","message":"overloaded"}}\n'
              % (i, i, sched, send, send + 5000000, (send - sched) / 1e3))
            continue
        out = rnd.randint(8, 56)
        ttft = rnd.randint(20000000, 400000000)
        step = rnd.randint(15000000, 30000000)
        gaps = [step + rnd.randint(-300000, 300000) for _ in range(out - 1)]
        first = send + ttft
        last = first + sum(gaps)
        end = last + 100000
        w('{"index":%d,"id":"r-%d","session":null,"client":"vllm","api":"chat","model":"m","warmup":false,'
          '"t_sched_ns":%d,"t_send_ns":%d,"connect_ns":0,"t_first_byte_ns":%d,"t_first_token_ns":%d,'
          '"t_last_token_ns":%d,"t_end_ns":%d,"send_lag_us":%.3f,"ttft_ms":%.6f,"e2e_ms":%.6f,'
          '"output_tokens":%d,"token_source":"usage","prompt_tokens":%d,"input_tokens":%d,'
          '"expected_output_tokens":%d,"events":%d,"gaps_ns":[%s],"gap_tokens":[%s],"itl_basis":"tokens",'
          '"finish_reason":"length","status":200,"ok":true,"error":null}\n'
          % (i, i, sched, send, first, first, last, end, (send - sched) / 1e3, ttft / 1e6, (end - send) / 1e6,
             out, rnd.randint(100, 4000), 1000, out, out, ",".join(map(str, gaps)), ",".join(["1"] * (out - 1))))
json.dump({"tool": "bench", "client": "vllm", "trace_digest": "synthetic", "speed": 1, "trace_rate": n / 3600,
           "not_sent": 0}, open(f"{d}/run.json", "w"))
PYEOF
}
# rss CMD...: "PEAK_RSS_KB WALL_S CPU_S" of CMD (its stdout discarded).
rss() {
    python3 -c '
import resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if p.returncode:
    sys.exit(p.stderr.decode(errors="replace") + f"exit {p.returncode}: {sys.argv[1:]}")
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_maxrss, round(time.monotonic() - t0, 3), round(u.ru_utime + u.ru_stime, 3))' "$@"
}
line() { # label requests rss_kb wall_s cpu_s
    printf '%-30s %8d requests: %6.2f s wall, %6.2f s CPU (%4.0f k requests/CPU s), peak RSS %6.1f MB\n' \
        "$1" "$2" "$4" "$5" "$(awk -v n="$2" -v c="$5" 'BEGIN{print n/c/1000}')" "$(awk -v k="$3" 'BEGIN{print k/1024}')"
}
small=$((N / 10))
t0=$(date +%s.%N)
gen "$N" "$W/big"
gen "$small" "$W/small"
t1=$(date +%s.%N)
itl=$(python3 -c "print(sum(len(l.split('\"gap_tokens\":[')[1].split(']')[0].split(',')) if '\"gap_tokens\":[1' in l else 0 for l in open('$W/big/requests.jsonl')))")
echo "== report over a synthetic log: $N requests, $(du -m "$W/big/requests.jsonl" | cut -f1) MB, $itl ITL values (generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s)"
read -r r w c < <(rss "$BIN" report "$W/big" --format json)
line "report --format json" "$N" "$r" "$w" "$c"
read -r r2 w2 c2 < <(rss "$BIN" report "$W/big" --by minute)
line "report --by minute (table)" "$N" "$r2" "$w2" "$c2"
read -r r3 w3 c3 < <(rss "$BIN" report "$W/small" --format json)
line "report --format json" "$small" "$r3" "$w3" "$c3"
printf 'summary arrays with --exact in theory: %.1f MB (48 B per request + 8 B per ITL value), up to twice that while arrays double\n' \
    "$(awk -v n="$N" -v i="$itl" 'BEGIN{print (48*n + 8*i)/1048576}')"
printf 'RSS ratio %d / %d requests: %.1f\n' "$N" "$small" "$(awk -v a="$r" -v b="$r3" 'BEGIN{print a/b}')"
read -r r4 w4 c4 < <(rss "$BIN" compare "$W/big" "$W/big" --format json)
line "compare RUN RUN (2 logs)" "$N" "$r4" "$w4" "$c4"
PY=${PYTHON:-/usr/bin/python3}
if "$PY" -c 'import matplotlib, numpy' 2>/dev/null; then
    read -r r5 w5 c5 < <(rss "$PY" analysis/plot.py "$W/big" -o "$W/plots")
    line "analysis/plot.py" "$N" "$r5" "$w5" "$c5"
else
    echo "analysis/plot.py: skipped (python3-matplotlib not installed)"
fi
