/* rng.h — seeded pseudo-random numbers (xoshiro256** seeded by splitmix64)
 * and the continuous distributions synthesis and the simulated engine use.
 * A rng is plain data: copy it, keep one per thread, no global state. */
#ifndef SAGELLM_RNG_H
#define SAGELLM_RNG_H

#include <stdint.h>

typedef struct rng { uint64_t s[4]; } rng;

void rng_seed(rng *r, uint64_t seed);
/* Derives an independent stream from (seed, stream id): same inputs, same stream. */
void rng_seed2(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(rng *r);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t rng_range(rng *r, int64_t lo, int64_t hi);
/* Exponential with the given mean. */
double rng_exp(rng *r, double mean);
/* Standard normal (Box-Muller, no cached second value: stateless beyond r). */
double rng_normal(rng *r);
/* Gamma(shape k, scale theta), Marsaglia-Tsang; exact for every k > 0. */
double rng_gamma(rng *r, double k, double theta);
/* splitmix64 finaliser: a good 64-bit hash of x. */
uint64_t mix64(uint64_t x);

/* A 64-bit hash of a string: FNV-1a, then mix64. Stable across runs and
 * machines (shard assignment and worker choice depend on it). */
uint64_t hash_str(const char *s);

#endif
