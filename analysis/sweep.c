/* sweep.c — verdicts, the capacity search, the early-stop rule and
 * sweep.json (sweep.h). Reads run directories through runlog and report,
 * so a point's attainment is the goodput section of `report` and its
 * client verdict the report's send-lag verdict. */
#include "analysis/sweep.h"
#include "analysis/report.h"
#include "analysis/runlog.h"
#include "common/jsonw.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *const lat_keys[SWEEP_NLAT] = {
    "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p99_tpot_ms",
    "median_itl_ms", "p99_itl_ms", "median_e2el_ms", "p99_e2el_ms",
};

double sweep_default_late_us(const summary_opts *slo)
{
    double m = INFINITY;
    if (slo->slo_ttft_ms > 0 && slo->slo_ttft_ms < m) m = slo->slo_ttft_ms;
    if (slo->slo_tpot_ms > 0 && slo->slo_tpot_ms < m) m = slo->slo_tpot_ms;
    if (slo->slo_e2el_ms > 0 && slo->slo_e2el_ms < m) m = slo->slo_e2el_ms;
    double us = isinf(m) ? REPORT_LATE_US : m * 1000 / 10;
    return us > REPORT_LATE_US ? us : REPORT_LATE_US;
}

int sweep_point_read(sweep_point *p, const char *dir, const summary_opts *slo, double late_us,
                     char *err, size_t errlen)
{
    runlog_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.sum = *slo;
    ro.slo_given = 1;
    int rc = 0;
    runlog *r = runlog_open(dir, &ro, &rc, err, errlen);
    if (!r) return rc ? rc : ERR_INPUT;
    report_opts rop = { 0, late_us };
    cJSON *rep = report_json(r, &rop);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "goodput");
    double not_sent = num(rep, "not_sent");
    if (isnan(not_sent)) not_sent = 0;
    double measured = (double)r->nreqs, met = cJSON_IsObject(g) ? num(g, "met") : NAN;
    if (isnan(met)) {   /* no SLO: a request that succeeded meets "every SLO" */
        met = 0;
        for (size_t i = 0; i < r->nreqs; i++) met += r->reqs[i].ok;
    }
    p->runs = 1;
    p->offered = measured + not_sent;
    p->attainment = p->offered > 0 ? met / p->offered : 0;
    p->att_min = p->att_max = p->attainment;
    p->offered_rate = num(rep, "trace_rate");
    p->achieved_rate = num(rep, "achieved_rate");
    p->throughput = num(rep, "request_throughput");
    double dur = num(rep, "duration");
    p->goodput = dur > 0 ? met / dur : NAN;
    for (int i = 0; i < SWEEP_NLAT; i++) p->lat[i] = num(rep, lat_keys[i]);
    p->failed = num(rep, "failed");
    p->completed = num(rep, "completed");
    const cJSON *lag = cJSON_GetObjectItemCaseSensitive(rep, "send_lag");
    p->late = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lag, "late"));
    p->interrupted = r->manifest && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->manifest, "interrupted"));
    const char *why = runlog_manifest_str(r, "stopped_early");
    snprintf(p->stop_reason, sizeof p->stop_reason, "%s", why ? why : "");
    cJSON_Delete(rep);
    runlog_free(r);
    return 0;
}

/* The mean of a and b weighted by their runs, NAN-aware. */
static double wmean(double a, int na, double b, int nb)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    return (a * na + b * nb) / (na + nb);
}

