/* test_summary.c — unit tests for analysis/summary: every figure of
 * summary.json checked against answers computed by hand (in the comments),
 * with numpy's default percentile (linear interpolation: for sorted x of n
 * values, v = (n-1)*q/100, result x[floor v] + (x[floor v + 1] - x[floor v])
 * * frac(v)) and the population std (ddof=0). */
#include "tests/unit/unit.h"
#include "analysis/summary.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

#define MS 1000000LL /* ns */
#define US 1000LL

static summary *new_summary(double ttft, double tpot, double e2el, double rate)
{
    summary_opts o = { ttft, tpot, e2el, rate, SUMMARY_GROUP_NONE, 0, 0 };
    char err[256] = "";
    summary *s = summary_new(&o, err, sizeof err);
    if (!s) unit_fail(__FILE__, __LINE__, "summary_new: %s", err);
    return s;
}

/* Adds one record given as JSON text; returns summary_add's result. */
static int add(summary *s, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        unit_fail(__FILE__, __LINE__, "bad test JSON: %s", json);
        return -100;
    }
    int rc = summary_add(s, j);
    cJSON_Delete(j);
    return rc;
}

/* A completed request. Times in ns relative to its send; extra is more
 * JSON members (gaps, prompt_tokens, ...), starting with a comma. */
static int add_ok(summary *s, int index, long long sched, long long send, long long first,
                  long long last, long long end, int out, const char *extra)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"index\":%d,\"ok\":true,\"t_sched_ns\":%lld,\"t_send_ns\":%lld,"
             "\"t_first_token_ns\":%lld,\"t_last_token_ns\":%lld,\"t_end_ns\":%lld,"
             "\"output_tokens\":%d%s}",
             index, sched, send, send + first, send + last, send + end, out, extra);
    return add(s, buf);
}

static int add_failed(summary *s, int index, long long sched, long long send, long long end, const char *cls)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"index\":%d,\"ok\":false,\"t_sched_ns\":%lld,\"t_send_ns\":%lld,\"t_first_token_ns\":null,"
             "\"t_last_token_ns\":null,\"t_end_ns\":%lld,\"output_tokens\":0,\"status\":500,"
             "\"error\":{\"class\":\"%s\",\"message\":\"boom\"}}",
             index, sched, send, send + end, cls);
    return add(s, buf);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j)) {
        unit_fail(__FILE__, __LINE__, "key %s: not a number", key);
        return NAN;
    }
    return j->valuedouble;
}

static int is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* The fixture run. Times in ms (ns in the records):
 *   warm-up  sent at 0, ends at 990                          (left out)
 *   A  sched 1000, send 1000.05 (lag 50 us), ttft 10, last token +110, end +220,
 *      11 tokens, prompt 100, 10 chunk gaps of 10 ms      tpot 100/10 = 10
 *   B  sched 1100, send 1100.15 (lag 150), ttft 20, last +20, end +150,
 *      1 token, prompt 50, no gaps                         no tpot
 *   C  sched 1200, send 1200.25 (lag 250), ttft 30, last +90, end +200,
 *      5 tokens, prompt null, input_tokens 70, gaps [20, 40] carrying
 *      [1, 3] tokens: itl 20, 40/3 x3                      tpot 60/4 = 15
 *   D  failed http_5xx, sched 1300, send 1301 (lag 1000), end 1801
 *   E  failed timeout, sched 1400, send 1400.25 (lag 250), end 3400.25
 */
static summary *fixture(double ttft, double tpot, double e2el)
{
    summary *s = new_summary(ttft, tpot, e2el, 10.0);
    CHECK_INT(add(s, "{\"index\":0,\"warmup\":true,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,"
                     "\"t_first_token_ns\":1,\"t_last_token_ns\":2,\"t_end_ns\":990000000,"
                     "\"output_tokens\":999,\"prompt_tokens\":999}"), 0);
    CHECK_INT(add_ok(s, 1, 1000 * MS, 1000 * MS + 50 * US, 10 * MS, 110 * MS, 220 * MS, 11,
                     ",\"prompt_tokens\":100,\"token_source\":\"usage\",\"itl_basis\":\"chunk\","
                     "\"ttft_ms\":12345,\"e2e_ms\":777,"  /* the rounded fields are ignored */
                     "\"gaps_ns\":[10000000,10000000,10000000,10000000,10000000,"
                     "10000000,10000000,10000000,10000000,10000000]"), 0);
    CHECK_INT(add_ok(s, 2, 1100 * MS, 1100 * MS + 150 * US, 20 * MS, 20 * MS, 150 * MS, 1,
                     ",\"prompt_tokens\":50,\"token_source\":\"usage\",\"gaps_ns\":[]"), 0);
    CHECK_INT(add_ok(s, 3, 1200 * MS, 1200 * MS + 250 * US, 30 * MS, 90 * MS, 200 * MS, 5,
                     ",\"prompt_tokens\":null,\"input_tokens\":70,\"token_source\":\"usage\","
                     "\"itl_basis\":\"tokens\",\"gaps_ns\":[20000000,40000000],\"gap_tokens\":[1,3]"), 0);
    CHECK_INT(add_failed(s, 4, 1300 * MS, 1301 * MS, 500 * MS, "http_5xx"), 0);
    CHECK_INT(add_failed(s, 5, 1400 * MS, 1400 * MS + 250 * US, 2000 * MS, "timeout"), 0);
    return s;
}

