/* fuzz_runlog.c — libFuzzer target for the per-request log loader that
 * `report` and `compare` use (analysis/runlog.c over analysis/summary.c):
 * any bytes as requests.jsonl must load or be refused with a message, and a
 * loaded log must summarise and report without a crash or a leak. The first
 * byte picks grouping, SLO options and histogram mode. */
#include "analysis/report.h"
#include "analysis/runlog.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("requests.jsonl", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[1024];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    runlog_opts o;
    memset(&o, 0, sizeof o);
    uint8_t k = size ? data[0] : 0;
    o.by = (summary_group)(k % 5);
    if (k & 0x10) {
        o.slo_given = 1;
        o.sum.slo_ttft_ms = 200;
        o.sum.slo_e2el_ms = 5000;
    }
    if (k & 0x20) o.exclude_first = 3;
    if (k & 0x40) o.sum.exact = 1; /* histograms from the start */
    int rc = 0;
    runlog *r = runlog_open(path, &o, &rc, err, sizeof err);
    if (r) {
        cJSON *s = runlog_summary_json(r);
        cJSON_Delete(s);
        runlog_free(r);
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    close(fd);
    return 0;
}
