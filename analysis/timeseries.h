/* timeseries.h — a run over time, for `report`: per interval of the run's
 * clock, the requests sent (and the rate), completed and failed (by the
 * time they ended), the TTFT median and p99 of the requests sent in it,
 * and the mean number of requests in flight (time-weighted: the sum of
 * each request's [t_send, t_end) overlap with the interval, divided by
 * its length).
 *
 * Intervals are aligned to multiples of the interval from the run's start
 * (t = 0); the last one ends at the last t_end and rates over it use its
 * actual length. */
#ifndef SAGELLM_TIMESERIES_H
#define SAGELLM_TIMESERIES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analysis/runlog.h"

/* Most intervals timeseries_auto_interval picks for a run. */
#define TIMESERIES_TARGET_ROWS 60
/* Most intervals at all: a finer interval asked for is widened (whole
 * multiples) and the document says so in "interval_widened_from_s". */
#define TIMESERIES_MAX_ROWS 100000

/* A round interval (100 ms, 200 ms, 500 ms, 1 s, 2 s, 5 s, 10 s, 15 s,
 * 30 s, 1 min, 2 min, 5 min, ...) that cuts span_ns into at most
 * TIMESERIES_TARGET_ROWS intervals. */
int64_t timeseries_auto_interval(int64_t span_ns);

/* The series of the n requests reqs with intervals of interval_ns (0:
 * timeseries_auto_interval over the run). Returns a new object
 * {"interval_s": X, "rows": [{"t_s", "sent", "rate", "completed",
 * "failed", "ttft_p50_ms", "ttft_p99_ms", "in_flight"}, ...]} (TTFT
 * figures null for an interval where no request sent got a first token);
 * an empty "rows" when no request has times. Caller frees. */
cJSON *timeseries_json(const runlog_req *reqs, size_t n, int64_t interval_ns);

#endif
