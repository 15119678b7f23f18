#!/usr/bin/env bash
# bench/summary_mem.sh [N] [TOKENS] — peak memory and wall time of
# `sagellm-bench report RUN --format json` over a run of N requests
# (default 1,000,000) of TOKENS output tokens each (default 500): every
# request completed and streamed, gaps_ns with TOKENS - 1 chunk gaps,
# Poisson arrivals at 100 requests/s (bench/summary_memgen.c writes the log,
# zstd-compressed to keep the disk use near 2 GB; report reads it as is).
# Measures
#   1. report --format json        (auto: exact up to SUMMARY_EXACT_CAP
#                                   values, then histograms),
#   2. report --format json --exact (every value kept, the old behaviour),
# and prints the ratio of their peak RSS and the largest difference between
# their percentiles against the stated bound. Needs about 2 GB of disk and,
# for the exact run, memory for 8 bytes per value twice over (sorting).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
T=${2:-500}
BIN=${BIN:-$PWD/bin/sagellm-bench}
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-summary-mem.XXXXXX")
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null
cc -O2 -o "$W/memgen" bench/summary_memgen.c -lm

# rss CMD...: "PEAK_RSS_KB WALL_S CPU_S" of CMD (its stdout to $W/out.json).
rss() {
    python3 -c '
import resource, subprocess, sys, time
t0 = time.monotonic()
with open(sys.argv[1], "wb") as out:
    p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE)
if p.returncode:
    sys.exit(p.stderr.decode(errors="replace") + f"exit {p.returncode}: {sys.argv[2:]}")
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_maxrss, round(time.monotonic() - t0, 3), round(u.ru_utime + u.ru_stime, 3))' "$@"
}

mkdir -p "$W/run"
t0=$(date +%s)
"$W/memgen" "$N" "$T" 100 | zstd -q -1 -T2 -o "$W/run/requests.jsonl"
t1=$(date +%s)
echo "== report over $N requests x $T tokens ($((N * (T - 1))) ITL values), log $(du -m "$W/run/requests.jsonl" | cut -f1) MB zstd (generated in $((t1 - t0)) s)"
read -r r1 w1 c1 < <(rss "$W/auto.json" "$BIN" report "$W/run" --format json)
printf '%-38s peak RSS %8.1f MB, %7.1f s wall, %7.1f s CPU\n' "report --format json (auto)" \
    "$(awk -v k="$r1" 'BEGIN{print k/1024}')" "$w1" "$c1"
read -r r2 w2 c2 < <(rss "$W/exact.json" "$BIN" report "$W/run" --format json --exact)
printf '%-38s peak RSS %8.1f MB, %7.1f s wall, %7.1f s CPU\n' "report --format json --exact" \
    "$(awk -v k="$r2" 'BEGIN{print k/1024}')" "$w2" "$c2"
printf 'peak RSS exact / auto: %.1f; wall time exact / auto: %.2f\n' \
    "$(awk -v a="$r2" -v b="$r1" 'BEGIN{print a/b}')" "$(awk -v a="$w2" -v b="$w1" 'BEGIN{print a/b}')"
python3 - "$W/auto.json" "$W/exact.json" <<'PYEOF'
import json, sys
a, e = (json.load(open(p)) for p in sys.argv[1:3])
print(f'modes: auto "{a["percentiles"]}" (bound {a["percentile_error_bound"]}), --exact "{e["percentiles"]}"')
worst, key = 0.0, None
for k, v in e.items():
    if not isinstance(v, (int, float)) or isinstance(v, bool) or k.startswith("percentile"):
        continue
    w = a.get(k)
    if any(k.startswith(p) for p in ("median_", "p90_", "p99_", "send_lag_p")) and v:
        d = abs(w - v) / abs(v)
        if d > worst:
            worst, key = d, k
    elif not any(k.startswith(p) for p in ("mean_", "std_")) and w != v:
        print(f"MISMATCH {k}: auto {w}, exact {v}")
        sys.exit(1)
print(f"largest percentile difference: {worst:.3e} relative ({key}); bound {a['percentile_error_bound']}")
sys.exit(0 if worst <= a["percentile_error_bound"] * (1 + 1e-9) else 1)
PYEOF
