/* test_report.c — unit tests for the report side of analysis/: the shared
 * order statistics (stats.c), loading a run (runlog.c), per-group
 * summaries (groups.c), the time series (timeseries.c), the report
 * document and its printing (report.c, table.c). The fixture
 * tests/data/runs/basic has answers computed by hand below.
 *
 * The basic fixture (times in ms; lag in us; every request index i):
 *   0  warm-up (left out)
 *   1  sched 0,      lag 100, ttft 10, 11 tokens, last +100 (tpot 10), e2e 120, m1 chat s1, prompt 100,
 *      ten 10 ms chunk gaps
 *   2  sched 100,    lag 200, ttft 20,  1 token (no tpot),              e2e 30,  m1 chat s1, prompt 50
 *   3  sched 200,    lag 300, ttft 30,  5 tokens, last +80 (tpot 20),   e2e 120, m2 completions s2,
 *      prompt null, input_tokens 70, gaps [20, 60] carrying [1, 3] tokens: ITL 20 x4
 *   4  sched 300,    lag 400, ttft 40,  3 tokens, last +60 (tpot 30),   e2e 110, m2 chat (no session),
 *      prompt 200, gaps [30, 30]
 *   5  failed http_5xx, sched 400, lag 500, e2e 50, m1 chat
 *   6  failed timeout, sched 61000, lag 2000, e2e 1000, m1 chat
 *   7  sched 61100,  lag 100, ttft 50,  2 tokens, last +40 (tpot 40),   e2e 100, m2 chat s2, prompt 30
 * run.json: trace_rate 10, not_sent 1, and the command's --slo ttft=35ms,e2el=115ms. */
#include "tests/unit/unit.h"
#include "analysis/groups.h"
#include "analysis/report.h"
#include "analysis/runlog.h"
#include "analysis/stats.h"
#include "analysis/table.h"
#include "analysis/timeseries.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#define BASIC "tests/data/runs/basic"

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

static runlog *open_basic(const runlog_opts *o)
{
    char err[512] = "";
    int rc = 99;
    runlog *r = runlog_open(BASIC, o, &rc, err, sizeof err);
    if (!r) unit_fail(__FILE__, __LINE__, "runlog_open: %s", err);
    else CHECK_INT(rc, 0);
    return r;
}

/* Prints into a string (caller frees). */
static char *capture(void (*fn)(const cJSON *, table_format, FILE *), const cJSON *doc, table_format f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    fn(doc, f, m);
    fclose(m);
    return buf;
}

TEST(report_stats_are_numpys)
{
    /* {1, 2, 3, 10}: numpy.percentile 90: v = 2.7 -> 3 + 7 * 0.7 = 7.9;
     * 50: v = 1.5 -> 2 + 1 * 0.5 = 2.5; median (2 + 3) / 2 = 2.5; 100: 10 */
    double x[] = { 10, 3, 1, 2 };
    stats_sort(x, 4);
    CHECK_NEAR(x[0], 1, 0);
    CHECK_NEAR(stats_percentile(x, 4, 90), 7.9, 1e-12);
    CHECK_NEAR(stats_percentile(x, 4, 50), 2.5, 0);
    CHECK_NEAR(stats_percentile(x, 4, 100), 10, 0);
    CHECK_NEAR(stats_percentile(x, 4, 0), 1, 0);
    CHECK_NEAR(stats_median(x, 4), 2.5, 0);
    CHECK_NEAR(stats_median(x, 3), 2, 0);
    CHECK_NEAR(stats_mean(x, 4), 4, 1e-15);
    CHECK_NEAR(stats_std(x, 4, 4), sqrt(50.0 / 4), 1e-12); /* 9 + 4 + 1 + 36 */
    size_t lo;
    double g;
    stats_rank(4, 100, &lo, &g);
    CHECK_INT(lo, 3);
    CHECK_NEAR(g, 0, 0);
    stats_rank(4, 90, &lo, &g);
    CHECK_INT(lo, 2);
    CHECK_NEAR(g, 0.7, 1e-12);
    /* numpy's lerp: from the upper value when g >= 0.5 */
    CHECK_NEAR(stats_lerp(3, 10, 0.7), 10 - 7 * (1.0 - 0.7), 0);
    CHECK_NEAR(stats_lerp(3, 10, 0.2), 3 + 7 * 0.2, 0);
    stats_vec v = {0};
    for (int i = 0; i < 1000; i++) stats_vec_push(&v, i);
    CHECK_INT(v.n, 1000);
    CHECK_NEAR(v.v[999], 999, 0);
    stats_vec_free(&v);
    CHECK(v.v == NULL && v.n == 0);
}

