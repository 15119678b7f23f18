#!/usr/bin/env bash
# serve.sh — `serve` refuses request bodies that are not one JSON object in
# valid UTF-8 (trailing garbage, two objects back to back, a raw NUL byte,
# invalid UTF-8) with a 400 in each profile's error shape, still answers the
# same body without the defect, and exits 0 with no sanitizer report.
source "$(dirname "$0")/../lib.sh"

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
    start_server --api "$prof" || continue
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
    check "$prof: serve exits 0 on SIGTERM (got $rc)" '[ "$rc" = 0 ]'
    check "$prof: no sanitizer report" \
        '! grep -Eq "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$T/serve.err"'
done
finish
