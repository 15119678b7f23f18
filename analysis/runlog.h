/* runlog.h — a run directory as analysis reads it: the per-request log
 * (requests.jsonl, plain or zstd), the manifest (run.json) and the run's own
 * summary.json when present. One pass over the log feeds the summary
 * (analysis/summary.h, the code that wrote summary.json), the per-group
 * summaries (analysis/groups.h) and a compact row per measured request for
 * the time series, the send-lag share and `compare`. SLO attainment and the
 * latencies from the schedule are accumulated as the log is read.
 *
 * Memory: the summary's (analysis/summary.h: exact up to its cap, then
 * histograms; 16 bytes per request for max_concurrency) plus a 48-byte row
 * per measured request, plus, while the summary is exact, 16 bytes per
 * completed request for the latencies from the schedule (histograms after
 * the fold). A log of 1M requests of 500 tokens: 84 MB peak in auto mode
 * (bench/summary_mem.sh).
 *
 * A runlog is plain data once loaded: read its fields; free it with
 * runlog_free, which frees everything it points to. */
#ifndef SAGELLM_RUNLOG_H
#define SAGELLM_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analysis/groups.h"
#include "analysis/summary.h"

struct valset; /* analysis/valset.h */

#define RUNLOG_NO_TIME INT64_MIN

/* One measured request (warm-up left out), in log order. Times are ns on
 * the run's clock; RUNLOG_NO_TIME when the record has none. */
typedef struct runlog_req {
    int64_t index : 63; /* trace index; -1 when the record has none (or one
                         * of 2^53 or more, which a double cannot hold exactly) */
    uint64_t ok : 1;    /* completed */
    int64_t t_sched, t_send, t_first, t_end;
    double tpot_ns;     /* (t_last - t_first) / (output_tokens - 1); < 0 when none */
} runlog_req;

/* Fills q from one record of requests.jsonl (a record summary_add accepted:
 * present times are exact integers; absent ones are RUNLOG_NO_TIME). */
void runlog_req_from_json(const cJSON *req, runlog_req *q);

/* A failure message and how often it occurred. */
typedef struct runlog_msg {
    char *cls, *message;
    uint64_t n;
} runlog_msg;

typedef struct runlog_opts {
    summary_opts sum;       /* SLOs (trace_rate is taken from run.json) */
    int slo_given;          /* 1: use sum's SLOs even if all are 0; 0: when sum
                             * has none, use the run's own --slo (run.json) */
    summary_group by;       /* per-group summaries, or SUMMARY_GROUP_NONE */
    size_t max_groups;      /* 0: GROUPS_DEFAULT_MAX */
    int64_t exclude_first;  /* > 0: requests with index < N count as warm-up */
    int64_t exclude_before_ns; /* > 0: requests scheduled before it count as warm-up */
    int allow_partial;      /* merge the shards there are when some are missing */
} runlog_opts;

typedef struct runlog {
    char *path;             /* as given */
    char *log_path;         /* the requests.jsonl read (for shards: a description) */
    char **logs;            /* every log read, in order (one; a shard set: one per shard) */
    size_t nlogs;
    int shards;             /* N of a merged sharded replay, 0 otherwise */
    char *dir;              /* its directory (where run.json is looked for) */
    cJSON *manifest;        /* run.json, or NULL when absent */
    cJSON *saved_summary;   /* summary.json, or NULL when absent */
    summary_opts so;        /* the options the summary was computed with */
    const char *slo_source; /* "command line", "run.json" or "none" */
    summary *sum;
    summary_group by;       /* the grouping asked for */
    groups *grp;            /* NULL without grouping */
    runlog_req *reqs;       /* measured requests */
    size_t nreqs;
    uint64_t slo_met;       /* with SLOs: measured requests that met every one */
    uint64_t slo_missed[3]; /* completed requests that missed the TTFT, TPOT, E2EL SLO */
    uint64_t slo_failed;    /* failed measured requests (they miss every SLO) */
    struct valset *from_sched; /* [2]: completed requests' TTFT and E2EL from
                             * t_sched, ns (exact while the summary is; then
                             * histograms) */
    runlog_msg *msgs;       /* failure messages by count, most frequent first */
    size_t nmsgs;
    uint64_t msgs_dropped;  /* failures whose message was not kept (too many kinds) */
} runlog;

/* Loads path: a run directory, or a requests.jsonl file (run.json and
 * summary.json are then looked for beside it). o may be NULL (defaults).
 * Returns NULL with a message in err and *rc set to ERR_INPUT (a malformed
 * log: "FILE:LINE: request index N: field ..."; a malformed run.json),
 * ERR_SYSTEM (a file that cannot be read) or ERR_USAGE (invalid options). */
runlog *runlog_open(const char *path, const runlog_opts *o, int *rc, char *err, size_t errlen);

/* The same for the runs of one sharded replay (analysis/shards.h): a
 * directory holding shard-K-of-N/ subdirectories (npaths 1; path is such a
 * directory when it has them), or the shards' run directories. The logs are
 * read one after the other, in shard order, as one log; the manifest is
 * the whole's. A missing or unfinished shard is ERR_INPUT naming it,
 * unless o->allow_partial. */
runlog *runlog_open_many(const char *const *paths, int npaths, const runlog_opts *o, int *rc,
                         char *err, size_t errlen);

/* Parses --exclude-warmup's value into o: a bare integer N leaves out trace
 * indices below N, a time with a unit (30s) the requests scheduled in the
 * run's first T. 0, or -1 when it is neither (or negative). */
int runlog_parse_exclusion(const char *v, runlog_opts *o);

/* Loads DIR/NAME as a JSON object into *out: 0 (*out NULL when the file
 * does not exist), ERR_SYSTEM (cannot be read) or ERR_INPUT (not a JSON
 * object), with a message. */
int runlog_load_json(const char *dir, const char *name, cJSON **out, char *err, size_t errlen);

/* The summary exactly as the run's summary.json has it: summary_json plus
 * "not_sent" from run.json when the manifest has it. Caller frees. */
cJSON *runlog_summary_json(runlog *r);

/* A string member of the manifest, or NULL. */
const char *runlog_manifest_str(const runlog *r, const char *key);

/* A numeric member of the manifest; 1 and *out set when present. */
int runlog_manifest_num(const runlog *r, const char *key, double *out);

/* Parses an SLO list "ttft=200ms,tpot=50ms,e2el=5s" (times as the rest of
 * the tool takes them; "e2e" is accepted for "e2el") into o's SLOs.
 * 0, or ERR_USAGE with a message. */
int runlog_parse_slo(const char *spec, summary_opts *o, char *err, size_t errlen);

/* Parses --exclude-warmup's value into o: a bare integer N leaves out trace
 * indices below N, a time with a unit (30s) the requests scheduled in the
 * run's first T. 0, or -1 when it is neither (or negative). */
int runlog_parse_exclusion(const char *v, runlog_opts *o);

/* Loads DIR/NAME as a JSON object into *out: 0 (with *out NULL when the
 * file does not exist), ERR_SYSTEM (unreadable) or ERR_INPUT (not a JSON
 * object), with a message in err. Caller frees *out. */
int runlog_load_json(const char *dir, const char *name, cJSON **out, char *err, size_t errlen);

/* Frees r. runlog_free(NULL) is a no-op. */
void runlog_free(runlog *r);

#endif
