#!/usr/bin/env bash
# The replay against set-ups that real deployments have and our own server
# alone does not show: a base URL written the OpenAI SDK way (…/v1), an API
# mounted under a gateway's path prefix, HTTPS with an internal CA (through
# nghttpx, a real TLS-terminating HTTP/2 proxy, in front of `serve`), mutual
# TLS, HTTP/2 over TLS and h2c, and failing fast when the server refuses us.
# Certificates are made at test time with openssl. All traffic stays on
# 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR   # each test sets the trust it means
AZ="$T/azure.jsonl.zst"
azure_chat "$AZ"
N=12
R=(--first $N --speed 50 -q)

# jget FILE EXPR: prints a Python expression over the JSON object in FILE (as j).
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(($2))" "$1"; }
# all_ok DIR: every request of DIR succeeded and there are N of them.
all_ok() {
    python3 - "$1/requests.jsonl" "$N" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(rs) == int(sys.argv[2]) and all(r["ok"] for r in rs) else 1)
EOF
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_serve() { # NAME ARGS...: sets PORT_NAME
    local name=$1; shift
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --preset fast "$@"
    wait_for_file "$T/$name.port" 10 || fail "serve $name started"
    eval "PORT_$name=$(cat "$T/$name.port")"
}

# --- base URL rule, against serve ---
start_serve plain
P="http://127.0.0.1:$PORT_plain"
for u in "$P" "$P/" "$P/v1" "$P/v1/"; do
    rm -rf "$T/u"
    ok "base URL '$u': exit 0" "$BIN" replay "$AZ" --client vllm --url "$u" "${R[@]}" --out "$T/u"
    check "... every request ok" all_ok "$T/u"
done
check "run.json: the API base and the root derived from --url" \
    "[ \"\$(jget '$T/u/run.json' 'j[\"api_url\"], j[\"root_url\"]')\" = \"('$P/v1', '$P')\" ]"
expect_err "an endpoint as --url: usage error naming the rule" 2 'names an endpoint; give the base URL' \
    "$BIN" replay "$AZ" --url "$P/v1/chat/completions" --out "$T/x"
check "... no output directory" "[ ! -e '$T/x' ]"

start_serve prefixed --root-path /openai --ground-truth "$T/prefixed.gt"
Q="http://127.0.0.1:$PORT_prefixed"
for u in "$Q/openai/v1" "$Q/openai"; do
    rm -rf "$T/p"
    ok "path prefix '$u': exit 0" "$BIN" replay "$AZ" --client vllm --url "$u" "${R[@]}" --out "$T/p" \
        --wait-ready --scrape-metrics 50ms
    check "... every request ok" all_ok "$T/p"
    check "... /health and /metrics found under the prefix" "[ -s '$T/p/server_metrics.jsonl' ]"
done
expect_err "prefix left out: fails fast with the 404 and a hint, exit 2" 2 'answered 404: no OpenAI API under this base URL' \
    "$BIN" replay "$AZ" --url "$Q" "${R[@]}" --out "$T/np"
check "... no output directory" "[ ! -e '$T/np' ]"

# --- fail fast on the first request: an unknown model is 404 on every request ---
expect_err "unknown --model: stops at the first answer, exit 2, one line" 2 'refused the run.s first request.*HTTP 404.*does not exist' \
    "$BIN" replay "$AZ" --client gateway --url "$P" --model nope --first 40 --out "$T/m" -q
check "... nothing on stdout, one line on stderr" "[ ! -s '$T/.out' ] && [ \$(wc -l < '$T/.err') = 1 ]"
check "... far fewer than 40 requests were sent, each recorded" \
    "n=\$(wc -l < '$T/m/requests.jsonl'); [ \$n -ge 1 ] && [ \$n -lt 40 ]"

# --- a hung stream cannot hold a run forever: the stall timeout has a default ---
check "stall timeout default is 5 minutes (run.json)" "[ \"\$(jget '$T/u/run.json' 'j[\"stall_timeout_ms\"]')\" = 300000 ]"
ok "--stall-timeout 0 turns it off" "$BIN" replay "$AZ" --url "$P" "${R[@]}" --stall-timeout 0 --out "$T/s0"
check "... recorded as 0" "[ \"\$(jget '$T/s0/run.json' 'j[\"stall_timeout_ms\"]')\" = 0 ]"

# --- libcurl's own words in a record: a connection reset mid-response ---
start_serve resets --reset-rate 1
expect_exit "every response reset: exit 1" 1 "$BIN" replay "$AZ" --url "http://127.0.0.1:$PORT_resets" \
    --model sagellm-sim "${R[@]}" --out "$T/rst"
check "... each record has libcurl's own detail (its error buffer), not the code's generic text" \
    "[ \$(grep -c 'transfer closed with outstanding read data remaining\\|Connection reset by peer' '$T/rst/requests.jsonl') = $N ]"

# --- TLS through nghttpx: an internal CA, mutual TLS, HTTP/2 ---
if ! command -v nghttpx >/dev/null || ! command -v openssl >/dev/null; then
    fail "nghttpx and openssl are installed (make deps installs nghttp2-proxy and openssl)"
    finish; exit
fi
C="$T/pki"; mkdir -p "$C"
(
    cd "$C" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=sagellm test CA"
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=localhost"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > srv.ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext
    openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj "/CN=sagellm client"
    openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2
    mkdir -p dir && cp ca.pem dir/ && openssl rehash dir
) >/dev/null 2>&1 || fail "test certificates made with openssl"

