/* test_common.c — unit tests for common/: zio, parse, rng, hset, tokcount. */
#include "tests/unit/unit.h"
#include "common/hset.h"
#include "common/list.h"
#include "common/parse.h"
#include "common/rng.h"
#include "common/tokcount.h"
#include "common/util.h"
#include "common/zio.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512, "%s/%s", unit_tmpdir(), name);
    return b;
}

/* Reads all lines of path into one string joined by '|'. Returns the reader's rc. */
static int read_lines(const char *path, strbuf *out)
{
    char err[256];
    zio_reader *r = zio_reader_open(path, err, sizeof err);
    if (!r) return -100;
    char *line;
    size_t len;
    int rc;
    while ((rc = zio_reader_getline(r, &line, &len)) > 0) {
        sb_add(out, line, len);
        sb_addc(out, '|');
    }
    zio_reader_close(r);
    return rc;
}

TEST(zio_plain_lines_crlf_and_no_final_newline)
{
    const char *p = tmp("plain.txt");
    unit_write_file(p, "a\r\nbb\n\nccc", 10);
    strbuf b = {0};
    CHECK_INT(read_lines(p, &b), 0);
    CHECK_STR(b.buf, "a|bb||ccc|");
    sb_free(&b);
}

TEST(zio_zstd_roundtrip_and_concatenated_frames)
{
    const char *p = tmp("two.zst");
    char err[256];
    zio_writer *w = zio_writer_open(p, 3, err, sizeof err);
    REQUIRE(w);
    for (int i = 0; i < 10000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        CHECK_INT(zio_writer_write(w, line, (size_t)n), 0);
    }
    CHECK_INT(zio_writer_close(w, err, sizeof err), 0);
    /* Append a second frame by hand. */
    char src[] = "extra1\nextra2\n";
    char dst[256];
    size_t n = ZSTD_compress(dst, sizeof dst, src, strlen(src), 1);
    FILE *f = fopen(p, "ab");
    fwrite(dst, 1, n, f);
    fclose(f);
    zio_reader *r = zio_reader_open(p, err, sizeof err);
    REQUIRE(r);
    CHECK(zio_reader_is_zstd(r));
    char *line;
    size_t len;
    int cnt = 0, rc;
    const char *last = NULL;
    strbuf lastb = {0};
    while ((rc = zio_reader_getline(r, &line, &len)) > 0) {
        cnt++;
        sb_clear(&lastb);
        sb_add(&lastb, line, len);
    }
    last = lastb.buf;
    CHECK_INT(rc, 0);
    CHECK_INT(cnt, 10002);
    CHECK_STR(last, "extra2");
    CHECK_INT(zio_reader_lineno(r), 10002);
    zio_reader_close(r);
    sb_free(&lastb);
}

TEST(zio_truncated_zstd_is_an_error)
{
    const char *p = tmp("trunc.zst");
    char src[20000], dst[30000];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (i % 50 == 49) ? '\n' : (char)('a' + i % 26);
    size_t n = ZSTD_compress(dst, sizeof dst, src, sizeof src, 3);
    unit_write_file(p, dst, n - 7);
    strbuf b = {0};
    char err[256];
    zio_reader *r = zio_reader_open(p, err, sizeof err);
    REQUIRE(r);
    char *line;
    size_t len;
    int rc;
    while ((rc = zio_reader_getline(r, &line, &len)) > 0) {}
    CHECK_INT(rc, ERR_INPUT);
    CHECK_CONTAINS(zio_reader_error(r), "truncated");
    zio_reader_close(r);
    sb_free(&b);
}

TEST(zio_garbage_after_magic_is_corrupt)
{
    const char *p = tmp("garbage.zst");
    unsigned char g[64] = { 0x28, 0xb5, 0x2f, 0xfd };
    for (int i = 4; i < 64; i++) g[i] = (unsigned char)(i * 37);
    unit_write_file(p, g, sizeof g);
    strbuf b = {0};
    CHECK_INT(read_lines(p, &b), ERR_INPUT);
    sb_free(&b);
}

