/* server_chat.c — what a chat completion's output is made of, per profile:
 * plain content, reasoning before the content (vLLM's "reasoning",
 * LMDeploy's "reasoning_content"), or a tool call whose arguments are the
 * generated words, streamed as vLLM and OpenAI stream them
 * (docs/server.md, "Tool calls" and "Reasoning"). The request's choice is
 * made in server_chat_parse; the chunks and the message are written here,
 * under the exchange's mutex like the rest of the stream. */
#include "engine/server_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The function a tool entry names, or NULL. */
static const char *tool_function_name(const cJSON *tool, const cJSON **fn)
{
    *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(*fn, "name");
    return cJSON_IsString(name) ? name->valuestring : NULL;
}

/* Fills the tool call's name, argument key and id from the chosen tool. */
static void take_tool(xch *x, const cJSON *fn, const char *name, int choice)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties");
    const char *arg = cJSON_IsObject(props) && props->child && props->child->string &&
                      strlen(props->child->string) < sizeof x->tool_arg
        ? props->child->string : "input";
    snprintf(x->tool_name, sizeof x->tool_name, "%s", name);
    snprintf(x->tool_arg, sizeof x->tool_arg, "%s", arg);
    x->tool = choice;
}

/* The current choice's tool-call id, from the seed, the arrival and the choice. */
static void tool_id(const xch *x, char *id, size_t len)
{
    uint64_t h = mix64(x->srv->cfg.seed ^ (x->seq * 0x9e3779b97f4a7c15ULL) ^ 0x700c ^
                       ((uint64_t)x->cur << 40));
    if (x->srv->cfg.api == SERVER_API_GATEWAY)          /* OpenAI: call_ + 24 characters */
        snprintf(id, len, "call_%016llx%08llx", (unsigned long long)h,
                 (unsigned long long)(mix64(h) >> 32));
    else                                                 /* vLLM: chatcmpl-tool-<uuid hex> */
        snprintf(id, len, "chatcmpl-tool-%016llx%016llx", (unsigned long long)h,
                 (unsigned long long)mix64(h));
}

/* tools and tool_choice: 0, or -1 with a message (param "tools"/"tool_choice"). */
static int parse_tools(xch *x, cJSON *body, char *msg, size_t msglen, const char **param)
{
    server_api api = x->srv->cfg.api;
    cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
    cJSON *choice = cJSON_GetObjectItemCaseSensitive(body, "tool_choice");
    *param = "tools";
    if (tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools)) {
        errf(msg, msglen, "'tools' must be a list of tools");
        return -1;
    }
    int ntools = cJSON_IsArray(tools) ? cJSON_GetArraySize(tools) : 0;
    const char *mode = ntools ? "auto" : "none", *named = NULL;
    *param = "tool_choice";
    if (cJSON_IsString(choice)) {
        mode = choice->valuestring;
        if (strcmp(mode, "none") && strcmp(mode, "auto") && strcmp(mode, "required")) {
            errf(msg, msglen, "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                 "{\"type\": \"function\", \"function\": {\"name\": ...}}");
            return -1;
        }
    } else if (cJSON_IsObject(choice)) {
        const cJSON *fn;
        named = tool_function_name(choice, &fn);
        if (!named) {
            errf(msg, msglen, "'tool_choice.function.name' must be a string");
            return -1;
        }
        mode = "named";
    } else if (choice && !cJSON_IsNull(choice)) {
        errf(msg, msglen, "'tool_choice' must be a string or an object");
        return -1;
    }
    if (api == SERVER_API_LMDEPLOY) {
        /* 0.16 refuses (chat_completions/validation.py); 0.12 only logs it */
        if (x->srv->cfg.lmdeploy_minor >= 16 && ntools && strcmp(mode, "none")) {
            *param = NULL;
            errf(msg, msglen, "Please launch the api_server with --tool-call-parser if you want to use tools.");
            return -1;
        }
        return 0;
    }
    if (!ntools) {
        if (!strcmp(mode, "none") || !strcmp(mode, "auto")) return 0;
        errf(msg, msglen, "When using `tool_choice`, `tools` must be set.");
        return -1;
    }
    if (!strcmp(mode, "none")) return 0;
    rng r;
    rng_seed2(&r, x->srv->cfg.seed ^ 0x7001ULL, x->seq);
    int pick = (int)rng_range(&r, 0, ntools - 1);
    if (!strcmp(mode, "auto") && rng_uniform(&r) >= 0.5) return 0;   /* the model answers */
    int i = 0;
    for (const cJSON *t = tools->child; t; t = t->next, i++) {
        const cJSON *fn;
        const char *name = tool_function_name(t, &fn);
        *param = "tools";
        if (!name || strlen(name) >= sizeof x->tool_name) {
            errf(msg, msglen, "tools[%d].function.name must be a string of at most %zu bytes", i,
                 sizeof x->tool_name - 1);
            return -1;
        }
        if (named ? !strcmp(name, named) : i == pick) {
            take_tool(x, fn, name, named ? TOOL_NAMED : !strcmp(mode, "required") ? TOOL_REQUIRED
                                                                                  : TOOL_AUTO);
            return 0;
        }
    }
    errf(msg, msglen, "The tool specified in `tool_choice` does not match any of the specified `tools`");
    return -1;
}

