/* test_dist.c — unit tests for traces/dist.c: DIST parsing and its errors,
 * the samplers, and the arrival processes checked statistically on large
 * samples. Every test uses a fixed seed, so it is deterministic; tolerances
 * are several standard errors of the statistic for the sample's size. */
#include "tests/unit/unit.h"
#include "common/util.h"
#include "traces/dist.h"

#include <math.h>
#include <stdlib.h>

#define NSAMPLE 200000

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512, "%s/%s", unit_tmpdir(), name);
    return b;
}

/* Parses spec, expecting success. */
static dist *P(const char *spec, dist_unit unit)
{
    dist *d = NULL;
    char err[512] = "";
    int rc = dist_parse(spec, unit, "input_tokens", &d, err, sizeof err);
    if (rc) unit_fail(__FILE__, __LINE__, "dist_parse(\"%s\") failed: %s", spec, err);
    return d;
}

/* Parses spec, expecting error code want and a message containing needle. */
static void expect_bad(const char *spec, dist_unit unit, int want, const char *needle, int line)
{
    dist *d = (dist *)1;
    char err[512] = "";
    int rc = dist_parse(spec, unit, NULL, &d, err, sizeof err);
    if (rc != want) unit_fail(__FILE__, line, "dist_parse(\"%s\") = %d, expected %d (%s)", spec, rc, want, err);
    if (d) unit_fail(__FILE__, line, "dist_parse(\"%s\") left *out set", spec);
    if (!strstr(err, needle)) unit_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", err, needle);
}
#define BAD(spec, unit, want, needle) expect_bad(spec, unit, want, needle, __LINE__)

typedef struct moments { double mean, sd, min, max; } moments;

static moments sample_moments(const dist *d, uint64_t seed, int n)
{
    rng r;
    rng_seed(&r, seed);
    double s = 0, s2 = 0;
    moments m = {0, 0, INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        double x = (double)dist_sample(d, &r);
        s += x;
        s2 += x * x;
        if (x < m.min) m.min = x;
        if (x > m.max) m.max = x;
    }
    m.mean = s / n;
    m.sd = sqrt(s2 / n - m.mean * m.mean);
    return m;
}

TEST(dist_fixed_and_uniform)
{
    dist *d = P("fixed:128", DIST_COUNT);
    REQUIRE(d);
    rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < 100; i++) CHECK_INT(dist_sample(d, &r), 128);
    CHECK_STR(dist_spec(d), "fixed:128");
    CHECK_NEAR(dist_mean(d), 128, 0);
    dist_free(d);

    d = P("uniform:3:6", DIST_COUNT);
    REQUIRE(d);
    int seen[10] = {0};
    for (int i = 0; i < 40000; i++) {
        int64_t v = dist_sample(d, &r);
        REQUIRE(v >= 3 && v <= 6);
        seen[v]++;
    }
    /* Each of the 4 values has p = 1/4: SE of a count is sqrt(n p (1-p)) ~ 87. */
    for (int v = 3; v <= 6; v++) CHECK_NEAR(seen[v], 10000, 5 * 87);
    dist_free(d);

    d = P("fixed:0", DIST_COUNT);   /* zero is a valid fixed value (e.g. outputs) */
    REQUIRE(d);
    CHECK_INT(dist_sample(d, &r), 0);
    dist_free(d);
    dist_free(NULL);
}

TEST(dist_lognormal_mean_is_the_mean)
{
    /* lognormal:MEAN:SIGMA: MEAN is the distribution's mean. */
    dist *d = P("lognormal:500:0.5", DIST_COUNT);
    REQUIRE(d);
    moments m = sample_moments(d, 7, NSAMPLE);
    double sd = 500 * sqrt(exp(0.25) - 1);          /* 266 */
    CHECK_NEAR(m.mean, 500, 4 * sd / sqrt(NSAMPLE));
    CHECK_NEAR(m.sd, sd, 0.02 * sd);
    CHECK(m.min >= 1);
    CHECK_NEAR(dist_mean(d), 500, 1e-9);
    dist_free(d);
}

