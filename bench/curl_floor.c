/* curl_floor.c — libcurl's own CPU per paced request, the second floor of
 * bench/replay.sh cpu. Not part of the product: what a libcurl client costs
 * when it sends requests at trace times and reads their answers with
 * nothing the replay adds (no JSON, no per-event times, no trace record,
 * no log line), driven the way a replay worker drives libcurl: one thread,
 * one multi handle on epoll through the socket API, a timerfd armed at the
 * schedule's absolute deadlines (timer slack 1 ns), a timerfd for
 * libcurl's timeouts, easy handles kept with their options and reused, the
 * replay's receive buffer (1,024 bytes), header list and request body.
 * Response bytes are counted and dropped; SSE events are counted by their
 * blank-line ends.
 *
 *   curl_floor URL BODYFILE RATE COUNT [peek] [json]
 *
 * With `peek`, every socket epoll reports readable is first peeked for its
 * kernel receive stamp (SO_TIMESTAMPNS, recvmsg MSG_PEEK | MSG_TRUNC), as
 * the replay does with --rx-stamp kernel, so the stamp's cost shows apart.
 * With `json`, every SSE event's data (a whole body when the answer is not
 * a stream) is parsed by cJSON, the least a client must do to find the
 * tokens and usage in it (bench/floor_json.h).
 *
 * Prints one line, the keys of bench/replay_floor.c: requests= ok= events=
 * cpu_s= wall_s= us_per_req= us_per_event= lag_p50_us= lag_p99_us= (lag:
 * the time curl_multi_add_handle returned - the deadline). */
#define _GNU_SOURCE
#include "curl_epoll.h"
#include "floor_json.h"
#include <curl/curl.h>
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

typedef struct loop loop;

typedef struct handle {
    CURL *easy;
    loop *l;
    char last;                /* the previous body byte (an event ends at "\n\n") */
    char *ev;                 /* json: the body bytes not yet parsed */
    size_t ev_len, ev_cap;
    long events;              /* json: events of this answer parsed */
    struct handle *next_idle;
} handle;

struct loop {
    curl_ep ce;               /* libcurl's socket data */
    int sched_fd, curl_fd;
    int curl_due;             /* libcurl asked for an action at once */
    int peek, json;
    long done, ok, events, json_errors;
    handle *idle;
};

static void arm_abs(int fd, int64_t abs_ns)
{
    struct itimerspec its = { { 0, 0 }, { abs_ns / 1000000000, abs_ns % 1000000000 } };
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* json: parses the data of every whole event in h->ev and keeps the rest. */
static void parse_events(handle *h)
{
    size_t at = 0;
    for (const char *e; (e = memmem(h->ev + at, h->ev_len - at, "\n\n", 2)); at = (size_t)(e - h->ev) + 2)
        h->events++;
    if (!at) return;
    h->l->json_errors += floor_json_data_lines(h->ev, at);
    memmove(h->ev, h->ev + at, h->ev_len - at);
    h->ev_len -= at;
}

static void keep_bytes(handle *h, const char *buf, size_t len)
{
    if (h->ev_len + len > h->ev_cap) {
        h->ev_cap = (h->ev_len + len) * 2;
        h->ev = realloc(h->ev, h->ev_cap);
        if (!h->ev) {
            fprintf(stderr, "curl_floor: out of memory\n");
            exit(1);
        }
    }
    memcpy(h->ev + h->ev_len, buf, len);
    h->ev_len += len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    handle *h = ud;
    size_t len = size * n;
    if (h->l->json) {
        keep_bytes(h, buf, len);
        parse_events(h);
    }
    char prev = h->last;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' && prev == '\n') h->l->events++;
        prev = buf[i];
    }
    if (len) h->last = buf[len - 1];
    return len;
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    (void)purpose;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    return CURL_SOCKOPT_OK;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    loop *l = ud;
    (void)m;
    if (ms == 0) l->curl_due = 1;
    else if (ms > 0) arm_abs(l->curl_fd, now_ns() + (int64_t)ms * 1000000);
    return 0;
}

/* The kernel's receive stamp of fd's queued bytes, read and dropped: the
 * system call the replay makes per readable socket with --rx-stamp kernel. */
static void peek_stamp(int fd)
{
    char scratch[1];
    char ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = { scratch, sizeof scratch };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                         .msg_controllen = sizeof ctl };
    (void)recvmsg(fd, &mh, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
}

static handle *handle_get(loop *l, const char *url, const char *body, size_t blen,
                          struct curl_slist *headers)
{
    handle *h = l->idle;
    if (h) {
        l->idle = h->next_idle;
        h->last = 0;
        return h;
    }
    h = calloc(1, sizeof *h);
    CURL *e = curl_easy_init();
    if (!h || !e) {
        fprintf(stderr, "curl_floor: out of memory\n");
        exit(1);
    }
    h->easy = e;
    h->l = l;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)h);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (l->peek) curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    return h;
}

