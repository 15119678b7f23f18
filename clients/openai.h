/* openai.h — helpers shared by the OpenAI-protocol clients (gateway, vllm,
 * lmdeploy, and sagellm for its request bodies): building and finishing a
 * request body from a trace record (clients/openai_body.c), and reading
 * response events and bodies (clients/openai.c). The generic interface
 * every client implements is clients/client.h; nothing outside clients/
 * needs these. */
#ifndef SAGELLM_OPENAI_H
#define SAGELLM_OPENAI_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "clients/client.h"

int openai_build(const client *c, const trace_rec *r, const char *api, client_request *out,
                 cJSON **body_out, char *err, size_t errlen);
int openai_on_event(const client *c, void *state, const char *type, const char *data,
                    size_t len, client_event *ev);
int openai_on_body(const client *c, void *state, const char *data, size_t len,
                   client_event *ev);
void openai_error_message(const client *c, int status, const char *data, size_t len,
                          char *msg, size_t msglen);
int openai_add_reply(const client *c, cJSON *next_body, const char *reply, size_t len);
/* Finishes a body built for r by openai_build: notes in out->edits which
 * fields differ from the record's captured body, and writes out->body:
 * the record's exact bytes (body_b64 decoded, or body_raw) when nothing
 * differs and it has them, else
 * the body serialised. Frees body. */
void openai_finish_body(const trace_rec *r, cJSON *body, client_request *out);
/* Parses one response document (data, len bytes) in the calling thread's
 * JSON arena (common/json_arena.h): valid until the thread's next arena
 * scope, never freed by the caller. NULL when it is not JSON. */
cJSON *openai_parse_doc(const char *data, size_t len);
/* Sets the output cap to n in whichever field the body uses
 * (max_completion_tokens, max_tokens, or both when it has both; a body
 * with neither gets max_tokens), so no conflicting cap is left. */
void openai_set_max_len(cJSON *body, int64_t n);
/* Forces an output length of n tokens: the cap as openai_set_max_len,
 * min_field (vLLM "min_tokens", LMDeploy "min_new_tokens") = n and
 * ignore_eos; sets out->forced_output = n. */
void openai_force_output_len(cJSON *body, int64_t n, const char *min_field, client_request *out);
/* The endpoint of a record's own request path (its top-level `path`, as
 * the original client sent it): the part after the last version segment
 * ("/openai/v1/embeddings" -> "/embeddings" under api_url), else the whole
 * path under root_url (*root set). Returns 0, or ERR_INPUT for a path that
 * is not a plain absolute path of at most 127 bytes (the reason in err). */
int openai_path_endpoint(const char *path, char *out, size_t outlen, int *root,
                         char *err, size_t errlen);
/* 1 when r has a body that was sent by a real client: not a length-only
 * record, and not a body made by prompt synthesis (`body_synthetic`). */
int openai_body_captured(const trace_rec *r);
/* Applies the model rule to a body: --model when given, else the body's,
 * else the record's, else the server's. Sets out->model. */
void openai_set_model(const client *c, const trace_rec *r, cJSON *body, client_request *out);
/* Applies --stream to a body (original: openai_body_captured(r)):
 * as-sent leaves a captured body alone and streams any other as "on"
 * does; on sets stream and stream_options.include_usage (and
 * continuous_usage_stats when c->opt.continuous_usage); off sets stream
 * false and removes stream_options. */
void openai_set_stream(const client *c, cJSON *body, int original);

#endif
