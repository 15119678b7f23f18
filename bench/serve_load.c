/* serve_load.c — load generator and machine baselines for bench/serve_*.sh.
 * Not part of the product: a deliberately small epoll client that keeps N
 * streaming requests open against `sagellm-bench serve` (each connection
 * sends its next request as soon as the previous stream ends) and counts
 * SSE events; plus two baselines measured on the same machine in the same
 * run: raw loopback small-write throughput, and timer wake-up lateness.
 *
 *   serve_load stream PORT CONNS MAX_TOKENS SECONDS [PATH]
 *   serve_load raw CONNS SECONDS BYTES [WRITER_CPU READER_CPU]
 *   serve_load timer COUNT PERIOD_US
 *
 * Output: one line of key=value pairs on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* ------------------------------------------------------------ stream */

typedef struct conn {
    int fd;
    char tail[8];            /* last bytes of the previous read, for matches across reads */
    int ntail;
    int done_seen;           /* "[DONE]" seen in this response */
    long events;
} conn;

static const char *req_fmt =
    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Content-Length: %d\r\n\r\n%s";

static int stream_main(int argc, char **argv)
{
    if (argc < 6) return 2;
    int port = atoi(argv[2]), n = atoi(argv[3]), maxtok = atoi(argv[4]);
    double secs = atof(argv[5]);
    const char *path = argc > 6 ? argv[6] : "/v1/completions";
    char body[256], req[1024];
    int bl = snprintf(body, sizeof body, "{\"prompt\":\"benchmark\",\"max_tokens\":%d,"
                      "\"ignore_eos\":true,\"stream\":true}", maxtok);
    int rl = snprintf(req, sizeof req, req_fmt, path, bl, body);
    raise_nofile();
    int ep = epoll_create1(0);
    conn *c = calloc((size_t)n, sizeof *c);
    for (int i = 0; i < n; i++) {
        c[i].fd = connect_to(port);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    /* All connections are open: start every stream together. */
    int64_t t0 = now_ns(), tend = t0 + (int64_t)(secs * 1e9);
    for (int i = 0; i < n; i++)
        if (write(c[i].fd, req, (size_t)rl) != rl) die("write");
    long events = 0, streams = 0, errors = 0, open = n;
    int stopping = 0;
    static char buf[1 << 16];
    struct epoll_event evs[512];
    while (open > 0) {
        int k = epoll_wait(ep, evs, 512, 1000);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        int64_t now = now_ns();
        if (now >= tend) stopping = 1;
        if (now >= tend + 30000000000LL) break;          /* a bound, whatever happens */
        for (int j = 0; j < k; j++) {
            conn *x = evs[j].data.ptr;
            ssize_t r = read(x->fd, buf + 8, sizeof buf - 8);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                errors++;
                close(x->fd);
                open--;
                continue;
            }
            /* Count "data: " and spot "[DONE]" then the last chunk "0\r\n\r\n". */
            char *p = buf + 8 - x->ntail;
            memcpy(p, x->tail, (size_t)x->ntail);
            size_t len = (size_t)r + (size_t)x->ntail;
            for (char *q = p; (q = memmem(q, len - (size_t)(q - p), "data: ", 6)); q += 6) {
                if (!x->done_seen && (size_t)(q - p) + 12 <= len && !memcmp(q + 6, "[DONE]", 6))
                    x->done_seen = 1;
                else
                    x->events++;
            }
            if (!x->done_seen && memmem(p, len, "[DONE]", 6)) x->done_seen = 1;
            int ended = x->done_seen && memmem(p, len, "\r\n0\r\n\r\n", 7);
            x->ntail = len < 7 ? (int)len : 7;
            memcpy(x->tail, p + len - (size_t)x->ntail, (size_t)x->ntail);
            if (ended) {
                streams++;
                events += x->events;
                x->events = 0;
                x->done_seen = 0;
                x->ntail = 0;
                if (stopping) {
                    close(x->fd);
                    open--;
                } else if (write(x->fd, req, (size_t)rl) != rl) {
                    errors++;
                }
            }
        }
    }
    double el = (double)(now_ns() - t0) / 1e9;
    printf("conns=%d streams=%ld events=%ld seconds=%.3f events_per_s=%.0f errors=%ld unfinished=%ld\n",
           n, streams, events, el, (double)events / el, errors, open);
    return 0;
}

