/* header_rule.h — which HTTP request headers may be stored in a trace and
 * sent again: the one rule capture (what a record keeps) and replay (what
 * `--replay-headers` sends from a record) both follow. */
#ifndef SAGELLM_HEADER_RULE_H
#define SAGELLM_HEADER_RULE_H

#include <stddef.h>

/* 1 when the header name (len bytes, any case) carries a secret: anything
 * named like a key, token, secret, password, auth, cookie, session or
 * credential (Authorization, X-Api-Key, Api-Key, Cookie, ...), and every
 * Proxy-* header. Names of 128 bytes or more count as secret. */
int header_rule_secret(const char *name, size_t len);

/* 1 when the header is hop-by-hop or framing, owned by the transport that
 * sends the request (Host, Connection, Content-Length, Transfer-Encoding,
 * Expect, Keep-Alive, TE, Trailer, Upgrade). */
int header_rule_framing(const char *name, size_t len);

/* 1 when a header may be kept in a trace: neither secret nor framing. */
int header_rule_kept(const char *name, size_t len);

/* 1 when name (len bytes) is one of the comma-separated names in list,
 * compared without case; spaces around names are ignored. */
int header_rule_listed(const char *list, const char *name, size_t len);

#endif
