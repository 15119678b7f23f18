#!/usr/bin/env bash
# shards.sh — one replay from several processes (issue "scale out"): shard
# identity from a launcher's environment (Slurm, a Kubernetes Indexed Job,
# Open MPI's mpirun), --start-at, trace split, the DIR/shard-K-of-N/ layout,
# and `report DIR` merging the shards into the summary of their union.
# Every process is started here against `serve` on 127.0.0.1 and waited for.
source "$(dirname "$0")/../lib.sh"
CHECK="python3 $ROOT/tests/shards_check.py"
AZ="$T/azure.jsonl.zst"
N_REQ=160
azure_chat "$AZ" $N_REQ
SESS="$T/sessions.jsonl.zst"   # 106 requests in 37 three-turn sessions over 4 s
"$BIN" trace synth -o "$SESS" --duration 4s --rate 8 --input fixed:64 --output fixed:8 \
    --sessions fixed:3 --think fixed:0.2s --seed 3 2>/dev/null
N_SESS=106

rm -f "$T/s.port"
spawn "$BIN" serve --port 0 --port-file "$T/s.port" --preset fast
wait_for_file "$T/s.port" 10 || fail "server started"
URL="http://127.0.0.1:$(cat "$T/s.port")"
REPLAY_V=(replay --client vllm --url "$URL" --speed 20)
REPLAY=("${REPLAY_V[@]}" -q)

# run4 NAME VAR=VALUE-PATTERN... -- ARGS: four processes, {k0} in the
# environment replaced by 0..3; waits for all (each bounded by timeout).
run4() {
    local name=$1; shift
    local envs=() pids=() rc=0 k
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    for k in 0 1 2 3; do
        env "${envs[@]//\{k0\}/$k}" timeout 120 "$BIN" "$@" >"$T/$name.$k.out" 2>"$T/$name.$k.err" &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k" || rc=1; done
    [ $rc = 0 ] || { cat "$T/$name".*.err; return 1; }
}

# --- Slurm: SLURM_PROCID / SLURM_NTASKS, --start-at -------------------------
START=$(( $(date +%s) + 2 ))
ok "slurm: 4 tasks with --shard auto --start-at" run4 slurm SLURM_PROCID={k0} SLURM_NTASKS=4 -- \
    "${REPLAY[@]}" "$AZ" --shard auto --start-at "$START" --out "$T/slurm"
ok "slurm: every request sent exactly once across the shards" $CHECK once "$T/slurm" 4 $N_REQ
check "slurm: run.json says where the shard came from and how late it started" \
    "grep -q '\"shard_source\":[[:space:]]*\"SLURM_PROCID=2, SLURM_NTASKS=4\"' '$T/slurm/shard-3-of-4/run.json' &&
     grep -q '\"start_late_us\"' '$T/slurm/shard-3-of-4/run.json'"
ok "slurm: report DIR merges the 4 shards" "$BIN" report "$T/slurm" --format json --slo none
cp "$T/.out" "$T/merged.json"
mkdir -p "$T/union"
cat "$T"/slurm/shard-{1,2,3,4}-of-4/requests.jsonl > "$T/union/requests.jsonl"
ok "union: report of the records concatenated by hand" "$BIN" report "$T/union/requests.jsonl" --format json --slo none
cp "$T/.out" "$T/union.json"
ok "merged report equals the union's, to the last digit" $CHECK same "$T/merged.json" "$T/union.json"
check "merged report accounts for all $N_REQ requests" \
    "python3 -c \"import json,sys; j=json.load(open('$T/merged.json')); sys.exit(0 if j['completed']+j['failed']==$N_REQ and j['source']['shards']==4 and j['source']['scheduled']==$N_REQ else 1)\""
check "merged report states the start skew" \
    "python3 -c \"import json,sys; s=json.load(open('$T/merged.json'))['source']; sys.exit(0 if 0 <= s['start_skew_us'] < 1e6 else 1)\""
