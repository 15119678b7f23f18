/* ground_truth.h — the server's own record of every request it handled,
 * one JSON line per request (docs/server.md, "Ground truth"), for checking a
 * client's measurements against what the server really did.
 *
 * The first line describes the run and anchors the clock: every *_ns value
 * in later lines is CLOCK_MONOTONIC in ns, and "anchor_mono_ns" /
 * "anchor_realtime_ns" were read together so other processes can convert.
 * Lines are written whole under a mutex (any thread may write) and flushed
 * as they are written. */
#ifndef SAGELLM_GROUND_TRUTH_H
#define SAGELLM_GROUND_TRUTH_H

#include <stddef.h>

typedef struct ground_truth ground_truth;

/* Creates (truncates) path and writes the header line, which gets
 * header_fields (a JSON object's members without braces, or NULL) after the
 * clock anchors. Returns NULL with a message in err on failure. */
ground_truth *ground_truth_open(const char *path, const char *header_fields,
                                char *err, size_t errlen);

/* Appends one line (a JSON object without the newline). Returns 0, or
 * ERR_SYSTEM when the write failed (the first failure is remembered). */
int ground_truth_write(ground_truth *g, const char *line, size_t len);

/* Number of request lines written. */
long ground_truth_lines(ground_truth *g);

/* Flushes, closes and frees g. Returns 0, or ERR_SYSTEM with a message in
 * err when any write or the close failed. NULL is a no-op returning 0. */
int ground_truth_close(ground_truth *g, char *err, size_t errlen);

#endif
