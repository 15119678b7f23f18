/* test_capture_http.c — the HTTP side of capture, with hand-built packet
 * sequences: pipelining, chunked and Content-Length bodies, bodies over
 * many segments, Expect: 100-continue, other paths, compressed responses,
 * upgrades and non-HTTP bytes; then records: privacy, --redact, sampling,
 * arrival order through the reorder window, rotation. */
#include "tests/unit/test_capture.h"
#include "tests/unit/unit.h"
#include "capture/cap_exchange.h"
#include "capture/resp_scan.h"
#include "common/util.h"
#include "traces/trace_io.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void open_conn(tcap *t, tconn *c, const tcap_opts *o)
{
    tcap_open(t, o);
    tconn_init(c, 4, 100, 200);
    tconn_open(t, c);
}

/* Two requests in one segment, both responses in one segment. */
TEST(capture_pipelining)
{
    tcap t;
    tconn c;
    open_conn(&t, &c, NULL);
    char *a = treq_chat("one", NULL), *b = treq_chat("two", NULL);
    char *ra = tresp_sse(2, 7), *rb = tresp_sse(3, 7);
    strbuf reqs = {0}, resps = {0};
    sb_adds(&reqs, a);
    sb_adds(&reqs, b);
    sb_adds(&resps, ra);
    sb_adds(&resps, rb);
    tconn_send(&t, &c, 1, reqs.buf, reqs.len, 65000);
    tconn_send(&t, &c, 0, resps.buf, resps.len, 65000);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 2);
    CHECK_STR(trec_content(t.recs[0]), "one");
    CHECK_INT(trec_orig_num(t.recs[0], "events"), 2);
    CHECK_STR(trec_content(t.recs[1]), "two");
    CHECK_INT(trec_orig_num(t.recs[1], "events"), 3);
    CHECK(trec_orig_str(t.recs[1], "incomplete") == NULL);
    sb_free(&reqs);
    sb_free(&resps);
    free(a); free(b); free(ra); free(rb);
    tcap_close(&t);
}

/* A chunked request body, one byte per segment; a Content-Length JSON
 * response split in 3-byte segments. */
