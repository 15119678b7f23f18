/* unit_main.c — runs the registered unit tests. */
#include "tests/unit/unit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct { const char *name; unit_fn fn; } tests[MAX_TESTS];
static int ntests, cur_failed;
static char tmpdir[256];

void unit_register(const char *name, unit_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cur_failed = 1;
}

const char *unit_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "%s/sagellm-unit-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

static void put_file(const char *path, const char *mode, const void *data, size_t n)
{
    FILE *f = fopen(path, mode);
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

void unit_write_file(const char *path, const void *data, size_t n)
{
    put_file(path, "wb", data, n);
}

void unit_write_text(const char *path, const char *text)
{
    put_file(path, "wb", text, strlen(text));
}

void unit_append_text(const char *path, const char *text)
{
    put_file(path, "ab", text, strlen(text));
}

const char *unit_shared(const char *name)
{
    static char buf[8][512];
    static int i;
    char *b = buf[i++ % 8];
    const char *dir = getenv("SAGELLM_SHARED_TRACES");
    snprintf(b, 512, "%s/%s", dir ? dir : "../shared/traces", name);
    return b;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        cur_failed = 0;
        tests[i].fn();
        if (cur_failed) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
