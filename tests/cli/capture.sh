#!/usr/bin/env bash
# `capture` without privileges: options and usage errors, the exit codes of
# bad input and system errors, and pcap files written here (a small
# capture of a keep-alive connection in Ethernet and raw-IP framing, an
# empty one, one of an unknown link type): records, --stats, stdin,
# --duration, --max-requests and --sample on files.
source "$(dirname "$0")/../lib.sh"
PY=python3

# A pcap of one connection to port 8000 with three chat exchanges (SSE).
$PY - "$T" <<'EOF'
import json, struct, sys
out = sys.argv[1]
def chunk(s): return b'%x\r\n' % len(s) + s + b'\r\n'
def req(i):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "question %d" % i}], "stream": True}).encode()
    return (b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: %d\r\n'
            b'Content-Length: %d\r\n\r\n' % (i, len(body))) + body
def resp(n):
    r = b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'
    for _ in range(n): r += chunk(b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n')
    r += chunk(b'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":%d}}\n\n' % n)
    return r + chunk(b'data: [DONE]\n\n') + b'0\r\n\r\n'
pkts, t = [], 1700000000 * 10**9
cs, ss = 1000, 5000
def seg(frm, flags, data=b''):
    global t, cs, ss
    src, dst = (b'\x7f\x00\x00\x01', b'\x7f\x00\x00\x01')
    sp, dp = (40000, 8000) if frm == 'c' else (8000, 40000)
    seq, ack = (cs, ss) if frm == 'c' else (ss, cs)
    tcp = struct.pack('>HHIIBBHHH', sp, dp, seq, ack, 0x50, flags, 65535, 0, 0)
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + len(data), 0, 0, 64, 6, 0, src, dst)
    pkts.append((t, ip + tcp + data))
    t += 250000000
    n = len(data) + (1 if flags & 3 else 0)
    if frm == 'c': cs += n
    else: ss += n
seg('c', 0x02); seg('s', 0x12); seg('c', 0x10)
for i in range(3):
    seg('c', 0x18, req(i)); seg('s', 0x18, resp(i + 2)); seg('c', 0x10)
