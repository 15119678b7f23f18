#!/usr/bin/env bash
# serve_api.sh — every endpoint of every API profile of `sagellm-bench serve`
# over real HTTP (curl): streaming framing, usage accounting, error shapes,
# metrics, and the ground-truth file against what the client received.
source "$(dirname "$0")/../lib.sh"

# start_server ARGS...: starts `serve --port 0 ARGS` and waits (bounded) for
# its port file; sets SRV_PID, PORT and URL.
start_server() {
    local pf="$T/port.$#.$RANDOM"
    spawn "$BIN" serve --port 0 --port-file "$pf" --preset fast "$@" >"$T/serve.out" 2>"$T/serve.err"
    SRV_PID=$SPAWN_PID
    if ! wait_for_file "$pf" 10; then fail "server starts: $*" "$(head -c 600 "$T/serve.err")"; return 1; fi
    PORT=$(cat "$pf")
    URL="http://127.0.0.1:$PORT"
}

# stop_server: SIGTERM, wait; sets SRV_RC.
stop_server() { kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_RC=$?; }

# post PATH JSON [curl args]: POST with a request id; body to $T/body, status to $T/status.
REQ=0
post() {
    local path=$1 json=$2; shift 2
    REQ=$((REQ + 1))
    curl -sS -m 20 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "X-Request-Id: r$REQ" "$@" --data-binary "$json" "$URL$path" >"$T/status" 2>"$T/curl.err"
}

# sse_check FILE PROFILE KIND INCLUDE_USAGE CONTINUOUS EXPECT_TOKENS [GT REQID]:
# validates an SSE body's framing and usage accounting (and its ground-truth
# line); prints "tokens=N finish=R prompt=P" on success.
sse_check() {
    python3 - "$@" <<'PY'
import json, sys
f, prof, kind, inc, cont, expect = sys.argv[1:7]
inc, cont, expect = inc == "1", cont == "1", int(expect)
gt, rid = (sys.argv[7], sys.argv[8]) if len(sys.argv) > 8 else (None, None)
def die(m): print("FAIL: " + m); sys.exit(1)
data = open(f).read()
if not data.endswith("data: [DONE]\n\n"): die("does not end with data: [DONE]: " + data[-200:])
ev = data.split("\n\n")[:-1]
for e in ev:
    if not e.startswith("data: ") or "\n" in e: die("bad event framing: %r" % e[:100])
pay = [e[6:] for e in ev]
if "[DONE]" in pay[:-1]: die("[DONE] before the end")
objs = [json.loads(p) for p in pay[:-1]]
tokens = 0; events = 0; finish = None; prompt = None; text = ""
if kind == "generate":
    for i, o in enumerate(objs):
        if set(o) != {"text", "output_ids", "meta_info"}: die("keys %s" % sorted(o))
        last = i == len(objs) - 1
        n = len(o["output_ids"])
        if n != len(o["text"].split()) or (n < 1) != last: die("output_ids vs text: %r" % o)
        tokens += n; events += n > 0; text += o["text"]
        m = o["meta_info"]
        if m["completion_tokens"] != tokens: die("completion_tokens not cumulative: %r" % m)
        if m["routed_experts"] is not None: die("routed_experts")
        prompt = m["prompt_tokens"]
        fr = m["finish_reason"]
        if (fr is None) == last: die("finish_reason on the wrong event: %r" % m)
        if fr is not None: finish = fr["type"]
else:
    obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
    ids = {o["id"] for o in objs}
    if len(ids) != 1: die("ids differ")
    if any(o["object"] != obj for o in objs): die("object is not " + obj)
    body = objs
    if inc:
        u = objs[-1]
        if u.get("choices") != [] or "usage" not in u: die("no final usage chunk: %r" % u)
        body = objs[:-1]
    if any(o.get("choices") == [] for o in body): die("empty choices before the end")
    if kind == "chat" and prof != "lmdeploy":
        d = body[0]["choices"][0]["delta"]
        want = {"role": "assistant", "content": ""}
        if prof == "gateway": want["refusal"] = None
        if d != want: die("first chunk is not role-only: %r" % d)
        body = body[1:]
    fins = 0
    for o in body:
        c = o["choices"][0]
        piece = c.get("delta", {}).get("content") if kind == "chat" else c.get("text")
        if c.get("finish_reason") is not None:
            fins += 1; finish = c["finish_reason"]
        elif fins: die("chunk after the finish_reason")
        if piece:
            n = len(piece.split()); tokens += n; events += 1; text += piece
        elif not (prof == "gateway" and c.get("delta") == {} and c.get("finish_reason")) and \
             not (prof == "lmdeploy" and c.get("finish_reason") and (c.get("delta") == {"role": "assistant", "content": ""} if kind == "chat" else c.get("text") == "")):
            die("chunk without content: %r" % o)
        if cont:
            us = o.get("usage")
            if not us or us["completion_tokens"] != tokens: die("continuous usage wrong: %r" % o)
        elif prof == "lmdeploy":    # 0.16: None fields dropped, "usage": null only with include_usage
            if ("usage" in o) != inc or o.get("usage") is not None or "logprobs" in c: die("lmdeploy 0.16 chunk fields: %r" % o)
            if (c.get("finish_reason") is not None) != ("finish_reason" in c): die("finish_reason null: %r" % o)
    if fins != 1: die("%d chunks with a finish_reason" % fins)
    if inc:
        us = objs[-1]["usage"]
        if us["completion_tokens"] != tokens: die("usage.completion_tokens %d != %d tokens received" % (us["completion_tokens"], tokens))
        if us["total_tokens"] != us["prompt_tokens"] + tokens: die("total_tokens wrong")
        prompt = us["prompt_tokens"]
if expect >= 0 and tokens != expect: die("%d tokens, expected %d" % (tokens, expect))
if gt:
    lines = [json.loads(l) for l in open(gt) if l.strip()]
    m = [l for l in lines if l.get("client_request_id") == rid]
    if len(m) != 1: die("%d ground-truth lines for %s" % (len(m), rid))
    g = m[0]
    if g["outcome"] != "ok" or g["sent_tokens"] != tokens or g["events"] != events: die("ground truth %r vs %d tokens %d events" % ({k: g[k] for k in ("outcome", "sent_tokens", "events")}, tokens, events))
    if prompt is not None and g["prompt_tokens"] != prompt: die("prompt_tokens differ")
    if sum(g["event_tokens"]) != tokens: die("event_tokens do not add up")
    w, s, e = g["event_write_ns"], g["event_sched_ns"], g["event_emit_ns"]
    if any(w[i] < e[i] or e[i] < s[i] for i in range(len(w))): die("a write precedes its schedule")
    if w != sorted(w) or not (g["t_arrival_ns"] <= g["t_first_write_ns"] <= w[0] <= w[-1] <= g["t_end_ns"]): die("times out of order")
print("tokens=%d finish=%s prompt=%s" % (tokens, finish, prompt))
PY
}

