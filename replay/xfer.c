/* xfer.c — see xfer.h. Times are taken inside libcurl's callbacks:
 * t_send in the pre-request callback (connection ready, first byte about
 * to be written), t_first_byte in the header callback, event times in the
 * write callback when the SSE parser completes an event. */
#include "replay/xfer.h"
#include "replay/replay_int.h"
#include "analysis/summary.h"
#include "replay/req_headers.h"
#include "replay/rx_clock.h"
#include "common/json_arena.h"
#include "common/url_mask.h"
#include "common/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_BODY_CAP (16u << 10)     /* error bodies kept for the message */
#define BODY_CAP (64u << 20)         /* non-streamed response bodies */

static const char *const err_names[] = {
    NULL, "connect", "timeout", "http_4xx", "http_5xx", "stream_error", "protocol", "cancelled",
    "aborted",  /* the server ended the request: finish_reason "abort" */
    "too_large", "redirect"
};

struct curl_slist *xfer_headers(const client_opts *co)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip for big bodies */
    if (co->api_key && *co->api_key) {
        strbuf b = {0};
        sb_printf(&b, "Authorization: Bearer %s", co->api_key);
        h = curl_slist_append(h, b.buf);
        sb_free(&b);
    }
    for (const char *const *p = co->headers; p && *p; p++) h = curl_slist_append(h, *p);
    return h;
}

static void sink_tokens(void *user, int64_t n, const char *text, size_t len);
static void sink_done(void *user, const client_done *d);

xfer *xfer_new(const client *cl, struct curl_slist *headers, const replay_opts *o)
{
    xfer *x = xcalloc(1, sizeof *x);
    x->cl = cl;
    x->o = o;
    for (const struct curl_slist *h = headers; h; h = h->next)
        x->headers = curl_slist_append(x->headers, h->data);
    /* Room for any 64-bit index; rewritten in place for each request. */
    x->headers = curl_slist_append(x->headers, "X-Request-Id: 00000000000000000000");
    for (x->rid = x->headers; x->rid->next; x->rid = x->rid->next) {}
    x->sse = sse_new(0);
    x->cstate = xcalloc(1, cl->ops->state_size ? cl->ops->state_size : 1);
    x->sink = (client_sink){.tokens = sink_tokens, .done = sink_done, .user = x};
    return x;
}

