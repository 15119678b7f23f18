/* floor_clock.h — the clocks the floor programs of bench/replay.sh share
 * (bench/replay_floor.c, bench/curl_floor.c, bench/curl_streams.c through
 * curl_epoll.h): monotonic time, the process's CPU and a sort order for
 * lag samples. Not part of the product; static functions, one include per
 * program. */
#ifndef BENCH_FLOOR_CLOCK_H
#define BENCH_FLOOR_CLOCK_H

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* User + system CPU of the whole process so far, seconds. */
static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* qsort order of int64_t. */
static inline int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

#endif
