/* rng.c — see rng.h. */
#include "common/rng.h"

#include <math.h>

uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return mix64(h);
}

void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = mix64(x);
    }
}

void rng_seed2(rng *r, uint64_t seed, uint64_t stream)
{
    rng_seed(r, mix64(seed) ^ mix64(stream * 0xd1342543de82ef95ULL + 1));
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_u64(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng *r)
{
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

int64_t rng_range(rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span == 0) return (int64_t)rng_u64(r);
    /* Lemire's unbiased bounded integers. */
    uint64_t x = rng_u64(r);
    __uint128_t m = (__uint128_t)x * span;
    uint64_t l = (uint64_t)m;
    if (l < span) {
        uint64_t t = -span % span;
        while (l < t) {
            x = rng_u64(r);
            m = (__uint128_t)x * span;
            l = (uint64_t)m;
        }
    }
    return lo + (int64_t)(m >> 64);
}

double rng_exp(rng *r, double mean)
{
    /* 1 - U is in (0, 1], so the log is finite. */
    return -mean * log(1.0 - rng_uniform(r));
}

double rng_normal(rng *r)
{
    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double rng_gamma(rng *r, double k, double theta)
{
    if (k < 1.0) {
        /* Boost: Gamma(k) = Gamma(k+1) * U^(1/k). */
        double u = 1.0 - rng_uniform(r);
        return rng_gamma(r, k + 1.0, theta) * pow(u, 1.0 / k);
    }
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * theta;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v * theta;
    }
}