TEST(dist_normal_exponential_and_clamping)
{
    dist *d = P("normal:1000:100", DIST_COUNT);
    REQUIRE(d);
    moments m = sample_moments(d, 3, NSAMPLE);
    CHECK_NEAR(m.mean, 1000, 4 * 100 / sqrt(NSAMPLE));
    CHECK_NEAR(m.sd, 100, 2);
    dist_free(d);

    /* Mostly negative draws are clamped to 1 token. */
    d = P("normal:0:1", DIST_COUNT);
    REQUIRE(d);
    m = sample_moments(d, 3, 10000);
    CHECK_NEAR(m.min, 1, 0);
    CHECK(m.max <= 5);
    dist_free(d);

    d = P("exponential:200", DIST_COUNT);
    REQUIRE(d);
    m = sample_moments(d, 5, NSAMPLE);
    /* Rounding to integers >= 1 shifts the mean by well under a token. */
    CHECK_NEAR(m.mean, 200, 4 * 200 / sqrt(NSAMPLE) + 0.5);
    CHECK(m.min >= 1);
    dist_free(d);
}

TEST(dist_zipf_probabilities)
{
    dist *d = P("zipf:1:10", DIST_COUNT);
    REQUIRE(d);
    double h = 0;
    for (int k = 1; k <= 10; k++) h += 1.0 / k;
    rng r;
    rng_seed(&r, 11);
    int ones = 0, n = NSAMPLE;
    for (int i = 0; i < n; i++) {
        int64_t v = dist_sample(d, &r);
        REQUIRE(v >= 1 && v <= 10);
        ones += v == 1;
    }
    double p = 1 / h;
    CHECK_NEAR((double)ones / n, p, 4 * sqrt(p * (1 - p) / n));
    CHECK_NEAR(dist_mean(d), 10 / h, 1e-9);
    dist_free(d);
}

TEST(dist_durations)
{
    dist *d = P("fixed:2s", DIST_DURATION);
    REQUIRE(d);
    rng r;
    rng_seed(&r, 1);
    CHECK_INT(dist_sample(d, &r), 2000000);
    dist_free(d);

    d = P("uniform:250ms:1s", DIST_DURATION);
    REQUIRE(d);
    for (int i = 0; i < 1000; i++) {
        int64_t v = dist_sample(d, &r);
        REQUIRE(v >= 250000 && v <= 1000000);
    }
    dist_free(d);

    /* A bare number is seconds. */
    d = P("exponential:10", DIST_DURATION);
    REQUIRE(d);
    CHECK_NEAR(dist_mean(d), 10e6, 0);
    moments m = sample_moments(d, 2, NSAMPLE);
    CHECK_NEAR(m.mean, 10e6, 4 * 10e6 / sqrt(NSAMPLE));
    CHECK(m.min >= 0);
    dist_free(d);

    d = P("lognormal:30s:1.2", DIST_DURATION);
    REQUIRE(d);
    CHECK_NEAR(dist_mean(d), 30e6, 0);
    dist_free(d);
}

TEST(dist_parse_errors)
{
    BAD("", DIST_COUNT, ERR_USAGE, "expected a distribution");
    BAD("uniform", DIST_COUNT, ERR_USAGE, "expected uniform:MIN:MAX with non-negative integers, got 'uniform'");
    BAD("uniform:a:b", DIST_COUNT, ERR_USAGE, "expected uniform:MIN:MAX with non-negative integers, got 'uniform:a:b'");
    BAD("uniform:1.5:3", DIST_COUNT, ERR_USAGE, "with non-negative integers");
    BAD("uniform:9:3", DIST_COUNT, ERR_USAGE, "MIN <= MAX");
    BAD("uniform:1:2:3", DIST_COUNT, ERR_USAGE, "uniform:MIN:MAX");
    BAD("fixed:-1", DIST_COUNT, ERR_USAGE, "fixed:N with a non-negative integer N");
    BAD("fixed:99999999999", DIST_COUNT, ERR_USAGE, "fixed:N");
    BAD("fixed:", DIST_COUNT, ERR_USAGE, "fixed:N");
    BAD("normal:10", DIST_COUNT, ERR_USAGE, "normal:MEAN:SD");
    BAD("normal:10:-1", DIST_COUNT, ERR_USAGE, "SD >= 0");
    BAD("lognormal:0:1", DIST_COUNT, ERR_USAGE, "MEAN > 0");
    BAD("lognormal:100:x", DIST_COUNT, ERR_USAGE, "lognormal:MEAN:SIGMA");
    BAD("exponential:0", DIST_COUNT, ERR_USAGE, "exponential:MEAN");
    BAD("zipf:0:10", DIST_COUNT, ERR_USAGE, "zipf:S:MAX");
    BAD("zipf:1:0", DIST_COUNT, ERR_USAGE, "zipf:S:MAX");
    BAD("zipf:1:10", DIST_DURATION, ERR_USAGE, "zipf is for counts");
    BAD("poisson:3", DIST_COUNT, ERR_USAGE, "unknown distribution 'poisson'");
    BAD("128", DIST_COUNT, ERR_USAGE, "unknown distribution '128'");
    BAD("empirical:", DIST_COUNT, ERR_USAGE, "expected empirical:FILE");
    BAD("fixed:2parsecs", DIST_DURATION, ERR_USAGE, "fixed:DURATION");
    BAD("uniform:1s:x", DIST_DURATION, ERR_USAGE, "uniform:MIN:MAX with durations");
}

