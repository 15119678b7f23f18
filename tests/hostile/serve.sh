#!/usr/bin/env bash
# serve.sh — `serve` refuses request bodies that are not one JSON object in
# valid UTF-8 (trailing garbage, two objects back to back, a raw NUL byte,
# invalid UTF-8) with a 400 in each profile's error shape, still answers the
# same body without the defect, and exits 0 with no sanitizer report. Then
# raw misbehaving clients (raw_client.py): malformed request lines, 1 MB of
# headers and slowloris, while a well-behaved client is served, in bounded
# memory.
source "$(dirname "$0")/../lib.sh"
# keep ASan's quarantine of freed memory small so RSS measures live memory
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

# start_server ARGS...: `serve --port 0 ARGS`; sets SRV_PID and URL.
start_server() {
    local pf="$T/port.$RANDOM"
    spawn "$BIN" serve --port 0 --port-file "$pf" --preset fast --model m "$@" >"$T/serve.out" 2>"$T/serve.err"
    SRV_PID=$SPAWN_PID
    wait_for_file "$pf" 10 || { fail "serve starts: $*" "$(head -c 600 "$T/serve.err")"; return 1; }
    URL="http://127.0.0.1:$(cat "$pf")"
}

# post_file PATH FILE: POSTs FILE's bytes as they are; status to $T/status, body to $T/body.
post_file() {
    curl -sS -m 20 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$2" "$URL$1" >"$T/status" 2>"$T/curl.err" || echo 000 >"$T/status"
}

# bytes FILE PYTHON-BYTES-EXPR: writes the bytes literal to FILE.
bytes() { python3 -c 'import sys; open(sys.argv[1], "wb").write(eval(sys.argv[2]))' "$1" "$2"; }

# shape PROFILE: the 400 body in $T/body has the profile's error shape.
shape() {
    python3 - "$1" "$T/body" <<'PY'
import json, sys
prof, f = sys.argv[1:]
j = json.load(open(f))
if prof == "lmdeploy":
    ok = j.get("code") == 400 and j.get("object") == "error" and j.get("type") == "invalid_request_error"
    msg = j.get("message", "")
else:
    e = j.get("error", {})
    ok = e.get("type") == ("BadRequestError" if prof == "vllm" else "invalid_request_error")
    ok = ok and (e.get("code") == 400 if prof == "vllm" else e.get("code") is None)
    msg = e.get("message", "")
sys.exit(0 if ok and msg else 1)
PY
}

GOOD='b"{\"model\":\"m\",\"prompt\":\"hi \\u00e9\",\"max_tokens\":2}"'
declare -A CASES=(
    [trailing-garbage]="$GOOD + b\" x\""
    [two-objects]="$GOOD + $GOOD"
    [raw-nul-in-string]='b"{\"model\":\"m\",\"prompt\":\"a\x00b\",\"max_tokens\":2}"'
    [raw-nul-after-object]="$GOOD + b\"\\x00\""
    [invalid-utf8-in-string]='b"{\"model\":\"m\",\"prompt\":\"a\xff\xfe\",\"max_tokens\":2}"'
    [overlong-utf8]='b"{\"model\":\"m\",\"prompt\":\"\xc0\xaf\",\"max_tokens\":2}"'
    [surrogate-utf8]='b"{\"model\":\"m\",\"prompt\":\"\xed\xa0\x80\",\"max_tokens\":2}"'
    [truncated-utf8]='b"{\"model\":\"m\",\"prompt\":\"x\xe2\x82\",\"max_tokens\":2}"'
)
for prof in vllm lmdeploy gateway; do
    start_server --api "$prof" --ground-truth "$T/gt-$prof.jsonl" || continue
    for name in "${!CASES[@]}"; do
        bytes "$T/req" "${CASES[$name]}"
        post_file /v1/completions "$T/req"
        check "$prof: $name is 400 (got $(cat "$T/status"))" '[ "$(cat "$T/status")" = 400 ]'
        check "$prof: $name has the profile's error shape" 'shape "$prof"'
    done
    bytes "$T/req" "$GOOD + b\" \\r\\n\\t \""
    post_file /v1/completions "$T/req"
    check "$prof: the same body with non-ASCII text and trailing whitespace is 200" \
        '[ "$(cat "$T/status")" = 200 ]'
    kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
    n400=$(grep -c '"status":400' "$T/gt-$prof.jsonl")
    check "$prof: the ground truth records each refused body as a 400 ($n400/${#CASES[@]})" \
        '[ "$n400" = "${#CASES[@]}" ] && [ "$(grep -c "\"status\":200" "$T/gt-$prof.jsonl")" = 1 ]'
    check "$prof: serve exits 0 on SIGTERM (got $rc)" '[ "$rc" = 0 ]'
    check "$prof: no sanitizer report" \
        '! grep -Eq "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$T/serve.err"'
