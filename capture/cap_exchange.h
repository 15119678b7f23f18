/* cap_exchange.h — one captured HTTP exchange (a request and its
 * response) and its trace record (docs/capture.md, "Records").
 *
 * Both capture paths fill the same struct: the packet path (http_pair.c)
 * from reassembled TCP streams, the recording proxy (capture_proxy.c) from
 * the requests it forwards. Times are nanoseconds on the capture clock (the
 * packets' timestamps, CLOCK_REALTIME based); -1 means not seen.
 *
 * Privacy: request headers pass cap_exchange_header_kept before they are
 * stored, so Authorization, cookies and anything named like a key, token,
 * secret or password never reach a record. With redact, the record keeps
 * lengths and block hashes of the prompt, never its text, and no headers.
 *
 * Ownership: the exchange owns its strings and buffers
 * (cap_exchange_free); cap_exchange_format only reads it. */
#ifndef SAGELLM_CAP_EXCHANGE_H
#define SAGELLM_CAP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/resp_scan.h"
#include "common/util.h"
#include "traces/sessionize.h"

/* Why an exchange is incomplete (the record's orig.incomplete). */
#define CAP_INC_GAP "gap"                 /* bytes of it were never captured */
#define CAP_INC_RESET "reset"             /* the connection was reset */
#define CAP_INC_CLOSED "closed"           /* the connection closed before the response ended */
#define CAP_INC_IDLE "idle"               /* the connection went idle past --idle-timeout */
#define CAP_INC_STOPPED "capture_stopped" /* the capture ended first */
#define CAP_INC_MEMORY "memory"           /* a memory cap dropped part of it */
#define CAP_INC_PARSE "parse_error"       /* the HTTP framing could not be parsed */
#define CAP_INC_WINDOW "window"           /* still open when the reorder window had to move on */
#define CAP_INC_UPSTREAM "upstream_error" /* proxy: the upstream could not be reached or failed */
#define CAP_INC_CLIENT "client_closed"    /* proxy: the client went away first */
#define CAP_NINC 10

/* The reasons above in a fixed order, for counting. */
extern const char *const cap_exchange_reasons[CAP_NINC];
/* Index of a reason in cap_exchange_reasons (compared by text), or -1. */
int cap_exchange_reason_index(const char *reason);

typedef struct cap_exchange {
    struct cap_exchange *next;        /* the connection's queue (its user's) */
    uint64_t conn_id;                 /* the connection it came on */
    int64_t t_req;                    /* arrival: the request's first byte */
    int64_t t_req_end;                /* the request's last byte */
    int64_t t_first_byte;             /* the final response's first byte */
    int64_t t_end;                    /* the response's last byte */
    char method[16];
    char *url;                        /* as sent (malloc'd), NULL until known */
    const char *api;                  /* "chat", "completions", "generate", "other"; NULL: not recorded */
    strbuf headers;                   /* kept request headers as JSON members: "name":"value",... */
    strbuf body;                      /* the request body, while kept */
    int body_dropped;                 /* too large, or a memory cap: not kept */
    char req_encoding[16];            /* request Content-Encoding, when not identity */
    int expect_continue;              /* Expect: 100-continue */
    int hdr_done, req_done;           /* request headers / whole request seen (or given up) */
    int resp_started, resp_done;
    int is_head;
    uint32_t hdr_end_seq;             /* packet path: sequence number after the request headers */
    int status;                       /* final status; 0 until known */
    int interim;                      /* 1xx responses seen before the final one */
    resp_scan scan;
    const char *incomplete;           /* NULL, or a CAP_INC_* reason */
    char *error;                      /* proxy: the upstream transfer's error text (malloc'd), or NULL */
    const char *rejected;             /* proxy: why it refused the request (static text), or NULL */
    const char *key_header;           /* the session header's name (its owner's), or NULL */
    char *key_value;                  /* that header's value as sent (malloc'd), or NULL */
    int req_incomplete;               /* the request was not seen whole */
    void *ticket;                     /* capture_out ticket while the record is pending */
    void *ctx;                        /* the user's (the owner's context) */
} cap_exchange;

typedef struct cap_format_opts {
    int redact;                       /* lengths and block hashes instead of the prompt */
    int no_headers;                   /* leave request headers out */
    int event_times;                  /* orig.t_arrival_ns and orig.event_ns (--event-times) */
    uint64_t salt;                    /* seeds the block hashes of --redact */
    const char *session_header;       /* a request header that names the conversation, or NULL */
    const char *session_field;        /* a body field that does, or NULL */
} cap_format_opts;

/* A new exchange with every time at -1. Never returns NULL. */
cap_exchange *cap_exchange_new(uint64_t conn_id, int64_t t_req);

/* Frees x and what it owns; hands an SSE parser back to pool. NULL is a no-op. */
void cap_exchange_free(cap_exchange *x, resp_scan_pool *pool);

/* The API kind of a request path ("/v1/chat/completions" -> "chat", ...,
 * query string ignored, a prefix before /v1/ allowed), or NULL for any
 * other path. */
const char *cap_exchange_api_of(const char *url);

/* 1 if a request header may be written: not a secret (Authorization,
 * Proxy-Authorization, Cookie, any name containing key, token, secret,
 * passw, auth, cookie, session or credential) and not a hop-by-hop or
 * framing header (Host, Connection, Content-Length, Transfer-Encoding,
 * Expect, Keep-Alive, TE, Upgrade, Proxy-*). */
int cap_exchange_header_kept(const char *name, size_t len);

/* Adds a request header to x->headers when kept (name lower-cased; names
 * of 128 bytes or more and names or values that are not UTF-8 are left
 * out); keeps
 * the value of x->key_header (any case) whether or not it is kept. */
void cap_exchange_add_header(cap_exchange *x, const char *name, size_t nlen,
                             const char *value, size_t vlen);

/* Appends the record's fields after "t_us" and "id" to out: text that
 * starts with ',' and ends with '}' (docs/capture.md, "Records"). When sf
 * is not NULL it gets what the exchange says about its conversation (for
 * the writer's sessionizer; redacted records too, as it holds only hashes). */
void cap_exchange_format(const cap_exchange *x, const cap_format_opts *o, strbuf *out, sess_facts *sf);

#endif
