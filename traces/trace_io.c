/* trace_io.c — see trace_io.h. */
#include "traces/trace_io.h"
#include "common/util.h"
#include "common/jsonw.h"
#include "common/utf8.h"
#include "common/zio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trace_reader {
    zio_reader *z;
    unsigned flags;
    cJSON *header;
    int64_t default_block;
    int64_t last_t;
    uint64_t count, skipped;
    int fatal;            /* an unrecoverable stream error happened */
    trace_rec rec;
    char first_skip[800];
    char err[800];
};

trace_reader *trace_reader_open(const char *path, unsigned flags, char *err, size_t errlen)
{
    zio_reader *z = zio_reader_open(path, err, errlen);
    if (!z) return NULL;
    char *line;
    size_t len;
    int rc = zio_reader_getline(z, &line, &len);
    if (rc <= 0) {
        if (rc == 0) errf(err, errlen, "%s: empty file (expected a trace header on line 1)", zio_reader_path(z));
        else errf(err, errlen, "%s", zio_reader_error(z));
        zio_reader_close(z);
        return NULL;
    }
    char msg[512];
    const char *end = NULL;
    int utf8_ok = utf8_valid(line, len);
    cJSON *h = utf8_ok ? cJSON_ParseWithLengthOpts(line, len, &end, 0) : NULL;
    if (!utf8_ok) {
        errf(err, errlen, "%s:1: invalid UTF-8 in the header line (a trace is UTF-8 JSON)",
             zio_reader_path(z));
        zio_reader_close(z);
        return NULL;
    }
    if (!h) {
        errf(err, errlen, "%s:1: invalid JSON in the header line (expected a trace header "
             "object with \"format\": \"%s\"; import other formats with "
             "'sagellm-bench trace convert --from FORMAT')", zio_reader_path(z), TRACE_FORMAT);
        zio_reader_close(z);
        return NULL;
    }
    if (trace_header_check(h, msg, sizeof msg) < 0) {
        errf(err, errlen, "%s:1: %s", zio_reader_path(z), msg);
        cJSON_Delete(h);
        zio_reader_close(z);
        return NULL;
    }
    trace_reader *r = xcalloc(1, sizeof *r);
    r->z = z;
    r->flags = flags;
    r->header = h;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(h, "block_size");
    r->default_block = cJSON_IsNumber(b) ? (int64_t)b->valuedouble : 0;
    trace_rec_clear(&r->rec);
    return r;
}

const cJSON *trace_reader_header(const trace_reader *r) { return r->header; }
const char *trace_reader_error(const trace_reader *r) { return r->err; }
const char *trace_reader_path(const trace_reader *r) { return zio_reader_path(r->z); }
uint64_t trace_reader_count(const trace_reader *r) { return r->count; }
int trace_reader_fatal(const trace_reader *r) { return r->fatal != 0; }
uint64_t trace_reader_skipped(const trace_reader *r) { return r->skipped; }
const char *trace_reader_first_skip(const trace_reader *r) { return r->first_skip; }

/* Appends s to b quoted for a POSIX shell. */
static void shell_quote(strbuf *b, const char *s)
{
    sb_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') sb_adds(b, "'\\''");
        else sb_addc(b, *s);
    }
    sb_addc(b, '\'');
}

/* The command that sorts the trace at path: "sagellm-bench trace sort
 * 'PATH' -o 'PATH.sorted...'" (the output beside it, same compression). */
static void sort_command(const char *path, char *buf, size_t len)
{
    strbuf b = {0};
    size_t n = strlen(path);
    const char *ext = n > 10 && !strcmp(path + n - 10, ".jsonl.zst") ? ".jsonl.zst"
                    : n > 6 && !strcmp(path + n - 6, ".jsonl") ? ".jsonl" : "";
    size_t stem = n - strlen(ext);
    char *out = xmalloc(n + 32);
    snprintf(out, n + 32, "%.*s.sorted%s", (int)stem, path, ext[0] ? ext : ".jsonl.zst");
    sb_adds(&b, "sagellm-bench trace sort ");
    shell_quote(&b, path);
    sb_adds(&b, " -o ");
    shell_quote(&b, out);
    snprintf(buf, len, "%s", b.buf);
    free(out);
    sb_free(&b);
}

