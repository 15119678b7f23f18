/* replay.c — runs a replay: sets up the client, the request log, the
 * reader and the workers, agrees on the start time, shows progress,
 * handles SIGINT/SIGTERM (stop sending, wait --grace, cancel the rest,
 * flush), then writes run.json and summary.json and prints the summary.
 * The main thread does no I/O on the hot path: it waits for signals and
 * prints progress. */
#include "replay/replay_int.h"
#include "common/jsonw.h"
#include "replay/server_probe.h"
#include "analysis/runlog.h"
#include "analysis/summary.h"
#include "analysis/sumtable.h"
#include "traces/trace_io.h"
#include "common/parse.h"
#include "common/util.h"
#include "common/url_mask.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void replay_opts_init(replay_opts *o)
{
    memset(o, 0, sizeof *o);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = n > 0 ? (int)n : 1;
    o->speed = 1.0;
    o->from_us = o->to_us = -1;
    o->first = -1;
    o->duration_us = -1;
    o->shard_k = o->shard_n = 1;
    o->grace_ms = 30000;
    o->connect_timeout_ms = 10000;
    o->stall_timeout_ms = 300000;   /* 5 min without a byte: hung (docs/replay.md) */
    o->wait_ready_ms = 600000;
    /* What one response may hold (docs/replay.md, "Hostile input"). */
    o->max_response_events = REPLAY_MAX_RESPONSE_EVENTS;
    o->max_response_bytes = REPLAY_MAX_RESPONSE_BYTES;
    o->copt.stream = CLIENT_STREAM_AS_SENT;
    o->copt.force_output_len = 1;
}

void run_wake_all(run *r)
{
    for (int i = 0; i < r->nworkers; i++)
        if (r->workers && r->workers[i]) worker_wake(r->workers[i]);
}

/* The trace file's content digest (common/util.h), so `compare` can tell
 * whether two runs replayed the same trace; "unknown" for stdin. */
static void file_digest(const char *path, char *out, size_t len)
{
    if (!strcmp(path, "-")) snprintf(out, len, "unknown");
    else file_fnv_digest(path, out, len);
}

/* The URL as run.json may hold it: credentials and query values masked. */
static void safe_url(const char *url, char *out, size_t len)
{
    char *m = url_mask(url);
    snprintf(out, len, "%s", m);
    free(m);
}

/* ---- progress ---- */

typedef struct progress {
    int tty;
    int64_t last_print;
    int printed;
} progress;

static void progress_show(run *r, progress *p, int final)
{
    if (r->o->quiet) return;
    int64_t now = now_mono_ns();
    int64_t every = p->tty ? 200000000LL : 10000000000LL;
    if (!final && now - p->last_print < every) return;
    if (final && !p->tty) return;
    p->last_print = now;
    long sent = 0, done = 0, failed = 0, inflight = 0;
    long hist[64] = { 0 };
    for (int i = 0; i < r->nworkers; i++) {
        const wstats *s = worker_stats(r->workers[i]);
        sent += atomic_load(&s->sent);
        done += atomic_load(&s->completed);
        failed += atomic_load(&s->failed);
        inflight += atomic_load(&s->inflight);
        for (int b = 0; b < 64; b++) hist[b] += atomic_load(&s->lag_hist[b]);
    }
    double el = (double)(now - r->t0) / 1e9;
    if (el < 0) el = 0;
    long sched = atomic_load(&r->scheduled);
    double rate = el > 0 ? (double)sent / el : 0;
    double trace_rate = r->sched_last_ns > 0 && atomic_load(&r->reader_done) ? r->trace_rate : 0;
    double eta = -1;
    if (atomic_load(&r->reader_done) && r->sched_last_ns > 0)
        eta = (double)r->sched_last_ns / 1e9 - el;
    char line[256];
    int n = snprintf(line, sizeof line, "sent %ld/%ld%s  done %ld  failed %ld  in flight %ld  rate %.1f/s",
                     sent, sched, atomic_load(&r->reader_done) ? "" : "+", done, failed, inflight, rate);
    if (trace_rate > 0) n += snprintf(line + n, sizeof line - (size_t)n, " (trace %.1f/s)", trace_rate);
    long tot = 0, cum = 0;
    for (int b = 0; b < 64; b++) tot += hist[b];
    for (int b = 0; b < 64 && tot; b++) {
        cum += hist[b];
        if (cum * 100 >= tot * 99) {
            n += snprintf(line + n, sizeof line - (size_t)n, "  lag p99 <%lldus", 1LL << b);
            break;
        }
    }
    if (eta > 0) n += snprintf(line + n, sizeof line - (size_t)n, "  ETA %.0fs", eta);
    if (p->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        if (final) fputc('\n', stderr);
        p->printed = 1;
    } else {
        fprintf(stderr, "sagellm-bench: %.0fs: %s\n", el, line);
    }
}

