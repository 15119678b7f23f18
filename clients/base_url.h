/* base_url.h — the rule that turns the user's --url into the two URLs every
 * HTTP client needs (docs/real-servers.md, "Base URL"):
 *
 *   --url http://h:8000            API base http://h:8000/v1        root http://h:8000
 *   --url http://h:8000/v1         API base http://h:8000/v1        root http://h:8000
 *   --url https://gw/openai/v1     API base https://gw/openai/v1    root https://gw/openai
 *   --url https://gw/api           API base https://gw/api/v1       root https://gw/api
 *
 * A path whose last segment is a version (v1, v2, ...) is the API base, as
 * in the OpenAI SDKs' base_url; any other path is a prefix under which the
 * server's root is mounted. OpenAI endpoints (/chat/completions,
 * /completions, /models) go under the API base; server endpoints (/health,
 * /metrics, LMDeploy's /generate) under the root. An endpoint given as the
 * URL (…/v1/chat/completions) is refused with a hint. The URL is parsed with
 * libcurl's URL API. */
#ifndef SAGELLM_BASE_URL_H
#define SAGELLM_BASE_URL_H

#include <stddef.h>

typedef struct base_url {
    char *api;      /* e.g. http://h:8000/v1 (no trailing /) */
    char *root;     /* e.g. http://h:8000 (no trailing /) */
} base_url;

/* Splits url per the rule above into b (both strings owned by b). Returns 0,
 * or ERR_USAGE with a message naming what is wrong. */
int base_url_parse(const char *url, base_url *b, char *err, size_t errlen);
void base_url_clear(base_url *b);

#endif