TEST(summary_fixture_counts_totals_rates)
{
    summary *s = fixture(0, 0, 0);
    cJSON *j = summary_json(s);
    CHECK_INT(summary_records(s), 6);
    CHECK_INT(num(j, "completed"), 3);
    CHECK_INT(num(j, "failed"), 2);
    CHECK_INT(num(j, "warmup_excluded"), 1);
    /* first send 1000.05 ms, last end 3400.25 ms */
    CHECK_NEAR(num(j, "duration"), 2.4002, 1e-12);
    CHECK_INT(num(j, "total_input_tokens"), 220);   /* 100 + 50 + 70 (trace count for C) */
    CHECK_INT(num(j, "total_output_tokens"), 17);   /* 11 + 1 + 5 */
    CHECK_NEAR(num(j, "request_throughput"), 3 / 2.4002, 1e-12);
    CHECK_NEAR(num(j, "output_throughput"), 17 / 2.4002, 1e-12);
    CHECK_NEAR(num(j, "total_token_throughput"), 237 / 2.4002, 1e-12);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "request_goodput") == NULL); /* no SLO */
    /* sends at 1000.05 .. 1400.25: 4 gaps over 0.4002 s */
    CHECK_NEAR(num(j, "achieved_rate"), 4 / 0.4002, 1e-9);
    CHECK_NEAR(num(j, "trace_rate"), 10.0, 0);
    /* A [1000.05,1220.05) B [1100.15,1250.15) C [1200.25,1400.25) D [1301,1801)
     * E [1400.25,3400.25): A, B and C overlap from 1200.25 */
    CHECK_INT(num(j, "max_concurrency"), 3);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "errors");
    CHECK_INT(cJSON_GetArraySize(e), 2);
    CHECK_INT(num(e, "http_5xx"), 1);
    CHECK_INT(num(e, "timeout"), 1);
    CHECK_STR(e->child->string, "http_5xx"); /* sorted by class */
    CHECK_STR(str(j, "token_source"), "usage");
    CHECK_STR(str(j, "itl_basis"), "mixed");
    CHECK_STR(str(j, "input_token_source"), "mixed");
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_fixture_latencies)
{
    summary *s = fixture(0, 0, 0);
    cJSON *j = summary_json(s);
    /* TTFT {10, 20, 30}: mean 20, median 20, std sqrt(200/3) = 8.16496580927726,
     * p90 v=1.8: 20 + 10*0.8 = 28, p99 v=1.98: 29.8 */
    CHECK_NEAR(num(j, "mean_ttft_ms"), 20, 1e-9);
    CHECK_NEAR(num(j, "median_ttft_ms"), 20, 1e-9);
    CHECK_NEAR(num(j, "std_ttft_ms"), 8.16496580927726, 1e-9);
    CHECK_NEAR(num(j, "p90_ttft_ms"), 28, 1e-9);
    CHECK_NEAR(num(j, "p99_ttft_ms"), 29.8, 1e-9);
    /* TPOT {10, 15} (B has one token): mean 12.5, median 12.5, std 2.5,
     * p90 v=0.9: 14.5, p99 v=0.99: 14.95 */
    CHECK_NEAR(num(j, "mean_tpot_ms"), 12.5, 1e-9);
    CHECK_NEAR(num(j, "median_tpot_ms"), 12.5, 1e-9);
    CHECK_NEAR(num(j, "std_tpot_ms"), 2.5, 1e-9);
    CHECK_NEAR(num(j, "p90_tpot_ms"), 14.5, 1e-9);
    CHECK_NEAR(num(j, "p99_tpot_ms"), 14.95, 1e-9);
    /* ITL: A's ten 10 ms chunk gaps; C's 20 ms gap (1 token) and 40 ms gap
     * (3 tokens) = 3 x 13.333: 14 values, sorted 10 x10, 13.333 x3, 20.
     * mean 160/14 = 11.428571428571429; median (x6 + x7)/2 = 10;
     * std 2.735506022160966; p90 v=11.7: 13.333; p99 v=12.87:
     * 13.333 + 6.667*0.87 = 19.133333333333333 */
    CHECK_NEAR(num(j, "mean_itl_ms"), 11.428571428571429, 1e-9);
    CHECK_NEAR(num(j, "median_itl_ms"), 10, 1e-9);
    CHECK_NEAR(num(j, "std_itl_ms"), 2.735506022160966, 1e-9);
    CHECK_NEAR(num(j, "p90_itl_ms"), 40.0 / 3, 1e-9);
    CHECK_NEAR(num(j, "p99_itl_ms"), 19.133333333333333, 1e-9);
    /* E2EL {220, 150, 200}: mean 190, median 200, std sqrt(2600/3) =
     * 29.43920288775949, p90 v=1.8: 200 + 20*0.8 = 216, p99: 219.6 */
    CHECK_NEAR(num(j, "mean_e2el_ms"), 190, 1e-9);
    CHECK_NEAR(num(j, "median_e2el_ms"), 200, 1e-9);
    CHECK_NEAR(num(j, "std_e2el_ms"), 29.43920288775949, 1e-9);
    CHECK_NEAR(num(j, "p90_e2el_ms"), 216, 1e-9);
    CHECK_NEAR(num(j, "p99_e2el_ms"), 219.6, 1e-9);
    /* send lag over all five measured requests (failed ones too):
     * {50, 150, 250, 250, 1000} us: p50 v=2: 250; p99 v=3.96: 250 + 750*0.96 = 970 */
    CHECK_NEAR(num(j, "send_lag_p50_us"), 250, 1e-9);
    CHECK_NEAR(num(j, "send_lag_p99_us"), 970, 1e-9);
    CHECK_NEAR(num(j, "send_lag_max_us"), 1000, 1e-9);
    /* a second call gives the same object */
    cJSON *j2 = summary_json(s);
    CHECK(cJSON_Compare(j, j2, 1));
    cJSON_Delete(j2);
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_goodput_with_slos)
{
    /* ttft <= 25 and tpot <= 12: A (10, 10) yes; B (20, no tpot) yes; C (30) no */
    summary *s = fixture(25, 12, 0);
    cJSON *j = summary_json(s);
    CHECK_NEAR(num(j, "request_goodput"), 2 / 2.4002, 1e-12);
    cJSON_Delete(j);
    summary_free(s);
    /* e2el <= 160: only B (150) */
    s = fixture(0, 0, 160);
    j = summary_json(s);
    CHECK_NEAR(num(j, "request_goodput"), 1 / 2.4002, 1e-12);
    cJSON_Delete(j);
    summary_free(s);
    /* a value equal to the SLO meets it: e2el <= 200 takes B and C */
    s = fixture(0, 0, 200);
    j = summary_json(s);
    CHECK_NEAR(num(j, "request_goodput"), 2 / 2.4002, 1e-12);
    cJSON_Delete(j);
    summary_free(s);
    /* tpot <= 10: A (10) and B (no tpot) */
    s = fixture(0, 10, 0);
    j = summary_json(s);
    CHECK_NEAR(num(j, "request_goodput"), 2 / 2.4002, 1e-12);
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_percentiles_numpy_linear)
{
    /* e2el {1, 2, 3, 10} ms, added out of order: mean 4, median (2+3)/2 = 2.5,
     * std sqrt((9+4+1+36)/4) = 3.5355339059327378, p90 v=2.7: 3 + 7*0.7 = 7.9,
     * p99 v=2.97: 3 + 7*0.97 = 9.79 */
    summary *s = new_summary(0, 0, 0, 0);
    const int e2e[] = { 10, 1, 3, 2 };
    for (int i = 0; i < 4; i++) CHECK_INT(add_ok(s, i, 0, 0, 0, 0, e2e[i] * MS, 1, ""), 0);
    cJSON *j = summary_json(s);
    CHECK_NEAR(num(j, "mean_e2el_ms"), 4, 1e-12);
    CHECK_NEAR(num(j, "median_e2el_ms"), 2.5, 1e-12);
    CHECK_NEAR(num(j, "std_e2el_ms"), 3.5355339059327378, 1e-12);
    CHECK_NEAR(num(j, "p90_e2el_ms"), 7.9, 1e-12);
    CHECK_NEAR(num(j, "p99_e2el_ms"), 9.79, 1e-12);
    CHECK(is_null(j, "trace_rate"));
    cJSON_Delete(j);
    summary_free(s);

    /* one value: every statistic is that value, std 0 */
    s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 5 * MS, 1234567, 1234567, 7654321, 1, ""), 0);
    j = summary_json(s);
    CHECK_NEAR(num(j, "mean_ttft_ms"), 1.234567, 1e-15);
    CHECK_NEAR(num(j, "median_ttft_ms"), 1.234567, 1e-15);
    CHECK_NEAR(num(j, "p99_ttft_ms"), 1.234567, 1e-15);
    CHECK_NEAR(num(j, "std_ttft_ms"), 0, 0);
    CHECK_NEAR(num(j, "p90_e2el_ms"), 7.654321, 1e-15);
    cJSON_Delete(j);
    summary_free(s);

    /* 101 values 0..100 ms: p90 = 90, p99 = 99 exactly, median 50 */
    s = new_summary(0, 0, 0, 0);
    for (int i = 100; i >= 0; i--) CHECK_INT(add_ok(s, i, 0, 0, i * MS, i * MS, i * MS, 1, ""), 0);
    j = summary_json(s);
    CHECK_NEAR(num(j, "p90_ttft_ms"), 90, 1e-12);
    CHECK_NEAR(num(j, "p99_ttft_ms"), 99, 1e-12);
    CHECK_NEAR(num(j, "median_ttft_ms"), 50, 1e-12);
    /* population std of 0..100 = sqrt((101^2 - 1)/12) = 29.154759474226502 */
    CHECK_NEAR(num(j, "std_ttft_ms"), 29.154759474226502, 1e-9);
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_itl_split_by_gap_tokens)
{
    /* gaps [10, 5, 15] ms carrying [2, 0, 3] tokens: 5, 5, then the 5 ms gap
     * with no token joins the next: (5 + 15)/3 = 6.667 x3. A trailing gap of
     * 7 ms with no token is left out. 5 values: sorted 5, 5, 6.667 x3.
     * mean (10 + 20)/5 = 6, median 6.667, p90 6.667 */
    summary *s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 1 * MS, 37 * MS, 40 * MS, 6,
                     ",\"gaps_ns\":[10000000,5000000,15000000,7000000],\"gap_tokens\":[2,0,3,0]"), 0);
    cJSON *j = summary_json(s);
    CHECK_NEAR(num(j, "mean_itl_ms"), 6, 1e-12);
    CHECK_NEAR(num(j, "median_itl_ms"), 20.0 / 3, 1e-12);
    CHECK_NEAR(num(j, "p90_itl_ms"), 20.0 / 3, 1e-12);
    CHECK_NEAR(num(j, "p99_itl_ms"), 20.0 / 3, 1e-12);
    CHECK_STR(str(j, "itl_basis"), "tokens");
    /* TPOT: (37 - 1) / (6 - 1) = 7.2 */
    CHECK_NEAR(num(j, "mean_tpot_ms"), 7.2, 1e-12);
    cJSON_Delete(j);
    summary_free(s);

    /* the same gaps without gap_tokens: one value per chunk gap */
    s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 1 * MS, 37 * MS, 40 * MS, 6,
                     ",\"gaps_ns\":[10000000,5000000,15000000,7000000]"), 0);
    j = summary_json(s);
    CHECK_NEAR(num(j, "mean_itl_ms"), 9.25, 1e-12);    /* 37 / 4 */
    CHECK_NEAR(num(j, "median_itl_ms"), 8.5, 1e-12);   /* (7 + 10) / 2 */
    CHECK_STR(str(j, "itl_basis"), "chunk");
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_tpot_only_above_one_token)
{
    summary *s = new_summary(0, 50, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 5 * MS, 5 * MS, 6 * MS, 1, ""), 0);
    CHECK_INT(add(s, "{\"ok\":true,\"t_send_ns\":0,\"t_first_token_ns\":null,\"t_last_token_ns\":null,"
                     "\"t_end_ns\":3000000,\"output_tokens\":0}"), 0);
    cJSON *j = summary_json(s);
    CHECK(is_null(j, "mean_tpot_ms"));
    CHECK(is_null(j, "p99_tpot_ms"));
    CHECK(is_null(j, "mean_itl_ms"));
    CHECK_NEAR(num(j, "mean_ttft_ms"), 5, 1e-12); /* the request with no token has no TTFT */
    CHECK_NEAR(num(j, "mean_e2el_ms"), 4.5, 1e-12);
    /* both meet the TPOT SLO (they have no TPOT): 2 requests over 6 ms */
    CHECK_NEAR(num(j, "request_goodput"), 2 / 0.006, 1e-9);
    cJSON_Delete(j);
    summary_free(s);
    /* with a TTFT SLO, the request with no first token fails it */
    s = new_summary(100, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 5 * MS, 5 * MS, 6 * MS, 1, ""), 0);
    CHECK_INT(add(s, "{\"ok\":true,\"t_send_ns\":0,\"t_end_ns\":3000000,\"output_tokens\":0}"), 0);
    cJSON *j2 = summary_json(s);
    CHECK_NEAR(num(j2, "request_goodput"), 1 / 0.006, 1e-9);
    cJSON_Delete(j2);
    summary_free(s);
}

