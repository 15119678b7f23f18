/* http_pair.c — see http_pair.h. One http_parser per direction; the
 * connection's exchanges wait in a queue in request order. An exchange is
 * freed (and recorded, if it holds a ticket) once both its request and its
 * response are done or given up. */
#include "capture/http_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <http_parser.h>

#define MAX_URL 8192

typedef struct hdr_scratch {
    strbuf name, value;
    int in_value;
} hdr_scratch;

struct http_conn {
    http_pair *hp;
    uint64_t id;
    int client_side;           /* -1 until known */
    int dead;                  /* not HTTP, or upgraded: ignore its bytes */
    int req_sync, resp_sync;   /* the direction's parser is at a known position */
    int resync;                /* the response side just found a boundary after losing its place */
    int srv_closed;
    uint64_t requests_ok;      /* requests parsed whole on this connection */
    http_parser preq, presp;
    hdr_scratch h[2];
    strbuf url;
    char rctype[96], renc[16];
    cap_exchange *cur_req;     /* request being parsed */
    cap_exchange *cur_resp;    /* exchange whose response is being parsed (NULL: unpaired) */
    cap_exchange *qhead, *qtail;  /* waiting for their response, in request order */
    size_t qlen;
    cap_exchange *hdr_pending; /* request whose headers just ended (position to note) */
    /* the chunk being parsed */
    int64_t ts, resp_begin_ts;
    uint32_t ack;
    int has_ack;
};

struct http_pair {
    http_pair_opts o;
    capture_out *out;
    resp_scan_pool pool;
    strbuf rec;
    http_pair_stats st;
};


static int32_t sdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

const http_pair_stats *http_pair_get_stats(const http_pair *hp) { return &hp->st; }

/* ---- exchange life ---- */

static void held_sub(http_pair *hp, cap_exchange *x)
{
    hp->st.held_bytes -= x->body.len;
    sb_free(&x->body);
}

static void record(http_pair *hp, cap_exchange *x)
{
    sb_clear(&hp->rec);
    sess_facts sf;
    cap_exchange_format(x, &hp->o.fmt, &hp->rec, &sf);
    capture_out_complete(hp->out, x->ticket, hp->rec.buf, hp->rec.len, &sf);
    x->ticket = NULL;
    hp->st.recorded++;
    int i = cap_exchange_reason_index(x->incomplete);
    if (i >= 0) hp->st.incomplete[i]++;
}

static void finalize(http_pair *hp, cap_exchange *x)
{
    if (x->ticket) record(hp, x);
    held_sub(hp, x);
    cap_exchange_free(x, &hp->pool);
}

/* The window cannot wait for x any longer: record what is known now. */
static void force_cb(void *owner, capture_ticket *t)
{
    cap_exchange *x = owner;
    http_pair *hp = x->ctx;
    const char *saved = x->incomplete;
    if (!x->incomplete) x->incomplete = CAP_INC_WINDOW;
    record(hp, x);
    x->incomplete = saved;
    held_sub(hp, x);
    x->body_dropped = 1;
}

static void queue_remove(http_conn *c, cap_exchange *x)
{
    cap_exchange **pp = &c->qhead, *prev = NULL;
    while (*pp && *pp != x) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = x->next;
    if (c->qtail == x) c->qtail = prev;
    x->next = NULL;
    c->qlen--;
}

/* The response side gives x up (it must be waiting in the queue). */
static void resp_abort(http_pair *hp, http_conn *c, cap_exchange *x, int64_t ts, const char *why)
{
    if (!x->incomplete) x->incomplete = why;
    if (x->resp_started && x->ticket) resp_scan_end(&x->scan, ts, 0);
    if (c->cur_resp == x) c->cur_resp = NULL;
    queue_remove(c, x);
    x->resp_done = 1;
    if (x->req_done) finalize(hp, x);
}

