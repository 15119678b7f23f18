/* capture_proxy.h — `capture --proxy`: a recording reverse proxy for
 * setups where packets cannot be captured (TLS terminated in the server,
 * no capture permission). libmicrohttpd listens; libcurl forwards each
 * request to the upstream and the response streams back to the client as
 * it comes (flow-controlled: a slow client pauses the upstream transfer);
 * every exchange on an LLM path becomes the same trace record the packet
 * path writes (cap_exchange.h), with the proxy's clock.
 *
 * Times: arrival is when the proxy read the request line; the response's
 * first byte, content events and end are when they reached the proxy from
 * the upstream. Headers are forwarded except hop-by-hop ones; secrets are
 * forwarded but never recorded.
 *
 * Clients are hostile until checked: only origin-form targets go to the
 * upstream, and only to it (proxy_target.h; others get 400); a request
 * must arrive whole within client_timeout (proxy_conns.h); request bodies
 * are capped per request (max_body) and in all (max_buffered). Refused
 * requests on recorded paths are recorded with orig.rejected.
 *
 * Threads: libmicrohttpd's thread, one libcurl thread, and the caller's,
 * which calls capture_proxy_tick. The writer (capture_out) is only used
 * under the proxy's lock. Ownership: the proxy owns its threads and
 * transfers; the writer stays the caller's and must outlive the proxy. */
#ifndef SAGELLM_CAPTURE_PROXY_H
#define SAGELLM_CAPTURE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "capture/cap_exchange.h"
#include "capture/capture_out.h"
#include "common/http_opts.h"

typedef struct capture_proxy capture_proxy;

typedef struct capture_proxy_opts {
    const char *listen;        /* "[HOST:]PORT" ("[::1]:PORT" for IPv6); HOST defaults to 127.0.0.1; port 0 picks one */
    const char *upstream;      /* "http[s]://HOST:PORT[/PREFIX]": request paths are appended */
    http_opts http;            /* TLS trust, client certificate, HTTP/2 towards the upstream */
    int all_paths;             /* record requests on any path (api "other") */
    size_t max_body;           /* larger request bodies get 413 (0: 64 MiB) */
    size_t max_buffered;       /* request body bytes held (or promised by Content-Length) by all
                                  requests at once; a request over it gets 503 (0: 256 MiB) */
    int64_t client_timeout_ns; /* a request must arrive whole this soon after its connection
                                  opened or the previous response ended; also the idle limit
                                  (0: 30 s) */
    size_t max_json;           /* non-streamed response bodies kept for their usage (0: 16 MiB) */
    int64_t connect_timeout_ns;/* to the upstream (0: 10 s) */
    unsigned max_connections;  /* (0: 10000) */
    cap_format_opts fmt;
} capture_proxy_opts;

typedef struct capture_proxy_stats {
    uint64_t requests;         /* requests received */
    uint64_t not_llm;          /* on other paths: forwarded, not recorded */
    uint64_t recorded;         /* records handed to the writer */
    uint64_t incomplete[CAP_NINC];
    uint64_t upstream_errors;  /* the upstream could not be reached or failed mid-response */
    uint64_t too_large;        /* bodies over max_body, answered 413 */
    uint64_t rejected;         /* targets not forwarded (not origin-form, ...), answered 400 */
    uint64_t over_buffered;    /* over max_buffered, answered 503 */
    uint64_t timed_out;        /* connections dropped at client_timeout */
    uint64_t bytes_up, bytes_down;
    uint64_t peak_active;      /* requests in flight at once, at most */
    const char *protocol;      /* of the last finished upstream transfer ("http/1.1", "h2"), or NULL */
} capture_proxy_stats;

/* Starts listening and the forwarding thread. NULL with err filled on
 * failure; *rc is then ERR_USAGE (a bad address or URL) or ERR_SYSTEM
 * (cannot listen, cannot start a thread). */
capture_proxy *capture_proxy_new(const capture_proxy_opts *o, capture_out *out, int *rc,
                                 char *err, size_t errlen);

/* The bound port and the URL clients use ("http://HOST:PORT"). */
int capture_proxy_port(const capture_proxy *p);
const char *capture_proxy_url(const capture_proxy *p);

/* Moves the writer's reorder window to now and writes what is ready; call
 * every 100 ms or so. Returns 0, or ERR_SYSTEM once writing failed
 * (capture_out_error tells why). */
int capture_proxy_tick(capture_proxy *p);

/* 1 when --max-requests records are written. */
int capture_proxy_done(capture_proxy *p);

/* Stops: no new connections; transfers in flight are cancelled and
 * recorded as incomplete "capture_stopped"; the threads end. Idempotent. */
void capture_proxy_shutdown(capture_proxy *p);

/* Counters (a consistent copy). */
void capture_proxy_get_stats(capture_proxy *p, capture_proxy_stats *st);

/* Shuts down if needed and frees. NULL is a no-op. */
void capture_proxy_free(capture_proxy *p);

#endif
