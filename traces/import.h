/* import.h — the importer interface: one file per public trace format
 * (import_azure.c, import_burstgpt.c, ...), registered in import.c.
 *
 * An importer reads opt->in_path (through zio, so zstd inputs work too) and
 * hands each record to import_emit(); import_bad() reports a bad row (or
 * counts and skips it with --skip-invalid). The framework writes the header,
 * checks or establishes arrival order, and counts. Importers never print. */
#ifndef SAGELLM_IMPORT_H
#define SAGELLM_IMPORT_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "common/util.h"

typedef struct import_opts {
    const char *in_path;
    const char *out_path;
    const char *map;          /* jsonl: "t=ts,input=...,output=..." */
    const char *time_unit;    /* jsonl: "s", "ms" or "us"; NULL = s */
    const char *arrival;      /* sharegpt: poisson|gamma:CV|constant (default poisson) */
    double rate;              /* sharegpt: requests/s for synthesised arrivals (default 1) */
    uint64_t seed;            /* sharegpt arrivals and sampling */
    const char *model;        /* model to put in records (NULL = format's own or none) */
    const char *api;          /* api kind for records (NULL = "chat" or the format's) */
    int sharegpt_turns;       /* sharegpt: 0 = first turn only, 1 = every turn as a session */
    int skip_invalid;
    int sort;                 /* buffer and sort by time instead of failing on disorder */
    int level;                /* output compression (see trace_writer_open) */
} import_opts;

typedef struct import_ctx import_ctx;

typedef struct importer {
    const char *name;
    const char *summary;
    /* Reads ctx's input, emits records. Returns 0 or a negative error
     * (the message set with import_fail / import_bad). */
    int (*run)(import_ctx *ctx);
} importer;

/* The registry, NULL-terminated. */
extern const importer *const importers[];
const importer *import_find(const char *name);

/* Runs a whole conversion: opens input and output, calls the importer,
 * finishes the file. stats (may be NULL) receives counts. Returns 0 or a
 * negative error with the message in err. */
typedef struct import_stats {
    uint64_t rows, records, skipped;
    char first_skip[1024];
} import_stats;
int import_run(const importer *imp, const import_opts *opt, import_stats *stats,
               char *err, size_t errlen);

/* ---- for importers ---- */
const import_opts *import_options(import_ctx *ctx);
struct zio_reader *import_input(import_ctx *ctx);
/* The header under construction; importers may add fields before the
 * first import_emit() (e.g. "t0", "block_size"). */
cJSON *import_header(import_ctx *ctx);
/* Emits a record (ownership taken). line is the source line for messages.
 * Returns 0 or a negative error (out of order without --sort, write error). */
int import_emit(import_ctx *ctx, cJSON *rec, uint64_t line);
/* Reports a bad row at line: field and what was expected. With
 * --skip-invalid it counts the row and returns 0 (carry on); otherwise it
 * records the message and returns ERR_INPUT (stop). */
int import_bad(import_ctx *ctx, uint64_t line, const char *field, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
/* Records a fatal message (no line) and returns code. */
int import_fail(import_ctx *ctx, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Counts a source row (for statistics). */
void import_count_row(import_ctx *ctx);
/* Builds "PREFIX-N" ids: the n-th record of this import (1-based). */
void import_make_id(import_ctx *ctx, char *buf, size_t len);

/* Times at or above this (2001-09-09 in µs since the Unix epoch) are
 * wall-clock times, not offsets: no trace runs for 31 years. */
#define IMPORT_EPOCH_US INT64_C(1000000000000000)
/* Names the source field the records' times come from, for messages
 * (default "timestamp"); name must outlive the import. */
void import_time_field(import_ctx *ctx, const char *name);
/* Asks the framework to rebase epoch times: when the first record's time
 * (the earliest with --sort) is at or above IMPORT_EPOCH_US, it becomes 0,
 * every time is taken relative to it, and the header gets "t0", that time
 * in ISO-8601 UTC. Offsets below it are kept as they are. Call before the
 * first import_emit(). */
void import_rebase_epoch(import_ctx *ctx);
/* Formats t_us (µs since the Unix epoch) as ISO-8601 UTC with
 * microseconds: "2024-05-10T00:00:00.123456Z". */
void import_utc_iso(int64_t t_us, char *buf, size_t len);

#endif
