/* import_burstgpt.c — BurstGPT (HPMLL/BurstGPT, BurstGPT_*.csv): one row per
 * request to ChatGPT or GPT-4 through Azure OpenAI.
 *
 * Mapping (columns found by header name in any order, as BurstGPT_3 orders
 * them differently; case-insensitive):
 *   Timestamp        -> t_us: seconds from the trace start (fractions
 *                       allowed, parsed exactly, rounded half up to µs);
 *                       kept as offsets, not rebased
 *   Model            -> model (optional column; --model overrides it, the
 *                       source name then stays in meta.Model)
 *   Request tokens   -> input_tokens
 *   Response tokens  -> output_tokens; 0 means the request failed: the row
 *                       is kept and marked "orig": {"ok": false,
 *                       "output_tokens": 0}
 *   Total tokens, Log Type and any other column -> meta.NAME
 *   id "burstgpt-N"; api from --api, else "completions" (length-only).
 * Rows must come in time order (equal times are fine); see --sort. */
#include "traces/import.h"
#include "traces/import_csv.h"
#include "traces/import_rec.h"
#include "traces/trace.h"

#include <string.h>

enum { COL_TS, COL_MODEL, COL_IN, COL_OUT };
static const import_csv_col burst_cols[] = {
    { "Timestamp", 1 }, { "Model", 0 }, { "Request tokens", 1 }, { "Response tokens", 1 },
};

static int burst_row(import_ctx *ctx, const import_csv_row *r, void *ud)
{
    int64_t t, in, out;
    int rc = 0;
    if (import_rec_parse_decimal(r->v[COL_TS], r->len[COL_TS], 6, TRACE_MAX_T_US, &t) < 0)
        return import_rec_bad_text(ctx, r->line, burst_cols[COL_TS].name,
                                   "a non-negative number of seconds", r->v[COL_TS],
                                   r->len[COL_TS]);
    const char *model = r->v[COL_MODEL];
    if (model && !model[0]) model = NULL;
    if (model && !import_rec_utf8_ok(model, r->len[COL_MODEL]))
        return import_rec_bad_text(ctx, r->line, burst_cols[COL_MODEL].name,
                                   "a model name in UTF-8", model, r->len[COL_MODEL]);
    if (!import_csv_counts(ctx, r, burst_cols, COL_IN, COL_OUT, &in, &out, &rc)) return rc;
    cJSON *rec = import_rec_new(ctx, t, NULL);
    import_rec_api_model(ctx, rec, 0, model);
    import_rec_int(rec, "input_tokens", in);
    import_rec_int(rec, "output_tokens", out);
    if (out == 0) {
        cJSON *orig = cJSON_CreateObject();
        cJSON_AddItemToObjectCS(orig, "ok", cJSON_CreateFalse());
        import_rec_int(orig, "output_tokens", 0);
        import_rec_add(rec, "orig", orig);
    }
    rc = import_csv_add_meta(ctx, rec, r);
    if (rc) {
        cJSON_Delete(rec);
        return rc;
    }
    if (model && import_options(ctx)->model) {
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "meta");
        if (!meta) import_rec_add(rec, "meta", meta = cJSON_CreateObject());
        cJSON_AddStringToObject(meta, "Model", model);
    }
    return import_emit(ctx, rec, r->line);
}

static int burst_run(import_ctx *ctx)
{
    return import_csv_run(ctx, burst_cols, sizeof burst_cols / sizeof *burst_cols,
                          burst_row, NULL);
}

const importer import_burstgpt = {
    "burstgpt",
    "BurstGPT CSV (Timestamp,Model,Request tokens,Response tokens,...); failed rows kept",
    burst_run,
};
