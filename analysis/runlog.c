/* runlog.c — see runlog.h. The log is read line by line (zio), each line
 * parsed once and handed to the summary, the groups and the row table
 * (memory: runlog.h). */
#include "analysis/runlog.h"
#include "analysis/report.h"
#include "analysis/shards.h"
#include "analysis/valset.h"
#include "common/parse.h"
#include "common/jsonw.h"
#include "common/util.h"
#include "common/zio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MSG_KINDS 256
#define MAX_MSG_LEN 200

int runlog_parse_slo(const char *spec, summary_opts *o, char *err, size_t errlen)
{
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        errf(err, errlen, "--slo: too long");
        return ERR_USAGE;
    }
    snprintf(buf, sizeof buf, "%s", spec);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int64_t us;
        if (!eq || parse_duration_us(eq + 1, &us) < 0 || us <= 0) {
            errf(err, errlen, "--slo: expected NAME=TIME such as ttft=200ms, got '%s'", tok);
            return ERR_USAGE;
        }
        *eq = '\0';
        double ms = (double)us / 1000.0;
        if (!strcmp(tok, "ttft")) o->slo_ttft_ms = ms;
        else if (!strcmp(tok, "tpot")) o->slo_tpot_ms = ms;
        else if (!strcmp(tok, "e2el") || !strcmp(tok, "e2e")) o->slo_e2el_ms = ms;
        else {
            errf(err, errlen, "--slo: unknown metric '%s' (ttft, tpot, e2el)", tok);
            return ERR_USAGE;
        }
        n++;
    }
    if (!n) {
        errf(err, errlen, "--slo: expected NAME=TIME[,NAME=TIME...]");
        return ERR_USAGE;
    }
    return 0;
}

int runlog_parse_exclusion(const char *v, runlog_opts *ro)
{
    int64_t n, us;
    if (parse_i64(v, &n) == 0) {
        if (n < 0) return -1;
        ro->exclude_first = n;
        return 0;
    }
    if (parse_duration_us(v, &us) < 0 || us < 0) return -1;
    ro->exclude_before_ns = us * 1000;
    return 0;
}

int runlog_load_json(const char *dir, const char *name, cJSON **out, char *err, size_t errlen)
{
    strbuf p = {0};
    sb_printf(&p, "%s/%s", dir, name);
    /* A file that is not there is no error: *out stays NULL. */
    char *text = file_read_all(p.buf, NULL, err, errlen);
    int rc = text || errno == ENOENT ? 0 : ERR_SYSTEM;
    if (!text && !rc && errlen) err[0] = '\0';
    *out = NULL;
    if (text) {
        const char *end = NULL;
        *out = cJSON_ParseWithOpts(text, &end, 0);
        if (!cJSON_IsObject(*out)) {
            errf(err, errlen, "%s: not a JSON object (error at byte %zu)", p.buf,
                 end ? (size_t)(end - text) + 1 : (size_t)1);
            cJSON_Delete(*out);
            *out = NULL;
            rc = ERR_INPUT;
        }
        free(text);
    }
    sb_free(&p);
    return rc;
}

const char *runlog_manifest_str(const runlog *r, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->manifest, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

int runlog_manifest_num(const runlog *r, const char *key, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->manifest, key);
    if (!cJSON_IsNumber(j)) return 0;
    *out = j->valuedouble;
    return 1;
}

/* The value of "--slo X" or "--slo=X" in a recorded command line, or NULL.
 * Writes into buf. */
static const char *slo_in_command(const char *cmd, char *buf, size_t len)
{
    for (const char *p = cmd; p && (p = strstr(p, "--slo")); p += 5) {
        if (p != cmd && p[-1] != ' ') continue;
        const char *v = p + 5;
        if (*v != ' ' && *v != '=') continue;
        v++;
        size_t n = strcspn(v, " ");
        if (n == 0 || n >= len) return NULL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
    }
    return NULL;
}

