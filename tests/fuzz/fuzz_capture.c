/* fuzz_capture.c — libFuzzer target for the packet path of `capture`:
 * frames built from the input go through capture_core (pkt_decode,
 * tcp_reasm, http_pair, capture_out to a memory sink), as a live capture's
 * would.
 *
 * Input: one options byte, then operations.
 *   options: bit 0 the handshake is seen (else the capture starts
 *   mid-connection); bit 1 no grace for lost bytes; bit 2 a tiny per-flow
 *   memory cap; bit 3 --all-paths; bit 4 --redact (else --event-times); bits 5-6 the link type
 *   (Ethernet, SLL, SLL2, NULL); bit 7 IPv6.
 *   operation byte: bits 0-2 the kind, the rest its flags:
 *     0/1 data from the client/server: then LEN, ADJ and LEN payload bytes;
 *         sent at the side's next sequence number + (int8)ADJ * 16; bit 3
 *         set: the side's next number does not move (a duplicate or a
 *         segment to be overtaken); bit 4: acknowledge nothing new.
 *     2   flags only: then FLAGS (FIN/SYN/RST/ACK bits); bit 3: from the server.
 *     3   time passes: then N; N * 7 ms.
 *     4   a raw frame: then LEN and LEN bytes, given to the decoder as is.
 *     5   a second connection sends a data segment (LEN, LEN bytes): flow
 *         table churn.
 * Sessions are inferred with a header (x-conversation-id), with bit 3 a body
 * field (user) too, and room for 3 conversations.
 * Every record written must be a valid trace record, in arrival order. */
#include "capture/capture_core.h"
#include "common/util.h"
#include "traces/trace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/dlt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    capture_core *core;
    int dlt, family;
    int64_t ts, last_t;
    uint32_t next[2];          /* client, server */
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t frame[2048];
} fz;

