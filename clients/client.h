/* client.h — the interface between the replay engine and a client.
 *
 * A client turns a trace record into a request and turns the response into
 * protocol-free events; the engine (replay/) owns timing, connections,
 * recording and statistics and knows nothing of any protocol. Adding a
 * client means adding one file that defines a `client_ops` and one line in
 * clients/client.c's registry.
 *
 * HTTP clients (gateway, vllm, lmdeploy) are driven by the engine's libcurl
 * transport: build() gives method, path, headers and body; every SSE event
 * of a streamed response goes to on_event(), a non-streamed body to
 * on_body(). In-process clients (sagellm) set `submit` instead and push the
 * same events themselves.
 *
 * Ownership: a client instance (client *) lives for the whole run and is
 * shared by all worker threads, so build/on_event must only read it; the
 * per-request state (`state_size` bytes, zeroed by the engine) belongs to
 * the request. */
#ifndef SAGELLM_CLIENT_H
#define SAGELLM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "clients/http_opts.h"
#include "common/util.h"
#include "traces/trace.h"

/* Options every client understands (from the replay command line). */
typedef struct client_opts {
    const char *base_url;        /* --url as the user gave it (for run.json, masked there) */
    const char *api_url;         /* OpenAI API base, e.g. http://h:8000/v1 (clients/base_url.h) */
    const char *root_url;        /* server root, e.g. http://h:8000: /health, /metrics, /generate */
    const char *api;             /* --api override: chat|completions|generate, or NULL */
    const char *model;           /* --model override, or NULL */
    const char *default_model;   /* from GET /v1/models when nothing else names one */
    const char *api_key;         /* --api-key or OPENAI_API_KEY; never logged */
    const char *const *headers;  /* --header 'K: V' lines, NULL-terminated */
    http_opts http;              /* TLS trust, client certificate, HTTP/2 */
    int stream;                  /* 1 = streaming (default), 0 = one JSON response */
    int force_output_len;        /* vllm/lmdeploy: output length = the trace's */
    int continuous_usage;        /* vllm: per-chunk usage for per-token ITL */
    uint64_t seed;               /* prompt synthesis for length-only records */
    /* In-process clients (sagellm): */
    const char *engine;          /* "sim", "PATH.so" or "python:MODULE:FACTORY" */
    const char *engine_config;   /* JSON object text (from --engine-config/--engine-opt) */
} client_opts;

/* How an in-process request ended (client_sink_done). Times are the
 * engine's CLOCK_MONOTONIC ns, -1 when it does not say. */
typedef struct client_done {
    const char *finish_reason;   /* "stop", "length", "abort", ... or NULL */
    const char *error;           /* NULL when the request succeeded */
    int64_t prompt_tokens, completion_tokens;   /* -1 unknown */
    int64_t t_queued_ns, t_scheduled_ns, t_first_token_ns, t_finished_ns;
    int64_t queue_ns, prefill_ns, decode_ns;
} client_done;

/* Where an in-process client delivers a request's events. Both functions
 * may be called from any thread (an engine's), one request at a time:
 * tokens zero or more times, then done exactly once; the sink must not be
 * used after done. The replay stamps the time of each call itself. */
typedef struct client_sink client_sink;
void client_sink_tokens(client_sink *s, int64_t n, const char *text, size_t len, int64_t engine_ns);
void client_sink_done(client_sink *s, const client_done *d);
void client_done_clear(client_done *d);

/* What a request needs from the transport. */
typedef struct client_request {
    const char *method;          /* "POST" or "GET" */
    char path[128];              /* appended to api_url (e.g. /chat/completions), or to
                                  * root_url when path_root is set (e.g. /generate) */
    int path_root;
    int64_t forced_output;       /* output length the body forces (ignore_eos, min_tokens,
                                  * ...), -1 when the body does not force one */
    const char *api;             /* the API called (for the log) */
    char model[256];             /* the model asked for (for the log), "" if none */
    strbuf body;                 /* request body (JSON) */
    int64_t expected_output;     /* the trace's output length, -1 if unknown */
} client_request;

/* One response event, free of protocol details. Fields the event does not
 * carry are -1 / NULL / 0.
 *
 * Content: an event carries generated content when any choice in it has
 * text, delta/message content, reasoning, a refusal or a tool call; a
 * role-only delta or empty strings are not content. Choices are told apart
 * by their index (n > 1): bit i of content_choices / seen_choices stands
 * for choice i (indices above 63 share bit 63). An in-process client that
 * leaves the masks 0 means choice 0. */
