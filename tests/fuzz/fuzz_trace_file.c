/* fuzz_trace_file.c — libFuzzer target for the whole trace reader: the input
 * is a file (plain or zstd, any bytes) read through trace_reader with and
 * without --skip-invalid semantics. Never crashes, never loops, never leaks. */
#include "traces/trace_io.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(const char *path, unsigned flags)
{
    char err[1024];
    trace_reader *r = trace_reader_open(path, flags, err, sizeof err);
    if (!r) {
        if (!err[0]) __builtin_trap();
        return;
    }
    trace_rec *rec;
    int rc;
    size_t guard = 0;
    while ((rc = trace_reader_next(r, &rec)) != 0) {
        if (rc < 0 && trace_reader_fatal(r)) break;
        if (++guard > 10000000) __builtin_trap();
    }
    trace_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_all(path, 0);
    read_all(path, TRACE_SKIP_INVALID);
    close(fd);
    return 0;
}
