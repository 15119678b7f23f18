/* inspect.h — statistics of a trace, computed in one streaming pass. */
#ifndef SAGELLM_INSPECT_H
#define SAGELLM_INSPECT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Reads the trace at path and returns a new JSON object (caller frees):
 * records, duration_s, rate {mean_per_s, peak_per_s, peak_second,
 * peak_per_min, peak_minute}, input_tokens / output_tokens {count, mean,
 * p50, p90, p99, max}, sessions {count, records, max_turn, mean_turns},
 * with_body_share, prefix {blocks, repeated, sharing_ratio, block_size}
 * (when hash ids exist), apis {kind: count}, models {name: count}, header.
 * Percentiles are exact (linear interpolation between closest ranks, as
 * numpy's default). flags: trace_io.h TRACE_* flags. NULL on error. */
cJSON *trace_inspect(const char *path, unsigned flags, char *err, size_t errlen);

#endif
