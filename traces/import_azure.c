/* import_azure.c — the Azure LLM inference traces (Azure/AzurePublicDataset:
 * AzureLLMInferenceTrace_{code,conv}.csv of 2023 and the week-long 2024
 * files), CSV with the header TIMESTAMP,ContextTokens,GeneratedTokens.
 *
 * Mapping (columns found by name, any order, case-insensitive):
 *   TIMESTAMP        -> t_us: absolute time, rebased so the first row is 0;
 *                       the header gets "t0", that first time in ISO-8601 UTC
 *   ContextTokens    -> input_tokens
 *   GeneratedTokens  -> output_tokens
 *   any other column -> meta.NAME
 *   id "azure-N"; api from --api, else "completions" (length-only records);
 *   model from --model, else none (the trace does not name one).
 *
 * Timestamps: "YYYY-MM-DD HH:MM:SS[.F][Z|+HH:MM|-HH:MM|+HHMM]" ('T' also
 * accepted between date and time). The 2023 files have 7 fractional digits
 * and no zone (taken as UTC); the 2024 files end in "+00:00" and some rows
 * have no fraction. The fraction is parsed as integers, never through a
 * double: up to 9 digits, rounded half up to the microsecond
 * (.6805905 -> .680591, .9999995 -> the next second). Offsets are
 * subtracted to give UTC. The date part goes through timegm(), cached per
 * hour, so 27 M rows parse at CSV speed in constant memory.
 *
 * Order: a row earlier than the one before it is an error (with the hint to
 * re-run with --sort). With --sort the rows are kept in memory and the
 * earliest one becomes t_us 0. */
#include "traces/import.h"
#include "traces/import_csv.h"
#include "traces/import_rec.h"
#include "traces/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { COL_TS, COL_IN, COL_OUT };
static const import_csv_col azure_cols[] = {
    { "TIMESTAMP", 1 }, { "ContextTokens", 1 }, { "GeneratedTokens", 1 },
};

typedef struct held { int64_t t; cJSON *rec; uint64_t line; } held;

typedef struct azure_st {
    int have_t0;
    int64_t t0;               /* absolute µs of the first row (or earliest with --sort) */
    int64_t hour_key;         /* cache: YYYYMMDDHH of the last row */
    int64_t hour_epoch;       /* and its epoch seconds */
    held *held;               /* --sort: every row, absolute times */
    size_t nheld, capheld;
} azure_st;

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return d[m - 1];
}

/* Parses one timestamp into µs since the epoch (UTC). Returns 0 or -1. */
static int parse_ts(azure_st *st, const char *s, size_t n, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return -1;
    size_t i = 19;
    int64_t us = 0;
    if (i < n && s[i] == '.') {
        i++;
        int k = 0, up = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (k < 6) us = us * 10 + (s[i] - '0');
            else if (k == 6) up = s[i] >= '5';
            k++, i++;
        }
        if (k == 0 || k > 9) return -1;
        for (int j = k; j < 6; j++) us *= 10;
        us += up;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om, sign = s[i] == '-' ? -1 : 1;
        i++;
        if (n - i == 5 && s[i + 2] == ':') {
            if (digits(s + i, 2, &oh) || digits(s + i + 3, 2, &om)) return -1;
        } else if (n - i == 4) {
            if (digits(s + i, 2, &oh) || digits(s + i + 2, 2, &om)) return -1;
        } else {
            return -1;
        }
        if (oh > 23 || om > 59) return -1;
        off = sign * (oh * 3600 + om * 60);
        i = n;
    }
    if (i != n) return -1;
    int64_t key = ((int64_t)y * 100 + mo) * 10000 + d * 100 + h;
    if (key != st->hour_key) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        st->hour_epoch = (int64_t)timegm(&tm);
        st->hour_key = key;
    }
    int64_t sec = st->hour_epoch + mi * 60 + se - off;
    *out = sec * 1000000 + us;
    return 0;
}