TEST(zio_long_line_limit)
{
    const char *p = tmp("long.txt");
    size_t n = 300000;
    char *big = malloc(n + 2);
    memset(big, 'x', n);
    big[n] = '\n';
    unit_write_file(p, big, n + 1);
    free(big);
    char err[256];
    zio_reader *r = zio_reader_open(p, err, sizeof err);
    REQUIRE(r);
    zio_reader_set_max_line(r, 100000);
    char *line;
    size_t len;
    CHECK_INT(zio_reader_getline(r, &line, &len), ERR_INPUT);
    CHECK_CONTAINS(zio_reader_error(r), "line longer than 100000 bytes");
    zio_reader_close(r);
    /* Without the limit the line comes back whole. */
    r = zio_reader_open(p, err, sizeof err);
    REQUIRE(r);
    CHECK_INT(zio_reader_getline(r, &line, &len), 1);
    CHECK_INT(len, n);
    zio_reader_close(r);
}

TEST(zio_missing_file_and_gzip)
{
    char err[256];
    CHECK(zio_reader_open(tmp("nope"), err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "cannot open");
    const char *p = tmp("x.gz");
    unit_write_file(p, "\x1f\x8b\x08\x00zzzz", 8);
    CHECK(zio_reader_open(p, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "gzip");
}

TEST(zio_writer_abort_leaves_nothing)
{
    const char *p = tmp("aborted.txt");
    char err[256];
    zio_writer *w = zio_writer_open(p, 0, err, sizeof err);
    REQUIRE(w);
    zio_writer_write(w, "x\n", 2);
    zio_writer_abort(w);
    CHECK(access(p, F_OK) != 0);
}

TEST(parse_durations)
{
    int64_t v;
    CHECK(parse_duration_us("1.5s", &v) == 0 && v == 1500000);
    CHECK(parse_duration_us("250ms", &v) == 0 && v == 250000);
    CHECK(parse_duration_us("2m", &v) == 0 && v == 120000000);
    CHECK(parse_duration_us("1h", &v) == 0 && v == 3600000000LL);
    CHECK(parse_duration_us("10", &v) == 0 && v == 10000000);
    CHECK(parse_duration_us("7us", &v) == 0 && v == 7);
    CHECK(parse_duration_us("abc", &v) < 0);
    CHECK(parse_duration_us("5 s", &v) < 0);
    CHECK(parse_duration_us("-1s", &v) < 0);
    CHECK(parse_i64("12x", &v) < 0);
    CHECK(parse_i64("-12", &v) == 0 && v == -12);
    double d;
    CHECK(parse_prob("0.25", &d) == 0 && d == 0.25);
    CHECK(parse_prob("1.5", &d) < 0);
    CHECK(parse_double("inf", &d) < 0);
}

TEST(rng_deterministic_and_uniform_range)
{
    rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(rng_u64(&a) == rng_u64(&b));
    rng_seed2(&a, 42, 1);
    rng_seed2(&b, 42, 2);
    CHECK(rng_u64(&a) != rng_u64(&b));
    int hist[5] = {0};
    for (int i = 0; i < 50000; i++) {
        int64_t v = rng_range(&a, 3, 7);
        REQUIRE(v >= 3 && v <= 7);
        hist[v - 3]++;
    }
    /* Each bucket expects 10000, sd = 89: allow 5 sd. */
    for (int i = 0; i < 5; i++) CHECK_NEAR(hist[i], 10000, 450);
}

TEST(rng_exponential_and_gamma_moments)
{
    rng r;
    rng_seed(&r, 7);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_gamma(&r, 4.0, 0.5); /* mean 2, var 1 */
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK_NEAR(mean, 2.0, 4 * 1.0 / sqrt(n));
    CHECK_NEAR(var, 1.0, 0.03);
    s = 0;
    for (int i = 0; i < n; i++) s += rng_exp(&r, 3.0);
    CHECK_NEAR(s / n, 3.0, 4 * 3.0 / sqrt(n));
    /* Shape below 1 (CV > 1). */
    s = 0;
    for (int i = 0; i < n; i++) s += rng_gamma(&r, 0.25, 4.0); /* mean 1, var 4 */
    CHECK_NEAR(s / n, 1.0, 4 * 2.0 / sqrt(n));
}

TEST(hset_ints_and_strings)
{
    hset s = {0};
    for (int i = 0; i < 10000; i++) CHECK_INT(hset_add_int(&s, i * 7), 1);
    for (int i = 0; i < 10000; i++) CHECK_INT(hset_add_int(&s, i * 7), 0);
    CHECK_INT(s.len, 10000);
    CHECK_INT(hset_add_int(&s, -1), 1);
    hset_free(&s);
    hset t = {0};
    CHECK_INT(hset_add_str(&t, "a"), 1);
    CHECK_INT(hset_add_str(&t, "b"), 1);
    CHECK_INT(hset_add_str(&t, "a"), 0);
    CHECK_INT(t.len, 2);
    hset_free(&t);
}

TEST(tokcount_rule)
{
    CHECK_INT(tok_estimate("", 0), 0);
    CHECK_INT(tok_estimate(" the cat sat", 12), 3);
    CHECK_INT(tok_estimate("internationalization", 20), 4);  /* 20 letters: ceil(20/6) */
    CHECK_INT(tok_estimate("12345", 5), 2);
    CHECK_INT(tok_estimate("a, b.", 5), 4);
    CHECK_INT(tok_estimate("x\n\n\ny", 5), 3);
    CHECK_INT(tok_estimate("\xe4\xbd\xa0\xe5\xa5\xbd", 6), 2); /* two CJK characters */
}

TEST(strbuf_printf_grows)
{
    strbuf b = {0};
    for (int i = 0; i < 1000; i++) sb_printf(&b, "%04d", i);
    CHECK_INT(b.len, 4000);
    CHECK(!memcmp(b.buf + 3996, "0999", 4));
    sb_clear(&b);
    /* a text longer than the room left takes the second pass */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sb_adds(&b, "ab");
    sb_printf(&b, "<%s>%d", big, 7);
    CHECK_INT(b.len, 2 + 1 + 599 + 1 + 1);
    CHECK(!strcmp(b.buf + b.len - 3, "x>7"));
    sb_free(&b);
}

/* sb_add_int and sb_add_fixed write what printf would. */
TEST(strbuf_integers_as_printf_writes_them)
{
    const int64_t vals[] = { 0, 1, -1, 7, 42, -999, 1000, 123456, -123456, 999999, 1000000,
                             1234567, -1234567, 999999999999999LL, -999999999999999LL,
                             INT64_MAX, INT64_MIN };
    strbuf b = {0};
    char ref[64];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sb_clear(&b);
        sb_add_int(&b, vals[i]);
        snprintf(ref, sizeof ref, "%" PRId64, vals[i]);
        CHECK_STR(b.buf, ref);
        if (vals[i] > 999999999999999LL || vals[i] < -999999999999999LL) continue;
        for (int d = 0; d <= 6; d += 3) {
            sb_clear(&b);
            sb_add_fixed(&b, vals[i], d);
            double p = d == 0 ? 1.0 : d == 3 ? 1e3 : 1e6;
            snprintf(ref, sizeof ref, "%.*f", d, (double)vals[i] / p);
            CHECK_STR(b.buf, ref);
        }
    }
    sb_clear(&b);
    sb_adds(&b, "t=");
    sb_add_fixed(&b, -5, 3);
    CHECK_STR(b.buf, "t=-0.005");
    sb_free(&b);
    char small[6];
    str_copy(small, sizeof small, "length");
    CHECK_STR(small, "lengt");                  /* cut as snprintf cuts */
    str_copy(small, sizeof small, "stop");
    CHECK_STR(small, "stop");
}

#include "common/jsonw.h"

TEST(jsonw_matches_cjson)
{
    const char *docs[] = {
        "{\"t_us\":604800000000,\"id\":\"a\\\"b\\\\c\\n\\u0001\",\"x\":[1,-2,3.5,1e300,-0.1,true,false,null],"
        "\"nested\":{\"k\":{\"z\":[]},\"e\":{}},\"u\":\"\\u00e9\\u4e2d\",\"big\":9007199254740993}",
        "[]", "{}", "\"s\"", "0", "-7", "0.30000000000000004", "123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        cJSON *a = cJSON_Parse(docs[i]);
        REQUIRE(a);
        strbuf b = {0};
        jsonw_append(&b, a);
        cJSON *back = cJSON_Parse(b.buf);
        CHECK(back && cJSON_Compare(a, back, 1));
        char *ref = cJSON_PrintUnformatted(a);
        /* Same text as cJSON, except where cJSON escapes differently (\\u0001)
         * or rounds a double within DBL_EPSILON (we keep every digit). */
        if (i != 0 && i != 6) CHECK_STR(b.buf, ref);
        cJSON_free(ref);
        cJSON_Delete(back);
        cJSON_Delete(a);
        sb_free(&b);
    }
    strbuf b = {0};
    cJSON *n = cJSON_CreateNumber(604800000000.0);
    jsonw_append(&b, n);
    CHECK_STR(b.buf, "604800000000");
    cJSON_Delete(n);
    sb_free(&b);
}

#include <sys/stat.h>

TEST(zio_writer_writes_devices_in_place)
{
    char err[256];
    zio_writer *w = zio_writer_open("/dev/null", 3, err, sizeof err);
    REQUIRE(w);
    CHECK_INT(zio_writer_write(w, "x\n", 2), 0);
    CHECK_INT(zio_writer_close(w, err, sizeof err), 0);
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
}

#include "common/json_arena.h"
#include <pthread.h>

/* Inside a scope cJSON's values come from the thread's arena: after the
 * first document the arena needs no new block, values stay readable after
 * the scope ends, and deleting them is harmless. */
TEST(json_arena_reuses_its_memory)
{
    static const char doc[] = "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":"
                              "{\"content\":\" word\"},\"finish_reason\":null}],"
                              "\"usage\":{\"prompt_tokens\":29,\"completion_tokens\":3}}";
    size_t blocks = 0;
    for (int i = 0; i < 100; i++) {
        int opened = json_arena_begin();
        CHECK_INT(opened, 1);
        CHECK_INT(json_arena_begin(), 0);           /* nested: the same scope goes on */
        cJSON *j = cJSON_ParseWithLength(doc, sizeof doc - 1);
        json_arena_end(opened);
        REQUIRE(j);
        CHECK(json_arena_used() > 0);
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
        CHECK_INT(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valueint, 3);
        cJSON_Delete(j);                            /* a no-op for arena values */
        if (i == 0) blocks = json_arena_blocks_allocated();
    }
    CHECK_INT(json_arena_blocks_allocated(), blocks);
    /* Outside a scope: the heap, freed by cJSON_Delete (the sanitizer build
     * reports a leak or a double free otherwise). */
    cJSON *h = cJSON_Parse(doc);
    char *txt = cJSON_PrintUnformatted(h);
    CHECK(txt && strstr(txt, "chatcmpl-1"));
    cJSON_free(txt);
    cJSON_Delete(h);
}

/* A document larger than the blocks grows the arena in one scope; the next
 * scope starts from one block that holds it all (up to JSON_ARENA_KEEP), so
 * the same document again needs no new block. */
TEST(json_arena_grows_then_holds_a_large_document)
{
    strbuf b = {0};
    sb_addc(&b, '[');
    for (int i = 0; i < 4000; i++) sb_printf(&b, "%s{\"k%d\":\"v%d\"}", i ? "," : "", i, i);
    sb_addc(&b, ']');
    size_t before = json_arena_blocks_allocated();
    for (int round = 0; round < 3; round++) {
        int opened = json_arena_begin();
        cJSON *j = cJSON_ParseWithLength(b.buf, b.len);
        json_arena_end(opened);
        REQUIRE(j);
        CHECK_INT(cJSON_GetArraySize(j), 4000);
        if (round == 0) CHECK(json_arena_blocks_allocated() > before + 1);
        if (round == 1) before = json_arena_blocks_allocated();
    }
    CHECK_INT(json_arena_blocks_allocated(), before);
    sb_free(&b);
}

static void *arena_in_thread(void *arg)
{
    int opened = json_arena_begin();
    cJSON *j = cJSON_Parse("{\"a\":[1,2,3],\"b\":\"text\"}");
    json_arena_end(opened);
    *(int *)arg = j && opened && json_arena_used() > 0 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "a")) == 3;
    return NULL;   /* the thread's arena is freed at its exit (a leak otherwise) */
}

