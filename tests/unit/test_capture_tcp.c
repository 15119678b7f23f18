/* test_capture_tcp.c — the packet path's hard cases, with hand-built
 * frames fed through capture_core: ordering, retransmission, overlap,
 * sequence wraparound, loss, a start in mid-connection, connection ends,
 * memory caps, link types and IPv6. */
#include "tests/unit/test_capture.h"
#include "tests/unit/unit.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <pcap/dlt.h>

/* One request/response exchange, in order, on an open connection. */
static void exchange(tcap *t, tconn *c, const char *content, int events, size_t mss)
{
    char *req = treq_chat(content, NULL);
    char *resp = tresp_sse(events, 7);
    tconn_send(t, c, 1, req, strlen(req), mss);
    tconn_send(t, c, 0, resp, strlen(resp), mss);
    free(req);
    free(resp);
}

static void check_ok(const cJSON *r, const char *content, int events)
{
    REQUIRE(r);
    CHECK_STR(cJSON_GetObjectItem(r, "api")->valuestring, "chat");
    CHECK_STR(trec_content(r), content);
    CHECK_INT(trec_orig_num(r, "status"), 200);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "orig"), "ok")));
    CHECK_INT(trec_orig_num(r, "events"), events);
    CHECK_INT(trec_orig_num(r, "output_tokens"), events);
    CHECK_INT(trec_orig_num(r, "prompt_tokens"), 7);
    CHECK(trec_orig_str(r, "incomplete") == NULL);
}

TEST(capture_in_order_keepalive)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 1000, 5000);
    tconn_open(&t, &c);
    exchange(&t, &c, "first question", 5, 0);
    exchange(&t, &c, "second question", 3, 0);
    tconn_close(&t, &c);
    tcap_finish(&t);
    CHECK_INT(t.bad, 0);
    REQUIRE(t.n == 2);
    check_ok(t.recs[0], "first question", 5);
    check_ok(t.recs[1], "second question", 3);
    CHECK_INT(cJSON_GetObjectItem(t.recs[0], "t_us")->valuedouble, 0);
    CHECK(cJSON_GetObjectItem(t.recs[1], "t_us")->valuedouble > 0);
    CHECK(trec_orig_num(t.recs[0], "ttft_us") >= 0);
    CHECK(trec_orig_num(t.recs[0], "e2e_us") >= trec_orig_num(t.recs[0], "ttft_us"));
    CHECK_INT(cJSON_GetObjectItem(t.recs[0], "output_tokens")->valuedouble, 5);
    tcap_close(&t);
}

/* The response's segments arrive in reverse order: same record. */
TEST(capture_reordered_segments)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 77, 99);
    tconn_open(&t, &c);
    char *req = treq_chat("reorder me", NULL);
    char *resp = tresp_sse(6, 7);
    tconn_send(&t, &c, 1, req, strlen(req), 16);
    size_t n = strlen(resp), mss = 40;
    uint32_t base = c.sseq;
    size_t nseg = (n + mss - 1) / mss;
    for (size_t i = nseg; i-- > 0;) {            /* last segment first */
        size_t off = i * mss, k = n - off < mss ? n - off : mss;
        tconn_seg(&t, &c, 0, base + (uint32_t)off, PKT_ACK, resp + off, k);
    }
    c.sseq = base + (uint32_t)n;
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    check_ok(t.recs[0], "reorder me", 6);
    CHECK(capture_core_tcp_stats(t.core)->ooo_segments >= 5);
    CHECK_INT(capture_core_tcp_stats(t.core)->gaps[TCP_GAP_LOSS], 0);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* Every segment twice, and some ranges three times: same record, counted. */
