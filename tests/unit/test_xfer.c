/* test_xfer.c — outcomes of replay/xfer.c that the conformance transcripts
 * do not reach: an in-process engine's own abort, the caps on one
 * response (too_large), the gaps printed exactly as they were taken. */
#include "tests/unit/unit.h"
#include "replay/xfer.h"
#include "replay/replay_int.h"

#include <stdlib.h>
#include <string.h>

static void no_op_done(void *owner, xfer *x)
{
}

/* The set-up every test here shares: the client NAME, q holding a
 * one-line chat record, and an xfer for it under o. NULL when either
 * cannot be made. The caller frees x, q's record and *cl. */
static xfer *fixture(const char *name, const replay_opts *o, rq *q, client **cl)
{
    client_opts co = {0};
    char err[256];
    const char *line = "{\"t_us\":0,\"id\":\"e\",\"api\":\"chat\",\"input_tokens\":4,\"output_tokens\":3}";
    *cl = client_new(client_find(name, NULL), &co, err, sizeof err);
    if (!*cl || trace_rec_parse(&q->rec, line, strlen(line), 0, err, sizeof err) < 0) return NULL;
    return xfer_new(*cl, NULL, o);
}

/* An engine that ends a request with finish_reason "abort" on its own (not
 * asked to by a stall or an operator) failed it: class aborted, like a
 * server's abort over HTTP. */
TEST(xfer_engine_abort_is_class_aborted)
{
    replay_opts o = {0};
    rq q = {0};
    client *cl;
    xfer *x = fixture("gateway", &o, &q, &cl);
    REQUIRE(x);
    x->q = &q;
    x->t_send = x->t_first_byte = x->t_first_tok = x->t_last_tok = x->t_end = -1;
    x->prompt_tokens = x->usage_tokens = x->ct_last = -1;
    x->on_inproc_done = no_op_done;
    x->inproc = 1;
    x->sink.tokens(x->sink.user, 1, "a", 1);
    client_done d;
    client_done_clear(&d);
    d.finish_reason = "abort";
    x->sink.done(x->sink.user, &d);
    xfer_complete_inproc(x);
    strbuf b = {0};
    xfer_format(x, &b);
    CHECK_CONTAINS(b.buf, "\"class\":\"aborted\"");
    CHECK_CONTAINS(b.buf, "\"finish_reason\":\"abort\"");
    CHECK_CONTAINS(b.buf, "\"n\":1,\"events\":1");
    sb_free(&b);
    xfer_recycle(x);
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
}

#define CHUNK "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0," \
              "\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n"

/* Feeds `rounds` copies of CHUNK to a streamed 200 response under the caps
 * of o; returns the round at which xfer_response_data asked to stop (-1
 * never) and leaves the request's log line in out. */
static int feed_chunks(const replay_opts *o, int rounds, strbuf *out)
{
    rq q = {0};
    client *cl = NULL;
    int stopped = -1;
    xfer *x = fixture("gateway", o, &q, &cl);
    if (!cl) return -2;
    if (x) {
        if (xfer_start(x, &q, 0, 0) == 0) {
            x->t_send = 0;
            xfer_response_begin(x, 200, "text/event-stream", 1000);
            for (int i = 0; i < rounds && stopped < 0; i++)
                if (xfer_response_data(x, CHUNK, strlen(CHUNK), 2000 + i) < 0) stopped = i;
            x->ok = x->err == XERR_NONE;
        }
        xfer_format(x, out);
        xfer_recycle(x);
        xfer_free(x);
    }
    trace_rec_clear(&q.rec);
    client_free(cl);
    return stopped;
}

/* A response with more content events than --max-response-events fails
 * as too_large at the first event over the cap, keeping exactly the cap. */
