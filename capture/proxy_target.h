/* proxy_target.h — which request targets the recording proxy forwards,
 * and the upstream URL it builds from one.
 *
 * A client's request target is hostile input: appended to the upstream URL
 * as text, "@other:port/x" makes the upstream a user name and sends the
 * request (and its Authorization) to another host. Only origin-form passes
 * ("/path[?query]": visible ASCII, well-formed %XX escapes, no "//" start,
 * no "\" or "#", no control byte or space even once percent-decoded, no
 * ".." climbing above the upstream's prefix), and the URL is built with
 * libcurl's URL API from the configured upstream, whose host and port are
 * checked again on the result.
 *
 * Ownership: proxy_upstream owns its parsed URL; proxy_upstream_url
 * returns a string the caller frees with curl_free. Thread-safe once made
 * (read only). */
#ifndef SAGELLM_PROXY_TARGET_H
#define SAGELLM_PROXY_TARGET_H

#include <stddef.h>

typedef struct proxy_upstream proxy_upstream;

/* Parses "http[s]://HOST[:PORT][/PREFIX]" (no query, no fragment). NULL
 * with err filled when it is not such a URL. */
proxy_upstream *proxy_upstream_new(const char *url, char *err, size_t errlen);

/* Frees u. NULL is a no-op. */
void proxy_upstream_free(proxy_upstream *u);

/* NULL when target may be forwarded, else the reason it may not (a
 * static phrase such as "target not origin-form"). */
const char *proxy_target_check(const char *target);

/* The upstream URL for a checked target: the upstream's prefix, then the
 * target's path and query as the client encoded them. NULL with *reason
 * set when the target fails proxy_target_check or the result would not
 * name the upstream's host and port. Free with curl_free. */
char *proxy_upstream_url(const proxy_upstream *u, const char *target, const char **reason);

#endif
