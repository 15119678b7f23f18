/* openai.c — what the OpenAI-protocol clients share: request bodies for
 * /v1/chat/completions and /v1/completions, parsing of streamed chunks
 * (chat.completion.chunk, text_completion), of whole responses, and of the
 * error shapes servers use ({"error": {...}}, LMDeploy's flat
 * {"object": "error", "message": ...}, FastAPI's {"detail": ...}). */
#include "clients/client.h"
#include "traces/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * over a trace of chat bodies). */
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

static void set_item(cJSON *obj, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
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
            errf(err, errlen, "record %s: cannot synthesise a prompt (input_tokens %lld)",
                 r->id, (long long)r->input_tokens);
            return ERR_INPUT;
        }
    }
    /* Model: --model, else the body's, else the record's, else the server's first. */
    const char *model = c->opt.model;
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (!model && cJSON_IsString(bm)) model = bm->valuestring;
    if (!model) model = r->model;
    if (!model) model = c->opt.default_model;
    if (model && !(cJSON_IsString(bm) && !strcmp(bm->valuestring, model)))
        set_item(body, "model", cJSON_CreateString(model));
    bm = cJSON_GetObjectItemCaseSensitive(body, "model");
    snprintf(out->model, sizeof out->model, "%s", cJSON_IsString(bm) ? bm->valuestring : "");
    if (!cJSON_GetObjectItemCaseSensitive(body, "max_tokens") &&
        !cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens") && r->output_tokens > 0)
        cJSON_AddNumberToObject(body, "max_tokens", (double)r->output_tokens);
    set_item(body, "stream", cJSON_CreateBool(c->opt.stream));
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    if (c->opt.stream) {
        cJSON *so = cJSON_CreateObject();
        cJSON_AddBoolToObject(so, "include_usage", 1);
        if (c->opt.continuous_usage) cJSON_AddBoolToObject(so, "continuous_usage_stats", 1);
        cJSON_AddItemToObject(body, "stream_options", so);
    }
    out->method = "POST";
    snprintf(out->path, sizeof out->path, "%s", api_path(api, &out->path_root));
    out->api = !strcmp(api, "chat") ? "chat" : !strcmp(api, "completions") ? "completions" : "generate";
    out->expected_output = r->output_tokens;
    *body_out = body;
    return 0;
}

void openai_finish_body(cJSON *body, client_request *out)
{
    char *s = cJSON_PrintUnformatted(body);
    sb_clear(&out->body);
    sb_adds(&out->body, s);
    cJSON_free(s);
    cJSON_Delete(body);
}

void openai_force_output_len(cJSON *body, int64_t n)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, "max_completion_tokens");
    set_item(body, "max_tokens", cJSON_CreateNumber((double)n));
    set_item(body, "min_tokens", cJSON_CreateNumber((double)n));
    set_item(body, "ignore_eos", cJSON_CreateBool(1));
}

void openai_release(const client *c, void *state)
{
    openai_state *st = state;
    (void)c;
    cJSON_Delete(st->doc);
    st->doc = NULL;
}

static int64_t get_count(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : -1;
}

static void read_usage(const cJSON *doc, client_event *ev)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    if (!cJSON_IsObject(u)) return;
    ev->completion_tokens = get_count(u, "completion_tokens");
    ev->prompt_tokens = get_count(u, "prompt_tokens");
}

/* Appends " (TYPE, CODE)" for the parts of an error object that say more
 * than its message: OpenAI's type and string code, LMDeploy's and SGLang's
 * numeric code (the HTTP status they meant). */
static void error_suffix(const cJSON *e, char *msg, size_t msglen)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    char c[48] = "";
    if (cJSON_IsString(code) && code->valuestring[0]) snprintf(c, sizeof c, "%.40s", code->valuestring);
    else if (cJSON_IsNumber(code)) snprintf(c, sizeof c, "%d", code->valueint);
    int has_ty = cJSON_IsString(ty) && ty->valuestring[0];
    if (!has_ty && !c[0]) return;
    size_t n = strlen(msg);
    if (n + 4 >= msglen) return;
    snprintf(msg + n, msglen - n, " (%.60s%s%s)", has_ty ? ty->valuestring : "",
             has_ty && c[0] ? ", " : "", c);
}

