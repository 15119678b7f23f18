/* test_clients.c — unit tests for the clients: request bodies built from
 * trace records, and response events interpreted from real servers' shapes. */
#include "tests/unit/unit.h"
#include "clients/client.h"
#include "clients/openai.h"
#include "common/header_rule.h"
#include "replay/req_headers.h"

#include <stdlib.h>

static client *mk(const char *name, int stream)
{
    client_opts o;
    memset(&o, 0, sizeof o);
    o.base_url = "http://127.0.0.1:1";
    o.stream = stream;
    o.force_output_len = 1;
    char err[256];
    client *c = client_new(client_find(name, NULL), &o, err, sizeof err);
    return c;
}

static int rec(trace_rec *r, const char *line)
{
    char err[256];
    memset(r, 0, sizeof *r);
    return trace_rec_parse(r, line, strlen(line), 0, err, sizeof err);
}

/* Builds the request for line and parses its body back. */
static cJSON *build(client *c, const char *line, client_request *cr)
{
    trace_rec r;
    char err[256];
    memset(cr, 0, sizeof *cr);
    cr->forced_output = -1;
    if (rec(&r, line) < 0) return NULL;
    int rc = c->ops->build(c, &r, cr, err, sizeof err);
    trace_rec_clear(&r);
    if (rc < 0) return NULL;
    return cJSON_Parse(cr->body.buf);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

TEST(client_registry_and_old_name)
{
    int renamed;
    CHECK(client_find("gateway", &renamed) && !renamed);
    CHECK(client_find("openai", &renamed) == client_find("gateway", NULL) && renamed);
    CHECK(client_find("vllm", NULL) && client_find("lmdeploy", NULL));
    CHECK(client_find("nope", NULL) == NULL);
}

TEST(vllm_forces_output_length_and_usage)
{
    client *c = mk("vllm", 1);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"model\":\"m\",\"input_tokens\":20,\"output_tokens\":7}", &cr);
    REQUIRE(b);
    CHECK_STR(cr.path, "/chat/completions");
    CHECK(cr.path_root == 0);
    CHECK_STR(cr.model, "m");
    CHECK_INT(num(b, "max_tokens"), 7);
    CHECK_INT(num(b, "min_tokens"), 7);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "ignore_eos")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    cJSON *so = cJSON_GetObjectItem(b, "stream_options");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(so, "include_usage")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(so, "continuous_usage_stats")));
    cJSON *msgs = cJSON_GetObjectItem(b, "messages");
    REQUIRE(cJSON_GetArraySize(msgs) == 1);
    CHECK_STR(str(cJSON_GetArrayItem(msgs, 0), "role"), "user");
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(request_model_kept_whole_and_freed)
{
    /* The model the log names is an exact copy, however long (a local
     * path used as the model name), and none is NULL, not "". */
    client *c = mk("vllm", 1);
    client_request cr;
    char name[301], line[600];
    memset(name, 'm', 300);
    name[300] = '\0';
    snprintf(line, sizeof line, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"model\":\"%s\","
             "\"input_tokens\":4,\"output_tokens\":2}", name);
    cJSON *b = build(c, line, &cr);
    REQUIRE(b);
    CHECK_STR(cr.model, name);
    client_request_set_model(&cr, "");
    CHECK(cr.model == NULL);
    client_request_set_model(&cr, "x");
    CHECK_STR(cr.model, "x");
    cJSON_Delete(b);
    client_request_free(&cr);
    CHECK(cr.model == NULL && cr.body.buf == NULL);
    client_free(c);
}

