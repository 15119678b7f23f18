/* capture_proxy.c — see capture_proxy.h.
 *
 * A proxied request (preq) is kept alive by up to three references: the
 * libmicrohttpd request (dropped when it completes), the libcurl transfer
 * (dropped when it ends) and the streamed response's reader (dropped when
 * the response is destroyed; common/mhd_stream.h). The last one records the exchange and frees
 * it. Lock order: px->out_mu -> q->mu; px->mu is never held with q->mu;
 * the client deadlines' lock (proxy_conns) is never held with another.
 * The curl thread owns the multi handle and every easy handle; the other
 * threads ask it for changes (add, unpause, cancel) through px->mu and
 * curl_multi_wakeup. It also shuts down, every poll round (200 ms at
 * most), the client connections past their --client-timeout deadline. */
#include "capture/capture_proxy.h"
#include "capture/proxy_conns.h"
#include "capture/proxy_target.h"
#include "common/list.h"
#include "common/mhd_stream.h"
#include "common/parse.h"
#include "common/util.h"
#include "common/url_mask.h"

#include <microhttpd.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIGH_WATER ((size_t)1 << 20)   /* pause the upstream above this many unsent bytes */
#define LOW_WATER ((size_t)256 << 10)   /* and let it go again below this */

typedef enum qstate { Q_NEW, Q_BODY, Q_WAITING, Q_RESPONDING } qstate;

typedef struct preq {
    struct capture_proxy *px;
    mhd_stream st;                     /* its connection and streamed response;
                                        * st.suspended and st.conn_done under mu */
    list_link(struct preq) live;       /* live list (px->mu) */
    struct preq *cnext;                /* add/control list (px->mu) */
    int in_add, in_ctl;                /* on those lists (px->mu) */
    _Atomic int refs;
    qstate state;                      /* MHD thread only */
    int recorded_path;                 /* an LLM path (or --all-paths) */
    strbuf reqbody;                    /* the body to forward (MHD thread, then curl's) */
    int too_large;
    int over_buffered;                 /* the proxy-wide body cap was reached: 503 */
    size_t reserved;                   /* bytes counted in px->buffered for reqbody */
    char *url;                         /* raw request target */
    char *fwd_url;                     /* the upstream URL built from it (curl_free) */
    struct curl_slist *hdrs;
    CURL *easy;                        /* curl thread */
    /* under mu */
    pthread_mutex_t mu;
    cap_exchange *x;
    int status;
    struct curl_slist *fwd;            /* response headers to pass on */
    int64_t clen;                      /* upstream Content-Length, -1 when none */
    char ctype[96], cenc[32];
    int in_final;                      /* between a final status line and its blank line */
    int headers_done, finished, paused, want_unpause, cancel, sent_all;
    CURLcode res;
    char errbuf[CURL_ERROR_SIZE];
    strbuf buf;                        /* response bytes not yet handed to the client */
    size_t off;
    uint64_t sent;                     /* bytes handed to the client */
} preq;

struct capture_proxy {
    capture_proxy_opts o;
    char *upstream;
    proxy_upstream *up;                /* the upstream, parsed (read only) */
    proxy_conns *conns;                /* client connections' deadlines */
    _Atomic size_t buffered;           /* request body bytes held or promised, all requests */
    char url[300];
    int port;
    struct MHD_Daemon *d;
    CURLM *multi;
    pthread_t thread;
    int thread_started;
    capture_out *out;
    pthread_mutex_t out_mu;            /* the writer and the proxy's stats */
    pthread_mutex_t mu;                /* live list, add/control lists */
    list_head(preq) live;              /* through preq.live */
    preq *adds, *ctls;
    uint64_t active;
    _Atomic int stop, stopping;
    int shut;
    pthread_cond_t drained;            /* active reached 0 (px->mu) */
    int64_t real0, mono0;
    resp_scan_pool pool;               /* curl thread */
    capture_proxy_stats st;            /* under out_mu */
    strbuf rec;                        /* under out_mu */
    int out_failed;
};

static int64_t now_cap(const capture_proxy *px) { return px->real0 + (now_mono_ns() - px->mono0); }

static void ctl(capture_proxy *px, preq *q, int add)
{
    pthread_mutex_lock(&px->mu);
    int *flag = add ? &q->in_add : &q->in_ctl;
    if (!*flag) {
        *flag = 1;
        atomic_fetch_add(&q->refs, 1);
        if (add) {
            q->cnext = px->adds;
            px->adds = q;
        } else {
            q->cnext = px->ctls;
            px->ctls = q;
        }
    }
    pthread_mutex_unlock(&px->mu);
    if (px->multi) curl_multi_wakeup(px->multi);
}

