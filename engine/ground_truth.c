/* ground_truth.c — see ground_truth.h. */
#include "engine/ground_truth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct ground_truth {
    FILE *f;
    char *path;
    pthread_mutex_t mu;
    long lines;
    int err;            /* errno of the first failure */
};

ground_truth *ground_truth_open(const char *path, const char *header_fields,
                                char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        errf(err, errlen, "cannot create ground-truth file %s: %s", path, strerror(errno));
        return NULL;
    }
    ground_truth *g = xcalloc(1, sizeof *g);
    g->f = f;
    g->path = xstrdup(path);
    pthread_mutex_init(&g->mu, NULL);
    /* Read the two clocks back to back (the realtime read sits between two
     * monotonic reads; their midpoint is the anchor). */
    int64_t m0 = now_mono_ns(), r = now_real_ns(), m1 = now_mono_ns();
    char iso[64];
    fmt_iso8601(r, iso, sizeof iso);
    fprintf(f, "{\"type\":\"server\",\"clock\":\"CLOCK_MONOTONIC\",\"anchor_mono_ns\":%lld,"
            "\"anchor_realtime_ns\":%lld,\"anchor_realtime\":\"%s\"%s%s}\n",
            (long long)(m0 + (m1 - m0) / 2), (long long)r, iso,
            header_fields && *header_fields ? "," : "", header_fields ? header_fields : "");
    if (fflush(f)) g->err = errno;
    return g;
}

int ground_truth_write(ground_truth *g, const char *line, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    if (fwrite(line, 1, len, g->f) != len || putc('\n', g->f) == EOF || fflush(g->f)) {
        if (!g->err) g->err = errno ? errno : EIO;
        rc = ERR_SYSTEM;
    } else {
        g->lines++;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

long ground_truth_lines(ground_truth *g)
{
    pthread_mutex_lock(&g->mu);
    long n = g->lines;
    pthread_mutex_unlock(&g->mu);
    return n;
}

int ground_truth_close(ground_truth *g, char *err, size_t errlen)
{
    if (!g) return 0;
    int rc = 0;
    if (fclose(g->f) && !g->err) g->err = errno;
    if (g->err) {
        errf(err, errlen, "writing ground-truth file %s: %s", g->path, strerror(g->err));
        rc = ERR_SYSTEM;
    }
    pthread_mutex_destroy(&g->mu);
    free(g->path);
    free(g);
    return rc;
}
