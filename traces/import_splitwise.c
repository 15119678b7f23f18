/* import_splitwise.c — traces of the Splitwise simulator
 * (Mutinifni/splitwise-sim, traces/NAME.csv):
 * request_id,request_type,application_id,arrival_timestamp,batch_size,
 * prompt_size,token_size.
 *
 * Mapping (columns found by header name, case-insensitive):
 *   arrival_timestamp -> t_us: seconds (fractions parsed exactly, rounded
 *                        half up to µs), kept as offsets, not rebased
 *   request_id        -> id (optional column; "splitwise-N" without it)
 *   prompt_size       -> input_tokens
 *   token_size        -> output_tokens
 *   request_type, application_id, batch_size and any other column
 *                     -> meta.NAME
 *   api from --api, else "completions" (length-only); model from --model.
 * Rows must come in time order (see --sort). */
#include "traces/import.h"
#include "traces/import_csv.h"
#include "traces/import_rec.h"
#include "traces/trace.h"

#include <string.h>

enum { COL_ID, COL_T, COL_IN, COL_OUT };
static const import_csv_col split_cols[] = {
    { "request_id", 0 }, { "arrival_timestamp", 1 }, { "prompt_size", 1 }, { "token_size", 1 },
};

static int split_row(import_ctx *ctx, const import_csv_row *r, void *ud)
{
    int64_t t, in, out;
    int rc = 0;
    const char *id = r->v[COL_ID];
    if (id && (!id[0] || r->len[COL_ID] > 200 || !import_rec_utf8_ok(id, r->len[COL_ID])))
        return import_rec_bad_text(ctx, r->line, split_cols[COL_ID].name,
                                   "a non-empty id (UTF-8, at most 200 bytes)", id, r->len[COL_ID]);
    if (import_rec_parse_decimal(r->v[COL_T], r->len[COL_T], 6, TRACE_MAX_T_US, &t) < 0)
        return import_rec_bad_text(ctx, r->line, split_cols[COL_T].name,
                                   "a non-negative number of seconds", r->v[COL_T], r->len[COL_T]);
    if (!import_csv_counts(ctx, r, split_cols, COL_IN, COL_OUT, &in, &out, &rc)) return rc;
    cJSON *rec = import_csv_length_rec(ctx, r, t, id, in, out, &rc);
    return rec ? import_emit(ctx, rec, r->line) : rc;
}

static int split_run(import_ctx *ctx)
{
    return import_csv_run(ctx, split_cols, sizeof split_cols / sizeof *split_cols,
                          split_row, NULL);
}

const importer import_splitwise = {
    "splitwise",
    "Splitwise simulator CSV (request_id,...,arrival_timestamp,...,prompt_size,token_size)",
    split_run,
};