/* ---- recording ---- */

static void record_locked(capture_proxy *px, cap_exchange *x)
{
    sb_clear(&px->rec);
    sess_facts sf;
    cap_exchange_format(x, &px->o.fmt, &px->rec, &sf);
    if (capture_out_complete(px->out, x->ticket, px->rec.buf, px->rec.len, &sf)) px->out_failed = 1;
    x->ticket = NULL;
    px->st.recorded++;
    int i = cap_exchange_reason_index(x->incomplete);
    if (i >= 0) px->st.incomplete[i]++;
}

static void force_cb(void *owner, capture_ticket *t)
{
    preq *q = owner;
    pthread_mutex_lock(&q->mu);
    cap_exchange *x = q->x;
    const char *saved = x->incomplete;
    if (!x->incomplete) x->incomplete = CAP_INC_WINDOW;
    record_locked(q->px, x);
    x->incomplete = saved;
    pthread_mutex_unlock(&q->mu);
}

static void unref(preq *q)
{
    if (atomic_fetch_sub(&q->refs, 1) != 1) return;
    capture_proxy *px = q->px;
    pthread_mutex_lock(&px->mu);
    list_remove(&px->live, q, live);
    if (--px->active == 0) pthread_cond_broadcast(&px->drained);
    pthread_mutex_unlock(&px->mu);
    pthread_mutex_lock(&px->out_mu);
    if (q->x->ticket) {
        if (!q->x->incomplete && !(q->finished && q->res == CURLE_OK && q->sent_all))
            q->x->incomplete = atomic_load(&px->stopping) ? CAP_INC_STOPPED : CAP_INC_CLIENT;
        record_locked(px, q->x);
    }
    pthread_mutex_unlock(&px->out_mu);
    cap_exchange_free(q->x, NULL);
    if (q->easy) curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->hdrs);
    curl_slist_free_all(q->fwd);
    sb_free(&q->reqbody);
    atomic_fetch_sub(&px->buffered, q->reserved);
    sb_free(&q->buf);
    free(q->url);
    curl_free(q->fwd_url);
    pthread_mutex_destroy(&q->mu);
    free(q);
}


/* ---- the curl side (curl thread) ---- */

static int hop_by_hop(const char *n, size_t len)
{
    static const char *const hop[] = {
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "content-length", "date", "proxy-authenticate", "proxy-authorization", NULL,
    };
    for (int i = 0; hop[i]; i++)
        if (strlen(hop[i]) == len && !strncasecmp(n, hop[i], len)) return 1;
    return 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    preq *q = ud;
    size_t len = size * n;
    int64_t t = now_cap(q->px);
    pthread_mutex_lock(&q->mu);
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        int st = 0;
        const char *sp = memchr(buf, ' ', len);
        if (sp) st = atoi(sp + 1);
        if (st >= 200 || st == 101) {
            q->in_final = 1;
            q->status = st;
            q->x->t_first_byte = t;
            curl_slist_free_all(q->fwd);
            q->fwd = NULL;
            q->clen = -1;
            q->ctype[0] = q->cenc[0] = '\0';
        } else {
            q->x->interim++;
        }
    } else if (len <= 2) {                      /* the blank line */
        if (q->in_final && !q->headers_done) {
            q->headers_done = 1;
            q->x->status = q->status;
            q->x->resp_started = 1;
            if (q->x->ticket || q->recorded_path) {
                resp_scan_begin(&q->x->scan, &q->px->pool, q->ctype, q->cenc, q->px->o.max_json);
                if (q->px->o.fmt.event_times) resp_scan_keep_times(&q->x->scan);
            }
            mhd_stream_resume(&q->st);
        }
    } else if (q->in_final) {
        const char *colon = memchr(buf, ':', len);
        if (colon) {
            size_t nl = (size_t)(colon - buf);
            const char *v = colon + 1;
            size_t vl = len - nl - 1;
            while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
            char val[256];
            snprintf(val, sizeof val, "%.*s", (int)(vl < 255 ? vl : 255), v);
            if (nl == 12 && !strncasecmp(buf, "content-type", 12)) snprintf(q->ctype, sizeof q->ctype, "%.95s", val);
            if (nl == 16 && !strncasecmp(buf, "content-encoding", 16)) snprintf(q->cenc, sizeof q->cenc, "%.31s", val);
            if (nl == 14 && !strncasecmp(buf, "content-length", 14) &&
                (parse_i64(val, &q->clen) < 0 || q->clen < 0))
                q->clen = -1;                   /* not a length: the size stays unknown */
            if (!hop_by_hop(buf, nl)) {
                strbuf h = {0};
                sb_printf(&h, "%.*s: %.*s", (int)nl, buf, (int)vl, v);
                q->fwd = curl_slist_append(q->fwd, h.buf);
                sb_free(&h);
            }
        }
    }
    pthread_mutex_unlock(&q->mu);
    return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    preq *q = ud;
    size_t len = size * n;
    int64_t t = now_cap(q->px);
    pthread_mutex_lock(&q->mu);
    if (q->cancel) {
        pthread_mutex_unlock(&q->mu);
        return 0;                               /* ends the transfer */
    }
    if (q->buf.len - q->off > HIGH_WATER) {
        q->paused = 1;
        pthread_mutex_unlock(&q->mu);
        return CURL_WRITEFUNC_PAUSE;            /* the same bytes come again after the unpause */
    }
    sb_add(&q->buf, data, len);
    if (q->x->resp_started && (q->x->ticket || q->recorded_path)) resp_scan_feed(&q->x->scan, t, data, len);
    mhd_stream_resume(&q->st);
    pthread_mutex_unlock(&q->mu);
    return len;
}

