/* zio.c — see zio.h. */
#include "common/zio.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IN_CAP (256u << 10)

struct zio_reader {
    int fd;
    int is_zstd;
    int eof;              /* no more raw input */
    int done;             /* no more output either */
    char *path;
    ZSTD_DCtx *dctx;
    size_t frame_left;    /* last ZSTD_decompressStream hint; 0 = at frame end */
    unsigned char *in;    /* raw input */
    size_t in_pos, in_len;
    char *out;            /* decoded bytes */
    size_t out_pos, out_len, out_cap;
    strbuf line;          /* line spanning buffer refills */
    size_t max_line;
    uint64_t lineno;
    uint64_t offset;
    char err[512];
};

static int fill_raw(zio_reader *r)
{
    if (r->eof) return 0;
    if (r->in_pos < r->in_len) return 1;
    ssize_t n;
    do n = read(r->fd, r->in, IN_CAP); while (n < 0 && errno == EINTR);
    if (n < 0) {
        errf(r->err, sizeof r->err, "%s: read error: %s", r->path, strerror(errno));
        return ERR_SYSTEM;
    }
    r->in_pos = 0;
    r->in_len = (size_t)n;
    if (n == 0) r->eof = 1;
    return n > 0;
}

zio_reader *zio_reader_open(const char *path, char *err, size_t errlen)
{
    int fd;
    if (strcmp(path, "-") == 0) {
        fd = 0;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
    }
    zio_reader *r = xcalloc(1, sizeof *r);
    r->fd = fd;
    r->path = xstrdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    r->in = xmalloc(IN_CAP);
    r->out_cap = ZSTD_DStreamOutSize() * 2;
    if (r->out_cap < IN_CAP) r->out_cap = IN_CAP;
    r->out = xmalloc(r->out_cap + 1);
    r->max_line = ZIO_DEFAULT_MAX_LINE;
#ifdef POSIX_FADV_SEQUENTIAL
    if (fd > 0) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    int rc = fill_raw(r);
    if (rc < 0) {
        errf(err, errlen, "%s", r->err);
        zio_reader_close(r);
        return NULL;
    }
    if (r->in_len >= 4) {
        uint32_t m = (uint32_t)r->in[0] | (uint32_t)r->in[1] << 8 |
                     (uint32_t)r->in[2] << 16 | (uint32_t)r->in[3] << 24;
        if (m == ZSTD_MAGICNUMBER || (m & 0xFFFFFFF0u) == ZSTD_MAGIC_SKIPPABLE_START)
            r->is_zstd = 1;
        else if (r->in[0] == 0x1f && r->in[1] == 0x8b) {
            errf(err, errlen, "%s: gzip-compressed input is not supported; "
                 "decompress it first (gunzip) or recompress with zstd", path);
            zio_reader_close(r);
            return NULL;
        }
    }
    if (r->is_zstd) {
        r->dctx = ZSTD_createDCtx();
        if (!r->dctx) {
            errf(err, errlen, "%s: cannot create zstd context", path);
            zio_reader_close(r);
            return NULL;
        }
    }
    return r;
}

void zio_reader_set_max_line(zio_reader *r, size_t max)
{
    r->max_line = max;
}

/* Produces more decoded bytes into r->out. Returns 1 if some were
 * produced, 0 at clean end, negative on error. */
static int fill_out(zio_reader *r)
{
    r->out_pos = r->out_len = 0;
    if (r->done) return 0;
    if (!r->is_zstd) {
        int rc = fill_raw(r);
        if (rc <= 0) {
            if (rc == 0) r->done = 1;
            return rc;
        }
        size_t n = r->in_len - r->in_pos;
        if (n > r->out_cap) n = r->out_cap;
        memcpy(r->out, r->in + r->in_pos, n);
        r->in_pos += n;
        r->out_len = n;
        return 1;
    }
    for (;;) {
        int rc = fill_raw(r);
        if (rc < 0) return rc;
        if (rc == 0) {
            r->done = 1;
            if (r->frame_left != 0) {
                errf(r->err, sizeof r->err,
                     "%s: truncated zstd stream: the file ends inside a frame "
                     "(after %llu decompressed bytes)", r->path,
                     (unsigned long long)r->offset);
                return ERR_INPUT;
            }
            return 0;
        }
        ZSTD_inBuffer ib = { r->in, r->in_len, r->in_pos };
        ZSTD_outBuffer ob = { r->out, r->out_cap, 0 };
        size_t ret = ZSTD_decompressStream(r->dctx, &ob, &ib);
        r->in_pos = ib.pos;
        if (ZSTD_isError(ret)) {
            errf(r->err, sizeof r->err, "%s: corrupt zstd data after %llu "
                 "decompressed bytes: %s", r->path,
                 (unsigned long long)r->offset, ZSTD_getErrorName(ret));
            r->done = 1;
            return ERR_INPUT;
        }
        r->frame_left = ret;
        if (ob.pos > 0) {
            r->out_len = ob.pos;
            return 1;
        }
    }
}

