#!/usr/bin/env bash
# End to end: the replay against `serve` emitting the shapes real servers
# send (docs/server.md, each from the server's own source): tool calls,
# reasoning, n > 1, aborts, LMDeploy's session conflict. Each request's
# timings are checked against the server's ground truth, so output that is
# not text must set TTFT where the server wrote its first token.
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
CHECK="python3 $ROOT/tests/replay_check.py"

# mk_trace FILE N BODY-JSON [SESSION]: N records 50 ms apart with BODY.
mk_trace() {
    python3 - "$@" <<'EOF'
import json, sys
path, n, body = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
sess = sys.argv[4] if len(sys.argv) > 4 else None
with open(path, "w") as f:
    f.write(json.dumps({"format": "sagellm-trace", "version": 1, "source": "test"}) + "\n")
    for i in range(n):
        r = {"t_us": i * 50000, "id": f"r{i}", "api": "chat", "body": body}
        if sess:
            r.update(session=sess, turn=i)
            if i: r["parent"] = f"r{i-1}"
        f.write(json.dumps(r) + "\n")
EOF
}
# field_all RUN EXPR: every record r of RUN satisfies the Python expression.
field_all() {
    python3 - "$1/requests.jsonl" "$2" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rs if not eval(sys.argv[2], {}, {"r": r})]
for r in bad[:3]: print("record:", json.dumps(r)[:400], file=sys.stderr)
sys.exit(1 if bad or not rs else 0)
EOF
}
start_server() { # NAME ARGS...: sets URL and GT
    local name=$1; shift
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --ground-truth "$T/$name.gt" --preset fast "$@"
    eval "PID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.port" 10 || fail "server $name started"
    URL="http://127.0.0.1:$(cat "$T/$name.port")"
    GT="$T/$name.gt"
}
stop_server() { local p; eval "p=\$PID_$1"; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; }

USAGE='"stream":true,"stream_options":{"include_usage":true}'
MSG='"messages":[{"role":"user","content":"What is the weather in Paris today?"}]'
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'

# --- tool calls: the only output is delta.tool_calls ---
mk_trace "$T/tools.jsonl" 8 "{\"model\":\"sagellm-sim\",$MSG,$TOOLS,\"tool_choice\":\"required\",\"max_tokens\":12,$USAGE}"
start_server tools_vllm --api vllm
ok "tool calls (vllm profile): exit 0" "$BIN" replay "$T/tools.jsonl" --client gateway --url "$URL" --out "$T/tools-vllm" -q
stop_server tools_vllm
check "... TTFT set by the first tool-call delta; finish_reason tool_calls (or length at max_tokens)" \
    field_all "$T/tools-vllm" "'r[\"ok\"] and r[\"ttft_ms\"] is not None and r[\"finish_reason\"] in (\"tool_calls\", \"length\") and 1 <= r[\"output_tokens\"] <= 12'"
ok "... timings and event counts agree with the server's ground truth" $CHECK "$T/tools-vllm" "$GT" --expect 8
# OpenAI announces the call (id, function name, empty arguments) in a chunk of
# its own: the name is generated output, so that chunk is a content event
# (docs/metrics.md); the argument fragments follow, one per token.
start_server tools_gw --api gateway
ok "tool calls (gateway profile, OpenAI's shape): exit 0" "$BIN" replay "$T/tools.jsonl" --client gateway --url "$URL" --out "$T/tools-gw" -q
stop_server tools_gw
check "... TTFT set by the announcing chunk, one more content event than argument tokens" \
    field_all "$T/tools-gw" "'r[\"ok\"] and r[\"ttft_ms\"] is not None and r[\"finish_reason\"] in (\"tool_calls\", \"length\") and r[\"events\"] == r[\"output_tokens\"] + 1'"

# --- reasoning first, then content ---
mk_trace "$T/reason.jsonl" 8 "{\"model\":\"sagellm-sim\",$MSG,\"max_tokens\":16,\"ignore_eos\":true,$USAGE}"
for api in vllm lmdeploy; do
    start_server reason_$api --api $api --reasoning 0.5
    ok "reasoning ($api profile): exit 0" "$BIN" replay "$T/reason.jsonl" --client gateway --url "$URL" --out "$T/reason-$api" -q
    stop_server reason_$api
    check "... every record ok with all 16 tokens counted" field_all "$T/reason-$api" "'r[\"ok\"] and r[\"output_tokens\"] == 16'"
    ok "... TTFT is the first reasoning token (ground truth)" $CHECK "$T/reason-$api" "$GT" --expect 8