# start_proxy NAME FRONTEND-OPTS EXTRA...: nghttpx in front of serve (plain).
start_proxy() {
    local name=$1 fe=$2; shift 2
    local port; port=$(free_port)
    spawn nghttpx --conf=/dev/null --no-ocsp --workers=1 -f"127.0.0.1,$port$fe" \
        -b"127.0.0.1,$PORT_plain" --errorlog-file="$T/$name.log" --accesslog-file=/dev/null "$@"
    eval "PORT_$name=$port"
    local n=100
    until curl -sk -o /dev/null "$([ -z "$fe" ] && echo https || echo http)://127.0.0.1:$port/health" \
          --cert "$C/cli.pem" --key "$C/cli.key" 2>/dev/null || [ $n = 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ $n -gt 0 ] || fail "nghttpx $name started" "$(tail -n 3 "$T/$name.log")"
}
start_proxy tls "" "$C/srv.key" "$C/srv.pem"
H="https://127.0.0.1:$PORT_tls"

expect_err "HTTPS, CA not trusted: fails fast with libcurl's certificate error, exit 2" 2 'cannot reach the server: .*SSL certificate problem' \
    "$BIN" replay "$AZ" --url "$H/v1" "${R[@]}" --out "$T/t0"
check "... no output directory" "[ ! -e '$T/t0' ]"
ok "HTTPS with --cacert: exit 0" "$BIN" replay "$AZ" --client vllm --url "$H/v1" --cacert "$C/ca.pem" "${R[@]}" --out "$T/t1"
check "... every request ok" all_ok "$T/t1"
check "... run.json: trust from --cacert, verified, HTTP/1.1" \
    "[ \"\$(jget '$T/t1/run.json' 'j[\"tls\"][\"cacert_from\"], j[\"tls\"][\"insecure\"], j[\"protocol\"]')\" = \"('--cacert', False, 'http/1.1')\" ]"
ok "HTTPS with --capath (a hashed CA directory): exit 0" "$BIN" replay "$AZ" --url "$H" --capath "$C/dir" "${R[@]}" --out "$T/t1d"
for v in SSL_CERT_FILE CURL_CA_BUNDLE; do
    ok "HTTPS with \$$v: exit 0" env "$v=$C/ca.pem" "$BIN" replay "$AZ" --url "$H" "${R[@]}" --out "$T/t-$v"
    check "... run.json says the trust came from \$$v" "[ \"\$(jget '$T/t-$v/run.json' 'j[\"tls\"][\"cacert_from\"]')\" = $v ]"
done
expect_err "--insecure: runs, with a warning" 0 'warning: --insecure' \
    "$BIN" replay "$AZ" --url "$H" --insecure "${R[@]}" --out "$T/t2"
check "... loudly noted in run.json" "[ \"\$(jget '$T/t2/run.json' 'j[\"tls\"][\"insecure\"], \"NOT verified\" in j[\"tls\"][\"warning\"]')\" = '(True, True)' ]"
expect_err "--cacert of a missing file: usage error" 2 'cacert .*No such file' \
    "$BIN" replay "$AZ" --url "$H" --cacert "$C/none.pem" --out "$T/x"

ok "--http2 over TLS: exit 0" "$BIN" replay "$AZ" --client vllm --url "$H/v1" --cacert "$C/ca.pem" --http2 "${R[@]}" --out "$T/h2"
check "... every request ok, h2 recorded as the protocol used" \
    "all_ok '$T/h2' && [ \"\$(jget '$T/h2/run.json' 'j[\"protocol\"], j[\"tls\"][\"http2_requested\"]')\" = \"('h2', True)\" ]"
start_proxy h2c ";no-tls"
ok "--http2 on http://: h2c with prior knowledge, exit 0" "$BIN" replay "$AZ" --url "http://127.0.0.1:$PORT_h2c" --http2 "${R[@]}" --out "$T/h2c"
check "... every request ok over h2" "all_ok '$T/h2c' && [ \"\$(jget '$T/h2c/run.json' 'j[\"protocol\"]')\" = h2 ]"

start_proxy mtls "" "$C/srv.key" "$C/srv.pem" --verify-client --verify-client-cacert="$C/ca.pem"
M="https://127.0.0.1:$PORT_mtls"
expect_err "mutual TLS without a client certificate: fails fast, exit 2" 2 'cannot reach the server' \
    "$BIN" replay "$AZ" --url "$M" --cacert "$C/ca.pem" "${R[@]}" --out "$T/m0"
ok "mutual TLS with --cert/--key: exit 0" "$BIN" replay "$AZ" --url "$M" --cacert "$C/ca.pem" \
    --cert "$C/cli.pem" --key "$C/cli.key" "${R[@]}" --out "$T/m1"
check "... every request ok, the certificate's path in run.json, no key material" \
    "all_ok '$T/m1' && grep -q '\"client_cert\":.*cli.pem' '$T/m1/run.json' && ! grep -q 'PRIVATE' '$T/m1'/*"
expect_err "--key without --cert: usage error" 2 'key needs --cert' \
    "$BIN" replay "$AZ" --url "$M" --key "$C/cli.key" --out "$T/x"

finish
