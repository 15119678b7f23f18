/* cap_exchange.c — see cap_exchange.h. The record of an exchange: the
 * request body re-serialised from its parsed JSON (so a pretty-printed body
 * still makes one line), or with --redact the prompt's estimated length and
 * the hashes of its 512-token blocks; and `orig`, what the server did. */
#include "capture/cap_exchange.h"
#include "common/b64.h"
#include "common/header_rule.h"
#include "common/jsonw.h"
#include "common/rng.h"
#include "common/tokcount.h"
#include "traces/import_rec.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#define REDACT_BLOCK 512

const char *const cap_exchange_reasons[CAP_NINC] = {
    CAP_INC_GAP, CAP_INC_RESET, CAP_INC_CLOSED, CAP_INC_IDLE, CAP_INC_STOPPED, CAP_INC_MEMORY,
    CAP_INC_PARSE, CAP_INC_WINDOW, CAP_INC_UPSTREAM, CAP_INC_CLIENT,
};

int cap_exchange_reason_index(const char *reason)
{
    for (int i = 0; reason && i < CAP_NINC; i++)
        if (!strcmp(reason, cap_exchange_reasons[i])) return i;
    return -1;
}

cap_exchange *cap_exchange_new(uint64_t conn_id, int64_t t_req)
{
    cap_exchange *x = xcalloc(1, sizeof *x);
    x->conn_id = conn_id;
    x->t_req = t_req;
    x->t_req_end = x->t_first_byte = x->t_end = -1;
    x->scan.t_first_content = x->scan.t_last_content = -1;
    x->scan.prompt_tokens = x->scan.completion_tokens = -1;
    return x;
}

void cap_exchange_free(cap_exchange *x, resp_scan_pool *pool)
{
    if (!x) return;
    resp_scan_release(&x->scan, pool);
    resp_scan_free_times(&x->scan);
    free(x->url);
    free(x->error);
    free(x->key_value);
    sb_free(&x->headers);
    sb_free(&x->body);
    free(x);
}

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

const char *cap_exchange_api_of(const char *url)
{
    if (!url) return NULL;
    size_t n = strcspn(url, "?#");
    while (n > 1 && url[n - 1] == '/') n--;
    if (ends_with(url, n, "/v1/chat/completions")) return "chat";
    if (ends_with(url, n, "/v1/completions")) return "completions";
    if (n == 9 && !memcmp(url, "/generate", 9)) return "generate";
    return NULL;
}

int cap_exchange_header_kept(const char *name, size_t len)
{
    return header_rule_kept(name, len);
}

void cap_exchange_add_header(cap_exchange *x, const char *name, size_t nlen,
                             const char *value, size_t vlen)
{
    if (x->key_header && !x->key_value && strlen(x->key_header) == nlen &&
        !strncasecmp(x->key_header, name, nlen))
        x->key_value = xstrndup(value, vlen < 1024 ? vlen : 1024);
    if (!cap_exchange_header_kept(name, nlen)) return;
    if (x->headers.len + nlen + vlen > (64u << 10)) return;   /* bounded like the parser's limit */
    char l[128];
    if (nlen >= sizeof l) return;                             /* a peer's bytes: never past l */
    if (!import_rec_utf8_ok(name, nlen) || !import_rec_utf8_ok(value, vlen)) return;
    for (size_t i = 0; i < nlen; i++) l[i] = (char)tolower((unsigned char)name[i]);
    if (x->headers.len) sb_addc(&x->headers, ',');
    sb_json_str(&x->headers, l, nlen);
    sb_addc(&x->headers, ':');
    sb_json_str(&x->headers, value, vlen);
}

/* ---- redaction: token estimate and block hashes ---- */

typedef struct blocks {
    uint64_t salt, chain, h;
    int64_t tokens;            /* estimated tokens so far */
    int64_t cur;               /* block being hashed */
    strbuf ids;                /* "id,id,..." */
    int64_t nids;
} blocks;

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ c[i]) * 0x100000001b3ULL;
}