TEST(report_runlog_reads_the_fixture)
{
    runlog *r = open_basic(NULL);
    REQUIRE(r);
    CHECK_INT(r->nreqs, 7);          /* the warm-up request is left out */
    CHECK_STR(r->slo_source, "run.json");
    CHECK_NEAR(r->so.slo_ttft_ms, 35, 0);
    CHECK_NEAR(r->so.slo_e2el_ms, 115, 0);
    CHECK_NEAR(r->so.slo_tpot_ms, 0, 0);
    CHECK_NEAR(r->so.trace_rate, 10, 0);
    CHECK(r->manifest != NULL);
    CHECK(r->saved_summary == NULL);
    CHECK_STR(runlog_manifest_str(r, "client"), "vllm");
    CHECK_CONTAINS(r->log_path, "basic/requests.jsonl");
    CHECK_INT(r->nmsgs, 2);
    CHECK_STR(r->msgs[0].cls, "http_5xx");  /* equal counts: by class */
    CHECK_STR(r->msgs[0].message, "engine overloaded");
    /* rows: request 3 (log order: index 2 first, as written) */
    int found = 0;
    for (size_t i = 0; i < r->nreqs; i++) {
        const runlog_req *q = &r->reqs[i];
        if (q->index != 3) continue;
        found = 1;
        CHECK_INT(q->t_sched, 200000000);
        CHECK_INT(q->t_send, 200300000);
        CHECK_INT(q->t_first - q->t_send, 30000000);
        CHECK_NEAR(q->tpot_ns, 20e6, 0);
        CHECK(q->ok);
    }
    CHECK(found);
    cJSON *s = runlog_summary_json(r);
    CHECK_INT(num(s, "completed"), 5);
    CHECK_INT(num(s, "failed"), 2);
    CHECK_INT(num(s, "not_sent"), 1);      /* from run.json, as replay adds it */
    CHECK_NEAR(num(s, "duration"), 62.0019, 1e-12);
    /* goodput with the run's own SLO: only request 2 meets ttft <= 35 and e2el <= 115 */
    CHECK_NEAR(num(s, "request_goodput"), 1 / 62.0019, 1e-15);
    CHECK_NEAR(num(s, "median_ttft_ms"), 30, 0);
    CHECK_NEAR(num(s, "p90_ttft_ms"), 46, 1e-12);         /* v = 3.6: 40 + 10 * 0.6 */
    CHECK_NEAR(num(s, "p99_tpot_ms"), 39.7, 1e-12);       /* {10,20,30,40}, v = 2.97 */
    CHECK_NEAR(num(s, "p99_itl_ms"), 38.4, 1e-12);        /* 10 x10, 20 x4, 30 x2, 40: v = 15.84 */
    CHECK_NEAR(num(s, "median_e2el_ms"), 110, 0);
    CHECK_NEAR(num(s, "send_lag_p99_us"), 1910, 1e-9);    /* {100,100,200,300,400,500,2000}, v = 5.94 */
    CHECK_INT(num(s, "max_concurrency"), 2);
    CHECK_INT(num(s, "total_input_tokens"), 450);
    CHECK_INT(num(s, "warmup_excluded"), 1);
    cJSON_Delete(s);
    runlog_free(r);
    runlog_free(NULL);
}

