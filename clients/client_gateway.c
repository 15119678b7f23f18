/* client_gateway.c — the `gateway` client: any server that speaks the
 * OpenAI protocol (sagellm-gateway, OpenAI-compatible proxies, OpenAI).
 *
 * A record with a body is replayed as it was sent: to its own endpoint
 * (the record's `path`, unless --api is given), with its own stream and
 * stream_options (unless --stream on|off), its own length field (never a
 * max_tokens added beside max_completion_tokens: OpenAI deprecates
 * max_tokens on chat "in favor of max_completion_tokens" and says it "is
 * not compatible with o-series models", openai/openai-python@04448952,
 * src/openai/types/chat/completion_create_params.py), and its model unless
 * --model is given or it has none. When nothing changes, the captured bytes (`body_raw`) go out.
 * Length-only records get a synthesised prompt, max_tokens = the trace's
 * output length, and are streamed with stream_options.include_usage. */
#include "clients/client.h"
#include "clients/openai.h"

#include <string.h>

/* A record with a body and a `path`, without --api: its own endpoint. */
static int build_as_sent(const client *c, const trace_rec *r, const char *path,
                         client_request *out, char *err, size_t errlen)
{
    char perr[256];
    if (openai_path_endpoint(path, out->path, sizeof out->path, &out->path_root,
                             perr, sizeof perr) < 0) {
        errf(err, errlen, "record %s: %s", r->id, perr);
        return ERR_INPUT;
    }
    cJSON *body = cJSON_Duplicate(r->body, 1);
    openai_set_model(c, r, body, out);
    /* stream only means something to the generating endpoints */
    if (!strcmp(r->api, "chat") || !strcmp(r->api, "completions") || !strcmp(r->api, "generate"))
        openai_set_stream(c, body, openai_body_captured(r));
    out->method = "POST";
    out->api = r->api;
    out->expected_output = r->output_tokens;
    openai_finish_body(r, body, out);
    return 0;
}

static int gateway_build(const client *c, const trace_rec *r, client_request *out,
                         char *err, size_t errlen)
{
    cJSON *body;
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(r->json, "path");
    if (!c->opt.api && r->body && cJSON_IsString(path))
        return build_as_sent(c, r, path->valuestring, out, err, errlen);
    const char *api = c->opt.api ? c->opt.api : r->api;
    if (!strcmp(api, "generate")) api = "completions"; /* no /generate in the OpenAI protocol */
    int rc = openai_build(c, r, api, out, &body, err, errlen);
    if (rc) return rc;
    openai_finish_body(r, body, out);
    return 0;
}

const client_ops client_gateway = {
    .name = "gateway",
    .summary = "any OpenAI-protocol server (e.g. sagellm-gateway)",
    .body_edits = "a record's body is sent as captured (its body_raw bytes when nothing changes), "
                  "to its own path unless --api is given; changed only as asked: model "
                  "(--model, or a body without one), messages/prompt (--api of another shape), "
                  "stream and stream_options (--stream on|off); length fields are never added "
                  "or changed. Length-only records: a synthesised prompt, max_tokens = the "
                  "trace's output length, streamed with include_usage.",
    .build = gateway_build,
    .on_event = openai_on_event,
    .on_body = openai_on_body,
    .error_message = openai_error_message,
    .add_reply = openai_add_reply,
};