/* FastAPI's {"detail": [...]} for a request that failed validation: one
 * "LOC: MSG" per entry, e.g. "body.messages: Field required". */
static void detail_list(const cJSON *d, char *msg, size_t msglen)
{
    strbuf b = {0};
    const cJSON *it;
    cJSON_ArrayForEach(it, d) {
        const cJSON *loc = cJSON_GetObjectItemCaseSensitive(it, "loc");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "msg");
        const cJSON *p;
        if (b.len) sb_adds(&b, "; ");
        int first = 1;
        cJSON_ArrayForEach(p, loc) {
            if (!first) sb_addc(&b, '.');
            first = 0;
            if (cJSON_IsString(p)) sb_adds(&b, p->valuestring);
            else if (cJSON_IsNumber(p)) sb_printf(&b, "%d", p->valueint);
        }
        if (!first) sb_adds(&b, ": ");
        sb_adds(&b, cJSON_IsString(m) ? m->valuestring : "invalid");
    }
    snprintf(msg, msglen, "%s", b.buf ? b.buf : "request validation failed");
    sb_free(&b);
}

/* An error object, in a response or in a stream: nested {"error": {message,
 * type, param, code}} (OpenAI, vLLM, SGLang, LMDeploy inside streams) or
 * {"error": "..."}; flat {"object": "error", "message", "type", "code"}
 * (LMDeploy, SGLang and older vLLM over HTTP); FastAPI's {"detail": STRING
 * | [validation errors]}. Returns 1 and fills msg, or 0 when doc is not one. */
static int read_error(const cJSON *doc, char *msg, size_t msglen)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "object");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "detail");
    const cJSON *m;
    if (cJSON_IsString(e)) {
        snprintf(msg, msglen, "%s", e->valuestring);
        return 1;
    }
    if (!cJSON_IsObject(e) && cJSON_IsString(o) && !strcmp(o->valuestring, "error")) e = doc;
    if (cJSON_IsObject(e)) {
        m = cJSON_GetObjectItemCaseSensitive(e, "message");
        snprintf(msg, msglen, "%s", cJSON_IsString(m) ? m->valuestring : "error object without a message");
        error_suffix(e, msg, msglen);
        return 1;
    }
    if (cJSON_IsString(d)) {
        snprintf(msg, msglen, "%s", d->valuestring);
        return 1;
    }
    if (cJSON_IsArray(d)) {
        detail_list(d, msg, msglen);
        return 1;
    }
    return 0;
}

static const cJSON *nonempty_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v : NULL;
}

static int nonempty_array(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;
}

/* Whether one choice carries generated content: completion text; a chat
 * delta's (or message's) content, reasoning ("reasoning_content" as
 * DeepSeek, LMDeploy, SGLang and older vLLM send it, "reasoning" as current
 * vLLM does), refusal, tool_calls or legacy function_call. A role-only
 * delta or empty strings are not content. *text is set to the visible text
 * (text or content), the part a dependent session's next turn repeats. */
static int choice_content(const cJSON *ch, const cJSON **text)
{
    *text = nonempty_string(ch, "text");
    if (*text) return 1;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    if (!cJSON_IsObject(d)) d = cJSON_GetObjectItemCaseSensitive(ch, "message");
    if (!cJSON_IsObject(d)) return 0;
    if ((*text = nonempty_string(d, "content"))) return 1;
    return nonempty_string(d, "reasoning_content") || nonempty_string(d, "reasoning") ||
           nonempty_string(d, "refusal") || nonempty_array(d, "tool_calls") ||
           cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "function_call"));
}