typedef struct client_event {
    int content;                 /* carries generated content (see above) */
    int choice;                  /* the first choice with content (its index) */
    uint64_t content_choices;    /* choices that carried content */
    uint64_t seen_choices;       /* choices the event mentions at all */
    int64_t tokens_delta;        /* tokens this event carried, if the server says */
    int64_t completion_tokens;   /* usage.completion_tokens (cumulative) if present */
    int64_t prompt_tokens;       /* usage.prompt_tokens if present */
    const char *text;            /* generated text in this event (not NUL-terminated) */
    size_t text_len;
    int done;                    /* end of stream marker ([DONE]) */
    int error;                   /* an error object: the request failed */
    char errmsg[256];            /* its message; with finish_reason "abort" and no
                                  * error, the server's reason for the abort if given */
    const char *finish_reason;   /* when the event says; "abort" and "error" win over
                                  * others when one event ends several choices */
} client_event;

typedef struct client client;

typedef struct client_ops {
    const char *name;
    const char *summary;
    size_t state_size;           /* per-request parse state */
    /* Checks options and sets up the instance (c->priv). Returns 0 or an error. */
    int (*init)(client *c, char *err, size_t errlen);
    /* Builds the request for record r (body for length-only records from
     * prompt synthesis). Returns 0, or ERR_INPUT when r cannot be sent by
     * this client (the reason in err). */
    int (*build)(const client *c, const trace_rec *r, client_request *out,
                 char *err, size_t errlen);
    /* Interprets one SSE event's data (NUL-terminated) into ev (zeroed with
     * -1 counts by the caller). Returns 0, or ERR_INPUT for data that is
     * not what the protocol sends (a `protocol` error). */
    int (*on_event)(const client *c, void *state, const char *type,
                    const char *data, size_t len, client_event *ev);
    /* Interprets a whole non-streamed response body (status 2xx). */
    int (*on_body)(const client *c, void *state, const char *data, size_t len,
                   client_event *ev);
    /* Extracts a human-readable message from an error response body. */
    void (*error_message)(const client *c, int status, const char *data, size_t len,
                          char *msg, size_t msglen);
    /* Adds the assistant's reply to a chat body for the session's next turn
     * (dependent sessions); NULL when the client cannot. */
    int (*add_reply)(const client *c, cJSON *next_body, const char *reply, size_t len);
    /* In-process clients only (HTTP clients leave it NULL): starts the
     * request built by build() (out holds its api, model and body) and
     * returns at once; events arrive through sink. state is the request's
     * state (state_size bytes), where cancel finds what it needs. Returns 0, or a negative
     * error with err (then no event will come). */
    int (*submit)(const client *c, const trace_rec *r, const client_request *req,
                  void *state, client_sink *sink, char *err, size_t errlen);
    /* In-process clients: asks the engine to end a submitted request early
     * (stall or operator cancel); done still comes, through the sink. */
    void (*cancel)(const client *c, void *state);
    /* Releases what the per-request state holds (after the last event). */
    void (*release)(const client *c, void *state);
    void (*cleanup)(client *c);
} client_ops;

struct client {
    const client_ops *ops;
    client_opts opt;
    void *priv;
};

/* The registry (NULL-terminated) and lookup; "openai" is accepted as the
 * old name of "gateway" (*renamed is set to 1 then). */
extern const client_ops *const client_registry[];
const client_ops *client_find(const char *name, int *renamed);

/* Creates a client instance (copying opts). NULL with err on failure. */
client *client_new(const client_ops *ops, const client_opts *opts, char *err, size_t errlen);
void client_free(client *c);

/* Resets ev to "carries nothing". */
void client_event_clear(client_event *ev);

/* Helpers shared by the OpenAI-protocol clients (clients/openai.c). */
int openai_build(const client *c, const trace_rec *r, const char *api, client_request *out,
                 cJSON **body_out, char *err, size_t errlen);
int openai_on_event(const client *c, void *state, const char *type, const char *data,
                    size_t len, client_event *ev);
int openai_on_body(const client *c, void *state, const char *data, size_t len,
                   client_event *ev);
void openai_error_message(const client *c, int status, const char *data, size_t len,
                          char *msg, size_t msglen);
int openai_add_reply(const client *c, cJSON *next_body, const char *reply, size_t len);
/* Finishes a body built by openai_build: serialises it into out->body. */
void openai_finish_body(cJSON *body, client_request *out);
void openai_release(const client *c, void *state);
/* vLLM's way of forcing an output length of n tokens: max_tokens =
 * min_tokens = n and ignore_eos (max_completion_tokens dropped). */
void openai_force_output_len(cJSON *body, int64_t n);
/* Per-request state of the OpenAI-protocol parsers. */
typedef struct openai_state { cJSON *doc; } openai_state;

#endif
