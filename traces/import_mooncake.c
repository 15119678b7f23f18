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
    int64_t t;
    int rc = 0;
    import_rec_lengths len;
    cJSON *ts = import_rec_take(obj, "timestamp");
    import_rec_lengths_take(obj, &len);
    if (import_rec_json_time(ts, 3, &t) < 0)
        rc = import_rec_bad_json(ctx, line, "timestamp",
                                 "a non-negative number of milliseconds", ts);
    else if (!import_rec_lengths_ok(ctx, line, &len, &rc))
        ;
    else if (len.hash && !import_rec_hash_ids_ok(ctx, line, "hash_ids", len.hash, &rc))
        ;
    else  /* the record takes hash_ids and the rest of the line (as meta) */
        rc = import_rec_lengths_emit(ctx, import_rec_new(ctx, t, NULL), &len, &obj, line);
    cJSON_Delete(ts);
    import_rec_lengths_free(&len);
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
