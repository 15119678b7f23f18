#!/usr/bin/env bash
# serve_faults.sh — `serve`'s seeded fault injection: each fault's rate is
# within statistical bounds over a bounded number of requests, every
# injected fault looks to the client the way it should (500, broken
# connection, silence, error event), and the ground truth records it.
source "$(dirname "$0")/../lib.sh"

start_server() {
    local pf="$T/port.$RANDOM"
    spawn "$BIN" serve --port 0 --port-file "$pf" --preset fast "$@" >"$T/serve.out" 2>"$T/serve.err"
    SRV_PID=$SPAWN_PID
    if ! wait_for_file "$pf" 10; then fail "server starts: $*" "$(head -c 600 "$T/serve.err")"; return 1; fi
    URL="http://127.0.0.1:$(cat "$pf")"
}
stop_server() { kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_RC=$?; }

N=300          # requests: even ones streamed, odd ones not
P=0.1          # the rate of each of the four faults
GT="$T/gt.jsonl"
start_server --seed 11 --ground-truth "$GT" --fail-rate $P --reset-rate $P --stall-rate $P \
    --error-in-stream-rate $P || { finish; exit 1; }

# One curl process runs all transfers, 100 at a time; a stalled one ends at
# its 3 s limit. Each line of results: URL (with ?i=N) status exit-code.
# --parallel-immediate: otherwise curl holds new transfers back while its
# first connection (maybe a stalled one) shows whether it can multiplex.
# "Connection: close" because curl silently resends a request whose reused
# connection closes before any response byte (a non-streamed reset).
mkdir -p "$T/out"
printf '{"messages":[{"role":"user","content":"count to ten"}],"max_tokens":10,"ignore_eos":true,"stream":true}' >"$T/stream.json"
printf '{"messages":[{"role":"user","content":"count to ten"}],"max_tokens":10,"ignore_eos":true}' >"$T/plain.json"
for ((i = 0; i < N; i++)); do
    body=$([ $((i % 2)) = 0 ] && echo stream || echo plain)
    [ $i = 0 ] || echo next
    cat <<EOF
url = "$URL/v1/chat/completions?i=$i"
data-binary = "@$T/$body.json"
header = "Content-Type: application/json"
header = "X-Request-Id: f$i"
header = "Connection: close"
output = "$T/out/$i"
max-time = 3
write-out = "%{url_effective} %{http_code} %{exitcode}\n"
EOF
done >"$T/curl.cfg"
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 100 -K "$T/curl.cfg" >"$T/results" 2>/dev/null
check "curl ran all $N transfers" '[ "$(wc -l <"$T/results")" = $N ]'
stop_server
check "server exits 0 with stalled streams open" '[ "$SRV_RC" = 0 ]'

python3 - "$T/results" "$T/out" "$GT" "$N" "$P" >"$T/report" <<'PY'
import json, math, os, sys
res, outdir, gt, n, p = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
client = {}
for line in open(res):
    url, code, ex = line.split()
    client[int(url.split("i=")[1])] = (int(code), int(ex))
lines = [json.loads(l) for l in open(gt)][1:]
print("lines %d" % len(lines))
by = {int(l["client_request_id"][1:]): l for l in lines}
counts = {}
bad = []
for i in range(n):
    g = by.get(i)
    if g is None: bad.append("%d: no ground-truth line" % i); continue
    f = g["fault"]; counts[f] = counts.get(f, 0) + 1
    code, ex = client.get(i, (0, -1))
    body = open(os.path.join(outdir, str(i))).read() if os.path.exists(os.path.join(outdir, str(i))) else ""
    stream = i % 2 == 0
    content = body.count('"delta":{"content":')
    done = body.endswith("data: [DONE]\n\n")
    k = g["fault_after_tokens"]
    if f == "none": ok = code == 200 and ex == 0 and (done or not stream) and g["outcome"] == "ok" and g["sent_tokens"] == 10
    elif f == "fail": ok = code == 500 and ex == 0 and json.loads(body)["error"]["code"] == 500 and g["outcome"] == "fail"
    elif f == "reset": ok = (ex in (18, 56) and not done and content == k) if stream else ex == 52
    elif f == "stall": ok = ex == 28 and not done and (content == k if stream else body == "")
    else: ok = (code == 200 and ex == 0 and done and content == k and '\n\ndata: {"error":{' in "\n\n" + body) if stream else code == 500
    if ok and f not in ("none", "fail") and g["outcome"] != f: ok = False
    if not ok: bad.append("%d stream=%s fault=%s k=%s: status %d exit %d outcome %s body %r" % (i, stream, f, k, code, ex, g["outcome"], body[-160:]))
print("counts " + " ".join("%s=%d" % kv for kv in sorted(counts.items())))
sd = math.sqrt(n * p * (1 - p))
for f in ("fail", "reset", "stall", "error_in_stream"):
    c = counts.get(f, 0)
    print("rate %s %d %s" % (f, c, "in" if abs(c - n * p) <= 4.5 * sd else "OUT OF"))
for b in bad[:10]: print("mismatch " + b)
print("mismatches %d" % len(bad))
PY
check "ground truth has a line for each of the $N requests" 'grep -q "^lines $N$" "$T/report"'
for f in fail reset stall error_in_stream; do
    check "$f rate within 4.5 sigma of $P over $N requests ($(grep "^rate $f " "$T/report" | cut -d" " -f3))" \
        'grep -q "^rate $f [0-9]* in$" "$T/report"'
done
check "every request looks to the client as its fault says" 'grep -q "^mismatches 0$" "$T/report"' || true
grep '^mismatch ' "$T/report" | head -n 5

# A stalled stream is closed by the server after --stall-time.
start_server --stall-rate 1 --stall-time 0.3s || { finish; exit 1; }
curl -s -N -m 20 -o "$T/stalled" -H 'Content-Type: application/json' \
    -d '{"prompt":"x","max_tokens":50,"ignore_eos":true,"stream":true}' "$URL/v1/completions"
rc=$?
check "a stalled stream is closed after --stall-time (curl exit $rc, not a timeout)" '[ $rc = 18 ] || [ $rc = 56 ]'
stop_server

# Same seed, same requests, same faults.
for run in 1 2; do
    start_server --seed 5 --fail-rate 0.5 || { finish; exit 1; }
    for i in 1 2 3 4 5 6 7 8; do
        curl -s -o /dev/null -w '%{http_code} ' -d '{"prompt":"x","max_tokens":1}' "$URL/v1/completions"
    done >"$T/seq$run"
    stop_server
done
check "the fault sequence is the same for the same seed ($(cat "$T/seq1"))" 'cmp -s "$T/seq1" "$T/seq2" && grep -q 500 "$T/seq1" && grep -q 200 "$T/seq1"'

finish
