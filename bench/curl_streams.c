/* curl_streams.c — libcurl's own memory per stream in flight, the floor for
 * bench/replay.sh streams. Not part of the product: the least a libcurl
 * client can hold per streaming request, with nothing the replay adds (no
 * parser, no per-token times, no trace record, no log). One thread, one
 * multi handle driven through the socket API and epoll as a replay worker
 * drives it, one easy handle and one connection per stream, the replay's
 * headers and request body, the receive buffer size given (bench/replay.sh
 * gives libcurl's smallest, 1,024 bytes); every response byte is counted
 * and dropped.
 *
 *   curl_streams URL BODYFILE STREAMS RATE BUFSIZE
 *
 * Starts STREAMS requests at RATE per second, samples its own RSS
 * (/proc/self/statm) every 100 ms and before the first request, and waits
 * for every response. Prints one line:
 *   streams= ok= rx_bytes= idle_rss_kb= plateau_rss_kb= plateau_s=
 *   bytes_per_stream=
 * where the plateau is the last sample taken while all STREAMS were in
 * flight (all started, none ended), and bytes_per_stream is (plateau RSS -
 * idle RSS) / STREAMS. */
#define _GNU_SOURCE
#include "curl_epoll.h"
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct loop {
    curl_ep ce;           /* libcurl's socket data */
    long timeout_ms;      /* libcurl's wish: -1 none, 0 now */
    long inflight, started, done, ok;
    uint64_t rx;
} loop;

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    loop *l = ud;
    (void)buf;
    l->rx += size * n;
    return size * n;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    loop *l = ud;
    (void)m;
    l->timeout_ms = ms;
    return 0;
}

static void reap(loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->ce.multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        l->ok += m->data.result == CURLE_OK && code == 200;
        l->done++;
        l->inflight--;
        curl_multi_remove_handle(l->ce.multi, m->easy_handle);
        curl_easy_cleanup(m->easy_handle);
    }
}

static void start_one(loop *l, const char *url, const char *body, size_t blen,
                      struct curl_slist *headers, long bufsize)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, bufsize);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_multi_add_handle(l->ce.multi, e);
    l->started++;
    l->inflight++;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: curl_streams URL BODYFILE STREAMS RATE BUFSIZE\n");
        return 2;
    }
    size_t blen = 0;
    const char *body = read_body(argv[2], &blen);
    long streams = atol(argv[3]), bufsize = atol(argv[5]);
    double rate = atof(argv[4]);
    if (!body || streams <= 0 || rate <= 0) {
        fprintf(stderr, "curl_streams: bad arguments or unreadable %s\n", argv[2]);
        return 2;
    }
    raise_fd_limit();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *h = replay_headers();
    loop l = { .timeout_ms = -1 };
    curl_ep_init(&l.ce, on_timer, &l);

    long idle_kb = rss_kb(), plateau_kb = -1;
    int64_t t0 = now_ns(), gap = (int64_t)(1e9 / rate), next_sample = t0, plateau_from = -1;
    int64_t plateau_ns = 0;
    int running;
    while (l.started < streams || l.inflight > 0) {
        int64_t now = now_ns();
        while (l.started < streams && t0 + l.started * gap <= now)
            start_one(&l, argv[1], body, blen, h, bufsize);
        if (now >= next_sample) {
            if (l.started == streams && l.done == 0) {
                plateau_kb = rss_kb();
                if (plateau_from < 0) plateau_from = now;
                plateau_ns = now - plateau_from;
            }
            next_sample += 100000000;
        }
        long wait = (next_sample - now) / 1000000 + 1;
        if (l.started < streams) {
            long to_start = (t0 + l.started * gap - now) / 1000000;
            if (to_start < wait) wait = to_start < 0 ? 0 : to_start;
        }
        if (l.timeout_ms >= 0 && l.timeout_ms < wait) wait = l.timeout_ms;
        struct epoll_event evs[256];
        int n = epoll_wait(l.ce.ep, evs, 256, (int)wait);
        for (int i = 0; i < n; i++) {
            curl_multi_socket_action(l.ce.multi, evs[i].data.fd, curl_ep_mask(evs[i].events), &running);
        }
        if (n == 0 || l.timeout_ms == 0) {
            l.timeout_ms = -1;
            curl_multi_socket_action(l.ce.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        reap(&l);
    }
    printf("streams=%ld ok=%ld rx_bytes=%llu idle_rss_kb=%ld plateau_rss_kb=%ld plateau_s=%.1f "
           "bytes_per_stream=%.0f\n", l.started, l.ok, (unsigned long long)l.rx, idle_kb, plateau_kb,
           (double)plateau_ns / 1e9, plateau_kb < 0 ? -1.0 : (double)(plateau_kb - idle_kb) * 1024.0 / (double)streams);
    curl_multi_cleanup(l.ce.multi);
    curl_slist_free_all(h);
    curl_global_cleanup();
    return l.ok == streams ? 0 : 1;
}
