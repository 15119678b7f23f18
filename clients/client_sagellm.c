/* client_sagellm.c — the `sagellm` client: an inference engine called
 * in-process, with no HTTP in between (what sagellm-benchmark's
 * SageLLMClient does), through the engine interface of
 * include/sagellm/engine_abi.h. `--engine sim|PATH.so|python:MODULE:FACTORY`
 * names the engine (clients/engine_host.h), `--engine-config` /
 * `--engine-opt` its configuration.
 *
 * build() makes the same body the vllm client sends (the record's body, or
 * a synthesised prompt for length-only records; with the trace's output
 * length forced unless --no-force-output-len), so the request log shows
 * what was asked; submit() turns it into an engine request. Tokens go from
 * the engine's thread to the replay's sink with one call and no allocation
 * or lock; the engine's own times come with done. */
#include "clients/client.h"
#include "clients/openai.h"
#include "clients/engine_host.h"
#include "common/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-request state: the engine's handle, for cancel. */
typedef struct sagellm_state {
    int64_t handle;
} sagellm_state;

static int sagellm_init(client *c, char *err, size_t errlen)
{
    if (!c->opt.engine || !*c->opt.engine) {
        errf(err, errlen, "the sagellm client needs --engine: sim (the built-in engine), "
             "PATH.so (an engine library) or python:MODULE:FACTORY");
        return ERR_USAGE;
    }
    engine_host *h = engine_host_open(c->opt.engine, c->opt.engine_config, err, errlen);
    if (!h) return ERR_USAGE;
    int rc = engine_host_start(h, err, errlen);
    if (rc < 0) {
        engine_host_close(h);
        return rc;
    }
    c->priv = h;
    return 0;
}

static void sagellm_cleanup(client *c)
{
    engine_host_close(c->priv);
    c->priv = NULL;
}

static int sagellm_build(const client *c, const trace_rec *r, client_request *out,
                         char *err, size_t errlen)
{
    cJSON *body;
    const char *api = c->opt.api ? c->opt.api : r->api;
    if (!strcmp(api, "generate")) api = "completions";
    int rc = openai_build(c, r, api, out, &body, err, errlen);
    if (rc) return rc;
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    if (c->opt.force_output_len && r->output_tokens > 0)
        openai_force_output_len(body, r->output_tokens, "min_tokens", out);
    openai_finish_body(r, body, out);
    out->method = "SUBMIT";
    out->path[0] = '\0';
    return 0;
}

/* ---- the engine's callbacks: straight to the replay's sink ---- */

/* The engine's own token time (engine_ns) has no place in the request's
 * record (docs/metrics.md: the engine object holds its first-token and
 * finish times, which on_done gives), so it goes no further. */
static void on_tokens(void *user, int64_t n, const char *text, size_t len, int64_t engine_ns)
{
    const client_sink *sink = user;
    sink->tokens(sink->user, n, text, len);
}

static void on_done(void *user, const sagellm_result *r)
{
    client_done d;
    client_done_clear(&d);
    d.finish_reason = r->finish_reason;
    d.error = r->error;
#define TAKE(m) if (SAGELLM_HAS_FIELD(r, sagellm_result, m)) d.m = r->m
    TAKE(prompt_tokens);
    TAKE(completion_tokens);
    TAKE(t_queued_ns);
    TAKE(t_scheduled_ns);
    TAKE(t_first_token_ns);
    TAKE(t_finished_ns);
    TAKE(queue_ns);
    TAKE(prefill_ns);
    TAKE(decode_ns);
#undef TAKE
    const client_sink *sink = user;
    sink->done(sink->user, &d);
}

static const sagellm_callbacks callbacks = {
    .struct_size = sizeof(sagellm_callbacks),
    .on_tokens = on_tokens,
    .on_done = on_done,
};

/* The text of chat messages joined by newlines (the prompt for engines
 * without a chat template). */
static void join_messages(const cJSON *messages, strbuf *b)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(content)) {
            if (b->len) sb_addc(b, '\n');
            sb_adds(b, content->valuestring);
        } else if (cJSON_IsArray(content)) {
            const cJSON *part;
            cJSON_ArrayForEach(part, content) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
                if (cJSON_IsString(t)) {
                    if (b->len) sb_addc(b, '\n');
                    sb_adds(b, t->valuestring);
                }
            }
        }
    }
    sb_addc(b, '\0');
    b->len--;
}

