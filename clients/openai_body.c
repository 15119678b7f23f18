/* openai_body.c — request bodies of the OpenAI-protocol clients (gateway,
 * vllm, lmdeploy, and the in-process sagellm client's body).
 *
 * A record's body is sent as it was captured unless the replay asks for a
 * change: the model (--model, or a body without one), the shape (--api
 * other than the record's), streaming (--stream on|off), the output length
 * (vllm/lmdeploy forcing). openai_finish_body compares the result with the
 * captured body, notes each top-level field that differs, and sends the
 * record's exact captured bytes (`body_b64` decoded, or `body_raw`) when
 * nothing does.
 *
 * Facts about the servers relied on here:
 * - vLLM prefers max_completion_tokens over max_tokens on chat
 *   (vllm-project/vllm@7ded96b3, vllm/entrypoints/openai/serving_engine.py:
 *   `max_tokens = request.max_completion_tokens or request.max_tokens`), and
 *   refuses stream_options without stream=True
 *   (vllm-project/vllm@0052bed3, vllm/entrypoints/openai/protocol.py,
 *   ChatCompletionRequest.validate_stream_options); OpenAI says the same of
 *   stream_options ("Only set this when you set stream: true",
 *   openai/openai-python@04448952,
 *   src/openai/types/chat/completion_create_params.py).
 * - LMDeploy does the same (InternLM/lmdeploy@1263d5cd,
 *   lmdeploy/serve/openai/endpoints/common.py,
 *   build_serving_generation_config: max_completion_tokens first). */
#include "clients/client.h"
#include "clients/openai.h"
#include "traces/prompt.h"
#include "common/b64.h"
#include "common/jsonw.h"
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces or adds obj[key] = v (takes v). */
static void put(cJSON *obj, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
}

/* The endpoint of api: under the API base (…/v1), or /generate under the
 * server root (*root set). */
static const char *api_path(const char *api, int *root)
{
    *root = 0;
    if (!strcmp(api, "completions")) return "/completions";
    if (!strcmp(api, "generate")) {
        *root = 1;
        return "/generate";
    }
    return "/chat/completions";
}

/* Joins the text of chat messages into one prompt (for --api completions
 * or generate over a trace of chat bodies). */
static char *messages_to_prompt(const cJSON *messages)
{
    strbuf b = {0};
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(content)) {
            if (b.len) sb_addc(&b, '\n');
            sb_adds(&b, content->valuestring);
        } else if (cJSON_IsArray(content)) {
            const cJSON *part;
            cJSON_ArrayForEach(part, content) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
                if (cJSON_IsString(t)) {
                    if (b.len) sb_addc(&b, '\n');
                    sb_adds(&b, t->valuestring);
                }
            }
        }
    }
    if (!b.buf) sb_adds(&b, "");
    return b.buf;
}

/* Converts body between chat and completion shapes when the api asked for
 * differs from the body's. */
static void adapt_body(cJSON *body, const char *api)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    if (strcmp(api, "chat") && cJSON_IsArray(messages) && !prompt) {
        char *p = messages_to_prompt(messages);
        cJSON_AddStringToObject(body, "prompt", p);
        free(p);
        cJSON_DeleteItemFromObjectCaseSensitive(body, "messages");
    } else if (!strcmp(api, "chat") && !messages && prompt) {
        cJSON *msgs = cJSON_CreateArray(), *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        if (cJSON_IsString(prompt)) cJSON_AddStringToObject(m, "content", prompt->valuestring);
        else cJSON_AddStringToObject(m, "content", "");
        cJSON_AddItemToArray(msgs, m);
        cJSON_DeleteItemFromObjectCaseSensitive(body, "prompt");
        cJSON_AddItemToObject(body, "messages", msgs);
    }
}

int openai_body_captured(const trace_rec *r)
{
    return r->body && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "body_synthetic"));
}

