/* server_openai.c — POST /v1/chat/completions and /v1/completions in the
 * shapes of each profile's real server: vLLM (role-only first chunk,
 * finish_reason and stop_reason on the last token's chunk,
 * continuous_usage_stats), LMDeploy (role in every delta, a last chunk
 * without text for the finish reason; 0.16 drops null fields, 0.12 keeps
 * them and puts the usage in that last chunk) and OpenAI behind a gateway
 * (system_fingerprint, a separate finishing chunk with an empty delta).
 * With stream_options.include_usage they end with a usage chunk whose
 * "choices" is [] (not LMDeploy 0.12), then "data: [DONE]". Reasoning and
 * tool calls are in server_chat.c. */
#include "engine/server_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int server_get_int(cJSON *o, const char *name, int64_t min, int64_t *out, int *present,
                   char *msg, size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (present) *present = 0;
    if (!v || cJSON_IsNull(v)) return 0;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9e15) {
        errf(msg, msglen, "'%s' must be an integer", name);
        return -1;
    }
    if ((int64_t)d < min) {
        errf(msg, msglen, "'%s' must be at least %lld, got %lld", name, (long long)min,
             (long long)d);
        return -1;
    }
    *out = (int64_t)d;
    if (present) *present = 1;
    return 0;
}

int server_get_bool(cJSON *o, const char *name, int *out, char *msg, size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) {
        errf(msg, msglen, "'%s' must be true or false", name);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

int server_get_ids(cJSON *a, const char *name, uint32_t **ids, size_t *n, char *msg, size_t msglen)
{
    int len = cJSON_GetArraySize(a);
    uint32_t *v = xmalloc((size_t)(len ? len : 1) * sizeof *v);
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || d != floor(d) || d < 0 || d > 4294967295.0) {
            free(v);
            errf(msg, msglen, "'%s' must be a list of token ids (integers >= 0)", name);
            return -1;
        }
        v[i] = (uint32_t)d;
    }
    *ids = v;
    *n = (size_t)len;
    return 0;
}

/* Appends one message's content (a string, or a list of text parts). */
static int add_content(strbuf *p, const cJSON *c, int i, char *msg, size_t msglen)
{
    if (!c || cJSON_IsNull(c)) return 0;
    if (cJSON_IsString(c)) {
        sb_adds(p, c->valuestring);
        return 0;
    }
    if (cJSON_IsArray(c)) {
        for (const cJSON *part = c->child; part; part = part->next) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
                errf(msg, msglen, "messages[%d].content: only text parts ({\"type\": \"text\", "
                     "\"text\": ...}) are supported by the simulated engine", i);
                return -1;
            }
            sb_adds(p, text->valuestring);
        }
        return 0;
    }
    errf(msg, msglen, "messages[%d].content must be a string or a list of content parts", i);
    return -1;
}

/* The chat template: ChatML, the rendered text whose tokens are counted. */
static int render_chat(cJSON *msgs, strbuf *p, char *msg, size_t msglen)
{
    if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs)) {
        errf(msg, msglen, "'messages' must be a non-empty list of messages");
        return -1;
    }
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            errf(msg, msglen, "messages[%d] must be an object with a string 'role'", i);
            return -1;
        }
        sb_printf(p, "<|im_start|>%s\n", role->valuestring);
        if (add_content(p, cJSON_GetObjectItemCaseSensitive(m, "content"), i, msg, msglen)) return -1;
        sb_adds(p, "<|im_end|>\n");
    }
    sb_adds(p, "<|im_start|>assistant\n");
    return 0;
}

static int parse_prompt(cJSON *pr, sim_engine_request *r, strbuf *p, uint32_t **ids,
                        char *msg, size_t msglen)
{
    if (cJSON_IsArray(pr) && cJSON_GetArraySize(pr) == 1 &&
        (cJSON_IsString(pr->child) || cJSON_IsArray(pr->child)))
        pr = pr->child;                       /* a batch of one */
    if (cJSON_IsString(pr)) {
        sb_adds(p, pr->valuestring);
        return 0;
    }
    if (cJSON_IsArray(pr) && (!pr->child || cJSON_IsNumber(pr->child))) {
        size_t n;
        if (server_get_ids(pr, "prompt", ids, &n, msg, msglen)) return -1;
        r->prompt_ids = *ids;
        r->n_prompt_ids = n;
        return 0;
    }
    if (cJSON_IsArray(pr)) {
        errf(msg, msglen, "batched prompts (a list of %d prompts) are not supported by the "
             "simulated engine: send one request per prompt", cJSON_GetArraySize(pr));
        return -1;
    }
    errf(msg, msglen, "'prompt' must be a string, a list of token ids, or a list of one of them");
    return -1;
}

