/* b64.c — see b64.h. */
#include "common/b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(strbuf *out, const void *src, size_t n)
{
    const unsigned char *s = src;
    sb_reserve(out, (n + 2) / 3 * 4);
    sb_add(out, "", 0);   /* NUL-terminated even when n == 0 */
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n) v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        char q[4] = { alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                      i + 1 < n ? alphabet[v >> 6 & 63] : '=', i + 2 < n ? alphabet[v & 63] : '=' };
        sb_add(out, q, 4);
    }
}

/* The 6-bit value of base64 character c, or -1. */
static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int b64_decode(strbuf *out, const char *s, size_t n)
{
    if (n % 4) return ERR_INPUT;
    sb_reserve(out, n / 4 * 3);
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=' && s[i + 3] == '=');
        if (pad && !last) return ERR_INPUT;
        unsigned v = 0;
        for (int j = 0; j < 4 - pad; j++) {
            int x = sextet(s[i + j]);
            if (x < 0) return ERR_INPUT;
            v = v << 6 | (unsigned)x;
        }
        v <<= 6 * pad;
        unsigned char b[3] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
        /* the bits a padded group drops must be zero (canonical form) */
        if ((pad == 1 && b[2]) || (pad == 2 && (b[1] || b[2]))) return ERR_INPUT;
        sb_add(out, b, (size_t)(3 - pad));
    }
    return 0;
}
