/* test_engine_cache.c — unit tests of the prefix cache's LRU
 * (engine/prefix_cache.c) and the ground-truth writer
 * (engine/ground_truth.c). */
#include "tests/unit/unit.h"

#include <stdlib.h>

#include "common/util.h"
#include "engine/ground_truth.h"
#include "engine/prefix_cache.h"

TEST(engine_prefix_cache_matches_leading_blocks)
{
    prefix_cache *c = prefix_cache_new(8);
    uint64_t a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 2, 9, 4 };
    CHECK_INT(prefix_cache_match(c, a, 4), 0);
    prefix_cache_insert(c, a, 4);
    CHECK_INT(prefix_cache_size(c), 4);
    CHECK_INT(prefix_cache_match(c, a, 4), 4);
    CHECK_INT(prefix_cache_match(c, b, 4), 2);     /* stops at the first miss */
    prefix_cache_insert(c, a, 4);                  /* refresh, no duplicates */
    CHECK_INT(prefix_cache_size(c), 4);
    prefix_cache_free(c);
    prefix_cache_free(NULL);
}

TEST(engine_prefix_cache_evicts_least_recent_keeping_prefix_heads)
{
    prefix_cache *c = prefix_cache_new(4);
    uint64_t a[3] = { 10, 11, 12 }, b[3] = { 20, 21, 22 };
    prefix_cache_insert(c, a, 3);
    prefix_cache_insert(c, b, 3);                  /* 6 blocks into 4: a's tail goes first */
    CHECK_INT(prefix_cache_size(c), 4);
    CHECK_INT(prefix_cache_match(c, b, 3), 3);
    CHECK_INT(prefix_cache_match(c, a, 3), 1);     /* a's first block outlived its tail */
    /* Touching a makes b's tail the oldest. */
    uint64_t d[2] = { 30, 31 };
    prefix_cache_insert(c, d, 2);
    CHECK_INT(prefix_cache_match(c, a, 3), 1);
    CHECK_INT(prefix_cache_match(c, d, 2), 2);
    CHECK_INT(prefix_cache_size(c), 4);
    prefix_cache_free(c);
    prefix_cache *z = prefix_cache_new(0);
    prefix_cache_insert(z, a, 3);
    CHECK_INT(prefix_cache_match(z, a, 3), 0);
    prefix_cache_free(z);
}

TEST(engine_ground_truth_header_and_lines)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/gt.jsonl", unit_tmpdir());
    ground_truth *g = ground_truth_open(path, "\"api\":\"vllm\"", err, sizeof err);
    REQUIRE(g);
    CHECK_INT(ground_truth_write(g, "{\"type\":\"request\",\"seq\":0}", 26), 0);
    CHECK_INT(ground_truth_lines(g), 1);
    /* Flushed as written: readable before the close. */
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char line[1024];
    REQUIRE(fgets(line, sizeof line, f));
    CHECK_CONTAINS(line, "\"type\":\"server\",\"clock\":\"CLOCK_MONOTONIC\",\"anchor_mono_ns\":");
    CHECK_CONTAINS(line, "\"anchor_realtime_ns\":");
    CHECK_CONTAINS(line, ",\"api\":\"vllm\"}");
    REQUIRE(fgets(line, sizeof line, f));
    CHECK_STR(line, "{\"type\":\"request\",\"seq\":0}\n");
    fclose(f);
    CHECK_INT(ground_truth_close(g, err, sizeof err), 0);
    CHECK_INT(ground_truth_close(NULL, err, sizeof err), 0);
    CHECK(ground_truth_open("/nonexistent-dir/x.jsonl", NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "/nonexistent-dir/x.jsonl");
}
