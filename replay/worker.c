/* worker.c — one replay worker: an epoll loop that owns a libcurl multi
 * handle (driven through its socket API), a timerfd for the schedule's
 * absolute deadlines, a timerfd for libcurl's timeouts and a periodic
 * timerfd for stall checks. It sends each request at its t_sched, feeds the
 * response to the client's parser, stamps times in libcurl's callbacks and
 * appends one line per finished request to the run's log.
 *
 * Everything here belongs to this worker's thread except the queue it
 * reads from (rq_queue, shared with the reader) and the counters it
 * publishes (wstats, atomics). */
#include "replay/replay_int.h"
#include "replay/rx_clock.h"
#include "replay/server_probe.h"
#include "replay/xfer.h"
#include "common/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* What an epoll event is for (the high 32 bits of its data; the fd below).
 * TAG_HANDLED marks a TAG_SCHED event already served ahead of the batch. */
enum { TAG_SOCK = 0, TAG_SCHED = 1, TAG_CURLT = 2, TAG_EVENT = 3, TAG_TICK = 4, TAG_HANDLED = 5 };
#define TAG(t, fd) (((uint64_t)(t) << 32) | (uint32_t)(fd))
#define TICK_NS 50000000LL /* stall checks and log flushes: every 50 ms */
#define SEND_BATCH 32      /* requests started per pass of the loop, at most */

/* Dependent-session state: turns wait here until the previous one is done. */
typedef struct sess {
    char *key;
    int busy;                 /* a turn is scheduled or in flight */
    rq *parked, *parked_tail; /* later turns, in order */
    int64_t last_trace_ns;    /* trace time of the last released turn */
    int64_t last_orig_e2e_ns; /* its original e2e (-1 unknown) */
    strbuf reply;             /* its reply, for the next turn's body */
    struct sess *next;
} sess;

struct worker {
    run *r;
    int id;
    int ep, sched_fd, curl_fd, tick_fd;
    rq_queue *q;
    CURLM *multi;
    struct curl_slist *headers;
    int curl_due;             /* libcurl asked for a timeout action now */
    int64_t curl_want;        /* when libcurl wants its timeout action (abs ns, -1 none) */
    int64_t curl_armed;       /* what the curl timerfd is armed for (abs ns, -1 none) */
    rq **heap;                /* due requests, min-heap by t_sched */
    size_t nheap, capheap;
    int64_t armed;            /* t_sched the sched timer is armed for (-1 none) */
    xfer_list inflight;       /* through xfer.link */
    long ninflight;
    int cap_blocked;          /* a due request waits for a --max-inflight slot */
    xfer_list free_xfers;     /* through xfer.link */
    long nparked;             /* requests parked behind their session */
    pthread_mutex_t done_mu;  /* in-process requests finished by engine threads */
    xfer *done_head;
    sess **sessions;          /* dependent mode only */
    size_t nsess_buckets;
    xfer_loop loop;           /* what its transfers read of the loop: pass budget, readiness (xfer.h) */
    strbuf logbuf;            /* finished lines not yet appended to the log */
    int64_t last_flush;
    int reader_closed;
    int64_t real_minus_mono;  /* CLOCK_REALTIME - CLOCK_MONOTONIC, renewed every tick */
    char *peek;               /* XFER_PEEK_BYTES: rx_clock_peek's scratch */
    gapstore *gapstore;       /* its HTTP requests' chunk gaps past the first chunk, or NULL */
    wstats st;
    char err[512];
};

const wstats *worker_stats(const worker *w) { return &w->st; }

void worker_wake(worker *w)
{
    uint64_t one = 1;
    if (write(w->q->efd, &one, sizeof one) < 0) { /* counter full: already awake */ }
}

static int64_t rel_now(const worker *w)
{
    return now_mono_ns() - w->r->t0;
}

/* ---- heap of scheduled requests ---- */

