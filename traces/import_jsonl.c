/* import_jsonl.c — any JSON Lines request log, one object per line, with a
 * field map (--map) from record names to source field names:
 *   --map t=ts,input=prompt_len,output=completion_len,session=conv,
 *         model=model,id=req_id,api=endpoint,body=request
 * Source names may be dotted paths into nested objects (t=meta.arrival); a
 * top-level name that itself contains dots is found first.
 *
 * Record names and what the source value must be:
 *   t          -> t_us: a number (or numeric string) in --time-unit
 *                 s (default), ms or us; negative is an error. Offsets are
 *                 kept; wall-clock times (the first record at or after
 *                 2001 since the Unix epoch) are rebased on the first
 *                 record (the earliest with --sort), whose time goes into
 *                 the header as "t0"
 *   id, session, parent -> same names: a non-empty string or an integer
 *                 (written as text); id defaults to "jsonl-N"
 *   turn       -> turn: a non-negative integer
 *   api, model -> same names: strings (--api/--model override them)
 *   input      -> input_tokens, output -> output_tokens: non-negative integers
 *   body       -> body: the request object, kept as is
 *   hash_ids   -> hash_ids: an array of integers
 *   block_size -> block_size: a source field, or a number given in the map
 *                 (block_size=16) which goes into the header
 * Without --map, or for names it leaves out: t=timestamp,
 * input=input_tokens, output=output_tokens and every other name maps to the
 * source field of the same name, used when present. A field named in
 * --map must be in every line. Every record needs t and either input or
 * body. Whatever the map does not take (top-level fields, and the rest of
 * a nested object a dotted path points into) goes into meta.
 * api defaults to "chat" with a body and "completions" without.
 * Lines must come in time order (see --sort). */
#include "traces/import.h"
#include "traces/import_rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_T, F_ID, F_SESSION, F_TURN, F_PARENT, F_API, F_MODEL, F_INPUT, F_OUTPUT,
       F_BODY, F_HASH, F_BLOCK, NFIELDS };

static const char *const field_names[NFIELDS] = {
    "t", "id", "session", "turn", "parent", "api", "model", "input", "output",
    "body", "hash_ids", "block_size",
};
static const char *const field_defaults[NFIELDS] = {
    "timestamp", "id", "session", "turn", "parent", "api", "model", "input_tokens",
    "output_tokens", "body", "hash_ids", "block_size",
};

#define MAX_DEPTH 16

typedef struct mapping {
    char *path;                /* source name as given */
    char *parts;               /* path with '.' replaced by NULs */
    const char *part[MAX_DEPTH];
    int nparts;
    int explicit_;             /* named in --map: required in every line */
} mapping;

typedef struct jl_st {
    mapping f[NFIELDS];
    int scale;                 /* one time unit is 10^scale µs */
    const char *unit;
    int64_t block_const;       /* block_size=N in the map, else 0 */
} jl_st;

static void set_path(mapping *m, const char *path, size_t n, int explicit_)
{
    free(m->path);
    free(m->parts);
    m->path = xstrndup(path, n);
    m->parts = xstrndup(path, n);
    m->explicit_ = explicit_;
    m->nparts = 0;
    char *p = m->parts;
    for (;;) {
        m->part[m->nparts++] = p;
        if (m->nparts == MAX_DEPTH) break; /* the rest stays in the last part */
        char *dot = strchr(p, '.');
        if (!dot) break;
        *dot = '\0';
        p = dot + 1;
    }
}

