/* report.h — `sagellm-bench report`: what a run's per-request log says, as
 * one JSON document and as text, Markdown or CSV.
 *
 * The document holds, at its top level, every key of the run's
 * summary.json with the very same values (computed by analysis/summary.c
 * from the same log, with the trace rate and not_sent of run.json), then:
 *   "source"    where the log came from and what was run (from run.json);
 *   "send_lag"  the verdict on the client's timing: "late" when the send
 *               lag p99 exceeds the threshold (1 ms by default, the rule
 *               replay prints), the share of requests over it, and the
 *               latencies measured from the schedule;
 *   "goodput"   with SLOs: the requests that met every SLO, the share of
 *               measured requests (failed ones count as missed), how many
 *               missed each SLO, and request_goodput; null without SLOs;
 *   "failures"  failed requests by class with their share, and the most
 *               frequent messages;
 *   "groups"    with a grouping: {"by", "overflowed", "rows": [...]}, one
 *               summary per group (analysis/groups.h);
 *   "timeseries" per interval (analysis/timeseries.h).
 * The caller owns every returned cJSON tree (cJSON_Delete). */
#ifndef SAGELLM_REPORT_H
#define SAGELLM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/runlog.h"
#include "analysis/table.h"

#define REPORT_LATE_US 1000.0   /* send lag p99 over this: the client was late */
#define REPORT_TOP_MESSAGES 10

typedef struct report_opts {
    int64_t interval_ns;    /* time-series interval; 0 picks one */
    double late_us;         /* lateness threshold; 0 means REPORT_LATE_US */
} report_opts;

/* Which SLOs of o one measured request missed: 0 when it met every one,
 * else REPORT_MISSED_* bits (a failed request: REPORT_MISSED_FAILED only).
 * The rule of the report's goodput section and of a sweep's attainment. */
#define REPORT_MISSED_TTFT 1
#define REPORT_MISSED_TPOT 2
#define REPORT_MISSED_E2EL 4
#define REPORT_MISSED_FAILED 8
int report_slo_missed(const summary_opts *o, const runlog_req *q);

/* Builds the report of a loaded run (o may be NULL). Sorts nothing in r
 * that a second call would need: it may be called again. */
cJSON *report_json(runlog *r, const report_opts *o);

/* The first line of a report: the send-lag verdict (a sentence). Points
 * into rep. */
const char *report_verdict(const cJSON *rep);

/* Prints a report document as text (the vLLM-style block, then SLOs,
 * errors, groups and the time series) or Markdown. */
void report_print(const cJSON *rep, table_format f, FILE *out);

/* Prints CSV: with series 0, a header of the summary's keys (all but the
 * "errors" object) and one row for the whole run ("all") and one per group;
 * with series 1, the time series. */
void report_print_csv(const cJSON *rep, int series, FILE *out);

#endif