TEST(capture_retransmissions)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 5, 6);
    tconn_open(&t, &c);
    char *req = treq_chat("retransmitted", NULL);
    size_t n = strlen(req);
    for (size_t off = 0; off < n; off += 30) {
        size_t k = n - off < 30 ? n - off : 30;
        tconn_seg(&t, &c, 1, c.cseq + (uint32_t)off, PKT_ACK, req + off, k);
        tconn_seg(&t, &c, 1, c.cseq + (uint32_t)off, PKT_ACK, req + off, k);
    }
    tconn_seg(&t, &c, 1, c.cseq, PKT_ACK, req, n);   /* the whole request again */
    c.cseq += (uint32_t)n;
    char *resp = tresp_sse(2, 7);
    tconn_send(&t, &c, 0, resp, strlen(resp), 50);
    const tcp_reasm_stats *ts = capture_core_tcp_stats(t.core);
    CHECK(ts->retrans_segments >= 1 + n / 30);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    check_ok(t.recs[0], "retransmitted", 2);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* Overlapping copies with different bytes: the first copy wins, whether
 * it was already handed on or still queued. */
TEST(capture_overlap_first_copy_wins)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 300, 400);
    tconn_open(&t, &c);
    char *req = treq_chat("aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd", NULL);
    char *fake = treq_chat("AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDD", NULL);
    size_t n = strlen(req);
    REQUIRE(strlen(fake) == n);
    const char *body = strstr(req, "aaaa");
    size_t b = (size_t)(body - req);
    uint32_t s = c.cseq;
    /* delivered part: send up to the middle of the a's, then a fake copy overlapping it */
    tconn_seg(&t, &c, 1, s, PKT_ACK, req, b + 5);
    tconn_seg(&t, &c, 1, s + (uint32_t)b, PKT_ACK, fake + b, 8);
    /* queued part: c's first (ahead of a hole), then a fake covering b's..d's */
    tconn_seg(&t, &c, 1, s + (uint32_t)b + 20, PKT_ACK, req + b + 20, 10);
    tconn_seg(&t, &c, 1, s + (uint32_t)b + 15, PKT_ACK, fake + b + 15, 25);
    /* the hole, then the rest */
    tconn_seg(&t, &c, 1, s + (uint32_t)b + 5, PKT_ACK, req + b + 5, 10);
    tconn_seg(&t, &c, 1, s + (uint32_t)b + 40, PKT_ACK, req + b + 40, n - b - 40);
    c.cseq += (uint32_t)n;
    char *resp = tresp_sse(1, 7);
    tconn_sends(&t, &c, 0, resp);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    /* Content offsets: 0..5 real (delivered first), 5..8 the fake's (its
     * copy was the first of those bytes), 8..15 real, 15..20 the fake's
     * (queued before the real ones came), 20..30 real (queued first),
     * 30..40 the fake's. */
    CHECK_STR(trec_content(t.recs[0]), "aaaaaAAAaabbbbbBBBBBccccccccccDDDDDDDDDD");
    CHECK(capture_core_tcp_stats(t.core)->overlap_bytes >= 8 + 10);
    tcap_close(&t);
    free(req);
    free(fake);
    free(resp);
}

/* Both directions' sequence numbers wrap past 2^32 inside the exchange. */
TEST(capture_sequence_wraparound)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 0xFFFFFFF0u, 0xFFFFFF80u);
    tconn_open(&t, &c);
    char *req = treq_chat("wrap around the sequence space", NULL);
    char *resp = tresp_sse(4, 7);
    size_t n = strlen(resp);
    tconn_send(&t, &c, 1, req, strlen(req), 7);
    /* reorder across the wrap too */
    uint32_t s = c.sseq;
    tconn_seg(&t, &c, 0, s + 100, PKT_ACK, resp + 100, n - 100);
    tconn_seg(&t, &c, 0, s, PKT_ACK, resp, 100);
    c.sseq += (uint32_t)n;
    CHECK(c.sseq < 0x1000 && c.cseq < 0x1000);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    check_ok(t.recs[0], "wrap around the sequence space", 4);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* A response segment the capture lost (the client acknowledges past it):
 * that exchange is written incomplete "gap", the next one is whole. */
