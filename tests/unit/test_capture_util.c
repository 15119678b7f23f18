/* test_capture_util.c — see test_capture.h. */
#include "tests/unit/test_capture.h"
#include "tests/unit/unit.h"
#include "common/util.h"
#include "traces/trace.h"

#include <stdlib.h>
#include <string.h>
#include <pcap/dlt.h>

static int sink(void *ud, const char *line, size_t len, int64_t t_us)
{
    tcap *t = ud;
    trace_rec r = {0};
    char err[512];
    if (trace_rec_parse(&r, line, len, 0, err, sizeof err)) {
        t->bad++;
        fprintf(stderr, "    bad record: %s: %.300s\n", err, line);
    }
    trace_rec_clear(&r);
    if (t_us < t->last_t_us) t->disorder = 1;
    t->last_t_us = t_us;
    if (t->n < TCAP_MAX_RECS) t->recs[t->n++] = cJSON_ParseWithLength(line, len);
    return 0;
}

void tcap_open(tcap *t, const tcap_opts *o)
{
    memset(t, 0, sizeof *t);
    tcap_opts d;
    if (o) d = *o; else memset(&d, 0, sizeof d);
    d.out.sink = sink;
    d.out.sink_ud = t;
    if (!d.out.sample) d.out.sample = 1;
    char err[256];
    t->out = capture_out_new(&d.out, err, sizeof err);
    if (!t->out) {
        fprintf(stderr, "capture_out_new: %s\n", err);
        abort();
    }
    t->core = capture_core_new(&d.core, t->out);
}

void tcap_finish(tcap *t)
{
    if (t->finished) return;
    t->finished = 1;
    capture_core_finish(t->core, 0);
    char err[256];
    if (capture_out_close(t->out, err, sizeof err)) fprintf(stderr, "capture_out_close: %s\n", err);
}

void tcap_close(tcap *t)
{
    tcap_finish(t);
    capture_core_free(t->core);
    capture_out_free(t->out);
    for (int i = 0; i < t->n; i++) cJSON_Delete(t->recs[i]);
    memset(t, 0, sizeof *t);
}

