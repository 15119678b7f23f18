/* hist.c — see hist.h.
 *
 * Bucket keys order every bucket on one integer line: 0 for |v| < 1 ns,
 * 1 + e * 1024 + sub for v >= 1 and its negation for v <= -1, so a walk
 * over keys in ascending order is a walk over values in ascending order.
 * Sums are 256-bit two's-complement integers in units of 2^-32 ns (s1) and
 * 2^-64 ns^2 (s2): |v| < 2^64 makes |q| < 2^96 and q^2 < 2^192, so 2^64
 * values fit. */
#include "analysis/hist.h"
#include "analysis/stats.h"
#include "common/binpack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST_MAGIC 0x31545348u /* "HST1" little-endian */
#define LIMBS 4

typedef unsigned __int128 u128;
typedef __int128 i128;

struct hist {
    uint64_t n, zero;            /* values; those with |v| < 1 */
    double min, max;
    uint64_t s1[LIMBS], s2[LIMBS];
    uint64_t *oct[2][HIST_OCTAVES]; /* [0] positive, [1] negative; NULL: empty */
};

hist *hist_new(void)
{
    return xcalloc(1, sizeof(hist));
}

void hist_free(hist *h)
{
    if (!h) return;
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < HIST_OCTAVES; e++) free(h->oct[s][e]);
    free(h);
}

/* ---- 256-bit sums ---- */

