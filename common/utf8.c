/* utf8.c — UTF-8 validation (see utf8.h). */
#include "utf8.h"

/* Length of the valid sequence starting at p (at most `left` bytes), or 0. */
static size_t seq_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;           /* range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;            /* overlong */
        if (c == 0xED) hi = 0x9F;            /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;            /* overlong */
        if (c == 0xF4) hi = 0x8F;            /* above U+10FFFF */
    } else {
        return 0;                            /* continuation, C0, C1, F5..FF */
    }
    if (left < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = seq_len(p + i, n - i);
        if (!k) break;
        i += k;
    }
    return i;
}

int utf8_valid(const char *s, size_t n)
{
    return utf8_valid_prefix(s, n) == n;
}