static void transfer_done(capture_proxy *px, preq *q, CURLcode res)
{
    int64_t t = now_cap(px);
    curl_multi_remove_handle(px->multi, q->easy);
    sb_free(&q->reqbody);                       /* libcurl is done with it */
    atomic_fetch_sub(&px->buffered, q->reserved);
    q->reserved = 0;
    pthread_mutex_lock(&q->mu);
    q->finished = 1;
    q->res = res;
    q->x->t_end = t;
    if (q->x->resp_started) resp_scan_end(&q->x->scan, t, res == CURLE_OK);
    resp_scan_release(&q->x->scan, &px->pool);
    int err = res != CURLE_OK && !q->cancel;
    if (err && !q->x->incomplete) q->x->incomplete = CAP_INC_UPSTREAM;
    if (err && !q->x->error) q->x->error = xstrdup(q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
    const char *proto = res == CURLE_OK ? http_opts_protocol(q->easy) : NULL;
    mhd_stream_resume(&q->st);
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_lock(&px->out_mu);
    if (err) px->st.upstream_errors++;
    if (proto) px->st.protocol = proto;
    pthread_mutex_unlock(&px->out_mu);
    unref(q);                                   /* the transfer's reference */
}

static void *curl_thread(void *arg)
{
    capture_proxy *px = arg;
    for (;;) {
        pthread_mutex_lock(&px->mu);
        preq *adds = px->adds, *ctls = px->ctls;
        px->adds = px->ctls = NULL;
        for (preq *q = adds; q; q = q->cnext) q->in_add = 0;
        for (preq *q = ctls; q; q = q->cnext) q->in_ctl = 0;
        pthread_mutex_unlock(&px->mu);
        while (adds) {
            preq *q = adds;
            adds = q->cnext;
            if (curl_multi_add_handle(px->multi, q->easy) != CURLM_OK) transfer_done(px, q, CURLE_FAILED_INIT);
            /* the list's reference becomes the transfer's */
        }
        while (ctls) {
            preq *q = ctls;
            ctls = q->cnext;
            pthread_mutex_lock(&q->mu);
            int cancel = q->cancel && !q->finished, unpause = q->want_unpause && q->paused && !q->finished;
            if (unpause) q->paused = q->want_unpause = 0;
            pthread_mutex_unlock(&q->mu);
            if (cancel) transfer_done(px, q, CURLE_ABORTED_BY_CALLBACK);
            else if (unpause) curl_easy_pause(q->easy, CURLPAUSE_CONT);
            unref(q);                           /* the list's reference */
        }
        unsigned reaped = proxy_conns_reap(px->conns, now_mono_ns());
        if (reaped) {
            pthread_mutex_lock(&px->out_mu);
            px->st.timed_out += reaped;
            pthread_mutex_unlock(&px->out_mu);
        }
        int running = 0;
        curl_multi_perform(px->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(px->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            preq *q = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            if (q) transfer_done(px, q, m->data.result);
        }
        if (atomic_load(&px->stop) && !running) {
            pthread_mutex_lock(&px->mu);
            int empty = !px->adds && !px->ctls;
            pthread_mutex_unlock(&px->mu);
            if (empty) break;
        }
        curl_multi_poll(px->multi, NULL, 0, 200, NULL);
    }
    return NULL;
}

/* ---- the MHD side ---- */

static const mhd_stream_ops stream_ops;   /* the streamed response's reader, below */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    capture_proxy *px = cls;
    preq *q = xcalloc(1, sizeof *q);
    q->px = px;
    q->st = (mhd_stream){ .conn = c, .ops = &stream_ops, .owner = q };
    atomic_store(&q->refs, 1);
    pthread_mutex_init(&q->mu, NULL);
    q->url = xstrdup(uri ? uri : "/");
    q->x = cap_exchange_new(0, now_cap(px));
    q->x->key_header = px->o.fmt.session_header;
    q->clen = -1;
    pthread_mutex_lock(&px->mu);
    list_push_front(&px->live, q, live);
    if (++px->active > px->st.peak_active) px->st.peak_active = px->active;
    pthread_mutex_unlock(&px->mu);
    return q;
}

static enum MHD_Result add_req_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    preq *q = cls;
    size_t kl = strlen(k);
    if (!v) v = "";
    if (!strcasecmp(k, "content-encoding") && strcasecmp(v, "identity"))
        snprintf(q->x->req_encoding, sizeof q->x->req_encoding, "%s", v);
    if (!strcasecmp(k, "expect")) q->x->expect_continue = 1;
    cap_exchange_add_header(q->x, k, kl, v, strlen(v));
    if (hop_by_hop(k, kl) || !strcasecmp(k, "host") || !strcasecmp(k, "expect") ||
        !strncasecmp(k, "proxy-", 6))
        return MHD_YES;
    strbuf h = {0};
    sb_printf(&h, "%s: %s", k, v);
    q->hdrs = curl_slist_append(q->hdrs, h.buf);
    sb_free(&h);
    return MHD_YES;
}

