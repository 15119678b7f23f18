/* req_headers.c — see req_headers.h. */
#include "replay/req_headers.h"
#include "common/header_rule.h"
#include "common/util.h"

#include <string.h>
#include <strings.h>

#define REQ_HEADER_VALUE_MAX 8192

/* Headers the transport sets from the body it sends, never from a trace. */
static const char *const transport_owned = "content-type,content-encoding,accept-encoding";

/* Is name (len bytes) already in the run's list ("Name: value" lines)? */
static int in_run(const struct curl_slist *run, const char *name, size_t len)
{
    for (const struct curl_slist *h = run; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        if (colon && (size_t)(colon - h->data) == len && !strncasecmp(h->data, name, len)) return 1;
    }
    return 0;
}

int req_headers_allowed(const client_opts *co, const struct curl_slist *run,
                        const char *name, size_t len)
{
    if (!header_rule_kept(name, len) || header_rule_listed(transport_owned, name, len)) return 0;
    if (in_run(run, name, len)) return 0;
    if (co->headers_allow && !header_rule_listed(co->headers_allow, name, len)) return 0;
    if (co->headers_deny && header_rule_listed(co->headers_deny, name, len)) return 0;
    return 1;
}

/* An HTTP token character (RFC 9110 tchar). */
static int tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Is this captured header safe to put on the wire as it is? */
static int well_formed(const char *name, const char *value)
{
    if (!*name) return 0;
    for (const char *p = name; *p; p++)
        if (!tchar(*p)) return 0;
    size_t n = 0;
    for (const char *p = value; *p; p++, n++)
        if (*p == '\r' || *p == '\n' || n >= REQ_HEADER_VALUE_MAX) return 0;
    return 1;
}

struct curl_slist *req_headers_list(const client_opts *co, const struct curl_slist *run,
                                    const cJSON *rec_headers, int *nadded)
{
    struct curl_slist *out = NULL;
    *nadded = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, rec_headers) {
        if (!h->string || !cJSON_IsString(h) || !well_formed(h->string, h->valuestring)) continue;
        if (!req_headers_allowed(co, run, h->string, strlen(h->string))) continue;
        if (!out)
            for (const struct curl_slist *r = run; r; r = r->next) out = curl_slist_append(out, r->data);
        strbuf line = {0};
        /* "Name;" is libcurl's way of sending a header with an empty value. */
        if (*h->valuestring) sb_printf(&line, "%s: %s", h->string, h->valuestring);
        else sb_printf(&line, "%s;", h->string);
        out = curl_slist_append(out, line.buf);
        sb_free(&line);
        (*nadded)++;
    }
    return out;
}
