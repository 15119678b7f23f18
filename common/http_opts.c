/* http_opts.c — see http_opts.h. */
#include "common/http_opts.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void http_opts_from_env(http_opts *h)
{
    if (h->cacert) {
        if (!h->cacert_from) h->cacert_from = "--cacert";
    } else if ((h->cacert = env_nonempty("CURL_CA_BUNDLE"))) {
        h->cacert_from = "CURL_CA_BUNDLE";
    } else if ((h->cacert = env_nonempty("SSL_CERT_FILE"))) {
        h->cacert_from = "SSL_CERT_FILE";
    }
    if (h->capath) {
        if (!h->capath_from) h->capath_from = "--capath";
    } else if ((h->capath = env_nonempty("SSL_CERT_DIR"))) {
        h->capath_from = "SSL_CERT_DIR";
    }
}

static int check_path(const char *what, const char *from, const char *path, int dir,
                      char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
        errf(err, errlen, "%s %s: %s", from ? from : what, path, strerror(errno));
        return ERR_USAGE;
    }
    if (dir != !!S_ISDIR(st.st_mode)) {
        errf(err, errlen, "%s %s: expected a %s", from ? from : what, path, dir ? "directory" : "file");
        return ERR_USAGE;
    }
    return 0;
}

int http_opts_check(const http_opts *h, char *err, size_t errlen)
{
    if (h->cacert && check_path("--cacert", h->cacert_from, h->cacert, 0, err, errlen)) return ERR_USAGE;
    if (h->capath && check_path("--capath", h->capath_from, h->capath, 1, err, errlen)) return ERR_USAGE;
    if (h->cert && check_path("--cert", NULL, h->cert, 0, err, errlen)) return ERR_USAGE;
    if (h->key && check_path("--key", NULL, h->key, 0, err, errlen)) return ERR_USAGE;
    if (h->key && !h->cert) {
        errf(err, errlen, "--key needs --cert (the client certificate it belongs to)");
        return ERR_USAGE;
    }
    return 0;
}

void http_opts_apply(CURL *e, const http_opts *h, const char *url)
{
    int tls = !strncmp(url, "https://", 8);
    long ver = CURL_HTTP_VERSION_1_1;
    if (h->http2) ver = tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, ver);
    /* libcurl 7.88 (Debian 12) cannot reuse an h2c prior-knowledge
     * connection ("Error in the HTTP2 framing layer" on the second request;
     * its own tool does the same): one connection per h2c request. */
    if (h->http2 && !tls) curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    if (!tls) return;
    if (h->cacert) curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert);
    if (h->capath) curl_easy_setopt(e, CURLOPT_CAPATH, h->capath);
    if (h->cert) curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert);
    if (h->key) curl_easy_setopt(e, CURLOPT_SSLKEY, h->key);
    if (h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

const char *http_opts_protocol(CURL *e)
{
    long v = 0;
    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) != CURLE_OK) return "unknown";
    switch (v) {
    case CURL_HTTP_VERSION_1_0: return "http/1.0";
    case CURL_HTTP_VERSION_1_1: return "http/1.1";
    case CURL_HTTP_VERSION_2_0: return "h2";
    case CURL_HTTP_VERSION_3: return "h3";
    default: return "unknown";
    }
}

void http_opts_describe(const http_opts *h, cJSON *obj)
{
    cJSON *t = cJSON_CreateObject();
    if (h->cacert) {
        cJSON_AddStringToObject(t, "cacert", h->cacert);
        cJSON_AddStringToObject(t, "cacert_from", h->cacert_from ? h->cacert_from : "--cacert");
    }
    if (h->capath) {
        cJSON_AddStringToObject(t, "capath", h->capath);
        cJSON_AddStringToObject(t, "capath_from", h->capath_from ? h->capath_from : "--capath");
    }
    if (!h->cacert && !h->capath) cJSON_AddStringToObject(t, "trust", "system store");
    if (h->cert) cJSON_AddStringToObject(t, "client_cert", h->cert);
    cJSON_AddBoolToObject(t, "insecure", h->insecure);
    if (h->insecure)
        cJSON_AddStringToObject(t, "warning", "--insecure: the server's certificate and host name "
                                "were NOT verified");
    cJSON_AddBoolToObject(t, "http2_requested", h->http2);
    cJSON_AddItemToObject(obj, "tls", t);
}
