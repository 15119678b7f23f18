/* import_csv.h — streams a CSV input through libcsv for the CSV importers
 * (azure, burstgpt, splitwise): finds columns by header name, hands over
 * one row at a time with its line number, in constant memory.
 *
 * The first non-blank row is the header. Names match case-insensitively
 * after trimming spaces (and a UTF-8 byte-order mark); a missing required
 * column is an error naming the column and quoting the header found.
 * Columns not asked for are "extra": they are passed on so importers can
 * keep them in the record's "meta". CRLF, LF and quoted fields (with
 * embedded newlines) are handled; a syntax error (a stray quote) is
 * reported at its line and, with --skip-invalid, the rest of that line is
 * skipped. Row values are NUL-terminated and valid until the callback
 * returns. */
#ifndef SAGELLM_IMPORT_CSV_H
#define SAGELLM_IMPORT_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "traces/import.h"

#define IMPORT_CSV_MAX_COLS 32

typedef struct import_csv_col {
    const char *name;     /* header name to look for */
    int required;         /* 1: error when the header lacks it */
} import_csv_col;

typedef struct import_csv_row {
    uint64_t line;                 /* line where the row starts (header = line 1) */
    const char *v[IMPORT_CSV_MAX_COLS];  /* value of cols[i] (trimmed), NULL if absent */
    size_t len[IMPORT_CSV_MAX_COLS];
    size_t nextra;                 /* extra columns present in this row */
    const char *const *extra_name; /* their header names */
    const char *const *extra_v;    /* and values (trimmed) */
    const size_t *extra_len;
} import_csv_row;

/* Called for each data row; returns 0 to go on or a negative error. */
typedef int (*import_csv_row_fn)(import_ctx *ctx, const import_csv_row *row, void *ud);

/* Reads the whole input: the header, then every row through fn. A row with
 * more fields than the header, or lacking a value for a required column, is
 * reported with import_bad. Returns 0 or the first error. */
int import_csv_run(import_ctx *ctx, const import_csv_col *cols, size_t ncols,
                   import_csv_row_fn fn, void *ud);

/* Adds the row's extra columns to rec as "meta": {NAME: value}, a number
 * when the value is one (integers exactly), a string otherwise. Returns 0,
 * or the import_bad result when a value is not valid UTF-8. */
int import_csv_add_meta(import_ctx *ctx, cJSON *rec, const import_csv_row *row);

/* The token counts of row r, from columns ci (input) and co (output) of
 * cols. Returns 1, or 0 with the bad-row result (import_rec_bad_text's) in
 * *rc: the row must not be emitted. */
int import_csv_counts(import_ctx *ctx, const import_csv_row *r, const import_csv_col *cols,
                      int ci, int co, int64_t *in, int64_t *out, int *rc);

/* A length-only record of row r: t_us, id (NULL: numbered), api and model
 * from the options, input_tokens, output_tokens, and the row's extra
 * columns as meta. Returns it, or NULL with import_csv_add_meta's result in
 * *rc. */
cJSON *import_csv_length_rec(import_ctx *ctx, const import_csv_row *r, int64_t t_us,
                             const char *id, int64_t in, int64_t out, int *rc);

#endif