done

# --- n > 1: choices interleaved; gaps within one choice ---
mk_trace "$T/n2.jsonl" 6 "{\"model\":\"sagellm-sim\",$MSG,\"n\":2,\"max_tokens\":10,\"ignore_eos\":true,$USAGE}"
start_server n2 --api vllm
ok "n = 2: exit 0" "$BIN" replay "$T/n2.jsonl" --client gateway --url "$URL" --out "$T/n2" -q
stop_server n2
check "... n recorded, usage counts both choices, one choice's gaps (9 each)" \
    field_all "$T/n2" "'r[\"ok\"] and r[\"n\"] == 2 and r[\"output_tokens\"] == 20 and len(r[\"gaps_ns\"]) == 18'"
check "... TPOT over one choice's tokens" \
    field_all "$T/n2" "'abs(r[\"tpot_ms\"] - (r[\"t_last_token_ns\"] - r[\"t_first_token_ns\"]) / 9 / 1e6) < 1e-3'"

# --- aborts: finish_reason abort over HTTP is a failure of class aborted ---
mk_trace "$T/abort.jsonl" 6 "{\"model\":\"sagellm-sim\",$MSG,\"max_tokens\":20,$USAGE}"
start_server abort --api lmdeploy --abort-rate 1
expect_exit "abort-rate 1 (lmdeploy profile): exit 1" 1 "$BIN" replay "$T/abort.jsonl" --client lmdeploy --url "$URL" --out "$T/abort" -q
stop_server abort
check "... every request failed as aborted" field_all "$T/abort" "'not r[\"ok\"] and r[\"error\"][\"class\"] == \"aborted\"'"
check "... the summary counts them by class" "grep -q '\"aborted\":[[:space:]]*6' '$T/abort/summary.json'"

# --- LMDeploy sessions: overlapping turns with session_id conflict ---
mk_trace "$T/sess.jsonl" 4 "{\"model\":\"sagellm-sim\",$MSG,\"max_tokens\":40,\"ignore_eos\":true,$USAGE}" conv7
start_server sess --api lmdeploy --preset tiny-cpu
ok "lmdeploy client, overlapping turns of one session: no session_id by default, exit 0" \
    "$BIN" replay "$T/sess.jsonl" --client lmdeploy --url "$URL" --out "$T/sess" -q
expect_exit "... with --lmdeploy-session-id the overlapping turns are refused (exit 1)" 1 \
    "$BIN" replay "$T/sess.jsonl" --client lmdeploy --url "$URL" --lmdeploy-session-id --out "$T/sess-id" -q
stop_server sess
check "... as LMDeploy 0.16 answers: HTTP 500, class http_5xx" \
    "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/sess-id/requests.jsonl')]
bad=[r for r in rs if not r['ok']]
sys.exit(0 if bad and all(r['status']==500 and r['error']['class']=='http_5xx' for r in bad) else 1)\""

# --- a target that drops vLLM's length fields (as a gateway in front of vLLM
#     may): outputs come back short, and the run says so ---
azure_chat "$T/az.jsonl.zst"
start_server dropper --api gateway
ok "vllm client against an OpenAI-only target: exit 0" "$BIN" replay "$T/az.jsonl.zst" --client vllm \
    --url "$URL" --first 20 --speed 50 --out "$T/short"
stop_server dropper
check "... every line says the forced length" field_all "$T/short" "'r[\"forced_output_tokens\"] == r[\"expected_output_tokens\"]'"
check "... the table warns and counts the short outputs" \
    "grep -q 'came back short' '$T/.out' && grep -Eq 'Short outputs \(below forced length\): +[1-9]' '$T/.out'"
check "... summary.json counts them" "python3 -c \"
import json,sys; s=json.load(open('$T/short/summary.json')); sys.exit(0 if s['short_outputs'] > 0 else 1)\""

finish