/* Each parse_* step below reads some fields of a request body; it returns
 * 0, or the HTTP status of the error response with msg, and *param naming
 * the field. FIELD runs a server_get_* call for a field and returns 400
 * when it fails. */
#define FIELD(name, call) do { *param = (name); if (call) return 400; } while (0)

/* 'model': the server's own, or (but for the gateway) none. */
static int parse_model(xch *x, cJSON *body, char *msg, size_t msglen, const char **param)
{
    struct server *s = x->srv;
    server_api api = s->cfg.api;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    *param = "model";
    if (model && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model)) {
            errf(msg, msglen, "'model' must be a string");
            return 400;
        }
        if (strcmp(model->valuestring, s->model)) {
            if (api == SERVER_API_LMDEPLOY)     /* f'The model {request.model!r} does not exist.' */
                errf(msg, msglen, strchr(model->valuestring, '\'') && !strchr(model->valuestring, '"')
                     ? "The model \"%.200s\" does not exist." : "The model '%.200s' does not exist.",
                     model->valuestring);
            else
                errf(msg, msglen, "The model `%.200s` does not exist.", model->valuestring);
            return 404;
        }
    } else if (api == SERVER_API_GATEWAY) {
        errf(msg, msglen, "you must provide a model parameter");
        return 400;
    }
    return 0;
}

/* stream, stream_options and n. */
static int parse_stream(xch *x, cJSON *body, char *msg, size_t msglen, const char **param)
{
    struct server *s = x->srv;
    server_api api = s->cfg.api;
    FIELD("stream", server_get_bool(body, "stream", &x->stream, msg, msglen));
    cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    *param = "stream_options";
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) {
            errf(msg, msglen, "'stream_options' must be an object");
            return 400;
        }
        if (!x->stream) {
            errf(msg, msglen, "Stream options can only be defined when `stream=True`.");
            return 400;
        }
        FIELD("stream_options", server_get_bool(so, "include_usage", &x->include_usage, msg, msglen));
        if (api == SERVER_API_VLLM)
            FIELD("stream_options", server_get_bool(so, "continuous_usage_stats",
                                                    &x->continuous_usage, msg, msglen));
    }
    int64_t n = 1;
    FIELD("n", server_get_int(body, "n", 1, &n, NULL, msg, msglen));
    if (n > 1 && api == SERVER_API_LMDEPLOY && s->cfg.lmdeploy_minor < 16)
        n = 1;                         /* 0.12: "n > 1 hasn't been supported yet. Fallback to 1" */
    if (n != 1 && (api == SERVER_API_LMDEPLOY || n > 64)) {
        errf(msg, msglen, api == SERVER_API_LMDEPLOY
             ? "n > 1 is not supported by the simulated engine with the lmdeploy API"
             : "n above 64 is not supported by the simulated engine");
        return 400;
    }
    x->n = (int)n;
    return 0;
}

/* The output length, seed, and the engines' own fields (min tokens,
 * ignore_eos, LMDeploy's session_id). */
static int parse_sampling(xch *x, cJSON *body, sim_engine_request *r, char *msg, size_t msglen,
                          const char **param)
{
    struct server *s = x->srv;
    server_api api = s->cfg.api;
    int chat = x->ep == EP_CHAT, present;
    FIELD("max_tokens", server_get_int(body, "max_tokens", 1, &r->max_tokens, &present, msg, msglen));
    if (!present && !chat && api != SERVER_API_LMDEPLOY) {
        /* vLLM's CompletionRequest.max_tokens defaults to 16, as OpenAI's
         * completions do; a server default (generation config) caps it. */
        int64_t d = sim_engine_config(s->engine)->default_max_tokens;
        r->max_tokens = d > 0 && d < 16 ? d : 16;
    }
    if (chat)
        FIELD("max_completion_tokens", server_get_int(body, "max_completion_tokens", 1,
                                                      &r->max_tokens, NULL, msg, msglen));
    int64_t seed;
    FIELD("seed", server_get_int(body, "seed", INT64_MIN + 1, &seed, &present, msg, msglen));
    if (present) {
        r->has_seed = 1;
        r->seed = (uint64_t)seed;
    }
    if (api != SERVER_API_GATEWAY) {
        const char *mt = api == SERVER_API_VLLM ? "min_tokens" : "min_new_tokens";
        FIELD(mt, server_get_int(body, mt, 0, &r->min_tokens, NULL, msg, msglen));
        FIELD("ignore_eos", server_get_bool(body, "ignore_eos", &r->ignore_eos, msg, msglen));
        if (r->max_tokens && r->min_tokens > r->max_tokens) {
            *param = mt;
            errf(msg, msglen, "%s must be less than or equal to max_tokens=%lld, got %lld.", mt,
                 (long long)r->max_tokens, (long long)r->min_tokens);
            return 400;
        }
    }
    if (api == SERVER_API_LMDEPLOY)
        FIELD("session_id", server_get_int(body, "session_id", INT64_MIN + 1, &x->session_id,
                                           NULL, msg, msglen));
    return 0;
}