expect_out "report prints the merge and its skew" '4 shards merged, wall-clock start skew [0-9]+ us' \
    "$BIN" report "$T/slurm"
ok "compare accepts a merged run" "$BIN" compare "$T/slurm" "$T/union/requests.jsonl"
ok "plot.py draws a merged run" /usr/bin/python3 "$ROOT/analysis/plot.py" "$T/slurm" -o "$T/plot"

# --- missing and unfinished shards -----------------------------------------
cp -r "$T/slurm" "$T/partial"
rm -rf "$T/partial/shard-3-of-4"
expect_err "a merge with a missing shard fails, naming it" 3 'shard 3 of 4 is missing' \
    "$BIN" report "$T/partial"
ok "--allow-partial merges the shards there are" "$BIN" report "$T/partial" --allow-partial
rm -f "$T/partial/shard-2-of-4/run.json"
expect_err "an unfinished shard (no run.json) is named" 3 'shard 2 of 4 did not finish' \
    "$BIN" report "$T/partial"
ok "report RUN... merges shard directories given one by one" \
    "$BIN" report "$T"/slurm/shard-1-of-4 "$T"/slurm/shard-2-of-4 "$T"/slurm/shard-3-of-4 "$T"/slurm/shard-4-of-4

# --- Kubernetes Indexed Job: JOB_COMPLETION_INDEX + --shards, split files --
ok "trace split --shards 4" "$BIN" trace split "$SESS" --shards 4 -o "$T/parts"
check "split: every record once, with its whole-trace index; a session's turns in one part" "python3 -c \"
import json,subprocess,sys
idx=[]; sess={}
for k in range(1,5):
    out=subprocess.run(['$BIN','trace','cat','$T/parts/shard-%d-of-4.jsonl.zst'%k],capture_output=True,text=True).stdout.splitlines()
    if json.loads(out[0]).get('split')!={'shard':k,'shards':4}: sys.exit(1)
    for l in out[1:]:
        r=json.loads(l); idx.append(r['trace_index'])
        if sess.setdefault(r['session'],k)!=k: sys.exit(2)
sys.exit(0 if sorted(idx)==list(range($N_SESS)) else 3)\""
ok "kubernetes: 4 pods replay their own split file ({k}/{n} in TRACE)" run4 k8s JOB_COMPLETION_INDEX={k0} -- \
    "${REPLAY[@]}" "$T/parts/shard-{k}-of-{n}.jsonl.zst" --shard auto --shards 4 --out "$T/k8s"
ok "kubernetes: every request sent exactly once, logged by its whole-trace index" $CHECK once "$T/k8s" 4 $N_SESS
ok "the whole trace sharded in process (--shard auto --shards 4)" run4 whole JOB_COMPLETION_INDEX={k0} -- \
    "${REPLAY[@]}" "$SESS" --shard auto --shards 4 --out "$T/whole"
check "a split part holds exactly what its shard picks from the whole trace" "python3 -c \"
import json,sys
for k in range(1,5):
    a={json.loads(l)['index'] for l in open('$T/k8s/shard-%d-of-4/requests.jsonl'%k)}
    b={json.loads(l)['index'] for l in open('$T/whole/shard-%d-of-4/requests.jsonl'%k)}
    if a!=b: sys.exit(1)\""
expect_err "a split file replayed as another shard is refused" 2 'is shard 1 of 4 \(trace split\), but this process is shard 2/4' \
    "$BIN" "${REPLAY[@]}" "$T/parts/shard-1-of-4.jsonl.zst" --shard 2/4 --out "$T/wrong"

expect_err "--shard auto says which shard and where it came from" 0 'shard 3/4 \(--shard auto: SLURM_PROCID=2, SLURM_NTASKS=4\)' \
    env SLURM_PROCID=2 SLURM_NTASKS=4 "$BIN" "${REPLAY_V[@]}" "$AZ" --shard auto --dry-run

