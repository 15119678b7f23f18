#!/usr/bin/env bash
# bench/shards.sh — one replay from several processes (docs/scale-out.md):
#
#   bash bench/shards.sh skew    start skew of 4 processes: --start-at (wall
#                                clock) and an MPI barrier (bin/sagellm-bench-mpi
#                                under mpirun), REPEAT starts each (default 20),
#                                beside the raw timer's wake-up on this machine
#   bash bench/shards.sh rate    aggregate send rate and send-lag p99 of 1, 2 and
#                                4 shards (one worker thread each) at the offered
#                                rates RATES (default "2000 5000 10000" req/s)
#   bash bench/shards.sh cpu     CPU per request and per SSE event of one shard
#                                (--threads 1) on the Azure conversation mix, the
#                                figure the sizing table in docs/scale-out.md uses
#   bash bench/shards.sh all     the three
#
# Everything runs on this machine against `serve` on 127.0.0.1; every
# process started here is stopped on exit. On two cores the server and the
# shards share the machine: more shards than free cores show the machine's
# limit, not the tool's (the figures say so beside them).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/sagellm-bench}
MPIBIN=${MPIBIN:-$ROOT/bin/sagellm-bench-mpi}
MODE=${1:-all}
REPEAT=${REPEAT:-20}
RATES=${RATES:-2000 5000 10000}
PIN_SRV=()
. "$ROOT/bench/lib.sh"
bench_init shards
[ -x "$BIN" ] || make -s all >/dev/null || die "cannot build $BIN"
URL() { echo "http://127.0.0.1:$PORT"; }