/* The input: chat messages, or a prompt (text or token ids). */
static int parse_input(xch *x, cJSON *body, sim_engine_request *r, strbuf *prompt,
                       uint32_t **ids, char *msg, size_t msglen, const char **param)
{
    if (x->ep == EP_CHAT) {
        *param = "messages";
        if (render_chat(cJSON_GetObjectItemCaseSensitive(body, "messages"), prompt, msg, msglen))
            return 400;
        if (server_chat_parse(x, body, r, msg, msglen, param)) return 400;
    } else {
        *param = "prompt";
        cJSON *pr = cJSON_GetObjectItemCaseSensitive(body, "prompt");
        if (!pr) {
            errf(msg, msglen, "'prompt' is required");
            return 400;
        }
        if (parse_prompt(pr, r, prompt, ids, msg, msglen)) return 400;
    }
    return 0;
}
#undef FIELD

int server_openai_parse(xch *x, cJSON *body, sim_engine_request *r, strbuf *prompt,
                        uint32_t **ids, char *msg, size_t msglen, const char **param)
{
    struct server *s = x->srv;
    int chat = x->ep == EP_CHAT;
    int status = parse_model(x, body, msg, msglen, param);
    if (!status) status = parse_stream(x, body, msg, msglen, param);
    if (!status) status = parse_sampling(x, body, r, msg, msglen, param);
    if (!status) status = parse_input(x, body, r, prompt, ids, msg, msglen, param);
    if (status) return status;
    *param = NULL;
    if (!r->prompt_ids) {
        sb_addc(prompt, '\0');
        prompt->len--;
        r->prompt = prompt->buf ? prompt->buf : "";
        r->prompt_len = prompt->len;
    }
    snprintf(x->id, sizeof x->id, "%s-%016llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)mix64(s->cfg.seed ^ (x->seq * 0x9e3779b97f4a7c15ULL)));
    return 0;
}

static void head(xch *x, strbuf *o)
{
    struct server *s = x->srv;
    sb_printf(o, "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":%s,",
              x->id, x->ep == EP_CHAT ? "chat.completion.chunk" : "text_completion",
              (long long)x->created, s->model_json);
    if (s->cfg.api == SERVER_API_GATEWAY) sb_adds(o, "\"system_fingerprint\":null,");
}

static void usage(strbuf *o, server_api api, int64_t p, int64_t c)
{
    if (api == SERVER_API_GATEWAY)
        sb_printf(o, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld}",
                  (long long)p, (long long)c, (long long)(p + c));
    else
        sb_printf(o, "{\"prompt_tokens\":%lld,\"total_tokens\":%lld,\"completion_tokens\":%lld}",
                  (long long)p, (long long)(p + c), (long long)c);
}

/* The end of a chunk: per-chunk usage where the profile puts it. */
static void tail(xch *x, strbuf *o, int64_t completion)
{
    server_api api = x->srv->cfg.api;
    if (x->continuous_usage) {
        sb_adds(o, ",\"usage\":");
        usage(o, api, x->res.prompt_tokens, completion);
    } else if (api == SERVER_API_GATEWAY && x->include_usage) {
        sb_adds(o, ",\"usage\":null");
    }
    sb_adds(o, "}\n\n");
}

void server_openai_lmdeploy_chunk(xch *x, strbuf *o, const char *members, size_t len,
                                  const char *finish)
{
    head(x, o);
    sb_printf(o, "\"choices\":[{\"index\":%d,", x->cur);
    sb_add(o, members, len);
    if (x->srv->cfg.lmdeploy_minor >= 16) {
        if (finish) sb_printf(o, ",\"finish_reason\":\"%s\"", finish);
        sb_adds(o, "}]");
        if (x->include_usage) sb_adds(o, ",\"usage\":null");
    } else {
        if (finish) sb_printf(o, ",\"finish_reason\":\"%s\"}],\"usage\":", finish);
        else sb_adds(o, ",\"finish_reason\":null}],\"usage\":");
        if (finish && x->include_usage) usage(o, SERVER_API_LMDEPLOY, x->res.prompt_tokens, x->tokens_sent);
        else sb_adds(o, "null");
    }
    sb_adds(o, "}\n\n");
}

