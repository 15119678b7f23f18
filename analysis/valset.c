/* valset.c — see valset.h. */
#include "analysis/valset.h"

#include <stdlib.h>

void valset_add(valset *s, double x)
{
    if (s->h) {
        hist_add(s->h, x);
        return;
    }
    stats_vec_push(&s->v, x);
    s->sorted = 0;
}

void valset_add_n(valset *s, double x, uint64_t n)
{
    if (s->h) {
        hist_add_n(s->h, x, n);
        return;
    }
    for (uint64_t i = 0; i < n; i++) stats_vec_push(&s->v, x);
    s->sorted = 0;
}

void valset_fold(valset *s)
{
    if (s->h) return;
    s->h = hist_new();
    for (size_t i = 0; i < s->v.n; i++) hist_add(s->h, s->v.v[i]);
    stats_vec_free(&s->v);
    s->sorted = 0;
}

void valset_merge(valset *dst, const valset *src)
{
    if (src->h) {
        valset_fold(dst);
        hist_merge(dst->h, src->h);
        return;
    }
    for (size_t i = 0; i < src->v.n; i++) valset_add(dst, src->v.v[i]);
}

size_t valset_count(const valset *s) { return s->h ? (size_t)hist_count(s->h) : s->v.n; }
size_t valset_kept(const valset *s) { return s->h ? 0 : s->v.n; }

/* Sorts an exact set's values once. */
static void sort_once(valset *s)
{
    if (s->sorted) return;
    stats_sort(s->v.v, s->v.n);
    s->sorted = 1;
}

double valset_mean(valset *s)
{
    if (s->h) return hist_mean(s->h);
    sort_once(s);
    return stats_mean(s->v.v, s->v.n);
}

double valset_std(valset *s)
{
    if (s->h) return hist_std(s->h);
    sort_once(s);
    return stats_std(s->v.v, s->v.n, stats_mean(s->v.v, s->v.n));
}

double valset_median(valset *s)
{
    if (s->h) return hist_percentile(s->h, 50);
    sort_once(s);
    return stats_median(s->v.v, s->v.n);
}

double valset_percentile(valset *s, double q)
{
    if (s->h) return hist_percentile(s->h, q);
    sort_once(s);
    return stats_percentile(s->v.v, s->v.n, q);
}

double valset_max(valset *s)
{
    if (s->h) return hist_max(s->h);
    sort_once(s);
    return s->v.v[s->v.n - 1];
}

void valset_free(valset *s)
{
    stats_vec_free(&s->v);
    hist_free(s->h);
    s->h = NULL;
    s->sorted = 0;
}
