/* fuzz_trace_line.c — libFuzzer target for the trace record parser: any
 * bytes must give either a valid record or an error message, never a crash
 * or a leak. The first byte picks the header's default block size. */
#include "traces/trace.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trace_rec r;
    char err[512];
    memset(&r, 0, sizeof r);
    int64_t block = size ? data[0] % 3 * 16 : 0;
    if (trace_rec_parse(&r, (const char *)data, size, block, err, sizeof err) == 0) {
        /* A parsed record's views must be usable. */
        if (!r.id || !r.api || r.t_us < 0 || (r.hash_ids && r.block_size <= 0)) __builtin_trap();
        trace_rec_set_t_us(&r, r.t_us / 2);
        size_t n = strlen(r.id) + strlen(r.api);
    } else if (!err[0]) {
        __builtin_trap(); /* every error has a message */
    }
    trace_rec_clear(&r);
    return 0;
}
