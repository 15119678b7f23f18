/* client_vllm.c — the `vllm` client: the gateway client plus vLLM's
 * extensions. By default the replayed output length equals the trace's
 * (ignore_eos, min_tokens = the cap = output_tokens, the cap in whichever
 * of max_tokens / max_completion_tokens the body uses; off with
 * --no-force-output-len), and where streaming options are set
 * (synthesised bodies, --stream on) stream_options.continuous_usage_stats
 * asks for the running token count in every chunk, which gives per-token
 * ITL. vLLM reads max_completion_tokens before max_tokens
 * (vllm-project/vllm@7ded96b3, vllm/entrypoints/openai/serving_engine.py). */
#include "clients/client.h"
#include "clients/openai.h"

#include <string.h>

static int vllm_build(const client *c, const trace_rec *r, client_request *out,
                      char *err, size_t errlen)
{
    cJSON *body;
    const char *api = c->opt.api ? c->opt.api : r->api;
    if (!strcmp(api, "generate")) api = "completions";
    int rc = openai_build(c, r, api, out, &body, err, errlen);
    if (rc) return rc;
    if (c->opt.force_output_len && r->output_tokens > 0)
        openai_force_output_len(body, r->output_tokens, "min_tokens", out);
    openai_finish_body(r, body, out);
    return 0;
}

static int vllm_init(client *c, char *err, size_t errlen)
{
    c->opt.continuous_usage = 1;
    return 0;
}

const client_ops client_vllm = {
    .name = "vllm",
    .summary = "vLLM's OpenAI server: forced output lengths, per-token usage",
    .body_edits = "as the gateway client (records go to the endpoint of their api, or --api), "
                  "plus, unless --no-force-output-len, for records with an output length: "
                  "ignore_eos, min_tokens and the cap (max_completion_tokens and/or max_tokens, "
                  "whichever the body uses, else max_tokens) = the trace's output length; "
                  "streaming options set by the client add continuous_usage_stats.",
    .init = vllm_init,
    .build = vllm_build,
    .on_event = openai_on_event,
    .on_body = openai_on_body,
    .error_message = openai_error_message,
    .add_reply = openai_add_reply,
};