static void reap(loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->ce.multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        long code = 0;
        handle *h = NULL;
        CURL *e = m->easy_handle;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&h);
        l->ok += m->data.result == CURLE_OK && code == 200;
        l->done++;
        if (l->json && !h->events && h->ev_len)   /* not a stream */
            l->json_errors += floor_json_parse(h->ev, h->ev_len) < 0;
        h->ev_len = 0;
        h->events = 0;
        curl_multi_remove_handle(l->ce.multi, e);
        h->next_idle = l->idle;
        l->idle = h;
    }
}

static void action(loop *l, curl_socket_t s, int mask)
{
    int running;
    curl_multi_socket_action(l->ce.multi, s, mask, &running);
    reap(l);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: curl_floor URL BODYFILE RATE COUNT [peek] [json]\n");
        return 2;
    }
    size_t blen = 0;
    const char *body = read_body(argv[2], &blen);
    double rate = atof(argv[3]);
    long count = atol(argv[4]);
    if (!body || rate <= 0 || count <= 0) {
        fprintf(stderr, "curl_floor: bad arguments or unreadable %s\n", argv[2]);
        return 2;
    }
    raise_fd_limit();
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *hl = replay_headers();
    loop l = { .sched_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
               .curl_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) };
    curl_ep_init(&l.ce, on_timer, &l);
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "peek")) l.peek = 1;
        else if (!strcmp(argv[i], "json")) l.json = 1;
        else {
            fprintf(stderr, "curl_floor: unknown mode '%s' (peek, json)\n", argv[i]);
            return 2;
        }
    }
    if (l.json) floor_json_init();
    struct epoll_event sched_ev = { .events = EPOLLIN, .data.fd = -1 };
    struct epoll_event timer_ev = { .events = EPOLLIN, .data.fd = -2 };
    epoll_ctl(l.ce.ep, EPOLL_CTL_ADD, l.sched_fd, &sched_ev);
    epoll_ctl(l.ce.ep, EPOLL_CTL_ADD, l.curl_fd, &timer_ev);

    int64_t *lag = malloc((size_t)count * sizeof *lag);
    long sent = 0;
    double c0 = cpu_s();
    int64_t t0 = now_ns() + 2000000, gap = (int64_t)(1e9 / rate), next = t0;
    arm_abs(l.sched_fd, next);
    while (l.done < count) {
        struct epoll_event evs[256];
        int n = epoll_wait(l.ce.ep, evs, 256, l.curl_due ? 0 : 5000);
        if (n == 0 && !l.curl_due) {
            fprintf(stderr, "curl_floor: no answer for 5 s (%ld of %ld done)\n", l.done, count);
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint64_t v;
            if (fd == -1) {               /* the schedule's deadline */
                if (read(l.sched_fd, &v, sizeof v) < 0) { /* spurious */ }
                while (sent < count && next <= now_ns()) {
                    handle *h = handle_get(&l, argv[1], body, blen, hl);
                    curl_multi_add_handle(l.ce.multi, h->easy);
                    lag[sent++] = now_ns() - next;
                    next = t0 + sent * gap;
                }
                if (sent < count) arm_abs(l.sched_fd, next);
            } else if (fd == -2) {        /* libcurl's timeout */
                if (read(l.curl_fd, &v, sizeof v) < 0) { /* spurious */ }
                l.curl_due = 1;
            } else {
                if (l.peek && evs[i].events & EPOLLIN) peek_stamp(fd);
                action(&l, fd, curl_ep_mask(evs[i].events));
            }
        }
        if (l.curl_due) {
            l.curl_due = 0;
            action(&l, CURL_SOCKET_TIMEOUT, 0);
        }
    }
    double cpu = cpu_s() - c0;
    double wall = (double)(now_ns() - t0) / 1e9;
    qsort(lag, (size_t)sent, sizeof *lag, cmp_i64);
    printf("requests=%ld ok=%ld events=%ld json_errors=%ld cpu_s=%.3f wall_s=%.3f us_per_req=%.2f "
           "us_per_event=%.3f lag_p50_us=%.1f lag_p99_us=%.1f\n", l.done, l.ok, l.events, l.json_errors, cpu, wall,
           l.done ? 1e6 * cpu / (double)l.done : 0.0, l.events ? 1e6 * cpu / (double)l.events : 0.0,
           sent ? (double)lag[sent / 2] / 1e3 : 0.0, sent ? (double)lag[(size_t)((double)sent * 0.99)] / 1e3 : 0.0);
    while (l.idle) {
        handle *h = l.idle;
        l.idle = h->next_idle;
        curl_easy_cleanup(h->easy);
        free(h->ev);
        free(h);
    }
    curl_multi_cleanup(l.ce.multi);
    curl_slist_free_all(hl);
    free(lag);
    curl_global_cleanup();
    return l.ok == count ? 0 : 1;
}
