/* server_int.h — internals shared by the server's files (not for other
 * modules): the per-request exchange, the server object, and the
 * per-protocol hooks.
 *
 * An exchange (xch) is one HTTP request. Up to three references keep it
 * alive: the connection (dropped when libmicrohttpd reports the request
 * complete), the engine (dropped after on_done) and a streamed response's
 * reader (dropped when the response is destroyed; common/mhd_stream.h).
 * The last one writes the ground-truth line and frees it. Its mutex guards
 * the output buffer and the flags below "under mu"; lock order:
 * libmicrohttpd's response lock -> xch.mu -> libmicrohttpd's internal
 * locks; server.mu is never taken while holding xch.mu. */
#ifndef SAGELLM_SERVER_INT_H
#define SAGELLM_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cjson/cJSON.h>

#include "common/list.h"
#include "common/mhd_stream.h"
#include "common/rng.h"
#include "common/util.h"
#include "engine/ground_truth.h"
#include "engine/server.h"
#include "engine/sim_engine.h"

typedef enum endpoint {
    EP_NONE, EP_CHAT, EP_COMPLETIONS, EP_GENERATE, EP_MODELS, EP_HEALTH, EP_METRICS,
} endpoint;

typedef enum fault {
    FAULT_NONE, FAULT_FAIL, FAULT_RESET, FAULT_STALL, FAULT_ERROR_IN_STREAM, FAULT_ABORT,
} fault;

enum { TOOL_AUTO = 1, TOOL_REQUIRED, TOOL_NAMED };   /* xch.tool: what tool_choice asked */

typedef enum xstate { XS_NEW, XS_WAITING, XS_RESPONDED } xstate;

typedef struct server_metrics server_metrics;
struct xch;

/* One of a request's n choices: its own engine request and output state. */
typedef struct xchoice {
    struct xch *x;
    int64_t handle;                  /* engine handle, 0 until submitted */
    int done;                        /* the engine is done with it */
    int64_t tokens;                  /* its tokens put into the response */
    int tool_started, tool_announced;
    const char *finish_reason;
    strbuf text;                     /* non-streamed: its whole output text */
} xchoice;

typedef struct xch {
    struct server *srv;
    mhd_stream st;                   /* its connection and streamed response; st.suspended
                                      * and st.conn_done under mu */
    list_link(struct xch) live;      /* live list (server.mu) */
    _Atomic int refs;
    endpoint ep;
    const char *path;                /* the endpoint's path (static) */
    uint64_t seq;                    /* arrival number */
    xstate state;
    strbuf body;
    int too_large;
    char client_id[80];              /* X-Request-Id, if any */
    char id[48];                     /* response id ("chatcmpl-...") */
    int64_t session_id;              /* LMDeploy session_id; -1 when absent */
    int session_held;                /* session_id is in the server's busy set */
    int64_t created;                 /* unix seconds */
    /* request options */
    int stream, include_usage, continuous_usage;
    int tool;                        /* chat output is a tool call: TOOL_AUTO/REQUIRED/NAMED, or 0 */
    int tool_started;                /* its first arguments were written */
    int tool_announced;              /* its id and name were written */
    char tool_name[96], tool_arg[64];
    int64_t reasoning_k;             /* the first reasoning_k output tokens are reasoning */
    xchoice *ch;                     /* the n choices (n > 1: OpenAI's "n") */
    int n, ndone;                    /* choices; how many the engine is done with (under mu) */
    int cur, entered;                /* the choice being rendered, if any (under mu);
                                      * see server_xch_choice_enter */
    fault fault;
    int64_t fault_after;             /* tokens sent before the fault fires */
    /* times (CLOCK_MONOTONIC ns); t_first_write: the first body bytes sent */
    int64_t t_arrival, t_request, t_first_write, t_end;
    int status;                      /* HTTP status sent */
    int term;                        /* libmicrohttpd's termination code */
    const char *outcome;             /* for the ground truth */
    /* under mu */
    pthread_mutex_t mu;
    strbuf out;                      /* bytes not yet handed to the connection */
    size_t out_off;                  /* handed out of out */
    uint64_t out_base;               /* bytes handed out before out[0] */
    int finished;                    /* out holds the end of the response */
    int kill;                        /* close the connection with an error now */
    int reset;                       /* close the connection with an error once out is drained */
    int cancel_wanted;               /* the engine request should be cancelled */
    int stalled;
    int64_t stall_deadline;
    int engine_done;                 /* every choice is done */
    int fault_fired;
    int sent_first;                  /* role chunk (chat) written */
    int64_t tokens_sent;             /* tokens put into the response (all choices) */
    int64_t choice_tokens;           /* ... of the current choice */
    sim_engine_result res;
    const char *finish_reason;
    strbuf text;                     /* non-streamed: the current choice's output text */
    strbuf ids;                      /* non-streamed /generate: output ids, comma-separated */
    /* per content event: engine schedule, emission, hand-off to libmicrohttpd,
     * send (bytes handed to the kernel), tokens, end offset. Events
     * [nev_written, nev_handed) were handed out but are not known to be sent
     * yet: see mark_sent in server_exchange.c. */
    int64_t *ev_sched, *ev_emit, *ev_handed, *ev_write;
    int32_t *ev_ntok;
    uint64_t *ev_end;
    size_t nev, capev, nev_handed, nev_written;
    int handed_pending;              /* body bytes handed to libmicrohttpd, not yet known sent
                                      * (HTTP thread only) */
} xch;