/* Bit of a choice index in client_event's masks (63 holds the rest). */
static uint64_t choice_bit(int index)
{
    return 1ull << (index < 0 ? 0 : index > 63 ? 63 : index);
}

/* A finish reason that ends the request badly wins over "stop"/"length"
 * when one event closes several choices. */
static int finish_is_failure(const char *fr)
{
    return !strcmp(fr, "abort") || !strcmp(fr, "error");
}

static void read_choices(const cJSON *choices, client_event *ev)
{
    const cJSON *ch;
    int pos = 0;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        int index = cJSON_IsNumber(ix) ? ix->valueint : pos;
        const cJSON *t;
        pos++;
        ev->seen_choices |= choice_bit(index);
        if (choice_content(ch, &t)) {
            if (!ev->content) {
                ev->content = 1;
                ev->choice = index < 0 ? 0 : index > 63 ? 63 : index;
                if (t) {
                    ev->text = t->valuestring;
                    ev->text_len = strlen(t->valuestring);
                }
            }
            ev->content_choices |= choice_bit(index);
        }
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        if (cJSON_IsString(fr) && !(ev->finish_reason && finish_is_failure(ev->finish_reason)))
            ev->finish_reason = fr->valuestring;
    }
}

static int interpret(openai_state *st, const char *data, size_t len, client_event *ev)
{
    const char *end = NULL;
    cJSON_Delete(st->doc);
    st->doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    const cJSON *doc = st->doc;
    if (!cJSON_IsObject(doc)) {
        snprintf(ev->errmsg, sizeof ev->errmsg, "unparseable JSON in the response: %.80s", data);
        return ERR_INPUT;
    }
    if (read_error(doc, ev->errmsg, sizeof ev->errmsg)) {
        ev->error = 1;
        return 0;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(doc, "choices");
    if (!cJSON_IsArray(choices) && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "usage"))) {
        snprintf(ev->errmsg, sizeof ev->errmsg,
                 "not an OpenAI completion: no choices, usage or error in %.80s", data);
        return ERR_INPUT;
    }
    read_usage(doc, ev);
    read_choices(choices, ev);
    return 0;
}

int openai_on_event(const client *c, void *state, const char *type, const char *data,
                    size_t len, client_event *ev)
{
    (void)c;
    if (type && !strcmp(type, "error")) {
        /* "event: error": its data is an error object, or plain text. */
        const char *end = NULL;
        cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
        if (!cJSON_IsObject(doc) || !read_error(doc, ev->errmsg, sizeof ev->errmsg))
            snprintf(ev->errmsg, sizeof ev->errmsg, "%.*s", (int)(len < 200 ? len : 200), data);
        cJSON_Delete(doc);
        ev->error = 1;
        return 0;
    }
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        ev->done = 1;
        return 0;
    }
    return interpret(state, data, len, ev);
}

int openai_on_body(const client *c, void *state, const char *data, size_t len,
                   client_event *ev)
{
    (void)c;
    return interpret(state, data, len, ev);
}

void openai_error_message(const client *c, int status, const char *data, size_t len,
                          char *msg, size_t msglen)
{
    (void)c;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (cJSON_IsObject(doc) && read_error(doc, msg, msglen)) {
        cJSON_Delete(doc);
        return;
    }
    if (len) snprintf(msg, msglen, "HTTP %d: %.*s", status, (int)(len < 200 ? len : 200), data);
    else snprintf(msg, msglen, "HTTP %d with an empty body", status);
    cJSON_Delete(doc);
}

int openai_add_reply(const client *c, cJSON *next_body, const char *reply, size_t len)
{
    (void)c;
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(next_body, "messages");
    cJSON *last_asst = NULL, *m;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_IsString(role) && !strcmp(role->valuestring, "assistant")) last_asst = m;
    }
    if (!last_asst) return 0;
    char *txt = xstrndup(reply, len);
    set_item(last_asst, "content", cJSON_CreateString(txt));
    free(txt);
    return 1;
}