/* Closes blocks up to (not including) block k. */
static void close_blocks(blocks *b, int64_t k)
{
    while (b->cur < k) {
        b->chain = mix64(b->chain ^ mix64(b->h ^ b->salt) ^ (uint64_t)b->cur);
        sb_printf(&b->ids, b->nids ? ",%" PRIu64 : "%" PRIu64, (uint64_t)(b->chain & ((UINT64_C(1) << 53) - 1)));
        b->nids++;
        b->cur++;
        b->h = 0xcbf29ce484222325ULL;
    }
}

/* Adds text: spaces and tabs count no tokens and split every run the
 * estimate counts, so the sum over the space-separated pieces equals
 * tok_estimate of the whole text, and a block boundary falls between
 * pieces. Each piece is hashed into the block where it starts. */
static void add_text(blocks *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        size_t a = i;
        while (i < n && s[i] != ' ' && s[i] != '\t') i++;
        if (i == a) break;
        size_t t = tok_estimate(s + a, i - a);
        if (!t) continue;
        close_blocks(b, b->tokens / REDACT_BLOCK);
        fnv(&b->h, s + a, i - a);
        fnv(&b->h, " ", 1);
        b->tokens += (int64_t)t;
    }
}

static void add_token_ids(blocks *b, const cJSON *arr)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        close_blocks(b, b->tokens / REDACT_BLOCK);
        int64_t v = cJSON_IsNumber(e) ? (int64_t)e->valuedouble : -1;
        fnv(&b->h, &v, sizeof v);
        b->tokens++;
    }
}

static void add_content(blocks *b, const cJSON *c)
{
    if (cJSON_IsString(c)) {
        add_text(b, c->valuestring, strlen(c->valuestring));
    } else if (cJSON_IsArray(c)) {
        const cJSON *part;
        cJSON_ArrayForEach(part, c) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (cJSON_IsString(t)) add_text(b, t->valuestring, strlen(t->valuestring));
            else if (cJSON_IsString(part)) add_text(b, part->valuestring, strlen(part->valuestring));
        }
    }
}

/* The prompt of a parsed body, in order: chat messages (role and text),
 * a completion prompt (text, texts, or token ids), LMDeploy's input_ids. */
static void prompt_blocks(blocks *b, const cJSON *body)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "input_ids");
    if (cJSON_IsArray(msgs)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
            if (cJSON_IsString(role)) add_text(b, role->valuestring, strlen(role->valuestring));
            add_content(b, cJSON_GetObjectItemCaseSensitive(m, "content"));
        }
    } else if (cJSON_IsArray(prompt) && prompt->child && cJSON_IsNumber(prompt->child)) {
        add_token_ids(b, prompt);
    } else if (prompt) {
        add_content(b, prompt);
    } else if (cJSON_IsArray(ids)) {
        add_token_ids(b, ids);
    }
}

/* ---- the record ---- */

static void add_us(strbuf *o, const char *k, int64_t t, int64_t from)
{
    if (t >= 0 && from >= 0 && t >= from) sb_printf(o, ",\"%s\":%" PRId64, k, (t - from) / 1000);
}

static cJSON *parse_body(int ok, const strbuf *b)
{
    if (!ok || !b->len) return NULL;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(b->buf, b->len, &end, 0);
    if (!doc) return NULL;
    while (end && end < b->buf + b->len && isspace((unsigned char)*end)) end++;
    if (!cJSON_IsObject(doc) || end != b->buf + b->len) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* The path of a request target without its query string or fragment (a
 * query may carry a key); an absolute-form target ("http://host/p") gives
 * its path. Sets *n to its length. */
static const char *target_path(const char *url, size_t *n)
{
    if (!url) url = "";
    if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
        const char *slash = strchr(strstr(url, "//") + 2, '/');
        url = slash ? slash : "/";
    }
    *n = strcspn(url, "?#");
    return url;
}

/* After the body's compact text (out from at on): the bytes as the client
 * sent them, when they differ from it, so replay can send them exactly:
 * as text (body_raw) when they are UTF-8 without NUL bytes, else as base64
 * (body_b64), since a JSON string can carry neither byte-exact. */
static void add_body_raw(strbuf *out, size_t at, const strbuf *raw)
{
    if (out->len - at == raw->len && !memcmp(out->buf + at, raw->buf, raw->len)) return;
    if (!import_rec_utf8_ok(raw->buf, raw->len)) {
        sb_adds(out, ",\"body_b64\":\"");
        b64_encode(out, raw->buf, raw->len);
        sb_addc(out, '"');
        return;
    }
    sb_adds(out, ",\"body_raw\":");
    sb_json_str(out, raw->buf, raw->len);
}

