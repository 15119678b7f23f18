#!/usr/bin/env bash
# `capture --proxy` against hostile clients: request targets that would send
# the request (and its credentials) to another host, half-closed partial
# requests under a small descriptor limit, slowloris clients, and large
# unfinished bodies on many connections. Each checks the clear answer, the
# record, bounded resources, and a well-behaved client served meanwhile.
# Traffic on 127.0.0.1 only; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=python3
H=$(dirname "$0")
SECRET=s3cr3t-canary-7d1f

start_proxy() { # NAME UPSTREAM_URL ARGS...: sets PX_NAME (port) and PXPID_NAME
    local name=$1 up=$2; shift 2
    rm -f "$T/$name.pport"
    spawn "$BIN" capture --proxy 127.0.0.1:0 --upstream "$up" \
        --ready-file "$T/$name.pport" --stats "$T/$name.stats" -o "$T/$name.jsonl" "$@" 2>"$T/$name.err"
    eval "PXPID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.pport" 10 || { fail "proxy $name started" "$(cat "$T/$name.err")"; return 1; }
    eval "PX_$name=$(cat "$T/$name.pport")"
}
# stop PID NAME: SIGTERM; the proxy must end as interrupted (exit 5) with no sanitizer report
stop() {
    kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null
    local rc=$?
    check "proxy $2 ends cleanly on SIGTERM (exit $rc, want 5), no sanitizer report" \
        "[ $rc = 5 ] && ! grep -q 'Sanitizer\|runtime error' '$T/$2.err'"
}

spawn $PY "$ROOT/tests/record_server.py" "$T/up.port" "$T/up.log"
wait_for_file "$T/up.port" 10 || fail "upstream started"
UP=$(cat "$T/up.port")
spawn $PY "$H/canary.py" "$T/canary.port" "$T/canary.log"
wait_for_file "$T/canary.port" 10 || fail "canary started"
CAN=$(cat "$T/canary.port")

# --- 1. only origin-form targets, only to the upstream ---
start_proxy t "http://127.0.0.1:$UP/base" --all-paths
ATTACKS=("@127.0.0.1:$CAN/v1/chat/completions" "http://127.0.0.1:$CAN/v1/chat/completions"
         "//127.0.0.1:$CAN/v1/chat/completions" "127.0.0.1:$CAN" "*"
         "/v1/chat/completions\\\\@127.0.0.1:$CAN/" "/v1/chat/completions#@127.0.0.1:$CAN/"
         "/../v1/chat/completions" "/v1/%2e%2e/%2E%2e/x/chat/completions" "/v1/..%2f..%2fchat"
         "/v1/chat/completions%0d%0aHost:%20127.0.0.1" "/v1/chat%00/completions" "/v1/chat%20x"
         '/v1/chat/\xff' "/v1/chat%zz")
$PY "$H/proxy_client.py" targets "$PX_t" "$SECRET" "${ATTACKS[@]}" "/v1/chat/completions?x=1" \
    "/v1/a/../chat/completions" >"$T/t.out" 2>"$T/t.pyerr"
long=$(printf 'X%.0s' $(seq 300))
exec 3<>"/dev/tcp/127.0.0.1/$PX_t"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s: v\r\nx-bin: \xff\xfe\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' "$long" >&3
IFS= read -r -t 20 line <&3
exec 3<&-
check "a 300-byte header name and a header that is not UTF-8 are forwarded, not recorded" \
    "[[ '${line%$'\r'}' == 'HTTP/1.1 200'* ]]"