TEST(gateway_keeps_trace_body_and_adapts_api)
{
    client *c = mk("gateway", 1);
    client_request cr;
    const char *line = "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"body\":{\"model\":\"orig\",\"messages\":"
                       "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],"
                       "\"temperature\":0.25,\"x_extra\":[1]},\"output_tokens\":5}";
    cJSON *b = build(c, line, &cr);
    REQUIRE(b);
    CHECK_STR(str(b, "model"), "orig");
    CHECK(num(b, "temperature") == 0.25);
    CHECK(cJSON_GetObjectItem(b, "x_extra") != NULL);
    CHECK(cJSON_GetObjectItem(b, "min_tokens") == NULL);  /* gateway does not force */
    CHECK(cJSON_GetObjectItem(b, "ignore_eos") == NULL);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
    /* --api completions turns messages into a prompt. */
    client_opts o;
    memset(&o, 0, sizeof o);
    o.base_url = "http://x";
    o.stream = 0;
    o.api = "completions";
    o.model = "forced";
    char err[256];
    c = client_new(client_find("gateway", NULL), &o, err, sizeof err);
    b = build(c, line, &cr);
    REQUIRE(b);
    CHECK_STR(cr.path, "/completions");
    CHECK_STR(str(b, "prompt"), "be brief\nhi");
    CHECK_STR(str(b, "model"), "forced");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(b, "stream")));
    CHECK(cJSON_GetObjectItem(b, "stream_options") == NULL);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(lmdeploy_generate_body)
{
    client_opts o;
    memset(&o, 0, sizeof o);
    o.base_url = "http://x";
    o.stream = 1;
    o.force_output_len = 1;
    o.api = "generate";
    char err[256];
    client *c = client_new(client_find("lmdeploy", NULL), &o, err, sizeof err);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"session\":\"12\",\"api\":\"chat\",\"input_tokens\":9,\"output_tokens\":4}", &cr);
    REQUIRE(b);
    CHECK_STR(cr.path, "/generate");
    CHECK(cr.path_root == 1);
    CHECK(str(b, "prompt") != NULL);
    CHECK(cJSON_GetObjectItem(b, "messages") == NULL);
    CHECK(cJSON_GetObjectItem(b, "session_id") == NULL);     /* not by default */
    CHECK(cJSON_GetObjectItem(b, "min_new_tokens") == NULL); /* /generate has no such field */
    CHECK_INT(num(b, "max_tokens"), 4);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "ignore_eos")));
    CHECK_INT(cr.forced_output, 4);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

static int event(client *c, void *st, const char *data, client_event *ev)
{
    client_event_clear(ev);
    return c->ops->on_event(c, st, "message", data, strlen(data), ev);
}

