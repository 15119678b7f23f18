/* stats.c — see stats.h. The percentile and median are numpy's, operation
 * for operation, so figures computed here equal `numpy.percentile` and
 * `numpy.median` bit for bit (vllm bench serve computes its summary with
 * numpy). Means and standard deviations use compensated summation; numpy
 * sums pairwise, so those two agree with numpy to rounding only. */
#include "analysis/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* A double's bits turned into an unsigned key that sorts in the same order
 * (negative numbers: all bits flipped; others: the sign bit set). */
static uint64_t to_key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u >> 63) ? ~u : u | (1ULL << 63);
}

static double from_key(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & ~(1ULL << 63) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Keys written over the doubles' own memory: may_alias keeps the compiler's
 * aliasing rules out of the way (GCC and clang). */
typedef uint64_t __attribute__((may_alias)) key_t64;

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/* LSD radix sort of n keys (11-bit digits; a pass where every key has the
 * same digit is skipped). tmp holds n keys. The sorted keys end in *out. */
static key_t64 *radix_sort(key_t64 *a, key_t64 *tmp, size_t n)
{
    size_t *count = xcalloc(RADIX_SIZE, sizeof *count);
    for (unsigned shift = 0; shift < 64; shift += RADIX_BITS) {
        memset(count, 0, RADIX_SIZE * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(a[i] >> shift) & (RADIX_SIZE - 1)]++;
        if (count[(a[0] >> shift) & (RADIX_SIZE - 1)] == n) continue; /* one digit: order stays */
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_SIZE; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & (RADIX_SIZE - 1)]++] = a[i];
        key_t64 *t = a;
        a = tmp;
        tmp = t;
    }
    free(count);
    return a;
}

void stats_sort(double *x, size_t n)
{
    if (n < 2) return;
    if (n < 4096) { /* small: qsort is as fast and needs no buffer */
        qsort(x, n, sizeof *x, cmp_double);
        return;
    }
    /* Large: a radix sort over the keys, in place in x's memory (a double
     * and its key have the same size), with one buffer of n keys. It is
     * several times faster than qsort on the millions of ITL values of a
     * long run, and needs the same buffer glibc's qsort (a merge sort)
     * takes. NaNs sort after +inf; the summary has none. */
    key_t64 *k = (key_t64 *)(void *)x;
    for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, &k[i], sizeof d);
        k[i] = to_key(d);
    }
    key_t64 *tmp = xmalloc(n * sizeof *tmp);
    key_t64 *sorted = radix_sort(k, tmp, n);
    for (size_t i = 0; i < n; i++) {
        double d = from_key(sorted[i]);
        memcpy(&k[i], &d, sizeof d); /* back into x, in order */
    }
    free(tmp);
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
