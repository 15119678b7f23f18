/* trace.h — trace format v1: one header object, then one record per request
 * (see docs/trace-format.md). A trace_rec owns its cJSON object; the typed
 * fields are views into it, valid until the record is cleared or re-parsed.
 * Unknown fields stay in `json` untouched, so they survive every operation
 * that rewrites a trace. */
#ifndef SAGELLM_TRACE_H
#define SAGELLM_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define TRACE_FORMAT "sagellm-trace"
#define TRACE_VERSION 1
/* Largest t_us accepted: 2^53 µs (cJSON stores numbers as doubles). */
#define TRACE_MAX_T_US (INT64_C(1) << 53)
/* The largest body a record's body_b64 may decode to (capture's own cap). */
#define TRACE_MAX_BODY_BYTES ((size_t)64 << 20)

typedef struct trace_rec {
    int64_t t_us;            /* arrival offset from the trace start */
    const char *id;          /* never NULL after a successful parse */
    const char *session;     /* NULL when not part of a session */
    int64_t turn;            /* -1 when absent */
    const char *parent;      /* NULL when absent */
    const char *api;         /* "chat", "completions", "generate", ... */
    const char *model;       /* NULL when the trace does not say */
    int64_t input_tokens;    /* -1 when absent */
    int64_t output_tokens;   /* -1 when absent */
    int64_t think_us;        /* -1 when absent */
    int64_t block_size;      /* hash block size; 0 when no hash_ids */
    const cJSON *body;       /* request object, NULL for length-only */
    const cJSON *hash_ids;   /* array of integers, or NULL */
    const cJSON *orig;       /* object, or NULL */
    cJSON *json;             /* the whole record (owned) */
    uint64_t line;           /* line number in its file (0 if built) */
    char idbuf[24], sessbuf[24], parentbuf[24]; /* numeric ids as text */
} trace_rec;

/* Parses one record line into r (releasing what r held). default_block is
 * the header's block_size (0 if none). Returns 0, or ERR_INPUT with a
 * message "field 'NAME': expected ..." (no file/line: the caller adds them). */
int trace_rec_parse(trace_rec *r, const char *line, size_t len,
                    int64_t default_block, char *err, size_t errlen);
/* Validates obj as a record and takes ownership of it (also on failure). */
int trace_rec_adopt(trace_rec *r, cJSON *obj, int64_t default_block,
                    char *err, size_t errlen);
/* Frees the record's JSON and resets the fields. */
void trace_rec_clear(trace_rec *r);
/* Frees every part of the record except its scalar fields (t_us, id,
 * session, turn, parent, api, model, input_tokens, output_tokens, think_us,
 * block_size): body, body_raw, body_b64, hash_ids, orig, headers and any
 * unknown field. body, hash_ids and orig become NULL; the other typed
 * fields stay valid. For a record whose request has been built and whose
 * log line needs only those fields (replay, while the request is in flight). */
void trace_rec_strip(trace_rec *r);
/* Moves src into dst (dst cleared first); src is left empty. */
void trace_rec_move(trace_rec *dst, trace_rec *src);
/* Sets t_us in both the typed field and the JSON. */
void trace_rec_set_t_us(trace_rec *r, int64_t t_us);

/* A new header object: format, version, source, created (now, UTC), tool.
 * The caller owns it (cJSON_Delete). */
cJSON *trace_header_new(const char *source);
/* Checks that obj is a v1 header; fills err otherwise. */
int trace_header_check(const cJSON *obj, char *err, size_t errlen);
/* Appends {"op": op, ...args} to the header's "history" array; takes
 * ownership of args (may be NULL). */
void trace_header_add_history(cJSON *header, const char *op, cJSON *args);

/* Helpers for building records: integer-valued numbers. */
cJSON *trace_add_int(cJSON *obj, const char *name, int64_t v);

/* Known API kinds (NULL-terminated). */
extern const char *const trace_api_kinds[];

#endif
