/* test_hist.c — unit tests for analysis/hist (and valset): percentiles
 * within the stated bound of numpy's exact ones on lognormal and bimodal
 * latencies, exact count/min/max, mean and std equal to rounding, merging
 * equal to the histogram of the union byte for byte, and unpacking that
 * refuses every truncation and corruption it can see. */
#include "tests/unit/unit.h"
#include "analysis/hist.h"
#include "analysis/stats.h"
#include "analysis/valset.h"
#include "common/rng.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

static const double qs[] = { 0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100 };

/* n latency-like values in ns: a lognormal body (median ~12 ms, the ITL of
 * a decode step) with a second mode near 90 ms (steps stretched by a
 * prefill), a few integer TTFT-like values and fractional per-token gaps. */
static double *latencies(size_t n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    double *v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        double x = exp(log(12e6) + 0.35 * rng_normal(&r));
        if (rng_uniform(&r) < 0.08) x = exp(log(90e6) + 0.2 * rng_normal(&r));
        if (i % 7 == 0) x = floor(x);          /* integer ns, as chunk gaps are */
        if (i % 11 == 0) x = floor(x) / 3.0;   /* a gap over three tokens */
        v[i] = x;
    }
    return v;
}

/* Checks h against the exact numpy figures of v[0..n) (v is sorted here). */
static void check_against_exact(const hist *h, double *v, size_t n)
{
    stats_sort(v, n);
    CHECK_INT(hist_count(h), n);
    CHECK(hist_min(h) == v[0]);
    CHECK(hist_max(h) == v[n - 1]);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double e = stats_percentile(v, n, qs[i]), a = hist_percentile(h, qs[i]);
        if (!(fabs(a - e) <= HIST_REL_ERROR * fabs(e) * (1 + 1e-12)))
            unit_fail(__FILE__, __LINE__, "p%g: histogram %.17g, exact %.17g, relative error %.3g > %.3g", qs[i], a,
                      e, fabs(a - e) / fabs(e), HIST_REL_ERROR);
    }
    double mean = stats_mean(v, n), sd = stats_std(v, n, mean);
    CHECK_NEAR(hist_mean(h), mean, 1e-12 * mean);
    CHECK_NEAR(hist_std(h), sd, 1e-9 * sd);
}

TEST(hist_percentiles_within_bound)
{
    size_t n = 200000;
    double *v = latencies(n, 7);
    hist *h = hist_new();
    for (size_t i = 0; i < n; i++) REQUIRE(hist_add(h, v[i]) == 0);
    check_against_exact(h, v, n);
    /* the bound is not vacuous: some percentile is approximated */
    int inexact = 0;
    for (size_t i = 1; i + 1 < sizeof qs / sizeof qs[0]; i++) inexact |= hist_percentile(h, qs[i]) != stats_percentile(v, n, qs[i]);
    CHECK(inexact);
    /* memory does not grow with the values: a few powers of two */
    CHECK(hist_bytes(h) < 16 * 8192 + 4096);
    hist_free(h);
    free(v);
}

TEST(hist_small_sets_and_signs)
{
    /* one value: every percentile is it */
    hist *h = hist_new();
    hist_add(h, 1234567);
    CHECK(hist_percentile(h, 0) == 1234567 && hist_percentile(h, 50) == 1234567 && hist_percentile(h, 100) == 1234567);
    CHECK(hist_std(h) == 0 && hist_mean(h) == 1234567);
    hist_free(h);
    /* negative send lags, zeros and sub-ns values sort before the rest */
    double v[] = { -5000, 0, 0, 0.25, 3, 1e9, -1, 7e3 };
    size_t n = sizeof v / sizeof v[0];
    h = hist_new();
    for (size_t i = 0; i < n; i++) hist_add(h, v[i]);
    CHECK(hist_percentile(h, 0) == -5000);
    CHECK(hist_percentile(h, 100) == 1e9);
    stats_sort(v, n);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double e = stats_percentile(v, n, qs[i]), a = hist_percentile(h, qs[i]);
        /* mixed signs: within the bound of the larger neighbour, or 1 ns */
        size_t lo;
        double g;
        stats_rank(n, qs[i], &lo, &g);
        double scale = fmax(fabs(v[lo]), lo + 1 < n ? fabs(v[lo + 1]) : 0);
        if (!(fabs(a - e) <= HIST_REL_ERROR * scale + 1.0))
            unit_fail(__FILE__, __LINE__, "p%g: %.17g vs %.17g", qs[i], a, e);
    }
    CHECK(hist_add(h, NAN) == ERR_USAGE);
    CHECK(hist_add(h, INFINITY) == ERR_USAGE);
    CHECK(hist_add(h, -HIST_MAX_ABS) == ERR_USAGE);
    CHECK_INT(hist_count(h), n);
    hist_free(h);
}

/* hist_pack of h as a fresh strbuf (caller frees). */
static strbuf packed(const hist *h)
{
    strbuf b = {0};
    hist_pack(h, &b);
    return b;
}