/* ISO-8601 UTC with microseconds for any epoch µs (floor division). */
static int azure_row(import_ctx *ctx, const import_csv_row *r, void *ud)
{
    azure_st *st = ud;
    int64_t t, in, out;
    int rc = 0;
    if (parse_ts(st, r->v[COL_TS], r->len[COL_TS], &t) < 0)
        return import_rec_bad_text(ctx, r->line, azure_cols[COL_TS].name,
                                   "a time like 2023-11-16 18:15:46.6805900 "
                                   "(optionally with +00:00)", r->v[COL_TS], r->len[COL_TS]);
    if (!import_csv_counts(ctx, r, azure_cols, COL_IN, COL_OUT, &in, &out, &rc)) return rc;
    const import_opts *o = import_options(ctx);
    if (!st->have_t0 && !o->sort) {
        char iso[64];
        st->t0 = t;
        st->have_t0 = 1;
        import_utc_iso(t, iso, sizeof iso);
        cJSON_AddStringToObject(import_header(ctx), "t0", iso);
    }
    int64_t rel = o->sort ? t : t - st->t0;
    if (!o->sort && rel < 0) {
        char a[64], b[64];
        import_utc_iso(t, a, sizeof a);
        import_utc_iso(st->t0, b, sizeof b);
        return import_bad(ctx, r->line, azure_cols[COL_TS].name, "out of order: %s is before "
                          "the first row's %s; re-run with --sort to sort the records in memory",
                          a, b);
    }
    if (!o->sort && rel > TRACE_MAX_T_US)
        return import_bad(ctx, r->line, azure_cols[COL_TS].name, "expected a time less than "
                          "285 years after the first row");
    /* With --sort, t_us holds the absolute time until the end (exact: the
     * epoch in µs is below 2^53 until the year 2255). */
    cJSON *rec = import_csv_length_rec(ctx, r, rel, NULL, in, out, &rc);
    if (!rec) return rc;
    if (!o->sort) return import_emit(ctx, rec, r->line);
    if (st->nheld == st->capheld) {
        st->capheld = st->capheld ? st->capheld * 2 : 4096;
        st->held = xrealloc(st->held, st->capheld * sizeof *st->held);
    }
    st->held[st->nheld++] = (held){ t, rec, r->line };
    if (!st->have_t0 || t < st->t0) st->t0 = t, st->have_t0 = 1;
    return 0;
}

/* --sort: rebase every held row on the earliest and hand them over. */
static int flush_held(import_ctx *ctx, azure_st *st)
{
    int rc = 0;
    size_t i = 0;
    if (st->nheld) {
        char iso[64];
        import_utc_iso(st->t0, iso, sizeof iso);
        cJSON_AddStringToObject(import_header(ctx), "t0", iso);
    }
    for (; i < st->nheld && !rc; i++) {
        held *h = &st->held[i];
        int64_t rel = h->t - st->t0;
        if (rel > TRACE_MAX_T_US) {
            rc = import_bad(ctx, h->line, azure_cols[COL_TS].name, "expected a time less "
                            "than 285 years after the earliest row");
            cJSON_Delete(h->rec);
            continue;
        }
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(h->rec, "t_us"), (double)rel);
        rc = import_emit(ctx, h->rec, h->line);
    }
    for (; i < st->nheld; i++) cJSON_Delete(st->held[i].rec);
    return rc;
}

static int azure_run(import_ctx *ctx)
{
    azure_st st;
    memset(&st, 0, sizeof st);
    st.hour_key = -1;
    int rc = import_csv_run(ctx, azure_cols, 3, azure_row, &st);
    if (!rc) rc = flush_held(ctx, &st);
    else
        for (size_t i = 0; i < st.nheld; i++) cJSON_Delete(st.held[i].rec);
    free(st.held);
    return rc;
}

const importer import_azure = {
    "azure",
    "Azure LLM inference CSV (TIMESTAMP,ContextTokens,GeneratedTokens), 2023 and 2024",
    azure_run,
};
