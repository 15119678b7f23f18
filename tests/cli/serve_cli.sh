#!/usr/bin/env bash
# serve_cli.sh — `sagellm-bench serve` as a command: options, usage errors,
# exit codes, clean shutdown on SIGINT/SIGTERM with the ground truth
# flushed, determinism for a seed, prefix caching, IPv6.
source "$(dirname "$0")/../lib.sh"

start_server() {
    local pf="$T/port.$RANDOM"
    spawn "$BIN" serve --port 0 --port-file "$pf" "$@" >"$T/serve.out" 2>"$T/serve.err"
    SRV_PID=$SPAWN_PID
    if ! wait_for_file "$pf" 10; then fail "server starts: $*" "$(head -c 600 "$T/serve.err")"; return 1; fi
    PORT=$(cat "$pf")
    URL="http://127.0.0.1:$PORT"
}
stop_server() { kill -"${1:-TERM}" "$SRV_PID"; wait "$SRV_PID"; SRV_RC=$?; }

expect_out "--help prints the usage and the options" '^usage: sagellm-bench serve' "$BIN" serve --help
expect_out "help serve works too" '--fail-rate' "$BIN" help serve
expect_err "an unknown option is a usage error" 2 "unknown option '--bogus'" "$BIN" serve --bogus
expect_err "... followed by the usage line" 2 '^usage: sagellm-bench serve' "$BIN" serve --bogus
expect_err "a missing value is a usage error" 2 "option '--port' needs a value" "$BIN" serve --port
expect_err "a bad --api names the choices" 2 'vllm, lmdeploy or gateway' "$BIN" serve --api triton
expect_err "a bad --preset names the presets" 2 'unknown preset .big.' "$BIN" serve --preset big
expect_err "a bad duration names the parameter" 2 'step_fixed: expected a duration' "$BIN" serve --step-time soon
expect_err "bad --engine-config JSON is a usage error" 2 'expected a JSON object' "$BIN" serve --engine-config '[1'
expect_err "an unknown engine key is named" 2 "unknown engine parameter 'speed'" "$BIN" serve --engine-config '{"speed":1}'
expect_err "a missing --engine-config file is bad input (3)" 3 'cannot open' "$BIN" serve --engine-config @"$T/none.json"
expect_err "fault rates adding up above 1 are refused" 2 'at most 1' "$BIN" serve --fail-rate 0.6 --stall-rate 0.6
expect_err "a rate above 1 is refused" 2 'probability' "$BIN" serve --reset-rate 1.5
expect_err "max_model_len above kv_tokens is refused" 2 'must not exceed kv_tokens' "$BIN" serve --kv-tokens 100 --max-model-len 200
expect_err "an extra argument is refused" 2 "unexpected argument 'now'" "$BIN" serve now
expect_out "--list-presets lists the four presets" 'gpu-70b' "$BIN" serve --list-presets
check "... one line each" '[ "$(wc -l <"$T/.out")" = 4 ]'

# Listening, the stdout line, a busy port.
GT="$T/gt.jsonl"
start_server --preset fast --prefill-per-token 20us --ground-truth "$GT" --seed 3 || { finish; exit 1; }
check "stdout says where it listens" 'grep -qx "listening on http://127.0.0.1:$PORT" "$T/serve.out"'
expect_err "a port in use is a system error (4)" 4 'cannot listen' "$BIN" serve --port "$PORT"

# Prefix caching: the same long prompt twice; the second skips its prefill.
# Prefill costs 20 us a token here, so the 799 cached tokens save ~16 ms,
# far above the scheduling jitter of a loaded machine (at the preset's
# 100 ns a token the saving was 80 us and a busy CI run lost it).
LONG=$(python3 -c 'print(" ".join("word%d" % i for i in range(400)))')
for i in 1 2; do
    curl -s -o "$T/pc$i" -H "X-Request-Id: pc$i" -d "{\"prompt\":\"$LONG\",\"max_tokens\":1}" "$URL/v1/completions"
