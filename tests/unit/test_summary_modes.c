/* test_summary_modes.c — the summary's two modes (analysis/summary.h):
 * histogram mode against exact mode on the same synthetic log (lognormal
 * and bimodal latencies, per-token gaps, failures, engine times, early
 * sends), auto mode folding at its cap, summary_merge of two halves against
 * the summary of the whole, and summary_pack / summary_unpack. */
#include "tests/unit/unit.h"
#include "analysis/hist.h"
#include "analysis/summary.h"
#include "common/rng.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>

#define NREQ 1500

/* Record i of a synthetic log, as replay writes them (the fields the
 * summary reads). Deterministic in i. */
static char *record(int i)
{
    rng r;
    rng_seed2(&r, 42, (uint64_t)i);
    strbuf b = {0};
    long long sched = (long long)i * 40000000LL;
    long long send = sched + (i % 13 == 0 ? -3000 : (long long)(rng_exp(&r, 150000.0)));
    if (i % 50 == 7) {
        sb_printf(&b, "{\"index\":%d,\"ok\":false,\"t_sched_ns\":%lld,\"t_send_ns\":%lld,\"t_end_ns\":%lld,"
                  "\"output_tokens\":0,\"error\":{\"class\":\"%s\"}}", i, sched, send, send + 5000000,
                  i % 100 == 7 ? "timeout" : "http_5xx");
        return b.buf;
    }
    long long ttft = (long long)exp(log(80e6) + 0.6 * rng_normal(&r));
    int ngap = 20 + (int)rng_range(&r, 0, 60);
    sb_printf(&b, "{\"index\":%d,\"ok\":true,\"t_sched_ns\":%lld,\"t_send_ns\":%lld,\"t_first_token_ns\":%lld,",
              i, sched, send, send + ttft);
    strbuf g = {0}, k = {0};
    long long sum = 0;
    int tokens = 1;
    for (int j = 0; j < ngap; j++) {
        double step = exp(log(15e6) + 0.3 * rng_normal(&r));
        if (rng_uniform(&r) < 0.06) step = exp(log(120e6) + 0.25 * rng_normal(&r)); /* a prefill stall */
        int kt = j % 17 == 5 ? 0 : j % 9 == 4 ? 2 : 1;
        long long gap = (long long)step * (kt ? kt : 1);
        sb_printf(&g, "%s%lld", j ? "," : "", gap);
        sb_printf(&k, "%s%d", j ? "," : "", kt);
        sum += gap;
        tokens += kt;
    }
    long long last = send + ttft + sum, end = last + 200000;
    sb_printf(&b, "\"t_last_token_ns\":%lld,\"t_end_ns\":%lld,\"output_tokens\":%d,\"prompt_tokens\":%d,"
              "\"token_source\":\"usage\",\"gaps_ns\":[%s],\"gap_tokens\":[%s],\"itl_basis\":\"tokens\"",
              last, end, tokens, 100 + i % 900, g.buf, k.buf);
    if (i % 3 == 0)
        sb_printf(&b, ",\"engine\":{\"t_queued_ns\":%lld,\"t_scheduled_ns\":%lld,\"t_first_token_ns\":%lld,"
                  "\"t_finished_ns\":%lld}", send + 1000, send + 1000 + (long long)rng_exp(&r, 2e6),
                  send + ttft - 5000, last);
    sb_adds(&b, "}");
    sb_free(&g);
    sb_free(&k);
    return b.buf;
}

/* A summary with exact = mode (and cap) over records [from, to) with step. */
static summary *build(int mode, size_t cap, int from, int to, int step)
{
    summary_opts o = { 0 };
    o.slo_ttft_ms = 200;
    o.slo_tpot_ms = 40;
    o.trace_rate = 25;
    o.exact = mode;
    o.exact_cap = cap;
    char err[256];
    summary *s = summary_new(&o, err, sizeof err);
    if (!s) {
        unit_fail(__FILE__, __LINE__, "summary_new: %s", err);
        return NULL;
    }
    for (int i = from; i < to; i += step) {
        char *t = record(i);
        cJSON *j = cJSON_Parse(t);
        if (summary_add(s, j) < 0) unit_fail(__FILE__, __LINE__, "record %d: %s", i, summary_error(s));
        cJSON_Delete(j);
        free(t);
    }
    return s;
}

