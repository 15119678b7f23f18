/* timer_baseline.c — the machine's own timer wake-up error, the floor under
 * the replay's send lag (bench/replay_fidelity.sh). Not part of the product.
 *
 * Waits for COUNT absolute CLOCK_MONOTONIC deadlines spaced like a trace at
 * RATE per second (constant spacing, or exponential gaps with `poisson`),
 * the way a replay worker does: one timerfd armed with TFD_TIMER_ABSTIME,
 * waited on with epoll_wait, timer slack set to 1 ns. For each deadline it
 * records (time read after the wake-up) - (deadline) and prints, on one
 * line of key=value pairs on stdout:
 *
 *   n=COUNT p50_us= p90_us= p99_us= p999_us= max_us= mean_us=
 *
 * Percentiles are exact over the recorded values (linear interpolation
 * between closest ranks, as numpy's default).
 *
 *   timer_baseline RATE COUNT [constant|poisson]
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile p (0..100) of sorted v[0..n), numpy's linear method. */
static double pct(const int64_t *v, size_t n, double p)
{
    double r = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)r;
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return (double)v[lo] + (r - (double)lo) * (double)(v[hi] - v[lo]);
}

/* xorshift64* in (0, 1]: the exponential gaps of a poisson process. */
static double unif(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return ((double)((*s * 2685821657736338717ULL) >> 11) + 1.0) / 9007199254740993.0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: timer_baseline RATE COUNT [constant|poisson]\n");
        return 2;
    }
    double rate = atof(argv[1]);
    long count = atol(argv[2]);
    int poisson = argc > 3 && !strcmp(argv[3], "poisson");
    if (rate <= 0 || count <= 0) {
        fprintf(stderr, "timer_baseline: RATE and COUNT must be positive\n");
        return 2;
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
        perror("timer_baseline: timerfd/epoll");
        return 1;
    }
    int64_t *lat = malloc((size_t)count * sizeof *lat);
    if (!lat) {
        perror("timer_baseline: malloc");
        return 1;
    }
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    double gap = 1e9 / rate, t = 0;
    int64_t t0 = now_ns() + 2000000; /* start 2 ms from now, like a replay */
    for (long i = 0; i < count; i++) {
        int64_t deadline = t0 + (int64_t)t;
        t += poisson ? -log(unif(&seed)) * gap : gap;
        int64_t now = now_ns();
        if (deadline > now) {
            struct itimerspec its = { { 0, 0 }, { deadline / 1000000000, deadline % 1000000000 } };
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
            struct epoll_event out;
            while (epoll_wait(ep, &out, 1, -1) < 1) {}
            uint64_t v;
            if (read(tfd, &v, sizeof v) < 0) { /* already read */ }
            now = now_ns();
        }
        lat[i] = now - deadline; /* late by; a deadline already past counts too */
    }
    qsort(lat, (size_t)count, sizeof *lat, cmp_i64);
    double sum = 0;
    for (long i = 0; i < count; i++) sum += (double)lat[i];
    printf("n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f\n",
           count, pct(lat, (size_t)count, 50) / 1e3, pct(lat, (size_t)count, 90) / 1e3,
           pct(lat, (size_t)count, 99) / 1e3, pct(lat, (size_t)count, 99.9) / 1e3,
           (double)lat[count - 1] / 1e3, sum / (double)count / 1e3);
    free(lat);
    close(tfd);
    close(ep);
    return 0;
}
