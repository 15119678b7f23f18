/* dist.h — value distributions and arrival processes for trace synthesis.
 *
 * A `dist` is parsed once from a spec such as "uniform:64:512" and then
 * sampled with a caller-owned rng (rng.h); it is immutable after parsing,
 * so one dist may be sampled from several threads with one rng each. The
 * caller owns a dist and frees it with dist_free.
 *
 * Specs (DIST):
 *   fixed:N                 always N
 *   uniform:MIN:MAX         uniform on the integers MIN..MAX (inclusive)
 *   normal:MEAN:SD          normal, rounded
 *   lognormal:MEAN:SIGMA    log-normal whose *mean* is MEAN and whose log has
 *                           standard deviation SIGMA: mu = ln(MEAN) - SIGMA^2/2
 *   exponential:MEAN        exponential with mean MEAN
 *   zipf:S:MAX              P(k) proportional to k^-S on 1..MAX (counts only)
 *   empirical:FILE          values from FILE, one per line, or "VALUE WEIGHT"
 *                           lines ('#' starts a comment); sampled by weight.
 *                           FILE may also be a trace: then the values are the
 *                           records' `field` (see dist_parse).
 *
 * Units: a DIST_COUNT dist (token counts, turns) takes integer parameters for
 * fixed/uniform and gives integers; normal, lognormal and exponential samples
 * are rounded to the nearest integer and clamped to [1, DIST_MAX_COUNT] (a
 * continuous law has no use for a zero-token request); fixed, uniform, zipf
 * and empirical give exactly their values, 0 included. A DIST_DURATION dist
 * takes durations ("2s", "250ms", a bare number is seconds) and gives
 * microseconds clamped to [0, DIST_MAX_US]; SIGMA stays a plain number. */
#ifndef SAGELLM_DIST_H
#define SAGELLM_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "common/rng.h"

#define DIST_MAX_COUNT INT64_C(2147483647)   /* the trace format's token limit */
#define DIST_MAX_US (INT64_C(1) << 53)       /* TRACE_MAX_T_US */
#define DIST_ZIPF_MAX 1000000                /* largest MAX of zipf:S:MAX */

typedef enum dist_unit { DIST_COUNT, DIST_DURATION } dist_unit;

typedef struct dist dist;

/* Parses spec into *out (the caller frees it with dist_free). unit chooses how
 * parameters are read and samples are given (see above). trace_field names
 * the record field whose values `empirical:` takes when FILE is a trace
 * (e.g. "input_tokens"); NULL means traces are not accepted there. Returns 0,
 * ERR_USAGE for a malformed spec, ERR_INPUT for a malformed empirical file,
 * ERR_SYSTEM when it cannot be read; err says what was expected and what
 * was given (with file:line for files). */
int dist_parse(const char *spec, dist_unit unit, const char *trace_field,
               dist **out, char *err, size_t errlen);

/* Draws one value (tokens, or microseconds for DIST_DURATION). */
int64_t dist_sample(const dist *d, rng *r);

/* The mean of the law the spec names, before rounding and clamping (the
 * weighted mean of the values for empirical and zipf). For DIST_DURATION,
 * in microseconds. */
double dist_mean(const dist *d);

/* The spec text the dist was parsed from (owned by d). */
const char *dist_spec(const dist *d);

/* Frees d; dist_free(NULL) is a no-op. */
void dist_free(dist *d);

/* ---- arrival processes ----
 *
 * Inter-arrival gaps of a renewal process with `rate` arrivals per second:
 *   poisson    exponential gaps (CV 1)
 *   gamma:CV   gamma gaps with shape 1/CV^2 and mean 1/rate (exact for any
 *              CV > 0; CV 1 is poisson, CV > 1 is burstier)
 *   constant   evenly spaced, 1/rate apart
 * Plain data: parse once, then draw with a caller-owned rng. */
typedef enum dist_arrival_kind {
    DIST_ARRIVAL_POISSON, DIST_ARRIVAL_GAMMA, DIST_ARRIVAL_CONSTANT
} dist_arrival_kind;

typedef struct dist_arrival {
    dist_arrival_kind kind;
    double rate;        /* arrivals per second */
    double cv;          /* coefficient of variation of the gaps */
    double mean_us;     /* mean gap, microseconds */
    double shape;       /* gamma shape (1/CV^2) */
    double t_us;        /* clock of dist_arrival_next_us */
    int started;        /* 0 until the first dist_arrival_next_us */
} dist_arrival;

/* Parses "poisson", "gamma:CV" or "constant" for `rate` (> 0) arrivals per
 * second into *a (clock at 0). Returns 0 or ERR_USAGE with err filled. */
int dist_arrival_parse(const char *spec, double rate, dist_arrival *a,
                       char *err, size_t errlen);

/* One inter-arrival gap in microseconds, unrounded (add gaps as doubles and
 * round the sum, never each gap, or the rate drifts). */
double dist_arrival_gap_us(const dist_arrival *a, rng *r);

/* The next arrival time in whole microseconds: 0 on the first call (a trace
 * starts at its first arrival), then the running sum of gaps, rounded. */
int64_t dist_arrival_next_us(dist_arrival *a, rng *r);

#endif