static void record_error(xfer *x, xfer_err e, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void record_error(xfer *x, xfer_err e, const char *fmt, ...)
{
    if (x->err) return; /* the first cause wins */
    x->err = e;
    char msg[XFER_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->errmsg = xstrdup(msg);
}

static int64_t stamp(const xfer *x)
{
    return now_mono_ns() - x->t0;
}

/* last_activity is written by whichever thread delivers data (an engine's
 * for in-process requests) and read by the worker's stall check. */
static void touch(xfer *x, int64_t t)
{
    __atomic_store_n(&x->last_activity, t, __ATOMIC_RELAXED);
}

int64_t xfer_last_activity(const xfer *x)
{
    return __atomic_load_n(&x->last_activity, __ATOMIC_RELAXED);
}

static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    xfer *x = ud;
    x->t_send = stamp(x);
    touch(x, x->t_send);
    return CURL_PREREQFUNC_OK;
}

/* The stamp by the rules of xfer_rx_time, before keeping it in order;
 * n: the bytes being handed over. */
static int64_t rx_time_raw(xfer *x, int64_t now, size_t n)
{
    int64_t ready = x->loop ? x->loop->rx_ready : -1;
    if (ready < 0 || ready > now) return now;
    xfer_loop *p = x->loop;
    if (x->sock != p->rx_sock) return now;   /* another socket's action reached it */
    if (p->rx_peeked >= 0) {
        /* A kernel stamp holds for the bytes the peek saw, not for bytes
         * that arrived after it and are read in the same action. */
        p->rx_handed += n;
        if (p->rx_handed > p->rx_peek_len) return now;
        if (!p->rx_exact && now - p->rx_peeked > XFER_PEEK_SLACK_NS) return now;
    }
    if (now - ready > x->rx_delay_max) x->rx_delay_max = now - ready;
    return ready;
}

static int tls_proxy(const char *var)
{
    const char *v = getenv(var);
    return v && !strncasecmp(v, "https://", 8);
}

int xfer_exact_wire(const client_opts *o)
{
    const char *url = o->api_url ? o->api_url : o->root_url;
    if (!url || strncasecmp(url, "http://", 7) || o->http.http2) return 0;
    return !tls_proxy("http_proxy") && !tls_proxy("all_proxy") && !tls_proxy("ALL_PROXY");
}

int64_t xfer_rx_time(xfer *x, size_t n)
{
    int64_t t = rx_time_raw(x, now_mono_ns(), n) - x->t0;
    /* Bytes come in order: a kernel stamp older than the previous bytes'
     * hand-over time (used when the peek was too old) is not before them. */
    if (t < x->rx_last) t = x->rx_last;
    x->rx_last = t;
    return t;
}

/* What n body bytes took on the wire when chunked: libcurl hands each
 * chunk's data apart, after its size line ("HEX\r\n") and before its CRLF.
 * A Content-Length body is counted the same: more than it took, which only
 * makes the kernel stamp's rule (rx_time_raw) stricter. */
static size_t wire_bytes(size_t n)
{
    size_t digits = 1;
    for (size_t v = n; v >= 16; v >>= 4) digits++;
    return n + digits + 4;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    int64_t t = xfer_rx_time(x, size * n);
    if (x->t_first_byte < 0) x->t_first_byte = t;
    touch(x, t);
    return size * n;
}

static void push_gap(xfer *x, int64_t gap, int64_t tokens)
{
    int32_t k = tokens > INT32_MAX ? INT32_MAX : tokens < INT32_MIN ? INT32_MIN : (int32_t)tokens;
    gaplist_push(&x->gaps, gap, k);
}

/* One content event of one choice at time t. TTFT is the first content of
 * any choice; a chunk gap is the time since the same choice's previous
 * content, so interleaved choices (n > 1) do not halve the gaps. ct is the
 * choice's running token count, -1 when the event does not say. */
static void content_event(xfer *x, int choice, int64_t ct, int64_t t)
{
    uint64_t bit = 1ull << choice;
    if (ct < 0) x->per_token = 0;
    if (x->events == 0) x->t_first_tok = t;
    if (choice && !x->choices) x->choices = xmalloc(XFER_CHOICES * sizeof *x->choices);
    xfer_choice *c = choice ? &x->choices[choice] : &x->choice0;
    if (x->choices_started & bit) {
        int64_t k = ct >= 0 && c->ct >= 0 ? ct - c->ct : -1;
        push_gap(x, t - c->t, k);
        if (k < 1) x->per_token = 0;
    }
    x->choices_started |= bit;
    c->ct = ct;
    c->t = t;
    x->ct_last = ct;
    x->t_last_tok = t;
    x->events++;
}

/* Notes a finish reason; "abort" and "error" are remembered even when a
 * later choice finishes normally (the request then failed). */
static void note_finish(xfer *x, const client_event *ev)
{
    const char *fr = ev->finish_reason;
    str_copy(x->finish_reason, sizeof x->finish_reason, fr);
    if (x->bad_finish[0]) return;
    if (!strcmp(fr, "abort") || !strcmp(fr, "error")) {
        str_copy(x->bad_finish, sizeof x->bad_finish, fr);
        if (!ev->error && ev->errmsg[0]) x->finish_msg = xstrdup(ev->errmsg);
    }
}

/* Fails x as too_large when one more content event or text_len more bytes
 * of reply text would go over what one response may hold. Returns non-zero
 * then. */
static int over_cap(xfer *x, size_t text_len)
{
    int64_t cap = x->o->max_response_events;
    if (cap > 0 && x->events >= cap) {
        record_error(x, XERR_TOO_LARGE, "more than %lld content events (--max-response-events); "
                     "the rest of the response was not read", (long long)cap);
        return 1;
    }
    if (x->want_reply && text_len > BODY_CAP - x->reply.len) {
        record_error(x, XERR_TOO_LARGE, "reply text larger than %u bytes (kept for the session's next "
                     "turn) after %lld content events", BODY_CAP, (long long)x->events);
        return 1;
    }
    return 0;
}

/* Applies one interpreted event. Returns non-zero to stop the stream. */
static int apply(xfer *x, const client_event *ev)
{
    if (ev->error) {
        record_error(x, XERR_STREAM, "%s", ev->errmsg);
        return 1;
    }
    if (ev->done) {
        x->done_seen = 1;
        return 0;
    }
    if (ev->prompt_tokens >= 0) x->prompt_tokens = ev->prompt_tokens;
    if (ev->completion_tokens >= 0) x->usage_tokens = ev->completion_tokens;
    if (ev->finish_reason) note_finish(x, ev);
    x->choices_seen |= ev->seen_choices;
    if (!ev->content) return 0;
    if (over_cap(x, ev->text_len)) return 1;
    uint64_t m = ev->content_choices ? ev->content_choices : 1ull << ev->choice;
    /* One running count cannot belong to several choices at once. */
    int64_t ct = (m & (m - 1)) ? -1 : ev->completion_tokens;
    x->choices_seen |= m;
    for (; m; m &= m - 1) content_event(x, __builtin_ctzll(m), ct, x->now);
    if (x->want_reply && ev->text_len) sb_add(&x->reply, ev->text, ev->text_len);
    return 0;
}

static int on_sse(const sse_event *ev, void *ud)
{
    xfer *x = ud;
    client_event ce;
    client_event_clear(&ce);
    if (x->cl->ops->on_event(x->cl, x->cstate, ev->type, ev->data, ev->data_len, &ce) < 0) {
        record_error(x, XERR_PROTOCOL, "%s", ce.errmsg[0] ? ce.errmsg : "unparseable event");
        return 1;
    }
    return apply(x, &ce);
}

void xfer_response_begin(xfer *x, int status, const char *content_type, int64_t now)
{
    x->now = now;
    x->headers_seen = 1;
    x->status = status;
    x->is_sse = content_type && !strncasecmp(content_type, "text/event-stream", 17);
    if (x->t_first_byte < 0) x->t_first_byte = now;
}

int xfer_response_data(xfer *x, const char *buf, size_t len, int64_t now)
{
    x->now = now;
    x->rx_bytes += (int64_t)len;
    if (x->o->max_response_bytes > 0 && x->rx_bytes > x->o->max_response_bytes) {
        record_error(x, XERR_TOO_LARGE, "response larger than %lld bytes (--max-response-bytes) after "
                     "%lld content events; the rest was not read",
                     (long long)x->o->max_response_bytes, (long long)x->events);
        x->aborted = 1;
        return -1;
    }
    if (x->status >= 300 || !x->is_sse) {
        size_t cap = x->status >= 300 ? ERR_BODY_CAP : BODY_CAP;
        if (x->body.len + len > cap) {
            if (x->status < 300) {
                record_error(x, XERR_TOO_LARGE, "response body larger than %u bytes (a body that is not "
                             "streamed is kept whole to be parsed)", BODY_CAP);
                x->aborted = 1;
                return -1;
            }
            len = x->body.len < cap ? cap - x->body.len : 0;
        }
        sb_add(&x->body, buf, len);
        return 0;
    }
    int rc = sse_feed(x->sse, buf, len, on_sse, x);
    if (rc < 0) {
        record_error(x, XERR_PROTOCOL, "bad event stream: %s", sse_error(x->sse));
        x->aborted = 1;
        return -1;
    }
    if (rc == SSE_STOPPED) {
        x->aborted = 1;
        return -1;
    }
    return 0;
}

/* Spends len bytes of the worker's per-pass budget (xfer_loop). Returns
 * non-zero, marking x paused, when this pass's budget is already spent:
 * the bytes are then refused and libcurl hands them again on resume.
 * HTTP/1 transfers only: pausing an HTTP/2 stream (flow control, data
 * libcurl has already read for it) is not verified with libcurl 7.88, so
 * an HTTP/2 transfer is bounded by libcurl's own limit on reads per action
 * and the worker's one timeout action per pass. */
static int pace(xfer *x, size_t len)
{
    xfer_loop *p = x->loop;
    if (!p || !x->pausable) return 0;
    if (x->pass_seen != p->pass) {
        x->pass_seen = p->pass;
        x->pass_bytes = 0;
    }
    if (x->pass_bytes >= XFER_PASS_BYTES) {
        if (!x->paused) p->npaused++;
        x->paused = 1;
        return 1;
    }
    x->pass_bytes += len;
    return 0;
}

/* The answer has begun: once libcurl has counted every byte of the
 * request body as sent, it will not read the body again (it rewinds a body
 * only to retry a request that got no answer), so the body is freed now
 * instead of being held while the response streams (for minutes, with a
 * long generation). Its size is remembered to allocate the next body at
 * once. */
static void release_sent_body(xfer *x)
{
    if (!x->creq.body.buf) return;
    curl_off_t sent = -1;
    if (curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &sent) != CURLE_OK ||
        sent != (curl_off_t)x->creq.body.len)
        return;
    x->body_hint = x->creq.body.len;
    sb_free(&x->creq.body);
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    if (pace(x, size * n)) return CURL_WRITEFUNC_PAUSE;
    int64_t now = xfer_rx_time(x, wire_bytes(size * n));
    touch(x, now);
    if (!x->headers_seen) {
        long code = 0;
        char *ct = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        long version = 0;
        curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
        x->pausable = version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1;
        xfer_response_begin(x, (int)code, ct, now);
        release_sent_body(x);
    }
    /* 0 makes libcurl end the transfer with CURLE_WRITE_ERROR. */
    return xfer_response_data(x, buf, size * n, now) < 0 ? 0 : size * n;
}