# json_get FILE EXPR: prints a Python expression over the JSON document j
# (and S, the HTTP status of the last post).
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); S=int(sys.argv[3]); print(eval(sys.argv[2]))' \
        "$1" "$2" "$(cat "$T/status" 2>/dev/null || echo 0)"
}

# ---------------------------------------------------------------- vllm
GT="$T/gt-vllm.jsonl"
start_server --api vllm --model test-model --ground-truth "$GT" --max-body-size 4096 --max-model-len 600 --eos-mean 6 || { finish; exit 1; }

CHAT='{"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}]'
check "vllm GET /health is 200" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/health")" = 200 ]'
curl -s "$URL/v1/models" >"$T/models"
expect_out "vllm GET /v1/models lists the model" "^\('test-model', 'vllm', 600\)$" \
    json_get "$T/models" 'j["data"][0]["id"], j["data"][0]["owned_by"], j["data"][0]["max_model_len"]'

post /v1/chat/completions "$CHAT"',"max_tokens":12,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}'
expect_out "vllm chat stream: framing, continuous usage, exact usage, ground truth" 'tokens=12 finish=length' \
    sse_check "$T/body" vllm chat 1 1 12 "$GT" "r$REQ"

post /v1/chat/completions "$CHAT"',"max_tokens":40,"stream":true}'
expect_out "vllm chat stream without usage ends with [DONE]" 'tokens=[0-9]+ finish=(stop|length)' \
    sse_check "$T/body" vllm chat 0 0 -1 "$GT" "r$REQ"

post /v1/chat/completions "$CHAT"',"max_tokens":30,"min_tokens":25,"stream":true,"stream_options":{"include_usage":true}}'
expect_out "vllm min_tokens holds back EOS" 'tokens=(2[5-9]|30) ' sse_check "$T/body" vllm chat 1 0 -1 "$GT" "r$REQ"

post /v1/completions '{"prompt":"Once upon a time","max_tokens":7,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}'
expect_out "vllm completions stream" 'tokens=7 finish=length prompt=4' sse_check "$T/body" vllm completions 1 0 7 "$GT" "r$REQ"

post /v1/completions '{"prompt":[1,2,3,4,5,6],"max_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}'
expect_out "vllm completions with token ids" 'tokens=3 finish=length prompt=6' sse_check "$T/body" vllm completions 1 1 3

post /v1/chat/completions "$CHAT"',"max_completion_tokens":9,"ignore_eos":true}'
expect_out "vllm chat non-streamed: 200, usage and content agree" "^\(200, 'chat.completion', 9, 9, 'length'\)$" \
    json_get "$T/body" 'S, j["object"], len(j["choices"][0]["message"]["content"].split()), j["usage"]["completion_tokens"], j["choices"][0]["finish_reason"]'
post /v1/completions '{"prompt":"abc","max_tokens":4,"ignore_eos":true}'
expect_out "vllm completions non-streamed" "^\('text_completion', 4, \{'prompt_tokens': 1, 'total_tokens': 5, 'completion_tokens': 4\}\)$" \
    json_get "$T/body" 'j["object"], len(j["choices"][0]["text"].split()), j["usage"]'

# Error shapes: {"error": {"message", "type", "param", "code"}}.
vllm_err() { # DESC STATUS TYPE PARAM
    expect_out "$1" "^\($2, \['code', 'message', 'param', 'type'\], '$3', $4, $2\)$" \
        json_get "$T/body" 'S, sorted(j["error"]), j["error"]["type"], j["error"]["param"], j["error"]["code"]'
}
post /v1/chat/completions '{"messages": [}'
vllm_err "vllm invalid JSON is 400 BadRequestError" 400 BadRequestError None
post /v1/chat/completions '{"model":"test-model"}'
vllm_err "vllm missing messages is 400 naming the field" 400 BadRequestError "'messages'"
post /v1/chat/completions "$CHAT"',"max_tokens":"many"}'
vllm_err "vllm max_tokens of the wrong type is 400" 400 BadRequestError "'max_tokens'"
post /v1/chat/completions "$CHAT"',"max_tokens":0}'
vllm_err "vllm max_tokens 0 is 400" 400 BadRequestError "'max_tokens'"
post /v1/chat/completions "$CHAT"',"max_tokens":5,"min_tokens":6}'
vllm_err "vllm min_tokens above max_tokens is 400" 400 BadRequestError "'min_tokens'"
post /v1/chat/completions "$CHAT"',"stream_options":{"include_usage":true}}'
vllm_err "vllm stream_options without stream is 400" 400 BadRequestError "'stream_options'"
post /v1/chat/completions '{"model":"other","messages":[{"role":"user","content":"x"}]}'
vllm_err "vllm unknown model is 404 NotFoundError" 404 NotFoundError "'model'"
post /v1/completions '{"prompt":"too long","max_tokens":599}'
vllm_err "vllm prompt + max_tokens over max_model_len is 400" 400 BadRequestError None
check "... with vLLM's message" 'grep -q "maximum context length is 600 tokens" "$T/body"'
post /v1/completions "{\"prompt\":\"$(head -c 5000 /dev/zero | tr '\0' 'a')\"}"
vllm_err "vllm body over --max-body-size is 413" 413 BadRequestError None
post /v1/nothing '{}'
check "vllm unknown path is 404 {detail}" '[ "$(cat "$T/status")" = 404 ] && [ "$(cat "$T/body")" = "{\"detail\":\"Not Found\"}" ]'
check "vllm GET on a POST endpoint is 405" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/v1/completions")" = 405 ]'
check "vllm POST /generate is 404 (LMDeploy only)" '[ "$(curl -s -o /dev/null -w "%{http_code}" -d "{}" "$URL/generate")" = 404 ]'

