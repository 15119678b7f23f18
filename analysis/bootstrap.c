/* bootstrap.c — see bootstrap.h.
 *
 * One resample of n values from sorted x is n draws of a rank in [0, n);
 * counting the draws per rank gives the resample in sorted order without
 * sorting it, and walking the counts finds the order statistics a quantile
 * needs (for numpy's linear percentile, the ranks lo and lo + 1 of the
 * resample; for the median, the middle one or two). */
#include "analysis/bootstrap.h"
#include "analysis/stats.h"
#include "common/rng.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double bootstrap_stat(const double *x, size_t n, double q)
{
    return q == BOOTSTRAP_MEDIAN ? stats_median(x, n) : stats_percentile(x, n, q);
}

/* The ranks (0-based, in the resample) statistic q needs and how to combine
 * them: *k0, *k1 and the weight g (median: g = 0.5 averages). */
typedef struct need {
    size_t k0, k1;
    double g;
    int median, single;
} need;

static need need_of(size_t n, double q)
{
    need r = { 0, 0, 0, q == BOOTSTRAP_MEDIAN, 0 };
    if (r.median) {
        r.k1 = n / 2;
        r.k0 = n % 2 ? n / 2 : n / 2 - 1;
        r.single = n % 2;
        return r;
    }
    stats_rank(n, q, &r.k0, &r.g);
    r.single = r.k0 == n - 1;
    r.k1 = r.single ? r.k0 : r.k0 + 1;
    return r;
}

/* The value of rank k in the resample described by counts (ascending
 * walk from pos and cum, which carry over between increasing k). */
static double rank_value(const double *x, const uint32_t *cnt, size_t n, size_t k, size_t *pos, uint64_t *cum)
{
    while (*pos < n && *cum + cnt[*pos] <= k) *cum += cnt[(*pos)++];
    return x[*pos < n ? *pos : n - 1];
}

/* Order statistics one resample needs, for every statistic. */
static void resample_stats(const double *x, size_t n, rng *r, uint32_t *cnt, const need *nd, size_t nq, double *out)
{
    memset(cnt, 0, n * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[rng_range(r, 0, (int64_t)n - 1)]++;
    /* ranks asked for, walked in increasing order */
    size_t order[2 * BOOTSTRAP_MAX_STATS];
    double val[2 * BOOTSTRAP_MAX_STATS];
    size_t m = 0;
    for (size_t i = 0; i < nq; i++) {
        order[m++] = nd[i].k0;
        order[m++] = nd[i].k1;
    }
    size_t idx[2 * BOOTSTRAP_MAX_STATS];
    for (size_t i = 0; i < m; i++) idx[i] = i;
    for (size_t i = 1; i < m; i++) /* insertion sort of at most 16 ranks */
        for (size_t j = i; j > 0 && order[idx[j - 1]] > order[idx[j]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    size_t pos = 0;
    uint64_t cum = 0;
    for (size_t i = 0; i < m; i++) val[idx[i]] = rank_value(x, cnt, n, order[idx[i]], &pos, &cum);
    for (size_t i = 0; i < nq; i++) {
        double a = val[2 * i], b = val[2 * i + 1];
        if (nd[i].median) out[i] = nd[i].single ? a : (a + b) / 2.0;
        else out[i] = nd[i].single ? a : stats_lerp(a, b, nd[i].g);
    }
}

int bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, const double *q, size_t nq,
                   const bootstrap_opts *o, uint64_t stream, bootstrap_ci *out)
{
    if (!na || !nb || !nq || nq > BOOTSTRAP_MAX_STATS || o->resamples < 2 || !(o->level > 0 && o->level < 1) ||
        na > UINT32_MAX || nb > UINT32_MAX)
        return ERR_USAGE;
    for (size_t i = 0; i < nq; i++)
        if (q[i] != BOOTSTRAP_MEDIAN && !(q[i] >= 0 && q[i] <= 100)) return ERR_USAGE;
    need na_[BOOTSTRAP_MAX_STATS], nb_[BOOTSTRAP_MAX_STATS];
    for (size_t i = 0; i < nq; i++) {
        na_[i] = need_of(na, q[i]);
        nb_[i] = need_of(nb, q[i]);
    }
    size_t R = (size_t)o->resamples;
    double *d = xmalloc(R * nq * sizeof *d);
    uint32_t *ca = xmalloc(na * sizeof *ca), *cb = xmalloc(nb * sizeof *cb);
    rng ra, rb;
    rng_seed2(&ra, o->seed, stream * 2);
    rng_seed2(&rb, o->seed, stream * 2 + 1);
    double sa[BOOTSTRAP_MAX_STATS], sb[BOOTSTRAP_MAX_STATS];
    for (size_t r = 0; r < R; r++) {
        resample_stats(a, na, &ra, ca, na_, nq, sa);
        resample_stats(b, nb, &rb, cb, nb_, nq, sb);
        for (size_t i = 0; i < nq; i++) d[i * R + r] = sb[i] - sa[i];
    }
    double tail = (100.0 - 100.0 * o->level) / 2.0; /* 2.5 exactly for 0.95 */
    for (size_t i = 0; i < nq; i++) {
        double *di = d + i * R;
        stats_sort(di, R);
        bootstrap_ci *c = &out[i];
        c->a = bootstrap_stat(a, na, q[i]);
        c->b = bootstrap_stat(b, nb, q[i]);
        c->diff = c->b - c->a;
        c->lo = stats_percentile(di, R, tail);
        c->hi = stats_percentile(di, R, 100.0 - tail);
        c->excludes_zero = c->lo > 0 || c->hi < 0;
    }
    free(d);
    free(ca);
    free(cb);
    return 0;
}
