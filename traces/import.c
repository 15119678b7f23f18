/* import.c — the importer framework and registry. */
#include "traces/import.h"
#include "traces/trace_io.h"
#include "common/zio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const importer import_azure, import_burstgpt, import_mooncake, import_bailian,
    import_aibrix, import_splitwise, import_sharegpt, import_jsonl;

const importer *const importers[] = {
    &import_azure, &import_burstgpt, &import_mooncake, &import_bailian,
    &import_aibrix, &import_splitwise, &import_sharegpt, &import_jsonl, NULL,
};

const importer *import_find(const char *name)
{
    for (int i = 0; importers[i]; i++)
        if (!strcmp(importers[i]->name, name)) return importers[i];
    return NULL;
}

typedef struct pending { int64_t t; uint64_t seq; cJSON *rec; } pending;

struct import_ctx {
    const importer *imp;
    const import_opts *opt;
    zio_reader *in;
    cJSON *header;
    trace_writer *w;
    import_stats st;
    int64_t last_t;
    uint64_t last_line;
    uint64_t nid;
    pending *buf;          /* --sort */
    size_t nbuf, capbuf;
    const char *time_field; /* the source's name for the time, for messages */
    int rebase_epoch;      /* epoch times are rebased on the first record */
    int have_base;
    int64_t base;          /* subtracted from every time (0: none) */
    char err[1024];
};

const import_opts *import_options(import_ctx *ctx) { return ctx->opt; }
struct zio_reader *import_input(import_ctx *ctx) { return ctx->in; }
cJSON *import_header(import_ctx *ctx) { return ctx->header; }
void import_count_row(import_ctx *ctx) { ctx->st.rows++; }

void import_make_id(import_ctx *ctx, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%llu", ctx->imp->name, (unsigned long long)++ctx->nid);
}

int import_fail(import_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return code;
}

int import_bad(import_ctx *ctx, uint64_t line, const char *field, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(ctx->err, sizeof ctx->err, "%s:%llu: field '%s': %s", zio_reader_path(ctx->in),
             (unsigned long long)line, field, what);
    if (ctx->opt->skip_invalid) {
        if (!ctx->st.skipped++)
            snprintf(ctx->st.first_skip, sizeof ctx->st.first_skip, "%s", ctx->err);
        ctx->err[0] = '\0';
        return 0;
    }
    return ERR_INPUT;
}

void import_time_field(import_ctx *ctx, const char *name) { ctx->time_field = name; }
void import_rebase_epoch(import_ctx *ctx) { ctx->rebase_epoch = 1; }

void import_utc_iso(int64_t t_us, char *buf, size_t len)
{
    int64_t s = t_us / 1000000, us = t_us % 1000000;
    if (us < 0) us += 1000000, s--;
    time_t tt = (time_t)s;
    struct tm tm;
    char tmp[40];
    gmtime_r(&tt, &tm);
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06lldZ", tmp, (long long)us);
}

/* Takes t (the first record's time, or the earliest with --sort) as the
 * base when it is an epoch time, and writes it into the header as "t0". */
static void set_base(import_ctx *ctx, int64_t t)
{
    ctx->have_base = 1;
    ctx->base = t >= IMPORT_EPOCH_US ? t : 0;
    if (!ctx->base) return;
    char iso[64];
    import_utc_iso(t, iso, sizeof iso);
    cJSON_DeleteItemFromObjectCaseSensitive(ctx->header, "t0");
    cJSON_AddStringToObject(ctx->header, "t0", iso);
}

/* Sets the record's t_us to t. */
static void set_t(cJSON *rec, int64_t t)
{
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "t_us"), (double)t);
}

static int open_writer(import_ctx *ctx)
{
    char e[512];
    ctx->w = trace_writer_open(ctx->opt->out_path, ctx->header, ctx->opt->level, e, sizeof e);
    if (!ctx->w) return import_fail(ctx, ERR_SYSTEM, "%s", e);
    return 0;
}

static int64_t rec_t(const cJSON *rec)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "t_us");
    return cJSON_IsNumber(t) ? (int64_t)t->valuedouble : -1;
}

