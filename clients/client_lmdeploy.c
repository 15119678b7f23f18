/* client_lmdeploy.c — the `lmdeploy` client: LMDeploy's api_server.
 *
 * Records go to the OpenAI endpoint of their api (chat records to
 * /v1/chat/completions, where the server applies the model's chat
 * template). Forcing the trace's output length (off with
 * --no-force-output-len) sets ignore_eos and the cap in whichever field
 * the body uses (LMDeploy reads max_completion_tokens before max_tokens:
 * InternLM/lmdeploy@1263d5cd, lmdeploy/serve/openai/endpoints/common.py),
 * plus min_new_tokens on chat, the only request that has it
 * (lmdeploy/serve/openai/protocol.py, ChatCompletionRequest).
 *
 * session_id is not sent unless --lmdeploy-session-id asks: the server maps
 * a user session_id to one of its own and refuses a second request with an
 * id still in use ("The session_id N is occupied.", 400, from
 * chat_completions/validation.py, endpoints/completions.py and
 * endpoints/generate.py, which test the id against the server's own
 * session ids, so a small number can also collide with an unrelated
 * request), and SessionManager.map_user_session_id raises for an id
 * already mapped (lmdeploy/serve/managers/session_manager.py), a 500. The
 * server removes a session when its request ends (AsyncEngine.generate in
 * lmdeploy/serve/core/async_engine.py), so nothing is kept for the next
 * turn and the field buys a replay nothing (all at InternLM/lmdeploy@1263d5cd).
 *
 * `--api generate` uses the native POST /generate (GenerateReqInput:
 * prompt or input_ids, max_tokens, ignore_eos, stream; no chat template,
 * so chat messages are joined into one prompt):
 *   data: {"text": DELTA, "output_ids": [...], "meta_info": {"prompt_tokens",
 *          "completion_tokens" (cumulative), "finish_reason"}}
 * whose cumulative completion_tokens give per-token ITL. Errors come as
 * flat objects {"message", "type", "code", "param", "object": "error"}. */
#include "clients/client.h"
#include "clients/openai.h"
#include "common/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t session_number(const trace_rec *r)
{
    if (!r->session) return -1;
    char *end;
    long long v = strtoll(r->session, &end, 10);
    if (!*end && v >= 0 && v <= INT32_MAX) return v;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = r->session; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (int64_t)(mix64(h) & 0x7fffffff);
}

static void put(cJSON *body, const char *key, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, key);
    cJSON_AddItemToObject(body, key, v);
}

/* Is v a non-empty array of integers (a token-id prompt)? */
static int token_ids(const cJSON *v)
{
    if (!cJSON_IsArray(v) || !v->child) return 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, v)
        if (!cJSON_IsNumber(t) || t->valuedouble != (double)(int64_t)t->valuedouble) return 0;
    return 1;
}

/* The native /generate shape (GenerateReqInput): no model, no
 * stream_options, the cap in max_tokens, token ids as input_ids. */
static void generate_shape(cJSON *body)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
    cJSON *mct = cJSON_DetachItemFromObjectCaseSensitive(body, "max_completion_tokens");
    if (mct && !cJSON_GetObjectItemCaseSensitive(body, "max_tokens"))
        cJSON_AddItemToObject(body, "max_tokens", mct);
    else
        cJSON_Delete(mct);
    cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    if (token_ids(prompt) && !cJSON_GetObjectItemCaseSensitive(body, "input_ids"))
        cJSON_AddItemToObject(body, "input_ids", cJSON_DetachItemViaPointer(body, prompt));
}

static int lmdeploy_build(const client *c, const trace_rec *r, client_request *out,
                          char *err, size_t errlen)
{
    cJSON *body;
    const char *api = c->opt.api ? c->opt.api : r->api;
    int rc = openai_build(c, r, api, out, &body, err, errlen);
    if (rc) return rc;
    int gen = !strcmp(out->api, "generate");
    if (gen) generate_shape(body);
    if (c->opt.force_output_len && r->output_tokens > 0)
        openai_force_output_len(body, r->output_tokens,
                                !strcmp(out->api, "chat") ? "min_new_tokens" : NULL, out);
    int64_t sid = c->opt.lmdeploy_session_id ? session_number(r) : -1;
    if (sid >= 0) put(body, "session_id", cJSON_CreateNumber((double)sid));
    openai_finish_body(r, body, out);
    return 0;
}

