/* valset.h — a set of latency values (ns) kept either exactly (every value,
 * for numpy's exact percentiles) or as a histogram (analysis/hist.h,
 * bounded memory, percentiles within HIST_REL_ERROR). The summary and the
 * report start exact and fold every set into histograms once the values
 * they keep pass a cap.
 *
 * Plain data: zero-initialise (an empty exact set); valset_free. The
 * statistics of an exact set sort its values in place (once, until the
 * next add), the way analysis/stats.h computes them. */
#ifndef SAGELLM_VALSET_H
#define SAGELLM_VALSET_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/hist.h"
#include "analysis/stats.h"

typedef struct valset {
    stats_vec v;    /* the values while exact */
    hist *h;        /* non-NULL: histogram mode (v is then empty) */
    int sorted;     /* v is in ascending order */
} valset;

/* Adds x (finite, |x| < HIST_MAX_ABS); valset_add_n adds n copies. */
void valset_add(valset *s, double x);
void valset_add_n(valset *s, double x, uint64_t n);

/* Turns an exact set into a histogram of its values (no-op if it is one). */
void valset_fold(valset *s);

/* Adds src's values to dst: appended while both are exact, else into dst's
 * histogram (dst is folded first when src is a histogram). src unchanged. */
void valset_merge(valset *dst, const valset *src);

size_t valset_count(const valset *s);
/* Values kept one by one (0 in histogram mode). */
size_t valset_kept(const valset *s);

/* Statistics of a non-empty set: exactly as analysis/stats.h computes them
 * (exact mode) or from the histogram (hist.h). */
double valset_mean(valset *s);
double valset_std(valset *s);
double valset_median(valset *s);
double valset_percentile(valset *s, double q);
double valset_max(valset *s);

void valset_free(valset *s);

#endif