/* A new connection's socket: the kernel stamps what it receives
 * (rx_clock.h). A refusal only leaves the socket to readiness stamps. */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    if (purpose == CURLSOCKTYPE_IPCXN) rx_clock_enable(fd);
    return CURL_SOCKOPT_OK;
}

/* Options every request of the easy handle keeps: set once for a new
 * handle (or after curl_easy_reset), not per request. */
static void easy_configure(xfer *x)
{
    CURL *e = x->easy;
    /* api_url and root_url share the scheme: TLS options hold for both */
    http_opts_apply(e, &x->cl->opt.http, x->cl->opt.api_url ? x->cl->opt.api_url : "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, XFER_RECV_BUFFER);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (x->o->rx_stamp == RX_STAMP_KERNEL) curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    if (x->o->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->o->timeout_ms);
    if (x->o->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)x->o->connect_timeout_ms);
    x->url.len = 0;          /* no URL set on the handle yet */
    x->headers_set = NULL;
}

/* Readies the easy handle for x's request. A handle whose last transfer
 * completed normally keeps its options, so only what differs is set (the
 * URL and header list when they changed, the body always); a new handle,
 * or one whose transfer was aborted or paused, starts from
 * curl_easy_reset. libcurl keeps its connections in the multi handle,
 * not in the easy one, so neither path connects anew. */
