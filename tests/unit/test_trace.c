/* test_trace.c — unit tests for the trace format: record parsing, reader,
 * writer, inspect. */
#include "tests/unit/unit.h"
#include "common/util.h"
#include "traces/inspect.h"
#include "traces/trace_io.h"

#include <stdlib.h>
#include <unistd.h>

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512, "%s/%s", unit_tmpdir(), name);
    return b;
}

#define HDR "{\"format\":\"sagellm-trace\",\"version\":1,\"source\":\"synth\"}\n"

static int parse(trace_rec *r, const char *line, char *err)
{
    return trace_rec_parse(r, line, strlen(line), 0, err, 512);
}

TEST(trace_rec_minimal_length_only)
{
    trace_rec r = {0};
    char err[512];
    CHECK_INT(parse(&r, "{\"t_us\":5,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":10,\"output_tokens\":3}", err), 0);
    CHECK_INT(r.t_us, 5);
    CHECK_STR(r.id, "a");
    CHECK_STR(r.api, "chat");
    CHECK_INT(r.input_tokens, 10);
    CHECK_INT(r.output_tokens, 3);
    CHECK(r.body == NULL && r.model == NULL && r.session == NULL);
    CHECK_INT(r.turn, -1);
    trace_rec_clear(&r);
}

TEST(trace_rec_numeric_ids_and_sessions)
{
    trace_rec r = {0}, m = {0};
    char err[512];
    CHECK_INT(parse(&r, "{\"t_us\":0,\"id\":17,\"session\":4,\"turn\":2,\"parent\":16,\"api\":\"chat\","
                        "\"body\":{\"messages\":[]},\"model\":\"m\"}", err), 0);
    CHECK_STR(r.id, "17");
    CHECK_STR(r.session, "4");
    CHECK_STR(r.parent, "16");
    CHECK_INT(r.turn, 2);
    CHECK_STR(r.model, "m");
    CHECK(r.body != NULL);
    trace_rec_move(&m, &r);
    CHECK_STR(m.id, "17");
    CHECK_STR(m.session, "4");
    CHECK(r.json == NULL);
    trace_rec_clear(&m);
}

/* A stripped record keeps its scalar fields (valid views) and loses the
 * request: body, exact bytes, hash_ids, orig, headers, unknown fields. */
TEST(trace_rec_strip_keeps_scalars)
{
    trace_rec r = {0};
    char err[512];
    CHECK_INT(parse(&r, "{\"t_us\":7,\"id\":\"x\",\"session\":\"s\",\"turn\":1,\"parent\":\"p\","
                        "\"api\":\"chat\",\"model\":\"m\",\"input_tokens\":4,\"output_tokens\":9,"
                        "\"think_us\":3,\"block_size\":16,\"hash_ids\":[1,2],\"body\":{\"messages\":[]},"
                        "\"body_raw\":\"{\\\"messages\\\":[]}\",\"orig\":{\"e2e_us\":5},"
                        "\"headers\":{\"x-a\":\"b\"},\"extra\":[1,2,3]}", err), 0);
    REQUIRE(r.body && r.hash_ids && r.orig);
    trace_rec_strip(&r);
    CHECK(r.body == NULL && r.hash_ids == NULL && r.orig == NULL);
    CHECK_STR(r.id, "x");
    CHECK_STR(r.session, "s");
    CHECK_STR(r.parent, "p");
    CHECK_STR(r.api, "chat");
    CHECK_STR(r.model, "m");
    CHECK_INT(r.turn, 1);
    CHECK_INT(r.input_tokens, 4);
    CHECK_INT(r.output_tokens, 9);
    CHECK_INT(r.think_us, 3);
    CHECK_INT(r.block_size, 16);
    char *left = cJSON_PrintUnformatted(r.json);
    CHECK_STR(left, "{\"t_us\":7,\"id\":\"x\",\"session\":\"s\",\"turn\":1,\"parent\":\"p\",\"api\":\"chat\","
                    "\"model\":\"m\",\"input_tokens\":4,\"output_tokens\":9,\"think_us\":3,\"block_size\":16}");
    free(left);
    trace_rec_strip(&r);                                /* twice: nothing more to drop */
    CHECK_STR(r.id, "x");
    trace_rec_clear(&r);
    trace_rec_strip(&r);                                /* a cleared record */
}

