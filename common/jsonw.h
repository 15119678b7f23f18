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

#endif
