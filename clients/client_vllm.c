/* client_vllm.c — the `vllm` client: the gateway client plus vLLM's
 * extensions. By default the replayed output length equals the trace's
 * (ignore_eos, min_tokens = max_tokens = output_tokens; off with
 * --no-force-output-len), and stream_options.continuous_usage_stats asks for
 * the running token count in every chunk, which gives per-token ITL. */
#include "clients/client.h"

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
        openai_force_output_len(body, r->output_tokens);
    openai_finish_body(body, out);
    return 0;
}

static int vllm_init(client *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (c->opt.stream) c->opt.continuous_usage = 1;
    return 0;
}

const client_ops client_vllm = {
    .name = "vllm",
    .summary = "vLLM's OpenAI server: forced output lengths, per-token usage",
    .state_size = sizeof(openai_state),
    .init = vllm_init,
    .build = vllm_build,
    .on_event = openai_on_event,
    .on_body = openai_on_body,
    .error_message = openai_error_message,
    .add_reply = openai_add_reply,
    .release = openai_release,
};