/* summary_json of s as compact text (caller frees). */
static char *text(summary *s)
{
    cJSON *j = summary_json(s);
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return t;
}

/* 1 when key is a percentile (median, p90, p99, send-lag p50/p99). */
static int is_percentile(const char *k)
{
    return !strncmp(k, "median_", 7) || !strncmp(k, "p90_", 4) || !strncmp(k, "p99_", 4) ||
           !strcmp(k, "send_lag_p50_us") || !strcmp(k, "send_lag_p99_us");
}

TEST(summary_histogram_within_bound_of_exact)
{
    summary *e = build(-1, 0, 0, NREQ, 1), *h = build(1, 0, 0, NREQ, 1);
    REQUIRE(e && h);
    CHECK(!summary_is_histogram(e) && summary_is_histogram(h));
    cJSON *je = summary_json(e), *jh = summary_json(h);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(je, "percentiles")->valuestring, "exact");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(jh, "percentiles")->valuestring, "histogram");
    CHECK(cJSON_GetObjectItemCaseSensitive(jh, "percentile_error_bound")->valuedouble == HIST_REL_ERROR);
    CHECK_INT(cJSON_GetArraySize(je), cJSON_GetArraySize(jh));
    int percentiles = 0, inexact = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, je) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(jh, x->string);
        if (!y) {
            unit_fail(__FILE__, __LINE__, "histogram mode lacks %s", x->string);
            continue;
        }
        if (!cJSON_IsNumber(x) || !strcmp(x->string, "percentile_error_bound")) {
            if (strncmp(x->string, "percentile", 10) && !cJSON_Compare(x, y, 1))
                unit_fail(__FILE__, __LINE__, "%s differs", x->string);
            continue;
        }
        double a = x->valuedouble, b = y->valuedouble;
        double tol = is_percentile(x->string) ? HIST_REL_ERROR * fabs(a) * (1 + 1e-12)
                     : !strncmp(x->string, "mean_", 5) || !strncmp(x->string, "std_", 4) ? 1e-9 * fabs(a) : 0;
        percentiles += is_percentile(x->string);
        inexact += a != b;
        if (!(fabs(a - b) <= tol))
            unit_fail(__FILE__, __LINE__, "%s: exact %.17g, histogram %.17g (allowed %.3g)", x->string, a, b, tol);
    }
    CHECK(percentiles >= 4 * 3 + 5 * 3 + 2);
    CHECK(inexact > 0);
    cJSON_Delete(je);
    cJSON_Delete(jh);
    summary_free(e);
    summary_free(h);
}

TEST(summary_auto_folds_at_cap)
{
    summary *small = build(0, 0, 0, 40, 1); /* well under SUMMARY_EXACT_CAP: exact */
    summary *exact = build(-1, 0, 0, 40, 1);
    char *a = text(small), *b = text(exact);
    CHECK(!summary_is_histogram(small));
    CHECK_STR(a, b); /* auto mode under the cap is exact mode, to the byte */
    free(a), free(b);
    summary *folded = build(0, 5000, 0, NREQ, 1), *hist_only = build(1, 5000, 0, NREQ, 1);
    CHECK(summary_is_histogram(folded));
    /* folding midway gives what histograms from the start give, to the byte */
    cJSON *jf = summary_json(folded), *jh = summary_json(hist_only);
    CHECK(cJSON_Compare(jf, jh, 1));
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(jf, "percentiles")->valuestring, "histogram");
    cJSON_Delete(jf), cJSON_Delete(jh);
    summary_free(small), summary_free(exact), summary_free(folded), summary_free(hist_only);
}

/* Checks summary_merge of the even and odd records against the whole. */
static void check_halves(int mode, size_t cap, int expect_hist)
{
    summary *whole = build(mode, cap, 0, NREQ, 1), *even = build(mode, cap, 0, NREQ, 2);
    summary *odd = build(mode, cap, 1, NREQ, 2), *whole_h = build(1, cap, 0, NREQ, 1);
    REQUIRE(summary_merge(even, odd) == 0);
    CHECK_INT(summary_is_histogram(even), expect_hist);
    CHECK_INT(summary_records(even), NREQ);
    char *a = text(even), *b = text(expect_hist ? whole_h : whole);
    CHECK_STR(a, b);
    free(a), free(b);
    summary_free(whole), summary_free(even), summary_free(odd), summary_free(whole_h);
}

