/* http_opts.h — how the HTTP clients of the tool (the replay's transfers,
 * its probes, the recording proxy's upstream) reach a server: TLS trust,
 * client certificates, HTTP/2. One owner for these libcurl settings so the
 * replay and the proxy behave the same (docs/real-servers.md, "TLS").
 *
 * Trust: --cacert FILE / --capath DIR, else the environment variables
 * libcurl's command-line tool and OpenSSL honour (CURL_CA_BUNDLE, then
 * SSL_CERT_FILE; SSL_CERT_DIR), else the system store. --insecure turns
 * verification off (recorded in run.json). --cert/--key: a client
 * certificate for mutual TLS (PEM). --http2: h2 over TLS through ALPN
 * (HTTP/1.1 when the server does not offer h2), h2c with prior knowledge
 * for http:// URLs. */
#ifndef SAGELLM_HTTP_OPTS_H
#define SAGELLM_HTTP_OPTS_H

#include <curl/curl.h>
#include <cjson/cJSON.h>

typedef struct http_opts {
    const char *cacert;        /* CA bundle (PEM), or NULL */
    const char *cacert_from;   /* "--cacert", "CURL_CA_BUNDLE", "SSL_CERT_FILE" or NULL */
    const char *capath;        /* CA directory (c_rehash'ed), or NULL */
    const char *capath_from;   /* "--capath", "SSL_CERT_DIR" or NULL */
    const char *cert, *key;    /* client certificate and key (PEM), or NULL */
    int insecure;              /* no peer or host verification */
    int http2;                 /* ask for HTTP/2 */
} http_opts;

/* Fills cacert/capath that the command line left unset from the
 * environment (CURL_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR). */
void http_opts_from_env(http_opts *h);

/* Checks that the named files exist and are readable and that --key comes
 * with --cert. Returns 0, or ERR_USAGE with a message. */
int http_opts_check(const http_opts *h, char *err, size_t errlen);

/* Sets the TLS and protocol options of h on an easy handle for url. */
void http_opts_apply(CURL *e, const http_opts *h, const char *url);

/* The protocol a finished transfer used: "http/1.0", "http/1.1", "h2",
 * "h3" or "unknown". */
const char *http_opts_protocol(CURL *e);

/* Adds {"tls": {...}} describing h to obj (run.json): trust source,
 * client certificate (path only), insecure, http2 asked. */
void http_opts_describe(const http_opts *h, cJSON *obj);

#endif
