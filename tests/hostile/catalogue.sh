#!/usr/bin/env bash
# catalogue.sh — hostile peers the tools already withstand, kept as
# regression tests. Against `capture --proxy` in front of `serve`: malformed
# request lines, request smuggling (CL.TE, TE.CL), 1 MB of headers,
# slowloris, secrets in headers. Against `replay` with a hostile upstream
# (bad_upstream.py): a gzip bomb, endless 1xx responses, a 150 MB SSE line,
# a redirect to another port. Each checks: no crash or sanitizer report,
# bounded peak RSS, the right per-request record, no secret stored or sent
# to another host, and (for the proxy) a well-behaved client served meanwhile.
source "$(dirname "$0")/../lib.sh"
H="$ROOT/tests/hostile"
# keep ASan's quarantine of freed memory small so RSS measures live memory
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
RSS_MAX_KB=$((128 * 1024))     # peak RSS bound for every process under attack
SECRET=CATSECRET7f3a

no_sanitizer() { ! grep -Eq "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$1"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
gt_requests() { grep -c '"type":"request"' "$T/gt.jsonl"; }
responses() { grep -c '^HTTP/1\.[01] [0-9][0-9][0-9]' "$1"; }

# good DESC: a well-behaved completion through the proxy is answered 200.
# serve writes a request's ground-truth line once the request has ended,
# which can be just after the client read the answer: wait (5 s at most)
# for it, so that the next test's count does not take it as its own.
good() {
    local st n0 i
    n0=$(gt_requests)
    st=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary '{"model":"m","prompt":"hello","max_tokens":3}' "$PX/v1/completions" 2>&1)
    check "$1: a well-behaved client is served (got $st)" '[ "$st" = 200 ]'
    for i in $(seq 50); do [ "$(gt_requests)" -gt "$n0" ] && break; sleep 0.1; done
}

# raw NAME PRINTF-FORMAT: sends the bytes raw to the proxy; answer in $T/NAME.resp.
raw() {
    printf "$2" >"$T/$1.req"
    timeout 20 python3 "$H/raw_client.py" send "$PXPORT" "$T/$1.req" "$T/$1.resp"
}

# --- the proxy in front of serve -------------------------------------------
spawn "$BIN" serve --port 0 --port-file "$T/sport" --preset fast --model m \
    --ground-truth "$T/gt.jsonl" >/dev/null 2>"$T/serve.err"
SRV_PID=$SPAWN_PID
wait_for_file "$T/sport" 10 || { fail "serve starts" "$(cat "$T/serve.err")"; finish; exit 1; }
spawn "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://127.0.0.1:$(cat "$T/sport")" \
    --ready-file "$T/pport" --stats "$T/stats.json" -o "$T/trace.jsonl" 2>"$T/cap.err"
PX_PID=$SPAWN_PID
wait_for_file "$T/pport" 10 || { fail "proxy starts" "$(cat "$T/cap.err")"; finish; exit 1; }
PXPORT=$(cat "$T/pport")
PX="http://127.0.0.1:$PXPORT"
good "before any attack"
N_GOOD=1

# Malformed request lines: never forwarded as a request, never a 2xx.
i=0
for line in 'POST /v1/completions HTTP/1.1 extra\r\nContent-Length: 2\r\n\r\n{}' \
            'GARBAGE\r\n\r\n' '\x00\xff\xfe /v1/completions HTTP/1.1\r\n\r\n' \
            'POST /v1/completions HTTP/9.9\r\nContent-Length: 2\r\n\r\n{}' \
            'POST /v1/completions\r\nContent-Length: 2\r\n\r\n{}' \
            'POST  HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}' \
            'POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n' \
            'POST /v1/completions HTTP/1.1\r\nBad Header\r\n\r\n'; do
    i=$((i + 1))
    before=$(gt_requests)
    raw "ml$i" "$line"
    check "malformed request $i ($line): no 2xx" '! grep -Eq "^HTTP/1\.[01] 2" "$T/ml$i.resp"'
    check "malformed request $i: the upstream saw no request" '[ "$(gt_requests)" = "$before" ]'