/* a += x << (64 * at), x unsigned; carries run to the top (and off it). */
static void big_add_at(uint64_t *a, u128 x, int at)
{
    uint64_t carry = 0;
    for (int i = at; i < LIMBS; i++) {
        uint64_t part = i == at ? (uint64_t)x : i == at + 1 ? (uint64_t)(x >> 64) : 0;
        u128 t = (u128)a[i] + part + carry;
        a[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
        if (i > at + 1 && !carry) break;
    }
}

/* a += b, limb by limb. */
static void big_add(uint64_t *a, const uint64_t *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < LIMBS; i++) {
        u128 t = (u128)a[i] + b[i] + carry;
        a[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
}

/* The value of a (two's complement) times 2^-scale, as a long double. */
static long double big_value(const uint64_t *a, int scale)
{
    uint64_t m[LIMBS];
    int neg = (int)(a[LIMBS - 1] >> 63);
    memcpy(m, a, sizeof m);
    if (neg) { /* negate: invert and add one */
        for (int i = 0; i < LIMBS; i++) m[i] = ~m[i];
        big_add_at(m, 1, 0);
    }
    long double v = 0;
    for (int i = LIMBS - 1; i >= 0; i--) v = v * 18446744073709551616.0L + (long double)m[i];
    v = ldexpl(v, -scale);
    return neg ? -v : v;
}

/* ---- buckets ---- */

/* The key of v's bucket (see the top of the file); |v| < 2^64. */
static int64_t key_of(double v)
{
    double a = fabs(v);
    if (a < 1) return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int64_t e = (int64_t)((bits >> 52) & 0x7ff) - 1023;
    int64_t sub = (int64_t)((bits >> (52 - HIST_SUB_BITS)) & (HIST_SUBS - 1));
    int64_t k = 1 + e * HIST_SUBS + sub;
    return v < 0 ? -k : k;
}

/* The midpoint of the bucket of key k. */
static double key_mid(int64_t k)
{
    if (k == 0) return 0;
    int64_t a = k < 0 ? -k : k;
    int e = (int)((a - 1) / HIST_SUBS), sub = (int)((a - 1) % HIST_SUBS);
    double m = ldexp(1.0 + (sub + 0.5) / HIST_SUBS, e);
    return k < 0 ? -m : m;
}

/* The counter of bucket k (allocating its power of two when make). NULL
 * when absent and !make. */
static uint64_t *slot_of(hist *h, int64_t k, int make)
{
    if (k == 0) return &h->zero;
    int s = k < 0;
    int64_t a = s ? -k : k;
    int e = (int)((a - 1) / HIST_SUBS);
    if (!h->oct[s][e]) {
        if (!make) return NULL;
        h->oct[s][e] = xcalloc(HIST_SUBS, sizeof(uint64_t));
    }
    return &h->oct[s][e][(a - 1) % HIST_SUBS];
}

/* The count in bucket k (0 when its power of two is not allocated). */
static uint64_t count_at(const hist *h, int64_t k)
{
    uint64_t *c = slot_of((hist *)h, k, 0);
    return c ? *c : 0;
}

/* a += x * n, x of either sign (|x| < 2^127): the product is formed in
 * 256 bits, negated for a negative x, and added. */
static void big_add_mul(uint64_t *a, i128 x, uint64_t n)
{
    u128 u = x < 0 ? (u128)0 - (u128)x : (u128)x;
    uint64_t p[LIMBS] = { 0 };
    big_add_at(p, (u128)(uint64_t)u * n, 0);
    big_add_at(p, (u128)(uint64_t)(u >> 64) * n, 1);
    if (x < 0) {
        for (int i = 0; i < LIMBS; i++) p[i] = ~p[i];
        big_add_at(p, 1, 0);
    }
    big_add(a, p);
}

int hist_add_n(hist *h, double v, uint64_t n)
{
    if (!isfinite(v) || fabs(v) >= HIST_MAX_ABS) return ERR_USAGE;
    if (n == 0) return 0;
    *slot_of(h, key_of(v), 1) += n;
    if (h->n == 0 || v < h->min) h->min = v;
    if (h->n == 0 || v > h->max) h->max = v;
    h->n += n;
    /* q = v in units of 2^-32 ns, rounded to nearest (exact once |v| 2^32 >= 2^53) */
    i128 q = (i128)nearbyint(ldexp(v, 32));
    u128 u = q < 0 ? (u128)0 - (u128)q : (u128)q;
    uint64_t hi = (uint64_t)(u >> 64), lo = (uint64_t)u;
    big_add_mul(h->s1, q, n);
    /* u^2 = hi^2 2^128 + 2 hi lo 2^64 + lo^2, each part times n */
    uint64_t sq[LIMBS] = { 0 };
    big_add_at(sq, (u128)lo * lo, 0);
    big_add_at(sq, (u128)hi * lo * 2, 1);
    big_add_at(sq, (u128)hi * hi, 2);
    if (n == 1) {
        big_add(h->s2, sq);
    } else {
        for (int i = 0; i < 3; i++) { /* sq < 2^192: three limbs, each times n */
            uint64_t part[LIMBS] = { 0 };
            big_add_at(part, (u128)sq[i] * n, i);
            big_add(h->s2, part);
        }
    }
    return 0;
}

int hist_add(hist *h, double v)
{
    return hist_add_n(h, v, 1);
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->n == 0) return;
    if (dst->n == 0 || src->min < dst->min) dst->min = src->min;
    if (dst->n == 0 || src->max > dst->max) dst->max = src->max;
    dst->n += src->n;
    dst->zero += src->zero;
    big_add(dst->s1, src->s1);
    big_add(dst->s2, src->s2);
    for (int s = 0; s < 2; s++) {
        for (int e = 0; e < HIST_OCTAVES; e++) {
            const uint64_t *c = src->oct[s][e];
            if (!c) continue;
            if (!dst->oct[s][e]) dst->oct[s][e] = xcalloc(HIST_SUBS, sizeof(uint64_t));
            for (int i = 0; i < HIST_SUBS; i++) dst->oct[s][e][i] += c[i];
        }
    }
}

hist *hist_dup(const hist *h)
{
    hist *d = hist_new();
    hist_merge(d, h);
    return d;
}

uint64_t hist_count(const hist *h) { return h->n; }
double hist_min(const hist *h) { return h->n ? h->min : 0; }
double hist_max(const hist *h) { return h->n ? h->max : 0; }

double hist_mean(const hist *h)
{
    if (!h->n) return 0;
    return (double)(big_value(h->s1, 32) / (long double)h->n);
}

double hist_std(const hist *h)
{
    if (!h->n) return 0;
    long double n = (long double)h->n, s1 = big_value(h->s1, 32), s2 = big_value(h->s2, 64);
    long double var = (s2 - s1 * s1 / n) / n;
    return var > 0 ? (double)sqrtl(var) : 0.0;
}

size_t hist_bytes(const hist *h)
{
    size_t b = sizeof *h;
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < HIST_OCTAVES; e++)
            if (h->oct[s][e]) b += HIST_SUBS * sizeof(uint64_t);
    return b;
}

/* ---- percentiles ---- */