TEST(capture_chunked_request_and_tiny_segments)
{
    tcap t;
    tconn c;
    open_conn(&t, &c, NULL);
    const char *body = "{\"model\":\"m2\",\"prompt\":\"hello there\",\"max_tokens\":4}";
    strbuf r = {0};
    sb_adds(&r, "POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    sb_printf(&r, "5\r\n%.5s\r\n%zx\r\n%s\r\n0\r\n\r\n", body, strlen(body) - 5, body + 5);
    tconn_send(&t, &c, 1, r.buf, r.len, 1);
    const char *json = "{\"choices\":[{\"text\":\"hi!\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    strbuf s = {0};
    sb_printf(&s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
              strlen(json), json);
    tconn_send(&t, &c, 0, s.buf, s.len, 3);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    const cJSON *rec = t.recs[0];
    CHECK_STR(str(rec, "api"), "completions");
    CHECK_STR(str(rec, "model"), "m2");
    CHECK_STR(str(cJSON_GetObjectItem(rec, "body"), "prompt"), "hello there");
    CHECK_INT(trec_orig_num(rec, "events"), 1);
    CHECK_INT(trec_orig_num(rec, "output_tokens"), 2);
    CHECK_INT(cJSON_GetObjectItem(rec, "input_tokens")->valuedouble, 3);
    CHECK(trec_orig_num(rec, "ttft_us") == trec_orig_num(rec, "e2e_us"));
    sb_free(&r);
    sb_free(&s);
    tcap_close(&t);
}

/* Expect: 100-continue: the interim response is counted, not paired. */
TEST(capture_expect_continue)
{
    tcap t;
    tconn c;
    open_conn(&t, &c, NULL);
    char *req = treq_chat("continue please", "Expect: 100-continue\r\n");
    char *hdr_end = strstr(req, "\r\n\r\n") + 4;
    tconn_send(&t, &c, 1, req, (size_t)(hdr_end - req), 0);
    tconn_sends(&t, &c, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    tconn_sends(&t, &c, 1, hdr_end);
    char *resp = tresp_sse(3, 7);
    tconn_sends(&t, &c, 0, resp);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    CHECK_STR(trec_content(t.recs[0]), "continue please");
    CHECK_INT(trec_orig_num(t.recs[0], "status"), 200);
    CHECK_INT(trec_orig_num(t.recs[0], "interim_responses"), 1);
    CHECK_INT(trec_orig_num(t.recs[0], "events"), 3);
    free(req);
    free(resp);
    tcap_close(&t);
}

/* Other paths are skipped (counted) unless --all-paths; a response read
 * until the close; a gzip response is noted, not read. */
TEST(capture_paths_close_delimited_gzip)
{
    for (int all = 0; all <= 1; all++) {
        tcap_opts o;
        memset(&o, 0, sizeof o);
        o.core.http.all_paths = all;
        tcap t;
        tconn c;
        open_conn(&t, &c, &o);
        tconn_sends(&t, &c, 1, "GET /v1/models?key=secret HTTP/1.1\r\nHost: a\r\n\r\n");
        tconn_sends(&t, &c, 0, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        char *req = treq_chat("zipped", NULL);
        tconn_sends(&t, &c, 1, req);
        tconn_sends(&t, &c, 0, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Content-Encoding: gzip\r\nConnection: close\r\n\r\n\x1f\x8b\x08\x00garbage");
        tconn_close(&t, &c);
        tcap_finish(&t);
        REQUIRE(t.n == 1 + all);
        const cJSON *z = t.recs[all];
        CHECK_STR(trec_content(z), "zipped");
        CHECK_STR(trec_orig_str(z, "encoding"), "gzip");
        CHECK(trec_orig_str(z, "incomplete") == NULL);
        CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(z, "orig"), "events"));
        if (all) {
            CHECK_STR(str(t.recs[0], "api"), "other");
            const cJSON *meta = cJSON_GetObjectItem(t.recs[0], "meta");
            CHECK_STR(str(meta, "method"), "GET");
            CHECK_STR(str(meta, "path"), "/v1/models");   /* the query string is never written */
            CHECK_INT(cJSON_GetObjectItem(t.recs[0], "input_tokens")->valuedouble, 0);
        } else {
            CHECK_INT(capture_core_http_stats(t.core)->not_llm, 1);
        }
        free(req);
        tcap_close(&t);
    }
}

/* Non-HTTP bytes (a TLS ClientHello) on a connection seen from its SYN. */
TEST(capture_not_http_and_upgrade)
{
    tcap t;
    tconn c;
    open_conn(&t, &c, NULL);
    tconn_send(&t, &c, 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 0);
    tconn_sends(&t, &c, 0, "\x16\x03\x03\x00\x5a\x02");
    tconn_close(&t, &c);
    tconn d;
    tconn_init(&d, 4, 7, 8);
    d.cport = 40002;
    d.ts = c.ts;
    tconn_open(&t, &d);
    tconn_sends(&t, &d, 1, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    tconn_sends(&t, &d, 0, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    tconn_sends(&t, &d, 1, "\x81\x05hello");
    tconn_close(&t, &d);
    tcap_finish(&t);
    CHECK_INT(t.n, 0);
    CHECK_INT(capture_core_http_stats(t.core)->non_http, 1);
    CHECK_INT(capture_core_http_stats(t.core)->upgraded, 1);
    tcap_close(&t);
}

/* Authorization, cookies and key-like headers never reach a record. */
TEST(capture_privacy_headers)
{
    tcap t;
    tconn c;
    open_conn(&t, &c, NULL);
    char *req = treq_chat("private", "Authorization: Bearer sk-SECRET1\r\nCookie: s=SECRET2\r\n"
                                     "X-Api-Key: SECRET3\r\napi-key: SECRET4\r\nX-Auth-Token: SECRET5\r\n"
                                     "Proxy-Authorization: Basic SECRET6\r\nX-Request-Id: 42\r\n");
    tconn_sends(&t, &c, 1, req);
    char *resp = tresp_sse(1, 7);
    tconn_sends(&t, &c, 0, resp);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 1);
    char *line = cJSON_PrintUnformatted(t.recs[0]);
    CHECK(!strstr(line, "SECRET"));
    CHECK(!strstr(line, "uthorization"));
    CHECK_STR(str(cJSON_GetObjectItem(t.recs[0], "headers"), "x-request-id"), "42");
    CHECK_STR(str(cJSON_GetObjectItem(t.recs[0], "headers"), "content-type"), "application/json");
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(t.recs[0], "headers"), "host"));
    free(line);
    free(req);
    free(resp);
    tcap_close(&t);
    CHECK(cap_exchange_header_kept("User-Agent", 10));
    CHECK(!cap_exchange_header_kept("x-goog-api-key", 14));
    CHECK(!cap_exchange_header_kept("Set-Cookie", 10));
    CHECK(!cap_exchange_header_kept("Content-Length", 14));
}

/* --redact: no text; lengths estimated; 512-token block hashes that agree
 * on a shared prefix and differ after it. */
TEST(capture_redact)
{
    tcap_opts o;
    memset(&o, 0, sizeof o);
    o.core.http.fmt.redact = 1;
    o.core.http.fmt.salt = 99;
    tcap t;
    tconn c;
    open_conn(&t, &c, &o);
    strbuf common = {0};
    for (int i = 0; i < 1200; i++) sb_printf(&common, "word%d ", i % 50);   /* 2 tokens each */
    strbuf a = {0}, b = {0};
    sb_printf(&a, "%sALPHA tail", common.buf);
    sb_printf(&b, "%sBETA tail", common.buf);
    char *ra = treq_chat(a.buf, "Authorization: Bearer zzz\r\n"), *rb = treq_chat(b.buf, NULL);
    char *resp = tresp_sse(2, 7);
    tconn_sends(&t, &c, 1, ra);
    tconn_sends(&t, &c, 0, resp);
    tconn_sends(&t, &c, 1, rb);
    tconn_sends(&t, &c, 0, resp);
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 2);
    CHECK_INT(t.bad, 0);
    for (int i = 0; i < 2; i++) {
        const cJSON *r = t.recs[i];
        CHECK(!cJSON_GetObjectItem(r, "body"));
        CHECK(!cJSON_GetObjectItem(r, "headers"));
        char *line = cJSON_PrintUnformatted(r);
        CHECK(!strstr(line, "word1") && !strstr(line, "ALPHA") && !strstr(line, "zzz"));
        free(line);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "tokens_estimated")));
        CHECK_INT(cJSON_GetObjectItem(r, "block_size")->valuedouble, 512);
        CHECK_STR(str(r, "model"), "m1");
        double in = cJSON_GetObjectItem(r, "input_tokens")->valuedouble;
        CHECK(in >= 2400 && in < 2420);
        CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r, "hash_ids")), ((long long)in + 511) / 512);
    }
    const cJSON *ha = cJSON_GetObjectItem(t.recs[0], "hash_ids"), *hb = cJSON_GetObjectItem(t.recs[1], "hash_ids");
    for (int k = 0; k < 4; k++)
        CHECK(cJSON_GetArrayItem(ha, k)->valuedouble == cJSON_GetArrayItem(hb, k)->valuedouble);
    CHECK(cJSON_GetArrayItem(ha, 4)->valuedouble != cJSON_GetArrayItem(hb, 4)->valuedouble);
    sb_free(&common); sb_free(&a); sb_free(&b);
    free(ra); free(rb); free(resp);
    tcap_close(&t);
}