TEST(openai_stream_events)
{
    client *c = mk("vllm", 1);
    char st[64] = {0};           /* the client's per-request state */
    client_event ev;
    /* Role-only first delta: not content. */
    CHECK_INT(event(c, &st, "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
                    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":0,\"total_tokens\":9}}", &ev), 0);
    CHECK(!ev.content);
    CHECK_INT(ev.prompt_tokens, 9);
    CHECK_INT(ev.completion_tokens, 0);
    CHECK_INT(event(c, &st, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hello\"}}],"
                    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}", &ev), 0);
    CHECK(ev.content);
    CHECK_INT(ev.text_len, 6);
    CHECK_INT(ev.completion_tokens, 1);
    /* Reasoning content counts as content. */
    CHECK_INT(event(c, &st, "{\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}", &ev), 0);
    CHECK(ev.content);
    /* Completions text. */
    CHECK_INT(event(c, &st, "{\"object\":\"text_completion\",\"choices\":[{\"text\":\" a\",\"finish_reason\":\"length\"}]}", &ev), 0);
    CHECK(ev.content);
    CHECK_STR(ev.finish_reason, "length");
    /* Final usage chunk: choices []. */
    CHECK_INT(event(c, &st, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":42}}", &ev), 0);
    CHECK(!ev.content);
    CHECK_INT(ev.completion_tokens, 42);
    CHECK_INT(event(c, &st, "[DONE]", &ev), 0);
    CHECK(ev.done);
    /* Errors: nested, flat, and garbage. */
    CHECK_INT(event(c, &st, "{\"error\":{\"message\":\"boom\",\"type\":\"x\",\"code\":500}}", &ev), 0);
    CHECK(ev.error);
    CHECK_STR(ev.errmsg, "boom (x, 500)");
    CHECK_INT(event(c, &st, "{\"object\":\"error\",\"message\":\"flat boom\",\"code\":400}", &ev), 0);
    CHECK(ev.error);
    CHECK_STR(ev.errmsg, "flat boom (400)");
    CHECK(event(c, &st, "not json", &ev) < 0);
    /* "event: error" with an error object, and with plain text. */
    static const char ej[] = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
    client_event_clear(&ev);
    CHECK_INT(c->ops->on_event(c, &st, "error", ej, strlen(ej), &ev), 0);
    CHECK(ev.error);
    CHECK_STR(ev.errmsg, "overloaded (server_error)");
    client_event_clear(&ev);
    CHECK_INT(c->ops->on_event(c, &st, "error", "upstream gone", 13, &ev), 0);
    CHECK(ev.error);
    CHECK_STR(ev.errmsg, "upstream gone");
    client_free(c);
}

TEST(lmdeploy_generate_events)
{
    client *c = mk("lmdeploy", 1);
    char st[256] = {0};          /* the client's per-request state */
    client_event ev;
    CHECK_INT(event(c, &st, "{\"text\":\" hi\",\"output_ids\":[5],\"meta_info\":{\"prompt_tokens\":4,"
                    "\"completion_tokens\":1,\"finish_reason\":null}}", &ev), 0);
    CHECK(ev.content);
    CHECK_INT(ev.completion_tokens, 1);
    CHECK_INT(ev.prompt_tokens, 4);
    CHECK_INT(event(c, &st, "{\"text\":\"\",\"output_ids\":[],\"meta_info\":{\"prompt_tokens\":4,"
                    "\"completion_tokens\":3,\"finish_reason\":{\"type\":\"length\"}}}", &ev), 0);
    CHECK(!ev.content);
    CHECK_STR(ev.finish_reason, "length");
    client_free(c);
}

TEST(error_messages_from_bodies)
{
    client *c = mk("gateway", 1);
    char msg[256];
    const char *e1 = "{\"error\":{\"message\":\"Invalid API key\",\"type\":\"invalid_request_error\"}}";
    c->ops->error_message(c, 401, e1, strlen(e1), msg, sizeof msg);
    CHECK_STR(msg, "Invalid API key (invalid_request_error)");
    const char *e2 = "{\"detail\":\"Not Found\"}";
    c->ops->error_message(c, 404, e2, strlen(e2), msg, sizeof msg);
    CHECK_STR(msg, "Not Found");
    c->ops->error_message(c, 502, "bad gateway", 11, msg, sizeof msg);
    CHECK_STR(msg, "HTTP 502: bad gateway");
    client_free(c);
}

TEST(openai_output_that_is_not_text_is_content)
{
    client *c = mk("gateway", 1);
    char st[64] = {0};           /* the client's per-request state */
    client_event ev;
    static const char *const content[] = {
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"function_call\":{\"arguments\":\"{\\\"\"}}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"Let me think\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Hmm\",\"content\":null}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"I can't\"}}]}",
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9}}",
    };
    for (size_t i = 0; i < sizeof content / sizeof *content; i++) {
        CHECK_INT(event(c, &st, content[i], &ev), 0);
        if (!ev.content) unit_fail(__FILE__, __LINE__, "not content: %s", content[i]);
        CHECK(ev.text == NULL); /* no visible text for the next turn */
    }
    static const char *const empty[] = {
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
        "\"reasoning_content\":null,\"tool_calls\":null}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[]},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":null}",
    };
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        CHECK_INT(event(c, &st, empty[i], &ev), 0);
        if (ev.content) unit_fail(__FILE__, __LINE__, "content: %s", empty[i]);
    }
    client_free(c);
}

