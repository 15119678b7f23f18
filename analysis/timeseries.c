/* timeseries.c — see timeseries.h. One pass over the rows to find the
 * span, one to fill the intervals; TTFT values are kept per interval for
 * exact percentiles (8 bytes per request). */
#include "analysis/timeseries.h"
#include "analysis/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

int64_t timeseries_auto_interval(int64_t span_ns)
{
    static const int64_t ms[] = { 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
                                  300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 86400000 };
    size_t n = sizeof ms / sizeof ms[0];
    for (size_t i = 0; i < n; i++)
        if (span_ns <= ms[i] * 1000000LL * TIMESERIES_TARGET_ROWS) return ms[i] * 1000000LL;
    /* longer than 60 days: whole days */
    int64_t day = ms[n - 1] * 1000000LL;
    return (span_ns / TIMESERIES_TARGET_ROWS / day + 1) * day;
}

typedef struct bucket {
    uint64_t sent, completed, failed;
    double busy_ns;     /* sum of in-flight overlap */
    stats_vec ttft;
} bucket;

/* floor(t / w) for any sign of t. */
static int64_t floordiv(int64_t t, int64_t w)
{
    int64_t q = t / w;
    return (t % w != 0 && t < 0) ? q - 1 : q;
}

/* The interval of time t in [b0 w, b1 w]: the end b1 w belongs to the last. */
static size_t slot(int64_t t, int64_t w, int64_t b0, int64_t b1)
{
    int64_t k = floordiv(t, w);
    return (size_t)((k >= b1 ? b1 - 1 : k) - b0);
}

/* Adds the overlap of [a, b) with every interval it touches. */
static void spread(bucket *bk, int64_t b0, int64_t w, int64_t a, int64_t b)
{
    for (int64_t k = floordiv(a, w); k * w < b; k++) {
        int64_t lo = k * w, hi = lo + w;
        int64_t from = a > lo ? a : lo, to = b < hi ? b : hi;
        if (to > from) bk[k - b0].busy_ns += (double)(to - from);
    }
}

cJSON *timeseries_json(const runlog_req *reqs, size_t n, int64_t interval_ns)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const runlog_req *q = &reqs[i];
        int64_t a = q->t_send != RUNLOG_NO_TIME ? q->t_send : q->t_end;
        int64_t b = q->t_end != RUNLOG_NO_TIME ? q->t_end : q->t_send;
        if (a == RUNLOG_NO_TIME) continue;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
    }
    cJSON *j = cJSON_CreateObject();
    int64_t span = hi > lo ? hi - (lo > 0 ? 0 : lo) : 1;
    int64_t w = interval_ns > 0 ? interval_ns : timeseries_auto_interval(span);
    if (span / w >= TIMESERIES_MAX_ROWS) {
        cJSON_AddNumberToObject(j, "interval_widened_from_s", (double)w / 1e9);
        w *= span / w / (TIMESERIES_MAX_ROWS - 1) + 1;
    }
    cJSON_AddNumberToObject(j, "interval_s", (double)w / 1e9);
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    if (lo == INT64_MAX) return j;
    if (lo > 0) lo = 0; /* from the run's start */
    int64_t b0 = floordiv(lo, w), b1 = floordiv(hi, w);
    if (hi > b1 * w || b1 == b0) b1++; /* intervals [b0, b1) */
    size_t nb = (size_t)(b1 - b0);
    bucket *bk = xcalloc(nb, sizeof *bk);
    for (size_t i = 0; i < n; i++) {
        const runlog_req *q = &reqs[i];
        if (q->t_send != RUNLOG_NO_TIME) {
            bucket *x = &bk[slot(q->t_send, w, b0, b1)];
            x->sent++;
            if (q->ok && q->t_first != RUNLOG_NO_TIME) stats_vec_push(&x->ttft, (double)(q->t_first - q->t_send));
            if (q->t_end != RUNLOG_NO_TIME) spread(bk, b0, w, q->t_send, q->t_end);
        }
        if (q->t_end != RUNLOG_NO_TIME) {
            bucket *x = &bk[slot(q->t_end, w, b0, b1)];
            if (q->ok) x->completed++;
            else x->failed++;
        }
    }
    for (size_t k = 0; k < nb; k++) {
        bucket *x = &bk[k];
        int64_t start = ((int64_t)k + b0) * w, end = start + w;
        if (end > hi && hi > start) end = hi; /* the last interval is partial */
        double len = (double)(end - start);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "t_s", (double)start / 1e9);
        cJSON_AddNumberToObject(r, "sent", (double)x->sent);
        cJSON_AddNumberToObject(r, "rate", (double)x->sent / (len / 1e9));
        cJSON_AddNumberToObject(r, "completed", (double)x->completed);
        cJSON_AddNumberToObject(r, "failed", (double)x->failed);
        if (x->ttft.n) {
            stats_sort(x->ttft.v, x->ttft.n);
            cJSON_AddNumberToObject(r, "ttft_p50_ms", stats_percentile(x->ttft.v, x->ttft.n, 50) / 1e6);
            cJSON_AddNumberToObject(r, "ttft_p99_ms", stats_percentile(x->ttft.v, x->ttft.n, 99) / 1e6);
        } else {
            cJSON_AddNullToObject(r, "ttft_p50_ms");
            cJSON_AddNullToObject(r, "ttft_p99_ms");
        }
        cJSON_AddNumberToObject(r, "in_flight", x->busy_ns / len);
        cJSON_AddItemToArray(rows, r);
        stats_vec_free(&x->ttft);
    }
    free(bk);
    return j;
}
