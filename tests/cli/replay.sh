#!/usr/bin/env bash
# Integration tests of `replay` against the real built-in server (`serve`) in
# its three API profiles, with the server's ground truth: every request
# accounted for, timings and token counts agreeing with what the server did,
# each fault class recorded as such, SIGINT leaving complete files.
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
CHECK="python3 $ROOT/tests/replay_check.py"
AZ="$T/azure.jsonl.zst"
azure_chat "$AZ"
"$BIN" trace convert --from bailian "$SHARED/bailian_format_sample.jsonl" -o "$T/bailian.jsonl.zst" 2>/dev/null

# start_server NAME ARGS...: starts serve, sets URL_NAME... (URL and GT for the last one)
start_server() {
    local name=$1; shift
    rm -f "$T/$name.port"
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --ground-truth "$T/$name.gt" "$@"
    eval "PID_$name=$SPAWN_PID"
    if ! wait_for_file "$T/$name.port" 10; then fail "server $name started"; return 1; fi
    URL="http://127.0.0.1:$(cat "$T/$name.port")"
    GT="$T/$name.gt"
}
stop_server() { # NAME: SIGTERM and wait, so the ground truth is flushed
    local p; eval "p=\$PID_$1"
    kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null
}

# --- vllm profile, vllm client: forced output lengths, per-token ITL ---
start_server vllm --api vllm --preset fast
expect_exit "vllm: replay 200 Azure requests at 20x, exit 0" 0 \
    "$BIN" replay "$AZ" --client vllm --url "$URL" --first 200 --speed 20 --out "$T/r1" --csv -q
stop_server vllm
ok "vllm: log agrees with the server's ground truth" $CHECK "$T/r1" "$GT" --expect 200
check "vllm: output lengths equal the trace's" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/r1/requests.jsonl')]
sys.exit(0 if all(r['output_tokens']==r['expected_output_tokens'] for r in rs) else 1)\""
check "vllm: per-token ITL basis" "grep -q '\"itl_basis\":[[:space:]]*\"tokens\"' '$T/r1/summary.json'"
check "vllm: token counts from usage" "grep -q '\"token_source\":[[:space:]]*\"usage\"' '$T/r1/summary.json'"
check "summary has vLLM's keys" "python3 -c \"
import json,sys
s=json.load(open('$T/r1/summary.json'))
keys=['completed','failed','duration','total_input_tokens','total_output_tokens','request_throughput',
 'output_throughput','total_token_throughput']+[f'{a}_{m}_ms' for m in ('ttft','tpot','itl','e2el') for a in ('mean','median','std','p90','p99')]
sys.exit(0 if all(k in s for k in keys) and s['completed']==200 else 1)\""
check "run.json names trace, digest, client, start" "python3 -c \"
import json,sys
r=json.load(open('$T/r1/run.json'))
sys.exit(0 if r['client']=='vllm' and r['trace_digest'].startswith('fnv1a64:') and r['default_model']=='sagellm-sim' and r['start_monotonic_ns']>0 else 1)\""
check "--csv writes one row per request plus a header" "[ \$(wc -l < '$T/r1/requests.csv') = 201 ]"

# --- lmdeploy profile: OpenAI endpoints and native /generate ---
start_server lmd --api lmdeploy --preset fast
expect_exit "lmdeploy: chat replay exit 0" 0 \
    "$BIN" replay "$AZ" --client lmdeploy --url "$URL" --first 60 --speed 20 --out "$T/r2" -q
stop_server lmd
ok "lmdeploy: chat run agrees with the ground truth" $CHECK "$T/r2" "$GT" --expect 60
start_server lmd --api lmdeploy --preset fast
expect_exit "lmdeploy: /generate replay exit 0" 0 \
    "$BIN" replay "$AZ" --client lmdeploy --api generate --url "$URL" --first 60 --from 100s --speed 20 --out "$T/r3" -q