/* ---- run.json ---- */

static cJSON *run_json(const run *r, int64_t real_start, int interrupted, const char *model_note)
{
    const replay_opts *o = r->o;
    cJSON *j = cJSON_CreateObject();
    char buf[512], host[256] = "";
    cJSON_AddStringToObject(j, "tool", "sagellm-bench " SAGELLM_VERSION);
    if (o->cmdline) cJSON_AddStringToObject(j, "command", o->cmdline);
    cJSON_AddStringToObject(j, "client", o->client->name);
    if (o->client->submit) {
        cJSON_AddStringToObject(j, "engine", o->copt.engine ? o->copt.engine : "");
        if (o->copt.engine_config) {
            cJSON *ec = cJSON_Parse(o->copt.engine_config);
            if (ec) cJSON_AddItemToObject(j, "engine_config", ec);
        }
    } else {
        safe_url(o->copt.base_url, buf, sizeof buf);
        cJSON_AddStringToObject(j, "url", buf);
        safe_url(o->copt.api_url, buf, sizeof buf);
        cJSON_AddStringToObject(j, "api_url", buf);
        safe_url(o->copt.root_url, buf, sizeof buf);
        cJSON_AddStringToObject(j, "root_url", buf);
        cJSON_AddStringToObject(j, "protocol", r->protocol && r->protocol[0] ? r->protocol : "unknown");
        http_opts_describe(&o->copt.http, j);
        if (o->copt.http.insecure)
            msg_warn("--insecure: the server's TLS certificate is not verified (noted in run.json)");
    }
    cJSON_AddStringToObject(j, "trace", o->trace_path);
    file_digest(o->trace_path, buf, sizeof buf);
    cJSON_AddStringToObject(j, "trace_digest", buf);
    cJSON_AddNumberToObject(j, "speed", o->speed);
    fmt_iso8601(real_start, buf, sizeof buf);
    cJSON_AddStringToObject(j, "start", buf);
    /* Integers above 2^53: written as raw integer literals, not doubles. */
    snprintf(buf, sizeof buf, "%lld", (long long)real_start);
    cJSON_AddRawToObject(j, "start_realtime_ns", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)r->t0);
    cJSON_AddRawToObject(j, "start_monotonic_ns", buf);
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(j, "host", host);
    cJSON_AddNumberToObject(j, "threads", r->nworkers);
    if (o->copt.model) cJSON_AddStringToObject(j, "model", o->copt.model);
    if (o->copt.default_model) cJSON_AddStringToObject(j, "default_model", o->copt.default_model);
    if (model_note) cJSON_AddStringToObject(j, "model_discovery", model_note);
    if (o->copt.api) cJSON_AddStringToObject(j, "api", o->copt.api);
    cJSON_AddStringToObject(j, "stream", o->copt.stream == CLIENT_STREAM_ON ? "on" :
                            o->copt.stream == CLIENT_STREAM_OFF ? "off" : "as-sent");
    cJSON_AddBoolToObject(j, "force_output_len", o->copt.force_output_len);
    if (o->client->body_edits) cJSON_AddStringToObject(j, "body_edits", o->client->body_edits);
    if (o->copt.replay_headers) {
        cJSON *rh = cJSON_AddObjectToObject(j, "replay_headers");
        if (o->copt.headers_allow) cJSON_AddStringToObject(rh, "allow", o->copt.headers_allow);
        if (o->copt.headers_deny) cJSON_AddStringToObject(rh, "deny", o->copt.headers_deny);
    }
    if (o->copt.lmdeploy_session_id) cJSON_AddBoolToObject(j, "lmdeploy_session_id", 1);
    cJSON_AddStringToObject(j, "sessions", o->sessions_mode == SESSIONS_DEPENDENT ? "dependent" : "timed");
    if (o->from_us >= 0) cJSON_AddNumberToObject(j, "from_us", (double)o->from_us);
    if (o->to_us >= 0) cJSON_AddNumberToObject(j, "to_us", (double)o->to_us);
    if (o->first >= 0) cJSON_AddNumberToObject(j, "first", (double)o->first);
    if (o->duration_us >= 0) cJSON_AddNumberToObject(j, "duration_us", (double)o->duration_us);
    if (o->shard_n > 1) {
        snprintf(buf, sizeof buf, "%d/%d", o->shard_k, o->shard_n);
        cJSON_AddStringToObject(j, "shard", buf);
        if (o->shard_source) cJSON_AddStringToObject(j, "shard_source", o->shard_source);
    }
    if (o->start_at > 0) {
        cJSON_AddNumberToObject(j, "start_at", o->start_at);
        /* How late t0 was taken after the agreed moment (this host's clock). */
        cJSON_AddNumberToObject(j, "start_late_us",
                                ((double)real_start - o->start_at * 1e9) / 1e3);
    }
    if (r->sync_info) {
        cJSON_AddItemReferenceToObject(j, "start_sync", r->sync_info);
    }
    if (o->max_inflight) cJSON_AddNumberToObject(j, "max_inflight", (double)o->max_inflight);
    cJSON_AddNumberToObject(j, "spin_us", (double)o->spin_ns / 1e3);
    cJSON_AddStringToObject(j, "rx_stamp", o->rx_stamp == RX_STAMP_POLL ? "poll" : "kernel");
    cJSON_AddNumberToObject(j, "stall_timeout_ms", (double)o->stall_timeout_ms);
    cJSON_AddNumberToObject(j, "max_response_events", (double)o->max_response_events);
    cJSON_AddNumberToObject(j, "max_response_bytes", (double)o->max_response_bytes);
    if (o->timeout_ms) cJSON_AddNumberToObject(j, "timeout_ms", (double)o->timeout_ms);
    if (o->max_connections) cJSON_AddNumberToObject(j, "max_connections", (double)o->max_connections);
    cJSON_AddNumberToObject(j, "trace_rate", r->trace_rate);
    cJSON_AddNumberToObject(j, "scheduled", (double)atomic_load(&r->scheduled));
    cJSON_AddNumberToObject(j, "not_sent", (double)atomic_load(&r->not_sent));
    if (atomic_load(&r->bad_records))
        cJSON_AddNumberToObject(j, "skipped_invalid_records", (double)atomic_load(&r->bad_records));
    cJSON_AddBoolToObject(j, "interrupted", interrupted);
    if (r->stopped_early[0]) cJSON_AddStringToObject(j, "stopped_early", r->stopped_early);
    return j;
}

