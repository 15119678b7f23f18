/* url_mask.h — the one place that hides secrets a URL can carry before it
 * is written or printed: credentials become `user:***@` (a user name alone,
 * which may itself be a token, `***@`), every query value `key=***` (a
 * parameter without a value `***`), a fragment `#***`. Scheme, host, port
 * and path stay as given. */
#ifndef SAGELLM_URL_MASK_H
#define SAGELLM_URL_MASK_H

#include "common/util.h"

/* Appends text (n bytes) to out with every URL in it ("scheme://..." up to
 * whitespace, a quote, '<', '>' or the end) masked as above. */
void url_mask_add(strbuf *out, const char *text, size_t n);

/* A masked copy of the NUL-terminated text; the caller frees it. */
char *url_mask(const char *text);

#endif