TEST(summary_failed_requests_and_error_classes)
{
    summary *s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_failed(s, 0, 0, 10, 5, "connect"), 0);
    CHECK_INT(add_failed(s, 1, 0, 20, 5, "connect"), 0);
    CHECK_INT(add_failed(s, 2, 0, 30, 5, "stream_error"), 0);
    CHECK_INT(add(s, "{\"ok\":false,\"t_send_ns\":null,\"t_end_ns\":100,\"error\":null}"), 0);
    CHECK_INT(add(s, "{\"ok\":false,\"warmup\":true,\"error\":{\"class\":\"timeout\"}}"), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "completed"), 0);
    CHECK_INT(num(j, "failed"), 4);
    CHECK_INT(num(j, "warmup_excluded"), 1);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "errors");
    CHECK_INT(cJSON_GetArraySize(e), 3);
    CHECK_INT(num(e, "connect"), 2);
    CHECK_INT(num(e, "stream_error"), 1);
    CHECK_INT(num(e, "unknown"), 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(e, "timeout") == NULL);
    /* no completed request: latencies null, throughput 0 over a real duration
     * (first send 10 ns, last end 35 ns) */
    CHECK(is_null(j, "mean_ttft_ms"));
    CHECK(is_null(j, "mean_e2el_ms"));
    CHECK_NEAR(num(j, "duration"), 25e-9, 1e-20);
    CHECK_NEAR(num(j, "request_throughput"), 0, 0);
    CHECK(is_null(j, "token_source"));
    CHECK(is_null(j, "input_token_source"));
    CHECK_INT(num(j, "max_concurrency"), 1); /* [10,15) [20,25) [30,35) */
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_warmup_excluded_everywhere)
{
    summary *s = new_summary(0, 0, 0, 0);
    /* a warm-up request overlapping the measured one, much earlier and slower */
    CHECK_INT(add(s, "{\"warmup\":true,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":900000000,"
                     "\"t_first_token_ns\":1900000000,\"t_last_token_ns\":1900000000,"
                     "\"t_end_ns\":3000000000,\"output_tokens\":1}"), 0);
    CHECK_INT(add_ok(s, 1, 1000 * MS, 1000 * MS, 10 * MS, 10 * MS, 20 * MS, 1, ",\"prompt_tokens\":3"), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "completed"), 1);
    CHECK_INT(num(j, "warmup_excluded"), 1);
    CHECK_NEAR(num(j, "duration"), 0.02, 1e-15);
    CHECK_NEAR(num(j, "mean_ttft_ms"), 10, 1e-12);
    CHECK_NEAR(num(j, "send_lag_max_us"), 0, 0);
    CHECK_INT(num(j, "max_concurrency"), 1);
    CHECK_INT(num(j, "total_input_tokens"), 3);
    CHECK_STR(str(j, "input_token_source"), "server");
    CHECK(is_null(j, "achieved_rate")); /* one send: no rate */
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_max_concurrency_sweep)
{
    /* back-to-back intervals [0,10) [10,20) [20,30): an end at the instant of
     * a send is taken first, so never more than 1 */
    summary *s = new_summary(0, 0, 0, 0);
    for (int i = 0; i < 3; i++) CHECK_INT(add_ok(s, i, 0, i * 10, 0, 0, 10, 1, ""), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "max_concurrency"), 1);
    cJSON_Delete(j);
    /* nested and staggered: [0,100) [5,50) [6,7) [7,60) [49,51) [100,200):
     * at 49: [0,100) [5,50) [7,60) [49,51) = 4 */
    const long long iv[][2] = { { 100, 200 }, { 0, 100 }, { 5, 50 }, { 6, 7 }, { 7, 60 }, { 49, 51 } };
    for (int i = 0; i < 6; i++)
        CHECK_INT(add_ok(s, 10 + i, 1000, 1000 + iv[i][0], 0, 0, iv[i][1] - iv[i][0], 1, ""), 0);
    j = summary_json(s);
    CHECK_INT(num(j, "max_concurrency"), 4);
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_empty)
{
    summary *s = new_summary(10, 0, 0, 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "completed"), 0);
    CHECK_INT(num(j, "failed"), 0);
    CHECK(is_null(j, "duration"));
    CHECK(is_null(j, "request_throughput"));
    CHECK(is_null(j, "request_goodput"));
    CHECK(is_null(j, "p99_itl_ms"));
    CHECK(is_null(j, "send_lag_p50_us"));
    CHECK_INT(num(j, "max_concurrency"), 0);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "errors")), 0);
    /* every documented key is there */
    const char *keys[] = { "completed", "failed", "duration", "total_input_tokens",
        "total_output_tokens", "request_throughput", "output_throughput", "total_token_throughput",
        "request_goodput", "send_lag_p50_us", "send_lag_p99_us", "send_lag_max_us", "achieved_rate",
        "trace_rate", "max_concurrency", "errors", "token_source", "itl_basis", "input_token_source",
        "warmup_excluded", "forced_outputs", "short_outputs", "short_output_tokens_missing",
        "percentiles", "percentile_error_bound" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(j, keys[i])) unit_fail(__FILE__, __LINE__, "no key %s", keys[i]);
    const char *xs[] = { "ttft", "tpot", "itl", "e2el" }, *st[] = { "mean", "median", "std", "p90", "p99" };
    for (int x = 0; x < 4; x++) {
        for (int k = 0; k < 5; k++) {
            char key[48];
            snprintf(key, sizeof key, "%s_%s_ms", st[k], xs[x]);
            if (!cJSON_GetObjectItemCaseSensitive(j, key)) unit_fail(__FILE__, __LINE__, "no key %s", key);
        }
    }
    CHECK_INT(cJSON_GetArraySize(j), 25 + 20); /* no engine view without engine data */
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(j, "percentiles")->valuestring, "exact");
    CHECK_INT(num(j, "percentile_error_bound"), 0);
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_input_token_sources)
{
    summary *s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 1, 1, 2, 1, ",\"input_tokens\":7"), 0);
    CHECK_INT(add_ok(s, 1, 0, 0, 1, 1, 2, 1, ",\"prompt_tokens\":null,\"input_tokens\":8"), 0);
    CHECK_INT(add_failed(s, 2, 0, 0, 2, "timeout"), 0); /* failed: not counted */
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "total_input_tokens"), 15);
    CHECK_STR(str(j, "input_token_source"), "trace");
    cJSON_Delete(j);
    summary_free(s);
    s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 1, 1, 2, 1, ",\"token_source\":\"chunks\""), 0);
    j = summary_json(s);
    CHECK_INT(num(j, "total_input_tokens"), 0);
    CHECK_STR(str(j, "input_token_source"), "none");
    CHECK_STR(str(j, "token_source"), "chunks");
    cJSON_Delete(j);
    CHECK_INT(add_ok(s, 1, 0, 0, 1, 1, 2, 1, ",\"token_source\":\"usage\""), 0);
    j = summary_json(s);
    CHECK_STR(str(j, "token_source"), "mixed");
    cJSON_Delete(j);
    summary_free(s);
}