static void heap_push(worker *w, rq *q)
{
    if (w->nheap == w->capheap) {
        w->capheap = w->capheap ? w->capheap * 2 : 256;
        w->heap = xrealloc(w->heap, w->capheap * sizeof *w->heap);
    }
    size_t i = w->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p]->t_sched < q->t_sched ||
            (w->heap[p]->t_sched == q->t_sched && w->heap[p]->index <= q->index)) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = q;
}

static rq *heap_pop(worker *w)
{
    rq *top = w->heap[0], *last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (w->heap[c + 1]->t_sched < w->heap[c]->t_sched ||
                          (w->heap[c + 1]->t_sched == w->heap[c]->t_sched &&
                           w->heap[c + 1]->index < w->heap[c]->index))) c++;
        if (last->t_sched < w->heap[c]->t_sched ||
            (last->t_sched == w->heap[c]->t_sched && last->index <= w->heap[c]->index)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* ---- sessions (dependent mode) ---- */

static sess *sess_get(worker *w, const char *key)
{
    if (!w->nsess_buckets) {
        w->nsess_buckets = 4096;
        w->sessions = xcalloc(w->nsess_buckets, sizeof *w->sessions);
    }
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    sess **b = &w->sessions[h % w->nsess_buckets];
    for (sess *s = *b; s; s = s->next)
        if (!strcmp(s->key, key)) return s;
    sess *s = xcalloc(1, sizeof *s);
    s->key = xstrdup(key);
    s->last_trace_ns = -1;
    s->last_orig_e2e_ns = -1;
    s->next = *b;
    *b = s;
    return s;
}

static int64_t orig_e2e_ns(const trace_rec *rec)
{
    const cJSON *v = rec->orig ? cJSON_GetObjectItemCaseSensitive(rec->orig, "e2e_us") : NULL;
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble * 1000 : -1;
}

/* Releases q (the next turn of its session) at now + its think time. The
 * think time is the record's think_us, else the trace's gap between the
 * two turns less the previous turn's original e2e when known. */
static void sess_release(worker *w, sess *s, rq *q, int64_t now)
{
    double speed = w->r->o->speed;
    int64_t think;
    if (q->rec.think_us >= 0) think = (int64_t)((double)q->rec.think_us * 1000.0 / speed);
    else if (s->last_trace_ns >= 0) {
        think = q->trace_ns - s->last_trace_ns;
        if (s->last_orig_e2e_ns >= 0) think -= (int64_t)((double)s->last_orig_e2e_ns / speed);
        if (think < 0) think = 0;
    } else think = 0;
    q->t_sched = now + think;
    if (s->reply.len && q->rec.body && w->r->cl->ops->add_reply) {
        /* The body as read stays the reference of the log's body_edits. */
        if (!cJSON_GetObjectItemCaseSensitive(q->rec.json, "body_raw")) {
            char *raw = cJSON_PrintUnformatted(q->rec.body);
            cJSON_AddStringToObject(q->rec.json, "body_raw", raw);
            cJSON_free(raw);
        }
        w->r->cl->ops->add_reply(w->r->cl, (cJSON *)q->rec.body, s->reply.buf, s->reply.len);
    }
    sb_clear(&s->reply);
    s->busy = 1;
    s->last_trace_ns = q->trace_ns;
    s->last_orig_e2e_ns = orig_e2e_ns(&q->rec);
    heap_push(w, q);
}

/* A request taken off the queue: scheduled now, or parked behind its
 * session's turn in flight. */
static void accept_rq(worker *w, rq *q)
{
    if (w->r->o->sessions_mode == SESSIONS_DEPENDENT && q->rec.session) {
        sess *s = sess_get(w, q->rec.session);
        if (s->busy) {
            q->next = NULL;
            if (s->parked_tail) s->parked_tail->next = q;
            else s->parked = q;
            s->parked_tail = q;
            w->nparked++;
            return;
        }
        if (s->last_trace_ns < 0) {
            /* First turn seen: at its trace time. */
            s->busy = 1;
            s->last_trace_ns = q->trace_ns;
            s->last_orig_e2e_ns = orig_e2e_ns(&q->rec);
            heap_push(w, q);
            return;
        }
        sess_release(w, s, q, rel_now(w));
        return;
    }
    heap_push(w, q);
}

/* Called when a request of a dependent session finished. */
static void sess_done(worker *w, xfer *x, int64_t now)
{
    sess *s = sess_get(w, x->q->rec.session);
    s->busy = 0;
    sb_clear(&s->reply);
    if (x->ok && x->reply.len) sb_add(&s->reply, x->reply.buf, x->reply.len);
    rq *nq = s->parked;
    if (nq) {
        s->parked = nq->next;
        if (!s->parked) s->parked_tail = NULL;
        nq->next = NULL;
        w->nparked--;
        sess_release(w, s, nq, now);
    }
}

static void drain_queue(worker *w)
{
    uint64_t v;
    if (read(w->q->efd, &v, sizeof v) < 0) { /* nothing pending */ }
    pthread_mutex_lock(&w->q->mu);
    rq *list = w->q->head;
    w->q->head = w->q->tail = NULL;
    w->reader_closed = w->q->closed;
    pthread_mutex_unlock(&w->q->mu);
    while (list) {
        rq *n = list->next;
        list->next = NULL;
        accept_rq(w, list);
        list = n;
    }
}

/* n requests have left the lookahead. The reader, blocked while the
 * lookahead is full, is woken once REPLAY_REFILL have left, not once per
 * request (a wake-up costs two context switches) and not once half the
 * lookahead has (it then decoded 2,048 records in one run of 3 ms, and a
 * worker sharing its core waited for the scheduler's tick to get it back:
 * send lags of 2-4 ms every 2,048 requests). */
static void lookahead_release_n(worker *w, long n)
{
    if (n <= 0) return;
    long before = atomic_fetch_sub(&w->q->pending, n);
    long mark = REPLAY_LOOKAHEAD - REPLAY_REFILL;
    if (before > mark && before - n <= mark) {
        pthread_mutex_lock(&w->q->mu);
        pthread_cond_signal(&w->q->space);
        pthread_mutex_unlock(&w->q->mu);
    }
}

static void lookahead_release(worker *w)
{
    lookahead_release_n(w, 1);
}

/* ---- libcurl glue ---- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    worker *w = ud;
    xfer *x = NULL;
    /* libcurl names each transfer's socket here, a reused one included
     * (its sockets are per transfer): xfer_rx_time compares it. */
    if (e && curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x) == CURLE_OK && x &&
        what != CURL_POLL_REMOVE) x->sock = s;
    struct epoll_event ev = { 0 };
    ev.data.u64 = TAG(TAG_SOCK, s);
    if (what == CURL_POLL_REMOVE) {
        if (sockp) epoll_ctl(w->ep, EPOLL_CTL_DEL, s, NULL);
        curl_multi_assign(w->multi, s, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!sockp) {
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
            epoll_ctl(w->ep, EPOLL_CTL_MOD, s, &ev);
        curl_multi_assign(w->multi, s, (void *)1);
    } else {
        epoll_ctl(w->ep, EPOLL_CTL_MOD, s, &ev);
    }
    return 0;
}

