/* test_compare.c — unit tests for analysis/bootstrap.c, compare.c,
 * compare_print.c and orig.c, over the fixtures tests/data/runs/a, b, c
 * and orig:
 *   a  40 requests, TTFT 100 + i ms, E2E 1000 + 10 i ms (i = 0..39), TPOT
 *      20 + i % 5 ms, send lag 100 us; trace digest ...bb, speed 1
 *   b  a with TTFT + 50 ms and E2E + 100 ms on every request
 *   c  a replayed from a different trace (digest ...cc) at speed 2 by a late
 *      client (send lag 5 ms)
 *   orig  10 requests of trace.jsonl (beside the run; run.json names another
 *      path), whose records 0..8 hold the original TTFT 10 (i + 1) ms and
 *      E2E 100 (i + 1) ms; the replay's TTFT is 5 + i ms, E2E 200 + 100 i. */
#include "tests/unit/unit.h"
#include "analysis/bootstrap.h"
#include "analysis/compare.h"
#include "analysis/orig.h"
#include "analysis/stats.h"
#include "common/rng.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

static double num(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j)) {
        unit_fail(__FILE__, __LINE__, "key %s: not a number", key);
        return NAN;
    }
    return j->valuedouble;
}

static const cJSON *obj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static bootstrap_opts boot(uint64_t seed, int r)
{
    bootstrap_opts o = { seed, r, 0.95 };
    return o;
}

/* x[i] = i * i % 97 for i < n, sorted: a skewed sample with ties. */
static double *sample(size_t n, double shift)
{
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (double)(i * i % 97) + shift;
    stats_sort(x, n);
    return x;
}

TEST(compare_bootstrap_counting_equals_sorting)
{
    /* The counted order statistics equal those of the sorted resample, for
     * odd and even sizes, the median and percentiles, on the same draws. */
    size_t sizes[] = { 1, 2, 7, 40, 101 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t na = sizes[s], nb = sizes[s] + 3;
        double *a = sample(na, 0), *b = sample(nb, 5);
        double q[] = { BOOTSTRAP_MEDIAN, 99, 90, 50, 0, 100 };
        bootstrap_opts o = boot(42, 5);
        bootstrap_ci ci[6];
        REQUIRE(bootstrap_diff(a, na, b, nb, q, 6, &o, 3, ci) == 0);
        /* replay the draws: 5 resamples of A then B, interleaved per resample */
        rng ra, rb;
        rng_seed2(&ra, 42, 6);
        rng_seed2(&rb, 42, 7);
        double d[6][5];
        for (int r = 0; r < 5; r++) {
            double *ya = malloc(na * sizeof *ya), *yb = malloc(nb * sizeof *yb);
            for (size_t i = 0; i < na; i++) ya[i] = a[rng_range(&ra, 0, (int64_t)na - 1)];
            for (size_t i = 0; i < nb; i++) yb[i] = b[rng_range(&rb, 0, (int64_t)nb - 1)];
            stats_sort(ya, na);
            stats_sort(yb, nb);
            for (int k = 0; k < 6; k++) d[k][r] = bootstrap_stat(yb, nb, q[k]) - bootstrap_stat(ya, na, q[k]);
            free(ya);
            free(yb);
        }
        for (int k = 0; k < 6; k++) {
            stats_sort(d[k], 5);
            CHECK_NEAR(ci[k].lo, stats_percentile(d[k], 5, 2.5), 0);
            CHECK_NEAR(ci[k].hi, stats_percentile(d[k], 5, 97.5), 0);
            CHECK_NEAR(ci[k].a, bootstrap_stat(a, na, q[k]), 0);
            CHECK_NEAR(ci[k].diff, ci[k].b - ci[k].a, 0);
        }
        free(a);
        free(b);
    }
}