static void st_free(jl_st *st)
{
    for (int i = 0; i < NFIELDS; i++) {
        free(st->f[i].path);
        free(st->f[i].parts);
    }
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int parse_map(import_ctx *ctx, jl_st *st)
{
    const import_opts *o = import_options(ctx);
    for (int i = 0; i < NFIELDS; i++)
        set_path(&st->f[i], field_defaults[i], strlen(field_defaults[i]), 0);
    const char *u = o->time_unit ? o->time_unit : "s";
    if (!strcmp(u, "s")) st->scale = 6;
    else if (!strcmp(u, "ms")) st->scale = 3;
    else if (!strcmp(u, "us")) st->scale = 0;
    else return import_fail(ctx, ERR_USAGE, "--time-unit: expected s, ms or us, got '%s'", u);
    st->unit = !strcmp(u, "s") ? "seconds" : !strcmp(u, "ms") ? "milliseconds" : "microseconds";
    for (const char *p = o->map; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq + 1 == p + n)
            return import_fail(ctx, ERR_USAGE, "--map: expected NAME=FIELD pairs separated by "
                               "commas, got '%.*s'", (int)n, p);
        size_t kn = (size_t)(eq - p);
        int i;
        for (i = 0; i < NFIELDS; i++)
            if (strlen(field_names[i]) == kn && !memcmp(field_names[i], p, kn)) break;
        if (i == NFIELDS)
            return import_fail(ctx, ERR_USAGE, "--map: unknown name '%.*s' (expected t, id, "
                               "session, turn, parent, api, model, input, output, body, "
                               "hash_ids or block_size)", (int)kn, p);
        set_path(&st->f[i], eq + 1, n - kn - 1, 1);
        if (st->f[i].nparts == MAX_DEPTH && strchr(st->f[i].part[MAX_DEPTH - 1], '.'))
            return import_fail(ctx, ERR_USAGE, "--map: '%s' is nested more than %d levels deep",
                               st->f[i].path, MAX_DEPTH);
        if (i == F_BLOCK && all_digits(st->f[i].path)) {
            st->block_const = atoll(st->f[i].path);
            if (st->block_const < 1 || st->block_const > INT32_MAX)
                return import_fail(ctx, ERR_USAGE, "--map: block_size must be a positive "
                                   "integer, got %s", st->f[i].path);
        }
        p = comma ? comma + 1 : p + n;
    }
    return 0;
}

/* Detaches the value at m's path from obj (NULL if absent), removing the
 * nested objects that the removal leaves empty. */
static cJSON *take(cJSON *obj, const mapping *m)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, m->path);
    if (v || m->nparts == 1) return v ? cJSON_DetachItemViaPointer(obj, v) : NULL;
    cJSON *chain[MAX_DEPTH];
    cJSON *cur = obj;
    for (int i = 0; i < m->nparts - 1; i++) {
        chain[i] = cur;
        cur = cJSON_GetObjectItemCaseSensitive(cur, m->part[i]);
        if (!cJSON_IsObject(cur)) return NULL;
    }
    v = cJSON_GetObjectItemCaseSensitive(cur, m->part[m->nparts - 1]);
    if (!v) return NULL;
    cJSON_DetachItemViaPointer(cur, v);
    for (int i = m->nparts - 2; i >= 0 && !cur->child; i--) {
        cJSON_DetachItemViaPointer(chain[i], cur);
        cJSON_Delete(cur);
        cur = chain[i];
    }
    return v;
}

