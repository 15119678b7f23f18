/* test_prompt.c — unit tests for traces/prompt.c: exact token counts under
 * the project's estimate, determinism, byte-identical blocks for equal hash
 * ids, and request bodies. */
#include "tests/unit/unit.h"
#include "common/tokcount.h"
#include "common/util.h"
#include "traces/prompt.h"

#include <stdlib.h>

static cJSON *ids(int n, const int64_t *v)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

/* Checks the text's form: lowercase words of 3-6 letters, single spaces, no
 * space at either end. Returns the number of words. */
static long check_form(const char *s, size_t len, int line)
{
    long words = 0, wl = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            wl++;
            continue;
        }
        if (c != ' ' || wl == 0) {
            unit_fail(__FILE__, line, "byte %zu is 0x%02x after a word of %ld letters", i,
                      (unsigned char)c, wl);
            return -1;
        }
        if (wl < 3 || wl > 6) unit_fail(__FILE__, line, "word of %ld letters at %zu", wl, i);
        words++;
        wl = 0;
    }
    if (len && (wl < 3 || wl > 6)) unit_fail(__FILE__, line, "last word has %ld letters", wl);
    return len ? words + 1 : 0;
}

TEST(prompt_token_count_is_exact)
{
    static const int64_t targets[] = {0, 1, 2, 3, 7, 8, 63, 64, 65, 100, 511, 512, 513, 4096, 100000};
    static const int64_t bs[] = {1, 16, 64, 512};
    int64_t v[400];
    for (int i = 0; i < 400; i++) v[i] = 1000 + i * 7;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        int64_t n = targets[t];
        strbuf b = {0};
        REQUIRE(prompt_synth(&b, n, NULL, 0, 99) == 0);
        CHECK_INT(tok_estimate(b.buf ? b.buf : "", b.len), n);
        CHECK_INT(check_form(b.buf, b.len, __LINE__), n);
        sb_free(&b);
        for (size_t k = 0; k < sizeof bs / sizeof bs[0]; k++) {
            /* Enough ids, too few ids (the tail comes from the seed). */
            int nid = (int)((n + bs[k] - 1) / bs[k]);
            if (nid > 400) nid = 400;
            for (int less = 0; less <= 1; less++) {
                cJSON *h = ids(nid > less ? nid - less : 0, v);
                REQUIRE(prompt_synth(&b, n, h, bs[k], 5) == 0);
                if ((int64_t)tok_estimate(b.buf ? b.buf : "", b.len) != n)
                    unit_fail(__FILE__, __LINE__, "tokens %zu != %lld (block %lld, ids %d)",
                              tok_estimate(b.buf ? b.buf : "", b.len), (long long)n,
                              (long long)bs[k], nid - less);
                CHECK_INT(check_form(b.buf, b.len, __LINE__), n);
                sb_free(&b);
                cJSON_Delete(h);
            }
        }
    }
}

TEST(prompt_deterministic_for_a_seed)
{
    strbuf a = {0}, b = {0}, c = {0};
    REQUIRE(prompt_synth(&a, 300, NULL, 0, 1) == 0);
    REQUIRE(prompt_synth(&b, 300, NULL, 0, 1) == 0);
    REQUIRE(prompt_synth(&c, 300, NULL, 0, 2) == 0);
    CHECK(a.len == b.len && !memcmp(a.buf, b.buf, a.len));
    CHECK(a.len != c.len || memcmp(a.buf, c.buf, a.len));
    /* Appends after what the buffer holds. */
    strbuf d = {0};
    sb_adds(&d, "Q: ");
    REQUIRE(prompt_synth(&d, 300, NULL, 0, 1) == 0);
    CHECK(d.len == a.len + 3 && !memcmp(d.buf + 3, a.buf, a.len));
    CHECK_INT(prompt_synth(&d, -1, NULL, 0, 1), ERR_USAGE);
    cJSON *notarr = cJSON_CreateObject();
    CHECK_INT(prompt_synth(&d, 10, notarr, 16, 1), ERR_USAGE);
    cJSON *arr = cJSON_CreateArray();
    CHECK_INT(prompt_synth(&d, 10, arr, 0, 1), ERR_USAGE);
    size_t before = d.len;
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(4));
    cJSON_AddItemToArray(arr, cJSON_CreateString("x"));
    CHECK_INT(prompt_synth(&d, 10, arr, 4, 1), ERR_USAGE);
    CHECK(d.len == before && d.buf[before] == '\0');
    cJSON_Delete(notarr);
    cJSON_Delete(arr);
    sb_free(&a);
    sb_free(&b);
    sb_free(&c);
    sb_free(&d);
}