/* --event-times: the arrival on the capture clock and each content
 * event's time after it, in ns. */
static void add_event_times(const cap_exchange *x, strbuf *out)
{
    const resp_scan *s = &x->scan;
    if (x->t_req < 0) return;
    sb_printf(out, ",\"t_arrival_ns\":%" PRId64 ",\"event_ns\":[", x->t_req);
    for (size_t i = 0; i < s->ntimes; i++)
        sb_printf(out, i ? ",%" PRId64 : "%" PRId64, s->times[i] - x->t_req);
    sb_addc(out, ']');
    if (s->times_truncated) sb_adds(out, ",\"event_ns_truncated\":true");
}

/* orig: what the server did, times relative to the request's arrival;
 * closes the record. */
static void format_orig(const cap_exchange *x, const cap_format_opts *o, const char *body_error,
                        strbuf *out)
{
    const resp_scan *s = &x->scan;
    int ok = x->status >= 200 && x->status < 300 && !x->incomplete && !s->stream_error && !s->sse_broken;
    if (x->status) sb_printf(out, ",\"orig\":{\"status\":%d", x->status);
    else sb_adds(out, ",\"orig\":{\"status\":null");
    sb_printf(out, ",\"ok\":%s", ok ? "true" : "false");
    add_us(out, "ttft_us", s->t_first_content, x->t_req);
    add_us(out, "e2e_us", x->t_end, x->t_req);
    add_us(out, "t_first_byte_us", x->t_first_byte, x->t_req);
    add_us(out, "t_last_token_us", s->t_last_content, x->t_req);
    if (s->prompt_tokens >= 0) sb_printf(out, ",\"prompt_tokens\":%" PRId64, s->prompt_tokens);
    if (x->resp_started && !s->encoded) {
        if (s->completion_tokens >= 0)
            sb_printf(out, ",\"output_tokens\":%" PRId64 ",\"token_source\":\"usage\"", s->completion_tokens);
        else
            sb_printf(out, ",\"output_tokens\":%" PRId64 ",\"token_source\":\"chunks\"", s->events);
        sb_printf(out, ",\"events\":%" PRId64, s->events);
    }
    if (o->event_times) add_event_times(x, out);
    if (s->kind == RESP_SSE) sb_adds(out, ",\"stream\":true");
    if (s->encoded) {
        sb_adds(out, ",\"encoding\":");
        sb_json_str(out, s->encoding, strlen(s->encoding));
    }
    if (s->stream_error) sb_adds(out, ",\"stream_error\":true");
    if (x->interim) sb_printf(out, ",\"interim_responses\":%d", x->interim);
    if (x->incomplete) {
        sb_adds(out, ",\"incomplete\":");
        sb_json_str(out, x->incomplete, strlen(x->incomplete));
    }
    if (x->error && import_rec_utf8_ok(x->error, strlen(x->error))) {
        sb_adds(out, ",\"error\":");
        sb_json_str(out, x->error, strlen(x->error));
    }
    if (x->rejected) {
        sb_adds(out, ",\"rejected\":");
        sb_json_str(out, x->rejected, strlen(x->rejected));
    }
    if (x->req_incomplete) sb_adds(out, ",\"request_incomplete\":true");
    else if (body_error) {
        sb_adds(out, ",\"body_error\":");
        sb_json_str(out, body_error, strlen(body_error));
    }
    sb_adds(out, "}}");
}

/* --redact: input_tokens estimated from the prompt, its blocks as hash_ids,
 * output_tokens from the server's count or max_tokens; no body. */
