/* rx_clock.c — see rx_clock.h. */
#include "replay/rx_clock.h"
#include "common/util.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>

int rx_clock_enable(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

int64_t rx_clock_peek(int fd, void *scratch, size_t len, size_t *peeked)
{
    union {                       /* aligned room for one timespec message */
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { scratch, len };
    struct msghdr m = { 0 };
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    /* MSG_TRUNC: TCP counts the bytes without copying them (tcp(7)). */
    ssize_t got = recvmsg(fd, &m, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (got <= 0) return -1;
    if (peeked) *peeked = (size_t)got;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_TIMESTAMPNS) continue;
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(h), sizeof ts);
        if (!ts.tv_sec && !ts.tv_nsec) return -1;
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    return -1;
}

int64_t rx_clock_real_minus_mono(void)
{
    int64_t best = 0, width = INT64_MAX;
    for (int i = 0; i < RX_CLOCK_SAMPLES; i++) {
        int64_t m1 = now_mono_ns();
        int64_t r = now_real_ns();
        int64_t m2 = now_mono_ns();
        if (m2 - m1 < width) {          /* the tightest pair bounds the error best */
            width = m2 - m1;
            best = r - (m1 + width / 2);
        }
    }
    return best;
}