curl -s "$URL/metrics" >"$T/metrics"
for name in vllm:num_requests_running vllm:num_requests_waiting vllm:kv_cache_usage_perc \
            vllm:prompt_tokens_total vllm:generation_tokens_total vllm:request_success_total \
            vllm:time_to_first_token_seconds_bucket vllm:e2e_request_latency_seconds_count; do
    check "vllm /metrics has $name" 'grep -q "^$name{model_name=\"test-model\"" "$T/metrics"'
done
check "vllm /metrics counts the 7 finished requests" '[ "$(awk "/^vllm:request_success_total/ {s += \$2} END {print s}" "$T/metrics")" = 7 ] && grep -q "^vllm:e2e_request_latency_seconds_count{.*} 7$" "$T/metrics"'
gen=$(python3 -c 'import json,sys; print(sum(j["sent_tokens"] for j in map(json.loads, open(sys.argv[1])) if j["type"] == "request"))' "$GT")
check "vllm generation_tokens_total equals the tokens sent ($gen)" 'grep -Eq "^vllm:generation_tokens_total\{.*\} $gen$" "$T/metrics"'

stop_server
check "vllm server exits 0 on SIGTERM" '[ "$SRV_RC" = 0 ]'
check "vllm ground truth: header plus one line per generation request ($REQ sent, 2 routing errors)" \
    '[ "$(grep -c "\"type\":\"request\"" "$GT")" = $((REQ - 1)) ] && head -n 1 "$GT" | grep -q "\"anchor_realtime_ns\""'

# ---------------------------------------------------------------- lmdeploy
GT="$T/gt-lmdeploy.jsonl"
REQ=0
start_server --api lmdeploy --model lm --ground-truth "$GT" --tokens-per-event 3 --max-model-len 300 || { finish; exit 1; }
post /generate '{"prompt":"hello world","max_tokens":10,"ignore_eos":true,"stream":true,"session_id":42}'
expect_out "lmdeploy /generate stream: cumulative meta_info, 3 tokens per event" 'tokens=10 finish=length prompt=2' \
    sse_check "$T/body" lmdeploy generate 0 0 10 "$GT" "r$REQ"
check "lmdeploy events carry 1, then 3 tokens" 'python3 -c "import json,sys; l=[json.loads(x) for x in open(sys.argv[1]) if \"r$REQ\" in x][0]; sys.exit(l[\"event_tokens\"] != [1,3,3,3] or l[\"session_id\"] != 42)" "$GT"'
post /generate '{"input_ids":[5,6,7],"max_tokens":4,"ignore_eos":true}'
expect_out "lmdeploy /generate non-streamed with input_ids" "^\(4, 3, 4, \{'type': 'length'\}\)$" \
    json_get "$T/body" 'len(j["output_ids"]), j["meta_info"]["prompt_tokens"], j["meta_info"]["completion_tokens"], j["meta_info"]["finish_reason"]'
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":6,"ignore_eos":true,"session_id":7,"stream":true,"stream_options":{"include_usage":true}}'
expect_out "lmdeploy chat stream" 'tokens=6 finish=length' sse_check "$T/body" lmdeploy chat 1 0 6 "$GT" "r$REQ"
post /v1/completions '{"prompt":"hi","max_tokens":8,"min_new_tokens":8,"stream":true}'
expect_out "lmdeploy completions with min_new_tokens" 'tokens=8 ' sse_check "$T/body" lmdeploy completions 0 0 8 "$GT" "r$REQ"
post /v1/completions '{"prompt":"hi","max_tokens":2}'
expect_out "lmdeploy completions non-streamed" "^\(200, 'text_completion', True\)$" \
    json_get "$T/body" 'S, j["object"], 1 <= j["usage"]["completion_tokens"] <= 2'
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
expect_out "lmdeploy 0.16 non-streamed chat: LMDeploy's fields in its order" \
    "^\(\['id', 'object', 'created', 'model', 'choices', 'usage', 'service_tier'\], \['index', 'message', 'logprobs', 'output_token_logprobs', 'finish_reason', 'output_ids', 'routed_experts'\], \['role', 'content', 'reasoning_content', 'tool_calls'\], \{'cached_tokens': [0-9]+\}\)$" \
    json_get "$T/body" 'list(j), list(j["choices"][0]), list(j["choices"][0]["message"]), j["usage"]["prompt_tokens_details"]'