void sweep_point_merge(sweep_point *p, const sweep_point *m)
{
    int na = p->runs, nb = m->runs;
    p->attainment = wmean(p->attainment, na, m->attainment, nb);
    if (m->att_min < p->att_min) p->att_min = m->att_min;
    if (m->att_max > p->att_max) p->att_max = m->att_max;
    p->offered = wmean(p->offered, na, m->offered, nb);
    p->offered_rate = wmean(p->offered_rate, na, m->offered_rate, nb);
    p->achieved_rate = wmean(p->achieved_rate, na, m->achieved_rate, nb);
    p->throughput = wmean(p->throughput, na, m->throughput, nb);
    p->goodput = wmean(p->goodput, na, m->goodput, nb);
    for (int i = 0; i < SWEEP_NLAT; i++) p->lat[i] = wmean(p->lat[i], na, m->lat[i], nb);
    p->failed = wmean(p->failed, na, m->failed, nb);
    p->completed = wmean(p->completed, na, m->completed, nb);
    p->late |= m->late;
    p->interrupted |= m->interrupted;
    if (!p->stop_reason[0]) snprintf(p->stop_reason, sizeof p->stop_reason, "%s", m->stop_reason);
    p->wall_s += m->wall_s;
    p->runs = na + nb;
}

sweep_verdict sweep_point_verdict(const sweep_point *p, double target, int closed_loop)
{
    if (p->interrupted) return SWEEP_INCOMPLETE;
    if (p->late && !closed_loop) return SWEEP_INVALID;
    return p->attainment >= target ? SWEEP_PASS : SWEEP_FAIL;
}

const char *sweep_verdict_name(sweep_verdict v)
{
    switch (v) {
    case SWEEP_PASS: return "pass";
    case SWEEP_FAIL: return "fail";
    case SWEEP_INVALID: return "invalid";
    default: return "incomplete";
    }
}

int sweep_point_close(const sweep_point *p, double target, double margin)
{
    return !p->stop_reason[0] && fabs(p->attainment - target) <= margin;
}

/* ---- the search ---- */

void sweep_search_init(sweep_search *s, double start, double factor, double tolerance)
{
    memset(s, 0, sizeof *s);
    s->start = start;
    s->factor = factor > 1 ? factor : 2;
    s->tolerance = tolerance > 0 ? tolerance : 0.1;
    s->min_x = start / 1024;
    s->max_x = start * 1024;
}

void sweep_search_add(sweep_search *s, double x, sweep_verdict v)
{
    if (v == SWEEP_PASS && (!s->have_lo || x > s->lo) && (!s->have_hi || x < s->hi)) {
        s->lo = x;
        s->have_lo = 1;
    } else if ((v == SWEEP_FAIL || v == SWEEP_INVALID) && (!s->have_hi || x <= s->hi)) {
        if (s->have_lo && x <= s->lo) s->have_lo = 0;   /* a fail below a pass: the lower one wins */
        s->hi = x;
        s->have_hi = 1;
        s->hi_invalid = v == SWEEP_INVALID;
    }
}

double sweep_search_next(const sweep_search *s, const char **why)
{
    static const char *const none = "";
    *why = none;
    if (!s->have_lo && !s->have_hi) return s->start;
    if (!s->have_hi) {
        double x = s->lo * s->factor;
        if (x > s->max_x) { *why = "every speed passed up to the search's upper bound"; return 0; }
        return x;
    }
    if (!s->have_lo) {
        double x = s->hi / s->factor;
        if (x < s->min_x) { *why = "no speed passed down to the search's lower bound"; return 0; }
        return x;
    }
    if ((s->hi - s->lo) / s->lo <= s->tolerance) {
        *why = "the bracket is within the tolerance";
        return 0;
    }
    return sqrt(s->lo * s->hi);
}

/* ---- early stop ---- */

struct sweep_watch {
    char *path;
    summary_opts slo;
    double target;
    long offset;
    long finished, missed, failed;
};

sweep_watch *sweep_watch_new(const char *log_path, const summary_opts *slo, double target)
{
    sweep_watch *w = xcalloc(1, sizeof *w);
    w->path = xstrdup(log_path);
    w->slo = *slo;
    w->target = target;
    return w;
}

/* Counts one finished request (warm-up ones are not measured). */
static void watch_line(sweep_watch *w, const char *line, size_t n)
{
    cJSON *req = jsonw_parse_line(line, n, NULL);
    if (!cJSON_IsObject(req) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "warmup"))) {
        cJSON_Delete(req);
        return;
    }
    runlog_req q;
    runlog_req_from_json(req, &q);
    cJSON_Delete(req);
    int miss = report_slo_missed(&w->slo, &q);
    w->finished++;
    w->missed += miss != 0;
    w->failed += (miss & REPORT_MISSED_FAILED) != 0;
}

