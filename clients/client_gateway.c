/* client_gateway.c — the `gateway` client: any server that speaks the
 * OpenAI protocol (sagellm-gateway, OpenAI-compatible proxies). Streams
 * with stream_options.include_usage so token counts come from the server;
 * --no-stream sends one request and reads one JSON response. */
#include "clients/client.h"

#include <string.h>

static int gateway_build(const client *c, const trace_rec *r, client_request *out,
                         char *err, size_t errlen)
{
    cJSON *body;
    const char *api = c->opt.api ? c->opt.api : r->api;
    if (!strcmp(api, "generate")) api = "completions"; /* no /generate in the OpenAI protocol */
    int rc = openai_build(c, r, api, out, &body, err, errlen);
    if (rc) return rc;
    openai_finish_body(body, out);
    return 0;
}

const client_ops client_gateway = {
    .name = "gateway",
    .summary = "any OpenAI-protocol server (e.g. sagellm-gateway)",
    .state_size = sizeof(openai_state),
    .build = gateway_build,
    .on_event = openai_on_event,
    .on_body = openai_on_body,
    .error_message = openai_error_message,
    .add_reply = openai_add_reply,
    .release = openai_release,
};
