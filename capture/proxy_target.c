/* proxy_target.c — see proxy_target.h. */
#include "capture/proxy_target.h"
#include "common/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct proxy_upstream {
    CURLU *base;
    char *scheme, *host, *port;  /* of the upstream (curl_free) */
    char *prefix;                /* its path without trailing '/' ("" for none; malloc'd) */
};

/* The part of h named by what, or NULL (free with curl_free). */
static char *part(CURLU *h, CURLUPart what, unsigned flags)
{
    char *s = NULL;
    if (curl_url_get(h, what, &s, flags) != CURLUE_OK) return NULL;
    return s;
}

proxy_upstream *proxy_upstream_new(const char *url, char *err, size_t errlen)
{
    proxy_upstream *u = xcalloc(1, sizeof *u);
    u->base = curl_url();
    CURLUcode rc = u->base ? curl_url_set(u->base, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    if (rc != CURLUE_OK) {
        errf(err, errlen, "--upstream %s: %s", url, curl_url_strerror(rc));
        goto fail;
    }
    char *q = part(u->base, CURLUPART_QUERY, 0), *f = part(u->base, CURLUPART_FRAGMENT, 0);
    int extra = q || f;
    curl_free(q);
    curl_free(f);
    if (extra) {
        errf(err, errlen, "--upstream %s: expected http[s]://HOST:PORT[/PREFIX], without a query or fragment", url);
        goto fail;
    }
    u->scheme = part(u->base, CURLUPART_SCHEME, 0);
    u->host = part(u->base, CURLUPART_HOST, 0);
    u->port = part(u->base, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    char *path = part(u->base, CURLUPART_PATH, 0);
    if (!u->scheme || !u->host || !u->port || !path) {
        curl_free(path);
        errf(err, errlen, "--upstream %s: expected http[s]://HOST:PORT[/PREFIX]", url);
        goto fail;
    }
    size_t n = strlen(path);
    while (n && path[n - 1] == '/') n--;
    u->prefix = xstrndup(path, n);
    curl_free(path);
    return u;
fail:
    proxy_upstream_free(u);
    return NULL;
}

void proxy_upstream_free(proxy_upstream *u)
{
    if (!u) return;
    curl_url_cleanup(u->base);
    curl_free(u->scheme);
    curl_free(u->host);
    curl_free(u->port);
    free(u->prefix);
    free(u);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Checks the path's segments once percent-decoded: no control byte or
 * space, and ".." never climbs above the path's start ('/', '\\' and their
 * escapes all count as separators). n bytes of p; raw bytes already
 * checked. Returns NULL or the reason. */
static const char *check_decoded_path(const char *p, size_t n)
{
    long depth = 0;
    char seg[3];
    size_t segn = 0;                     /* bytes of the current segment (capped at 3) */
    for (size_t i = 0; i <= n; i++) {
        int c = i == n ? '/' : (unsigned char)p[i];
        if (c == '%') {
            c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
            i += 2;
        }
        if (c < 0x21 || c == 0x7f) return "target has a control byte or space";
        if (c == '/' || c == '\\') {
            if (segn == 2 && seg[0] == '.' && seg[1] == '.') depth--;
            else if (segn && !(segn == 1 && seg[0] == '.')) depth++;
            if (depth < 0) return "target climbs above the upstream's path";
            segn = 0;
        } else if (segn < sizeof seg) {
            seg[segn++] = (char)c;
        }
    }
    return NULL;
}

const char *proxy_target_check(const char *t)
{
    if (!t || t[0] != '/' || t[1] == '/') return "target not origin-form";
    size_t pathlen = strcspn(t, "?");
    for (size_t i = 0; t[i]; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x21 || c > 0x7e) return "target has a byte not allowed in a URL";
        if (c == '\\' || c == '#') return "target not origin-form";
        if (c == '%') {
            if (hexval(t[i + 1]) < 0 || hexval(t[i + 2]) < 0) return "target has a bad %-escape";
            int d = hexval(t[i + 1]) * 16 + hexval(t[i + 2]);
            if (d == 0 || d == '\r' || d == '\n') return "target has a control byte or space";
            i += 2;
        }
    }
    return check_decoded_path(t, pathlen);
}

/* 1 when url names u's scheme, host and port. */
static int same_origin(const proxy_upstream *u, const char *url)
{
    CURLU *h = curl_url();
    if (!h || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(h);
        return 0;
    }
    char *s = part(h, CURLUPART_SCHEME, 0), *host = part(h, CURLUPART_HOST, 0);
    char *port = part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT), *user = part(h, CURLUPART_USER, 0);
    char *bu = part(u->base, CURLUPART_USER, 0);
    int same = s && host && port && !strcasecmp(s, u->scheme) && !strcasecmp(host, u->host) &&
               !strcmp(port, u->port) && (!user || (bu && !strcmp(user, bu)));
    curl_free(s);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(bu);
    curl_url_cleanup(h);
    return same;
}

char *proxy_upstream_url(const proxy_upstream *u, const char *target, const char **reason)
{
    *reason = proxy_target_check(target);
    if (*reason) return NULL;
    size_t pathlen = strcspn(target, "?");
    strbuf path = {0};
    sb_printf(&path, "%s%.*s", u->prefix, (int)pathlen, target);
    CURLU *h = curl_url_dup(u->base);
    char *url = NULL;
    if (h && curl_url_set(h, CURLUPART_PATH, path.buf, 0) == CURLUE_OK &&
        curl_url_set(h, CURLUPART_QUERY, target[pathlen] ? target + pathlen + 1 : NULL, 0) == CURLUE_OK)
        url = part(h, CURLUPART_URL, 0);
    curl_url_cleanup(h);
    sb_free(&path);
    if (!url || !same_origin(u, url)) {
        curl_free(url);
        *reason = "target does not name the upstream";
        return NULL;
    }
    return url;
}
