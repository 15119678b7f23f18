/* compare_print.c — prints a compare_json document (compare.h) as text,
 * Markdown or CSV. Everything printed is read from the document, so
 * `--format json` holds all of it. */
#include "analysis/compare.h"
#include "common/util.h"

#include <math.h>
#include <string.h>

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Decimals for a summary key: counts 0, send lag 1, the rest 2. */
static int decimals(const char *key)
{
    if (!strcmp(key, "completed") || !strcmp(key, "failed") || !strcmp(key, "max_concurrency") ||
        !strcmp(key, "total_output_tokens") || !strcmp(key, "short_outputs") || !strcmp(key, "engine_requests"))
        return 0;
    if (!strncmp(key, "send_lag", 8)) return 1;
    return 2;
}

static void print_runs(const cJSON *doc, table_format f, FILE *out)
{
    table *t = table_new(f == TABLE_MD ? "Runs" : "Runs");
    table_cell(t, "run");
    table_cell(t, "path");
    table_cell(t, "client");
    table_cell(t, "target");
    table_cell(t, "trace digest");
    table_cell(t, "speed");
    table_end_row(t);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "runs")) {
        table_cell(t, "%s", jstr(r, "name"));
        table_cell(t, "%s", jstr(r, "path"));
        table_cell(t, "%s", jstr(r, "client")[0] ? jstr(r, "client") : "?");
        table_cell(t, "%s", jstr(r, "url")[0] ? jstr(r, "url") : jstr(r, "engine")[0] ? jstr(r, "engine") : "?");
        table_cell(t, "%s", jstr(r, "trace_digest")[0] ? jstr(r, "trace_digest") : "unknown");
        double sp = jnum(r, "speed");
        if (isfinite(sp)) table_cell(t, "%gx", sp);
        else table_cell(t, "?");
        table_end_row(t);
    }
    table_print(t, f, out);
    table_free(t);
}

/* The side-by-side table: values, then difference and ratio per run. */
static table *metrics_table(const cJSON *doc, int titled)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(doc, "runs");
    int n = cJSON_GetArraySize(runs);
    table *t = table_new(titled ? "Side by side (differences and ratios against A)" : NULL);
    table_cell(t, "metric");
    for (int i = 0; i < n; i++) table_cell(t, "%c", 'A' + i);
    for (int i = 1; i < n; i++) {
        table_cell(t, "%c-A", 'A' + i);
        table_cell(t, "%c/A", 'A' + i);
    }
    table_end_row(t);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "metrics")) {
        const char *key = jstr(m, "key");
        int d = decimals(key);
        table_cell(t, "%s", key);
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(m, "values");
        const cJSON *diff = cJSON_GetObjectItemCaseSensitive(m, "diff");
        const cJSON *ratio = cJSON_GetObjectItemCaseSensitive(m, "ratio");
        for (int i = 0; i < n; i++) {
            const cJSON *v = cJSON_GetArrayItem(vals, i);
            table_num(t, cJSON_IsNumber(v), v ? v->valuedouble : 0, d);
        }
        for (int i = 1; i < n; i++) {
            const cJSON *v = cJSON_GetArrayItem(diff, i), *r = cJSON_GetArrayItem(ratio, i);
            table_num(t, cJSON_IsNumber(v), v ? v->valuedouble : 0, d);
            table_num(t, cJSON_IsNumber(r), r ? r->valuedouble : 0, 3);
        }
        table_end_row(t);
    }
    return t;
}

static void print_ci(const cJSON *doc, table_format f, FILE *out)
{
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(doc, "ci");
    if (!ci || !ci->child) return;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "bootstrap");
    char title[300];
    snprintf(title, sizeof title, "Differences with %.0f%% bootstrap intervals (seed %.0f, %.0f resamples; "
             "a claim needs the interval to exclude 0 and a difference of at least %.0f%%)",
             100 * jnum(b, "level"), jnum(b, "seed"), jnum(b, "resamples"), 100 * jnum(b, "min_effect"));
    table *t = table_new(title);
    const char *hdr[] = { "run", "metric", "A (ms)", "run (ms)", "diff (ms)", "interval (ms)", "rel.", "verdict" };
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) table_cell(t, "%s", hdr[i]);
    table_end_row(t);
    const cJSON *e;
    cJSON_ArrayForEach(e, ci) {
        table_cell(t, "%s vs A", jstr(e, "run"));
        table_cell(t, "%s %s", jstr(e, "stat"), jstr(e, "metric"));
        table_num(t, 1, jnum(e, "a_ms"), 3);
        table_num(t, 1, jnum(e, "b_ms"), 3);
        table_cell(t, "%+.3f", jnum(e, "diff_ms"));
        table_cell(t, "[%+.3f, %+.3f]", jnum(e, "lo_ms"), jnum(e, "hi_ms"));
        double rel = jnum(e, "relative");
        if (isfinite(rel)) table_cell(t, "%+.1f%%", 100 * rel);
        else table_cell(t, "n/a");
        table_cell(t, "%s", jstr(e, "verdict"));
        table_end_row(t);
    }
    table_print(t, f, out);
    table_free(t);
}

