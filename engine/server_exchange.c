/* server_exchange.c — the life of one generation request between the HTTP
 * side and the engine: submission, the engine's callbacks (engine thread),
 * the streamed response's reader (HTTP thread), suspend/resume, injected
 * faults, and the ground-truth line written when the last reference goes.
 * See server_int.h for the reference and locking rules. */
#include "engine/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const fault_names[] = { "none", "fail", "reset", "stall", "error_in_stream",
                                            "abort" };

static const mhd_stream_ops stream_ops;   /* the streamed response's reader, below */

xch *server_xch_new(struct server *s, struct MHD_Connection *c)
{
    xch *x = xcalloc(1, sizeof *x);
    x->srv = s;
    x->st = (mhd_stream){ .conn = c, .ops = &stream_ops, .owner = x };
    atomic_store(&x->refs, 1);
    x->t_arrival = now_mono_ns();
    x->session_id = -1;
    x->n = 1;
    x->created = (int64_t)time(NULL);
    x->seq = atomic_fetch_add(&s->nrequests, 1);
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_lock(&s->mu);
    list_push_front(&s->live, x, live);
    s->nlive++;
    pthread_mutex_unlock(&s->mu);
    return x;
}

void server_xch_ref(xch *x)
{
    atomic_fetch_add(&x->refs, 1);
}