TEST(summary_rejects_malformed_records)
{
    summary *s = new_summary(0, 0, 0, 0);
    struct { const char *json, *msg; } bad[] = {
        { "[1]", "expected a JSON object" },
        { "{\"index\":7}", "request index 7: field \"ok\": missing" },
        { "{\"index\":7,\"ok\":1}", "field \"ok\": expected true or false, got a number" },
        { "{\"index\":7,\"ok\":true,\"t_send_ns\":\"5\",\"t_end_ns\":9,\"output_tokens\":1}",
          "field \"t_send_ns\": expected an integer, got a string" },
        { "{\"ok\":true,\"t_send_ns\":1.5,\"t_end_ns\":9,\"output_tokens\":1}",
          "record 1: field \"t_send_ns\": expected an integer" },
        { "{\"ok\":true,\"t_send_ns\":1,\"output_tokens\":1}", "field \"t_end_ns\": missing" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":9,\"output_tokens\":1}", "t_end_ns (9) is before t_send_ns (10)" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":-1}", "expected an integer >= 0" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":3}",
          "output_tokens is 3 but t_first_token_ns or t_last_token_ns is null" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"gaps_ns\":[1,2],\"gap_tokens\":[1]}",
          "gap_tokens has 1 entries, gaps_ns 2" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"gaps_ns\":[1],\"gap_tokens\":[5]}",
          "gap_tokens add up to more than output_tokens" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"gaps_ns\":[50,50]}",
          "gaps_ns add up to more than" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"gaps_ns\":[1,-2]}",
          "gaps_ns[1]: expected an integer >= 0" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"itl_basis\":\"tokens\"}",
          "\"itl_basis\" is \"tokens\" but gap_tokens is missing" },
        { "{\"ok\":true,\"t_send_ns\":10,\"t_end_ns\":90,\"output_tokens\":1,\"token_source\":\"words\"}",
          "field \"token_source\": expected \"usage\" or \"chunks\"" },
        { "{\"ok\":false,\"error\":\"boom\"}", "field \"error\": expected an object or null" },
        { "{\"ok\":true,\"warmup\":\"no\"}", "field \"warmup\": expected true or false" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (add(s, bad[i].json) != ERR_INPUT) unit_fail(__FILE__, __LINE__, "accepted: %s", bad[i].json);
        else if (!strstr(summary_error(s), bad[i].msg))
            unit_fail(__FILE__, __LINE__, "message \"%s\", expected \"%s\"", summary_error(s), bad[i].msg);
    }
    /* nothing was counted */
    CHECK_INT(summary_records(s), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "completed") + num(j, "failed"), 0);
    CHECK(is_null(j, "duration"));
    cJSON_Delete(j);
    /* a good record clears the message */
    CHECK_INT(add_ok(s, 0, 0, 0, 1, 1, 2, 1, ""), 0);
    CHECK_STR(summary_error(s), "");
    summary_free(s);
}