/* The request side gives its current request up. */
static void req_abort(http_pair *hp, http_conn *c, const char *why)
{
    cap_exchange *x = c->cur_req;
    if (!x) return;
    c->cur_req = NULL;
    x->req_incomplete = 1;
    x->req_done = 1;
    if (!x->incomplete) x->incomplete = why;
    held_sub(hp, x);
    if (!x->hdr_done) {                 /* its path is unknown and no response can pair with it */
        hp->st.requests_lost++;
        queue_remove(c, x);
        x->resp_done = 1;
    }
    if (x->resp_done) finalize(hp, x);
}

/* ---- headers ---- */

static void hdr_add(hdr_scratch *h, const char *at, size_t n, int value)
{
    if (h->in_value != value && !value) {   /* a new field begins: the previous pair is done */
        sb_clear(&h->name);
        sb_clear(&h->value);
    }
    h->in_value = value;
    strbuf *b = value ? &h->value : &h->name;
    if (b->len + n <= (16u << 10)) sb_add(b, at, n);
}

static int is_name(const hdr_scratch *h, const char *name)
{
    return h->name.len == strlen(name) && !strncasecmp(h->name.buf, name, h->name.len);
}

static void copy_value(const hdr_scratch *h, char *dst, size_t cap)
{
    size_t n = h->value.len < cap - 1 ? h->value.len : cap - 1;
    memcpy(dst, h->value.buf ? h->value.buf : "", n);
    dst[n] = '\0';
}

/* A request header is complete. */
static void req_header(http_conn *c)
{
    hdr_scratch *h = &c->h[0];
    cap_exchange *x = c->cur_req;
    if (!x || !h->name.len) return;
    const char *v = h->value.buf ? h->value.buf : "";
    if (is_name(h, "expect") && h->value.len >= 12 && !strncasecmp(v, "100-continue", 12))
        x->expect_continue = 1;
    else if (is_name(h, "content-encoding") && strncasecmp(v, "identity", 8))
        copy_value(h, x->req_encoding, sizeof x->req_encoding);
    cap_exchange_add_header(x, h->name.buf, h->name.len, v, h->value.len);
}

static void resp_header(http_conn *c)
{
    hdr_scratch *h = &c->h[1];
    if (is_name(h, "content-type")) copy_value(h, c->rctype, sizeof c->rctype);
    else if (is_name(h, "content-encoding")) copy_value(h, c->renc, sizeof c->renc);
}

static int q_field(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (c->h[0].in_value) req_header(c);
    hdr_add(&c->h[0], at, n, 0);
    return 0;
}

static int q_value(http_parser *p, const char *at, size_t n)
{
    hdr_add(&((http_conn *)p->data)->h[0], at, n, 1);
    return 0;
}

static int r_field(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (c->h[1].in_value) resp_header(c);
    hdr_add(&c->h[1], at, n, 0);
    return 0;
}

static int r_value(http_parser *p, const char *at, size_t n)
{
    hdr_add(&((http_conn *)p->data)->h[1], at, n, 1);
    return 0;
}

/* ---- requests ---- */

static int q_begin(http_parser *p)
{
    http_conn *c = p->data;
    http_pair *hp = c->hp;
    if (c->qlen >= hp->o.max_queue && c->qhead)  /* a client that never hears back */
        resp_abort(hp, c, c->qhead, c->ts, CAP_INC_MEMORY);
    cap_exchange *x = cap_exchange_new(c->id, c->ts);
    x->key_header = hp->o.fmt.session_header;
    x->ctx = hp;
    if (c->qtail) c->qtail->next = x; else c->qhead = x;
    c->qtail = x;
    c->qlen++;
    c->cur_req = x;
    sb_clear(&c->url);
    c->h[0].in_value = 0;
    sb_clear(&c->h[0].name);
    sb_clear(&c->h[0].value);
    hp->st.requests++;
    return 0;
}

static int q_url(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (c->url.len + n <= MAX_URL) sb_add(&c->url, at, n);
    return 0;
}

