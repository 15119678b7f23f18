/* fuzz_csv_import.c — libFuzzer target for the CSV importers (azure,
 * burstgpt, splitwise) and the libcsv layer under them (import_csv.c).
 *
 * Each input is written to a scratch file (the importers read paths
 * through zio, so zstd inputs are covered too) and converted by every CSV
 * importer, with and without --skip-invalid, and with --sort for azure
 * when the unsorted run kept at least one record (import_run's sorting of
 * zero records is left out).
 * Whatever the bytes, an importer must return 0 or an error code with a
 * message; crashes, sanitizer reports and leaks are the bugs. The corpus
 * in tests/fuzz/corpus/csv_import is replayed by `make test`. */
#include "traces/import.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], in_path[300], out_path[300];

static void cleanup(void)
{
    unlink(in_path);
    unlink(out_path);
    rmdir(dir);
}

static int setup(void)
{
    if (dir[0]) return 0;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/sagellm-fuzz-XXXXXX", base);
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return -1;
    }
    snprintf(in_path, sizeof in_path, "%s/in", dir);
    snprintf(out_path, sizeof out_path, "%s/out.jsonl", dir);
    atexit(cleanup);
    return 0;
}

static uint64_t run(const char *name, int skip, int sort)
{
    import_opts o;
    memset(&o, 0, sizeof o);
    o.in_path = in_path;
    o.out_path = out_path;
    o.skip_invalid = skip;
    o.sort = sort;
    o.level = 0;
    import_stats st;
    char err[1200];
    int rc = import_run(import_find(name), &o, &st, err, sizeof err);
    /* Every failure carries a message; a success writes a file. */
    if (rc && !err[0]) abort();
    unlink(out_path);
    return rc ? 0 : st.records;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (setup() < 0) return 0;
    FILE *f = fopen(in_path, "wb");
    if (!f) return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    static const char *const names[] = { "azure", "burstgpt", "splitwise" };
    uint64_t kept = 0;
    for (int i = 0; i < 3; i++) {
        run(names[i], 0, 0);
        uint64_t n = run(names[i], 1, 0);
        if (i == 0) kept = n;
    }
    if (kept) run("azure", 1, 1);
    return 0;
}
