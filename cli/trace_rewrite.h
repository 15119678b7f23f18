/* trace_rewrite.h — the streaming loop every `trace` subcommand that copies a
 * trace with a per-record edit shares (slice, scale, sessionize): read,
 * edit, write, with the input's header plus a history entry. Defined in
 * cmd_trace.c. */
#ifndef SAGELLM_TRACE_REWRITE_H
#define SAGELLM_TRACE_REWRITE_H

#include <cjson/cJSON.h>
#include "traces/trace.h"

/* A per-record edit: 1 writes the record, 0 skips it, -1 stops. */
typedef int (*rec_edit)(trace_rec *rec, void *ud);

/* Streams the trace at path through edit into out, whose header is the
 * input's plus a history entry {op, args} (args is consumed). Messages go
 * to stderr; returns the exit code. */
int trace_rewrite(const char *path, unsigned flags, const char *out, int level,
                  const char *op, cJSON *args, rec_edit edit, void *ud);

#endif