TEST(prompt_equal_hash_ids_give_identical_blocks)
{
    const int64_t bs = 32;
    int64_t v1[] = {11, 22, 33}, v2[] = {44, 22, 33}, v3[] = {11, 22, 55};
    cJSON *h1 = ids(3, v1), *h2 = ids(3, v2), *h3 = ids(3, v3);
    strbuf a = {0}, b = {0}, c = {0}, blk = {0};
    REQUIRE(prompt_synth(&a, 3 * bs, h1, bs, 1) == 0);
    REQUIRE(prompt_synth(&b, 3 * bs, h2, bs, 2) == 0);   /* the seed does not matter */
    REQUIRE(prompt_synth(&c, 3 * bs, h3, bs, 3) == 0);

    /* The text is the blocks' concatenation minus the first space. */
    prompt_block(&blk, 11, bs);
    prompt_block(&blk, 22, bs);
    prompt_block(&blk, 33, bs);
    CHECK(blk.buf[0] == ' ');
    CHECK(blk.len == a.len + 1 && !memcmp(blk.buf + 1, a.buf, a.len));

    /* [11,22,33] and [44,22,33] share blocks 22 and 33 byte for byte. */
    strbuf tail = {0};
    prompt_block(&tail, 22, bs);
    prompt_block(&tail, 33, bs);
    CHECK(a.len > tail.len && !memcmp(a.buf + a.len - tail.len, tail.buf, tail.len));
    CHECK(b.len > tail.len && !memcmp(b.buf + b.len - tail.len, tail.buf, tail.len));
    CHECK(memcmp(a.buf, b.buf, 20) != 0);

    /* [11,22,33] and [11,22,55] share the first two blocks. */
    strbuf head = {0};
    prompt_block(&head, 11, bs);
    prompt_block(&head, 22, bs);
    size_t two = head.len - 1;
    CHECK(!memcmp(a.buf, c.buf, two));
    CHECK(memcmp(a.buf + two, c.buf + two, a.len - two < c.len - two ? a.len - two : c.len - two) != 0);

    /* A partial last block is the first words of that id's block. */
    strbuf part = {0}, full = {0};
    REQUIRE(prompt_synth(&part, 2 * bs + 5, h1, bs, 1) == 0);
    CHECK(part.len < a.len && !memcmp(part.buf, a.buf, part.len) && a.buf[part.len] == ' ');
    prompt_block(&full, 33, 5);
    CHECK(!memcmp(part.buf + part.len - full.len, full.buf, full.len));

    cJSON_Delete(h1);
    cJSON_Delete(h2);
    cJSON_Delete(h3);
    sb_free(&a); sb_free(&b); sb_free(&c); sb_free(&blk); sb_free(&tail);
    sb_free(&head); sb_free(&part); sb_free(&full);
}

TEST(prompt_tail_past_the_blocks_uses_the_seed)
{
    int64_t v[] = {5, 6};
    cJSON *h = ids(2, v);
    strbuf a = {0}, b = {0}, blocks = {0};
    REQUIRE(prompt_synth(&a, 2 * 16 + 40, h, 16, 1) == 0);
    REQUIRE(prompt_synth(&b, 2 * 16 + 40, h, 16, 2) == 0);
    REQUIRE(prompt_synth(&blocks, 2 * 16, h, 16, 1) == 0);
    CHECK(!memcmp(a.buf, blocks.buf, blocks.len) && !memcmp(b.buf, blocks.buf, blocks.len));
    CHECK(strcmp(a.buf + blocks.len, b.buf + blocks.len) != 0);
    CHECK_INT(tok_estimate(a.buf, a.len), 72);
    cJSON_Delete(h);
    sb_free(&a);
    sb_free(&b);
    sb_free(&blocks);
}

TEST(prompt_uses_the_whole_vocabulary)
{
    /* 100,000 words from the table: every one of the 512 entries shows up
     * (a broken entry would fail the form check). */
    strbuf b = {0};
    REQUIRE(prompt_synth(&b, 100000, NULL, 0, 3) == 0);
    CHECK_INT(check_form(b.buf, b.len, __LINE__), 100000);
    int distinct = 0;
    char *words = malloc(b.len + 1);
    memcpy(words, b.buf, b.len + 1);
    /* Count distinct words with a small open-addressing set. */
    enum { SLOTS = 4096 };
    char *slot[SLOTS] = {0};
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        uint64_t hsh = 1469598103934665603ULL;
        for (const char *p = w; *p; p++) hsh = (hsh ^ (unsigned char)*p) * 1099511628211ULL;
        size_t i = hsh % SLOTS;
        while (slot[i] && strcmp(slot[i], w)) i = (i + 1) % SLOTS;
        if (!slot[i]) {
            slot[i] = w;
            distinct++;
        }
    }
    CHECK_INT(distinct, PROMPT_VOCAB_SIZE);
    free(words);
    sb_free(&b);
}

