/* http_pair.h — HTTP/1.1 over reassembled TCP streams: requests and
 * responses parsed with the http-parser library, each response paired with
 * its request, and each exchange on an LLM path handed to the trace writer
 * (capture_out) as a record (docs/capture.md, "HTTP").
 *
 * Per connection: keep-alive with any number of requests, pipelining
 * (responses pair with requests in order), Content-Length, chunked and
 * read-until-close bodies, Expect: 100-continue and other interim
 * responses, HEAD, and 101 upgrades (the connection is then left alone).
 *
 * Where a stream's start was not seen, or after a gap or a parse error, a
 * direction waits for a message boundary: a segment that starts with a
 * request line (client) or "HTTP/1." (server). A response is only paired
 * with a request whose headers the server had acknowledged when the
 * response began (its first segment's ACK), so a response to a request the
 * capture missed is recognised and left unpaired instead of shifting every
 * pair after it.
 *
 * Ownership: a connection (http_conn) belongs to its user from
 * http_pair_conn_new to http_pair_conn_close, which frees it. */
#ifndef SAGELLM_HTTP_PAIR_H
#define SAGELLM_HTTP_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "capture/cap_exchange.h"
#include "capture/capture_out.h"

typedef struct http_pair http_pair;
typedef struct http_conn http_conn;

typedef struct http_pair_opts {
    int all_paths;             /* record requests on any path (as api "other") */
    size_t max_body;           /* request body bytes kept per request (0: 64 MiB) */
    size_t max_held;           /* request body bytes held in all connections (0: 1 GiB) */
    size_t max_json;           /* non-streamed response body kept for its usage (0: 16 MiB) */
    size_t max_queue;          /* requests waiting for their response per connection (0: 1024) */
    cap_format_opts fmt;
} http_pair_opts;

typedef struct http_pair_stats {
    uint64_t conns;            /* connections that carried payload */
    uint64_t non_http;         /* connections whose bytes were not HTTP */
    uint64_t upgraded;         /* connections switched to another protocol (101) */
    uint64_t requests;         /* requests seen (any path) */
    uint64_t requests_lost;    /* requests cut before their headers ended: path unknown, not recorded */
    uint64_t not_llm;          /* requests on other paths, not recorded (no --all-paths) */
    uint64_t responses;        /* final responses paired with a request */
    uint64_t unpaired;         /* responses with no request seen for them */
    uint64_t recorded;         /* records handed to the writer */
    uint64_t incomplete[CAP_NINC]; /* of those, incomplete, by reason */
    uint64_t parse_errors[2];  /* client, server */
    uint64_t skipped_bytes[2]; /* bytes passed while waiting for a message boundary */
    uint64_t held_bytes, peak_held_bytes;
} http_pair_stats;

/* A pairing context writing records to out (not owned). Never returns NULL. */
http_pair *http_pair_new(const http_pair_opts *o, capture_out *out);

/* A connection. client_side: which side (0/1, as the caller numbers the
 * two endpoints) is the client, or -1 to learn it from the first message;
 * from_start: the stream starts at the connection's first byte (its SYN was
 * seen), else both directions wait for a message boundary. */
http_conn *http_pair_conn_new(http_pair *hp, uint64_t conn_id, int client_side, int from_start);

/* In-order bytes sent by `side` that became available at ts; seq is the
 * TCP sequence number of d[0], ack/has_ack the carrying segment's. */
void http_pair_data(http_pair *hp, http_conn *c, int side, int64_t ts, uint32_t seq,
                    uint32_t ack, int has_ack, const uint8_t *d, size_t n);

/* Bytes of `side` were lost; reason is CAP_INC_GAP or CAP_INC_MEMORY. */
void http_pair_gap(http_pair *hp, http_conn *c, int side, int64_t ts, const char *reason);

/* `side` finished sending (FIN). */
void http_pair_fin(http_pair *hp, http_conn *c, int side, int64_t ts);

/* The connection ended: every exchange still open is recorded as
 * incomplete with reason (CAP_INC_RESET, _CLOSED, _IDLE, _STOPPED,
 * _MEMORY). Frees c; NULL is a no-op. */
void http_pair_conn_close(http_pair *hp, http_conn *c, int64_t ts, const char *reason);

/* Counters (owned by the context, valid until http_pair_free). */
const http_pair_stats *http_pair_get_stats(const http_pair *hp);

/* Frees the context (connections must be closed first). NULL is a no-op. */
void http_pair_free(http_pair *hp);

#endif
