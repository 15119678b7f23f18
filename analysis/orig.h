/* orig.h — the original system's timings of a replayed trace, by trace
 * index, for `compare`'s original-vs-replay table. Captured traces hold
 * what the original server did in each record's "orig" object
 * (docs/trace-format.md): ttft_us and e2e_us are read here.
 *
 * The trace is the one the run's manifest names (run.json "trace"), found
 * as written there, else relative to the run's directory, else under its
 * parent; a path given by the caller wins. Records are numbered as replay
 * numbers them: records before the run's --from (run.json "from_us") are
 * skipped, then the first record is index 0.
 *
 * Ownership: orig_load returns a new object the caller frees with
 * orig_free. */
#ifndef SAGELLM_ORIG_H
#define SAGELLM_ORIG_H

#include <stddef.h>

#include "analysis/runlog.h"

typedef struct orig_times {
    double *ttft_ns, *e2e_ns;   /* by trace index; NAN where the record has none */
    size_t n;                   /* indices read */
    size_t with_ttft, with_e2e; /* records holding each */
    char *trace_path;           /* the file read */
    int digest_differs;         /* 1: the file is not the one the run replayed */
} orig_times;

/* Reads the original timings for the run r, up to trace index max_index
 * (inclusive). trace_path overrides the manifest's (may be NULL). Returns
 * the timings, or NULL with a reason in err and *rc: 0 when there is
 * nothing to read (no manifest, trace not found, no record with orig
 * timings up to max_index), ERR_INPUT for a malformed trace, ERR_SYSTEM
 * when it cannot be read. */
orig_times *orig_load(const runlog *r, const char *trace_path, size_t max_index, int *rc,
                      char *err, size_t errlen);


/* Frees o. orig_free(NULL) is a no-op. */
void orig_free(orig_times *o);

#endif
