/* sessionize.c — see sessionize.h. Conversations live in a fixed array of
 * entries, kept on a list from least to most recently used and found by
 * an open-addressing table (linear probing, backward-shift deletion) keyed
 * by a 64-bit hash: the hash of a request's whole message list, or of its
 * grouping key (tagged so the two never meet). */
#include "traces/sessionize.h"
#include "common/jsonw.h"
#include "common/rng.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_MSGS 0x6d7367735f5f5f31ULL
#define TAG_KEY 0x6b65795f5f5f5f32ULL

typedef struct entry {
    uint64_t key;
    char *id, *session;               /* the latest request; its session */
    int64_t turn;
    int64_t end_us;                   /* its end (-1: unknown) */
    uint32_t prev, next;              /* LRU list (UINT32_MAX: none) */
} entry;

struct sessionizer {
    entry *e;
    size_t cap, n;                    /* entries, used */
    uint32_t *tab;                    /* entry index + 1, 0 empty */
    size_t tmask;
    uint32_t head, tail;              /* least / most recently used */
    sess_stats st;
};

#define NONE UINT32_MAX

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t sess_canon_hash(const cJSON *v)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    if (cJSON_IsString(v)) return mix64(hash_bytes(h ^ 5, v->valuestring, strlen(v->valuestring)));
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble == 0 ? 0.0 : v->valuedouble;   /* -0 is 0 */
        return mix64(hash_bytes(h ^ 4, &d, sizeof d));
    }
    if (cJSON_IsArray(v)) {
        h ^= 6;
        const cJSON *c;
        cJSON_ArrayForEach(c, v) h = mix64(h ^ sess_canon_hash(c)) + 1;
        return h;
    }
    if (cJSON_IsObject(v)) {
        uint64_t sum = 7;                                   /* members in any order */
        const cJSON *c;
        cJSON_ArrayForEach(c, v) {
            uint64_t k = hash_bytes(0xcbf29ce484222325ULL, c->string, strlen(c->string));
            sum += mix64(mix64(k) ^ sess_canon_hash(c));
        }
        return mix64(sum);
    }
    return mix64(h ^ (cJSON_IsTrue(v) ? 3 : cJSON_IsFalse(v) ? 2 : 1));
}

static int is_assistant(const cJSON *m)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) && !strcmp(r->valuestring, "assistant");
}

void sess_facts_fill(sess_facts *f, const cJSON *body, const char *key_value, size_t key_len,
                     const char *field)
{
    memset(f, 0, sizeof *f);
    f->e2e_us = -1;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (cJSON_IsArray(msgs)) {
        uint64_t h = TAG_MSGS;
        int64_t n = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            if (is_assistant(m)) {
                f->has_prefix = 1;
                f->prefix = mix64(h ^ (uint64_t)n);
            }
            h = mix64(h ^ sess_canon_hash(m)) + 1;
            n++;
        }
        f->has_msgs = 1;
        f->full = mix64(h ^ (uint64_t)n);
    }
    char num[64];
    if (!key_value && field) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, field);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            key_value = v->valuestring;
            key_len = strlen(key_value);
        } else if (cJSON_IsNumber(v)) {
            strbuf b = {0};
            jsonw_append(&b, v);
            snprintf(num, sizeof num, "%s", b.buf);
            sb_free(&b);
            key_value = num;
            key_len = strlen(num);
        }
    }
    if (key_value && key_len) {
        f->has_key = 1;
        f->key = mix64(hash_bytes(TAG_KEY, key_value, key_len));
    }
}

sessionizer *sessionizer_new(size_t max_open)
{
    if (!max_open) max_open = 100000;
    if (max_open > (1u << 30)) max_open = 1u << 30;
    sessionizer *s = xcalloc(1, sizeof *s);
    s->cap = max_open;
    s->e = xcalloc(max_open, sizeof *s->e);
    size_t t = 16;
    while (t < 2 * max_open) t <<= 1;
    s->tab = xcalloc(t, sizeof *s->tab);
    s->tmask = t - 1;
    s->head = s->tail = NONE;
    return s;
}

void sessionizer_free(sessionizer *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].id);
        free(s->e[i].session);
    }
    free(s->e);
    free(s->tab);
    free(s);
}

void sessionizer_stats(const sessionizer *s, sess_stats *st)
{
    *st = s->st;
    st->open = s->n;
}

/* ---- the table ---- */

static size_t find_slot(const sessionizer *s, uint64_t key)
{
    size_t i = (size_t)mix64(key) & s->tmask;
    while (s->tab[i] && s->e[s->tab[i] - 1].key != key) i = (i + 1) & s->tmask;
    return i;
}

static entry *lookup(const sessionizer *s, uint64_t key)
{
    size_t i = find_slot(s, key);
    return s->tab[i] ? &s->e[s->tab[i] - 1] : NULL;
}

static void tab_remove(sessionizer *s, uint64_t key)
{
    size_t i = find_slot(s, key);
    if (!s->tab[i]) return;
    s->tab[i] = 0;
    for (size_t j = (i + 1) & s->tmask; s->tab[j]; j = (j + 1) & s->tmask) {
        size_t home = (size_t)mix64(s->e[s->tab[j] - 1].key) & s->tmask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        if (((j - home) & s->tmask) >= ((j - i) & s->tmask)) {
            s->tab[i] = s->tab[j];
            s->tab[j] = 0;
            i = j;
        }
    }
}

