/* zio.h — streaming line reader and byte writer over plain or zstd files.
 *
 * Readers detect zstd by its magic number (whatever the file is called),
 * read concatenated and skippable frames, and report a stream that ends
 * inside a frame as "truncated". Memory stays constant whatever the file's
 * size: one input buffer, one output buffer and the longest line seen.
 * Path "-" means stdin / stdout. Handles are owned by the caller and freed
 * with zio_reader_close / zio_writer_close. */
#ifndef SAGELLM_ZIO_H
#define SAGELLM_ZIO_H

#include <stddef.h>
#include <stdint.h>

typedef struct zio_reader zio_reader;
typedef struct zio_writer zio_writer;

#define ZIO_DEFAULT_MAX_LINE (64u << 20)

/* Opens path for reading lines. Returns NULL and fills err on failure. */
zio_reader *zio_reader_open(const char *path, char *err, size_t errlen);
/* Longest accepted line in bytes (default ZIO_DEFAULT_MAX_LINE). */
void zio_reader_set_max_line(zio_reader *r, size_t max);
/* Reads the next line (without its "\n" or "\r\n"). On success returns 1
 * and sets *line (NUL-terminated, valid until the next call) and *len;
 * returns 0 at end of input; ERR_INPUT or ERR_SYSTEM on error (message in
 * zio_reader_error). A line over the limit is ERR_INPUT. */
int zio_reader_getline(zio_reader *r, char **line, size_t *len);
/* Reads raw decompressed bytes (for whole-document formats). Returns the
 * number of bytes (0 at end) or a negative error. Do not mix with getline. */
long zio_reader_read(zio_reader *r, void *buf, size_t n);
/* 1-based number of the line last returned. */
uint64_t zio_reader_lineno(const zio_reader *r);
/* Decompressed bytes consumed so far. */
uint64_t zio_reader_offset(const zio_reader *r);
const char *zio_reader_error(const zio_reader *r);
const char *zio_reader_path(const zio_reader *r);
int zio_reader_is_zstd(const zio_reader *r);
void zio_reader_close(zio_reader *r);

/* Opens path for writing. level > 0 compresses with zstd at that level,
 * 0 writes plain. Except for "-", output goes to PATH.tmp-PID and is renamed
 * onto path by a successful zio_writer_close, so a failed run never leaves a
 * half-written file under the final name. A path that exists and is not a
 * regular file (/dev/null, a FIFO) is written in place. */
zio_writer *zio_writer_open(const char *path, int level, char *err, size_t errlen);
int zio_writer_write(zio_writer *w, const void *buf, size_t n);
/* Flushes buffered data (and ends the current zstd block) to the file. */
int zio_writer_flush(zio_writer *w);
uint64_t zio_writer_bytes_in(const zio_writer *w);   /* uncompressed */
uint64_t zio_writer_bytes_out(const zio_writer *w);  /* written to disk */
const char *zio_writer_error(const zio_writer *w);
/* Finishes the stream, closes it and frees w. Returns 0 or a negative
 * error with the message in err. */
int zio_writer_close(zio_writer *w, char *err, size_t errlen);
/* Closes without renaming: the partial output is removed. */
void zio_writer_abort(zio_writer *w);

/* 1 if path ends in ".zst" (the default compression choice for outputs). */
int zio_path_wants_zstd(const char *path);

#endif