TEST(trace_rec_errors_name_the_field)
{
    trace_rec r = {0};
    char err[512];
    CHECK_INT(parse(&r, "{\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "field 't_us'");
    CHECK_INT(parse(&r, "{\"t_us\":-1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "got -1");
    CHECK_INT(parse(&r, "{\"t_us\":1.5,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "t_us");
    CHECK_INT(parse(&r, "{\"t_us\":\"3\",\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "string \"3\"");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"api\":\"chat\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "field 'id'");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"input_tokens\":1}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "field 'api'");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\"}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "input_tokens");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":4,\"hash_ids\":[1,2]}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "block_size");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":4,\"hash_ids\":[1,\"x\"],\"block_size\":2}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "hash_ids[]");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"body\":\"hi\"}", err), ERR_INPUT);
    CHECK_CONTAINS(err, "field 'body'");
    CHECK_INT(parse(&r, "{\"t_us\":1,", err), ERR_INPUT);
    CHECK_CONTAINS(err, "invalid JSON");
    CHECK_INT(parse(&r, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1} x", err), ERR_INPUT);
    CHECK_CONTAINS(err, "trailing");
    CHECK_INT(parse(&r, "[1,2]", err), ERR_INPUT);
    CHECK_CONTAINS(err, "object");
    trace_rec_clear(&r);
}

TEST(trace_rec_refuses_invalid_utf8)
{
    trace_rec r = {0};
    char err[512];
    CHECK_INT(parse(&r, "{\"t_us\":5,\"id\":\"a\",\"api\":\"chat\",\"m\":\"\xc3(\",\"input_tokens\":1}", err),
              ERR_INPUT);
    CHECK_CONTAINS(err, "invalid UTF-8 at column 38 (byte 0xc3)");
    trace_rec_clear(&r);
}

TEST(trace_roundtrip_keeps_unknown_fields)
{
    const char *p = tmp("rt.jsonl.zst");
    char err[512];
    cJSON *h = trace_header_new("synth");
    trace_add_int(h, "block_size", 16);
    cJSON_AddStringToObject(h, "x_custom", "kept");
    trace_writer *w = trace_writer_open(p, h, -1, err, sizeof err);
    cJSON_Delete(h);
    REQUIRE(w);
    for (int i = 0; i < 1000; i++) {
        char line[256];
        snprintf(line, sizeof line, "{\"t_us\":%d,\"id\":\"r%d\",\"api\":\"chat\",\"input_tokens\":%d,"
                 "\"hash_ids\":[1,%d],\"x_extra\":{\"n\":[1,2,{\"k\":\"v\"}]}}", i * 10, i, i, i);
        trace_rec r = {0};
        REQUIRE(trace_rec_parse(&r, line, strlen(line), 16, err, sizeof err) == 0);
        CHECK_INT(trace_writer_put_rec(w, &r), 0);
        trace_rec_clear(&r);
    }
    CHECK_INT(trace_writer_count(w), 1000);
    CHECK_INT(trace_writer_close(w, err, sizeof err), 0);

    trace_reader *r = trace_reader_open(p, 0, err, sizeof err);
    REQUIRE(r);
    const cJSON *hdr = trace_reader_header(r);
    CHECK_STR(cJSON_GetObjectItem(hdr, "x_custom")->valuestring, "kept");
    trace_rec *rec;
    int n = 0, rc;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        CHECK_INT(rec->t_us, n * 10);
        CHECK_INT(rec->block_size, 16);
        const cJSON *x = cJSON_GetObjectItem(rec->json, "x_extra");
        CHECK(x && cJSON_GetArraySize(cJSON_GetObjectItem(x, "n")) == 3);
        n++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(n, 1000);
    trace_reader_close(r);
}

TEST(trace_writer_rejects_disorder)
{
    char err[512];
    cJSON *h = trace_header_new("synth");
    trace_writer *w = trace_writer_open(tmp("order.jsonl"), h, 0, err, sizeof err);
    cJSON_Delete(h);
    REQUIRE(w);
    CHECK_INT(trace_writer_put_raw(w, "{}", 2, 10), 0);
    CHECK_INT(trace_writer_put_raw(w, "{}", 2, 10), 0);
    CHECK_INT(trace_writer_put_raw(w, "{}", 2, 9), ERR_INPUT);
    CHECK_CONTAINS(trace_writer_error(w), "out of order");
    trace_writer_abort(w);
}

TEST(trace_reader_errors_have_file_line_field)
{
    const char *p = tmp("bad.jsonl");
    unit_write_text(p, HDR
               "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}\n"
               "{\"t_us\":2,\"id\":\"b\",\"api\":\"chat\",\"input_tokens\":\"many\"}\n"
               "{\"t_us\":0,\"id\":\"c\",\"api\":\"chat\",\"input_tokens\":1}\n"
               "{\"t_us\":5,\"id\":\"d\",\"api\":\"chat\",\"input_tokens\":1}\n");
    char err[512];
    trace_reader *r = trace_reader_open(p, 0, err, sizeof err);
    REQUIRE(r);
    trace_rec *rec;
    CHECK_INT(trace_reader_next(r, &rec), 1);
    CHECK_INT(trace_reader_next(r, &rec), ERR_INPUT);
    CHECK_CONTAINS(trace_reader_error(r), "bad.jsonl:3: field 'input_tokens'");
    CHECK_INT(trace_reader_next(r, &rec), ERR_INPUT);
    CHECK_CONTAINS(trace_reader_error(r), ":4: field 't_us'");
    CHECK_CONTAINS(trace_reader_error(r), "sorted");
    CHECK_INT(trace_reader_next(r, &rec), 1);
    CHECK_STR(rec->id, "d");
    CHECK_INT(trace_reader_fatal(r), 0);
    trace_reader_close(r);

    r = trace_reader_open(p, TRACE_SKIP_INVALID, err, sizeof err);
    REQUIRE(r);
    int n = 0;
    while (trace_reader_next(r, &rec) > 0) n++;
    CHECK_INT(n, 2);
    CHECK_INT(trace_reader_skipped(r), 2);
    CHECK_CONTAINS(trace_reader_first_skip(r), ":3:");
    trace_reader_close(r);
}

TEST(trace_reader_header_required)
{
    const char *p = tmp("nohdr.jsonl");
    char err[512];
    unit_write_text(p, "{\"t_us\":1,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":1}\n");
    CHECK(trace_reader_open(p, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "nohdr.jsonl:1: field 'format'");
    unit_write_text(p, "{\"format\":\"sagellm-trace\",\"version\":2}\n");
    CHECK(trace_reader_open(p, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "field 'version': expected 1");
    unit_write_text(p, "");
    CHECK(trace_reader_open(p, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "empty file");
    unit_write_text(p, "\x01\x02garbage\xff\n");
    CHECK(trace_reader_open(p, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, ":1:");
}

TEST(trace_header_history)
{
    cJSON *h = trace_header_new("synth");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "speed", 2);
    trace_header_add_history(h, "scale", a);
    trace_header_add_history(h, "slice", NULL);
    cJSON *hist = cJSON_GetObjectItem(h, "history");
    REQUIRE(cJSON_GetArraySize(hist) == 2);
    cJSON *e = cJSON_GetArrayItem(hist, 0);
    CHECK_STR(e->child->string, "op");
    CHECK_STR(cJSON_GetObjectItem(e, "op")->valuestring, "scale");
    CHECK_INT(cJSON_GetObjectItem(e, "speed")->valueint, 2);
    char err[256];
    CHECK_INT(trace_header_check(h, err, sizeof err), 0);
    char *s = cJSON_PrintUnformatted(h);
    cJSON *back = cJSON_Parse(s);
    CHECK(back && cJSON_GetArraySize(cJSON_GetObjectItem(back, "history")) == 2);
    cJSON_Delete(back);
    cJSON_free(s);
    cJSON_Delete(h);
}

TEST(inspect_counts_and_percentiles)
{
    const char *p = tmp("insp.jsonl");
    strbuf b = {0};
    sb_adds(&b, "{\"format\":\"sagellm-trace\",\"version\":1,\"source\":\"synth\",\"block_size\":4}\n");
    /* 100 records at 10/s; inputs 1..100; outputs 2; two sessions; hash ids: 0,1 shared. */
    for (int i = 0; i < 100; i++)
        sb_printf(&b, "{\"t_us\":%d,\"id\":\"r%d\",\"session\":\"s%d\",\"turn\":%d,\"api\":\"chat\","
                  "\"input_tokens\":%d,\"output_tokens\":2,\"hash_ids\":[0,%d]}\n",
                  i * 100000, i, i % 2, i / 2, i + 1, i + 1);
    unit_write_text(p, b.buf);
    sb_free(&b);
    char err[512];
    cJSON *res = trace_inspect(p, 0, err, sizeof err);
    REQUIRE(res);
    CHECK_INT(cJSON_GetObjectItem(res, "records")->valuedouble, 100);
    CHECK_NEAR(cJSON_GetObjectItem(res, "duration_s")->valuedouble, 9.9, 1e-9);
    cJSON *rate = cJSON_GetObjectItem(res, "rate");
    CHECK_INT(cJSON_GetObjectItem(rate, "peak_per_s")->valuedouble, 10);
    CHECK_INT(cJSON_GetObjectItem(rate, "peak_per_min")->valuedouble, 100);
    cJSON *in = cJSON_GetObjectItem(res, "input_tokens");
    CHECK_NEAR(cJSON_GetObjectItem(in, "mean")->valuedouble, 50.5, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(in, "p50")->valuedouble, 50.5, 1e-9);  /* numpy: 50.5 */
    CHECK_NEAR(cJSON_GetObjectItem(in, "p90")->valuedouble, 90.1, 1e-9);  /* numpy: 90.1 */
    CHECK_NEAR(cJSON_GetObjectItem(in, "p99")->valuedouble, 99.01, 1e-9); /* numpy: 99.01 */
    CHECK_INT(cJSON_GetObjectItem(in, "max")->valuedouble, 100);
    cJSON *s = cJSON_GetObjectItem(res, "sessions");
    CHECK_INT(cJSON_GetObjectItem(s, "count")->valuedouble, 2);
    CHECK_INT(cJSON_GetObjectItem(s, "max_turn")->valuedouble, 49);
    cJSON *pf = cJSON_GetObjectItem(res, "prefix");
    REQUIRE(pf);
    CHECK_INT(cJSON_GetObjectItem(pf, "blocks")->valuedouble, 200);
    /* hash 0 repeats 99 times; ids 1..100 as second block: 1 repeats once (first record had [0,1]). */
    CHECK_INT(cJSON_GetObjectItem(pf, "repeated")->valuedouble, 99);
    cJSON_Delete(res);
}