TEST(dist_empirical_values_and_weights)
{
    const char *f = tmp("emp_weights.txt");
    unit_write_text(f, "# lengths\n10 1\n20 3\n\n30 0   # never\n");
    char spec[600];
    snprintf(spec, sizeof spec, "empirical:%s", f);
    dist *d = P(spec, DIST_COUNT);
    REQUIRE(d);
    CHECK_NEAR(dist_mean(d), (10 + 60) / 4.0, 1e-9);
    rng r;
    rng_seed(&r, 4);
    int n = 100000, c10 = 0, c20 = 0;
    for (int i = 0; i < n; i++) {
        int64_t v = dist_sample(d, &r);
        REQUIRE(v == 10 || v == 20);
        c10 += v == 10;
        c20 += v == 20;
    }
    CHECK_NEAR((double)c10 / n, 0.25, 4 * sqrt(0.25 * 0.75 / n));
    CHECK_INT(c10 + c20, n);
    dist_free(d);

    /* One value per line, comma-separated weights, durations. */
    f = tmp("emp_durations.txt");
    unit_write_text(f, "1.5\n250ms,2\n");
    snprintf(spec, sizeof spec, "empirical:%s", f);
    d = P(spec, DIST_DURATION);
    REQUIRE(d);
    for (int i = 0; i < 100; i++) {
        int64_t v = dist_sample(d, &r);
        CHECK(v == 1500000 || v == 250000);
    }
    dist_free(d);
}

TEST(dist_empirical_from_trace)
{
    const char *f = tmp("emp_trace.jsonl");
    unit_write_text(f, "{\"format\":\"sagellm-trace\",\"version\":1,\"source\":\"synth\"}\n"
                  "{\"t_us\":0,\"id\":1,\"api\":\"chat\",\"input_tokens\":100,\"output_tokens\":5}\n"
                  "{\"t_us\":1,\"id\":2,\"api\":\"chat\",\"input_tokens\":300,\"output_tokens\":5}\n"
                  "{\"t_us\":2,\"id\":3,\"api\":\"chat\",\"input_tokens\":100,\"output_tokens\":7}\n");
    char spec[600];
    snprintf(spec, sizeof spec, "empirical:%s", f);
    dist *d = P(spec, DIST_COUNT);   /* P asks for input_tokens */
    REQUIRE(d);
    CHECK_NEAR(dist_mean(d), 500 / 3.0, 1e-9);
    rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < 100; i++) {
        int64_t v = dist_sample(d, &r);
        CHECK(v == 100 || v == 300);
    }
    dist_free(d);

    /* A trace where plain values are expected. */
    char err[512];
    d = NULL;
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "is a trace");
    CHECK(!d);
    /* A field no record has. */
    CHECK_INT(dist_parse(spec, DIST_COUNT, "nosuch", &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "no record has field 'nosuch'");
}

