/* xfer.h — one HTTP request of the replay, from the libcurl easy handle to
 * its line in requests.jsonl. Owned by one worker; reused (easy handle,
 * parser and buffers up to XFER_KEEP_BYTES kept) for the worker's next
 * request. */
#ifndef SAGELLM_XFER_H
#define SAGELLM_XFER_H

#include <curl/curl.h>
#include <stdint.h>
#include "clients/client.h"
#include "common/list.h"
#include "common/sse.h"
#include "replay/gaplist.h"
#include "replay/replay.h"

struct rq;

typedef enum {
    XERR_NONE = 0, XERR_CONNECT, XERR_TIMEOUT, XERR_HTTP_4XX, XERR_HTTP_5XX,
    XERR_STREAM, XERR_PROTOCOL, XERR_CANCELLED, XERR_ABORTED,
    XERR_TOO_LARGE,               /* over --max-response-events / --max-response-bytes */
    XERR_REDIRECT                 /* a 3xx answer: redirects are never followed */
} xfer_err;

/* What a worker's transfers read of its loop: the time their socket's
 * bytes arrived (rx_*, below) and the per-pass read budget. Once a transfer
 * has been handed XFER_PASS_BYTES in the worker's current pass, its write
 * callback pauses it (CURL_WRITEFUNC_PAUSE: libcurl keeps the bytes and
 * stops reading the socket) and sets its `paused`; the worker resumes it
 * on its next pass (curl_easy_pause). So a server that streams without
 * pause cannot hold the worker inside libcurl: due sends, the stop flag and
 * the stall check are served between two budgets. HTTP/1 responses only
 * (xfer.c, pace). */
#define XFER_PASS_BYTES (64u << 10)
typedef struct xfer_loop {
    uint64_t pass;                /* the worker's loop pass (the worker increments it) */
    long npaused;                 /* transfers paused and not yet resumed */
    /* CLOCK_MONOTONIC ns at which the socket libcurl is being driven for
     * was reported readable (the return of the epoll_wait that reported it),
     * or -1 outside such an action (a timeout action, a resumed transfer):
     * response bytes are stamped with it, not with the time their callback
     * ran (docs/metrics.md, "Where times are taken"). */
    int64_t rx_ready;
    curl_socket_t rx_sock;        /* that socket: other transfers' bytes are stamped when read */
    /* --rx-stamp kernel: when the kernel's stamp was read (after the peek),
     * or -1 (rx_ready is a readiness time). Bytes that arrive after the
     * peek and are read in the same action (libcurl reads again while the
     * socket stays readable, or the thread was preempted before its read)
     * would carry an older stamp: bytes beyond the bytes the peek saw, or
     * (unless rx_exact) handed over more than XFER_PEEK_SLACK_NS after the
     * peek, are stamped when handed over. */
    int64_t rx_peeked;
    size_t rx_peek_len;           /* bytes queued at the peek */
    size_t rx_handed;             /* wire bytes handed to callbacks since (xfer_rx_time's n) */
    /* The callbacks' count of wire bytes is exact or over (plain HTTP/1.x:
     * no TLS records, no HTTP/2 frames; xfer_exact_wire): the count alone
     * keeps a kernel stamp from reaching bytes that arrived after the peek,
     * so XFER_PEEK_SLACK_NS does not apply (a worker preempted between its
     * peek and libcurl's read loses no stamp). */
    int rx_exact;
} xfer_loop;
#define XFER_PEEK_SLACK_NS 100000

/* What the worker peeks of a readable socket for its kernel stamp
 * (rx_clock.h): more than libcurl reads of it in one action (libcurl reads
 * its receive buffer again while the socket stays readable), so the stamp
 * is the newest arrival of everything queued at the peek. */
#define XFER_PEEK_BYTES (64u << 10)

#define XFER_CHOICES 64           /* choices tracked apart (higher indices share the last) */

/* A choice's last content event: its time and its running token count then
 * (-1 unknown). */
typedef struct xfer_choice {
    int64_t t, ct;
} xfer_choice;

