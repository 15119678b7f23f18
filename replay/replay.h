/* replay.h — the replay engine: reads a trace, sends each request at its
 * scheduled time through a client, records what happened.
 *
 * Threads: one reader streams the trace ahead of the schedule into bounded
 * per-worker queues; each worker owns an epoll loop, a libcurl multi handle
 * driven through its socket API, its connections and its counters, and
 * sends at absolute CLOCK_MONOTONIC deadlines (timerfd). Completed requests
 * are appended to DIR/requests.jsonl as they finish; the summary is
 * computed from that file afterwards (analysis/summary.c), so `report`
 * gives the same numbers. See docs/replay.md and docs/metrics.md. */
#ifndef SAGELLM_REPLAY_H
#define SAGELLM_REPLAY_H

#include <stdint.h>
#include <stddef.h>
#include "clients/client.h"

enum { SESSIONS_TIMED = 0, SESSIONS_DEPENDENT = 1 };
/* How response bytes are stamped (docs/metrics.md, "Where times are taken"). */
enum { RX_STAMP_KERNEL = 0, RX_STAMP_POLL = 1 };

/* Default caps on one response (docs/replay.md, "Hostile input"); a
 * response over either fails as too_large. 1,000,000 content events is
 * more than any model's output today (one token per event up to a 1M-token
 * context) and keeps the request's log line small for our readers: a gap
 * is at most 20 digits plus its token count, so at most ~32 MB, under the
 * 64 MiB line limit (typically ~12 MB). 1 GiB of body bytes bounds a
 * server that streams events that carry no content (keep-alives, empty
 * deltas), which the event cap does not count. */
#define REPLAY_MAX_RESPONSE_EVENTS 1000000LL
#define REPLAY_MAX_RESPONSE_BYTES (1LL << 30)

/* A start barrier and an end gather shared by the processes of one sharded
 * replay (an MPI build's, cli/mpi_sync.c). replay_run calls start once it
 * is ready to send (ready 1) or has failed before that (ready 0: the others
 * must not wait for it), and finish with its summary after the run. */
struct summary;
struct cJSON;
typedef struct replay_sync {
    /* Waits for every process; sets *t0_mono (CLOCK_MONOTONIC ns) to the
     * agreed start and adds what it measured to info (run.json's
     * "start_sync"). 0, or -1 with err (another process failed, or the
     * transport did). Called with ready 0 only to release the others. */
    int (*start)(void *ud, int ready, int64_t *t0_mono, struct cJSON *info, char *err, size_t errlen);
    /* After the run, with this process's summary (NULL when it has none):
     * trace_rate is this process's schedule rate (the merge's is their sum);
     * returns 1 with *merged set to a new summary.json object of every
     * process (the first process: print it in place of its own table), 0
     * when this process prints no table (the others), -1 on failure (print
     * its own table). */
    int (*finish)(void *ud, const struct summary *mine, double trace_rate, struct cJSON **merged);
    void *ud;
} replay_sync;

/* What a running replay shows its monitor (replay_opts.monitor): the
 * workers' live counters and where finished requests are being appended
 * (whole lines, handed to the log writer every 200 ms). */
typedef struct replay_progress {
    int64_t elapsed_ns;             /* since the run's start (t0) */
    long scheduled;                 /* read from the trace so far */
    int reader_done;                /* scheduled is the run's total */
    long sent, completed, failed, inflight;
    const char *log_path;           /* DIR/requests.jsonl */
} replay_progress;

/* A callback the command layer gives replay_run to watch a run and stop it
 * early (a sweep point that has clearly failed). check is called from
 * replay_run's main thread about every 100 ms while the run goes; it
 * returns 0 to go on, or 1 with a sentence in reason (NUL-terminated,
 * at most len bytes) to stop the run: nothing more is sent, what is in
 * flight is cancelled, every file is written and run.json's
 * "stopped_early" holds the reason. */
typedef struct replay_monitor {
    int (*check)(void *ud, const replay_progress *p, char *reason, size_t len);
    void *ud;
} replay_monitor;

typedef struct replay_opts {
    const char *trace_path;
    const char *out_dir;            /* NULL only with dry_run */
    const client_ops *client;
    client_opts copt;
    int threads;                    /* workers (>= 1) */
    double speed;                   /* divides trace time (default 1) */
    int64_t from_us, to_us;         /* window (-1 = none), rebased to its start */
    int64_t first;                  /* at most N records (-1 = all) */
    int64_t warmup_n;               /* first N requests are warm-up (0 = none) */
    int64_t warmup_us;              /* or those scheduled before this (0 = none) */
    int64_t duration_us;            /* schedule cap (-1 = none) */
    int shard_k, shard_n;           /* shard K of N (1-based; n = 1: all) */
    double start_at;                /* epoch seconds to start at (0 = now) */
    const char *shard_source;       /* where K/N came from (--shard auto), for run.json */
    const replay_sync *sync;        /* NULL: this process starts on its own */
    int dry_run;
    int64_t max_inflight;           /* closed-loop cap (0 = none) */
    int64_t spin_ns;                /* busy-wait this long before each deadline (0 = sleep only) */
    int rx_stamp;                   /* RX_STAMP_KERNEL (default) or RX_STAMP_POLL */
    int64_t max_connections;        /* per run (0 = libcurl default per worker) */
    int sessions_mode;
    int64_t timeout_ms;             /* whole request (0 = none) */
    int64_t stall_timeout_ms;       /* no byte for this long (0 = none) */
    int64_t grace_ms;               /* after SIGINT: wait for in-flight requests */
    int64_t connect_timeout_ms;
    int64_t max_response_events;    /* content events one response may carry (0 = none) */
    int64_t max_response_bytes;     /* body bytes one response may carry (0 = none) */
    double max_error_rate;          /* share of failures tolerated for exit 0 */
    int csv;                        /* also write requests.csv */
    int quiet;                      /* no progress output */
    int no_table;                   /* no summary table on stdout (a sweep prints its own) */
    replay_monitor monitor;         /* check NULL: none */
    int wait_ready;                 /* poll GET /health before starting */
    int64_t wait_ready_ms;          /* how long to wait for readiness */
    int64_t scrape_interval_ms;     /* sample /metrics (0 = off) */
    const char *slo;                /* ttft=..,tpot=..,e2el=.. for goodput */
    int skip_invalid;
    const char *cmdline;            /* for run.json (secrets already removed) */
} replay_opts;

/* Fills o with the defaults. */
void replay_opts_init(replay_opts *o);

/* Runs a replay. Returns an exit code of the tool (EXIT_OK, EXIT_REQFAIL,
 * EXIT_INPUT, EXIT_SYSTEM, EXIT_INTERRUPTED); messages go to stderr, the
 * summary table to stdout. */
int replay_run(const replay_opts *o);

#endif