done

# --- raw misbehaving clients against serve itself ---
H="$ROOT/tests/hostile"
RSS_MAX_KB=$((128 * 1024))   # peak RSS bound (VmHWM) for serve under attack
good() {
    bytes "$T/req" "$GOOD"
    post_file /v1/completions "$T/req"
    check "$1: a well-behaved client is served (got $(cat "$T/status"))" '[ "$(cat "$T/status")" = 200 ]'
}
start_server --api vllm && {
    PORT=${URL##*:}
    i=0
    for line in 'POST /v1/completions HTTP/1.1 extra\r\nContent-Length: 2\r\n\r\n{}' 'GARBAGE\r\n\r\n' \
                '\x00\xff\xfe /v1/completions HTTP/1.1\r\n\r\n' 'POST /v1/completions\r\n\r\n' \
                'POST /v1/completions HTTP/1.1\r\nContent-Length: -1\r\n\r\n'; do
        i=$((i + 1))
        printf "$line" >"$T/ml.req"
        timeout 20 python3 "$H/raw_client.py" send "$PORT" "$T/ml.req" "$T/ml.resp"
        check "malformed request $i ($line): no 2xx" '! grep -Eq "^HTTP/1\.[01] 2" "$T/ml.resp"'
    done
    # Conflicting Content-Length: a 400, and the bytes after the first
    # length's body are not taken for a second request.
    printf 'POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}12345GET /health HTTP/1.1\r\n\r\n' >"$T/cl.req"
    timeout 20 python3 "$H/raw_client.py" send "$PORT" "$T/cl.req" "$T/cl.resp"
    check "conflicting Content-Length: one answer, a 400 naming it" \
        '[ "$(grep -ac "^HTTP/1" "$T/cl.resp")" = 1 ] && grep -aq "^HTTP/1.1 400" "$T/cl.resp" &&
         grep -aq "Conflicting Content-Length" "$T/cl.resp"'
    body='{"model":"m","prompt":"hi","max_tokens":2}'
    printf 'POST /v1/completions HTTP/1.1\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s' \
        ${#body} ${#body} "$body" >"$T/cl2.req"
    timeout 20 python3 "$H/raw_client.py" send "$PORT" "$T/cl2.req" "$T/cl2.resp"
    check "the same Content-Length twice is one length: 200" 'grep -aq "^HTTP/1.1 200" "$T/cl2.resp"'
    timeout 30 python3 "$H/raw_client.py" headers "$PORT" 1048576 "$T/hdr.resp" >/dev/null
    check "1 MB of headers: 431/400 or closed" \
        '[ ! -s "$T/hdr.resp" ] || grep -Eq "^HTTP/1\.[01] (431|400) " "$T/hdr.resp"'
    SLOW=()
    for k in 1 2 3 4; do
        spawn timeout 20 python3 "$H/raw_client.py" slow "$PORT" 3 0.2 >"$T/slow$k.out"
        SLOW+=("$SPAWN_PID")
    done
    for k in 1 2 3 4; do wait_for_file "$T/slow$k.out" 10 || fail "slowloris client $k connects"; done
    good "during slowloris"
    alive=0
    for p in "${SLOW[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    check "slowloris clients were connected while the good one was served ($alive/4)" '[ "$alive" -ge 1 ]'
    for p in "${SLOW[@]}"; do wait "$p"; done
    good "after slowloris"
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SRV_PID/status")
    check "serve peak RSS ${hwm} kB below $RSS_MAX_KB kB" '[ "$hwm" -lt "$RSS_MAX_KB" ]'
    kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
    check "serve exits 0 on SIGTERM after the raw clients (got $rc)" '[ "$rc" = 0 ]'
    check "no sanitizer report after the raw clients" \
        '! grep -Eq "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$T/serve.err"'
}
finish