static int same_bytes(const strbuf *a, const strbuf *b)
{
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

TEST(hist_merge_equals_union)
{
    size_t n = 50000;
    double *v = latencies(n, 11);
    hist *all = hist_new(), *a = hist_new(), *b = hist_new(), *c = hist_new();
    for (size_t i = 0; i < n; i++) {
        hist_add(all, v[i]);
        hist_add(i % 3 ? a : b, v[i] - (i % 5 == 0 ? 2e7 : 0)); /* some negative */
        hist_add(c, v[i] - (i % 5 == 0 ? 2e7 : 0));
    }
    hist *ab = hist_dup(a), *ba = hist_dup(b);
    hist_merge(ab, b);
    hist_merge(ba, a);
    strbuf pc = packed(c), pab = packed(ab), pba = packed(ba), pa = packed(a);
    CHECK(same_bytes(&pab, &pc));
    CHECK(same_bytes(&pba, &pc));
    CHECK(!same_bytes(&pa, &pc)); /* the comparison can fail */
    CHECK(hist_percentile(ab, 99) == hist_percentile(c, 99));
    CHECK(hist_mean(ab) == hist_mean(c) && hist_std(ab) == hist_std(c));
    /* n copies at once are n adds */
    hist *x = hist_new(), *y = hist_new();
    for (int i = 0; i < 1000; i++) hist_add(x, -12345.5);
    hist_add_n(y, -12345.5, 1000);
    strbuf px = packed(x), py = packed(y);
    CHECK(same_bytes(&px, &py));
    sb_free(&px), sb_free(&py), sb_free(&pc), sb_free(&pab), sb_free(&pba), sb_free(&pa);
    hist_free(x), hist_free(y), hist_free(all), hist_free(a), hist_free(b), hist_free(c), hist_free(ab), hist_free(ba);
    free(v);
}

TEST(hist_pack_round_trip_and_refusals)
{
    size_t n = 5000;
    double *v = latencies(n, 3);
    hist *h = hist_new();
    for (size_t i = 0; i < n; i++) hist_add(h, i % 9 ? v[i] : -v[i]);
    strbuf p = packed(h);
    char err[256];
    size_t used = 0;
    hist *u = hist_unpack(p.buf, p.len, &used, err, sizeof err);
    REQUIRE(u);
    CHECK_INT(used, p.len);
    strbuf q = packed(u);
    CHECK(same_bytes(&p, &q));
    CHECK(hist_percentile(u, 90) == hist_percentile(h, 90));
    hist_free(u);
    /* every truncation is refused */
    for (size_t len = 0; len < p.len; len += len < 200 ? 1 : 37) {
        err[0] = 0;
        u = hist_unpack(p.buf, len, NULL, err, sizeof err);
        if (u) unit_fail(__FILE__, __LINE__, "truncated to %zu of %zu bytes: accepted", len, p.len);
        else if (!err[0]) unit_fail(__FILE__, __LINE__, "truncated to %zu: no message", len);
        hist_free(u);
    }
    /* corruptions of the header are seen: magic, count, min above max */
    size_t at[] = { 1, 5, 13, 27, 35 }; /* magic, count, values < 1, min's and max's exponents */
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        strbuf c = {0};
        sb_add(&c, p.buf, p.len);
        c.buf[at[i]] ^= 0x20;
        u = hist_unpack(c.buf, c.len, NULL, err, sizeof err);
        if (u) unit_fail(__FILE__, __LINE__, "byte %zu flipped: accepted", at[i]);
        hist_free(u);
        sb_free(&c);
    }
    /* any single flipped byte: refused or a consistent histogram, never a crash */
    for (size_t i = 0; i < p.len; i += 3) {
        strbuf c = {0};
        sb_add(&c, p.buf, p.len);
        c.buf[i] ^= 0x5a;
        u = hist_unpack(c.buf, c.len, NULL, err, sizeof err);
        if (u) (void)hist_percentile(u, 50);
        hist_free(u);
        sb_free(&c);
    }
    sb_free(&p), sb_free(&q);
    hist_free(h);
    free(v);
}

TEST(valset_exact_then_folded)
{
    valset s = {0};
    double v[] = { 5, 1, 4, 2, 3 };
    for (int i = 0; i < 5; i++) valset_add(&s, v[i]);
    CHECK(valset_median(&s) == 3 && valset_percentile(&s, 90) == 4.6 && valset_max(&s) == 5);
    CHECK_INT(valset_kept(&s), 5);
    valset_fold(&s);
    CHECK_INT(valset_kept(&s), 0);
    CHECK_INT(valset_count(&s), 5);
    CHECK(valset_max(&s) == 5 && valset_mean(&s) == 3);
    CHECK_NEAR(valset_median(&s), 3, 3 * HIST_REL_ERROR);
    CHECK_NEAR(valset_percentile(&s, 90), 4.6, 4.6 * HIST_REL_ERROR);
    valset_free(&s);
}