static void add_times(strbuf *b, const char *name, const int64_t *v, size_t n)
{
    sb_printf(b, ",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) sb_printf(b, i ? ",%lld" : "%lld", (long long)v[i]);
    sb_addc(b, ']');
}

static void add_t(strbuf *b, const char *name, int64_t t)
{
    if (t) sb_printf(b, ",\"%s\":%lld", name, (long long)t);
    else sb_printf(b, ",\"%s\":null", name);
}

static const char *final_outcome(const xch *x)
{
    if (x->outcome) return x->outcome;
    if (x->fault_fired) return fault_names[x->fault];
    if (x->finish_reason && !strcmp(x->finish_reason, "abort"))
        return x->srv->shut ? "shutdown" : "client_closed";
    if (x->term != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        return x->srv->shut ? "shutdown" : "client_closed";
    return "ok";
}

/* One ground-truth line (docs/server.md, "Ground truth"). */
static void write_ground_truth(xch *x)
{
    struct server *s = x->srv;
    strbuf b = {0};
    sb_printf(&b, "{\"type\":\"request\",\"seq\":%llu,\"id\":", (unsigned long long)x->seq);
    if (x->id[0]) sb_json_str(&b, x->id, strlen(x->id)); else sb_adds(&b, "null");
    sb_adds(&b, ",\"client_request_id\":");
    if (x->client_id[0]) sb_json_str(&b, x->client_id, strlen(x->client_id));
    else sb_adds(&b, "null");
    if (x->session_id >= 0) sb_printf(&b, ",\"session_id\":%lld", (long long)x->session_id);
    else sb_adds(&b, ",\"session_id\":null");
    sb_printf(&b, ",\"api\":\"%s\",\"endpoint\":\"%s\",\"stream\":%s,\"status\":%d,"
              "\"outcome\":\"%s\",\"fault\":\"%s\"", server_api_name(s->cfg.api),
              x->path ? x->path : "", x->stream ? "true" : "false", x->status,
              final_outcome(x), fault_names[x->fault]);
    if (x->fault == FAULT_NONE || x->fault == FAULT_FAIL) sb_adds(&b, ",\"fault_after_tokens\":null");
    else sb_printf(&b, ",\"fault_after_tokens\":%lld", (long long)x->fault_after);
    const sim_engine_result *r = &x->res;
    add_t(&b, "t_arrival_ns", x->t_arrival);
    add_t(&b, "t_request_ns", x->t_request);
    add_t(&b, "t_queued_ns", r->t_queued_ns);
    add_t(&b, "t_scheduled_ns", r->t_scheduled_ns);
    add_t(&b, "t_first_token_ns", r->t_first_token_ns);
    add_t(&b, "t_first_write_ns", x->t_first_write);
    add_t(&b, "t_first_token_write_ns", x->nev_written ? x->ev_write[0] : 0);
    add_t(&b, "t_last_token_write_ns", x->nev_written ? x->ev_write[x->nev_written - 1] : 0);
    add_t(&b, "t_end_ns", x->t_end);
    int64_t sent = 0;                        /* tokens in events that reached the connection */
    for (size_t i = 0; i < x->nev_written; i++) sent += x->ev_ntok[i];
    sb_printf(&b, ",\"prompt_tokens\":%lld,\"cached_tokens\":%lld,\"completion_tokens\":%lld,"
              "\"sent_tokens\":%lld,\"finish_reason\":", (long long)r->prompt_tokens,
              (long long)r->cached_tokens, (long long)r->completion_tokens, (long long)sent);
    if (x->finish_reason) sb_printf(&b, "\"%s\"", x->finish_reason); else sb_adds(&b, "null");
    sb_printf(&b, ",\"queue_ns\":%lld,\"prefill_ns\":%lld,\"decode_ns\":%lld,\"events\":%zu",
              (long long)r->queue_ns, (long long)r->prefill_ns, (long long)r->decode_ns,
              x->nev_written);
    /* Only events whose bytes were sent: tokens, schedule, emission, hand-off, send. */
    sb_adds(&b, ",\"event_tokens\":[");
    for (size_t i = 0; i < x->nev_written; i++) sb_printf(&b, i ? ",%d" : "%d", x->ev_ntok[i]);
    sb_addc(&b, ']');
    add_times(&b, "event_sched_ns", x->ev_sched, x->nev_written);
    add_times(&b, "event_emit_ns", x->ev_emit, x->nev_written);
    add_times(&b, "event_handed_ns", x->ev_handed, x->nev_written);
    add_times(&b, "event_write_ns", x->ev_write, x->nev_written);
    sb_addc(&b, '}');
    ground_truth_write(s->gt, b.buf, b.len);
    sb_free(&b);
}

void server_xch_unref(xch *x)
{
    if (atomic_fetch_sub(&x->refs, 1) != 1) return;
    if (x->srv->gt && (x->ep == EP_CHAT || x->ep == EP_COMPLETIONS || x->ep == EP_GENERATE))
        write_ground_truth(x);
    pthread_mutex_destroy(&x->mu);
    sb_free(&x->body);
    sb_free(&x->out);
    sb_free(&x->text);
    sb_free(&x->ids);
    for (int i = 0; x->ch && i < x->n; i++) sb_free(&x->ch[i].text);
    free(x->ch);
    free(x->ev_sched);
    free(x->ev_emit);
    free(x->ev_handed);
    free(x->ev_write);
    free(x->ev_ntok);
    free(x->ev_end);
    free(x);
}

void server_xch_choice_enter(xch *x, int i)
{
    xchoice *c = &x->ch[i];
    x->cur = i;
    x->entered = 1;
    x->text = c->text;
    c->text = (strbuf){0};
    x->finish_reason = c->finish_reason;
    x->tool_started = c->tool_started;
    x->tool_announced = c->tool_announced;
    x->choice_tokens = c->tokens;
}

void server_xch_choice_leave(xch *x)
{
    xchoice *c = &x->ch[x->cur];
    if (!x->entered) return;
    x->entered = 0;
    c->text = x->text;
    x->text = (strbuf){0};
    c->finish_reason = x->finish_reason;    /* x keeps it: the last one seen */
    c->tool_started = x->tool_started;
    c->tool_announced = x->tool_announced;
    c->tokens = x->choice_tokens;
}

void server_xch_each_choice(xch *x, void (*fn)(xch *x, strbuf *out), strbuf *out)
{
    int cur = x->cur, was = x->entered;
    server_xch_choice_leave(x);
    for (int i = 0; i < x->n; i++) {
        server_xch_choice_enter(x, i);
        fn(x, out);
        server_xch_choice_leave(x);
    }
    if (was) server_xch_choice_enter(x, cur);
}

void server_xch_draw_fault(xch *x)
{
    const server_config *c = &x->srv->cfg;
    rng r;
    rng_seed2(&r, c->seed ^ 0xfa0171ULL, x->seq);
    double u = rng_uniform(&r);
    double p[5] = { c->fail_rate, c->reset_rate, c->stall_rate, c->error_in_stream_rate,
                    c->abort_rate };
    double acc = 0;
    x->fault = FAULT_NONE;
    for (int i = 0; i < 5; i++) {
        acc += p[i];
        if (p[i] > 0 && u < acc) {
            x->fault = (fault)(FAULT_FAIL + i);
            break;
        }
    }
    x->fault_after = rng_range(&r, 1, 8);
}

static void record_event(xch *x, const sim_engine_tokens *t, uint64_t end)
{
    if (x->nev == x->capev) {
        x->capev = x->capev ? x->capev * 2 : 16;
        x->ev_sched = xrealloc(x->ev_sched, x->capev * sizeof *x->ev_sched);
        x->ev_emit = xrealloc(x->ev_emit, x->capev * sizeof *x->ev_emit);
        x->ev_handed = xrealloc(x->ev_handed, x->capev * sizeof *x->ev_handed);
        x->ev_write = xrealloc(x->ev_write, x->capev * sizeof *x->ev_write);
        x->ev_ntok = xrealloc(x->ev_ntok, x->capev * sizeof *x->ev_ntok);
        x->ev_end = xrealloc(x->ev_end, x->capev * sizeof *x->ev_end);
    }
    x->ev_sched[x->nev] = t->t_sched_ns;
    x->ev_emit[x->nev] = t->t_emit_ns;
    x->ev_handed[x->nev] = x->ev_write[x->nev] = 0;
    x->ev_ntok[x->nev] = t->n;
    x->ev_end[x->nev] = end;
    x->nev++;
}


/* An unfinished choice ends with "abort" (in the stream, its last chunk). */
static void abort_choice(xch *x, strbuf *out)
{
    if (x->finish_reason) return;
    x->finish_reason = "abort";
    if (x->stream) server_openai_abort(x, out);
}

/* The fault fires in a stream (x->mu held): the connection breaks, goes
 * quiet, or gets an error event; the engine request is dropped. */
static void fire_fault(xch *x)
{
    x->fault_fired = 1;
    x->cancel_wanted = !x->engine_done;
    switch (x->fault) {
    case FAULT_RESET:
        x->reset = 1;
        break;
    case FAULT_STALL:
        x->stalled = 1;
        x->stall_deadline = now_mono_ns() + x->srv->cfg.stall_ns;
        break;
    case FAULT_ERROR_IN_STREAM: {
        static const char m[] = "Simulated error in the stream (fault injection: --error-in-stream-rate)";
        server_openai_error_event(x, m, &x->out);
        x->finished = 1;
        break;
    }
    case FAULT_ABORT:
        /* The engine aborts the request: a streamed response ends the way
         * the real server ends it, a non-streamed one answers what it has. */
        if (x->ep == EP_GENERATE) {
            x->finish_reason = "abort";
            if (x->stream) server_lmdeploy_abort(x, &x->out);
        } else {
            server_xch_each_choice(x, abort_choice, &x->out);
        }
        x->finish_reason = "abort";
        if (x->stream) {
            if (x->ep == EP_GENERATE) server_lmdeploy_end(x, &x->out);
            else server_openai_end(x, &x->out);
            x->finished = 1;
        }
        break;
    default:
        break;
    }
}

/* Cancels the engine requests of every choice still running, when asked. */
static void cancel_if_wanted(xch *x)
{
    int64_t h[64];
    int nh = 0;
    pthread_mutex_lock(&x->mu);
    if (x->cancel_wanted) {
        for (int i = 0; i < x->n && nh < 64; i++)
            if (x->ch && x->ch[i].handle && !x->ch[i].done) h[nh++] = x->ch[i].handle;
        x->cancel_wanted = 0;
    }
    pthread_mutex_unlock(&x->mu);
    for (int i = 0; i < nh; i++) sim_engine_cancel(x->srv->engine, h[i]);
}

static void on_tokens(void *u, const sim_engine_tokens *t)
{
    xchoice *c = u;
    xch *x = c->x;
    pthread_mutex_lock(&x->mu);
    if (x->st.conn_done || x->kill || x->fault_fired) {
        pthread_mutex_unlock(&x->mu);
        return;
    }
    server_xch_choice_enter(x, (int)(c - x->ch));
    if (x->fault == FAULT_ABORT && (x->tokens_sent >= x->fault_after || t->last)) {
        x->res.prompt_tokens = t->prompt_tokens;
        fire_fault(x);                       /* in place of this event's tokens */
        server_xch_choice_leave(x);
        mhd_stream_resume(&x->st);
        pthread_mutex_unlock(&x->mu);
        cancel_if_wanted(x);
        return;
    }
    if (t->last) x->finish_reason = t->finish_reason;
    if (!x->stream) {
        sb_add(&x->text, t->text, t->text_len);
        if (x->ep == EP_GENERATE)
            for (int i = 0; i < t->n; i++)
                sb_printf(&x->ids, x->ids.len ? ",%u" : "%u", t->ids[i]);
        record_event(x, t, 0);
        x->tokens_sent += t->n;
        x->choice_tokens += t->n;
        server_xch_choice_leave(x);
        pthread_mutex_unlock(&x->mu);
        return;
    }
    x->tokens_sent += t->n;                  /* counted before a last chunk reports usage */
    x->choice_tokens += t->n;
    if (x->ep == EP_GENERATE) server_lmdeploy_tokens(x, t, &x->out);
    else server_openai_tokens(x, t, &x->out);
    record_event(x, t, x->out_base + x->out.len);
    if (x->fault != FAULT_NONE && x->fault != FAULT_ABORT && x->tokens_sent >= x->fault_after)
        fire_fault(x);
    server_xch_choice_leave(x);
    mhd_stream_resume(&x->st);
    pthread_mutex_unlock(&x->mu);
    cancel_if_wanted(x);
}

int server_session_claim(xch *x)
{
    struct server *s = x->srv;
    int busy = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsessions && !busy; i++) busy = s->sessions[i] == x->session_id;
    if (!busy) {
        if (s->nsessions == s->capsessions) {
            s->capsessions = s->capsessions ? s->capsessions * 2 : 16;
            s->sessions = xrealloc(s->sessions, s->capsessions * sizeof *s->sessions);
        }
        s->sessions[s->nsessions++] = x->session_id;
        x->session_held = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return busy ? -1 : 0;
}

void server_session_release(xch *x)
{
    struct server *s = x->srv;
    if (!x->session_held) return;
    x->session_held = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsessions; i++)
        if (s->sessions[i] == x->session_id) {
            s->sessions[i] = s->sessions[--s->nsessions];
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

/* Adds a choice's engine accounting to the request's (x->mu held). */
static void merge_result(xch *x, const sim_engine_result *res)
{
    if (x->ndone == 1) {
        x->res = *res;
        return;
    }
    sim_engine_result *r = &x->res;
    r->completion_tokens += res->completion_tokens;
    r->preemptions += res->preemptions;
    if (res->t_first_token_ns && (!r->t_first_token_ns || res->t_first_token_ns < r->t_first_token_ns))
        r->t_first_token_ns = res->t_first_token_ns;
    if (res->t_finished_ns > r->t_finished_ns) r->t_finished_ns = res->t_finished_ns;
    if (!strcmp(res->finish_reason, "abort")) r->finish_reason = res->finish_reason;
}

static void on_done(void *u, const sim_engine_result *res)
{
    xchoice *c = u;
    xch *x = c->x;
    pthread_mutex_lock(&x->mu);
    c->done = 1;
    x->ndone++;
    merge_result(x, res);
    if (x->ndone < x->n) {                   /* the others are still running */
        pthread_mutex_unlock(&x->mu);
        server_xch_unref(x);
        return;
    }
    pthread_mutex_unlock(&x->mu);
    server_session_release(x);               /* before the client can see the end */
    pthread_mutex_lock(&x->mu);
    res = &x->res;
    x->engine_done = 1;
    x->cancel_wanted = 0;
    if (!x->finish_reason) x->finish_reason = res->finish_reason;
    int aborted = !strcmp(res->finish_reason, "abort");
    if (!x->st.conn_done && !x->kill && !x->fault_fired) {
        if (aborted) {
            x->kill = 1;                     /* shutdown (or the client left first) */
            mhd_stream_resume(&x->st);
        } else if (x->stream) {
            if (x->fault != FAULT_NONE && x->fault != FAULT_ABORT)
                fire_fault(x);               /* output shorter than fault_after */
            if (!x->fault_fired) {
                if (x->ep == EP_GENERATE) server_lmdeploy_end(x, &x->out);
                else server_openai_end(x, &x->out);
                x->finished = 1;
            }
            mhd_stream_resume(&x->st);
        } else if (x->fault == FAULT_STALL) {
            x->fault_fired = 1;              /* never answer; the tick closes it */
            x->stalled = 1;
            x->stall_deadline = now_mono_ns() + x->srv->cfg.stall_ns;
        } else {
            mhd_stream_resume(&x->st);
        }
    } else if (x->fault_fired && x->fault == FAULT_ABORT && !x->stream && !x->st.conn_done && !x->kill) {
        mhd_stream_resume(&x->st);           /* answer with the output so far */
    }
    sim_engine_result done = x->res;
    pthread_mutex_unlock(&x->mu);
    server_metrics_request(x->srv->metrics, x, &done);
    server_xch_unref(x);
}

/* Ends the connection now. Returning an error to libmicrohttpd alone marks
 * it closed but leaves the socket open until its event loop next wakes,
 * which may be never on an idle server; shutting the socket down both tells
 * the client at once and wakes the loop. */
static void break_connection(xch *x)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(x->st.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) shutdown(ci->connect_fd, SHUT_RDWR);
}

/* What was handed to libmicrohttpd and not yet known sent is sent at now:
 * stamps those events and the first body bytes. HTTP thread.
 *
 * libmicrohttpd (0.9.75, checked in its source) asks a chunked response's
 * reader for more only once the write buffer that held the previous
 * chunk has been given to send() whole: MHD_connection_handle_write sends,
 * check_write_done then moves the connection to CHUNKED_BODY_UNREADY, and
 * call_handlers runs MHD_connection_handle_idle at once, which calls the
 * reader (try_ready_chunked_body asserts the buffer is empty). So the
 * entry of reader call k+1 is right after the send of call k's bytes
 * returned, the bytes are on the wire (loopback) or in the socket's send
 * queue, pushed (no MSG_MORE, no cork); connections in between do not
 * delay it. A response without chunking (HTTP/1.0) asks for more from the
 * write handler once the previous bytes are sent, up to one event-loop
 * pass later: the stamp is then an upper bound. A whole response is sent
 * when the request completes (server_xch_completed). */
static void mark_sent(xch *x, int64_t now)
{
    if (!x->handed_pending) return;
    x->handed_pending = 0;
    if (!x->t_first_write) x->t_first_write = now;
    while (x->nev_written < x->nev_handed) x->ev_write[x->nev_written++] = now;
}

/* The streamed response's body: hands out what the engine produced, or
 * suspends the connection until there is more. Its entry time is when the
 * previous call's bytes were sent (mark_sent). */
static ssize_t reader(void *owner, uint64_t pos, char *buf, size_t max)
{
    xch *x = owner;
    int64_t now = now_mono_ns();
    pthread_mutex_lock(&x->mu);
    mark_sent(x, now);
    if (x->kill) {
        pthread_mutex_unlock(&x->mu);
        break_connection(x);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t avail = x->out.len - x->out_off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, x->out.buf + x->out_off, n);
        x->out_off += n;
        x->handed_pending = 1;
        uint64_t done = x->out_base + x->out_off;
        while (x->nev_handed < x->nev && x->ev_end[x->nev_handed] <= done)
            x->ev_handed[x->nev_handed++] = now;
        if (x->out_off == x->out.len) {
            x->out_base += x->out.len;
            x->out.len = x->out_off = 0;
        }
        pthread_mutex_unlock(&x->mu);
        return (ssize_t)n;
    }
    if (x->reset) {
        pthread_mutex_unlock(&x->mu);
        break_connection(x);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (x->finished) {
        pthread_mutex_unlock(&x->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    mhd_stream_suspend(&x->st);
    pthread_mutex_unlock(&x->mu);
    return 0;
}

static void stream_ref(void *owner)
{
    server_xch_ref(owner);
}

static void stream_unref(void *owner)
{
    server_xch_unref(owner);
}

static const mhd_stream_ops stream_ops = { reader, stream_ref, stream_unref };

/* Submits one engine request per choice (a request seed s gives choice i
 * the seed s + i). Returns 0, or -1 with err when the first one is refused;
 * later refusals (a shutdown) end those choices as aborted. */
static int submit_choices(xch *x, sim_engine_request *r, char *err, size_t errlen)
{
    x->ch = xcalloc((size_t)x->n, sizeof *x->ch);
    uint64_t seed = r->seed;
    r->on_tokens = on_tokens;
    r->on_done = on_done;
    for (int i = 0; i < x->n; i++) {
        xchoice *c = &x->ch[i];
        c->x = x;
        r->user = c;
        r->seed = seed + (uint64_t)i;
        server_xch_ref(x);                   /* the engine's, one per choice */
        int64_t h = sim_engine_submit(x->srv->engine, r, err, errlen);
        if (h < 0) {
            atomic_fetch_sub(&x->refs, 1);   /* no callback will come */
            if (i == 0) return -1;
            pthread_mutex_lock(&x->mu);
            x->n = i;                        /* the accepted ones end as aborted */
            x->cancel_wanted = 1;
            pthread_mutex_unlock(&x->mu);
            return 0;
        }
        pthread_mutex_lock(&x->mu);
        c->handle = h;
        pthread_mutex_unlock(&x->mu);
    }
    return 0;
}

enum MHD_Result server_xch_start(xch *x, sim_engine_request *r)
{
    struct server *s = x->srv;
    char err[512];
    if (s->cfg.api == SERVER_API_LMDEPLOY && server_lmdeploy_fit(x, r, err, sizeof err))
        return server_respond_error(x, 400, err, NULL);
    if (s->cfg.api == SERVER_API_LMDEPLOY && x->session_id != -1 && server_session_claim(x))
        return server_lmdeploy_session_busy(x);
    int rc = submit_choices(x, r, err, sizeof err);
    if (rc) {
        server_session_release(x);
        if (s->shut) return server_respond_error(x, 503, "The server is shutting down", NULL);
        return server_respond_error(x, 400, err, NULL);
    }
    cancel_if_wanted(x);
    if (!x->stream) {
        x->state = XS_WAITING;
        pthread_mutex_lock(&x->mu);
        if (!x->engine_done && !x->kill) {
            mhd_stream_suspend(&x->st);
            pthread_mutex_unlock(&x->mu);
            return MHD_YES;
        }
        pthread_mutex_unlock(&x->mu);
        return server_xch_resumed(x);
    }
    struct MHD_Response *resp = mhd_stream_response(&x->st, MHD_SIZE_UNKNOWN);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (x->client_id[0]) MHD_add_response_header(resp, "X-Request-Id", x->client_id);
    x->status = 200;
    x->state = XS_RESPONDED;
    enum MHD_Result ret = MHD_queue_response(x->st.conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result server_xch_resumed(xch *x)
{
    pthread_mutex_lock(&x->mu);
    int kill = x->kill, done = x->engine_done;
    if (!kill && !done) {                    /* not ready: wait again */
        mhd_stream_suspend(&x->st);
        pthread_mutex_unlock(&x->mu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&x->mu);
    if (kill) {
        break_connection(x);
        return MHD_NO;
    }
    if (x->fault == FAULT_RESET) {
        x->fault_fired = 1;
        break_connection(x);
        return MHD_NO;
    }
    if (x->fault == FAULT_ERROR_IN_STREAM) {
        x->fault_fired = 1;
        x->outcome = "error_in_stream";
        return server_respond_error(x, 500, "Simulated error during generation (fault "
                                    "injection: --error-in-stream-rate)", NULL);
    }
    strbuf b = {0};
    if (x->ep == EP_GENERATE) {
        server_xch_choice_enter(x, 0);
        server_lmdeploy_body(x, &b);
        server_xch_choice_leave(x);
    } else {
        server_openai_body(x, &b);
    }
    enum MHD_Result ret = server_respond(x, 200, "application/json", b.buf, b.len);
    sb_free(&b);
    int64_t now = now_mono_ns();
    pthread_mutex_lock(&x->mu);
    for (size_t i = 0; i < x->nev; i++) x->ev_handed[i] = now;
    x->nev_handed = x->nev;                  /* sent when the request completes */
    pthread_mutex_unlock(&x->mu);
    return ret;
}

void server_xch_completed(xch *x, enum MHD_RequestTerminationCode code)
{
    struct server *s = x->srv;
    pthread_mutex_lock(&x->mu);
    x->st.conn_done = 1;
    x->t_end = now_mono_ns();
    x->term = (int)code;
    /* Complete: libmicrohttpd reports it from MHD_connection_handle_idle
     * right after the send of the response's last bytes. */
    if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK) mark_sent(x, x->t_end);
    x->cancel_wanted = !x->engine_done;
    pthread_mutex_unlock(&x->mu);
    cancel_if_wanted(x);
    pthread_mutex_lock(&s->mu);
    list_remove(&s->live, x, live);
    if (--s->nlive == 0) pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
    server_xch_unref(x);
}

void server_xch_kill(xch *x)
{
    pthread_mutex_lock(&x->mu);
    x->kill = 1;
    mhd_stream_resume(&x->st);
    pthread_mutex_unlock(&x->mu);
}