done
good "after malformed request lines"; N_GOOD=$((N_GOOD + 1))

# Smuggling: the upstream may see at most as many requests as the client got
# answers for, so no request hides in another one's body.
SMUG='POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 45\r\n\r\n{"model":"m","prompt":"hi","max_tokens":2}  '
before=$(gt_requests)
raw clte "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
n=$(responses "$T/clte.resp"); seen=$(( $(gt_requests) - before ))
check "CL.TE: the upstream saw $seen request(s), the client got $n answer(s)" '[ "$seen" -le "$n" ] && [ "$n" -ge 1 ]'
before=$(gt_requests)
raw tecl "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n$SMUG\r\n0\r\n\r\n"
n=$(responses "$T/tecl.resp"); seen=$(( $(gt_requests) - before ))
check "TE.CL: the upstream saw $seen request(s), the client got $n answer(s)" '[ "$seen" -le "$n" ] && [ "$n" -ge 1 ]'
before=$(gt_requests)
raw tete "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 4\r\n\r\n5c\r\n$SMUG\r\n0\r\n\r\n"
n=$(responses "$T/tete.resp"); seen=$(( $(gt_requests) - before ))
check "TE.TE: the upstream saw $seen request(s), the client got $n answer(s)" '[ "$seen" -le "$n" ]'
good "after smuggling attempts"; N_GOOD=$((N_GOOD + 1))

# 1 MB of headers: refused (431 or 400, or the connection closed), bounded memory.
timeout 30 python3 "$H/raw_client.py" headers "$PXPORT" 1048576 "$T/hdr.resp" >"$T/hdr.out"
check "1 MB of headers: refused with 431/400 or closed ($(head -1 "$T/hdr.resp" | tr -d '\r'))" \
    '[ ! -s "$T/hdr.resp" ] || grep -Eq "^HTTP/1\.[01] (431|400) " "$T/hdr.resp"'
check "1 MB of headers: the upstream never saw them" '! grep -q X-Pad- "$T/gt.jsonl"'
good "after 1 MB of headers"; N_GOOD=$((N_GOOD + 1))

# Slowloris: 4 clients drip a header byte every 200 ms for 3 s; a
# well-behaved client is served while they are connected.
SLOW=()
for k in 1 2 3 4; do
    spawn timeout 20 python3 "$H/raw_client.py" slow "$PXPORT" 3 0.2 >"$T/slow$k.out"
    SLOW+=("$SPAWN_PID")
done
for k in 1 2 3 4; do
    wait_for_file "$T/slow$k.out" 10 || fail "slowloris client $k connects"
done
for k in 1 2 3; do good "during slowloris ($k)"; N_GOOD=$((N_GOOD + 1)); done
for p in "${SLOW[@]}"; do wait "$p"; done
good "after slowloris"; N_GOOD=$((N_GOOD + 1))

# Secrets in headers are forwarded to the upstream but never written.
st=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer sk-$SECRET-1" -H "x-api-key: $SECRET-2" -H "Cookie: session=$SECRET-3" \
    -H "Proxy-Authorization: Basic $SECRET-4" -H "X-Auth-Token: $SECRET-5" \
    --data-binary '{"model":"m","prompt":"hello","max_tokens":3}' "$PX/v1/completions")
check "a request with secret headers is served (got $st)" '[ "$st" = 200 ]'
N_GOOD=$((N_GOOD + 1))

hwm=$(hwm_kb "$PX_PID")
check "proxy peak RSS ${hwm} kB below $RSS_MAX_KB kB" '[ "$hwm" -lt "$RSS_MAX_KB" ]'
check "serve peak RSS below $RSS_MAX_KB kB" '[ "$(hwm_kb "$SRV_PID")" -lt "$RSS_MAX_KB" ]'
kill -TERM "$PX_PID"; wait "$PX_PID"; rc=$?
check "the proxy exits 5 on SIGTERM (got $rc)" '[ "$rc" = 5 ]'
check "the proxy: no sanitizer report" 'no_sanitizer "$T/cap.err"'
ok "the proxy's trace is valid" "$BIN" trace validate "$T/trace.jsonl"
nrec=$(grep -c '"path":"/v1/completions"' "$T/trace.jsonl")
check "the trace has a record per well-behaved request ($nrec >= $N_GOOD)" '[ "$nrec" -ge "$N_GOOD" ]'
check "no secret in the trace or the statistics" '! grep -rq "$SECRET" "$T/trace.jsonl" "$T/stats.json" "$T/cap.err"'
kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
check "serve exits 0 on SIGTERM (got $rc)" '[ "$rc" = 0 ]'
check "serve: no sanitizer report" 'no_sanitizer "$T/serve.err"'

