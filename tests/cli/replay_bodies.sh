#!/usr/bin/env bash
# What replay puts on the wire: each captured record replayed as it was
# sent (its endpoint, its stream flag, its exact bytes when nothing must
# change), the changes each client makes said in the log and run.json,
# forced lengths in the body's own field, LMDeploy without session_id,
# captured headers only when asked and never a secret. A loopback stand-in
# (tests/record_server.py) writes down every request exactly as it arrived;
# the built-in server checks the same trace end to end.
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
ARR="python3 $ROOT/tests/arrived.py"
TR="$T/captured.jsonl"
cat > "$TR" <<'JSONL'
{"format":"sagellm-trace","version":1,"source":"capture"}
{"t_us":0,"id":"r0","session":"1","turn":0,"api":"chat","model":"orig-model","output_tokens":4,"path":"/v1/chat/completions","headers":{"user-agent":"orig-client/1.0","x-trace-id":"abc","authorization":"Bearer leaked","content-type":"text/plain","x-tenant":"theirs","host":"elsewhere"},"body":{"model":"orig-model","messages":[{"role":"user","content":"hello"}],"max_tokens":4},"body_raw":"{\"model\": \"orig-model\",  \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}], \"max_tokens\": 4}"}
{"t_us":1000,"id":"r1","session":"1","turn":1,"api":"chat","output_tokens":4,"path":"/v1/chat/completions","body":{"model":"orig-model","messages":[{"role":"user","content":"again"}],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":999}}
{"t_us":2000,"id":"r2","api":"embeddings","path":"/openai/v1/embeddings","body":{"model":"orig-model","input":"hello"}}
{"t_us":3000,"id":"r3","api":"chat","input_tokens":20,"output_tokens":3}
{"t_us":4000,"id":"r4","api":"completions","output_tokens":2,"body":{"model":"orig-model","prompt":[5,6,7],"max_tokens":9}}
JSONL

# start_rec NAME: a fresh stand-in; sets URL and LOG
start_rec() {
    rm -f "$T/$1.port"
    LOG="$T/$1.log"
    : > "$LOG"
    spawn python3 "$ROOT/tests/record_server.py" "$T/$1.port" "$LOG"
    if ! wait_for_file "$T/$1.port" 10; then fail "stand-in $1 started"; return 1; fi
    URL="http://127.0.0.1:$(cat "$T/$1.port")"
}
logline() { # DIR INDEX: the request's line of DIR/requests.jsonl
    grep "\"index\":$2," "$1/requests.jsonl"
}

# --- gateway, defaults: every record as it was sent ---
start_rec gw
expect_exit "gateway: replay of a captured trace, exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --out "$T/g1" -q
ok "gateway: the captured bytes of record 0 arrive unchanged" $ARR "$LOG" 0 \
    "raw == b'{\"model\": \"orig-model\",  \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}], \"max_tokens\": 4}'"
ok "gateway: a non-streamed record is sent non-streamed, at its endpoint" $ARR "$LOG" 0 \
    "path == '/v1/chat/completions' and 'stream' not in body"
check "gateway: its log line says body_exact, no edits" \
    "logline '$T/g1' 0 | grep -q '\"body_edits\":\[\],\"body_exact\":true'"
check "gateway: the non-streamed reply is one event" "logline '$T/g1' 0 | grep -q '\"events\":1,'"
ok "gateway: a streamed record keeps its stream_options and max_completion_tokens" $ARR "$LOG" 1 \
    "body['stream'] is True and body['stream_options'] == {'include_usage': True} and body['max_completion_tokens'] == 999 and 'max_tokens' not in body"
ok "gateway: an embeddings record goes to its endpoint under the API base" $ARR "$LOG" 2 \
    "path == '/v1/embeddings' and body == {'model': 'orig-model', 'input': 'hello'}"
check "gateway: the embeddings request succeeded" "logline '$T/g1' 2 | grep -q '\"ok\":true'"
ok "gateway: a length-only record is streamed with include_usage" $ARR "$LOG" 3 \
    "body['stream'] is True and body['stream_options']['include_usage'] is True and body['max_tokens'] == 3"
check "gateway: a synthesised body has body_edits null" "logline '$T/g1' 3 | grep -q '\"body_edits\":null,\"body_exact\":false'"
ok "gateway: captured headers are not sent unless asked" $ARR "$LOG" 0 \
    "'x-trace-id' not in headers and 'user-agent' not in headers"
check "run.json says what the client changes and the stream mode" "python3 -c \"
import json,sys
r=json.load(open('$T/g1/run.json'))
sys.exit(0 if r['stream']=='as-sent' and 'length fields are never added' in r['body_edits'] else 1)\""

# --- gateway: --stream on|off, --model ---
: > "$LOG"
expect_exit "gateway --stream on --model: exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --stream on --model m2 --first 2 --out "$T/g2" -q
ok "--stream on: a non-streamed record is streamed with include_usage" $ARR "$LOG" 0 \
    "body['stream'] is True and body['stream_options'] == {'include_usage': True} and body['model'] == 'm2'"
check "--stream on: the log names the edits" "logline '$T/g2' 0 | grep -q '\"body_edits\":\[\"model\",\"stream\",\"stream_options\"\],\"body_exact\":false'"
: > "$LOG"
expect_exit "gateway --no-stream: exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --no-stream --first 2 --out "$T/g3" -q
ok "--no-stream: a streamed record loses stream and stream_options" $ARR "$LOG" 1 \
    "body['stream'] is False and 'stream_options' not in body"
expect_err "--stream takes as-sent, on or off" 2 "--stream must be" \
    "$BIN" replay "$TR" --url "$URL" --stream maybe --out "$T/g4"

# --- gateway: captured headers, when asked ---
: > "$LOG"
expect_exit "gateway --replay-headers: exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --replay-headers --header 'X-Tenant: mine' \
    --api-key sk-run --first 1 --out "$T/g5" -q
ok "--replay-headers: non-secret captured headers arrive" $ARR "$LOG" 0 \
    "headers['user-agent'] == ['orig-client/1.0'] and headers['x-trace-id'] == ['abc']"
ok "--replay-headers: a secret in the trace is never sent, the run's key is" $ARR "$LOG" 0 \
    "headers['authorization'] == ['Bearer sk-run']"
ok "--replay-headers: --header wins, framing and content type are the run's" $ARR "$LOG" 0 \
    "headers['x-tenant'] == ['mine'] and headers['content-type'] == ['application/json'] and headers['host'][0].startswith('127.0.0.1')"
: > "$LOG"
expect_exit "gateway --replay-headers-deny: exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --replay-headers-deny X-Trace-Id --first 1 --out "$T/g6" -q
ok "--replay-headers-deny: the denied header stays home, the others go" $ARR "$LOG" 0 \
    "'x-trace-id' not in headers and headers['user-agent'] == ['orig-client/1.0']"
: > "$LOG"
expect_exit "gateway --replay-headers-allow: exit 0" 0 \
    "$BIN" replay "$TR" --client gateway --url "$URL" --replay-headers-allow x-trace-id --first 1 --out "$T/g7" -q
ok "--replay-headers-allow: only the allowed header goes" $ARR "$LOG" 0 \
    "headers['x-trace-id'] == ['abc'] and 'user-agent' not in headers"

# --- vllm: forced lengths in the body's own field ---
: > "$LOG"
expect_exit "vllm: exit 0" 0 "$BIN" replay "$TR" --client vllm --url "$URL" --first 2 --out "$T/v1" -q
ok "vllm: max_completion_tokens carries the forced length, no max_tokens beside it" $ARR "$LOG" 1 \
    "body['max_completion_tokens'] == 4 and 'max_tokens' not in body and body['min_tokens'] == 4 and body['ignore_eos'] is True"
check "vllm: the log says the forced length and the edits" \
    "logline '$T/v1' 1 | grep -q '\"forced_output_tokens\":4,\"body_edits\":\[\"max_completion_tokens\",\"min_tokens\",\"ignore_eos\"\]'"

# --- lmdeploy: chat endpoint, no session_id, token ids to /generate ---
: > "$LOG"
expect_exit "lmdeploy: exit 0" 0 "$BIN" replay "$TR" --client lmdeploy --url "$URL" --first 2 --out "$T/l1" -q
ok "lmdeploy: a chat record goes to the chat endpoint without session_id" $ARR "$LOG" 1 \
    "path == '/v1/chat/completions' and 'session_id' not in body and body['max_completion_tokens'] == 4 and body['min_new_tokens'] == 4"
: > "$LOG"
expect_exit "lmdeploy --lmdeploy-session-id: exit 0" 0 \
    "$BIN" replay "$TR" --client lmdeploy --url "$URL" --lmdeploy-session-id --first 1 --out "$T/l2" -q
ok "lmdeploy --lmdeploy-session-id: session_id sent" $ARR "$LOG" 0 "body['session_id'] == 1"
expect_err "--lmdeploy-session-id needs the lmdeploy client" 2 "needs --client lmdeploy" \
    "$BIN" replay "$TR" --client vllm --url "$URL" --lmdeploy-session-id --out "$T/l3"
: > "$LOG"
expect_err "lmdeploy --api generate warns that the chat template is lost" 0 "chat template is not applied" \
    "$BIN" replay "$TR" --client lmdeploy --api generate --url "$URL" --first 5 --out "$T/l4" -q
ok "lmdeploy --api generate: a token-id prompt becomes input_ids" $ARR "$LOG" 4 \
    "path == '/generate' and body['input_ids'] == [5, 6, 7] and 'prompt' not in body and body['max_tokens'] == 2"

# --- dependent sessions: the reply received replaces the captured one ---
cat > "$T/dep.jsonl" <<'JSONL'
{"format":"sagellm-trace","version":1,"source":"capture"}
{"t_us":0,"id":"d0","session":"s","turn":0,"api":"chat","body":{"model":"orig-model","messages":[{"role":"user","content":"q1"}]}}
{"t_us":1000,"id":"d1","session":"s","turn":1,"api":"chat","body":{"model":"orig-model","messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"captured reply"},{"role":"user","content":"q2"}]}}
JSONL
: > "$LOG"
expect_exit "dependent sessions over captured bodies: exit 0" 0 \
    "$BIN" replay "$T/dep.jsonl" --client gateway --url "$URL" --sessions dependent --out "$T/d1" -q
ok "dependent: the second turn carries the reply actually received" $ARR "$LOG" 1 \
    "body['messages'][1]['content'] == 'hi there'"
check "dependent: its log line names the change, not body_exact" \
    "logline '$T/d1' 1 | grep -q '\"body_edits\":\[\"messages\"\],\"body_exact\":false'"

# --- bodies: freed once sent (every size), rebuilt for the next request ---
# One worker, requests 300 ms apart, so one pooled transfer sends them all:
# every body must still arrive byte for byte, and the records' own bodies
# (freed once the requests are built) are not needed by the log lines.
python3 - "$T/big.jsonl" <<'EOF2'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"format": "sagellm-trace", "version": 1, "source": "capture"}) + "\n")
    for i, n in enumerate((20000, 9000, 30000, 300)):
        text = "".join(chr(97 + (i * 7 + k) % 26) for k in range(n))
        body = {"model": "orig-model", "messages": [{"role": "user", "content": text}], "max_tokens": 2}
        raw = json.dumps(body, indent=1)
        f.write(json.dumps({"t_us": i * 300000, "id": "big%d" % i, "session": "b", "turn": i, "api": "chat",
                            "output_tokens": 2, "body": body, "body_raw": raw}) + "\n")
        with open("%s.%d" % (sys.argv[1], i), "w") as e:
            e.write(raw)
EOF2
: > "$LOG"
expect_exit "large bodies: replay, exit 0" 0 \
    "$BIN" replay "$T/big.jsonl" --client gateway --url "$URL" --threads 1 --out "$T/big" -q
for i in 0 1 2 3; do
    ok "large bodies: request $i arrives byte for byte" $ARR "$LOG" "$i" \
        "raw == open('$T/big.jsonl.$i', 'rb').read()"
done
check "large bodies: the log lines keep id, session and turn" \
    "logline '$T/big' 2 | grep -q '\"id\":\"big2\",\"session\":\"b\",\"turn\":2,'"

# --- the built-in server: the captured chat records, streamed and not ---
grep -v '"r2"' "$TR" > "$T/chat.jsonl"
rm -f "$T/s.port"
spawn "$BIN" serve --port 0 --port-file "$T/s.port" --preset fast
if wait_for_file "$T/s.port" 10; then
    SURL="http://127.0.0.1:$(cat "$T/s.port")"
    expect_exit "serve: gateway as-sent replay, exit 0" 0 \
        "$BIN" replay "$T/chat.jsonl" --client gateway --url "$SURL" --model sagellm-sim --out "$T/s1" -q
    check "serve: the non-streamed record answered as one JSON body" "logline '$T/s1' 0 | grep -q '\"events\":1,.*\"ok\":true'"
    check "serve: the streamed record answered as a stream" "logline '$T/s1' 1 | grep -q '\"ok\":true' && ! logline '$T/s1' 1 | grep -q '\"events\":1,'"
    expect_exit "serve: vllm replay, exit 0" 0 \
        "$BIN" replay "$T/chat.jsonl" --client vllm --url "$SURL" --model sagellm-sim --out "$T/s2" -q
    check "serve: forcing via max_completion_tokens gives the trace's length" \
        "logline '$T/s2' 1 | grep -q '\"output_tokens\":4,'"
else
    fail "serve started"
fi
finish