void openai_set_model(const client *c, const trace_rec *r, cJSON *body, client_request *out)
{
    const char *model = c->opt.model;
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (!model && cJSON_IsString(bm)) model = bm->valuestring;
    if (!model) model = r->model;
    if (!model) model = c->opt.default_model;
    if (model && !(cJSON_IsString(bm) && !strcmp(bm->valuestring, model)))
        put(body, "model", cJSON_CreateString(model));
    bm = cJSON_GetObjectItemCaseSensitive(body, "model");
    client_request_set_model(out, cJSON_IsString(bm) ? bm->valuestring : NULL);
}

void openai_set_stream(const client *c, cJSON *body, int original)
{
    int mode = c->opt.stream;
    if (mode == CLIENT_STREAM_AS_SENT) {
        if (original) return;   /* the record's own stream and stream_options */
        mode = CLIENT_STREAM_ON;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (mode == CLIENT_STREAM_OFF) {
        /* vLLM refuses stream_options without stream (see the file head). */
        cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
        if (!cJSON_IsFalse(st)) put(body, "stream", cJSON_CreateFalse());
        return;
    }
    if (!cJSON_IsTrue(st)) put(body, "stream", cJSON_CreateTrue());
    cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    if (!cJSON_IsObject(so)) {
        so = cJSON_CreateObject();
        put(body, "stream_options", so);
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")))
        put(so, "include_usage", cJSON_CreateTrue());
    if (c->opt.continuous_usage &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "continuous_usage_stats")))
        put(so, "continuous_usage_stats", cJSON_CreateTrue());
}

int openai_build(const client *c, const trace_rec *r, const char *api, client_request *out,
                 cJSON **body_out, char *err, size_t errlen)
{
    cJSON *body;
    if (!api) api = c->opt.api ? c->opt.api : r->api;
    if (strcmp(api, "chat") && strcmp(api, "completions") && strcmp(api, "generate")) {
        errf(err, errlen, "record %s: api '%s' cannot be replayed by the %s client "
             "(use --api chat or --api completions)", r->id, api, c->ops->name);
        return ERR_INPUT;
    }
    if (r->body) {
        body = cJSON_Duplicate(r->body, 1);
        adapt_body(body, api);
    } else {
        body = prompt_make_body(r, api, NULL, c->opt.seed);
        if (!body) {
            errf(err, errlen, "record %s: cannot synthesise a prompt: %s (input_tokens %lld)",
                 r->id, prompt_refusal(r), (long long)r->input_tokens);
            return ERR_INPUT;
        }
    }
    openai_set_model(c, r, body, out);
    openai_set_stream(c, body, openai_body_captured(r));
    out->method = "POST";
    str_copy(out->path, sizeof out->path, api_path(api, &out->path_root));
    out->api = !strcmp(api, "chat") ? "chat" : !strcmp(api, "completions") ? "completions" : "generate";
    out->expected_output = r->output_tokens;
    *body_out = body;
    return 0;
}

/* Is c a character a request path may hold (RFC 3986 unreserved, '/',
 * and in a query '=' and '&')? */
static int path_char(char c, int query)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    if (strchr("-._~/", c)) return 1;
    return query && (c == '=' || c == '&');
}