void server_openai_lmdeploy_final(xch *x, strbuf *o, const char *finish)
{
    int v16 = x->srv->cfg.lmdeploy_minor >= 16;
    const char *m = x->ep == EP_CHAT
        ? (v16 ? "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"
               : "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":null,"
                 "\"gen_tokens\":null,\"tool_calls\":[]},\"logprobs\":null")
        : (v16 ? "\"text\":\"\"" : "\"text\":\"\",\"logprobs\":null,\"gen_tokens\":null");
    server_openai_lmdeploy_chunk(x, o, m, strlen(m), finish);
}

static void role_chunk(xch *x, strbuf *o)
{
    strbuf d = {0};
    server_chat_role_delta(x, &d);
    server_openai_chat_chunk(x, o, d.buf, d.len, NULL, 0);
    sb_free(&d);
}

void server_openai_chat_chunk(xch *x, strbuf *o, const char *delta, size_t len,
                              const char *finish, int64_t done)
{
    head(x, o);
    sb_printf(o, "\"choices\":[{\"index\":%d,\"delta\":{", x->cur);
    sb_add(o, delta, len);
    sb_adds(o, "},\"logprobs\":null,\"finish_reason\":");
    if (finish) sb_printf(o, "\"%s\"", finish); else sb_adds(o, "null");
    if (finish && x->srv->cfg.api == SERVER_API_VLLM) sb_adds(o, ",\"stop_reason\":null");
    sb_adds(o, "}]");
    tail(x, o, done);
}

void server_openai_tokens(xch *x, const sim_engine_tokens *t, strbuf *o)
{
    server_api api = x->srv->cfg.api;
    x->res.prompt_tokens = t->prompt_tokens;
    int64_t done = t->index + t->n;
    if (x->ep == EP_CHAT) {
        /* The role-only first chunk of every choice, sent with the first
         * tokens as vLLM does. */
        if (!x->sent_first && api != SERVER_API_LMDEPLOY) server_xch_each_choice(x, role_chunk, o);
        x->sent_first = 1;
        server_chat_event(x, t, o);
        if (t->last && api == SERVER_API_GATEWAY)   /* OpenAI: an empty delta with the reason */
            server_openai_chat_chunk(x, o, "", 0, server_chat_finish(x, t->finish_reason), done);
        return;
    }
    if (api == SERVER_API_LMDEPLOY) {      /* the text, then a last chunk with the reason */
        strbuf m = {0};
        sb_adds(&m, "\"text\":");
        sb_json_str(&m, t->text, t->text_len);
        if (x->srv->cfg.lmdeploy_minor < 16) sb_adds(&m, ",\"logprobs\":null,\"gen_tokens\":null");
        server_openai_lmdeploy_chunk(x, o, m.buf, m.len, NULL);
        sb_free(&m);
        if (t->last) server_openai_lmdeploy_final(x, o, t->finish_reason);
        return;
    }
    head(x, o);
    sb_printf(o, "\"choices\":[{\"index\":%d,\"text\":", x->cur);
    sb_json_str(o, t->text, t->text_len);
    sb_adds(o, ",\"logprobs\":null,\"finish_reason\":");
    if (t->last) sb_printf(o, "\"%s\"", t->finish_reason);
    else sb_adds(o, "null");
    if (api == SERVER_API_VLLM) sb_adds(o, ",\"stop_reason\":null");
    sb_adds(o, "}]");
    tail(x, o, done);
}

void server_openai_end(xch *x, strbuf *o)
{
    const server_config *c = &x->srv->cfg;
    /* LMDeploy 0.12 put the usage into the last chunk instead. */
    if (x->include_usage && !(c->api == SERVER_API_LMDEPLOY && c->lmdeploy_minor < 16)) {
        head(x, o);
        sb_adds(o, "\"choices\":[],\"usage\":");
        usage(o, c->api, x->res.prompt_tokens, x->tokens_sent);
        if (c->api == SERVER_API_LMDEPLOY && x->ep == EP_CHAT) {   /* UsageInfo.build's details */
            o->len--;
            sb_printf(o, ",\"prompt_tokens_details\":{\"cached_tokens\":%lld}}",
                      (long long)x->res.cached_tokens);
        }
        sb_adds(o, "}\n\n");
    }
    sb_adds(o, "data: [DONE]\n\n");
}