static void arm_abs(int fd, int64_t abs_ns)
{
    struct itimerspec its = { 0 };
    its.it_value.tv_sec = abs_ns / 1000000000LL;
    its.it_value.tv_nsec = abs_ns % 1000000000LL;
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* libcurl asks for its timer on nearly every transfer: the timerfd is
 * re-armed only when the wanted time is earlier than the armed one; an
 * early expiry re-arms for the wanted time (curl_timer_fired). */
static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    worker *w = ud;
    if (timeout_ms < 0) {
        w->curl_want = -1;
    } else if (timeout_ms == 0) {
        w->curl_due = 1;
    } else {
        w->curl_want = now_mono_ns() + (int64_t)timeout_ms * 1000000LL;
        if (w->curl_armed < 0 || w->curl_want < w->curl_armed) {
            w->curl_armed = w->curl_want;
            arm_abs(w->curl_fd, w->curl_armed);
        }
    }
    return 0;
}

/* The schedule timer fires --spin before the next deadline (send_due
 * busy-waits the rest). */
static void arm_sched(worker *w)
{
    /* Held back by --max-inflight: no timer (it would fire at once, again
     * and again); the worker that frees a slot wakes this one. */
    int64_t want = -1;
    if (w->nheap && !w->cap_blocked) {
        want = w->heap[0]->t_sched - w->r->o->spin_ns;
        if (want < 0) want = 0;
    }
    if (want == w->armed) return;
    w->armed = want;
    struct itimerspec its = { 0 };
    if (want >= 0) {
        int64_t abs = w->r->t0 + want;
        if (abs <= 0) abs = 1;
        its.it_value.tv_sec = abs / 1000000000LL;
        its.it_value.tv_nsec = abs % 1000000000LL;
    }
    timerfd_settime(w->sched_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- request lifetime ---- */

/* Called on an engine's thread when an in-process request is done: hand it
 * to the worker's thread, which records it. */
static void inproc_done(void *owner, xfer *x)
{
    worker *w = owner;
    pthread_mutex_lock(&w->done_mu);
    x->done_next = w->done_head;
    w->done_head = x;
    pthread_mutex_unlock(&w->done_mu);
    worker_wake(w);
}


static void flush_log(worker *w, int force)
{
    if (!w->logbuf.len) return;
    int64_t now = rel_now(w);
    if (!force && w->logbuf.len < (64u << 10) && now - w->last_flush < 200000000LL) return;
    w->last_flush = now;
    if (reqlog_append(w->r->log, w->logbuf.buf, w->logbuf.len) < 0) {
        atomic_store(&w->r->failed_io, 1);
        atomic_store(&w->r->stop, 2);
        run_wake_all(w->r);
    }
    sb_clear(&w->logbuf);
}

/* Fail fast: a 401/403/404 before any request succeeded means every request
 * will fail the same way (wrong key, wrong URL, unknown model), so the run
 * stops at once instead of sending the whole trace (docs/replay.md). */
static void check_refusal(worker *w, const xfer *x)
{
    run *r = w->r;
    if (x->ok) {
        atomic_fetch_add(&r->ok_total, 1);
        return;
    }
    if (x->inproc || !probe_is_refusal(x->status) || atomic_load(&r->ok_total) > 0) return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&r->refused, &expect, 1)) return;
    snprintf(r->refused_msg, sizeof r->refused_msg, "HTTP %d: %s", x->status, x->errmsg ? x->errmsg : "");
    atomic_store(&r->stop, 2);
    run_wake_all(r);
}

