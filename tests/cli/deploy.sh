#!/usr/bin/env bash
# deploy.sh — the ready-made launch files in deploy/ work as documented:
# the Slurm batch script runs under a fake Slurm (an `srun` that starts
# SLURM_NTASKS copies with SLURM_PROCID set), the Kubernetes Indexed Job's
# YAML parses and its container arguments, run as 4 "pods" with
# JOB_COMPLETION_INDEX, replay one trace; the MPI notes name the flags that
# exist. Everything against `serve` on 127.0.0.1.
source "$(dirname "$0")/../lib.sh"
CHECK="python3 $ROOT/tests/shards_check.py"
AZ="$T/azure.jsonl.zst"
N_REQ=120
azure_chat "$AZ" $N_REQ
rm -f "$T/s.port"
spawn "$BIN" serve --port 0 --port-file "$T/s.port" --preset fast
wait_for_file "$T/s.port" 10 || fail "server started"
URL="http://127.0.0.1:$(cat "$T/s.port")"

# --- Slurm ------------------------------------------------------------------
mkdir -p "$T/fakebin"
cat > "$T/fakebin/srun" <<'SRUN'
#!/bin/bash
# A stand-in for srun: SLURM_NTASKS copies of the command, SLURM_PROCID 0..N-1.
pids=()
for ((i = 0; i < SLURM_NTASKS; i++)); do SLURM_PROCID=$i "$@" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
SRUN
chmod +x "$T/fakebin/srun"
ok "slurm: replay.sbatch runs under srun with 4 tasks" env PATH="$T/fakebin:$PATH" SLURM_NTASKS=4 \
    SLURM_JOB_ID=7 TRACE="$AZ" URL="$URL" CLIENT=vllm OUT="$T/sbatch" BENCH="$BIN" LEAD=2 \
    REPLAY_ARGS="--speed 20" timeout 120 bash "$ROOT/deploy/slurm/replay.sbatch"
cp "$T/.out" "$T/sbatch.out"
ok "slurm: every request sent once across the 4 tasks" $CHECK once "$T/sbatch" 4 $N_REQ
check "slurm: the script ends with the merged report" "grep -q '4 shards merged' '$T/sbatch.out'"

# --- Kubernetes ---------------------------------------------------------------
YAML="$ROOT/deploy/k8s/replay-indexed-job.yaml"
check "k8s: the Job parses: Indexed, completions = parallelism = --shards, --shard auto, --start-at, --out" \
    "python3 -c \"
import yaml,sys
j=yaml.safe_load(open('$YAML'))
s=j['spec']; c=s['template']['spec']['containers'][0]; a=c['args']
n=int(a[a.index('--shards')+1])
ok=(j['kind']=='Job' and s['completionMode']=='Indexed' and s['completions']==s['parallelism']==n
    and a[a.index('--shard')+1]=='auto' and '--start-at' in a and '--out' in a and c['command']==['sagellm-bench'])
sys.exit(0 if ok else 1)\""
# The container's arguments, with the cluster's paths and URL swapped for the test's.
python3 -c "
import yaml,sys,time
a=yaml.safe_load(open('$YAML'))['spec']['template']['spec']['containers'][0]['args']
sub={'/traces/trace.jsonl.zst':'$AZ','/results/run':'$T/k8s','@START_AT@':str(int(time.time())+2)}
a=[sub.get(x,x) for x in a]
a[a.index('--url')+1]='$URL'
print('\n'.join(a+['--speed','20']))" > "$T/k8s.args"
mapfile -t KARGS < "$T/k8s.args"
pids=()
for k in 0 1 2 3; do
    JOB_COMPLETION_INDEX=$k timeout 120 "$BIN" "${KARGS[@]}" >/dev/null 2>"$T/k8s.$k.err" & pids+=($!)
done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
check "k8s: the 4 pods' arguments replay the trace" "[ $rc = 0 ]"
ok "k8s: every request sent once across the pods" $CHECK once "$T/k8s" 4 $N_REQ
ok "k8s: report merges the pods' shards" "$BIN" report "$T/k8s"

# --- MPI ----------------------------------------------------------------------
check "mpi: the notes use the MPI build and flags that exist" \
    "grep -q 'make MPI=1' '$ROOT/deploy/mpi/README' && grep -q 'sagellm-bench-mpi replay .*--shard auto' '$ROOT/deploy/mpi/README' &&
     grep -q 'sagellm-bench-mpi' '$ROOT/Makefile' && '$BIN' replay --help | grep -q -- '--shard K/N|auto'"
finish
