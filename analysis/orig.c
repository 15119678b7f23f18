/* orig.c — see orig.h. */
#include "analysis/orig.h"
#include "common/util.h"
#include "traces/trace_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void orig_free(orig_times *o)
{
    if (!o) return;
    free(o->ttft_ns);
    free(o->e2e_ns);
    free(o->trace_path);
    free(o);
}

/* The trace file of the run: as written, then beside the run, then under
 * the run's parent. A new string, or NULL. */
static char *find_trace(const runlog *r, const char *given)
{
    if (!given) return NULL;
    if (access(given, R_OK) == 0) return xstrdup(given);
    if (given[0] == '/') return NULL;
    const char *base = strrchr(given, '/');
    base = base ? base + 1 : given;
    strbuf p = {0};
    sb_printf(&p, "%s/%s", r->dir, base);
    if (access(p.buf, R_OK) == 0) return p.buf;
    sb_clear(&p);
    sb_printf(&p, "%s/../%s", r->dir, base);
    if (access(p.buf, R_OK) == 0) return p.buf;
    sb_free(&p);
    return NULL;
}

/* A non-negative time in µs from orig's member key, as ns; NAN otherwise. */
static double orig_ns(const cJSON *orig, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(orig, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble * 1000.0 : NAN;
}

/* 1 when orig says the original request succeeded (or does not say). */
static int orig_ok(const cJSON *orig)
{
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(orig, "ok");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(orig, "status");
    if (cJSON_IsFalse(ok)) return 0;
    if (cJSON_IsNumber(st) && (st->valuedouble < 200 || st->valuedouble >= 300)) return 0;
    return 1;
}

orig_times *orig_load(const runlog *r, const char *trace_path, size_t max_index, int *rc,
                      char *err, size_t errlen)
{
    *rc = 0;
    const char *named = trace_path ? trace_path : runlog_manifest_str(r, "trace");
    if (!named) {
        errf(err, errlen, "%s: no run.json naming the trace", r->path);
        return NULL;
    }
    char *path = trace_path ? xstrdup(trace_path) : find_trace(r, named);
    if (!path) {
        errf(err, errlen, "trace %s not found (give it with --trace)", named);
        return NULL;
    }
    trace_reader *tr = trace_reader_open(path, TRACE_NO_ORDER_CHECK, err, errlen);
    if (!tr) {
        *rc = ERR_SYSTEM;
        free(path);
        return NULL;
    }
    double from_us = -1;
    runlog_manifest_num(r, "from_us", &from_us);
    orig_times *o = xcalloc(1, sizeof *o);
    o->trace_path = path;
    size_t cap = max_index + 1;
    o->ttft_ns = xmalloc(cap * sizeof *o->ttft_ns);
    o->e2e_ns = xmalloc(cap * sizeof *o->e2e_ns);
    trace_rec *rec;
    int k = 0;
    while (o->n < cap && (k = trace_reader_next(tr, &rec)) > 0) {
        if (from_us >= 0 && (double)rec->t_us < from_us) continue;
        double t = NAN, e = NAN;
        if (rec->orig && orig_ok(rec->orig)) {
            t = orig_ns(rec->orig, "ttft_us");
            e = orig_ns(rec->orig, "e2e_us");
        }
        o->with_ttft += !isnan(t);
        o->with_e2e += !isnan(e);
        o->ttft_ns[o->n] = t;
        o->e2e_ns[o->n] = e;
        o->n++;
    }
    if (o->n < cap && k < 0) {
        errf(err, errlen, "%s", trace_reader_error(tr));
        *rc = k;
        trace_reader_close(tr);
        orig_free(o);
        return NULL;
    }
    trace_reader_close(tr);
    if (!o->with_ttft && !o->with_e2e) {
        errf(err, errlen, "trace %s holds no original timings (orig.ttft_us, orig.e2e_us)", o->trace_path);
        orig_free(o);
        return NULL;
    }
    const char *want = runlog_manifest_str(r, "trace_digest");
    char got[128];
    if (want && file_fnv_digest(o->trace_path, got, sizeof got) == 0) o->digest_differs = strcmp(want, got) != 0;
    return o;
}
