/* cmd_sweep.c — `sagellm-bench sweep TRACE ... --out DIR`: replays the
 * trace at several speeds (or closed-loop concurrencies), one ordinary run
 * directory per point, and finds the largest speed whose SLO attainment
 * holds. The decisions (verdicts, search, early stop, sweep.json) are in
 * analysis/sweep.c; this file runs the points: one replay_run after the
 * other in this process, an idle wait between them, a monitor that stops a
 * clearly failed point, SIGINT between and during points.
 *
 * Signals: SIGINT and SIGTERM are blocked for the whole sweep; during a
 * point replay_run takes them (stop, grace, exit 5), between points they
 * are polled (sigtimedwait), so sweep.json is always written whole. */
#include "cli/replay_args.h"
#include "analysis/runlog.h"
#include "analysis/sweep.h"
#include "common/jsonw.h"
#include "common/parse.h"
#include "replay/server_probe.h"
#include "traces/trace_io.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define U_SWEEP "sagellm-bench sweep TRACE --client C (--url URL | --engine SPEC) --slo LIST --out DIR " \
                "(--search | --speeds LIST | --concurrency LIST) [options]"

static const char sweep_help[] =
    "Replays TRACE at increasing speed-ups (the same requests, the same relative timing,\n"
    "compressed) and finds the largest speed at which the SLOs still hold: the share of\n"
    "requests that meet every SLO (attainment) is at least --target. Each point is a normal\n"
    "run directory, DIR/speed-X/ (DIR/conc-N/), that report, compare and plot.py read;\n"
    "DIR/sweep.json holds every point and the capacity. docs/sweep.md has the method.\n\n"
    "points:\n"
    "  --search              bracket from --start by --factor, then bisect to --tolerance\n"
    "  --speeds LIST         run these speeds (e.g. 0.5,1,2,4)\n"
    "  --concurrency LIST    closed loop: every request due at once, at most N in flight\n"
    "                        (e.g. 1,8,32,128); the client's lateness is not a verdict here\n"
    "  --target P            attainment a point must reach (default 0.95)\n"
    "  --start X             first speed of --search (default 1)\n"
    "  --factor F            bracketing step of --search (default 2)\n"
    "  --tolerance P         --search stops when (fail - pass) / pass <= P (default 0.1)\n"
    "  --max-points N        at most N points, repeats included (default 12)\n"
    "  --max-time T          stop the sweep after T (the point running is stopped, kept,\n"
    "                        marked incomplete; default none)\n"
    "  --repeat N            run a point N times in all when its attainment is within\n"
    "                        --close of the target (default 1); the spread is reported\n"
    "  --close P             what counts as close (default 0.05)\n"
    "  --no-early-stop       run every point to its end\n"
    "  --late T              a point whose send lag p99 exceeds T is invalid: the client fell\n"
    "                        behind (default: a tenth of the tightest SLO, at least 1ms)\n"
    "  --window T            replay a representative slice of T: the window whose request\n"
    "                        count is closest to the trace's mean rate (or --from/--to)\n"
    "between points:\n"
    "  --cooldown T          wait T after each point (default 0), then until the server's\n"
    "                        /metrics shows no request running or waiting\n"
    "  --idle-timeout T      wait at most T for that (default 60s; 0: do not ask /metrics)\n\n"
    "the replay's options (each point is a replay; --speed is set per point):\n"
    REPLAY_ARGS_HELP
    "exit codes: 0 the sweep ran (capacity found or not, in sweep.json); 2 usage, or the server\n"
    "cannot be reached or refuses the run; 3 bad trace; 4 system error; 5 interrupted\n"
    "(completed points kept, sweep.json complete).\n";

enum {
    S_SEARCH = REPLAY_ARGS_EXTRA, S_SPEEDS, S_CONC, S_TARGET, S_START, S_FACTOR, S_TOL, S_MAXPTS,
    S_MAXTIME, S_REPEAT, S_CLOSE, S_NOEARLY, S_WINDOW, S_COOLDOWN, S_IDLE, S_LATE,
};