# jget FILE EXPR: a value of a JSON file (python expression over j).
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# pct VALUES...: "p50 p99 max" of the values (numpy's linear percentiles).
pct() { python3 -c "
import sys,numpy as np; v=np.array([float(x) for x in sys.argv[1:]])
print('%.1f %.1f %.1f' % (np.percentile(v,50), np.percentile(v,99), v.max()))" "$@"; }

# startn N OUT ENV-PREFIX ARGS...: N replay processes (SLURM_PROCID 0..N-1),
# waited for; their CPU seconds summed into $W/cpu.
startn() {
    local n=$1 out=$2; shift 2
    local pids=() k rc=0
    for ((k = 0; k < n; k++)); do
        SLURM_PROCID=$k SLURM_NTASKS=$n python3 "$ROOT/bench/maxrss.py" "$BIN" "$@" --shard auto \
            --out "$out" -q 2>"$W/cpu.$k" >/dev/null &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k" || rc=1; done
    cat "$W"/cpu.* | sed -nE 's/.*cpu_s=([0-9.]+).*/\1/p' |
        python3 -c "import sys; print(sum(float(x) for x in sys.stdin))" > "$W/cpu"
    rm -f "$W"/cpu.*
    return $rc
}

bench_skew() {
    echo "## start skew of 4 processes on one host, $REPEAT starts each"
    cc -O2 -o "$W/timer_baseline" bench/timer_baseline.c -lm || die "cannot build bench/timer_baseline.c"
    serve_start --preset fast
    "$BIN" trace synth -o "$W/four.jsonl.zst" --duration 1s --rate 4 --arrival constant \
        --input fixed:16 --output fixed:2 2>/dev/null
    local i skew=() late=() spread=() mskew=()
    for ((i = 0; i < REPEAT; i++)); do
        rm -rf "$W/s"
        startn 4 "$W/s" replay "$W/four.jsonl.zst" --client vllm --url "$(URL)" \
            --start-at "$(( $(date +%s) + 2 ))" || die "a --start-at run failed"
        "$BIN" report "$W/s" --format json > "$W/s.json" || die "report failed"
        skew+=("$(jget "$W/s.json" "j['source']['start_skew_us']")")
        late+=("$(for k in 1 2 3 4; do jget "$W/s/shard-$k-of-4/run.json" "j['start_late_us']"; done | sort -g | tail -1)")
    done
    read -r a b c < <(pct "${skew[@]}")
    echo "--start-at: start skew between the 4 processes (us): p50 $a, p99 $b, max $c"
    read -r a b c < <(pct "${late[@]}")
    echo "--start-at: latest process after the agreed moment (us): p50 $a, p99 $b, max $c"
    if [ -x "$MPIBIN" ] && command -v mpirun >/dev/null; then
        for ((i = 0; i < REPEAT; i++)); do
            rm -rf "$W/m"
            timeout 120 mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader \
                --mca btl_vader_single_copy_mechanism none --mca oob_tcp_if_include lo \
                "$MPIBIN" replay "$W/four.jsonl.zst" --client vllm --url "$(URL)" --shard auto \
                --out "$W/m" -q >/dev/null 2>&1 || die "an mpirun start failed"
            spread+=("$(jget "$W/m/shard-2-of-4/run.json" "j['start_sync']['barrier_exit_spread_us']")")
            "$BIN" report "$W/m" --format json > "$W/m.json" || die "report failed"
            mskew+=("$(jget "$W/m.json" "j['source']['start_skew_us']")")
        done
        read -r a b c < <(pct "${spread[@]}")
        echo "MPI barrier: exit spread as the ranks measured it (us): p50 $a, p99 $b, max $c"
        read -r a b c < <(pct "${mskew[@]}")
        echo "MPI barrier: wall-clock start skew of the runs (us): p50 $a, p99 $b, max $c"
    else
        echo "MPI barrier: not measured ($MPIBIN or mpirun missing: make MPI=1, apt-get install openmpi-bin)"
    fi
    "$W/timer_baseline" 100 200 2>/dev/null | tail -1 | sed 's/^/raw timer on this machine: /'
    kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
}

bench_rate() {
    echo "## aggregate send rate and send lag of 1, 2 and 4 shards (--threads 1 each), 5 s of"
    echo "constant arrivals, non-streaming 16 in / 2 out tokens, serve --preset fast on the same machine"
    serve_start --preset fast
    printf '%-10s %-7s %-14s %-16s %-12s %-12s\n' offered shards "achieved/s" "lag p50/p99 us" "CPU/req us" "failed"
    local r n
    for r in $RATES; do
        "$BIN" trace synth -o "$W/r$r.jsonl.zst" --duration 5s --rate "$r" --arrival constant \
            --input fixed:16 --output fixed:2 2>/dev/null
        for n in 1 2 4; do
            rm -rf "$W/r"
            startn "$n" "$W/r" replay "$W/r$r.jsonl.zst" --client vllm --url "$(URL)" --threads 1 \
                --stream off --start-at "$(( $(date +%s) + 2 ))" || true
            "$BIN" report "$W/r" --format json > "$W/r.json" 2>/dev/null || { echo "$r $n: report failed"; continue; }
            printf '%-10s %-7s %-14s %-16s %-12s %-12s\n' "$r" "$n" \
                "$(jget "$W/r.json" "'%.0f' % j['achieved_rate']")" \
                "$(jget "$W/r.json" "'%.0f / %.0f' % (j['send_lag_p50_us'], j['send_lag_p99_us'])")" \
                "$(jget "$W/r.json" "'%.1f' % ($(cat "$W/cpu") * 1e6 / (j['completed'] + j['failed']))")" \
                "$(jget "$W/r.json" "j['failed']")"
        done
    done
    echo "(CPU/req: all shard processes' user + system time over the requests, start-up included)"
    kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
}

bench_cpu() {
    echo "## CPU of one shard (--threads 1) on the Azure conversation mix: streaming, the trace's"
    echo "input and output lengths, the first 1,000 requests at 10x, serve --preset fast"
    serve_start --preset fast
    "$BIN" trace convert --from azure --api chat ../shared/traces/AzureLLMInferenceTrace_conv.csv \
        -o "$W/az.jsonl.zst" 2>/dev/null || die "cannot import the Azure sample (../shared/traces)"
    rm -rf "$W/c"
    startn 1 "$W/c" replay "$W/az.jsonl.zst" --client vllm --url "$(URL)" --threads 1 --first 1000 \
        --speed 10 || die "the replay failed"
    local cpu n ev
    cpu=$(cat "$W/cpu")
    n=$(cat "$W"/c/requests.jsonl "$W"/c/shard-*/requests.jsonl 2>/dev/null | wc -l)
    ev=$(cat "$W"/c/requests.jsonl "$W"/c/shard-*/requests.jsonl 2>/dev/null |
         python3 -c "import json,sys; print(sum(json.loads(l).get('events') or 0 for l in sys.stdin))")
    echo "requests $n, SSE events $ev, replay CPU $cpu s (start-up and summary included)"
    echo "CPU per request $(python3 -c "print('%.1f' % ($cpu * 1e6 / $n))") us," \
         "$(python3 -c "print('%.2f' % ($ev / $n))") events per request," \
         "CPU per event (all cost over events) $(python3 -c "print('%.2f' % ($cpu * 1e6 / max($ev, 1)))") us"
    kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
}

case $MODE in
    skew) bench_skew ;;
    rate) bench_rate ;;
    cpu) bench_cpu ;;
    all) bench_skew; bench_rate; bench_cpu ;;
    *) die "unknown mode '$MODE' (skew, rate, cpu, all)" ;;
esac