int import_emit(import_ctx *ctx, cJSON *rec, uint64_t line)
{
    int64_t t = rec_t(rec);
    const char *tf = ctx->time_field ? ctx->time_field : "timestamp";
    if (t < 0) {
        cJSON_Delete(rec);
        return import_bad(ctx, line, tf, "expected a time at or after the trace start");
    }
    if (ctx->rebase_epoch && !ctx->opt->sort) {
        if (!ctx->have_base) set_base(ctx, t);
        if (t < ctx->base) {
            cJSON_Delete(rec);
            return import_bad(ctx, line, tf, "out of order: %.6f s before the first record's time; re-run "
                              "with --sort to sort the records in memory",
                              (double)(ctx->base - t) / 1e6);
        }
        t -= ctx->base;
        set_t(rec, t);
    }
    if (ctx->opt->sort) {
        if (ctx->nbuf == ctx->capbuf) {
            ctx->capbuf = ctx->capbuf ? ctx->capbuf * 2 : 4096;
            ctx->buf = xrealloc(ctx->buf, ctx->capbuf * sizeof *ctx->buf);
        }
        ctx->buf[ctx->nbuf] = (pending){ t, ctx->nbuf, rec };
        ctx->nbuf++;
        return 0;
    }
    if (t < ctx->last_t) {
        int rc = import_bad(ctx, line, tf,
                            "out of order: %.6f s comes after %.6f s (line %llu); "
                            "re-run with --sort to sort the records in memory",
                            (double)t / 1e6, (double)ctx->last_t / 1e6,
                            (unsigned long long)ctx->last_line);
        cJSON_Delete(rec);
        return rc;
    }
    if (!ctx->w) {
        int rc = open_writer(ctx);
        if (rc) {
            cJSON_Delete(rec);
            return rc;
        }
    }
    ctx->last_t = t;
    ctx->last_line = line;
    int rc = trace_writer_put(ctx->w, rec);
    cJSON_Delete(rec);
    if (rc) return import_fail(ctx, rc, "%s", trace_writer_error(ctx->w));
    ctx->st.records++;
    return 0;
}

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int import_run(const importer *imp, const import_opts *opt, import_stats *stats,
               char *err, size_t errlen)
{
    import_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.imp = imp;
    ctx.opt = opt;
    ctx.in = zio_reader_open(opt->in_path, err, errlen);
    if (!ctx.in) return ERR_SYSTEM;
    char src[64];
    snprintf(src, sizeof src, "import:%s", imp->name);
    ctx.header = trace_header_new(src);
    const char *base = strrchr(opt->in_path, '/');
    cJSON_AddStringToObject(ctx.header, "origin", base ? base + 1 : opt->in_path);

    int rc = imp->run(&ctx);
    if (!rc && opt->sort) {
        if (ctx.nbuf) qsort(ctx.buf, ctx.nbuf, sizeof *ctx.buf, cmp_pending);
        if (ctx.nbuf && ctx.rebase_epoch) {
            set_base(&ctx, ctx.buf[0].t);
            for (size_t i = 0; i < ctx.nbuf && ctx.base; i++) set_t(ctx.buf[i].rec, ctx.buf[i].t - ctx.base);
        }
        if (!ctx.w) rc = open_writer(&ctx);
        for (size_t i = 0; i < ctx.nbuf && !rc; i++) {
            rc = trace_writer_put(ctx.w, ctx.buf[i].rec);
            if (rc) import_fail(&ctx, rc, "%s", trace_writer_error(ctx.w));
            else ctx.st.records++;
        }
    }
    for (size_t i = 0; i < ctx.nbuf; i++) cJSON_Delete(ctx.buf[i].rec);
    free(ctx.buf);
    if (!rc && !ctx.w) rc = open_writer(&ctx); /* no records: header only */
    if (!rc && ctx.st.records == 0 && ctx.st.skipped == 0 && ctx.st.rows == 0)
        rc = import_fail(&ctx, ERR_INPUT, "%s: no records found (empty input?)",
                         zio_reader_path(ctx.in));
    if (rc) {
        errf(err, errlen, "%s", ctx.err[0] ? ctx.err : "import failed");
        trace_writer_abort(ctx.w);
    } else {
        rc = trace_writer_close(ctx.w, err, errlen);
    }
    if (stats) *stats = ctx.st;
    cJSON_Delete(ctx.header);
    zio_reader_close(ctx.in);
    return rc;
}