/* --sample and --max-requests. */
TEST(capture_sample_and_max)
{
    int kept[2] = { 0, 0 };
    for (int run = 0; run < 2; run++) {
        tcap_opts o;
        memset(&o, 0, sizeof o);
        o.out.sample = 0.5;
        o.out.seed = 11;
        tcap t;
        tconn c;
        open_conn(&t, &c, &o);
        char *req = treq_chat("s", NULL), *resp = tresp_sse(1, 1);
        for (int i = 0; i < 200; i++) {
            tconn_sends(&t, &c, 1, req);
            tconn_sends(&t, &c, 0, resp);
        }
        tcap_finish(&t);
        kept[run] = t.n;
        CHECK_INT(capture_out_get_stats(t.out)->sampled_out, 200 - t.n);
        free(req); free(resp);
        tcap_close(&t);
    }
    CHECK(kept[0] > 60 && kept[0] < 140);
    CHECK_INT(kept[0], kept[1]);
    tcap_opts o;
    memset(&o, 0, sizeof o);
    o.out.max_requests = 3;
    tcap t;
    tconn c;
    open_conn(&t, &c, &o);
    char *req = treq_chat("m", NULL), *resp = tresp_sse(1, 1);
    for (int i = 0; i < 5; i++) {
        tconn_sends(&t, &c, 1, req);
        tconn_sends(&t, &c, 0, resp);
        if (i == 2) CHECK(capture_core_done(t.core));
    }
    tcap_finish(&t);
    CHECK_INT(t.n, 3);
    free(req); free(resp);
    tcap_close(&t);
}

/* A long response on one connection finishes after later requests on
 * another: records still leave in arrival order. With a short window the
 * long one is written early, incomplete "window", and order still holds. */