TEST(xfer_too_many_events_is_too_large)
{
    replay_opts o = {0};
    o.max_response_events = 5;
    strbuf b = {0};
    CHECK_INT(feed_chunks(&o, 50, &b), 5);
    CHECK_CONTAINS(b.buf, "\"class\":\"too_large\"");
    CHECK_CONTAINS(b.buf, "more than 5 content events (--max-response-events)");
    CHECK_CONTAINS(b.buf, "\"events\":5,");
    sb_free(&b);
}

/* More body bytes than --max-response-bytes: too_large, whatever the
 * events carry; under both caps the stream goes on. */
TEST(xfer_too_many_bytes_is_too_large)
{
    replay_opts o = {0};
    o.max_response_bytes = 10 * (int64_t)strlen(CHUNK) + 1;
    strbuf b = {0};
    CHECK_INT(feed_chunks(&o, 50, &b), 10);
    CHECK_CONTAINS(b.buf, "\"class\":\"too_large\"");
    CHECK_CONTAINS(b.buf, "(--max-response-bytes) after 10 content events");
    sb_clear(&b);
    o.max_response_bytes = 0;
    o.max_response_events = 100;
    CHECK_INT(feed_chunks(&o, 50, &b), -1);
    CHECK_CONTAINS(b.buf, "\"events\":50,");
    sb_free(&b);
}

/* Response bytes are stamped with the time their socket was reported
 * readable, not the time their callback ran; bytes reached through another
 * socket's action, or outside any readiness, get the time of the call. */
TEST(xfer_rx_time_is_socket_readiness)
{
    replay_opts o = {0};
    rq q = {0};
    client *cl;
    xfer *x = fixture("vllm", &o, &q, &cl);
    REQUIRE(x);
    xfer_loop p = {0};
    p.rx_peeked = -1;
    int64_t now = now_mono_ns();
    x->loop = &p;
    x->t0 = now - 1000000000LL;
    x->rx_delay_max = x->rx_last = -1;
    x->sock = 7;
    p.rx_sock = 7;
    p.rx_ready = now - 500000;          /* ready 500 µs before the callback */
    CHECK_INT(xfer_rx_time(x, 10), p.rx_ready - x->t0);
    CHECK(x->rx_delay_max >= 500000);
    x->sock = 8;                        /* another socket's action reached it */
    CHECK(xfer_rx_time(x, 10) >= now - x->t0);
    x->sock = 7;
    p.rx_ready = -1;                    /* no readiness known: the call's time */
    CHECK(xfer_rx_time(x, 10) >= now - x->t0);
    p.rx_ready = now_mono_ns() + 1000000000LL;   /* never in the future */
    CHECK(xfer_rx_time(x, 10) < p.rx_ready - x->t0);
    /* A kernel stamp read 1 ms before the callback: bytes may have arrived
     * after the peek (read in the same action), so the call's time is used,
     * never a stamp that could precede them. */
    p.rx_ready = now - 2000000;
    p.rx_peek_len = 4096;
    p.rx_peeked = now_mono_ns() - 1000000;
    int64_t before = now_mono_ns() - x->t0;
    CHECK(xfer_rx_time(x, 10) >= before);
    p.rx_peeked = now_mono_ns();                 /* read at once, but older than the */
    CHECK(xfer_rx_time(x, 10) >= before);            /* bytes before it: never goes back */
    x->rx_last = -1;
    CHECK_INT(xfer_rx_time(x, 10), p.rx_ready - x->t0);
    /* Bytes beyond those the peek saw arrived after it: the call's time. */
    x->rx_last = -1;
    p.rx_peeked = now_mono_ns();
    p.rx_handed = 4000;
    before = now_mono_ns() - x->t0;
    CHECK(xfer_rx_time(x, 100) >= before);
    /* Plain HTTP/1.x: the count alone bounds the stamp, so a peek 1 ms old
     * (the worker preempted before libcurl's read) still stamps the bytes
     * it saw, and only those. */
    p.rx_exact = 1;
    x->rx_last = -1;
    p.rx_handed = 0;
    p.rx_peeked = now_mono_ns() - 1000000;
    CHECK_INT(xfer_rx_time(x, 4000), p.rx_ready - x->t0);
    before = now_mono_ns() - x->t0;
    CHECK(xfer_rx_time(x, 97) >= before);
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
}

