/* import_rec.c — see import_rec.h. */
#include "traces/import_rec.h"
#include "common/jsonw.h"
#include "common/utf8.h"
#include "traces/trace.h"
#include "common/zio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cJSON *import_rec_new(import_ctx *ctx, int64_t t_us, const char *id)
{
    cJSON *rec = cJSON_CreateObject();
    import_rec_int(rec, "t_us", t_us);
    if (id) {
        import_rec_str(rec, "id", id);
    } else {
        char buf[48];
        import_make_id(ctx, buf, sizeof buf);
        import_rec_str(rec, "id", buf);
    }
    return rec;
}

void import_rec_api_model(import_ctx *ctx, cJSON *rec, int has_body, const char *src_model)
{
    const import_opts *o = import_options(ctx);
    import_rec_str(rec, "api", o->api ? o->api : has_body ? "chat" : "completions");
    const char *m = o->model ? o->model : src_model;
    if (m) import_rec_str(rec, "model", m);
}

void import_rec_int(cJSON *rec, const char *key, int64_t v)
{
    cJSON_AddItemToObjectCS(rec, key, cJSON_CreateNumber((double)v));
}

void import_rec_str(cJSON *rec, const char *key, const char *v)
{
    cJSON_AddItemToObjectCS(rec, key, cJSON_CreateString(v));
}

void import_rec_add(cJSON *rec, const char *key, cJSON *item)
{
    cJSON_AddItemToObjectCS(rec, key, item);
}

int import_rec_parse_count(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        if (v > IMPORT_MAX_TOKENS) return -1;
        i++;
    }
    if (i == 0) return -1;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] == '0') i++;
    }
    if (i != n) return -1;
    *out = v;
    return 0;
}

int import_rec_parse_decimal(const char *s, size_t n, int scale, int64_t max, int64_t *out)
{
    static const int64_t p10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000,
                                   10000000, 100000000, 1000000000 };
    if (scale < 0 || scale > 9) return -1;
    size_t i = 0;
    int ndig = 0;
    int64_t ip = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (ip > (INT64_MAX - 9) / 10) return -1;
        ip = ip * 10 + (s[i] - '0');
        i++, ndig++;
    }
    int64_t frac = 0, round = 0;
    if (i < n && s[i] == '.') {
        i++;
        int k = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (k < scale) frac = frac * 10 + (s[i] - '0');
            else if (k == scale) round = s[i] >= '5';
            k++, i++, ndig++;
        }
        if (k < scale) frac *= p10[scale - k];
    }
    if (i != n || ndig == 0) return -1;
    if (ip > max / p10[scale]) return -1;
    int64_t v = ip * p10[scale] + frac + round;
    if (v > max) return -1;
    *out = v;
    return 0;
}

int import_rec_utf8_ok(const char *s, size_t n)
{
    return !memchr(s, 0, n) && utf8_valid(s, n);
}

void import_rec_describe(char *buf, size_t len, const char *s, size_t n)
{
    if (n == 0) {
        snprintf(buf, len, "an empty value");
        return;
    }
    strbuf b = {0};
    sb_addc(&b, '"');
    size_t i;
    for (i = 0; i < n && b.len < 48; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') sb_printf(&b, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f) sb_addc(&b, (char)c);
        else if (c == '\n') sb_adds(&b, "\\n");
        else if (c == '\r') sb_adds(&b, "\\r");
        else if (c == '\t') sb_adds(&b, "\\t");
        else sb_printf(&b, "\\x%02x", c);
    }
    if (i < n) sb_adds(&b, "...");
    sb_addc(&b, '"');
    snprintf(buf, len, "%s", b.buf);
    sb_free(&b);
}

