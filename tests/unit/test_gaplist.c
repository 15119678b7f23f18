/* test_gaplist.c — unit tests for replay/gaplist: the compact gap coding
 * gives back every value exactly (edges included), is as short as its
 * header says for token gaps, refuses bytes it did not write, and keeps
 * one small chunk across requests; with a store, memory stays flat, the
 * values stay exact, slots are reused, and a failed write or read loses
 * nothing silently. */
#include "tests/unit/unit.h"
#include "replay/gaplist.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const int64_t edge_gaps[] = {
    0, 1, -1, 63, 64, -64, -65, 4294967295LL, 4294967296LL, 4294967297LL, 25000000,
    -25000000, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 0, INT64_MIN, INT64_MAX, 7,
};
static const int32_t edge_tokens[] = {
    1, 1, -1, 1, 0, 2, INT32_MAX, INT32_MIN, -1, 1, 1000000, 1, -2, 1, 1, 3, 3, INT32_MIN,
    INT32_MAX, 1,
};
#define NEDGE (sizeof edge_gaps / sizeof edge_gaps[0])

/* Every edge value in every order it comes in comes back exactly. */
TEST(gaplist_round_trip_edges)
{
    gaplist g = {0};
    for (int rep = 0; rep < 50; rep++)   /* enough to fill several chunks */
        for (size_t i = 0; i < NEDGE; i++) gaplist_push(&g, edge_gaps[i], edge_tokens[i]);
    CHECK_INT(g.n, 50 * NEDGE);
    CHECK(gaplist_bytes(&g) > GAPLIST_FIRST_BYTES);
    gaplist_iter it;
    gaplist_iter_init(&it, &g);
    int64_t gap;
    int32_t tok;
    for (int rep = 0; rep < 50; rep++)
        for (size_t i = 0; i < NEDGE; i++) {
            REQUIRE(gaplist_next(&it, &gap, &tok) == 1);
            CHECK_INT(gap, edge_gaps[i]);
            CHECK_INT(tok, edge_tokens[i]);
        }
    CHECK_INT(gaplist_next(&it, &gap, &tok), 0);
    gaplist_free(&g);
    CHECK_INT(gaplist_bytes(&g), 0);
}

/* Token gaps of 25 ms that change by less than 0.5 ms from one to the
 * next, one token each: 3 bytes a gap, and the list's memory within its
 * chunk headers and one chunk of that. Random values come back exactly. */
TEST(gaplist_token_gaps_are_three_bytes)
{
    enum { N = 20000 };
    gaplist g = {0};
    gapcode_state s;
    gapcode_init(&s);
    unsigned char b[GAPCODE_MAX];
    size_t coded = 0;
    srand(12);
    int64_t *want = malloc(N * sizeof *want);
    REQUIRE(want);
    for (int i = 0; i < N; i++) {
        want[i] = 25000000 + (int64_t)(rand() % 500000) - 250000;
        gaplist_push(&g, want[i], 1);
        size_t k = gapcode_put(b, &s, want[i], 1);
        CHECK(i == 0 ? k == 4 : k <= 3);
        coded += k;
    }
    CHECK(coded <= 3 * N + 1);
    size_t chunks = coded / (GAPLIST_CHUNK_BYTES - 32) + 2;
    CHECK(gaplist_bytes(&g) >= coded);
    CHECK(gaplist_bytes(&g) <= coded + chunks * (16 + GAPCODE_MAX) + GAPLIST_CHUNK_BYTES);
    gaplist_iter it;
    gaplist_iter_init(&it, &g);
    int64_t gap;
    int32_t tok;
    for (int i = 0; i < N; i++) {
        REQUIRE(gaplist_next(&it, &gap, &tok) == 1);
        CHECK_INT(gap, want[i]);
        CHECK_INT(tok, 1);
    }
    CHECK_INT(gaplist_next(&it, &gap, &tok), 0);
    free(want);
    gaplist_free(&g);
}

/* The coder on its own: the sizes the header promises. */
TEST(gapcode_sizes)
{
    unsigned char b[GAPCODE_MAX];
    gapcode_state s;
    gapcode_init(&s);
    CHECK_INT(gapcode_put(b, &s, 0, 1), 1);             /* no change, one token */
    CHECK_INT(gapcode_put(b, &s, 31, 1), 1);            /* zigzag 62 < 64 */
    CHECK_INT(gapcode_put(b, &s, 31 + 32, 1), 2);
    CHECK_INT(gapcode_put(b, &s, 63, -1), 2);           /* a token count change: one more byte */
    CHECK_INT(gapcode_put(b, &s, 63, -1), 1);           /* the same count again: none */
    gapcode_init(&s);
    CHECK_INT(gapcode_put(b, &s, INT64_MIN, INT32_MIN), GAPCODE_MAX);
    gapcode_init(&s);
    CHECK_INT(gapcode_put(b, &s, 25000000, 1), 4);      /* the first gap, coded against 0 */
    CHECK_INT(gapcode_put(b, &s, 25000000 + 500000, 1), 3);
}