# --- replay against a hostile upstream -------------------------------------
"$BIN" trace convert --from azure --api chat "$SHARED/AzureLLMInferenceTrace_conv.csv" -o "$T/az.jsonl.zst" 2>/dev/null
spawn python3 "$H/bad_upstream.py" "$T/watch.port" watch "$T/watch.log"
wait_for_file "$T/watch.port" 10 || fail "the watching listener starts"

# proxied MODE ARG DESC: a streamed chat request with an API key through a
# fresh proxy in front of bad_upstream MODE; the answer's status and size in
# $T/p-MODE.got, the record (last trace line) in $T/p-MODE.rec; checks the
# proxy's peak RSS, exit 5 on SIGTERM, no sanitizer report, no secret written.
proxied() {
    local mode=$1 arg=$2 d=$3
    local pp="$T/p-$mode.pport"
    spawn python3 "$H/bad_upstream.py" "$T/p-$mode.port" "$mode" "$arg"
    local up=$SPAWN_PID
    wait_for_file "$T/p-$mode.port" 30 || { fail "$d: upstream starts"; return; }
    spawn "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://127.0.0.1:$(cat "$T/p-$mode.port")" \
        --ready-file "$pp" -o "$T/p-$mode.jsonl" 2>"$T/p-$mode.err"
    local px=$SPAWN_PID
    wait_for_file "$pp" 10 || { fail "$d: proxy starts" "$(cat "$T/p-$mode.err")"; return; }
    curl -s -m 60 -o "$T/p-$mode.body" -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
        -H "Authorization: Bearer sk-$SECRET" \
        --data-binary '{"model":"bad","messages":[{"role":"user","content":"x"}],"stream":true}' \
        "http://127.0.0.1:$(cat "$pp")/v1/chat/completions" >"$T/p-$mode.got"
    echo $? >"$T/p-$mode.rc"
    local hwm rc
    hwm=$(hwm_kb "$px")
    check "$d (proxy): peak RSS ${hwm} kB below $RSS_MAX_KB kB" '[ "$hwm" -lt "$RSS_MAX_KB" ]'
    kill -TERM "$px"; wait "$px"; rc=$?
    check "$d (proxy): exits 5 on SIGTERM (got $rc)" '[ "$rc" = 5 ]'
    check "$d (proxy): no sanitizer report" 'no_sanitizer "$T/p-$mode.err"'
    check "$d (proxy): the API key is not written" '! grep -q "$SECRET" "$T/p-$mode.jsonl" "$T/p-$mode.err"'
    tail -n 1 "$T/p-$mode.jsonl" >"$T/p-$mode.rec"
    kill "$up" 2>/dev/null; wait "$up" 2>/dev/null
}
proxied gzipbomb "" "gzip bomb"
check "gzip bomb (proxy): relayed as sent, not inflated ($(cat "$T/p-gzipbomb.got"))" \
    'read -r st sz <"$T/p-gzipbomb.got"; [ "$st" = 200 ] && [ "$sz" -lt 1048576 ]'
check "gzip bomb (proxy): the record says gzip" 'grep -q "\"encoding\":\"gzip\"" "$T/p-gzipbomb.rec"'
proxied info 20000 "20000 interim 1xx responses"
check "1xx flood (proxy): the client gets a 502 ($(cat "$T/p-info.got"))" 'read -r st sz <"$T/p-info.got"; [ "$st" = 502 ]'
check "1xx flood (proxy): recorded as upstream_error" 'grep -q "\"incomplete\":\"upstream_error\"" "$T/p-info.rec"'
proxied longline 150 "a 150 MB SSE line"
check "150 MB SSE line (proxy): relayed whole ($(cat "$T/p-longline.got"))" \
    'read -r st sz <"$T/p-longline.got"; [ "$st" = 200 ] && [ "$sz" = $((150 * 1048576 + 6)) ]'