TEST(openai_choices_by_index)
{
    client *c = mk("vllm", 1);
    char st[64] = {0};           /* the client's per-request state */
    client_event ev;
    CHECK_INT(event(c, &st, "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"}}]}", &ev), 0);
    CHECK(ev.content);
    CHECK_INT(ev.choice, 1);
    CHECK_INT(ev.content_choices, 2);
    /* Several choices in one chunk (LMDeploy's fan-out merges them); an
     * abort in any wins over a normal finish. */
    CHECK_INT(event(c, &st, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"abort\"},"
                    "{\"index\":2,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}]}", &ev), 0);
    CHECK_INT(ev.content_choices, 1);
    CHECK_INT(ev.seen_choices, 5);
    CHECK_STR(ev.finish_reason, "abort");
    /* Neither choices, usage nor an error: not an OpenAI response. */
    CHECK(event(c, &st, "{\"text\":\"hi\",\"meta_info\":{}}", &ev) < 0);
    CHECK_CONTAINS(ev.errmsg, "not an OpenAI completion");
    client_free(c);
}

TEST(generate_abort_keeps_the_servers_reason)
{
    client *c = mk("lmdeploy", 1);
    char st[256] = {0};          /* the client's per-request state */
    client_event ev;
    REQUIRE(c->ops->state_size <= sizeof st);
    /* SGLang's cumulative text: the abort chunk repeats it with no new
     * token, which is not content. */
    CHECK_INT(event(c, &st, "{\"text\":\"The\",\"output_ids\":[785],\"index\":1,\"meta_info\":{\"id\":\"x\","
                    "\"finish_reason\":null,\"prompt_tokens\":4,\"completion_tokens\":1}}", &ev), 0);
    CHECK(ev.content);
    CHECK_INT(ev.choice, 1);
    CHECK_INT(event(c, &st, "{\"text\":\"The\",\"output_ids\":[785],\"index\":1,\"meta_info\":{\"id\":\"x\","
                    "\"finish_reason\":{\"type\":\"abort\",\"message\":\"Abort before prefill\","
                    "\"status_code\":503},\"prompt_tokens\":4,\"completion_tokens\":1}}", &ev), 0);
    CHECK(!ev.content);
    CHECK(!ev.error);
    CHECK_STR(ev.finish_reason, "abort");
    CHECK_STR(ev.errmsg, "Abort before prefill");
    CHECK_INT(ev.seen_choices, 2);
    client_free(c);
}

TEST(error_shapes_make_readable_messages)
{
    client *c = mk("gateway", 1);
    char msg[256];
    static const struct { const char *body, *want; } cases[] = {
        {"{\"object\":\"error\",\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\","
         "\"param\":null,\"code\":404}", "The model `x` does not exist. (NotFoundError, 404)"},
        {"{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,"
         "\"code\":\"rate_limit_exceeded\"}}", "Rate limit reached (requests, rate_limit_exceeded)"},
        {"{\"error\":{\"message\":\"bad\"}}", "bad"},
        {"{\"error\":\"plain\"}", "plain"},
        {"{\"detail\":\"Method Not Allowed\"}", "Method Not Allowed"},
        {"{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"messages\"],\"msg\":\"Field required\","
         "\"input\":{}},{\"type\":\"int_parsing\",\"loc\":[\"body\",\"n\",0],\"msg\":\"Input should be a valid integer\"}]}",
         "body.messages: Field required; body.n.0: Input should be a valid integer"},
        {"<html>502 Bad Gateway</html>", "HTTP 500: <html>502 Bad Gateway</html>"},
        {"", "HTTP 500 with an empty body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        c->ops->error_message(c, 500, cases[i].body, strlen(cases[i].body), msg, sizeof msg);
        CHECK_STR(msg, cases[i].want);
    }
    client_free(c);
}

TEST(add_reply_replaces_the_last_assistant_message)
{
    client *c = mk("gateway", 1);
    cJSON *b = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"q1\"},{\"role\":\"assistant\","
                           "\"content\":\"orig\"},{\"role\":\"user\",\"content\":\"q2\"}]}");
    CHECK_INT(c->ops->add_reply(c, b, "actual reply", 12), 1);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), 1);
    CHECK_STR(str(m, "content"), "actual reply");
    cJSON_Delete(b);
    client_free(c);
}

