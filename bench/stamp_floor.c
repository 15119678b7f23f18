/* stamp_floor.c — the floor for a client's token timestamps, for
 * bench/stamp_referee.sh. Not part of the product: the least a client can
 * do to see when each SSE event arrives. One thread, one epoll loop, N
 * keep-alive-free connections to 127.0.0.1:PORT opened up front; request i
 * (headers + BODYFILE, "X-Request-Id: f<i>") is written at start + i *
 * WINDOW_MS / N (a timerfd at absolute deadlines); every read is stamped
 * with the CLOCK_MONOTONIC time at which its epoll_wait returned, and each
 * content event (a `"content":"` with text) gets the stamp of the read that
 * brought its last byte. No libcurl, no JSON parser, no log until the end.
 *
 *   stamp_floor PORT PATH BODYFILE N WINDOW_MS OUT
 *
 * Writes OUT: one JSON line per stream, {"id":"f<i>","t_send_ns":T,
 * "events_ns":[...]} (CLOCK_MONOTONIC ns), and prints one line:
 * streams= ok= events= realtime_minus_monotonic_ns= (the clock offset, read
 * as the tightest of 2,000 back-to-back readings, for a pcap's clock). */
#define _GNU_SOURCE
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
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_DONE };

typedef struct stream {
    int fd;
    int in_body;                  /* the response headers are behind us */
    char hdr[4];                  /* the last header bytes seen (for the blank line) */
    int chunk_state;
    size_t chunk_left;
    char ev[8192];                /* the current SSE event's bytes (the start is enough) */
    size_t evlen;
    char last;                    /* the previous body byte (for "\n\n") */
    int64_t t_send;
    int64_t *events;
    size_t nev, capev;
} stream;

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC from the tightest of many back-to-back
 * readings (a realtime read between two monotonic reads). */
static int64_t clock_offset(void)
{
    int64_t best_gap = INT64_MAX, off = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t m0 = clock_ns(CLOCK_MONOTONIC), r = clock_ns(CLOCK_REALTIME);
        int64_t m1 = clock_ns(CLOCK_MONOTONIC);
        if (m1 - m0 < best_gap) {
            best_gap = m1 - m0;
            off = r - (m0 + (m1 - m0) / 2);
        }
    }
    return off;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("stamp_floor: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* An SSE event ended: a content event when it carries delta text. */
static void event_end(stream *s, int64_t t)
{
    static const char key[] = "\"content\":\"";
    const char *p = memmem(s->ev, s->evlen, key, sizeof key - 1);
    if (p && p + sizeof key - 1 < s->ev + s->evlen && p[sizeof key - 1] != '"') {
        if (s->nev == s->capev) {
            s->capev = s->capev ? s->capev * 2 : 128;
            s->events = realloc(s->events, s->capev * sizeof *s->events);
        }
        s->events[s->nev++] = t;
    }
    s->evlen = 0;
}

/* Body bytes (dechunked) of s that arrived with the read stamped t. */
static void body_bytes(stream *s, const char *d, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (s->evlen < sizeof s->ev) s->ev[s->evlen++] = d[i];
        if (d[i] == '\n' && s->last == '\n') event_end(s, t);
        s->last = d[i];
    }
}

/* Feeds one read's bytes through the header skip and the chunked decoder. */
static void feed(stream *s, const char *d, size_t n, int64_t t)
{
    size_t i = 0;
    while (i < n && !s->in_body) {
        memmove(s->hdr, s->hdr + 1, 3);
        s->hdr[3] = d[i++];
        s->in_body = !memcmp(s->hdr, "\r\n\r\n", 4);
    }
    while (i < n && s->chunk_state != CH_DONE) {
        if (s->chunk_state == CH_SIZE) {            /* hex digits, then CRLF */
            char c = d[i++];
            if (c == '\n') s->chunk_state = s->chunk_left ? CH_DATA : CH_DONE;
            else if (c >= '0' && c <= '9') s->chunk_left = s->chunk_left * 16 + (size_t)(c - '0');
            else if ((c | 32) >= 'a' && (c | 32) <= 'f') s->chunk_left = s->chunk_left * 16 + (size_t)((c | 32) - 'a' + 10);
        } else if (s->chunk_state == CH_DATA) {
            size_t k = n - i < s->chunk_left ? n - i : s->chunk_left;
            body_bytes(s, d + i, k, t);
            i += k;
            s->chunk_left -= k;
            if (!s->chunk_left) s->chunk_state = CH_DATA_END;
        } else {                                    /* the CRLF after the data */
            if (d[i++] == '\n') s->chunk_state = CH_SIZE;
        }
    }
}

