/* shard.c — see shard.h. */
#include "traces/shard.h"
#include "common/rng.h"
#include "common/util.h"

#include <string.h>

int trace_shard_of(const trace_rec *rec, uint64_t index, int n)
{
    if (n <= 1) return 0;
    uint64_t key = rec->session ? hash_str(rec->session) : index;
    return (int)(key % (uint64_t)n);
}

char *trace_shard_name(const char *pattern, int k, int n)
{
    strbuf b = {0};
    for (const char *p = pattern; *p; p++) {
        if (!strncmp(p, "{k}", 3)) sb_printf(&b, "%d", k), p += 2;
        else if (!strncmp(p, "{n}", 3)) sb_printf(&b, "%d", n), p += 2;
        else sb_addc(&b, *p);
    }
    sb_addc(&b, '\0');
    return b.buf;
}

int trace_header_split(const cJSON *header, int *k, int *n)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(header, "split");
    if (!s) return 0;
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(s, "shard");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(s, "shards");
    if (!cJSON_IsNumber(jk) || !cJSON_IsNumber(jn)) return -1;
    double dk = jk->valuedouble, dn = jn->valuedouble;
    if (dn < 1 || dn > 1e6 || dk < 1 || dk > dn || dk != (int)dk || dn != (int)dn) return -1;
    *k = (int)dk;
    *n = (int)dn;
    return 1;
}

int64_t trace_rec_orig_index(const trace_rec *rec)
{
    const cJSON *j = rec->json ? cJSON_GetObjectItemCaseSensitive(rec->json, "trace_index") : NULL;
    if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9007199254740992.0 ||
        j->valuedouble != (double)(int64_t)j->valuedouble)
        return -1;
    return (int64_t)j->valuedouble;
}
