/* shards.h — the runs of one sharded replay (`replay --shard K/N`, each
 * process writing DIR/shard-K-of-N/) found and checked as one run: which
 * shards are there, which are missing or unfinished, and the manifest of
 * the whole (docs/scale-out.md, "Merging").
 *
 * The records of the shards are on their own processes' clocks, each
 * relative to its own start; a merge puts them on one axis by taking the
 * starts as simultaneous. The manifest says how far apart they were: the
 * spread of the shards' wall-clock starts (start_skew_us; meaningful
 * between hosts only when their clocks are NTP/PTP-synchronised) and, for
 * an MPI start, the barrier's exit spread as the ranks measured it. */
#ifndef SAGELLM_SHARDS_H
#define SAGELLM_SHARDS_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct shard_set {
    int n;               /* the number of shards (N of K/N) */
    int found;           /* shards with a log */
    char **dirs;         /* dirs[k-1]: shard K's run directory, NULL when missing */
    cJSON *manifest;     /* run.json of the whole (owned) */
} shard_set;

/* Collects the shards named by paths: one directory holding
 * shard-K-of-N/ subdirectories, or several run directories of one sharded
 * replay (each run.json saying "shard": "K/N"). Returns 1 with *out filled
 * (free with shard_set_free), 0 when paths is one directory that is not a
 * shard set (an ordinary run), or ERR_INPUT with a message naming each
 * missing or unfinished shard (no run.json: still running or killed;
 * "interrupted": true) unless allow_partial, which merges the shards that
 * have a log and lists the others in the manifest's "shards_missing". */
int shard_set_collect(const char *const *paths, int npaths, int allow_partial, shard_set *out,
                      char *err, size_t errlen);

void shard_set_free(shard_set *s);

#endif