stop_server lmd
ok "lmdeploy: /generate run agrees with the ground truth" $CHECK "$T/r3" "$GT" --expect 60
check "lmdeploy /generate: per-token ITL from meta_info" "grep -q '\"itl_basis\":[[:space:]]*\"tokens\"' '$T/r3/summary.json' && grep -q '\"api\":\"generate\"' '$T/r3/requests.jsonl'"
check "lmdeploy /generate: 60 ok records" "[ \$(grep -c '\"ok\":true' '$T/r3/requests.jsonl') = 60 ]"

# --- gateway profile with an API key ---
start_server gw --api gateway --api-key s3cret-key --preset fast
expect_exit "gateway: with the key, exit 0" 0 \
    "$BIN" replay "$AZ" --client gateway --url "$URL" --api-key s3cret-key --first 40 --speed 20 --out "$T/r4" -q
OPENAI_API_KEY=s3cret-key expect_exit "gateway: key from OPENAI_API_KEY" 0 \
    "$BIN" replay "$AZ" --client gateway --url "$URL" --first 5 --speed 20 --out "$T/r4b" -q
expect_err "gateway: without the key: fails fast, exit 2, one line naming the 401" 2 'answered 401.*--api-key' \
    "$BIN" replay "$AZ" --client gateway --url "$URL" --first 10 --speed 20 --out "$T/r5" -q
check "... no output directory, nothing on stdout" "[ ! -e '$T/r5' ] && [ ! -s '$T/.out' ] && [ \$(wc -l < '$T/.err') = 1 ]"
expect_exit "gateway: --no-stream" 0 \
    "$BIN" replay "$AZ" --client gateway --url "$URL" --api-key s3cret-key --no-stream --first 10 --speed 20 --out "$T/r6" -q
check "gateway --no-stream: one event per request" "grep -q '\"events\":1,' '$T/r6/requests.jsonl'"
expect_exit "--client openai is the old name of gateway" 0 \
    "$BIN" replay "$AZ" --client openai --url "$URL" --api-key s3cret-key --first 3 --speed 20 --out "$T/r7" -q
check "... with a notice" "grep -q 'now called' '$T/.err'"
# every form getopt_long takes: --opt=VALUE and abbreviations; every header's value
expect_exit "gateway: --api-k=KEY, --header=..., --head ...: exit 0" 0 \
    "$BIN" replay "$AZ" --client gateway --url "$URL" --api-k=s3cret-key --header='X-Team-Token: s3cret-h1' \
    --head 'X-Plain: s3cret-h2' --header 'x-trace: s3cret-h3' --first 3 --speed 20 --out "$T/r8" -q
stop_server gw
check "the API key is in no file of any run" "! grep -rq s3cret-key '$T/r4' '$T/r4b' '$T/r5' '$T/r6' '$T/r8'"
check "run.json masks the key" "grep -q -- '--api-key \*\*\*' '$T/r4/run.json'"
check "no header value is in any file of the run" "! grep -rq s3cret-h '$T/r8'"
check "run.json masks abbreviated and = forms, keeps header names" \
    "grep -q -- \"--api-k=\\*\\*\\* --header=X-Team-Token: \\*\\*\\* --head X-Plain: \\*\\*\\* --header x-trace: \\*\\*\\*\" '$T/r8/run.json'"

# --- faults injected by the server ---
start_server flt --preset fast --fail-rate 0.1 --reset-rate 0.1 --stall-rate 0.1 --error-in-stream-rate 0.1 --seed 7
expect_exit "faults: run completes with failures: exit 1" 1 \
    "$BIN" replay "$AZ" --client vllm --url "$URL" --first 150 --speed 20 --stall-timeout 1s --out "$T/f1" -q
stop_server flt
ok "faults: each error class matches the injected fault" $CHECK "$T/f1" "$GT" --expect 150 --faults
start_server flt --preset fast --fail-rate 0.1 --reset-rate 0.1 --stall-rate 0.1 --error-in-stream-rate 0.1 --seed 7
expect_exit "faults: --max-error-rate 0.9 tolerates them" 0 \
    "$BIN" replay "$AZ" --client vllm --url "$URL" --first 20 --speed 20 --stall-timeout 1s --max-error-rate 0.9 --out "$T/f2" -q
