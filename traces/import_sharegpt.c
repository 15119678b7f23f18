/* import_sharegpt.c — ShareGPT conversations (e.g.
 * ShareGPT_V3_unfiltered_cleaned_split.json, the file vLLM's benchmarks
 * use): a JSON array of
 *   {"id": "QWJhYvA_0", "conversations": [{"from": "human", "value": "..."},
 *                                          {"from": "gpt", "value": "..."}]}
 * JSON Lines of the same objects are accepted too.
 *
 * The file can be ~700 MB, so it is never loaded whole: a small splitter
 * that knows JSON strings and brackets cuts the top-level array into
 * elements as the bytes stream in (zio_reader_read), and only one element
 * at a time is parsed with cJSON.
 *
 * Roles: "human"/"user" -> user; "gpt"/"chatgpt"/"assistant"/"bard"/"bing"
 * -> assistant; "system" -> system. A turn is a user message followed by an
 * assistant reply.
 *
 * Records (default, --turns first): one per conversation, from its first
 * turn, like vLLM's sharegpt dataset:
 *   id            -> id (text; "sharegpt-N" when absent)
 *   body          -> {"model": M, "messages": [system messages before it,
 *                     {"role": "user", "content": the human value}],
 *                     "max_tokens": max(1, output_tokens)}; "model" only
 *                     when --model names one
 *   input_tokens  -> tok_estimate over the messages' contents
 *   output_tokens -> tok_estimate of the gpt reply
 *   "tokens_estimated": true (both counts are the project's estimate,
 *                     common/tokcount.h, not a tokenizer's)
 *   other fields of the conversation -> meta
 * With --turns all (opts->sharegpt_turns = 1): every turn is a record, with
 * session = the conversation id, turn = 1, 2, ..., id "SESSION:TURN",
 * parent = the previous turn's id, and a body carrying the conversation so
 * far (earlier user and assistant messages as in the source).
 *
 * Arrival times are synthesised (the source has none): --arrival poisson
 * (default), gamma:CV or constant at --rate requests/s (default 1), seeded
 * by --seed; the first request is at t_us 0, then one gap per request. With
 * --turns all the turns of a conversation take consecutive arrivals; a
 * replay that honours "parent" waits for the previous turn.
 *
 * A conversation without a human turn followed by a reply (empty ones exist
 * in the public file) is a bad row: --skip-invalid counts and skips them.
 * api from --api, else "chat". */
#include "traces/dist.h"
#include "traces/import.h"
#include "traces/import_rec.h"
#include "common/rng.h"
#include "common/tokcount.h"
#include "common/zio.h"
#include "traces/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SG_CHUNK (256u << 10)
#define SG_MAX_ELEMENT ((size_t)ZIO_DEFAULT_MAX_LINE)
#define SG_ID_MAX 256

/* ---- arrival times (traces/dist.c's arrival processes) ---- */

typedef struct arrivals {
    dist_arrival a;
    rng r;
} arrivals;

static int arrivals_init(import_ctx *ctx, arrivals *a)
{
    const import_opts *o = import_options(ctx);
    char err[300];
    memset(a, 0, sizeof *a);
    if (dist_arrival_parse(o->arrival ? o->arrival : "poisson", o->rate == 0 ? 1.0 : o->rate,
                           &a->a, err, sizeof err) < 0)
        return import_fail(ctx, ERR_USAGE, "--arrival: %s", err);
    rng_seed2(&a->r, o->seed, 0x5368617265475054ULL /* "ShareGPT" */);
    return 0;
}

/* The next arrival in µs: 0 first, then one gap of the chosen process;
 * -1 past the largest time a trace can hold. */
static int64_t arrivals_next(arrivals *a)
{
    int64_t t = dist_arrival_next_us(&a->a, &a->r);
    return t > TRACE_MAX_T_US ? -1 : t;
}

/* ---- splitting the top-level array ---- */

enum { SP_START, SP_ARRAY, SP_SEQ, SP_DONE };

typedef struct splitter {
    struct zio_reader *in;
    char *buf;
    size_t pos, len;
    strbuf el;           /* the current element */
    uint64_t line;       /* line of buf[pos] */
    int mode;
    int expect_value;    /* array: after '[' or ',' */
    int bom_checked;
} splitter;

