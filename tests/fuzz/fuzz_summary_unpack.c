/* fuzz_summary_unpack.c — libFuzzer target for summary_unpack
 * (analysis/summary_pack.c), the bytes shards of a run send to be merged:
 * any bytes must be accepted or refused with a message; an accepted summary
 * must pack back to the very same bytes, compute its figures, and merge
 * into an empty summary. The first byte picks the options (exact -1, 0 or
 * 1; a TTFT SLO or none); the rest is the packed summary. */
#include "analysis/summary.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    summary_opts o;
    memset(&o, 0, sizeof o);
    o.exact = data[0] % 3 - 1;
    if (data[0] & 4) o.slo_ttft_ms = 200;
    char err[512] = "";
    summary *s = summary_unpack(data + 1, size - 1, &o, err, sizeof err);
    if (!s) {
        if (!err[0]) __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    strbuf p = {0};
    summary_pack(s, &p); /* before summary_json, which sorts exact values */
    if (p.len != size - 1 || memcmp(p.buf, data + 1, p.len)) __builtin_trap(); /* one form per summary */
    cJSON_Delete(summary_json(s));
    summary *m = summary_new(&o, err, sizeof err);
    if (!m || summary_merge(m, s) != 0) __builtin_trap();
    cJSON_Delete(summary_json(m));
    summary_free(m);
    sb_free(&p);
    summary_free(s);
    return 0;
}
