/* curl_epoll.h — what bench/curl_streams.c and bench/curl_floor.c share:
 * a libcurl multi handle driven through its socket API on an epoll set, as
 * a replay worker drives it, and the helpers around it. Not part of the
 * product; each program includes it once (static functions). */
#ifndef BENCH_CURL_EPOLL_H
#define BENCH_CURL_EPOLL_H

#include "floor_clock.h"
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

/* The multi handle and its epoll set; the first member of a program's
 * loop, given to libcurl as CURLMOPT_SOCKETDATA. */
typedef struct curl_ep {
    CURLM *multi;
    int ep;
} curl_ep;

/* CURLMOPT_SOCKETFUNCTION: keeps the epoll set to what libcurl wants. */
static int curl_ep_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    curl_ep *c = ud;
    (void)e;
    struct epoll_event ev = { .data.fd = s };
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(c->ep, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!sockp) {
        epoll_ctl(c->ep, EPOLL_CTL_ADD, s, &ev);
        curl_multi_assign(c->multi, s, c); /* any non-NULL: "added" */
    } else {
        epoll_ctl(c->ep, EPOLL_CTL_MOD, s, &ev);
    }
    return 0;
}

/* A multi handle and a new epoll set, wired together, with libcurl's
 * timer going to on_timer(timer_data) and no limit on kept connections. */
static void curl_ep_init(curl_ep *c, curl_multi_timer_callback on_timer, void *timer_data)
{
    c->multi = curl_multi_init();
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_ep_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, timer_data);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 100000L);
}

/* The CURL_CSELECT_* mask of what epoll reported. */
static int curl_ep_mask(uint32_t events)
{
    return (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
           (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
}

/* As the replay: as many connections as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The header list the replay sends with every request (replay/xfer.c
 * xfer_headers, without an API key). */
static struct curl_slist *replay_headers(void)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    return curl_slist_append(h, "Expect:");
}

/* The request body from path (at most 1 MiB), NUL-terminated; NULL when
 * it cannot be read. */
static char *read_body(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

#endif