/* ---- summary.json numbers ---- */

static double jnum(const cJSON *o, const char *k, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *ok = cJSON_IsNumber(v);
    return *ok ? v->valuedouble : 0;
}

/* ---- the run ---- */

static int setup_queues(run *r)
{
    r->queues = xcalloc((size_t)r->nworkers, sizeof *r->queues);
    for (int i = 0; i < r->nworkers; i++) {
        pthread_mutex_init(&r->queues[i].mu, NULL);
        pthread_cond_init(&r->queues[i].space, NULL);
        r->queues[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (r->queues[i].efd < 0) return ERR_SYSTEM;
    }
    return 0;
}

static void teardown(run *r)
{
    for (int i = 0; i < r->nworkers; i++) {
        if (r->workers) worker_free(r->workers[i]);
        if (!r->queues) continue;
        rq *q = r->queues[i].head;
        while (q) {
            rq *n = q->next;
            rq_free(q);
            q = n;
        }
        if (r->queues[i].efd > 0) close(r->queues[i].efd);
        pthread_mutex_destroy(&r->queues[i].mu);
        pthread_cond_destroy(&r->queues[i].space);
    }
    free(r->workers);
    free(r->queues);
    client_free(r->cl);
    cJSON_Delete(r->sync_info);
}

/* A process that fails before its start tells the others (with a sync), so
 * they do not wait for it; nothing when it already took part in the start. */
static void release_sync(run *r)
{
    if (!r->o->sync || r->sync_called) return;
    r->sync_called = 1;
    char err[256];
    int64_t t0;
    r->o->sync->start(r->o->sync->ud, 0, &t0, NULL, err, sizeof err);
}

static int dry_run(const replay_opts *o)
{
    cJSON *plan = cJSON_CreateObject();
    char err[1024];
    int rc = schedule_plan(o, o->threads, plan, err, sizeof err);
    if (rc) {
        msg_err("%s", err);
        cJSON_Delete(plan);
        return err_to_exit(rc);
    }
    cJSON_AddStringToObject(plan, "client", o->client->name);
    cJSON_AddNumberToObject(plan, "speed", o->speed);
    cJSON_AddNumberToObject(plan, "threads", o->threads);
    int ok;
    printf("dry run: %s with the %s client at %.3gx speed\n", o->trace_path, o->client->name, o->speed);
    printf("  requests        %.0f (%.0f warm-up)\n", jnum(plan, "requests", &ok), jnum(plan, "warmup_requests", &ok));
    printf("  first/last send %.3f s / %.3f s\n", jnum(plan, "first_send_s", &ok), jnum(plan, "last_send_s", &ok));
    printf("  rate            mean %.2f/s, peak %.0f in one second\n", jnum(plan, "mean_rate", &ok),
           jnum(plan, "peak_rate_per_s", &ok));
    printf("  bodies          %.0f from the trace, the rest synthesised\n", jnum(plan, "with_body", &ok));
    printf("  per worker     ");
    const cJSON *pw;
    cJSON_ArrayForEach(pw, cJSON_GetObjectItem(plan, "per_worker")) printf(" %.0f", pw->valuedouble);
    printf("\n");
    if (o->out_dir) {
        if (mkdir_p(o->out_dir, err, sizeof err) || jsonw_write_file(o->out_dir, "plan.json", plan, err, sizeof err)) {
            msg_err("%s", err);
            cJSON_Delete(plan);
            return EXIT_SYSTEM;
        }
    }
    cJSON_Delete(plan);
    return EXIT_OK;
}

/* What is checked before anything is created or sent: the trace opens and
 * has a valid header (a mistyped path leaves no output directory behind),
 * the server is ready (--wait-ready), reachable and accepts us
 * (probe_server). Returns EXIT_OK, or the exit code with err filled. */
static int preflight(replay_opts *oc, probe_report *pr, char *err, size_t errlen)
{
    if (strcmp(oc->trace_path, "-")) {
        trace_reader *tr = trace_reader_open(oc->trace_path, 0, err, errlen);
        if (!tr) return access(oc->trace_path, R_OK) < 0 ? EXIT_SYSTEM : EXIT_INPUT;
        int presplit, bad = schedule_check_split(oc, tr, &presplit, err, errlen);
        trace_reader_close(tr);
        if (bad) return EXIT_USAGE;
    }
    if (oc->client->submit) return EXIT_OK;   /* in-process: no server to probe */
    if (oc->wait_ready && probe_wait_ready(&oc->copt, oc->wait_ready_ms, err, errlen))
        return EXIT_SYSTEM;
    if (probe_server(&oc->copt, pr, err, errlen)) return EXIT_USAGE;
    if (!oc->copt.model && pr->model) oc->copt.default_model = pr->model;
    return EXIT_OK;
}

/* Sets up what the run needs before any thread starts: descriptor limit,
 * queues, the request log, the workers. Returns EXIT_OK, or an exit
 * code with err filled (replay_run's cleanup frees what was made). */
static int run_setup(run *r, char *err, size_t errlen)
{
    const replay_opts *o = r->o;
    fd_limit_raise();
    if (setup_queues(r)) {
        errf(err, errlen, "cannot create eventfd: %s", strerror(errno));
        return EXIT_SYSTEM;
    }
    r->log = reqlog_open(o->out_dir, err, errlen);
    if (!r->log) return EXIT_SYSTEM;
    r->workers = xcalloc((size_t)r->nworkers, sizeof *r->workers);
    for (int i = 0; i < r->nworkers; i++)
        if (!(r->workers[i] = worker_new(r, i, err, errlen))) return EXIT_SYSTEM;
    return EXIT_OK;
}

/* Wakes the reader where it waits for room in a queue. */
static void wake_reader(run *r)
{
    if (!r->queues) return;
    for (int i = 0; i < r->nworkers; i++) {
        pthread_mutex_lock(&r->queues[i].mu);
        pthread_cond_broadcast(&r->queues[i].space);
        pthread_mutex_unlock(&r->queues[i].mu);
    }
}

/* Waits until clock reads `at` (ns): sleeps until START_SPIN_NS before it,
 * then reads the clock in a loop, so that processes that agreed on the
 * moment start within their clocks' agreement rather than their timers'
 * wake-up (a one-off cost of at most START_SPIN_NS of CPU). */
#define START_SPIN_NS 2000000LL
static void wait_until(clockid_t clock, int64_t at)
{
    int64_t early = at - START_SPIN_NS;
    struct timespec ts = { (time_t)(early / 1000000000LL), (long)(early % 1000000000LL) };
    if (early > 0)
        while (clock_nanosleep(clock, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
    for (;;) {
        clock_gettime(clock, &ts);
        if ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec >= at) break;
    }
}

/* Sets t0: with a sync (MPI), the moment every process agreed on; with
 * --start-at, that wall-clock moment; else now + 2 ms (workers are
 * waiting). Returns -1 with err when the processes cannot agree. */
static int agree_start(run *r, char *err, size_t errlen)
{
    const replay_opts *o = r->o;
    if (o->sync) {
        r->sync_info = cJSON_CreateObject();
        r->sync_called = 1;
        int64_t t0;
        if (o->sync->start(o->sync->ud, 1, &t0, r->sync_info, err, errlen)) return -1;
        wait_until(CLOCK_MONOTONIC, t0);
        r->real_start = now_real_ns();
        r->t0 = t0;
    } else if (o->start_at > 0) {
        /* Wait for the agreed wall-clock moment, then take it as t0. */
        wait_until(CLOCK_REALTIME, (int64_t)(o->start_at * 1e9));
        r->real_start = now_real_ns();
        r->t0 = now_mono_ns();
    } else {
        r->t0 = now_mono_ns() + 2000000LL; /* 2 ms: workers are waiting */
        r->real_start = now_real_ns() + 2000000LL;
    }
    return 0;
}

/* Starts the reader and the workers, lets the reader fill the lookahead,
 * agrees on t0 (now + 2 ms, or --start-at) and releases the workers.
 * Returns EXIT_OK, or EXIT_SYSTEM with err when a thread cannot start (the
 * threads started are stopped and joined). */
static int run_start(run *r, int http, char *err, size_t errlen)
{
    const replay_opts *o = r->o;
    r->wth = xcalloc((size_t)r->nworkers, sizeof *r->wth);
    if (pthread_create(&r->reader_th, NULL, schedule_reader_main, r)) {
        errf(err, errlen, "cannot start the reader thread");
        return EXIT_SYSTEM;
    }
    r->reader_started = 1;
    pthread_setname_np(r->reader_th, "replay-reader");   /* for top -H, perf, gdb */
    for (; r->nstarted < r->nworkers; r->nstarted++) {
        if (pthread_create(&r->wth[r->nstarted], NULL, worker_main, r->workers[r->nstarted])) {
            errf(err, errlen, "cannot start worker thread %d", r->nstarted);
            return EXIT_SYSTEM;
        }
        char name[16];
        snprintf(name, sizeof name, "replay-w%d", r->nstarted);
        pthread_setname_np(r->wth[r->nstarted], name);
    }
    int64_t prime_until = now_mono_ns() + 200000000LL;
    while (!atomic_load(&r->reader_done) && now_mono_ns() < prime_until) {
        long queued = 0;
        for (int i = 0; i < r->nworkers; i++) queued += atomic_load(&r->queues[i].pending);
        if (queued >= (long)r->nworkers * 256) break;
        struct timespec ts = { 0, 1000000L };
        nanosleep(&ts, NULL);
    }
    if (agree_start(r, err, errlen)) return EXIT_SYSTEM;
    if (http && o->scrape_interval_ms > 0) {
        strbuf p = {0};
        sb_printf(&p, "%s/server_metrics.jsonl", o->out_dir);
        r->scraper = scrape_start(&o->copt, p.buf, o->scrape_interval_ms, r->t0, err, errlen);
        if (!r->scraper) msg_warn("%s", err);
        sb_free(&p);
    }
    pthread_mutex_lock(&r->start_mu);
    r->started = 1;
    pthread_cond_broadcast(&r->start_cv);
    pthread_mutex_unlock(&r->start_mu);
    run_wake_all(r);
    return EXIT_OK;
}

/* Asks the monitor, if any, whether to stop the run early; when it says
 * so, cancels at once what is in flight and keeps its reason. */
static void run_monitor(run *r)
{
    const replay_monitor *m = &r->o->monitor;
    if (!m->check || r->stopped_early[0] || atomic_load(&r->stop)) return;
    replay_progress p;
    memset(&p, 0, sizeof p);
    p.elapsed_ns = now_mono_ns() - r->t0;
    p.scheduled = atomic_load(&r->scheduled);
    p.reader_done = atomic_load(&r->reader_done) != 0;
    for (int i = 0; i < r->nworkers; i++) {
        const wstats *s = worker_stats(r->workers[i]);
        p.sent += atomic_load(&s->sent);
        p.completed += atomic_load(&s->completed);
        p.failed += atomic_load(&s->failed);
        p.inflight += atomic_load(&s->inflight);
    }
    p.log_path = reqlog_path(r->log);
    char reason[sizeof r->stopped_early] = "";
    if (!m->check(m->ud, &p, reason, sizeof reason)) return;
    snprintf(r->stopped_early, sizeof r->stopped_early, "%s", reason[0] ? reason : "stopped by its monitor");
    atomic_store(&r->stop, 2);
    wake_reader(r);
    run_wake_all(r);
}

/* Waits for the workers: handles SIGINT/SIGTERM (stop sending, --grace,
 * then cancel), shows progress, stops the run when the log fails. Returns 1
 * when a signal interrupted the run. */
static int run_wait(run *r, const sigset_t *sigs)
{
    const replay_opts *o = r->o;
    progress pr = { isatty(2), now_mono_ns(), 0 };
    int nsig = 0, joined = 0;
    int64_t grace_end = 0;
    while (joined < r->nstarted) {
        struct timespec ts = { 0, 100000000L };
        int s = sigtimedwait(sigs, NULL, &ts);
        if (s == SIGINT || s == SIGTERM) {
            if (++nsig == 1) {
                if (!o->quiet) fprintf(stderr, "%ssagellm-bench: %s: stopping; waiting up to %lld ms for requests "
                                       "in flight (again to abort)\n", pr.printed && pr.tty ? "\n" : "",
                                       strsignal(s), (long long)o->grace_ms);
                atomic_store(&r->stop, 1);
                grace_end = now_mono_ns() + o->grace_ms * 1000000LL;
            } else {
                atomic_store(&r->stop, 2);
            }
            wake_reader(r);
            run_wake_all(r);
        }
        if ((grace_end && now_mono_ns() >= grace_end) || atomic_load(&r->failed_io)) {
            if (atomic_load(&r->stop) < 2) {
                atomic_store(&r->stop, 2);
                run_wake_all(r);
            }
        }
        progress_show(r, &pr, 0);
        run_monitor(r);
        while (joined < r->nstarted && pthread_tryjoin_np(r->wth[joined], NULL) == 0) joined++;
    }
    progress_show(r, &pr, 1);
    return nsig > 0;
}

/* Stops what run_start started (workers already joined by run_wait when it
 * ran): asks the reader to stop, joins it, stops the scraper. */
static void run_stop_threads(run *r, int workers_joined)
{
    if (!atomic_load(&r->stop)) atomic_store(&r->stop, workers_joined ? 1 : 2);
    if (!workers_joined) {
        /* Failed start: release the workers waiting for t0; they see stop. */
        pthread_mutex_lock(&r->start_mu);
        r->started = 1;
        pthread_cond_broadcast(&r->start_cv);
        pthread_mutex_unlock(&r->start_mu);
    }
    run_wake_all(r);
    if (!workers_joined)
        for (int i = 0; i < r->nstarted; i++) pthread_join(r->wth[i], NULL);
    wake_reader(r);
    if (r->reader_started) pthread_join(r->reader_th, NULL);
    scrape_stop(r->scraper, NULL, NULL);
    r->scraper = NULL;
}

/* Prints the summary table: this process's, or with a sync (MPI) the
 * merged one of every shard on the first process and none on the others. */
static void print_table(run *r, const summary *sm, cJSON *sj)
{
    cJSON *merged = NULL;
    int show = r->o->sync ? r->o->sync->finish(r->o->sync->ud, sm, r->trace_rate, &merged) : -1;
    if (show == 0 || atomic_load(&r->refused) || r->o->no_table) {
        cJSON_Delete(merged);
        return;
    }
    cJSON *t = show > 0 ? merged : sj;
    if (!t) return;
    int ok;
    double p99 = jnum(t, "send_lag_p99_us", &ok);
    if (ok && p99 > 1000)
        printf("WARNING: the client was late: send lag p99 %.0f us; timings from the schedule "
               "(*_from_sched) include the wait\n", p99);
    if (show > 0)
        printf("merged over %d shards (this process: shard %d/%d, %s)\n", r->o->shard_n,
               r->o->shard_k, r->o->shard_n, r->o->out_dir);
    sumtable_warnings(t, TABLE_TEXT, stdout);
    sumtable_print(t, TABLE_TEXT, SUMTABLE_ERRORS, stdout);
    cJSON_Delete(merged);
}

/* Writes summary.json (from the log on disk, as `report` computes it),
 * prints the table (not for a refused run), and requests.csv with --csv.
 * Returns the exit code given the one so far. */
static int run_summarise(run *r, summary_opts *so, int exitc)
{
    const replay_opts *o = r->o;
    char err[1024];
    so->trace_rate = r->trace_rate;
    strbuf lp = {0};
    sb_printf(&lp, "%s/requests.jsonl", o->out_dir);
    summary *sm = summary_from_file(lp.buf, so, err, sizeof err);
    if (!sm) {
        msg_err("summary: %s", err);
        if (exitc == EXIT_OK) exitc = EXIT_SYSTEM;
        print_table(r, NULL, NULL);
    } else {
        cJSON *sj = summary_json(sm);
        cJSON_AddNumberToObject(sj, "not_sent", (double)atomic_load(&r->not_sent));
        if (jsonw_write_file(o->out_dir, "summary.json", sj, err, sizeof err)) {
            msg_err("%s", err);
            exitc = EXIT_SYSTEM;
        }
        int ok;
        print_table(r, sm, sj);
        double completed = jnum(sj, "completed", &ok), failed = jnum(sj, "failed", &ok);
        double total = completed + failed;
        if (exitc == EXIT_OK && failed > 0 && (total <= 0 || failed / total > o->max_error_rate))
            exitc = EXIT_REQFAIL;
        cJSON_Delete(sj);
        summary_free(sm);
    }
    if (o->csv) {
        strbuf cp = {0};
        sb_printf(&cp, "%s/requests.csv", o->out_dir);
        if (reqlog_write_csv(lp.buf, cp.buf, err, sizeof err)) {
            msg_err("%s", err);
            exitc = EXIT_SYSTEM;
        }
        sb_free(&cp);
    }
    sb_free(&lp);
    return exitc;
}

/* Closes the log and writes run.json. Returns the exit code so far. */
static int run_finish(run *r, const char *model_note, int interrupted)
{
    char err[1024];
    int exitc = EXIT_OK;
    if (reqlog_close(r->log, err, sizeof err) || atomic_load(&r->failed_io)) {
        msg_err("the request log could not be written, the run was stopped: %s", err);
        exitc = EXIT_SYSTEM;
    }
    r->log = NULL;
    if (r->reader_rc) {
        msg_err("%s", r->reader_err);
        if (exitc == EXIT_OK) exitc = err_to_exit(r->reader_rc);
    }
    cJSON *rj = run_json(r, r->real_start, interrupted, model_note);
    if (jsonw_write_file(r->o->out_dir, "run.json", rj, err, sizeof err)) {
        msg_err("%s", err);
        exitc = EXIT_SYSTEM;
    }
    cJSON_Delete(rj);
    return exitc;
}

int replay_run(const replay_opts *o)
{
    char err[1024];
    if (o->dry_run) return dry_run(o);
    summary_opts so;
    memset(&so, 0, sizeof so);
    if (o->slo && runlog_parse_slo(o->slo, &so, err, sizeof err)) {
        msg_err("%s", err);
        return EXIT_USAGE;
    }
    run R;
    memset(&R, 0, sizeof R);
    run *r = &R;
    replay_opts oc = *o;
    r->o = &oc;
    r->nworkers = o->threads;
    probe_report probe;
    memset(&probe, 0, sizeof probe);
    int exitc = preflight(&oc, &probe, err, sizeof err);
    if (exitc == EXIT_OK && !(r->cl = client_new(o->client, &oc.copt, err, sizeof err)))
        exitc = EXIT_USAGE;
    if (exitc == EXIT_OK && mkdir_p(o->out_dir, err, sizeof err)) exitc = EXIT_SYSTEM;
    if (exitc != EXIT_OK) {
        msg_err("%s", err);
        release_sync(r);
        client_free(r->cl);
        free(probe.model);
        return exitc;
    }
    r->protocol = probe.protocol;
    pthread_mutex_init(&r->start_mu, NULL);
    pthread_cond_init(&r->start_cv, NULL);
    /* Signals go to this thread only (sigtimedwait in run_wait). */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    int interrupted = 0;
    exitc = run_setup(r, err, sizeof err);
    if (exitc == EXIT_OK) exitc = run_start(r, o->client->submit == NULL, err, sizeof err);
    if (exitc != EXIT_OK) {
        release_sync(r);
        msg_err("%s", err);
        run_stop_threads(r, 0);
        goto out;
    }
    interrupted = run_wait(r, &sigs);
    run_stop_threads(r, 1);
    exitc = run_finish(r, probe.note[0] ? probe.note : NULL, interrupted);
    exitc = run_summarise(r, &so, exitc);
    if (atomic_load(&r->refused)) {
        msg_err("the server refused the run's first request, stopped before sending the trace "
                "(%s); the requests sent are in %s/requests.jsonl", r->refused_msg, o->out_dir);
        exitc = EXIT_USAGE;
    }
    if (interrupted && (exitc == EXIT_OK || exitc == EXIT_REQFAIL)) exitc = EXIT_INTERRUPTED;
out:
    if (r->log) reqlog_close(r->log, err, sizeof err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(r->wth);
    teardown(r);
    free(probe.model);
    pthread_mutex_destroy(&r->start_mu);
    pthread_cond_destroy(&r->start_cv);
    return exitc;
}
