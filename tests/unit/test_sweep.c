/* test_sweep.c — analysis/sweep.c: the search against made-up servers of
 * known capacity, the early-stop rule, the capacity read from points, the
 * representative window. */
#include "unit.h"
#include "analysis/sweep.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs a search against a server that passes every speed up to cap (and,
 * with invalid_from > 0, whose client is late from that speed on). Returns
 * the capacity found (0: none) and the number of points in *n. */
static double search(double cap, double invalid_from, double start, double tol, int max_points, int *n,
                     int *hi_invalid)
{
    sweep_search s;
    sweep_search_init(&s, start, 2, tol);
    const char *why;
    double x;
    *n = 0;
    while ((x = sweep_search_next(&s, &why)) > 0 && *n < max_points) {
        sweep_verdict v = invalid_from > 0 && x >= invalid_from ? SWEEP_INVALID : x <= cap ? SWEEP_PASS : SWEEP_FAIL;
        sweep_search_add(&s, x, v);
        (*n)++;
    }
    if (hi_invalid) *hi_invalid = s.hi_invalid;
    return s.have_lo ? s.lo : 0;
}

TEST(sweep_search_brackets_then_bisects_to_the_tolerance)
{
    int n;
    double c = search(3.0, 0, 1, 0.1, 100, &n, NULL);
    /* 1 pass, 2 pass, 4 fail, then bisection: the answer is a passing
     * speed within 10% below the true capacity. */
    CHECK(c <= 3.0);
    CHECK(c >= 3.0 / 1.1);
    CHECK(n <= 8);
    c = search(0.3, 0, 1, 0.05, 100, &n, NULL);    /* below the start: bracketing goes down */
    CHECK(c <= 0.3 && c >= 0.3 / 1.05);
    c = search(1000, 0, 1, 0.1, 100, &n, NULL);
    CHECK(c >= 1000 / 1.1 && c <= 1000);
}

TEST(sweep_search_ends_without_capacity)
{
    int n;
    /* Nothing passes: bracketing down stops at start / 1024. */
    CHECK(search(0, 0, 1, 0.1, 100, &n, NULL) == 0);
    CHECK_INT(n, 11);
    sweep_search s;
    sweep_search_init(&s, 1, 2, 0.1);
    const char *why;
    for (int i = 0; i < 11; i++) sweep_search_add(&s, sweep_search_next(&s, &why), SWEEP_FAIL);
    CHECK(sweep_search_next(&s, &why) == 0);
    CHECK_CONTAINS(why, "no speed passed");
    /* Everything passes: up to start * 1024. */
    sweep_search_init(&s, 1, 2, 0.1);
    for (int i = 0; i < 11; i++) sweep_search_add(&s, sweep_search_next(&s, &why), SWEEP_PASS);
    CHECK(sweep_search_next(&s, &why) == 0);
    CHECK_CONTAINS(why, "every speed passed");
}

TEST(sweep_search_an_invalid_point_bounds_it_from_above)
{
    int n, inv;
    /* The server would hold 10x, but the client is late from 3x: the
     * answer stays below 3 and says the upper bracket is invalid. */
    double c = search(10, 3, 1, 0.1, 100, &n, &inv);
    CHECK(c < 3 && c >= 3 / 1.1);
    CHECK_INT(inv, 1);
    /* INCOMPLETE changes nothing. */
    sweep_search s;
    sweep_search_init(&s, 1, 2, 0.1);
    sweep_search_add(&s, 1, SWEEP_INCOMPLETE);
    const char *why;
    CHECK(sweep_search_next(&s, &why) == 1);
}

static sweep_point pt(double x, sweep_verdict v, double rate)
{
    sweep_point p;
    memset(&p, 0, sizeof p);
    p.x = x;
    p.verdict = v;
    p.offered_rate = rate;
    p.achieved_rate = rate;
    p.attainment = v == SWEEP_PASS ? 1 : 0.5;
    for (int i = 0; i < SWEEP_NLAT; i++) p.lat[i] = NAN;
    snprintf(p.name, sizeof p.name, "speed-%g", x);
    return p;
}

TEST(sweep_capacity_is_the_largest_pass_below_the_first_fail)
{
    sweep_point pts[] = { pt(4, SWEEP_FAIL, 40), pt(1, SWEEP_PASS, 10), pt(2, SWEEP_PASS, 20),
                          pt(8, SWEEP_PASS, 80) /* noise above a fail does not count */ };
    sweep_capacity c;
    sweep_capacity_of(pts, 4, &c);
    REQUIRE(c.found);
    CHECK(pts[c.lo].x == 2);
    CHECK(pts[c.hi].x == 4);
    CHECK_STR(c.status, "bracketed");
    cJSON *j = sweep_result_json(pts, 4, "speed");
    const cJSON *cap = cJSON_GetObjectItem(j, "capacity");
    CHECK(cJSON_GetObjectItem(cap, "offered_rate")->valuedouble == 20);
    CHECK(cJSON_GetObjectItem(cap, "above_x")->valuedouble == 4);
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "points"), 0)->child->valuedouble == 1);  /* sorted */
    /* Two sweeps: the ratio of capacities with its range. */
    sweep_point pb[] = { pt(2, SWEEP_PASS, 20), pt(4, SWEEP_PASS, 40), pt(8, SWEEP_FAIL, 80) };
    cJSON *jb = sweep_result_json(pb, 3, "speed");
    cJSON *cmp = sweep_compare_json(j, "a", jb, "b");
    const cJSON *r = cJSON_GetObjectItem(cmp, "ratio");
    CHECK_NEAR(cJSON_GetObjectItem(r, "b_over_a")->valuedouble, 2, 1e-12);
    CHECK_NEAR(cJSON_GetObjectItem(r, "low")->valuedouble, 1, 1e-12);
    CHECK_NEAR(cJSON_GetObjectItem(r, "high")->valuedouble, 4, 1e-12);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cmp, "rows")), 4);   /* 1, 2, 4, 8 */
    cJSON_Delete(cmp);
    cJSON_Delete(jb);
    cJSON_Delete(j);
    sweep_point none[] = { pt(1, SWEEP_FAIL, 10) };
    sweep_capacity_of(none, 1, &c);
    CHECK(!c.found);
    CHECK_STR(c.status, "no point passed");
    sweep_point inv[] = { pt(1, SWEEP_PASS, 10), pt(2, SWEEP_INVALID, 20) };
    sweep_capacity_of(inv, 2, &c);
    CHECK(c.found);
    CHECK_CONTAINS(c.status, "invalid");
}