static void easy_prepare(xfer *x)
{
    if (!x->easy) {
        x->easy = curl_easy_init();
        easy_configure(x);
    } else if (!x->easy_clean) {
        curl_easy_reset(x->easy);
        easy_configure(x);
    }
    x->easy_clean = 0;
    x->curl_err[0] = '\0';
    CURL *e = x->easy;
    const char *base = x->creq.path_root ? x->cl->opt.root_url : x->cl->opt.api_url;
    if (!base) base = "";
    size_t nb = strlen(base), np = strlen(x->creq.path);
    if (x->url.len != nb + np || memcmp(x->url.buf, base, nb) || memcmp(x->url.buf + nb, x->creq.path, np)) {
        sb_clear(&x->url);
        sb_add(&x->url, base, nb);
        sb_add(&x->url, x->creq.path, np);
        curl_easy_setopt(e, CURLOPT_URL, x->url.buf);
    }
    curl_slist_free_all(x->rec_headers);
    x->rec_headers = NULL;
    const cJSON *rh = x->cl->opt.replay_headers ? cJSON_GetObjectItemCaseSensitive(x->q->rec.json, "headers") : NULL;
    int nrh;
    if (cJSON_IsObject(rh)) x->rec_headers = req_headers_list(&x->cl->opt, x->headers, rh, &nrh);
    struct curl_slist *h = x->rec_headers ? x->rec_headers : x->headers;
    if (h != x->headers_set) curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    x->headers_set = h;
    trace_rec_strip(&x->q->rec);  /* the request is built: the log line needs only the scalars */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->creq.body.buf);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->creq.body.len);
}

int xfer_start(xfer *x, struct rq *q, int64_t t0, int want_reply)
{
    x->q = q;
    x->t0 = t0;
    x->t_send = x->t_first_byte = x->t_first_tok = x->t_last_tok = x->t_end = -1;
    x->connect_ns = 0;
    x->rx_delay_max = x->rx_last = -1;
    x->sock = CURL_SOCKET_BAD;
    x->prompt_tokens = x->usage_tokens = x->ct_last = -1;
    x->per_token = 1;
    x->want_reply = want_reply;
    x->abort_why = NULL;
    x->cancel_sent = 0;
    x->has_engine = 0;
    touch(x, stamp(x));
    char err[512];
    sb_clear(&x->creq.body);
    if (!x->creq.body.buf && x->body_hint) sb_reserve(&x->creq.body, x->body_hint);
    client_request_set_model(&x->creq, NULL);
    x->creq.path[0] = '\0';
    x->creq.path_root = 0;
    x->creq.forced_output = -1;
    sb_clear(&x->creq.edits);
    x->creq.body_exact = 0;
    x->creq.api = q->rec.api;
    x->creq.expected_output = q->rec.output_tokens;
    /* The body's cJSON values live in the thread's JSON arena: building
     * it allocates nothing once the arena has grown to fit (client.h). */
    int opened = json_arena_begin();
    int rc = x->cl->ops->build(x->cl, &q->rec, &x->creq, err, sizeof err);
    json_arena_end(opened);
    if (rc < 0) {
        record_error(x, XERR_PROTOCOL, "not sent: %s", err);
        return ERR_INPUT;
    }
    x->inproc = x->cl->ops->submit != NULL;
    if (x->inproc) return 0;
    /* "X-Request-Id: " then the index, in the node's room for 20 digits */
    fmt_int(x->rid->data + sizeof "X-Request-Id: " - 1, (int64_t)q->index);
    easy_prepare(x);
    return 0;
}