/* Counts one failure message (class and text, truncated). */
static void count_msg(runlog *r, const cJSON *req)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(req, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    const char *cls = cJSON_IsString(c) && c->valuestring[0] ? c->valuestring : "unknown";
    char msg[MAX_MSG_LEN + 1];
    snprintf(msg, sizeof msg, "%s", cJSON_IsString(m) ? m->valuestring : "");
    for (size_t i = 0; i < r->nmsgs; i++) {
        if (!strcmp(r->msgs[i].cls, cls) && !strcmp(r->msgs[i].message, msg)) {
            r->msgs[i].n++;
            return;
        }
    }
    if (r->nmsgs >= MAX_MSG_KINDS) {
        r->msgs_dropped++;
        return;
    }
    r->msgs = xrealloc(r->msgs, (r->nmsgs + 1) * sizeof *r->msgs);
    r->msgs[r->nmsgs].cls = xstrdup(cls);
    r->msgs[r->nmsgs].message = xstrdup(msg);
    r->msgs[r->nmsgs].n = 1;
    r->nmsgs++;
}

/* An integer time member, or RUNLOG_NO_TIME (the record was checked by
 * summary_add: present members are exact integers). */
static int64_t tget(const cJSON *req, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsNumber(j) ? (int64_t)j->valuedouble : RUNLOG_NO_TIME;
}

_Static_assert(sizeof(runlog_req) == 48, "runlog_req is 48 bytes (memory in runlog.h)");

/* Counts q against the SLOs, with the rules of summary.c. */
static void count_slo(runlog *r, const runlog_req *q)
{
    const summary_opts *o = &r->so;
    if (!(o->slo_ttft_ms > 0 || o->slo_tpot_ms > 0 || o->slo_e2el_ms > 0)) return;
    if (!q->ok) {
        r->slo_failed++;
        return;
    }
    int miss = report_slo_missed(o, q);
    r->slo_missed[0] += (miss & REPORT_MISSED_TTFT) != 0;
    r->slo_missed[1] += (miss & REPORT_MISSED_TPOT) != 0;
    r->slo_missed[2] += (miss & REPORT_MISSED_E2EL) != 0;
    r->slo_met += !miss;
}

/* Adds q's latencies from the schedule (completed requests with a t_sched),
 * folding the sets into histograms once the summary has. */
static void add_from_sched(runlog *r, const runlog_req *q)
{
    if (summary_is_histogram(r->sum) && !r->from_sched[0].h) {
        valset_fold(&r->from_sched[0]);
        valset_fold(&r->from_sched[1]);
    }
    if (q->t_sched == RUNLOG_NO_TIME || !q->ok) return;
    if (q->t_first != RUNLOG_NO_TIME) valset_add(&r->from_sched[0], (double)(q->t_first - q->t_sched));
    valset_add(&r->from_sched[1], (double)(q->t_end - q->t_sched));
}

void runlog_req_from_json(const cJSON *req, runlog_req *q)
{
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(req, "index");
    q->index = cJSON_IsNumber(ix) && ix->valuedouble >= 0 && ix->valuedouble < 9007199254740992.0
                   ? (int64_t)ix->valuedouble : -1;
    q->t_sched = tget(req, "t_sched_ns");
    q->t_send = tget(req, "t_send_ns");
    q->t_first = tget(req, "t_first_token_ns");
    q->t_end = tget(req, "t_end_ns");
    q->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "ok"));
    q->tpot_ns = -1;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(req, "output_tokens");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(req, "events");
    const cJSON *nch = cJSON_GetObjectItemCaseSensitive(req, "n");
    int64_t t_last = tget(req, "t_last_token_ns");
    if (q->ok && cJSON_IsNumber(out) && q->t_first != RUNLOG_NO_TIME && t_last != RUNLOG_NO_TIME)
        q->tpot_ns = summary_tpot_ns((int64_t)out->valuedouble, cJSON_IsNumber(ev) ? (int64_t)ev->valuedouble : -1,
                                     cJSON_IsNumber(nch) ? (int64_t)nch->valuedouble : -1, q->t_first, t_last);
}

/* Appends the row of a measured record that summary_add accepted. */
static void add_row(runlog *r, size_t *cap, const cJSON *req)
{
    if (r->nreqs == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        r->reqs = xrealloc(r->reqs, *cap * sizeof *r->reqs);
    }
    runlog_req *q = &r->reqs[r->nreqs++];
    runlog_req_from_json(req, q);
    if (!q->ok) count_msg(r, req);
    count_slo(r, q);
    add_from_sched(r, q);
}