/* body[key] when it is a whole number, else dflt. */
static int64_t body_int(const cJSON *body, const char *key, int64_t dflt)
{
    int64_t v;
    return jsonw_int(cJSON_GetObjectItemCaseSensitive(body, key), INT64_MIN / 2, INT64_MAX / 2,
                     &v) ? dflt : v;
}

static double body_num(const cJSON *body, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Token ids of a "prompt": [1, 2, ...]. Returns 1 and a malloc'd array, 0
 * when prompt is not a list of numbers. */
static int prompt_ids(const cJSON *prompt, uint32_t **ids, size_t *n)
{
    if (!cJSON_IsArray(prompt) || !prompt->child || !cJSON_IsNumber(prompt->child)) return 0;
    size_t k = (size_t)cJSON_GetArraySize(prompt), i = 0;
    *ids = xmalloc(k * sizeof **ids);
    const cJSON *v;
    cJSON_ArrayForEach(v, prompt) (*ids)[i++] = cJSON_IsNumber(v) && v->valuedouble >= 0
                                                ? (uint32_t)v->valuedouble : 0;
    *n = k;
    return 1;
}

/* The per-request half of submit, given the request's state (for cancel)
 * when the replay passes it. */
static int submit_request(const client *c, const trace_rec *r, const client_request *req,
                          sagellm_state *st, const client_sink *sink, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *body = cJSON_ParseWithLengthOpts(req->body.buf ? req->body.buf : "", req->body.len,
                                            &end, 0);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        errf(err, errlen, "record %s: the request body is not a JSON object", r->id);
        return ERR_INPUT;
    }
    sagellm_request q;
    sagellm_request_init(&q);
    strbuf text = {0};
    char *msgs_json = NULL;
    uint32_t *ids = NULL;
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) == 1) prompt = prompt->child;
    if (cJSON_IsArray(messages)) {
        msgs_json = cJSON_PrintUnformatted(messages);
        join_messages(messages, &text);
        q.messages_json = msgs_json;
        q.prompt = text.buf;
        q.prompt_len = text.len;
    } else if (cJSON_IsString(prompt)) {
        q.prompt = prompt->valuestring;
        q.prompt_len = strlen(prompt->valuestring);
    } else if (!prompt_ids(prompt, &ids, &q.n_prompt_ids)) {
        cJSON_Delete(body);
        errf(err, errlen, "record %s: the body has neither 'messages' nor a 'prompt' (text or "
             "token ids)", r->id);
        return ERR_INPUT;
    }
    q.prompt_ids = ids;
    q.max_tokens = body_int(body, "max_tokens", body_int(body, "max_completion_tokens", 0));
    q.min_tokens = body_int(body, "min_tokens", 0);
    q.ignore_eos = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "ignore_eos"));
    q.temperature = body_num(body, "temperature", -1);
    q.top_p = body_num(body, "top_p", -1);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(body, "seed");
    if (cJSON_IsNumber(seed)) {
        q.has_seed = 1;
        q.seed = (uint64_t)(int64_t)seed->valuedouble;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (cJSON_IsString(model)) q.model = model->valuestring;
    char trace_id[96];
    snprintf(trace_id, sizeof trace_id, "sagellm-bench-%s", r->id);
    q.request_id = r->id;
    q.trace_id = trace_id;
    /* Everything above is copied by the engine before submit returns. */
    int64_t h = engine_host_submit(c->priv, &q, &callbacks, (void *)sink, err, errlen);
    cJSON_Delete(body);
    cJSON_free(msgs_json);
    sb_free(&text);
    free(ids);
    if (h < 0) return (int)h;
    if (st) st->handle = h;
    return 0;
}

static int sagellm_submit(const client *c, const trace_rec *r, const client_request *req,
                          void *state, const client_sink *sink, char *err, size_t errlen)
{
    return submit_request(c, r, req, state, sink, err, errlen);
}

static void sagellm_cancel(const client *c, void *state)
{
    const sagellm_state *st = state;
    if (st->handle > 0) engine_host_cancel(c->priv, st->handle);
}

const client_ops client_sagellm = {
    .name = "sagellm",
    .summary = "an inference engine in-process (--engine sim|PATH.so|python:MODULE:FACTORY)",
    .body_edits = "the vllm client's body without stream and stream_options (an in-process "
                  "request has no transport to stream over).",
    .state_size = sizeof(sagellm_state),
    .init = sagellm_init,
    .build = sagellm_build,
    .add_reply = openai_add_reply,
    .submit = sagellm_submit,
    .cancel = sagellm_cancel,
    .cleanup = sagellm_cleanup,
};