/* ---- in-process requests: the client's sink calls these with the xfer ---- */

static void sink_tokens(void *user, int64_t n, const char *text, size_t len)
{
    xfer *x = user;
    client_event ev;
    client_event_clear(&ev);
    x->now = stamp(x);
    touch(x, x->now);
    if ((n <= 0 && !len) || x->err) return; /* after too_large: nothing more is kept */
    ev.content = 1;
    ev.text = text;
    ev.text_len = len;
    /* The engine says how many tokens each batch carries: per-token ITL. */
    int64_t before = x->ct_last >= 0 ? x->ct_last : 0;
    ev.completion_tokens = before + (n > 0 ? n : 1);
    apply(x, &ev);
    x->usage_tokens = x->ct_last;
}

static int64_t rel(const xfer *x, int64_t t)
{
    return t >= 0 ? t - x->t0 : -1;
}

static void sink_done(void *user, const client_done *d)
{
    xfer *x = user;
    x->now = stamp(x);
    touch(x, x->now);
    if (!x->done) x->done = xmalloc(sizeof *x->done);
    *x->done = *d;
    x->done->finish_reason = NULL;
    x->done->error = NULL;
    if (d->finish_reason) str_copy(x->finish_reason, sizeof x->finish_reason, d->finish_reason);
    if (d->error) record_error(x, XERR_STREAM, "engine error: %s", d->error);
    else if (!x->abort_why && d->finish_reason && !strcmp(d->finish_reason, "abort"))
        record_error(x, XERR_ABORTED, "the engine aborted the request after %lld events", (long long)x->events);
    x->done->t_queued_ns = rel(x, d->t_queued_ns);
    x->done->t_scheduled_ns = rel(x, d->t_scheduled_ns);
    x->done->t_first_token_ns = rel(x, d->t_first_token_ns);
    x->done->t_finished_ns = rel(x, d->t_finished_ns);
    x->has_engine = 1;
    if (d->prompt_tokens >= 0) x->prompt_tokens = d->prompt_tokens;
    if (d->completion_tokens >= 0) x->usage_tokens = d->completion_tokens;
    x->on_inproc_done(x->owner, x);
}

int xfer_submit(xfer *x)
{
    char err[512];
    x->t_send = stamp(x);
    touch(x, x->t_send);
    if (x->cl->ops->submit(x->cl, &x->q->rec, &x->creq, x->cstate, &x->sink, err, sizeof err) < 0) {
        record_error(x, XERR_PROTOCOL, "the engine refused the request: %s", err);
        x->ok = 0;
        return ERR_INPUT;
    }
    trace_rec_strip(&x->q->rec);  /* submitted: the log line needs only the scalars */
    return 0;
}

void xfer_cancel_inproc(xfer *x, const char *why, int64_t now)
{
    if (x->cancel_sent) return;
    x->cancel_sent = 1;
    x->abort_why = why;
    x->abort_at = now;
    if (x->cl->ops->cancel) x->cl->ops->cancel(x->cl, x->cstate);
}

void xfer_complete_inproc(xfer *x)
{
    if (x->abort_why) xfer_abort(x, x->abort_why, x->abort_at);
    x->ok = x->err == XERR_NONE;
}

/* libcurl's own words for a failure: the error buffer's detail (e.g. "SSL
 * certificate problem: unable to get local issuer certificate") when it has
 * one, else the generic text of the code. */
static const char *curl_why(const xfer *x, CURLcode res)
{
    return x->curl_err[0] ? x->curl_err : curl_easy_strerror(res);
}

static xfer_err http_class(int status)
{
    return status >= 500 ? XERR_HTTP_5XX : status >= 400 ? XERR_HTTP_4XX : XERR_REDIRECT;
}

/* A 3xx answer: libcurl is never told to follow (no CURLOPT_FOLLOWLOCATION),
 * because the request carries the API key and the prompt, which must go
 * only to the host the operator named. The message names the Location
 * (as libcurl resolves it) so the operator can fix --url. */
static void fail_redirect(xfer *x)
{
    char *loc = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
    char *shown = url_mask(loc ? loc : "(no Location header)");   /* a Location may carry a token */
    record_error(x, XERR_REDIRECT, "HTTP %d to %.160s: redirects are not followed (the API key must not "
                 "go to another host); set --url to the final address", x->status, shown);
    free(shown);
}

/* A response that arrived whole but whose finish reason says the server
 * ended the request: "abort" (LMDeploy, SGLang and vLLM when a request is
 * aborted; SGLang's meta_info {"type": "abort", "message"}) is class
 * aborted; LMDeploy's "error" is a stream error. */