done
expect_out "the repeated prompt hits the prefix cache" '^0 [1-9][0-9]+ True$' python3 -c '
import json, sys
g = {j.get("client_request_id"): j for j in map(json.loads, open(sys.argv[1]))}
a, b = g["pc1"], g["pc2"]
print(a["cached_tokens"], b["cached_tokens"], b["prefill_ns"] < a["prefill_ns"])' "$GT"
check "/metrics counts the cache hits" 'curl -s "$URL/metrics" | grep -Eq "^vllm:prefix_cache_hits_total\{.*\} [1-9]"'

# A stream in flight when SIGINT arrives: it is cut, the server exits 0,
# and its ground-truth line is there, marked "shutdown".
curl -s -N -o "$T/cut" -H "X-Request-Id: cut" \
    -d '{"prompt":"go","max_tokens":100000,"ignore_eos":true,"stream":true}' "$URL/v1/completions" &
CURL_PID=$!
SPAWNED+=("$CURL_PID")
wait_for_file "$T/cut" 10
stop_server INT
wait "$CURL_PID"
crc=$?
check "SIGINT: exit 0" '[ "$SRV_RC" = 0 ]'
check "SIGINT: the open stream was cut (curl exit $crc)" '[ $crc = 18 ] || [ $crc = 56 ]'
check "SIGINT: stderr says it stopped" 'grep -q "stopped after 4 requests" "$T/serve.err"'
expect_out "SIGINT: ground truth flushed, the cut stream marked shutdown" '^3 shutdown True$' python3 -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
c = [l for l in ls if l.get("client_request_id") == "cut"][0]
print(len(ls) - 1, c["outcome"], c["sent_tokens"] == sum(c["event_tokens"]) > 0)' "$GT"

# Same seed, same requests: the same words and lengths.
for run in 1 2; do
    start_server --preset fast --seed 9 --eos-mean 5 || { finish; exit 1; }
    for i in 1 2 3 4 5; do
        curl -s -d '{"prompt":"repeat after me","max_tokens":50}' "$URL/v1/completions" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'
    done >"$T/det$run"
    stop_server
done
check "the same seed gives the same outputs" 'cmp -s "$T/det1" "$T/det2" && [ "$(sort -u "$T/det1" | wc -l)" -gt 1 ]'
start_server --preset fast --seed 10 --eos-mean 5 || { finish; exit 1; }
for i in 1 2 3 4 5; do
    curl -s -d '{"prompt":"repeat after me","max_tokens":50}' "$URL/v1/completions" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'
done >"$T/det3"
stop_server
check "another seed gives other outputs" '! cmp -s "$T/det1" "$T/det3"'

# --engine-config from a file, and the preset's values visible in the ground truth.
printf '{"preset":"tiny-cpu","max_batch":3}\n' >"$T/eng.json"
start_server --engine-config @"$T/eng.json" --ground-truth "$GT" --step-time 2ms || { finish; exit 1; }
stop_server
check "engine configuration: file, then options, recorded in the ground-truth header" \
    'head -n 1 "$GT" | grep -q "\"preset\":\"tiny-cpu\",\"max_batch\":3,.*\"step_fixed_ns\":2000000"'

# IPv6 loopback, when the machine has it.
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    pf="$T/port6"
    spawn "$BIN" serve --preset fast --host ::1 --port 0 --port-file "$pf" >"$T/serve6.out" 2>&1
    P6=$SPAWN_PID
    if wait_for_file "$pf" 10; then
        check "IPv6: listens on [::1]" 'grep -q "listening on http://\[::1\]:" "$T/serve6.out"'
        check "IPv6: answers" '[ "$(curl -sg -o /dev/null -w "%{http_code}" "http://[::1]:$(cat "$pf")/health")" = 200 ]'
    else
        fail "IPv6 server starts" "$(cat "$T/serve6.out")"
    fi
    kill "$P6"; wait "$P6"
fi

finish