TEST(report_runlog_options)
{
    /* --slo on the command line wins; --slo none means none */
    runlog_opts o;
    memset(&o, 0, sizeof o);
    o.slo_given = 1;
    runlog *r = open_basic(&o);
    REQUIRE(r);
    CHECK_STR(r->slo_source, "none");
    cJSON *s = runlog_summary_json(r);
    CHECK(obj(s, "request_goodput") == NULL);
    cJSON_Delete(s);
    runlog_free(r);

    char err[256];
    CHECK_INT(runlog_parse_slo("ttft=200ms,tpot=50ms,e2e=5s", &o.sum, err, sizeof err), 0);
    CHECK_NEAR(o.sum.slo_ttft_ms, 200, 0);
    CHECK_NEAR(o.sum.slo_tpot_ms, 50, 0);
    CHECK_NEAR(o.sum.slo_e2el_ms, 5000, 0);
    CHECK_INT(runlog_parse_slo("ttft", &o.sum, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "NAME=TIME");
    CHECK_INT(runlog_parse_slo("itl=5ms", &o.sum, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "unknown metric 'itl'");
    CHECK_INT(runlog_parse_slo("ttft=0ms", &o.sum, err, sizeof err), ERR_USAGE);
    CHECK_INT(runlog_parse_slo("", &o.sum, err, sizeof err), ERR_USAGE);

    /* ttft <= 25: requests 1 and 2 */
    memset(&o, 0, sizeof o);
    runlog_parse_slo("ttft=25ms", &o.sum, err, sizeof err);
    r = open_basic(&o);
    REQUIRE(r);
    CHECK_STR(r->slo_source, "command line");
    s = runlog_summary_json(r);
    CHECK_NEAR(num(s, "request_goodput"), 2 / 62.0019, 1e-15);
    cJSON_Delete(s);
    runlog_free(r);

    /* --exclude-warmup=3: indices 1 and 2 join the warm-up */
    memset(&o, 0, sizeof o);
    o.exclude_first = 3;
    r = open_basic(&o);
    REQUIRE(r);
    CHECK_INT(r->nreqs, 5);
    s = runlog_summary_json(r);
    CHECK_INT(num(s, "warmup_excluded"), 3);
    CHECK_NEAR(num(s, "median_ttft_ms"), 40, 0); /* {30, 40, 50} */
    cJSON_Delete(s);
    runlog_free(r);
    /* --exclude-warmup=61s: only 6 and 7 (scheduled at 61 s and later) stay */
    memset(&o, 0, sizeof o);
    o.exclude_before_ns = 61000000000LL;
    r = open_basic(&o);
    REQUIRE(r);
    CHECK_INT(r->nreqs, 2);
    runlog_free(r);
}

TEST(report_runlog_errors)
{
    char err[512];
    int rc;
    CHECK(runlog_open("tests/data/runs/bad", NULL, &rc, err, sizeof err) == NULL);
    CHECK_INT(rc, ERR_INPUT);
    CHECK_CONTAINS(err, "bad/requests.jsonl:2: request index 2: field \"t_end_ns\"");
    CHECK(runlog_open("tests/data/runs/no-such-run", NULL, &rc, err, sizeof err) == NULL);
    CHECK_INT(rc, ERR_SYSTEM);
    CHECK_CONTAINS(err, "no-such-run: cannot open");

    /* a malformed run.json is bad input; a log given as a file finds run.json beside it */
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/badmanifest", unit_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"index\":0,\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2,\"error\":{\"class\":\"connect\"}}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/run.json", dir);
    f = fopen(path, "w");
    fputs("{\"trace_rate\": 3,", f);
    fclose(f);
    CHECK(runlog_open(dir, NULL, &rc, err, sizeof err) == NULL);
    CHECK_INT(rc, ERR_INPUT);
    CHECK_CONTAINS(err, "run.json: not a JSON object");
    f = fopen(path, "w");
    fputs("{\"trace_rate\": 3, \"not_sent\": 4}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    runlog *r = runlog_open(path, NULL, &rc, err, sizeof err);
    REQUIRE(r);
    CHECK_NEAR(r->so.trace_rate, 3, 0);
    CHECK_STR(r->dir, dir);
    cJSON *s = runlog_summary_json(r);
    CHECK_INT(num(s, "not_sent"), 4);
    CHECK_INT(num(s, "failed"), 1);
    cJSON_Delete(s);
    runlog_free(r);
}

/* The group row named key in a groups_json array, or NULL. */
static const cJSON *group_row(const cJSON *rows, const char *key)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, rows)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(g, "group")->valuestring, key)) return g;
    return NULL;
}

