/* parse.c — see parse.h. */
#include "common/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s) return -1;
    *out = v;
    return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
    int64_t v;
    if (parse_i64(s, &v) < 0 || v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

int parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int parse_prob(const char *s, double *out)
{
    double v;
    if (parse_double(s, &v) < 0 || v < 0 || v > 1) return -1;
    *out = v;
    return 0;
}

int parse_duration_us(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) return -1;
    double mult;
    if (!*end || !strcmp(end, "s")) mult = 1e6;
    else if (!strcmp(end, "ms")) mult = 1e3;
    else if (!strcmp(end, "us")) mult = 1;
    else if (!strcmp(end, "ns")) mult = 1e-3;
    else if (!strcmp(end, "m") || !strcmp(end, "min")) mult = 60e6;
    else if (!strcmp(end, "h")) mult = 3600e6;
    else if (!strcmp(end, "d")) mult = 86400e6;
    else return -1;
    double us = v * mult;
    if (us > 9.2e18) return -1;
    *out = (int64_t)llround(us);
    return 0;
}

void fmt_duration_us(int64_t us, char *buf, int len)
{
    if (us >= 1000000 || us <= -1000000) snprintf(buf, (size_t)len, "%.3fs", (double)us / 1e6);
    else if (us >= 1000 || us <= -1000) snprintf(buf, (size_t)len, "%.3fms", (double)us / 1e3);
    else snprintf(buf, (size_t)len, "%lldus", (long long)us);
}
