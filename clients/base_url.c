/* base_url.c — see base_url.h. */
#include "clients/base_url.h"
#include "common/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when seg (n bytes) is a version segment: v followed by digits. */
static int is_version(const char *seg, size_t n)
{
    if (n < 2 || seg[0] != 'v') return 0;
    for (size_t i = 1; i < n; i++)
        if (!isdigit((unsigned char)seg[i])) return 0;
    return 1;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

/* The URL without path, query and fragment ("http://user@h:8000"). */
static char *origin_of(CURLU *u)
{
    CURLU *o = curl_url_dup(u);
    char *s = NULL, *out = NULL;
    curl_url_set(o, CURLUPART_PATH, "/", 0);
    curl_url_set(o, CURLUPART_QUERY, NULL, 0);
    curl_url_set(o, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(o, CURLUPART_URL, &s, 0) == CURLUE_OK) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/') n--;
        out = xstrndup(s, n);
    }
    curl_free(s);
    curl_url_cleanup(o);
    return out;
}

int base_url_parse(const char *url, base_url *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        errf(err, errlen, "--url must start with http:// or https://, got '%s'", url);
        return ERR_USAGE;
    }
    CURLU *u = curl_url();
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    char *path = NULL, *query = NULL, *origin = NULL;
    int rc = ERR_USAGE;
    if (uc != CURLUE_OK) {
        errf(err, errlen, "--url '%s': %s", url, curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query && *query) {
        errf(err, errlen, "--url '%s': a base URL has no query string", url);
        goto out;
    }
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    origin = origin_of(u);
    if (!origin) {
        errf(err, errlen, "--url '%s': cannot be parsed", url);
        goto out;
    }
    size_t n = path ? strlen(path) : 0;
    while (n > 0 && path[n - 1] == '/') n--;
    if (ends_with(path, n, "/chat/completions") || ends_with(path, n, "/completions") ||
        ends_with(path, n, "/models") || ends_with(path, n, "/generate")) {
        errf(err, errlen, "--url '%s' names an endpoint; give the base URL instead "
             "(e.g. http://host:8000 or http://host:8000/v1)", url);
        goto out;
    }
    const char *last = path ? path : "";
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/') last = path + i + 1;
    size_t lastlen = path ? (size_t)(path + n - last) : 0;
    strbuf api = {0}, root = {0};
    if (is_version(last, lastlen)) {
        sb_printf(&api, "%s%.*s", origin, (int)n, path);
        size_t rootlen = (size_t)(last - path) - 1;   /* drop "/vN" */
        sb_printf(&root, "%s%.*s", origin, (int)rootlen, path);
    } else {
        sb_printf(&root, "%s%.*s", origin, (int)n, path);
        sb_printf(&api, "%s/v1", root.buf);
    }
    b->api = api.buf;
    b->root = root.buf;
    rc = 0;
out:
    curl_free(path);
    curl_free(query);
    free(origin);
    curl_url_cleanup(u);
    return rc;
}

void base_url_clear(base_url *b)
{
    free(b->api);
    free(b->root);
    b->api = b->root = NULL;
}