/* The native /generate shape (LMDeploy's, and SGLang's, which this parser
 * also reads): {"text", "output_ids", "meta_info": {"prompt_tokens",
 * "completion_tokens" (cumulative), "finish_reason": null | {"type": T,
 * "message"?: ...}}, "index"? (SGLang, n > 1)}. */
/* Per-request state: the last running token count of the native stream. */
typedef struct lmdeploy_state {
    int64_t ct_prev;             /* meta_info.completion_tokens so far */
} lmdeploy_state;

/* Content is a chunk that delivers text or token ids. SGLang's native text
 * is cumulative by default, so a chunk that repeats it without new tokens
 * (an abort, a finish) is not content: when meta_info counts tokens, the
 * count must also have grown. */
static int generate_event(lmdeploy_state *st, const cJSON *doc, client_event *ev)
{
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(doc, "meta_info");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(doc, "output_ids");
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(doc, "index");
    int index = cJSON_IsNumber(ix) && ix->valueint > 0 ? (ix->valueint > 63 ? 63 : ix->valueint) : 0;
    ev->seen_choices = 1ull << index;
    /* tokens without decoded text still are output */
    ev->content = (cJSON_IsString(t) && t->valuestring[0]) ||
                  (cJSON_IsArray(ids) && cJSON_GetArraySize(ids) > 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(mi, "completion_tokens");
    if (cJSON_IsNumber(v)) {
        ev->completion_tokens = (int64_t)v->valuedouble;
        if (ev->completion_tokens <= st->ct_prev) ev->content = 0;
        else st->ct_prev = ev->completion_tokens;
    }
    if (ev->content && cJSON_IsString(t) && t->valuestring[0]) {
        ev->text = t->valuestring;
        ev->text_len = strlen(t->valuestring);
    }
    if (ev->content) {
        ev->choice = index;
        ev->content_choices = ev->seen_choices;
    }
    v = cJSON_GetObjectItemCaseSensitive(mi, "prompt_tokens");
    if (cJSON_IsNumber(v)) ev->prompt_tokens = (int64_t)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(mi, "finish_reason");
    if (cJSON_IsString(v)) {
        ev->finish_reason = v->valuestring;
    } else if (cJSON_IsObject(v)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(v, "type");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "message");
        if (cJSON_IsString(ty)) ev->finish_reason = ty->valuestring;
        if (cJSON_IsString(m)) snprintf(ev->errmsg, sizeof ev->errmsg, "%s", m->valuestring);
    }
    return 0;
}

static int lmdeploy_on_event(const client *c, void *state, const char *type, const char *data,
                             size_t len, client_event *ev)
{
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        ev->done = 1;
        return 0;
    }
    /* /generate chunks have meta_info; everything else is OpenAI-shaped. */
    if (!memmem(data, len, "\"meta_info\"", 11)) return openai_on_event(c, state, type, data, len, ev);
    const cJSON *doc = openai_parse_doc(data, len);
    if (!cJSON_IsObject(doc)) {
        snprintf(ev->errmsg, sizeof ev->errmsg, "unparseable JSON in the /generate stream: %.80s", data);
        return ERR_INPUT;
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "meta_info")))
        return openai_on_event(c, state, type, data, len, ev);
    return generate_event(state, doc, ev);
}

/* A non-streamed response: /generate's has meta_info, the rest are OpenAI-shaped. */
static int lmdeploy_on_body(const client *c, void *state, const char *data, size_t len,
                            client_event *ev)
{
    return lmdeploy_on_event(c, state, NULL, data, len, ev);
}

const client_ops client_lmdeploy = {
    .name = "lmdeploy",
    .summary = "LMDeploy's api_server: OpenAI endpoints and native /generate",
    .body_edits = "as the gateway client (records go to the endpoint of their api, or --api), "
                  "plus, unless --no-force-output-len, for records with an output length: "
                  "ignore_eos, the cap (max_completion_tokens and/or max_tokens, whichever the "
                  "body uses) and on chat min_new_tokens = the trace's output length; with "
                  "--lmdeploy-session-id, session_id; with --api generate the native shape "
                  "(messages joined into prompt without the chat template, token-id prompt as "
                  "input_ids, max_completion_tokens as max_tokens, no model or stream_options).",
    .state_size = sizeof(lmdeploy_state),
    .build = lmdeploy_build,
    .on_event = lmdeploy_on_event,
    .on_body = lmdeploy_on_body,
    .error_message = openai_error_message,
    .add_reply = openai_add_reply,
};
