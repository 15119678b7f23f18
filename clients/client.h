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
#include "common/http_opts.h"
#include "common/util.h"
#include "traces/trace.h"

/* --stream: a record's body keeps its own stream/stream_options (as-sent),
 * or every request is streamed (on) or not (off). */
enum { CLIENT_STREAM_AS_SENT = -1, CLIENT_STREAM_OFF = 0, CLIENT_STREAM_ON = 1 };

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
    int stream;                  /* --stream: CLIENT_STREAM_AS_SENT (default), _ON, _OFF */
    int force_output_len;        /* vllm/lmdeploy: output length = the trace's */
    int lmdeploy_session_id;     /* lmdeploy: send the record's session as session_id */
    int replay_headers;          /* send each record's captured headers (replay/req_headers.h) */
    const char *headers_allow;   /* --replay-headers-allow: comma-separated names, or NULL */
    const char *headers_deny;    /* --replay-headers-deny: comma-separated names, or NULL */
    int continuous_usage;        /* vllm: per-chunk usage for per-token ITL */
    uint64_t seed;               /* prompt synthesis for length-only records */
    /* In-process clients (sagellm): */
    const char *engine;          /* "sim", "PATH.so" or "python:MODULE:FACTORY" */
    const char *engine_config;   /* JSON object text (from --engine-config/--engine-opt) */
} client_opts;

/* How an in-process request ended (client_sink.done). Times are the
 * engine's CLOCK_MONOTONIC ns, -1 when it does not say. */
typedef struct client_done {
    const char *finish_reason;   /* "stop", "length", "abort", ... or NULL */
    const char *error;           /* NULL when the request succeeded */
    int64_t prompt_tokens, completion_tokens;   /* -1 unknown */
    int64_t t_queued_ns, t_scheduled_ns, t_first_token_ns, t_finished_ns;
    int64_t queue_ns, prefill_ns, decode_ns;
} client_done;

/* Where an in-process client delivers a request's events: callbacks plus
 * the user data they get back, filled in by whoever drives the client (the
 * replay), the way libcurl takes WRITEFUNCTION and WRITEDATA. Both may be
 * called from any thread (an engine's), one request at a time: tokens zero
 * or more times (n tokens, their text), then done exactly once; the sink
 * must not be used after done. The receiver stamps the time of each call
 * itself. The sink must outlive the request. */
typedef struct client_sink {
    void (*tokens)(void *user, int64_t n, const char *text, size_t len);
    void (*done)(void *user, const client_done *d);
    void *user;
} client_sink;
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
    char *model;                 /* the model asked for (for the log; heap, exact size),
                                  * NULL if none (client_request_set_model) */
    strbuf body;                 /* request body (JSON) */
    int64_t expected_output;     /* the trace's output length, -1 if unknown */
    /* What the client changed in the record's body (openai_finish_body):
     * edits is a JSON array of the top-level fields that differ from the
     * captured body (`[]` when none), or `null` for a synthesised body;
     * body_exact is 1 when a captured body was sent unchanged (its
     * `body_b64` or `body_raw` bytes when the record has them). */
    strbuf edits;
    int body_exact;
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
    const char *body_edits;      /* for run.json: which body fields it changes, when, why */
    size_t state_size;           /* per-request parse state */
    /* Checks options and sets up the instance (c->priv). Returns 0 or an error. */
    int (*init)(client *c, char *err, size_t errlen);
    /* Builds the request for record r (body for length-only records from
     * prompt synthesis). Returns 0, or ERR_INPUT when r cannot be sent by
     * this client (the reason in err). The engine calls it inside a JSON
     * arena scope (common/json_arena.h): cJSON values made here are
     * reclaimed all at once afterwards, so none may be kept past the call
     * (everything the request needs goes into out). */
    int (*build)(const client *c, const trace_rec *r, client_request *out,
                 char *err, size_t errlen);
    /* Interprets one SSE event's data (NUL-terminated) into ev (zeroed with
     * -1 counts by the caller). Returns 0, or ERR_INPUT for data that is
     * not what the protocol sends (a `protocol` error). The strings ev
     * points to stay valid until the client is next called on the same
     * thread (the OpenAI parsers keep them in the thread's JSON arena,
     * common/json_arena.h, so an event costs no allocation). */
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
                  void *state, const client_sink *sink, char *err, size_t errlen);
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

/* Sets r->model to a copy of model (NULL or "": none), freeing the old one. */
void client_request_set_model(client_request *r, const char *model);
/* Frees what r holds (body, edits, model); r is then empty and reusable. */
void client_request_free(client_request *r);

/* Resets ev to "carries nothing". */
void client_event_clear(client_event *ev);

#endif
