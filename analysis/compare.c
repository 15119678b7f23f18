/* compare.c — see compare.h. Builds the comparison document; printing is
 * in compare_print.c. */
#include "analysis/compare.h"
#include "analysis/orig.h"
#include "analysis/report.h"
#include "analysis/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The figures set side by side (keys of summary.json). */
static const char *const metric_keys[] = {
    "completed", "failed", "duration", "total_output_tokens", "short_outputs", "request_throughput", "request_goodput", "output_throughput",
    "total_token_throughput", "achieved_rate", "max_concurrency",
    "mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms",
    "mean_tpot_ms", "median_tpot_ms", "p90_tpot_ms", "p99_tpot_ms",
    "mean_itl_ms", "median_itl_ms", "p90_itl_ms", "p99_itl_ms",
    "mean_e2el_ms", "median_e2el_ms", "p90_e2el_ms", "p99_e2el_ms",
    "send_lag_p50_us", "send_lag_p99_us", "send_lag_max_us",
    /* the engine view (in-process engines only) */
    "engine_requests",
    "mean_engine_ttft_ms", "median_engine_ttft_ms", "p90_engine_ttft_ms", "p99_engine_ttft_ms",
    "mean_engine_tpot_ms", "median_engine_tpot_ms", "p90_engine_tpot_ms", "p99_engine_tpot_ms",
    "mean_engine_queue_ms", "median_engine_queue_ms", "p99_engine_queue_ms",
    "mean_engine_prefill_ms", "median_engine_prefill_ms", "p99_engine_prefill_ms",
    "mean_engine_decode_ms", "median_engine_decode_ms", "p99_engine_decode_ms",
};

/* Per-request metrics with bootstrap intervals and pairing. */
enum { M_TTFT, M_TPOT, M_E2EL, M_COUNT };
static const char *const m_names[M_COUNT] = { "ttft", "tpot", "e2el" };

/* The value of metric m for request q in ns; 0 when q has none. */
static int req_metric(const runlog_req *q, int m, double *out)
{
    switch (m) {
    case M_TTFT:
        if (!q->ok || q->t_first == RUNLOG_NO_TIME) return 0;
        *out = (double)(q->t_first - q->t_send);
        return 1;
    case M_TPOT:
        if (!q->ok || q->tpot_ns < 0) return 0;
        *out = q->tpot_ns;
        return 1;
    default:
        if (!q->ok) return 0;
        *out = (double)(q->t_end - q->t_send);
        return 1;
    }
}

static char run_name(size_t i) { return (char)('A' + i); }

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static void push_num(cJSON *arr, double v)
{
    cJSON_AddItemToArray(arr, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

/* "runs": what each run is. */
static cJSON *runs_json(runlog *const *runs, cJSON *const *sums, size_t n)
{
    static const char *const keys[] = { "client", "url", "engine", "trace", "trace_digest", "speed", "start" };
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        char nm[2] = { run_name(i), 0 };
        cJSON_AddStringToObject(r, "name", nm);
        cJSON_AddStringToObject(r, "path", runs[i]->path);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(runs[i]->manifest, keys[k]);
            if (v) cJSON_AddItemToObject(r, keys[k], cJSON_Duplicate(v, 1));
        }
        add_num(r, "completed", jnum(sums[i], "completed"));
        add_num(r, "failed", jnum(sums[i], "failed"));
        cJSON_AddItemToArray(a, r);
    }
    return a;
}

/* "metrics": each figure per run, difference and ratio to the baseline. */
static cJSON *metrics_json(cJSON *const *sums, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; k < sizeof metric_keys / sizeof metric_keys[0]; k++) {
        const char *key = metric_keys[k];
        int any = 0;
        for (size_t i = 0; i < n; i++) any |= cJSON_GetObjectItemCaseSensitive(sums[i], key) != NULL;
        if (!any) continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "key", key);
        cJSON *vals = cJSON_AddArrayToObject(m, "values");
        cJSON *diff = cJSON_AddArrayToObject(m, "diff");
        cJSON *ratio = cJSON_AddArrayToObject(m, "ratio");
        double base = jnum(sums[0], key);
        for (size_t i = 0; i < n; i++) {
            double v = jnum(sums[i], key);
            push_num(vals, v);
            push_num(diff, i ? v - base : NAN);
            push_num(ratio, i && base != 0 ? v / base : NAN);
        }
        cJSON_AddItemToArray(a, m);
    }
    return a;
}

