/* server_probe.h — HTTP calls around a replay run (not on the hot path):
 * readiness, model discovery and the /metrics scraper thread. */
#ifndef SAGELLM_SERVER_PROBE_H
#define SAGELLM_SERVER_PROBE_H

#include <pthread.h>
#include <stdint.h>
#include "clients/client.h"

/* GET path under the server root (root = 1) or the API base (root = 0)
 * into body; *status is the HTTP status (0 when none); protocol (NULL, or
 * PROBE_PROTOCOL_LEN bytes) gets the HTTP version negotiated ("h2", ...).
 * Returns 0 when the server answered, ERR_SYSTEM otherwise (err filled). */
int probe_get(const client_opts *co, int root, const char *path, long timeout_ms, strbuf *body,
              long *status, char *protocol, char *err, size_t errlen);
/* Polls GET /health every 200 ms until it answers 200 or max_ms passed. */
int probe_wait_ready(const client_opts *co, int64_t max_ms, char *err, size_t errlen);
#define PROBE_PROTOCOL_LEN 16

/* What probe_server found. */
typedef struct probe_report {
    char *model;          /* the first model id of GET /models, or NULL (caller frees) */
    char note[1100];      /* what discovery found, for run.json */
    char protocol[PROBE_PROTOCOL_LEN];  /* "http/1.1", "h2", ... as negotiated */
    long status;          /* status of GET /models */
} probe_report;

/* Checks, before the run's clock starts, that the server can be reached and
 * accepts us: GET {api_url}/models. Fails (ERR_USAGE, one line in err) when
 * the server cannot be reached (connection, DNS, TLS: libcurl's words), when
 * it answers 401 or 403, or 404 when no --model names the model (the base
 * URL is wrong). Otherwise fills pr (model: the first id, when given). */
int probe_server(const client_opts *co, probe_report *pr, char *err, size_t errlen);

/* 1 for the statuses that mean every request of the run will fail the same
 * way (401, 403, 404), so the replay stops at the first one. */
int probe_is_refusal(int status);

/* Reads the server's load from GET /metrics (under the server root): the
 * sums of every *num_requests_running and *num_requests_waiting gauge
 * (vLLM's vllm:, LMDeploy's lmdeploy:, SGLang's sglang: names). Returns 0
 * with both set, ERR_INPUT when /metrics answered without either gauge
 * (err says so), ERR_SYSTEM when it did not answer 200. */
int probe_server_load(const client_opts *co, double *running, double *waiting, char *err, size_t errlen);

typedef struct scraper scraper;
/* Starts sampling /metrics every interval_ms into path (JSON lines
 * {"t_ns": ns after t0, "metrics": {...}}). NULL with err on failure. */
scraper *scrape_start(const client_opts *co, const char *path, int64_t interval_ms, int64_t t0,
                      char *err, size_t errlen);
/* Stops and joins the scraper, closing its file; counts come back. */
void scrape_stop(scraper *s, uint64_t *samples, uint64_t *failures);

#endif