/* Receive buffer of each transfer (CURLOPT_BUFFERSIZE; libcurl holds one
 * per transfer in flight): libcurl's smallest, which holds a typical SSE
 * event (300-500 bytes) whole; a larger event or a burst takes more reads. */
#define XFER_RECV_BUFFER 1024L
/* Buffers an xfer keeps between requests (request body, response body,
 * reply text): up to this capacity they are reused; a larger one is freed
 * once its request no longer needs it, so that a few large requests do
 * not leave every pooled xfer holding their size. */
#define XFER_KEEP_BYTES (4u << 10)

/* Longest error message a request records (its text is cut there). */
#define XFER_ERRMSG_MAX 320

typedef struct xfer {
    list_link(struct xfer) link;  /* the worker's in-flight list / free list */
    struct xfer *done_next;       /* in-process: the worker's list of finished requests */
    struct rq *q;                 /* the scheduled request (owned while in flight) */
    const client *cl;
    const replay_opts *o;
    CURL *easy;
    int easy_clean;               /* its last transfer completed: options kept as set */
    strbuf url;                   /* the URL set on the handle ("" after a reset) */
    const struct curl_slist *headers_set; /* the header list set on the handle (NULL after a reset) */
    struct curl_slist *headers;   /* the run's headers + X-Request-Id (owned) */
    struct curl_slist *rid;       /* the X-Request-Id node, rewritten per request */
    struct curl_slist *rec_headers; /* headers + the record's (--replay-headers), or NULL */
    sse_parser *sse;
    void *cstate;                 /* client per-request state */
    client_request creq;
    int64_t t0;                   /* run start, CLOCK_MONOTONIC ns */
    /* times, ns after run start; -1 = did not happen */
    int64_t t_send, t_first_byte, t_first_tok, t_last_tok, t_end, last_activity;
    int64_t connect_ns;
    int64_t now;                  /* stamp of the data being parsed */
    int64_t rx_delay_max;         /* longest readiness -> callback delay of its bytes, ns (-1 none) */
    int64_t rx_last;              /* the last stamp xfer_rx_time gave (stamps never go back) */
    curl_socket_t sock;           /* the socket libcurl last named for it (the worker's on_socket) */
    int64_t events;
    int64_t prompt_tokens, usage_tokens, ct_last;
    int per_token;                /* every content event had a running token count */
    /* Choices (n > 1), by index; see client_event. */
    uint64_t choices_seen;        /* choices the response mentioned */
    uint64_t choices_started;     /* choices that have had content */
    xfer_choice choice0;          /* choice 0's last content */
    xfer_choice *choices;         /* every choice's, allocated at the first response with
                                   * n > 1 and kept for reuse (NULL until then) */
    gaplist gaps;                 /* chunk gaps (ns), each with the tokens of the event
                                   * closing it (-1 unknown), compact (gaplist.h) */
    int status, is_sse, done_seen, aborted, want_reply, headers_seen;
    int64_t rx_bytes;             /* response body bytes received (for --max-response-bytes) */
    xfer_loop *loop;              /* its worker's loop state (NULL: never paused, stamped when called) */
    uint64_t pass_seen;           /* loop->pass when pass_bytes was last reset */
    size_t pass_bytes;            /* bytes handed to the write callback in that pass */
    int paused;                   /* paused by the budget, waiting for the next pass */
    int pausable;                 /* an HTTP/1 response: the budget applies (see pace) */
    xfer_err err;
    int ok;
    char *errmsg;                 /* why it failed (the first cause; heap, at most
                                   * XFER_ERRMSG_MAX - 1 bytes), NULL until it does */
    char curl_err[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER: libcurl's detailed message */
    char finish_reason[32];
    char bad_finish[8];           /* "abort" or "error" when a choice ended so */
    char *finish_msg;             /* the server's reason for it, if it gave one (heap), or NULL */
    /* in-process requests (client ops->submit) */
    int inproc;
    void (*on_inproc_done)(void *owner, struct xfer *x);  /* hands x back to its worker */
    void *owner;
    client_sink sink;             /* the client's way back: the sink_* callbacks and x */
    const char *abort_why;        /* "stall" / "cancelled" asked of the engine, or NULL */
    int64_t abort_at;
    int cancel_sent;
    client_done *done;            /* the engine's account (times already run-relative):
                                   * allocated at an in-process request's end, kept for
                                   * reuse; NULL for HTTP transfers */
    int has_engine;
    strbuf body;                  /* non-SSE body or error body */
    strbuf reply;                 /* generated text (dependent sessions) */
    size_t body_hint;             /* size of the last request body freed (release_sent_body) */
} xfer;

typedef list_head(xfer) xfer_list;

/* The header list every request of a run carries (content type, auth,
 * --header lines). The caller frees it with curl_slist_free_all. Each xfer
 * copies it and adds "X-Request-Id: INDEX" (the request's trace index), which
 * servers log and the built-in server writes into its ground truth. */
struct curl_slist *xfer_headers(const client_opts *co);

xfer *xfer_new(const client *cl, struct curl_slist *headers, const replay_opts *o);
/* Builds the request for q and prepares the easy handle. Returns 0, or a
 * negative error when the client cannot build it (the xfer then holds a
 * failed outcome and must be finished without being sent). */
int xfer_start(xfer *x, struct rq *q, int64_t t0, int want_reply);
/* Starts an in-process request: stamps t_send and calls the client's submit.
 * Returns 0, or a negative error (the xfer then holds a failed outcome and
 * must be finished at once). Completion comes through on_inproc_done. */
int xfer_submit(xfer *x);
/* Classifies an in-process request once its done has arrived. */
void xfer_complete_inproc(xfer *x);
/* Asks the engine to end an in-process request early (why: "stall" or
 * "cancelled"); it stays in flight until its done arrives. */
void xfer_cancel_inproc(xfer *x, const char *why, int64_t now);
/* Last time bytes or tokens arrived (safe to read from the worker thread). */
int64_t xfer_last_activity(const xfer *x);
/* The response's status line and headers are in (status, Content-Type
 * value or NULL), at now (ns after run start). Called by the libcurl write
 * callback at the first body byte; a test can call it to replay a response
 * without libcurl. */
void xfer_response_begin(xfer *x, int status, const char *content_type, int64_t now);
/* Feeds body bytes received at now: an error or plain body is kept, an
 * event stream is parsed and each event applied. Returns 0, or -1 when the
 * transfer must stop (a stream error, a protocol error; the outcome is set). */
int xfer_response_data(xfer *x, const char *buf, size_t len, int64_t now);
/* Choices the response carried (n): 1 for a plain response with content,
 * 0 when nothing arrived. */
int xfer_choices(const xfer *x);
/* Classifies the outcome once libcurl reports the transfer done. */
void xfer_complete(xfer *x, CURLcode res);
/* Ends a transfer from outside: why is "stall" or "cancelled". */
void xfer_abort(xfer *x, const char *why, int64_t now);
/* The time, ns after run start, at which the bytes libcurl is handing
 * over arrived: the kernel's stamp or the worker's readiness time for the
 * socket being driven, else (none known, or the stamp does not cover
 * them: beyond the bytes the peek saw, or read too long after it over TLS
 * or HTTP/2) the time
 * of the call; never before the transfer's previous stamp. n: what the
 * bytes being handed over took on the wire (a header line as it is; body
 * bytes with their chunk framing). Notes the stamp -> callback delay in
 * rx_delay_max. */
int64_t xfer_rx_time(xfer *x, size_t n);
/* 1 when what the callbacks are handed is the wire's byte stream but for
 * HTTP/1.1 framing they count (xfer_loop.rx_exact): a plain http:// URL
 * without --http2, and no TLS proxy (an https:// all_proxy or http_proxy,
 * which libcurl reads from the environment); else 0. */
int xfer_exact_wire(const client_opts *o);
/* Appends the request's JSON line (with newline) to out. */
void xfer_format(const xfer *x, strbuf *out);
/* Clears per-request state for reuse. */
void xfer_recycle(xfer *x);
void xfer_free(xfer *x);

#endif
