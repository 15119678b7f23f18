#!/usr/bin/env bash
# The recording proxy in front of an HTTPS upstream (tests/tls_upstream.py
# with a certificate from a CA made here by openssl): without trust in that
# CA every exchange fails with libcurl's certificate error, in the record
# and in the 502 the client gets; with --cacert, SSL_CERT_FILE or
# --insecure it succeeds and is recorded ok, streamed and not; the trace
# header says which trust applied. Traffic on 127.0.0.1 only; every
# process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=python3

# --- a CA and a server certificate for 127.0.0.1, made now ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=sagellm-test-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$T/ca.key" -out "$T/ca.pem" 2>"$T/ssl.err" &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -keyout "$T/srv.key" -out "$T/srv.csr" 2>>"$T/ssl.err" &&
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/ext" &&
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -extfile "$T/ext" -out "$T/srv.pem" 2>>"$T/ssl.err" &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=sagellm-test-client \
    -keyout "$T/cli.key" -out "$T/cli.csr" 2>>"$T/ssl.err" &&
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$T/cext" &&
openssl x509 -req -in "$T/cli.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -extfile "$T/cext" -out "$T/cli.pem" 2>>"$T/ssl.err"
check "openssl made a CA, a server and a client certificate" "[ -s '$T/srv.pem' ] && [ -s '$T/cli.pem' ]"
[ -s "$T/cli.pem" ] || { cat "$T/ssl.err"; finish; exit 1; }

spawn $PY "$ROOT/tests/tls_upstream.py" "$T/srv.pem" "$T/srv.key" "$T/up.port"
wait_for_file "$T/up.port" 10 || fail "the TLS upstream started"
UP=https://127.0.0.1:$(cat "$T/up.port")