int sweep_watch_poll(sweep_watch *w, long offered, char *reason, size_t len)
{
    FILE *f = fopen(w->path, "rb");
    if (f && fseek(f, w->offset, SEEK_SET) == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        /* Only whole lines: a line still being written is read next time. */
        while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
            w->offset += (long)n;
            watch_line(w, line, (size_t)n - 1);
        }
        free(line);
    }
    if (f) fclose(f);
    /* Misses allowed: floor((1 - target) * offered), with a margin for
     * the rounding of 1 - target (1 - 0.9 is 0.0999...). */
    if (offered > 0 && w->missed > (long)floor((1 - w->target) * (double)offered + 1e-9)) {
        snprintf(reason, len, "%ld of %ld requests already missed an SLO or failed: attainment "
                 "cannot reach %.3g", w->missed, offered, w->target);
        return 1;
    }
    if (w->target > 0.5 && w->finished >= 20 && w->failed * 2 > w->finished) {
        snprintf(reason, len, "%ld of the first %ld finished requests failed", w->failed, w->finished);
        return 1;
    }
    return 0;
}

void sweep_watch_counts(const sweep_watch *w, long *finished, long *missed, long *failed)
{
    *finished = w->finished;
    *missed = w->missed;
    *failed = w->failed;
}

void sweep_watch_free(sweep_watch *w)
{
    if (!w) return;
    free(w->path);
    free(w);
}

/* ---- sweep.json ---- */

void sweep_capacity_of(const sweep_point *pts, size_t n, sweep_capacity *c)
{
    c->found = 0;
    c->lo = c->hi = -1;
    for (size_t i = 0; i < n; i++)
        if ((pts[i].verdict == SWEEP_FAIL || pts[i].verdict == SWEEP_INVALID) &&
            (c->hi < 0 || pts[i].x < pts[c->hi].x))
            c->hi = (int)i;
    for (size_t i = 0; i < n; i++)
        if (pts[i].verdict == SWEEP_PASS && (c->hi < 0 || pts[i].x < pts[c->hi].x) &&
            (c->lo < 0 || pts[i].x > pts[c->lo].x))
            c->lo = (int)i;
    c->found = c->lo >= 0;
    if (c->lo < 0 && c->hi < 0) c->status = "no verdict";
    else if (c->lo < 0) c->status = "no point passed";
    else if (c->hi < 0) c->status = "every point passed: the capacity is higher";
    else if (pts[c->hi].verdict == SWEEP_INVALID) c->status = "bracketed; the point above is invalid (client late)";
    else c->status = "bracketed";
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isnan(v) || isinf(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}

cJSON *sweep_point_json(const sweep_point *p)
{
    cJSON *j = cJSON_CreateObject();
    add_num(j, "x", p->x);
    cJSON_AddStringToObject(j, "dir", p->name);
    cJSON_AddStringToObject(j, "verdict", sweep_verdict_name(p->verdict));
    cJSON_AddNumberToObject(j, "runs", p->runs);
    add_num(j, "attainment", p->attainment);
    add_num(j, "attainment_min", p->att_min);
    add_num(j, "attainment_max", p->att_max);
    add_num(j, "offered", p->offered);
    add_num(j, "offered_rate", p->offered_rate);
    add_num(j, "achieved_rate", p->achieved_rate);
    add_num(j, "request_throughput", p->throughput);
    add_num(j, "goodput", p->goodput);
    for (int i = 0; i < SWEEP_NLAT; i++) add_num(j, lat_keys[i], p->lat[i]);
    add_num(j, "completed", p->completed);
    add_num(j, "failed", p->failed);
    cJSON_AddStringToObject(j, "client", p->late ? "late" : "on time");
    if (p->stop_reason[0]) cJSON_AddStringToObject(j, "stopped_early", p->stop_reason);
    cJSON_AddBoolToObject(j, "interrupted", p->interrupted);
    add_num(j, "wall_s", p->wall_s);
    return j;
}

static int cmp_x(const void *a, const void *b)
{
    double x = ((const sweep_point *)a)->x, y = ((const sweep_point *)b)->x;
    return x < y ? -1 : x > y;
}

cJSON *sweep_result_json(const sweep_point *pts, size_t n, const char *mode)
{
    sweep_point *s = xcalloc(n ? n : 1, sizeof *s);
    if (n) memcpy(s, pts, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_x);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", mode);
    cJSON *arr = cJSON_AddArrayToObject(j, "points");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, sweep_point_json(&s[i]));
    sweep_capacity c;
    sweep_capacity_of(s, n, &c);
    cJSON *cap = cJSON_AddObjectToObject(j, "capacity");
    cJSON_AddStringToObject(cap, "status", c.status);
    if (c.found) {
        add_num(cap, "x", s[c.lo].x);
        add_num(cap, "offered_rate", s[c.lo].offered_rate);
        add_num(cap, "achieved_rate", s[c.lo].achieved_rate);
        add_num(cap, "goodput", s[c.lo].goodput);
        add_num(cap, "attainment", s[c.lo].attainment);
    } else {
        cJSON_AddNullToObject(cap, "x");
        cJSON_AddNullToObject(cap, "offered_rate");
    }
    if (c.lo >= 0) add_num(cap, "below_x", s[c.lo].x); else cJSON_AddNullToObject(cap, "below_x");
    if (c.hi >= 0) {
        add_num(cap, "above_x", s[c.hi].x);
        add_num(cap, "above_offered_rate", s[c.hi].offered_rate);
        cJSON_AddStringToObject(cap, "above_verdict", sweep_verdict_name(s[c.hi].verdict));
    } else {
        cJSON_AddNullToObject(cap, "above_x");
    }
    free(s);
    return j;
}