/* Marks req as warm-up when the options exclude it. */
static void apply_exclusion(const runlog_opts *o, cJSON *req)
{
    if (o->exclude_first <= 0 && o->exclude_before_ns <= 0) return;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "warmup"))) return;
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(req, "index");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(req, "t_sched_ns");
    int warm = (o->exclude_first > 0 && cJSON_IsNumber(ix) && ix->valuedouble < (double)o->exclude_first) ||
               (o->exclude_before_ns > 0 && cJSON_IsNumber(ts) && ts->valuedouble < (double)o->exclude_before_ns);
    if (!warm) return;
    cJSON_DeleteItemFromObjectCaseSensitive(req, "warmup");
    cJSON_AddTrueToObject(req, "warmup");
}

/* Streams one log through the summary, the groups and the rows. */
static int read_log(runlog *r, const char *path, size_t *rows_cap, const runlog_opts *o,
                    char *err, size_t errlen)
{
    zio_reader *z = zio_reader_open(path, err, errlen);
    if (!z) return ERR_SYSTEM;
    char *line;
    size_t len;
    int rc;
    while ((rc = zio_reader_getline(z, &line, &len)) > 0) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        if (i == len) continue;
        unsigned long long ln = (unsigned long long)zio_reader_lineno(z);
        const char *end = NULL;
        cJSON *j = jsonw_parse_line(line, len, &end);
        if (!j) {
            errf(err, errlen, "%s:%llu: not a valid JSON object (error at byte %zu)", path, ln,
                 end ? (size_t)(end - line) + 1 : (size_t)1);
            rc = ERR_INPUT;
            break;
        }
        if (cJSON_IsObject(j)) apply_exclusion(o, j);
        rc = summary_add(r->sum, j);
        if (rc < 0) errf(err, errlen, "%s:%llu: %s", path, ln, summary_error(r->sum));
        else if (r->grp && (rc = groups_add(r->grp, j)) < 0)
            errf(err, errlen, "%s:%llu: %s", path, ln, groups_error(r->grp));
        else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "warmup")))
            add_row(r, rows_cap, j);
        cJSON_Delete(j);
        if (rc < 0) break;
    }
    if (rc < 0 && !err[0]) errf(err, errlen, "%s", zio_reader_error(z)); /* the reader failed */
    zio_reader_close(z);
    return rc < 0 ? rc : 0;
}

/* Most frequent first, then by class and message. */
static int cmp_msg(const void *pa, const void *pb)
{
    const runlog_msg *a = pa, *b = pb;
    if (a->n != b->n) return a->n > b->n ? -1 : 1;
    int c = strcmp(a->cls, b->cls);
    return c ? c : strcmp(a->message, b->message);
}

/* A sharded replay's runs (analysis/shards.h): their logs, in shard
 * order, and the manifest of the whole. 1 found, 0 not a shard set. */
static int locate_shards(runlog *r, const char *const *paths, int npaths, int allow_partial,
                         char *err, size_t errlen)
{
    shard_set ss;
    int rc = shard_set_collect(paths, npaths, allow_partial, &ss, err, errlen);
    if (rc <= 0) return rc;
    r->logs = xcalloc((size_t)ss.n, sizeof *r->logs);
    for (int k = 0; k < ss.n; k++) {
        if (!ss.dirs[k]) continue;
        strbuf p = {0};
        sb_printf(&p, "%s/requests.jsonl", ss.dirs[k]);
        r->logs[r->nlogs++] = p.buf;
    }
    r->shards = ss.n;
    r->manifest = ss.manifest;
    ss.manifest = NULL;
    shard_set_free(&ss);
    r->dir = xstrdup(paths[0]);
    strbuf d = {0};
    sb_printf(&d, "%s (%zu of %d shards)", npaths == 1 ? paths[0] : "shard runs", r->nlogs, r->shards);
    r->log_path = d.buf;
    return 1;
}

/* Finds the log and the directory of path. */
static int locate(runlog *r, char *err, size_t errlen)
{
    struct stat st;
    if (stat(r->path, &st) < 0) {
        errf(err, errlen, "%s: cannot open: %s", r->path, strerror(errno));
        return ERR_SYSTEM;
    }
    if (S_ISDIR(st.st_mode)) {
        r->dir = xstrdup(r->path);
        strbuf p = {0};
        sb_printf(&p, "%s/requests.jsonl", r->path);
        r->log_path = p.buf;
        r->logs = xcalloc(1, sizeof *r->logs);
        r->logs[r->nlogs++] = xstrdup(p.buf);
        return 0;
    }
    r->log_path = xstrdup(r->path);
    r->logs = xcalloc(1, sizeof *r->logs);
    r->logs[r->nlogs++] = xstrdup(r->path);
    const char *slash = strrchr(r->path, '/');
    r->dir = slash ? xstrndup(r->path, (size_t)(slash - r->path) + (slash == r->path)) : xstrdup(".");
    return 0;
}