static void finish(worker *w, xfer *x, int64_t now)
{
    x->t_end = now;
    list_remove(&w->inflight, x, link);
    w->ninflight--;
    if (x->paused) w->loop.npaused--;
    x->paused = 0;
    xfer_format(x, &w->logbuf);
    flush_log(w, 0);
    if (x->t_send >= 0) {
        int64_t lag_us = (x->t_send - x->q->t_sched) / 1000;
        int b = 0;
        while (lag_us > 0 && b < 63) lag_us >>= 1, b++;
        atomic_fetch_add(&w->st.lag_hist[b], 1);
    }
    atomic_fetch_add(x->ok ? &w->st.completed : &w->st.failed, 1);
    check_refusal(w, x);
    atomic_fetch_sub(&w->st.inflight, 1);
    long before = atomic_fetch_sub(&w->r->inflight, 1);
    if (w->r->o->max_inflight && before == w->r->o->max_inflight) run_wake_all(w->r);
    if (w->r->o->sessions_mode == SESSIONS_DEPENDENT && x->q->rec.session) sess_done(w, x, now);
    rq_free(x->q);
    x->q = NULL;
    xfer_recycle(x);
    list_push_front(&w->free_xfers, x, link);
}

static void check_done(worker *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode res = m->data.result;
        curl_multi_remove_handle(w->multi, m->easy_handle);
        xfer_complete(x, res);
        finish(w, x, rel_now(w));
    }
}

