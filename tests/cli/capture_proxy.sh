#!/usr/bin/env bash
# The recording proxy (`capture --proxy`) between `replay` and `serve`:
# streams pass through as they come, the trace holds every request with its
# body and the server's answer, secrets are forwarded but never written; an
# unreachable upstream, a client that leaves and SIGINT are recorded as
# incomplete with their reasons. Traffic on 127.0.0.1 only; every process
# started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=python3
N=60

start_server() { # NAME ARGS...: sets PORT_NAME, PID_NAME
    local name=$1; shift
    rm -f "$T/$name.port"
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --preset fast "$@" >/dev/null 2>"$T/$name.err"
    eval "PID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.port" 10 || { fail "server $name started" "$(cat "$T/$name.err")"; return 1; }
    eval "PORT_$name=$(cat "$T/$name.port")"
}
start_proxy() { # NAME UPSTREAM_PORT ARGS...: sets PX_NAME (port) and PXPID_NAME
    local name=$1 up=$2; shift 2
    rm -f "$T/$name.pport"
    spawn timeout 120 "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://127.0.0.1:$up" \
        --ready-file "$T/$name.pport" --stats "$T/$name.stats" "$@" 2>"$T/$name.cap.err"
    eval "PXPID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.pport" 10 || { fail "proxy $name started" "$(cat "$T/$name.cap.err")"; return 1; }
    eval "PX_$name=$(cat "$T/$name.pport")"
}
stop() { kill -"${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

azure_chat "$T/az.jsonl.zst"
"$BIN" trace slice "$T/az.jsonl.zst" --first $N -o "$T/s.jsonl.zst" 2>/dev/null
"$BIN" trace materialize "$T/s.jsonl.zst" -o "$T/m.jsonl" 2>/dev/null

# --- streaming through the proxy, with an API key ---
start_server up --api gateway --api-key pr0xy-secret
start_proxy a "$PORT_up" -o "$T/Ta.jsonl" --max-requests $N --event-times
expect_exit "replay through the proxy: every request ok" 0 \
    "$BIN" replay "$T/m.jsonl" --client gateway --url "http://127.0.0.1:$PX_a" --api-key pr0xy-secret --speed 20 --out "$T/r1" -q
wait "$PXPID_a"; rc=$?
check "the proxy stops by itself after --max-requests: exit 0" "[ $rc = 0 ]"
ok "the proxy's trace is valid" "$BIN" trace validate "$T/Ta.jsonl"
check "every request recorded once, body as sent, the server's answer as orig" "$PY -c \"
import json,sys
T=[json.loads(l) for l in open('$T/m.jsonl')][1:]
rs=[json.loads(l) for l in open('$T/Ta.jsonl')][1:]
log={r['index']:r for r in map(json.loads, open('$T/r1/requests.jsonl'))}
by={int(r['headers']['x-request-id']):r for r in rs}
ok=len(rs)==$N and sorted(by)==list(range($N))
for i,r in by.items():
    b=dict(r['body']); [b.pop(k) for k in ('model','stream','stream_options')]
    ok = ok and b==T[i]['body'] and r['orig']['ok'] is True and 'incomplete' not in r['orig'] \
        and r['orig']['status']==200 and r['orig'].get('stream') is True and r['orig']['events']==log[i]['events'] \
        and r['orig']['output_tokens']==log[i]['output_tokens'] and r['orig']['ttft_us'] <= r['orig']['e2e_us']
sys.exit(0 if ok else 1)\""
check "--event-times: one time per content event, in order, the first at ttft, the last at most e2e" "$PY -c \"
import json,sys
rs=[json.loads(l)['orig'] for l in list(open('$T/Ta.jsonl'))[1:]]
sys.exit(0 if all(len(o['event_ns'])==o['events'] and o['event_ns']==sorted(o['event_ns']) and o['event_ns'][0]//1000==o['ttft_us']
                  and o['event_ns'][-1] <= o['e2e_us']*1000+999 and o['t_arrival_ns'] > 0 for o in rs) else 1)\""
check "the API key was forwarded (the server wants it) and is in no file" "! grep -rq pr0xy-secret '$T/Ta.jsonl' '$T/a.stats'"
check "records are in arrival order" "$PY -c \"
import json; t=[json.loads(l)['t_us'] for l in list(open('$T/Ta.jsonl'))[1:]]; assert t==sorted(t)\""

# --- non-streamed responses and other paths ---
start_proxy b "$PORT_up" -o "$T/Tb.jsonl" --all-paths
ok "replay --no-stream through the proxy" \
    "$BIN" replay "$T/m.jsonl" --first 5 --client gateway --url "http://127.0.0.1:$PX_b" --api-key pr0xy-secret --no-stream --out "$T/r2" -q
check "a GET passes through" "curl -sf -H 'Authorization: Bearer pr0xy-secret' http://127.0.0.1:$PX_b/v1/models | grep -q sagellm-sim"
check "a JSON error (400) passes through" "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer pr0xy-secret' \
    -H 'Content-Type: application/json' -d '{\"model\":\"sagellm-sim\",\"messages\":\"bad\"}' \
    http://127.0.0.1:$PX_b/v1/chat/completions) = 400 ]"
kill -INT "$PXPID_b"; wait "$PXPID_b"; rc=$?
check "SIGINT to an idle proxy: exit 5" "[ $rc = 5 ]"
check "non-streamed: one content event each, usage read, complete and ok; the GET as api other" "$PY -c \"
import json,sys
rs=[json.loads(l) for l in list(open('$T/Tb.jsonl'))[1:]]
chat=[r for r in rs if r['api']=='chat' and r['orig']['status']==200]; other=[r for r in rs if r['api']=='other']
sys.exit(0 if len(chat)==5 and all(r['orig']['events']==1 and r['orig']['token_source']=='usage' and 'stream' not in r['orig']
                                   and r['orig']['ok'] is True and 'incomplete' not in r['orig'] for r in chat)
         and any(r['meta']['path']=='/v1/models' and r['orig']['ok'] is True and 'incomplete' not in r['orig'] for r in other) else 1)\""
check "the JSON error is recorded whole: status 400, not ok, no incomplete reason" "$PY -c \"
import json,sys
rs=[json.loads(l) for l in list(open('$T/Tb.jsonl'))[1:]]
e=[r['orig'] for r in rs if r['api']=='chat' and r['orig']['status']!=200]
sys.exit(0 if len(e)==1 and e[0]['status']==400 and e[0]['ok'] is False and 'incomplete' not in e[0] else 1)\""

# --- the client leaves in mid-stream; SIGINT with streams open ---
stop "$PID_up"
start_server slow --step-time 50ms
start_proxy c "$PORT_slow" -o "$T/Tc.jsonl"
expect_exit "a client timing out in mid-stream" 1 \
    "$BIN" replay "$T/m.jsonl" --first 3 --client gateway --url "http://127.0.0.1:$PX_c" --timeout 300ms --out "$T/r3" -q
running() { curl -s "http://127.0.0.1:$PORT_slow/metrics" | grep -Eq '^vllm:num_requests_running[^ ]* [1-9]'; }
for _ in $(seq 1 200); do running || break; sleep 0.05; done      # the cancelled ones are gone
spawn "$BIN" replay "$T/m.jsonl" --first 10 --speed 100 --client gateway --url "http://127.0.0.1:$PX_c" --out "$T/r4" -q
RP=$SPAWN_PID
# wait (bounded) until the server is generating for some of them
for _ in $(seq 1 200); do running && break; sleep 0.05; done
kill -INT "$PXPID_c"; wait "$PXPID_c"; rc=$?
stop "$RP" INT
stop "$PID_slow"
check "SIGINT: exit 5" "[ $rc = 5 ]"
ok "SIGINT: the trace is valid" "$BIN" trace validate "$T/Tc.jsonl"
check "the clients that left mid-stream are recorded as client_closed, open streams as capture_stopped" "$PY -c \"
import json,sys
rs=[json.loads(l) for l in list(open('$T/Tc.jsonl'))[1:]]
first=[r['orig'] for r in rs[:3]]
sys.exit(0 if all(o.get('incomplete')=='client_closed' and o['ok'] is False and o['status']==200 for o in first)
         and any(r['orig'].get('incomplete')=='capture_stopped' for r in rs[3:]) else 1)\""

# --- an upstream that is not there ---
start_proxy d 9 -o "$T/Td.jsonl" --max-requests 3
expect_exit "upstream down: the client gets errors" 1 \
    "$BIN" replay "$T/m.jsonl" --first 3 --client gateway --url "http://127.0.0.1:$PX_d" --out "$T/r5" -q
wait "$PXPID_d"; rc=$?
check "the proxy stops after --max-requests even when every request failed: exit 0" "[ $rc = 0 ]"
check "... 502 from the proxy, recorded as upstream_error" "[ \$(grep -c '\"status\":502' '$T/r5/requests.jsonl') = 3 ] && [ \$(grep -c '\"incomplete\":\"upstream_error\"' '$T/Td.jsonl') = 3 ]"

# --- usage ---
expect_err "--proxy without --upstream" 2 'needs --upstream' "$BIN" capture --proxy 0 -o "$T/x.jsonl"
expect_err "a bad upstream URL" 2 'must be an http' "$BIN" capture --proxy 0 --upstream ftp://x -o "$T/x.jsonl"
expect_err "a bad listen address" 2 'expected \[HOST:\]PORT' "$BIN" capture --proxy 127.0.0.1:99999 --upstream http://127.0.0.1:9 -o "$T/x.jsonl"
expect_err "--port is for packets" 2 'not --proxy' "$BIN" capture --proxy 0 --upstream http://127.0.0.1:9 --port 80 -o "$T/x.jsonl"
finish
