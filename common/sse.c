/* sse.c — see sse.h.
 *
 * The hot path: a complete line inside the chunk is parsed where it lies,
 * with no copy; only a line cut by the chunk's end is carried over in
 * `line`. Line ends are found with memchr, and the positions of the next
 * '\n' and the next '\r' are remembered, so each byte is scanned at most
 * once for each of them. `data` lines are copied once into the data buffer,
 * which the dispatched event points into. */
#include "common/sse.h"
#include "common/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char BOM[3] = { 0xEF, 0xBB, 0xBF };

struct sse_parser {
    size_t max;           /* limit on one line and on one event's data */
    strbuf line;          /* the part of a line cut by the end of a chunk */
    strbuf data;          /* data buffer */
    strbuf type;          /* event type buffer */
    strbuf id;            /* last event id buffer */
    strbuf aux;           /* a comment's text, when comments are reported */
    long long retry;      /* -1: none */
    unsigned bom;         /* BOM bytes matched at the stream's start; 3: done */
    int skip_lf;          /* the last line ended with '\r': drop a '\n' next */
    int pending;          /* a field line since the last blank line */
    int report_comments;
    int failed;
    size_t consumed;
    sse_stats st;
    char *err;            /* the error state's message (heap), NULL until then */
};

sse_parser *sse_new(size_t max_event_bytes)
{
    sse_parser *p = xcalloc(1, sizeof *p);
    p->max = max_event_bytes ? max_event_bytes : SSE_DEFAULT_MAX_EVENT;
    if (p->max < 16) p->max = 16; /* room for a held BOM prefix; no real stream is smaller */
    p->retry = -1;
    return p;
}

void sse_set_report_comments(sse_parser *p, int on)
{
    p->report_comments = on != 0;
}

void sse_reset(sse_parser *p)
{
    sb_clear(&p->line);
    sb_clear(&p->data);
    sb_clear(&p->type);
    sb_clear(&p->id);
    p->retry = -1;
    p->bom = 0;
    p->skip_lf = p->pending = p->failed = 0;
    p->consumed = 0;
    memset(&p->st, 0, sizeof p->st);
    free(p->err);
    p->err = NULL;
}

void sse_free(sse_parser *p)
{
    if (!p) return;
    sb_free(&p->line);
    sb_free(&p->data);
    sb_free(&p->type);
    sb_free(&p->id);
    sb_free(&p->aux);
    free(p->err);
    free(p);
}

static void trim_buf(strbuf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) sb_free(b);
}

void sse_trim(sse_parser *p, size_t keep)
{
    trim_buf(&p->line, keep);
    trim_buf(&p->data, keep);
    trim_buf(&p->type, keep);
    trim_buf(&p->id, keep);
    trim_buf(&p->aux, keep);
}

size_t sse_consumed(const sse_parser *p) { return p->consumed; }
const char *sse_last_event_id(const sse_parser *p) { return p->id.len ? p->id.buf : ""; }
long long sse_retry_ms(const sse_parser *p) { return p->retry; }
const sse_stats *sse_get_stats(const sse_parser *p) { return &p->st; }
const char *sse_error(const sse_parser *p) { return p->err ? p->err : ""; }

int sse_finish(sse_parser *p)
{
    if (p->failed) return ERR_INPUT;
    if (p->line.len || (p->bom > 0 && p->bom < 3) || p->pending) return SSE_TRUNCATED;
    return 0;
}

/* Enters the error state with a message. Returns ERR_INPUT. */
static int fail_limit(sse_parser *p, const char *what)
{
    char msg[128];
    p->failed = 1;
    errf(msg, sizeof msg, "SSE %s over the limit of %zu bytes", what, p->max);
    free(p->err);
    p->err = xstrdup(msg);
    return ERR_INPUT;
}

/* A blank line: dispatches the event if its data buffer is not empty, then
 * empties the data and type buffers. Returns 0 or SSE_STOPPED. */
static int dispatch(sse_parser *p, sse_event_cb cb, void *ud)
{
    p->pending = 0;
    if (p->data.len == 0) {
        p->type.len = 0;
        p->st.empty_dispatches++;
        return 0;
    }
    p->data.buf[--p->data.len] = '\0'; /* the final "\n" */
    sse_event ev;
    ev.type = p->type.len ? p->type.buf : "message";
    ev.type_len = p->type.len ? p->type.len : 7;
    ev.data = p->data.buf;
    ev.data_len = p->data.len;
    ev.id = p->id.len ? p->id.buf : "";
    ev.id_len = p->id.len;
    ev.comment = 0;
    p->st.events++;
    int rc = cb ? cb(&ev, ud) : 0;
    p->data.len = 0;
    p->type.len = 0;
    return rc ? SSE_STOPPED : 0;
}