lm_err() { # DESC STATUS
    expect_out "$1" "^\($2, \['code', 'message', 'object', 'param', 'type'\], 'error', $2\)$" \
        json_get "$T/body" 'S, sorted(j), j["object"], j["code"]'
}
post /generate '{"max_tokens":3}'
lm_err "lmdeploy /generate without a prompt: flat 400 error" 400
post /generate 'not json'
lm_err "lmdeploy invalid JSON: flat 400 error" 400
post /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"x"}]}'
lm_err "lmdeploy unknown model: flat 404 error" 404
post /v1/completions '{"prompt":"abc","max_tokens":100000,"ignore_eos":true}'
expect_out "lmdeploy: max_tokens past the context is no error; the output ends at the context (300 - 1)" "^\(200, 'length', 299\)$" \
    json_get "$T/body" 'S, j["choices"][0]["finish_reason"], j["usage"]["completion_tokens"]'
post /generate '{"input_ids":'"$(python3 -c 'print(list(range(300)))')"',"max_tokens":3}'
check "lmdeploy: a prompt of the whole context is LMDeploy's 400" \
    '[ "$(cat "$T/status")" = 400 ] && grep -q "Input length (300) must be smaller than the model context length (300)." "$T/body"'
curl -s "$URL/metrics" >"$T/metrics"
for name in lmdeploy:num_requests_running lmdeploy:num_requests_waiting lmdeploy:gpu_cache_usage_perc \
            lmdeploy:prompt_tokens_total lmdeploy:generation_tokens_total lmdeploy:time_to_first_token_seconds_count; do
    check "lmdeploy /metrics has $name" 'grep -q "^$name{model_name=\"lm\"" "$T/metrics"'
done
check "lmdeploy /health and /v1/models" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/health")" = 200 ] && curl -s "$URL/v1/models" | grep -q "\"owned_by\":\"lmdeploy\""'
check "lmdeploy 0.16 /health body is the health monitor's snapshot" \
    '[ "$(curl -s "$URL/health")" = "{\"status\":\"healthy\",\"message\":\"TurboMind engine is healthy.\"}" ]'
post /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"x"}]}'
check "lmdeploy 0.16 unknown model: exact body (repr quotes, not_found_error, field order)" \
    '[ "$(cat "$T/body")" = "{\"message\":\"The model '"'"'nope'"'"' does not exist.\",\"type\":\"not_found_error\",\"code\":404,\"param\":\"model\",\"object\":\"error\"}" ]'
post /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}'
check "lmdeploy tools without a tool-call parser: 400 with LMDeploy's message" \
    '[ "$(cat "$T/status")" = 400 ] && grep -q "launch the api_server with --tool-call-parser" "$T/body"'
stop_server
check "lmdeploy ground truth complete" '[ "$(grep -c "\"type\":\"request\"" "$GT")" = "$REQ" ]'
check "lmdeploy ground truth header names the release imitated" 'head -n 1 "$GT" | grep -q "\"lmdeploy_version\":\"0.16\""'

# session_id in use by a running request. The first request streams until its
# client is stopped; the second is sent once the first chunk has arrived.
busy_session() { # PATH BODY: sets BUSY_STATUS, BUSY_BODY
    rm -f "$T/long"
    curl -sN -m 30 -o "$T/long" -d "$2" "$URL$1" 2>/dev/null & local cpid=$!
    local n=200; while [ $n -gt 0 ] && ! grep -q '^data: ' "$T/long" 2>/dev/null; do sleep 0.05; n=$((n - 1)); done
    post "$1" "$2"
    BUSY_STATUS=$(cat "$T/status"); BUSY_BODY=$(cat "$T/body")
    kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
}
LONG='{"prompt":"x","max_tokens":100000,"ignore_eos":true,"stream":true,"session_id":9}'
start_server --api lmdeploy --step-time 5ms || { finish; exit 1; }
busy_session /generate "$LONG"
check "lmdeploy 0.16: a busy session_id is a 500 from the ASGI server ($BUSY_STATUS)" \
    '[ "$BUSY_STATUS" = 500 ] && [ "$BUSY_BODY" = "Internal Server Error" ]'
ok=0; for i in $(seq 100); do post /generate '{"prompt":"x","max_tokens":2,"session_id":9}'; [ "$(cat "$T/status")" = 200 ] && { ok=1; break; }; sleep 0.05; done
check "lmdeploy: the session_id is free again once its request is over" '[ $ok = 1 ]'
stop_server
start_server --api lmdeploy --lmdeploy-version 0.12 --step-time 5ms --disable-metrics --api-key k12 || { finish; exit 1; }
curl() { command curl -H "Authorization: Bearer k12" "$@"; }
busy_session /v1/completions "$LONG"
unset -f curl
check "lmdeploy 0.12: a busy session_id is a 400 'occupied' ($BUSY_STATUS)" \
    '[ "$BUSY_STATUS" = 400 ] && [ "$BUSY_BODY" = "{\"message\":\"The session_id 9 is occupied.\",\"type\":\"invalid_request_error\",\"code\":400,\"param\":null,\"object\":\"error\"}" ]'
post /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' -H "Authorization: Bearer k12"
check "lmdeploy 0.12 chat stream: every field in every delta, the usage in the finishing chunk, no usage chunk" \
    'python3 -c "