static void make_rec(trace_rec *r, const char *json)
{
    char err[256];
    memset(r, 0, sizeof *r);
    if (trace_rec_parse(r, json, strlen(json), 0, err, sizeof err))
        unit_fail(__FILE__, __LINE__, "bad test record: %s", err);
}

TEST(prompt_refuses_a_length_past_any_context_window)
{
    /* A corrupt length (2^31 tokens would be 15 GB of text) is refused at
     * once, nothing appended, and the refusal names the field. */
    strbuf d = {0};
    sb_adds(&d, "Q: ");
    CHECK_INT(prompt_synth(&d, PROMPT_MAX_TOKENS + 1, NULL, 0, 1), ERR_USAGE);
    CHECK_INT(prompt_synth(&d, INT32_MAX, NULL, 0, 1), ERR_USAGE);
    CHECK(d.len == 3 && d.buf[3] == '\0');
    trace_rec r;
    make_rec(&r, "{\"t_us\":0,\"id\":\"h\",\"api\":\"chat\",\"input_tokens\":1393141570}");
    CHECK(!prompt_make_body(&r, NULL, NULL, 1));
    CHECK_CONTAINS(prompt_refusal(&r), "field 'input_tokens'");
    trace_rec_clear(&r);
    sb_free(&d);
}

TEST(prompt_make_body_shapes)
{
    trace_rec r;
    make_rec(&r, "{\"t_us\":0,\"id\":\"a1\",\"api\":\"chat\",\"model\":\"m\",\"input_tokens\":40,"
                 "\"output_tokens\":9,\"block_size\":16,\"hash_ids\":[1,2,3]}");
    cJSON *b = prompt_make_body(&r, NULL, NULL, 1);
    REQUIRE(b);
    CHECK_STR(cJSON_GetObjectItem(b, "model")->valuestring, "m");
    CHECK_INT(cJSON_GetObjectItem(b, "max_tokens")->valuedouble, 9);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), 0);
    REQUIRE(m);
    CHECK_STR(cJSON_GetObjectItem(m, "role")->valuestring, "user");
    const char *content = cJSON_GetObjectItem(m, "content")->valuestring;
    CHECK_INT(tok_estimate(content, strlen(content)), 40);
    /* The same record gives the same text, whatever seed (all in blocks)... */
    cJSON *b2 = prompt_make_body(&r, "completions", "other", 77);
    REQUIRE(b2);
    CHECK_STR(cJSON_GetObjectItem(b2, "prompt")->valuestring, content);
    CHECK_STR(cJSON_GetObjectItem(b2, "model")->valuestring, "other");
    CHECK(!cJSON_GetObjectItem(b2, "messages"));
    cJSON_Delete(b2);
    b2 = prompt_make_body(&r, "embeddings", NULL, 1);
    REQUIRE(b2);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(b2, "input")) && !cJSON_GetObjectItem(b2, "max_tokens"));
    cJSON_Delete(b2);
    cJSON_Delete(b);
    trace_rec_clear(&r);

    /* No hash ids: the text follows the seed and the record's id. */
    trace_rec r2, r3;
    make_rec(&r2, "{\"t_us\":0,\"id\":\"x\",\"api\":\"generate\",\"input_tokens\":25,\"output_tokens\":0}");
    make_rec(&r3, "{\"t_us\":0,\"id\":\"y\",\"api\":\"generate\",\"input_tokens\":25}");
    CHECK(prompt_record_seed(&r2, 1) != prompt_record_seed(&r3, 1));
    CHECK(prompt_record_seed(&r2, 1) != prompt_record_seed(&r2, 2));
    cJSON *x1 = prompt_make_body(&r2, NULL, NULL, 1), *x2 = prompt_make_body(&r2, NULL, NULL, 2);
    cJSON *y1 = prompt_make_body(&r3, NULL, NULL, 1);
    REQUIRE(x1 && x2 && y1);
    const char *p1 = cJSON_GetObjectItem(x1, "prompt")->valuestring;
    CHECK_INT(tok_estimate(p1, strlen(p1)), 25);
    CHECK(strcmp(p1, cJSON_GetObjectItem(x2, "prompt")->valuestring) != 0);
    CHECK(strcmp(p1, cJSON_GetObjectItem(y1, "prompt")->valuestring) != 0);
    CHECK(!cJSON_GetObjectItem(x1, "model") && !cJSON_GetObjectItem(x1, "max_tokens"));
    cJSON_Delete(x1);
    cJSON_Delete(x2);
    cJSON_Delete(y1);
    trace_rec_clear(&r2);
    trace_rec_clear(&r3);

    /* A record with only a body has nothing to synthesise from. */
    make_rec(&r, "{\"t_us\":0,\"id\":1,\"api\":\"chat\",\"body\":{\"messages\":[]}}");
    CHECK(prompt_make_body(&r, NULL, NULL, 1) == NULL);
    trace_rec_clear(&r);
}