/* Walks the buckets from min's to max's in ascending key order and sets
 * key[0], key[1] to those holding ranks r0 and r0 + 1 (r0 + 1 < n). */
static void find_ranks(const hist *h, uint64_t r0, int64_t key[2])
{
    uint64_t want[2] = { r0, r0 + 1 }, seen = 0;
    int got = 0;
    int64_t kmin = key_of(h->min), kmax = key_of(h->max);
    for (int64_t k = kmin; k <= kmax && got < 2; k++) {
        if (k != 0 && !h->oct[k < 0][((k < 0 ? -k : k) - 1) / HIST_SUBS]) {
            /* skip the rest of an unallocated power of two */
            int64_t a = k < 0 ? -k : k, e = (a - 1) / HIST_SUBS;
            k = k < 0 ? -(e * HIST_SUBS + 1) : (e + 1) * HIST_SUBS;
            continue;
        }
        uint64_t c = count_at(h, k);
        while (got < 2 && want[got] < seen + c) key[got++] = k;
        seen += c;
    }
    while (got < 2) key[got++] = kmax; /* not reached with consistent counts */
}

/* A representative clamped to [min, max]. */
static double clamp(const hist *h, double v)
{
    return v < h->min ? h->min : v > h->max ? h->max : v;
}

double hist_percentile(const hist *h, double q)
{
    if (!h->n) return 0;
    size_t lo;
    double g;
    stats_rank((size_t)h->n, q, &lo, &g);
    if (lo == h->n - 1) return h->max;
    int64_t key[2];
    find_ranks(h, lo, key);
    double a = lo == 0 ? h->min : clamp(h, key_mid(key[0]));
    double b = lo + 1 == h->n - 1 ? h->max : clamp(h, key_mid(key[1]));
    return stats_lerp(a, b, g);
}

/* ---- packing ---- */

/* Non-empty sub-buckets of power of two e on side s (0 when none). */
static int nonzero(const hist *h, int s, int e)
{
    const uint64_t *c = h->oct[s][e];
    int n = 0;
    for (int i = 0; c && i < HIST_SUBS; i++) n += c[i] != 0;
    return n;
}

void hist_pack(const hist *h, strbuf *out)
{
    bp_put_u32(out, HIST_MAGIC);
    bp_put_u64(out, h->n);
    bp_put_u64(out, h->zero);
    bp_put_f64(out, hist_min(h));
    bp_put_f64(out, hist_max(h));
    for (int i = 0; i < LIMBS; i++) bp_put_u64(out, h->s1[i]);
    for (int i = 0; i < LIMBS; i++) bp_put_u64(out, h->s2[i]);
    for (int s = 0; s < 2; s++) {
        uint8_t used = 0;
        for (int e = 0; e < HIST_OCTAVES; e++) used += nonzero(h, s, e) > 0;
        bp_put_u8(out, used);
        for (int e = 0; e < HIST_OCTAVES; e++) {
            int nz = nonzero(h, s, e);
            if (!nz) continue;
            bp_put_u8(out, (uint8_t)e);
            bp_put_u16(out, (uint16_t)nz);
            for (int i = 0; i < HIST_SUBS; i++) {
                if (!h->oct[s][e][i]) continue;
                bp_put_u16(out, (uint16_t)i);
                bp_put_u64(out, h->oct[s][e][i]);
            }
        }
    }
}

/* Reads the powers of two of side s into h, adding their counts to *total.
 * 0, or -1 with a message. */
static int unpack_side(bp_reader *r, hist *h, int s, uint64_t *total, char *err, size_t errlen)
{
    int used = bp_get_u8(r), last_e = -1;
    for (int j = 0; j < used && !r->bad; j++) {
        int e = bp_get_u8(r), nz = bp_get_u16(r), last_i = -1;
        if (r->bad) break;
        if (e >= HIST_OCTAVES || e <= last_e || nz < 1 || nz > HIST_SUBS) {
            errf(err, errlen, "histogram: bad power of two (%d after %d, %d buckets)", e, last_e, nz);
            return -1;
        }
        last_e = e;
        h->oct[s][e] = xcalloc(HIST_SUBS, sizeof(uint64_t));
        for (int k = 0; k < nz && !r->bad; k++) {
            int i = bp_get_u16(r);
            uint64_t c = bp_get_u64(r);
            if (r->bad) break;
            if (i >= HIST_SUBS || i <= last_i || c == 0 || c > h->n - *total) {
                errf(err, errlen, "histogram: bad bucket %d (after %d) with count %llu", i, last_i,
                     (unsigned long long)c);
                return -1;
            }
            last_i = i;
            h->oct[s][e][i] = c;
            *total += c;
        }
    }
    return 0;
}