static int jl_line(import_ctx *ctx, cJSON *obj, uint64_t line, void *ud)
{
    jl_st *st = ud;
    cJSON *v[NFIELDS];
    int rc = 0;
    char idb[256], sb[256], pb[256], what[96];
    int64_t t = 0, turn = 0, in = 0, out = 0, block = st->block_const;
    memset(v, 0, sizeof v);
    for (int i = 0; i < NFIELDS; i++) {
        if (i == F_BLOCK && st->block_const) continue;
        v[i] = take(obj, &st->f[i]);
        /* Two names mapped to one source field both get its value. */
        for (int j = 0; j < i && !v[i]; j++)
            if (v[j] && !strcmp(st->f[j].path, st->f[i].path)) v[i] = cJSON_Duplicate(v[j], 1);
        if (!v[i] && st->f[i].explicit_) {
            snprintf(what, sizeof what, "a value for '%s' (it is in --map)", field_names[i]);
            rc = import_rec_bad_json(ctx, line, st->f[i].path, what, NULL);
            goto out;
        }
    }
#define BAD(i, expected) do { rc = import_rec_bad_json(ctx, line, st->f[i].path, expected, v[i]); \
                              goto out; } while (0)
    if (!v[F_T]) BAD(F_T, st->f[F_T].explicit_ ? "a time" : "a time (map it with --map t=FIELD)");
    if (import_rec_json_time(v[F_T], st->scale, &t) < 0) {
        snprintf(what, sizeof what, "a non-negative number of %s", st->unit);
        BAD(F_T, what);
    }
    if (v[F_ID] && import_rec_json_id(v[F_ID], idb, sizeof idb) < 0)
        BAD(F_ID, "a non-empty string (at most 255 bytes) or an integer");
    if (v[F_SESSION] && !cJSON_IsNull(v[F_SESSION]) &&
        import_rec_json_id(v[F_SESSION], sb, sizeof sb) < 0)
        BAD(F_SESSION, "a non-empty string (at most 255 bytes) or an integer");
    if (v[F_PARENT] && !cJSON_IsNull(v[F_PARENT]) &&
        import_rec_json_id(v[F_PARENT], pb, sizeof pb) < 0)
        BAD(F_PARENT, "a non-empty string (at most 255 bytes) or an integer");
    if (v[F_TURN] && jsonw_int(v[F_TURN], 0, INT32_MAX, &turn) < 0)
        BAD(F_TURN, "a non-negative integer");
    if (v[F_API] && (!cJSON_IsString(v[F_API]) || !v[F_API]->valuestring[0]))
        BAD(F_API, "a non-empty string such as \"chat\"");
    if (v[F_MODEL] && !cJSON_IsNull(v[F_MODEL]) && !cJSON_IsString(v[F_MODEL]))
        BAD(F_MODEL, "a string");
    if (v[F_INPUT] && import_rec_json_count(v[F_INPUT], &in) < 0)
        BAD(F_INPUT, "a non-negative integer (input tokens)");
    if (v[F_OUTPUT] && import_rec_json_count(v[F_OUTPUT], &out) < 0)
        BAD(F_OUTPUT, "a non-negative integer (output tokens)");
    if (v[F_BODY] && !cJSON_IsObject(v[F_BODY]))
        BAD(F_BODY, "the request as a JSON object");
    if (!v[F_INPUT] && !v[F_BODY])
        BAD(F_INPUT, "a token count, or a request body (map input=FIELD or body=FIELD)");
    if (v[F_HASH] && !import_rec_hash_ids_ok(ctx, line, st->f[F_HASH].path, v[F_HASH], &rc))
        goto out;
    if (v[F_BLOCK] && jsonw_int(v[F_BLOCK], 1, INT32_MAX, &block) < 0)
        BAD(F_BLOCK, "a positive integer");
    if (v[F_HASH] && !block)
        BAD(F_HASH, "a block size along with hash_ids (add block_size=N to --map)");
#undef BAD
    {
        cJSON *rec = import_rec_new(ctx, t, v[F_ID] ? idb : NULL);
        if (v[F_SESSION] && !cJSON_IsNull(v[F_SESSION])) import_rec_str(rec, "session", sb);
        if (v[F_TURN]) import_rec_int(rec, "turn", turn);
        if (v[F_PARENT] && !cJSON_IsNull(v[F_PARENT])) import_rec_str(rec, "parent", pb);
        const import_opts *o = import_options(ctx);
        import_rec_str(rec, "api", o->api ? o->api : v[F_API] ? v[F_API]->valuestring :
                       v[F_BODY] ? "chat" : "completions");
        const char *model = o->model ? o->model
                          : cJSON_IsString(v[F_MODEL]) ? v[F_MODEL]->valuestring : NULL;
        if (model) import_rec_str(rec, "model", model);
        if (v[F_INPUT]) import_rec_int(rec, "input_tokens", in);
        if (v[F_OUTPUT]) import_rec_int(rec, "output_tokens", out);
        if (v[F_HASH]) {
            import_rec_add(rec, "hash_ids", v[F_HASH]);
            v[F_HASH] = NULL;
            if (!st->block_const) import_rec_int(rec, "block_size", block);
        }
        if (v[F_BODY]) {
            import_rec_add(rec, "body", v[F_BODY]);
            v[F_BODY] = NULL;
        }
        if (obj->child) {
            import_rec_add(rec, "meta", obj);
            obj = NULL;
        }
        rc = import_emit(ctx, rec, line);
    }
out:
    for (int i = 0; i < NFIELDS; i++) cJSON_Delete(v[i]);
    cJSON_Delete(obj);
    return rc;
}

static int jsonl_run(import_ctx *ctx)
{
    jl_st st;
    memset(&st, 0, sizeof st);
    int rc = parse_map(ctx, &st);
    if (!rc && st.block_const)
        cJSON_AddNumberToObject(import_header(ctx), "block_size", (double)st.block_const);
    if (!rc) {
        import_time_field(ctx, st.f[F_T].path);
        import_rebase_epoch(ctx);
    }
    if (!rc) rc = import_rec_jsonl(ctx, jl_line, &st);
    st_free(&st);
    return rc;
}

const importer import_jsonl = {
    "jsonl",
    "any JSON Lines log, fields mapped with --map t=FIELD,input=FIELD,... (--time-unit s|ms|us)",
    jsonl_run,
};