/* The byte count is exact only for plain HTTP/1.x: not over TLS, HTTP/2
 * or a TLS proxy that libcurl takes from the environment. */
TEST(xfer_exact_wire_only_for_plain_http1)
{
    client_opts o = {0};
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    o.api_url = "http://127.0.0.1:8000/v1";
    CHECK_INT(xfer_exact_wire(&o), 1);
    o.http.http2 = 1;
    CHECK_INT(xfer_exact_wire(&o), 0);
    o.http.http2 = 0;
    o.api_url = "HTTPS://127.0.0.1:8000/v1";
    CHECK_INT(xfer_exact_wire(&o), 0);
    o.api_url = NULL;
    o.root_url = "http://127.0.0.1:23333";
    CHECK_INT(xfer_exact_wire(&o), 1);
    setenv("http_proxy", "http://127.0.0.1:3128", 1);
    CHECK_INT(xfer_exact_wire(&o), 1);
    setenv("http_proxy", "https://127.0.0.1:3128", 1);
    CHECK_INT(xfer_exact_wire(&o), 0);
    unsetenv("http_proxy");
    setenv("ALL_PROXY", "HTTPS://127.0.0.1:3128", 1);
    CHECK_INT(xfer_exact_wire(&o), 0);
    unsetenv("ALL_PROXY");
}

#define USAGE_CHUNK "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0," \
                    "\"delta\":{\"content\":\"x\"},\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":4," \
                    "\"completion_tokens\":%d}}\n\n"

/* The log line's gaps_ns and gap_tokens are the times and counts of the
 * events to the nanosecond, however long (over 2^32 ns) or short (0) a
 * gap, across many chunks of the compact store; and again after the xfer
 * is recycled for a next request. */
TEST(xfer_gaps_printed_exactly)
{
    replay_opts o = {0};
    rq q = {0};
    client *cl;
    xfer *x = fixture("gateway", &o, &q, &cl);
    REQUIRE(x);
    for (int round = 0; round < 2; round++) {
        REQUIRE(xfer_start(x, &q, 0, 0) == 0);
        x->t_send = 0;
        xfer_response_begin(x, 200, "text/event-stream", 1000);
        static const int64_t gaps[] = { 5, 4294967303LL, 0, 25000000, 24500001, 1 };
        static const int tokens[] = { 1, 3, 1, 1, 2, 1 };
        strbuf want = {0}, ev = {0};
        int64_t t = 1000;
        int ct = 1;
        sb_printf(&ev, USAGE_CHUNK, ct);
        CHECK_INT(xfer_response_data(x, ev.buf, ev.len, t), 0);
        sb_adds(&want, "\"gaps_ns\":[");
        for (int rep = 0; rep < 300; rep++)
            for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
                t += gaps[i];
                ct += tokens[i];
                sb_clear(&ev);
                sb_printf(&ev, USAGE_CHUNK, ct);
                CHECK_INT(xfer_response_data(x, ev.buf, ev.len, t), 0);
                sb_printf(&want, rep || i ? ",%lld" : "%lld", (long long)gaps[i]);
            }
        sb_adds(&want, "],\"gap_tokens\":[");
        for (int rep = 0; rep < 300; rep++)
            for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
                sb_printf(&want, rep || i ? ",%d" : "%d", tokens[i]);
        sb_adds(&want, "],\"itl_basis\":\"tokens\"");
        x->ok = x->err == XERR_NONE;
        strbuf b = {0};
        xfer_format(x, &b);
        CHECK_CONTAINS(b.buf, want.buf);
        CHECK_CONTAINS(b.buf, "\"events\":1801,");
        sb_free(&b);
        sb_free(&want);
        sb_free(&ev);
        xfer_recycle(x);
    }
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
}