static const struct option sweep_lo[] = {
    {"search", no_argument, 0, S_SEARCH}, {"speeds", required_argument, 0, S_SPEEDS},
    {"concurrency", required_argument, 0, S_CONC}, {"target", required_argument, 0, S_TARGET},
    {"start", required_argument, 0, S_START}, {"factor", required_argument, 0, S_FACTOR},
    {"tolerance", required_argument, 0, S_TOL}, {"max-points", required_argument, 0, S_MAXPTS},
    {"max-time", required_argument, 0, S_MAXTIME}, {"repeat", required_argument, 0, S_REPEAT},
    {"close", required_argument, 0, S_CLOSE}, {"no-early-stop", no_argument, 0, S_NOEARLY},
    {"window", required_argument, 0, S_WINDOW}, {"cooldown", required_argument, 0, S_COOLDOWN},
    {"idle-timeout", required_argument, 0, S_IDLE}, {"late", required_argument, 0, S_LATE},
    {0, 0, 0, 0}};

#define SWEEP_MAX_LIST 64

typedef struct sweep_cfg {
    int search;
    double list[SWEEP_MAX_LIST];
    int nlist, closed_loop;
    double target, start, factor, tolerance, close;
    int max_points, repeat, early_stop;
    int64_t max_time_us, window_us, cooldown_us, idle_timeout_us, late_us;
} sweep_cfg;

/* Parses "a,b,c" of positive numbers (integers when integer), at most
 * SWEEP_MAX_LIST. Returns 0, or -1 (the caller says what was expected). */
static int parse_list(const char *s, double *out, int *n, int integer)
{
    *n = 0;
    char *copy = xstrdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        double v = 0;
        int64_t iv = 0;
        if (*n == SWEEP_MAX_LIST || (integer ? parse_i64(t, &iv) < 0 || iv < 1 : parse_double(t, &v) < 0 || v <= 0))
            rc = -1;
        else
            out[(*n)++] = integer ? (double)iv : v;
    }
    free(copy);
    return rc || !*n ? -1 : 0;
}

static int sweep_opt(void *ud, int code, const char *arg, char *err, size_t errlen)
{
    sweep_cfg *c = ud;
    int64_t v;
    switch (code) {
    case S_SEARCH: c->search = 1; return 0;
    case S_SPEEDS:
        if (parse_list(arg, c->list, &c->nlist, 0) == 0) return 0;
        errf(err, errlen, "--speeds needs up to %d positive numbers such as 0.5,1,2,4, got '%s'", SWEEP_MAX_LIST, arg);
        return -1;
    case S_CONC:
        c->closed_loop = 1;
        if (parse_list(arg, c->list, &c->nlist, 1) == 0) return 0;
        errf(err, errlen, "--concurrency needs up to %d positive integers such as 1,8,32, got '%s'", SWEEP_MAX_LIST, arg);
        return -1;
    case S_TARGET:
        if (parse_prob(arg, &c->target) < 0 || c->target <= 0) { errf(err, errlen, "--target needs a share in (0, 1], got '%s'", arg); return -1; }
        return 0;
    case S_START:
        if (parse_double(arg, &c->start) < 0 || c->start <= 0) { errf(err, errlen, "--start needs a positive speed, got '%s'", arg); return -1; }
        return 0;
    case S_FACTOR:
        if (parse_double(arg, &c->factor) < 0 || c->factor <= 1) { errf(err, errlen, "--factor needs a number above 1, got '%s'", arg); return -1; }
        return 0;
    case S_TOL:
        if (parse_double(arg, &c->tolerance) < 0 || c->tolerance <= 0 || c->tolerance > 1) { errf(err, errlen, "--tolerance needs a share in (0, 1], got '%s'", arg); return -1; }
        return 0;
    case S_CLOSE:
        if (parse_prob(arg, &c->close) < 0) { errf(err, errlen, "--close needs a share between 0 and 1, got '%s'", arg); return -1; }
        return 0;
    case S_MAXPTS:
        if (parse_i64(arg, &v) < 0 || v < 1 || v > 1000) { errf(err, errlen, "--max-points needs 1..1000, got '%s'", arg); return -1; }
        c->max_points = (int)v;
        return 0;
    case S_REPEAT:
        if (parse_i64(arg, &v) < 0 || v < 1 || v > 100) { errf(err, errlen, "--repeat needs 1..100, got '%s'", arg); return -1; }
        c->repeat = (int)v;
        return 0;
    case S_NOEARLY: c->early_stop = 0; return 0;
    case S_MAXTIME: case S_WINDOW: case S_COOLDOWN: case S_IDLE: case S_LATE: {
        int64_t us;
        if (parse_duration_us(arg, &us) < 0 || (code == S_WINDOW && us <= 0)) {
            errf(err, errlen, "--%s needs a time such as 90s, got '%s'", code == S_MAXTIME ? "max-time" :
                 code == S_WINDOW ? "window" : code == S_COOLDOWN ? "cooldown" : code == S_LATE ? "late" :
                 "idle-timeout", arg);
            return -1;
        }
        *(code == S_MAXTIME ? &c->max_time_us : code == S_WINDOW ? &c->window_us :
          code == S_COOLDOWN ? &c->cooldown_us : code == S_LATE ? &c->late_us : &c->idle_timeout_us) = us;
        return 0;
    }
    }
    return -1;
}

