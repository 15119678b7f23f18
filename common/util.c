/* util.c — see util.h. */
#include "common/util.h"
#include "common/url_mask.h"
#include "common/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/resource.h>

int err_to_exit(int err)
{
    switch (err) {
    case 0: return EXIT_OK;
    case ERR_INPUT: return EXIT_INPUT;
    case ERR_USAGE: return EXIT_USAGE;
    default: return EXIT_SYSTEM;
    }
}

void errf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || !len) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    char *safe = url_mask(line);   /* no message shows a URL's password or query values */
    fprintf(stderr, "sagellm-bench: %s%s\n", prefix, safe);
    free(safe);
}

void msg_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void msg_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

static void oom(size_t n)
{
    fprintf(stderr, "sagellm-bench: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) oom(n * sz);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void fmt_iso8601(int64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000LL);
    long us = (long)((real_ns % 1000000000LL) / 1000);
    struct tm tm;
    char tmp[32];
    gmtime_r(&s, &tm);
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ldZ", tmp, us);
}

void sb_reserve(strbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    b->buf = xrealloc(b->buf, cap);
    b->cap = cap;
}

void sb_add(strbuf *b, const void *p, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void sb_adds(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_addc(strbuf *b, char c)
{
    sb_reserve(b, 1);
    b->buf[b->len++] = c;
    b->buf[b->len] = '\0';
}

void sb_printf(strbuf *b, const char *fmt, ...)
{
    /* One pass when the text fits in the space already there (the usual
     * case once a buffer is reused), a second only when it must grow. */
    sb_reserve(b, 63);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->buf[b->len] = '\0';
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        sb_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void str_copy(char *dst, size_t size, const char *src)
{
    if (!size) return;
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int fmt_int(char *out, int64_t v)
{
    char tmp[24];
    int n = 0, k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) > 0);
    if (v < 0) out[k++] = '-';
    while (n > 0) out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

void sb_add_int(strbuf *b, int64_t v)
{
    sb_reserve(b, 21);
    b->len += (size_t)fmt_int(b->buf + b->len, v);
}

void sb_add_fixed(strbuf *b, int64_t v, int decimals)
{
    char tmp[48];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (decimals < 0) decimals = 0;
    if (decimals > 18) decimals = 18;
    for (int i = 0; i < decimals; i++, u /= 10) tmp[n++] = (char)('0' + u % 10);
    if (decimals) tmp[n++] = '.';
    do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) > 0);
    sb_reserve(b, (size_t)n + 1);
    if (v < 0) b->buf[b->len++] = '-';
    while (n > 0) b->buf[b->len++] = tmp[--n];
    b->buf[b->len] = '\0';
}

void sb_json_str(strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n + 2);
    b->buf[b->len++] = '"';
    size_t run = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = utf8_seq_len(s + i, n - i);
            if (k) {
                i += k;
                continue;
            }
            sb_add(b, s + run, i - run);
            sb_add(b, "\xef\xbf\xbd", 3);   /* U+FFFD for a byte that is not UTF-8 */
            run = ++i;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        sb_add(b, s + run, i - run);
        run = ++i;
        char esc[7] = { '\\', 0 };
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            sb_add(b, esc, 6);
            continue;
        }
        sb_add(b, esc, 2);
    }
    sb_add(b, s + run, n - run);
    sb_addc(b, '"');
}

void sb_clear(strbuf *b)
{
    b->len = 0;
    if (b->buf) b->buf[0] = '\0';
}

void sb_free(strbuf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) goto fail;
    return 0;
fail:
    errf(err, errlen, "%s: cannot create directory: %s", buf, strerror(errno));
    return ERR_SYSTEM;
}

char *file_read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        errf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    strbuf b = {0};
    char chunk[8192];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) sb_add(&b, chunk, k);
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        errf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        fclose(f);
        sb_free(&b);
        errno = e;
        return NULL;
    }
    fclose(f);
    sb_addc(&b, '\0');
    if (len) *len = b.len - 1;
    return b.buf;
}

int file_fnv_digest(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(out, len, "unknown");
        return ERR_SYSTEM;
    }
    uint64_t h = 1469598103934665603ULL, n = 0;
    unsigned char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < k; i++) h = (h ^ buf[i]) * 1099511628211ULL;
        n += k;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        snprintf(out, len, "unknown");
        return ERR_SYSTEM;
    }
    snprintf(out, len, "fnv1a64:%016llx:%llu", (unsigned long long)h, (unsigned long long)n);
    return 0;
}

void fd_limit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}
