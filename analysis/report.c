/* report.c — see report.h. Building the document (report_json) and
 * printing it (report_print*) are apart, so `--format json` prints exactly
 * what the text is made from. */
#include "analysis/report.h"
#include "analysis/sumtable.h"
#include "analysis/stats.h"
#include "analysis/timeseries.h"
#include "analysis/valset.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ---- */

/* Copies the manifest's members that say what was run. */
static cJSON *source_json(const runlog *r)
{
    static const char *const keys[] = { "tool", "client", "url", "engine", "trace", "trace_digest", "speed",
                                        "start", "host", "model", "default_model", "api", "trace_rate",
                                        "scheduled", "not_sent", "interrupted", "shards",
                                        "shards_missing", "start_skew_us", "barrier_exit_spread_us" };
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "log", r->log_path);
    cJSON_AddBoolToObject(s, "manifest", r->manifest != NULL);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->manifest, keys[i]);
        if (v) cJSON_AddItemToObject(s, keys[i], cJSON_Duplicate(v, 1));
    }
    return s;
}

/* Median and p99 (ms) of v into o as PREFIX_median_ms and PREFIX_p99_ms,
 * null when v is empty. */
static void add_mid_tail(cJSON *o, const char *prefix, valset *v)
{
    char k[64];
    size_t n = valset_count(v);
    snprintf(k, sizeof k, "%s_median_ms", prefix);
    if (n) cJSON_AddNumberToObject(o, k, valset_median(v) / 1e6);
    else cJSON_AddNullToObject(o, k);
    snprintf(k, sizeof k, "%s_p99_ms", prefix);
    if (n) cJSON_AddNumberToObject(o, k, valset_percentile(v, 99) / 1e6);
    else cJSON_AddNullToObject(o, k);
}