/* ---- between points ---- */

/* Sleeps up to ms, returning 1 at once when SIGINT or SIGTERM arrives. */
static int sleep_or_signal(const sigset_t *sigs, int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    int s = sigtimedwait(sigs, NULL, &ts);
    return s == SIGINT || s == SIGTERM;
}

/* The cool-down, then (HTTP clients) GET /metrics until nothing runs or
 * waits, at most idle_timeout. Says what it waited for on stderr. Returns
 * 1 when interrupted. */
static int wait_idle(const sweep_cfg *c, const replay_opts *o, const sigset_t *sigs)
{
    int64_t t0 = now_mono_ns();
    if (c->cooldown_us > 0) {
        fprintf(stderr, "sweep: cool-down %.1f s\n", (double)c->cooldown_us / 1e6);
        if (sleep_or_signal(sigs, c->cooldown_us / 1000)) return 1;
    }
    if (o->client->submit || c->idle_timeout_us <= 0) return 0;
    int64_t end = now_mono_ns() + c->idle_timeout_us * 1000;
    double run = 0, wait = 0;
    char err[512];
    for (int i = 0;; i++) {
        int rc = probe_server_load(&o->copt, &run, &wait, err, sizeof err);
        if (rc) {
            fprintf(stderr, "sweep: not waiting for the server to be idle: %s\n", err);
            return 0;
        }
        if (run + wait <= 0) {
            fprintf(stderr, "sweep: server idle (/metrics: nothing running or waiting) after %.1f s\n",
                    (double)(now_mono_ns() - t0) / 1e9);
            return 0;
        }
        if (now_mono_ns() >= end) {
            fprintf(stderr, "sweep: the server still has %.0f running and %.0f waiting after %.0f s; going on\n",
                    run, wait, (double)c->idle_timeout_us / 1e6);
            return 0;
        }
        if (i == 0)
            fprintf(stderr, "sweep: waiting for the server to be idle (%.0f running, %.0f waiting)\n", run, wait);
        if (sleep_or_signal(sigs, 200)) return 1;
    }
}

/* ---- one point ---- */

typedef struct point_monitor {
    sweep_watch *w;
    const summary_opts *slo;
    double target;
    int early_stop;
    int64_t deadline_ns;     /* the sweep's --max-time, 0: none */
    int capped;              /* stopped by the deadline */
} point_monitor;

