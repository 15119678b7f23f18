/* fuzz_dist.c — libFuzzer target for the DIST and arrival parsers and for
 * empirical value files: any bytes must give a distribution whose samples
 * stay in range, or an error with a message; never a crash or a leak.
 * Byte 0 picks the mode: bit 0 = what the rest is (a spec string, or the
 * contents of an empirical file), bit 1 = the unit (counts or durations). */
#include "traces/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *spec, dist_unit unit)
{
    dist *d = NULL;
    char err[512] = "";
    if (dist_parse(spec, unit, "input_tokens", &d, err, sizeof err) == 0) {
        rng r;
        rng_seed(&r, 1);
        for (int i = 0; i < 64; i++) {
            int64_t v = dist_sample(d, &r);
            if (v < 0 || v > (unit == DIST_COUNT ? DIST_MAX_COUNT : DIST_MAX_US)) __builtin_trap();
        }
        if (strcmp(dist_spec(d), spec)) __builtin_trap();
        dist_free(d);
    } else if (!err[0] || d) {
        __builtin_trap(); /* every error has a message and leaves nothing */
    }
    dist_arrival a;
    if (dist_arrival_parse(spec, 3.5, &a, err, sizeof err) == 0) {
        rng r;
        rng_seed(&r, 2);
        int64_t prev = -1;
        for (int i = 0; i < 64; i++) {
            int64_t t = dist_arrival_next_us(&a, &r);
            if (t < prev) __builtin_trap();
            prev = t;
        }
    } else if (!err[0]) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    dist_unit unit = data[0] & 2 ? DIST_DURATION : DIST_COUNT;
    if (!(data[0] & 1)) {
        char *spec = malloc(size);
        memcpy(spec, data + 1, size - 1);
        spec[size - 1] = '\0';
        /* Specs naming files are exercised by the file mode only. */
        if (strncmp(spec, "empirical:", 10)) check(spec, unit);
        free(spec);
        return 0;
    }
    char path[] = "/tmp/fuzz_dist.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    char spec[64];
    snprintf(spec, sizeof spec, "empirical:%s", path);
    check(spec, unit);
    unlink(path);
    return 0;
}
