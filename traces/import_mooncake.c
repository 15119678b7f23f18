/* import_mooncake.c — Mooncake traces (kvcache-ai/Mooncake, FAST25-release:
 * conversation, toolagent and arxiv traces), JSON Lines:
 *   {"timestamp": 0, "input_length": 6758, "output_length": 500,
 *    "hash_ids": [0, 1, 2, ...]}
 *
 * Mapping:
 *   timestamp     -> t_us: milliseconds from the trace start (× 1000,
 *                    rounded to the µs), kept as offsets, not rebased
 *   input_length  -> input_tokens
 *   output_length -> output_tokens
 *   hash_ids      -> hash_ids (optional): ids of 512-token prefix blocks,
 *                    equal ids = equal prefix content; "block_size": 512 in
 *                    the header
 *   any other field -> meta
 *   id "mooncake-N"; api from --api, else "completions" (length-only);
 *   model from --model.
 * Lines must come in time order (see --sort). The parsed line is reused as
 * the record's meta, so a row costs one parse and no copies. */
#include "traces/import.h"
#include "traces/import_rec.h"

#define MOONCAKE_BLOCK 512

static int mooncake_line(import_ctx *ctx, cJSON *obj, uint64_t line, void *ud)
{
    int64_t t, in, out;
    int rc = 0;
    cJSON *ts = import_rec_take(obj, "timestamp");
    cJSON *il = import_rec_take(obj, "input_length");
    cJSON *ol = import_rec_take(obj, "output_length");
    cJSON *hash = import_rec_take(obj, "hash_ids");
    if (import_rec_json_time(ts, 3, &t) < 0)
        rc = import_rec_bad_json(ctx, line, "timestamp",
                                 "a non-negative number of milliseconds", ts);
    else if (import_rec_json_count(il, &in) < 0)
        rc = import_rec_bad_json(ctx, line, "input_length", "a non-negative integer", il);
    else if (import_rec_json_count(ol, &out) < 0)
        rc = import_rec_bad_json(ctx, line, "output_length", "a non-negative integer", ol);
    else if (hash && !import_rec_hash_ids_ok(ctx, line, "hash_ids", hash, &rc))
        ;
    else {
        cJSON *rec = import_rec_new(ctx, t, NULL);
        import_rec_api_model(ctx, rec, 0, NULL);
        import_rec_int(rec, "input_tokens", in);
        import_rec_int(rec, "output_tokens", out);
        /* The record takes hash_ids and the rest of the line (as meta);
         * import_emit takes the record. */
        if (hash) import_rec_add(rec, "hash_ids", hash);
        if (obj->child) import_rec_add(rec, "meta", obj);
        else cJSON_Delete(obj);
        hash = obj = NULL;
        rc = import_emit(ctx, rec, line);
    }
    cJSON_Delete(ts);
    cJSON_Delete(il);
    cJSON_Delete(ol);
    cJSON_Delete(hash);
    cJSON_Delete(obj);
    return rc;
}

static int mooncake_run(import_ctx *ctx)
{
    cJSON_AddNumberToObject(import_header(ctx), "block_size", MOONCAKE_BLOCK);
    return import_rec_jsonl(ctx, mooncake_line, NULL);
}

const importer import_mooncake = {
    "mooncake",
    "Mooncake JSONL (timestamp ms, input_length, output_length, hash_ids of 512 tokens)",
    mooncake_run,
};
