/* fuzz_sse.c — libFuzzer target for the SSE parser (common/sse).
 *
 * The input is a byte stream. It is parsed four ways, which must agree
 * exactly (events, comments, lines, last id, retry, end-of-stream result):
 *   1. fed whole;
 *   2. fed in chunks whose sizes come from the input's own bytes;
 *   3. fed in those chunks with a callback that stops after every event,
 *      the rest of each chunk being fed again from sse_consumed;
 *   4. a plain byte-at-a-time reference written straight from the WHATWG
 *      rules, sharing no code with the parser.
 * The last byte picks the options: bit 0 a small size limit (16..63 bytes),
 * bit 1 comments reported. */
#include "common/sse.h"
#include "common/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    strbuf ev;        /* events rendered with length prefixes */
    int rc;           /* ERR_INPUT, or sse_finish's result */
    uint64_t comments, lines, events;
    long long retry;
    strbuf id;
    int stop;         /* the callback returns 1 */
} result;

static void put(strbuf *b, const char *s, size_t n)
{
    sb_printf(b, "%zu:", n);
    sb_add(b, s, n);
}

static int on_event(const sse_event *e, void *ud)
{
    result *r = ud;
    if (!e->type || !e->data || !e->id || e->data[e->data_len] || e->type[e->type_len] ||
        e->id[e->id_len] || (!e->comment && e->type_len == 0) || memchr(e->id, 0, e->id_len))
        __builtin_trap();
    sb_addc(&r->ev, e->comment ? 'C' : 'E');
    put(&r->ev, e->type, e->type_len);
    put(&r->ev, e->id, e->id_len);
    put(&r->ev, e->data, e->data_len);
    return r->stop;
}

static size_t chunk_at(const uint8_t *d, size_t n, size_t off)
{
    size_t c = 1 + ((unsigned)d[off] * 31u + (unsigned)off) % 61u;
    return c < n - off ? c : n - off;
}

/* mode 0: whole; 1: chunks; 2: chunks with stop-and-resume; 3: bytes. */
static void run_parser(const uint8_t *d, size_t n, size_t max, int comments, int mode, result *r)
{
    sse_parser *p = sse_new(max);
    sse_set_report_comments(p, comments);
    r->stop = mode == 2;
    int rc = 0;
    size_t off = 0, fed = 0;
    while (off < n && rc >= 0) {
        size_t c = mode == 0 ? n : mode == 3 ? 1 : chunk_at(d, n, off);
        size_t done = 0;
        do {
            rc = sse_feed(p, (const char *)d + off + done, c - done, on_event, r);
            if (rc >= 0 && rc != SSE_STOPPED && sse_consumed(p) != c - done) __builtin_trap();
            done += sse_consumed(p);
            if (rc == SSE_STOPPED && mode != 2) __builtin_trap();
        } while (rc == SSE_STOPPED);
        fed += done;
        off += c;
    }
    const sse_stats *st = sse_get_stats(p);
    if (st->bytes != fed) __builtin_trap();
    r->rc = rc < 0 ? rc : sse_finish(p);
    if (r->rc < 0 && !sse_error(p)[0]) __builtin_trap();
    if (r->rc >= 0 && sse_error(p)[0]) __builtin_trap();
    r->comments = st->comments;
    r->lines = st->lines;
    r->events = st->events;
    r->retry = sse_retry_ms(p);
    sb_adds(&r->id, sse_last_event_id(p));
    /* after a reset the parser is as new */
    sse_reset(p);
    if (sse_finish(p) != 0 || sse_get_stats(p)->bytes || sse_last_event_id(p)[0]) __builtin_trap();
    sse_free(p);
}

