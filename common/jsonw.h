/* jsonw.h — compact JSON text of a cJSON tree, faster than
 * cJSON_PrintUnformatted for the records traces are made of: integers (the
 * usual case: times, counts, ids) print directly instead of through
 * "%1.15g" and a read-back check. Other numbers print as cJSON prints them
 * ("%1.15g", or "%1.17g" when that does not read back the same); NaN and
 * infinities as null; strings escaped as JSON requires, always valid
 * UTF-8 (see sb_json_str). */
#ifndef SAGELLM_JSONW_H
#define SAGELLM_JSONW_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "common/util.h"

/* Appends v as compact JSON to b. */
void jsonw_append(strbuf *b, const cJSON *v);

/* cJSON_Print (pretty) or cJSON_PrintUnformatted of v, except that every
 * string (value or key) that is not valid UTF-8 is printed with each bad
 * byte as U+FFFD, as sb_json_str does: cJSON prints such bytes raw, which
 * strict JSON readers reject. The caller frees the text with cJSON_free. */
char *jsonw_print(const cJSON *v, int pretty);

/* Parses s (n bytes, not necessarily NUL-terminated) as exactly one JSON
 * value: NULL when it is invalid or followed by anything but spaces, tabs
 * or a carriage return; then *stop (if not NULL) points where parsing
 * stopped, for messages. The caller frees the result with cJSON_Delete.
 * Thread-safe (no use of cJSON's global error pointer). */
cJSON *jsonw_parse_line(const char *s, size_t n, const char **stop);

/* The value of v when it is an integer-valued number in [lo, hi]: returns 0
 * and sets *out, else -1 (*out untouched). */
int jsonw_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out);

/* Writes obj, pretty-printed with a final newline, to DIR/NAME through
 * DIR/NAME.tmp and a rename, so a reader never sees half a file. Returns
 * 0, or ERR_SYSTEM with "PATH: cannot write: ..." in err. */
int jsonw_write_file(const char *dir, const char *name, const cJSON *obj, char *err, size_t errlen);

#endif