static void drain_done(worker *w)
{
    pthread_mutex_lock(&w->done_mu);
    xfer *list = w->done_head;
    w->done_head = NULL;
    pthread_mutex_unlock(&w->done_mu);
    while (list) {
        xfer *n = list->done_next;
        list->done_next = NULL;
        xfer_complete_inproc(list);
        finish(w, list, rel_now(w));
        list = n;
    }
}

/* One libcurl action, then the finished transfers are recorded. A timeout
 * action libcurl asks for meanwhile (on_timer with 0) is left for the next
 * pass of the loop: libcurl asks for one after every read that leaves data
 * in the socket, so looping here until it stops asking would never return
 * to epoll while a server streams without pause (due sends, the stop flag
 * and the stall check would wait for the stream to end). */
static void socket_action(worker *w, curl_socket_t s, int mask)
{
    int running;
    if (s == CURL_SOCKET_TIMEOUT) w->curl_due = 0;
    curl_multi_socket_action(w->multi, s, mask, &running);
    check_done(w);
}

/* A socket epoll reported ready at t_ready: its bytes are stamped with
 * the kernel's receive time of its queued bytes (--rx-stamp kernel), else
 * with t_ready (xfer_rx_time) — either way not with the time the events
 * before it in the batch took to handle. */
static void socket_ready(worker *w, curl_socket_t s, uint32_t events, int64_t t_ready)
{
    int mask = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    w->loop.rx_ready = events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? t_ready : -1;
    w->loop.rx_peeked = -1;
    if (events & EPOLLIN && w->r->o->rx_stamp == RX_STAMP_KERNEL) {
        int64_t k = rx_clock_peek(s, w->peek, XFER_PEEK_BYTES, &w->loop.rx_peek_len);
        w->loop.rx_handed = 0;
        if (k >= 0) {
            w->loop.rx_ready = k - w->real_minus_mono;
            w->loop.rx_peeked = now_mono_ns();
        }
    }
    w->loop.rx_sock = s;
    socket_action(w, s, mask);
    w->loop.rx_ready = -1;
}

/* Starts a new pass of the loop: a new read budget for every transfer,
 * and the transfers the last pass paused resumed. libcurl hands a resumed
 * transfer the bytes it had refused at once (inside curl_easy_pause); if
 * that fails it (too_large, a stream error) libcurl reports no completion,
 * so the transfer is finished here. */
static void new_pass(worker *w)
{
    w->loop.pass++;
    if (!w->loop.npaused) return;
    for (xfer *x = w->inflight.first, *n; x; x = n) {
        n = x->link.next; /* nothing else finishes while this loop runs */
        if (!x->paused) continue;
        x->paused = 0;
        w->loop.npaused--;
        CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
        if (rc == CURLE_OK) continue;
        if (x->paused) w->loop.npaused--;
        x->paused = 0;
        curl_multi_remove_handle(w->multi, x->easy);
        xfer_complete(x, rc);
        finish(w, x, rel_now(w));
    }
}

/* Reserves a --max-inflight slot; 0 when the cap is reached. */
static int take_slot(run *r)
{
    long cap = (long)r->o->max_inflight;
    long cur = atomic_load(&r->inflight);
    for (;;) {
        if (cap && cur >= cap) return 0;
        if (atomic_compare_exchange_weak(&r->inflight, &cur, cur + 1)) break;
    }
    long c = cur + 1, m = atomic_load(&r->concurrency_max);
    while (c > m && !atomic_compare_exchange_weak(&r->concurrency_max, &m, c)) {}
    return 1;
}

/* --spin: a deadline at most spin_ns away is waited for on the CPU (the
 * timer's wake-up is late by tens to hundreds of µs on an idle core).
 * Returns 1 once it is reached, 0 when it is further away. */