void tconn_init(tconn *c, int family, uint32_t cisn, uint32_t sisn)
{
    memset(c, 0, sizeof *c);
    c->dlt = DLT_EN10MB;
    c->family = family;
    if (family == 4) {
        memcpy(c->cli, (uint8_t[]){ 10, 0, 0, 1 }, 4);
        memcpy(c->srv, (uint8_t[]){ 10, 0, 0, 2 }, 4);
    } else {
        c->cli[0] = c->srv[0] = 0xfd;
        c->cli[15] = 1;
        c->srv[15] = 2;
    }
    c->cport = 40000;
    c->sport = 8000;
    c->cseq = cisn;
    c->sseq = sisn;
    c->ts = 1700000000LL * 1000000000;
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

size_t tpkt_build(uint8_t *buf, size_t cap, int dlt, int family, const uint8_t *src,
                  const uint8_t *dst, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                  uint8_t flags, const void *payload, size_t n)
{
    size_t ipl = family == 4 ? 20 : 40, link;
    unsigned et = family == 4 ? 0x0800 : 0x86DD;
    switch (dlt) {
    case DLT_EN10MB: link = 14; break;
    case DLT_LINUX_SLL: link = 16; break;
    case DLT_LINUX_SLL2: link = 20; break;
    case DLT_NULL: case DLT_LOOP: link = 4; break;
    default: link = 0; break;
    }
    size_t total = link + ipl + 20 + n;
    if (total > cap) abort();
    memset(buf, 0, link + ipl + 20);
    uint8_t *p = buf;
    if (dlt == DLT_EN10MB) put16(p + 12, et);
    else if (dlt == DLT_LINUX_SLL) put16(p + 14, et);
    else if (dlt == DLT_LINUX_SLL2) put16(p, et);
    else if (dlt == DLT_NULL) p[0] = family == 4 ? 2 : 10;          /* host order, little endian */
    else if (dlt == DLT_LOOP) p[3] = family == 4 ? 2 : 10;
    p += link;
    if (family == 4) {
        p[0] = 0x45;
        put16(p + 2, (unsigned)(20 + 20 + n));
        p[8] = 64;
        p[9] = 6;
        memcpy(p + 12, src, 4);
        memcpy(p + 16, dst, 4);
    } else {
        p[0] = 0x60;
        put16(p + 4, (unsigned)(20 + n));
        p[6] = 6;
        p[7] = 64;
        memcpy(p + 8, src, 16);
        memcpy(p + 24, dst, 16);
    }
    p += ipl;
    put16(p, sp);
    put16(p + 2, dp);
    put32(p + 4, seq);
    put32(p + 8, ack);
    p[12] = 5 << 4;
    p[13] = flags;
    put16(p + 14, 65535);
    if (n) memcpy(p + 20, payload, n);
    return total;
}

void tconn_seg(tcap *t, tconn *c, int from_client, uint32_t seq, uint8_t flags,
               const void *data, size_t n)
{
    static uint8_t buf[70000];
    size_t len = from_client
        ? tpkt_build(buf, sizeof buf, c->dlt, c->family, c->cli, c->srv, c->cport, c->sport, seq,
                     c->sseq, flags, data, n)
        : tpkt_build(buf, sizeof buf, c->dlt, c->family, c->srv, c->cli, c->sport, c->cport, seq,
                     c->cseq, flags, data, n);
    capture_core_packet(t->core, c->dlt, c->ts, buf, len, len);
    c->ts += 10000;
}

void tconn_send(tcap *t, tconn *c, int from_client, const void *data, size_t n, size_t mss)
{
    const uint8_t *d = data;
    if (!mss) mss = 1460;
    for (size_t off = 0; off < n; off += mss) {
        size_t k = n - off < mss ? n - off : mss;
        uint32_t *seq = from_client ? &c->cseq : &c->sseq;
        tconn_seg(t, c, from_client, *seq, PKT_ACK | PKT_PSH, d + off, k);
        *seq += (uint32_t)k;
    }
}

void tconn_sends(tcap *t, tconn *c, int from_client, const char *text)
{
    tconn_send(t, c, from_client, text, strlen(text), 0);
}

void tconn_open(tcap *t, tconn *c)
{
    tconn_seg(t, c, 1, c->cseq, PKT_SYN, NULL, 0);
    c->cseq++;
    tconn_seg(t, c, 0, c->sseq, PKT_SYN | PKT_ACK, NULL, 0);
    c->sseq++;
    tconn_seg(t, c, 1, c->cseq, PKT_ACK, NULL, 0);
}

void tconn_close(tcap *t, tconn *c)
{
    tconn_seg(t, c, 1, c->cseq, PKT_FIN | PKT_ACK, NULL, 0);
    c->cseq++;
    tconn_seg(t, c, 0, c->sseq, PKT_FIN | PKT_ACK, NULL, 0);
    c->sseq++;
    tconn_seg(t, c, 1, c->cseq, PKT_ACK, NULL, 0);
}

char *treq_chat(const char *content, const char *extra_headers)
{
    strbuf body = {0}, r = {0};
    sb_adds(&body, "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":");
    sb_json_str(&body, content, strlen(content));
    sb_adds(&body, "}],\"stream\":true,\"max_tokens\":8}");
    sb_printf(&r, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "%sContent-Length: %zu\r\n\r\n", extra_headers ? extra_headers : "", body.len);
    sb_add(&r, body.buf, body.len);
    sb_free(&body);
    return r.buf;
}

static void chunk(strbuf *b, const char *s)
{
    sb_printf(b, "%zx\r\n%s\r\n", strlen(s), s);
}

char *tresp_sse(int n, int prompt_tokens)
{
    strbuf b = {0};
    sb_adds(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    chunk(&b, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
    for (int i = 0; i < n; i++)
        chunk(&b, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok\"}}]}\n\n");
    char u[200];
    snprintf(u, sizeof u, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\n",
             prompt_tokens, n);
    chunk(&b, u);
    chunk(&b, "data: [DONE]\n\n");
    sb_adds(&b, "0\r\n\r\n");
    return b.buf;
}

const char *trec_content(const cJSON *rec)
{
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "body"), "messages");
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

double trec_orig_num(const cJSON *rec, const char *field)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "orig"), field);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const char *trec_orig_str(const cJSON *rec, const char *field)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "orig"), field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