/* The reference: the WHATWG steps, one byte at a time. */
static void run_reference(const uint8_t *d, size_t n, size_t max, int comments, result *r)
{
    if (max == 0) max = SSE_DEFAULT_MAX_EVENT;
    if (max < 16) max = 16;
    strbuf line = {0}, buf = {0}, type = {0}, id = {0};
    int pending = 0;
    size_t i = 0;
    r->retry = -1;
    r->rc = 0;
    if (n >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF) i = 3;
    for (;;) {
        sb_clear(&line);
        while (i < n && d[i] != '\r' && d[i] != '\n') sb_addc(&line, (char)d[i++]);
        if (line.len > max) { r->rc = ERR_INPUT; break; }
        if (i == n) { /* end of stream */
            r->rc = line.len || pending ? SSE_TRUNCATED : 0;
            break;
        }
        if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') i++;
        i++;
        r->lines++;
        const char *l = line.buf ? line.buf : "";
        if (line.len == 0) { /* dispatch */
            pending = 0;
            if (buf.len == 0) { sb_clear(&type); continue; }
            buf.len--;
            r->events++;
            sb_addc(&r->ev, 'E');
            if (type.len) put(&r->ev, type.buf, type.len);
            else put(&r->ev, "message", 7);
            put(&r->ev, id.buf ? id.buf : "", id.len);
            put(&r->ev, buf.buf, buf.len);
            sb_clear(&buf);
            sb_clear(&type);
            continue;
        }
        size_t colon = 0;
        while (colon < line.len && l[colon] != ':') colon++;
        size_t vstart = colon < line.len ? colon + 1 : line.len;
        if (vstart < line.len && l[vstart] == ' ') vstart++;
        const char *v = l + vstart;
        size_t vlen = line.len - vstart;
        if (colon == 0) {
            r->comments++;
            if (comments) {
                sb_addc(&r->ev, 'C');
                put(&r->ev, "", 0);
                put(&r->ev, id.buf ? id.buf : "", id.len);
                put(&r->ev, v, vlen);
            }
            continue;
        }
        pending = 1;
        if (colon == 5 && !memcmp(l, "event", 5)) {
            sb_clear(&type);
            sb_add(&type, v, vlen);
        } else if (colon == 4 && !memcmp(l, "data", 4)) {
            if (buf.len + vlen + 1 > max) { r->rc = ERR_INPUT; break; }
            sb_add(&buf, v, vlen);
            sb_addc(&buf, '\n');
        } else if (colon == 2 && !memcmp(l, "id", 2)) {
            int nul = 0;
            for (size_t k = 0; k < vlen; k++) nul |= v[k] == 0;
            if (!nul) { sb_clear(&id); sb_add(&id, v, vlen); }
        } else if (colon == 5 && !memcmp(l, "retry", 5) && vlen) {
            int digits = 1;
            long double x = 0;
            for (size_t k = 0; k < vlen; k++) {
                digits &= v[k] >= '0' && v[k] <= '9';
                x = x * 10 + (v[k] - '0');
            }
            if (digits) r->retry = x > 9223372036854775807.0L ? 9223372036854775807LL : (long long)x;
        }
    }
    sb_add(&r->id, id.buf ? id.buf : "", id.len);
    sb_free(&line);
    sb_free(&buf);
    sb_free(&type);
    sb_free(&id);
}

static void same(const result *a, const result *b)
{
    if (a->rc != b->rc || a->ev.len != b->ev.len ||
        (a->ev.len && memcmp(a->ev.buf, b->ev.buf, a->ev.len)))
        __builtin_trap();
    if (a->comments != b->comments || a->events != b->events || a->lines != b->lines ||
        a->retry != b->retry || a->id.len != b->id.len ||
        (a->id.len && memcmp(a->id.buf, b->id.buf, a->id.len)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int opt = size ? data[size - 1] : 0;
    size_t max = (opt & 1) ? 16 + (size_t)(opt >> 2) % 48 : 0;
    int comments = (opt & 2) != 0;
    result r[5];
    memset(r, 0, sizeof r);
    run_reference(data, size, max, comments, &r[0]);
    int modes = size <= 4096 ? 4 : 3;
    for (int m = 0; m < modes; m++) {
        run_parser(data, size, max, comments, m, &r[m + 1]);
        same(&r[0], &r[m + 1]);
    }
    for (int m = 0; m < 5; m++) {
        sb_free(&r[m].ev);
        sb_free(&r[m].id);
    }
    return 0;
}
