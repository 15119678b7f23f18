/* url_mask.c — see url_mask.h. */
#include "common/url_mask.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* 1 when c ends a URL embedded in text. */
static int url_end(char c)
{
    return isspace((unsigned char)c) || c == '\'' || c == '"' || c == '<' || c == '>' || c == '`';
}

/* Appends the query q (n bytes, without '?') with its values masked. */
static void mask_query(strbuf *out, const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && q[j] != '&' && q[j] != ';') j++;
        const char *eq = memchr(q + i, '=', j - i);
        if (eq) {
            sb_add(out, q + i, (size_t)(eq - (q + i)) + 1);
            sb_adds(out, "***");
        } else if (j > i) {
            sb_adds(out, "***");
        }
        if (j < n) sb_addc(out, q[j]);
        i = j + 1;
    }
}

/* Appends the URL part after "://" (s, n bytes) masked. */
static void mask_rest(strbuf *out, const char *s, size_t n)
{
    size_t auth = 0;
    while (auth < n && s[auth] != '/' && s[auth] != '?' && s[auth] != '#') auth++;
    const char *at = NULL;
    for (size_t i = 0; i < auth; i++)
        if (s[i] == '@') at = s + i;
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon) {
            sb_add(out, s, (size_t)(colon - s));
            sb_adds(out, ":***@");
        } else {
            sb_adds(out, "***@");
        }
        sb_add(out, at + 1, (size_t)(s + auth - at - 1));
    } else {
        sb_add(out, s, auth);
    }
    size_t i = auth;
    size_t path = i;
    while (i < n && s[i] != '?' && s[i] != '#') i++;
    sb_add(out, s + path, i - path);
    if (i < n && s[i] == '?') {
        size_t q = ++i;
        while (i < n && s[i] != '#') i++;
        sb_addc(out, '?');
        mask_query(out, s + q, i - q);
    }
    if (i < n) sb_adds(out, i + 1 < n ? "#***" : "#");
}

void url_mask_add(strbuf *out, const char *text, size_t n)
{
    size_t i = 0, done = 0;
    while (i + 3 <= n) {
        if (memcmp(text + i, "://", 3) != 0) {
            i++;
            continue;
        }
        size_t start = i + 3, end = start;
        while (end < n && !url_end(text[end])) end++;
        sb_add(out, text + done, start - done);
        mask_rest(out, text + start, end - start);
        i = done = end;
    }
    sb_add(out, text + done, n - done);
}

char *url_mask(const char *text)
{
    strbuf b = {0};
    url_mask_add(&b, text, strlen(text));
    if (!b.buf) sb_adds(&b, "");
    return b.buf;
}
