/* resp_scan.h — what a captured response body says about generation: SSE
 * events counted with the project's SSE parser (common/sse.h), the times
 * of the first and last events that carry generated content, an error
 * object inside the stream, and the usage the server reported (OpenAI's
 * `usage`, LMDeploy's `meta_info`). Non-streamed JSON bodies are kept (up
 * to a cap) and read at the end. Compressed bodies are noted, not decoded.
 *
 * Content, as in docs/metrics.md: a non-empty `content`, `text`,
 * `reasoning_content` or `reasoning` string, or a non-empty `output_ids`
 * array, anywhere in the event's JSON. The event is not parsed as a tree:
 * a scanner reads its keys (strings followed by ':'), which is several
 * times faster and sees exactly the keys a parser would.
 *
 * With resp_scan_keep_times, the time of every content event is kept too
 * (the time of the bytes that completed it: on the packet path, the
 * timestamp of the segment that carried the event's last byte).
 *
 * Ownership: a resp_scan is plain data embedded by its user; SSE parsers
 * come from a resp_scan_pool and go back to it in resp_scan_release; the
 * kept event times stay until resp_scan_free_times. */
#ifndef SAGELLM_RESP_SCAN_H
#define SAGELLM_RESP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/sse.h"
#include "common/util.h"

/* Reusable SSE parsers (one user thread). Zero-initialise; resp_scan_pool_free. */
typedef struct resp_scan_pool {
    sse_parser **free;
    size_t n, cap;
} resp_scan_pool;

typedef enum resp_kind { RESP_NONE, RESP_SSE, RESP_JSON, RESP_OTHER } resp_kind;

/* Key flags found by resp_scan_keys. */
enum { RESP_KEY_CONTENT = 1, RESP_KEY_USAGE = 2, RESP_KEY_ERROR = 4 };

typedef struct resp_scan {
    resp_kind kind;
    int encoded;               /* Content-Encoding other than identity: not scanned */
    char encoding[16];
    sse_parser *sse;
    int64_t t_first_content;   /* -1 until seen (ns) */
    int64_t t_last_content;
    int64_t events;            /* events that carried content */
    int64_t all_events;        /* every SSE event, [DONE] included */
    int done;                  /* data: [DONE] seen */
    int stream_error;          /* an error object in the stream or the body */
    int sse_broken;            /* the SSE parser hit a limit, or the stream ended inside an event */
    int body_too_large;        /* a JSON body over max_json: not read */
    int64_t prompt_tokens;     /* from usage/meta_info; -1 when not given */
    int64_t completion_tokens;
    strbuf keep;               /* SSE: data of the last event with usage; JSON: the body */
    size_t max_json;
    uint64_t body_bytes;
    int64_t cur_ts;            /* time of the bytes being fed */
    int keep_times;            /* resp_scan_keep_times was called */
    int times_truncated;       /* more content events than RESP_SCAN_MAX_TIMES: the rest not kept */
    int64_t *times;            /* each content event's time (ns), in order */
    size_t ntimes, captimes;
} resp_scan;

/* Event times kept per response at most (8 bytes each). */
#define RESP_SCAN_MAX_TIMES ((size_t)1 << 20)

/* Starts scanning a response body. content_type and encoding may be NULL.
 * max_json bounds a kept JSON body (0: 16 MiB). */
void resp_scan_begin(resp_scan *s, resp_scan_pool *pool, const char *content_type,
                     const char *encoding, size_t max_json);

/* Keeps the time of every content event from now on (call after
 * resp_scan_begin). */
void resp_scan_keep_times(resp_scan *s);

/* Body bytes that became available at ts (ns). */
void resp_scan_feed(resp_scan *s, int64_t ts, const void *data, size_t n);

/* The body ended at ts; complete is 0 when it was cut short. Reads the
 * usage and, for a JSON body, its content. */
void resp_scan_end(resp_scan *s, int64_t ts, int complete);

/* Gives the SSE parser back and frees the kept bytes. The struct may be
 * begun again. */
void resp_scan_release(resp_scan *s, resp_scan_pool *pool);

/* Frees the kept event times (they survive resp_scan_release and
 * resp_scan_begin, which only forgets them). */
void resp_scan_free_times(resp_scan *s);

/* Scans JSON text for the keys above; returns RESP_KEY_* flags. */
unsigned resp_scan_keys(const char *s, size_t n);

/* Frees the pool's parsers. */
void resp_scan_pool_free(resp_scan_pool *pool);

#endif
