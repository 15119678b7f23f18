/* test_rx_clock.c — the kernel's receive stamps of replay/rx_clock.c, on a
 * real TCP connection over 127.0.0.1. */
#include "tests/unit/unit.h"
#include "replay/rx_clock.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connected pair over loopback: *srv writes, *cli reads. */
static int tcp_pair(int *srv, int *cli)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) < 0) return -1;
    *cli = socket(AF_INET, SOCK_STREAM, 0);
    if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    *srv = accept(l, NULL, NULL);
    close(l);
    return *srv < 0 ? -1 : 0;
}

/* The kernel turns receive stamping on for the first such socket through
 * deferred work, so the first packets after rx_clock_enable may carry no
 * stamp (the replay then uses the readiness time): wait until they do. */
static int stamps_flowing(int s, int c)
{
    char b[8];
    struct timespec d = { 0, 1000 * 1000 };
    for (int i = 0; i < 1000; i++) {
        if (write(s, "w", 1) != 1) return 0;
        nanosleep(&d, NULL);
        int64_t k = rx_clock_peek(c, b, sizeof b, NULL);
        if (read(c, b, sizeof b) != 1) return 0;
        if (k >= 0) return 1;
    }
    return 0;
}

TEST(rx_clock_peek_gives_the_arrival_and_consumes_nothing)
{
    int s, c;
    char buf[64];
    REQUIRE(tcp_pair(&s, &c) == 0);
    REQUIRE(rx_clock_enable(c) == 0);
    REQUIRE(stamps_flowing(s, c));
    CHECK_INT(rx_clock_peek(c, buf, sizeof buf, NULL), -1);            /* nothing queued */
    int64_t before = now_real_ns();
    REQUIRE(write(s, "data: x\n\n", 9) == 9);
    int64_t after = now_real_ns();
    struct timespec d = { 0, 20 * 1000 * 1000 }; /* the stamp must not move with the reader */
    nanosleep(&d, NULL);
    memset(buf, 'z', sizeof buf);
    size_t peeked = 0;
    int64_t k = rx_clock_peek(c, buf, sizeof buf, &peeked);
    CHECK(k >= before && k <= after);
    CHECK_INT(peeked, 9);                                              /* counted, */
    CHECK_INT(buf[0], 'z');                                            /* not copied */
    CHECK_INT(rx_clock_peek(c, buf, sizeof buf, NULL), k);             /* a peek leaves the bytes and their stamp */
    CHECK_INT(read(c, buf, sizeof buf), 9);
    CHECK_INT(rx_clock_peek(c, buf, sizeof buf, NULL), -1);
    close(s);
    close(c);
}

/* Bytes queued from two packets 20 ms apart: the stamp is the newest
 * arrival, never the older one (a stamp must not precede any byte it is
 * given to). */
TEST(rx_clock_peek_gives_the_newest_arrival)
{
    int s, c;
    char buf[64];
    REQUIRE(tcp_pair(&s, &c) == 0);
    REQUIRE(rx_clock_enable(c) == 0);
    REQUIRE(stamps_flowing(s, c));
    REQUIRE(write(s, "data: a\n\n", 9) == 9);
    struct timespec d = { 0, 20 * 1000 * 1000 };
    nanosleep(&d, NULL);
    int64_t before = now_real_ns();
    REQUIRE(write(s, "data: b\n\n", 9) == 9);
    nanosleep(&d, NULL);
    size_t peeked = 0;
    CHECK(rx_clock_peek(c, buf, sizeof buf, &peeked) >= before);
    CHECK_INT(peeked, 18);
    CHECK(rx_clock_peek(c, buf, 4, &peeked) > 0);                      /* at most len counted */
    CHECK_INT(peeked, 4);
    close(s);
    close(c);
}

TEST(rx_clock_without_enable_gives_no_stamp)
{
    int s, c;
    char buf[8];
    REQUIRE(tcp_pair(&s, &c) == 0);
    REQUIRE(write(s, "x", 1) == 1);
    struct timespec d = { 0, 5 * 1000 * 1000 };
    nanosleep(&d, NULL);
    CHECK_INT(rx_clock_peek(c, buf, sizeof buf, NULL), -1);
    close(s);
    close(c);
}

TEST(rx_clock_offset_matches_the_clocks)
{
    int64_t off = rx_clock_real_minus_mono();
    int64_t mono = now_mono_ns();
    int64_t real = now_real_ns();
    CHECK(llabs(real - mono - off) < 1000000);  /* 1 ms: only a clock step in between moves it */
}