/* Bytes the coder never writes are refused, and the state is left as it
 * was: an entry cut short, a number wider than its type, a longer form
 * than needed, a token flag with no change. */
TEST(gapcode_refuses_bad_bytes)
{
    unsigned char b[GAPCODE_MAX];
    gapcode_state s, d;
    gapcode_init(&s);
    size_t n = gapcode_put(b, &s, 4294967296LL, 7);
    int64_t gap;
    int32_t tok;
    for (size_t cut = 0; cut < n; cut++) {
        gapcode_init(&d);
        CHECK_INT(gapcode_get(b, cut, &d, &gap, &tok), -1);
        CHECK_INT(d.gap, 0);
        CHECK_INT(d.tokens, 1);
    }
    gapcode_init(&d);
    CHECK_INT(gapcode_get(b, n, &d, &gap, &tok), (int)n);
    CHECK_INT(gap, 4294967296LL);
    CHECK_INT(tok, 7);

    static const struct { unsigned char b[16]; size_t n; const char *why; } bad[] = {
        { { 0x80 }, 1, "continuation, nothing after" },
        { { 0x80, 0x00 }, 2, "rest of the gap 0: longer than needed" },
        { { 0x82, 0x80, 0x00 }, 3, "a trailing zero byte" },
        { { 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04 }, 10, "65 bits" },
        { { 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x83, 0x01 }, 11, "too many bytes" },
        { { 0x01, 0x02 }, 2, "a token flag, count unchanged (1)" },
        { { 0x01 }, 1, "a token flag, no count" },
        { { 0x01, 0xff, 0xff, 0xff, 0xff, 0x10 }, 6, "33-bit token count" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gapcode_init(&d);
        int k = gapcode_get(bad[i].b, bad[i].n, &d, &gap, &tok);
        if (k != -1) unit_fail(__FILE__, __LINE__, "accepted %s (%d bytes read)", bad[i].why, k);
    }
    /* the widest gap and token count that are allowed */
    static const unsigned char max_ok[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03,
                                            0xff, 0xff, 0xff, 0xff, 0x0f };
    gapcode_init(&d);
    CHECK_INT(gapcode_get(max_ok, sizeof max_ok, &d, &gap, &tok), (int)sizeof max_ok);
    CHECK_INT(gap, INT64_MIN);                          /* zigzag 2^64 - 1 */
    CHECK_INT(tok, INT32_MIN);
}

/* A request's list is reset for the next: only the first chunk stays, and
 * the next request's first gap is coded against 0 again. */
TEST(gaplist_reset_keeps_first_chunk)
{
    gaplist g = {0};
    for (int i = 0; i < 5000; i++) gaplist_push(&g, 40000000 + i, i % 3 ? 1 : 2);
    CHECK(gaplist_bytes(&g) > 4 * GAPLIST_CHUNK_BYTES);
    gaplist_reset(&g);
    CHECK_INT(gaplist_bytes(&g), GAPLIST_FIRST_BYTES);
    CHECK_INT(g.n, 0);
    gaplist_iter it;
    int64_t gap;
    int32_t tok;
    gaplist_iter_init(&it, &g);
    CHECK_INT(gaplist_next(&it, &gap, &tok), 0);
    gaplist_push(&g, 5, 1);
    gaplist_iter_init(&it, &g);
    CHECK_INT(gaplist_next(&it, &gap, &tok), 1);
    CHECK_INT(gap, 5);
    CHECK_INT(tok, 1);
    gaplist_free(&g);
    gaplist_reset(&g);                                  /* an empty list resets and frees */
    gaplist_free(&g);
    CHECK_INT(gaplist_bytes(&g), 0);
}

/* ---- with a store: chunks past the first go to a file ---- */

/* A deterministic mix: steady gaps, jitter of every size, edge values. */
static void gap_at(size_t i, int64_t *gap, int32_t *tok)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    *gap = 50000000 + (int64_t)(h % 8000000) - 4000000;
    *tok = (h >> 40) % 7 ? 1 : (int32_t)(h % 5);
    if (i % 997 == 0) {
        *gap = edge_gaps[(i / 997) % NEDGE];
        *tok = edge_tokens[(i / 997) % NEDGE];
    }
}

/* Pushes gap_at(first) .. gap_at(first + n - 1). */
static void push_from(gaplist *g, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t gap;
        int32_t tok;
        gap_at(first + i, &gap, &tok);
        gaplist_push(g, gap, tok);
    }
}

/* Reads g back (twice: the log line reads it once per array) and checks
 * every entry against gap_at(first + i). */
static void check_list(const gaplist *g, size_t first, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        gaplist_iter it;
        gaplist_iter_init(&it, g);
        int64_t gap, want;
        int32_t tok, wtok;
        for (size_t i = 0; i < n; i++) {
            REQUIRE(gaplist_next(&it, &gap, &tok) == 1);
            gap_at(first + i, &want, &wtok);
            if (gap != want || tok != wtok) {
                unit_fail(__FILE__, __LINE__, "entry %zu: %lld/%d, want %lld/%d", i, (long long)gap, tok,
                          (long long)want, wtok);
                return;
            }
        }
        CHECK_INT(gaplist_next(&it, &gap, &tok), 0);
    }
}

