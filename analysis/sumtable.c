/* sumtable.c — see sumtable.h. */
#include "analysis/sumtable.h"

#include <math.h>
#include <string.h>

/* A row: its label (with token counts, with chunk counts, with both), the
 * summary key and decimals; a NULL label starts a section named by key. */
typedef struct row {
    const char *label, *chunks, *mixed;
    const char *key;
    int decimals;
} row;

#define SECTION(name) { NULL, NULL, NULL, name, 0 }
#define ROW(label, key, d) { label, NULL, NULL, key, d }
#define STATS(name, x) \
    ROW("Mean " name " (ms):", "mean_" x "_ms", 2), ROW("Median " name " (ms):", "median_" x "_ms", 2), \
    ROW("P90 " name " (ms):", "p90_" x "_ms", 2), ROW("P99 " name " (ms):", "p99_" x "_ms", 2)

static const row head_rows[] = {
    ROW("Successful requests:", "completed", 0),
    ROW("Failed requests:", "failed", 0),
    ROW("Benchmark duration (s):", "duration", 2),
    ROW("Total input tokens:", "total_input_tokens", 0),
    { "Total generated tokens:", "Total generated chunks (no usage):", "Total generated tokens+chunks (mixed):",
      "total_output_tokens", 0 },
    ROW("Request throughput (req/s):", "request_throughput", 2),
    ROW("Request goodput (req/s):", "request_goodput", 2),
    { "Output token throughput (tok/s):", "Output chunk throughput (chunk/s):",
      "Output tok+chunk throughput (/s):", "output_throughput", 2 },
    { "Total Token throughput (tok/s):", "Total in tok + out chunk (/s):", "Total tok+chunk throughput (/s):",
      "total_token_throughput", 2 },
    ROW("Achieved rate (req/s):", "achieved_rate", 2),
    ROW("Trace rate (req/s):", "trace_rate", 2),
    ROW("Max concurrency:", "max_concurrency", 0),
    ROW("Short outputs (below forced length):", "short_outputs", 0),
    SECTION("Time to First Token"), STATS("TTFT", "ttft"),
    SECTION("Time per Output Token (excl. 1st token)"), STATS("TPOT", "tpot"),
    SECTION("Inter-token Latency"), STATS("ITL", "itl"),
    SECTION("End-to-end Latency"), STATS("E2EL", "e2el"),
};

/* The engine view: shown only when the summary has "engine_requests". */
static const row engine_rows[] = {
    SECTION("Engine-reported (engine's own clock)"),
    ROW("Requests with engine times:", "engine_requests", 0),
    STATS("engine TTFT", "engine_ttft"), STATS("engine TPOT", "engine_tpot"),
    STATS("engine queue", "engine_queue"), STATS("engine prefill", "engine_prefill"),
    STATS("engine decode", "engine_decode"),
};

static const row lag_rows[] = {
    SECTION("Send lag"),
    ROW("P50 send lag (us):", "send_lag_p50_us", 1), ROW("P99 send lag (us):", "send_lag_p99_us", 1),
    ROW("Max send lag (us):", "send_lag_max_us", 1),
};

static const char dashes[] = "--------------------------------------------------";

/* 0 tokens, 1 chunks, 2 mixed: what the summary's counts are. */
static int basis(const cJSON *sum)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(sum, "token_source");
    if (!cJSON_IsString(b)) return 0;
    return !strcmp(b->valuestring, "chunks") ? 1 : !strcmp(b->valuestring, "mixed") ? 2 : 0;
}

/* 1 when the row is shown: request_goodput only with SLOs (the key is
 * there), short_outputs only when some output length was forced. */
static int shown(const cJSON *sum, const row *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, r->key);
    if (!v) return 0;
    if (!strcmp(r->key, "short_outputs")) return cJSON_IsNumber(v);
    return 1;
}

static const char *label_of(const row *r, int b)
{
    if (b == 1 && r->chunks) return r->chunks;
    if (b == 2 && r->mixed) return r->mixed;
    return r->label;
}