TEST(dist_empirical_errors)
{
    char spec[600], err[512];
    dist *d = NULL;
    const char *f = tmp("emp_bad.txt");
    unit_write_text(f, "10\n20 x\n");
    snprintf(spec, sizeof spec, "empirical:%s", f);
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "emp_bad.txt:2: weight: expected a non-negative number, got 'x'");

    unit_write_text(f, "10\n-5\n");
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "emp_bad.txt:2: value: expected a non-negative integer, got '-5'");

    unit_write_text(f, "10 1 2\n");
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, ":1: expected 'VALUE' or 'VALUE WEIGHT'");

    unit_write_text(f, "# nothing\n\n");
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "no values");

    unit_write_text(f, "10 0\n");
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "positive weight");

    FILE *bin = fopen(f, "wb");
    fwrite("10\n2\0003\n", 1, 7, bin);
    fclose(bin);
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "emp_bad.txt:2: expected text, got a NUL byte");

    unit_write_text(f, " , \t\n5\n");   /* a line of separators only is blank */
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), 0);
    dist_free(d);
    d = NULL;

    unit_write_text(f, "300000000000s\n");   /* past the trace format's time limit */
    CHECK_INT(dist_parse(spec, DIST_DURATION, NULL, &d, err, sizeof err), ERR_INPUT);
    CHECK_CONTAINS(err, "value: expected a duration");
    CHECK_INT(dist_parse("fixed:300000000000s", DIST_DURATION, NULL, &d, err, sizeof err), ERR_USAGE);

    snprintf(spec, sizeof spec, "empirical:%s", tmp("does-not-exist.txt"));
    CHECK_INT(dist_parse(spec, DIST_COUNT, NULL, &d, err, sizeof err), ERR_SYSTEM);
    CHECK_CONTAINS(err, "does-not-exist.txt");
    CHECK(!d);
}

/* ---- arrivals ---- */

typedef struct gap_stats { double mean, cv; double *gaps; } gap_stats;

static gap_stats draw_gaps(const char *spec, double rate, uint64_t seed, int n)
{
    dist_arrival a;
    char err[256];
    gap_stats g = {0, 0, NULL};
    if (dist_arrival_parse(spec, rate, &a, err, sizeof err)) {
        unit_fail(__FILE__, __LINE__, "dist_arrival_parse(%s): %s", spec, err);
        return g;
    }
    rng r;
    rng_seed(&r, seed);
    g.gaps = malloc((size_t)n * sizeof *g.gaps);
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = dist_arrival_gap_us(&a, &r);
        g.gaps[i] = x;
        s += x;
    }
    g.mean = s / n;
    for (int i = 0; i < n; i++) s2 += (g.gaps[i] - g.mean) * (g.gaps[i] - g.mean);
    g.cv = sqrt(s2 / (n - 1)) / g.mean;
    return g;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov statistic of x (sorted in place) against the
 * exponential CDF with the given mean. */
static double ks_exponential(double *x, int n, double mean)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double d = 0;
    for (int i = 0; i < n; i++) {
        double f = 1 - exp(-x[i] / mean);
        double lo = f - (double)i / n, hi = (double)(i + 1) / n - f;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    return d;
}

/* Regularised lower incomplete gamma P(a, x): series for x < a + 1,
 * continued fraction (modified Lentz) otherwise. */
static double gamma_p(double a, double x)
{
    if (x <= 0) return 0;
    double lg = lgamma(a);
    if (x < a + 1) {
        double sum = 1 / a, term = sum;
        for (int n = 1; n < 10000; n++) {
            term *= x / (a + n);
            sum += term;
            if (fabs(term) < fabs(sum) * 1e-15) break;
        }
        return sum * exp(-x + a * log(x) - lg);
    }
    double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
    for (int i = 1; i < 10000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < 1e-300) d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300) c = 1e-300;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return 1 - exp(-x + a * log(x) - lg) * h;
}

/* KS statistic of x (sorted in place) against Gamma(shape, scale). */
static double ks_gamma(double *x, int n, double shape, double scale)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double d = 0;
    for (int i = 0; i < n; i++) {
        double f = gamma_p(shape, x[i] / scale);
        double lo = f - (double)i / n, hi = (double)(i + 1) / n - f;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    return d;
}

/* Standard error of the sample CV of n gamma gaps with coefficient cv
 * (delta method: cv^2 (1 + cv^2) / 2n). */
static double cv_se(double cv, int n)
{
    return cv * sqrt((1 + cv * cv) / (2.0 * n));
}

TEST(dist_arrival_poisson_exact)
{
    const double rate = 50;             /* mean gap 20,000 us */
    gap_stats g = draw_gaps("poisson", rate, 42, NSAMPLE);
    REQUIRE(g.gaps);
    double mean = 1e6 / rate;
    CHECK_NEAR(g.mean, mean, 4 * mean / sqrt(NSAMPLE));
    CHECK_NEAR(g.cv, 1, 5 * cv_se(1, NSAMPLE));
    /* KS against Exp(mean): 1.95/sqrt(n) is the 0.1% critical value. */
    double d = ks_exponential(g.gaps, NSAMPLE, mean);
    CHECK(d < 1.95 / sqrt(NSAMPLE));
    free(g.gaps);
}

