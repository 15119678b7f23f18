/* trace.c — parsing and validation of trace records and headers. */
#include "traces/trace.h"
#include "common/b64.h"
#include "common/utf8.h"
#include "common/jsonw.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const trace_api_kinds[] = {
    "chat", "completions", "generate", "embeddings", "other", NULL
};

static void describe(const cJSON *v, char *buf, size_t len)
{
    if (!v) { snprintf(buf, len, "nothing"); return; }
    if (cJSON_IsString(v)) {
        snprintf(buf, len, "string \"%.40s%s\"", v->valuestring,
                 strlen(v->valuestring) > 40 ? "..." : "");
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, len, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(buf, len, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(buf, len, "an array");
    } else {
        snprintf(buf, len, "an object");
    }
}

static int field_error(char *err, size_t errlen, const char *field, const char *expected,
                       const cJSON *got)
{
    char g[80];
    describe(got, g, sizeof g);
    errf(err, errlen, "field '%s': expected %s, got %s", field, expected, g);
    return ERR_INPUT;
}

/* String or integer id; integers are rendered into buf. */
static const char *get_id(const cJSON *v, char *buf, size_t len)
{
    int64_t n;
    if (cJSON_IsString(v) && v->valuestring[0]) return v->valuestring;
    if (jsonw_int(v, INT64_MIN / 2, INT64_MAX / 2, &n) == 0) {
        snprintf(buf, len, "%lld", (long long)n);
        return buf;
    }
    return NULL;
}

void trace_rec_clear(trace_rec *r)
{
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
    r->turn = r->input_tokens = r->output_tokens = r->think_us = -1;
}

void trace_rec_strip(trace_rec *r)
{
    static const char *const keep[] = { "t_us", "id", "session", "turn", "parent", "api", "model",
                                        "input_tokens", "output_tokens", "think_us", "block_size" };
    if (!r->json) return;
    cJSON *c = r->json->child;
    while (c) {
        cJSON *next = c->next;
        size_t i = 0;
        while (i < sizeof keep / sizeof keep[0] && (!c->string || strcmp(c->string, keep[i]))) i++;
        if (i == sizeof keep / sizeof keep[0]) cJSON_Delete(cJSON_DetachItemViaPointer(r->json, c));
        c = next;
    }
    r->body = r->hash_ids = r->orig = NULL;
}

void trace_rec_move(trace_rec *dst, trace_rec *src)
{
    trace_rec_clear(dst);
    *dst = *src;
    /* Views of numeric ids point into src's buffers: re-point them. */
    if (src->id == src->idbuf) dst->id = dst->idbuf;
    if (src->session == src->sessbuf) dst->session = dst->sessbuf;
    if (src->parent == src->parentbuf) dst->parent = dst->parentbuf;
    memset(src, 0, sizeof *src);
    trace_rec_clear(src);
}

/* The record's exact captured bytes, when it has them: body_raw (their
 * text) or body_b64 (their base64, for bytes that are not UTF-8 or hold a
 * NUL), never both, beside a body; body_b64 must decode, within
 * TRACE_MAX_BODY_BYTES, to a JSON object. */
static int check_body_bytes(const cJSON *obj, const cJSON *body, char *err, size_t errlen)
{
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(obj, "body_raw");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(obj, "body_b64");
    if (raw && !cJSON_IsString(raw))
        return field_error(err, errlen, "body_raw", "a string (the body's exact text)", raw);
    if (!b64) return 0;
    if (!cJSON_IsString(b64))
        return field_error(err, errlen, "body_b64", "a string (base64 of the body's exact bytes)", b64);
    if (raw) return field_error(err, errlen, "body_b64", "no body_raw beside it (one exact form per record)", raw);
    if (!body) return field_error(err, errlen, "body", "a JSON object beside body_b64", NULL);
    size_t n = strlen(b64->valuestring);
    if (n / 4 * 3 > TRACE_MAX_BODY_BYTES)
        return field_error(err, errlen, "body_b64", "at most 64 MiB once decoded", b64);
    strbuf d = {0};
    int rc = b64_decode(&d, b64->valuestring, n);
    cJSON *doc = rc ? NULL : cJSON_ParseWithLength(d.buf ? d.buf : "", d.len);
    sb_free(&d);
    if (rc) rc = field_error(err, errlen, "body_b64", "padded base64 (RFC 4648)", b64);
    else if (!cJSON_IsObject(doc)) rc = field_error(err, errlen, "body_b64", "the base64 of a JSON object", b64);
    cJSON_Delete(doc);
    return rc;
}

/* The fields a record must have, found while adopting it. */
typedef struct adopt_req { const cJSON *t, *id, *api; } adopt_req;

/* Takes one member c (named k) of a record into r, or notes it in req when
 * it is required. Returns 0 or ERR_INPUT with err. */
static int adopt_field(trace_rec *r, const char *k, const cJSON *c, adopt_req *req,
                       char *err, size_t errlen)
{
    switch (k[0]) {
    case 't':
        if (!strcmp(k, "t_us")) req->t = c;
        else if (!strcmp(k, "turn")) {
            if (jsonw_int(c, 0, INT32_MAX, &r->turn) < 0)
                return field_error(err, errlen, k, "a non-negative integer", c);
        } else if (!strcmp(k, "think_us")) {
            if (jsonw_int(c, 0, TRACE_MAX_T_US, &r->think_us) < 0)
                return field_error(err, errlen, k, "a non-negative integer (microseconds)", c);
        }
        break;
    case 'i':
        if (!strcmp(k, "id")) req->id = c;
        else if (!strcmp(k, "input_tokens")) {
            if (jsonw_int(c, 0, INT32_MAX, &r->input_tokens) < 0)
                return field_error(err, errlen, k, "a non-negative integer", c);
        }
        break;
    case 'o':
        if (!strcmp(k, "output_tokens")) {
            if (jsonw_int(c, 0, INT32_MAX, &r->output_tokens) < 0)
                return field_error(err, errlen, k, "a non-negative integer", c);
        } else if (!strcmp(k, "orig")) {
            if (!cJSON_IsObject(c)) return field_error(err, errlen, k, "an object", c);
            r->orig = c;
        }
        break;
    case 'a':
        if (!strcmp(k, "api")) req->api = c;
        break;
    case 'm':
        if (!strcmp(k, "model")) {
            if (cJSON_IsString(c)) r->model = c->valuestring;
            else if (!cJSON_IsNull(c))
                return field_error(err, errlen, k, "a string or null", c);
        }
        break;
    case 's':
        if (!strcmp(k, "session") && !cJSON_IsNull(c)) {
            r->session = get_id(c, r->sessbuf, sizeof r->sessbuf);
            if (!r->session)
                return field_error(err, errlen, k, "a non-empty string or an integer", c);
        }
        break;
    case 'p':
        if (!strcmp(k, "parent") && !cJSON_IsNull(c)) {
            r->parent = get_id(c, r->parentbuf, sizeof r->parentbuf);
            if (!r->parent)
                return field_error(err, errlen, k, "a non-empty string or an integer", c);
        }
        break;
    case 'b':
        if (!strcmp(k, "body")) {
            if (!cJSON_IsObject(c)) return field_error(err, errlen, k, "a JSON object (the request)", c);
            r->body = c;
        } else if (!strcmp(k, "block_size")) {
            if (jsonw_int(c, 1, INT32_MAX, &r->block_size) < 0)
                return field_error(err, errlen, k, "a positive integer", c);
        }
        break;
    case 'h':
        if (!strcmp(k, "hash_ids")) {
            if (!cJSON_IsArray(c)) return field_error(err, errlen, k, "an array of integers", c);
            int64_t v;
            for (const cJSON *e = c->child; e; e = e->next)
                if (jsonw_int(e, INT64_MIN / 2, INT64_MAX / 2, &v) < 0)
                    return field_error(err, errlen, "hash_ids[]", "an integer", e);
            r->hash_ids = c;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Checks the required fields and what depends on several. */
static int adopt_check(trace_rec *r, const adopt_req *req, cJSON *obj, int64_t default_block,
                       char *err, size_t errlen)
{
    if (!req->t) return field_error(err, errlen, "t_us", "a non-negative integer (microseconds)", NULL);
    if (jsonw_int(req->t, 0, TRACE_MAX_T_US, &r->t_us) < 0)
        return field_error(err, errlen, "t_us", "a non-negative integer (microseconds)", req->t);
    r->id = get_id(req->id, r->idbuf, sizeof r->idbuf);
    if (!r->id) return field_error(err, errlen, "id", "a non-empty string or an integer", req->id);
    if (!cJSON_IsString(req->api) || !req->api->valuestring[0])
        return field_error(err, errlen, "api", "a string such as \"chat\" or \"completions\"", req->api);
    r->api = req->api->valuestring;
    if (!r->body && r->input_tokens < 0)
        return field_error(err, errlen, "input_tokens",
                           "a non-negative integer (a record needs \"body\" or \"input_tokens\")", NULL);
    int rc = check_body_bytes(obj, r->body, err, errlen);
    if (rc) return rc;
    if (r->hash_ids) {
        if (!r->block_size) r->block_size = default_block;
        if (!r->block_size)
            return field_error(err, errlen, "block_size",
                               "a positive integer (in the record or the header) when hash_ids are given", NULL);
    }
    return 0;
}

int trace_rec_adopt(trace_rec *r, cJSON *obj, int64_t default_block,
                    char *err, size_t errlen)
{
    trace_rec_clear(r);
    r->json = obj;
    if (!cJSON_IsObject(obj)) return field_error(err, errlen, "(record)", "a JSON object", obj);
    adopt_req req = {0};
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string) continue;
        int rc = adopt_field(r, c->string, c, &req, err, errlen);
        if (rc) return rc;
    }
    return adopt_check(r, &req, obj, default_block, err, errlen);
}

int trace_rec_parse(trace_rec *r, const char *line, size_t len,
                    int64_t default_block, char *err, size_t errlen)
{
    if (!utf8_valid(line, len)) {
        trace_rec_clear(r);
        size_t at = 0;
        while (at < len && utf8_seq_len(line + at, len - at)) at += utf8_seq_len(line + at, len - at);
        errf(err, errlen, "invalid UTF-8 at column %zu (byte 0x%02x): a trace is UTF-8 JSON "
             "(bytes that are not UTF-8 belong base64-encoded in body_b64)", at + 1,
             (unsigned)(unsigned char)line[at]);
        return ERR_INPUT;
    }
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!obj) {
        trace_rec_clear(r);
        size_t col = end && end >= line ? (size_t)(end - line) + 1 : 1;
        if (len == 0) errf(err, errlen, "empty line (expected a JSON object)");
        else {
            /* line need not be NUL-terminated: bound the excerpt by len. */
            const char *near = end && end >= line && end < line + len ? end : line + len;
            int k = (int)(line + len - near);
            errf(err, errlen, "invalid JSON at column %zu: near \"%.*s\"", col, k < 20 ? k : 20, near);
        }
        return ERR_INPUT;
    }
    /* Anything after the object other than whitespace is an error. */
    if (end) {
        while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
        if (end < line + len) {
            cJSON_Delete(obj);
            trace_rec_clear(r);
            errf(err, errlen, "invalid JSON at column %zu: trailing characters after the object",
                 (size_t)(end - line) + 1);
            return ERR_INPUT;
        }
    }
    return trace_rec_adopt(r, obj, default_block, err, errlen);
}

void trace_rec_set_t_us(trace_rec *r, int64_t t_us)
{
    r->t_us = t_us;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(r->json, "t_us");
    if (t) cJSON_SetNumberValue(t, (double)t_us);
    else trace_add_int(r->json, "t_us", t_us);
}

cJSON *trace_add_int(cJSON *obj, const char *name, int64_t v)
{
    return cJSON_AddNumberToObject(obj, name, (double)v);
}

cJSON *trace_header_new(const char *source)
{
    char ts[64];
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "format", TRACE_FORMAT);
    cJSON_AddNumberToObject(h, "version", TRACE_VERSION);
    cJSON_AddStringToObject(h, "source", source);
    fmt_iso8601(now_real_ns(), ts, sizeof ts);
    cJSON_AddStringToObject(h, "created", ts);
    cJSON_AddStringToObject(h, "tool", "sagellm-bench " SAGELLM_VERSION);
    return h;
}