/* ---- bodies replayed as captured ---- */

static client *mko(const char *name, const client_opts *o)
{
    char err[256];
    return client_new(client_find(name, NULL), o, err, sizeof err);
}

static void opts(client_opts *o, int stream)
{
    memset(o, 0, sizeof *o);
    o->base_url = "http://x";
    o->stream = stream;
    o->force_output_len = 1;
}

/* A captured chat record: non-streamed, max_completion_tokens, its exact
 * bytes (spaces, key order) in body_raw, its path under a gateway prefix. */
#define CAPTURED "{\"t_us\":0,\"id\":\"c1\",\"api\":\"chat\",\"output_tokens\":9," \
    "\"path\":\"/openai/v1/chat/completions\"," \
    "\"body\":{\"model\":\"orig\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," \
    "\"max_completion_tokens\":50,\"stream\":false}," \
    "\"body_raw\":\"{ \\\"model\\\": \\\"orig\\\", \\\"messages\\\": [{\\\"role\\\": \\\"user\\\", " \
    "\\\"content\\\": \\\"hi\\\"}], \\\"max_completion_tokens\\\": 50, \\\"stream\\\": false }\"}"

TEST(gateway_sends_the_captured_bytes)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, CAPTURED, &cr);
    REQUIRE(b);
    CHECK_STR(cr.body.buf, "{ \"model\": \"orig\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                           "\"max_completion_tokens\": 50, \"stream\": false }");
    CHECK_STR(cr.edits.buf, "[]");
    CHECK(cr.body_exact);
    CHECK_STR(cr.path, "/chat/completions");   /* the record's endpoint under the API base */
    CHECK(cr.path_root == 0);
    CHECK_INT(cr.forced_output, -1);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

/* Bytes that are not UTF-8 travel in body_b64: the trace's body shows
 * U+FFFD, the wire gets the exact bytes. Base64 of
 * {"model":"orig","messages":[{"role":"user","content":"caf\xe9"}]}
 * (a NUL byte is checked end to end in tests/hostile/json.sh). */
#define CAPTURED_B64 "{\"t_us\":0,\"id\":\"c2\",\"api\":\"chat\"," \
    "\"body\":{\"model\":\"orig\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xef\xbf\xbd\"}]}," \
    "\"body_b64\":\"eyJtb2RlbCI6Im9yaWciLCJtZXNzYWdlcyI6W3sicm9sZSI6InVzZXIiLCJjb250ZW50IjoiY2Fm6SJ9XX0=\"}"