TEST(report_groups_by_each_key)
{
    summary_group by;
    CHECK_INT(groups_parse_by("session", &by), 0);
    CHECK_INT(by, SUMMARY_GROUP_SESSION);
    CHECK_INT(groups_parse_by("tenant", &by), -1);
    CHECK_STR(groups_by_name(SUMMARY_GROUP_MINUTE), "minute");
    struct { const char *by, *key; int completed, failed; double median_ttft; } want[] = {
        { "model", "m1", 2, 2, 15 },            /* 1, 2, 5, 6: ttft {10, 20} */
        { "model", "m2", 3, 0, 40 },            /* 3, 4, 7 */
        { "api", "chat", 4, 2, 30 },            /* all but 3: {10, 20, 40, 50} */
        { "api", "completions", 1, 0, 30 },
        { "session", "s1", 2, 0, 15 },
        { "session", "s2", 2, 0, 40 },          /* 3, 7: {30, 50} */
        { "session", "(none)", 1, 2, 40 },      /* 4, 5, 6 */
        { "minute", "0", 4, 1, 25 },            /* sent in the first minute: 1..5 */
        { "minute", "1", 1, 1, 50 },            /* 6, 7 */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        runlog_opts o;
        memset(&o, 0, sizeof o);
        groups_parse_by(want[i].by, &o.by);
        runlog *r = open_basic(&o);
        REQUIRE(r);
        cJSON *rows = groups_json(r->grp);
        const cJSON *g = group_row(rows, want[i].key);
        if (!g) unit_fail(__FILE__, __LINE__, "by %s: no group %s", want[i].by, want[i].key);
        else {
            CHECK_INT(num(g, "completed"), want[i].completed);
            CHECK_INT(num(g, "failed"), want[i].failed);
            CHECK_NEAR(num(g, "median_ttft_ms"), want[i].median_ttft, 1e-12);
            CHECK(cJSON_IsNull(obj(g, "trace_rate"))); /* the run's, not a group's */
            CHECK_STR(g->child->string, "group");       /* the key comes first */
        }
        cJSON_Delete(rows);
        runlog_free(r);
    }
    /* minutes in numeric order, "(none)" has no minute here */
    runlog_opts o;
    memset(&o, 0, sizeof o);
    o.by = SUMMARY_GROUP_MINUTE;
    runlog *r = open_basic(&o);
    REQUIRE(r);
    CHECK_INT(groups_count(r->grp), 2);
    cJSON *rows = groups_json(r->grp);
    CHECK_STR(cJSON_GetArrayItem(rows, 0)->child->valuestring, "0");
    cJSON_Delete(rows);
    runlog_free(r);
}

TEST(report_groups_overflow_and_errors)
{
    char err[256];
    summary_opts so;
    memset(&so, 0, sizeof so);
    CHECK(groups_new(&so, SUMMARY_GROUP_NONE, 0, err, sizeof err) == NULL);
    so.slo_ttft_ms = -1;
    CHECK(groups_new(&so, SUMMARY_GROUP_MODEL, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "ttft SLO");
    so.slo_ttft_ms = 0;
    groups *g = groups_new(&so, SUMMARY_GROUP_MODEL, 2, err, sizeof err);
    REQUIRE(g);
    const char *recs[] = {
        "{\"model\":\"b\",\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2}",
        "{\"model\":\"a\",\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2}",
        "{\"model\":\"c\",\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2}",
        "{\"model\":\"d\",\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2}",
        "{\"model\":\"a\",\"ok\":false,\"t_send_ns\":1,\"t_end_ns\":2}",
    };
    for (size_t i = 0; i < 5; i++) {
        cJSON *j = cJSON_Parse(recs[i]);
        CHECK_INT(groups_add(g, j), 0);
        cJSON_Delete(j);
    }
    CHECK(groups_overflowed(g));
    CHECK_INT(groups_count(g), 3);
    cJSON *rows = groups_json(g);
    /* a (2), b (1), then "(other)" last with c and d */
    CHECK_STR(cJSON_GetArrayItem(rows, 0)->child->valuestring, "a");
    CHECK_INT(num(cJSON_GetArrayItem(rows, 0), "failed"), 2);
    CHECK_STR(cJSON_GetArrayItem(rows, 2)->child->valuestring, GROUPS_OTHER);
    CHECK_INT(num(cJSON_GetArrayItem(rows, 2), "failed"), 2);
    cJSON_Delete(rows);
    cJSON *bad = cJSON_Parse("{\"model\":[1],\"ok\":false}");
    CHECK_INT(groups_add(g, bad), ERR_INPUT);
    CHECK_CONTAINS(groups_error(g), "field \"model\"");
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"model\":\"a\",\"ok\":1}");
    CHECK_INT(groups_add(g, bad), ERR_INPUT);
    CHECK_CONTAINS(groups_error(g), "field \"ok\"");
    cJSON_Delete(bad);
    groups_free(g);
    groups_free(NULL);
}