TEST(summary_options_checked)
{
    char err[256];
    summary_opts o = { -1, 0, 0, 0, SUMMARY_GROUP_NONE, 0, 0 };
    CHECK(summary_new(&o, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "ttft SLO");
    o.slo_ttft_ms = NAN;
    CHECK(summary_new(&o, err, sizeof err) == NULL);
    o.slo_ttft_ms = 0;
    o.group_by = SUMMARY_GROUP_MODEL;
    CHECK(summary_new(&o, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "grouping");
    summary *s = summary_new(NULL, err, sizeof err);
    CHECK(s != NULL);
    summary_free(s);
    summary_free(NULL);
}

TEST(summary_from_file_matches_records)
{
    char path[512];
    snprintf(path, sizeof path, "%s/requests.jsonl", unit_tmpdir());
    unit_write_text(path,
               "{\"index\":0,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":1000,\"t_first_token_ns\":3001000,"
               "\"t_last_token_ns\":9001000,\"t_end_ns\":9501000,\"output_tokens\":4,\"prompt_tokens\":9,"
               "\"gaps_ns\":[2000000,2000000,2000000],\"token_source\":\"usage\",\"itl_basis\":\"chunk\"}\n"
               "\n"
               "{\"index\":1,\"ok\":false,\"t_sched_ns\":1000000,\"t_send_ns\":1000500,\"t_end_ns\":2000000,"
               "\"error\":{\"class\":\"http_4xx\",\"message\":\"bad\"}}\r\n");
    summary_opts o = { 0, 0, 0, 2.5, SUMMARY_GROUP_NONE, 0, 0 };
    char err[512] = "";
    summary *s = summary_from_file(path, &o, err, sizeof err);
    REQUIRE(s != NULL);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "completed"), 1);
    CHECK_INT(num(j, "failed"), 1);
    CHECK_NEAR(num(j, "duration"), 0.0095, 1e-15);  /* 1000 ns .. 9501000 ns */
    CHECK_NEAR(num(j, "mean_ttft_ms"), 3, 1e-12);
    CHECK_NEAR(num(j, "mean_tpot_ms"), 2, 1e-12);   /* 6 ms / 3 */
    CHECK_NEAR(num(j, "p99_itl_ms"), 2, 1e-12);
    CHECK_NEAR(num(j, "send_lag_max_us"), 1, 1e-12); /* 1000 ns and 500 ns */
    CHECK_NEAR(num(j, "send_lag_p50_us"), 0.75, 1e-12);
    CHECK_NEAR(num(j, "trace_rate"), 2.5, 0);
    CHECK_INT(num(j, "max_concurrency"), 2);
    /* byte-identical to feeding the same records one by one */
    summary *s2 = new_summary(0, 0, 0, 2.5);
    CHECK_INT(add(s2, "{\"index\":0,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":1000,\"t_first_token_ns\":3001000,"
                      "\"t_last_token_ns\":9001000,\"t_end_ns\":9501000,\"output_tokens\":4,\"prompt_tokens\":9,"
                      "\"gaps_ns\":[2000000,2000000,2000000],\"token_source\":\"usage\",\"itl_basis\":\"chunk\"}"), 0);
    CHECK_INT(add(s2, "{\"index\":1,\"ok\":false,\"t_sched_ns\":1000000,\"t_send_ns\":1000500,"
                      "\"t_end_ns\":2000000,\"error\":{\"class\":\"http_4xx\",\"message\":\"bad\"}}"), 0);
    cJSON *j2 = summary_json(s2);
    char *a = cJSON_PrintUnformatted(j), *b = cJSON_PrintUnformatted(j2);
    CHECK_STR(a, b);
    free(a);
    free(b);
    cJSON_Delete(j2);
    summary_free(s2);
    cJSON_Delete(j);
    summary_free(s);

    /* errors name the file and the line */
    unit_write_text(path, "{\"ok\":false}\n{\"ok\":true,\"t_send_ns\":\"x\"}\n");
    CHECK(summary_from_file(path, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "requests.jsonl:2: record 2: field \"t_send_ns\"");
    unit_write_text(path, "{\"ok\":false}\n\n{\"ok\":false} x\n");
    CHECK(summary_from_file(path, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "requests.jsonl:3: not a valid JSON object");
    unit_write_text(path, "{\"ok\":false,\n");
    CHECK(summary_from_file(path, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "requests.jsonl:1: not a valid JSON object");
    snprintf(path, sizeof path, "%s/missing.jsonl", unit_tmpdir());
    CHECK(summary_from_file(path, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "missing.jsonl: cannot open");
}

/* A response whose tokens all came in one event (an in-process engine that
 * only has generate(), a non-streamed answer) has no measurable TPOT: it
 * is left out, never counted as 0. */
TEST(summary_tpot_not_measured_for_one_event)
{
    summary *s = new_summary(0, 0, 0, 0);
    /* 44 tokens in one event at 118 ms: t_first == t_last */
    CHECK_INT(add_ok(s, 0, 0, 0, 118 * MS, 118 * MS, 118 * MS, 44, ",\"events\":1"), 0);
    /* an older log without "events": t_first == t_last says the same */
    CHECK_INT(add_ok(s, 1, 0, 0, 100 * MS, 100 * MS, 101 * MS, 10, ""), 0);
    cJSON *j = summary_json(s);
    CHECK(is_null(j, "mean_tpot_ms"));
    CHECK(is_null(j, "median_tpot_ms"));
    CHECK(is_null(j, "p99_tpot_ms"));
    cJSON_Delete(j);
    /* events says 1 even though the times differ: still not measured */
    CHECK_INT(add_ok(s, 2, 0, 0, 10 * MS, 20 * MS, 30 * MS, 5, ",\"events\":1"), 0);
    /* two events: measured, (20 - 10) / (3 - 1) = 5 ms */
    CHECK_INT(add_ok(s, 3, 0, 0, 10 * MS, 20 * MS, 30 * MS, 3, ",\"events\":2"), 0);
    j = summary_json(s);
    CHECK_NEAR(num(j, "mean_tpot_ms"), 5, 1e-12);
    CHECK_NEAR(num(j, "p99_tpot_ms"), 5, 1e-12);
    cJSON_Delete(j);
    CHECK_NEAR(summary_tpot_ns(11, 10, 1, 10, 110), 10, 1e-12);
    CHECK(summary_tpot_ns(11, 1, 1, 10, 110) < 0);
    CHECK(summary_tpot_ns(1, 1, -1, 10, 10) < 0);
    CHECK(summary_tpot_ns(11, -1, 1, 10, 10) < 0);
    /* n = 2 choices of 11 tokens each: the gap is over one choice's 10. */
    CHECK_NEAR(summary_tpot_ns(22, 20, 2, 10, 110), 10, 1e-12);
    CHECK(summary_tpot_ns(2, 2, 2, 10, 110) < 0);
    summary_free(s);
}

/* The engine's own account, as an in-process engine reports it: engine
 * TTFT from queued to first token, TPOT from the decode time, queue,
 * prefill and decode. Times in ms:
 *   A  queued 1, scheduled 3, first 12.6, finished 118; 44 tokens
 *      ttft 11.6, queue 2, prefill 9.6, decode 105.4, tpot 105.4/43
 *   B  queue_ns 4, prefill_ns 6, decode_ns 20 given, no absolute times;
 *      3 tokens: tpot 10, no ttft
 *   C  no engine object: not in the engine view */
TEST(summary_engine_view)
{
    summary *s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 118 * MS, 118 * MS, 118 * MS, 44,
                     ",\"events\":1,\"engine\":{\"clock\":\"monotonic\",\"t_queued_ns\":1000000,"
                     "\"t_scheduled_ns\":3000000,\"t_first_token_ns\":12600000,\"t_finished_ns\":118000000,"
                     "\"queue_ns\":null,\"prefill_ns\":null,\"decode_ns\":null}"), 0);
    CHECK_INT(add_ok(s, 1, 0, 0, 50 * MS, 60 * MS, 70 * MS, 3,
                     ",\"engine\":{\"t_queued_ns\":null,\"queue_ns\":4000000,\"prefill_ns\":6000000,"
                     "\"decode_ns\":20000000}"), 0);
    CHECK_INT(add_ok(s, 2, 0, 0, 5 * MS, 7 * MS, 8 * MS, 3, ""), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "engine_requests"), 2);
    CHECK_NEAR(num(j, "mean_engine_ttft_ms"), 11.6, 1e-9);
    CHECK_NEAR(num(j, "p99_engine_ttft_ms"), 11.6, 1e-9);
    CHECK_NEAR(num(j, "mean_engine_queue_ms"), 3, 1e-9);      /* 2 and 4 */
    CHECK_NEAR(num(j, "median_engine_prefill_ms"), 7.8, 1e-9); /* 9.6 and 6 */
    CHECK_NEAR(num(j, "mean_engine_decode_ms"), (105.4 + 20) / 2, 1e-9);
    CHECK_NEAR(num(j, "mean_engine_tpot_ms"), (105.4 / 43 + 10) / 2, 1e-9);
    /* p90 of {2.4512.., 10}: 2.4512 + 0.9 * (10 - 2.4512) */
    CHECK_NEAR(num(j, "p90_engine_tpot_ms"), 105.4 / 43 + 0.9 * (10 - 105.4 / 43), 1e-9);
    /* the client's view is untouched: TTFT of A is 118 ms, its TPOT not measured */
    CHECK_NEAR(num(j, "median_ttft_ms"), 50, 1e-12);
    CHECK_NEAR(num(j, "mean_tpot_ms"), (5 + 1) / 2.0, 1e-12); /* B (10/2) and C (2/2) */
    cJSON_Delete(j);
    summary_free(s);

    /* without engine objects there are no engine keys at all */
    s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 5 * MS, 7 * MS, 8 * MS, 3, ",\"engine\":null"), 0);
    j = summary_json(s);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "engine_requests") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "mean_engine_ttft_ms") == NULL);
    cJSON_Delete(j);
    /* a malformed engine member is named */
    CHECK_INT(add_ok(s, 1, 0, 0, 5 * MS, 7 * MS, 8 * MS, 3, ",\"engine\":{\"queue_ns\":\"x\"}"), ERR_INPUT);
    CHECK_CONTAINS(summary_error(s), "engine.queue_ns");
    CHECK_INT(add_ok(s, 1, 0, 0, 5 * MS, 7 * MS, 8 * MS, 3, ",\"engine\":[1]"), ERR_INPUT);
    summary_free(s);
}