static int q_headers_done(http_parser *p)
{
    http_conn *c = p->data;
    http_pair *hp = c->hp;
    cap_exchange *x = c->cur_req;
    if (!x) return 0;
    if (c->h[0].in_value) req_header(c);
    c->h[0].in_value = 0;
    snprintf(x->method, sizeof x->method, "%s", http_method_str((enum http_method)p->method));
    x->url = xstrndup(c->url.buf ? c->url.buf : "", c->url.len);
    x->is_head = p->method == HTTP_HEAD;
    x->hdr_done = 1;
    c->hdr_pending = x;
    const char *api = p->method == HTTP_POST ? cap_exchange_api_of(x->url) : NULL;
    if (api || hp->o.all_paths) {
        x->api = api;
        x->ticket = capture_out_reserve(hp->out, x->t_req, force_cb, x);
    } else {
        hp->st.not_llm++;
    }
    if (!x->ticket) sb_free(&x->headers);
    http_parser_pause(p, 1);            /* so the caller learns where the headers end */
    return 0;
}

static int q_body(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    http_pair *hp = c->hp;
    cap_exchange *x = c->cur_req;
    if (!x || !x->ticket || x->body_dropped) return 0;
    if (x->body.len + n > hp->o.max_body || hp->st.held_bytes + n > hp->o.max_held) {
        if (hp->st.held_bytes + n > hp->o.max_held && !x->incomplete) x->incomplete = CAP_INC_MEMORY;
        x->body_dropped = 1;
        held_sub(hp, x);
        return 0;
    }
    sb_add(&x->body, at, n);
    hp->st.held_bytes += n;
    if (hp->st.held_bytes > hp->st.peak_held_bytes) hp->st.peak_held_bytes = hp->st.held_bytes;
    return 0;
}

static int q_done(http_parser *p)
{
    http_conn *c = p->data;
    cap_exchange *x = c->cur_req;
    if (!x) return 0;
    c->cur_req = NULL;
    x->t_req_end = c->ts;
    x->req_done = 1;
    c->requests_ok++;
    if (x->resp_done) finalize(c->hp, x);
    return 0;
}

/* ---- responses ---- */

static int r_begin(http_parser *p)
{
    http_conn *c = p->data;
    http_pair *hp = c->hp;
    c->resp_begin_ts = c->ts;
    c->rctype[0] = c->renc[0] = '\0';
    c->h[1].in_value = 0;
    sb_clear(&c->h[1].name);
    sb_clear(&c->h[1].value);
    c->cur_resp = NULL;
    cap_exchange *x = c->qhead;
    if (c->resync) {
        /* After lost bytes: requests whose successor the server had already
         * received when this response began lost their own response. */
        for (int guard = 0; x && x->next && x->next->hdr_done && c->has_ack &&
                            sdiff(c->ack, x->next->hdr_end_seq) >= 0 && guard < 1 << 20; guard++) {
            resp_abort(hp, c, x, c->ts, CAP_INC_GAP);
            x = c->qhead;
        }
        c->resync = 0;
    }
    if (!x || !x->hdr_done || (c->has_ack && sdiff(c->ack, x->hdr_end_seq) < 0)) {
        hp->st.unpaired++;
        return 0;
    }
    c->cur_resp = x;
    return 0;
}

static int r_headers_done(http_parser *p)
{
    http_conn *c = p->data;
    cap_exchange *x = c->cur_resp;
    if (c->h[1].in_value) resp_header(c);
    c->h[1].in_value = 0;
    if (!x) return 0;
    unsigned st = p->status_code;
    if (st >= 100 && st < 200 && st != 101) {
        x->interim++;
        return 0;
    }
    x->status = (int)st;
    x->resp_started = 1;
    x->t_first_byte = c->resp_begin_ts;
    if (x->ticket) {
        resp_scan_begin(&x->scan, &c->hp->pool, c->rctype, c->renc, c->hp->o.max_json);
        if (c->hp->o.fmt.event_times) resp_scan_keep_times(&x->scan);
    }
    return x->is_head ? 1 : 0;
}

static int r_body(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    cap_exchange *x = c->cur_resp;
    if (x && x->ticket && x->resp_started) resp_scan_feed(&x->scan, c->ts, at, n);
    return 0;
}

