/* openai.c — what the OpenAI-protocol clients share on the response side:
 * parsing of streamed chunks (chat.completion.chunk, text_completion), of
 * whole responses, and of the error shapes servers use ({"error": {...}},
 * LMDeploy's flat {"object": "error", "message": ...}, FastAPI's
 * {"detail": ...}). Request bodies are built in clients/openai_body.c. */
#include "clients/client.h"
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