struct server {
    server_config cfg;
    char *host, *model, *api_key, *gt_path;
    char url[128];
    int port;
    sim_engine *engine;
    struct MHD_Daemon *d;
    ground_truth *gt;
    server_metrics *metrics;
    pthread_mutex_t mu;              /* live list, counters */
    pthread_cond_t drained;          /* nlive reached 0 */
    list_head(xch) live;             /* through xch.live */
    size_t nlive;
    int64_t *sessions;               /* LMDeploy session_ids with a request running */
    size_t nsessions, capsessions;
    _Atomic uint64_t nrequests;
    atomic_int shut;                 /* set by server_shutdown, read by the HTTP and engine threads */
    char model_json[256];            /* the model name, JSON-escaped */
};

/* --- server.c --- */
/* Queues a complete response (copying body) with a content type; it counts
 * as sent when libmicrohttpd reports the request complete. */
enum MHD_Result server_respond(xch *x, int status, const char *ctype, const char *body, size_t len);
/* The profile's error object for status/message (param may be NULL), into out. */
void server_error_json(const struct server *s, int status, const char *message,
                       const char *param, strbuf *out);
/* Queues the profile's error response. */
enum MHD_Result server_respond_error(xch *x, int status, const char *message, const char *param);

/* --- server_exchange.c --- */
/* A new exchange for a request on c, holding the connection's reference,
 * stamped with its arrival and put on the live list. */
xch *server_xch_new(struct server *s, struct MHD_Connection *c);
/* Takes / drops a reference; the last drop writes the ground-truth line
 * (generation endpoints only) and frees x. */
void server_xch_ref(xch *x);
void server_xch_unref(xch *x);
/* Makes choice i the current one: its state moves into x's per-choice
 * fields (text, finish_reason, tool flags, choice_tokens) until
 * server_xch_choice_leave moves it back. Under x->mu. */
void server_xch_choice_enter(xch *x, int i);
void server_xch_choice_leave(xch *x);
/* Calls fn for every choice in index order, each made current (under x->mu). */
void server_xch_each_choice(xch *x, void (*fn)(xch *x, strbuf *out), strbuf *out);
/* Draws this request's fault from the seeded stream. */
void server_xch_draw_fault(xch *x);
/* Submits r (whose callbacks it sets) and, for a stream, queues the SSE
 * response; for a non-streamed request suspends until the engine is done.
 * Returns what the access handler should return. */
enum MHD_Result server_xch_start(xch *x, sim_engine_request *r);
/* Access-handler re-entry of a resumed non-streamed request. */
enum MHD_Result server_xch_resumed(xch *x);
/* Connection finished (any reason): record the end, cancel the engine
 * request if it is still running, drop the connection's reference. */
void server_xch_completed(xch *x, enum MHD_RequestTerminationCode code);
/* Kills a stalled exchange whose time is up, or any exchange at shutdown. */
void server_xch_kill(xch *x);

/* --- server_openai.c: /v1/chat/completions and /v1/completions --- */
/* Validates the body and fills r; on a client error returns the HTTP status
 * with a message (and the offending field in param). 0 on success. */
int server_openai_parse(xch *x, cJSON *body, sim_engine_request *r, strbuf *prompt,
                        uint32_t **ids, char *msg, size_t msglen, const char **param);
/* Shared field readers: 0 when absent or valid (value stored), else -1 with
 * a message naming the field. */