TEST(compare_bootstrap_is_stable_for_a_seed)
{
    double a[200], b[300];
    for (int i = 0; i < 200; i++) a[i] = (i * i % 97) * 0.37;
    for (int i = 0; i < 300; i++) b[i] = (i * i % 89) * 0.41 + 1;
    stats_sort(a, 200);
    stats_sort(b, 300);
    double q[] = { BOOTSTRAP_MEDIAN, 99 };
    bootstrap_opts o = boot(1, 1000);
    bootstrap_ci c1[2], c2[2], c3[2];
    REQUIRE(bootstrap_diff(a, 200, b, 300, q, 2, &o, 0, c1) == 0);
    REQUIRE(bootstrap_diff(a, 200, b, 300, q, 2, &o, 0, c2) == 0);
    for (int k = 0; k < 2; k++) {
        CHECK_NEAR(c1[k].lo, c2[k].lo, 0);
        CHECK_NEAR(c1[k].hi, c2[k].hi, 0);
        CHECK_NEAR(c1[k].diff, c2[k].diff, 0);
    }
    /* Frozen: seed 1, 1000 resamples, stream 0. A change here changes every
     * published interval; it needs a reason. */
    CHECK_NEAR(c1[0].diff, 1.4649999999999999, 0);
    CHECK_NEAR(c1[0].lo, -1.3054999999999997, 0);
    CHECK_NEAR(c1[0].hi, 5.7199999999999989, 0);
    CHECK_NEAR(c1[1].diff, 1.5600000000000023, 0);
    CHECK_NEAR(c1[1].lo, 1.1499999999999986, 0);
    CHECK_NEAR(c1[1].hi, 1.9299999999999997, 0);
    CHECK(!c1[0].excludes_zero && c1[1].excludes_zero);
    /* another seed gives other draws, the same point estimate */
    o.seed = 2;
    REQUIRE(bootstrap_diff(a, 200, b, 300, q, 2, &o, 0, c3) == 0);
    CHECK(c3[0].lo != c1[0].lo || c3[0].hi != c1[0].hi || c3[1].lo != c1[1].lo);
    CHECK_NEAR(c3[0].diff, c1[0].diff, 0);
    /* and so does another stream of the same seed */
    o.seed = 1;
    REQUIRE(bootstrap_diff(a, 200, b, 300, q, 2, &o, 1, c3) == 0);
    CHECK(c3[0].lo != c1[0].lo || c3[0].hi != c1[0].hi || c3[1].lo != c1[1].lo);
}

TEST(compare_bootstrap_identical_and_shifted)
{
    /* B = A: the difference is 0 and the interval holds it */
    double *a = sample(500, 0), *b = sample(500, 0), *c = sample(500, 30);
    double q[] = { BOOTSTRAP_MEDIAN, 99 };
    bootstrap_opts o = boot(7, 500);
    bootstrap_ci ci[2];
    REQUIRE(bootstrap_diff(a, 500, b, 500, q, 2, &o, 1, ci) == 0);
    for (int k = 0; k < 2; k++) {
        CHECK_NEAR(ci[k].diff, 0, 0);
        CHECK(ci[k].lo <= 0 && ci[k].hi >= 0);
        CHECK(!ci[k].excludes_zero);
    }
    /* C = A + 30: the medians differ by exactly 30; the interval excludes 0 */
    REQUIRE(bootstrap_diff(a, 500, c, 500, q, 2, &o, 1, ci) == 0);
    CHECK_NEAR(ci[0].diff, 30, 0);
    CHECK(ci[0].excludes_zero && ci[0].lo > 0 && ci[0].lo <= 30 && ci[0].hi >= 30);
    /* arguments out of range */
    CHECK_INT(bootstrap_diff(a, 0, c, 500, q, 2, &o, 1, ci), ERR_USAGE);
    o.resamples = 1;
    CHECK_INT(bootstrap_diff(a, 500, c, 500, q, 2, &o, 1, ci), ERR_USAGE);
    o.resamples = 10;
    o.level = 1;
    CHECK_INT(bootstrap_diff(a, 500, c, 500, q, 2, &o, 1, ci), ERR_USAGE);
    o.level = 0.9;
    double badq[] = { 101 };
    CHECK_INT(bootstrap_diff(a, 500, c, 500, badq, 1, &o, 1, ci), ERR_USAGE);
    free(a);
    free(b);
    free(c);
}

/* Opens the named fixture runs. */
static int open_runs(runlog **r, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[256], err[512];
        int rc;
        snprintf(path, sizeof path, "tests/data/runs/%s", names[i]);
        r[i] = runlog_open(path, NULL, &rc, err, sizeof err);
        if (!r[i]) {
            unit_fail(__FILE__, __LINE__, "%s: %s", path, err);
            return -1;
        }
    }
    return 0;
}

static compare_opts copts(void)
{
    compare_opts o;
    memset(&o, 0, sizeof o);
    o.boot = boot(1, 1000);
    return o;
}

/* The "ci" entry for run, metric and stat. */
static const cJSON *find_ci(const cJSON *doc, const char *run, const char *metric, const char *stat)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, obj(doc, "ci"))
        if (!strcmp(str(e, "run"), run) && !strcmp(str(e, "metric"), metric) && !strcmp(str(e, "stat"), stat))
            return e;
    unit_fail(__FILE__, __LINE__, "no ci entry %s %s %s", run, metric, stat);
    return NULL;
}

