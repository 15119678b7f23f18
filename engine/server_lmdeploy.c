/* server_lmdeploy.c — LMDeploy's native POST /generate: a prompt or
 * input_ids in, SSE events "data: {text, output_ids, meta_info}" out, where
 * text and output_ids are the new tokens of the event and
 * meta_info.completion_tokens counts all tokens so far; a last event without
 * text carries finish_reason {"type": ...} (AsyncEngine.generate's final
 * GenOut), then "data: [DONE]". Also LMDeploy's answer to a busy session. */
#include "engine/server_int.h"
#include "engine/sim_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int server_lmdeploy_parse(xch *x, cJSON *body, sim_engine_request *r, strbuf *prompt,
                          uint32_t **ids, char *msg, size_t msglen, const char **param)
{
    int present;
    int64_t seed;
#define FIELD(name, call) do { *param = (name); if (call) return 400; } while (0)
    FIELD("stream", server_get_bool(body, "stream", &x->stream, msg, msglen));
    FIELD("session_id", server_get_int(body, "session_id", INT64_MIN + 1, &x->session_id,
                                       NULL, msg, msglen));
    r->max_tokens = 128;                       /* LMDeploy's default for /generate */
    FIELD("max_tokens", server_get_int(body, "max_tokens", 1, &r->max_tokens, NULL, msg, msglen));
    FIELD("min_new_tokens", server_get_int(body, "min_new_tokens", 0, &r->min_tokens, NULL,
                                           msg, msglen));
    FIELD("ignore_eos", server_get_bool(body, "ignore_eos", &r->ignore_eos, msg, msglen));
    FIELD("seed", server_get_int(body, "seed", INT64_MIN + 1, &seed, &present, msg, msglen));
    if (present) {
        r->has_seed = 1;
        r->seed = (uint64_t)seed;
    }
    if (r->min_tokens > r->max_tokens) {
        *param = "min_new_tokens";
        errf(msg, msglen, "min_new_tokens must be less than or equal to max_tokens=%lld, got %lld.",
             (long long)r->max_tokens, (long long)r->min_tokens);
        return 400;
    }
    cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input_ids");
    if (in && !cJSON_IsNull(in)) {
        size_t n;
        *param = "input_ids";
        if (!cJSON_IsArray(in)) {
            errf(msg, msglen, "'input_ids' must be a list of token ids");
            return 400;
        }
        if (server_get_ids(in, "input_ids", ids, &n, msg, msglen)) return 400;
        r->prompt_ids = *ids;
        r->n_prompt_ids = n;
    } else if (p && cJSON_IsString(p)) {
        sb_adds(prompt, p->valuestring);
        sb_addc(prompt, '\0');
        prompt->len--;
        r->prompt = prompt->buf;
        r->prompt_len = prompt->len;
    } else {
        *param = "prompt";
        errf(msg, msglen, p && !cJSON_IsNull(p) ? "'prompt' must be a string"
                                                : "one of 'prompt' or 'input_ids' is required");
        return 400;
    }
#undef FIELD
    *param = NULL;
    return 0;
}

int server_lmdeploy_fit(xch *x, sim_engine_request *r, char *msg, size_t msglen)
{
    int64_t len = sim_engine_config(x->srv->engine)->max_model_len, n = r->prompt_tokens;
    if (r->prompt_ids) n = (int64_t)r->n_prompt_ids;
    else if (r->prompt) n = (int64_t)sim_tokens_split(r->prompt, r->prompt_len, NULL, 0);
    if (n >= len) {                          /* AsyncEngine.preprocess: CONTEXT_LENGTH_EXCEEDED */
        errf(msg, msglen, "Input length (%lld) must be smaller than the model context length (%lld).",
             (long long)n, (long long)len);
        return -1;
    }
    if (n > 0 && r->max_tokens > len - n) r->max_tokens = len - n;   /* ends at the context */
    if (r->min_tokens > r->max_tokens && r->max_tokens) r->min_tokens = r->max_tokens;
    return 0;
}

enum MHD_Result server_lmdeploy_session_busy(xch *x)
{
    if (x->srv->cfg.lmdeploy_minor >= 16) {
        /* SessionManager.map_user_session_id raises ValueError outside any
         * handler; Starlette's ServerErrorMiddleware answers. */
        static const char b[] = "Internal Server Error";
        x->outcome = "server_error";
        return server_respond(x, 500, "text/plain; charset=utf-8", b, sizeof b - 1);
    }
    char msg[80];
    snprintf(msg, sizeof msg, "The session_id %lld is occupied.", (long long)x->session_id);
    return server_respond_error(x, 400, msg, NULL);
}

static void meta(strbuf *o, int64_t p, int64_t c, const char *finish)
{
    sb_printf(o, "\"meta_info\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
              "\"finish_reason\":", (long long)p, (long long)c);
    if (finish) sb_printf(o, "{\"type\":\"%s\"}", finish); else sb_adds(o, "null");
    sb_adds(o, ",\"output_token_logprobs\":null,\"routed_experts\":null}");
}

void server_lmdeploy_tokens(xch *x, const sim_engine_tokens *t, strbuf *o)
{
    x->res.prompt_tokens = t->prompt_tokens;
    sb_adds(o, "data: {\"text\":");
    sb_json_str(o, t->text, t->text_len);
    sb_adds(o, ",\"output_ids\":[");
    for (int i = 0; i < t->n; i++) sb_printf(o, i ? ",%u" : "%u", t->ids[i]);
    sb_adds(o, "],");
    meta(o, t->prompt_tokens, t->index + t->n, NULL);
    sb_adds(o, "}\n\n");
    if (t->last) {                           /* the final GenOut: no text, the reason */
        sb_adds(o, "data: {\"text\":\"\",\"output_ids\":[],");
        meta(o, t->prompt_tokens, t->index + t->n, t->finish_reason);
        sb_adds(o, "}\n\n");
    }
}

void server_lmdeploy_abort(xch *x, strbuf *o)
{
    /* AsyncEngine.generate's last GenOut: no new text or ids, the reason. */
    sb_adds(o, "data: {\"text\":\"\",\"output_ids\":[],");
    meta(o, x->res.prompt_tokens, x->tokens_sent, "abort");
    sb_adds(o, "}\n\n");
}

void server_lmdeploy_end(xch *x, strbuf *o)
{
    sb_adds(o, "data: [DONE]\n\n");
}

void server_lmdeploy_body(xch *x, strbuf *o)
{
    sb_adds(o, "{\"text\":");
    sb_json_str(o, x->text.buf ? x->text.buf : "", x->text.len);
    sb_printf(o, ",\"output_ids\":[%s],", x->ids.buf ? x->ids.buf : "");
    meta(o, x->res.prompt_tokens, x->tokens_sent, x->finish_reason ? x->finish_reason : "stop");
    sb_addc(o, '}');
}