int zio_reader_getline(zio_reader *r, char **line, size_t *len)
{
    sb_clear(&r->line);
    int spanning = 0;
    for (;;) {
        if (r->out_pos >= r->out_len) {
            int rc = fill_out(r);
            if (rc < 0) return rc;
            if (rc == 0) {
                if (!spanning) return 0;
                /* Last line without a trailing newline. */
                r->lineno++;
                goto got_spanning;
            }
        }
        char *start = r->out + r->out_pos;
        size_t avail = r->out_len - r->out_pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if ((spanning ? r->line.len : 0) + take > r->max_line) {
            errf(r->err, sizeof r->err, "%s:%llu: line longer than %zu bytes",
                 r->path, (unsigned long long)r->lineno + 1, r->max_line);
            return ERR_INPUT;
        }
        r->offset += take + (nl ? 1 : 0);
        r->out_pos += take + (nl ? 1 : 0);
        if (nl && !spanning) {
            r->lineno++;
            *nl = '\0';
            if (take && start[take - 1] == '\r') start[--take] = '\0';
            *line = start;
            *len = take;
            return 1;
        }
        sb_add(&r->line, start, take);
        spanning = 1;
        if (nl) {
            r->lineno++;
            goto got_spanning;
        }
    }
got_spanning:
    if (r->line.len && r->line.buf[r->line.len - 1] == '\r')
        r->line.buf[--r->line.len] = '\0';
    if (!r->line.buf) sb_reserve(&r->line, 1), r->line.buf[0] = '\0';
    *line = r->line.buf;
    *len = r->line.len;
    return 1;
}

long zio_reader_read(zio_reader *r, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (r->out_pos >= r->out_len) {
            int rc = fill_out(r);
            if (rc < 0) return rc;
            if (rc == 0) break;
        }
        size_t k = r->out_len - r->out_pos;
        if (k > n - got) k = n - got;
        memcpy((char *)buf + got, r->out + r->out_pos, k);
        r->out_pos += k;
        got += k;
    }
    r->offset += got;
    return (long)got;
}

uint64_t zio_reader_lineno(const zio_reader *r) { return r->lineno; }
uint64_t zio_reader_offset(const zio_reader *r) { return r->offset; }
const char *zio_reader_error(const zio_reader *r) { return r->err; }
const char *zio_reader_path(const zio_reader *r) { return r->path; }
int zio_reader_is_zstd(const zio_reader *r) { return r->is_zstd; }

void zio_reader_close(zio_reader *r)
{
    if (!r) return;
    if (r->fd > 0) close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->in);
    free(r->out);
    free(r->path);
    sb_free(&r->line);
    free(r);
}

/* ---- writer ---- */

#define OUT_CAP (256u << 10)

struct zio_writer {
    int fd;
    char *path, *tmp;
    ZSTD_CStream *cs;
    unsigned char *buf;   /* pending plain bytes or compressed output */
    size_t len, cap;
    uint64_t bytes_in, bytes_out;
    char err[512];
    int failed;
};

int zio_path_wants_zstd(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".zst") == 0;
}