stop_server flt
check "faults: summary counts errors by class" "python3 -c \"
import json,sys
e=json.load(open('$T/f1/summary.json'))['errors']
sys.exit(0 if all(e.get(k,0)>0 for k in ('http_5xx','protocol','timeout','stream_error')) else 1)\""

# --- no server: connection refused ---
expect_err "unreachable: fails fast, exit 2, libcurl's words" 2 'cannot reach the server: .*Couldn.t connect' \
    "$BIN" replay "$AZ" --client gateway --url http://127.0.0.1:9 --first 5 --out "$T/c1" -q
check "... no output directory" "[ ! -e '$T/c1' ]"

# --- a broken server: garbage, truncated stream, no [DONE] ---
for mode in garbage truncated nodone; do
    rm -f "$T/g.port"
    spawn python3 "$ROOT/tests/garbage_server.py" "$T/g.port" "$mode"
    gpid=$SPAWN_PID
    wait_for_file "$T/g.port" 10
    expect_exit "$mode stream: exit 1" 1 "$BIN" replay "$AZ" --client gateway --url "http://127.0.0.1:$(cat "$T/g.port")" --first 3 --out "$T/g-$mode" -q
    check "$mode stream: recorded as protocol errors" "[ \$(grep -c '\"class\":\"protocol\"' '$T/g-$mode/requests.jsonl') = 3 ]"
    kill "$gpid"; wait "$gpid" 2>/dev/null
done

# --- SIGINT in mid-run ---
start_server sig --preset gpu-7b
spawn "$BIN" replay "$AZ" --client vllm --url "$URL" --out "$T/s1" --speed 10 --grace 300ms -q
rpid=$SPAWN_PID
# Wait (bounded) until a few requests have finished, so others are in flight.
for _ in $(seq 1 400); do [ -f "$T/s1/requests.jsonl" ] && [ "$(wc -l < "$T/s1/requests.jsonl")" -ge 5 ] && break; sleep 0.05; done
kill -INT "$rpid"; wait "$rpid"; rc=$?
stop_server sig
check "SIGINT: exit 5" "[ $rc = 5 ]"
check "SIGINT: every line of requests.jsonl is valid JSON" "python3 -c \"
import json
[json.loads(l) for l in open('$T/s1/requests.jsonl')]\""
check "SIGINT: summary.json and run.json written" "python3 -c \"
import json,sys
r=json.load(open('$T/s1/run.json')); s=json.load(open('$T/s1/summary.json'))
sys.exit(0 if r['interrupted'] and r['not_sent']>0 and s['completed']+s['failed']>0 else 1)\""
check "SIGINT: requests still in flight after the grace are cancelled" "grep -q '\"class\":\"cancelled\"' '$T/s1/requests.jsonl'"

# --- dependent sessions (Bailian multi-turn) ---
start_server dep --preset fast
expect_exit "dependent sessions: exit 0" 0 \
    "$BIN" replay "$T/bailian.jsonl.zst" --client vllm --url "$URL" --sessions dependent --speed 50 --out "$T/d1" -q
stop_server dep
check "dependent: a turn is sent only after the previous turn ended" "python3 -c \"
import json,sys
rs=sorted((json.loads(l) for l in open('$T/d1/requests.jsonl')), key=lambda r: r['index'])
last={}
bad=0
for r in rs:
    s=r['session']
    if s in last and r['t_send_ns'] < last[s]: bad+=1
    last[s]=r['t_end_ns']
sys.exit(1 if bad or len(rs) != 300 else 0)\""

# --- schedule controls ---
expect_out "--dry-run prints the plan" 'requests +200 \(10 warm-up\)' \
    "$BIN" replay "$AZ" --client vllm --first 200 --warmup 10 --dry-run