static int r_done(http_parser *p)
{
    http_conn *c = p->data;
    http_pair *hp = c->hp;
    cap_exchange *x = c->cur_resp;
    c->cur_resp = NULL;
    if (!x) return 0;
    unsigned st = p->status_code;
    if (st >= 100 && st < 200 && st != 101) return 0;   /* interim: the final response follows */
    x->t_end = c->ts;
    if (x->ticket) resp_scan_end(&x->scan, c->ts, 1);
    hp->st.responses++;
    queue_remove(c, x);
    x->resp_done = 1;
    if (st == 101) {
        c->dead = 1;
        hp->st.upgraded++;
    }
    if (x->req_done) finalize(hp, x);
    return 0;
}

/* ---- driving ---- */

static const http_parser_settings req_set = {
    .on_message_begin = q_begin, .on_url = q_url, .on_header_field = q_field,
    .on_header_value = q_value, .on_headers_complete = q_headers_done, .on_body = q_body,
    .on_message_complete = q_done,
};
static const http_parser_settings resp_set = {
    .on_message_begin = r_begin, .on_header_field = r_field, .on_header_value = r_value,
    .on_headers_complete = r_headers_done, .on_body = r_body, .on_message_complete = r_done,
};

http_pair *http_pair_new(const http_pair_opts *o, capture_out *out)
{
    http_pair *hp = xcalloc(1, sizeof *hp);
    hp->o = *o;
    if (!hp->o.max_body) hp->o.max_body = (size_t)64 << 20;
    if (!hp->o.max_held) hp->o.max_held = (size_t)1 << 30;
    if (!hp->o.max_queue) hp->o.max_queue = 1024;
    hp->out = out;
    return hp;
}

http_conn *http_pair_conn_new(http_pair *hp, uint64_t conn_id, int client_side, int from_start)
{
    http_conn *c = xcalloc(1, sizeof *c);
    c->hp = hp;
    c->id = conn_id;
    c->client_side = client_side;
    http_parser_init(&c->preq, HTTP_REQUEST);
    http_parser_init(&c->presp, HTTP_RESPONSE);
    c->preq.data = c->presp.data = c;
    c->req_sync = c->resp_sync = from_start && client_side >= 0;
    c->resync = !c->resp_sync;
    hp->st.conns++;
    return c;
}

static int looks_request(const uint8_t *d, size_t n)
{
    static const char *const methods[] = {
        "POST ", "GET ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", NULL,
    };
    for (int i = 0; methods[i]; i++) {
        size_t k = strlen(methods[i]);
        if (n > k && !memcmp(d, methods[i], k) && (d[k] == '/' || d[k] == 'h' || d[k] == '*')) return 1;
    }
    return 0;
}

static int looks_response(const uint8_t *d, size_t n)
{
    return n >= 9 && !memcmp(d, "HTTP/1.", 7) && (d[7] == '0' || d[7] == '1') && d[8] == ' ';
}

static void parse_error(http_pair *hp, http_conn *c, int resp)
{
    hp->st.parse_errors[resp]++;
    if (!resp) {
        if (!c->requests_ok && !c->cur_req && !c->qhead && c->req_sync) {
            c->dead = 1;                    /* the very first bytes were not HTTP */
            hp->st.non_http++;
            return;
        }
        req_abort(hp, c, CAP_INC_PARSE);
        c->req_sync = 0;
    } else {
        if (c->cur_resp) resp_abort(hp, c, c->cur_resp, c->ts, CAP_INC_PARSE);
        c->resp_sync = 0;
        c->resync = 1;
    }
}

