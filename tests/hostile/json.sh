#!/usr/bin/env bash
# Hostile bytes and secrets in what the tool writes: a client's request
# bodies that are not UTF-8 or hold NUL (captured byte-exact in body_b64,
# replayed byte-exact), traces that are not UTF-8 (refused), a server that
# answers with invalid UTF-8 (requests.jsonl and run.json stay strict JSON),
# and credentials or query values in URLs (masked everywhere).
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
HERE="$ROOT/tests/hostile"
STRICT="python3 $HERE/strict_json.py"
ARR="python3 $ROOT/tests/arrived.py"
stop() { kill -"${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

start_serve() { # sets SPORT, SPID
    rm -f "$T/serve.port"
    spawn "$BIN" serve --port 0 --port-file "$T/serve.port" --preset fast --api gateway >/dev/null 2>"$T/serve.err"
    SPID=$SPAWN_PID
    wait_for_file "$T/serve.port" 10 || { fail "serve started" "$(cat "$T/serve.err")"; return 1; }
    SPORT=$(cat "$T/serve.port")
}
start_serve

# --- 1. capture keeps bodies that are not UTF-8 (or hold NUL) byte-exact ---
rm -f "$T/px.port"
spawn timeout 60 "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://127.0.0.1:$SPORT" \
    --ready-file "$T/px.port" -o "$T/cap.jsonl" --max-requests 3 2>"$T/cap.err"
PXPID=$SPAWN_PID
if wait_for_file "$T/px.port" 10; then
    PX=$(cat "$T/px.port")
    python3 - "$PX" "$T/sent" <<'PY'
import http.client, sys
bodies = [b'{"model":"m","messages":[{"role":"user","content":"caf\xe9 \xff\xfe"}],"max_tokens":2}',
          b'{"model":"m","messages":[{"role":"user","content":"a\\u0000b"}],"max_tokens":2}',
          b'{"model":"m",  "messages":[{"role":"user","content":"a\x00b"}],"max_tokens":2}']
for i, b in enumerate(bodies):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
    c.request("POST", "/v1/chat/completions", body=b, headers={"Content-Type": "application/json"})
    c.getresponse().read()
    c.close()
    open(f"{sys.argv[2]}{i}", "wb").write(b)
PY
    wait "$PXPID"
    check "the proxy captured three exchanges" "[ \$(grep -c '\"t_us\"' '$T/cap.jsonl') = 3 ]"
else
    fail "capture proxy started" "$(cat "$T/cap.err")"
fi
ok "the capture is strict UTF-8 JSON, line by line" $STRICT "$T/cap.jsonl"
ok "trace validate accepts it" "$BIN" trace validate "$T/cap.jsonl"
check "no body_raw_omitted any more" "! grep -q body_raw_omitted '$T/cap.jsonl'"
ok "bytes that are not UTF-8, and a NUL byte, are kept in body_b64; an escaped NUL in body_raw" python3 -c "
import base64, json, sys
recs = [json.loads(l) for l in open('$T/cap.jsonl', encoding='utf-8')][1:]
sent = [open('$T/sent%d' % i, 'rb').read() for i in range(3)]
assert base64.b64decode(recs[0]['body_b64'], validate=True) == sent[0], recs[0]
assert recs[1]['body_raw'].encode() == sent[1] and 'body_b64' not in recs[1], recs[1]
assert base64.b64decode(recs[2]['body_b64'], validate=True) == sent[2], recs[2]
assert '\ufffd' in recs[0]['body']['messages'][0]['content']
"
rm -f "$T/rec.port"; : > "$T/rec.log"
spawn python3 "$ROOT/tests/record_server.py" "$T/rec.port" "$T/rec.log"
RPID=$SPAWN_PID
if wait_for_file "$T/rec.port" 10; then
    expect_exit "replay of that capture: exit 0" 0 "$BIN" replay "$T/cap.jsonl" --client gateway \
        --url "http://127.0.0.1:$(cat "$T/rec.port")" --out "$T/rb" -q
    for i in 0 1 2; do
        ok "replay sends record $i's captured bytes exactly" $ARR "$T/rec.log" $i \
            "raw == open('$T/sent$i', 'rb').read()"
    done
    check "... and says body_exact for each" "[ \$(grep -c '\"body_exact\":true' '$T/rb/requests.jsonl') = 3 ]"
    expect_exit "replay with --model (an edit): exit 0" 0 "$BIN" replay "$T/cap.jsonl" --client gateway \
        --url "http://127.0.0.1:$(cat "$T/rec.port")" --model other --out "$T/rb2" -q
    check "... then the body is re-serialised, not exact" "[ \$(grep -c '\"body_exact\":false' '$T/rb2/requests.jsonl') = 3 ]"
fi
stop "$RPID"

# --- 2. traces that are not UTF-8, or carry a bad body_b64, are refused ---
printf '{"format":"sagellm-trace","version":1}\n{"t_us":0,"id":"a","api":"chat","input_tokens":3,"x":"\xff"}\n' > "$T/bad8.jsonl"
expect_err "validate refuses a line with invalid UTF-8: file:line, exit 3" 3 \
    'bad8.jsonl:2: invalid UTF-8 at column 55 \(byte 0xff\)' "$BIN" trace validate "$T/bad8.jsonl"
expect_err "replay refuses it too" 3 'bad8.jsonl:2: invalid UTF-8' \
    "$BIN" replay "$T/bad8.jsonl" --url "http://127.0.0.1:$SPORT" --out "$T/rbad" -q
printf '{"format":"sagellm-trace","version":1,"note":"\xc3"}\n' > "$T/badh.jsonl"
expect_err "validate refuses a header with invalid UTF-8" 3 'badh.jsonl:1: invalid UTF-8' \
    "$BIN" trace validate "$T/badh.jsonl"
B='{"t_us":0,"id":"a","api":"chat","body":{"messages":[]}'
{ echo '{"format":"sagellm-trace","version":1}'
  echo "$B,\"body_b64\":\"not base64!\"}"
  echo "$B,\"body_b64\":\"W10=\"}"
  echo "$B,\"body_b64\":\"e30=\",\"body_raw\":\"{}\"}"
  echo '{"t_us":0,"id":"b","api":"chat","input_tokens":2,"body_b64":"e30="}'
  echo "$B,\"body_b64\":\"e30=\"}"; } > "$T/b64.jsonl"
"$BIN" trace validate "$T/b64.jsonl" >"$T/v.out" 2>"$T/v.err"; rc=$?
check "validate of bad body_b64 records: exit 3" "[ $rc = 3 ]"
check "... says not base64 (line 2)" "grep -q 'b64.jsonl:2: field .body_b64.: expected padded base64' '$T/v.err'"
check "... says not a JSON object (line 3)" "grep -q 'b64.jsonl:3: field .body_b64.: expected the base64 of a JSON object' '$T/v.err'"
check "... refuses body_raw beside it (line 4)" "grep -q 'b64.jsonl:4: field .body_b64.' '$T/v.err'"
check "... needs a body (line 5)" "grep -q 'b64.jsonl:5: field .body.' '$T/v.err'"
check "... and accepts a good one (line 6)" "! grep -q 'b64.jsonl:6:' '$T/v.err'"

# --- 3. a server answering in invalid UTF-8: every record stays strict JSON ---
rm -f "$T/bad.port"
spawn python3 "$HERE/bad_utf8_server.py" "$T/bad.port"
BPID=$SPAWN_PID
if wait_for_file "$T/bad.port" 10; then
    { echo '{"format":"sagellm-trace","version":1}'
      for i in 0 1 2 3 4 5 6 7; do echo "{\"t_us\":$((i * 1000)),\"id\":\"q$i\",\"api\":\"chat\",\"input_tokens\":5,\"output_tokens\":2}"; done
    } > "$T/q.jsonl"
    expect_exit "replay against the bad-UTF-8 server: requests fail, exit 1" 1 "$BIN" replay "$T/q.jsonl" \
        --client gateway --url "http://127.0.0.1:$(cat "$T/bad.port")" --out "$T/rq" -q
    ok "requests.jsonl, run.json and summary.json are strict UTF-8 JSON" \
        $STRICT "$T/rq/requests.jsonl" "$T/rq/run.json" "$T/rq/summary.json"
    check "every request is in the log, failed" "[ \$(grep -c '\"ok\":false' '$T/rq/requests.jsonl') = 8 ]"
    check "the server's bad bytes became U+FFFD" "grep -q \$'bad \xef\xbf\xbd\xef\xbf\xbd input' '$T/rq/requests.jsonl'"
    check "the stream's error event is recorded" "grep -q 'stream broke' '$T/rq/requests.jsonl'"
fi
stop "$BPID"

# --- 4. secrets in URLs: never written, never printed ---
expect_exit "replay with user:password in --url: exit 0" 0 "$BIN" replay "$T/q.jsonl" --client gateway \
    --url "http://user:s3cret@127.0.0.1:$SPORT" --out "$T/rs"
cat "$T/.out" "$T/.err" > "$T/rs.printed"
check "the password is in no file of the run" "! grep -rq s3cret '$T/rs'"
check "... nor in what was printed" "! grep -q s3cret '$T/rs.printed'"
check "run.json shows it masked" "grep -q 'user:\*\*\*@127.0.0.1' '$T/rs/run.json'"
expect_err "a query in --url is a usage error" 2 'key=\*\*\*' "$BIN" replay "$T/q.jsonl" \
    --url "http://127.0.0.1:$SPORT/v1?key=s3cret" --out "$T/rq2"
check "... that does not show the secret" "! grep -q s3cret '$T/.err' '$T/.out'; [ ! -e '$T/rq2/run.json' ] || ! grep -rq s3cret '$T/rq2'"
expect_err "an unreachable server with a password: the message masks it" 2 'user:\*\*\*@127.0.0.1:9' \
    "$BIN" replay "$T/q.jsonl" --url "http://user:s3cret@127.0.0.1:9" --out "$T/rq3"
check "... and never shows it" "! grep -q s3cret '$T/.err' '$T/.out'"
rm -f "$T/px2.port"
spawn timeout 60 "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://u:s3cret@127.0.0.1:$SPORT" \
    --ready-file "$T/px2.port" -o "$T/cap2.jsonl" --stats "$T/cap2.stats" --max-requests 1 2>"$T/cap2.err"
PX2=$SPAWN_PID
if wait_for_file "$T/px2.port" 10; then
    curl -s -o /dev/null --max-time 20 -H 'Content-Type: application/json' \
        -d '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2}' \
        "http://127.0.0.1:$(cat "$T/px2.port")/v1/chat/completions"
    wait "$PX2"
    check "capture's header records the upstream masked" "grep -q 'u:\*\*\*@127.0.0.1' '$T/cap2.jsonl'"
    check "... and no capture file or message holds the password" \
        "! grep -q s3cret '$T/cap2.jsonl' '$T/cap2.stats' '$T/cap2.err'"
else
    fail "capture proxy with credentials started" "$(cat "$T/cap2.err")"
fi
stop "$SPID"
finish