start_server ctl --preset fast
ok "--shard 1/2" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 60 --speed 20 --shard 1/2 --out "$T/sh" -q
ok "--shard 2/2" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 60 --speed 20 --shard 2/2 --out "$T/sh" -q
check "shards are disjoint and cover every index" "python3 -c \"
import json,sys
a={json.loads(l)['index'] for l in open('$T/sh/shard-1-of-2/requests.jsonl')}
b={json.loads(l)['index'] for l in open('$T/sh/shard-2-of-2/requests.jsonl')}
sys.exit(0 if not a&b and a|b==set(range(60)) else 1)\""
ok "--warmup 10" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 30 --warmup 10 --speed 20 --out "$T/w1" -q
check "warm-up requests are logged and left out of the summary" "[ \$(grep -c '\"warmup\":true' '$T/w1/requests.jsonl') = 10 ] && grep -q '\"warmup_excluded\":[[:space:]]*10' '$T/w1/summary.json' && grep -q '\"completed\":[[:space:]]*20' '$T/w1/summary.json'"
ok "--max-inflight 3" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 40 --speed 100 --max-inflight 3 --out "$T/m1" -q
check "--max-inflight holds concurrency at 3" "python3 -c \"
import json,sys
s=json.load(open('$T/m1/summary.json'))
sys.exit(0 if s['max_concurrency']<=3 and s['completed']==40 else 1)\""
check "held-back requests show their wait in send lag" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/m1/requests.jsonl')]
sys.exit(0 if max(r['send_lag_us'] for r in rs) > 10000 else 1)\""
ok "--scrape-metrics" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 40 --speed 10 --scrape-metrics 100ms --out "$T/sm" -q
check "server_metrics.jsonl has vLLM's gauges" "grep -q 'vllm:num_requests_running' '$T/sm/server_metrics.jsonl'"
ok "--wait-ready on a ready server" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 2 --wait-ready=5s --out "$T/wr" -q
ok "--from/--to window" "$BIN" replay "$AZ" --client vllm --url "$URL" --from 60s --to 70s --speed 10 --out "$T/win" -q
check "window holds the trace's requests of that window" "[ \$(wc -l < '$T/win/requests.jsonl') = \$('$BIN' trace slice '$AZ' --from 60s --to 70s -o - | tail -n +2 | wc -l) ]"
at=$(( $(date +%s) + 2 ))
ok "--start-at waits for the agreed wall-clock second" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 3 --speed 20 --start-at "$at" --out "$T/sa" -q
check "--start-at: the run started at that second, not before" "python3 -c \"
import json,sys
r=json.load(open('$T/sa/run.json'))
t=int(r['start_realtime_ns'])
sys.exit(0 if $at*10**9 <= t < ($at+1)*10**9 else 1)\""
ok "--spin: busy-waits the last 200us before each send" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 20 --speed 20 --spin 200us --out "$T/spin" -q
check "--spin: every request sent, run.json says spin_us 200" "[ \$(grep -c '\"ok\":true' '$T/spin/requests.jsonl') = 20 ] && grep -q '\"spin_us\":[[:space:]]*200' '$T/spin/run.json'"
check "response stamps are never before the request was sent" "python3 -c \"
import json,sys
for l in open('$T/spin/requests.jsonl'):
    r=json.loads(l)
    assert r['t_send_ns'] <= r['t_first_byte_ns'] <= r['t_first_token_ns'] <= r['t_last_token_ns'] <= r['t_end_ns'], r
    assert r['rx_delay_max_us'] >= 0
\""
ok "--rx-stamp poll: stamps at epoll's readiness" "$BIN" replay "$AZ" --client vllm --url "$URL" --first 20 --speed 20 --rx-stamp poll --out "$T/poll" -q
check "... run.json names each run's stamping" "grep -q '\"rx_stamp\":[[:space:]]*\"poll\"' '$T/poll/run.json' && grep -q '\"rx_stamp\":[[:space:]]*\"kernel\"' '$T/spin/run.json'"
# Long streams: past a request's first 256 bytes of gaps (about 60), they
# go to the worker's unlinked temporary file in --out and come back for the
# log line. Exact: the gaps of each request sum to t_last_token -
# t_first_token to the nanosecond, one per token after the first.
"$BIN" trace synth -o "$T/long.jsonl.zst" --duration 1s --rate 6 --arrival constant --input fixed:8 \
    --output fixed:900 --seed 1 2>/dev/null