TEST(capture_reorder_window)
{
    for (int small = 0; small <= 1; small++) {
        tcap_opts o;
        memset(&o, 0, sizeof o);
        o.out.window_ns = small ? 50000 : 0;    /* 50 us: forced within a few packets */
        tcap t;
        tcap_open(&t, &o);
        tconn a, b;
        tconn_init(&a, 4, 1, 2);
        tconn_init(&b, 4, 3, 4);
        b.cport = 40009;
        tconn_open(&t, &a);
        b.ts = a.ts;
        tconn_open(&t, &b);
        char *ra = treq_chat("long one", NULL), *rb = treq_chat("short one", NULL);
        char *resp = tresp_sse(2, 7);
        tconn_sends(&t, &a, 1, ra);
        b.ts = a.ts;
        for (int i = 0; i < 5; i++) {
            tconn_sends(&t, &b, 1, rb);
            tconn_sends(&t, &b, 0, resp);
        }
        a.ts = b.ts;
        tconn_sends(&t, &a, 0, resp);
        tcap_finish(&t);
        REQUIRE(t.n == 6);
        CHECK(!t.disorder);
        CHECK_STR(trec_content(t.recs[0]), "long one");
        if (small) CHECK_STR(trec_orig_str(t.recs[0], "incomplete"), "window");
        else CHECK(trec_orig_str(t.recs[0], "incomplete") == NULL);
        CHECK_STR(trec_content(t.recs[5]), "short one");
        free(ra); free(rb); free(resp);
        tcap_close(&t);
    }
}

/* --rotate-mb: several files, each a valid trace starting at t_us 0. */
TEST(capture_rotation_files)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rot.jsonl", unit_tmpdir());
    cJSON *h = trace_header_new("capture");
    tcap_opts o;
    memset(&o, 0, sizeof o);
    tcap t;
    tcap_open(&t, &o);                        /* for the helpers' sink; a file writer below */
    capture_out_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.path = path;
    wo.header = h;
    wo.level = 0;
    wo.rotate_bytes = 2000;
    wo.sample = 1;
    char err[512];
    capture_out *w = capture_out_new(&wo, err, sizeof err);
    REQUIRE(w);
    capture_core *core = capture_core_new(&o.core, w);
    capture_core *saved = t.core;
    t.core = core;
    tconn c;
    tconn_init(&c, 4, 1, 2);
    tconn_open(&t, &c);
    char *req = treq_chat("rotate me please, this is a somewhat long message", NULL), *resp = tresp_sse(1, 1);
    for (int i = 0; i < 40; i++) {
        tconn_sends(&t, &c, 1, req);
        tconn_sends(&t, &c, 0, resp);
    }
    capture_core_finish(core, 0);
    CHECK_INT(capture_out_close(w, err, sizeof err), 0);
    uint64_t files = capture_out_get_stats(w)->files;
    CHECK(files >= 4);
    uint64_t total = 0;
    for (uint64_t k = 1; k <= files; k++) {
        char p[600];
        snprintf(p, sizeof p, "%s/rot-%04llu.jsonl", unit_tmpdir(), (unsigned long long)k);
        trace_reader *r = trace_reader_open(p, 0, err, sizeof err);
        REQUIRE(r);
        CHECK_INT(cJSON_GetObjectItem(trace_reader_header(r), "part")->valuedouble, (double)k);
        trace_rec *rec;
        int first = 1;
        while (trace_reader_next(r, &rec) == 1) {
            if (first) CHECK_INT(rec->t_us, 0);
            first = 0;
            total++;
        }
        trace_reader_close(r);
    }
    CHECK_INT(total, 40);
    capture_core_free(core);
    capture_out_free(w);
    cJSON_Delete(h);
    t.core = saved;
    free(req); free(resp);
    tcap_close(&t);
}

TEST(capture_resp_scan_keys_and_paths)
{
    const char *s1 = "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}";
    CHECK_INT(resp_scan_keys(s1, strlen(s1)), 0);
    const char *s2 = "{\"choices\":[{\"delta\":{\"content\" : \"x\"}}],\"usage\":null}";
    CHECK_INT(resp_scan_keys(s2, strlen(s2)), RESP_KEY_CONTENT);
    const char *s3 = "{\"text\":\"\",\"output_ids\":[5],\"meta_info\":{\"completion_tokens\":1}}";
    CHECK_INT(resp_scan_keys(s3, strlen(s3)), RESP_KEY_CONTENT | RESP_KEY_USAGE);
    const char *s4 = "{\"object\":\"error\",\"message\":\"\\\"content\\\":\\\"no\\\"\"}";
    CHECK_INT(resp_scan_keys(s4, strlen(s4)), RESP_KEY_ERROR);
    const char *s5 = "{\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}";
    CHECK_INT(resp_scan_keys(s5, strlen(s5)), RESP_KEY_CONTENT);
    CHECK_STR(cap_exchange_api_of("/v1/chat/completions"), "chat");
    CHECK_STR(cap_exchange_api_of("/openai/v1/chat/completions/?a=b"), "chat");
    CHECK_STR(cap_exchange_api_of("/v1/completions"), "completions");
    CHECK_STR(cap_exchange_api_of("/generate"), "generate");
    CHECK(cap_exchange_api_of("/v1/models") == NULL);
    CHECK(cap_exchange_api_of("/v1/chat/completionsx") == NULL);
}