# --- launcher errors ---------------------------------------------------------
expect_err "--shard auto without a launcher: exit 2, names the variables" 2 'no launcher found.*SLURM_PROCID' \
    env -u SLURM_PROCID -u OMPI_COMM_WORLD_RANK -u PMI_RANK -u PMIX_RANK -u JOB_COMPLETION_INDEX \
    "$BIN" "${REPLAY[@]}" "$AZ" --shard auto --out "$T/x"
expect_err "JOB_COMPLETION_INDEX needs --shards" 2 'add --shards N' \
    env JOB_COMPLETION_INDEX=1 "$BIN" "${REPLAY[@]}" "$AZ" --shard auto --out "$T/x"
expect_err "MPI variables that disagree are refused" 2 'disagree' \
    env OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=4 PMI_RANK=2 PMI_SIZE=4 "$BIN" "${REPLAY[@]}" "$AZ" --shard auto --out "$T/x"
expect_err "--shards that disagrees with the launcher is refused" 2 'disagrees' \
    env SLURM_PROCID=1 SLURM_NTASKS=4 "$BIN" "${REPLAY[@]}" "$AZ" --shard auto --shards 3 --out "$T/x"
expect_err "a rank beyond the size is refused" 2 'not below' \
    env SLURM_PROCID=4 SLURM_NTASKS=4 "$BIN" "${REPLAY[@]}" "$AZ" --shard auto --out "$T/x"
check "a failed start leaves no output directory" "[ ! -e '$T/x' ]"

# --- MPI: mpirun -np 4, barrier start, rank 0 prints the merged table ------
if [ -z "${MPIBIN:-}" ] || [ ! -x "$MPIBIN" ]; then
    fail "the MPI build (MPIBIN=bin/sagellm-bench-mpi, built by make test) is missing"
else
    # Shared memory between local ranks only, Open MPI's own wiring on lo.
    # Under ASan, Open MPI's own allocations at exit are not ours to report.
    MPIRUN=(timeout 180 mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader
            --mca btl_vader_single_copy_mechanism none --mca oob_tcp_if_include lo
            -x ASAN_OPTIONS=detect_leaks=0)
    ok "mpirun -np 4 replays the trace in 4 shards" "${MPIRUN[@]}" "$MPIBIN" "${REPLAY_V[@]}" "$AZ" \
        --shard auto --out "$T/mpi"
    cp "$T/.out" "$T/mpi.out"
    ok "mpi: every request sent exactly once" $CHECK once "$T/mpi" 4 $N_REQ
    check "mpi: each run.json records the barrier's exit spread" \
        "for k in 1 2 3 4; do grep -q '\"barrier_exit_spread_us\"' '$T/mpi/shard-'\$k'-of-4/run.json' || exit 1; done"
    check "mpi: rank 0 alone prints the table, merged over 4 shards" \
        "[ \$(grep -c 'Serving Benchmark Result' '$T/mpi.out') = 1 ] && grep -q 'merged over 4 shards' '$T/mpi.out'"
    mkdir -p "$T/parts-missing"
    cp "$T"/parts/shard-{1,2,4}-of-4.jsonl.zst "$T/parts-missing/"
    expect_err "mpi: a rank that cannot start stops every rank, none waits at the barrier" 4 \
        'another shard could not start' "${MPIRUN[@]}" "$MPIBIN" "${REPLAY[@]}" \
        "$T/parts-missing/shard-{k}-of-{n}.jsonl.zst" --shard auto --out "$T/mpi-missing"
    check "mpi: the failing rank names its trace" "grep -q 'shard-3-of-4.jsonl.zst: cannot open' '$T/.err'"
    "$BIN" report "$T/mpi" --slo none > "$T/mpi-report.txt" 2>/dev/null
    check "mpi: rank 0's merged table equals report DIR's" "python3 -c \"
import re,sys
def block(p):
    t=open(p).read(); m=re.search(r'(Successful requests:.*?)\n-+Send lag', t, re.S)
    return m.group(1) if m else None
a,b=block('$T/mpi.out'),block('$T/mpi-report.txt')
sys.exit(0 if a and a==b else 1)\""
fi
finish
