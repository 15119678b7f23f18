/* utf8.h — UTF-8 validity, the one owner of the rule (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF, no truncated
 * sequences). What a peer sends is checked with it before it is parsed or
 * written as JSON; every JSON writer of the project uses it. */
#ifndef SAGELLM_UTF8_H
#define SAGELLM_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence that starts s (n > 0 bytes
 * available), or 0 when the bytes at s are not one. NUL counts as a valid
 * one-byte sequence. */
size_t utf8_seq_len(const char *s, size_t n);

/* 1 when all n bytes of s are valid UTF-8 (NUL bytes allowed), else 0. */
int utf8_valid(const char *s, size_t n);

/* The length of the longest prefix of s[0..n) that is valid UTF-8: n when
 * all of it is (NUL bytes allowed; callers that refuse them check apart). */
size_t utf8_valid_prefix(const char *s, size_t n);

#endif