static int sink(void *ud, const char *line, size_t len, int64_t t_us)
{
    fz *f = ud;
    trace_rec r = {0};
    char err[256];
    if (trace_rec_parse(&r, line, len, 0, err, sizeof err)) __builtin_trap();
    trace_rec_clear(&r);
    if (t_us < f->last_t) __builtin_trap();
    f->last_t = t_us;
    return 0;
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void send_seg(fz *f, int from, uint16_t sport_delta, uint32_t seq, uint32_t ack, uint8_t flags,
                     const uint8_t *payload, size_t n)
{
    size_t link = f->dlt == DLT_EN10MB ? 14 : f->dlt == DLT_LINUX_SLL ? 16 : f->dlt == DLT_LINUX_SLL2 ? 20 : 4;
    size_t ipl = f->family == 4 ? 20 : 40;
    unsigned et = f->family == 4 ? 0x0800 : 0x86DD;
    if (link + ipl + 20 + n > sizeof f->frame) return;
    uint8_t *p = f->frame;
    memset(p, 0, link + ipl + 20);
    if (f->dlt == DLT_EN10MB) put16(p + 12, et);
    else if (f->dlt == DLT_LINUX_SLL) put16(p + 14, et);
    else if (f->dlt == DLT_LINUX_SLL2) put16(p, et);
    else p[0] = f->family == 4 ? 2 : 10;
    p += link;
    const uint8_t *src = f->addr[from], *dst = f->addr[!from];
    if (f->family == 4) {
        p[0] = 0x45;
        put16(p + 2, (unsigned)(40 + n));
        p[9] = 6;
        memcpy(p + 12, src, 4);
        memcpy(p + 16, dst, 4);
    } else {
        p[0] = 0x60;
        put16(p + 4, (unsigned)(20 + n));
        p[6] = 6;
        memcpy(p + 8, src, 16);
        memcpy(p + 24, dst, 16);
    }
    p += ipl;
    put16(p, (unsigned)(f->port[from] + (from ? 0 : sport_delta)));
    put16(p + 2, (unsigned)(f->port[!from] + (from ? sport_delta : 0)));
    put32(p + 4, seq);
    put32(p + 8, ack);
    p[12] = 0x50;
    p[13] = flags;
    if (n) memcpy(p + 20, payload, n);
    size_t len = link + ipl + 20 + n;
    capture_core_packet(f->core, f->dlt, f->ts, f->frame, len, len);
    f->ts += 3000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t opt = data[0];
    static const int dlts[4] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL };
    fz f;
    memset(&f, 0, sizeof f);
    f.dlt = dlts[(opt >> 5) & 3];
    f.family = opt & 0x80 ? 6 : 4;
    f.ts = 1000000000LL;
    f.addr[0][0] = 10; f.addr[0][3] = 1;
    f.addr[1][0] = 10; f.addr[1][3] = 2;
    f.port[0] = 40000;
    f.port[1] = 8000;
    f.next[0] = 0xFFFFF000u;                   /* wraps early */
    f.next[1] = 0x7FFFFFF0u;
    capture_out_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.sink = sink;
    wo.sink_ud = &f;
    wo.sample = 1;
    wo.window_ns = 50LL * 1000000;
    wo.max_sessions = 3;                       /* the sessionizer forgets early */
    char err[256];
    capture_out *w = capture_out_new(&wo, err, sizeof err);
    capture_core_opts co;
    memset(&co, 0, sizeof co);
    co.tcp.gap_grace_ns = opt & 2 ? -1 : 0;
    co.tcp.flow_mem = opt & 4 ? 700 : 0;
    co.tcp.idle_ns = 100LL * 1000000;
    co.tcp.max_flows = 8;
    co.http.all_paths = (opt & 8) != 0;
    co.http.fmt.redact = (opt & 16) != 0;
    co.http.fmt.event_times = (opt & 16) == 0;
    co.http.fmt.session_header = "x-conversation-id";
    co.http.fmt.session_field = opt & 8 ? "user" : NULL;
    co.http.max_body = 4096;
    f.core = capture_core_new(&co, w);
    if (opt & 1) {
        send_seg(&f, 0, 0, f.next[0]++, 0, 0x02, NULL, 0);
        send_seg(&f, 1, 0, f.next[1]++, f.next[0], 0x12, NULL, 0);
        send_seg(&f, 0, 0, f.next[0], f.next[1], 0x10, NULL, 0);
    }
    size_t i = 1;
    uint16_t churn = 1;
    while (i < size) {
        uint8_t op = data[i++];
        int kind = op & 7;
        if (kind == 0 || kind == 1) {
            if (i + 2 > size) break;
            size_t len = data[i];
            int8_t adj = (int8_t)data[i + 1];
            i += 2;
            if (len > size - i) len = size - i;
            uint32_t seq = f.next[kind] + (uint32_t)((int32_t)adj * 16);
            uint32_t ack = op & 16 ? f.next[!kind] - 1000 : f.next[!kind];
            send_seg(&f, kind, 0, seq, ack, 0x18, data + i, len);
            if (!(op & 8)) f.next[kind] = seq + (uint32_t)len;
            i += len;
        } else if (kind == 2) {
            if (i + 1 > size) break;
            int from = (op & 8) != 0;
            uint8_t fl = data[i++] & 0x17;
            send_seg(&f, from, 0, f.next[from], f.next[!from], fl, NULL, 0);
            if (fl & 0x03) f.next[from]++;
        } else if (kind == 3) {
            if (i + 1 > size) break;
            f.ts += (int64_t)data[i++] * 7000000;
            capture_core_tick(f.core, f.ts);
        } else if (kind == 4) {
            if (i + 1 > size) break;
            size_t len = data[i++];
            if (len > size - i) len = size - i;
            capture_core_packet(f.core, f.dlt, f.ts, data + i, len, len + (op >> 3));
            i += len;
        } else if (kind == 5) {
            if (i + 1 > size) break;
            size_t len = data[i++];
            if (len > size - i) len = size - i;
            churn = (uint16_t)(churn % 40 + 1);
            send_seg(&f, 0, churn, 1000u * churn, 5, 0x18, data + i, len);
            i += len;
        }
    }
    capture_core_finish(f.core, f.ts);
    if (capture_out_close(w, err, sizeof err)) __builtin_trap();
    const tcp_reasm_stats *ts = capture_core_tcp_stats(f.core);
    if (ts->open_flows != 0 || ts->queued_bytes != 0) __builtin_trap();
    const http_pair_stats *hs = capture_core_http_stats(f.core);
    if (hs->held_bytes != 0) __builtin_trap();
    if (capture_out_open(w) != 0) __builtin_trap();
    capture_core_free(f.core);
    capture_out_free(w);
    return 0;
}