TEST(capture_loss_in_response)
{
    tcap_opts o;
    memset(&o, 0, sizeof o);
    o.core.tcp.gap_grace_ns = -1;
    tcap t;
    tcap_open(&t, &o);
    tconn c;
    tconn_init(&c, 4, 10, 20);
    tconn_open(&t, &c);
    char *req = treq_chat("lossy", NULL);
    char *resp = tresp_sse(5, 7);
    size_t n = strlen(resp);
    tconn_sends(&t, &c, 1, req);
    uint32_t s = c.sseq;
    tconn_seg(&t, &c, 0, s, PKT_ACK, resp, 120);
    /* 120..200 lost */
    tconn_seg(&t, &c, 0, s + 200, PKT_ACK, resp + 200, n - 200);
    c.sseq = s + (uint32_t)n;
    tconn_seg(&t, &c, 1, c.cseq, PKT_ACK, NULL, 0);   /* the client acknowledges everything */
    exchange(&t, &c, "after the loss", 2, 0);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 2);
    CHECK_STR(trec_content(t.recs[0]), "lossy");
    CHECK_STR(trec_orig_str(t.recs[0], "incomplete"), "gap");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(t.recs[0], "orig"), "ok")));
    check_ok(t.recs[1], "after the loss", 2);
    CHECK_INT(capture_core_tcp_stats(t.core)->gaps[TCP_GAP_LOSS], 1);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* A request body segment lost: no body is written (never a cut one), the
 * record says so; the connection goes on. */
TEST(capture_loss_in_request)
{
    tcap_opts o;
    memset(&o, 0, sizeof o);
    o.core.tcp.gap_grace_ns = -1;
    tcap t;
    tcap_open(&t, &o);
    tconn c;
    tconn_init(&c, 4, 10, 20);
    tconn_open(&t, &c);
    char *req = treq_chat("this body loses its middle part", NULL);
    size_t n = strlen(req);
    uint32_t s = c.cseq;
    size_t cut = (size_t)(strstr(req, "loses") - req);
    tconn_seg(&t, &c, 1, s, PKT_ACK, req, cut);
    tconn_seg(&t, &c, 1, s + (uint32_t)cut + 5, PKT_ACK, req + cut + 5, n - cut - 5);
    c.cseq = s + (uint32_t)n;
    char *resp = tresp_sse(2, 7);
    tconn_sends(&t, &c, 0, resp);          /* its ACK covers the lost bytes */
    exchange(&t, &c, "next", 1, 0);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 2);
    CHECK_INT(t.bad, 0);
    CHECK(!cJSON_GetObjectItem(t.recs[0], "body"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(t.recs[0], "orig"), "request_incomplete")));
    CHECK_STR(trec_orig_str(t.recs[0], "incomplete"), "gap");
    check_ok(t.recs[1], "next", 1);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* The capture starts inside a response on a kept-alive connection: the
 * tail is skipped, the next exchange is recorded whole. */
TEST(capture_start_mid_connection)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 123456, 654321);
    char *old = tresp_sse(9, 7);
    tconn_sends(&t, &c, 0, old + 60);        /* the rest of a response to an unseen request */
    exchange(&t, &c, "seen whole", 3, 0);
    exchange(&t, &c, "and another", 2, 100);
    tcap_finish(&t);
    REQUIRE(t.n == 2);
    check_ok(t.recs[0], "seen whole", 3);
    check_ok(t.recs[1], "and another", 2);
    const http_pair_stats *hs = capture_core_http_stats(t.core);
    CHECK(hs->skipped_bytes[0] + hs->skipped_bytes[1] > 0);
    tcap_close(&t);
    free(old);
}

/* Mid-connection with pipelined requests: a response to a request the
 * capture missed begins after the first seen request was sent, but its ACK
 * shows the server had not read that request yet: it stays unpaired. */
