#!/usr/bin/env bash
# Live capture on the loopback interface: real traffic from `serve` and
# `replay`, captured by `capture -i lo` and by tcpdump at the same time.
#  - the round trip: a trace T replayed against serve is captured as T';
#    T' holds every request of T with identical bodies, its arrival gaps
#    match the replay's send gaps (p99 within 2 ms: each arrival is stamped
#    from its packet, not from when it was processed; the figure itself,
#    typically 20-60 us, is printed, not asserted: a loaded machine or the
#    sanitizer build moves it), and T' replays;
#  - the tcpdump pcap read back with -r gives the same records, also as
#    pcapng and rewritten to the other link types, and with packets
#    reordered or duplicated; with packets dropped, no record is garbage;
#  - serve's ground truth against the wire: every token's hand-off comes
#    before its segment, its write time (the send) after it;
#  - IPv6, `-i any`, SIGINT, --redact, secrets, no permission.
# Needs root (or CAP_NET_RAW) and tcpdump; skips otherwise. All traffic is
# on 127.0.0.1 and ::1; every process started here is stopped here.
source "$(dirname "$0")/../lib.sh"
PY=python3
N=300

if [ "$(id -u)" != 0 ] || ! command -v tcpdump >/dev/null; then
    echo "skip: live capture needs root and tcpdump"
    finish
    exit $?
fi

