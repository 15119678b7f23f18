/* sse.h — incremental Server-Sent Events parser.
 *
 * Follows the WHATWG HTML standard's "interpreting an event stream": bytes
 * arrive in chunks split anywhere (inside a "\r\n" pair, inside a UTF-8
 * character); lines end with "\r\n", "\n" or "\r"; one leading UTF-8 BOM is
 * skipped; lines starting with ':' are comments; "field: value" loses one
 * space after the colon; `data` lines append to the data buffer joined by
 * "\n"; `event` sets the type, `id` the last event id (ignored when it
 * contains NUL), `retry` the reconnection time (ASCII digits only); a blank
 * line dispatches the event unless its data buffer is empty; unknown fields
 * are ignored. At the end of the stream an incomplete event is not
 * dispatched, and sse_finish says the stream was truncated.
 *
 * One deliberate difference: the stream is not decoded, so invalid UTF-8 is
 * passed through as bytes instead of being replaced by U+FFFD (the replay
 * parses `data` as JSON, which rejects it).
 *
 * Memory: a line longer than max_event_bytes, or an event whose data grows
 * past it, puts the parser in an error state instead of growing without
 * bound. Buffers are kept between events and between streams (sse_reset),
 * so the steady state allocates nothing.
 *
 * Ownership: the parser owns every buffer; the pointers in an sse_event are
 * valid only during the callback that receives them. */
#ifndef SAGELLM_SSE_H
#define SAGELLM_SSE_H

#include <stddef.h>
#include <stdint.h>

#define SSE_DEFAULT_MAX_EVENT ((size_t)4 << 20)

/* Positive results (not errors) of sse_feed and sse_finish. */
enum {
    SSE_STOPPED = 1,   /* sse_feed: the callback returned non-zero */
    SSE_TRUNCATED = 2, /* sse_finish: the stream ended inside an event */
};

typedef struct sse_parser sse_parser;

/* One dispatched event (or, when asked for, one comment line). Every string
 * is NUL-terminated; data may also contain NUL bytes, so use data_len. */
typedef struct sse_event {
    const char *type;  /* the `event` field, "message" when none was given */
    size_t type_len;
    const char *data;  /* the data lines joined by "\n", without the last "\n" */
    size_t data_len;
    const char *id;    /* the last event id ("" when none); persists across events */
    size_t id_len;
    int comment;       /* 1: a comment line; type is "", data is the text after
                        * ':' minus one leading space */
} sse_event;

/* Receives each event; returning non-zero stops sse_feed after this event. */
typedef int (*sse_event_cb)(const sse_event *ev, void *ud);

/* Counters since sse_new or the last sse_reset. */
typedef struct sse_stats {
    uint64_t bytes;            /* bytes consumed */
    uint64_t lines;            /* complete lines, blank ones included */
    uint64_t events;           /* events dispatched */
    uint64_t comments;         /* comment lines */
    uint64_t empty_dispatches; /* blank lines that dispatched nothing (no data) */
} sse_stats;

/* Creates a parser. max_event_bytes bounds one line and one event's data
 * (0: SSE_DEFAULT_MAX_EVENT; at least 16). Never returns NULL (allocation aborts).
 * Free with sse_free. */
sse_parser *sse_new(size_t max_event_bytes);

/* When on, comment lines are also passed to the callback (ev->comment = 1).
 * Off by default; comments are always counted. Survives sse_reset. */
void sse_set_report_comments(sse_parser *p, int on);

/* Parses n bytes of the stream, calling cb (may be NULL) for every event
 * completed. Returns 0 when all bytes were consumed; SSE_STOPPED when cb
 * returned non-zero, in which case sse_consumed tells how many bytes were
 * used and the rest can be fed later; ERR_INPUT when a limit was exceeded
 * (message in sse_error; every later call returns ERR_INPUT until
 * sse_reset). */
int sse_feed(sse_parser *p, const char *buf, size_t n, sse_event_cb cb, void *ud);

/* Bytes of the last sse_feed call that were consumed (n unless it stopped
 * or failed). */
size_t sse_consumed(const sse_parser *p);

/* Declares the end of the stream. Nothing is dispatched. Returns 0 when the
 * stream ended at an event boundary (comments aside), SSE_TRUNCATED when
 * it ended inside a line or after field lines with no blank line after
 * them, ERR_INPUT when the parser is in its error state. */
int sse_finish(sse_parser *p);

/* The last event id buffer ("" when none) and the last valid `retry` value
 * in ms (-1 when none). */
const char *sse_last_event_id(const sse_parser *p);
long long sse_retry_ms(const sse_parser *p);

/* Counters (owned by the parser). */
const sse_stats *sse_get_stats(const sse_parser *p);

/* The message of the error state, "" when none. Owned by the parser. */
const char *sse_error(const sse_parser *p);

/* Forgets the stream (pending line, event, id, retry, error, counters) but
 * keeps the buffers' memory, for the next stream. */
void sse_reset(sse_parser *p);

/* Frees the buffers that are empty and larger than keep bytes (a long
 * event's), so that a parser kept idle between streams does not hold them;
 * they are allocated again when needed. Call after sse_reset. */
void sse_trim(sse_parser *p, size_t keep);

/* Frees the parser. sse_free(NULL) is a no-op. */
void sse_free(sse_parser *p);

#endif
