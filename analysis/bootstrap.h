/* bootstrap.h — a seeded percentile bootstrap for the difference of a
 * quantile (the median, the p99, ...) between two runs: each run's values
 * are resampled with replacement, independently, R times; the statistic of
 * B's resample minus A's gives R differences, and the interval between
 * their (1 - level)/2 and (1 + level)/2 percentiles is the confidence
 * interval. The point estimate is the difference over the full samples, so
 * it equals the difference of the figures the summary prints.
 *
 * Deterministic: the same inputs, seed and stream give the same interval
 * on every machine (xoshiro256** from common/rng.h, one stream per sample;
 * no floating point in the draws). Cost: O(R * (na + nb)) time, 4 bytes
 * per value and 8 bytes per resample and statistic of memory; nothing is
 * sorted per resample (draws are counted per rank). */
#ifndef SAGELLM_BOOTSTRAP_H
#define SAGELLM_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#define BOOTSTRAP_MEDIAN (-1.0)     /* a "quantile" meaning numpy.median */
#define BOOTSTRAP_DEFAULT_RESAMPLES 1000
#define BOOTSTRAP_DEFAULT_SEED 1
#define BOOTSTRAP_MAX_STATS 8

typedef struct bootstrap_opts {
    uint64_t seed;
    int resamples;      /* R >= 2 */
    double level;       /* e.g. 0.95 */
} bootstrap_opts;

typedef struct bootstrap_ci {
    double a, b;        /* the statistic over all of A and of B */
    double diff;        /* b - a */
    double lo, hi;      /* the interval for b - a */
    int excludes_zero;  /* lo > 0 or hi < 0 */
} bootstrap_ci;

/* The statistic q of sorted x (n > 0): numpy.median for BOOTSTRAP_MEDIAN,
 * else numpy.percentile(x, q). */
double bootstrap_stat(const double *x, size_t n, double q);

/* For each of the nq (<= BOOTSTRAP_MAX_STATS) statistics q[i], the
 * difference B - A and its interval into out[i], from the same resamples.
 * a and b are sorted ascending and non-empty. stream separates independent
 * uses of one seed (one per metric and pair of runs). Returns 0, or
 * ERR_USAGE when an argument is out of range. */
int bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, const double *q, size_t nq,
                   const bootstrap_opts *o, uint64_t stream, bootstrap_ci *out);

#endif
