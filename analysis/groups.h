/* groups.h — one summary per group of requests, for `report --by`: by the
 * model asked for, the API called, the session, or the minute of the run in
 * which the request was sent. Each group's figures are computed by
 * analysis/summary.c exactly as the whole run's are (same keys; the trace
 * rate, which belongs to the whole run, is null).
 *
 * Keys: `model`, `api` and `session` as the record gives them (a numeric
 * session as its decimal text; null or absent is "(none)"); `minute` is
 * floor(t_send_ns / 60 s) (t_sched_ns for a request never sent), as a
 * decimal number of minutes since the run's start. At most max_groups
 * groups are kept apart; requests of any further group are pooled in one
 * group named "(other)", and groups_json says so.
 *
 * Ownership: the groups object owns its summaries; groups_json returns a new
 * cJSON array the caller frees. */
#ifndef SAGELLM_GROUPS_H
#define SAGELLM_GROUPS_H

#include <stddef.h>

#include "analysis/summary.h"

typedef struct groups groups;

#define GROUPS_DEFAULT_MAX 1000
#define GROUPS_OTHER "(other)"
#define GROUPS_NONE "(none)"

/* Parses "model", "api", "session" or "minute". 0, or -1 for anything else. */
int groups_parse_by(const char *word, summary_group *out);

/* The word for a grouping ("model", ...; "none" for SUMMARY_GROUP_NONE). */
const char *groups_by_name(summary_group by);

/* Creates an empty grouping by `by` (not SUMMARY_GROUP_NONE) with the
 * summary options opts (may be NULL; group_by and trace_rate are ignored).
 * max_groups 0 means GROUPS_DEFAULT_MAX. NULL with a message in err when an
 * option is invalid. Free with groups_free. */
groups *groups_new(const summary_opts *opts, summary_group by, size_t max_groups,
                   char *err, size_t errlen);

/* Adds one record of requests.jsonl to its group's summary. Returns 0, or
 * ERR_INPUT with the message in groups_error (as summary_add). */
int groups_add(groups *g, const cJSON *req);

/* Number of groups so far ("(other)" included). */
size_t groups_count(const groups *g);

/* The groups in order (minutes by number, other keys by byte order,
 * "(other)" last), each the summary object of summary_json with a first
 * member "group": KEY. Caller frees with cJSON_Delete. */
cJSON *groups_json(groups *g);

/* 1 when some requests were pooled into "(other)". */
int groups_overflowed(const groups *g);

/* The message of the last groups_add failure. Owned by g. */
const char *groups_error(const groups *g);

/* Frees g. groups_free(NULL) is a no-op. */
void groups_free(groups *g);

#endif