static int spin_until(worker *w, int64_t t_sched, int64_t now)
{
    int64_t spin = w->r->o->spin_ns;
    if (spin <= 0 || t_sched - now > spin) return 0;
    while (rel_now(w) < t_sched) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();   /* kinder to the sibling hyper-thread */
#endif
    }
    return 1;
}

/* Starts the requests whose time has come, at most SEND_BATCH per pass of
 * the loop: a worker that has fallen behind then reads the responses
 * between batches (its connections come back for reuse) instead of
 * writing every late request at once over thousands of new connections,
 * which made a run past the worker's capacity collapse (lags of seconds
 * while the server idled). More due requests keep the schedule timer
 * expired, so the next pass comes at once. */
static void send_due(worker *w)
{
    int added = 0;
    long released = 0;
    w->cap_blocked = 0;
    while (w->nheap && atomic_load(&w->r->stop) == 0 && released < SEND_BATCH) {
        int64_t now = rel_now(w);
        if (w->heap[0]->t_sched > now && !spin_until(w, w->heap[0]->t_sched, now)) break;
        if (!take_slot(w->r)) {
            w->cap_blocked = 1;
            break;
        }
        rq *q = heap_pop(w);
        xfer *x = w->free_xfers.first;
        if (x) list_remove(&w->free_xfers, x, link);
        else {
            x = xfer_new(w->r->cl, w->headers, w->r->o);
            x->loop = &w->loop;
            x->gaps.store = w->gapstore;
        }
        int64_t t0 = w->r->t0;
        if (xfer_start(x, q, t0, w->r->o->sessions_mode == SESSIONS_DEPENDENT && q->rec.session) < 0) {
            /* The client could not build it: a failed record, never sent. */
            x->q = q;
            list_push_front(&w->inflight, x, link);
            w->ninflight++;
            atomic_fetch_add(&w->st.inflight, 1);
            finish(w, x, rel_now(w));
            released++;
            continue;
        }
        if (!x->inproc) curl_multi_add_handle(w->multi, x->easy);
        list_push_front(&w->inflight, x, link);
        w->ninflight++;
        atomic_fetch_add(&w->st.sent, 1);
        long inf = atomic_fetch_add(&w->st.inflight, 1) + 1;
        if (inf > atomic_load(&w->st.max_inflight)) atomic_store(&w->st.max_inflight, inf);
        released++;
        if (x->inproc) {
            x->owner = w;
            x->on_inproc_done = inproc_done;
            if (xfer_submit(x) < 0) finish(w, x, rel_now(w));
            continue;
        }
        added = 1;
    }
    /* Write the requests first, then let the reader refill. */
    if (added) socket_action(w, CURL_SOCKET_TIMEOUT, 0);
    lookahead_release_n(w, released);
}

/* Stall checks, cancellation and periodic log flushes. */
static void tick(worker *w)
{
    int64_t now = rel_now(w);
    w->real_minus_mono = rx_clock_real_minus_mono();   /* follows a step of the wall clock */
    int stop = atomic_load(&w->r->stop);
    int64_t stall = w->r->o->stall_timeout_ms * 1000000LL;
    for (xfer *x = w->inflight.first, *n; x; x = n) {
        n = x->link.next;
        const char *why = NULL;
        if (stop >= 2) why = "cancelled";
        else if (stall > 0 && now - xfer_last_activity(x) > stall) why = "stall";
        if (!why) continue;
        if (x->inproc) {
            /* The engine still owns it: ask it to stop; done will come. */
            xfer_cancel_inproc(x, why, now);
            continue;
        }
        curl_multi_remove_handle(w->multi, x->easy);
        xfer_abort(x, why, now);
        finish(w, x, now);
    }
    flush_log(w, 0);
}