static int warned(const cJSON *doc, const char *needle)
{
    const cJSON *w;
    cJSON_ArrayForEach(w, obj(doc, "warnings"))
        if (strstr(w->valuestring, needle)) return 1;
    return 0;
}

TEST(compare_runs_side_by_side)
{
    runlog *r[3] = { 0 };
    const char *names[] = { "a", "b", "c" };
    REQUIRE(open_runs(r, names, 3) == 0);
    compare_opts o = copts();
    int rc;
    char err[512];
    cJSON *doc = compare_json(r, 3, &o, &rc, err, sizeof err);
    REQUIRE(doc);
    /* warnings: c replayed another trace, at another speed, late; a and b: nothing */
    CHECK(warned(doc, "runs A and C did not replay the same trace"));
    CHECK(warned(doc, "replayed the trace differently: speed 1 vs 2"));
    CHECK(warned(doc, "run C's client was late: send lag p99 5.000 ms"));
    CHECK(!warned(doc, "runs A and B"));
    CHECK(!warned(doc, "run B"));
    /* the side-by-side: median TTFT 119.5 (i = 19, 20), +50 in b */
    const cJSON *m;
    int seen = 0;
    cJSON_ArrayForEach(m, obj(doc, "metrics")) {
        if (strcmp(str(m, "key"), "median_ttft_ms")) continue;
        seen = 1;
        CHECK_NEAR(cJSON_GetArrayItem(obj(m, "values"), 0)->valuedouble, 119.5, 1e-12);
        CHECK_NEAR(cJSON_GetArrayItem(obj(m, "values"), 1)->valuedouble, 169.5, 1e-12);
        CHECK(cJSON_IsNull(cJSON_GetArrayItem(obj(m, "diff"), 0)));
        CHECK_NEAR(cJSON_GetArrayItem(obj(m, "diff"), 1)->valuedouble, 50, 1e-9);
        CHECK_NEAR(cJSON_GetArrayItem(obj(m, "ratio"), 1)->valuedouble, 169.5 / 119.5, 1e-12);
        CHECK_NEAR(cJSON_GetArrayItem(obj(m, "diff"), 2)->valuedouble, 0, 0);
    }
    CHECK(seen);
    /* intervals: b slower in TTFT and E2E (medians and p99s), TPOT unchanged; c the same as a */
    const cJSON *e = find_ci(doc, "B", "ttft", "median");
    if (e) {
        CHECK_NEAR(num(e, "diff_ms"), 50, 1e-9);
        CHECK(cJSON_IsTrue(obj(e, "excludes_zero")) && num(e, "lo_ms") > 0 && num(e, "hi_ms") >= 50);
        CHECK_STR(str(e, "verdict"), "slower");
    }
    if ((e = find_ci(doc, "B", "e2el", "p99"))) CHECK_STR(str(e, "verdict"), "slower");
    if ((e = find_ci(doc, "B", "tpot", "median"))) CHECK_STR(str(e, "verdict"), "no clear difference");
    if ((e = find_ci(doc, "C", "ttft", "median"))) {
        CHECK_NEAR(num(e, "diff_ms"), 0, 0);
        CHECK_STR(str(e, "verdict"), "no clear difference");
    }
    /* pairs by index: b slower on every request */
    const cJSON *p = cJSON_GetArrayItem(obj(doc, "paired"), 0);
    CHECK_STR(str(p, "run"), "B");
    CHECK_INT(num(p, "pairs"), 40);
    CHECK_NEAR(num(obj(p, "ttft"), "slower"), 1, 0);
    CHECK_NEAR(num(obj(p, "ttft"), "faster"), 0, 0);
    CHECK_NEAR(num(obj(p, "ttft"), "median_diff_ms"), 50, 1e-9);
    CHECK_NEAR(num(obj(p, "tpot"), "same"), 1, 0);
    CHECK_NEAR(num(obj(p, "e2el"), "median_diff_ms"), 100, 1e-9);
    /* how the intervals were made is stated */
    CHECK_INT(num(obj(doc, "bootstrap"), "seed"), 1);
    CHECK_INT(num(obj(doc, "bootstrap"), "resamples"), 1000);
    /* the same seed gives the same document */
    cJSON *again = compare_json(r, 3, &o, &rc, err, sizeof err);
    CHECK(cJSON_Compare(doc, again, 1));
    cJSON_Delete(again);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    compare_print(doc, TABLE_TEXT, f);
    fclose(f);
    CHECK(!strncmp(buf, "WARNING: runs A and C did not replay the same trace", 51));
    CHECK_CONTAINS(buf, "seed 1, 1000 resamples");
    CHECK_CONTAINS(buf, "B vs A  median ttft   119.500   169.500    +50.000");
    free(buf);
    f = open_memstream(&buf, &len);
    compare_print_csv(doc, f);
    fclose(f);
    CHECK(!strncmp(buf, "metric,A,B,C,B-A,B/A,C-A,C/A\ncompleted,40,40,40,0,1,0,1\n", 56));
    free(buf);
    cJSON_Delete(doc);

    /* a larger --min-effect turns the 8% E2E difference into "negligible" */
    o.min_effect = 0.5;
    doc = compare_json(r, 2, &o, &rc, err, sizeof err);
    REQUIRE(doc);
    if ((e = find_ci(doc, "B", "e2el", "median"))) {
        CHECK(cJSON_IsTrue(obj(e, "excludes_zero")));
        CHECK_STR(str(e, "verdict"), "negligible");
    }
    cJSON_Delete(doc);
    for (int i = 0; i < 3; i++) runlog_free(r[i]);
}