TEST(summary_merge_of_halves_is_the_whole)
{
    check_halves(-1, 0, 0);     /* exact: concatenated */
    check_halves(1, 0, 1);      /* histograms: added */
    check_halves(0, 60000, 1);  /* each half fits the cap, the union does not: folded */
    check_halves(0, 0, 0);      /* the union fits: stays exact */
    summary *a = build(1, 0, 0, 10, 1), *b = build(-1, 0, 0, 10, 1);
    CHECK_INT(summary_merge(a, b), ERR_USAGE);
    CHECK_CONTAINS(summary_error(a), "different options");
    CHECK_INT(summary_records(a), 10);
    summary_free(a), summary_free(b);
}

/* Packs s, unpacks it with the same options, and checks the round trip. */
static void check_round_trip(int mode)
{
    summary *s = build(mode, 0, 0, 300, 1);
    strbuf p = {0}, q = {0};
    summary_pack(s, &p);
    summary_opts o = { 0 };
    o.slo_ttft_ms = 200, o.slo_tpot_ms = 40, o.trace_rate = 25, o.exact = mode;
    char err[256] = "";
    summary *u = summary_unpack(p.buf, p.len, &o, err, sizeof err);
    if (!u) unit_fail(__FILE__, __LINE__, "summary_unpack: %s", err);
    REQUIRE(u);
    summary_pack(u, &q);
    CHECK(p.len == q.len && !memcmp(p.buf, q.buf, p.len));
    char *a = text(s), *b = text(u);
    CHECK_STR(b, a);
    free(a), free(b);
    /* other options: refused */
    o.slo_ttft_ms = 100;
    summary *v = summary_unpack(p.buf, p.len, &o, err, sizeof err);
    CHECK(!v);
    CHECK_CONTAINS(err, "other options");
    o.slo_ttft_ms = 200;
    /* every truncation and trailing byte: refused with a message */
    for (size_t len = 0; len < p.len; len += len < 400 ? 1 : p.len / 100) {
        err[0] = 0;
        v = summary_unpack(p.buf, len, &o, err, sizeof err);
        if (v || !err[0]) unit_fail(__FILE__, __LINE__, "truncated to %zu of %zu: %s", len, p.len, v ? "accepted" : "no message");
        summary_free(v);
    }
    sb_addc(&p, 0);
    CHECK(!(v = summary_unpack(p.buf, p.len, &o, err, sizeof err)));
    p.len--;
    /* flipped bytes: refused or a summary that computes, never a crash */
    for (size_t i = 0; i < p.len; i += i < 300 ? 1 : p.len / 50) {
        p.buf[i] ^= 0x81;
        v = summary_unpack(p.buf, p.len, &o, err, sizeof err);
        if (v) cJSON_Delete(summary_json(v));
        summary_free(v);
        p.buf[i] ^= 0x81;
    }
    p.buf[0] ^= 1;
    CHECK(!(v = summary_unpack(p.buf, p.len, &o, err, sizeof err)));
    CHECK_CONTAINS(err, "not a packed summary");
    sb_free(&p), sb_free(&q);
    summary_free(s), summary_free(u);
}

TEST(summary_pack_round_trip)
{
    check_round_trip(-1);
    check_round_trip(1);
    check_round_trip(0);
    /* an empty summary too */
    summary *s = build(0, 0, 0, 0, 1);
    strbuf p = {0};
    summary_pack(s, &p);
    char err[256];
    summary_opts o = { 0 };
    o.slo_ttft_ms = 200, o.slo_tpot_ms = 40, o.trace_rate = 25;
    summary *u = summary_unpack(p.buf, p.len, &o, err, sizeof err);
    CHECK(u != NULL);
    CHECK_INT(summary_records(u), 0);
    summary_free(u), summary_free(s);
    sb_free(&p);
}