static void classify_finish(xfer *x)
{
    const char *msg = x->finish_msg ? x->finish_msg : "";
    const char *why = msg[0] ? ": " : "";
    if (!strcmp(x->bad_finish, "abort"))
        record_error(x, XERR_ABORTED, "the server aborted the request (finish_reason \"abort\") after "
                     "%lld content events%s%.159s", (long long)x->events, why, msg);
    else if (!strcmp(x->bad_finish, "error"))
        record_error(x, XERR_STREAM, "the server ended the request with finish_reason \"error\" after "
                     "%lld content events%s%.159s", (long long)x->events, why, msg);
}

void xfer_complete(xfer *x, CURLcode res)
{
    long nconn = 0;
    curl_off_t ct = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &ct);
    x->connect_ns = nconn > 0 ? (int64_t)ct * 1000 : 0;
    if (!x->headers_seen) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        x->status = (int)code;
    }
    if (x->err) {
        /* Our own abort (protocol, stream error) explains the write error. */
    } else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
               res == CURLE_COULDNT_RESOLVE_PROXY || (res != CURLE_OK && x->t_send < 0)) {
        record_error(x, res == CURLE_OPERATION_TIMEDOUT ? XERR_TIMEOUT : XERR_CONNECT,
                     "%s", curl_why(x, res));
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        record_error(x, XERR_TIMEOUT, "timed out after %lld ms (--timeout) with %lld events received",
                     (long long)x->o->timeout_ms, (long long)x->events);
    } else if (res != CURLE_OK) {
        if (x->status >= 300) {
            record_error(x, http_class(x->status), "HTTP %d, then %s", x->status, curl_why(x, res));
        } else {
            record_error(x, XERR_PROTOCOL, "connection failed mid-response after %lld events: %s",
                         (long long)x->events, curl_why(x, res));
        }
    } else if (x->status >= 300 && x->status < 400) {
        fail_redirect(x);
    } else if (x->status >= 300 || x->status < 200) {
        char msg[256];
        x->cl->ops->error_message(x->cl, x->status, x->body.buf ? x->body.buf : "", x->body.len,
                                  msg, sizeof msg);
        record_error(x, x->status >= 300 ? http_class(x->status) : XERR_PROTOCOL, "%s", msg);
    } else if (x->is_sse) {
        classify_finish(x);
        int fin = sse_finish(x->sse);
        if (fin == SSE_TRUNCATED)
            record_error(x, XERR_PROTOCOL, "event stream ended inside an event after %lld events",
                         (long long)x->events);
        else if (!x->done_seen)
            record_error(x, XERR_PROTOCOL, "event stream ended without data: [DONE] after %lld events",
                         (long long)x->events);
    } else {
        /* One JSON response (non-streaming, or a server that ignored stream). */
        client_event ce;
        client_event_clear(&ce);
        x->now = x->t_first_byte >= 0 ? x->t_first_byte : stamp(x);
        if (x->cl->ops->on_body(x->cl, x->cstate, x->body.buf ? x->body.buf : "", x->body.len, &ce) < 0)
            record_error(x, XERR_PROTOCOL, "%s", ce.errmsg);
        else
            apply(x, &ce);
        classify_finish(x);
    }
    x->ok = x->err == XERR_NONE;
    /* a transfer that ran to its end leaves the handle fit for the next */
    x->easy_clean = res == CURLE_OK && !x->paused;
}

void xfer_abort(xfer *x, const char *why, int64_t now)
{
    if (!strcmp(why, "stall"))
        record_error(x, XERR_TIMEOUT, "stalled: no data for %lld ms (--stall-timeout) after %lld events",
                     (long long)(now - xfer_last_activity(x)) / 1000000, (long long)x->events);
    else
        record_error(x, XERR_CANCELLED, "cancelled by the operator (signal) after %lld events",
                     (long long)x->events);
    if (x->easy && !x->inproc) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (!x->status) x->status = (int)code;
    }
    x->ok = 0;
}

int xfer_choices(const xfer *x)
{
    int n = __builtin_popcountll(x->choices_seen);
    return n ? n : x->events > 0;
}

/* The log line is written with direct writers (common/util.h), not
 * printf: it is built once per request on the worker's thread. */
static void add_key(strbuf *b, const char *key)
{
    sb_adds(b, ",\"");
    sb_adds(b, key);
    sb_adds(b, "\":");
}

static void add_ns(strbuf *b, const char *key, int64_t v)
{
    add_key(b, key);
    if (v < 0) sb_adds(b, "null");
    else sb_add_int(b, v);
}