TEST(capture_unpaired_response_by_ack)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 1000, 2000);
    char *req = treq_chat("pipelined after an unseen one", NULL);
    char *other = tresp_sse(1, 7), *mine = tresp_sse(4, 7);
    uint32_t before = c.cseq;
    tconn_sends(&t, &c, 1, req);             /* the capture sees this request ... */
    uint32_t after = c.cseq;
    c.cseq = before;                         /* ... but the server answers an older one first */
    tconn_sends(&t, &c, 0, other);
    c.cseq = after;
    tconn_sends(&t, &c, 0, mine);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    check_ok(t.recs[0], "pipelined after an unseen one", 4);
    CHECK_INT(capture_core_http_stats(t.core)->unpaired, 1);
    tcap_close(&t);
    free(req);
    free(other);
    free(mine);
}

/* How connections end: reset, close before the answer, idle, capture end. */
TEST(capture_connection_ends)
{
    const char *want[4] = { "reset", "closed", "idle", "capture_stopped" };
    for (int k = 0; k < 4; k++) {
        tcap_opts o;
        memset(&o, 0, sizeof o);
        o.core.tcp.idle_ns = 1000000000;
        tcap t;
        tcap_open(&t, &o);
        tconn c;
        tconn_init(&c, 4, 1, 2);
        tconn_open(&t, &c);
        char *req = treq_chat("ends badly", NULL);
        char *resp = tresp_sse(5, 7);
        tconn_sends(&t, &c, 1, req);
        tconn_send(&t, &c, 0, resp, 150, 0);  /* part of the response */
        if (k == 0) tconn_seg(&t, &c, 0, c.sseq, PKT_RST, NULL, 0);
        if (k == 1) tconn_close(&t, &c);
        if (k == 2) {
            tconn d;
            tconn_init(&d, 4, 9, 9);
            d.cport = 40001;
            d.ts = c.ts + 2000000000LL;
            tconn_open(&t, &d);              /* time passes on another connection */
        }
        tcap_finish(&t);
        REQUIRE(t.n == 1);
        CHECK_STR(trec_orig_str(t.recs[0], "incomplete"), want[k]);
        CHECK_STR(trec_content(t.recs[0]), "ends badly");
        CHECK_INT(trec_orig_num(t.recs[0], "status"), 200);
        tcap_close(&t);
        free(req);
        free(resp);
    }
}

/* A per-connection cap on queued bytes gives the hole up as "memory". */
TEST(capture_flow_memory_cap)
{
    tcap_opts o;
    memset(&o, 0, sizeof o);
    o.core.tcp.flow_mem = 600;
    tcap t;
    tcap_open(&t, &o);
    tconn c;
    tconn_init(&c, 4, 1, 2);
    tconn_open(&t, &c);
    char *req = treq_chat("capped", NULL);
    char *resp = tresp_sse(30, 7);
    size_t n = strlen(resp);
    tconn_sends(&t, &c, 1, req);
    uint32_t s = c.sseq;
    tconn_seg(&t, &c, 0, s, PKT_ACK, resp, 100);
    for (size_t off = 200; off < n; off += 100)  /* 100..200 never comes */
        tconn_seg(&t, &c, 0, s + (uint32_t)off, PKT_ACK, resp + off, n - off < 100 ? n - off : 100);
    c.sseq = s + (uint32_t)n;
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    CHECK_STR(trec_orig_str(t.recs[0], "incomplete"), "memory");
    CHECK(capture_core_tcp_stats(t.core)->gaps[TCP_GAP_MEMORY] >= 1);
    CHECK(capture_core_tcp_stats(t.core)->peak_queued_bytes <= 600 + 200);
    tcap_close(&t);
    free(req);
    free(resp);
}