/* The sorted values of metric m over the run's requests (caller frees). */
static void collect(const runlog *r, int m, stats_vec *v)
{
    for (size_t i = 0; i < r->nreqs; i++) {
        double x;
        if (req_metric(&r->reqs[i], m, &x)) stats_vec_push(v, x);
    }
    stats_sort(v->v, v->n);
}

static const char *verdict(const bootstrap_ci *c, double min_effect)
{
    if (!c->excludes_zero) return "no clear difference";
    if (fabs(c->diff) < min_effect * fabs(c->a)) return "negligible";
    return c->diff > 0 ? "slower" : "faster";
}

/* One "ci" entry (times in ms). */
static cJSON *ci_json(size_t run, const char *metric, const char *stat, const bootstrap_ci *c, double min_effect)
{
    cJSON *e = cJSON_CreateObject();
    char nm[2] = { run_name(run), 0 };
    cJSON_AddStringToObject(e, "run", nm);
    cJSON_AddStringToObject(e, "vs", "A");
    cJSON_AddStringToObject(e, "metric", metric);
    cJSON_AddStringToObject(e, "stat", stat);
    add_num(e, "a_ms", c->a / 1e6);
    add_num(e, "b_ms", c->b / 1e6);
    add_num(e, "diff_ms", c->diff / 1e6);
    add_num(e, "lo_ms", c->lo / 1e6);
    add_num(e, "hi_ms", c->hi / 1e6);
    add_num(e, "relative", c->a != 0 ? c->diff / c->a : NAN);
    cJSON_AddBoolToObject(e, "excludes_zero", c->excludes_zero);
    cJSON_AddStringToObject(e, "verdict", verdict(c, min_effect));
    return e;
}

/* Orders request pointers by trace index. */
static int cmp_index(const void *pa, const void *pb)
{
    const runlog_req *a = *(const runlog_req *const *)pa, *b = *(const runlog_req *const *)pb;
    return (a->index > b->index) - (a->index < b->index);
}

/* The run's requests with an index, sorted by it (caller frees); *dups
 * counts indices seen more than once (only the first is kept). */
static const runlog_req **by_index(const runlog *r, size_t *n, size_t *dups)
{
    const runlog_req **p = xmalloc((r->nreqs ? r->nreqs : 1) * sizeof *p);
    size_t k = 0;
    for (size_t i = 0; i < r->nreqs; i++)
        if (r->reqs[i].index >= 0) p[k++] = &r->reqs[i];
    qsort(p, k, sizeof *p, cmp_index); /* ties keep no order: only their count is used */
    size_t w = 0;
    *dups = 0;
    for (size_t i = 0; i < k; i++) {
        if (w && p[w - 1]->index == p[i]->index) {
            (*dups)++;
            continue;
        }
        p[w++] = p[i];
    }
    *n = w;
    return p;
}

/* "paired": run b against the baseline a by trace index. *npairs gets the
 * requests present in both. */
static cJSON *paired_json(const runlog *a, const runlog *b, size_t run, size_t *npairs)
{
    size_t na, nb, da, db;
    const runlog_req **pa = by_index(a, &na, &da), **pb = by_index(b, &nb, &db);
    cJSON *o = cJSON_CreateObject();
    char nm[2] = { run_name(run), 0 };
    cJSON_AddStringToObject(o, "run", nm);
    cJSON_AddStringToObject(o, "vs", "A");
    stats_vec d[M_COUNT] = { { 0 } };
    uint64_t fast[M_COUNT] = { 0 }, slow[M_COUNT] = { 0 }, same[M_COUNT] = { 0 };
    size_t i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        if (pa[i]->index < pb[j]->index) { i++; continue; }
        if (pa[i]->index > pb[j]->index) { j++; continue; }
        both++;
        for (int m = 0; m < M_COUNT; m++) {
            double x, y;
            if (!req_metric(pa[i], m, &x) || !req_metric(pb[j], m, &y)) continue;
            stats_vec_push(&d[m], y - x);
            fast[m] += y < x;
            slow[m] += y > x;
            same[m] += y == x;
        }
        i++, j++;
    }
    cJSON_AddNumberToObject(o, "pairs", (double)both);
    cJSON_AddNumberToObject(o, "duplicate_indices", (double)(da + db));
    for (int m = 0; m < M_COUNT; m++) {
        cJSON *x = cJSON_AddObjectToObject(o, m_names[m]);
        double k = (double)d[m].n;
        cJSON_AddNumberToObject(x, "pairs", k);
        add_num(x, "faster", k ? (double)fast[m] / k : NAN);
        add_num(x, "slower", k ? (double)slow[m] / k : NAN);
        add_num(x, "same", k ? (double)same[m] / k : NAN);
        stats_sort(d[m].v, d[m].n);
        add_num(x, "median_diff_ms", k ? stats_median(d[m].v, d[m].n) / 1e6 : NAN);
        stats_vec_free(&d[m]);
    }
    free(pa);
    free(pb);
    *npairs = both;
    return o;
}

