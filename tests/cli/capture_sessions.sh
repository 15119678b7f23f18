#!/usr/bin/env bash
# Sessions from captured traffic: multi-turn conversations (each request
# carrying the conversation so far, tests/chat_turns.py) through the
# recording proxy in front of `serve` get session, turn, parent and
# think_us; `replay --sessions dependent` then replays them turn after turn;
# `trace sessionize` infers the same for a trace without them; a header or
# a body field groups requests instead; the memory cap forgets the least
# recent conversation; `capture -i lo` (as root) finds the same sessions
# in packets. Also the `path` and `body_raw` fields. Traffic on
# 127.0.0.1 only; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=python3
TURNS="$ROOT/tests/chat_turns.py"

rm -f "$T/up.port"
spawn "$BIN" serve --port 0 --port-file "$T/up.port" --preset fast --api gateway >/dev/null 2>"$T/up.err"
UPPID=$SPAWN_PID
wait_for_file "$T/up.port" 10 || fail "server started" "$(cat "$T/up.err")"
UP=$(cat "$T/up.port")

start_proxy() { # NAME ARGS...: sets PX_NAME (port) and PXPID_NAME
    local name=$1; shift
    rm -f "$T/$name.pport"
    spawn timeout 60 "$BIN" capture --proxy 127.0.0.1:0 --upstream "http://127.0.0.1:$UP" \
        --ready-file "$T/$name.pport" --stats "$T/$name.stats" -o "$T/$name.jsonl" "$@" 2>"$T/$name.err"
    eval "PXPID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.pport" 10 || { fail "proxy $name started" "$(cat "$T/$name.err")"; return 1; }
    eval "PX_$name=$(cat "$T/$name.pport")"
}
# sessions FILE EXPECTED: the records' (user message, session's first message, turn, parent's message)
# compared with EXPECTED, a Python list of (conversation, turn) -> (first turn, parent turn or None)
sessions() { $PY - "$1" "$2" <<'EOF'
import json, sys
rs = [json.loads(l) for l in list(open(sys.argv[1]))[1:]]
by_id = {r['id']: r for r in rs}
name = lambda r: tuple(int(w) for w in r['body']['messages'][-1]['content'].split()[1::2])
got = {}
for r in rs:
    s, p = by_id.get(r.get('session')), by_id.get(r.get('parent'))
    got[name(r)] = (name(s) if s else None, r.get('turn'), name(p) if p else None,
                    'think_us' in r and r['think_us'] >= 0 if p else 'think_us' not in r)
want = {tuple(k): (tuple(s), t, tuple(p) if p else None, True) for k, s, t, p in eval(sys.argv[2])}
if got != want:
    print('got ', sorted(got.items()), '\nwant', sorted(want.items()))
    sys.exit(1)
EOF
}
# two conversations, interleaved: (conversation, turn), first turn, turn, parent
CHAINS='[((0,0),(0,0),0,None), ((1,0),(1,0),0,None), ((0,1),(0,0),1,(0,0)), ((1,1),(1,0),1,(1,0)), ((0,2),(0,0),2,(0,1))]'

# --- prefix chains through the proxy ---
start_proxy a --max-requests 5
ok "two conversations (3 and 2 turns) through the proxy" $PY "$TURNS" "http://127.0.0.1:$PX_a" 3,2
wait "$PXPID_a"
ok "the trace is valid" "$BIN" trace validate "$T/a.jsonl"
check "each turn continues its conversation: session, turn, parent, think_us" "sessions '$T/a.jsonl' \"$CHAINS\""
check "every record: path, and body_raw (spaces after ':' and ',') that parses to body" "$PY -c \"
import json,sys
rs=[json.loads(l) for l in list(open('$T/a.jsonl'))[1:]]
sys.exit(0 if len(rs)==5 and all(r['path']=='/v1/chat/completions' and ': ' in r['body_raw']
         and json.loads(r['body_raw'])==r['body'] and r['orig']['ok'] is True for r in rs) else 1)\""
check "the statistics count 2 sessions and 3 continued turns" "$PY -c \"
import json,sys; s=json.load(open('$T/a.stats'))['sessions']
sys.exit(0 if s['first_turns']==2 and s['continued_by_messages']==3 and s['evicted']==0 else 1)\""

# --- the same conversations captured from packets (live on lo; needs root) ---
if [ "$(id -u)" = 0 ]; then
    rm -f "$T/live.ready"
    spawn timeout 60 "$BIN" capture -i lo --port "$UP" --max-requests 5 --ready-file "$T/live.ready" \
        -o "$T/live.jsonl" -q 2>"$T/live.err"
    LIVEPID=$SPAWN_PID
    wait_for_file "$T/live.ready" 10 || fail "capture -i lo started" "$(cat "$T/live.err")"
    ok "two conversations straight to the server" $PY "$TURNS" "http://127.0.0.1:$UP" 3,2
    wait "$LIVEPID"
    check "capture -i lo: the same sessions, turns and parents" "sessions '$T/live.jsonl' \"$CHAINS\""
else
    echo "skip: capture -i lo needs root"
fi

