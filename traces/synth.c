/* synth.c — see synth.h. */
#include "traces/synth.h"
#include "traces/dist.h"
#include "traces/trace.h"
#include "traces/trace_io.h"
#include "common/rng.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_MAX_PREFIX INT64_C(100000000)
#define SYNTH_MAX_GROUPS INT64_C(1000000)

/* A session between two turns: what its next turn needs. */
typedef struct pending {
    int64_t t_us;          /* arrival of the next turn */
    uint64_t order;        /* tie-break among equal t_us: push order */
    int64_t session;
    int64_t turn, turns;   /* next turn (0 first), total turns */
    int64_t group;         /* prefix group, -1 without prefixes */
    int64_t think_us;      /* -1 for the first turn */
    int64_t parent;        /* id of the previous turn, -1 for the first */
    int64_t prev_in, prev_out;
    int64_t *ids;          /* previous turn's hash ids */
    size_t nids, idcap;
    rng r;                 /* the session's own stream */
} pending;

struct synth {
    synth_opts o;
    char *api, *model, *arrival_spec;   /* owned copies */
    dist *input, *output, *sessions, *think;
    dist_arrival arr;
    rng arr_rng;
    int64_t next_start;    /* next session start, -1 when there are no more */
    int64_t nsessions;
    pending **heap;
    size_t hn, hcap;
    uint64_t push_seq;
    int64_t next_id, next_hash, prefix_blocks;
    int hashes;            /* write hash ids */
    char *api_json, *model_json;        /* the values, JSON-escaped */
    cJSON *header;
    strbuf line;
    int64_t *ids;          /* scratch: the hash ids of the turn being built */
    size_t idcap;
    synth_stats st;
};

void synth_opts_init(synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arrival = "poisson";
    o->block_size = SYNTH_DEFAULT_BLOCK;
    o->api = "chat";
    o->seed = SYNTH_DEFAULT_SEED;
}

/* ---- heap of pending turns, ordered by (t_us, order) ---- */

static int before(const pending *a, const pending *b)
{
    return a->t_us < b->t_us || (a->t_us == b->t_us && a->order < b->order);
}

static void heap_push(synth *s, pending *p)
{
    if (s->hn == s->hcap) {
        s->hcap = s->hcap ? s->hcap * 2 : 64;
        s->heap = xrealloc(s->heap, s->hcap * sizeof *s->heap);
    }
    p->order = s->push_seq++;
    size_t i = s->hn++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(p, s->heap[up])) break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = p;
    if (s->hn > s->st.max_active) s->st.max_active = s->hn;
}