/* A comment line: counted, and passed to cb when comments are reported.
 * Returns 0 or SSE_STOPPED. */
static int comment(sse_parser *p, const char *l, size_t len, sse_event_cb cb, void *ud)
{
    p->st.comments++;
    if (!p->report_comments || !cb) return 0;
    l++, len--;
    if (len && *l == ' ') l++, len--;
    sb_clear(&p->aux);
    sb_add(&p->aux, l, len);
    sse_event ev = { "", 0, p->aux.buf, len, p->id.len ? p->id.buf : "", p->id.len, 1 };
    return cb(&ev, ud) ? SSE_STOPPED : 0;
}

/* Sets a buffer to a value (the type and id buffers are replaced whole). */
static void set_buf(strbuf *b, const char *v, size_t n)
{
    b->len = 0;
    sb_add(b, v, n);
}

/* One complete line, without its terminator. Returns 0, SSE_STOPPED or
 * ERR_INPUT. */
static int process_line(sse_parser *p, const char *l, size_t len, sse_event_cb cb, void *ud)
{
    p->st.lines++;
    if (len == 0) return dispatch(p, cb, ud);
    if (l[0] == ':') return comment(p, l, len, cb, ud);
    p->pending = 1;
    const char *colon = memchr(l, ':', len);
    size_t flen = colon ? (size_t)(colon - l) : len;
    const char *v = colon ? colon + 1 : l + len;
    size_t vlen = len - flen - (colon != NULL);
    if (vlen && *v == ' ') v++, vlen--;
    switch (flen) {
    case 4:
        if (memcmp(l, "data", 4) == 0) {
            if (vlen + 1 > p->max - p->data.len) return fail_limit(p, "event data");
            sb_reserve(&p->data, vlen + 1);
            memcpy(p->data.buf + p->data.len, v, vlen);
            p->data.len += vlen;
            p->data.buf[p->data.len++] = '\n';
            p->data.buf[p->data.len] = '\0';
        }
        break;
    case 5:
        if (memcmp(l, "event", 5) == 0) {
            set_buf(&p->type, v, vlen);
        } else if (memcmp(l, "retry", 5) == 0 && vlen) {
            long long r = 0;
            size_t i;
            for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++) {
                int dg = v[i] - '0';
                r = r > (LLONG_MAX - dg) / 10 ? LLONG_MAX : r * 10 + dg; /* saturates */
            }
            if (i == vlen) p->retry = r;
        }
        break;
    case 2:
        if (memcmp(l, "id", 2) == 0 && !memchr(v, '\0', vlen)) set_buf(&p->id, v, vlen);
        break;
    default:
        break;
    }
    return 0;
}

/* Position of the first c in b[from, n), or n. */
static size_t find(const char *b, size_t from, size_t n, char c)
{
    const char *q = memchr(b + from, c, n - from);
    return q ? (size_t)(q - b) : n;
}

int sse_feed(sse_parser *p, const char *buf, size_t n, sse_event_cb cb, void *ud)
{
    size_t i = 0;
    int rc = 0;
    p->consumed = 0;
    if (p->failed) return ERR_INPUT;
    if (n == 0) return 0;

    /* A leading BOM, which may itself be split across chunks. */
    while (p->bom < 3 && i < n) {
        if ((unsigned char)buf[i] == BOM[p->bom]) {
            p->bom++;
            i++;
        } else {
            /* Not a BOM: the bytes held so far start the first line (they
             * hold no line end, so the line buffer is where they belong). */
            if (p->bom) sb_add(&p->line, BOM, p->bom);
            p->bom = 3;
        }
    }

    size_t lf = find(buf, i, n, '\n'), cr = find(buf, i, n, '\r');
    while (i < n) {
        if (p->skip_lf) {
            p->skip_lf = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        if (lf < i) lf = find(buf, i, n, '\n');
        if (cr < i) cr = find(buf, i, n, '\r');
        size_t e = lf < cr ? lf : cr;
        if (e == n) { /* no line end in the rest of the chunk: carry it over */
            if (n - i > p->max - p->line.len) {
                rc = fail_limit(p, "line");
                break;
            }
            sb_add(&p->line, buf + i, n - i);
            i = n;
            break;
        }
        const char *l = buf + i;
        size_t len = e - i;
        if (len > p->max - p->line.len) {
            rc = fail_limit(p, "line");
            break;
        }
        if (p->line.len) { /* completes the line carried over */
            sb_add(&p->line, l, len);
            l = p->line.buf;
            len = p->line.len;
        }
        p->skip_lf = buf[e] == '\r';
        i = e + 1;
        rc = process_line(p, l, len, cb, ud);
        p->line.len = 0;
        if (rc) break;
    }
    p->consumed = i;
    p->st.bytes += i;
    return rc;
}
