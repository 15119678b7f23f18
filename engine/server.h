/* server.h — the built-in HTTP server: a thin front (libmicrohttpd) over a
 * sim_engine that speaks the vLLM, LMDeploy or plain OpenAI-gateway API,
 * injects seeded faults and writes a ground-truth file (docs/server.md).
 *
 * Ownership: the caller owns the engine and keeps it alive until
 * server_free; server_shutdown stops it. Strings in server_config are copied. */
#ifndef SAGELLM_SERVER_H
#define SAGELLM_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/sim_engine.h"

typedef enum server_api {
    SERVER_API_VLLM,
    SERVER_API_LMDEPLOY,
    SERVER_API_GATEWAY,
} server_api;

typedef struct server_config {
    server_api api;
    const char *host;            /* address to bind (default "127.0.0.1") */
    int port;                    /* 0 picks a free port */
    const char *root_path;       /* every endpoint under this prefix (e.g. "/openai"), or NULL */
    const char *model;           /* served model name */
    const char *api_key;         /* when set, requests need "Authorization: Bearer KEY" */
    const char *ground_truth;    /* path of the ground-truth JSONL, or NULL */
    uint64_t seed;               /* seeds the fault draws */
    double fail_rate, reset_rate, stall_rate, error_in_stream_rate;
    double abort_rate;           /* streams end early with finish_reason "abort" */
    double reasoning;            /* fraction of a chat output that is reasoning (0: none) */
    int lmdeploy_minor;          /* LMDeploy 0.<minor> to imitate: 12 or 16 (default) */
    int disable_metrics;         /* no GET /metrics (LMDeploy's --disable-metrics) */
    int64_t stall_ns;            /* how long a stalled response stays open */
    size_t max_body;             /* request bodies above this get 413 */
    int threads;                 /* HTTP threads (1: one epoll thread) */
    unsigned max_connections;
} server_config;

typedef struct server server;

/* Fills c with the defaults (vllm, 127.0.0.1, port 0, model
 * "sagellm-sim", no faults, stall 300 s, 16 MiB bodies, 1 thread,
 * LMDeploy 0.16, no reasoning). */
void server_config_default(server_config *c);

/* Parses "vllm", "lmdeploy" or "gateway". Returns 0 or -1. */
int server_api_parse(const char *s, server_api *out);
const char *server_api_name(server_api a);

/* Checks that the fault rates of c add up to at most 1 (a request gets at
 * most one fault). Returns 0, or ERR_USAGE with the reason in err. */
int server_config_check_faults(const server_config *c, char *err, size_t errlen);

/* Opens the ground-truth file, binds and starts serving on the engine
 * (which it starts if needed). Returns NULL with a message in err (bind
 * failure, bad host, fault rates summing above 1, ...). */
server *server_new(const server_config *cfg, sim_engine *engine, char *err, size_t errlen);

/* The bound port, and the URL clients use ("http://127.0.0.1:PORT"). */
int server_port(const server *s);
const char *server_url(const server *s);

/* Housekeeping: closes stalled responses whose time is up. Call every
 * 100 ms or so from one thread. */
void server_tick(server *s);

/* Clean shutdown: stops accepting, stops the engine (requests in flight end
 * as aborted), closes every open response, stops the HTTP threads and
 * closes the ground-truth file. Returns 0, or ERR_SYSTEM with err when the
 * ground-truth file could not be written completely. Idempotent. */
int server_shutdown(server *s, char *err, size_t errlen);

/* Requests handled so far (every HTTP request, any outcome). */
uint64_t server_requests(const server *s);

/* Shuts down if needed and frees. NULL is a no-op. */
void server_free(server *s);

#endif