static int monitor_check(void *ud, const replay_progress *p, char *reason, size_t len)
{
    point_monitor *m = ud;
    if (m->deadline_ns && now_mono_ns() >= m->deadline_ns) {
        m->capped = 1;
        snprintf(reason, len, "the sweep's --max-time was reached");
        return 1;
    }
    if (!m->early_stop) return 0;
    if (!m->w) m->w = sweep_watch_new(p->log_path, m->slo, m->target);
    return sweep_watch_poll(m->w, p->reader_done ? p->scheduled : -1, reason, len);
}

typedef struct sweep_run {
    const sweep_cfg *c;
    replay_opts *o;
    const char *dir;
    summary_opts slo;
    sweep_point *pts;
    size_t n, cap;
    int points_run;
    int64_t t_start, deadline_ns;
    double late_us;
    int interrupted;
    cJSON *meta;
} sweep_run;

static void point_name(const sweep_cfg *c, double x, int rep, char *buf, size_t len)
{
    int k = snprintf(buf, len, c->closed_loop ? "conc-%.0f" : "speed-%.4g", x);
    if (rep > 1) snprintf(buf + k, len - (size_t)k, "-r%d", rep);
}

/* Runs one replay for x into DIR/NAME and reads it into p. Returns
 * EXIT_OK (p filled; failed requests are the point's business, and an
 * interrupted run is kept and marks the sweep interrupted), or the exit
 * code the sweep stops with. */
static int run_once(sweep_run *s, double x, int rep, sweep_point *p)
{
    const sweep_cfg *c = s->c;
    replay_opts o = *s->o;
    char name[64], err[1024];
    point_name(c, x, rep, name, sizeof name);
    strbuf d = {0};
    sb_printf(&d, "%s/%s", s->dir, name);
    if (c->closed_loop) {
        o.max_inflight = (int64_t)x;
        o.speed = 1e9;      /* every request due at the start: the cap alone paces */
    } else {
        o.speed = x;
    }
    o.out_dir = d.buf;
    o.no_table = 1;
    point_monitor m = { NULL, &s->slo, c->target, c->early_stop, s->deadline_ns, 0 };
    o.monitor.check = monitor_check;
    o.monitor.ud = &m;
    fprintf(stderr, "sweep: point %d: %s %.4g%s -> %s\n", s->points_run + 1, c->closed_loop ? "concurrency" : "speed",
            x, rep > 1 ? " (repeat)" : "", d.buf);
    int64_t t0 = now_mono_ns();
    int rc = replay_run(&o);
    s->points_run++;
    sweep_watch_free(m.w);
    memset(p, 0, sizeof *p);
    p->x = x;
    snprintf(p->name, sizeof p->name, "%s", name);
    if (rc == EXIT_OK || rc == EXIT_REQFAIL || rc == EXIT_INTERRUPTED) {
        if (sweep_point_read(p, d.buf, &s->slo, s->late_us, err, sizeof err)) {
            msg_err("%s", err);
            rc = EXIT_INPUT;
        }
    }
    else if (rc != EXIT_INPUT)
        msg_err("point %s: the replay ended with exit %d; the sweep stops", name, rc);
    p->wall_s = (double)(now_mono_ns() - t0) / 1e9;
    if (m.capped) p->interrupted = 1;
    if (rc == EXIT_INTERRUPTED) {
        p->interrupted = 1;
        s->interrupted = 1;
        rc = EXIT_OK;
    }
    if (c->closed_loop) p->offered_rate = p->achieved_rate;   /* closed loop: offered is what was driven */
    sb_free(&d);
    return rc == EXIT_REQFAIL ? EXIT_OK : rc;
}

/* Writes DIR/sweep.json: the points so far, the capacity, what was run,
 * how the sweep ended. Returns 0 or ERR_SYSTEM (printed). */