seg('c', 0x11); seg('s', 0x11); seg('c', 0x10)
def write(name, link, frames, hdr=b''):
    with open(f'{out}/{name}', 'wb') as o:
        o.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 262144, link))
        for ts, p in frames:
            fr = hdr + p
            o.write(struct.pack('<IIII', ts // 10**9, ts % 10**9, len(fr), len(fr)) + fr)
write('eth.pcap', 1, pkts, bytes(12) + b'\x08\x00')
write('raw.pcap', 101, pkts)
write('empty.pcap', 1, [])
write('wifi.pcap', 105, pkts)
open(f'{out}/junk.pcap', 'wb').write(b'this is not a capture file at all\n')
EOF

expect_err "no source" 2 'missing a source' "$BIN" capture -o "$T/x.jsonl"
expect_err "two sources" 2 'only one of' "$BIN" capture -i lo -r "$T/eth.pcap" -o "$T/x.jsonl"
expect_err "no -o" 2 'missing -o' "$BIN" capture -r "$T/eth.pcap"
expect_err "unknown option" 2 "unknown option '--bogus'" "$BIN" capture --bogus
expect_err "option without its value" 2 "needs a value" "$BIN" capture -r
expect_err "bad --port" 2 'expected a port' "$BIN" capture -r "$T/eth.pcap" --port 70000 -o "$T/x.jsonl"
expect_err "bad --sample" 2 'probability' "$BIN" capture -r "$T/eth.pcap" --sample 0 -o "$T/x.jsonl"
expect_err "bad --duration" 2 'duration' "$BIN" capture -r "$T/eth.pcap" --duration soon -o "$T/x.jsonl"
expect_err "--rotate-mb with -o -" 2 'needs an output file' "$BIN" capture -r "$T/eth.pcap" --rotate-mb 1 -o -
expect_err "a filter that does not compile" 2 "bad filter" "$BIN" capture -r "$T/eth.pcap" -f 'port port port' -o "$T/x.jsonl"
expect_out "--help lists the options" '--reorder-window' "$BIN" capture --help
expect_out "help capture" 'usage: sagellm-bench capture' "$BIN" help capture

expect_err "a missing file: exit 4" 4 'cannot open' "$BIN" capture -r "$T/none.pcap" -o "$T/x.jsonl"
expect_err "not a capture file: exit 3" 3 'not a capture file' "$BIN" capture -r "$T/junk.pcap" -o "$T/x.jsonl"
expect_err "an unknown link type: exit 3" 3 'link type .* is not supported' "$BIN" capture -r "$T/wifi.pcap" -o "$T/x.jsonl"
expect_err "an output that cannot be written: exit 4" 4 'cannot|No such' "$BIN" capture -r "$T/eth.pcap" -o "$T/no/such/dir/x.jsonl" -q

ok "read a pcap" "$BIN" capture -r "$T/eth.pcap" --port 8000 -o "$T/eth.jsonl" --stats "$T/eth.stats"
check "statistics on stderr" "grep -q 'trace     3 records' '$T/.err'"
check "three records, in order, with their bodies and the server's answers" "$PY -c \"
import json,sys
lines=open('$T/eth.jsonl').read().splitlines()
h=json.loads(lines[0]); rs=[json.loads(l) for l in lines[1:]]
ok=h['source']=='capture' and h['file'].endswith('eth.pcap') and h['filter']=='tcp and (port 8000)' and 'start' in h and h['link_type']=='EN10MB'
ok=ok and [r['t_us'] for r in rs]==[0,750000,1500000]
ok=ok and all(r['body']['messages'][0]['content']=='question %d'%i and r['orig']['events']==i+2 and r['orig']['output_tokens']==i+2
              and r['orig']['ttft_us']==250000 and r['orig']['e2e_us']==250000 and r['headers']['x-request-id']==str(i) for i,r in enumerate(rs))
sys.exit(0 if ok else 1)\""
check "--stats JSON" "$PY -c \"
import json,sys
s=json.load(open('$T/eth.stats'))
sys.exit(0 if s['packets']==15 and s['records']==3 and s['flows']==1 and s['incomplete_total']==0 and s['kernel_drops'] is None else 1)\""
ok "raw IP link type" "$BIN" capture -r "$T/raw.pcap" -o "$T/raw.jsonl" -q
check "... the same records" "cmp -s <(tail -n +2 '$T/eth.jsonl') <(tail -n +2 '$T/raw.jsonl')"
ok "from standard input" bash -c "'$BIN' capture -r - -o '$T/stdin.jsonl' -q < '$T/eth.pcap'"
check "... the same records" "cmp -s <(tail -n +2 '$T/eth.jsonl') <(tail -n +2 '$T/stdin.jsonl')"
ok "an empty pcap" "$BIN" capture -r "$T/empty.pcap" -o "$T/empty.jsonl" -q
check "... gives a header and no records" "[ \$(wc -l < '$T/empty.jsonl') = 1 ] && '$BIN' trace validate '$T/empty.jsonl' >/dev/null"
ok "--max-requests 2" "$BIN" capture -r "$T/eth.pcap" --max-requests 2 -o "$T/max.jsonl" -q
check "... two records" "[ \$(tail -n +2 '$T/max.jsonl' | wc -l) = 2 ]"
ok "--duration 1300ms of capture time" "$BIN" capture -r "$T/eth.pcap" --duration 1300ms -o "$T/dur.jsonl" -q
check "... the first request, the next one cut by the end" "[ \$(grep -c '\"ok\":true' '$T/dur.jsonl') = 1 ] && grep -q 'capture_stopped' '$T/dur.jsonl'"
ok "-o - writes plain JSON Lines to stdout" bash -c "'$BIN' capture -r '$T/eth.pcap' -o - -q > '$T/out.jsonl'"
check "... the same records" "cmp -s <(tail -n +2 '$T/eth.jsonl') <(tail -n +2 '$T/out.jsonl')"
ok "a port that is not there" "$BIN" capture -r "$T/eth.pcap" --port 9 -o "$T/none.jsonl" -q
check "... nothing recorded" "[ \$(wc -l < '$T/none.jsonl') = 1 ]"
# A FIFO (or /dev/null) as the output is written in place, never replaced.
mkfifo "$T/fifo" "$T/sfifo"
spawn bash -c "cat '$T/fifo' > '$T/fifo.out'"
CATP=$SPAWN_PID
spawn bash -c "cat '$T/sfifo' > '$T/sfifo.out'"
CATS=$SPAWN_PID
ok "-o FIFO and --stats FIFO" "$BIN" capture -r "$T/eth.pcap" -o "$T/fifo" --stats "$T/sfifo" -q
wait "$CATP"; wait "$CATS"
check "... still FIFOs, the trace and the statistics went through them" "[ -p '$T/fifo' ] && [ -p '$T/sfifo' ] && [ \$(wc -l < '$T/fifo.out') = 4 ] && grep -q '\"records\":' '$T/sfifo.out'"
expect_err "--rotate-mb with a FIFO output" 2 'regular output file' "$BIN" capture -r "$T/eth.pcap" -o "$T/fifo" --rotate-mb 1

# --event-times: each content event's time is the timestamp of the segment
# that carried its last byte (ns, after the arrival). One streamed exchange
# with one event per segment, one event split over two segments and a
# segment with two events; then a non-streamed JSON answer.
$PY - "$T" <<'EOF'
import json, struct, sys
out = sys.argv[1]
def chunk(s): return b'%x\r\n' % len(s) + s + b'\r\n'
ev = lambda t: chunk(b'data: {"choices":[{"delta":{"content":"%s"}}]}\n\n' % t)
def request(stream):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": stream}).encode()
    return (b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\n\r\n' % len(body)) + body
req, jreq = request(True), request(False)
jbody = b'{"choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
split = ev(b'c')
# (delay in ns before the segment, sender, bytes)
segs = [(0, 'c', req), (1000, 's', b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'),
        (2000, 's', chunk(b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n')),
        (1001, 's', ev(b'a')), (2002, 's', ev(b'b')),
        (3003, 's', split[:20]), (4004, 's', split[20:]),
        (5005, 's', ev(b'd') + ev(b'e')),
        (6006, 's', chunk(b'data: [DONE]\n\n') + b'0\r\n\r\n'),
        (10000, 'c', jreq),
        (7007, 's', b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(jbody) + jbody)]
pkts, t, seq = [], 1700000000 * 10**9 + 123456789, {'c': 1000, 's': 5000}
for d, frm, data in segs:
    t += d
    sp, dp = (40000, 8000) if frm == 'c' else (8000, 40000)
    other = 's' if frm == 'c' else 'c'
    tcp = struct.pack('>HHIIBBHHH', sp, dp, seq[frm], seq[other], 0x50, 0x18, 65535, 0, 0)
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + len(data), 0, 0, 64, 6, 0, b'\x7f\0\0\1', b'\x7f\0\0\1')
    pkts.append((t, ip + tcp + data))
    seq[frm] += len(data)
with open(f'{out}/events.pcap', 'wb') as o:
    o.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 262144, 101))
    for ts, p in pkts:
        o.write(struct.pack('<IIII', ts // 10**9, ts % 10**9, len(p), len(p)) + p)
EOF
ok "--event-times over a pcap" "$BIN" capture -r "$T/events.pcap" --event-times -o "$T/ev.jsonl" -q
check "... each event at the segment that carried its last byte, in ns after the arrival" "$PY -c \"
import json,sys
ls=[json.loads(l) for l in open('$T/ev.jsonl')]
h,s,j=ls[0],ls[1]['orig'],ls[2]['orig']
t0=1700000000*10**9+123456789
ok=h['event_times'] is True and s['t_arrival_ns']==t0 and s['events']==5
ok=ok and s['event_ns']==[4001, 6003, 13010, 18015, 18015]
ok=ok and j['t_arrival_ns']==t0+34021 and j['event_ns']==[7007] and j['events']==1
sys.exit(0 if ok else 1)\""
ok "... a valid trace" "$BIN" trace validate "$T/ev.jsonl"
ok "without --event-times" "$BIN" capture -r "$T/events.pcap" -o "$T/noev.jsonl" -q
check "... no event times" "! grep -q 'event_ns\|t_arrival_ns\|event_times' '$T/noev.jsonl'"
finish
