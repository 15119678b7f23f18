/* fuzz_gapcode.c — libFuzzer target for replay/gaplist. Two checks on the
 * same bytes:
 *  - read as coded entries: every entry gapcode_get accepts is written back
 *    byte for byte by gapcode_put from the same state (one coding per
 *    value), a refused entry leaves the state alone, and nothing is read
 *    past the end;
 *  - read as raw (int64 gap, int32 tokens) pairs: pushed into a gaplist,
 *    every pair comes back exactly, in order; then the same with a store
 *    (a temporary file in $TMPDIR or /tmp), so that chunks past the first
 *    go through the file and back.
 * Never a crash. */
#include "replay/gaplist.h"

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_entries(const uint8_t *data, size_t size)
{
    gapcode_state s, w;
    gapcode_init(&s);
    size_t at = 0;
    while (at < size) {
        gapcode_state before = s;
        int64_t gap;
        int32_t tok;
        int k = gapcode_get(data + at, size - at, &s, &gap, &tok);
        if (k < 0) {
            if (s.gap != before.gap || s.tokens != before.tokens) __builtin_trap();
            return;
        }
        if (k == 0 || (size_t)k > size - at || k > GAPCODE_MAX) __builtin_trap();
        unsigned char b[GAPCODE_MAX];
        w = before;
        size_t n = gapcode_put(b, &w, gap, tok);
        if (n != (size_t)k || memcmp(b, data + at, n)) __builtin_trap();
        if (w.gap != s.gap || w.tokens != s.tokens) __builtin_trap();
        at += (size_t)k;
    }
}

static void round_trip_pairs(const uint8_t *data, size_t size, gapstore *store)
{
    gaplist g = {0};
    g.store = store;
    size_t n = size / 12;
    for (size_t i = 0; i < n; i++) {
        int64_t gap;
        int32_t tok;
        memcpy(&gap, data + 12 * i, 8);
        memcpy(&tok, data + 12 * i + 8, 4);
        gaplist_push(&g, gap, tok);
    }
    gaplist_iter it;
    gaplist_iter_init(&it, &g);
    for (size_t i = 0; i < n; i++) {
        int64_t gap, want_gap;
        int32_t tok, want_tok;
        memcpy(&want_gap, data + 12 * i, 8);
        memcpy(&want_tok, data + 12 * i + 8, 4);
        if (gaplist_next(&it, &gap, &tok) != 1 || gap != want_gap || tok != want_tok) __builtin_trap();
    }
    int64_t gap;
    int32_t tok;
    if (gaplist_next(&it, &gap, &tok) != 0) __builtin_trap();
    gaplist_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gapstore *store;
    static int tried;
    if (!tried) {
        char err[256];
        const char *dir = getenv("TMPDIR");
        store = gapstore_open(dir && *dir ? dir : "/tmp", err, sizeof err);
        tried = 1;
    }
    decode_entries(data, size);
    round_trip_pairs(data, size, NULL);
    if (store) round_trip_pairs(data, size, store);
    return 0;
}
