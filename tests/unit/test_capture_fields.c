/* test_capture_fields.c — the record fields cap_exchange_format adds for
 * replay: `path` (the request path without its query) on every record, and
 * `body_raw` (the body's exact text) when it differs from the compact
 * `body`. */
#include "tests/unit/unit.h"
#include "capture/cap_exchange.h"
#include "traces/trace.h"

#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

/* The record cap_exchange_format writes for a finished 200 exchange with
 * this target and body, parsed (the caller deletes it). */
static cJSON *format_rec(const char *url, const char *body, size_t blen, int redact)
{
    cap_exchange *x = cap_exchange_new(0, 1000);
    x->url = strdup(url);
    x->api = cap_exchange_api_of(url);
    snprintf(x->method, sizeof x->method, "POST");
    x->hdr_done = x->req_done = 1;
    sb_add(&x->body, body, blen);
    x->status = 200;
    cap_format_opts o = { .redact = redact, .salt = 1 };
    strbuf b = {0};
    sb_adds(&b, "{\"t_us\":0,\"id\":\"cap-1\"");
    cap_exchange_format(x, &o, &b, NULL);
    trace_rec r = {0};
    char err[256];
    int bad = trace_rec_parse(&r, b.buf, b.len, 0, err, sizeof err);
    if (bad) fprintf(stderr, "    bad record: %s: %s\n", err, b.buf);
    trace_rec_clear(&r);
    cJSON *j = bad ? NULL : cJSON_ParseWithLength(b.buf, b.len);
    sb_free(&b);
    cap_exchange_free(x, NULL);
    return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

TEST(capture_field_path)
{
    static const char compact[] = "{\"model\":\"m\",\"messages\":[]}";
    cJSON *r = format_rec("/openai/v1/chat/completions?api-key=SECRET#x", compact, strlen(compact), 0);
    REQUIRE(r);
    CHECK_STR(str_of(r, "path"), "/openai/v1/chat/completions");
    CHECK_STR(str_of(r, "api"), "chat");
    cJSON_Delete(r);
    r = format_rec("http://example.test:8000/v1/completions?k=1", compact, strlen(compact), 1);
    REQUIRE(r);
    CHECK_STR(str_of(r, "path"), "/v1/completions");      /* absolute form; also with --redact */
    cJSON_Delete(r);
    r = format_rec("/v1/embeddings", compact, strlen(compact), 0);
    REQUIRE(r);
    CHECK_STR(str_of(r, "path"), "/v1/embeddings");
    CHECK_STR(str_of(cJSON_GetObjectItem(r, "meta"), "path"), "/v1/embeddings");
    cJSON_Delete(r);
    r = format_rec("/v1/chat/\xff\xfe", compact, strlen(compact), 0);
    REQUIRE(r);                                             /* never invalid UTF-8 in the record */
    CHECK(!cJSON_GetObjectItem(r, "path"));
    cJSON_Delete(r);
}

TEST(capture_field_body_raw)
{
    /* compact already: no copy */
    static const char compact[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    cJSON *r = format_rec("/v1/chat/completions", compact, strlen(compact), 0);
    REQUIRE(r);
    CHECK(cJSON_GetObjectItem(r, "body"));
    CHECK(!cJSON_GetObjectItem(r, "body_raw"));
    CHECK(!cJSON_GetObjectItem(r, "body_raw_omitted"));
    cJSON_Delete(r);

    /* as Python's json.dumps writes it: the exact bytes are kept */
    static const char spaced[] = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"h\\u00e9\"}],"
                                 " \"temperature\": 1.0}\n";
    r = format_rec("/v1/chat/completions", spaced, strlen(spaced), 0);
    REQUIRE(r);
    CHECK_STR(str_of(r, "body_raw"), spaced);
    CHECK_STR(str_of(cJSON_GetObjectItem(r, "body"), "model"), "m");
    cJSON_Delete(r);

    /* not valid UTF-8: the exact bytes in base64, the body's text with U+FFFD */
    static const char latin1[] = "{\"model\": \"m\", \"prompt\": \"caf\xe9\"}";
    r = format_rec("/v1/completions", latin1, strlen(latin1), 0);
    REQUIRE(r);
    CHECK(!cJSON_GetObjectItem(r, "body_raw"));
    CHECK(!cJSON_GetObjectItem(r, "body_raw_omitted"));
    CHECK_STR(str_of(r, "body_b64"), "eyJtb2RlbCI6ICJtIiwgInByb21wdCI6ICJjYWbpIn0=");
    CHECK_STR(str_of(cJSON_GetObjectItem(r, "body"), "prompt"), "caf\xef\xbf\xbd");
    cJSON_Delete(r);

    /* a NUL byte inside a string (cJSON would cut the text there): base64 */
    static const char nul[] = "{\"model\": \"m\", \"prompt\": \"a\0b\"}";
    r = format_rec("/v1/completions", nul, sizeof nul - 1, 0);
    REQUIRE(r);
    CHECK(!cJSON_GetObjectItem(r, "body_raw"));
    CHECK(cJSON_GetObjectItem(r, "body_b64") != NULL);
    cJSON_Delete(r);

    /* --redact keeps no text */
    r = format_rec("/v1/chat/completions", spaced, strlen(spaced), 1);
    REQUIRE(r);
    CHECK(!cJSON_GetObjectItem(r, "body_raw"));
    CHECK(!cJSON_GetObjectItem(r, "body"));
    cJSON_Delete(r);
}
