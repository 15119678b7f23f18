/* stats.h — the order statistics every analysis figure uses, defined once
 * so that summary.json, `report`, `compare` and the time series agree to the
 * last digit: numpy's default percentile (linear interpolation between the
 * closest ranks), numpy's median, and a compensated sum for means and the
 * population standard deviation (ddof=0).
 *
 * All functions work on caller-owned arrays of doubles; the "sorted"
 * variants expect ascending order and never allocate. */
#ifndef SAGELLM_STATS_H
#define SAGELLM_STATS_H

#include <stddef.h>
#include <stdint.h>

/* A growable array of doubles. Zero-initialise; stats_vec_free. */
typedef struct stats_vec {
    double *v;
    size_t n, cap;
} stats_vec;

/* Appends x, doubling the capacity when full (allocation aborts on failure). */
void stats_vec_push(stats_vec *a, double x);
/* Frees the values and zeroes a. */
void stats_vec_free(stats_vec *a);

/* Sorts x[0..n) ascending in place. */
void stats_sort(double *x, size_t n);

/* numpy.percentile(x, q) (method "linear") of sorted x, n > 0, 0 <= q <= 100:
 * the same operations in the same order as numpy's _lerp. */
double stats_percentile(const double *x, size_t n, double q);

/* numpy.median of sorted x, n > 0. */
double stats_median(const double *x, size_t n);

/* Neumaier's compensated sum of (x[i] - shift)^p for p = 1 or 2. */
double stats_csum(const double *x, size_t n, double shift, int p);

/* Mean and population standard deviation (ddof=0) of x, n > 0. */
double stats_mean(const double *x, size_t n);
double stats_std(const double *x, size_t n, double mean);

/* Where numpy's linear percentile q of n values reads: the lower rank lo
 * (0-based), the weight g of rank lo + 1 (0 <= g < 1; g == 0 and
 * lo == n - 1 at the top). Lets a caller that knows the values only by
 * rank (a bootstrap resample) interpolate exactly as stats_percentile. */
void stats_rank(size_t n, double q, size_t *lo, double *g);

/* Interpolates between the values a (rank lo) and b (rank lo + 1) with the
 * weight g from stats_rank, as numpy does (stats_percentile uses it). */
double stats_lerp(double a, double b, double g);

#endif