static double num_or_nan(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The send-lag verdict. */
static cJSON *send_lag_json(runlog *r, const cJSON *sum, double late_us)
{
    cJSON *s = cJSON_CreateObject();
    double p50 = num_or_nan(sum, "send_lag_p50_us"), p99 = num_or_nan(sum, "send_lag_p99_us");
    double max = num_or_nan(sum, "send_lag_max_us");
    uint64_t with = 0, over = 0;
    for (size_t i = 0; i < r->nreqs; i++) {
        const runlog_req *q = &r->reqs[i];
        if (q->t_sched == RUNLOG_NO_TIME || q->t_send == RUNLOG_NO_TIME) continue;
        with++;
        over += (double)(q->t_send - q->t_sched) > late_us * 1e3;
    }
    int known = isfinite(p99);
    int late = known && p99 > late_us;
    cJSON_AddStringToObject(s, "status", !known ? "unknown" : late ? "late" : "on time");
    cJSON_AddBoolToObject(s, "late", late);
    cJSON_AddNumberToObject(s, "threshold_us", late_us);
    cJSON_AddNumberToObject(s, "requests_over_threshold", (double)over);
    if (with) cJSON_AddNumberToObject(s, "share_over_threshold", (double)over / (double)with);
    else cJSON_AddNullToObject(s, "share_over_threshold");
    add_mid_tail(s, "ttft_from_sched", &r->from_sched[0]);
    add_mid_tail(s, "e2el_from_sched", &r->from_sched[1]);

    char a[32], b[32], c[32], t[32], msg[600];
    table_fmt_ms(a, sizeof a, p50 / 1e3);
    table_fmt_ms(b, sizeof b, p99 / 1e3);
    table_fmt_ms(c, sizeof c, max / 1e3);
    table_fmt_ms(t, sizeof t, late_us / 1e3);
    double share = with ? 100.0 * (double)over / (double)with : 0;
    if (!known && r->nreqs == 0)
        snprintf(msg, sizeof msg, "Send lag unknown: the log holds no measured request.");
    else if (!known)
        snprintf(msg, sizeof msg, "Send lag unknown: the log has no schedule times (t_sched_ns), so it "
                 "cannot say whether the client kept the trace's timing.");
    else if (late)
        snprintf(msg, sizeof msg, "WARNING: the client was late: send lag p99 %s exceeds %s (%.1f%% of requests "
                 "over %s, max %s). Latencies from t_send leave that wait out; ttft_from_sched and "
                 "e2e_from_sched include it.", b, t, share, t, c);
    else
        snprintf(msg, sizeof msg, "Send lag: the client kept the schedule (p50 %s, p99 %s, max %s; %.1f%% of "
                 "requests over %s).", a, b, c, share, t);
    cJSON_AddStringToObject(s, "verdict", msg);
    return s;
}

int report_slo_missed(const summary_opts *o, const runlog_req *q)
{
    if (!q->ok) return REPORT_MISSED_FAILED;
    int miss = 0;
    if (o->slo_ttft_ms > 0 &&
        (q->t_first == RUNLOG_NO_TIME || (double)(q->t_first - q->t_send) > o->slo_ttft_ms * 1e6))
        miss |= REPORT_MISSED_TTFT;
    if (o->slo_tpot_ms > 0 && q->tpot_ns >= 0 && q->tpot_ns > o->slo_tpot_ms * 1e6) miss |= REPORT_MISSED_TPOT;
    if (o->slo_e2el_ms > 0 && (double)(q->t_end - q->t_send) > o->slo_e2el_ms * 1e6) miss |= REPORT_MISSED_E2EL;
    return miss;
}

/* SLO attainment, as counted while the log was read (runlog.c). */
static cJSON *goodput_json(const runlog *r, const cJSON *sum)
{
    const summary_opts *o = &r->so;
    if (!(o->slo_ttft_ms > 0 || o->slo_tpot_ms > 0 || o->slo_e2el_ms > 0)) return cJSON_CreateNull();
    uint64_t met = r->slo_met, failed = r->slo_failed;
    uint64_t m_ttft = r->slo_missed[0], m_tpot = r->slo_missed[1], m_e2el = r->slo_missed[2];
    cJSON *g = cJSON_CreateObject();
    cJSON *slo = cJSON_AddObjectToObject(g, "slo");
    if (o->slo_ttft_ms > 0) cJSON_AddNumberToObject(slo, "ttft_ms", o->slo_ttft_ms);
    if (o->slo_tpot_ms > 0) cJSON_AddNumberToObject(slo, "tpot_ms", o->slo_tpot_ms);
    if (o->slo_e2el_ms > 0) cJSON_AddNumberToObject(slo, "e2el_ms", o->slo_e2el_ms);
    cJSON_AddStringToObject(g, "slo_from", r->slo_source);
    cJSON_AddNumberToObject(g, "met", (double)met);
    cJSON_AddNumberToObject(g, "measured", (double)r->nreqs);
    if (r->nreqs) cJSON_AddNumberToObject(g, "share", (double)met / (double)r->nreqs);
    else cJSON_AddNullToObject(g, "share");
    cJSON *m = cJSON_AddObjectToObject(g, "missed");
    if (o->slo_ttft_ms > 0) cJSON_AddNumberToObject(m, "ttft", (double)m_ttft);
    if (o->slo_tpot_ms > 0) cJSON_AddNumberToObject(m, "tpot", (double)m_tpot);
    if (o->slo_e2el_ms > 0) cJSON_AddNumberToObject(m, "e2el", (double)m_e2el);
    cJSON_AddNumberToObject(m, "failed", (double)failed);
    const cJSON *gp = cJSON_GetObjectItemCaseSensitive(sum, "request_goodput");
    cJSON_AddItemToObject(g, "request_goodput", gp ? cJSON_Duplicate(gp, 0) : cJSON_CreateNull());
    return g;
}

/* Failures by class (share of measured requests) and the top messages. */
static cJSON *failures_json(const runlog *r, const cJSON *sum)
{
    cJSON *f = cJSON_CreateObject();
    double failed = num_or_nan(sum, "failed");
    double total = (double)r->nreqs;
    cJSON_AddNumberToObject(f, "failed", failed);
    if (total > 0) cJSON_AddNumberToObject(f, "share", failed / total);
    else cJSON_AddNullToObject(f, "share");
    cJSON *by = cJSON_AddArrayToObject(f, "by_class");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sum, "errors")) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "class", e->string);
        cJSON_AddNumberToObject(c, "count", e->valuedouble);
        cJSON_AddNumberToObject(c, "share", total > 0 ? e->valuedouble / total : 0);
        cJSON_AddItemToArray(by, c);
    }
    cJSON *ms = cJSON_AddArrayToObject(f, "messages");
    for (size_t i = 0; i < r->nmsgs && i < REPORT_TOP_MESSAGES; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "class", r->msgs[i].cls);
        cJSON_AddStringToObject(c, "message", r->msgs[i].message);
        cJSON_AddNumberToObject(c, "count", (double)r->msgs[i].n);
        cJSON_AddItemToArray(ms, c);
    }
    uint64_t rest = r->msgs_dropped;
    for (size_t i = REPORT_TOP_MESSAGES; i < r->nmsgs; i++) rest += r->msgs[i].n;
    cJSON_AddNumberToObject(f, "failures_not_listed", (double)rest);
    return f;
}