TEST(report_timeseries_by_hand)
{
    CHECK_INT(timeseries_auto_interval(3500000000LL), 100000000LL);      /* 3.5 s: 100 ms x 35 */
    CHECK_INT(timeseries_auto_interval(62001900000LL), 2000000000LL);    /* 62 s: 2 s x 31 */
    CHECK_INT(timeseries_auto_interval(3600000000000LL), 60000000000LL); /* 1 h: 1 min x 60 */
    runlog *r = open_basic(NULL);
    REQUIRE(r);
    cJSON *ts = timeseries_json(r->reqs, r->nreqs, 1000000000LL);
    CHECK_NEAR(num(ts, "interval_s"), 1, 0);
    const cJSON *rows = obj(ts, "rows");
    CHECK_INT(cJSON_GetArraySize(rows), 63); /* [0 s, 62.002 s]: 62 whole seconds and 2 ms */
    /* second 0: 1..5 sent; 1..4 completed, 5 failed; TTFT {10,20,30,40}: p50 25, p99 v=2.97: 39.7;
     * in flight: (120 + 30 + 120 + 110 + 50) ms over 1 s */
    const cJSON *x = cJSON_GetArrayItem(rows, 0);
    CHECK_INT(num(x, "sent"), 5);
    CHECK_NEAR(num(x, "rate"), 5, 0);
    CHECK_INT(num(x, "completed"), 4);
    CHECK_INT(num(x, "failed"), 1);
    CHECK_NEAR(num(x, "ttft_p50_ms"), 25, 0);
    CHECK_NEAR(num(x, "ttft_p99_ms"), 39.7, 1e-12);
    CHECK_NEAR(num(x, "in_flight"), 0.43, 1e-12);
    x = cJSON_GetArrayItem(rows, 1);
    CHECK_INT(num(x, "sent"), 0);
    CHECK(cJSON_IsNull(obj(x, "ttft_p50_ms")));
    /* second 61: 6 and 7 sent, 7 done; in flight 6 from 61.002 (998 ms) and 7 (100 ms) */
    x = cJSON_GetArrayItem(rows, 61);
    CHECK_NEAR(num(x, "t_s"), 61, 0);
    CHECK_INT(num(x, "sent"), 2);
    CHECK_INT(num(x, "completed"), 1);
    CHECK_NEAR(num(x, "in_flight"), 1.098, 1e-12);
    CHECK_NEAR(num(x, "ttft_p99_ms"), 50, 0);
    /* the last, partial interval [62 s, 62.002 s]: 6 fails at its end, in flight all along */
    x = cJSON_GetArrayItem(rows, 62);
    CHECK_INT(num(x, "failed"), 1);
    CHECK_NEAR(num(x, "in_flight"), 1, 1e-9);
    cJSON_Delete(ts);
    /* 1 ns intervals over 62 s would be 62 billion rows: widened, and said so */
    ts = timeseries_json(r->reqs, r->nreqs, 1);
    CHECK_NEAR(num(ts, "interval_widened_from_s"), 1e-9, 0);
    CHECK(num(ts, "interval_s") >= 62.0019 / TIMESERIES_MAX_ROWS);
    CHECK(cJSON_GetArraySize(obj(ts, "rows")) <= TIMESERIES_MAX_ROWS + 1);
    cJSON_Delete(ts);
    /* no requests: no rows */
    ts = timeseries_json(NULL, 0, 0);
    CHECK_INT(cJSON_GetArraySize(obj(ts, "rows")), 0);
    cJSON_Delete(ts);
    runlog_free(r);
}