TEST(gaplist_store_keeps_memory_flat_and_values_exact)
{
    char err[256];
    gapstore *s = gapstore_open(unit_tmpdir(), err, sizeof err);
    REQUIRE(s);
    gaplist a = {0}, b = {0};
    a.store = b.store = s;
    /* two requests in flight on one store, interleaved */
    for (size_t i = 0; i < 20000; i++) {
        int64_t gap;
        int32_t tok;
        gap_at(i, &gap, &tok);
        gaplist_push(&a, gap, tok);
        gap_at(i + 100000, &gap, &tok);
        if (i < 7000) gaplist_push(&b, gap, tok);
    }
    /* in memory: the first chunk, the one being filled and the slot numbers */
    CHECK(gaplist_bytes(&a) <= GAPLIST_FIRST_BYTES + GAPLIST_SPILL_BYTES + 4 * a.nslots * 2);
    CHECK(a.nslots > 100 && b.nslots > 30);
    check_list(&a, 0, 20000);
    check_list(&b, 100000, 7000);
    size_t slots = gapstore_slots(s);
    CHECK_INT(slots, a.nslots + b.nslots);
    /* a request ends: its slots are reused by the next, the file does not grow */
    gaplist_reset(&a);
    CHECK_INT(a.nslots, 0);
    push_from(&a, 300000, 15000);
    check_list(&a, 300000, 15000);
    CHECK_INT(gapstore_slots(s), slots);
    CHECK_INT(gapstore_write_errors(s), 0);
    /* a short answer never reaches the store */
    gaplist c = {0};
    c.store = s;
    for (size_t i = 0; i < 40; i++) gaplist_push(&c, 50000000, 1);
    CHECK_INT(c.nslots, 0);
    gaplist_free(&c);
    gaplist_free(&a);
    gaplist_free(&b);
    gapstore_close(s);
}

/* A full disk (here a file size limit): the chunk that cannot be written
 * and every later one stay in memory, in order; nothing is lost. */
TEST(gaplist_store_write_failure_keeps_gaps_in_memory)
{
    char err[256];
    gapstore *s = gapstore_open(unit_tmpdir(), err, sizeof err);
    REQUIRE(s);
    struct rlimit old, lim;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim.rlim_cur = 8 * GAPSTORE_SLOT;                   /* room for 8 slots */
    lim.rlim_max = old.rlim_max;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    gaplist g = {0};
    g.store = s;
    push_from(&g, 0, 6000);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_INT(g.nslots, 8);
    CHECK(g.spill_failed);
    CHECK(gapstore_write_errors(s) >= 1);
    check_list(&g, 0, 6000);
    /* the next request spills again */
    gaplist_reset(&g);
    for (size_t i = 0; i < 1000; i++) gaplist_push(&g, 50000000 + (int64_t)i, 1);
    CHECK(g.nslots > 0 && !g.spill_failed);
    gaplist_free(&g);
    gapstore_close(s);
}

/* The store's file, found among the process's descriptors: an unlinked
 * file under dir. -1 when there is none. */
static int store_fd_under(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[300], target[1024];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (!strncmp(target, dir, strlen(dir)) && target[strlen(dir)] == '/' && strstr(target, "(deleted)"))
            found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* A slot that cannot be read back (the file cut short under it): the
 * reader stops with -1 there, the entries before it stand. */
TEST(gaplist_store_read_failure_reported)
{
    char dir[512], err[256];
    snprintf(dir, sizeof dir, "%s/gapstore-read", unit_tmpdir());
    REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
    gapstore *s = gapstore_open(dir, err, sizeof err);
    REQUIRE(s);
    gaplist g = {0};
    g.store = s;
    push_from(&g, 0, 3000);
    REQUIRE(g.nslots > 2);
    int fd = store_fd_under(dir);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, GAPSTORE_SLOT) == 0);         /* only the first slot is left */
    gaplist_iter it;
    gaplist_iter_init(&it, &g);
    int64_t gap, want;
    int32_t tok, wtok;
    size_t read = 0;
    int rc;
    while ((rc = gaplist_next(&it, &gap, &tok)) == 1) {
        gap_at(read, &want, &wtok);
        CHECK(gap == want && tok == wtok);
        read++;
    }
    CHECK_INT(rc, -1);
    CHECK(read > 60 && read < 3000);                    /* the first chunk and the first slot */
    CHECK_INT(it.left, 3000 - read);
    gaplist_free(&g);
    gapstore_close(s);
}

TEST(gapstore_open_refuses_a_missing_directory)
{
    char err[256], dir[512];
    snprintf(dir, sizeof dir, "%s/no-such-dir", unit_tmpdir());
    CHECK(gapstore_open(dir, err, sizeof err) == NULL);
    CHECK(strstr(err, "no-such-dir") && strstr(err, "chunk gaps"));
}