cJSON *report_json(runlog *r, const report_opts *o)
{
    report_opts d = { 0, 0 };
    if (!o) o = &d;
    double late_us = o->late_us > 0 ? o->late_us : REPORT_LATE_US;
    cJSON *j = runlog_summary_json(r);
    cJSON_AddItemToObject(j, "source", source_json(r));
    cJSON_AddItemToObject(j, "send_lag", send_lag_json(r, j, late_us));
    cJSON_AddItemToObject(j, "goodput", goodput_json(r, j));
    cJSON_AddItemToObject(j, "failures", failures_json(r, j));
    if (r->grp) {
        cJSON *g = cJSON_AddObjectToObject(j, "groups");
        cJSON_AddStringToObject(g, "by", groups_by_name(r->by));
        cJSON_AddBoolToObject(g, "overflowed", groups_overflowed(r->grp));
        cJSON_AddItemToObject(g, "rows", groups_json(r->grp));
    }
    cJSON_AddItemToObject(j, "timeseries", timeseries_json(r->reqs, r->nreqs, o->interval_ns));
    return j;
}

const char *report_verdict(const cJSON *rep)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "send_lag"), "verdict");
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- printing ---- */

/* Where the run came from, one line. */
static void print_source(const cJSON *rep, table_format f, FILE *out)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rep, "source");
    strbuf b = {0};
    const cJSON *v;
    sb_printf(&b, "Log %s", cJSON_GetObjectItemCaseSensitive(s, "log")->valuestring);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "manifest"))) sb_adds(&b, " (no run.json beside it)");
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(s, "client"))) sb_printf(&b, "; client %s", v->valuestring);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(s, "url"))) sb_printf(&b, " against %s", v->valuestring);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(s, "trace"))) sb_printf(&b, "; trace %s", v->valuestring);
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(s, "speed"))) sb_printf(&b, " at %gx", v->valuedouble);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(s, "start"))) sb_printf(&b, "; started %s", v->valuestring);
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(s, "shards"))) {
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(s, "start_skew_us");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(s, "barrier_exit_spread_us");
        sb_printf(&b, "; %d shards merged", (int)v->valuedouble);
        if (cJSON_IsNumber(bs)) sb_printf(&b, ", MPI barrier exit spread %.0f us", bs->valuedouble);
        if (cJSON_IsNumber(sk)) sb_printf(&b, ", wall-clock start skew %.0f us (hosts' clocks assumed "
                                          "synchronised)", sk->valuedouble);
    }
    fprintf(out, f == TABLE_MD ? "%s.\n\n" : "%s\n", b.buf);
    sb_free(&b);
}