TEST(report_document_by_hand)
{
    runlog_opts o;
    memset(&o, 0, sizeof o);
    o.by = SUMMARY_GROUP_MODEL;
    runlog *r = open_basic(&o);
    REQUIRE(r);
    report_opts ro = { 1000000000LL, 0 };
    cJSON *rep = report_json(r, &ro);
    /* the summary's keys first, then the report's */
    CHECK_STR(rep->child->string, "completed");
    CHECK_INT(num(rep, "not_sent"), 1);
    /* send lag p99 1910 us > 1 ms: late; 1 of 7 over 1 ms */
    const cJSON *sl = obj(rep, "send_lag");
    CHECK(cJSON_IsTrue(obj(sl, "late")));
    CHECK_STR(obj(sl, "status")->valuestring, "late");
    CHECK_INT(num(sl, "requests_over_threshold"), 1);
    CHECK_NEAR(num(sl, "share_over_threshold"), 1.0 / 7, 1e-15);
    /* from the schedule: ttft + lag = {10.1, 20.2, 30.3, 40.4, 50.1}, e2e + lag: median 110.4 */
    CHECK_NEAR(num(sl, "ttft_from_sched_median_ms"), 30.3, 1e-12);
    CHECK_NEAR(num(sl, "e2el_from_sched_median_ms"), 110.4, 1e-12);
    CHECK_CONTAINS(report_verdict(rep), "the client was late");
    /* goodput: met by 2 only; 4 and 7 miss ttft <= 35, 1 and 3 miss e2el <= 115 */
    const cJSON *g = obj(rep, "goodput");
    CHECK_INT(num(g, "met"), 1);
    CHECK_INT(num(g, "measured"), 7);
    CHECK_INT(num(obj(g, "missed"), "ttft"), 2);
    CHECK_INT(num(obj(g, "missed"), "e2el"), 2);
    CHECK_INT(num(obj(g, "missed"), "failed"), 2);
    CHECK(obj(obj(g, "missed"), "tpot") == NULL);
    CHECK_NEAR(num(g, "request_goodput"), num(rep, "request_goodput"), 0);
    CHECK_NEAR(num(g, "met") / num(rep, "duration"), num(rep, "request_goodput"), 0);
    CHECK_STR(obj(g, "slo_from")->valuestring, "run.json");
    /* failures */
    const cJSON *f = obj(rep, "failures");
    CHECK_NEAR(num(f, "share"), 2.0 / 7, 1e-15);
    CHECK_INT(cJSON_GetArraySize(obj(f, "by_class")), 2);
    CHECK_INT(cJSON_GetArraySize(obj(f, "messages")), 2);
    /* groups and the series */
    CHECK_STR(obj(obj(rep, "groups"), "by")->valuestring, "model");
    CHECK_INT(cJSON_GetArraySize(obj(obj(rep, "groups"), "rows")), 2);
    CHECK_INT(cJSON_GetArraySize(obj(obj(rep, "timeseries"), "rows")), 63);
    CHECK_STR(obj(obj(rep, "source"), "client")->valuestring, "vllm");

    /* text: the verdict on the first line, the vLLM block, SLO, errors, groups, series */
    char *t = capture(report_print, rep, TABLE_TEXT);
    CHECK(!strncmp(t, "WARNING: the client was late", 28));
    CHECK_CONTAINS(t, "============ Serving Benchmark Result ============");
    CHECK_CONTAINS(t, "Median TTFT (ms):                            30.00");
    CHECK_CONTAINS(t, "SLO ttft <= 35 ms, e2el <= 115 ms");
    CHECK_CONTAINS(t, "met by 1 of 7 measured requests (14.3%)");
    CHECK_CONTAINS(t, "http_5xx      1  14.29%");
    CHECK_CONTAINS(t, "By model");
    CHECK_CONTAINS(t, "Over time (1 s intervals");
    free(t);
    t = capture(report_print, rep, TABLE_MD);
    CHECK_CONTAINS(t, "| Median TTFT (ms) | 30.00 |");
    CHECK_CONTAINS(t, "|---|---:|");
    free(t);
    /* CSV: one row for the run, one per group; the series on request */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    report_print_csv(rep, 0, m);
    fclose(m);
    CHECK(!strncmp(buf, "model,completed,failed,duration,", 32));
    CHECK_CONTAINS(buf, "\nall,5,2,62.0019,450,22,");
    CHECK_CONTAINS(buf, "\nm2,3,0,");
    CHECK(strstr(buf, ",goodput,") == NULL && strstr(buf, ",source,") == NULL);
    free(buf);
    m = open_memstream(&buf, &len);
    report_print_csv(rep, 1, m);
    fclose(m);
    CHECK(!strncmp(buf, "t (s),sent,rate (req/s),completed,failed,TTFT p50 (ms),TTFT p99 (ms),in flight\n"
                        "0,5,5,4,1,25,39.7", 96));
    int lines = 0;
    for (char *p = buf; *p; p++) lines += *p == '\n';
    CHECK_INT(lines, 64);
    free(buf);
    cJSON_Delete(rep);

    /* a second call gives the same document */
    rep = report_json(r, &ro);
    cJSON *again = report_json(r, &ro);
    CHECK(cJSON_Compare(rep, again, 1));
    cJSON_Delete(again);
    cJSON_Delete(rep);
    runlog_free(r);
}

TEST(report_on_time_verdict)
{
    /* runs/a: every request 100 us late: on time */
    char err[256];
    int rc;
    runlog *r = runlog_open("tests/data/runs/a", NULL, &rc, err, sizeof err);
    REQUIRE(r);
    cJSON *rep = report_json(r, NULL);
    CHECK(cJSON_IsFalse(obj(obj(rep, "send_lag"), "late")));
    CHECK_CONTAINS(report_verdict(rep), "Send lag: the client kept the schedule (p50 100 us, p99 100 us");
    CHECK(cJSON_IsNull(obj(rep, "goodput")));
    cJSON_Delete(rep);
    /* a stricter threshold makes the same run late */
    report_opts ro = { 0, 50 };
    rep = report_json(r, &ro);
    CHECK(cJSON_IsTrue(obj(obj(rep, "send_lag"), "late")));
    cJSON_Delete(rep);
    runlog_free(r);
}