ok "long streams (900 tokens, one worker): replay, exit 0" \
    "$BIN" replay "$T/long.jsonl.zst" --client vllm --url "$URL" --threads 1 --out "$T/long" -q
check "long streams: every gap back exact (899 a request, summing to last - first token), no file left" "python3 -c \"
import json
rs=[json.loads(l) for l in open('$T/long/requests.jsonl')]
assert len(rs) == 6
for r in rs:
    g = r['gaps_ns']
    assert len(g) == 899 == len(r['gap_tokens']) and 'gaps_unread' not in r, r['id']
    assert sum(g) == r['t_last_token_ns'] - r['t_first_token_ns'], r['id']
\" && [ \"\$(ls -A '$T/long')\" = \"\$(printf 'requests.jsonl\\nrun.json\\nsummary.json')\" ]"
printf '{"format":"sagellm-trace","version":1}\n{"t_us":0,"id":"a","api":"chat","input_tokens":10,"output_tokens":3}\n{"t_us":1000,"id":"huge","api":"chat","input_tokens":1393141570,"output_tokens":3}\n{"t_us":2000,"id":"c","api":"chat","input_tokens":10,"output_tokens":3}\n' >"$T/huge.jsonl"
expect_exit "a record past any context window: not sent, the others are, exit 1" 1 \
    timeout 60 "$BIN" replay "$T/huge.jsonl" --client vllm --url "$URL" --out "$T/huge" -q
check "... its record says why, naming the field" \
    "grep '\"id\":\"huge\"' '$T/huge/requests.jsonl' | grep -q \"not sent: record huge: cannot synthesise a prompt: field 'input_tokens'\" && [ \$(grep -c '\"ok\":true' '$T/huge/requests.jsonl') = 2 ]"
mkdir -p "$T/full" && ln -s /dev/full "$T/full/requests.jsonl"
expect_err "a request log that cannot be written stops the run: exit 4" 4 'request log could not be written.*No space left' \
    "$BIN" replay "$AZ" --client vllm --url "$URL" --first 50 --speed 20 --out "$T/full" -q
stop_server ctl

# --- usage errors ---
expect_err "missing --out" 2 'missing --out' "$BIN" replay "$AZ" --client vllm
expect_err "unknown client" 2 "unknown client 'nope'" "$BIN" replay "$AZ" --client nope --out "$T/x"
expect_err "bad --shard" 2 'shard needs K/N' "$BIN" replay "$AZ" --shard 3/2 --out "$T/x"
expect_err "--shard with trailing text" 2 "shard needs K/N.*got '1/2x'" "$BIN" replay "$AZ" --shard 1/2x --out "$T/x"
expect_err "--header without ':': exit 2" 2 "header needs 'Name: value'.*not shown" \
    "$BIN" replay "$AZ" --header 'Authorization Bearer s3cret-nocolon' --out "$T/x"
check "... the message does not echo the text" "! grep -q s3cret-nocolon '$T/.err'"
expect_err "bad --rx-stamp" 2 'rx-stamp must be kernel or poll' "$BIN" replay "$AZ" --rx-stamp nic --out "$T/x"
expect_err "--spin over 10ms" 2 'spin needs a time of at most 10ms' "$BIN" replay "$AZ" --spin 20ms --out "$T/x"
expect_err "bad --url" 2 'must start with http' "$BIN" replay "$AZ" --url ftp://x --out "$T/x"
expect_err "missing trace file: exit 4" 4 'cannot open' "$BIN" replay "$T/none.jsonl" --client vllm --url http://127.0.0.1:9 --out "$T/x" -q
check "... no output directory, no result table" "[ ! -e '$T/x' ] && [ ! -s '$T/.out' ]"
printf '{"format":"sagellm-trace","version":1}\n{"t_us":0,"id":"a","api":"chat","input_tokens":"x"}\n' > "$T/bad.jsonl"
expect_err "bad trace: exit 3 with file:line:field" 3 'bad\.jsonl:2: field .input_tokens.' "$BIN" replay "$T/bad.jsonl" --client sagellm --out "$T/x" -q

finish