static void print_paired(const cJSON *doc, table_format f, FILE *out)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "paired");
    if (!p || !p->child) return;
    table *t = table_new("Requests paired by trace index (share of pairs where the run was faster or slower than A)");
    const char *hdr[] = { "run", "metric", "pairs", "faster", "slower", "same", "median diff (ms)" };
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) table_cell(t, "%s", hdr[i]);
    table_end_row(t);
    static const char *const ms[] = { "ttft", "tpot", "e2el" };
    const cJSON *e;
    cJSON_ArrayForEach(e, p) {
        for (size_t k = 0; k < 3; k++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, ms[k]);
            table_cell(t, "%s vs A", jstr(e, "run"));
            table_cell(t, "%s", ms[k]);
            table_cell(t, "%.0f", jnum(x, "pairs"));
            double fa = jnum(x, "faster"), sl = jnum(x, "slower"), sa = jnum(x, "same");
            if (isfinite(fa)) {
                table_cell(t, "%.1f%%", 100 * fa);
                table_cell(t, "%.1f%%", 100 * sl);
                table_cell(t, "%.1f%%", 100 * sa);
            } else {
                table_cell(t, "n/a");
                table_cell(t, "n/a");
                table_cell(t, "n/a");
            }
            double md = jnum(x, "median_diff_ms");
            if (isfinite(md)) table_cell(t, "%+.3f", md);
            else table_cell(t, "n/a");
            table_end_row(t);
        }
    }
    table_print(t, f, out);
    table_free(t);
}

static void print_original(const cJSON *doc, table_format f, FILE *out)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "original");
    if (!o || !o->child) return;
    table *t = table_new("Original system vs replay (requests whose trace record holds the original timing; ms)");
    const char *hdr[] = { "run", "metric", "pairs", "orig p50", "replay p50", "orig p90", "replay p90",
                          "orig p99", "replay p99", "p50 ratio", "p50 diff [interval]", "replay faster" };
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) table_cell(t, "%s", hdr[i]);
    table_end_row(t);
    static const char *const ms[] = { "ttft", "e2el" };
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        for (size_t k = 0; k < 2; k++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, ms[k]);
            double pairs = jnum(x, "pairs");
            table_cell(t, "%s", jstr(e, "run"));
            table_cell(t, "%s", ms[k]);
            table_cell(t, "%.0f", pairs);
            static const char *const keys[] = { "original_median_ms", "replay_median_ms", "original_p90_ms",
                                                "replay_p90_ms", "original_p99_ms", "replay_p99_ms", "ratio_median" };
            for (size_t c = 0; c < sizeof keys / sizeof keys[0]; c++) {
                double v = jnum(x, keys[c]);
                table_num(t, isfinite(v), v, c == 6 ? 3 : 2);
            }
            if (pairs > 0)
                table_cell(t, "%+.2f [%+.2f, %+.2f]", jnum(x, "median_diff_ms"), jnum(x, "median_diff_lo_ms"),
                           jnum(x, "median_diff_hi_ms"));
            else table_cell(t, "n/a");
            double fa = jnum(x, "replay_faster");
            if (isfinite(fa)) table_cell(t, "%.1f%%", 100 * fa);
            else table_cell(t, "n/a");
            table_end_row(t);
        }
    }
    table_print(t, f, out);
    table_free(t);
}

void compare_print(const cJSON *doc, table_format f, FILE *out)
{
    if (f == TABLE_MD) fprintf(out, "# sagellm-bench compare\n\n");
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "warnings"))
        fprintf(out, f == TABLE_MD ? "- **WARNING**: %s\n" : "WARNING: %s\n", w->valuestring);
    if (f == TABLE_MD && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "warnings"))) fputc('\n', out);
    print_runs(doc, f, out);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "runs")) > 1) {
        table *t = metrics_table(doc, 1);
        table_print(t, f, out);
        table_free(t);
    }
    print_ci(doc, f, out);
    print_paired(doc, f, out);
    print_original(doc, f, out);
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "original_unavailable");
    if (cJSON_IsString(why) && f == TABLE_TEXT) fprintf(out, "Original vs replay: not available (%s)\n", why->valuestring);
}

void compare_print_csv(const cJSON *doc, FILE *out)
{
    table *t = metrics_table(doc, 0);
    table_print(t, TABLE_CSV, out);
    table_free(t);
}
