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

/* An error object in a response or a stream: {"error": {...}|"..."} or a
 * flat {"object": "error", "message": ...}. Returns 1 and fills msg. */
static int read_error(const cJSON *doc, char *msg, size_t msglen)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *m = NULL;
    if (cJSON_IsObject(e)) m = cJSON_GetObjectItemCaseSensitive(e, "message");
    else if (cJSON_IsString(e)) m = e;
    else {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "object");
        if (!(cJSON_IsString(o) && !strcmp(o->valuestring, "error"))) return 0;
        m = cJSON_GetObjectItemCaseSensitive(doc, "message");
    }
    snprintf(msg, msglen, "%s", cJSON_IsString(m) ? m->valuestring : "error object without a message");
    return 1;
}

static const cJSON *nonempty_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v : NULL;
}

/* Content of one choice: chat delta/message content or reasoning, or
 * completion text. */
static const cJSON *choice_text(const cJSON *ch)
{
    const cJSON *t = nonempty_string(ch, "text");
    if (t) return t;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    if (!cJSON_IsObject(d)) d = cJSON_GetObjectItemCaseSensitive(ch, "message");
    if (!cJSON_IsObject(d)) return NULL;
    if ((t = nonempty_string(d, "content"))) return t;
    if ((t = nonempty_string(d, "reasoning_content"))) return t;
    return nonempty_string(d, "reasoning");
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
    read_usage(doc, ev);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(doc, "choices");
    const cJSON *ch;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *t = choice_text(ch);
        if (t && !ev->content) {
            ev->content = 1;
            ev->text = t->valuestring;
            ev->text_len = strlen(t->valuestring);
        }
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        if (cJSON_IsString(fr)) ev->finish_reason = fr->valuestring;
    }
    return 0;
}

int openai_on_event(const client *c, void *state, const char *type, const char *data,
                    size_t len, client_event *ev)
{
    (void)c;
    if (type && !strcmp(type, "error")) {
        ev->error = 1;
        snprintf(ev->errmsg, sizeof ev->errmsg, "%.*s", (int)(len < 200 ? len : 200), data);
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
    cJSON *doc = cJSON_ParseWithLength(data, len);
    if (doc && read_error(doc, msg, msglen)) {
        cJSON_Delete(doc);
        return;
    }
    const cJSON *d = doc ? cJSON_GetObjectItemCaseSensitive(doc, "detail") : NULL;
    if (cJSON_IsString(d)) snprintf(msg, msglen, "%s", d->valuestring);
    else if (len) snprintf(msg, msglen, "HTTP %d: %.*s", status, (int)(len < 200 ? len : 200), data);
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