static void format_redacted(const cap_exchange *x, const cap_format_opts *o, const cJSON *body,
                            strbuf *out)
{
    const resp_scan *s = &x->scan;
    blocks b = { .salt = o->salt, .h = 0xcbf29ce484222325ULL };
    if (body) prompt_blocks(&b, body);
    else add_text(&b, x->body.buf ? x->body.buf : "", x->body.len);
    if (b.tokens > 0) close_blocks(&b, (b.tokens + REDACT_BLOCK - 1) / REDACT_BLOCK);
    sb_printf(out, ",\"input_tokens\":%" PRId64, b.tokens);
    if (b.nids) sb_printf(out, ",\"hash_ids\":[%s],\"block_size\":%d", b.ids.buf, REDACT_BLOCK);
    sb_adds(out, ",\"tokens_estimated\":true");
    sb_free(&b.ids);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (s->completion_tokens >= 0)
        sb_printf(out, ",\"output_tokens\":%" PRId64, s->completion_tokens);
    else if (cJSON_IsNumber(mt) && mt->valuedouble >= 0 && mt->valuedouble < 1e9)
        sb_printf(out, ",\"output_tokens\":%" PRId64, (int64_t)mt->valuedouble);
}

/* The body as captured (and its exact bytes), the server's counts, the headers. */
static void format_exact(const cap_exchange *x, const cap_format_opts *o, const cJSON *body,
                         strbuf *out)
{
    const resp_scan *s = &x->scan;
    if (body) {
        sb_adds(out, ",\"body\":");
        size_t at = out->len;
        jsonw_append(out, body);
        add_body_raw(out, at, &x->body);
        if (s->prompt_tokens >= 0) sb_printf(out, ",\"input_tokens\":%" PRId64, s->prompt_tokens);
    } else if (s->prompt_tokens >= 0) {
        sb_printf(out, ",\"input_tokens\":%" PRId64, s->prompt_tokens);
    } else {
        /* No usable body and no count from the server: an estimate from
         * the bytes seen, and the record says so. */
        sb_printf(out, ",\"input_tokens\":%zu,\"tokens_estimated\":true",
                  tok_estimate(x->body.buf ? x->body.buf : "", x->body.len));
    }
    if (s->completion_tokens >= 0)
        sb_printf(out, ",\"output_tokens\":%" PRId64, s->completion_tokens);
    if (!o->no_headers && x->headers.len) {
        sb_adds(out, ",\"headers\":{");
        sb_add(out, x->headers.buf, x->headers.len);
        sb_addc(out, '}');
    }
}

/* A request to a path that is not an LLM API: its method and path as meta. */
static void format_meta(const cap_exchange *x, strbuf *out)
{
    sb_adds(out, ",\"meta\":{\"method\":");
    sb_json_str(out, x->method, strlen(x->method));
    const char *u = x->url ? x->url : "";
    size_t ul = strcspn(u, "?#");           /* a query string may carry a key */
    if (import_rec_utf8_ok(u, ul)) {        /* a client's bytes: JSON needs UTF-8 */
        sb_adds(out, ",\"path\":");
        sb_json_str(out, u, ul);
    }
    sb_addc(out, '}');
}

void cap_exchange_format(const cap_exchange *x, const cap_format_opts *o, strbuf *out, sess_facts *sf)
{
    int whole = !x->req_incomplete && !x->body_dropped && !x->req_encoding[0] && x->req_done;
    cJSON *body = parse_body(whole, &x->body);
    const char *body_error = NULL;
    if (x->req_incomplete) body_error = NULL;
    else if (x->body_dropped) body_error = "too large";
    else if (x->req_encoding[0]) body_error = "compressed";
    else if (!body) body_error = x->body.len ? "not a JSON object" : "empty";

    sb_adds(out, ",\"api\":");
    sb_json_str(out, x->api ? x->api : "other", strlen(x->api ? x->api : "other"));
    size_t plen;
    const char *path = target_path(x->url, &plen);
    if (x->url && import_rec_utf8_ok(path, plen)) {
        sb_adds(out, ",\"path\":");
        sb_json_str(out, path, plen);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (cJSON_IsString(model)) {
        sb_adds(out, ",\"model\":");
        sb_json_str(out, model->valuestring, strlen(model->valuestring));
    } else {
        sb_adds(out, ",\"model\":null");
    }
    if (o->redact) format_redacted(x, o, body, out);
    else format_exact(x, o, body, out);
    if (!x->api) format_meta(x, out);

    format_orig(x, o, body_error, out);
    if (sf) {
        sess_facts_fill(sf, body, x->key_value, x->key_value ? strlen(x->key_value) : 0, o->session_field);
        if (x->t_end >= 0 && x->t_end >= x->t_req) sf->e2e_us = (x->t_end - x->t_req) / 1000;
    }
    cJSON_Delete(body);
}
