/* sweep.h — what `sagellm-bench sweep` decides, without running anything:
 * the verdict of one point (a run directory) against the SLOs, the search
 * for the largest passing speed (bracketing, then bisection to a stated
 * tolerance), the early-stop rule for a point that has clearly failed,
 * sweep.json, its table, and the comparison of two sweeps. The command
 * (cli/cmd_sweep.c) runs the points; this module only reads run
 * directories and decides, so it is tested on made-up verdicts.
 *
 * Definitions (docs/sweep.md):
 *   attainment  requests that met every SLO / requests offered (measured
 *               ones plus those not sent: a point stopped early counts
 *               what it did not send as missed; failed requests missed);
 *   pass        attainment >= target;
 *   invalid     the client was late (send-lag verdict of `report`): the
 *               point says nothing about the server (speed mode only);
 *   capacity    the largest passing x below the smallest failing or
 *               invalid x, with the offered rate it means.
 *
 * Ownership: every cJSON tree returned is the caller's (cJSON_Delete). */
#ifndef SAGELLM_SWEEP_H
#define SAGELLM_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/summary.h"
#include "analysis/table.h"

typedef enum sweep_verdict {
    SWEEP_PASS = 0,
    SWEEP_FAIL,
    SWEEP_INVALID,       /* the client fell behind: not the server's failure */
    SWEEP_INCOMPLETE,    /* interrupted (SIGINT, the sweep's time cap): no verdict */
} sweep_verdict;

/* Latencies of a point, in ms: p50 and p99 of each (NAN when not measured). */
enum { SWEEP_TTFT_P50, SWEEP_TTFT_P99, SWEEP_TPOT_P50, SWEEP_TPOT_P99, SWEEP_ITL_P50,
       SWEEP_ITL_P99, SWEEP_E2EL_P50, SWEEP_E2EL_P99, SWEEP_NLAT };

/* One point of a sweep: one speed (or concurrency), run once or more. */
typedef struct sweep_point {
    double x;                    /* speed, or concurrency */
    char name[64];               /* its run directory under the sweep's: speed-2, conc-8 */
    int runs;                    /* runs merged into it (--repeat) */
    double attainment;           /* mean over the runs */
    double att_min, att_max;     /* over the runs */
    double offered;              /* requests offered (measured + not sent), per run */
    double offered_rate;         /* the schedule's rate (run.json trace_rate), req/s */
    double achieved_rate;        /* sends per second (summary achieved_rate) */
    double throughput;           /* completions per second (request_throughput) */
    double goodput;              /* requests meeting every SLO per second */
    double lat[SWEEP_NLAT];
    double completed, failed;    /* requests (mean over the runs) */
    int late;                    /* a run's client was late */
    int interrupted;             /* a run was interrupted */
    char stop_reason[256];       /* why a run was stopped early, or "" */
    double wall_s;               /* wall time of its runs */
    sweep_verdict verdict;
} sweep_point;

/* Reads run directory dir (requests.jsonl, run.json) into p (x and name
 * are left as they are): attainment under slo, rates, latencies, the
 * client's verdict (late: send lag p99 over late_us, report's rule).
 * Returns 0, or ERR_INPUT/ERR_SYSTEM with err. */
int sweep_point_read(sweep_point *p, const char *dir, const summary_opts *slo, double late_us,
                     char *err, size_t errlen);

/* The lateness threshold a sweep uses by default: a tenth of the tightest
 * SLO (a send lag that small cannot move a verdict), at least report's
 * 1 ms. */
double sweep_default_late_us(const summary_opts *slo);

/* Folds the run `more` (read by sweep_point_read) into p: attainment and
 * every figure averaged over the runs, min and max kept, late and
 * interrupted if any run was. */
void sweep_point_merge(sweep_point *p, const sweep_point *more);

/* The verdict of p: INCOMPLETE when interrupted, INVALID when late and
 * not closed_loop, else PASS or FAIL by target. */
sweep_verdict sweep_point_verdict(const sweep_point *p, double target, int closed_loop);
const char *sweep_verdict_name(sweep_verdict v);

/* 1 when the point's attainment is within margin of target, where a
 * repeat is worth running (--repeat). */