TEST(gateway_sends_body_b64_bytes)
{
    static const char want[] = "{\"model\":\"orig\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"}]}";
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, CAPTURED_B64, &cr);
    REQUIRE(b);
    CHECK_STR(cr.edits.buf, "[]");
    CHECK(cr.body_exact);
    CHECK(cr.body.len == sizeof want - 1 && !memcmp(cr.body.buf, want, cr.body.len));
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(gateway_edits_only_what_is_asked)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    o.model = "other";
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, CAPTURED, &cr);
    REQUIRE(b);
    CHECK_STR(cr.edits.buf, "[\"model\"]");
    CHECK(!cr.body_exact);
    CHECK_STR(str(b, "model"), "other");
    CHECK_INT(num(b, "max_completion_tokens"), 50);
    CHECK(cJSON_GetObjectItem(b, "max_tokens") == NULL);   /* never beside max_completion_tokens */
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(b, "stream")));
    CHECK(cJSON_GetObjectItem(b, "stream_options") == NULL);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
    /* --stream on streams it, with usage */
    opts(&o, CLIENT_STREAM_ON);
    c = mko("gateway", &o);
    b = build(c, CAPTURED, &cr);
    REQUIRE(b);
    CHECK_STR(cr.edits.buf, "[\"stream\",\"stream_options\"]");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "stream_options"), "include_usage")));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "stream_options"), "continuous_usage_stats") == NULL);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(stream_off_drops_stream_options)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_OFF);
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"body\":{\"model\":\"m\",\"messages\":[],"
                        "\"stream\":true,\"stream_options\":{\"include_usage\":true}}}", &cr);
    REQUIRE(b);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(b, "stream")));
    CHECK(cJSON_GetObjectItem(b, "stream_options") == NULL);
    CHECK_STR(cr.edits.buf, "[\"stream\",\"stream_options\"]");
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
    /* as-sent keeps a streamed record streamed, exactly */
    opts(&o, CLIENT_STREAM_AS_SENT);
    c = mko("vllm", &o);
    o.force_output_len = 0;
    client_free(c);
    c = mko("vllm", &o);
    b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"output_tokens\":3,\"body\":{\"model\":\"m\","
                 "\"messages\":[],\"stream\":true}}", &cr);
    REQUIRE(b);
    CHECK_STR(cr.body.buf, "{\"model\":\"m\",\"messages\":[],\"stream\":true}");
    CHECK(cr.body_exact);
    CHECK_STR(cr.path, "/chat/completions");
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(synthesised_bodies_stream_with_usage)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"input_tokens\":12,\"output_tokens\":5}", &cr);
    REQUIRE(b);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "stream_options"), "include_usage")));
    CHECK_INT(num(b, "max_tokens"), 5);
    CHECK_STR(cr.edits.buf, "null");
    CHECK(!cr.body_exact);
    cJSON_Delete(b);
    client_request_free(&cr);
    /* a body made by prompt synthesis (trace materialize) has no original either */
    b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"body_synthetic\":true,\"body\":"
                 "{\"model\":\"m\",\"messages\":[]}}", &cr);
    REQUIRE(b);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    CHECK_STR(cr.edits.buf, "[\"stream\",\"stream_options\"]");
    CHECK(!cr.body_exact);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(record_path_endpoints)
{
    char out[128], err[256];
    int root = -1;
    CHECK_INT(openai_path_endpoint("/v1/chat/completions", out, sizeof out, &root, err, sizeof err), 0);
    CHECK_STR(out, "/chat/completions");
    CHECK(root == 0);
    CHECK_INT(openai_path_endpoint("/openai/v1/embeddings", out, sizeof out, &root, err, sizeof err), 0);
    CHECK_STR(out, "/embeddings");
    CHECK(root == 0);
    CHECK_INT(openai_path_endpoint("/generate", out, sizeof out, &root, err, sizeof err), 0);
    CHECK_STR(out, "/generate");
    CHECK(root == 1);
    CHECK_INT(openai_path_endpoint("/v2/x/v1/models?a=b", out, sizeof out, &root, err, sizeof err), 0);
    CHECK_STR(out, "/models?a=b");
    CHECK(openai_path_endpoint("/v1", out, sizeof out, &root, err, sizeof err) < 0);
    CHECK(openai_path_endpoint("/v1/../admin", out, sizeof out, &root, err, sizeof err) < 0);
    CHECK(openai_path_endpoint("http://evil/v1/x", out, sizeof out, &root, err, sizeof err) < 0);
    CHECK(openai_path_endpoint("/v1/chat\r\nX: y", out, sizeof out, &root, err, sizeof err) < 0);
    CHECK(openai_path_endpoint("//evil/v1/x", out, sizeof out, &root, err, sizeof err) < 0);
    CHECK_CONTAINS(err, "field 'path'");
    /* an embeddings record with a body and a path can be replayed */
    client_opts o;
    opts(&o, CLIENT_STREAM_ON);
    client *c = mko("gateway", &o);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"e\",\"api\":\"embeddings\",\"path\":\"/v1/embeddings\","
                        "\"body\":{\"model\":\"m\",\"input\":\"hello\"}}", &cr);
    REQUIRE(b);
    CHECK_STR(cr.path, "/embeddings");
    CHECK(cJSON_GetObjectItem(b, "stream") == NULL);   /* no stream on embeddings, even with on */
    CHECK(cr.body_exact);
    cJSON_Delete(b);
    client_request_free(&cr);
    CHECK(build(c, "{\"t_us\":0,\"id\":\"e\",\"api\":\"embeddings\",\"body\":{\"input\":\"x\"}}", &cr) == NULL);
    client_request_free(&cr);
    client_free(c);
}

