/* import_aibrix.c — AIBrix benchmark workloads (vllm-project/aibrix,
 * benchmarks/scenarios/.../workload/NAME.jsonl): JSON Lines of request groups
 *   {"timestamp": 21, "requests": [{"Prompt Length": 909,
 *     "Output Length": 22, "prompt": "Here is ..."}, ...]}
 * where the requests of one line are sent together.
 *
 * Mapping, one record per request:
 *   timestamp       -> t_us of every request of the line: milliseconds from
 *                      the start (× 1000), kept as offsets, not rebased
 *   Prompt Length   -> input_tokens, as given (not re-estimated)
 *   Output Length   -> output_tokens
 *   prompt          -> body {"model": M, "messages": [{"role": "user",
 *                      "content": prompt}], "max_tokens": Output Length},
 *                      "model" only when --model names one; a request
 *                      without a prompt stays length-only
 *   other fields of the request or the line -> meta
 *   id "aibrix-N"; api from --api, else "chat" with a body, "completions"
 *   without. Lines must come in time order (see --sort). */
#include "traces/import.h"
#include "traces/import_rec.h"

#include <string.h>

/* Emits one request of a group; the fields it maps are removed from req
 * (which the caller still owns), extra holds the line's other fields.
 * Returns 0 or an error. */
static int aibrix_request(import_ctx *ctx, int64_t t, cJSON *req, const cJSON *extra,
                          uint64_t line)
{
    if (!cJSON_IsObject(req))
        return import_rec_bad_json(ctx, line, "requests[]", "a request object", req);
    int64_t in, out;
    cJSON *pl = import_rec_take(req, "Prompt Length");
    cJSON *ol = import_rec_take(req, "Output Length");
    cJSON *pr = import_rec_take(req, "prompt");
    int rc = 0;
    if (import_rec_json_count(pl, &in) < 0)
        rc = import_rec_bad_json(ctx, line, "Prompt Length", "a non-negative integer", pl);
    else if (import_rec_json_count(ol, &out) < 0)
        rc = import_rec_bad_json(ctx, line, "Output Length", "a non-negative integer", ol);
    else if (pr && !cJSON_IsNull(pr) && !cJSON_IsString(pr))
        rc = import_rec_bad_json(ctx, line, "prompt", "a string", pr);
    else {
        int has_body = cJSON_IsString(pr);
        const import_opts *o = import_options(ctx);
        cJSON *rec = import_rec_new(ctx, t, NULL);
        import_rec_api_model(ctx, rec, has_body, NULL);
        import_rec_int(rec, "input_tokens", in);
        import_rec_int(rec, "output_tokens", out);
        if (has_body) {
            cJSON *body = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
            cJSON *m = cJSON_CreateObject();
            if (o->model) cJSON_AddStringToObject(body, "model", o->model);
            import_rec_str(m, "role", "user");
            import_rec_add(m, "content", pr);
            pr = NULL;
            cJSON_AddItemToArray(msgs, m);
            import_rec_add(body, "messages", msgs);
            import_rec_int(body, "max_tokens", out);
            import_rec_add(rec, "body", body);
        }
        cJSON *meta = NULL;
        if (req->child || (extra && extra->child)) {
            meta = cJSON_Duplicate(req, 1);
            for (const cJSON *e = extra ? extra->child : NULL; e; e = e->next)
                if (!cJSON_GetObjectItemCaseSensitive(meta, e->string))
                    cJSON_AddItemToObject(meta, e->string, cJSON_Duplicate(e, 1));
            import_rec_add(rec, "meta", meta);
        }
        rc = import_emit(ctx, rec, line);
    }
    cJSON_Delete(pl);
    cJSON_Delete(ol);
    cJSON_Delete(pr);
    return rc;
}

static int aibrix_line(import_ctx *ctx, cJSON *obj, uint64_t line, void *ud)
{
    int64_t t;
    int rc = 0;
    cJSON *ts = import_rec_take(obj, "timestamp");
    cJSON *reqs = import_rec_take(obj, "requests");
    if (import_rec_json_time(ts, 3, &t) < 0)
        rc = import_rec_bad_json(ctx, line, "timestamp", "a non-negative number of milliseconds", ts);
    else if (!cJSON_IsArray(reqs))
        rc = import_rec_bad_json(ctx, line, "requests", "an array of request objects", reqs);
    else
        for (cJSON *r = reqs->child; r && !rc; r = r->next)
            rc = aibrix_request(ctx, t, r, obj, line);
    cJSON_Delete(ts);
    cJSON_Delete(reqs);
    cJSON_Delete(obj);
    return rc;
}

static int aibrix_run(import_ctx *ctx)
{
    return import_rec_jsonl(ctx, aibrix_line, NULL);
}

const importer import_aibrix = {
    "aibrix",
    "AIBrix workload JSONL ({\"timestamp\": ms, \"requests\": [...]}, prompts as chat bodies)",
    aibrix_run,
};
