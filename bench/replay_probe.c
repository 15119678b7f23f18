/* replay_probe.c — runs one command (a replay) and measures it from the
 * outside, for bench/replay_*.sh. Not part of the product.
 *
 *   replay_probe [-i MS] [-s SAMPLES] [-o RESULT] [-p PID]... -- CMD ARGS...
 *
 * While CMD runs, every MS milliseconds (default 100; every 10 ms in the
 * first second) it appends one line
 * "t_mono_ns rss_kb fds cpu_ticks" to SAMPLES (VmRSS from /proc/PID/status,
 * the number of open descriptors from /proc/PID/fd, user + system CPU of all
 * its threads so far, exited ones included, in clock ticks from
 * /proc/PID/stat; t on CLOCK_MONOTONIC, the
 * clock of run.json's start_monotonic_ns, so samples line up with the
 * times in requests.jsonl). When CMD ends it writes one line of key=value
 * pairs to RESULT (default stdout):
 *
 *   exit=  wall_s=  user_s=  sys_s=  cpu_s=  maxrss_kb=     CMD, from wait4()
 *   pidN_cpu_s=                CPU used meanwhile by each -p PID (a server)
 *   machine_busy_s= ncpu=      CPU busy on the whole machine meanwhile
 *                              (/proc/stat), to see other load
 *
 * The child's CPU comes from the kernel's rusage of the child, so it counts
 * every thread of the replay, and nothing of the probe. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXP 8

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* utime + stime of a process in clock ticks, or -1. */
static long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Busy ticks of the whole machine (all but idle and iowait), or -1. */
static long long machine_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[10] = { 0 };
    int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (k < 4) return -1;
    /* user nice system idle iowait irq softirq steal (guest is in user) */
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = atol(line + 6);
            break;
        }
    fclose(f);
    return kb;
}

static long count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static volatile pid_t child;

static void forward(int sig)
{
    if (child > 0) kill(child, sig);
}

static void usage(void)
{
    fprintf(stderr, "usage: replay_probe [-i MS] [-s SAMPLES] [-o RESULT] [-p PID]... -- CMD ARGS...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long interval_ms = 100;
    const char *samples = NULL, *result = NULL;
    pid_t others[MAXP];
    int nothers = 0, i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "-i")) interval_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "-s")) samples = argv[++i];
        else if (!strcmp(argv[i], "-o")) result = argv[++i];
        else if (!strcmp(argv[i], "-p") && nothers < MAXP) others[nothers++] = (pid_t)atol(argv[++i]);
        else usage();
    }
    if (i >= argc || interval_ms <= 0) usage();
    FILE *sf = samples ? fopen(samples, "w") : NULL;
    if (samples && !sf) {
        perror(samples);
        return 1;
    }
    long long o0[MAXP];
    for (int k = 0; k < nothers; k++) o0[k] = proc_cpu_ticks(others[k]);
    long long m0 = machine_busy_ticks();
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    /* A probe told to stop passes it on, so it never leaves the child behind. */
    child = pid;
    signal(SIGINT, forward);
    signal(SIGTERM, forward);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            perror("wait4");
            return 1;
        }
        if (sf) {
            int64_t t = now_ns();
            long kb = rss_kb(pid), fds = count_fds(pid);
            long long cpu = proc_cpu_ticks(pid);
            if (kb >= 0) fprintf(sf, "%lld %ld %ld %lld\n", (long long)t, kb, fds, cpu);
        }
        /* Every 10 ms in the first second, to catch the state before the
         * first request (start-up done, nothing sent yet). */
        long ms = now_ns() - t0 < 1000000000LL && interval_ms > 10 ? 10 : interval_ms;
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    int64_t t1 = now_ns();
    long long m1 = machine_busy_ticks();
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (sf) fclose(sf);
    FILE *rf = result ? fopen(result, "w") : stdout;
    if (!rf) {
        perror(result);
        return 1;
    }
    double us = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double ss = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    fprintf(rf, "exit=%d wall_s=%.3f user_s=%.3f sys_s=%.3f cpu_s=%.3f maxrss_kb=%ld",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
            (double)(t1 - t0) / 1e9, us, ss, us + ss, ru.ru_maxrss);
    for (int k = 0; k < nothers; k++) {
        long long c = proc_cpu_ticks(others[k]);
        fprintf(rf, " pid%d_cpu_s=%.2f", k, c >= 0 && o0[k] >= 0 ? (double)(c - o0[k]) / tick : -1.0);
    }
    fprintf(rf, " machine_busy_s=%.2f ncpu=%ld clk_tck=%.0f\n", m0 >= 0 && m1 >= 0 ? (double)(m1 - m0) / tick : -1.0,
            sysconf(_SC_NPROCESSORS_ONLN), tick);
    if (result) fclose(rf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