/* ------------------------------------------------------------ raw */

typedef struct raw_args { int lfd, n, bytes, cpu; volatile int stop; long writes; } raw_args;

static void pin(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The server side of the baseline: accept n connections, then write
 * `bytes`-sized messages round-robin as fast as the sockets take them. */
static void *raw_server(void *p)
{
    raw_args *a = p;
    pin(a->cpu);
    int *fds = calloc((size_t)a->n, sizeof *fds);
    for (int i = 0; i < a->n; i++) {
        fds[i] = accept(a->lfd, NULL, NULL);
        if (fds[i] < 0) die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    char msg[4096];
    memset(msg, 'x', sizeof msg);
    long w = 0;
    while (!a->stop)
        for (int i = 0; i < a->n && !a->stop; i++)
            if (write(fds[i], msg, (size_t)a->bytes) == a->bytes) w++;
    a->writes = w;
    for (int i = 0; i < a->n; i++) close(fds[i]);
    free(fds);
    return NULL;
}

static int raw_main(int argc, char **argv)
{
    if (argc < 5) return 2;
    raw_args a = { .n = atoi(argv[2]), .bytes = atoi(argv[4]), .cpu = -1 };
    double secs = atof(argv[3]);
    if (argc > 6) {
        a.cpu = atoi(argv[5]);
        pin(atoi(argv[6]));
    }
    raise_nofile();
    a.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(a.lfd, (struct sockaddr *)&sa, sizeof sa) || listen(a.lfd, 4096) ||
        getsockname(a.lfd, (struct sockaddr *)&sa, &sl))
        die("listen");
    pthread_t th;
    pthread_create(&th, NULL, raw_server, &a);
    int ep = epoll_create1(0);
    int *fds = calloc((size_t)a.n, sizeof *fds);
    for (int i = 0; i < a.n; i++) {
        fds[i] = connect_to(ntohs(sa.sin_port));
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    static char buf[1 << 16];
    struct epoll_event evs[512];
    int64_t t0 = now_ns(), tend = t0 + (int64_t)(secs * 1e9);
    while (now_ns() < tend) {
        int k = epoll_wait(ep, evs, 512, 100);
        for (int j = 0; j < k; j++)
            while (read(evs[j].data.fd, buf, sizeof buf) > 0) {}
    }
    a.stop = 1;
    double el = (double)(now_ns() - t0) / 1e9;
    for (int i = 0; i < a.n; i++) close(fds[i]);
    pthread_join(th, NULL);
    printf("conns=%d bytes=%d writes=%ld seconds=%.3f writes_per_s=%.0f\n", a.n, a.bytes,
           a.writes, el, (double)a.writes / el);
    return 0;
}

/* ------------------------------------------------------------ timer */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* How late clock_nanosleep(TIMER_ABSTIME) wakes on this machine, with the
 * same timer slack the engine uses: the floor under any pacing figure. */
static int timer_main(int argc, char **argv)
{
    if (argc < 4) return 2;
    int n = atoi(argv[2]);
    int64_t period = (int64_t)atoi(argv[3]) * 1000;
    int64_t *late = calloc((size_t)n, sizeof *late);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t t = now_ns() + period;
    for (int i = 0; i < n; i++, t += period) {
        struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        late[i] = now_ns() - t;
    }
    qsort(late, (size_t)n, sizeof *late, cmp64);
    printf("count=%d p50_us=%.1f p99_us=%.1f max_us=%.1f\n", n, (double)late[n / 2] / 1e3,
           (double)late[(size_t)n * 99 / 100] / 1e3, (double)late[n - 1] / 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc > 1 && !strcmp(argv[1], "stream")) rc = stream_main(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "raw")) rc = raw_main(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "timer")) rc = timer_main(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: serve_load stream PORT CONNS MAX_TOKENS SECONDS [PATH]\n"
                        "       serve_load raw CONNS SECONDS BYTES [WRITER_CPU READER_CPU]\n"
                        "       serve_load timer COUNT PERIOD_US\n");
    return rc;
}