static int write_sweep(sweep_run *s, int complete, const char *why)
{
    char err[1024];
    cJSON *doc = sweep_result_json(s->pts, s->n, s->c->closed_loop ? "concurrency" : "speed");
    cJSON *meta = cJSON_Duplicate(s->meta, 1);
    cJSON *e;
    while ((e = cJSON_DetachItemViaPointer(meta, meta->child))) cJSON_AddItemToObject(doc, e->string, e);
    cJSON_Delete(meta);
    cJSON_AddNumberToObject(doc, "points_run", s->points_run);
    cJSON_AddNumberToObject(doc, "wall_s", (double)(now_mono_ns() - s->t_start) / 1e9);
    cJSON_AddBoolToObject(doc, "complete", complete);
    cJSON_AddBoolToObject(doc, "interrupted", s->interrupted);
    if (why && *why) cJSON_AddStringToObject(doc, "ended", why);
    int rc = jsonw_write_file(s->dir, "sweep.json", doc, err, sizeof err);
    if (rc) msg_err("%s", err);
    cJSON_Delete(doc);
    return rc;
}

/* Runs point x (with repeats when close), appends it, writes sweep.json.
 * Returns EXIT_OK to go on, or the exit code to stop with. */
static int run_point(sweep_run *s, double x, const sigset_t *sigs)
{
    const sweep_cfg *c = s->c;
    if (s->n == s->cap) s->pts = xrealloc(s->pts, (s->cap = s->cap ? 2 * s->cap : 16) * sizeof *s->pts);
    sweep_point *p = &s->pts[s->n];
    int rc = run_once(s, x, 1, p);
    if (rc) return rc;
    s->n++;
    p->verdict = sweep_point_verdict(p, c->target, c->closed_loop);
    for (int rep = 2; rep <= c->repeat && !s->interrupted && p->verdict != SWEEP_INCOMPLETE &&
         sweep_point_close(p, c->target, c->close) && s->points_run < c->max_points; rep++) {
        write_sweep(s, 0, NULL);
        if (wait_idle(c, s->o, sigs)) { s->interrupted = 1; break; }
        sweep_point more;
        rc = run_once(s, x, rep, &more);
        if (rc) return rc;
        sweep_point_merge(p, &more);
        p->verdict = sweep_point_verdict(p, c->target, c->closed_loop);
    }
    char off[32] = "n/a", ach[32] = "n/a";
    if (!isnan(p->offered_rate)) snprintf(off, sizeof off, "%.2f", p->offered_rate);
    if (!isnan(p->achieved_rate)) snprintf(ach, sizeof ach, "%.2f", p->achieved_rate);
    fprintf(stderr, "sweep: %s %.4g: attainment %.1f%%, offered %s req/s, achieved %s req/s, client %s: %s%s%s\n",
            c->closed_loop ? "concurrency" : "speed", x, 100 * p->attainment, off, ach,
            p->late ? "late" : "on time", sweep_verdict_name(p->verdict),
            p->stop_reason[0] ? "; stopped early: " : "", p->stop_reason);
    return write_sweep(s, 0, NULL) ? EXIT_SYSTEM : EXIT_OK;
}

/* ---- set-up ---- */

/* Sets o's --from/--to to the representative window of c->window_us. */
static int pick_window(const sweep_cfg *c, replay_opts *o, char *err, size_t errlen)
{
    trace_reader *tr = trace_reader_open(o->trace_path, 0, err, errlen);
    if (!tr) return EXIT_INPUT;
    int64_t *t = NULL;
    size_t n = 0, cap = 0;
    trace_rec *rec;
    int r;
    while ((r = trace_reader_next(tr, &rec)) > 0) {
        if (n == cap) t = xrealloc(t, (cap = cap ? 2 * cap : 4096) * sizeof *t);
        t[n++] = rec->t_us;
    }
    if (r < 0) {
        errf(err, errlen, "%s", trace_reader_error(tr));
        trace_reader_close(tr);
        free(t);
        return EXIT_INPUT;
    }
    trace_reader_close(tr);
    o->from_us = sweep_window_pick(t, n, c->window_us);
    o->to_us = o->from_us + c->window_us;
    fprintf(stderr, "sweep: window %.1f s .. %.1f s of the trace (request count closest to its mean rate)\n",
            (double)o->from_us / 1e6, (double)o->to_us / 1e6);
    free(t);
    return EXIT_OK;
}