/* The same exchange over every link type, IPv4 and IPv6. */
TEST(capture_link_types_and_ipv6)
{
    const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW };
    for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
        for (int fam = 4; fam <= 6; fam += 2) {
            tcap t;
            tcap_open(&t, NULL);
            tconn c;
            tconn_init(&c, fam, 42, 4242);
            c.dlt = dlts[i];
            tconn_open(&t, &c);
            exchange(&t, &c, "any link", 2, 0);
            tconn_close(&t, &c);
            tcap_finish(&t);
            CHECK_INT(t.n, 1);
            if (t.n == 1) check_ok(t.recs[0], "any link", 2);
            tcap_close(&t);
        }
    }
}

TEST(capture_pkt_decode_edges)
{
    uint8_t buf[200];
    uint8_t a[16] = { 1, 2, 3, 4 }, b[16] = { 5, 6, 7, 8 };
    pkt_tcp s;
    size_t n = tpkt_build(buf, sizeof buf, DLT_EN10MB, 4, a, b, 1, 2, 3, 4, PKT_ACK, "hi", 2);
    CHECK_INT(pkt_decode(DLT_EN10MB, buf, n, n, &s), PKT_OK);
    CHECK_INT(s.payload_len, 2);
    CHECK_INT(pkt_decode(DLT_EN10MB, buf, 20, n, &s), PKT_SHORT);
    CHECK_INT(pkt_decode(12345, buf, n, n, &s), PKT_BAD_LINK);
    /* Ethernet padding is not payload */
    uint8_t pad[80];
    memset(pad, 0xEE, sizeof pad);
    memcpy(pad, buf, n);
    CHECK_INT(pkt_decode(DLT_EN10MB, pad, sizeof pad, sizeof pad, &s), PKT_OK);
    CHECK_INT(s.payload_len, 2);
    /* a fragment, UDP, a VLAN tag, a cut payload */
    uint8_t f[200];
    memcpy(f, buf, n);
    f[14 + 6] = 0x20;
    CHECK_INT(pkt_decode(DLT_EN10MB, f, n, n, &s), PKT_FRAGMENT);
    memcpy(f, buf, n);
    f[14 + 9] = 17;
    CHECK_INT(pkt_decode(DLT_EN10MB, f, n, n, &s), PKT_NOT_TCP);
    memcpy(f, buf, 12);
    f[12] = 0x81; f[13] = 0x00; f[14] = 0; f[15] = 5;
    memcpy(f + 16, buf + 12, n - 12);
    CHECK_INT(pkt_decode(DLT_EN10MB, f, n + 4, n + 4, &s), PKT_OK);
    CHECK_INT(s.dport, 2);
    CHECK_INT(pkt_decode(DLT_EN10MB, buf, n - 1, n, &s), PKT_OK);
    CHECK_INT(s.payload_len, 1);
    CHECK_INT(s.payload_wire, 2);
    CHECK_INT(pkt_decode(DLT_NULL, (const uint8_t *)"\x07\0\0\0xxxx", 8, 8, &s), PKT_NOT_IP);
}

/* The capture saw the response before the request it answers (two capture
 * queues, say): the response waits until the bytes its ACK covers are
 * handed on, so it still pairs with its own request. */
TEST(capture_response_captured_before_request)
{
    tcap t;
    tcap_open(&t, NULL);
    tconn c;
    tconn_init(&c, 4, 500, 900);
    tconn_open(&t, &c);
    exchange(&t, &c, "first", 1, 0);
    char *req = treq_chat("second", NULL), *resp = tresp_sse(4, 7);
    uint32_t s = c.cseq;
    c.cseq = s + (uint32_t)strlen(req);           /* the response acknowledges the whole request */
    tconn_sends(&t, &c, 0, resp);
    tconn_seg(&t, &c, 1, s, PKT_ACK | PKT_PSH, req, strlen(req));
    exchange(&t, &c, "third", 2, 0);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 3);
    check_ok(t.recs[0], "first", 1);
    check_ok(t.recs[1], "second", 4);
    check_ok(t.recs[2], "third", 2);
    CHECK_INT(capture_core_http_stats(t.core)->unpaired, 0);
    free(req);
    free(resp);
    tcap_close(&t);
}