/* Makes buf[pos] available: 1, 0 at the end, or a negative read error. */
static int sp_fill(splitter *s)
{
    if (s->pos < s->len) return 1;
    long n = zio_reader_read(s->in, s->buf, SG_CHUNK);
    if (n < 0) return (int)n;
    s->pos = 0;
    s->len = (size_t)n;
    if (!s->bom_checked) {
        s->bom_checked = 1;
        if (s->len >= 3 && !memcmp(s->buf, "\xEF\xBB\xBF", 3)) s->pos = 3;
    }
    return s->pos < s->len;
}

/* Skips whitespace; *c = the next byte (not consumed) or -1 at the end. */
static int sp_peek(splitter *s, int *c)
{
    for (;;) {
        int rc = sp_fill(s);
        if (rc < 0) return rc;
        if (rc == 0) {
            *c = -1;
            return 0;
        }
        char ch = s->buf[s->pos];
        if (ch == '\n') s->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r') {
            *c = (unsigned char)ch;
            return 0;
        }
        s->pos++;
    }
}

static int is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' ||
           c == '}' || c == '[' || c == '{' || c == '"';
}

/* Copies one JSON value starting at buf[pos] into s->el: an object or
 * array up to its matching bracket, a string, or a bare word. */
static int sp_scan(import_ctx *ctx, splitter *s, uint64_t start)
{
    int depth = 0, instr = 0, esc = 0;
    int scalar = !(s->buf[s->pos] == '{' || s->buf[s->pos] == '[' || s->buf[s->pos] == '"');
    sb_clear(&s->el);
    for (;;) {
        int rc = sp_fill(s);
        if (rc < 0) return import_rec_read_error(ctx, rc);
        if (rc == 0) {
            if (scalar) return 1;
            return import_rec_fatal(ctx, start, "(json)", "expected the element that starts "
                                    "here to end, got the end of the input (truncated file?)");
        }
        const char *b = s->buf;
        size_t i = s->pos;
        int done = 0;
        for (; i < s->len; i++) {
            char c = b[i];
            if (scalar) {
                if (is_delim(c)) {
                    done = 1;
                    break;
                }
                continue;
            }
            if (c == '\n') s->line++;
            if (instr) {
                if (esc) esc = 0;
                else if (c == '\\') esc = 1;
                else if (c == '"') {
                    instr = 0;
                    if (depth == 0) {
                        i++;
                        done = 1;
                        break;
                    }
                }
            } else if (c == '"') {
                instr = 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    i++;
                    done = 1;
                    break;
                }
            }
        }
        if (s->el.len + (i - s->pos) > SG_MAX_ELEMENT)
            return import_rec_fatal(ctx, start, "(json)", "expected elements shorter than "
                                    "%zu MB, got a longer one", SG_MAX_ELEMENT >> 20);
        sb_add(&s->el, b + s->pos, i - s->pos);
        s->pos = i;
        if (done) return 1;
    }
}

/* The next top-level element into s->el with its first line in *line:
 * 1, 0 at the end of the input, or a negative error. */
static int sp_next(import_ctx *ctx, splitter *s, uint64_t *line)
{
    for (;;) {
        int c, rc = sp_peek(s, &c);
        if (rc < 0) return import_rec_read_error(ctx, rc);
        if (c < 0) {
            if (s->mode == SP_START)
                return import_rec_fatal(ctx, 1, "(json)", "expected a JSON array of "
                                        "conversations, got an empty input");
            if (s->mode == SP_ARRAY)
                return import_rec_fatal(ctx, s->line, "(json)", "expected %s, got the end of the "
                                        "input (truncated file?)",
                                        s->expect_value ? "a conversation object" : "',' or ']'");
            return 0;
        }
        switch (s->mode) {
        case SP_START:
            if (c == '[') {
                s->pos++;
                s->mode = SP_ARRAY;
                s->expect_value = 1;
                continue;
            }
            s->mode = SP_SEQ;
            continue;
        case SP_DONE:
            return import_rec_fatal(ctx, s->line, "(json)", "expected nothing after the array's "
                                    "closing ']', got more data");
        case SP_ARRAY:
            if (!s->expect_value) {
                if (c == ',') {
                    s->pos++;
                    s->expect_value = 2;
                    continue;
                }
                if (c == ']') {
                    s->pos++;
                    s->mode = SP_DONE;
                    continue;
                }
                return import_rec_fatal(ctx, s->line, "(json)", "expected ',' or ']' after an "
                                        "array element, got '%c'", c >= 32 && c < 127 ? c : '?');
            }
            if (c == ']' && s->expect_value == 1) { /* empty array */
                s->pos++;
                s->mode = SP_DONE;
                continue;
            }
            break;
        default:
            break;
        }
        if (c == ',' || c == ']' || c == '}')
            return import_rec_fatal(ctx, s->line, "(json)", "expected a conversation object, "
                                    "got '%c'", c);
        *line = s->line;
        rc = sp_scan(ctx, s, *line);
        if (rc < 0) return rc;
        s->expect_value = 0;
        return 1;
    }
}

