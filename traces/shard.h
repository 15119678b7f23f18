/* shard.h — which of N shards a trace record belongs to: the one rule that
 * `replay --shard K/N` and `trace split --shards N` share, so a pre-split
 * file holds exactly the records the same shard would pick from the whole
 * trace.
 *
 * A record of a session goes to the shard its session id hashes to (every
 * turn of a conversation in one process, so dependent sessions still work);
 * a record without a session goes round-robin by its index in the replayed
 * window. The hash (common/rng.h hash_str) is stable across runs, machines
 * and builds. */
#ifndef SAGELLM_SHARD_H
#define SAGELLM_SHARD_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "traces/trace.h"

/* The shard (0-based, < n) of rec at window index `index`; n >= 1. */
int trace_shard_of(const trace_rec *rec, uint64_t index, int n);

/* pattern with every "{k}" replaced by k and "{n}" by n (the names of
 * `trace split`'s parts, a sharded replay's TRACE). Caller frees. */
char *trace_shard_name(const char *pattern, int k, int n);

/* What a trace header says about a pre-split file (`trace split` writes
 * "split": {"shard": K, "shards": N, "records": M}): 1 with *k (1-based)
 * and *n set when it is one, 0 when the header has no "split", -1 when
 * "split" is malformed. */
int trace_header_split(const cJSON *header, int *k, int *n);

/* The record's index in the unsplit trace: its "trace_index" member (written
 * by `trace split`), or -1 when it has none. */
int64_t trace_rec_orig_index(const trace_rec *rec);

#endif
