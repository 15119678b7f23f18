/* replay_floor.c — the machine's floor for an open-loop HTTP client, for
 * bench/replay.sh. Not part of the product: the least a client can do to
 * send requests at trace times and read their answers, with nothing the
 * replay adds (no libcurl, no JSON, no log): one thread, one epoll loop, a
 * timerfd armed at absolute deadlines (timer slack 1 ns), keep-alive
 * connections to 127.0.0.1:PORT, one fixed request (headers + BODYFILE)
 * written with one write(), the answer read until its end (Content-Length,
 * or the last chunk of a chunked SSE stream) and its SSE events counted.
 * The replay's CPU per request and per event are compared with this
 * program's, measured on the same server in the same run.
 *
 *   replay_floor PORT PATH BODYFILE RATE COUNT [json]
 *
 * With `json`, each whole answer's SSE events (its body when it is not a
 * stream) are also parsed by cJSON (bench/floor_json.h): the least CPU of
 * any client that reads the tokens and usage of an answer with the JSON
 * library the replay may use.
 *
 * Prints one line: requests= ok= events= json_errors= cpu_s= wall_s=
 * us_per_req= us_per_event= lag_p50_us= lag_p99_us= (lag: write time -
 * deadline). */
#define _GNU_SOURCE
#include "floor_clock.h"
#include "floor_json.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    int busy;
    size_t len, cap;
    char *buf;
    struct conn *next_idle;
} conn;

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("replay_floor: socket");
        exit(1);
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("replay_floor: connect");
        exit(1);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* 1 when buf holds a whole response; counts its SSE events into *ev and,
 * with json, the JSON texts cJSON refused into *refused. */
static int complete(const char *buf, size_t len, int json, long *ev, long *refused)
{
    const char *he = memmem(buf, len, "\r\n\r\n", 4);
    if (!he) return 0;
    size_t hlen = (size_t)(he - buf) + 4;
    const char *cl = memmem(buf, hlen, "Content-Length:", 15);
    if (cl) {
        size_t blen = (size_t)atol(cl + 15);
        if (len < hlen + blen) return 0;
        if (json) *refused += floor_json_parse(buf + hlen, blen) < 0;
        return 1;
    }
    if (len < 5 || memcmp(buf + len - 5, "0\r\n\r\n", 5)) return 0;
    long n = 0;
    for (const char *p = he; (p = memmem(p, (size_t)(buf + len - p), "data:", 5)); p += 5) n++;
    *ev += n;
    if (json) *refused += floor_json_data_lines(buf + hlen, len - hlen);
    return 1;
}

typedef struct floor_run {
    int port, ep, tfd;
    char *req;              /* headers + body, written with one write() */
    int rlen;
    int json;               /* parse every answer's JSON */
    long count, sent, done, ok, events, json_errors;
    int64_t t0, gap, next;  /* first deadline, spacing, next deadline */
    int64_t *lag;           /* write time - deadline, per request */
    conn *idle;             /* keep-alive connections without a request */
} floor_run;