/* The key of sub-bucket i of power of two e on side s. */
static int64_t key_at(int s, int e, int i)
{
    int64_t k = 1 + (int64_t)e * HIST_SUBS + i;
    return s ? -k : k;
}

/* The highest non-empty bucket key on side s (lowest when low), or 0 when
 * the side is empty. Positive side: high is the largest key; negative side:
 * the largest magnitude is the lowest key. */
static int64_t side_edge(const hist *h, int s, int far)
{
    for (int j = 0; j < HIST_OCTAVES; j++) {
        int e = far ? HIST_OCTAVES - 1 - j : j;
        const uint64_t *c = h->oct[s][e];
        if (!c) continue;
        for (int t = 0; t < HIST_SUBS; t++) {
            int i = far ? HIST_SUBS - 1 - t : t;
            if (c[i]) return key_at(s, e, i);
        }
    }
    return 0;
}

/* The lowest (dir 1) or highest (dir -1) non-empty bucket key of h. */
static int64_t edge_key(const hist *h, int dir)
{
    if (dir > 0) { /* the farthest negative, else zero, else the nearest positive */
        int64_t k = side_edge(h, 1, 1);
        return k ? k : h->zero ? 0 : side_edge(h, 0, 0);
    }
    int64_t k = side_edge(h, 0, 1);
    return k ? k : h->zero ? 0 : side_edge(h, 1, 0);
}

/* Checks the header fields read into h; 0 or -1 with a message. */
static int check_head(const hist *h, char *err, size_t errlen)
{
    if (!isfinite(h->min) || !isfinite(h->max) || fabs(h->min) >= HIST_MAX_ABS ||
        fabs(h->max) >= HIST_MAX_ABS || h->min > h->max) {
        errf(err, errlen, "histogram: bad min %g or max %g", h->min, h->max);
        return -1;
    }
    if (h->zero > h->n) {
        errf(err, errlen, "histogram: %llu values below 1 ns of %llu", (unsigned long long)h->zero,
             (unsigned long long)h->n);
        return -1;
    }
    if (h->n == 0 && (h->min != 0 || h->max != 0 || signbit(h->min) || signbit(h->max))) {
        /* -0.0 too: hist_pack writes +0.0 for an empty one, one form per histogram */
        errf(err, errlen, "histogram: empty but with a min or max");
        return -1;
    }
    return 0;
}

hist *hist_unpack(const void *buf, size_t len, size_t *used, char *err, size_t errlen)
{
    bp_reader r = bp_reader_init(buf, len);
    hist *h = hist_new();
    if (bp_get_u32(&r) != HIST_MAGIC) {
        errf(err, errlen, "histogram: bad magic (expected \"HST1\")");
        goto fail;
    }
    h->n = bp_get_u64(&r);
    h->zero = bp_get_u64(&r);
    h->min = bp_get_f64(&r);
    h->max = bp_get_f64(&r);
    for (int i = 0; i < LIMBS; i++) h->s1[i] = bp_get_u64(&r);
    for (int i = 0; i < LIMBS; i++) h->s2[i] = bp_get_u64(&r);
    if (r.bad) goto truncated;
    if (check_head(h, err, errlen) < 0) goto fail;
    uint64_t total = h->zero;
    if (unpack_side(&r, h, 0, &total, err, errlen) < 0 || unpack_side(&r, h, 1, &total, err, errlen) < 0)
        goto fail;
    if (r.bad) goto truncated;
    if (total != h->n) {
        errf(err, errlen, "histogram: buckets hold %llu values, the count says %llu", (unsigned long long)total,
             (unsigned long long)h->n);
        goto fail;
    }
    if (h->n && (edge_key(h, 1) != key_of(h->min) || edge_key(h, -1) != key_of(h->max))) {
        errf(err, errlen, "histogram: min or max outside the first or last non-empty bucket");
        goto fail;
    }
    if (used) *used = len - r.left;
    return h;
truncated:
    errf(err, errlen, "histogram: truncated");
fail:
    hist_free(h);
    return NULL;
}