TEST(compare_original_vs_replay)
{
    runlog *r[2] = { 0 };
    const char *names[] = { "orig", "a" };
    REQUIRE(open_runs(r, names, 2) == 0);
    char digest[128];
    CHECK_INT(file_fnv_digest("tests/data/runs/orig/trace.jsonl", digest, sizeof digest), 0);
    CHECK_STR(digest, runlog_manifest_str(r[0], "trace_digest"));
    CHECK_INT(file_fnv_digest("tests/data/runs/orig/none", digest, sizeof digest), ERR_SYSTEM);

    compare_opts o = copts();
    int rc;
    char err[512];
    /* one run whose trace holds original timings: that table alone */
    cJSON *doc = compare_json(r, 1, &o, &rc, err, sizeof err);
    REQUIRE(doc);
    const cJSON *x = cJSON_GetArrayItem(obj(doc, "original"), 0);
    REQUIRE(x);
    CHECK_CONTAINS(str(x, "trace"), "runs/orig/trace.jsonl"); /* found beside the run */
    CHECK(cJSON_IsFalse(obj(x, "trace_changed")));
    /* TTFT: originals 10..90 ms (record 9 has none), replay 5..13: medians 50 and 9 */
    const cJSON *t = obj(x, "ttft");
    CHECK_INT(num(t, "pairs"), 9);
    CHECK_NEAR(num(t, "original_median_ms"), 50, 1e-12);
    CHECK_NEAR(num(t, "replay_median_ms"), 9, 1e-12);
    CHECK_NEAR(num(t, "original_p90_ms"), 82, 1e-12);   /* v = 7.2: 80 + 10 * 0.2 */
    CHECK_NEAR(num(t, "ratio_median"), 9.0 / 50, 1e-12);
    CHECK_NEAR(num(t, "replay_faster"), 1, 0);
    CHECK(num(t, "median_diff_lo_ms") <= -41 && num(t, "median_diff_hi_ms") >= -41);
    /* E2E: originals 100..900, replay 200..1000: slower on every request */
    const cJSON *e = obj(x, "e2el");
    CHECK_NEAR(num(e, "original_median_ms"), 500, 1e-12);
    CHECK_NEAR(num(e, "replay_median_ms"), 600, 1e-12);
    CHECK_NEAR(num(e, "replay_faster"), 0, 0);
    cJSON_Delete(doc);

    /* one run without original timings: a usage error that says why */
    doc = compare_json(r + 1, 1, &o, &rc, err, sizeof err);
    CHECK(doc == NULL);
    CHECK_INT(rc, ERR_USAGE);
    CHECK_CONTAINS(err, "compare needs two runs, or one whose trace holds original timings");
    CHECK_CONTAINS(err, "t.jsonl.zst not found");
    /* --orig with a trace given that has none: bad input */
    char path[512];
    snprintf(path, sizeof path, "%s/plain-trace.jsonl", unit_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("{\"format\":\"sagellm-trace\",\"version\":1}\n{\"t_us\":0,\"id\":\"x\",\"api\":\"chat\",\"input_tokens\":5}\n", f);
    fclose(f);
    o.orig = 1;
    o.trace_path = path;
    runlog *two[2] = { r[1], r[1] };
    doc = compare_json(two, 2, &o, &rc, err, sizeof err);
    CHECK(doc == NULL);
    CHECK_INT(rc, ERR_INPUT);
    CHECK_CONTAINS(err, "--orig: trace");
    CHECK_CONTAINS(err, "holds no original timings");
    /* without --orig the same runs compare, and say why there is no such table */
    o.orig = 0;
    doc = compare_json(two, 2, &o, &rc, err, sizeof err);
    REQUIRE(doc);
    CHECK_CONTAINS(str(doc, "original_unavailable"), "holds no original timings");
    cJSON_Delete(doc);
    for (int i = 0; i < 2; i++) runlog_free(r[i]);
}

/* Writes NAME/requests.jsonl under the test directory: n requests, each
 * forcing 10 output tokens and getting out[i], with engine times whose
 * TTFT is eng_ttft_ms. Returns the directory (static buffer). */
static const char *token_run(const char *name, const int *out, int n, int eng_ttft_ms)
{
    static char dir[512];
    char path[600];
    snprintf(dir, sizeof dir, "%s/%s", unit_tmpdir(), name);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        unit_fail(__FILE__, __LINE__, "cannot write %s", path);
        return dir;
    }
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"index\":%d,\"ok\":true,\"t_sched_ns\":%d000000,\"t_send_ns\":%d000000,"
                "\"t_first_token_ns\":%d000000,\"t_last_token_ns\":%d000000,\"t_end_ns\":%d000000,"
                "\"output_tokens\":%d,\"events\":%d,\"token_source\":\"usage\",\"forced_output_tokens\":10,"
                "\"engine\":{\"t_queued_ns\":%d000000,\"t_first_token_ns\":%d000000}}\n",
                i, 100 * i, 100 * i, 100 * i + 20, 100 * i + 50, 100 * i + 60, out[i], out[i],
                100 * i, 100 * i + eng_ttft_ms);
    fclose(f);
    return dir;
}

