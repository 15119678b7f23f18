/* test_synth.c — unit tests for traces/synth.c: reproducibility, order and
 * duration bounds, the rate, session structure and prefix hash sharing. */
#include "tests/unit/unit.h"
#include "common/util.h"
#include "traces/synth.h"
#include "traces/trace_io.h"

#include <math.h>
#include <stdlib.h>

/* Every record line of a generator, joined with '\n' (caller frees). */
static char *all_lines(const synth_opts *o, synth_stats *st)
{
    synth *s;
    char err[512];
    if (synth_new(o, &s, err, sizeof err)) {
        unit_fail(__FILE__, __LINE__, "synth_new: %s", err);
        return NULL;
    }
    strbuf b = {0};
    const char *line;
    size_t len;
    int64_t t;
    while (synth_next(s, &line, &len, &t) > 0) {
        sb_add(&b, line, len);
        sb_addc(&b, '\n');
    }
    if (st) synth_get_stats(s, st);
    synth_free(s);
    if (!b.buf) sb_adds(&b, "");
    return b.buf;
}

/* Parsed records of a generator (at most max). Returns the count. */
static int all_recs(const synth_opts *o, trace_rec *recs, int max, synth_stats *st)
{
    synth *s;
    char err[512];
    if (synth_new(o, &s, err, sizeof err)) {
        unit_fail(__FILE__, __LINE__, "synth_new: %s", err);
        return 0;
    }
    const char *line;
    size_t len;
    int64_t t;
    int n = 0;
    while (n < max && synth_next(s, &line, &len, &t) > 0) {
        memset(&recs[n], 0, sizeof recs[n]);
        if (trace_rec_parse(&recs[n], line, len, 0, err, sizeof err)) {
            unit_fail(__FILE__, __LINE__, "record %d does not parse: %s: %s", n, err, line);
            break;
        }
        if (recs[n].t_us != t) unit_fail(__FILE__, __LINE__, "t_us %lld != %lld", (long long)recs[n].t_us, (long long)t);
        n++;
    }
    if (st) synth_get_stats(s, st);
    synth_free(s);
    return n;
}

static void free_recs(trace_rec *recs, int n)
{
    for (int i = 0; i < n; i++) trace_rec_clear(&recs[i]);
}

static int64_t id_num(const trace_rec *r) { return strtoll(r->id, NULL, 10); }

static int64_t hid(const trace_rec *r, int i)
{
    return (int64_t)cJSON_GetArrayItem(r->hash_ids, i)->valuedouble;
}

static void base_opts(synth_opts *o)
{
    synth_opts_init(o);
    o->duration_us = 60 * INT64_C(1000000);
    o->rate = 5;
    o->input = "uniform:100:2000";
    o->output = "lognormal:200:0.7";
    o->seed = 7;
}