/* The request: POST PATH with the body of BODYFILE. 0, or -1 if unreadable. */
static int make_request(floor_run *f, const char *path, const char *bodyfile)
{
    FILE *bf = fopen(bodyfile, "rb");
    if (!bf) return -1;
    static char body[1 << 16];
    size_t blen = fread(body, 1, sizeof body, bf);
    fclose(bf);
    size_t rcap = blen + 512;
    f->req = malloc(rcap);
    f->rlen = snprintf(f->req, rcap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n", path, f->port, blen);
    memcpy(f->req + f->rlen, body, blen);
    f->rlen += (int)blen;
    return 0;
}

static void arm(floor_run *f)
{
    struct itimerspec its = { { 0, 0 }, { f->next / 1000000000, f->next % 1000000000 } };
    timerfd_settime(f->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The deadline fired: writes every request now due, each on an idle
 * connection or a new one, and arms the timer at the next deadline. */
static void send_due(floor_run *f)
{
    uint64_t v;
    if (read(f->tfd, &v, sizeof v) < 0) { /* spurious */ }
    while (f->sent < f->count && f->next <= now_ns()) {
        conn *k = f->idle;
        if (k) f->idle = k->next_idle;
        else {
            k = calloc(1, sizeof *k);
            k->fd = connect_to(f->port);
            k->cap = 1 << 16;
            k->buf = malloc(k->cap);
            struct epoll_event e = { .events = EPOLLIN, .data.ptr = k };
            epoll_ctl(f->ep, EPOLL_CTL_ADD, k->fd, &e);
        }
        if (write(k->fd, f->req, (size_t)f->rlen) != f->rlen) {
            perror("replay_floor: write");
            exit(1);
        }
        f->lag[f->sent] = now_ns() - f->next;
        k->busy = 1;
        k->len = 0;
        f->sent++;
        f->next = f->t0 + f->sent * f->gap;
    }
    if (f->sent < f->count) arm(f);
}

/* c is readable: reads what is there (stopping at a short read) and, once
 * the answer is whole, counts it and makes the connection idle. */
static void read_answer(floor_run *f, conn *c)
{
    for (;;) {
        if (c->cap - c->len < 4096) c->buf = realloc(c->buf, c->cap *= 2);
        size_t space = c->cap - c->len;
        ssize_t r = read(c->fd, c->buf + c->len, space);
        if (r <= 0) {
            if (r < 0 && errno == EAGAIN) break;
            if (r == 0 || errno != EINTR) {
                fprintf(stderr, "replay_floor: connection closed by the server\n");
                exit(1);
            }
            continue;
        }
        c->len += (size_t)r;
        if ((size_t)r < space) break; /* a short read: drained */
    }
    if (c->busy && complete(c->buf, c->len, f->json, &f->events, &f->json_errors)) {
        f->ok += !memcmp(c->buf, "HTTP/1.1 200", 12);
        f->done++;
        c->busy = 0;
        c->next_idle = f->idle;
        f->idle = c;
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: replay_floor PORT PATH BODYFILE RATE COUNT [json]\n");
        return 2;
    }
    floor_run f = { .port = atoi(argv[1]), .count = atol(argv[5]), .json = argc > 6 && !strcmp(argv[6], "json") };
    double rate = atof(argv[4]);
    if (argc > 7 || (argc == 7 && !f.json)) {
        fprintf(stderr, "replay_floor: unknown mode '%s' (json)\n", argv[argc - 1]);
        return 2;
    }
    if (f.json) floor_json_init();
    if (rate <= 0 || f.count <= 0 || make_request(&f, argv[2], argv[3]) < 0) {
        fprintf(stderr, "replay_floor: bad arguments or unreadable %s\n", argv[3]);
        return 2;
    }
    struct rlimit nofile;   /* as the replay: as many connections as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    f.ep = epoll_create1(EPOLL_CLOEXEC);
    f.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(f.ep, EPOLL_CTL_ADD, f.tfd, &tev);
    f.lag = malloc((size_t)f.count * sizeof *f.lag);
    double c0 = cpu_s();
    f.t0 = f.next = now_ns() + 2000000;
    f.gap = (int64_t)(1e9 / rate);
    arm(&f);
    while (f.done < f.count) {
        struct epoll_event evs[256];
        int n = epoll_wait(f.ep, evs, 256, 5000);
        if (n == 0) {
            fprintf(stderr, "replay_floor: no answer for 5 s (%ld of %ld done)\n", f.done, f.count);
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) read_answer(&f, evs[i].data.ptr);
            else send_due(&f);   /* the deadline */
        }
    }
    double cpu = cpu_s() - c0;
    double wall = (double)(now_ns() - f.t0) / 1e9;
    long sent = f.sent;
    qsort(f.lag, (size_t)sent, sizeof *f.lag, cmp_i64);
    printf("requests=%ld ok=%ld events=%ld json_errors=%ld cpu_s=%.3f wall_s=%.3f us_per_req=%.2f "
           "us_per_event=%.3f lag_p50_us=%.1f lag_p99_us=%.1f\n", f.done, f.ok, f.events, f.json_errors, cpu, wall,
           1e6 * cpu / (double)f.done,
           f.events ? 1e6 * cpu / (double)f.events : 0.0, sent ? (double)f.lag[sent / 2] / 1e3 : 0.0,
           sent ? (double)f.lag[(size_t)((double)sent * 0.99)] / 1e3 : 0.0);
    return 0;
}