/* (a - from) ns as ms with 6 decimals, or null. */
static void add_ms(strbuf *b, const char *key, int64_t a, int64_t from)
{
    add_key(b, key);
    if (a < 0 || from < 0) sb_adds(b, "null");
    else sb_add_fixed(b, a - from, 6);
}

static void add_str(strbuf *b, const char *key, const char *v)
{
    add_key(b, key);
    if (v) sb_json_str(b, v, strlen(v));
    else sb_adds(b, "null");
}

static void add_bool(strbuf *b, const char *key, int v)
{
    add_key(b, key);
    sb_adds(b, v ? "true" : "false");
}

/* Who sent what: index, record, client, model. */
static void format_request(const xfer *x, strbuf *b)
{
    const struct rq *q = x->q;
    const trace_rec *r = &q->rec;
    sb_adds(b, "{\"index\":");
    sb_add_int(b, (int64_t)q->index);
    add_str(b, "id", r->id);
    add_str(b, "session", r->session);
    if (r->turn >= 0) {
        add_key(b, "turn");
        sb_add_int(b, r->turn);
    }
    add_str(b, "client", x->cl->ops->name);
    add_str(b, "api", x->creq.api ? x->creq.api : r->api);
    add_str(b, "model", x->creq.model);
    add_bool(b, "warmup", q->warmup);
}

/* The times and what follows from them. */
static void format_times(const xfer *x, strbuf *b)
{
    const struct rq *q = x->q;
    add_ns(b, "t_sched_ns", q->t_sched);
    add_ns(b, "t_send_ns", x->t_send);
    add_key(b, "connect_ns");
    sb_add_int(b, x->connect_ns);
    add_ns(b, "t_first_byte_ns", x->t_first_byte);
    add_ns(b, "t_first_token_ns", x->t_first_tok);
    add_ns(b, "t_last_token_ns", x->t_last_tok);
    add_ns(b, "t_end_ns", x->t_end);
    add_key(b, "send_lag_us");
    if (x->t_send >= 0) sb_add_fixed(b, x->t_send - q->t_sched, 3);
    else sb_adds(b, "null");
    if (x->rx_delay_max >= 0 && !x->inproc) {
        add_key(b, "rx_delay_max_us");
        sb_add_fixed(b, x->rx_delay_max, 3);
    }
    add_ms(b, "ttft_ms", x->t_first_tok, x->t_send);
    add_ms(b, "ttft_from_sched_ms", x->t_first_tok, q->t_sched);
    add_ms(b, "e2e_ms", x->t_send >= 0 ? x->t_end : -1, x->t_send);
    add_ms(b, "e2e_from_sched_ms", x->t_end, q->t_sched);
}

/* Tokens: the output count and its source, TPOT, the prompt, the trace's
 * lengths and what the body changed. */
static void format_tokens(const xfer *x, strbuf *b)
{
    const trace_rec *r = &x->q->rec;
    int64_t out = x->usage_tokens >= 0 ? x->usage_tokens : x->events;
    /* The summary's rule (one owner): per choice when n > 1, not measured
     * when every token came in one event. */
    double tpot = x->ok && x->t_first_tok >= 0
                  ? summary_tpot_ns(out, x->events, xfer_choices(x), x->t_first_tok, x->t_last_tok) : -1;
    add_key(b, "tpot_ms");
    if (tpot >= 0) sb_add_fixed(b, llround(tpot), 6);   /* whole ns, as ms */
    else sb_adds(b, "null");
    add_ns(b, "output_tokens", out);
    add_str(b, "token_source", x->usage_tokens >= 0 ? "usage" : "chunks");
    add_ns(b, "prompt_tokens", x->prompt_tokens);
    if (r->input_tokens >= 0) add_ns(b, "input_tokens", r->input_tokens);
    add_ns(b, "expected_output_tokens", r->output_tokens);
    if (x->creq.forced_output >= 0) add_ns(b, "forced_output_tokens", x->creq.forced_output);
}

/* The engine's own account (in-process clients), run-relative like ours
 * (null: not given). */
static void format_engine(const xfer *x, strbuf *b)
{
    const client_done *d = x->done;
    sb_adds(b, ",\"engine\":{\"clock\":\"monotonic\"");
    add_ns(b, "t_queued_ns", d->t_queued_ns);
    add_ns(b, "t_scheduled_ns", d->t_scheduled_ns);
    add_ns(b, "t_first_token_ns", d->t_first_token_ns);
    add_ns(b, "t_finished_ns", d->t_finished_ns);
    add_ns(b, "queue_ns", d->queue_ns);
    add_ns(b, "prefill_ns", d->prefill_ns);
    add_ns(b, "decode_ns", d->decode_ns);
    sb_addc(b, '}');
}