import json, sys
e = open(sys.argv[1]).read().split(\"\n\n\")
o = [json.loads(x[6:]) for x in e[:-2]]
d = [c[\"choices\"][0][\"delta\"] for c in o]
ok = e[-2] == \"data: [DONE]\" and len(o) == 4 and all(list(x) == [\"role\", \"content\", \"reasoning_content\", \"gen_tokens\", \"tool_calls\"] for x in d)
ok = ok and d[-1][\"content\"] == \"\" and o[-1][\"choices\"][0][\"finish_reason\"] == \"length\" and all(c[\"usage\"] is None for c in o[:-1])
u = o[-1][\"usage\"]
sys.exit(not (ok and u[\"completion_tokens\"] == 3 and u[\"total_tokens\"] == u[\"prompt_tokens\"] + 3))" "$T/body"'
post /v1/completions '{"prompt":"x","max_tokens":1}'
check "lmdeploy 0.12 without the API key: 401 with FastChat's detail" \
    '[ "$(cat "$T/status")" = 401 ] && [ "$(cat "$T/body")" = "{\"detail\":{\"error\":{\"message\":\"Please request with valid api key!\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}}" ]'
post /v1/completions '{"prompt":"x","n":3,"max_tokens":2}' -H "Authorization: Bearer k12"
check "lmdeploy 0.12 falls back to n=1" 'json_get "$T/body" "S, len(j[\"choices\"])" | grep -qx "(200, 1)"'
check "lmdeploy 0.12: /health is 200 with an empty body" \
    '[ "$(curl -s -w "%{http_code}" "$URL/health")" = 200 ]'
check "lmdeploy --disable-metrics: /metrics is FastAPI's 404" \
    '[ "$(curl -s -w " %{http_code}" "$URL/metrics")" = "{\"detail\":\"Not Found\"} 404" ]'
post /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"x"}]}' -H "Authorization: Bearer k12"
check "lmdeploy 0.12 unknown model: invalid_request_error" 'grep -q "\"type\":\"invalid_request_error\",\"code\":404" "$T/body"'
stop_server

# ---------------------------------------------------------------- gateway
GT="$T/gt-gateway.jsonl"
REQ=0
start_server --api gateway --model gpt-sim --api-key sekret --ground-truth "$GT" || { finish; exit 1; }
AUTH=(-H "Authorization: Bearer sekret")
post /v1/chat/completions '{"model":"gpt-sim","messages":[{"role":"user","content":"hi"}]}'
expect_out "gateway without a key is 401 with an OpenAI error" "^\(401, 'invalid_request_error', 'invalid_api_key'\)$" \
    json_get "$T/body" 'S, j["error"]["type"], j["error"]["code"]'
post /v1/chat/completions '{"model":"gpt-sim","messages":[{"role":"user","content":"hi"}]}' -H "Authorization: Bearer wrong"
check "gateway with a wrong key is 401" '[ "$(cat "$T/status")" = 401 ]'
post /v1/chat/completions '{"model":"gpt-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}' "${AUTH[@]}"
expect_out "gateway chat stream: role chunk, empty-delta finish, usage" 'tokens=[1-5] ' sse_check "$T/body" gateway chat 1 0 -1 "$GT" "r$REQ"
check "gateway chunks carry usage null and the usage chunk is OpenAI-ordered" 'grep -q "\"usage\":null" "$T/body" && grep -q "\"choices\":\[\],\"usage\":{\"prompt_tokens\":[0-9]*,\"completion_tokens\"" "$T/body"'
post /v1/completions '{"model":"gpt-sim","prompt":"hi","max_tokens":3,"stream":true}' "${AUTH[@]}"
expect_out "gateway completions stream" 'tokens=[1-3] ' sse_check "$T/body" gateway completions 0 0 -1 "$GT" "r$REQ"
post /v1/completions '{"model":"gpt-sim","prompt":"hi","max_tokens":3}' "${AUTH[@]}"
expect_out "gateway completions non-streamed" "^\(200, 'text_completion'\)$" json_get "$T/body" 'S, j["object"]'
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}]}' "${AUTH[@]}"
expect_out "gateway without model is 400 naming it" "^\(400, 'model', None\)$" json_get "$T/body" 'S, j["error"]["param"], j["error"]["code"]'
post /generate '{"prompt":"x"}' "${AUTH[@]}"
check "gateway has no /generate (404 with an OpenAI error)" '[ "$(cat "$T/status")" = 404 ] && grep -q "Invalid URL" "$T/body"'
check "gateway has no /metrics" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/metrics")" = 404 ]'
check "gateway /v1/models needs the key" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/v1/models")" = 401 ] && [ "$(curl -s -o /dev/null -w "%{http_code}" "${AUTH[@]}" "$URL/v1/models")" = 200 ]'
check "gateway /health needs no key" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/health")" = 200 ]'
stop_server
check "gateway server exits 0" '[ "$SRV_RC" = 0 ]'