void server_openai_abort(xch *x, strbuf *o)
{
    server_api api = x->srv->cfg.api;
    int chat = x->ep == EP_CHAT;
    if (chat && !x->sent_first && api == SERVER_API_VLLM) {
        /* vLLM's first iteration still sends the roles (all choices: this
         * is called for each, the first call writes them). */
        x->sent_first = 1;
        server_xch_each_choice(x, role_chunk, o);
    }
    /* LMDeploy always yields its final GenOut (empty text, finish_reason);
     * vLLM skips an empty output while nothing was generated. */
    if (api == SERVER_API_LMDEPLOY) {
        server_openai_lmdeploy_final(x, o, "abort");
        return;
    }
    if (!x->choice_tokens) return;
    head(x, o);
    if (chat)
        sb_printf(o, "\"choices\":[{\"index\":%d,\"delta\":{\"content\":\"\"},", x->cur);
    else
        sb_printf(o, "\"choices\":[{\"index\":%d,\"text\":\"\",", x->cur);
    sb_printf(o, "\"logprobs\":null,\"finish_reason\":\"abort\"%s}]",
              api == SERVER_API_VLLM ? ",\"stop_reason\":null" : "");
    tail(x, o, x->choice_tokens);
}

void server_openai_error_event(xch *x, const char *message, strbuf *o)
{
    const server_config *c = &x->srv->cfg;
    /* LMDeploy 0.16 wraps its flat error: {"error": request_error_payload} */
    int wrap = c->api == SERVER_API_LMDEPLOY && c->lmdeploy_minor >= 16;
    sb_adds(o, wrap ? "data: {\"error\":" : "data: ");
    server_error_json(x->srv, 500, message, NULL, o);
    sb_adds(o, wrap ? "}\n\ndata: [DONE]\n\n" : "\n\ndata: [DONE]\n\n");
}

/* One element of a non-streamed response's "choices" (the current choice). */
static void body_choice(xch *x, strbuf *o)
{
    const server_config *c = &x->srv->cfg;
    int lmd = c->api == SERVER_API_LMDEPLOY, v16 = c->lmdeploy_minor >= 16;
    const char *fr = x->finish_reason ? x->finish_reason : "stop";
    if (x->cur) sb_addc(o, ',');
    if (x->ep == EP_CHAT) {
        sb_printf(o, "{\"index\":%d,\"message\":", x->cur);
        server_chat_message(x, o);
        fr = server_chat_finish(x, fr);
        sb_adds(o, lmd && v16 ? ",\"logprobs\":null,\"output_token_logprobs\":null" : ",\"logprobs\":null");
    } else {
        sb_printf(o, "{\"index\":%d,\"text\":", x->cur);
        sb_json_str(o, x->text.buf ? x->text.buf : "", x->text.len);
        sb_adds(o, lmd && !v16 ? ",\"logprobs\":null,\"gen_tokens\":null" : ",\"logprobs\":null");
    }
    sb_printf(o, ",\"finish_reason\":\"%s\"", fr);
    if (c->api == SERVER_API_VLLM) sb_adds(o, ",\"stop_reason\":null");
    if (lmd && v16 && x->ep == EP_CHAT) sb_adds(o, ",\"output_ids\":null,\"routed_experts\":null");
    sb_addc(o, '}');
}

void server_openai_body(xch *x, strbuf *o)
{
    struct server *s = x->srv;
    server_api api = s->cfg.api;
    sb_printf(o, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":%s,", x->id,
              x->ep == EP_CHAT ? "chat.completion" : "text_completion", (long long)x->created,
              s->model_json);
    if (api == SERVER_API_GATEWAY) sb_adds(o, "\"system_fingerprint\":null,");
    sb_adds(o, "\"choices\":[");
    server_xch_each_choice(x, body_choice, o);
    sb_adds(o, "],\"usage\":");
    usage(o, api, x->res.prompt_tokens, x->tokens_sent);
    if (api == SERVER_API_LMDEPLOY && s->cfg.lmdeploy_minor >= 16) {
        /* UsageInfo with its details (chat: UsageInfo.build's cached tokens) */
        o->len--;
        if (x->ep == EP_CHAT)
            sb_printf(o, ",\"prompt_tokens_details\":{\"cached_tokens\":%lld},"
                      "\"completion_tokens_details\":null},\"service_tier\":null",
                      (long long)x->res.cached_tokens);
        else
            sb_adds(o, ",\"prompt_tokens_details\":null,\"completion_tokens_details\":null}");
    }
    sb_addc(o, '}');
}