/* Status and outcome; ends the line. */
static void format_outcome(const xfer *x, strbuf *b)
{
    add_ns(b, "status", x->status > 0 && !x->inproc ? x->status : -1);
    add_bool(b, "ok", x->ok);
    if (x->ok) {
        sb_adds(b, ",\"error\":null}\n");
        return;
    }
    sb_adds(b, ",\"error\":{\"class\":\"");
    sb_adds(b, err_names[x->err ? x->err : XERR_PROTOCOL]);
    sb_adds(b, "\",\"message\":");
    const char *msg = x->errmsg ? x->errmsg : "";
    sb_json_str(b, msg, strlen(msg));
    sb_adds(b, "}}\n");
}

/* "gaps_ns" and, when every gap's token count is known, "gap_tokens";
 * "gaps_unread" counts the gaps that could not be read back from the
 * worker's file (an I/O error; never otherwise). */
static void format_gaps(const xfer *x, strbuf *b, int per_token)
{
    gaplist_iter it;
    int64_t gap;
    int32_t tok;
    sb_adds(b, ",\"gaps_ns\":[");
    gaplist_iter_init(&it, &x->gaps);
    for (size_t i = 0; gaplist_next(&it, &gap, &tok) > 0; i++) {
        if (i) sb_addc(b, ',');
        sb_add_int(b, gap);
    }
    sb_addc(b, ']');
    if (it.left) {
        sb_adds(b, ",\"gaps_unread\":");
        sb_add_int(b, (int64_t)it.left);
    }
    if (!per_token) return;
    sb_adds(b, ",\"gap_tokens\":[");
    gaplist_iter_init(&it, &x->gaps);
    for (size_t i = 0; gaplist_next(&it, &gap, &tok) > 0; i++) {
        if (i) sb_addc(b, ',');
        sb_add_int(b, tok);
    }
    sb_addc(b, ']');
}

void xfer_format(const xfer *x, strbuf *b)
{
    format_request(x, b);
    format_times(x, b);
    format_tokens(x, b);
    if (x->creq.edits.len) {
        sb_adds(b, ",\"body_edits\":");
        sb_add(b, x->creq.edits.buf, x->creq.edits.len);
        sb_adds(b, x->creq.body_exact ? ",\"body_exact\":true" : ",\"body_exact\":false");
    }
    sb_adds(b, ",\"n\":");
    sb_add_int(b, xfer_choices(x));
    sb_adds(b, ",\"events\":");
    sb_add_int(b, x->events);
    int per_token = x->per_token && x->gaps.n > 0;
    format_gaps(x, b, per_token);
    add_str(b, "itl_basis", per_token ? "tokens" : "chunk");
    if (x->finish_reason[0]) add_str(b, "finish_reason", x->finish_reason);
    if (x->has_engine) format_engine(x, b);
    format_outcome(x, b);
}

/* Empties b for the next request; frees it when it grew past XFER_KEEP_BYTES. */
static void keep_or_free(strbuf *b)
{
    if (b->cap > XFER_KEEP_BYTES) sb_free(b);
    else sb_clear(b);
}

void xfer_recycle(xfer *x)
{
    if (x->cl->ops->release) x->cl->ops->release(x->cl, x->cstate);
    memset(x->cstate, 0, x->cl->ops->state_size ? x->cl->ops->state_size : 1);
    sse_reset(x->sse);
    sse_trim(x->sse, XFER_KEEP_BYTES);
    keep_or_free(&x->body);
    keep_or_free(&x->reply);
    if (x->creq.body.cap > XFER_KEEP_BYTES) x->body_hint = x->creq.body.len;
    keep_or_free(&x->creq.body);
    gaplist_reset(&x->gaps);
    x->events = 0;
    x->status = x->is_sse = x->done_seen = x->aborted = x->headers_seen = 0;
    x->rx_bytes = 0;
    x->pass_bytes = 0;
    x->paused = x->pausable = 0;
    x->err = XERR_NONE;
    x->ok = 0;
    free(x->errmsg);
    free(x->finish_msg);
    x->errmsg = x->finish_msg = NULL;
    x->finish_reason[0] = x->bad_finish[0] = '\0';
    x->choices_seen = x->choices_started = 0;
    x->q = NULL;
    x->link.next = x->link.prev = NULL;
}

void xfer_free(xfer *x)
{
    if (!x) return;
    if (x->cl->ops->release) x->cl->ops->release(x->cl, x->cstate);
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->rec_headers);
    sse_free(x->sse);
    free(x->cstate);
    gaplist_free(&x->gaps);
    free(x->choices);
    free(x->done);
    free(x->errmsg);
    free(x->finish_msg);
    sb_free(&x->body);
    sb_free(&x->reply);
    client_request_free(&x->creq);
    sb_free(&x->url);
    free(x);
}
