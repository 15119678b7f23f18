/* util.h — small helpers every module uses: exit codes, messages, allocation.
 *
 * Ownership rule for the whole project: a function that returns a pointer
 * documents who frees it; `_free(NULL)` and `_close(NULL)` are always no-ops. */
#ifndef SAGELLM_UTIL_H
#define SAGELLM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Exit codes of the command-line tool (documented in README "Exit codes"). */
enum {
    EXIT_OK = 0,        /* everything succeeded */
    EXIT_REQFAIL = 1,   /* a run completed but some requests failed */
    EXIT_USAGE = 2,     /* bad command line */
    EXIT_INPUT = 3,     /* bad input data (trace, CSV, JSON ...) */
    EXIT_SYSTEM = 4,    /* I/O, network set-up, resources */
    EXIT_INTERRUPTED = 5/* stopped by a signal; files were flushed */
};

/* Library error codes: functions return 0 or one of these (negative). */
enum {
    ERR_INPUT = -1,     /* the data is malformed */
    ERR_SYSTEM = -2,    /* an OS or library call failed */
    ERR_USAGE = -3,     /* a caller-supplied option is invalid */
};

/* Maps a library error code to the tool's exit code. */
int err_to_exit(int err);

#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))

/* Formats into buf (always NUL-terminated, truncated if needed). */
void errf(char *buf, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Prints "sagellm-bench: MESSAGE\n" to stderr, with every URL in MESSAGE
 * masked by url_mask (credentials and query values hidden). */
void msg_err(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Prints "sagellm-bench: warning: MESSAGE\n" to stderr, masked the same way. */
void msg_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Allocation that never returns NULL: on failure prints and aborts. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic and wall clocks, integer nanoseconds. */
int64_t now_mono_ns(void);
int64_t now_real_ns(void);
/* Formats a CLOCK_REALTIME ns value as ISO-8601 UTC with microseconds. */
void fmt_iso8601(int64_t real_ns, char *buf, size_t len);

/* Growable byte buffer. Zero-initialise (`strbuf b = {0}`) before use. */
typedef struct strbuf {
    char *buf;
    size_t len, cap;
} strbuf;
void sb_reserve(strbuf *b, size_t extra);
void sb_add(strbuf *b, const void *p, size_t n);
void sb_adds(strbuf *b, const char *s);
void sb_addc(strbuf *b, char c);
void sb_printf(strbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Copies src into dst (size bytes), cut to size - 1 bytes and always
 * NUL-terminated, as snprintf(dst, size, "%s", src) does without printf. */
void str_copy(char *dst, size_t size, const char *src);
/* Writes v in decimal, as printf's "%" PRId64 does but without printf,
 * and a NUL into out (room for 21 bytes). Returns the digits' length. */
int fmt_int(char *out, int64_t v);
/* Appends v in decimal (fmt_int). */
void sb_add_int(strbuf *b, int64_t v);
/* Appends v / 10^decimals with exactly `decimals` digits after the point
 * (0..18; no point for 0), e.g. 1234567 with 6 decimals is "1.234567", -5
 * with 3 is "-0.005": the text printf's "%.Nf" gives for (double)v / 10^N
 * when |v| < 10^15 (beyond, the double has lost the last digits; this
 * keeps them). */
void sb_add_fixed(strbuf *b, int64_t v, int decimals);
void sb_clear(strbuf *b);
/* Appends s (n bytes) as a JSON string literal, quotes included; control
 * characters (NUL too) escaped, and each byte that does not belong to a
 * valid UTF-8 sequence written as U+FFFD, so the result is always valid
 * UTF-8 JSON (lossy for such bytes: keep them elsewhere, e.g. base64). */
void sb_json_str(strbuf *b, const char *s, size_t n);
void sb_free(strbuf *b);

/* Creates dir and its missing parents (mode 0755), like `mkdir -p`.
 * 0, or ERR_SYSTEM with "DIR: cannot create directory: ..." in err. */
int mkdir_p(const char *dir, char *err, size_t errlen);

/* Reads the whole file at path into a malloc'd buffer with a NUL after its
 * bytes (*len, when not NULL, is their count). Returns NULL with err
 * ("PATH: cannot open: ..." or "PATH: cannot read: ...") and errno kept as
 * the failure set it (ENOENT for a missing file). Caller frees. */
char *file_read_all(const char *path, size_t *len, char *err, size_t errlen);

/* The content digest of a file, "fnv1a64:HASH:BYTES" (64-bit FNV-1a over its
 * bytes as stored, the hash in 16 hex digits; its offset basis is
 * 1469598103934665603, one digit short of the standard one, kept so the
 * digests of earlier runs still match), written to out: the
 * trace_digest of run.json, by which compare tells whether two runs
 * replayed the same trace. Returns 0, or ERR_SYSTEM (out "unknown") when
 * the file cannot be opened or read. */
int file_fnv_digest(const char *path, char *out, size_t len);

/* Raises the soft limit on open files to the hard limit (a load generator
 * or a server holds a socket per connection); keeps it when that fails. */
void fd_limit_raise(void);

#endif