static cJSON *sweep_meta(const sweep_cfg *c, const replay_opts *o, const summary_opts *slo)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "tool", "sagellm-bench " SAGELLM_VERSION);
    if (o->cmdline) cJSON_AddStringToObject(m, "command", o->cmdline);
    cJSON_AddStringToObject(m, "trace", o->trace_path);
    cJSON_AddStringToObject(m, "client", o->client->name);
    if (o->from_us >= 0) cJSON_AddNumberToObject(m, "from_us", (double)o->from_us);
    if (o->to_us >= 0) cJSON_AddNumberToObject(m, "to_us", (double)o->to_us);
    cJSON *sl = cJSON_AddObjectToObject(m, "slo");
    if (slo->slo_ttft_ms > 0) cJSON_AddNumberToObject(sl, "ttft_ms", slo->slo_ttft_ms);
    if (slo->slo_tpot_ms > 0) cJSON_AddNumberToObject(sl, "tpot_ms", slo->slo_tpot_ms);
    if (slo->slo_e2el_ms > 0) cJSON_AddNumberToObject(sl, "e2el_ms", slo->slo_e2el_ms);
    cJSON_AddNumberToObject(m, "target", c->target);
    cJSON *se = cJSON_AddObjectToObject(m, "method");
    cJSON_AddStringToObject(se, "points", c->search ? "search" : c->closed_loop ? "concurrency list" : "speed list");
    if (c->search) {
        cJSON_AddNumberToObject(se, "start", c->start);
        cJSON_AddNumberToObject(se, "factor", c->factor);
        cJSON_AddNumberToObject(se, "tolerance", c->tolerance);
    }
    cJSON_AddNumberToObject(se, "max_points", c->max_points);
    cJSON_AddNumberToObject(se, "repeat", c->repeat);
    cJSON_AddNumberToObject(se, "close", c->close);
    cJSON_AddBoolToObject(se, "early_stop", c->early_stop);
    return m;
}

static void sweep_defaults(sweep_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->target = 0.95;
    c->start = 1;
    c->factor = 2;
    c->tolerance = 0.1;
    c->close = 0.05;
    c->max_points = 12;
    c->repeat = 1;
    c->early_stop = 1;
    c->idle_timeout_us = 60000000;
}

/* The checks of sweep's options beyond replay's own: 0, or the exit code
 * after the message. Reads --slo into s->slo and --window into a->o. */
static int sweep_check(sweep_cfg *c, replay_args *a, sweep_run *s)
{
    char err[1024];
    if (c->search + (c->nlist > 0) != 1)
        return cli_usage_error("sweep", U_SWEEP, "give one of --search, --speeds LIST, --concurrency LIST");
    if (a->o.speed != 1.0)
        return cli_usage_error("sweep", U_SWEEP, "--speed is set per point: use --speeds, --search or --start");
    if (a->o.dry_run)
        return cli_usage_error("sweep", U_SWEEP, "--dry-run is not available with sweep");
    if (c->window_us > 0 && (a->o.from_us >= 0 || a->o.to_us >= 0))
        return cli_usage_error("sweep", U_SWEEP, "--window and --from/--to: give one or the other");
    if (a->o.slo && runlog_parse_slo(a->o.slo, &s->slo, err, sizeof err))
        return cli_usage_error("sweep", U_SWEEP, "%s", err);
    if (!a->o.slo) msg_warn("no --slo: a point's attainment is the share of requests that succeeded");
    int rc;
    if (c->window_us > 0 && (rc = pick_window(c, &a->o, err, sizeof err))) {
        msg_err("%s", err);
        return rc;
    }
    if (mkdir(a->o.out_dir, 0755) < 0 && errno != EEXIST) {
        msg_err("%s: cannot create directory: %s", a->o.out_dir, strerror(errno));
        return EXIT_SYSTEM;
    }
    return 0;
}

