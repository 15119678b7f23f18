/* jsonw.h — compact JSON text of a cJSON tree, faster than
 * cJSON_PrintUnformatted for the records traces are made of: integers (the
 * usual case: times, counts, ids) print directly instead of through
 * "%1.15g" and a read-back check. Other numbers print as cJSON prints them
 * ("%1.15g", or "%1.17g" when that does not read back the same); NaN and
 * infinities as null; strings escaped as JSON requires. */
#ifndef SAGELLM_JSONW_H
#define SAGELLM_JSONW_H

#include <cjson/cJSON.h>
#include "common/util.h"

/* Appends v as compact JSON to b. */
void jsonw_append(strbuf *b, const cJSON *v);

/* Parses s (n bytes, not necessarily NUL-terminated) as exactly one JSON
 * value: NULL when it is invalid or followed by anything but spaces, tabs
 * or a carriage return; then *stop (if not NULL) points where parsing
 * stopped, for messages. The caller frees the result with cJSON_Delete.
 * Thread-safe (no use of cJSON's global error pointer). */
cJSON *jsonw_parse_line(const char *s, size_t n, const char **stop);

#endif