static void warn(cJSON *w, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void warn(cJSON *w, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(w, cJSON_CreateString(buf));
}

/* Warnings about run i set against the baseline (i > 0) or itself. */
static void check_run(cJSON *w, runlog *const *runs, cJSON *const *sums, size_t i, double late_us)
{
    char nm = run_name(i);
    const runlog *r = runs[i], *a = runs[0];
    if (i > 0) {
        const char *da = runlog_manifest_str(a, "trace_digest"), *db = runlog_manifest_str(r, "trace_digest");
        if (!da || !db)
            warn(w, "cannot tell whether runs A and %c replayed the same trace: run %c has no trace_digest "
                 "(run.json)", nm, !da ? 'A' : nm);
        else if (strcmp(da, db))
            warn(w, "runs A and %c did not replay the same trace (trace_digest %s vs %s): requests paired by "
                 "index are not the same requests", nm, da, db);
        static const char *const same_keys[] = { "speed", "from_us", "to_us", "first", "duration_us", "shard",
                                                  "sessions", "max_inflight" };
        for (size_t k = 0; k < sizeof same_keys / sizeof same_keys[0]; k++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(a->manifest, same_keys[k]);
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(r->manifest, same_keys[k]);
            if ((!x && !y) || !a->manifest || !r->manifest || cJSON_Compare(x, y, 1)) continue;
            char *sx = x ? cJSON_PrintUnformatted(x) : NULL, *sy = y ? cJSON_PrintUnformatted(y) : NULL;
            warn(w, "runs A and %c replayed the trace differently: %s %s vs %s", nm, same_keys[k],
                 sx ? sx : "(not set)", sy ? sy : "(not set)");
            cJSON_free(sx);
            cJSON_free(sy);
        }
    }
    double p99 = jnum(sums[i], "send_lag_p99_us");
    if (p99 > late_us)
        warn(w, "run %c's client was late: send lag p99 %.3f ms > %.3f ms, so its latencies from t_send leave "
             "that wait out (see report's ttft_from_sched)", nm, p99 / 1e3, late_us / 1e3);
    double failed = jnum(sums[i], "failed"), done = jnum(sums[i], "completed");
    if (failed > 0)
        warn(w, "run %c: %.0f of %.0f requests failed; latencies are over completed requests", nm, failed,
             failed + done);
}

/* Warnings about the work done: run i's outputs shorter than forced, and
 * (i > 0) a token total that differs from the baseline's, with the likely
 * cause. */
static void check_tokens(cJSON *w, cJSON *const *sums, size_t i)
{
    char nm = run_name(i);
    double sh = jnum(sums[i], "short_outputs");
    if (sh > 0)
        warn(w, "run %c: %.0f of %.0f requests that forced their output length came back short (%.0f tokens "
             "missing): the server or a gateway in front of it ignored ignore_eos/min_tokens", nm, sh,
             jnum(sums[i], "forced_outputs"), jnum(sums[i], "short_output_tokens_missing"));
    double a = jnum(sums[0], "total_output_tokens"), b = jnum(sums[i], "total_output_tokens");
    if (i == 0 || !isfinite(a) || !isfinite(b) || a == b) return;
    char why[300];
    double sa = jnum(sums[0], "short_outputs");
    double ca = jnum(sums[0], "completed"), cb = jnum(sums[i], "completed");
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(sums[0], "token_source");
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(sums[i], "token_source");
    if (sa > 0 || sh > 0)
        snprintf(why, sizeof why, "outputs shorter than forced (short_outputs A %.0f, %c %.0f): a server or "
                 "gateway dropped ignore_eos/min_tokens", sa > 0 ? sa : 0, nm, sh > 0 ? sh : 0);
    else if (ca != cb)
        snprintf(why, sizeof why, "the runs completed different numbers of requests (A %.0f, %c %.0f)", ca, nm, cb);
    else if (cJSON_IsString(ta) && cJSON_IsString(tb) && strcmp(ta->valuestring, tb->valuestring))
        snprintf(why, sizeof why, "the runs counted differently (token_source A %s, %c %s: chunks are not "
                 "tokens)", ta->valuestring, nm, tb->valuestring);
    else
        snprintf(why, sizeof why, "output lengths not forced in both runs (forced_outputs A %.0f, %c %.0f): "
                 "the model stopped at its own end of sequence, or a server or gateway dropped "
                 "ignore_eos/min_tokens", jnum(sums[0], "forced_outputs"), nm, jnum(sums[i], "forced_outputs"));
    warn(w, "runs A and %c generated different token totals: A %.0f, %c %.0f (%+.0f, %+.1f%%), so their "
         "throughputs and TPOT are over different work; likely cause: %s", nm, a, nm, b, b - a,
         a > 0 ? 100 * (b - a) / a : 0.0, why);
}

/* Original-vs-replay for one run, or NULL (reason in err, *rc < 0 on a
 * read error). */
static cJSON *original_json(const runlog *r, size_t run, const compare_opts *o, int *rc, char *err, size_t errlen)
{
    int64_t maxix = -1;
    for (size_t i = 0; i < r->nreqs; i++)
        if (r->reqs[i].index > maxix) maxix = r->reqs[i].index;
    *rc = 0;
    if (maxix < 0) {
        errf(err, errlen, "%s: no request has a trace index", r->path);
        return NULL;
    }
    orig_times *ot = orig_load(r, o->trace_path, (size_t)maxix, rc, err, errlen);
    if (!ot) return NULL;
    cJSON *x = cJSON_CreateObject();
    char nm[2] = { run_name(run), 0 };
    cJSON_AddStringToObject(x, "run", nm);
    cJSON_AddStringToObject(x, "trace", ot->trace_path);
    cJSON_AddBoolToObject(x, "trace_changed", ot->digest_differs);
    static const int ms[] = { M_TTFT, M_E2EL };
    for (int k = 0; k < 2; k++) {
        const double *ov = ms[k] == M_TTFT ? ot->ttft_ns : ot->e2e_ns;
        stats_vec a = {0}, b = {0};
        uint64_t faster = 0;
        for (size_t i = 0; i < r->nreqs; i++) {
            const runlog_req *q = &r->reqs[i];
            double y;
            if (q->index < 0 || (size_t)q->index >= ot->n || isnan(ov[q->index]) || !req_metric(q, ms[k], &y))
                continue;
            stats_vec_push(&a, ov[q->index]);
            stats_vec_push(&b, y);
            faster += y < ov[q->index];
        }
        cJSON *m = cJSON_AddObjectToObject(x, m_names[ms[k]]);
        cJSON_AddNumberToObject(m, "pairs", (double)a.n);
        if (a.n) {
            stats_sort(a.v, a.n);
            stats_sort(b.v, b.n);
            double q[] = { BOOTSTRAP_MEDIAN, 90, 99 };
            bootstrap_ci ci[3];
            bootstrap_diff(a.v, a.n, b.v, b.n, q, 3, &o->boot, 1000 + run * 8 + (size_t)k, ci);
            cJSON_AddNumberToObject(m, "original_median_ms", ci[0].a / 1e6);
            cJSON_AddNumberToObject(m, "replay_median_ms", ci[0].b / 1e6);
            cJSON_AddNumberToObject(m, "original_p90_ms", ci[1].a / 1e6);
            cJSON_AddNumberToObject(m, "replay_p90_ms", ci[1].b / 1e6);
            cJSON_AddNumberToObject(m, "original_p99_ms", ci[2].a / 1e6);
            cJSON_AddNumberToObject(m, "replay_p99_ms", ci[2].b / 1e6);
            add_num(m, "ratio_median", ci[0].a != 0 ? ci[0].b / ci[0].a : NAN);
            cJSON_AddNumberToObject(m, "median_diff_ms", ci[0].diff / 1e6);
            cJSON_AddNumberToObject(m, "median_diff_lo_ms", ci[0].lo / 1e6);
            cJSON_AddNumberToObject(m, "median_diff_hi_ms", ci[0].hi / 1e6);
            cJSON_AddNumberToObject(m, "replay_faster", (double)faster / (double)a.n);
        }
        stats_vec_free(&a);
        stats_vec_free(&b);
    }
    orig_free(ot);
    return x;
}

/* "bootstrap": how the intervals were made. */
static cJSON *method_json(const compare_opts *o, double min_effect)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "seed", (double)o->boot.seed);
    cJSON_AddNumberToObject(b, "resamples", o->boot.resamples);
    cJSON_AddNumberToObject(b, "level", o->boot.level);
    cJSON_AddNumberToObject(b, "min_effect", min_effect);
    cJSON_AddStringToObject(b, "method", "percentile bootstrap; each run's completed requests resampled with "
                            "replacement, independently; ITL has no interval (its values within a request "
                            "are not independent)");
    return b;
}

