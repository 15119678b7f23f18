/* openai.c — what the OpenAI-protocol clients share on the response side:
 * parsing of streamed chunks (chat.completion.chunk, text_completion), of
 * whole responses, and of the error shapes servers use ({"error": {...}},
 * LMDeploy's flat {"object": "error", "message": ...}, FastAPI's
 * {"detail": ...}). Request bodies are built in clients/openai_body.c. */
#include "clients/client.h"
#include "clients/openai.h"
#include "common/json_arena.h"
#include "traces/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_item(cJSON *obj, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
}

cJSON *openai_parse_doc(const char *data, size_t len)
{
    const char *end = NULL;
    int opened = json_arena_begin();
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    json_arena_end(opened);
    return doc;
}

static int64_t get_count(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : -1;
}

/* The top-level members a response is read by, found in one pass over
 * the document's members instead of one lookup each (the first of a
 * repeated key, as cJSON_GetObjectItemCaseSensitive finds). */
typedef struct top_members {
    const cJSON *doc, *error, *object, *detail, *choices, *usage;
} top_members;

static void find_top(const cJSON *doc, top_members *t)
{
    *t = (top_members){ .doc = doc };
    for (const cJSON *c = doc->child; c; c = c->next) {
        const char *k = c->string;
        const cJSON **slot = NULL;
        if (!k) continue;
        switch (k[0]) {
        case 'c': if (!strcmp(k, "choices")) slot = &t->choices; break;
        case 'd': if (!strcmp(k, "detail")) slot = &t->detail; break;
        case 'e': if (!strcmp(k, "error")) slot = &t->error; break;
        case 'o': if (!strcmp(k, "object")) slot = &t->object; break;
        case 'u': if (!strcmp(k, "usage")) slot = &t->usage; break;
        default: break;
        }
        if (slot && !*slot) *slot = c;
    }
}

static void read_usage(const cJSON *u, client_event *ev)
{
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
static int read_error(const top_members *t, char *msg, size_t msglen)
{
    const cJSON *e = t->error, *o = t->object, *d = t->detail;
    const cJSON *m;
    if (cJSON_IsString(e)) {
        snprintf(msg, msglen, "%s", e->valuestring);
        return 1;
    }
    if (!cJSON_IsObject(e) && cJSON_IsString(o) && !strcmp(o->valuestring, "error")) e = t->doc;
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

/* read_error on a whole document: 0 when it is not an object or not an
 * error. */
static int doc_error(const cJSON *doc, char *msg, size_t msglen)
{
    top_members t;
    if (!cJSON_IsObject(doc)) return 0;
    find_top(doc, &t);
    return read_error(&t, msg, msglen);
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

static int interpret(const char *data, size_t len, client_event *ev)
{
    const cJSON *doc = openai_parse_doc(data, len);
    if (!cJSON_IsObject(doc)) {
        snprintf(ev->errmsg, sizeof ev->errmsg, "unparseable JSON in the response: %.80s", data);
        return ERR_INPUT;
    }
    top_members t;
    find_top(doc, &t);
    if (read_error(&t, ev->errmsg, sizeof ev->errmsg)) {
        ev->error = 1;
        return 0;
    }
    if (!cJSON_IsArray(t.choices) && !cJSON_IsObject(t.usage)) {
        snprintf(ev->errmsg, sizeof ev->errmsg,
                 "not an OpenAI completion: no choices, usage or error in %.80s", data);
        return ERR_INPUT;
    }
    read_usage(t.usage, ev);
    read_choices(t.choices, ev);
    return 0;
}

int openai_on_event(const client *c, void *state, const char *type, const char *data,
                    size_t len, client_event *ev)
{
    if (type && !strcmp(type, "error")) {
        /* "event: error": its data is an error object, or plain text. */
        const char *end = NULL;
        cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
        if (!doc_error(doc, ev->errmsg, sizeof ev->errmsg))
            snprintf(ev->errmsg, sizeof ev->errmsg, "%.*s", (int)(len < 200 ? len : 200), data);
        cJSON_Delete(doc);
        ev->error = 1;
        return 0;
    }
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        ev->done = 1;
        return 0;
    }
    return interpret(data, len, ev);
}

int openai_on_body(const client *c, void *state, const char *data, size_t len,
                   client_event *ev)
{
    return interpret(data, len, ev);
}

void openai_error_message(const client *c, int status, const char *data, size_t len,
                          char *msg, size_t msglen)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (doc_error(doc, msg, msglen)) {
        cJSON_Delete(doc);
        return;
    }
    if (len) snprintf(msg, msglen, "HTTP %d: %.*s", status, (int)(len < 200 ? len : 200), data);
    else snprintf(msg, msglen, "HTTP %d with an empty body", status);
    cJSON_Delete(doc);
}

int openai_add_reply(const client *c, cJSON *next_body, const char *reply, size_t len)
{
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