/* Runs that generated different token totals are flagged, with how much
 * and the likely cause; the engine view and the short outputs are set
 * side by side. */
TEST(compare_warns_on_token_totals_and_shows_engine_view)
{
    const int full[] = { 10, 10, 10 }, cut[] = { 10, 4, 10 };
    char a[512], b[512], err[512];
    snprintf(a, sizeof a, "%s", token_run("tok_a", full, 3, 5));
    snprintf(b, sizeof b, "%s", token_run("tok_b", cut, 3, 8));
    int rc;
    runlog *r[2];
    r[0] = runlog_open(a, NULL, &rc, err, sizeof err);
    r[1] = runlog_open(b, NULL, &rc, err, sizeof err);
    REQUIRE(r[0] && r[1]);
    compare_opts o = copts();
    cJSON *doc = compare_json(r, 2, &o, &rc, err, sizeof err);
    REQUIRE(doc);
    CHECK(warned(doc, "run B: 1 of 3 requests that forced their output length came back short (6 tokens missing)"));
    CHECK(warned(doc, "runs A and B generated different token totals: A 30, B 24 (-6, -20.0%)"));
    CHECK(warned(doc, "likely cause: outputs shorter than forced (short_outputs A 0, B 1)"));
    CHECK(!warned(doc, "run A:"));
    int seen = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj(doc, "metrics")) {
        if (!strcmp(str(m, "key"), "median_engine_ttft_ms")) {
            seen |= 1;
            CHECK_NEAR(cJSON_GetArrayItem(obj(m, "values"), 0)->valuedouble, 5, 1e-12);
            CHECK_NEAR(cJSON_GetArrayItem(obj(m, "diff"), 1)->valuedouble, 3, 1e-12);
        }
        if (!strcmp(str(m, "key"), "short_outputs")) {
            seen |= 2;
            CHECK_NEAR(cJSON_GetArrayItem(obj(m, "values"), 1)->valuedouble, 1, 0);
        }
    }
    CHECK_INT(seen, 3);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    compare_print(doc, TABLE_TEXT, f);
    fclose(f);
    CHECK_CONTAINS(buf, "WARNING: runs A and B generated different token totals");
    CHECK_CONTAINS(buf, "median_engine_ttft_ms");
    free(buf);
    cJSON_Delete(doc);
    /* the same totals: no such warning */
    cJSON *same = compare_json((runlog *const[]){ r[0], r[0] }, 2, &o, &rc, err, sizeof err);
    REQUIRE(same);
    CHECK(!warned(same, "different token totals"));
    cJSON_Delete(same);
    runlog_free(r[0]);
    runlog_free(r[1]);
}