/* How many of the output's first tokens are reasoning (0: none). */
static void plan_reasoning(xch *x, cJSON *body, const sim_engine_request *r)
{
    struct server *s = x->srv;
    if (s->cfg.reasoning <= 0 || s->cfg.api == SERVER_API_GATEWAY) return;
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(body, "chat_template_kwargs");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(kw, "enable_thinking");
    if (!et && s->cfg.api == SERVER_API_LMDEPLOY)   /* LMDeploy's deprecated top-level field */
        et = cJSON_GetObjectItemCaseSensitive(body, "enable_thinking");
    if (cJSON_IsFalse(et)) return;
    const engine_config *c = sim_engine_config(s->engine);
    double len = (double)(r->max_tokens ? r->max_tokens : c->default_max_tokens);
    if (!r->ignore_eos && c->eos_mean > 0 && (len <= 0 || c->eos_mean < len)) len = c->eos_mean;
    if (len <= 0) len = 16;
    x->reasoning_k = (int64_t)ceil(s->cfg.reasoning * len);
    if (x->reasoning_k < 1) x->reasoning_k = 1;
}

int server_chat_parse(xch *x, cJSON *body, const sim_engine_request *r, char *msg, size_t msglen,
                      const char **param)
{
    if (parse_tools(x, body, msg, msglen, param)) return -1;
    *param = NULL;
    plan_reasoning(x, body, r);
    return 0;
}

/* Byte offset of word j in text, every word starting with a space. */
static size_t word_off(const char *t, size_t len, int64_t j)
{
    for (size_t i = 0; i < len; i++)
        if (t[i] == ' ' && j-- == 0) return i;
    return len;
}

/* The finish reason a chat client sees: "tool_calls" when a tool call was
 * streamed (started) for "auto" or "required" and the model stopped (vLLM
 * and OpenAI say "stop" for a named function). */
static const char *chat_finish(const xch *x, int started, const char *fr)
{
    if (started && x->tool != TOOL_NAMED && !strcmp(fr, "stop")) return "tool_calls";
    return fr;
}

/* A piece of tool-call arguments: the JSON object is opened before the first
 * word and closed after the last one when the model stopped (cut short by
 * max_tokens, it stays open, as a real truncated call does). */
static void tool_fragment(xch *x, const char *text, size_t len, int last, const char *fr,
                          strbuf *f)
{
    if (!x->tool_started) {
        sb_addc(f, '{');
        sb_json_str(f, x->tool_arg, strlen(x->tool_arg));
        sb_adds(f, ": \"");
        if (len && text[0] == ' ') text++, len--;
    }
    sb_add(f, text, len);
    if (last && !strcmp(fr, "stop")) sb_adds(f, "\"}");
}

/* The delta members (no braces) announcing the tool call with its first arguments. */
static void tool_delta(xch *x, const char *args, size_t alen, int header, strbuf *d)
{
    sb_adds(d, "\"tool_calls\":[{");
    if (header) {
        char id[48];
        tool_id(x, id, sizeof id);
        sb_printf(d, "\"id\":\"%s\",\"type\":\"function\",\"index\":0,\"function\":{\"name\":", id);
        sb_json_str(d, x->tool_name, strlen(x->tool_name));
        sb_adds(d, ",\"arguments\":");
    } else {
        sb_adds(d, "\"index\":0,\"function\":{\"arguments\":");
    }
    sb_json_str(d, args, alen);
    sb_adds(d, "}}]");
}