/* Reads what s has; returns 1 when its response is complete, -1 on error. */
static int drain(stream *s, int64_t t)
{
    char buf[65536];
    for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return s->chunk_state == CH_DONE;
        if (r <= 0) return s->chunk_state == CH_DONE ? 1 : -1;
        feed(s, buf, (size_t)r, t);
        if ((size_t)r < sizeof buf) return s->chunk_state == CH_DONE;
    }
}

static void arm(int tfd, int64_t at)
{
    struct itimerspec its = { { 0, 0 }, { at / 1000000000, at % 1000000000 } };
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static char *request_text(const char *path, int port, const char *bodyfile, size_t *len)
{
    FILE *bf = fopen(bodyfile, "rb");
    static char body[1 << 16];
    size_t blen = bf ? fread(body, 1, sizeof body, bf) : 0;
    if (bf) fclose(bf);
    if (!blen) return NULL;
    size_t cap = blen + 512;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     "X-Request-Id: f%%ld\r\nContent-Length: %zu\r\n\r\n", path, port, blen);
    memcpy(req + n, body, blen);
    *len = (size_t)n + blen;
    return req;
}

/* Writes request i on its stream (the id filled in). */
static void send_request(stream *s, long i, const char *tmpl, size_t tlen)
{
    const char *mark = strstr(tmpl, "f%ld");
    char *buf = malloc(tlen + 32);
    size_t head = (size_t)(mark - tmpl);
    memcpy(buf, tmpl, head);
    int k = sprintf(buf + head, "f%ld", i);
    memcpy(buf + head + (size_t)k, mark + 4, tlen - head - 4);
    size_t len = tlen - 4 + (size_t)k;
    s->t_send = clock_ns(CLOCK_MONOTONIC);
    if (write(s->fd, buf, len) != (ssize_t)len) {
        perror("stamp_floor: write");
        exit(1);
    }
    free(buf);
}

static void write_out(const char *path, stream *s, long n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        fprintf(f, "{\"id\":\"f%ld\",\"t_send_ns\":%lld,\"events_ns\":[", i, (long long)s[i].t_send);
        for (size_t k = 0; k < s[i].nev; k++) fprintf(f, k ? ",%lld" : "%lld", (long long)s[i].events[k]);
        fputs("]}\n", f);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: stamp_floor PORT PATH BODYFILE N WINDOW_MS OUT\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[4]);
    double window_ms = atof(argv[5]);
    size_t tlen;
    char *tmpl = request_text(argv[2], port, argv[3], &tlen);
    if (!tmpl || n <= 0 || window_ms < 0) {
        fprintf(stderr, "stamp_floor: bad arguments or empty %s\n", argv[3]);
        return 2;
    }
    int64_t off0 = clock_offset();
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    stream *st = calloc((size_t)n, sizeof *st);
    for (long i = 0; i < n; i++) {
        st[i].fd = connect_to(port);
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = &st[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, st[i].fd, &e);
    }
    int64_t t0 = clock_ns(CLOCK_MONOTONIC) + 5000000, gap = (int64_t)(window_ms * 1e6 / (double)n);
    long sent = 0, done = 0, bad = 0;
    arm(tfd, t0);
    while (done < n) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 30000);
        int64_t t = clock_ns(CLOCK_MONOTONIC);
        if (k <= 0) {
            fprintf(stderr, "stamp_floor: nothing for 30 s (%ld of %ld done)\n", done, n);
            break;
        }
        for (int i = 0; i < k; i++) {
            stream *s = evs[i].data.ptr;
            if (!s) {
                uint64_t v;
                if (read(tfd, &v, sizeof v) < 0) { /* spurious */ }
                while (sent < n && t0 + sent * gap <= clock_ns(CLOCK_MONOTONIC)) {
                    send_request(&st[sent], sent, tmpl, tlen);
                    sent++;
                }
                if (sent < n) arm(tfd, t0 + sent * gap);
                continue;
            }
            int r = drain(s, t);
            if (r) {
                done++;
                bad += r < 0;
                epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
                close(s->fd);
            }
        }
    }
    int64_t off1 = clock_offset();
    write_out(argv[6], st, n);
    long events = 0;
    for (long i = 0; i < n; i++) events += (long)st[i].nev;
    printf("streams=%ld ok=%ld events=%ld realtime_minus_monotonic_ns=%lld offset_drift_ns=%lld\n", n,
           done - bad, events, (long long)off0, (long long)(off1 - off0));
    return done == n && !bad ? 0 : 1;
}