TEST(sweep_compare_of_two_sweeps_without_points_has_no_rows)
{
    /* A sweep stopped before its first point still writes sweep.json. */
    cJSON *a = sweep_result_json(NULL, 0, "speed"), *b = sweep_result_json(NULL, 0, "speed");
    cJSON *cmp = sweep_compare_json(a, "a", b, "b");
    REQUIRE(cmp);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cmp, "rows")), 0);
    cJSON_Delete(cmp);
    cJSON_Delete(b);
    cJSON_Delete(a);
}

TEST(sweep_point_verdict_rules)
{
    sweep_point p = pt(1, SWEEP_PASS, 10);
    p.attainment = 0.96;
    CHECK_INT(sweep_point_verdict(&p, 0.95, 0), SWEEP_PASS);
    p.attainment = 0.94;
    CHECK_INT(sweep_point_verdict(&p, 0.95, 0), SWEEP_FAIL);
    p.late = 1;
    CHECK_INT(sweep_point_verdict(&p, 0.95, 0), SWEEP_INVALID);
    CHECK_INT(sweep_point_verdict(&p, 0.95, 1), SWEEP_FAIL);   /* closed loop: lateness is the design */
    p.interrupted = 1;
    CHECK_INT(sweep_point_verdict(&p, 0.95, 0), SWEEP_INCOMPLETE);
    /* Repeats: the mean, and the spread. */
    sweep_point a = pt(1, SWEEP_PASS, 10), b = pt(1, SWEEP_PASS, 10);
    a.runs = b.runs = 1;
    a.attainment = a.att_min = a.att_max = 0.90;
    b.attainment = b.att_min = b.att_max = 0.98;
    CHECK(sweep_point_close(&a, 0.95, 0.05));
    sweep_point_merge(&a, &b);
    CHECK_INT(a.runs, 2);
    CHECK_NEAR(a.attainment, 0.94, 1e-12);
    CHECK_NEAR(a.att_min, 0.90, 1e-12);
    CHECK_NEAR(a.att_max, 0.98, 1e-12);
}

/* Writes lines to a log and polls the watch after each batch. */
TEST(sweep_watch_stops_a_point_that_cannot_reach_the_target)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sweep_watch.jsonl", unit_tmpdir());
    remove(path);
    summary_opts slo;
    memset(&slo, 0, sizeof slo);
    slo.slo_ttft_ms = 100;
    sweep_watch *w = sweep_watch_new(path, &slo, 0.9);
    char why[256];
    CHECK_INT(sweep_watch_poll(w, 20, why, sizeof why), 0);   /* no log yet */
    const char *good = "{\"index\":0,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_first_token_ns\":50000000,"
                       "\"t_last_token_ns\":60000000,\"t_end_ns\":60000000,\"output_tokens\":2}\n";
    const char *slow = "{\"index\":1,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_first_token_ns\":150000000,"
                       "\"t_last_token_ns\":160000000,\"t_end_ns\":160000000,\"output_tokens\":2}\n";
    unit_append_text(path, good);
    unit_append_text(path, slow);
    unit_append_text(path, slow);
    /* 2 misses of 20: (1 - 0.9) * 20 = 2 allowed, not more. */
    CHECK_INT(sweep_watch_poll(w, 20, why, sizeof why), 0);
    unit_append_text(path, "{\"index\":3,\"ok\":false,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_end_ns\":1000,\"error\":\"http_5xx\"}\n{\"index\":4,\"ok\"");
    CHECK_INT(sweep_watch_poll(w, 20, why, sizeof why), 1);   /* the half line waits */
    CHECK_CONTAINS(why, "3 of 20 requests already missed");
    long fin, mis, fai;
    sweep_watch_counts(w, &fin, &mis, &fai);
    CHECK_INT(fin, 4);
    CHECK_INT(mis, 3);
    CHECK_INT(fai, 1);
    /* While the total is unknown only the error rule applies. */
    CHECK_INT(sweep_watch_poll(w, -1, why, sizeof why), 0);
    sweep_watch_free(w);
}

TEST(sweep_window_is_the_slice_closest_to_the_mean_rate)
{
    /* 0..99 s: a burst of 50 requests in 10..20 s, then one per second. */
    int64_t t[200];
    size_t n = 0;
    for (int s = 0; s < 100; s++) {
        if (s >= 10 && s < 20)
            for (int k = 0; k < 5; k++) t[n++] = (int64_t)s * 1000000 + k * 100000;
        else
            t[n++] = (int64_t)s * 1000000;
    }
    int64_t from = sweep_window_pick(t, n, 20000000);
    /* Mean rate 139/99 s: 28 requests in 20 s. Windows start every 5 s:
     * those over the burst hold 60 or 40, the quiet ones 20; 20 is the
     * closest, first at 20 s. */
    CHECK_INT(from, 20000000);
    CHECK_INT(sweep_window_pick(t, n, 200000000), 0);    /* longer than the trace */
}