RCS=""
# ---------------------------------------------------------------- shapes: tool calls, reasoning, aborts
# shape_check FILE PROFILE: a chat stream's deltas put together, per kind;
# prints "role=R reasoning=N content=N tool=NAME args=A finish=F usage=U".
shape_check() {
    python3 - "$@" <<'PY'
import json, re, sys
f, prof = sys.argv[1:3]
def die(m): print("FAIL: " + m); sys.exit(1)
data = open(f).read()
if not data.endswith("data: [DONE]\n\n"): die("no [DONE]")
objs = [json.loads(e[6:]) for e in data.split("\n\n")[:-2]]
usage = objs[-1]["usage"]["completion_tokens"] if objs and objs[-1].get("choices") == [] else None
if usage is not None: objs = objs[:-1]
roles, reasoning, content, args, name, finish, ids = [], "", "", "", None, [], []
for i, o in enumerate(objs):
    c = o["choices"][0]
    if c["index"] != 0: die("index %r" % c["index"])
    d = c["delta"]
    if "role" in d: roles.append(d["role"])
    reasoning += d.get("reasoning" if prof == "vllm" else "reasoning_content") or ""
    if prof == "vllm" and "reasoning_content" in d: die("vLLM sends 'reasoning', not 'reasoning_content'")
    content += d.get("content") or ""
    for tc in d.get("tool_calls") or []:
        if tc["index"] != 0: die("tool index")
        if "id" in tc:
            if name is not None: die("a second tool call header")
            want = r"chatcmpl-tool-[0-9a-f]{32}" if prof == "vllm" else r"call_[0-9a-f]{24}"
            if not re.fullmatch(want, tc["id"]) or tc["type"] != "function": die("tool header %r" % tc)
            name = tc["function"]["name"]
        elif set(tc) != {"index", "function"} or set(tc["function"]) != {"arguments"}: die("fragment %r" % tc)
        args += tc["function"]["arguments"]
    if c.get("finish_reason") is not None: finish.append((i, c["finish_reason"]))
if len(finish) != 1 or finish[0][0] != len(objs) - 1: die("finish_reason not once on the last chunk: %r" % finish)
fr = finish[0][1]
n = len(reasoning.split()) + len(content.split()) + len(re.sub(r'^\{"[a-z]+": "|"\}$', " ", args).split())
if usage is not None and usage != n: die("usage %d != %d tokens streamed" % (usage, n))
if name is not None and fr in ("tool_calls", "stop"):
    a = json.loads(args)
    if list(a) != [{"get_weather": "city"}.get(name, "input")] or len(list(a.values())[0].split()) != n: die("arguments %r" % a)
print("role=%s reasoning=%d content=%d tool=%s args=%s finish=%s usage=%s" % (
    ",".join(roles), len(reasoning.split()), len(content.split()), name, "json" if name and fr != "length" else ("open" if name else "-"), fr, usage))
PY
}
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},{"type":"function","function":{"name":"get_time"}}]'
ASK='"messages":[{"role":"user","content":"weather?"}]'
GT="$T/gt-shapes.jsonl"
REQ=0
start_server --api vllm --eos-mean 3 --tokens-per-event 2 --ground-truth "$GT" || { finish; exit 1; }
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":\"required\",\"max_tokens\":400,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm tool_choice required, streamed: header chunk, argument fragments, finish tool_calls" \
    '^role=assistant reasoning=0 content=0 tool=get_(weather|time) args=json finish=tool_calls usage=[0-9]+$' shape_check "$T/body" vllm
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"max_tokens\":5,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm named tool cut by max_tokens: finish length, arguments left open, usage counts them" \
    '^role=assistant reasoning=0 content=0 tool=get_weather args=open finish=length usage=5$' shape_check "$T/body" vllm
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"max_tokens\":400}"
expect_out "vllm named tool, non-streamed: message.tool_calls, content \"\", finish stop" \
    "^\('', \['annotations', 'audio', 'content', 'function_call', 'reasoning', 'refusal', 'role', 'tool_calls'\], 'function', 'get_weather', \['city'\], True, 'stop'\)$" \
    json_get "$T/body" 'j["choices"][0]["message"]["content"], sorted(j["choices"][0]["message"]), j["choices"][0]["message"]["tool_calls"][0]["type"], j["choices"][0]["message"]["tool_calls"][0]["function"]["name"], list(json.loads(j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])), len(json.loads(j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])["city"].split()) == j["usage"]["completion_tokens"], j["choices"][0]["finish_reason"]'
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":\"none\",\"max_tokens\":4,\"ignore_eos\":true}"
expect_out "vllm tool_choice none: plain content, no tool_calls key" "^\(4, False\)$" \
    json_get "$T/body" 'len(j["choices"][0]["message"]["content"].split()), "tool_calls" in j["choices"][0]["message"]'
: >"$T/auto"
for i in $(seq 16); do
    post /v1/chat/completions "{$ASK,$TOOLS,\"max_tokens\":400}"
    json_get "$T/body" '"tool" if j["choices"][0]["message"].get("tool_calls") else "text"' >>"$T/auto"
done
check "vllm tool_choice auto (the default with tools): some requests call a tool, some answer ($(sort "$T/auto" | uniq -c | tr -s ' \n' ' '))" \
    'grep -q tool "$T/auto" && grep -q text "$T/auto"'
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}}"
vllm_err "vllm a named tool that is not in tools is 400" 400 BadRequestError "'tools'"
post /v1/chat/completions "{$ASK,\"tool_choice\":\"required\"}"
vllm_err "vllm tool_choice required without tools is 400" 400 BadRequestError "'tool_choice'"
post /v1/completions '{"prompt":"no max_tokens here","ignore_eos":true}'
expect_out "vllm completions without max_tokens stop at 16, as vLLM's default" "^\(16, 'length'\)$" \
    json_get "$T/body" 'j["usage"]["completion_tokens"], j["choices"][0]["finish_reason"]'
post /v1/chat/completions "{$ASK,\"ignore_eos\":true,\"max_tokens\":40}"
check "... chat keeps max_tokens as given" 'json_get "$T/body" "j[\"usage\"][\"completion_tokens\"]" | grep -qx 40'
stop_server; RCS+=" $SRV_RC"
check "shapes ground truth: one line per request, tool-call tokens counted as sent" \
    'python3 -c "import json,sys; l=[json.loads(x) for x in open(sys.argv[1])][1:]; sys.exit(len(l) != $REQ or any(g[\"status\"] == 200 and g[\"sent_tokens\"] != g[\"completion_tokens\"] for g in l))" "$GT"'

start_server --api vllm --reasoning 0.5 --tokens-per-event 3 || { finish; exit 1; }
post /v1/chat/completions "{$ASK,\"max_tokens\":6,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm --reasoning 0.5: 3 of 6 tokens stream as delta.reasoning, then content" \
    '^role=assistant reasoning=3 content=3 tool=None args=- finish=length usage=6$' shape_check "$T/body" vllm
check "... an event straddling the boundary is one delta with content and reasoning" 'grep -q "\"delta\":{\"content\":\"[a-z ]*\",\"reasoning\":\"[a-z ]*\"}" "$T/body"'
post /v1/chat/completions "{$ASK,\"max_tokens\":8,\"ignore_eos\":true}"
expect_out "vllm reasoning non-streamed: message.reasoning and content" "^\(4, 4\)$" \
    json_get "$T/body" 'len(j["choices"][0]["message"]["reasoning"].split()), len(j["choices"][0]["message"]["content"].split())'