static void print_goodput(const cJSON *rep, table_format f, FILE *out)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "goodput");
    if (!cJSON_IsObject(g)) return;
    strbuf b = {0};
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(g, "slo"))
        sb_printf(&b, "%s%.*s <= %g ms", b.len ? ", " : "", (int)strcspn(x->string, "_"), x->string, x->valuedouble);
    double met = num_or_nan(g, "met"), n = num_or_nan(g, "measured"), share = num_or_nan(g, "share");
    double gp = num_or_nan(g, "request_goodput");
    const char *from = cJSON_GetObjectItemCaseSensitive(g, "slo_from")->valuestring;
    from = !strcmp(from, "run.json") ? "the run's own --slo, from run.json" : "the command line";
    if (f == TABLE_MD) fprintf(out, "### SLO\n\n");
    fprintf(out, f == TABLE_MD ? "SLO %s (from %s): met by %.0f of %.0f measured requests (%.1f%%); "
                                 "goodput %.2f req/s.\n\n"
                               : "SLO %s (from %s)\n  met by %.0f of %.0f measured requests (%.1f%%); "
                                 "goodput %.2f req/s\n",
            b.buf, from, met, n, isfinite(share) ? 100 * share : 0.0, isfinite(gp) ? gp : 0.0);
    sb_clear(&b);
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(g, "missed"))
        sb_printf(&b, "%s%s %.0f", b.len ? ", " : "", x->string, x->valuedouble);
    fprintf(out, f == TABLE_MD ? "Missed (a request can miss several): %s.\n\n" : "  missed (a request can miss "
            "several): %s\n", b.buf);
    sb_free(&b);
}

static void print_failures(const cJSON *rep, table_format f, FILE *out)
{
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(rep, "failures");
    double failed = num_or_nan(fl, "failed");
    if (!(failed > 0)) {
        fprintf(out, f == TABLE_MD ? "No request failed.\n\n" : "Errors: none\n");
        return;
    }
    char title[128];
    snprintf(title, sizeof title, "Errors: %.0f failed (%.2f%% of measured requests)", failed,
             100 * num_or_nan(fl, "share"));
    table *t = table_new(title);
    table_cell(t, "class");
    table_cell(t, "count");
    table_cell(t, "share");
    table_end_row(t);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fl, "by_class")) {
        table_cell(t, "%s", cJSON_GetObjectItemCaseSensitive(c, "class")->valuestring);
        table_cell(t, "%.0f", num_or_nan(c, "count"));
        table_cell(t, "%.2f%%", 100 * num_or_nan(c, "share"));
        table_end_row(t);
    }
    table_print(t, f, out);
    table_free(t);
    t = table_new(f == TABLE_MD ? "Most frequent messages" : "  most frequent messages:");
    table_cell(t, "class");
    table_cell(t, "count");
    table_cell(t, "message");
    table_end_row(t);
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fl, "messages")) {
        table_cell(t, "%s", cJSON_GetObjectItemCaseSensitive(c, "class")->valuestring);
        table_cell(t, "%.0f", num_or_nan(c, "count"));
        table_cell(t, "%s", cJSON_GetObjectItemCaseSensitive(c, "message")->valuestring);
        table_end_row(t);
    }
    if (table_rows(t) > 1) table_print(t, f, out);
    table_free(t);
}

/* Group rows: the figures a reader compares across groups. */
static void print_groups(const cJSON *rep, table_format f, FILE *out)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "groups");
    if (!g) return;
    static const char *const cols[][2] = {
        { "completed", "completed" }, { "failed", "failed" }, { "req/s", "request_throughput" },
        { "goodput", "request_goodput" }, { "TTFT p50", "median_ttft_ms" }, { "TTFT p99", "p99_ttft_ms" },
        { "TPOT p50", "median_tpot_ms" }, { "TPOT p99", "p99_tpot_ms" }, { "ITL p50", "median_itl_ms" },
        { "ITL p99", "p99_itl_ms" }, { "E2EL p50", "median_e2el_ms" }, { "E2EL p99", "p99_e2el_ms" },
    };
    const char *by = cJSON_GetObjectItemCaseSensitive(g, "by")->valuestring;
    char title[128];
    snprintf(title, sizeof title, "By %s (latencies in ms)%s", by,
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "overflowed")) ? "; groups past the limit pooled in \"(other)\"" : "");
    int slo = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rep, "goodput"));
    table *t = table_new(title);
    table_cell(t, "%s", by);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        if (c != 3 || slo) table_cell(t, "%s", cols[c][0]);
    table_end_row(t);
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(g, "rows")) {
        table_cell(t, "%s", cJSON_GetObjectItemCaseSensitive(row, "group")->valuestring);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            if (c == 3 && !slo) continue;
            double v = num_or_nan(row, cols[c][1]);
            table_num(t, isfinite(v), v, c < 2 ? 0 : 2);
        }
        table_end_row(t);
    }
    table_print(t, f, out);
    table_free(t);
}

