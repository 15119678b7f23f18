/* resp_scan.c — see resp_scan.h. */
#include "capture/resp_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#define DEFAULT_MAX_JSON ((size_t)16 << 20)
#define MAX_EVENT ((size_t)4 << 20)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int key_is(const char *k, size_t n, const char *want)
{
    size_t w = strlen(want);
    return n == w && !memcmp(k, want, w);
}

unsigned resp_scan_keys(const char *s, size_t n)
{
    unsigned f = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] != '"') {
            i++;
            continue;
        }
        size_t a = ++i;
        while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
        if (i >= n) break;
        size_t b = i++;
        size_t j = i;
        while (j < n && is_space(s[j])) j++;
        if (j >= n || s[j] != ':') continue;  /* a value, not a key */
        j++;
        while (j < n && is_space(s[j])) j++;
        if (j >= n) break;
        const char *k = s + a;
        size_t kl = b - a;
        char v = s[j];
        if (key_is(k, kl, "content") || key_is(k, kl, "text") ||
            key_is(k, kl, "reasoning_content") || key_is(k, kl, "reasoning")) {
            if (v == '"' && j + 1 < n && s[j + 1] != '"') f |= RESP_KEY_CONTENT;
        } else if (key_is(k, kl, "output_ids")) {
            size_t m = j + 1;
            while (m < n && is_space(s[m])) m++;
            if (v == '[' && m < n && s[m] != ']') f |= RESP_KEY_CONTENT;
        } else if (key_is(k, kl, "usage") || key_is(k, kl, "meta_info")) {
            if (v == '{') f |= RESP_KEY_USAGE;
        } else if (key_is(k, kl, "error")) {
            if (v == '{' || v == '"') f |= RESP_KEY_ERROR;
        } else if (key_is(k, kl, "object")) {
            if (n - j >= 7 && !memcmp(s + j, "\"error\"", 7)) f |= RESP_KEY_ERROR;
        }
        i = j;
    }
    return f;
}

void resp_scan_begin(resp_scan *s, resp_scan_pool *pool, const char *ctype, const char *enc,
                     size_t max_json)
{
    strbuf keep = s->keep;
    int64_t *times = s->times;
    size_t captimes = s->captimes;
    memset(s, 0, sizeof *s);
    s->keep = keep;
    sb_clear(&s->keep);
    s->times = times;                          /* kept for reuse, forgotten */
    s->captimes = captimes;
    s->t_first_content = s->t_last_content = -1;
    s->prompt_tokens = s->completion_tokens = -1;
    s->max_json = max_json ? max_json : DEFAULT_MAX_JSON;
    if (enc && *enc && strcasecmp(enc, "identity")) {
        s->encoded = 1;
        snprintf(s->encoding, sizeof s->encoding, "%s", enc);
    }
    if (ctype && !strncasecmp(ctype, "text/event-stream", 17)) {
        s->kind = RESP_SSE;
        if (!s->encoded) {
            if (pool && pool->n) s->sse = pool->free[--pool->n];
            else s->sse = sse_new(MAX_EVENT);
        }
    } else if (ctype && strcasestr(ctype, "json")) {
        s->kind = RESP_JSON;
    } else {
        s->kind = RESP_OTHER;
    }
}

void resp_scan_keep_times(resp_scan *s)
{
    s->keep_times = 1;
}

/* A content event at s->cur_ts, or ts for a JSON body. */
static void content_event(resp_scan *s, int64_t ts)
{
    if (s->t_first_content < 0) s->t_first_content = ts;
    s->t_last_content = ts;
    s->events++;
    if (!s->keep_times) return;
    if (s->ntimes == RESP_SCAN_MAX_TIMES) {
        s->times_truncated = 1;
        return;
    }
    if (s->ntimes == s->captimes) {
        s->captimes = s->captimes ? s->captimes * 2 : 64;
        s->times = xrealloc(s->times, s->captimes * sizeof *s->times);
    }
    s->times[s->ntimes++] = ts;
}

static int on_event(const sse_event *ev, void *ud)
{
    resp_scan *s = ud;
    s->all_events++;
    if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
        s->done = 1;
        return 0;
    }
    unsigned f = resp_scan_keys(ev->data, ev->data_len);
    if (f & RESP_KEY_CONTENT) content_event(s, s->cur_ts);
    if (f & RESP_KEY_USAGE) {
        sb_clear(&s->keep);
        sb_add(&s->keep, ev->data, ev->data_len);
    }
    if (f & RESP_KEY_ERROR) s->stream_error = 1;
    return 0;
}

void resp_scan_feed(resp_scan *s, int64_t ts, const void *data, size_t n)
{
    s->body_bytes += n;
    s->cur_ts = ts;
    if (s->encoded || !n) return;
    if (s->kind == RESP_SSE) {
        if (s->sse && !s->sse_broken && sse_feed(s->sse, data, n, on_event, s) < 0) s->sse_broken = 1;
    } else if (s->kind == RESP_JSON && !s->body_too_large) {
        if (s->keep.len + n > s->max_json) {
            s->body_too_large = 1;
            sb_free(&s->keep);
        } else {
            sb_add(&s->keep, data, n);
        }
    }
}

static int64_t count(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.0e15 ? (int64_t)v->valuedouble : -1;
}

/* usage (OpenAI) or meta_info (LMDeploy) of a parsed object. */
static void read_usage(resp_scan *s, const cJSON *doc)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    if (!cJSON_IsObject(u)) u = cJSON_GetObjectItemCaseSensitive(doc, "meta_info");
    if (!cJSON_IsObject(u)) return;
    int64_t p = count(u, "prompt_tokens"), c = count(u, "completion_tokens");
    if (p >= 0) s->prompt_tokens = p;
    if (c >= 0) s->completion_tokens = c;
}

void resp_scan_end(resp_scan *s, int64_t ts, int complete)
{
    if (s->encoded) return;
    if (s->kind == RESP_SSE && s->sse) {
        if (complete && sse_finish(s->sse) != 0) s->sse_broken = 1;
    }
    if (!s->keep.len) return;
    if (s->kind == RESP_JSON && !complete) return;   /* a cut JSON body says nothing sure */
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(s->keep.buf, s->keep.len, &end, 0);
    if (cJSON_IsObject(doc)) {
        read_usage(s, doc);
        if (s->kind == RESP_JSON) {
            unsigned f = resp_scan_keys(s->keep.buf, s->keep.len);
            if (f & RESP_KEY_CONTENT) content_event(s, ts);
            if (f & RESP_KEY_ERROR) s->stream_error = 1;
        }
    }
    cJSON_Delete(doc);
}

void resp_scan_release(resp_scan *s, resp_scan_pool *pool)
{
    if (s->sse) {
        sse_reset(s->sse);
        if (pool && pool->n < 4096) {
            if (pool->n == pool->cap) {
                pool->cap = pool->cap ? pool->cap * 2 : 16;
                pool->free = xrealloc(pool->free, pool->cap * sizeof *pool->free);
            }
            pool->free[pool->n++] = s->sse;
        } else {
            sse_free(s->sse);
        }
        s->sse = NULL;
    }
    sb_free(&s->keep);
}

void resp_scan_free_times(resp_scan *s)
{
    free(s->times);
    s->times = NULL;
    s->ntimes = s->captimes = 0;
}

void resp_scan_pool_free(resp_scan_pool *pool)
{
    for (size_t i = 0; i < pool->n; i++) sse_free(pool->free[i]);
    free(pool->free);
    pool->free = NULL;
    pool->n = pool->cap = 0;
}
