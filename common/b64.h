/* b64.h — standard base64 (RFC 4648 §4, with '=' padding), used where
 * bytes that cannot be a JSON string must travel in one (a captured body
 * that is not valid UTF-8). */
#ifndef SAGELLM_B64_H
#define SAGELLM_B64_H

#include "common/util.h"

/* Appends the base64 text of s (n bytes) to out. */
void b64_encode(strbuf *out, const void *s, size_t n);

/* Decodes the base64 text s (n characters, padded, no whitespace) and
 * appends the bytes to out. Returns 0, or ERR_INPUT when s is not valid
 * base64 (out then holds a partial result the caller discards). */
int b64_decode(strbuf *out, const char *s, size_t n);

#endif