static void drop_unsent(worker *w)
{
    while (w->nheap) {
        rq *q = heap_pop(w);
        atomic_fetch_add(&w->r->not_sent, 1);
        rq_free(q);
        lookahead_release(w);
    }
    for (size_t i = 0; i < w->nsess_buckets; i++)
        for (sess *s = w->sessions[i]; s; s = s->next)
            while (s->parked) {
                rq *q = s->parked;
                s->parked = q->next;
                s->parked_tail = NULL;
                w->nparked--;
                atomic_fetch_add(&w->r->not_sent, 1);
                rq_free(q);
                lookahead_release(w);
            }
}

static int parked_any(const worker *w)
{
    return w->nparked > 0;
}

void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pthread_mutex_lock(&r->start_mu);
    while (!r->started) pthread_cond_wait(&r->start_cv, &r->start_mu);
    pthread_mutex_unlock(&r->start_mu);

    struct itimerspec its = { { 0, TICK_NS }, { 0, TICK_NS } };
    timerfd_settime(w->tick_fd, 0, &its, NULL);
    w->armed = -2;
    w->curl_want = w->curl_armed = -1;
    w->loop.rx_ready = -1;
    w->real_minus_mono = rx_clock_real_minus_mono();
    drain_queue(w);
    for (;;) {
        new_pass(w);
        int stop = atomic_load(&r->stop);
        if (stop) {
            drop_unsent(w);
            if (stop >= 2 && w->inflight.first) tick(w);
            drain_done(w);
            if (!w->inflight.first) break;
        } else {
            send_due(w);
            if (w->reader_closed && !w->nheap && !w->inflight.first && !parked_any(w)) {
                /* Re-check the queue: the reader may have pushed before closing. */
                drain_queue(w);
                if (!w->nheap && !parked_any(w)) break;
                continue;
            }
        }
        arm_sched(w);
        struct epoll_event evs[256];
        /* A timeout action libcurl asked for is due now: look at the other
         * events without blocking, then run it (below). */
        int n = epoll_wait(w->ep, evs, 256, w->curl_due || w->loop.npaused ? 0 : -1);
        int64_t t_ready = now_mono_ns();   /* once per batch: every event in it was ready by now */
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(w->err, sizeof w->err, "epoll_wait: %s", strerror(errno));
            atomic_store(&r->stop, 2);
            break;
        }
        /* A due send goes before the other events of this batch. */
        for (int i = 0; i < n; i++) {
            if ((uint32_t)(evs[i].data.u64 >> 32) != TAG_SCHED) continue;
            uint64_t v;
            if (read((int)(uint32_t)evs[i].data.u64, &v, sizeof v) < 0) { /* spurious */ }
            w->armed = -2;
            if (!atomic_load(&r->stop)) send_due(w);
            evs[i].data.u64 = TAG(TAG_HANDLED, 0);
        }
        for (int i = 0; i < n; i++) {
            uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint64_t v;
            switch (tag) {
            case TAG_SOCK:
                socket_ready(w, fd, evs[i].events, t_ready);
                break;
            case TAG_CURLT:
                if (read(fd, &v, sizeof v) < 0) { /* spurious */ }
                w->curl_armed = -1;
                if (w->curl_want >= 0 && now_mono_ns() >= w->curl_want) {
                    w->curl_want = -1;
                    socket_action(w, CURL_SOCKET_TIMEOUT, 0);
                } else if (w->curl_want >= 0) {
                    w->curl_armed = w->curl_want;
                    arm_abs(w->curl_fd, w->curl_armed);
                }
                break;
            case TAG_EVENT:
                drain_queue(w);
                drain_done(w);
                break;
            case TAG_TICK:
                if (read(fd, &v, sizeof v) < 0) { /* spurious */ }
                tick(w);
                break;
            default:            /* TAG_HANDLED: the send timer, served above */
                break;
            }
        }
        if (w->curl_due) socket_action(w, CURL_SOCKET_TIMEOUT, 0);
    }
    flush_log(w, 1);
    return NULL;
}

static int add_fd(worker *w, int fd, int tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG(tag, fd) };
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
}