/* Queues a JSON error response; with retry_after, a Retry-After header of
 * that many seconds. */
static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *msg,
                                    unsigned retry_after)
{
    strbuf b = {0};
    sb_adds(&b, "{\"error\":{\"message\":");
    sb_json_str(&b, msg, strlen(msg));
    sb_printf(&b, ",\"type\":\"proxy_error\",\"code\":%u}}", status);
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.buf, MHD_RESPMEM_MUST_COPY);
    sb_free(&b);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int start_transfer(capture_proxy *px, preq *q, const char *method)
{
    CURL *e = curl_easy_init();
    if (!e) return -1;
    curl_easy_setopt(e, CURLOPT_URL, q->fwd_url);
    http_opts_apply(e, &px->o.http, q->fwd_url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(px->o.connect_timeout_ns / 1000000));
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    q->hdrs = curl_slist_append(q->hdrs, "Expect:");
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->reqbody.len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->reqbody.buf ? q->reqbody.buf : "");
        if (strcmp(method, "POST")) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    q->easy = e;
    ctl(px, q, 1);
    return 0;
}

static ssize_t reader(void *owner, uint64_t pos, char *out, size_t max)
{
    preq *q = owner;
    pthread_mutex_lock(&q->mu);
    size_t avail = q->buf.len - q->off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(out, q->buf.buf + q->off, n);
        q->off += n;
        q->sent += n;
        if (q->off == q->buf.len) q->buf.len = q->off = 0;
        int unpause = q->paused && !q->want_unpause && q->buf.len - q->off < LOW_WATER;
        if (unpause) q->want_unpause = 1;
        pthread_mutex_unlock(&q->mu);
        if (unpause) ctl(q->px, q, 0);
        return (ssize_t)n;
    }
    if (q->finished) {
        int ok = q->res == CURLE_OK;
        if (ok) q->sent_all = 1;
        pthread_mutex_unlock(&q->mu);
        return ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    mhd_stream_suspend(&q->st);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static void stream_ref(void *owner)
{
    preq *q = owner;
    atomic_fetch_add(&q->refs, 1);
}

static void stream_unref(void *owner)
{
    unref(owner);
}

static const mhd_stream_ops stream_ops = { reader, stream_ref, stream_unref };

/* The upstream answered (or failed): queue the client's response. */
static enum MHD_Result respond(capture_proxy *px, preq *q)
{
    pthread_mutex_lock(&q->mu);
    if (!q->headers_done && !q->finished) {
        mhd_stream_suspend(&q->st);
        pthread_mutex_unlock(&q->mu);
        return MHD_YES;
    }
    if (!q->headers_done) {
        char msg[CURL_ERROR_SIZE + 64];
        char *up = url_mask(px->upstream);   /* the client never sees its password */
        snprintf(msg, sizeof msg, "upstream %s: %s", up,
                 q->errbuf[0] ? q->errbuf : curl_easy_strerror(q->res));
        free(up);
        pthread_mutex_unlock(&q->mu);
        q->state = Q_RESPONDING;
        return respond_text(q->st.conn, 502, msg, 0);
    }
    uint64_t size = q->clen >= 0 && !q->cenc[0] ? (uint64_t)q->clen : MHD_SIZE_UNKNOWN;
    if (q->clen >= 0 && q->cenc[0]) size = (uint64_t)q->clen;
    struct curl_slist *fwd = q->fwd;
    q->fwd = NULL;
    int status = q->status;
    pthread_mutex_unlock(&q->mu);
    struct MHD_Response *r = mhd_stream_response(&q->st, size);
    if (!r) {
        curl_slist_free_all(fwd);
        return MHD_NO;
    }
    for (struct curl_slist *h = fwd; h; h = h->next) {
        char *colon = strchr(h->data, ':');
        if (!colon) continue;
        *colon = '\0';
        MHD_add_response_header(r, h->data, colon + 2);
    }
    curl_slist_free_all(fwd);
    q->state = Q_RESPONDING;
    enum MHD_Result ret = MHD_queue_response(q->st.conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Counts n more body bytes of q in px->buffered; -1 (nothing counted)
 * when that would pass max_buffered. MHD thread. */
static int buf_reserve(capture_proxy *px, preq *q, size_t n)
{
    size_t cur = atomic_load(&px->buffered);
    do {
        if (n > px->o.max_buffered || cur > px->o.max_buffered - n) return -1;
    } while (!atomic_compare_exchange_weak(&px->buffered, &cur, cur + n));
    q->reserved += n;
    return 0;
}

/* Drops the body held so far (over a cap): the rest is read and discarded. */
static void drop_body(capture_proxy *px, preq *q)
{
    sb_free(&q->reqbody);
    atomic_fetch_sub(&px->buffered, q->reserved);
    q->reserved = 0;
}

/* Refuses q without forwarding it: answers status with msg (503s with
 * Retry-After); the record, if it has one, gets orig.status and
 * orig.rejected = reason. counter is one of px->st's. */
static enum MHD_Result refuse(capture_proxy *px, preq *q, unsigned status, const char *reason,
                              const char *msg, uint64_t *counter)
{
    pthread_mutex_lock(&q->mu);
    q->finished = 1;
    q->x->status = (int)status;
    q->x->rejected = reason;
    q->x->resp_started = status == 413;         /* as before: a 413 record counts 0 output tokens */
    if (!q->x->req_done) q->x->req_incomplete = 1;
    if (status == 413 || status == 503) {
        q->x->incomplete = CAP_INC_MEMORY;
        q->x->body_dropped = 1;
    }
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_lock(&px->out_mu);
    (*counter)++;
    pthread_mutex_unlock(&px->out_mu);
    q->state = Q_RESPONDING;
    return respond_text(q->st.conn, status, msg, status == 503 ? 1 : 0);
}

/* Headers that make the request's framing ambiguous (RFC 9112 6.3, 5.1):
 * two Content-Length values that differ (libmicrohttpd frames by the first,
 * an upstream might take the other: request smuggling), or an empty field
 * name. Scans with MHD_get_connection_values; bad[0] is set on either. */
static enum MHD_Result framing_scan(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    const char **st = cls;   /* st[0]: the verdict, st[1]: the first Content-Length */
    if (!key || !key[0]) {
        st[0] = "empty header name";
        return MHD_YES;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
    if (!st[1]) st[1] = value ? value : "";
    else if (strcmp(st[1], value ? value : "")) st[0] = "conflicting Content-Length";
    return MHD_YES;
}

/* The request's headers are in: record or not, check the target and build
 * the upstream URL, count a declared body against max_buffered. */
static enum MHD_Result request_start(capture_proxy *px, preq *q, struct MHD_Connection *c,
                                     const char *method)
{
    q->state = Q_BODY;
    snprintf(q->x->method, sizeof q->x->method, "%s", method);
    q->x->url = xstrdup(q->url);
    q->x->hdr_done = 1;
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_req_header, q);
    const char *api = !strcmp(method, "POST") ? cap_exchange_api_of(q->url) : NULL;
    pthread_mutex_lock(&px->out_mu);
    px->st.requests++;
    if (api || px->o.all_paths) {
        q->recorded_path = 1;
        q->x->api = api;
        q->x->ticket = capture_out_reserve(px->out, q->x->t_req, force_cb, q);
    } else {
        px->st.not_llm++;
    }
    pthread_mutex_unlock(&px->out_mu);
    const char *framing[2] = { NULL, NULL };
    MHD_get_connection_values(c, MHD_HEADER_KIND, framing_scan, framing);
    if (framing[0])
        return refuse(px, q, 400, framing[0], "request not forwarded: ambiguous framing (conflicting "
                      "Content-Length or an empty header name)", &px->st.rejected);
    const char *why = NULL;
    q->fwd_url = proxy_upstream_url(px->up, q->url, &why);
    if (!q->fwd_url)
        return refuse(px, q, 400, why, "request target not forwarded: only /path[?query] on the upstream",
                      &px->st.rejected);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared && declared <= px->o.max_body && buf_reserve(px, q, (size_t)declared))
        return refuse(px, q, 503, "proxy body buffer full",
                      "the recording proxy holds too many request bodies (--max-buffered-mb); retry",
                      &px->st.over_buffered);
    if (declared && declared <= px->o.max_body) sb_reserve(&q->reqbody, (size_t)declared); /* one allocation */
    return MHD_YES;
}

/* Takes n more body bytes: kept, or dropped past a cap. */
static void body_data(capture_proxy *px, preq *q, const char *data, size_t n)
{
    if (q->too_large || q->over_buffered) return;
    if (q->reqbody.len + n > px->o.max_body) {
        q->too_large = 1;
        drop_body(px, q);
        return;
    }
    if (q->reqbody.len + n > q->reserved && buf_reserve(px, q, q->reqbody.len + n - q->reserved)) {
        q->over_buffered = 1;
        drop_body(px, q);
        return;
    }
    sb_add(&q->reqbody, data, n);
}

/* The whole request is in: forward it, or answer a capped one. */
static enum MHD_Result body_done(capture_proxy *px, preq *q, struct MHD_Connection *c, const char *method)
{
    int64_t t = now_cap(px);
    proxy_conns_request_whole(px->conns, c);
    pthread_mutex_lock(&q->mu);
    q->x->t_req_end = t;
    q->x->req_done = 1;
    if (q->too_large || q->over_buffered) q->x->body_dropped = 1;
    else if (q->x->ticket) sb_add(&q->x->body, q->reqbody.buf ? q->reqbody.buf : "", q->reqbody.len);
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_lock(&px->out_mu);
    px->st.bytes_up += q->reqbody.len;
    pthread_mutex_unlock(&px->out_mu);
    if (q->too_large)
        return refuse(px, q, 413, NULL, "request body too large for the recording proxy (--max-body-mb)",
                      &px->st.too_large);
    if (q->over_buffered)
        return refuse(px, q, 503, "proxy body buffer full",
                      "the recording proxy holds too many request bodies (--max-buffered-mb); retry",
                      &px->st.over_buffered);
    q->state = Q_WAITING;
    if (start_transfer(px, q, method)) return respond_text(c, 500, "cannot start the upstream transfer", 0);
    return respond(px, q);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    capture_proxy *px = cls;
    preq *q = *con_cls;
    if (!q) return MHD_NO;
    if (q->state == Q_NEW) return request_start(px, q, c, method);
    if (q->state == Q_BODY && *upload_size) {
        body_data(px, q, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->state == Q_BODY) return body_done(px, q, c, method);
    if (q->state == Q_WAITING) return respond(px, q);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    capture_proxy *px = cls;
    preq *q = *con_cls;
    if (!q) return;
    *con_cls = NULL;
    int timed_out = proxy_conns_timed_out(px->conns, c);
    proxy_conns_request_done(px->conns, c);
    pthread_mutex_lock(&q->mu);
    q->st.conn_done = 1;
    if (q->state == Q_NEW || q->state == Q_BODY) {
        q->x->req_incomplete = 1;
        if (timed_out && !q->x->rejected) q->x->rejected = "request not whole within --client-timeout";
    }
    /* Completed OK: the client has the whole response. With a
     * Content-Length libmicrohttpd stops calling the reader once that many
     * bytes are sent (no end-of-stream return marks it), and this can come
     * before libcurl reports the transfer's end, so the transfer is left to
     * finish on its own rather than cancelled. */
    int delivered = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && q->state == Q_RESPONDING;
    if (delivered) q->sent_all = 1;
    int cancel = !q->finished && q->easy && !delivered;
    if (cancel) q->cancel = 1;
    if (!delivered && !q->x->incomplete && !(q->finished && q->sent_all))
        q->x->incomplete = atomic_load(&px->stopping) ? CAP_INC_STOPPED : CAP_INC_CLIENT;
    uint64_t sent = q->sent;
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_lock(&px->out_mu);
    px->st.bytes_down += sent;
    pthread_mutex_unlock(&px->out_mu);
    if (cancel) ctl(px, q, 0);
    unref(q);                                   /* the request's reference */
}

/* ---- set-up and shutdown ---- */

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *host,
                        size_t hostlen, char *err, size_t errlen)
{
    char h[256];
    const char *port;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof h) goto bad;
        snprintf(h, sizeof h, "%.*s", (int)(e - s - 1), s + 1);
        port = e + 2;
    } else if (strrchr(s, ':')) {
        const char *c = strrchr(s, ':');
        if ((size_t)(c - s) >= sizeof h) goto bad;
        snprintf(h, sizeof h, "%.*s", (int)(c - s), s);
        port = c + 1;
    } else {
        snprintf(h, sizeof h, "127.0.0.1");
        port = s;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) goto bad;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(h, port, &hints, &res);
    if (rc || !res) {
        errf(err, errlen, "--proxy %s: cannot resolve '%s': %s", s, h, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(host, hostlen, "%s", h);
    return 0;
bad:
    errf(err, errlen, "--proxy: expected [HOST:]PORT, got '%s'", s);
    return -1;
}

capture_proxy *capture_proxy_new(const capture_proxy_opts *o, capture_out *out, int *rc,
                                 char *err, size_t errlen)
{
    *rc = ERR_USAGE;
    if (!o->upstream || (strncmp(o->upstream, "http://", 7) && strncmp(o->upstream, "https://", 8))) {
        errf(err, errlen, "--upstream must be an http:// or https:// URL, got '%s'",
             o->upstream ? o->upstream : "");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    char host[256];
    if (parse_listen(o->listen, &ss, &sslen, host, sizeof host, err, errlen)) return NULL;
    capture_proxy *px = xcalloc(1, sizeof *px);
    px->o = *o;
    if (!px->o.max_body) px->o.max_body = (size_t)64 << 20;
    if (!px->o.connect_timeout_ns) px->o.connect_timeout_ns = 10LL * 1000000000;
    if (!px->o.max_connections) px->o.max_connections = 10000;
    if (!px->o.max_buffered) px->o.max_buffered = (size_t)256 << 20;
    if (px->o.client_timeout_ns <= 0) px->o.client_timeout_ns = 30LL * 1000000000;
    px->conns = proxy_conns_new(px->o.client_timeout_ns);
    px->upstream = xstrdup(o->upstream);
    for (size_t n = strlen(px->upstream); n > 8 && px->upstream[n - 1] == '/'; n--) px->upstream[n - 1] = '\0';
    px->o.upstream = px->upstream;
    px->out = out;
    px->real0 = now_real_ns();
    px->mono0 = now_mono_ns();
    pthread_mutex_init(&px->mu, NULL);
    pthread_mutex_init(&px->out_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&px->drained, &ca);
    pthread_condattr_destroy(&ca);
    px->up = proxy_upstream_new(o->upstream, err, errlen);
    if (!px->up) {
        capture_proxy_free(px);
        return NULL;
    }
    *rc = ERR_SYSTEM;
    px->multi = curl_multi_init();
    if (!px->multi) {
        errf(err, errlen, "curl_multi_init failed");
        capture_proxy_free(px);
        return NULL;
    }
    int e = pthread_create(&px->thread, NULL, curl_thread, px);
    if (e) {
        errf(err, errlen, "cannot start the forwarding thread: %s", strerror(e));
        capture_proxy_free(px);
        return NULL;
    }
    px->thread_started = 1;
    /* poll, not epoll: with epoll libmicrohttpd 0.9.75 misses the end of a
     * client that sends part of a request and shuts down its side, and
     * keeps the socket open (CLOSE-WAIT) until the daemon stops. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    unsigned idle_s = (unsigned)((px->o.client_timeout_ns + 999999999) / 1000000000);
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    px->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, px,
                             MHD_OPTION_SOCK_ADDR, &ss,
                             MHD_OPTION_URI_LOG_CALLBACK, uri_log, px,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, px,
                             MHD_OPTION_CONNECTION_LIMIT, px->o.max_connections,
                             MHD_OPTION_NOTIFY_CONNECTION, proxy_conns_notify, px->conns,
                             MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
                             MHD_OPTION_END);
    if (!px->d) {
        errf(err, errlen, "cannot listen on %s (address in use, or not a local address?)", o->listen);
        capture_proxy_free(px);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(px->d, MHD_DAEMON_INFO_BIND_PORT);
    px->port = di ? di->port : 0;
    if (ss.ss_family == AF_INET6) snprintf(px->url, sizeof px->url, "http://[%s]:%d", host, px->port);
    else snprintf(px->url, sizeof px->url, "http://%s:%d", host, px->port);
    *rc = 0;
    return px;
}

int capture_proxy_port(const capture_proxy *px) { return px->port; }
const char *capture_proxy_url(const capture_proxy *px) { return px->url; }

int capture_proxy_tick(capture_proxy *px)
{
    pthread_mutex_lock(&px->out_mu);
    if (capture_out_tick(px->out, now_cap(px))) px->out_failed = 1;
    int failed = px->out_failed;
    pthread_mutex_unlock(&px->out_mu);
    return failed ? ERR_SYSTEM : 0;
}

int capture_proxy_done(capture_proxy *px)
{
    pthread_mutex_lock(&px->out_mu);
    int d = capture_out_done(px->out);
    pthread_mutex_unlock(&px->out_mu);
    return d;
}

void capture_proxy_get_stats(capture_proxy *px, capture_proxy_stats *st)
{
    pthread_mutex_lock(&px->out_mu);
    *st = px->st;
    pthread_mutex_unlock(&px->out_mu);
}

void capture_proxy_shutdown(capture_proxy *px)
{
    if (px->shut) return;
    px->shut = 1;
    atomic_store(&px->stopping, 1);
    if (px->d) {
        MHD_socket ls = MHD_quiesce_daemon(px->d);
        if (ls != MHD_INVALID_SOCKET) close(ls);
    }
    /* Cancel every transfer; each ends its response, which ends its request. */
    pthread_mutex_lock(&px->mu);
    for (preq *q = px->live.first; q; q = q->live.next) {
        pthread_mutex_lock(&q->mu);
        int cancel = q->easy && !q->finished && !q->cancel;
        if (cancel) q->cancel = 1;
        mhd_stream_resume(&q->st);
        pthread_mutex_unlock(&q->mu);
        if (cancel && !q->in_ctl) {
            q->in_ctl = 1;
            atomic_fetch_add(&q->refs, 1);
            q->cnext = px->ctls;
            px->ctls = q;
        }
    }
    pthread_mutex_unlock(&px->mu);
    if (px->multi) curl_multi_wakeup(px->multi);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 3;
    pthread_mutex_lock(&px->mu);
    while (px->active && pthread_cond_timedwait(&px->drained, &px->mu, &until) != ETIMEDOUT) {}
    pthread_mutex_unlock(&px->mu);
    if (px->d) MHD_stop_daemon(px->d);
    px->d = NULL;
    atomic_store(&px->stop, 1);
    if (px->thread_started) {
        curl_multi_wakeup(px->multi);
        pthread_join(px->thread, NULL);
        px->thread_started = 0;
    }
}

void capture_proxy_free(capture_proxy *px)
{
    if (!px) return;
    capture_proxy_shutdown(px);
    if (px->multi) curl_multi_cleanup(px->multi);
    resp_scan_pool_free(&px->pool);
    pthread_mutex_destroy(&px->mu);
    pthread_mutex_destroy(&px->out_mu);
    pthread_cond_destroy(&px->drained);
    sb_free(&px->rec);
    free(px->upstream);
    proxy_upstream_free(px->up);
    proxy_conns_free(px->conns);
    free(px);
}
