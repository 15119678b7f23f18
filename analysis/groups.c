/* groups.c — see groups.h. Groups are found by key through glibc's
 * hsearch_r table, sized once for max_groups + 1 entries (a table that
 * never grows: further groups go to "(other)"). */
#include "analysis/groups.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct group {
    char *key;
    int64_t minute;     /* SUMMARY_GROUP_MINUTE: the number, for ordering */
    int other;          /* the "(other)" pool */
    summary *s;
} group;

struct groups {
    summary_opts o;
    summary_group by;
    size_t max;
    struct hsearch_data tab;
    group *g;
    size_t n;
    group *other;       /* points into g once created */
    size_t other_ix;
    int overflowed;
    char err[400];
};

static const char *const by_names[] = { "none", "model", "api", "session", "minute" };

int groups_parse_by(const char *word, summary_group *out)
{
    for (int i = 1; i < (int)(sizeof by_names / sizeof by_names[0]); i++) {
        if (!strcmp(word, by_names[i])) {
            *out = (summary_group)i;
            return 0;
        }
    }
    return -1;
}

const char *groups_by_name(summary_group by)
{
    return (unsigned)by < sizeof by_names / sizeof by_names[0] ? by_names[by] : "?";
}

groups *groups_new(const summary_opts *opts, summary_group by, size_t max_groups,
                   char *err, size_t errlen)
{
    if (by == SUMMARY_GROUP_NONE || (unsigned)by >= sizeof by_names / sizeof by_names[0]) {
        errf(err, errlen, "groups: expected a grouping (model, api, session or minute)");
        return NULL;
    }
    summary_opts o;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    o.group_by = SUMMARY_GROUP_NONE;
    o.trace_rate = 0;
    summary *probe = summary_new(&o, err, errlen); /* checks the options once */
    if (!probe) return NULL;
    summary_free(probe);
    groups *g = xcalloc(1, sizeof *g);
    g->o = o;
    g->by = by;
    g->max = max_groups ? max_groups : GROUPS_DEFAULT_MAX;
    if (!hcreate_r(g->max * 2 + 2, &g->tab)) {
        errf(err, errlen, "groups: cannot create the group table: %s", strerror(errno));
        free(g);
        return NULL;
    }
    g->g = xcalloc(g->max + 1, sizeof *g->g);
    return g;
}

void groups_free(groups *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->g[i].key);
        summary_free(g->g[i].s);
    }
    hdestroy_r(&g->tab);
    free(g->g);
    free(g);
}

size_t groups_count(const groups *g) { return g->n; }
int groups_overflowed(const groups *g) { return g->overflowed; }
const char *groups_error(const groups *g) { return g->err; }

/* The group key of req into buf; *minute gets the minute for
 * SUMMARY_GROUP_MINUTE. 0, or ERR_INPUT with a message in g->err. */
static int key_of(groups *g, const cJSON *req, char *buf, size_t len, int64_t *minute)
{
    static const char *const field[] = { NULL, "model", "api", "session", NULL };
    *minute = INT64_MAX;
    if (g->by == SUMMARY_GROUP_MINUTE) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "t_send_ns");
        if (!cJSON_IsNumber(t)) t = cJSON_GetObjectItemCaseSensitive(req, "t_sched_ns");
        if (!cJSON_IsNumber(t)) {
            snprintf(buf, len, "%s", GROUPS_NONE);
            return 0;
        }
        double m = floor(t->valuedouble / 60e9);
        if (!isfinite(m) || fabs(m) > 1e15) {
            errf(g->err, sizeof g->err, "field \"t_send_ns\": expected a time in ns");
            return ERR_INPUT;
        }
        *minute = (int64_t)m;
        snprintf(buf, len, "%" PRId64, *minute);
        return 0;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field[g->by]);
    if (!v || cJSON_IsNull(v)) snprintf(buf, len, "%s", GROUPS_NONE);
    else if (cJSON_IsString(v)) snprintf(buf, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e18)
        snprintf(buf, len, "%.0f", v->valuedouble);
    else {
        errf(g->err, sizeof g->err, "field \"%s\": expected a string or null", field[g->by]);
        return ERR_INPUT;
    }
    return 0;
}

/* A new group (g has room: callers keep n <= max). */
static group *add_group(groups *g, const char *key, int64_t minute, int other)
{
    group *x = &g->g[g->n++];
    char e[256];
    x->key = xstrdup(key);
    x->minute = minute;
    x->other = other;
    x->s = summary_new(&g->o, e, sizeof e); /* options were checked in groups_new */
    if (!x->s) abort();
    return x;
}

/* The group for key: found, created, or "(other)" when g is full. */
static group *find(groups *g, const char *key, int64_t minute)
{
    ENTRY q = { (char *)key, NULL }, *hit = NULL;
    if (hsearch_r(q, FIND, &hit, &g->tab) && hit) return &g->g[(size_t)(uintptr_t)hit->data];
    if (g->n - (g->other ? 1 : 0) >= g->max) {
        g->overflowed = 1;
        if (!g->other) {
            g->other_ix = g->n;
            g->other = add_group(g, GROUPS_OTHER, INT64_MAX, 1);
        }
        return &g->g[g->other_ix];
    }
    size_t ix = g->n;
    group *x = add_group(g, key, minute, 0);
    q.key = x->key;
    q.data = (void *)(uintptr_t)ix;
    if (!hsearch_r(q, ENTER, &hit, &g->tab)) abort(); /* sized for max + 1 entries */
    return x;
}

int groups_add(groups *g, const cJSON *req)
{
    char key[512];
    int64_t minute;
    g->err[0] = '\0';
    if (!cJSON_IsObject(req)) {
        errf(g->err, sizeof g->err, "expected a JSON object");
        return ERR_INPUT;
    }
    if (key_of(g, req, key, sizeof key, &minute) < 0) return ERR_INPUT;
    group *x = find(g, key, minute); /* g->g never moves: it is sized max + 1 */
    if (summary_add(x->s, req) < 0) {
        errf(g->err, sizeof g->err, "%s", summary_error(x->s));
        return ERR_INPUT;
    }
    return 0;
}

/* Group order: minutes by number, others by key; "(other)" last. */
static int cmp_group(const void *pa, const void *pb)
{
    const group *a = pa, *b = pb;
    if (a->other != b->other) return a->other - b->other;
    if (a->minute != b->minute) return a->minute < b->minute ? -1 : 1;
    return strcmp(a->key, b->key);
}

cJSON *groups_json(groups *g)
{
    group *sorted = xmalloc((g->n ? g->n : 1) * sizeof *sorted);
    if (g->n) memcpy(sorted, g->g, g->n * sizeof *sorted);   /* g->g is NULL without a group */
    qsort(sorted, g->n, sizeof *sorted, cmp_group);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < g->n; i++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "group", sorted[i].key);
        cJSON *s = summary_json(sorted[i].s);
        /* move the summary's members after "group" */
        while (s->child) {
            cJSON *m = cJSON_DetachItemViaPointer(s, s->child);
            cJSON_AddItemToObject(one, m->string, m); /* copies the key before freeing the old */
        }
        cJSON_Delete(s);
        cJSON_AddItemToArray(arr, one);
    }
    free(sorted);
    return arr;
}