TEST(synth_reproducible_for_a_seed)
{
    synth_opts o;
    base_opts(&o);
    o.sessions = "uniform:1:5";
    o.prefix_tokens = 700;
    o.prefix_groups = 3;
    char *a = all_lines(&o, NULL), *b = all_lines(&o, NULL);
    REQUIRE(a && b);
    CHECK(strlen(a) > 1000);
    CHECK(!strcmp(a, b));
    o.seed = 8;
    char *c = all_lines(&o, NULL);
    REQUIRE(c);
    CHECK(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
}

TEST(synth_shorter_duration_is_a_prefix)
{
    synth_opts o;
    base_opts(&o);
    o.sessions = "uniform:1:8";
    o.think = "exponential:4s";
    o.prefix_tokens = 600;
    o.prefix_groups = 2;
    o.duration_us = 30 * INT64_C(1000000);
    char *a = all_lines(&o, NULL);
    o.duration_us = 90 * INT64_C(1000000);
    char *b = all_lines(&o, NULL);
    o.duration_us = 30 * INT64_C(1000000);
    o.max_records = 40;
    char *c = all_lines(&o, NULL);
    REQUIRE(a && b && c);
    CHECK(strlen(a) > 1000 && strlen(b) > 2 * strlen(a));
    CHECK(!strncmp(a, b, strlen(a)));
    CHECK(strlen(c) < strlen(a) && !strncmp(a, c, strlen(c)));
    free(a);
    free(b);
    free(c);
}

TEST(synth_sorted_within_duration_and_rate)
{
    synth_opts o;
    base_opts(&o);
    o.duration_us = 2000 * INT64_C(1000000);
    o.rate = 10;
    o.input = "fixed:10";
    o.output = "fixed:1";
    synth *s;
    char err[512];
    REQUIRE(synth_new(&o, &s, err, sizeof err) == 0);
    const char *line;
    size_t len;
    int64_t t, prev = 0, n = 0;
    while (synth_next(s, &line, &len, &t) > 0) {
        if (t < prev || t >= o.duration_us) {
            unit_fail(__FILE__, __LINE__, "t_us %lld after %lld (duration %lld)", (long long)t,
                      (long long)prev, (long long)o.duration_us);
            break;
        }
        prev = t;
        n++;
    }
    synth_free(s);
    /* Poisson count in 2000 s at 10/s (plus the arrival at 0): 5 SDs. */
    CHECK_NEAR(n, 20001, 5 * sqrt(20000));
}

TEST(synth_length_only_records_and_header)
{
    synth_opts o;
    base_opts(&o);
    o.model = "m\"x";            /* needs escaping */
    o.api = "completions";
    o.max_records = 50;
    trace_rec recs[60];
    int n = all_recs(&o, recs, 60, NULL);
    CHECK_INT(n, 50);
    for (int i = 0; i < n; i++) {
        CHECK_INT(id_num(&recs[i]), i);
        CHECK_STR(recs[i].api, "completions");
        CHECK_STR(recs[i].model, "m\"x");
        CHECK(recs[i].input_tokens >= 100 && recs[i].input_tokens <= 2000);
        CHECK(recs[i].output_tokens >= 1);
        CHECK(!recs[i].hash_ids && !recs[i].session && !recs[i].body);
    }
    CHECK_INT(recs[0].t_us, 0);
    free_recs(recs, n);

    synth *s;
    char err[256];
    REQUIRE(synth_new(&o, &s, err, sizeof err) == 0);
    const cJSON *h = synth_header(s);
    CHECK(trace_header_check(h, err, sizeof err) == 0);
    CHECK_STR(cJSON_GetObjectItem(h, "source")->valuestring, "synth");
    const cJSON *p = cJSON_GetObjectItem(h, "synth");
    REQUIRE(p);
    CHECK_STR(cJSON_GetObjectItem(p, "input")->valuestring, "uniform:100:2000");
    CHECK_STR(cJSON_GetObjectItem(p, "output")->valuestring, "lognormal:200:0.7");
    CHECK_STR(cJSON_GetObjectItem(p, "arrival")->valuestring, "poisson");
    CHECK_INT(cJSON_GetObjectItem(p, "seed")->valuedouble, 7);
    CHECK_INT(cJSON_GetObjectItem(p, "duration_us")->valuedouble, 60000000);
    CHECK(!cJSON_GetObjectItem(h, "block_size"));
    synth_free(s);
}

TEST(synth_sessions_structure)
{
    synth_opts o;
    base_opts(&o);
    o.rate = 2;
    o.duration_us = 300 * INT64_C(1000000);
    o.input = "uniform:10:300";
    o.output = "uniform:1:400";
    o.sessions = "uniform:1:6";
    o.think = "exponential:5s";
    o.block_size = 64;
    enum { MAX = 8000 };
    trace_rec *recs = calloc(MAX, sizeof *recs);
    synth_stats st;
    int n = all_recs(&o, recs, MAX, &st);
    REQUIRE(n > 500 && n < MAX);
    CHECK_INT(st.records, n);
    CHECK(st.sessions > 400);
    CHECK(st.max_active < st.sessions / 4);   /* memory follows concurrency */
    /* Index records by id (ids are 0..n-1 in output order). */
    int turns_seen = 0, checked = 0;
    int64_t *next_turn = calloc((size_t)st.sessions, sizeof *next_turn);
    for (int i = 0; i < n; i++) {
        const trace_rec *r = &recs[i];
        REQUIRE(r->session && r->turn >= 0 && r->hash_ids);
        int64_t sess = strtoll(r->session, NULL, 10);
        REQUIRE(sess >= 0 && (uint64_t)sess < st.sessions);
        CHECK_INT(r->turn, next_turn[sess]);
        next_turn[sess] = r->turn + 1;
        CHECK_INT(r->block_size, 64);
        CHECK_INT(cJSON_GetArraySize(r->hash_ids), (r->input_tokens + 63) / 64);
        if (r->turn == 0) {
            CHECK(!r->parent && r->think_us < 0);
            CHECK(r->input_tokens >= 10 && r->input_tokens <= 300);
            continue;
        }
        turns_seen++;
        REQUIRE(r->parent);
        int64_t pid = strtoll(r->parent, NULL, 10);
        REQUIRE(pid >= 0 && pid < i);
        const trace_rec *p = &recs[pid];
        CHECK_STR(p->session, r->session);
        CHECK_INT(p->turn, r->turn - 1);
        CHECK_INT(r->t_us, p->t_us + r->think_us);
        int64_t fresh = r->input_tokens - p->input_tokens - p->output_tokens;
        CHECK(fresh >= 10 && fresh <= 300);
        /* The previous turn's full blocks are shared, the rest is new. */
        int shared = (int)(p->input_tokens / 64);
        for (int j = 0; j < shared; j++) CHECK_INT(hid(r, j), hid(p, j));
        if (shared < cJSON_GetArraySize(p->hash_ids))
            CHECK(hid(r, shared) != hid(p, shared));
        checked++;
    }
    CHECK(turns_seen > 500 && checked == turns_seen);
    free(next_turn);
    free_recs(recs, n);
    free(recs);
}

TEST(synth_prefix_groups_share_blocks)
{
    synth_opts o;
    base_opts(&o);
    o.input = "uniform:1:1000";
    o.prefix_tokens = 1100;         /* 2 full blocks of 512, then a mixed one */
    o.prefix_groups = 3;
    o.duration_us = 3600 * INT64_C(1000000);
    o.max_records = 3000;
    enum { MAX = 3000 };
    trace_rec *recs = calloc(MAX, sizeof *recs);
    int n = all_recs(&o, recs, MAX, NULL);
    REQUIRE(n == MAX);
    int groups[3] = {0};
    /* Ids past the prefix are unique over the whole trace. */
    char *seen = calloc(1 << 16, 1);
    int dup = 0;
    for (int i = 0; i < n; i++) {
        const trace_rec *r = &recs[i];
        REQUIRE(r->hash_ids && r->block_size == 512 && !r->session);
        CHECK(r->input_tokens >= 1101 && r->input_tokens <= 2100);
        int64_t a = hid(r, 0), b = hid(r, 1);
        CHECK(a % 2 == 0 && b == a + 1 && a < 6);
        if (a >= 0 && a < 6) groups[a / 2]++;
        for (int j = 2; j < cJSON_GetArraySize(r->hash_ids); j++) {
            int64_t h = hid(r, j);
            REQUIRE(h >= 6 && h < (1 << 16));
            dup += seen[h]++;
        }
    }
    CHECK_INT(dup, 0);
    /* Groups chosen uniformly: each ~1000 of 3000 (SD ~26). */
    for (int g = 0; g < 3; g++) CHECK_NEAR(groups[g], 1000, 5 * 26);
    free(seen);
    free_recs(recs, n);
    free(recs);
}

TEST(synth_sessions_cut_at_duration)
{
    synth_opts o;
    base_opts(&o);
    o.duration_us = 20 * INT64_C(1000000);
    o.rate = 1;
    o.sessions = "fixed:100";
    o.think = "fixed:1s";
    trace_rec recs[1000];
    synth_stats st;
    int n = all_recs(&o, recs, 1000, &st);
    REQUIRE(n > 0);
    for (int i = 0; i < n; i++) CHECK(recs[i].t_us < o.duration_us);
    CHECK_INT(st.sessions_cut, st.sessions);   /* every 100-turn session is cut */
    free_recs(recs, n);
}

TEST(synth_option_errors)
{
    synth_opts o;
    synth *s = NULL;
    char err[512];
    base_opts(&o);
    o.input = "uniform:5";
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--input: expected uniform:MIN:MAX");
    base_opts(&o);
    o.output = "lognormal:-3:1";
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--output:");
    base_opts(&o);
    o.arrival = "gamma:-1";
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--arrival:");
    base_opts(&o);
    o.think = "fixed:1s";
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--sessions");
    base_opts(&o);
    o.sessions = "fixed:2";
    o.think = "fixed:soon";
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--think: expected fixed:DURATION");
    base_opts(&o);
    o.duration_us = 0;
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    base_opts(&o);
    o.rate = 0;
    CHECK_INT(synth_new(&o, &s, err, sizeof err), ERR_USAGE);
    CHECK_CONTAINS(err, "--rate");
    CHECK(!s);
}

TEST(synth_write_reads_back)
{
    synth_opts o;
    base_opts(&o);
    o.sessions = "uniform:1:3";
    o.prefix_tokens = 64;
    o.prefix_groups = 2;
    o.block_size = 16;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/synth.jsonl.zst", unit_tmpdir());
    synth *s;
    REQUIRE(synth_new(&o, &s, err, sizeof err) == 0);
    CHECK_INT(synth_write(s, path, -1, err, sizeof err), 0);
    synth_stats st;
    synth_get_stats(s, &st);
    synth_free(s);
    trace_reader *r = trace_reader_open(path, 0, err, sizeof err);
    REQUIRE(r);
    CHECK_INT(cJSON_GetObjectItem(trace_reader_header(r), "block_size")->valuedouble, 16);
    trace_rec *rec;
    int rc;
    while ((rc = trace_reader_next(r, &rec)) > 0) CHECK(rec->hash_ids != NULL);
    CHECK_INT(rc, 0);
    CHECK_INT(trace_reader_count(r), st.records);
    trace_reader_close(r);
}