int sweep_is_sweep(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) return 0;
    if (!S_ISDIR(st.st_mode)) {
        const char *b = strrchr(path, '/');
        return !strcmp(b ? b + 1 : path, "sweep.json");
    }
    strbuf p = {0};
    sb_printf(&p, "%s/sweep.json", path);
    int yes = stat(p.buf, &st) == 0;
    sb_free(&p);
    return yes;
}

cJSON *sweep_load(const char *path, int *rc, char *err, size_t errlen)
{
    struct stat st;
    strbuf dir = {0};
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        const char *b = strrchr(path, '/');
        if (b) sb_add(&dir, path, (size_t)(b - path));
        else sb_adds(&dir, ".");
    } else {
        sb_adds(&dir, path);
    }
    cJSON *doc = NULL;
    *rc = runlog_load_json(dir.buf, "sweep.json", &doc, err, errlen);
    if (!*rc && !doc) {
        errf(err, errlen, "%s/sweep.json: cannot open: %s", dir.buf, strerror(ENOENT));
        *rc = ERR_SYSTEM;
    } else if (!*rc && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "points"))) {
        errf(err, errlen, "%s/sweep.json: field 'points': expected an array", dir.buf);
        cJSON_Delete(doc);
        doc = NULL;
        *rc = ERR_INPUT;
    }
    sb_free(&dir);
    return doc;
}

/* ---- printing ---- */

static const char *fmtv(char *buf, size_t len, double v, int dec)
{
    if (isnan(v)) snprintf(buf, len, "n/a");
    else snprintf(buf, len, "%.*f", dec, v);
    return buf;
}

static const char *mode_label(const cJSON *doc)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "mode");
    return cJSON_IsString(m) && !strcmp(m->valuestring, "concurrency") ? "conc" : "speed";
}