static void parse_bytes(http_pair *hp, http_conn *c, int resp, uint32_t seq, const uint8_t *d, size_t n)
{
    http_parser *p = resp ? &c->presp : &c->preq;
    const http_parser_settings *set = resp ? &resp_set : &req_set;
    size_t off = 0;
    for (int guard = 0; off < n && guard < 1 << 24; guard++) {
        size_t k = http_parser_execute(p, set, (const char *)d + off, n - off);
        off += k;
        enum http_errno e = HTTP_PARSER_ERRNO(p);
        if (e == HPE_PAUSED) {
            http_parser_pause(p, 0);
            if (c->hdr_pending) {           /* stopped at the headers' last LF */
                c->hdr_pending->hdr_end_seq = seq + (uint32_t)off + 1;
                c->hdr_pending = NULL;
            }
            continue;
        }
        if (e != HPE_OK) {
            parse_error(hp, c, resp);
            return;
        }
        if (c->dead) return;
        if (p->upgrade) {                   /* CONNECT or Upgrade: not HTTP any more */
            c->dead = 1;
            hp->st.upgraded++;
            return;
        }
        if (k == 0) break;
    }
}

void http_pair_data(http_pair *hp, http_conn *c, int side, int64_t ts, uint32_t seq,
                    uint32_t ack, int has_ack, const uint8_t *d, size_t n)
{
    if (c->dead || !n) return;
    if (c->client_side < 0) {
        if (looks_request(d, n)) c->client_side = side;
        else if (looks_response(d, n)) c->client_side = !side;
        else {
            hp->st.skipped_bytes[0] += n;
            return;
        }
    }
    int resp = side != c->client_side;
    c->ts = ts;
    c->ack = ack;
    c->has_ack = has_ack;
    if (resp) {
        if (c->srv_closed) return;
        if (!c->resp_sync) {
            if (!looks_response(d, n)) {
                hp->st.skipped_bytes[1] += n;
                return;
            }
            http_parser_init(&c->presp, HTTP_RESPONSE);
            c->presp.data = c;
            c->resp_sync = 1;
        }
    } else if (!c->req_sync) {
        if (!looks_request(d, n)) {
            hp->st.skipped_bytes[0] += n;
            return;
        }
        http_parser_init(&c->preq, HTTP_REQUEST);
        c->preq.data = c;
        c->req_sync = 1;
    }
    parse_bytes(hp, c, resp, seq, d, n);
}

void http_pair_gap(http_pair *hp, http_conn *c, int side, int64_t ts, const char *reason)
{
    if (c->dead || c->client_side < 0) return;
    c->ts = ts;
    if (side == c->client_side) {
        req_abort(hp, c, reason);
        c->req_sync = 0;
    } else {
        if (c->cur_resp) resp_abort(hp, c, c->cur_resp, ts, reason);
        c->resp_sync = 0;
        c->resync = 1;
    }
}

void http_pair_fin(http_pair *hp, http_conn *c, int side, int64_t ts)
{
    if (c->dead || c->client_side < 0) return;
    c->ts = ts;
    c->has_ack = 0;
    if (side == c->client_side) {
        req_abort(hp, c, CAP_INC_CLOSED);
        return;
    }
    if (c->resp_sync) {
        /* A body that lasts until the close ends here. */
        http_parser_execute(&c->presp, &resp_set, NULL, 0);
    }
    if (c->cur_resp) resp_abort(hp, c, c->cur_resp, ts, CAP_INC_CLOSED);
    c->srv_closed = 1;
    for (int guard = 0; c->qhead && guard < 1 << 20; guard++)
        resp_abort(hp, c, c->qhead, ts, CAP_INC_CLOSED);
}

void http_pair_conn_close(http_pair *hp, http_conn *c, int64_t ts, const char *reason)
{
    if (!c) return;
    c->ts = ts;
    req_abort(hp, c, reason);
    if (c->cur_resp) resp_abort(hp, c, c->cur_resp, ts, reason);
    for (int guard = 0; c->qhead && guard < 1 << 20; guard++)
        resp_abort(hp, c, c->qhead, ts, reason);
    for (int i = 0; i < 2; i++) {
        sb_free(&c->h[i].name);
        sb_free(&c->h[i].value);
    }
    sb_free(&c->url);
    free(c);
}

void http_pair_free(http_pair *hp)
{
    if (!hp) return;
    resp_scan_pool_free(&hp->pool);
    sb_free(&hp->rec);
    free(hp);
}