post /v1/chat/completions "{$ASK,\"max_tokens\":8,\"ignore_eos\":true,\"chat_template_kwargs\":{\"enable_thinking\":false}}"
expect_out "vllm enable_thinking false: no reasoning" "^\(None, 8\)$" \
    json_get "$T/body" 'j["choices"][0]["message"]["reasoning"], len(j["choices"][0]["message"]["content"].split())'
post /v1/chat/completions "{$ASK,$TOOLS,\"tool_choice\":\"required\",\"max_tokens\":8,\"ignore_eos\":true,\"stream\":true}"
expect_out "vllm reasoning then a tool call" '^role=assistant reasoning=4 content=0 tool=get_(weather|time) args=open finish=length usage=None$' shape_check "$T/body" vllm
stop_server; RCS+=" $SRV_RC"

start_server --api lmdeploy --reasoning 0.25 || { finish; exit 1; }
post /v1/chat/completions "{$ASK,\"max_tokens\":8,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "lmdeploy --reasoning: delta.reasoning_content with the role, then content" \
    '^role=(assistant,){8}assistant reasoning=2 content=6 tool=None args=- finish=length usage=8$' shape_check "$T/body" lmdeploy
post /v1/chat/completions "{$ASK,\"max_tokens\":8,\"ignore_eos\":true}"
expect_out "lmdeploy reasoning non-streamed: message.reasoning_content, tool_calls null" "^\(2, 6, None\)$" \
    json_get "$T/body" 'len(j["choices"][0]["message"]["reasoning_content"].split()), len(j["choices"][0]["message"]["content"].split()), j["choices"][0]["message"]["tool_calls"]'
stop_server; RCS+=" $SRV_RC"

start_server --api gateway --eos-mean 3 || { finish; exit 1; }
post /v1/chat/completions "{\"model\":\"sagellm-sim\",$ASK,$TOOLS,\"tool_choice\":\"required\",\"max_tokens\":400,\"stream\":true}"
expect_out "gateway tool call: announced with the role, fragments, empty delta with tool_calls" \
    '^role=assistant reasoning=0 content=0 tool=get_(weather|time) args=json finish=tool_calls usage=None$' shape_check "$T/body" gateway
check "... the first chunk is OpenAI's: content null, empty arguments, refusal null" \
    'head -n 1 "$T/body" | grep -q "\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":\[{\"index\":0,\"id\":\"call_[0-9a-f]*\",\"type\":\"function\",\"function\":{\"name\":\"get_[a-z]*\",\"arguments\":\"\"}}\],\"refusal\":null}"'
post /v1/chat/completions "{\"model\":\"sagellm-sim\",$ASK,$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}},\"max_tokens\":400}"
expect_out "gateway named tool non-streamed: content null, input argument, finish stop" "^\(None, 'get_time', \['input'\], 'stop'\)$" \
    json_get "$T/body" 'j["choices"][0]["message"]["content"], j["choices"][0]["message"]["tool_calls"][0]["function"]["name"], list(json.loads(j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])), j["choices"][0]["finish_reason"]'
stop_server; RCS+=" $SRV_RC"

# Aborts: the stream ends with finish_reason "abort", usage, [DONE].
GT="$T/gt-abort.jsonl"
start_server --api vllm --abort-rate 1 --ground-truth "$GT" || { finish; exit 1; }
post /v1/chat/completions "{$ASK,\"max_tokens\":50,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm abort: a last chunk with empty content and finish_reason abort, usage of what was sent" \
    '^role=assistant reasoning=0 content=[1-8] tool=None args=- finish=abort usage=[1-8]$' shape_check "$T/body" vllm
check "... the abort chunk is vLLM's" 'grep -q "\"choices\":\[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"abort\",\"stop_reason\":null}\]}" "$T/body"'
post /v1/completions '{"prompt":"x","max_tokens":50,"ignore_eos":true}'
expect_out "vllm abort non-streamed: 200 with the text so far" "^\(200, 'abort', True\)$" \
    json_get "$T/body" 'S, j["choices"][0]["finish_reason"], 1 <= len(j["choices"][0]["text"].split()) == j["usage"]["completion_tokens"] <= 8'
stop_server; RCS+=" $SRV_RC"
check "abort ground truth: outcome and fault abort, finish_reason abort" \
    'python3 -c "import json,sys; l=[json.loads(x) for x in open(sys.argv[1])][1:]; sys.exit(len(l) != 2 or any((g[\"outcome\"], g[\"fault\"], g[\"finish_reason\"]) != (\"abort\",) * 3 for g in l))" "$GT"'
start_server --api lmdeploy --abort-rate 1 || { finish; exit 1; }
post /generate '{"prompt":"x","max_tokens":50,"ignore_eos":true,"stream":true}'
check "lmdeploy /generate abort: a last event without text, finish_reason {type: abort}" \
    'python3 -c "import json,sys; e=open(sys.argv[1]).read().split(\"\n\n\"); o=json.loads(e[-3][6:]); m=o[\"meta_info\"]; sys.exit(e[-2] != \"data: [DONE]\" or o[\"text\"] != \"\" or o[\"output_ids\"] != [] or m[\"finish_reason\"] != {\"type\": \"abort\"} or m[\"completion_tokens\"] != sum(len(json.loads(x[6:])[\"output_ids\"]) for x in e[:-3]))" "$T/body"'
post /v1/chat/completions "{$ASK,\"max_tokens\":50,\"ignore_eos\":true,\"stream\":true}"
expect_out "lmdeploy chat abort: a last delta with the role and empty content" \
    '^role=(assistant,)+assistant reasoning=0 content=[0-8] tool=None args=- finish=abort usage=None$' shape_check "$T/body" lmdeploy
