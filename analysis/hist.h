/* hist.h — a mergeable log-linear histogram of latencies in nanoseconds
 * (the HdrHistogram idea, written for this project), for percentiles in
 * memory that does not grow with the number of values.
 *
 * Buckets: one for |v| < 1 ns, and for each power of two [2^e, 2^(e+1)),
 * e = 0..63, 2^HIST_SUB_BITS = 1024 sub-buckets of equal width 2^e / 1024
 * (negative values, such as a send lag of a request sent early, mirror
 * them). A value is placed by the bits of its double: exponent and top ten
 * mantissa bits, so placement is exact and never depends on rounding.
 *
 * Error bound: a bucket's representative is its midpoint, at most half a
 * bucket width, 2^e / 2048, from any value in it, which is at most
 * HIST_REL_ERROR = 2^-11 = 0.048828125 % of the value. A percentile is
 * numpy's linear interpolation (closest ranks, weight g) between the
 * representatives of the buckets holding ranks lo and lo + 1, each clamped
 * to [min, max] (rank 0 is the exact min and rank n - 1 the exact max), so
 * for values of one sign it is within HIST_REL_ERROR of the exact numpy
 * percentile (relative, plus floating-point rounding); values with |v| < 1
 * ns are represented by 0 (absolute error < 1 ns).
 *
 * Exact: the count, min, max, and the sums of v and v^2 kept in 256-bit
 * fixed point (each value rounded once to a multiple of 2^-32 ns): the
 * sums are exact integers, so they do not depend on the order values were
 * added or merged, and the mean and the population std (ddof = 0) agree
 * with the exact ones to rounding.
 *
 * Merging adds bucket counts and sums: hist_merge(hist(A), hist(B)) equals
 * hist(A u B) bit for bit (hist_pack output included).
 *
 * Memory: the buckets of a power of two are allocated (8 KB) when a value
 * first falls in it; at most 128 of them, so under 1.1 MB per histogram
 * whatever the number of values (a latency spread over three decades
 * takes about 10, 80 KB).
 *
 * Ownership: a hist is an opaque handle from hist_new or hist_unpack,
 * freed with hist_free. */
#ifndef SAGELLM_HIST_H
#define SAGELLM_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define HIST_SUB_BITS 10
#define HIST_SUBS (1 << HIST_SUB_BITS)
#define HIST_OCTAVES 64
/* The relative error bound of a percentile (see above): 2^-11. */
#define HIST_REL_ERROR (1.0 / 2048.0)
/* Values must be finite with |v| < HIST_MAX_ABS (2^64 ns, 584 years). */
#define HIST_MAX_ABS 18446744073709551616.0

typedef struct hist hist;

/* An empty histogram (allocation aborts on failure). */
hist *hist_new(void);

/* Frees h; hist_free(NULL) is a no-op. */
void hist_free(hist *h);

/* Adds one value (ns). 0, or ERR_USAGE (nothing added) when v is not
 * finite or |v| >= HIST_MAX_ABS. */
int hist_add(hist *h, double v);
/* Adds n copies of v (as n hist_add calls would, in constant time). */
int hist_add_n(hist *h, double v, uint64_t n);

/* Adds every value src holds to dst (src unchanged). */
void hist_merge(hist *dst, const hist *src);

/* A copy of h. */
hist *hist_dup(const hist *h);

uint64_t hist_count(const hist *h);
/* Exact min and max; 0 when empty. */
double hist_min(const hist *h);
double hist_max(const hist *h);
/* Mean and population std from the exact sums; 0 when empty. */
double hist_mean(const hist *h);
double hist_std(const hist *h);

/* The q-th percentile (0 <= q <= 100) as described above; 0 when empty. */
double hist_percentile(const hist *h, double q);

/* Bytes h holds (struct and allocated buckets). */
size_t hist_bytes(const hist *h);

/* Appends h's compact binary form to out: "HST1", the count, min, max and
 * sums, then each non-empty power of two with its non-empty sub-buckets
 * (index and count), in order. Equal histograms pack to equal bytes. */
void hist_pack(const hist *h, strbuf *out);

/* Reads one packed histogram from buf[0..len) (bytes after it are left
 * alone; *used, when not NULL, is set to its length). Every field is
 * checked (magic, lengths, order and range of indices, counts adding up to
 * the total, min and max in the first and last non-empty buckets). Returns
 * the histogram, or NULL with a message in err. */
hist *hist_unpack(const void *buf, size_t len, size_t *used, char *err, size_t errlen);

#endif