TEST(dist_arrival_gamma_exact)
{
    static const double cvs[] = {0.5, 2.0, 4.0};
    for (size_t i = 0; i < sizeof cvs / sizeof cvs[0]; i++) {
        char spec[32];
        snprintf(spec, sizeof spec, "gamma:%g", cvs[i]);
        gap_stats g = draw_gaps(spec, 10, 1000 + i, NSAMPLE);
        REQUIRE(g.gaps);
        double mean = 1e5, cv = cvs[i];
        if (fabs(g.mean - mean) > 4 * cv * mean / sqrt(NSAMPLE))
            unit_fail(__FILE__, __LINE__, "%s: mean gap %g, expected %g", spec, g.mean, mean);
        if (fabs(g.cv - cv) > 5 * cv_se(cv, NSAMPLE))
            unit_fail(__FILE__, __LINE__, "%s: CV %g, expected %g +- %g", spec, g.cv, cv,
                      5 * cv_se(cv, NSAMPLE));
        /* The whole shape: KS against Gamma(1/CV^2, mean CV^2). */
        double k = 1 / (cv * cv), ks = ks_gamma(g.gaps, NSAMPLE, k, mean / k);
        if (ks >= 1.95 / sqrt(NSAMPLE))
            unit_fail(__FILE__, __LINE__, "%s: KS distance %g to the gamma CDF", spec, ks);
        /* ... and it is not exponential (the test can tell them apart). */
        if (ks_exponential(g.gaps, NSAMPLE, mean) < 10 / sqrt(NSAMPLE))
            unit_fail(__FILE__, __LINE__, "%s: gaps look exponential", spec);
        free(g.gaps);
    }
    /* gamma:1 is the Poisson process: exponential gaps. */
    gap_stats g = draw_gaps("gamma:1", 10, 77, NSAMPLE);
    REQUIRE(g.gaps);
    CHECK(ks_exponential(g.gaps, NSAMPLE, 1e5) < 1.95 / sqrt(NSAMPLE));
    free(g.gaps);
}

TEST(dist_arrival_constant_and_clock)
{
    dist_arrival a;
    char err[256];
    REQUIRE(dist_arrival_parse("constant", 4, &a, err, sizeof err) == 0);
    rng r;
    rng_seed(&r, 1);
    CHECK_INT(dist_arrival_next_us(&a, &r), 0);
    CHECK_INT(dist_arrival_next_us(&a, &r), 250000);
    CHECK_INT(dist_arrival_next_us(&a, &r), 500000);

    /* 3 per second for 1000 s: the clock sums unrounded gaps, so there is
     * no drift from rounding each gap (333,333.33 us). */
    REQUIRE(dist_arrival_parse("constant", 3, &a, err, sizeof err) == 0);
    int64_t t = 0;
    for (int i = 0; i <= 3000; i++) t = dist_arrival_next_us(&a, &r);
    CHECK_INT(t, 1000000000);

    /* Poisson clock: count in [0, 1000 s) at rate 20 within 5 SDs. */
    REQUIRE(dist_arrival_parse(NULL, 20, &a, err, sizeof err) == 0);
    CHECK(a.kind == DIST_ARRIVAL_POISSON);
    int n = 0;
    int64_t prev = -1;
    while ((t = dist_arrival_next_us(&a, &r)) < 1000000000) {
        REQUIRE(t >= prev);
        prev = t;
        n++;
    }
    CHECK_NEAR(n, 20001, 5 * sqrt(20000));
}

TEST(dist_arrival_parse_errors)
{
    dist_arrival a;
    char err[256];
    CHECK_INT(dist_arrival_parse("gamma:0", 1, &a, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "gamma:CV");
    CHECK_INT(dist_arrival_parse("gamma:x", 1, &a, err, sizeof err), ERR_USAGE);
    CHECK_INT(dist_arrival_parse("gamma", 1, &a, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "poisson, gamma:CV or constant");
    CHECK_INT(dist_arrival_parse("bursty", 1, &a, err, sizeof err), ERR_USAGE);
    CHECK_INT(dist_arrival_parse("poisson", 0, &a, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "rate > 0");
    CHECK_INT(dist_arrival_parse("gamma:0.25", 2, &a, err, sizeof err), 0);
    CHECK_NEAR(a.shape, 16, 1e-12);
    CHECK_NEAR(a.mean_us, 500000, 1e-6);
}