runlog *runlog_open(const char *path, const runlog_opts *o, int *rc, char *err, size_t errlen)
{
    return runlog_open_many(&path, 1, o, rc, err, errlen);
}

runlog *runlog_open_many(const char *const *paths, int npaths, const runlog_opts *o, int *rc,
                         char *err, size_t errlen)
{
    runlog_opts dflt;
    if (!o) {
        memset(&dflt, 0, sizeof dflt);
        o = &dflt;
    }
    err[0] = '\0';
    runlog *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(paths[0]);
    r->from_sched = xcalloc(2, sizeof *r->from_sched);
    r->so = o->sum;
    r->so.group_by = SUMMARY_GROUP_NONE;
    r->slo_source = "none";
    if ((*rc = locate_shards(r, paths, npaths, o->allow_partial, err, errlen)) < 0) goto fail;
    if (*rc == 0 && npaths > 1) {
        errf(err, errlen, "several runs are merged only when they are shards of one replay");
        *rc = ERR_USAGE;
        goto fail;
    }
    if (*rc == 0) {
        if ((*rc = locate(r, err, errlen)) < 0) goto fail;
        if ((*rc = runlog_load_json(r->dir, "run.json", &r->manifest, err, errlen)) < 0) goto fail;
        if ((*rc = runlog_load_json(r->dir, "summary.json", &r->saved_summary, err, errlen)) < 0) goto fail;
    }

    int have_slo = o->sum.slo_ttft_ms > 0 || o->sum.slo_tpot_ms > 0 || o->sum.slo_e2el_ms > 0;
    if (have_slo || o->slo_given) {
        r->slo_source = have_slo ? "command line" : "none";
    } else {
        char buf[256];
        const char *spec = slo_in_command(runlog_manifest_str(r, "command"), buf, sizeof buf);
        if (spec && runlog_parse_slo(spec, &r->so, err, errlen) == 0) r->slo_source = "run.json";
        err[0] = '\0';
    }
    double rate;
    if (r->so.trace_rate <= 0 && runlog_manifest_num(r, "trace_rate", &rate) && isfinite(rate) && rate > 0)
        r->so.trace_rate = rate;
    r->sum = summary_new(&r->so, err, errlen);
    if (!r->sum) {
        *rc = ERR_USAGE;
        goto fail;
    }
    r->by = o->by;
    if (o->by != SUMMARY_GROUP_NONE) {
        r->grp = groups_new(&r->so, o->by, o->max_groups, err, errlen);
        if (!r->grp) {
            *rc = ERR_USAGE;
            goto fail;
        }
    }
    size_t rows_cap = 0;
    for (size_t i = 0; i < r->nlogs; i++)
        if ((*rc = read_log(r, r->logs[i], &rows_cap, o, err, errlen)) < 0) goto fail;
    if (r->nmsgs > 1) qsort(r->msgs, r->nmsgs, sizeof *r->msgs, cmp_msg);
    *rc = 0;
    return r;
fail:
    runlog_free(r);
    return NULL;
}

cJSON *runlog_summary_json(runlog *r)
{
    cJSON *j = summary_json(r->sum);
    double not_sent;
    if (runlog_manifest_num(r, "not_sent", &not_sent)) cJSON_AddNumberToObject(j, "not_sent", not_sent);
    return j;
}

void runlog_free(runlog *r)
{
    if (!r) return;
    free(r->path);
    free(r->log_path);
    for (size_t i = 0; i < r->nlogs; i++) free(r->logs[i]);
    free(r->logs);
    free(r->dir);
    cJSON_Delete(r->manifest);
    cJSON_Delete(r->saved_summary);
    summary_free(r->sum);
    groups_free(r->grp);
    free(r->reqs);
    if (r->from_sched) {
        valset_free(&r->from_sched[0]);
        valset_free(&r->from_sched[1]);
        free(r->from_sched);
    }
    for (size_t i = 0; i < r->nmsgs; i++) {
        free(r->msgs[i].cls);
        free(r->msgs[i].message);
    }
    free(r->msgs);
    free(r);
}