TEST(json_arena_is_per_thread)
{
    int opened = json_arena_begin();
    cJSON *mine = cJSON_Parse("{\"x\":1}");
    pthread_t t;
    int ok = 0;
    REQUIRE(pthread_create(&t, NULL, arena_in_thread, &ok) == 0);
    pthread_join(t, NULL);
    CHECK(ok);
    CHECK_INT(cJSON_GetObjectItem(mine, "x")->valueint, 1); /* untouched by the other thread */
    json_arena_end(opened);
}

typedef struct lnode {
    int v;
    list_link(struct lnode) link;
} lnode;

typedef list_head(lnode) lnode_list;

/* The values of a list front to back ('!' where a back link is wrong, '?'
 * when last is not the last). */
static void list_vals(const lnode_list *h, char *out)
{
    char *o = out;
    const lnode *prev = NULL;
    for (const lnode *e = h->first; e; prev = e, e = e->link.next) {
        *o++ = (char)('0' + e->v);
        if (e->link.prev != prev) *o++ = '!';
    }
    if (h->last != prev) *o++ = '?';
    *o = '\0';
}

TEST(list_push_insert_remove)
{
    lnode_list h = {0};
    lnode n[5];
    char s[16];
    for (int i = 0; i < 5; i++) n[i].v = i;
    list_vals(&h, s);
    CHECK_STR(s, "");
    list_push_back(&h, &n[1], link);
    list_push_front(&h, &n[0], link);
    list_push_back(&h, &n[3], link);
    list_insert_after(&h, &n[1], &n[2], link);
    list_insert_after(&h, &n[3], &n[4], link);
    list_vals(&h, s);
    CHECK_STR(s, "01234");
    list_remove(&h, &n[0], link);
    list_remove(&h, &n[4], link);
    list_remove(&h, &n[2], link);
    CHECK(n[2].link.prev == NULL && n[2].link.next == NULL);
    list_vals(&h, s);
    CHECK_STR(s, "13");
    list_remove(&h, &n[1], link);
    list_remove(&h, &n[3], link);
    CHECK(h.first == NULL && h.last == NULL);
}

TEST(file_read_all_and_digest)
{
    const char *p = tmp("whole.bin");
    unit_write_file(p, "ab\0c", 4);
    char err[256] = "";
    size_t n = 0;
    char *s = file_read_all(p, &n, err, sizeof err);
    REQUIRE(s);
    CHECK_INT((long long)n, 4);
    CHECK(!memcmp(s, "ab\0c", 5));
    free(s);
    CHECK(file_read_all(tmp("no-such-file"), &n, err, sizeof err) == NULL);
    CHECK_INT(errno, ENOENT);
    CHECK_CONTAINS(err, "no-such-file: cannot open");
    char d[64];
    unit_write_file(p, "a", 1);
    CHECK_INT(file_fnv_digest(p, d, sizeof d), 0);
    CHECK_STR(d, "fnv1a64:44bd8ad473cd9906:1");    /* as run.json has always written it */
    CHECK_INT(file_fnv_digest(tmp("no-such-file"), d, sizeof d), ERR_SYSTEM);
    CHECK_STR(d, "unknown");
}