void sweep_print(const cJSON *doc, FILE *out)
{
    const char *ml = mode_label(doc);
    fprintf(out, "%6s %8s %8s %7s %8s %9s %9s %9s %9s %9s %9s %9s %9s %6s %-8s %s\n", ml, "offered",
            "achieved", "attain", "goodput", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50",
            "ITL p99", "E2E p50", "E2E p99", "failed", "client", "verdict");
    const cJSON *p;
    char b[16][32];
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "points")) {
        double amin = num(p, "attainment_min"), amax = num(p, "attainment_max");
        int runs = (int)num(p, "runs");
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(p, "stopped_early");
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(p, "client");
        const cJSON *vd = cJSON_GetObjectItemCaseSensitive(p, "verdict");
        fprintf(out, "%6.4g %8s %8s %6s%% %8s", num(p, "x"), fmtv(b[0], 32, num(p, "offered_rate"), 2),
                fmtv(b[1], 32, num(p, "achieved_rate"), 2), fmtv(b[2], 32, 100 * num(p, "attainment"), 1),
                fmtv(b[3], 32, num(p, "goodput"), 2));
        for (int i = 0; i < SWEEP_NLAT; i++) fprintf(out, " %9s", fmtv(b[4 + i], 32, num(p, lat_keys[i]), 1));
        fprintf(out, " %6s %-8s %s", fmtv(b[12], 32, num(p, "failed"), 0),
                cJSON_IsString(cl) ? cl->valuestring : "?", cJSON_IsString(vd) ? vd->valuestring : "?");
        if (runs > 1) fprintf(out, " (%d runs, attainment %.1f%%..%.1f%%)", runs, 100 * amin, 100 * amax);
        if (cJSON_IsString(se)) fprintf(out, " (stopped early)");
        fputc('\n', out);
    }
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(doc, "capacity");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cap, "status");
    double x = num(cap, "x"), ab = num(cap, "above_x");
    if (!isnan(x))
        fprintf(out, "capacity: %s %.4g (offered %s req/s, goodput %s req/s); above it: %s %s (%s); %s\n",
                ml, x, fmtv(b[0], 32, num(cap, "offered_rate"), 2), fmtv(b[1], 32, num(cap, "goodput"), 2),
                ml, fmtv(b[2], 32, ab, 4), isnan(ab) ? "none run" :
                cJSON_GetObjectItemCaseSensitive(cap, "above_verdict")->valuestring,
                cJSON_IsString(st) ? st->valuestring : "");
    else
        fprintf(out, "capacity: not found (%s)%s%s\n", cJSON_IsString(st) ? st->valuestring : "?",
                isnan(ab) ? "" : "; lowest failing: ", isnan(ab) ? "" : fmtv(b[2], 32, ab, 4));
}

/* ---- comparing two sweeps ---- */

static const cJSON *point_at(const cJSON *doc, double x)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "points"))
        if (fabs(num(p, "x") - x) <= 1e-9 * fabs(x)) return p;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

cJSON *sweep_compare_json(const cJSON *a, const char *name_a, const cJSON *b, const char *name_b)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *sw = cJSON_AddArrayToObject(j, "sweeps");
    const cJSON *docs[2] = { a, b };
    const char *names[2] = { name_a, name_b };
    double cap[2], lo[2], hi[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(docs[i], "capacity");
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", names[i]);
        cJSON_AddItemToObject(s, "capacity", cJSON_Duplicate(c, 1));
        cJSON_AddItemToArray(sw, s);
        cap[i] = num(c, "offered_rate");
        lo[i] = cap[i];
        hi[i] = num(c, "above_offered_rate");
    }
    /* The ratio of capacities as offered rates (speeds of two traces
     * would not compare), with its range from the brackets: A's capacity
     * lies in [lo_A, hi_A), B's in [lo_B, hi_B). */
    cJSON *r = cJSON_AddObjectToObject(j, "ratio");
    add_num(r, "b_over_a", cap[1] / cap[0]);
    add_num(r, "low", lo[1] / hi[0]);
    add_num(r, "high", hi[1] / lo[0]);
    const char *ra = "capacity ratio B/A from the offered rates; low/high from the bracketing points";
    cJSON_AddStringToObject(r, "basis", ra);
    /* Points side by side by x. */
    size_t n = 0, cap_n = 0;
    double *xs = NULL;
    for (int i = 0; i < 2; i++) {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(docs[i], "points")) {
            double x = num(p, "x");
            if (isnan(x) || (i == 1 && point_at(a, x))) continue;
            if (n == cap_n) xs = xrealloc(xs, (cap_n = cap_n ? 2 * cap_n : 16) * sizeof *xs);
            xs[n++] = x;
        }
    }
    if (n > 1) qsort(xs, n, sizeof *xs, cmp_double);   /* xs is NULL when neither sweep has a point */
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (size_t k = 0; k < n; k++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "x", xs[k]);
        for (int i = 0; i < 2; i++) {
            const cJSON *p = point_at(docs[i], xs[k]);
            cJSON_AddItemToObject(row, i ? "b" : "a", p ? cJSON_Duplicate(p, 1) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(rows, row);
    }
    free(xs);
    return j;
}