TEST(forced_lengths_use_the_bodys_field)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    client *c = mko("vllm", &o);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"output_tokens\":7,\"body\":{\"model\":\"m\","
                        "\"messages\":[],\"max_completion_tokens\":999}}", &cr);
    REQUIRE(b);
    CHECK_INT(num(b, "max_completion_tokens"), 7);
    CHECK(cJSON_GetObjectItem(b, "max_tokens") == NULL);
    CHECK_INT(num(b, "min_tokens"), 7);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "ignore_eos")));
    CHECK_INT(cr.forced_output, 7);
    CHECK_STR(cr.edits.buf, "[\"max_completion_tokens\",\"min_tokens\",\"ignore_eos\"]");
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
    /* lmdeploy: both fields present, both set; min_new_tokens on chat; no session_id */
    c = mko("lmdeploy", &o);
    b = build(c, "{\"t_us\":0,\"id\":\"a\",\"session\":\"3\",\"api\":\"chat\",\"output_tokens\":5,\"body\":"
                 "{\"model\":\"m\",\"messages\":[],\"max_completion_tokens\":100,\"max_tokens\":100}}", &cr);
    REQUIRE(b);
    CHECK_INT(num(b, "max_completion_tokens"), 5);
    CHECK_INT(num(b, "max_tokens"), 5);
    CHECK_INT(num(b, "min_new_tokens"), 5);
    CHECK(cJSON_GetObjectItem(b, "session_id") == NULL);
    CHECK_STR(cr.path, "/chat/completions");   /* a chat record keeps its chat template */
    CHECK_INT(cr.forced_output, 5);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
    /* unforced: nothing forced, nothing added */
    o.force_output_len = 0;
    o.lmdeploy_session_id = 1;
    c = mko("lmdeploy", &o);
    b = build(c, "{\"t_us\":0,\"id\":\"a\",\"session\":\"3\",\"api\":\"chat\",\"output_tokens\":5,\"body\":"
                 "{\"model\":\"m\",\"messages\":[]}}", &cr);
    REQUIRE(b);
    CHECK(cJSON_GetObjectItem(b, "max_tokens") == NULL);
    CHECK_INT(num(b, "session_id"), 3);   /* asked for with --lmdeploy-session-id */
    CHECK_INT(cr.forced_output, -1);
    CHECK_STR(cr.edits.buf, "[\"session_id\"]");
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(lmdeploy_generate_maps_token_ids)
{
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    o.api = "generate";
    client *c = mko("lmdeploy", &o);
    client_request cr;
    cJSON *b = build(c, "{\"t_us\":0,\"id\":\"a\",\"api\":\"completions\",\"output_tokens\":2,\"body\":"
                        "{\"model\":\"m\",\"prompt\":[1,2,3],\"max_completion_tokens\":40}}", &cr);
    REQUIRE(b);
    CHECK_STR(cr.path, "/generate");
    CHECK(cr.path_root == 1);
    CHECK(cJSON_GetObjectItem(b, "prompt") == NULL);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "input_ids")), 3);
    CHECK(cJSON_GetObjectItem(b, "max_completion_tokens") == NULL);
    CHECK_INT(num(b, "max_tokens"), 2);
    CHECK(cJSON_GetObjectItem(b, "model") == NULL);
    cJSON_Delete(b);
    client_request_free(&cr);
    client_free(c);
}

