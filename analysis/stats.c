/* stats.c — see stats.h. The percentile and median are numpy's, operation
 * for operation, so figures computed here equal `numpy.percentile` and
 * `numpy.median` bit for bit (vllm bench serve computes its summary with
 * numpy). Means and standard deviations use compensated summation; numpy
 * sums pairwise, so those two agree with numpy to rounding only. */
#include "analysis/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

void stats_vec_push(stats_vec *a, double x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

void stats_vec_free(stats_vec *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* qsort comparator, ascending. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *x, size_t n)
{
    if (n > 1) qsort(x, n, sizeof *x, cmp_double);
}

void stats_rank(size_t n, double q, size_t *lo, double *g)
{
    double vi = (double)(n - 1) * (q / 100.0);
    if (vi >= (double)(n - 1)) {
        *lo = n - 1;
        *g = 0;
        return;
    }
    double f = floor(vi);
    *lo = (size_t)f;
    *g = vi - f;
}

double stats_lerp(double a, double b, double g)
{
    double diff = b - a;
    return g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
}

double stats_percentile(const double *x, size_t n, double q)
{
    size_t lo;
    double g;
    stats_rank(n, q, &lo, &g);
    if (lo == n - 1) return x[n - 1];
    return stats_lerp(x[lo], x[lo + 1], g);
}

double stats_median(const double *x, size_t n)
{
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2.0;
}

double stats_csum(const double *x, size_t n, double shift, int p)
{
    double s = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        double y = x[i] - shift;
        if (p == 2) y *= y;
        double t = s + y;
        c += fabs(s) >= fabs(y) ? (s - t) + y : (y - t) + s;
        s = t;
    }
    return s + c;
}

double stats_mean(const double *x, size_t n)
{
    return stats_csum(x, n, 0, 1) / (double)n;
}

double stats_std(const double *x, size_t n, double mean)
{
    return sqrt(stats_csum(x, n, mean, 2) / (double)n);
}
