/* inspect.c — see inspect.h. Memory: an exact count array per length
 * distribution (bounded by the largest length seen), a set of session ids
 * and a set of hash ids; nothing grows with the number of records itself. */
#include "traces/inspect.h"
#include "traces/trace_io.h"
#include "common/hset.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIST_DENSE_MAX (1u << 24)

/* Exact distribution of non-negative integers: dense counts below
 * DIST_DENSE_MAX, a plain list above (rare). */
typedef struct idist {
    uint64_t *cnt;
    size_t cap;
    int64_t *big;
    size_t nbig, capbig;
    uint64_t n;
    double sum;
    int64_t max;
} idist;

static void idist_add(idist *d, int64_t v)
{
    if (v < 0) return;
    d->n++;
    d->sum += (double)v;
    if (v > d->max) d->max = v;
    if ((uint64_t)v < DIST_DENSE_MAX) {
        if ((size_t)v >= d->cap) {
            size_t ncap = d->cap ? d->cap : 1024;
            while (ncap <= (size_t)v) ncap *= 2;
            d->cnt = xrealloc(d->cnt, ncap * sizeof *d->cnt);
            memset(d->cnt + d->cap, 0, (ncap - d->cap) * sizeof *d->cnt);
            d->cap = ncap;
        }
        d->cnt[v]++;
    } else {
        if (d->nbig == d->capbig) {
            d->capbig = d->capbig ? d->capbig * 2 : 64;
            d->big = xrealloc(d->big, d->capbig * sizeof *d->big);
        }
        d->big[d->nbig++] = v;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Value of 0-based rank k in sorted order. */
static int64_t idist_rank(const idist *d, uint64_t k)
{
    uint64_t seen = 0;
    for (size_t v = 0; v < d->cap; v++) {
        seen += d->cnt[v];
        if (seen > k) return (int64_t)v;
    }
    return d->big[k - seen]; /* big[] is sorted before use */
}

static double idist_pct(const idist *d, double p)
{
    if (!d->n) return 0;
    double h = (double)(d->n - 1) * p;
    uint64_t lo = (uint64_t)floor(h), hi = (uint64_t)ceil(h);
    double a = (double)idist_rank(d, lo), b = (double)idist_rank(d, hi);
    return a + (b - a) * (h - (double)lo);
}

static cJSON *idist_json(idist *d)
{
    cJSON *o = cJSON_CreateObject();
    if (d->nbig) qsort(d->big, d->nbig, sizeof *d->big, cmp_i64);
    cJSON_AddNumberToObject(o, "count", (double)d->n);
    cJSON_AddNumberToObject(o, "mean", d->n ? d->sum / (double)d->n : 0);
    cJSON_AddNumberToObject(o, "p50", idist_pct(d, 0.50));
    cJSON_AddNumberToObject(o, "p90", idist_pct(d, 0.90));
    cJSON_AddNumberToObject(o, "p99", idist_pct(d, 0.99));
    cJSON_AddNumberToObject(o, "max", (double)d->max);
    return o;
}

static void idist_free(idist *d)
{
    free(d->cnt);
    free(d->big);
}

static void bump(cJSON *obj, const char *key)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (c) cJSON_SetNumberValue(c, c->valuedouble + 1);
    else cJSON_AddNumberToObject(obj, key, 1);
}

/* Counts arrivals per bin of width w (µs) and keeps the busiest bin. */
typedef struct peak { int64_t w, bin, n, best, best_bin; } peak;

static void peak_add(peak *p, int64_t t)
{
    int64_t b = t / p->w;
    if (b != p->bin) {
        p->bin = b;
        p->n = 0;
    }
    if (++p->n > p->best) {
        p->best = p->n;
        p->best_bin = b;
    }
}

cJSON *trace_inspect(const char *path, unsigned flags, char *err, size_t errlen)
{
    trace_reader *r = trace_reader_open(path, flags, err, errlen);
    if (!r) return NULL;
    idist in = {0}, out = {0};
    hset sessions = {0}, hashes = {0};
    peak ps = { 1000000, -1, 0, 0, 0 }, pm = { 60000000, -1, 0, 0, 0 };
    uint64_t n = 0, bodies = 0, sess_recs = 0, blocks = 0, repeated = 0;
    int64_t first = 0, last = 0, max_turn = -1, block_size = 0;
    cJSON *apis = cJSON_CreateObject(), *models = cJSON_CreateObject();
    trace_rec *rec;
    int rc;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        if (!n) first = rec->t_us;
        last = rec->t_us;
        n++;
        peak_add(&ps, rec->t_us);
        peak_add(&pm, rec->t_us);
        idist_add(&in, rec->input_tokens);
        idist_add(&out, rec->output_tokens);
        if (rec->body) bodies++;
        if (rec->session) {
            sess_recs++;
            hset_add_str(&sessions, rec->session);
            if (rec->turn > max_turn) max_turn = rec->turn;
        }
        if (rec->hash_ids) {
            block_size = rec->block_size;
            for (const cJSON *h = rec->hash_ids->child; h; h = h->next) {
                blocks++;
                if (!hset_add_int(&hashes, (int64_t)h->valuedouble)) repeated++;
            }
        }
        bump(apis, rec->api);
        bump(models, rec->model ? rec->model : "(unspecified)");
    }
    cJSON *res = NULL;
    if (rc < 0) {
        errf(err, errlen, "%s", trace_reader_error(r));
        cJSON_Delete(apis);
        cJSON_Delete(models);
        goto out;
    }
    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "file", path);
    cJSON_AddItemToObject(res, "header", cJSON_Duplicate(trace_reader_header(r), 1));
    cJSON_AddNumberToObject(res, "records", (double)n);
    if (trace_reader_skipped(r))
        cJSON_AddNumberToObject(res, "skipped_invalid", (double)trace_reader_skipped(r));
    cJSON_AddNumberToObject(res, "first_t_us", (double)first);
    cJSON_AddNumberToObject(res, "last_t_us", (double)last);
    double dur = (double)(last - first) / 1e6;
    cJSON_AddNumberToObject(res, "duration_s", dur);
    cJSON *rate = cJSON_AddObjectToObject(res, "rate");
    cJSON_AddNumberToObject(rate, "mean_per_s", dur > 0 ? (double)n / dur : 0);
    cJSON_AddNumberToObject(rate, "peak_per_s", (double)ps.best);
    cJSON_AddNumberToObject(rate, "peak_second", (double)ps.best_bin);
    cJSON_AddNumberToObject(rate, "peak_per_min", (double)pm.best);
    cJSON_AddNumberToObject(rate, "peak_minute", (double)pm.best_bin);
    cJSON_AddItemToObject(res, "input_tokens", idist_json(&in));
    cJSON_AddItemToObject(res, "output_tokens", idist_json(&out));
    cJSON *s = cJSON_AddObjectToObject(res, "sessions");
    cJSON_AddNumberToObject(s, "count", (double)sessions.len);
    cJSON_AddNumberToObject(s, "records", (double)sess_recs);
    cJSON_AddNumberToObject(s, "max_turn", (double)max_turn);
    cJSON_AddNumberToObject(s, "mean_turns", sessions.len ? (double)sess_recs / (double)sessions.len : 0);
    cJSON_AddNumberToObject(res, "with_body_share", n ? (double)bodies / (double)n : 0);
    if (blocks) {
        cJSON *p = cJSON_AddObjectToObject(res, "prefix");
        cJSON_AddNumberToObject(p, "block_size", (double)block_size);
        cJSON_AddNumberToObject(p, "blocks", (double)blocks);
        cJSON_AddNumberToObject(p, "distinct", (double)hashes.len);
        cJSON_AddNumberToObject(p, "repeated", (double)repeated);
        cJSON_AddNumberToObject(p, "sharing_ratio", (double)repeated / (double)blocks);
    }
    cJSON_AddItemToObject(res, "apis", apis);
    cJSON_AddItemToObject(res, "models", models);
out:
    idist_free(&in);
    idist_free(&out);
    hset_free(&sessions);
    hset_free(&hashes);
    trace_reader_close(r);
    return res;
}
