/* trace_io.h — streaming reader and writer of trace files (format v1).
 *
 * The reader returns records one at a time from a plain or zstd file in
 * constant memory; the record it returns belongs to the reader and is valid
 * until the next call (trace_rec_move takes it over). Every error names the
 * file, the line, the field and what was expected. The writer checks that
 * records come in arrival order. */
#ifndef SAGELLM_TRACE_IO_H
#define SAGELLM_TRACE_IO_H

#include "traces/trace.h"

enum {
    TRACE_SKIP_INVALID = 1 << 0,   /* count and skip bad records instead of failing */
    TRACE_NO_ORDER_CHECK = 1 << 1, /* accept records whose t_us goes backwards */
};

typedef struct trace_reader trace_reader;
typedef struct trace_writer trace_writer;

/* Opens a trace and reads its header. NULL with err filled on failure. */
trace_reader *trace_reader_open(const char *path, unsigned flags, char *err, size_t errlen);
/* The header object (owned by the reader). */
const cJSON *trace_reader_header(const trace_reader *r);
/* Next record: 1 and *rec set, 0 at the end, or a negative error code
 * (message in trace_reader_error). */
int trace_reader_next(trace_reader *r, trace_rec **rec);
const char *trace_reader_error(const trace_reader *r);
const char *trace_reader_path(const trace_reader *r);
uint64_t trace_reader_count(const trace_reader *r);    /* records returned */
/* 1 after an error the stream cannot continue from (I/O, corrupt or
 * truncated zstd, over-long line); after a bad record, next() goes on with
 * the following line, so a validator can list every bad line. */
int trace_reader_fatal(const trace_reader *r);
uint64_t trace_reader_skipped(const trace_reader *r);  /* with TRACE_SKIP_INVALID */
const char *trace_reader_first_skip(const trace_reader *r); /* message of the first */
void trace_reader_close(trace_reader *r);

/* Creates a trace file. level < 0: zstd level 3 when path ends in ".zst",
 * plain otherwise; 0: plain; > 0: zstd at that level. The header is copied. */
trace_writer *trace_writer_open(const char *path, const cJSON *header, int level,
                                char *err, size_t errlen);
/* Writes one record object (not consumed). ERR_INPUT if its t_us is smaller
 * than the previous record's, ERR_SYSTEM on a write error. */
int trace_writer_put(trace_writer *w, const cJSON *rec);
int trace_writer_put_rec(trace_writer *w, const trace_rec *r);
/* Writes a pre-serialised record line (no newline); t_us for the order check. */
int trace_writer_put_raw(trace_writer *w, const char *line, size_t len, int64_t t_us);
uint64_t trace_writer_count(const trace_writer *w);
uint64_t trace_writer_bytes_in(const trace_writer *w);
uint64_t trace_writer_bytes_out(const trace_writer *w);
const char *trace_writer_error(const trace_writer *w);
/* Finishes the file (renaming it into place). Returns 0 or an error. */
int trace_writer_close(trace_writer *w, char *err, size_t errlen);
void trace_writer_abort(trace_writer *w);

#endif
