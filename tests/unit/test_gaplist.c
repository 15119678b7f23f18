/* test_gaplist.c — unit tests for replay/gaplist: the compact gap coding
 * gives back every value exactly (edges included), is as short as its
 * header says for token gaps, refuses bytes it did not write, and keeps
 * one small chunk across requests. */
#include "tests/unit/unit.h"
#include "replay/gaplist.h"

#include <stdlib.h>

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