void import_rec_describe_json(char *buf, size_t len, const cJSON *v)
{
    if (!v) snprintf(buf, len, "nothing (the field is missing)");
    else if (cJSON_IsString(v)) import_rec_describe(buf, len, v->valuestring, strlen(v->valuestring));
    else if (cJSON_IsNumber(v)) snprintf(buf, len, "%.17g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(buf, len, "null");
    else if (cJSON_IsArray(v)) snprintf(buf, len, "an array");
    else snprintf(buf, len, "an object");
}

int import_rec_bad_text(import_ctx *ctx, uint64_t line, const char *field,
                        const char *expected, const char *s, size_t n)
{
    char d[256];
    import_rec_describe(d, sizeof d, s, n);
    return import_bad(ctx, line, field, "expected %s, got %s", expected, d);
}

int import_rec_bad_json(import_ctx *ctx, uint64_t line, const char *field,
                        const char *expected, const cJSON *got)
{
    char d[256];
    import_rec_describe_json(d, sizeof d, got);
    return import_bad(ctx, line, field, "expected %s, got %s", expected, d);
}

int import_rec_fatal(import_ctx *ctx, uint64_t line, const char *field, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return import_fail(ctx, ERR_INPUT, "%s:%llu: field '%s': %s",
                       zio_reader_path(import_input(ctx)), (unsigned long long)line, field, what);
}

int import_rec_read_error(import_ctx *ctx, int rc)
{
    return import_fail(ctx, rc, "%s", zio_reader_error(import_input(ctx)));
}

int import_rec_json_count(const cJSON *v, int64_t *out)
{
    if (cJSON_IsString(v))
        return import_rec_parse_count(v->valuestring, strlen(v->valuestring), out);
    return jsonw_int(v, 0, IMPORT_MAX_TOKENS, out);
}

int import_rec_json_time(const cJSON *v, int scale, int64_t *out)
{
    static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
    if (scale < 0 || scale > 9) return -1;
    if (cJSON_IsString(v))
        return import_rec_parse_decimal(v->valuestring, strlen(v->valuestring), scale,
                                        TRACE_MAX_T_US, out);
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble * p10[scale];
    if (!(d >= 0 && d <= (double)TRACE_MAX_T_US)) return -1;
    *out = llround(d);
    return 0;
}

int import_rec_json_id(const cJSON *v, char *buf, size_t len)
{
    int64_t n;
    if (cJSON_IsString(v) && v->valuestring[0]) {
        if ((size_t)snprintf(buf, len, "%s", v->valuestring) >= len) return -1;
        return 0;
    }
    if (jsonw_int(v, -(INT64_C(1) << 53), INT64_C(1) << 53, &n) == 0) {
        snprintf(buf, len, "%lld", (long long)n);
        return 0;
    }
    return -1;
}

int import_rec_hash_ids_ok(import_ctx *ctx, uint64_t line, const char *field, const cJSON *v,
                           int *rc)
{
    if (!cJSON_IsArray(v)) {
        *rc = import_rec_bad_json(ctx, line, field, "an array of integers", v);
        return 0;
    }
    int64_t x;
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (jsonw_int(e, -(INT64_C(1) << 53), INT64_C(1) << 53, &x) < 0) {
            char d[80];
            import_rec_describe_json(d, sizeof d, e);
            *rc = import_bad(ctx, line, field, "expected an array of integers, got %s "
                             "at index %zu", d, i);
            return 0;
        }
    }
    return 1;
}

cJSON *import_rec_take(cJSON *obj, const char *name)
{
    return cJSON_DetachItemFromObjectCaseSensitive(obj, name);
}

void import_rec_lengths_take(cJSON *obj, import_rec_lengths *l)
{
    l->il = import_rec_take(obj, "input_length");
    l->ol = import_rec_take(obj, "output_length");
    l->hash = import_rec_take(obj, "hash_ids");
    l->in = l->out = -1;
}

int import_rec_lengths_ok(import_ctx *ctx, uint64_t line, import_rec_lengths *l, int *rc)
{
    if (import_rec_json_count(l->il, &l->in) < 0)
        *rc = import_rec_bad_json(ctx, line, "input_length", "a non-negative integer", l->il);
    else if (import_rec_json_count(l->ol, &l->out) < 0)
        *rc = import_rec_bad_json(ctx, line, "output_length", "a non-negative integer", l->ol);
    else
        return 1;
    return 0;
}

int import_rec_lengths_emit(import_ctx *ctx, cJSON *rec, import_rec_lengths *l, cJSON **obj,
                            uint64_t line)
{
    import_rec_api_model(ctx, rec, 0, NULL);
    import_rec_int(rec, "input_tokens", l->in);
    import_rec_int(rec, "output_tokens", l->out);
    if (l->hash) import_rec_add(rec, "hash_ids", l->hash);
    l->hash = NULL;
    if ((*obj)->child) import_rec_add(rec, "meta", *obj);
    else cJSON_Delete(*obj);
    *obj = NULL;
    return import_emit(ctx, rec, line);
}

void import_rec_lengths_free(import_rec_lengths *l)
{
    cJSON_Delete(l->il);
    cJSON_Delete(l->ol);
    cJSON_Delete(l->hash);
    l->il = l->ol = l->hash = NULL;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

int import_rec_jsonl(import_ctx *ctx, import_rec_line_fn fn, void *ud)
{
    struct zio_reader *in = import_input(ctx);
    char *line;
    size_t len;
    int rc;
    uint64_t nonblank = 0;
    while ((rc = zio_reader_getline(in, &line, &len)) > 0) {
        uint64_t ln = zio_reader_lineno(in);
        if (blank(line, len)) continue;
        nonblank++;
        import_count_row(ctx);
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
        if (obj && end) {
            while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
            if (end < line + len) {
                cJSON_Delete(obj);
                obj = NULL;
            }
        }
        if (!obj) {
            size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
            char near[128];
            if (col - 1 < len) import_rec_describe(near, sizeof near, line + col - 1, len - (col - 1));
            else snprintf(near, sizeof near, "the end of the line");
            rc = import_bad(ctx, ln, "(json)", "expected one JSON object per line, got "
                            "invalid JSON at column %zu, near %s", col, near);
            if (rc) return rc;
            continue;
        }
        if (!cJSON_IsObject(obj)) {
            rc = import_rec_bad_json(ctx, ln, "(json)", "one JSON object per line", obj);
            cJSON_Delete(obj);
            if (rc) return rc;
            continue;
        }
        rc = fn(ctx, obj, ln, ud);
        if (rc) return rc;
    }
    if (rc < 0) return import_rec_read_error(ctx, rc);
    if (!nonblank)
        return import_rec_fatal(ctx, 1, "(json)", "expected JSON Lines (one object per line), "
                                "got an empty input");
    return 0;
}
