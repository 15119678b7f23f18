#!/usr/bin/env bash
# Hostile servers against `replay` (tests/hostile/hostile_server.py):
#  - a server that streams without pause must not take the worker over:
#    requests due meanwhile on the same worker go out on time, and SIGINT
#    ends the run within --grace plus a small bound with complete files;
#  - a response without end is cut at --max-response-events /
#    --max-response-bytes as too_large, memory stays bounded and the
#    summary is written;
#  - a 13 MB burst, paused and resumed by the worker's per-pass budget,
#    arrives whole;
#  - a 302/307 is class redirect, names its Location, and nothing (no
#    Authorization header in particular) reaches the host it points to.
# All traffic stays on 127.0.0.1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
HS="$ROOT/tests/hostile/hostile_server.py"

# make_trace FILE N GAP_US: record 0 at t=0, then N records from 200 ms on,
# GAP_US apart (short chat requests, length-only).
make_trace() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
path, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write(json.dumps({"format": "sagellm-trace", "version": 1, "source": "synth"}) + "\n")
    for i in range(n + 1):
        t = 0 if i == 0 else 200000 + (i - 1) * gap
        f.write(json.dumps({"t_us": t, "id": "r%d" % i, "api": "chat",
                            "input_tokens": 8, "output_tokens": 3}) + "\n")
EOF
}

# start_hostile NAME MODE: starts the server (60 s lifetime), sets HURL.
start_hostile() {
    rm -f "$T/$1.port"
    spawn python3 "$HS" "$T/$1.port" "$2" 60
    eval "HPID_$1=$SPAWN_PID"
    if ! wait_for_file "$T/$1.port" 10; then fail "hostile server $1 started"; return 1; fi
    HURL="http://127.0.0.1:$(cat "$T/$1.port")"
}
stop_hostile() { local p; eval "p=\$HPID_$1"; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }

# max_rss_while PID: prints the largest VmRSS (kB) of PID, sampled every
# 50 ms until it exits (at most 120 s).
max_rss_while() {
    local m=0 r n=2400
    while [ $n -gt 0 ] && kill -0 "$1" 2>/dev/null; do
        r=$(awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null)
        [ -n "$r" ] && [ "$r" -gt "$m" ] && m=$r
        sleep 0.05; n=$((n - 1))
    done
    echo "$m"
}

# --- a flood (no content: no cap reached) takes no worker over ---
make_trace "$T/flood.jsonl" 80 100000
start_hostile fl flood-empty
spawn "$BIN" replay "$T/flood.jsonl" --client gateway --url "$HURL" --threads 1 --grace 1s \
    --max-response-bytes 64G --out "$T/fl" -q >"$T/fl.stdout"
rpid=$SPAWN_PID
# Wait (bounded) until some of the other requests have been recorded.
for _ in $(seq 1 400); do
    [ -f "$T/fl/requests.jsonl" ] && [ "$(wc -l < "$T/fl/requests.jsonl")" -ge 10 ] && break; sleep 0.05
done
kill -INT "$rpid"
t0=$(date +%s%N)
for _ in $(seq 1 200); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.05; done
t1=$(date +%s%N)
if kill -0 "$rpid" 2>/dev/null; then kill -KILL "$rpid"; fi
wait "$rpid"; rc=$?
stop_hostile fl
check "flood: SIGINT with --grace 1s ends the run within 10 s (took $(( (t1 - t0) / 1000000 )) ms)" \
    "[ $(( (t1 - t0) / 1000000 )) -lt 10000 ] && [ $rc = 5 ]"
check "flood: requests.jsonl is complete and every line parses; the flood is cancelled" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/fl/requests.jsonl')]
r0=[r for r in rs if r['index']==0]
run=json.load(open('$T/fl/run.json'))
sys.exit(0 if len(rs)>=10 and len(rs)+run['not_sent']==81 and len(r0)==1 and r0[0]['error']['class']=='cancelled' else 1)\""
check "flood: the other requests' send lag p99 < 200 ms on the flooded worker" "python3 -c \"
import json,sys
lag=sorted(r['send_lag_us'] for r in map(json.loads, open('$T/fl/requests.jsonl')) if r['index'] and r['send_lag_us'] is not None)
p99=lag[min(len(lag)-1, int(len(lag)*0.99))]
print('send lag p99 %.1f us over %d requests' % (p99, len(lag)))
sys.exit(0 if len(lag)>=10 and p99<200000 else 1)\""
check "flood: summary.json written" "[ -s '$T/fl/summary.json' ]"