zio_writer *zio_writer_open(const char *path, int level, char *err, size_t errlen)
{
    struct stat st;
    zio_writer *w = xcalloc(1, sizeof *w);
    if (strcmp(path, "-") == 0) {
        w->fd = 1;
        w->path = xstrdup("<stdout>");
    } else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A device or a FIFO (/dev/null, a pipe): write in place; renaming
         * a file onto it would replace it. */
        w->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (w->fd < 0) {
            errf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
            free(w);
            return NULL;
        }
        w->path = xstrdup(path);
    } else {
        strbuf t = {0};
        sb_printf(&t, "%s.tmp-%ld", path, (long)getpid());
        w->fd = open(t.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) {
            errf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
            sb_free(&t);
            free(w);
            return NULL;
        }
        w->path = xstrdup(path);
        w->tmp = t.buf;
    }
    w->cap = level > 0 ? ZSTD_CStreamOutSize() : OUT_CAP;
    if (w->cap < OUT_CAP) w->cap = OUT_CAP;
    w->buf = xmalloc(w->cap);
    if (level > 0) {
        w->cs = ZSTD_createCStream();
        size_t rc = ZSTD_initCStream(w->cs, level);
        if (!w->cs || ZSTD_isError(rc)) {
            errf(err, errlen, "%s: cannot start zstd: %s", path,
                 w->cs ? ZSTD_getErrorName(rc) : "out of memory");
            zio_writer_abort(w);
            return NULL;
        }
    }
    return w;
}

static int write_all(zio_writer *w, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            errf(w->err, sizeof w->err, "%s: write error: %s", w->path, strerror(errno));
            w->failed = 1;
            return ERR_SYSTEM;
        }
        p += k;
        n -= (size_t)k;
        w->bytes_out += (uint64_t)k;
    }
    return 0;
}

static int zstd_pump(zio_writer *w, const void *src, size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer ib = { src, n, 0 };
    for (;;) {
        ZSTD_outBuffer ob = { w->buf, w->cap, 0 };
        size_t left = ZSTD_compressStream2(w->cs, &ob, &ib, mode);
        if (ZSTD_isError(left)) {
            errf(w->err, sizeof w->err, "%s: zstd: %s", w->path, ZSTD_getErrorName(left));
            w->failed = 1;
            return ERR_SYSTEM;
        }
        if (ob.pos && write_all(w, w->buf, ob.pos) < 0) return ERR_SYSTEM;
        if (mode == ZSTD_e_continue ? ib.pos == ib.size : left == 0) return 0;
    }
}

int zio_writer_write(zio_writer *w, const void *buf, size_t n)
{
    if (w->failed) return ERR_SYSTEM;
    w->bytes_in += n;
    if (w->cs) return zstd_pump(w, buf, n, ZSTD_e_continue);
    if (w->len + n > w->cap) {
        if (write_all(w, w->buf, w->len) < 0) return ERR_SYSTEM;
        w->len = 0;
        if (n > w->cap) return write_all(w, buf, n);
    }
    memcpy(w->buf + w->len, buf, n);
    w->len += n;
    return 0;
}

int zio_writer_flush(zio_writer *w)
{
    if (w->failed) return ERR_SYSTEM;
    if (w->cs) return zstd_pump(w, "", 0, ZSTD_e_flush);
    int rc = write_all(w, w->buf, w->len);
    w->len = 0;
    return rc;
}

uint64_t zio_writer_bytes_in(const zio_writer *w) { return w->bytes_in; }
uint64_t zio_writer_bytes_out(const zio_writer *w) { return w->bytes_out + w->len; }
const char *zio_writer_error(const zio_writer *w) { return w->err; }

static void writer_free(zio_writer *w)
{
    ZSTD_freeCStream(w->cs);
    free(w->buf);
    free(w->path);
    free(w->tmp);
    free(w);
}

int zio_writer_close(zio_writer *w, char *err, size_t errlen)
{
    if (!w) return 0;
    int rc = 0;
    if (w->failed) rc = ERR_SYSTEM;
    if (!rc && w->cs) rc = zstd_pump(w, "", 0, ZSTD_e_end);
    else if (!rc) rc = zio_writer_flush(w);
    if (w->fd > 1) {
        if (close(w->fd) < 0 && !rc) {
            errf(w->err, sizeof w->err, "%s: close: %s", w->path, strerror(errno));
            rc = ERR_SYSTEM;
        }
        if (w->tmp && !rc && rename(w->tmp, w->path) < 0) {
            errf(w->err, sizeof w->err, "%s: rename: %s", w->path, strerror(errno));
            rc = ERR_SYSTEM;
        }
        if (w->tmp && rc) unlink(w->tmp);
    }
    if (rc) errf(err, errlen, "%s", w->err);
    writer_free(w);
    return rc;
}

void zio_writer_abort(zio_writer *w)
{
    if (!w) return;
    if (w->fd > 1) {
        close(w->fd);
        if (w->tmp) unlink(w->tmp);
    }
    writer_free(w);
}
