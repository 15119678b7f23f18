/* tokcount.c — see tokcount.h. */
#include "common/tokcount.h"

static int is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

size_t tok_estimate(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t toks = 0;
    while (p < end) {
        unsigned char c = *p;
        if (is_alpha(c)) {
            size_t l = 0;
            while (p < end && is_alpha(*p)) p++, l++;
            toks += (l + 5) / 6;
        } else if (is_digit(c)) {
            size_t l = 0;
            while (p < end && is_digit(*p)) p++, l++;
            toks += (l + 2) / 3;
        } else if (c == ' ' || c == '\t') {
            p++;
        } else if (c == '\n' || c == '\r') {
            while (p < end && (*p == '\n' || *p == '\r')) p++;
            toks++;
        } else if (c < 0x80) {
            p++;
            toks++;
        } else {
            /* One UTF-8 character: a lead byte and its continuation bytes. */
            p++;
            while (p < end && (*p & 0xC0) == 0x80) p++;
            toks++;
        }
    }
    return toks;
}