int server_get_int(cJSON *o, const char *name, int64_t min, int64_t *out, int *present,
                   char *msg, size_t msglen);
int server_get_bool(cJSON *o, const char *name, int *out, char *msg, size_t msglen);
/* Token ids from a JSON array of integers (malloc'd into *ids). */
int server_get_ids(cJSON *a, const char *name, uint32_t **ids, size_t *n, char *msg, size_t msglen);
void server_openai_tokens(xch *x, const sim_engine_tokens *t, strbuf *out);
void server_openai_end(xch *x, strbuf *out);        /* usage chunk and [DONE] */
/* The error event that ends a stream, then [DONE] (every endpoint). */
void server_openai_error_event(xch *x, const char *message, strbuf *out);
/* The terminal chunk of an aborted stream (finish_reason "abort"). */
void server_openai_abort(xch *x, strbuf *out);
void server_openai_body(xch *x, strbuf *out);       /* non-streamed response */

/* Marks x's LMDeploy session_id busy. 0, or -1 when another request holds it. */
int server_session_claim(xch *x);
/* Frees x's session_id if it holds it (takes server.mu; never under xch.mu). */
void server_session_release(xch *x);

/* One chat.completion.chunk with the given delta members (no braces) and
 * finish reason (NULL: null); done is the tokens so far for per-chunk usage. */
void server_openai_chat_chunk(xch *x, strbuf *out, const char *delta, size_t len,
                              const char *finish, int64_t done);

/* LMDeploy's chat or completions chunk around the choice's members (delta
 * or text, and 0.12's null fields), per release: 0.16 drops None fields and
 * sends "usage": null only when include_usage; 0.12 sends every field and
 * the usage in the chunk with the finish reason. */
void server_openai_lmdeploy_chunk(xch *x, strbuf *out, const char *members, size_t len,
                                  const char *finish);
/* LMDeploy's last chunk: no text, the finish reason (its final GenOut). */
void server_openai_lmdeploy_final(xch *x, strbuf *out, const char *finish);

/* --- server_chat.c: reasoning and tool calls in chat outputs --- */
/* Reads tools, tool_choice and the thinking switches of a chat request
 * (after max_tokens and ignore_eos are in r): 0, or -1 with a message. */
int server_chat_parse(xch *x, cJSON *body, const sim_engine_request *r, char *msg, size_t msglen,
                      const char **param);
/* The first chunk's delta members (vLLM and OpenAI send the role first). */
void server_chat_role_delta(xch *x, strbuf *d);
/* The chunks for one engine event: reasoning, content or tool-call arguments. */
void server_chat_event(xch *x, const sim_engine_tokens *t, strbuf *out);
/* The finish reason shown for the engine's fr ("tool_calls" after a call). */
const char *server_chat_finish(const xch *x, const char *fr);
/* The non-streamed response's message object. */
void server_chat_message(xch *x, strbuf *out);

/* --- server_lmdeploy.c: POST /generate, and LMDeploy's answers --- */
/* The answer to a request whose session_id is busy: 0.16 fails inside
 * create_session (500, Starlette's plain text); 0.12 refuses it (400). */
enum MHD_Result server_lmdeploy_session_busy(xch *x);
/* LMDeploy's context check: a prompt of max_model_len tokens or more is a
 * 400 with its message (0 or -1 with msg); a longer max_tokens is not an
 * error, the output just ends at the context's end (finish "length"). */
int server_lmdeploy_fit(xch *x, sim_engine_request *r, char *msg, size_t msglen);
int server_lmdeploy_parse(xch *x, cJSON *body, sim_engine_request *r, strbuf *prompt,
                          uint32_t **ids, char *msg, size_t msglen, const char **param);
void server_lmdeploy_tokens(xch *x, const sim_engine_tokens *t, strbuf *out);
void server_lmdeploy_end(xch *x, strbuf *out);
void server_lmdeploy_abort(xch *x, strbuf *out);
void server_lmdeploy_body(xch *x, strbuf *out);

/* --- server_metrics.c --- */
server_metrics *server_metrics_new(void);
void server_metrics_free(server_metrics *m);
/* Records a finished request (engine thread). */
void server_metrics_request(server_metrics *m, const xch *x, const sim_engine_result *r);
/* Prometheus text for GET /metrics, with the profile's metric prefix. */
void server_metrics_text(struct server *s, strbuf *out);
/* JSON for GET /v1/models. */
void server_models_json(struct server *s, strbuf *out);

#endif
