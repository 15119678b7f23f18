/* import_rec.h — what the importers (import_*.c) share: building trace
 * records, parsing source values exactly, describing bad values for
 * messages, and the JSON Lines loop.
 *
 * Ownership: records built here are cJSON objects owned by the caller until
 * handed to import_emit(); keys passed to import_rec_int/_str/_add must be
 * string literals (they are not copied). Nothing here prints. */
#ifndef SAGELLM_IMPORT_REC_H
#define SAGELLM_IMPORT_REC_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "common/jsonw.h"
#include "traces/import.h"

/* Largest token count an importer accepts (the trace reader's limit). */
#define IMPORT_MAX_TOKENS INT64_C(2147483647)

/* A new record {"t_us": t_us, "id": id}; id NULL draws "FORMAT-N" from
 * import_make_id. The caller owns the result. */
cJSON *import_rec_new(import_ctx *ctx, int64_t t_us, const char *id);
/* Adds "api" and "model": api is opts->api, else "chat" when the record has
 * a request body and "completions" for length-only records (a synthesised
 * prompt then has exactly input_tokens tokens). model is opts->model, else
 * src_model (may be NULL: no "model" field). */
void import_rec_api_model(import_ctx *ctx, cJSON *rec, int has_body, const char *src_model);
/* Add an integer / a string / an item under a literal key (not copied). */
void import_rec_int(cJSON *rec, const char *key, int64_t v);
void import_rec_str(cJSON *rec, const char *key, const char *v);
void import_rec_add(cJSON *rec, const char *key, cJSON *item);

/* Parses a token count: digits, optionally followed by ".0..." (as pandas
 * writes integer columns that once held a NaN), at most IMPORT_MAX_TOKENS.
 * s need not be NUL-terminated. Returns 0 or -1. */
int import_rec_parse_count(const char *s, size_t n, int64_t *out);
/* Parses a non-negative decimal "D[.D]" (".5" and "5." too; no sign, no
 * exponent) and multiplies it by 10^scale (0..9) exactly, in integers:
 * digits beyond the scale are rounded half up (0.0000005 s -> 1 us).
 * Fails (-1) on bad syntax or a result above max. */
int import_rec_parse_decimal(const char *s, size_t n, int scale, int64_t max, int64_t *out);
/* 1 if s[0..n) is valid UTF-8 without NUL bytes. */
int import_rec_utf8_ok(const char *s, size_t n);

/* Describes source text for a message: a quoted, escaped, shortened copy
 * ("\"12x\"", "\"\\x01\\x02...\"") or "an empty value". */
void import_rec_describe(char *buf, size_t len, const char *s, size_t n);
/* Describes a JSON value: "nothing", "null", "\"text\"", "12.5", "an array"... */
void import_rec_describe_json(char *buf, size_t len, const cJSON *v);
/* import_bad(ctx, line, field, "expected EXPECTED, got DESCRIPTION"). */
int import_rec_bad_text(import_ctx *ctx, uint64_t line, const char *field,
                        const char *expected, const char *s, size_t n);
int import_rec_bad_json(import_ctx *ctx, uint64_t line, const char *field,
                        const char *expected, const cJSON *got);
/* A structural error that --skip-invalid cannot step over: sets the
 * message "FILE:LINE: field 'FIELD': ..." and returns ERR_INPUT. */
int import_rec_fatal(import_ctx *ctx, uint64_t line, const char *field, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
/* The message for a zio read error (truncated zstd, line too long, I/O):
 * ERR_INPUT or ERR_SYSTEM as rc says. */
int import_rec_read_error(import_ctx *ctx, int rc);

/* JSON values. Each returns 0, or -1 when v is missing or of the wrong
 * kind/range (the caller reports it with import_rec_bad_json). An integer
 * in [lo, hi] is common/jsonw.h's jsonw_int. */
/* Integer-valued number (or a string of digits) in [0, IMPORT_MAX_TOKENS]. */
int import_rec_json_count(const cJSON *v, int64_t *out);
/* A time: a non-negative number (or numeric string) times 10^scale,
 * rounded to the nearest integer, at most TRACE_MAX_T_US. */
int import_rec_json_time(const cJSON *v, int scale, int64_t *out);
/* A non-empty string or an integer, written into buf as text. */
int import_rec_json_id(const cJSON *v, char *buf, size_t len);
/* Checks hash_ids: an array of integers within +-2^53. Returns 1 if so;
 * otherwise reports the first offender with import_bad (field `field`),
 * stores its result (0 with --skip-invalid, else ERR_INPUT) in *rc and
 * returns 0: the row must not be emitted either way. */
int import_rec_hash_ids_ok(import_ctx *ctx, uint64_t line, const char *field, const cJSON *v,
                           int *rc);

/* Removes item `name` from obj and returns it (NULL if absent). */
cJSON *import_rec_take(cJSON *obj, const char *name);

/* The length fields of a length-only JSON Lines row (Mooncake, Bailian):
 * input_length, output_length and the optional hash_ids, taken out of the
 * row's object by import_rec_lengths_take and owned by this struct until
 * import_rec_lengths_emit or import_rec_lengths_free. */
typedef struct import_rec_lengths {
    cJSON *il, *ol, *hash;
    int64_t in, out;           /* set by import_rec_lengths_ok */
} import_rec_lengths;

void import_rec_lengths_take(cJSON *obj, import_rec_lengths *l);
/* 1 when input_length and output_length are token counts; otherwise
 * reports the first bad one, stores its result in *rc and returns 0 (as
 * import_rec_hash_ids_ok). */
int import_rec_lengths_ok(import_ctx *ctx, uint64_t line, import_rec_lengths *l, int *rc);
/* Completes rec (api and model from the options, input_tokens,
 * output_tokens, then hash_ids and the rest of *obj as meta, both taken:
 * *obj becomes NULL) and emits it. Returns import_emit's result. */
int import_rec_lengths_emit(import_ctx *ctx, cJSON *rec, import_rec_lengths *l, cJSON **obj,
                            uint64_t line);
/* Frees the fields still held. */
void import_rec_lengths_free(import_rec_lengths *l);

/* Runs fn on every JSON Lines object of the input, in order. Blank lines
 * are skipped; a line that is not a JSON object is reported with
 * import_bad (field "(json)"). fn owns obj and returns 0 to go on or a
 * negative error to stop. Returns 0 or the first error. */
typedef int (*import_rec_line_fn)(import_ctx *ctx, cJSON *obj, uint64_t line, void *ud);
int import_rec_jsonl(import_ctx *ctx, import_rec_line_fn fn, void *ud);

#endif