void sweep_compare_print(const cJSON *doc, FILE *out)
{
    char b[8][32];
    const cJSON *s;
    int i = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "sweeps")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "capacity");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        fprintf(out, "%c: %s: capacity x %s, offered %s req/s (next point up: x %s, %s req/s; %s)\n",
                'A' + i++, cJSON_GetObjectItemCaseSensitive(s, "name")->valuestring,
                fmtv(b[0], 32, num(c, "x"), 4), fmtv(b[1], 32, num(c, "offered_rate"), 2),
                fmtv(b[2], 32, num(c, "above_x"), 4), fmtv(b[3], 32, num(c, "above_offered_rate"), 2),
                cJSON_IsString(st) ? st->valuestring : "?");
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "ratio");
    fprintf(out, "capacity ratio B/A: %s (between %s and %s, from the bracketing points)\n\n",
            fmtv(b[0], 32, num(r, "b_over_a"), 3), fmtv(b[1], 32, num(r, "low"), 3),
            fmtv(b[2], 32, num(r, "high"), 3));
    fprintf(out, "%8s | %8s %7s %9s %9s %-7s | %8s %7s %9s %9s %-7s\n", "x", "A rate", "attain",
            "TTFT p99", "E2E p99", "verdict", "B rate", "attain", "TTFT p99", "E2E p99", "verdict");
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "rows")) {
        fprintf(out, "%8.4g", num(row, "x"));
        for (int k = 0; k < 2; k++) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(row, k ? "b" : "a");
            if (!cJSON_IsObject(p)) {
                fprintf(out, " | %8s %7s %9s %9s %-7s", "-", "-", "-", "-", "-");
                continue;
            }
            fprintf(out, " | %8s %6s%% %9s %9s %-7s", fmtv(b[0], 32, num(p, "offered_rate"), 2),
                    fmtv(b[1], 32, 100 * num(p, "attainment"), 1), fmtv(b[2], 32, num(p, "p99_ttft_ms"), 1),
                    fmtv(b[3], 32, num(p, "p99_e2el_ms"), 1),
                    cJSON_GetObjectItemCaseSensitive(p, "verdict")->valuestring);
        }
        fputc('\n', out);
    }
}

/* ---- the window ---- */

int64_t sweep_window_pick(const int64_t *t_us, size_t n, int64_t len_us)
{
    if (n < 2 || len_us <= 0 || t_us[n - 1] - t_us[0] <= len_us) return t_us && n ? t_us[0] : 0;
    double span = (double)(t_us[n - 1] - t_us[0]);
    double want = (double)(n - 1) / span * (double)len_us;
    int64_t step = len_us / 4 > 0 ? len_us / 4 : 1, best = t_us[0];
    double best_d = INFINITY;
    size_t lo = 0, hi = 0;
    for (int64_t s = t_us[0]; s + len_us <= t_us[n - 1]; s += step) {
        while (lo < n && t_us[lo] < s) lo++;
        if (hi < lo) hi = lo;
        while (hi < n && t_us[hi] < s + len_us) hi++;
        double d = fabs((double)(hi - lo) - want);
        if (d < best_d) best_d = d, best = s;
    }
    return best;
}
