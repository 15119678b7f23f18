/* utf8.h — the one check of "is this valid UTF-8" (RFC 3629): what a peer
 * sends is checked with it before it is parsed or written as JSON. */
#ifndef SAGELLM_UTF8_H
#define SAGELLM_UTF8_H

#include <stddef.h>

/* Returns the length of the longest prefix of s[0..n) that is valid UTF-8:
 * n when all of it is. Rejects overlong forms, surrogates (U+D800..DFFF),
 * code points above U+10FFFF and truncated sequences. NUL bytes are valid
 * UTF-8 (U+0000); callers that refuse them check separately. */
size_t utf8_valid_prefix(const char *s, size_t n);

/* 1 when s[0..n) is valid UTF-8 as utf8_valid_prefix defines it, else 0. */
int utf8_valid(const char *s, size_t n);

#endif
