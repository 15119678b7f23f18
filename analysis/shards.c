/* shards.c — see shards.h. */
#include "analysis/shards.h"
#include "analysis/runlog.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHARDS_MAX 100000

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* "shard-K-of-N" exactly: 1 with *k, *n. */
static int shard_name(const char *name, int *k, int *n)
{
    int used = 0;
    if (sscanf(name, "shard-%d-of-%d%n", k, n, &used) != 2 || name[used] != '\0') return 0;
    return *n >= 1 && *n <= SHARDS_MAX && *k >= 1 && *k <= *n;
}

/* Puts dir in slot k of s (sized for n); ERR_INPUT when n differs from the
 * others' or slot k is taken. */
static int place(shard_set *s, const char *dir, int k, int n, char *err, size_t errlen)
{
    if (!s->dirs) {
        s->n = n;
        s->dirs = xcalloc((size_t)n, sizeof *s->dirs);
    }
    if (n != s->n) {
        errf(err, errlen, "%s is shard %d of %d, but another is of %d: runs of different "
             "replays", dir, k, n, s->n);
        return ERR_INPUT;
    }
    if (s->dirs[k - 1]) {
        errf(err, errlen, "shard %d of %d given twice: %s and %s", k, n, s->dirs[k - 1], dir);
        return ERR_INPUT;
    }
    s->dirs[k - 1] = xstrdup(dir);
    return 0;
}

/* The shard-K-of-N subdirectories of dir: 1 found, 0 none, < 0 error. */
static int scan_dir(const char *dir, shard_set *s, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0, any = 0;
    while (!rc && (e = readdir(d))) {
        int k, n;
        if (!shard_name(e->d_name, &k, &n)) continue;
        strbuf p = {0};
        sb_printf(&p, "%s/%s", dir, e->d_name);
        if (is_dir(p.buf)) {
            rc = place(s, p.buf, k, n, err, errlen);
            any = 1;
        }
        sb_free(&p);
    }
    closedir(d);
    return rc < 0 ? rc : any;
}

/* K/N of a run directory given by name: its run.json's "shard", else its
 * own name. */
static int run_shard(const char *dir, int *k, int *n, char *err, size_t errlen)
{
    cJSON *m = NULL;
    int rc = runlog_load_json(dir, "run.json", &m, err, errlen);
    if (rc < 0) return rc;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(m, "shard");
    int ok = cJSON_IsString(sh) && sscanf(sh->valuestring, "%d/%d", k, n) == 2 && *n >= 1 &&
             *n <= SHARDS_MAX && *k >= 1 && *k <= *n;
    cJSON_Delete(m);
    if (ok) return 0;
    const char *base = strrchr(dir, '/');
    char name[256];
    snprintf(name, sizeof name, "%s", base ? base + 1 : dir);
    size_t len = strlen(name);
    while (len > 0 && name[len - 1] == '/') name[--len] = '\0';
    if (shard_name(name, k, n)) return 0;
    errf(err, errlen, "%s: not a shard of a sharded replay (its run.json has no \"shard\"); "
         "several runs side by side: use compare", dir);
    return ERR_USAGE;
}

/* Why shard k (0-based) cannot be merged, in why (1), or 0 when it can
 * (*manifest: its run.json). */
static int shard_problem(const shard_set *s, int k, cJSON **manifest, char *why, size_t len)
{
    *manifest = NULL;
    if (!s->dirs[k]) {
        snprintf(why, len, "is missing");
        return 1;
    }
    strbuf p = {0};
    sb_printf(&p, "%s/requests.jsonl", s->dirs[k]);
    int has_log = is_file(p.buf);
    sb_free(&p);
    if (!has_log) snprintf(why, len, "has no requests.jsonl (%s)", s->dirs[k]);
    else if (runlog_load_json(s->dirs[k], "run.json", manifest, why, len) < 0) return 1;
    else if (!*manifest) snprintf(why, len, "did not finish (%s has no run.json: still running, or killed)", s->dirs[k]);
    else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*manifest, "interrupted")))
        snprintf(why, len, "did not finish (%s: interrupted)", s->dirs[k]);
    else return 0;
    cJSON_Delete(*manifest);
    *manifest = NULL;
    return 1;
}

static double num(const cJSON *o, const char *key, double dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(j) ? j->valuedouble : dflt;
}

