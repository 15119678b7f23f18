/* compare.h — `sagellm-bench compare`: two or more runs of the same trace
 * side by side. The first run is the baseline; every other run is set
 * against it:
 *   "metrics"  each summary figure in each run, the difference and ratio
 *              to the baseline;
 *   "ci"       for TTFT, TPOT and E2EL, the difference of medians and of
 *              p99s with a seeded bootstrap confidence interval
 *              (analysis/bootstrap.h) and a verdict: "slower"/"faster"
 *              when the interval excludes zero and the difference is at
 *              least min_effect of the baseline's figure, "negligible"
 *              when it excludes zero but is smaller, "no clear difference"
 *              otherwise;
 *   "paired"   requests paired by trace index: the share that got faster,
 *              slower or stayed the same, and the median paired difference;
 *   "warnings" runs that did not replay the same trace (run.json's
 *              trace_digest), replayed it differently (speed, window),
 *              whose client was late, or that had failures;
 *   "original" for traces whose records hold the original server's
 *              timings (orig.ttft_us, orig.e2e_us): the original TTFT and
 *              E2E beside each run's over the same requests.
 * The caller owns the returned tree. */
#ifndef SAGELLM_COMPARE_H
#define SAGELLM_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/bootstrap.h"
#include "analysis/runlog.h"
#include "analysis/table.h"

#define COMPARE_MIN_EFFECT 0.05
#define COMPARE_MAX_RUNS 26

typedef struct compare_opts {
    bootstrap_opts boot;     /* seed, resamples, level */
    double min_effect;       /* 0: COMPARE_MIN_EFFECT */
    double late_us;          /* 0: REPORT_LATE_US */
    int orig;                /* 1: the original-vs-replay table is required */
    const char *trace_path;  /* the trace for original timings (NULL: run.json's) */
} compare_opts;

/* Compares n runs (1 <= n <= COMPARE_MAX_RUNS; with one run only the
 * original-vs-replay table, which is then required). Returns the document,
 * or NULL with *rc and err: ERR_USAGE (bad options, one run without
 * original timings), ERR_INPUT/ERR_SYSTEM (the trace could not be read). */
cJSON *compare_json(runlog *const *runs, size_t n, const compare_opts *o, int *rc, char *err, size_t errlen);

/* Prints the document as text or Markdown: warnings first, then the side
 * by side table, the intervals, the paired shares, original vs replay. */
void compare_print(const cJSON *doc, table_format f, FILE *out);

/* Prints the side-by-side metrics as CSV. */
void compare_print_csv(const cJSON *doc, FILE *out);

#endif