/* ---- the LRU list ---- */

static void list_unlink(sessionizer *s, uint32_t k)
{
    entry *e = &s->e[k];
    if (e->prev != NONE) s->e[e->prev].next = e->next; else s->head = e->next;
    if (e->next != NONE) s->e[e->next].prev = e->prev; else s->tail = e->prev;
}

static void list_push(sessionizer *s, uint32_t k)
{
    entry *e = &s->e[k];
    e->prev = s->tail;
    e->next = NONE;
    if (s->tail != NONE) s->e[s->tail].next = k; else s->head = k;
    s->tail = k;
}

/* Remembers (key -> id, session, turn, end) as the most recent entry,
 * replacing what key held and forgetting the oldest entry when full. */
static void remember(sessionizer *s, uint64_t key, const char *id, const char *session,
                     int64_t turn, int64_t end_us)
{
    entry *e = lookup(s, key);
    uint32_t k;
    if (e) {
        k = (uint32_t)(e - s->e);
        list_unlink(s, k);
    } else if (s->n < s->cap) {
        k = (uint32_t)s->n++;
    } else {
        k = s->head;
        list_unlink(s, k);
        tab_remove(s, s->e[k].key);
        s->st.evicted++;
    }
    e = &s->e[k];
    if (!e->id || strcmp(e->id, id)) {
        free(e->id);
        e->id = xstrdup(id);
    }
    if (!e->session || strcmp(e->session, session)) {
        char *copy = xstrdup(session);       /* session may point into e */
        free(e->session);
        e->session = copy;
    }
    e->turn = turn;
    e->end_us = end_us;
    if (e->key != key || !s->tab[find_slot(s, key)]) {
        e->key = key;
        s->tab[find_slot(s, key)] = k + 1;
    }
    list_push(s, k);
    if (s->n > s->st.peak_open) s->st.peak_open = s->n;
}

int sessionizer_step(sessionizer *s, const sess_facts *f, const char *id, int64_t t_us,
                     sess_assign *a)
{
    if (!f->has_key && !f->has_msgs) return 0;
    if (strlen(id) >= SESS_ID_MAX) {
        s->st.long_ids++;
        return 0;
    }
    s->st.requests++;
    memset(a, 0, sizeof *a);
    a->think_us = -1;
    const entry *p = NULL;
    uint64_t key = 0;
    if (f->has_key) {
        key = f->key ^ TAG_KEY;
        p = lookup(s, key);
        if (p) s->st.by_key++;
    } else if (f->has_prefix) {
        p = lookup(s, f->prefix ^ TAG_MSGS);
        if (p) s->st.by_prefix++;
    }
    if (p) {
        snprintf(a->session, sizeof a->session, "%s", p->session);
        snprintf(a->parent, sizeof a->parent, "%s", p->id);
        a->turn = p->turn + 1;
        if (p->end_us >= 0 && t_us >= p->end_us) a->think_us = t_us - p->end_us;
    } else {
        snprintf(a->session, sizeof a->session, "%s", id);
        s->st.first_turns++;
    }
    int64_t end = f->e2e_us >= 0 ? t_us + f->e2e_us : -1;
    remember(s, f->has_key ? key : f->full ^ TAG_MSGS, id, a->session, a->turn, end);
    return 1;
}

void sess_assign_append(const sess_assign *a, strbuf *out)
{
    sb_adds(out, ",\"session\":");
    sb_json_str(out, a->session, strlen(a->session));
    sb_printf(out, ",\"turn\":%" PRId64, a->turn);
    if (a->parent[0]) {
        sb_adds(out, ",\"parent\":");
        sb_json_str(out, a->parent, strlen(a->parent));
    }
    if (a->think_us >= 0) sb_printf(out, ",\"think_us\":%" PRId64, a->think_us);
}

int sessionizer_apply(sessionizer *s, trace_rec *r, const char *header, const char *field)
{
    const char *kv = NULL;
    if (header) {
        const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItemCaseSensitive(r->json, "headers"), header);
        if (cJSON_IsString(h) && h->valuestring[0]) kv = h->valuestring;
    }
    sess_facts f;
    sess_facts_fill(&f, r->body, kv, kv ? strlen(kv) : 0, field);
    const cJSON *e2e = cJSON_GetObjectItemCaseSensitive(r->orig, "e2e_us");
    if (cJSON_IsNumber(e2e) && e2e->valuedouble >= 0 && e2e->valuedouble < (double)TRACE_MAX_T_US)
        f.e2e_us = (int64_t)e2e->valuedouble;
    sess_assign a;
    if (!sessionizer_step(s, &f, r->id, r->t_us, &a)) return 0;
    static const char *const fields[] = { "session", "turn", "parent", "think_us", NULL };
    for (int i = 0; fields[i]; i++) cJSON_DeleteItemFromObjectCaseSensitive(r->json, fields[i]);
    r->session = r->parent = NULL;
    cJSON_AddStringToObject(r->json, "session", a.session);
    trace_add_int(r->json, "turn", a.turn);
    if (a.parent[0]) cJSON_AddStringToObject(r->json, "parent", a.parent);
    if (a.think_us >= 0) trace_add_int(r->json, "think_us", a.think_us);
    return 1;
}