TEST(report_table_formats)
{
    table *t = table_new("T");
    table_cell(t, "name");
    table_cell(t, "value");
    table_end_row(t);
    table_cell(t, "a,b \"q\"");
    table_num(t, 1, 0.1, 2);
    table_end_row(t);
    table_cell(t, "p|q");
    table_num(t, 0, 0, 2);
    table_end_row(t);
    CHECK_INT(table_rows(t), 3);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    table_print(t, TABLE_CSV, m);
    fclose(m);
    /* quoted per RFC 4180, the number in full (shortest exact text), n/a empty */
    CHECK_STR(buf, "name,value\n\"a,b \"\"q\"\"\",0.1\np|q,\n");
    free(buf);
    m = open_memstream(&buf, &len);
    table_print(t, TABLE_MD, m);
    fclose(m);
    CHECK_STR(buf, "### T\n\n| name | value |\n|---|---:|\n| a,b \"q\" | 0.10 |\n| p\\|q | n/a |\n\n");
    free(buf);
    m = open_memstream(&buf, &len);
    table_print(t, TABLE_TEXT, m);
    fclose(m);
    CHECK_STR(buf, "T\n  name     value\n  a,b \"q\"   0.10\n  p|q        n/a\n");
    free(buf);
    table_free(t);
    table_free(NULL);
    char d[32];
    table_fmt_ms(d, sizeof d, 0.85);
    CHECK_STR(d, "850 us");
    table_fmt_ms(d, sizeof d, 12.34);
    CHECK_STR(d, "12.3 ms");
    table_fmt_ms(d, sizeof d, 4200);
    CHECK_STR(d, "4.20 s");
}

/* qsort comparator for the reference order. */
static int cmp_ref(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

TEST(report_stats_sort_large_equals_qsort)
{
    /* The radix sort used from 4096 values on: negative numbers, zeros,
     * infinities, duplicates, tiny and huge magnitudes. */
    size_t n = 50000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double v = (double)(int64_t)(s >> 11) / 1e9;
        switch (i % 11) {
        case 0: v = -v; break;
        case 1: v = 0; break;
        case 2: v = (double)(i % 7); break;
        case 3: v = -1e-300 * (double)(i % 5); break;
        case 4: v = i % 2 ? INFINITY : -INFINITY; break;
        case 5: v = 1e300 / (double)(i + 1); break;
        default: break;
        }
        x[i] = y[i] = v;
    }
    stats_sort(x, n);
    qsort(y, n, sizeof *y, cmp_ref);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !(x[i] == y[i]);
    CHECK_INT(bad, 0);
    /* all equal, and already sorted */
    for (size_t i = 0; i < n; i++) x[i] = 3.5;
    stats_sort(x, n);
    CHECK(x[0] == 3.5 && x[n - 1] == 3.5);
    for (size_t i = 0; i < n; i++) x[i] = (double)i;
    stats_sort(x, n);
    for (size_t i = 0; i < n; i++) bad += x[i] != (double)i;
    CHECK_INT(bad, 0);
    free(x);
    free(y);
}

/* Writes a run directory DIR/requests.jsonl (under the test directory)
 * from records; returns the directory's path (static buffer). */
static const char *write_run(const char *name, const char *const *lines, size_t n)
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
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
    return dir;
}

/* The report of a run dir in format f (caller frees the text). */
static char *report_text(const char *dir, table_format f, cJSON **docp)
{
    char err[512] = "";
    int rc;
    runlog *r = runlog_open(dir, NULL, &rc, err, sizeof err);
    if (!r) {
        unit_fail(__FILE__, __LINE__, "runlog_open: %s", err);
        return NULL;
    }
    cJSON *doc = report_json(r, NULL);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (f == TABLE_CSV) report_print_csv(doc, 0, m);
    else report_print(doc, f, m);
    fclose(m);
    runlog_free(r);
    if (docp) *docp = doc;
    else cJSON_Delete(doc);
    return buf;
}

/* Without usage the counts are chunks, and the table says so; a response
 * in one event has no TPOT (n/a, never 0.00). */