int trace_reader_next(trace_reader *r, trace_rec **rec)
{
    char msg[512];
    if (r->fatal) return r->fatal;
    for (;;) {
        char *line;
        size_t len;
        int rc = zio_reader_getline(r->z, &line, &len);
        if (rc == 0) return 0;
        if (rc < 0) {
            /* I/O, zstd and over-long-line errors end the read even with
             * TRACE_SKIP_INVALID: the stream cannot be resynchronised. */
            errf(r->err, sizeof r->err, "%s", zio_reader_error(r->z));
            r->fatal = rc;
            return rc;
        }
        uint64_t ln = zio_reader_lineno(r->z);
        if (len == 0) continue; /* blank lines are allowed (e.g. a final newline) */
        rc = trace_rec_parse(&r->rec, line, len, r->default_block, msg, sizeof msg);
        if (rc == 0 && !(r->flags & TRACE_NO_ORDER_CHECK) && r->rec.t_us < r->last_t) {
            char cmd[320];
            sort_command(zio_reader_path(r->z), cmd, sizeof cmd);
            errf(msg, sizeof msg, "field 't_us': expected records sorted by arrival, "
                 "got %lld after %lld (sort it with: %s)", (long long)r->rec.t_us, (long long)r->last_t, cmd);
            rc = ERR_INPUT;
        }
        if (rc < 0) {
            errf(r->err, sizeof r->err, "%s:%llu: %s", zio_reader_path(r->z),
                 (unsigned long long)ln, msg);
            if (r->flags & TRACE_SKIP_INVALID) {
                if (!r->skipped++) snprintf(r->first_skip, sizeof r->first_skip, "%s", r->err);
                continue;
            }
            return rc;
        }
        r->rec.line = ln;
        r->last_t = r->rec.t_us;
        r->count++;
        *rec = &r->rec;
        return 1;
    }
}

void trace_reader_close(trace_reader *r)
{
    if (!r) return;
    zio_reader_close(r->z);
    cJSON_Delete(r->header);
    trace_rec_clear(&r->rec);
    free(r);
}

/* ---- writer ---- */

struct trace_writer {
    zio_writer *z;
    strbuf line;        /* serialisation buffer, reused */
    int64_t last_t;
    uint64_t count;
    char err[512];
};

trace_writer *trace_writer_open(const char *path, const cJSON *header, int level,
                                char *err, size_t errlen)
{
    if (level < 0) level = zio_path_wants_zstd(path) ? 3 : 0;
    zio_writer *z = zio_writer_open(path, level, err, errlen);
    if (!z) return NULL;
    trace_writer *w = xcalloc(1, sizeof *w);
    w->z = z;
    char *h = jsonw_print(header, 0);
    int rc = zio_writer_write(z, h, strlen(h));
    if (!rc) rc = zio_writer_write(z, "\n", 1);
    cJSON_free(h);
    if (rc) {
        errf(err, errlen, "%s", zio_writer_error(z));
        trace_writer_abort(w);
        return NULL;
    }
    return w;
}

int trace_writer_put_raw(trace_writer *w, const char *line, size_t len, int64_t t_us)
{
    if (t_us < w->last_t) {
        errf(w->err, sizeof w->err, "record %llu is out of order: t_us %lld after %lld",
             (unsigned long long)w->count + 1, (long long)t_us, (long long)w->last_t);
        return ERR_INPUT;
    }
    w->last_t = t_us;
    int rc = zio_writer_write(w->z, line, len);
    if (!rc) rc = zio_writer_write(w->z, "\n", 1);
    if (rc) {
        errf(w->err, sizeof w->err, "%s", zio_writer_error(w->z));
        return rc;
    }
    w->count++;
    return 0;
}

int trace_writer_put(trace_writer *w, const cJSON *rec)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "t_us");
    int64_t t_us = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : 0;
    sb_clear(&w->line);
    jsonw_append(&w->line, rec);
    return trace_writer_put_raw(w, w->line.buf, w->line.len, t_us);
}

int trace_writer_put_rec(trace_writer *w, const trace_rec *r)
{
    return trace_writer_put(w, r->json);
}

uint64_t trace_writer_count(const trace_writer *w) { return w->count; }
uint64_t trace_writer_bytes_in(const trace_writer *w) { return zio_writer_bytes_in(w->z); }
uint64_t trace_writer_bytes_out(const trace_writer *w) { return zio_writer_bytes_out(w->z); }
const char *trace_writer_error(const trace_writer *w) { return w->err; }

int trace_writer_close(trace_writer *w, char *err, size_t errlen)
{
    if (!w) return 0;
    int rc = zio_writer_close(w->z, err, errlen);
    sb_free(&w->line);
    free(w);
    return rc;
}

void trace_writer_abort(trace_writer *w)
{
    if (!w) return;
    zio_writer_abort(w->z);
    sb_free(&w->line);
    free(w);
}