/* Adds the merged manifest's own members from the shards' manifests. */
static void merge_manifest(shard_set *s, cJSON **m, const int *bad_k)
{
    cJSON *out = NULL, *missing = cJSON_CreateArray(), *dirs = cJSON_CreateArray();
    double scheduled = 0, not_sent = 0, rate = 0, spread = -1;
    long long lo = 0, hi = 0;
    int first = 1, interrupted = 0, same_trace = 1;
    const char *digest = NULL;
    for (int k = 0; k < s->n; k++) {
        if (bad_k[k]) cJSON_AddItemToArray(missing, cJSON_CreateNumber(k + 1));
        if (!m[k]) continue;
        cJSON_AddItemToArray(dirs, cJSON_CreateString(s->dirs[k] ? s->dirs[k] : ""));
        if (!out) out = cJSON_Duplicate(m[k], 1);
        scheduled += num(m[k], "scheduled", 0);
        not_sent += num(m[k], "not_sent", 0);
        rate += num(m[k], "trace_rate", 0);
        interrupted |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m[k], "interrupted"));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(m[k], "start_realtime_ns");
        const cJSON *sync = cJSON_GetObjectItemCaseSensitive(m[k], "start_sync");
        double sp = num(sync, "barrier_exit_spread_us", -1);
        if (sp > spread) spread = sp;
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(m[k], "trace_digest");
        if (cJSON_IsString(dg)) {
            if (digest && strcmp(digest, dg->valuestring)) same_trace = 0;
            digest = dg->valuestring;
        }
        if (cJSON_IsNumber(st)) {
            long long t = (long long)st->valuedouble;
            if (first || t < lo) lo = t;
            if (first || t > hi) hi = t;
            first = 0;
        }
    }
    if (!out) out = cJSON_CreateObject();
    const char *drop[] = { "shard", "shard_source", "start_sync", "start_late_us", "scheduled",
                           "not_sent", "trace_rate", "interrupted", "trace_digest" };
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(out, drop[i]);
    cJSON_AddNumberToObject(out, "shards", s->n);
    cJSON_AddItemToObject(out, "shard_dirs", dirs);
    cJSON_AddItemToObject(out, "shards_missing", missing);
    cJSON_AddNumberToObject(out, "scheduled", scheduled);
    cJSON_AddNumberToObject(out, "not_sent", not_sent);
    cJSON_AddNumberToObject(out, "trace_rate", rate);
    cJSON_AddBoolToObject(out, "interrupted", interrupted);
    if (same_trace && digest) cJSON_AddStringToObject(out, "trace_digest", digest);
    if (!first) cJSON_AddNumberToObject(out, "start_skew_us", (double)(hi - lo) / 1e3);
    if (spread >= 0) cJSON_AddNumberToObject(out, "barrier_exit_spread_us", spread);
    s->manifest = out;
}

/* Checks every shard; builds the manifest. */
static int check_all(shard_set *s, int allow_partial, char *err, size_t errlen)
{
    cJSON **m = xcalloc((size_t)s->n, sizeof *m);
    int *bad_k = xcalloc((size_t)s->n, sizeof *bad_k);
    strbuf bad = {0};
    for (int k = 0; k < s->n; k++) {
        char why[600];
        if (!shard_problem(s, k, &m[k], why, sizeof why)) {
            s->found++;
            continue;
        }
        bad_k[k] = 1;
        sb_printf(&bad, "%sshard %d of %d %s", bad.len ? "; " : "", k + 1, s->n, why);
    }
    int rc = 0;
    if (bad.len && !allow_partial) {
        errf(err, errlen, "%s; --allow-partial merges the others", bad.buf);
        rc = ERR_INPUT;
    } else if (s->found == 0) {
        errf(err, errlen, "no shard can be merged: %s", bad.buf);
        rc = ERR_INPUT;
    } else {
        if (bad.len) msg_warn("merging %d of %d shards: %s", s->found, s->n, bad.buf);
        for (int k = 0; k < s->n; k++)
            if (bad_k[k] && s->dirs[k]) {
                free(s->dirs[k]);
                s->dirs[k] = NULL;
            }
        merge_manifest(s, m, bad_k);
    }
    for (int k = 0; k < s->n; k++) cJSON_Delete(m[k]);
    free(m);
    free(bad_k);
    sb_free(&bad);
    return rc;
}

int shard_set_collect(const char *const *paths, int npaths, int allow_partial, shard_set *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (npaths == 1) {
        rc = scan_dir(paths[0], out, err, errlen);
        if (rc <= 0) {
            shard_set_free(out);
            return rc;
        }
        rc = 0;
    } else {
        for (int i = 0; i < npaths && !rc; i++) {
            int k, n;
            if (!is_dir(paths[i])) {
                errf(err, errlen, "%s: not a run directory", paths[i]);
                rc = ERR_INPUT;
            } else if (!(rc = run_shard(paths[i], &k, &n, err, errlen))) {
                rc = place(out, paths[i], k, n, err, errlen);
            }
        }
    }
    if (!rc) rc = check_all(out, allow_partial, err, errlen);
    if (rc < 0) {
        shard_set_free(out);
        return rc;
    }
    return 1;
}

void shard_set_free(shard_set *s)
{
    if (!s) return;
    for (int k = 0; k < s->n && s->dirs; k++) free(s->dirs[k]);
    free(s->dirs);
    cJSON_Delete(s->manifest);
    memset(s, 0, sizeof *s);
}