TEST(report_labels_chunk_counts_and_unmeasured_tpot)
{
    const char *lines[] = {
        "{\"index\":0,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_first_token_ns\":5000000,"
        "\"t_last_token_ns\":5000000,\"t_end_ns\":6000000,\"output_tokens\":7,\"events\":1,"
        "\"token_source\":\"chunks\",\"gaps_ns\":[]}",
    };
    const char *dir = write_run("chunks", lines, 1);
    char *t = report_text(dir, TABLE_TEXT, NULL);
    REQUIRE(t);
    CHECK_CONTAINS(t, "Total generated chunks (no usage):               7\n");
    CHECK_CONTAINS(t, "Output chunk throughput (chunk/s):");
    CHECK(!strstr(t, "Total generated tokens"));
    CHECK_CONTAINS(t, "Mean TPOT (ms):                                n/a\n");
    CHECK(!strstr(t, "Engine-reported"));
    CHECK(!strstr(t, "Short outputs"));
    free(t);
    t = report_text(dir, TABLE_MD, NULL);
    REQUIRE(t);
    CHECK_CONTAINS(t, "| Total generated chunks (no usage) | 7 |");
    CHECK_CONTAINS(t, "| Mean TPOT (ms) | n/a |");
    free(t);
}

/* The engine's own view beside the client's, labelled, in every format;
 * outputs shorter than forced are counted and warned about. */
TEST(report_engine_view_and_short_outputs)
{
    const char *lines[] = {
        "{\"index\":0,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_first_token_ns\":118000000,"
        "\"t_last_token_ns\":118000000,\"t_end_ns\":118000000,\"output_tokens\":44,\"events\":1,"
        "\"token_source\":\"usage\",\"forced_output_tokens\":44,\"gaps_ns\":[],"
        "\"engine\":{\"t_queued_ns\":1000000,\"t_scheduled_ns\":3000000,\"t_first_token_ns\":12600000,"
        "\"t_finished_ns\":117000000,\"queue_ns\":2000000,\"prefill_ns\":9600000,\"decode_ns\":104400000}}",
        "{\"index\":1,\"ok\":true,\"t_sched_ns\":0,\"t_send_ns\":0,\"t_first_token_ns\":50000000,"
        "\"t_last_token_ns\":50000000,\"t_end_ns\":50000000,\"output_tokens\":10,\"events\":1,"
        "\"token_source\":\"usage\",\"forced_output_tokens\":44,\"gaps_ns\":[],"
        "\"engine\":{\"t_queued_ns\":1000000,\"t_scheduled_ns\":3000000,\"t_first_token_ns\":12600000,"
        "\"t_finished_ns\":49000000,\"queue_ns\":2000000,\"prefill_ns\":9600000,\"decode_ns\":36400000}}",
    };
    const char *dir = write_run("engine", lines, 2);
    cJSON *doc = NULL;
    char *t = report_text(dir, TABLE_TEXT, &doc);
    REQUIRE(t && doc);
    CHECK_NEAR(num(doc, "median_engine_ttft_ms"), 11.6, 1e-9);
    CHECK_NEAR(num(doc, "median_ttft_ms"), 84, 1e-9);
    CHECK_INT(num(doc, "short_outputs"), 1);
    CHECK_CONTAINS(t, "WARNING: 1 of 2 requests that forced their output length came back short (34 tokens "
                      "missing)");
    CHECK_CONTAINS(t, "Short outputs (below forced length):             1\n");
    CHECK_CONTAINS(t, "-------Engine-reported (engine's own clock)-------\n");
    CHECK_CONTAINS(t, "Median engine TTFT (ms):                     11.60\n");
    CHECK_CONTAINS(t, "Median TTFT (ms):                            84.00\n");
    CHECK_CONTAINS(t, "Mean engine decode (ms):                     70.40\n");
    CHECK_CONTAINS(t, "Mean TPOT (ms):                                n/a\n");
    free(t);
    cJSON_Delete(doc);
    t = report_text(dir, TABLE_MD, NULL);
    REQUIRE(t);
    CHECK_CONTAINS(t, "**WARNING**: 1 of 2 requests");
    CHECK_CONTAINS(t, "| Median engine TTFT (ms) | 11.60 |");
    CHECK_CONTAINS(t, "| Short outputs (below forced length) | 1 |");
    free(t);
    t = report_text(dir, TABLE_CSV, NULL);
    REQUIRE(t);
    CHECK_CONTAINS(t, ",short_outputs,");
    CHECK_CONTAINS(t, ",median_engine_ttft_ms,");
    free(t);
}