# start_server NAME ARGS...: serve on a free port; sets PORT_NAME and PID_NAME.
start_server() {
    local name=$1; shift
    rm -f "$T/$name.port"
    spawn "$BIN" serve --port 0 --port-file "$T/$name.port" --preset fast "$@" >/dev/null 2>"$T/$name.err"
    eval "PID_$name=$SPAWN_PID"
    wait_for_file "$T/$name.port" 10 || { fail "server $name started" "$(cat "$T/$name.err")"; return 1; }
    eval "PORT_$name=$(cat "$T/$name.port")"
}
stop() { kill -"${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# start_capture NAME ARGS...: capture in the background; waits for its ready file.
start_capture() {
    local name=$1; shift
    rm -f "$T/$name.ready"
    spawn timeout 300 "$BIN" capture --ready-file "$T/$name.ready" --stats "$T/$name.stats" "$@" 2>"$T/$name.cap.err"
    eval "CAP_$name=$SPAWN_PID"
    wait_for_file "$T/$name.ready" 10 || fail "capture $name started"
}

# start_tcpdump FILE FILTER: tcpdump on lo with ns timestamps, ready once it says "listening".
# stop_tcpdump FILE PORT: a marker request to the server, then tcpdump stops
# once the marker is in its file (it writes packets in order, so everything
# before the marker is there too).
start_tcpdump() {
    spawn tcpdump -i lo -n -U -Z root -s 0 --time-stamp-precision=nano -w "$1" "$2" 2>"$1.err"
    TCPDUMP=$SPAWN_PID
    local n=200
    while [ $n -gt 0 ] && ! grep -q 'listening on' "$1.err" 2>/dev/null; do sleep 0.05; n=$((n - 1)); done
    grep -q 'listening on' "$1.err" || fail "tcpdump started" "$(cat "$1.err")"
}
stop_tcpdump() {
    curl -s -o /dev/null "http://127.0.0.1:$2/health?marker"
    local n=200
    while [ $n -gt 0 ] && ! grep -qa 'GET /health?marker' "$1"; do sleep 0.05; n=$((n - 1)); done
    stop "$TCPDUMP" INT
}

# --- the trace T: 300 Azure requests at 50/s with bodies the gateway client sends unchanged ---
azure_chat "$T/az.jsonl.zst"
"$BIN" trace slice "$T/az.jsonl.zst" --first $N -o "$T/s.jsonl.zst" 2>/dev/null
"$BIN" trace scale "$T/s.jsonl.zst" --rate 50 -o "$T/sc.jsonl.zst" 2>/dev/null
"$BIN" trace materialize "$T/sc.jsonl.zst" -o "$T/m.jsonl" 2>/dev/null
$PY - "$T/m.jsonl" "$T/T.jsonl" <<'EOF'
import json, sys
out = open(sys.argv[2], 'w')
for i, l in enumerate(open(sys.argv[1])):
    r = json.loads(l)
    if i and 'body' in r:
        r['body'].update(model='sagellm-sim', stream=True, stream_options={'include_usage': True})
    out.write(json.dumps(r, separators=(',', ':')) + '\n')
EOF

start_server rt --ground-truth "$T/rt.gt"
start_tcpdump "$T/dump.pcap" "tcp port $PORT_rt"
start_capture rt -i lo --port "$PORT_rt" -o "$T/Tp.jsonl.zst" --max-requests $N
ok "round trip: replay T against serve" "$BIN" replay "$T/T.jsonl" --client gateway --url "http://127.0.0.1:$PORT_rt" --out "$T/r1" -q
wait "$CAP_rt"; rc=$?
check "capture -i lo stops by itself after --max-requests: exit 0" "[ $rc = 0 ]"
stop_tcpdump "$T/dump.pcap" "$PORT_rt"
check "capture stats: no kernel drops, every exchange complete" "$PY -c \"
import json,sys
s=json.load(open('$T/rt.stats'))
print('    kernel drops', s['kernel_drops'], 'packets', s['packets'], 'incomplete', s['incomplete_total'])
sys.exit(0 if s['kernel_drops']==0 and s['incomplete_total']==0 and s['records']==$N else 1)\""
ok "T' is a valid trace" "$BIN" trace validate "$T/Tp.jsonl.zst"

cat > "$T/roundtrip.py" <<'EOF'
import json, sys
T = [json.loads(l) for l in open(sys.argv[1])][1:]
cap = [json.loads(l) for l in sys.stdin][1:]
log = {r['index']: r for r in map(json.loads, open(sys.argv[2]))}
by_index = {int(r['headers']['x-request-id']): r for r in cap}
bad = [i for i, t in enumerate(T) if i not in by_index or by_index[i]['body'] != t['body']]
if len(cap) != len(T) or bad:
    print(f'    {len(cap)} records for {len(T)} requests; bodies differ or missing at {bad[:10]}')
    sys.exit(1)
ok = all(r['orig']['ok'] and r['orig']['status'] == 200 and 'incomplete' not in r['orig'] for r in cap)
same_tokens = all(by_index[i]['orig']['output_tokens'] == log[i]['output_tokens'] and
                  by_index[i]['orig']['events'] == log[i]['events'] for i in range(len(T)))
# Arrival gaps in T' against the replay's send gaps (its t_send = schedule + send lag).
idx = sorted(range(len(T)), key=lambda i: log[i]['t_send_ns'])
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
gap_err = [abs((by_index[b]['t_us'] - by_index[a]['t_us']) - (log[b]['t_send_ns'] - log[a]['t_send_ns']) / 1000)
           for a, b in zip(idx, idx[1:])]
sched_err = [abs((by_index[b]['t_us'] - by_index[a]['t_us']) - (T[b]['t_us'] - T[a]['t_us']))
             for a, b in zip(idx, idx[1:])]
lag = [log[i]['send_lag_us'] for i in range(len(T))]
print(f'    gap error vs send gaps: p50 {pct(gap_err, .5):.1f} us, p99 {pct(gap_err, .99):.1f} us, max {max(gap_err):.1f} us')
print(f'    gap error vs T schedule (lag not removed): p50 {pct(sched_err, .5):.1f} us, p99 {pct(sched_err, .99):.1f} us; '
      f'replay send lag p50 {pct(lag, .5):.1f} us, p99 {pct(lag, .99):.1f} us')
if len(sys.argv) > 3:
    open(sys.argv[3], 'w').write(json.dumps({'gap_p50_us': pct(gap_err, .5), 'gap_p99_us': pct(gap_err, .99),
        'gap_max_us': max(gap_err), 'sched_p99_us': pct(sched_err, .99), 'lag_p99_us': pct(lag, .99)}))
sys.exit(0 if ok and same_tokens else 2)
EOF
check "T' holds every request of T with identical bodies; all ok; tokens and events agree with the replay" \
    "'$BIN' trace cat '$T/Tp.jsonl.zst' | $PY '$T/roundtrip.py' '$T/T.jsonl' '$T/r1/requests.jsonl' '$T/timing.json'"
check "round trip: arrival gaps within 2 ms p99 of the replay's send gaps (packet times, not processing times)" "$PY -c \"
import json,sys; t=json.load(open('$T/timing.json')); sys.exit(0 if t['gap_p99_us'] <= 2000 else 1)\""
expect_exit "replaying T' works" 0 "$BIN" replay "$T/Tp.jsonl.zst" --client gateway --url "http://127.0.0.1:$PORT_rt" --out "$T/r2" -q
check "... every request of T' ok" "[ \$(grep -c '\"ok\":true' '$T/r2/requests.jsonl') = $N ]"
check "the server's answers are kept as orig: ttft <= e2e, events counted" "'$BIN' trace cat '$T/Tp.jsonl.zst' | $PY -c \"
import json,sys
rs=[json.loads(l) for l in sys.stdin][1:]
sys.exit(0 if all(0 <= r['orig']['t_first_byte_us'] <= r['orig']['ttft_us'] <= r['orig']['e2e_us'] and r['orig']['events'] > 0 for r in rs) else 1)\""

# --- serve's ground truth against the wire: for every token event, the
# hand-off to libmicrohttpd comes before the segment that carries it and the
# write time (the send) after it; the capture's event times from --event-times ---
ok "capture -r --event-times over tcpdump's pcap" "$BIN" capture -r "$T/dump.pcap" --port "$PORT_rt" --event-times -o "$T/Tev.jsonl" -q
check "every event: event_handed_ns <= wire time <= event_write_ns (20 us for reading the clocks' offset)" "$PY - '$T/Tev.jsonl' '$T/rt.gt' <<'EOF'
import json, sys, time
def offset():  # CLOCK_REALTIME - CLOCK_MONOTONIC, the tightest of many back-to-back reads
    best = None
    for _ in range(2000):
        m0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC); r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if best is None or m1 - m0 < best[0]: best = (m1 - m0, r - (m0 + m1) // 2)
    return best[1]
off, slack = offset(), 20000
wire = {}
for l in list(open(sys.argv[1]))[1:]:
    r = json.loads(l)
    wire[r['headers']['x-request-id']] = [r['orig']['t_arrival_ns'] + e - off for e in r['orig']['event_ns']]
gt = {}
for g in map(json.loads, list(open(sys.argv[2]))[1:]):
    gt.setdefault(g['client_request_id'], g)   # the first replay's (tcpdump saw only that one)
bad, early, late, n, after = [], 0, 0, 0, []
for rid, g in gt.items():
    w = wire.get(rid)
    if w is None or len(w) != g['events']:
        bad.append(rid); continue
    for h, x, s in zip(g['event_handed_ns'], w, g['event_write_ns']):
        n += 1; early += h > x + slack; late += x > s + slack; after.append(s - x)
after.sort()
print(f'    {n} events; write - wire p50 {after[len(after) // 2] / 1e3:.1f} us, max {after[-1] / 1e3:.1f} us; '
      f'hand-off after the wire: {early}, write before the wire: {late}; streams unmatched: {len(bad)}')
sys.exit(0 if n and not bad and not early and not late and len(gt) == $N else 1)
EOF"

# --- the tcpdump file read back: the same records ---
records() { "$BIN" trace cat "$1" | tail -n +2; }
ok "capture -r tcpdump's pcap" "$BIN" capture -r "$T/dump.pcap" --port "$PORT_rt" -o "$T/Tf.jsonl" -q --stats "$T/f.stats"
# Paired by X-Request-Id, not by position: the trace has requests due 1 and
# 5 us apart, which the two taps' clocks can put in either order; a record's
# "id" (cap-N) numbers arrivals, so it may differ only for such a close pair.
check "... the same records as the live capture (times aside: each tap reads the clock itself)" "$PY -c \"
import json,subprocess,sys
def load(p):
    out=subprocess.run(['$BIN','trace','cat',p],capture_output=True,text=True).stdout.splitlines()[1:]
    return {r['headers']['x-request-id']: r for r in map(json.loads, out)}
a,b=load('$T/Tp.jsonl.zst'),load('$T/Tf.jsonl')
times=('t_us','ttft_us','e2e_us','t_first_byte_us','t_last_token_us')
worst=[0]
def same(x,y,k=''):
    if isinstance(x,dict): return x.keys()==y.keys() and all(same(x[j],y[j],j) for j in x if j!='id')
    if k in times: worst[0]=max(worst[0],abs(x-y)); return True
    return x==y
arrivals=sorted(r['t_us'] for r in a.values())
def close(t): return sum(abs(u-t)<=100 for u in arrivals)>1
swapped=[k for k in a if k in b and a[k]['id']!=b[k]['id']]
ok=len(a)==len(b)==$N and a.keys()==b.keys() and all(same(a[k],b[k]) for k in a)
ok=ok and sorted(r['id'] for r in a.values())==sorted(r['id'] for r in b.values())
ok=ok and all(close(a[k]['t_us']) for k in swapped)
print('    largest time difference between the two taps:', worst[0], 'us; ids swapped by close arrivals:', len(swapped))
sys.exit(0 if ok else 1)\""
$PY - "$T/dump.pcap" "$T" <<'EOF'
import struct, sys, random
src, out = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
magic, vmaj, vmin, tz, sig, snap, link = struct.unpack('<IHHiIII', data[:24])
pkts, off = [], 24
while off + 16 <= len(data):
    s, f, cl, wl = struct.unpack('<IIII', data[off:off + 16])
    pkts.append((s, f, wl, data[off + 16:off + 16 + cl])); off += 16 + cl
def write(name, link_type, frames, magic_=magic):
    with open(f'{out}/{name}.pcap', 'wb') as o:
        o.write(struct.pack('<IHHiIII', magic_, 2, 4, 0, 0, 262144, link_type))
        for s, f, wl, fr in frames:
            o.write(struct.pack('<IIII', s, f, len(fr), wl)); o.write(fr)
def relink(hdr_fn, link_type, name):
    fr = []
    for s, f, wl, p in pkts:
        et, ip = p[12:14], p[14:]
        h = hdr_fn(et, ip)
        fr.append((s, f, len(h) + len(ip), h + ip))
    write(name, link_type, fr)
relink(lambda et, ip: b'\x00\x00\x03\x04\x00\x06' + bytes(8) + et, 113, 'sll')
relink(lambda et, ip: et + b'\x00\x00' + struct.pack('>IHBB', 1, 772, 0, 6) + bytes(8), 276, 'sll2')
relink(lambda et, ip: struct.pack('<I', 2), 0, 'null')
# pcapng: section header, one interface (ns resolution), enhanced packet blocks
def blk(t, body):
    body += bytes((4 - len(body) % 4) % 4); n = 12 + len(body)
    return struct.pack('<II', t, n) + body + struct.pack('<I', n)
ng = blk(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
ng += blk(1, struct.pack('<HHI', link, 0, 262144) + struct.pack('<HHB', 9, 1, 9) + bytes(3) + bytes(4))
for s, f, wl, p in pkts:
    ts = s * 1000000000 + f
    ng += blk(6, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, len(p), wl) + p)
open(f'{out}/ng.pcapng', 'wb').write(ng)
rnd = random.Random(7)
# reordered: swap neighbours in small windows (timestamps move with their packets)
ro = list(pkts)
for i in range(1, len(ro) - 1, 3):
    if rnd.random() < 0.5: ro[i], ro[i + 1] = ro[i + 1], ro[i]
write('reordered', link, ro)
dup = []
for i, p in enumerate(pkts):
    dup.append(p)
    if i % 4 == 0: dup.append(p)
write('dup', link, dup)
# lossy: drop 1% of the packets that carry payload (never garbage, only incomplete)
lossy = [p for p in pkts if not (len(p[3]) > 80 and rnd.random() < 0.01)]
write('lossy', link, lossy)
# damaged: the last packet record cut in half
open(f'{out}/cut.pcap', 'wb').write(data[:len(data) - 40])
EOF
for v in sll sll2 null; do
    ok "link type $v: read" "$BIN" capture -r "$T/$v.pcap" -o "$T/T-$v.jsonl" -q
    check "link type $v: the same records" "cmp -s <(records '$T/Tf.jsonl') <(records '$T/T-$v.jsonl')"
done
ok "pcapng: read" "$BIN" capture -r "$T/ng.pcapng" -o "$T/T-ng.jsonl" -q
check "pcapng: the same records" "cmp -s <(records '$T/Tf.jsonl') <(records '$T/T-ng.jsonl')"
ok "duplicated packets: read" "$BIN" capture -r "$T/dup.pcap" -o "$T/T-dup.jsonl" -q --stats "$T/dup.stats"
check "duplicated packets: the same records, retransmissions counted" "cmp -s <(records '$T/Tf.jsonl') <(records '$T/T-dup.jsonl') && grep -q '\"retransmitted_segments\":[[:space:]]*[1-9]' '$T/dup.stats'"
ok "reordered packets: read" "$BIN" capture -r "$T/reordered.pcap" -o "$T/T-ro.jsonl" -q
check "reordered packets: every body and event count as before" "$PY -c \"
import json
a=[json.loads(l) for l in open('$T/Tf.jsonl')][1:]; b=[json.loads(l) for l in open('$T/T-ro.jsonl')][1:]
k=lambda r: r['headers']['x-request-id']
A={k(r):r for r in a}; B={k(r):r for r in b}
assert A.keys()==B.keys(), 'different requests'
assert all(A[i]['body']==B[i]['body'] and A[i]['orig']['events']==B[i]['orig']['events'] and 'incomplete' not in B[i]['orig'] for i in A)\""
ok "lost packets: read" "$BIN" capture -r "$T/lossy.pcap" -o "$T/T-lossy.jsonl" -q --stats "$T/lossy.stats"
ok "lost packets: a valid trace" "$BIN" trace validate "$T/T-lossy.jsonl"
check "lost packets: no garbage (a body is whole and T's, or absent with a reason); losses reported" "$PY -c \"
import json,sys
T=[json.loads(l) for l in open('$T/T.jsonl')][1:]
rs=[json.loads(l) for l in open('$T/T-lossy.jsonl')][1:]
s=json.load(open('$T/lossy.stats'))
good=all(r['body']==T[int(r['headers']['x-request-id'])]['body'] for r in rs if 'body' in r)
reasons=all('incomplete' in r['orig'] for r in rs if 'body' not in r)
print('    records', len(rs), 'incomplete', s['incomplete_total'], s['incomplete'])
sys.exit(0 if good and reasons and s['incomplete_total'] > 0 and len(rs) > 250 else 1)\""
expect_err "a damaged pcap: exit 3, the records before the damage kept" 3 'damaged' \
    "$BIN" capture -r "$T/cut.pcap" -o "$T/T-cut.jsonl" -q
check "... and the trace is complete" "'$BIN' trace validate '$T/T-cut.jsonl' && [ \$(tail -n +2 '$T/T-cut.jsonl' | wc -l) -ge $((N - 2)) ]"
ok "--rotate-mb 1 over the pcap" "$BIN" capture -r "$T/dump.pcap" -o "$T/rot.jsonl" --rotate-mb 1 -q
check "... several parts, each a valid trace, $N records in all" "[ -f '$T/rot-0002.jsonl' ] && for f in '$T'/rot-*.jsonl; do '$BIN' trace validate \"\$f\" >/dev/null || exit 1; done && [ \$(cat '$T'/rot-*.jsonl | grep -c t_us) = $N ]"
ok "--redact over the pcap" "$BIN" capture -r "$T/dump.pcap" -o "$T/red.jsonl" --redact --seed 1 -q
check "--redact: no prompt text, lengths and hash ids instead" "$PY -c \"
import json,sys
T=[json.loads(l) for l in open('$T/T.jsonl')][1:]
text=open('$T/red.jsonl').read()
ws=[t['body']['messages'][0]['content'].split() for t in T[:20]]
rs=[json.loads(l) for l in text.splitlines()[1:]]
leak=[' '.join(w[i:i+3]) for w in ws for i in range(0, len(w) - 3, 7) if ' '.join(w[i:i+3]) in text]
sys.exit(0 if not leak and all('body' not in r and len(r['hash_ids'])==-(-r['input_tokens']//512) for r in rs) else 1)\""
stop "$PID_rt"

# --- SIGINT in mid-capture: exit 5, the trace complete, open exchanges marked ---
start_server sig --step-time 20ms
start_capture sig -i lo --port "$PORT_sig" -o "$T/Tsig.jsonl.zst"
spawn "$BIN" replay "$T/T.jsonl" --client gateway --url "http://127.0.0.1:$PORT_sig" --out "$T/rs" -q 2>/dev/null
RP=$SPAWN_PID
for _ in $(seq 1 200); do [ -f "$T/rs/requests.jsonl" ] && [ "$(wc -l < "$T/rs/requests.jsonl")" -ge 5 ] && break; sleep 0.05; done
kill -INT "$CAP_sig"; wait "$CAP_sig"; rc=$?
stop "$RP" INT
stop "$PID_sig"
check "SIGINT: exit 5" "[ $rc = 5 ]"
ok "SIGINT: the trace is complete and valid" "$BIN" trace validate "$T/Tsig.jsonl.zst"
check "SIGINT: exchanges still open are written as capture_stopped" "'$BIN' trace cat '$T/Tsig.jsonl.zst' | grep -q '\"incomplete\":\"capture_stopped\"'"

# --- IPv6 on ::1, -i any, secrets ---
start_server v6 --host ::1 --api-key s3cret-v6
start_capture v6 -i lo --port "$PORT_v6" -o "$T/T6.jsonl" --max-requests 40
start_capture any -i any --port "$PORT_v6" -o "$T/Tany.jsonl" --max-requests 40
ok "IPv6: replay 40 requests to [::1] with an API key" "$BIN" replay "$T/T.jsonl" --first 40 --client gateway --url "http://[::1]:$PORT_v6" --api-key s3cret-v6 --out "$T/r6" -q
wait "$CAP_v6"; rc6=$?
wait "$CAP_any"; rca=$?
stop "$PID_v6"
check "IPv6: 40 records, all ok" "[ $rc6 = 0 ] && [ \$(grep -c '\"ok\":true' '$T/T6.jsonl') = 40 ]"
check "-i any (Linux cooked): the same 40 requests" "[ $rca = 0 ] && grep -q LINUX_SLL '$T/Tany.jsonl' && [ \$(grep -c '\"ok\":true' '$T/Tany.jsonl') = 40 ]"
check "the API key is in no trace" "! grep -q s3cret '$T/T6.jsonl' '$T/Tany.jsonl'"

# --- no such interface, no permission on the interface: exit 4 ---
expect_err "an interface that does not exist: exit 4" 4 'no such interface|No such device' \
    "$BIN" capture -i sagellm-none0 -o "$T/x.jsonl"
if command -v setpriv >/dev/null; then
    expect_err "capture as an unprivileged user: exit 4, says why" 4 'no permission|Operation not permitted' \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$BIN" capture -i lo -o /dev/null
fi
finish