/* Is the segment [s, e) a version segment: 'v' and digits ("v1")? */
static int version_segment(const char *s, const char *e)
{
    if (e - s < 2 || *s != 'v') return 0;
    for (const char *p = s + 1; p < e; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

int openai_path_endpoint(const char *path, char *out, size_t outlen, int *root,
                         char *err, size_t errlen)
{
    size_t n = strlen(path);
    const char *q = strchr(path, '?');
    if (path[0] != '/' || n >= outlen || n >= 128 || strstr(path, "//") || strstr(path, "/../") ||
        strstr(path, "/./") || (n >= 3 && !strcmp(path + n - 3, "/..")))
        goto bad;
    for (const char *p = path; *p; p++)
        if (p != q && !path_char(*p, q && p > q)) goto bad;
    /* The tail after the last version segment, within the path part. */
    const char *end = q ? q : path + n, *tail = NULL;
    for (const char *s = path; s < end;) {
        const char *e = s + 1;
        while (e < end && *e != '/') e++;
        if (version_segment(s + 1, e)) tail = e;
        s = e;
    }
    *root = tail == NULL;
    if (tail && tail == end) goto bad;   /* "/v1" alone names no endpoint */
    snprintf(out, outlen, "%s", tail ? tail : path);
    return 0;
bad:
    errf(err, errlen, "field 'path': expected an absolute request path of at most 127 "
         "characters (letters, digits, -._~/ and a query of =&), got \"%.80s\"", path);
    return ERR_INPUT;
}

void openai_set_max_len(cJSON *body, int64_t n)
{
    int has_mct = cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens") != NULL;
    int has_mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens") != NULL;
    if (has_mct) put(body, "max_completion_tokens", cJSON_CreateNumber((double)n));
    if (has_mt || !has_mct) put(body, "max_tokens", cJSON_CreateNumber((double)n));
}

void openai_force_output_len(cJSON *body, int64_t n, const char *min_field, client_request *out)
{
    openai_set_max_len(body, n);
    if (min_field) put(body, min_field, cJSON_CreateNumber((double)n));
    put(body, "ignore_eos", cJSON_CreateTrue());
    out->forced_output = n;
}

/* Appends to edits (a JSON array being written) each top-level field of
 * orig or sent that the other lacks or holds differently. */
static void note_edits(const cJSON *orig, const cJSON *sent, strbuf *edits)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, sent) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(orig, it->string);
        if (o && cJSON_Compare(o, it, 1)) continue;
        if (edits->len > 1) sb_addc(edits, ',');
        sb_json_str(edits, it->string, strlen(it->string));
    }
    cJSON_ArrayForEach(it, orig) {
        if (cJSON_GetObjectItemCaseSensitive(sent, it->string)) continue;
        if (edits->len > 1) sb_addc(edits, ',');
        sb_json_str(edits, it->string, strlen(it->string));
    }
}

/* The record's exact captured bytes into out: body_b64 decoded, else
 * body_raw's text. Returns 1 when it has them (and they decode), else 0. */
static int captured_bytes(const trace_rec *r, strbuf *out)
{
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(r->json, "body_b64");
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(r->json, "body_raw");
    if (cJSON_IsString(b64))
        return b64_decode(out, b64->valuestring, strlen(b64->valuestring)) == 0;
    if (cJSON_IsString(raw)) {
        sb_adds(out, raw->valuestring);
        return 1;
    }
    return 0;
}

/* The captured bytes parsed as the trace's body was made from them: bytes
 * that are not UTF-8 become U+FFFD as capture wrote them (jsonw), so an
 * unchanged body compares equal. NULL when they are not a JSON object. */
static cJSON *captured_reference(const strbuf *bytes)
{
    cJSON *doc = cJSON_ParseWithLength(bytes->buf ? bytes->buf : "", bytes->len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return NULL;
    }
    if (utf8_valid(bytes->buf, bytes->len)) return doc;
    strbuf t = {0};
    jsonw_append(&t, doc);
    cJSON_Delete(doc);
    doc = cJSON_ParseWithLength(t.buf, t.len);
    sb_free(&t);
    return doc;
}

void openai_finish_body(const trace_rec *r, cJSON *body, client_request *out)
{
    sb_clear(&out->body);
    sb_clear(&out->edits);
    out->body_exact = 0;
    strbuf bytes = {0};
    cJSON *parsed = NULL;
    const cJSON *orig = r->body;
    /* The captured bytes are the reference: a body changed since it was
     * read (a dependent session's reply) then shows as an edit. */
    if (r->body && captured_bytes(r, &bytes)) parsed = captured_reference(&bytes);
    if (parsed) orig = parsed;
    if (!orig) {
        sb_adds(&out->edits, "null");
    } else {
        sb_addc(&out->edits, '[');
        note_edits(orig, body, &out->edits);
        sb_addc(&out->edits, ']');
        out->body_exact = out->edits.len == 2 && openai_body_captured(r);
    }
    if (out->body_exact && parsed) {
        sb_add(&out->body, bytes.buf, bytes.len);   /* byte for byte, NULs included */
    } else {
        jsonw_append(&out->body, body);   /* cJSON's text, faster; strings always UTF-8 */
    }
    sb_free(&bytes);
    cJSON_Delete(parsed);
    cJSON_Delete(body);
}