void server_chat_role_delta(xch *x, strbuf *d)
{
    if (x->srv->cfg.api != SERVER_API_GATEWAY) {
        sb_adds(d, "\"role\":\"assistant\",\"content\":\"\"");
        return;
    }
    if (!x->tool) {
        sb_adds(d, "\"role\":\"assistant\",\"content\":\"\",\"refusal\":null");
        return;
    }
    /* OpenAI announces the call with the role; the arguments follow. */
    char id[48];
    tool_id(x, id, sizeof id);
    sb_printf(d, "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
              "\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":", id);
    sb_json_str(d, x->tool_name, strlen(x->tool_name));
    sb_adds(d, ",\"arguments\":\"\"}}],\"refusal\":null");
    x->tool_announced = 1;
}

/* LMDeploy's deltas for an event's reasoning (text[0, cut)) and content:
 * 0.16's response parser yields one delta per kind, each with the role;
 * 0.12 one DeltaMessage with every field. */
static void lmdeploy_deltas(xch *x, const sim_engine_tokens *t, size_t cut, strbuf *o)
{
    strbuf d = {0};
    int have_r = cut > 0, have_c = cut < t->text_len;
    if (x->srv->cfg.lmdeploy_minor < 16) {
        sb_adds(&d, "\"delta\":{\"role\":\"assistant\",\"content\":");
        if (have_c) sb_json_str(&d, t->text + cut, t->text_len - cut); else sb_adds(&d, "null");
        sb_adds(&d, ",\"reasoning_content\":");
        if (have_r) sb_json_str(&d, t->text, cut); else sb_adds(&d, "null");
        sb_adds(&d, ",\"gen_tokens\":null,\"tool_calls\":[]},\"logprobs\":null");
        server_openai_lmdeploy_chunk(x, o, d.buf, d.len, NULL);
        sb_free(&d);
        return;
    }
    if (have_r) {
        sb_adds(&d, "\"delta\":{\"role\":\"assistant\",\"reasoning_content\":");
        sb_json_str(&d, t->text, cut);
        sb_addc(&d, '}');
        server_openai_lmdeploy_chunk(x, o, d.buf, d.len, NULL);
        d.len = 0;
    }
    if (have_c) {
        sb_adds(&d, "\"delta\":{\"role\":\"assistant\",\"content\":");
        sb_json_str(&d, t->text + cut, t->text_len - cut);
        sb_addc(&d, '}');
        server_openai_lmdeploy_chunk(x, o, d.buf, d.len, NULL);
    }
    sb_free(&d);
}

void server_chat_event(xch *x, const sim_engine_tokens *t, strbuf *o)
{
    server_api api = x->srv->cfg.api;
    int64_t a = t->index, b = t->index + t->n, k = x->reasoning_k;
    size_t cut = k > a ? word_off(t->text, t->text_len, (k < b ? k : b) - a) : 0;
    int have_r = cut > 0, have_c = cut < t->text_len;
    int tool_now = x->tool && have_c;
    const char *fin = t->last && api != SERVER_API_GATEWAY
        ? chat_finish(x, x->tool_started || tool_now, t->finish_reason) : NULL;
    strbuf d = {0}, f = {0};
    if (api == SERVER_API_LMDEPLOY) {
        lmdeploy_deltas(x, t, cut, o);
        if (t->last) server_openai_lmdeploy_final(x, o, fin);
    } else {                                     /* vLLM: one DeltaMessage, fields in order */
        if (have_c && !tool_now) {
            sb_adds(&d, "\"content\":");
            sb_json_str(&d, t->text + cut, t->text_len - cut);
        }
        if (have_r) {
            sb_adds(&d, d.len ? ",\"reasoning\":" : "\"reasoning\":");
            sb_json_str(&d, t->text, cut);
        }
        if (tool_now) {
            int header = !x->tool_announced;
            tool_fragment(x, t->text + cut, t->text_len - cut, t->last, t->finish_reason, &f);
            if (d.len) sb_addc(&d, ',');
            tool_delta(x, f.buf, f.len, header, &d);
        }
        server_openai_chat_chunk(x, o, d.buf ? d.buf : "", d.len, fin, b);
    }
    if (tool_now) x->tool_started = x->tool_announced = 1;
    sb_free(&d);
    sb_free(&f);
}

const char *server_chat_finish(const xch *x, const char *fr)
{
    return chat_finish(x, x->tool_started, fr);
}

void server_chat_message(xch *x, strbuf *o)
{
    server_api api = x->srv->cfg.api;
    const char *text = x->text.buf ? x->text.buf : "";
    size_t len = x->text.len, cut = x->reasoning_k ? word_off(text, len, x->reasoning_k) : 0;
    int tool = x->tool && cut < len;
    strbuf args = {0};
    if (tool) {
        tool_fragment(x, text + cut, len - cut, 1, x->finish_reason ? x->finish_reason : "stop", &args);
        x->tool_started = 1;
    }
    sb_adds(o, "{\"role\":\"assistant\",\"content\":");
    if (tool) sb_adds(o, api == SERVER_API_VLLM && x->tool != TOOL_AUTO ? "\"\"" : "null");
    else sb_json_str(o, text + cut, len - cut);
    if (api == SERVER_API_LMDEPLOY) {
        if (x->srv->cfg.lmdeploy_minor < 16) sb_adds(o, ",\"gen_tokens\":null");
        sb_adds(o, ",\"reasoning_content\":");
        if (cut) sb_json_str(o, text, cut); else sb_adds(o, "null");
        sb_adds(o, ",\"tool_calls\":null}");
        return;
    }
    if (api == SERVER_API_VLLM)
        sb_adds(o, ",\"refusal\":null,\"annotations\":null,\"audio\":null,\"function_call\":null");
    if (tool) {
        char id[48];
        tool_id(x, id, sizeof id);
        sb_printf(o, ",\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":", id);
        sb_json_str(o, x->tool_name, strlen(x->tool_name));
        sb_adds(o, ",\"arguments\":");
        sb_json_str(o, args.buf ? args.buf : "", args.len);
        sb_adds(o, "}}]");
    }
    sb_free(&args);
    if (api == SERVER_API_GATEWAY) {
        sb_adds(o, ",\"refusal\":null}");
        return;
    }
    sb_adds(o, ",\"reasoning\":");
    if (cut) sb_json_str(o, text, cut); else sb_adds(o, "null");
    sb_addc(o, '}');
}