/* Runs the points until the search or the list ends, a limit is reached,
 * a point cannot be run or a signal comes; *why says which. Returns
 * EXIT_OK or the failed point's exit code. */
static int sweep_points(sweep_run *s, const sigset_t *sigs, const char **why)
{
    const sweep_cfg *c = s->c;
    sweep_search se;
    sweep_search_init(&se, c->start, c->factor, c->tolerance);
    *why = "";
    for (int i = 0;; i++) {
        double x;
        if (c->search) {
            x = sweep_search_next(&se, why);
            if (x <= 0) return EXIT_OK;
        } else {
            if (i >= c->nlist) { *why = "every point of the list was run"; return EXIT_OK; }
            x = c->list[i];
        }
        if (s->points_run >= c->max_points) { *why = "--max-points reached"; return EXIT_OK; }
        if (s->deadline_ns && now_mono_ns() >= s->deadline_ns) { *why = "--max-time reached"; return EXIT_OK; }
        if (s->n && wait_idle(c, s->o, sigs)) { s->interrupted = 1; return EXIT_OK; }
        int rc = run_point(s, x, sigs);
        if (rc) { *why = "a point could not be run"; return rc; }
        const sweep_point *p = &s->pts[s->n - 1];
        if (s->interrupted) return EXIT_OK;
        if (p->verdict == SWEEP_INCOMPLETE) { *why = "--max-time reached"; return EXIT_OK; }
        sweep_search_add(&se, x, p->verdict);
        if (p->completed == 0 && p->failed > 0) {
            *why = "every request of the point failed: the server fails, which is not a capacity limit";
            return EXIT_OK;
        }
    }
}

static int run_sweep(int argc, char **argv)
{
    sweep_cfg c;
    sweep_defaults(&c);
    replay_args a;
    int rc;
    sweep_run s;
    memset(&s, 0, sizeof s);
    if (!replay_args_parse(&a, "sweep", U_SWEEP, sweep_help, sweep_lo, sweep_opt, &c, argc, argv, &rc))
        goto out;
    if ((rc = sweep_check(&c, &a, &s)))
        goto out;
    /* Blocked for the whole sweep: replay_run takes them during a point,
     * sleep_or_signal between points. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    s.c = &c;
    s.o = &a.o;
    s.dir = a.o.out_dir;
    s.t_start = now_mono_ns();
    s.deadline_ns = c.max_time_us > 0 ? s.t_start + c.max_time_us * 1000 : 0;
    s.late_us = c.late_us > 0 ? (double)c.late_us : sweep_default_late_us(&s.slo);
    s.meta = sweep_meta(&c, &a.o, &s.slo);
    cJSON_AddNumberToObject(s.meta, "late_us", s.late_us);
    const char *why;
    rc = sweep_points(&s, &sigs, &why);
    if (s.interrupted) why = "interrupted by a signal";
    if (write_sweep(&s, !s.interrupted && rc == EXIT_OK, why) && rc == EXIT_OK) rc = EXIT_SYSTEM;
    int lrc;
    char err[1024];
    cJSON *doc = sweep_load(s.dir, &lrc, err, sizeof err);
    if (doc) {
        sweep_print(doc, stdout);
        printf("points run: %d; wall time %.1f s; %s\n", s.points_run,
               (double)(now_mono_ns() - s.t_start) / 1e9, why);
        cJSON_Delete(doc);
    }
    fflush(stdout);
    if (s.interrupted && rc == EXIT_OK) rc = EXIT_INTERRUPTED;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    cJSON_Delete(s.meta);
    free(s.pts);
    replay_args_free(&a);
    return rc;
}

const cli_cmd cmd_sweep = {
    "sweep", "find the largest speed-up of a trace at which the SLOs hold (capacity)",
    U_SWEEP, sweep_help, run_sweep,
};