/* ---- conversations ---- */

typedef struct msg { const char *role; const char *text; } msg;

typedef struct sg_st {
    arrivals arr;
    msg *m;
    size_t capm;
} sg_st;

static const char *role_of(const char *from)
{
    static const char *const user[] = { "human", "user", NULL };
    static const char *const asst[] = { "gpt", "chatgpt", "assistant", "bard", "bing", NULL };
    for (int i = 0; user[i]; i++)
        if (!strcmp(from, user[i])) return "user";
    for (int i = 0; asst[i]; i++)
        if (!strcmp(from, asst[i])) return "assistant";
    if (!strcmp(from, "system")) return "system";
    return NULL;
}

/* Builds and emits one record for the user message at index u (reply at
 * u + 1). first_turn: only system messages precede it in the body. */
static int emit_turn(import_ctx *ctx, sg_st *st, const msg *m, size_t u, int first_turn,
                     const char *id, const char *session, int64_t turn, const char *parent,
                     const cJSON *meta, uint64_t line)
{
    const import_opts *o = import_options(ctx);
    int64_t t = arrivals_next(&st->arr);
    if (t < 0)
        return import_fail(ctx, ERR_USAGE, "--rate: the synthesised arrivals pass %lld s; "
                           "use a higher rate", (long long)(TRACE_MAX_T_US / 1000000));
    cJSON *body = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
    int64_t in = 0;
    for (size_t i = 0; i <= u; i++) {
        if (first_turn && i < u && strcmp(m[i].role, "system")) continue;
        cJSON *e = cJSON_CreateObject();
        import_rec_str(e, "role", m[i].role);
        import_rec_str(e, "content", m[i].text);
        cJSON_AddItemToArray(msgs, e);
        in += (int64_t)tok_estimate(m[i].text, strlen(m[i].text));
    }
    int64_t out = (int64_t)tok_estimate(m[u + 1].text, strlen(m[u + 1].text));
    if (in > IMPORT_MAX_TOKENS) in = IMPORT_MAX_TOKENS;
    if (out > IMPORT_MAX_TOKENS) out = IMPORT_MAX_TOKENS;
    if (o->model) cJSON_AddStringToObject(body, "model", o->model);
    import_rec_add(body, "messages", msgs);
    import_rec_int(body, "max_tokens", out > 0 ? out : 1);

    cJSON *rec = import_rec_new(ctx, t, id);
    if (session) {
        import_rec_str(rec, "session", session);
        import_rec_int(rec, "turn", turn);
        if (parent) import_rec_str(rec, "parent", parent);
    }
    import_rec_api_model(ctx, rec, 1, NULL);
    import_rec_int(rec, "input_tokens", in);
    import_rec_int(rec, "output_tokens", out);
    import_rec_add(rec, "tokens_estimated", cJSON_CreateTrue());
    import_rec_add(rec, "body", body);
    if (meta && meta->child) import_rec_add(rec, "meta", cJSON_Duplicate(meta, 1));
    return import_emit(ctx, rec, line);
}

