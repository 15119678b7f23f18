/* summary.h — the run summary (summary.json) from the per-request log
 * (requests.jsonl), as docs/metrics.md "Per run" defines it, with the key
 * names of `vllm bench serve`'s result JSON.
 *
 * Records are fed one at a time (summary_add) or streamed from a file
 * (summary_from_file); summary_json then computes every figure. Everything
 * is computed from the integer nanosecond fields (t_*_ns, gaps_ns), never
 * from the rounded *_ms convenience fields, so the same log always gives
 * the same numbers to the last digit.
 *
 * Two modes (summary_opts.exact; "percentiles" in the output says which
 * was used):
 * - exact: every latency value is kept, as a double of nanoseconds, and
 *   percentiles are numpy's to the last digit. 8 bytes per value: TTFT,
 *   E2EL, TPOT and send lag per request, one ITL value per token (per
 *   chunk gap with the chunk basis), five engine figures per request with
 *   engine times; arrays grow by doubling.
 * - histogram: every value set is a log-linear histogram (analysis/hist.h):
 *   percentiles within HIST_REL_ERROR (2^-11, 0.049 %) of numpy's, count,
 *   min and max exact, mean and std from exact sums (equal to rounding).
 *   Under 1.1 MB per set, about 80 KB for a typical latency; ten sets.
 * In auto mode (the default) a summary is exact until the values it keeps
 * would pass SUMMARY_EXACT_CAP (32 MB of doubles), then folds every set
 * into histograms and goes on in histogram mode; its output is then the
 * same as a summary in histogram mode from the start.
 * What stays per request in both modes: the [t_send, t_end) pair of every
 * measured request for max_concurrency (exact): 16 bytes per request
 * (up to twice that while the arrays double). A run of 1M requests of 500
 * tokens: about 4 GB exact, about 17 MB (plus at most 32 MB before the
 * fold) in auto mode.
 *
 * Ownership: the summary owns what it accumulates; summary_json returns a
 * new cJSON tree the caller frees with cJSON_Delete. */
#ifndef SAGELLM_SUMMARY_H
#define SAGELLM_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/util.h"

/* What `report --by` groups requests by. A summary itself is always over
 * one set of requests (summary_new refuses anything but
 * SUMMARY_GROUP_NONE); analysis/groups.h keeps one summary per group. */
typedef enum summary_group {
    SUMMARY_GROUP_NONE = 0,
    SUMMARY_GROUP_MODEL,
    SUMMARY_GROUP_API,
    SUMMARY_GROUP_SESSION,
    SUMMARY_GROUP_MINUTE,
} summary_group;

/* Options. A zero-initialised struct means: no SLO, trace rate unknown, no
 * grouping. Warm-up requests are always left out of the measured figures
 * (and counted in warmup_excluded). */
typedef struct summary_opts {
    double slo_ttft_ms;   /* > 0: an SLO for goodput, in ms */
    double slo_tpot_ms;
    double slo_e2el_ms;
    double trace_rate;    /* > 0: the trace's request rate after --speed
                           * (from run.json); otherwise trace_rate is null */
    summary_group group_by;
    int exact;            /* -1: exact, never fold; 0: auto (exact up to the
                           * cap, then histograms); 1: histograms from the start */
    size_t exact_cap;     /* auto mode's cap on values kept; 0: SUMMARY_EXACT_CAP */
} summary_opts;

/* Values (doubles) an auto-mode summary keeps before it folds them into
 * histograms: 4M, 32 MB. */
#define SUMMARY_EXACT_CAP (4u * 1024 * 1024)

typedef struct summary summary;

/* Creates an empty summary. opts may be NULL (all defaults); it is copied.
 * Returns NULL with a message in err when an option is invalid (negative or
 * non-finite SLO or rate, a grouping not implemented). Free with
 * summary_free. */
summary *summary_new(const summary_opts *opts, char *err, size_t errlen);

/* Adds one record of requests.jsonl (a parsed JSON object; not kept).
 * Returns 0, or ERR_INPUT when the record is malformed (a field of the wrong
 * type, a completed request without its times, times out of order, gaps and
 * gap_tokens of different lengths...); the message, in summary_error, names
 * the record's index and the field. A rejected record changes nothing. */
int summary_add(summary *s, const cJSON *req);

/* Computes the summary: a new JSON object with the keys of docs/metrics.md
 * (figures over an empty set, and rates over a zero duration, are null).
 * May be called again after more summary_add calls. Caller frees the result
 * with cJSON_Delete. */
cJSON *summary_json(summary *s);

/* Streams a requests.jsonl file (plain or zstd) through summary_add.
 * Blank lines are skipped. Returns the summary (free with summary_free), or
 * NULL with "PATH:LINE: message" in err. */
summary *summary_from_file(const char *path, const summary_opts *opts, char *err, size_t errlen);

/* The TPOT of one request in ns: (t_last - t_first) / (output_tokens - 1),
 * with n > 1 choices output_tokens / n in place of output_tokens (n <= 1:
 * one choice), or -1 when it is not measured: fewer than two output tokens
 * per choice, or every token in one event (events < 2 when events >= 0 is
 * given, or t_last equal to t_first), where the gap between tokens cannot
 * be seen. The one rule the log line, the summary and report use. */
double summary_tpot_ns(int64_t output_tokens, int64_t events, int64_t n, int64_t t_first,
                       int64_t t_last);

/* Adds everything src accumulated to dst (src unchanged), as if dst had
 * been given src's records too: counts, totals, errors and the request
 * intervals add up; value sets are concatenated when both are exact and the
 * union stays within the cap (or exact is -1), else dst folds into
 * histograms and src's values are added to them. The options must be equal
 * (SLOs, exact, exact_cap; dst keeps its own trace rate, which is not
 * accumulated: the merge of shards has their sum): otherwise ERR_USAGE, nothing
 * changed, and a message in summary_error(dst). Returns 0. */
int summary_merge(summary *dst, const summary *src);

/* Appends a self-contained binary form of what s accumulated (and its
 * options) to out: "SGSM", a version, then every counter, the request
 * intervals, the error classes and the value sets (exact values or
 * hist_pack). For sending shards' summaries to one process to merge. */
void summary_pack(const summary *s, strbuf *out);

/* Rebuilds a summary from summary_pack's bytes. o (NULL: defaults) must
 * equal the options it was packed with. Every length, count and value is
 * checked against buf's size and its range, so any bytes are either
 * accepted or refused with a message in err (NULL returned); never read
 * past len. Free with summary_free. */
summary *summary_unpack(const void *buf, size_t len, const summary_opts *o, char *err, size_t errlen);

/* 1 when s's value sets are histograms (exact is 1, or auto mode folded). */
int summary_is_histogram(const summary *s);

/* Records added so far (warm-up included). */
uint64_t summary_records(const summary *s);

/* The message of the last summary_add failure ("" when none). Owned by s. */
const char *summary_error(const summary *s);

/* Frees s. summary_free(NULL) is a no-op. */
void summary_free(summary *s);

#endif