check "150 MB SSE line (proxy): recorded as not ok" 'grep -q "\"ok\":false" "$T/p-longline.rec"'
proxied hugelength "" "a Content-Length past 64 bits"
check "Content-Length past 64 bits (proxy): the answer reaches the client whole, its size unknown ($(cat "$T/p-hugelength.got"), curl exit $(cat "$T/p-hugelength.rc"))" \
    'read -r st sz <"$T/p-hugelength.got"; [ "$st" = 200 ] && [ "$(cat "$T/p-hugelength.rc")" = 0 ] &&
     grep -q "data: \[DONE\]" "$T/p-hugelength.body"'
proxied redirect "$(cat "$T/watch.port")" "a 307 to another loopback port"
check "redirect (proxy): the 307 is relayed, not followed ($(cat "$T/p-redirect.got"))" \
    'read -r st sz <"$T/p-redirect.got"; [ "$st" = 307 ]'
check "redirect (proxy): nothing reached the other port" '[ ! -e "$T/watch.log" ]'

# hostile MODE ARG CLASSES DESC: replays one request against bad_upstream MODE
# (60 s at most) and checks the record's class is one of CLASSES (a|b; "ok"
# allows a completed request) with the matching exit code (1, or 0 when
# completed), peak RSS, no sanitizer report, no secret stored.
hostile() {
    local mode=$1 arg=$2 class=$3 d=$4 out="$T/r-$1"
    spawn python3 "$H/bad_upstream.py" "$T/$mode.port" "$mode" "$arg"
    local up=$SPAWN_PID
    wait_for_file "$T/$mode.port" 30 || { fail "$d: upstream starts"; return; }
    python3 "$H/rss_run.py" 60 "$T/$mode.peak" "$BIN" replay "$T/az.jsonl.zst" --client gateway \
        --url "http://127.0.0.1:$(cat "$T/$mode.port")" --first 1 --api-key "sk-$SECRET" \
        --out "$out" -q >/dev/null 2>"$T/$mode.err"
    local rc=$? peak
    peak=$(cat "$T/$mode.peak")
    if [[ "|$class|" == *"|ok|"* ]] && grep -q '"ok":true' "$out/requests.jsonl" 2>/dev/null; then
        check "$d: replay completes the request, exit 0 (got $rc)" '[ "$rc" = 0 ]'
    else
        check "$d: replay ends with request errors, exit 1 (got $rc)" '[ "$rc" = 1 ]'
    fi
    check "$d: one record, $class" '[ "$(wc -l <"$out/requests.jsonl")" = 1 ] &&
        grep -Eq "\"class\":\"($class)\"|\"ok\":true" "$out/requests.jsonl" &&
        { [[ "|$class|" == *"|ok|"* ]] || ! grep -q "\"ok\":true" "$out/requests.jsonl"; }'
    check "$d: replay peak RSS ${peak} kB below $RSS_MAX_KB kB" '[ "$peak" -lt "$RSS_MAX_KB" ]'
    check "$d: no sanitizer report" 'no_sanitizer "$T/$mode.err"'
    check "$d: the API key is not stored" '! grep -rq "$SECRET" "$out"'
    kill "$up" 2>/dev/null; wait "$up" 2>/dev/null
}
hostile gzipbomb "" protocol "gzip bomb (200 KB inflating to 200 MB)"
hostile info 20000 "protocol|ok" "20000 interim 1xx responses"
hostile longline 150 protocol "a 150 MB SSE line without newline"
hostile redirect "$(cat "$T/watch.port")" "http_[0-9]xx|protocol|redirect" "a 307 to another loopback port"
hostile hugelength "" "ok|protocol" "a Content-Length past 64 bits"
check "redirect: nothing reached the other port" '[ ! -e "$T/watch.log" ]'
finish
