/* fuzz_jsonl_import.c — libFuzzer target for the JSON importers: mooncake,
 * bailian, aibrix, sharegpt (the streaming array splitter, first turn and
 * every turn) and jsonl (default map, and a map with nested paths, every
 * record name and a constant block size).
 *
 * Each input is written to a scratch file and converted by every one of
 * them, with and without --skip-invalid (and --sort for the mapped jsonl
 * run when it kept a record). Crashes, sanitizer reports and
 * leaks are the bugs; the corpus in tests/fuzz/corpus/jsonl_import is
 * replayed by `make test`. */
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

static uint64_t run(const char *name, int skip, const import_opts *extra)
{
    import_opts o;
    if (extra) o = *extra;
    else memset(&o, 0, sizeof o);
    o.in_path = in_path;
    o.out_path = out_path;
    o.skip_invalid = skip;
    o.level = 0;
    import_stats st;
    char err[1200];
    int rc = import_run(import_find(name), &o, &st, err, sizeof err);
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
    static const char *const names[] = { "mooncake", "bailian", "aibrix", "sharegpt", "jsonl" };
    for (int i = 0; i < 5; i++)
        for (int skip = 0; skip < 2; skip++) run(names[i], skip, NULL);
    import_opts o;
    memset(&o, 0, sizeof o);
    o.sharegpt_turns = 1;
    o.arrival = "gamma:0.5";
    o.model = "m";
    run("sharegpt", 1, &o);
    memset(&o, 0, sizeof o);
    o.map = "t=a.b,id=id,session=s.x,turn=turn,parent=p,api=api,model=model,input=in,"
            "output=out,body=body,hash_ids=h,block_size=16";
    o.time_unit = "ms";
    if (run("jsonl", 1, &o)) {
        /* --sort keeps a superset of the unsorted run's records; it is
         * only run when there is at least one. */
        o.sort = 1;
        run("jsonl", 1, &o);
        o.sort = 0;
    }
    o.map = "t=t,input=n,block_size=bs,hash_ids=h";
    run("jsonl", 0, &o);
    return 0;
}