# --- replayed with --sessions dependent ---
ok "replay --sessions dependent" "$BIN" replay "$T/a.jsonl" --client gateway --url "http://127.0.0.1:$UP" \
    --sessions dependent --out "$T/r1" -q
check "the request log has the sessions and turns, and each turn went after its parent ended" "$PY -c \"
import json,sys
tr={r['id']:r for r in map(json.loads, list(open('$T/a.jsonl'))[1:])}
log={r['id']:r for r in map(json.loads, open('$T/r1/requests.jsonl'))}
ok=len(log)==5 and all(l['ok'] and l['session']==tr[i]['session'] and l['turn']==tr[i]['turn'] for i,l in log.items())
ok=ok and all(log[i]['t_send_ns'] >= log[r['parent']]['t_end_ns'] for i,r in tr.items() if 'parent' in r)
sys.exit(0 if ok else 1)\""

# --- trace sessionize on a trace without sessions ---
$PY -c "
import json
L=open('$T/a.jsonl').read().splitlines()
with open('$T/bare.jsonl','w') as f:
    f.write(L[0]+'\n')
    for l in L[1:]:
        r=json.loads(l); [r.pop(k,None) for k in ('session','turn','parent','think_us')]; f.write(json.dumps(r)+'\n')"
ok "trace sessionize" "$BIN" trace sessionize "$T/bare.jsonl" -o "$T/sz.jsonl.zst"
"$BIN" trace cat "$T/sz.jsonl.zst" >"$T/sz.jsonl" 2>/dev/null
check "... gives the capture's sessions back, think times included" "$PY -c \"
import json,sys
k=('session','turn','parent','think_us')
a=[{x:r.get(x) for x in k} for r in map(json.loads, list(open('$T/a.jsonl'))[1:])]
b=[{x:r.get(x) for x in k} for r in map(json.loads, list(open('$T/sz.jsonl'))[1:])]
sys.exit(0 if a==b else 1)\""
check "... and says so in the header's history" "head -1 '$T/sz.jsonl' | grep -q '\"op\":\"sessionize\"'"

# --- a header groups requests that share no messages ---
start_proxy b --max-requests 4 --session-header X-Conversation-Id
ok "two conversations with only a header in common" $PY "$TURNS" "http://127.0.0.1:$PX_b" 2,2 --fresh --header x-conversation-id
wait "$PXPID_b"
check "grouped by the header" "sessions '$T/b.jsonl' '[((0,0),(0,0),0,None), ((1,0),(1,0),0,None), ((0,1),(0,0),1,(0,0)), ((1,1),(1,0),1,(1,0))]'"
check "header keys are counted as such" "grep -Eq '\"continued_by_key\":[[:space:]]*2' '$T/b.stats'"

# --- a body field, offline; --no-sessions ---
start_proxy c --max-requests 4 --no-sessions
ok "two conversations with only a body field in common" $PY "$TURNS" "http://127.0.0.1:$PX_c" 2,2 --fresh --field user
wait "$PXPID_c"
check "--no-sessions: no session fields" "! grep -q '\"session\"' '$T/c.jsonl'"
ok "trace sessionize --session-field user" "$BIN" trace sessionize "$T/c.jsonl" --session-field user -o "$T/c2.jsonl"
check "grouped by the field" "sessions '$T/c2.jsonl' '[((0,0),(0,0),0,None), ((1,0),(1,0),0,None), ((0,1),(0,0),1,(0,0)), ((1,1),(1,0),1,(1,0))]'"
ok "trace sessionize without the field" "$BIN" trace sessionize "$T/c.jsonl" -o "$T/c3.jsonl"
check "... every fresh request is a session of its own" "sessions '$T/c3.jsonl' '[((0,0),(0,0),0,None), ((1,0),(1,0),0,None), ((0,1),(0,1),0,None), ((1,1),(1,1),0,None)]'"

# --- the memory cap ---
start_proxy d --max-requests 5 --max-sessions 1
ok "two interleaved conversations with room for one" $PY "$TURNS" "http://127.0.0.1:$PX_d" 3,2
wait "$PXPID_d"
check "the least recent conversation is forgotten: every turn starts anew, and the stats say so" "
    sessions '$T/d.jsonl' '[((0,0),(0,0),0,None), ((1,0),(1,0),0,None), ((0,1),(0,1),0,None), ((1,1),(1,1),0,None), ((0,2),(0,2),0,None)]' &&
    grep -Eq '\"evicted\":[[:space:]]*4' '$T/d.stats'"

# --- usage ---
expect_err "--no-sessions with a session option" 2 'no other session option' \
    "$BIN" capture --proxy 0 --upstream http://127.0.0.1:9 --no-sessions --session-header x -o "$T/x.jsonl"
expect_err "a bad header name" 2 'header or field name' \
    "$BIN" capture --proxy 0 --upstream http://127.0.0.1:9 --session-header 'a b' -o "$T/x.jsonl"
expect_err "trace sessionize needs -o" 2 'missing -o' "$BIN" trace sessionize "$T/c.jsonl"
expect_err "trace sessionize of a missing file" 4 'no-such' "$BIN" trace sessionize "$T/no-such.jsonl" -o "$T/x.jsonl"
finish