static int conversation(import_ctx *ctx, sg_st *st, cJSON *obj, uint64_t line)
{
    char id[SG_ID_MAX];
    int rc = 0;
    cJSON *idv = import_rec_take(obj, "id");
    cJSON *conv = import_rec_take(obj, "conversations");
    size_t n = 0;
    if (idv && import_rec_json_id(idv, id, sizeof id) < 0) {
        rc = import_rec_bad_json(ctx, line, "id", "a non-empty string (at most 255 bytes) "
                                 "or an integer", idv);
        goto out;
    }
    if (!cJSON_IsArray(conv)) {
        rc = import_rec_bad_json(ctx, line, "conversations", "an array of "
                                 "{\"from\": ..., \"value\": ...} turns", conv);
        goto out;
    }
    for (const cJSON *t = conv->child; t; t = t->next, n++) {
        char f[64];
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(t, "from");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(t, "value");
        const char *role = cJSON_IsString(from) ? role_of(from->valuestring) : NULL;
        if (!role) {
            snprintf(f, sizeof f, "conversations[%zu].from", n);
            rc = import_rec_bad_json(ctx, line, f, "\"human\", \"gpt\" (or user, assistant, "
                                     "system)", cJSON_IsObject(t) ? from : t);
            goto out;
        }
        if (!cJSON_IsString(val)) {
            snprintf(f, sizeof f, "conversations[%zu].value", n);
            rc = import_rec_bad_json(ctx, line, f, "the message text (a string)", val);
            goto out;
        }
        if (n == st->capm) {
            st->capm = st->capm ? st->capm * 2 : 64;
            st->m = xrealloc(st->m, st->capm * sizeof *st->m);
        }
        st->m[n] = (msg){ role, val->valuestring };
    }
    const msg *m = st->m;
    int turns = 0;
    int all = import_options(ctx)->sharegpt_turns;
    char session[SG_ID_MAX], cur[SG_ID_MAX + 24], prev[SG_ID_MAX + 24];
    for (size_t u = 0; u + 1 < n && !rc; u++) {
        if (strcmp(m[u].role, "user") || strcmp(m[u + 1].role, "assistant")) continue;
        turns++;
        if (!all) {
            rc = emit_turn(ctx, st, m, u, 1, idv ? id : NULL, NULL, 0, NULL, obj, line);
            break;
        }
        if (turns == 1) {
            if (idv) snprintf(session, sizeof session, "%s", id);
            else import_make_id(ctx, session, sizeof session);
        }
        snprintf(cur, sizeof cur, "%s:%d", session, turns);
        rc = emit_turn(ctx, st, m, u, 0, cur, session, turns, turns > 1 ? prev : NULL, obj, line);
        memcpy(prev, cur, sizeof prev);
    }
    if (!rc && turns == 0)
        rc = import_bad(ctx, line, "conversations", "expected a human turn followed by a gpt "
                        "reply, got %zu message%s without one", n, n == 1 ? "" : "s");
out:
    cJSON_Delete(idv);
    cJSON_Delete(conv);
    cJSON_Delete(obj);
    return rc;
}

static int sharegpt_run(import_ctx *ctx)
{
    sg_st st;
    memset(&st, 0, sizeof st);
    int rc = arrivals_init(ctx, &st.arr);
    if (rc) return rc;
    {
        const import_opts *o = import_options(ctx);
        cJSON *h = import_header(ctx);
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "arrival", o->arrival ? o->arrival : "poisson");
        cJSON_AddNumberToObject(a, "rate", o->rate == 0 ? 1.0 : o->rate);
        cJSON_AddNumberToObject(a, "seed", (double)o->seed);
        cJSON_AddStringToObject(a, "turns", o->sharegpt_turns ? "all" : "first");
        cJSON_AddItemToObject(h, "synthesised_arrivals", a);
    }
    splitter s;
    memset(&s, 0, sizeof s);
    s.in = import_input(ctx);
    s.buf = xmalloc(SG_CHUNK);
    s.line = 1;
    uint64_t line = 0;
    while (!rc && (rc = sp_next(ctx, &s, &line)) == 1) {
        import_count_row(ctx);
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(s.el.buf, s.el.len, &end, 0);
        if (!obj) {
            size_t col = end && end >= s.el.buf && end <= s.el.buf + s.el.len
                             ? (size_t)(end - s.el.buf) : 0;
            char near[64];
            import_rec_describe(near, sizeof near, s.el.buf + col, s.el.len - col);
            rc = import_bad(ctx, line, "(json)", "expected a conversation object, got invalid "
                            "JSON at byte %zu of the element, near %s", col + 1, near);
            continue;
        }
        if (!cJSON_IsObject(obj)) {
            rc = import_rec_bad_json(ctx, line, "(json)", "a conversation object", obj);
            cJSON_Delete(obj);
            continue;
        }
        rc = conversation(ctx, &st, obj, line);
    }
    free(s.buf);
    sb_free(&s.el);
    free(st.m);
    return rc < 0 ? rc : 0;
}

const importer import_sharegpt = {
    "sharegpt",
    "ShareGPT conversations (JSON array or JSONL); real prompts, synthesised arrivals",
    sharegpt_run,
};