static pending *heap_pop(synth *s)
{
    pending *top = s->heap[0], *last = s->heap[--s->hn];
    size_t i = 0, n = s->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(s->heap[c + 1], s->heap[c])) c++;
        if (!before(s->heap[c], last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static void pending_free(pending *p)
{
    if (!p) return;
    free(p->ids);
    free(p);
}

/* ---- set-up ---- */

static char *json_string(const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    char *txt = cJSON_PrintUnformatted(s);
    char *copy = xstrdup(txt);
    cJSON_free(txt);
    cJSON_Delete(s);
    return copy;
}

static int parse_opt_dist(const char *opt, const char *spec, dist_unit unit,
                          const char *field, dist **d, char *err, size_t errlen)
{
    char msg[768];
    int rc = dist_parse(spec, unit, field, d, msg, sizeof msg);
    if (rc) errf(err, errlen, "%s: %s", opt, msg);
    return rc;
}

static void build_header(synth *s)
{
    const synth_opts *o = &s->o;
    cJSON *h = trace_header_new("synth");
    if (s->hashes) trace_add_int(h, "block_size", o->block_size);
    cJSON *p = cJSON_AddObjectToObject(h, "synth");
    trace_add_int(p, "duration_us", o->duration_us);
    cJSON_AddNumberToObject(p, "rate", o->rate);
    cJSON_AddStringToObject(p, "rate_unit", o->sessions ? "sessions/s" : "requests/s");
    cJSON_AddStringToObject(p, "arrival", s->arrival_spec);
    cJSON_AddStringToObject(p, "input", dist_spec(s->input));
    cJSON_AddStringToObject(p, "output", dist_spec(s->output));
    if (s->sessions) {
        cJSON_AddStringToObject(p, "sessions", dist_spec(s->sessions));
        cJSON_AddStringToObject(p, "think", dist_spec(s->think));
    }
    if (o->prefix_tokens) {
        trace_add_int(p, "prefix_tokens", o->prefix_tokens);
        trace_add_int(p, "prefix_groups", o->prefix_groups);
    }
    if (s->hashes) trace_add_int(p, "block_size", o->block_size);
    cJSON_AddStringToObject(p, "api", s->api);
    if (s->model) cJSON_AddStringToObject(p, "model", s->model);
    /* A seed above 2^53 is written as a string: JSON numbers (doubles)
     * would lose its low bits. */
    if (o->seed <= (UINT64_C(1) << 53)) {
        trace_add_int(p, "seed", (int64_t)o->seed);
    } else {
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
        cJSON_AddStringToObject(p, "seed", seed);
    }
    if (o->max_records) trace_add_int(p, "max_records", o->max_records);
    s->header = h;
}

int synth_new(const synth_opts *o, synth **out, char *err, size_t errlen)
{
    *out = NULL;
    if (o->duration_us <= 0 || o->duration_us > TRACE_MAX_T_US) {
        errf(err, errlen, "--duration: expected a duration > 0, got %lld us", (long long)o->duration_us);
        return ERR_USAGE;
    }
    if (o->prefix_tokens < 0 || o->prefix_tokens > SYNTH_MAX_PREFIX) {
        errf(err, errlen, "--prefix: expected 0 <= TOKENS <= %lld", (long long)SYNTH_MAX_PREFIX);
        return ERR_USAGE;
    }
    if (o->prefix_tokens && (o->prefix_groups < 1 || o->prefix_groups > SYNTH_MAX_GROUPS)) {
        errf(err, errlen, "--prefix: expected 1 <= GROUPS <= %lld", (long long)SYNTH_MAX_GROUPS);
        return ERR_USAGE;
    }
    if (o->block_size < 1 || o->block_size > DIST_MAX_COUNT) {
        errf(err, errlen, "--block-size: expected a positive integer, got %lld", (long long)o->block_size);
        return ERR_USAGE;
    }
    if (o->max_records < 0) {
        errf(err, errlen, "--max-records: expected a non-negative integer");
        return ERR_USAGE;
    }
    if (!o->api || !*o->api) {
        errf(err, errlen, "--api: expected an API kind such as chat");
        return ERR_USAGE;
    }
    if (o->think && !o->sessions) {
        errf(err, errlen, "--think: only meaningful with --sessions (time between turns)");
        return ERR_USAGE;
    }
    synth *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->api = xstrdup(o->api);
    s->model = o->model ? xstrdup(o->model) : NULL;
    s->arrival_spec = xstrdup(o->arrival ? o->arrival : "poisson");
    s->o.api = s->api;
    s->o.model = s->model;
    s->o.arrival = s->arrival_spec;
    char msg[768];
    int rc = dist_arrival_parse(s->arrival_spec, o->rate, &s->arr, msg, sizeof msg);
    if (rc) errf(err, errlen, "%s: %s", strstr(msg, "rate") ? "--rate" : "--arrival", msg);
    if (!rc) rc = parse_opt_dist("--input", o->input, DIST_COUNT, "input_tokens", &s->input, err, errlen);
    if (!rc) rc = parse_opt_dist("--output", o->output, DIST_COUNT, "output_tokens", &s->output, err, errlen);
    if (!rc && o->sessions)
        rc = parse_opt_dist("--sessions", o->sessions, DIST_COUNT, NULL, &s->sessions, err, errlen);
    if (!rc && o->sessions)
        rc = parse_opt_dist("--think", o->think ? o->think : SYNTH_DEFAULT_THINK, DIST_DURATION,
                            "think_us", &s->think, err, errlen);
    if (rc) {
        synth_free(s);
        return rc;
    }
    s->o.input = dist_spec(s->input);
    s->o.output = dist_spec(s->output);
    s->o.sessions = s->sessions ? dist_spec(s->sessions) : NULL;
    s->o.think = s->think ? dist_spec(s->think) : NULL;
    s->hashes = o->prefix_tokens > 0 || o->sessions;
    s->prefix_blocks = o->prefix_tokens / o->block_size;
    s->next_hash = o->prefix_tokens ? o->prefix_groups * s->prefix_blocks : 0;
    s->api_json = json_string(s->api);
    s->model_json = s->model ? json_string(s->model) : NULL;
    rng_seed2(&s->arr_rng, o->seed, 0);
    s->next_start = dist_arrival_next_us(&s->arr, &s->arr_rng);
    build_header(s);
    *out = s;
    return 0;
}

void synth_free(synth *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->hn; i++) pending_free(s->heap[i]);
    free(s->heap);
    dist_free(s->input);
    dist_free(s->output);
    dist_free(s->sessions);
    dist_free(s->think);
    free(s->api);
    free(s->model);
    free(s->arrival_spec);
    free(s->api_json);
    free(s->model_json);
    cJSON_Delete(s->header);
    sb_free(&s->line);
    free(s->ids);
    free(s);
}

const cJSON *synth_header(const synth *s) { return s->header; }
void synth_get_stats(const synth *s, synth_stats *st) { *st = s->st; }

/* ---- records ---- */

static void add_int(strbuf *b, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    sb_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void add_field(strbuf *b, const char *name, int64_t v)
{
    sb_adds(b, name);
    add_int(b, v);
}

/* Builds the hash ids of a turn with `in` input tokens into s->ids; returns
 * their count. */
static size_t build_ids(synth *s, const pending *p, int64_t in)
{
    int64_t bs = s->o.block_size;
    size_t n = (size_t)((in + bs - 1) / bs), shared = 0;
    if (n > s->idcap) {
        s->idcap = n > 2 * s->idcap ? n : 2 * s->idcap;
        s->ids = xrealloc(s->ids, s->idcap * sizeof *s->ids);
    }
    if (p->turn == 0) {
        if (p->group >= 0) {
            /* The prefix's full blocks: the group's ids. in >= prefix, so
             * they are full blocks of this input too. */
            shared = (size_t)s->prefix_blocks;
            for (size_t j = 0; j < shared; j++)
                s->ids[j] = p->group * s->prefix_blocks + (int64_t)j;
        }
    } else {
        /* The previous turn's full input blocks are this turn's prefix. */
        shared = (size_t)(p->prev_in / bs);
        if (shared > p->nids) shared = p->nids;
        memcpy(s->ids, p->ids, shared * sizeof *s->ids);
    }
    for (size_t j = shared; j < n; j++) s->ids[j] = s->next_hash++;
    return n;
}

/* Emits p's next turn into s->line. Returns 1, or 0 when the turn cannot be
 * made (its input would pass the format's token limit: the session ends). */
static int emit_turn(synth *s, pending *p)
{
    int64_t fresh = dist_sample(s->input, &p->r);
    int64_t outn = dist_sample(s->output, &p->r);
    int64_t in = p->turn == 0 ? s->o.prefix_tokens + fresh : p->prev_in + p->prev_out + fresh;
    if (in > DIST_MAX_COUNT) return 0;
    size_t nids = s->hashes ? build_ids(s, p, in) : 0;
    int64_t id = s->next_id++;

    strbuf *b = &s->line;
    sb_clear(b);
    add_field(b, "{\"t_us\":", p->t_us);
    add_field(b, ",\"id\":", id);
    if (s->sessions) {
        add_field(b, ",\"session\":", p->session);
        add_field(b, ",\"turn\":", p->turn);
        if (p->parent >= 0) {
            add_field(b, ",\"parent\":", p->parent);
            add_field(b, ",\"think_us\":", p->think_us);
        }
    }
    sb_adds(b, ",\"api\":");
    sb_adds(b, s->api_json);
    if (s->model_json) {
        sb_adds(b, ",\"model\":");
        sb_adds(b, s->model_json);
    }
    add_field(b, ",\"input_tokens\":", in);
    add_field(b, ",\"output_tokens\":", outn);
    if (s->hashes) {
        add_field(b, ",\"block_size\":", s->o.block_size);
        sb_adds(b, ",\"hash_ids\":[");
        for (size_t j = 0; j < nids; j++) {
            if (j) sb_addc(b, ',');
            add_int(b, s->ids[j]);
        }
        sb_addc(b, ']');
    }
    sb_addc(b, '}');

    /* What the next turn needs. */
    if (p->turn + 1 < p->turns) {
        if (nids > p->idcap) {
            p->idcap = nids > 2 * p->idcap ? nids : 2 * p->idcap;
            p->ids = xrealloc(p->ids, p->idcap * sizeof *p->ids);
        }
        if (nids) memcpy(p->ids, s->ids, nids * sizeof *s->ids);
        p->nids = nids;
        p->prev_in = in;
        p->prev_out = outn;
        p->parent = id;
    }
    return 1;
}

/* After p's turn: schedules its next turn, or ends the session. */
static void schedule_next(synth *s, pending *p)
{
    if (p->turn + 1 >= p->turns) {
        pending_free(p);
        return;
    }
    int64_t think = dist_sample(s->think, &p->r);
    int64_t t = p->t_us + think;
    if (t >= s->o.duration_us || t < p->t_us) {
        s->st.sessions_cut++;
        pending_free(p);
        return;
    }
    p->t_us = t;
    p->think_us = think;
    p->turn++;
    heap_push(s, p);
}

static pending *start_session(synth *s)
{
    pending *p = xcalloc(1, sizeof *p);
    p->t_us = s->next_start;
    p->session = s->nsessions++;
    p->turn = 0;
    p->think_us = -1;
    p->parent = -1;
    p->group = -1;
    rng_seed2(&p->r, s->o.seed, (uint64_t)p->session + 1);
    p->turns = 1;
    if (s->sessions) {
        p->turns = dist_sample(s->sessions, &p->r);
        if (p->turns < 1) p->turns = 1;
    }
    if (s->o.prefix_tokens) p->group = rng_range(&p->r, 0, s->o.prefix_groups - 1);
    s->st.sessions++;
    int64_t next = dist_arrival_next_us(&s->arr, &s->arr_rng);
    s->next_start = next < s->o.duration_us ? next : -1;
    return p;
}

int synth_next(synth *s, const char **line, size_t *len, int64_t *t_us)
{
    for (;;) {
        if (s->o.max_records && s->st.records >= (uint64_t)s->o.max_records) return 0;
        pending *p;
        if (s->hn && (s->next_start < 0 || s->heap[0]->t_us <= s->next_start))
            p = heap_pop(s);
        else if (s->next_start >= 0)
            p = start_session(s);
        else
            return 0;
        if (!emit_turn(s, p)) {
            s->st.sessions_cut++;
            pending_free(p);
            continue;
        }
        *t_us = p->t_us;
        schedule_next(s, p);
        s->st.records++;
        *line = s->line.buf;
        *len = s->line.len;
        return 1;
    }
}

int synth_write(synth *s, const char *path, int level, char *err, size_t errlen)
{
    trace_writer *w = trace_writer_open(path, s->header, level, err, errlen);
    if (!w) return ERR_SYSTEM;
    const char *line;
    size_t len;
    int64_t t;
    while (synth_next(s, &line, &len, &t) > 0) {
        int rc = trace_writer_put_raw(w, line, len, t);
        if (rc) {
            errf(err, errlen, "%s", trace_writer_error(w));
            trace_writer_abort(w);
            return rc;
        }
    }
    return trace_writer_close(w, err, errlen);
}