/* Forced output lengths that came back short (a gateway dropped
 * ignore_eos / min_tokens): counted over completed requests whose token
 * count is the server's; chunk counts and failed requests are left out. */
TEST(summary_short_outputs)
{
    summary *s = new_summary(0, 0, 0, 0);
    CHECK_INT(add_ok(s, 0, 0, 0, 5 * MS, 7 * MS, 8 * MS, 3, ""), 0);
    cJSON *j = summary_json(s);
    CHECK_INT(num(j, "forced_outputs"), 0);
    CHECK(is_null(j, "short_outputs"));
    CHECK(is_null(j, "short_output_tokens_missing"));
    cJSON_Delete(j);
    CHECK_INT(add_ok(s, 1, 0, 0, 5 * MS, 7 * MS, 8 * MS, 100,
                     ",\"forced_output_tokens\":100,\"token_source\":\"usage\""), 0);
    CHECK_INT(add_ok(s, 2, 0, 0, 5 * MS, 7 * MS, 8 * MS, 40, ",\"forced_output_tokens\":100"), 0);
    CHECK_INT(add_ok(s, 3, 0, 0, 5 * MS, 7 * MS, 8 * MS, 7,
                     ",\"forced_output_tokens\":10,\"token_source\":\"usage\""), 0);
    CHECK_INT(add_ok(s, 4, 0, 0, 5 * MS, 7 * MS, 8 * MS, 5,
                     ",\"forced_output_tokens\":10,\"token_source\":\"chunks\""), 0);
    CHECK_INT(add_failed(s, 5, 0, 0, 8 * MS, "http_5xx"), 0);
    j = summary_json(s);
    CHECK_INT(num(j, "forced_outputs"), 3);   /* 1, 2, 3: the chunk count of 4 is not compared */
    CHECK_INT(num(j, "short_outputs"), 2);    /* 2 and 3 */
    CHECK_INT(num(j, "short_output_tokens_missing"), 63);
    cJSON_Delete(j);
    CHECK_INT(add_ok(s, 6, 0, 0, 5 * MS, 7 * MS, 8 * MS, 5, ",\"forced_output_tokens\":-1"), ERR_INPUT);
    summary_free(s);
}