stop_server; RCS+=" $SRV_RC"
# n > 1: choices interleaved in the stream, each with its own index and finish.
# n_check FILE N PROFILE: prints "roles=I,J.. finishes=R,.. tokens=T usage=U interleaved=B".
n_check() {
    python3 - "$@" <<'PY'
import json, sys
f, n, prof = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def die(m): print("FAIL: " + m); sys.exit(1)
data = open(f).read()
if not data.endswith("data: [DONE]\n\n"): die("no [DONE]")
objs = [json.loads(e[6:]) for e in data.split("\n\n")[:-2]]
u = objs.pop()["usage"]
roles, fins, tokens, order = [], {}, {}, []
for o in objs:
    if len(o["choices"]) != 1: die("one choice per chunk")
    c = o["choices"][0]; i = c["index"]
    if i in fins: die("chunk for choice %d after its finish" % i)
    d = c["delta"]
    if "role" in d: roles.append(i); continue
    tokens[i] = tokens.get(i, 0) + len((d.get("content") or "").split())
    if d.get("content"): order.append(i)
    if c["finish_reason"]: fins[i] = c["finish_reason"]
if sorted(fins) != list(range(n)) and not (prof == "abort" and sorted(fins) == sorted(tokens) and all(tokens.values())): die("finishes %r" % fins)
if sum(tokens.values()) != u["completion_tokens"] or u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"]: die("usage %r vs %r" % (u, tokens))
inter = any(order[k] > order[k + 1] for k in range(len(order) - 1))
print("roles=%s finishes=%s tokens=%d usage=%d interleaved=%s" % (",".join(map(str, roles)), ",".join(fins[i] for i in sorted(fins)), sum(tokens.values()), u["completion_tokens"], inter))
PY
}
start_server --api vllm --eos-mean 0 --tokens-per-event 2 || { finish; exit 1; }
post /v1/chat/completions "{$ASK,\"n\":3,\"max_tokens\":6,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm n=3 streamed: three role chunks first, choices interleaved, one finish each, usage over all" \
    '^roles=0,1,2 finishes=length,length,length tokens=18 usage=18 interleaved=True$' n_check "$T/body" 3 vllm
post /v1/completions '{"prompt":"x","n":2,"max_tokens":4}'
expect_out "vllm completions n=2 non-streamed: choices 0 and 1, usage over both, prompt once" "^\(\[0, 1\], \[4, 4\], 8, 1\)$" \
    json_get "$T/body" '[c["index"] for c in j["choices"]], [len(c["text"].split()) for c in j["choices"]], j["usage"]["completion_tokens"], j["usage"]["prompt_tokens"]'
post /v1/chat/completions "{$ASK,\"n\":2,\"seed\":5,\"max_tokens\":4}"
check "vllm n=2 with a seed: the choices differ (seed + index, as LMDeploy's fan-out)" \
    'json_get "$T/body" "j[\"choices\"][0][\"message\"][\"content\"] != j[\"choices\"][1][\"message\"][\"content\"]" | grep -qx True'
post /v1/chat/completions "{$ASK,\"n\":65}"
vllm_err "vllm n above 64 is refused" 400 BadRequestError "'n'"
stop_server; RCS+=" $SRV_RC"
start_server --api gateway --eos-mean 0 || { finish; exit 1; }
post /v1/chat/completions "{\"model\":\"sagellm-sim\",$ASK,\"n\":2,\"max_tokens\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "gateway n=2 streamed: each choice ends with its own empty-delta finish chunk" \
    '^roles=0,1 finishes=length,length tokens=6 usage=6 interleaved=True$' n_check "$T/body" 2 gateway
stop_server; RCS+=" $SRV_RC"
start_server --api vllm --abort-rate 1 --eos-mean 0 || { finish; exit 1; }
post /v1/chat/completions "{$ASK,\"n\":2,\"max_tokens\":40,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
expect_out "vllm abort with n=2: every choice that streamed tokens ends with abort (vLLM skips one with none)" \
    '^roles=0,1 finishes=abort(,abort)? tokens=[1-9][0-9]* usage=[0-9]+ interleaved=(True|False)$' n_check "$T/body" 2 abort
stop_server; RCS+=" $SRV_RC"
start_server --api lmdeploy --error-in-stream-rate 1 --api-key k16 || { finish; exit 1; }
post /generate '{"prompt":"x"}' -H "Authorization: Bearer wrong"
check "lmdeploy 0.16 with a wrong API key: 401, RequestError(UNAUTHORIZED) in the flat shape" \
    '[ "$(cat "$T/status")" = 401 ] && [ "$(cat "$T/body")" = "{\"message\":\"Unauthorized.\",\"type\":\"authentication_error\",\"code\":401,\"param\":null,\"object\":\"error\"}" ]'

post /generate '{"prompt":"x","max_tokens":20,"ignore_eos":true,"stream":true}' -H "Authorization: Bearer k16"
check "lmdeploy 0.16 error in a stream: {\"error\": flat error}, then [DONE]" \
    'python3 -c "import json,sys; e=open(sys.argv[1]).read().split(\"\n\n\"); o=json.loads(e[-3][6:]); sys.exit(e[-2] != \"data: [DONE]\" or list(o) != [\"error\"] or list(o[\"error\"]) != [\"message\", \"type\", \"code\", \"param\", \"object\"] or o[\"error\"][\"type\"] != \"server_error\")" "$T/body"'
stop_server; RCS+=" $SRV_RC"
check "every shapes server exited 0 after SIGTERM ($RCS)" '[ -z "$(echo $RCS | tr -d " 0")" ]'
expect_err "--abort-rate is refused with the gateway profile" 2 'no "abort" finish reason' "$BIN" serve --api gateway --abort-rate 0.1

finish