int trace_header_check(const cJSON *obj, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "format");
    if (!cJSON_IsObject(obj) || !cJSON_IsString(f) || strcmp(f->valuestring, TRACE_FORMAT)) {
        errf(err, errlen, "field 'format': expected a header object with \"format\": \"%s\" "
             "on the first line (is this a trace? import other formats with "
             "'sagellm-bench trace convert --from FORMAT')", TRACE_FORMAT);
        return ERR_INPUT;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "version");
    if (!cJSON_IsNumber(v) || v->valuedouble != TRACE_VERSION) {
        char g[80];
        describe(v, g, sizeof g);
        errf(err, errlen, "field 'version': expected %d (this tool reads trace format v%d), got %s",
             TRACE_VERSION, TRACE_VERSION, g);
        return ERR_INPUT;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "block_size");
    if (b && (!cJSON_IsNumber(b) || b->valuedouble < 1 || floor(b->valuedouble) != b->valuedouble))
        return field_error(err, errlen, "block_size", "a positive integer", b);
    return 0;
}

void trace_header_add_history(cJSON *header, const char *op, cJSON *args)
{
    cJSON *hist = cJSON_GetObjectItemCaseSensitive(header, "history");
    if (!cJSON_IsArray(hist)) {
        cJSON_DeleteItemFromObjectCaseSensitive(header, "history");
        hist = cJSON_AddArrayToObject(header, "history");
    }
    cJSON *e = args && cJSON_IsObject(args) ? args : cJSON_CreateObject();
    if (args && e != args) cJSON_Delete(args);
    cJSON *opj = cJSON_CreateString(op);
    /* "op" first for readability. */
    opj->next = e->child;
    if (e->child) {
        opj->prev = e->child->prev;
        e->child->prev = opj;
    } else {
        opj->prev = opj;
    }
    opj->string = xstrdup("op");
    e->child = opj;
    char ts[64];
    fmt_iso8601(now_real_ns(), ts, sizeof ts);
    cJSON_AddStringToObject(e, "at", ts);
    cJSON_AddItemToArray(hist, e);
}