int sweep_point_close(const sweep_point *p, double target, double margin);

/* ---- the search ---- */

typedef struct sweep_search {
    double start;        /* first speed */
    double factor;       /* bracketing step (> 1) */
    double tolerance;    /* done when (hi - lo) / lo <= tolerance */
    double min_x, max_x; /* bracketing never goes past these */
    int have_lo, have_hi, hi_invalid;
    double lo, hi;       /* largest pass, smallest fail (or invalid) so far */
} sweep_search;

/* Starts a search at start, stepping by factor, to tolerance; bounds at
 * start / 1024 and start * 1024. */
void sweep_search_init(sweep_search *s, double start, double factor, double tolerance);

/* Records the verdict at x (INCOMPLETE changes nothing). */
void sweep_search_add(sweep_search *s, double x, sweep_verdict v);

/* The next x to run, or 0 when the search is over; *why then says why
 * (a static sentence). Bracketing multiplies or divides by factor until a
 * pass and a fail are known; bisection takes their geometric mean. */
double sweep_search_next(const sweep_search *s, const char **why);

/* ---- early stop ---- */

typedef struct sweep_watch sweep_watch;

/* Watches a running point's request log (appended in whole lines) for the
 * early-stop rule: the point has clearly failed when the requests that
 * already missed an SLO (failed ones included) exceed (1 - target) of the
 * requests offered, so attainment cannot reach target whatever the rest
 * do; or, with target above 1/2, when at least 20 requests finished and
 * more than half of them failed. Free with sweep_watch_free. */
sweep_watch *sweep_watch_new(const char *log_path, const summary_opts *slo, double target);

/* Reads what was appended since the last call. offered: the requests the
 * point will offer (< 0 while unknown). Returns 1 when the point has
 * clearly failed, with a sentence in reason; 0 otherwise. */
int sweep_watch_poll(sweep_watch *w, long offered, char *reason, size_t len);

/* Counts so far: finished, missed (failed included), failed. */
void sweep_watch_counts(const sweep_watch *w, long *finished, long *missed, long *failed);

void sweep_watch_free(sweep_watch *w);

/* ---- sweep.json ---- */

/* The capacity read from the points (any order): the largest passing x
 * below the smallest failing or invalid x. */
typedef struct sweep_capacity {
    int found;                   /* a passing point lies below every failing one */
    int lo, hi;                  /* indices of the bracketing points, or -1 */
    const char *status;          /* "bracketed", "every point passed", "no point passed",
                                  * "above: client late" ... */
} sweep_capacity;
void sweep_capacity_of(const sweep_point *pts, size_t n, sweep_capacity *c);

/* One point as JSON (the keys of sweep.json's "points"). */
cJSON *sweep_point_json(const sweep_point *p);

/* The "points" array (sorted by x) and the "capacity" object of a sweep;
 * mode is "speed" or "concurrency". The caller adds what was run. */
cJSON *sweep_result_json(const sweep_point *pts, size_t n, const char *mode);

/* Loads DIR/sweep.json (path a sweep directory or the file). NULL with
 * *rc and err when it cannot be read or is not a sweep. */
cJSON *sweep_load(const char *path, int *rc, char *err, size_t errlen);

/* 1 when path is a sweep directory (holds sweep.json) or a sweep.json. */
int sweep_is_sweep(const char *path);

/* Prints a sweep document: the points, then the capacity. */
void sweep_print(const cJSON *doc, FILE *out);

/* Two sweeps (A the baseline): capacity of each, their ratio with its
 * range from the bracketing points, and the points side by side by x. */
cJSON *sweep_compare_json(const cJSON *a, const char *name_a, const cJSON *b, const char *name_b);
void sweep_compare_print(const cJSON *doc, FILE *out);

/* The start of the window of len_us whose request count is closest to
 * the trace's mean rate times len_us (a representative slice, not the
 * busiest or the quietest), among starts every len_us / 4 from the first
 * arrival; t_us sorted, n of them. The first arrival when the trace is
 * shorter than the window. */
int64_t sweep_window_pick(const int64_t *t_us, size_t n, int64_t len_us);

#endif
