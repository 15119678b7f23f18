/* req_headers.h — a record's captured request headers, as --replay-headers
 * sends them: the record's `headers` object (lower-case name -> value, as
 * capture writes it) filtered by --replay-headers-allow/-deny, never a
 * secret or framing header (common/header_rule.h), never one the
 * transport owns (content type and encoding, accept-encoding), and never
 * one the run already sends (--header, the API key, X-Request-Id): the
 * run's own values win. */
#ifndef SAGELLM_REQ_HEADERS_H
#define SAGELLM_REQ_HEADERS_H

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include "clients/client.h"

/* 1 when the captured header name (len bytes) may be sent with the run's
 * header list run (a name in it wins) under co's allow/deny lists. */
int req_headers_allowed(const client_opts *co, const struct curl_slist *run,
                        const char *name, size_t len);

/* Returns a new list: a copy of run plus each of the record's headers
 * (rec_headers, a JSON object; values must be strings without CR, LF or
 * NUL, names HTTP tokens) that req_headers_allowed passes; or NULL when
 * none passes (the caller then uses run as it is). The caller frees the
 * list with curl_slist_free_all. *nadded is set to the headers added. */
struct curl_slist *req_headers_list(const client_opts *co, const struct curl_slist *run,
                                    const cJSON *rec_headers, int *nadded);

#endif