cJSON *compare_json(runlog *const *runs, size_t n, const compare_opts *o, int *rc, char *err, size_t errlen)
{
    *rc = 0;
    if (n < 1 || n > COMPARE_MAX_RUNS || o->boot.resamples < 2 || !(o->boot.level > 0 && o->boot.level < 1)) {
        errf(err, errlen, "compare: 1 to %d runs, at least 2 resamples and a level in (0, 1)", COMPARE_MAX_RUNS);
        *rc = ERR_USAGE;
        return NULL;
    }
    double min_effect = o->min_effect > 0 ? o->min_effect : COMPARE_MIN_EFFECT;
    double late_us = o->late_us > 0 ? o->late_us : REPORT_LATE_US;
    cJSON *sums[COMPARE_MAX_RUNS];
    for (size_t i = 0; i < n; i++) sums[i] = runlog_summary_json(runs[i]);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "runs", runs_json(runs, sums, n));
    cJSON_AddItemToObject(doc, "baseline", cJSON_CreateString("A"));
    cJSON *w = cJSON_AddArrayToObject(doc, "warnings");
    for (size_t i = 0; i < n; i++) {
        check_run(w, runs, sums, i, late_us);
        check_tokens(w, sums, i);
    }
    cJSON_AddItemToObject(doc, "bootstrap", method_json(o, min_effect));
    cJSON_AddItemToObject(doc, "metrics", metrics_json(sums, n));

    cJSON *ci = cJSON_AddArrayToObject(doc, "ci");
    cJSON *paired = cJSON_AddArrayToObject(doc, "paired");
    stats_vec base[M_COUNT] = { { 0 } };
    for (int m = 0; m < M_COUNT; m++) collect(runs[0], m, &base[m]);
    for (size_t i = 1; i < n; i++) {
        for (int m = 0; m < M_COUNT; m++) {
            stats_vec v = {0};
            collect(runs[i], m, &v);
            if (base[m].n && v.n) {
                double q[] = { BOOTSTRAP_MEDIAN, 99 };
                bootstrap_ci c[2];
                bootstrap_diff(base[m].v, base[m].n, v.v, v.n, q, 2, &o->boot, i * 8 + (size_t)m, c);
                cJSON_AddItemToArray(ci, ci_json(i, m_names[m], "median", &c[0], min_effect));
                cJSON_AddItemToArray(ci, ci_json(i, m_names[m], "p99", &c[1], min_effect));
            }
            stats_vec_free(&v);
        }
        size_t pairs;
        cJSON_AddItemToArray(paired, paired_json(runs[0], runs[i], i, &pairs));
        size_t fewer = runs[0]->nreqs < runs[i]->nreqs ? runs[0]->nreqs : runs[i]->nreqs;
        if ((double)pairs < 0.9 * (double)fewer)
            warn(w, "only %zu requests of runs A and %c pair by trace index (of %zu)", pairs, run_name(i), fewer);
    }
    for (int m = 0; m < M_COUNT; m++) stats_vec_free(&base[m]);

    cJSON *orig = cJSON_CreateArray();
    char why[600] = "";
    for (size_t i = 0; i < n && *rc == 0; i++) {
        cJSON *x = original_json(runs[i], i, o, rc, why, sizeof why);
        if (x) cJSON_AddItemToArray(orig, x);
        if (x && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "trace_changed")))
            warn(w, "run %c: the trace file %s is not the one it replayed (digest differs)", run_name(i),
                 cJSON_GetObjectItemCaseSensitive(x, "trace")->valuestring);
    }
    for (size_t i = 0; i < n; i++) cJSON_Delete(sums[i]);
    if (*rc == 0 && !orig->child && (o->orig || n == 1)) {
        *rc = n == 1 ? ERR_USAGE : ERR_INPUT;
        errf(err, errlen, n == 1 ? "compare needs two runs, or one whose trace holds original timings (%s)"
                                 : "--orig: %s", why);
    } else if (*rc) {
        errf(err, errlen, "%s", why);
    }
    if (*rc) {
        cJSON_Delete(orig);
        cJSON_Delete(doc);
        return NULL;
    }
    cJSON_AddItemToObject(doc, "original", orig);
    if (!orig->child && why[0]) cJSON_AddStringToObject(doc, "original_unavailable", why);
    return doc;
}