start_proxy() { # NAME ARGS...: sets PX_NAME (port) and PXPID_NAME
    local name=$1; shift
    rm -f "$T/$name.pport"
    spawn env -u CURL_CA_BUNDLE -u SSL_CERT_DIR ${PXENV:-} timeout 60 "$BIN" capture --proxy 127.0.0.1:0 \
        --upstream "$UP" --ready-file "$T/$name.pport" --stats "$T/$name.stats" -o "$T/$name.jsonl" "$@" \
        2>"$T/$name.err"
    eval "PXPID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.pport" 10 || { fail "proxy $name started" "$(cat "$T/$name.err")"; return 1; }
    eval "PX_$name=$(cat "$T/$name.pport")"
}
stop() { kill -"${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
chat() { # PORT STREAM(true|false) OUT: the HTTP status on stdout
    curl -s -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Authorization: Bearer tls-s3cret' \
        -d "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": $2}" \
        "http://127.0.0.1:$1/v1/chat/completions"
}
# orig of the records of a trace, checked by a Python expression over o (a list of orig objects)
origs() { $PY -c "
import json,sys
o=[json.loads(l)['orig'] for l in list(open('$1'))[1:]]
sys.exit(0 if ($2) else 1)"; }

# --- no trust in the test CA: certificate errors, said in the 502 and in the record ---
PXENV="-u SSL_CERT_FILE" start_proxy a --max-requests 2
check "without the CA: the client gets a 502" "[ \$(chat $PX_a false '$T/a1.out') = 502 ]"
check "... whose message is libcurl's certificate error" "grep -qi 'certificate' '$T/a1.out'"
check "a streamed request too" "[ \$(chat $PX_a true '$T/a2.out') = 502 ]"
wait "$PXPID_a"
check "both recorded: upstream_error with the certificate error text, not ok" \
    "origs '$T/a.jsonl' \"len(o)==2 and all(x['incomplete']=='upstream_error' and x['ok'] is False and 'certificate' in x['error'].lower() for x in o)\""
check "the header says the system store was trusted" "head -1 '$T/a.jsonl' | grep -q '\"trust\":\"system store\"'"

# --- --cacert: ok, streamed and not ---
PXENV="-u SSL_CERT_FILE" start_proxy b --cacert "$T/ca.pem" --max-requests 3
check "--cacert: a JSON answer passes" "[ \$(chat $PX_b false '$T/b1.out') = 200 ] && grep -q 'Hello from TLS' '$T/b1.out'"
check "--cacert: a stream passes" "[ \$(chat $PX_b true '$T/b2.out') = 200 ] && grep -q 'DONE' '$T/b2.out'"
check "--cacert: a 400 JSON error passes" "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:$PX_b/v1/chat/completions) = 400 ]"
wait "$PXPID_b"; rc=$?
check "--cacert: the proxy exits 0 after --max-requests" "[ $rc = 0 ]"
ok "--cacert: the trace is valid" "$BIN" trace validate "$T/b.jsonl"
check "--cacert: recorded complete: 200 ok (JSON and stream, usage read), 400 not ok, none incomplete" \
    "origs '$T/b.jsonl' \"len(o)==3 and not any('incomplete' in x or 'error' in x for x in o)
     and o[0]['status']==200 and o[0]['ok'] is True and o[0]['output_tokens']==3 and 'stream' not in o[0]
     and o[1]['status']==200 and o[1]['ok'] is True and o[1]['events']==3 and o[1]['stream'] is True
     and o[2]['status']==400 and o[2]['ok'] is False\""
check "--cacert: the header names the CA file and where it came from" \
    "head -1 '$T/b.jsonl' | grep -q '\"cacert_from\":\"--cacert\"'"
check "--cacert: the stats name the protocol" "grep -Eq '\"upstream_protocol\":[[:space:]]*\"http/1.1\"' '$T/b.stats'"
check "the API key was forwarded, and written nowhere" "! grep -rq tls-s3cret '$T/b.jsonl' '$T/b.stats'"

# --- SSL_CERT_FILE: the same trust from the environment ---
PXENV="SSL_CERT_FILE=$T/ca.pem" start_proxy c --max-requests 1
check "SSL_CERT_FILE: a stream passes" "[ \$(chat $PX_c true '$T/c1.out') = 200 ]"
wait "$PXPID_c"
check "SSL_CERT_FILE: recorded ok, and the header says the trust came from it" \
    "origs '$T/c.jsonl' \"len(o)==1 and o[0]['ok'] is True and 'incomplete' not in o[0]\" &&
     head -1 '$T/c.jsonl' | grep -q '\"cacert_from\":\"SSL_CERT_FILE\"'"

# --- --insecure: no verification, said in the header ---
PXENV="-u SSL_CERT_FILE" start_proxy d --insecure --max-requests 1
check "--insecure: passes" "[ \$(chat $PX_d false '$T/d1.out') = 200 ]"
wait "$PXPID_d"
check "--insecure: the header says so" "head -1 '$T/d.jsonl' | grep -q '\"insecure\":true'"

# --- mutual TLS: an upstream that wants a client certificate ---
rm -f "$T/up2.port"
spawn $PY "$ROOT/tests/tls_upstream.py" "$T/srv.pem" "$T/srv.key" "$T/up2.port" "$T/ca.pem"
wait_for_file "$T/up2.port" 10 || fail "the mutual-TLS upstream started"
UP=https://127.0.0.1:$(cat "$T/up2.port")
PXENV="-u SSL_CERT_FILE" start_proxy e --cacert "$T/ca.pem" --max-requests 1
check "no client certificate: refused, a 502" "[ \$(chat $PX_e false '$T/e1.out') = 502 ]"
wait "$PXPID_e"
check "... recorded as upstream_error with libcurl's text" \
    "origs '$T/e.jsonl' \"len(o)==1 and o[0]['incomplete']=='upstream_error' and len(o[0]['error']) > 5\""
PXENV="-u SSL_CERT_FILE" start_proxy f --cacert "$T/ca.pem" --cert "$T/cli.pem" --key "$T/cli.key" --max-requests 1
check "--cert/--key: a stream passes" "[ \$(chat $PX_f true '$T/f1.out') = 200 ]"
wait "$PXPID_f"
check "--cert/--key: recorded ok; the header names the certificate, never the key" \
    "origs '$T/f.jsonl' \"len(o)==1 and o[0]['ok'] is True\" && head -1 '$T/f.jsonl' | grep -q 'cli.pem' &&
     ! grep -q 'cli.key' '$T/f.jsonl'"

# --- usage ---
expect_err "--cacert is for the proxy" 2 'for --proxy' "$BIN" capture -r "$T/none.pcap" --cacert "$T/ca.pem" -o "$T/x.jsonl"
expect_err "a --cacert that does not exist" 2 'no-such' \
    "$BIN" capture --proxy 0 --upstream "$UP" --cacert "$T/no-such.pem" -o "$T/x.jsonl"
finish