worker *worker_new(run *r, int id, char *err, size_t errlen)
{
    worker *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->done_mu, NULL);
    w->r = r;
    w->id = id;
    w->q = &r->queues[id];
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->sched_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->curl_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->ep < 0 || w->sched_fd < 0 || w->curl_fd < 0 || w->tick_fd < 0 ||
        add_fd(w, w->sched_fd, TAG_SCHED) < 0 || add_fd(w, w->curl_fd, TAG_CURLT) < 0 ||
        add_fd(w, w->tick_fd, TAG_TICK) < 0 || add_fd(w, w->q->efd, TAG_EVENT) < 0) {
        errf(err, errlen, "worker %d: cannot set up epoll/timerfd: %s", id, strerror(errno));
        worker_free(w);
        return NULL;
    }
    w->multi = curl_multi_init();
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    if (r->o->max_connections > 0) {
        long per = (long)((r->o->max_connections + r->nworkers - 1) / r->nworkers);
        curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, per);
        curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per);
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, per);
    } else {
        /* Keep every connection for reuse (libcurl's default cache is small). */
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 100000L);
    }
    /* h2c with prior knowledge (--http2 on http://): libcurl 7.88 (Debian 12)
     * fails streams that share such a connection ("Error in the HTTP2
     * framing layer"; its own tool's --parallel does too), so each request
     * gets its own h2c connection (http_opts.c; docs/real-servers.md). */
    if (r->cl->opt.http.http2 && r->cl->opt.api_url && !strncmp(r->cl->opt.api_url, "http://", 7))
        curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    w->headers = xfer_headers(&r->cl->opt);
    w->peek = xmalloc(XFER_PEEK_BYTES);
    /* Chunk gaps past a request's first 60 or so go to a file in the run
     * directory, so that memory does not grow with the tokens of the
     * streams in flight (gaplist.h). In-process requests get their tokens
     * on an engine's thread, so theirs stay in memory. */
    if (!r->cl->ops->submit && r->o->out_dir) {
        char serr[512];
        w->gapstore = gapstore_open(r->o->out_dir, serr, sizeof serr);
        if (!w->gapstore) msg_warn("%s; they are kept in memory", serr);
    }
    w->loop.rx_exact = xfer_exact_wire(&r->cl->opt);
    return w;
}

void worker_free(worker *w)
{
    if (!w) return;
    while (w->inflight.first) {
        xfer *x = w->inflight.first;
        list_remove(&w->inflight, x, link);
        if (x->easy && w->multi) curl_multi_remove_handle(w->multi, x->easy);
        rq_free(x->q);
        xfer_free(x);
    }
    while (w->free_xfers.first) {
        xfer *x = w->free_xfers.first;
        list_remove(&w->free_xfers, x, link);
        xfer_free(x);
    }
    for (size_t i = 0; i < w->nheap; i++) rq_free(w->heap[i]);
    free(w->heap);
    for (size_t i = 0; i < w->nsess_buckets; i++) {
        for (sess *s = w->sessions[i], *n; s; s = n) {
            n = s->next;
            while (s->parked) {
                rq *q = s->parked;
                s->parked = q->next;
                rq_free(q);
            }
            sb_free(&s->reply);
            free(s->key);
            free(s);
        }
    }
    free(w->sessions);
    pthread_mutex_destroy(&w->done_mu);
    if (w->multi) curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    sb_free(&w->logbuf);
    free(w->peek);
    if (gapstore_write_errors(w->gapstore))
        msg_warn("worker %d: %ld writes of chunk gaps to %s failed (a full disk?); those gaps were "
                 "kept in memory, none lost", w->id, gapstore_write_errors(w->gapstore), w->r->o->out_dir);
    gapstore_close(w->gapstore);
    if (w->ep >= 0) close(w->ep);
    if (w->sched_fd >= 0) close(w->sched_fd);
    if (w->curl_fd >= 0) close(w->curl_fd);
    if (w->tick_fd >= 0) close(w->tick_fd);
    free(w);
}