TEST(edits_are_against_the_captured_bytes)
{
    /* A body changed after it was read (a dependent session's reply) is
     * not sent as its stale captured bytes. */
    client_opts o;
    opts(&o, CLIENT_STREAM_AS_SENT);
    client *c = mko("gateway", &o);
    trace_rec r;
    REQUIRE(rec(&r, "{\"t_us\":0,\"id\":\"a\",\"api\":\"chat\",\"body\":{\"model\":\"m\",\"messages\":"
                    "[{\"role\":\"assistant\",\"content\":\"old\"}]},\"body_raw\":\"{\\\"model\\\":\\\"m\\\", "
                    "\\\"messages\\\":[{\\\"role\\\":\\\"assistant\\\",\\\"content\\\":\\\"old\\\"}]}\"}") == 0);
    CHECK_INT(c->ops->add_reply(c, (cJSON *)r.body, "new", 3), 1);
    client_request cr;
    char err[256];
    memset(&cr, 0, sizeof cr);
    REQUIRE(c->ops->build(c, &r, &cr, err, sizeof err) == 0);
    CHECK_STR(cr.edits.buf, "[\"messages\"]");
    CHECK(!cr.body_exact);
    CHECK(strstr(cr.body.buf, "\"new\"") != NULL);
    client_request_free(&cr);
    trace_rec_clear(&r);
    client_free(c);
}

TEST(replayed_headers_never_carry_secrets)
{
    CHECK(header_rule_secret("Authorization", 13));
    CHECK(header_rule_secret("x-goog-api-key", 14));
    CHECK(header_rule_secret("Proxy-Authorization", 19));
    CHECK(header_rule_framing("Transfer-Encoding", 17));
    CHECK(header_rule_kept("User-Agent", 10));
    CHECK(header_rule_listed(" a , X-Trace ,b", "x-trace", 7));
    CHECK(!header_rule_listed("x-tracer", "x-trace", 7));
    client_opts o;
    memset(&o, 0, sizeof o);
    o.replay_headers = 1;
    struct curl_slist *run = curl_slist_append(NULL, "Content-Type: application/json");
    run = curl_slist_append(run, "X-Tenant: mine");
    cJSON *h = cJSON_Parse("{\"authorization\":\"Bearer s\",\"cookie\":\"c\",\"api-key\":\"k\","
                           "\"host\":\"h\",\"content-length\":\"9\",\"accept-encoding\":\"gzip\","
                           "\"content-type\":\"text/plain\",\"x-tenant\":\"theirs\",\"user-agent\":\"ua/1\","
                           "\"x-trace\":\"t1\",\"x-bad\":\"a\\r\\nInjected: 1\"}");
    REQUIRE(h);
    int n = -1;
    struct curl_slist *l = req_headers_list(&o, run, h, &n);
    CHECK_INT(n, 2);   /* user-agent and x-trace only */
    strbuf all = {0};
    for (const struct curl_slist *p = l; p; p = p->next) sb_printf(&all, "%s\n", p->data);
    CHECK_STR(all.buf, "Content-Type: application/json\nX-Tenant: mine\nuser-agent: ua/1\nx-trace: t1\n");
    sb_free(&all);
    curl_slist_free_all(l);
    o.headers_deny = "X-Trace,user-agent";
    CHECK(req_headers_list(&o, run, h, &n) == NULL);   /* nothing passes: the run's list is used */
    CHECK_INT(n, 0);
    o.headers_deny = NULL;
    o.headers_allow = "authorization,x-trace";          /* allowing a secret does not send it */
    l = req_headers_list(&o, run, h, &n);
    CHECK_INT(n, 1);
    curl_slist_free_all(l);
    cJSON_Delete(h);
    curl_slist_free_all(run);
}