static void print_rows_text(const cJSON *sum, const row *rows, size_t n, int b, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->label) {
            int len = (int)strlen(r->key), pad = (50 - len) / 2;
            if (pad < 0) pad = 0;
            fprintf(out, "%.*s%s%.*s\n", pad, dashes, r->key, 50 - pad - len > 0 ? 50 - pad - len : 0, dashes);
            continue;
        }
        if (!shown(sum, r)) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, r->key);
        const char *l = label_of(r, b);
        int w = strlen(l) >= 40 ? 1 : 0; /* a long label still leaves a space */
        if (cJSON_IsNumber(v)) fprintf(out, "%-40s%*.*f\n", l, 10 - w, r->decimals, v->valuedouble);
        else fprintf(out, "%-40s%*s\n", l, 10 - w, "n/a");
    }
}

static void add_rows_md(table *t, const cJSON *sum, const row *rows, size_t n, int b)
{
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->label || !shown(sum, r)) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, r->key);
        const char *l = label_of(r, b);
        size_t k = strlen(l);
        table_cell(t, "%.*s", (int)(k && l[k - 1] == ':' ? k - 1 : k), l);
        table_num(t, cJSON_IsNumber(v), cJSON_IsNumber(v) ? v->valuedouble : 0, r->decimals);
        table_end_row(t);
    }
}

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* The percentiles' error bound when they came from histograms, else 0. */
static double hist_bound(const cJSON *sum)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(sum, "percentiles");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(sum, "percentile_error_bound");
    return cJSON_IsString(m) && !strcmp(m->valuestring, "histogram") && cJSON_IsNumber(b) ? b->valuedouble : 0;
}

void sumtable_print(const cJSON *sum, table_format f, unsigned flags, FILE *out)
{
    int b = basis(sum);
    int engine = cJSON_GetObjectItemCaseSensitive(sum, "engine_requests") != NULL;
    if (f == TABLE_MD) {
        table *t = table_new("Summary");
        table_cell(t, "metric");
        table_cell(t, "value");
        table_end_row(t);
        add_rows_md(t, sum, head_rows, NROWS(head_rows), b);
        if (engine) add_rows_md(t, sum, engine_rows, NROWS(engine_rows), b);
        add_rows_md(t, sum, lag_rows, NROWS(lag_rows), b);
        if (hist_bound(sum) > 0) {
            table_cell(t, "Percentiles from histograms, error bound (%%)");
            table_num(t, 1, 100 * hist_bound(sum), 3);
            table_end_row(t);
        }
        table_print(t, TABLE_MD, out);
        table_free(t);
        return;
    }
    if (f != TABLE_TEXT) return;
    fprintf(out, "============ Serving Benchmark Result ============\n");
    print_rows_text(sum, head_rows, NROWS(head_rows), b, out);
    if (engine) print_rows_text(sum, engine_rows, NROWS(engine_rows), b, out);
    print_rows_text(sum, lag_rows, NROWS(lag_rows), b, out);
    if (hist_bound(sum) > 0) /* the values were too many to keep: say so */
        fprintf(out, "%-40s%9.3f%%\n", "Percentiles from histograms, within:", 100 * hist_bound(sum));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(sum, "errors");
    if ((flags & SUMTABLE_ERRORS) && e && e->child) {
        fprintf(out, "-----------------------Errors---------------------\n");
        for (const cJSON *c = e->child; c; c = c->next)
            if (cJSON_IsNumber(c)) fprintf(out, "%-40s%10.0f\n", c->string, c->valuedouble);
    }
    fprintf(out, "==================================================\n");
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int sumtable_warnings(const cJSON *sum, table_format f, FILE *out)
{
    double n = num(sum, "short_outputs"), forced = num(sum, "forced_outputs");
    if (!(n > 0)) return 0;
    fprintf(out, f == TABLE_MD ? "**WARNING**: %.0f of %.0f requests that forced their output length came back "
                                 "short (%.0f tokens missing): the server or a gateway in front of it ignored "
                                 "ignore_eos/min_tokens, so these figures are over shorter outputs than the "
                                 "trace asks for.\n\n"
                               : "WARNING: %.0f of %.0f requests that forced their output length came back short "
                                 "(%.0f tokens missing): the server or a gateway in front of it ignored "
                                 "ignore_eos/min_tokens, so these figures are over shorter outputs than the "
                                 "trace asks for.\n",
            n, forced, num(sum, "short_output_tokens_missing"));
    return 1;
}