/* The time series as a table (CSV: exact numbers). */
static table *series_table(const cJSON *rep, int titled)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(rep, "timeseries");
    static const char *const cols[][2] = {
        { "t (s)", "t_s" }, { "sent", "sent" }, { "rate (req/s)", "rate" }, { "completed", "completed" },
        { "failed", "failed" }, { "TTFT p50 (ms)", "ttft_p50_ms" }, { "TTFT p99 (ms)", "ttft_p99_ms" },
        { "in flight", "in_flight" },
    };
    static const int dec[] = { 1, 0, 2, 0, 0, 2, 2, 1 };
    char title[96];
    snprintf(title, sizeof title, "Over time (%g s intervals, by send time; completions by end time)",
             num_or_nan(ts, "interval_s"));
    table *t = table_new(titled ? title : NULL);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) table_cell(t, "%s", cols[c][0]);
    table_end_row(t);
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(ts, "rows")) {
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            double v = num_or_nan(row, cols[c][1]);
            table_num(t, isfinite(v), v, dec[c]);
        }
        table_end_row(t);
    }
    return t;
}

void report_print(const cJSON *rep, table_format f, FILE *out)
{
    if (f == TABLE_MD) {
        fprintf(out, "# sagellm-bench report\n\n**%s**\n\n", report_verdict(rep));
        sumtable_warnings(rep, f, out);
        print_source(rep, f, out);
    } else {
        fprintf(out, "%s\n", report_verdict(rep));
        sumtable_warnings(rep, f, out);
        print_source(rep, f, out);
    }
    sumtable_print(rep, f, 0, out);
    print_goodput(rep, f, out);
    print_failures(rep, f, out);
    print_groups(rep, f, out);
    table *t = series_table(rep, 1);
    table_print(t, f, out);
    table_free(t);
}

/* 1 for the first member report_json adds after the summary's keys. */
static int is_extra(const cJSON *k)
{
    return k->string && !strcmp(k->string, "source");
}

/* A CSV cell for a summary value: a number in full, a word, or empty. */
static void csv_value(table *t, const cJSON *v)
{
    if (cJSON_IsString(v)) table_cell(t, "%s", v->valuestring);
    else table_num(t, cJSON_IsNumber(v), cJSON_IsNumber(v) ? v->valuedouble : 0, 6);
}

void report_print_csv(const cJSON *rep, int series, FILE *out)
{
    if (series) {
        table *t = series_table(rep, 0);
        table_print(t, TABLE_CSV, out);
        table_free(t);
        return;
    }
    /* Columns: every numeric summary key of the whole run, in its order. */
    table *t = table_new(NULL);
    const char *by = "group";
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "groups");
    if (g) by = cJSON_GetObjectItemCaseSensitive(g, "by")->valuestring;
    table_cell(t, "%s", by);
    const cJSON *k;
    for (k = rep->child; k && !is_extra(k); k = k->next)
        if (!cJSON_IsObject(k)) table_cell(t, "%s", k->string);
    table_end_row(t);
    table_cell(t, "all");
    for (k = rep->child; k && !is_extra(k); k = k->next)
        if (!cJSON_IsObject(k)) csv_value(t, k);
    table_end_row(t);
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(g, "rows")) {
        table_cell(t, "%s", cJSON_GetObjectItemCaseSensitive(row, "group")->valuestring);
        for (k = rep->child; k && !is_extra(k); k = k->next)
            if (!cJSON_IsObject(k)) csv_value(t, cJSON_GetObjectItemCaseSensitive(row, k->string));
        table_end_row(t);
    }
    table_print(t, TABLE_CSV, out);
    table_free(t);
}