stop "$PXPID_t" t
check "every attack target gets 400; origin-form targets are served" "$PY -c \"
import json,sys; r=json.load(open('$T/t.out')); v=list(r.values())
sys.exit(0 if len(v)==${#ATTACKS[@]}+2 and v[:-2]==[400]*${#ATTACKS[@]} and v[-2:]==[200,200] else 1)\""
check "nothing reached the other listener" "[ ! -e '$T/canary.log' ]"
check "the upstream got only the origin-form requests, under its prefix" "$PY -c \"
import json,sys; p=[json.loads(l)['path'] for l in open('$T/up.log')]
sys.exit(0 if p==['/base/v1/chat/completions?x=1','/base/v1/chat/completions']*1+['/base/v1/chat/completions'] else 1)\""
check "each attack is recorded as rejected with status 400 and no body" "$PY -c \"
import json,sys; rs=[json.loads(l) for l in open('$T/t.jsonl')][1:]
bad=[r for r in rs if r['orig']['status']==400]
ok=len(bad)==${#ATTACKS[@]} and all(r['orig'].get('rejected') and 'body' not in r for r in bad)
ok=ok and sum(1 for r in rs if r['orig']['status']==200)==3
ok=ok and not any(k.startswith('xxx') or k=='x-bin' for r in rs for k in r.get('headers',{}))
sys.exit(0 if ok else 1)\""
check "the stats count the rejected targets" "grep -q '\"rejected\":[[:space:]]*${#ATTACKS[@]}' '$T/t.stats'"
check "the secret is in no file" "! grep -rqa '$SECRET' '$T/t.jsonl' '$T/t.stats' '$T/t.err'"

# --- conflicting Content-Length (CL.CL smuggling): refused, nothing forwarded ---
start_proxy cl "http://127.0.0.1:$UP"
before=$(wc -l < "$T/up.log")
$PY - "$PX_cl" >"$T/cl.out" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n"
          b"{}12345POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
data = b""
try:
    while len(data) < 1 << 16:
        d = s.recv(65536)
        if not d: break
        data += d
except OSError:
    pass
print(data.count(b"HTTP/1.1 "), data.split(b"\r\n")[0].decode())
PYEOF
stop "$PXPID_cl" cl
check "conflicting Content-Length: one 400, the connection closed" "[ \"\$(cat '$T/cl.out')\" = '1 HTTP/1.1 400 Bad Request' ]"
check "... nothing reached the upstream" "[ \$(wc -l < '$T/up.log') = $before ]"
check "... recorded as rejected" "grep -q '\"rejected\":\"conflicting Content-Length\"' '$T/cl.jsonl'"

# --- 2. half-closed partial requests under 64 descriptors ---
rm -f "$T/h.pport"
spawn bash -c 'ulimit -n 64 && exec "$0" "$@"' "$BIN" capture --proxy 127.0.0.1:0 \
    --upstream "http://127.0.0.1:$UP" --ready-file "$T/h.pport" -o "$T/h.jsonl" --client-timeout 2s 2>"$T/h.err"
PXPID_h=$SPAWN_PID
if wait_for_file "$T/h.pport" 10; then
    PX_h=$(cat "$T/h.pport")
    expect_out "80 half-closed partial requests, then a whole one is served (64 descriptors)" '"status": 200' \
        $PY "$H/proxy_client.py" halfclose "$PX_h" 80
    n=0; fds=999
    while [ $n -lt 50 ]; do
        fds=$(ls "/proc/$PXPID_h/fd" 2>/dev/null | wc -l)
        [ "$fds" -lt 20 ] && break
        sleep 0.1; n=$((n + 1))
    done
    check "the proxy closed the half-closed sockets ($fds descriptors open)" "[ $fds -lt 20 ]"

    # --- slowloris: a byte a second never finishes a request ---
    expect_out "a header byte a second is dropped at --client-timeout; a normal client is served meanwhile" \
        '"normal_status": 200, "dropped_after": ([1-9]|1[0-9])\.' $PY "$H/proxy_client.py" slowloris "$PX_h" head 30
    expect_out "a body byte a second is dropped too" \
        '"normal_status": 200, "dropped_after": ([1-9]|1[0-9])\.' $PY "$H/proxy_client.py" slowloris "$PX_h" body 30
    stop "$PXPID_h" h
    check "the dropped body is recorded as rejected at --client-timeout" \
        "grep -q '\"rejected\":\"request not whole within --client-timeout\"' '$T/h.jsonl'"
else
    fail "proxy under ulimit -n 64 started" "$(cat "$T/h.err")"
fi

# --- 3. bodies held in all connections are capped ---
# (under AddressSanitizer, freed blocks stay in its quarantine: keep it small,
# so that RSS measures what the proxy holds)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4 \
    start_proxy b "http://127.0.0.1:$UP" --max-body-mb 16 --max-buffered-mb 40
base=$(awk '/^VmRSS/ {print $2}' "/proc/$PXPID_b/status")
$PY "$H/proxy_client.py" hold "$PX_b" "$PXPID_b" 8 15 >"$T/b.out" 2>"$T/b.pyerr"
stop "$PXPID_b" b
check "8 unfinished 15 MiB bodies: 2 held, the others 503 with Retry-After; a chunked one over the cap 503; a normal request 200" \
    "$PY -c \"
import json,sys; r=json.load(open('$T/b.out'))
sys.exit(0 if r['holds']==[None,None]+[503]*6 and r['retry_after'] and r['chunked']==503 and r['normal']==200 else 1)\""
check "the proxy's RSS stayed within the cap (base ${base} kB, then $(grep -o '"rss_kb": [0-9]*' "$T/b.out"))" \
    "$PY -c \"
import json,sys; r=json.load(open('$T/b.out')); sys.exit(0 if r['rss_kb'] < $base + 70*1024 else 1)\""
check "the 503s are recorded with their reason" "[ \$(grep -c '\"status\":503,.*\"rejected\":\"proxy body buffer full\"' '$T/b.jsonl') = 7 ]"
check "the stats count them" "grep -q '\"over_buffered\":[[:space:]]*7' '$T/b.stats'"

expect_err "--max-buffered-mb below --max-body-mb is refused" 2 "at least --max-body-mb" \
    "$BIN" capture --proxy 0 --upstream "http://127.0.0.1:$UP" -o "$T/x.jsonl" --max-body-mb 32 --max-buffered-mb 16
expect_err "--client-timeout is for --proxy" 2 "for --proxy" \
    "$BIN" capture -r /dev/null -o "$T/x.jsonl" --client-timeout 5s
expect_err "an upstream URL with a query is refused" 2 "without a query" \
    "$BIN" capture --proxy 0 --upstream "http://127.0.0.1:$UP/x?y=1" -o "$T/x.jsonl"
finish
