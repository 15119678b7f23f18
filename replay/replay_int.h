/* replay_int.h — what the replay engine's files share (not a public API).
 *
 * Flow: reader (schedule.c) -> per-worker rq_queue -> worker (worker.c:
 * timers, libcurl, client events) -> request log (reqlog.c). The run
 * (replay.c) owns all of them; workers own their requests from the moment
 * they take them off the queue. */
#ifndef SAGELLM_REPLAY_INT_H
#define SAGELLM_REPLAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "replay/replay.h"
#include "traces/trace.h"

/* One scheduled request. */
typedef struct rq {
    uint64_t index;           /* position in the replayed trace */
    int64_t t_sched;          /* ns after run start; dependent turns: set when released */
    int64_t trace_ns;         /* t_us * 1000 / speed (rebased) */
    int warmup;
    trace_rec rec;            /* owned */
    struct rq *next;
} rq;

/* Reader -> worker queue. The reader blocks while `pending` (queued or held
 * by the worker but not yet sent) is at the lookahead cap. */
typedef struct rq_queue {
    pthread_mutex_t mu;
    pthread_cond_t space;
    rq *head, *tail;
    int closed;               /* the reader is done */
    int efd;                  /* eventfd: wakes the worker */
    atomic_long pending;
} rq_queue;

#define REPLAY_LOOKAHEAD 4096 /* requests per worker read ahead of sending */
#define REPLAY_REFILL 64      /* the reader refills a worker's lookahead by this many */

typedef struct run run;
typedef struct worker worker;

/* Live counters of one worker, read by the progress line. */
typedef struct wstats {
    atomic_long sent, completed, failed, inflight, max_inflight;
    atomic_long lag_hist[64]; /* send lag, log2 buckets of µs, for progress p99 */
} wstats;

struct run {
    const replay_opts *o;
    client *cl;
    int64_t t0;               /* CLOCK_MONOTONIC ns of the run's start */
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    int started;
    atomic_int stop;          /* 1: stop sending; 2: cancel what is in flight */
    atomic_int failed_io;     /* the request log could not be written */
    atomic_long inflight;     /* all workers, for --max-inflight */
    atomic_long concurrency_max;
    atomic_long scheduled, not_sent, reader_done;
    atomic_long bad_records;
    atomic_long ok_total;     /* requests that succeeded so far (all workers) */
    atomic_int refused;       /* the server refused the run (401/403/404 before any success) */
    char refused_msg[512];    /* written once, by the worker that set refused */
    const char *protocol;     /* HTTP version the probe negotiated ("h2", ...), or "" */
    /* Threads and outputs of the run (replay.c's setup/start/wait/finish). */
    pthread_t reader_th, *wth;
    int reader_started, nstarted;   /* threads created (joined at the end) */
    struct scraper *scraper;
    int64_t real_start;       /* CLOCK_REALTIME ns of t0, for run.json */
    struct cJSON *sync_info;  /* run.json's "start_sync" (owned; NULL: none) */
    int sync_called;          /* sync->start was called (ready or not) */
    int nworkers;
    worker **workers;
    rq_queue *queues;
    struct reqlog *log;
    char reader_err[1024];
    int reader_rc;
    double trace_rate;        /* records per second of the replayed schedule */
    char stopped_early[256];  /* the monitor's reason when it stopped the run, or "" */
    int64_t sched_first_ns, sched_last_ns;
};

/* schedule.c */
void *schedule_reader_main(void *arg);           /* arg: run * */
/* A pre-split trace (`trace split`): *presplit 1 when the file is this
 * process's shard (send every record); -1 with err when it is another
 * shard's or its "split" header is malformed. */
struct trace_reader;
int schedule_check_split(const replay_opts *o, const struct trace_reader *tr, int *presplit,
                         char *err, size_t errlen);
int schedule_plan(const replay_opts *o, int nworkers, struct cJSON *plan, char *err, size_t errlen);
void rq_free(rq *q);

/* worker.c */
worker *worker_new(run *r, int id, char *err, size_t errlen);
void *worker_main(void *arg);                    /* arg: worker * */
void worker_wake(worker *w);
const wstats *worker_stats(const worker *w);
void worker_free(worker *w);

/* reqlog.c — the shared request log (thread-safe appends of whole lines). */
typedef struct reqlog reqlog;
reqlog *reqlog_open(const char *dir, char *err, size_t errlen);
int reqlog_append(reqlog *l, const char *data, size_t len);   /* whole lines */
int reqlog_close(reqlog *l, char *err, size_t errlen);
const char *reqlog_path(const reqlog *l);
int reqlog_write_csv(const char *jsonl, const char *csv, char *err, size_t errlen);

/* Wakes every worker (stop, freed --max-inflight slot). */
void run_wake_all(run *r);

#endif