make_trace "$T/cap.jsonl" 10 100000

# --- a burst paused and resumed many times (64 KiB per pass) loses nothing ---
start_hostile bu burst
expect_exit "burst: exit 0" 0 "$BIN" replay "$T/cap.jsonl" --client gateway --url "$HURL" \
    --threads 1 --out "$T/bu" -q
check "burst: all 100000 chunks of a 13 MB burst counted, [DONE] seen" "python3 -c \"
import json,sys
rs={r['index']: r for r in map(json.loads, open('$T/bu/requests.jsonl'))}
sys.exit(0 if rs[0]['ok'] and rs[0]['events']==100000 and len(rs)==11 else 1)\""
stop_hostile bu

# --- a response without end is cut at the caps: too_large, bounded memory ---
start_hostile cap flood
spawn "$BIN" replay "$T/cap.jsonl" --client gateway --url "$HURL" --threads 1 \
    --max-response-events 20000 --out "$T/cap" -q >"$T/cap.stdout"
rpid=$SPAWN_PID
rss=$(max_rss_while "$rpid")
wait "$rpid"; rc=$?
check "event cap: exit 1 (a request failed)" "[ $rc = 1 ]"
check "event cap: the flood is too_large at 20000 events, the others succeed" "python3 -c \"
import json,sys
rs={r['index']: r for r in map(json.loads, open('$T/cap/requests.jsonl'))}
r0=rs[0]
ok=r0['error']['class']=='too_large' and '--max-response-events' in r0['error']['message'] and r0['events']==20000
sys.exit(0 if ok and len(rs)==11 and all(rs[i]['ok'] for i in range(1,11)) else 1)\""
check "event cap: peak VmRSS stays under 200 MB (was $rss kB)" "[ '$rss' -gt 0 ] && [ '$rss' -lt 204800 ]"
check "event cap: summary.json counts the class" "python3 -c \"
import json,sys
s=json.load(open('$T/cap/summary.json'))
sys.exit(0 if 'too_large' in json.dumps(s) and s['failed']==1 else 1)\""
ok "event cap: report reads the run" "$BIN" report "$T/cap"
stop_hostile cap

start_hostile capb flood-empty
expect_exit "byte cap: exit 1" 1 "$BIN" replay "$T/cap.jsonl" --client gateway --url "$HURL" \
    --threads 1 --max-response-bytes 1M --out "$T/capb" -q
check "byte cap: the flood of empty chunks is too_large at 1 MiB" "python3 -c \"
import json,sys
rs={r['index']: r for r in map(json.loads, open('$T/capb/requests.jsonl'))}
e=rs[0]['error']
sys.exit(0 if e['class']=='too_large' and 'larger than 1048576 bytes (--max-response-bytes)' in e['message'] and len(rs)==11 else 1)\""
check "byte cap: summary.json written" "[ -s '$T/capb/summary.json' ]"
stop_hostile capb

# --- redirects are not followed: class redirect, nothing reaches the target ---
make_trace "$T/redir.jsonl" 2 50000
for code in 302 307; do
    start_hostile "r$code" "$code"
    expect_exit "$code: exit 1, not stopped as a refusal" 1 "$BIN" replay "$T/redir.jsonl" \
        --client gateway --url "$HURL" --api-key sk-hostile-secret-$code --out "$T/r$code" -q
    stop_hostile "r$code"
    trap_port=$(grep -o '127.0.0.1:[0-9]*' "$T/r$code/requests.jsonl" | head -1)
    check "$code: every request is class redirect and names the Location" "python3 -c \"
import json,sys
rs=[json.loads(l) for l in open('$T/r$code/requests.jsonl')]
ok=all(r['status']==$code and r['error']['class']=='redirect' and 'redirects are not followed' in r['error']['message']
       and '/v1/chat/completions' in r['error']['message'] for r in rs)
sys.exit(0 if ok and len(rs)==3 else 1)\""
    check "$code: the Location is the second listener ($trap_port)" "[ -n '$trap_port' ] && [ '$trap_port' != '127.0.0.1:$(cat "$T/r$code.port")' ]"
    check "$code: nothing reached the redirect's target (no connection, no Authorization)" \
        "[ -f '$T/r$code.port.trap' ] && [ ! -s '$T/r$code.port.trap' ]"
    check "$code: the API key is in no output file" "! grep -rq 'sk-hostile-secret' '$T/r$code'"
done

finish
