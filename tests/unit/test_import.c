/* test_import.c — unit tests for the importers (traces/import_*.c): every
 * shared sample converted and read back through the trace reader, checked
 * against the source rows; hand-made variants; the bad-input corpus in
 * tests/data/bad; --skip-invalid; very long lines; synthesised arrivals. */
#include "tests/unit/unit.h"
#include "common/tokcount.h"
#include "common/util.h"
#include "common/zio.h"
#include "traces/import.h"
#include "traces/trace_io.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 512, "%s/%s", unit_tmpdir(), name);
    return b;
}

/* A converted trace read back: header and records (owned copies). */
typedef struct loaded {
    cJSON *header;
    cJSON **rec;
    size_t n;
    import_stats st;
    char err[1200];
    int rc;
} loaded;

static void loaded_free(loaded *l)
{
    cJSON_Delete(l->header);
    for (size_t i = 0; i < l->n; i++) cJSON_Delete(l->rec[i]);
    free(l->rec);
    memset(l, 0, sizeof *l);
}

/* Converts in with importer fmt (options from o, may be NULL) and loads the
 * result with the trace reader. l->rc is import_run's result; on success a
 * reader failure shows up as rc = 99 with its message in l->err. */
static void convert(const char *fmt, const char *in, const import_opts *o, loaded *l)
{
    static int seq;
    char out[512];
    snprintf(out, sizeof out, "%s/out-%d.jsonl", unit_tmpdir(), ++seq);
    import_opts opt;
    if (o) opt = *o;
    else memset(&opt, 0, sizeof opt);
    opt.in_path = in;
    opt.out_path = out;
    opt.level = 0;
    memset(l, 0, sizeof *l);
    const importer *imp = import_find(fmt);
    if (!imp) {
        l->rc = 98;
        snprintf(l->err, sizeof l->err, "no importer %s", fmt);
        return;
    }
    l->rc = import_run(imp, &opt, &l->st, l->err, sizeof l->err);
    if (l->rc) return;
    trace_reader *r = trace_reader_open(out, 0, l->err, sizeof l->err);
    if (!r) {
        l->rc = 99;
        return;
    }
    l->header = cJSON_Duplicate(trace_reader_header(r), 1);
    trace_rec *rec;
    int rc;
    size_t cap = 0;
    while ((rc = trace_reader_next(r, &rec)) == 1) {
        if (l->n == cap) {
            cap = cap ? cap * 2 : 64;
            l->rec = xrealloc(l->rec, cap * sizeof *l->rec);
        }
        l->rec[l->n++] = cJSON_Duplicate(rec->json, 1);
    }
    if (rc < 0) {
        l->rc = 99;
        snprintf(l->err, sizeof l->err, "%s", trace_reader_error(r));
    }
    trace_reader_close(r);
    unlink(out);
}

static const cJSON *F(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Integer field (or -999 when absent / not a number). */
static long long I(const cJSON *o, const char *k)
{
    const cJSON *v = F(o, k);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -999;
}

static const char *S(const cJSON *o, const char *k)
{
    const cJSON *v = F(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int sorted_by_time(const loaded *l)
{
    for (size_t i = 1; i < l->n; i++)
        if (I(l->rec[i], "t_us") < I(l->rec[i - 1], "t_us")) return 0;
    return 1;
}

/* Number of data lines of a text file (all lines minus the header). */
static long count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = 0, c, last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n') n++;
        last = c;
    }
    if (last != '\n') n++;
    fclose(f);
    return n;
}

/* ---- Azure ---- */

TEST(import_azure_conv_sample)
{
    loaded l;
    convert("azure", unit_shared("AzureLLMInferenceTrace_conv.csv"), NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, count_lines(unit_shared("AzureLLMInferenceTrace_conv.csv")) - 1);
    CHECK_INT(l.n, 2999);
    CHECK_INT(l.st.rows, 2999);
    CHECK_STR(S(l.header, "source"), "import:azure");
    /* First row 2023-11-16 18:15:46.6805900,374,44 is the trace start. */
    CHECK_STR(S(l.header, "t0"), "2023-11-16T18:15:46.680590Z");
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK_STR(S(l.rec[0], "id"), "azure-1");
    CHECK_STR(S(l.rec[0], "api"), "completions");
    CHECK_INT(I(l.rec[0], "input_tokens"), 374);
    CHECK_INT(I(l.rec[0], "output_tokens"), 44);
    CHECK(F(l.rec[0], "model") == NULL && F(l.rec[0], "meta") == NULL);
    /* 18:15:50.9951690 - 18:15:46.6805900 */
    CHECK_INT(I(l.rec[1], "t_us"), 4314579);
    CHECK_INT(I(l.rec[1], "input_tokens"), 396);
    /* Last row 2023-11-16 18:26:15.2398190,696,43. */
    CHECK_INT(I(l.rec[2998], "t_us"), 628559229);
    CHECK_INT(I(l.rec[2998], "input_tokens"), 696);
    CHECK_INT(I(l.rec[2998], "output_tokens"), 43);
    CHECK_STR(S(l.rec[2998], "id"), "azure-2999");
    CHECK(sorted_by_time(&l));
    loaded_free(&l);
}

TEST(import_azure_code_sample_with_overrides)
{
    loaded l;
    import_opts o = {0};
    o.api = "chat";
    o.model = "gpt-4";
    convert("azure", unit_shared("AzureLLMInferenceTrace_code.csv"), &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 2999);
    CHECK_STR(S(l.header, "t0"), "2023-11-16T18:17:03.979960Z");
    CHECK_INT(I(l.rec[0], "input_tokens"), 4808);
    CHECK_INT(I(l.rec[0], "output_tokens"), 10);
    CHECK_INT(I(l.rec[1], "t_us"), 52000);
    CHECK_INT(I(l.rec[2998], "t_us"), 1088754659);
    CHECK_INT(I(l.rec[2998], "input_tokens"), 846);
    CHECK_INT(I(l.rec[2998], "output_tokens"), 9);
    CHECK_STR(S(l.rec[5], "api"), "chat");
    CHECK_STR(S(l.rec[5], "model"), "gpt-4");
    CHECK(sorted_by_time(&l));
    loaded_free(&l);
}

TEST(import_azure_2024_variant)
{
    /* 2024 files: "+00:00", some rows without a fraction; LF here. Other
     * offsets are converted to UTC; 'Z' and 'T' are accepted too. */
    const char *p = tmp("azure2024.csv");
    unit_write_text(p, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                  "2024-05-10 00:00:00+00:00,100,10\n"
                  "2024-05-10 00:00:00.009930+00:00,200,20\n"
                  "2024-05-10 02:00:01.5+02:00,300,30\n"
                  "2024-05-09 23:00:02-01:00,400,40\n"
                  "2024-05-10T00:00:03.0000005Z,500,50\n"
                  "2024-05-10 00:00:03.9999995+0000,600,60\n"
                  "2024-05-10 00:00:05,700,70\n");
    loaded l;
    convert("azure", p, NULL, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 7);
    CHECK_STR(S(l.header, "t0"), "2024-05-10T00:00:00.000000Z");
    static const long long want[] = { 0, 9930, 1500000, 2000000, 3000001, 4000000, 5000000 };
    for (int i = 0; i < 7; i++) {
        CHECK_INT(I(l.rec[i], "t_us"), want[i]);
        CHECK_INT(I(l.rec[i], "input_tokens"), (i + 1) * 100);
        CHECK_INT(I(l.rec[i], "output_tokens"), (i + 1) * 10);
    }
    loaded_free(&l);
}

TEST(import_azure_columns_by_name_crlf_and_meta)
{
    /* Columns in another order, other case, padded; an extra column kept
     * in meta; CRLF; a UTF-8 BOM; a blank line; a pandas-style "12.0". */
    const char *p = tmp("azure_cols.csv");
    unit_write_text(p, "\xEF\xBB\xBFgeneratedtokens, TimeStamp ,Region,CONTEXTTOKENS\r\n"
                  "7,2023-11-16 18:15:46.6805900,westus,70\r\n"
                  "\r\n"
                  "8.0,2023-11-16 18:15:47.6805900,\"east, us\",80\r\n");
    loaded l;
    convert("azure", p, NULL, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_INT(I(l.rec[0], "input_tokens"), 70);
    CHECK_INT(I(l.rec[0], "output_tokens"), 7);
    CHECK_STR(S(F(l.rec[0], "meta"), "Region"), "westus");
    CHECK_INT(I(l.rec[1], "t_us"), 1000000);
    CHECK_INT(I(l.rec[1], "output_tokens"), 8);
    CHECK_STR(S(F(l.rec[1], "meta"), "Region"), "east, us");
    loaded_free(&l);
}

TEST(import_azure_sort_uses_the_earliest_row)
{
    const char *bad = "tests/data/bad/azure_out_of_order.csv";
    loaded l;
    convert("azure", bad, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "azure_out_of_order.csv:5: field 'timestamp'");
    CHECK_CONTAINS(l.err, "--sort");
    loaded_free(&l);

    /* A row before the first one: the importer's own message. */
    const char *q = tmp("azure_before_first.csv");
    unit_write_text(q, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                  "2023-11-16 18:15:46.0,1,1\n2023-11-16 18:15:45.0,2,2\n");
    convert("azure", q, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, ":3: field 'TIMESTAMP': out of order");
    loaded_free(&l);

    import_opts o = {0};
    o.sort = 1;
    convert("azure", q, &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_STR(S(l.header, "t0"), "2023-11-16T18:15:45.000000Z");
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK_INT(I(l.rec[0], "input_tokens"), 2);
    CHECK_INT(I(l.rec[1], "t_us"), 1000000);
    loaded_free(&l);

    convert("azure", bad, &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 4);
    CHECK(sorted_by_time(&l));
    CHECK_INT(I(l.rec[1], "input_tokens"), 4);
    loaded_free(&l);
}

TEST(import_azure_bad_timestamps)
{
    static const char *const bad[] = {
        "2023-02-29 00:00:00", "2023-11-16 24:00:00", "2023-11-16 18:15:60",
        "2023-11-16 18:15:46.", "2023-11-16 18:15:46.1234567890", "2023-11-16 18:15:46+0:00",
        "2023-11-16 18:15:46+24:00", "2023-11-16", "16/11/2023 18:15:46", "2023-11-16 18:15:46 UTC",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "TIMESTAMP,ContextTokens,GeneratedTokens\n%s,1,1\n", bad[i]);
        const char *p = tmp("azure_badts.csv");
        unit_write_text(p, buf);
        loaded l;
        convert("azure", p, NULL, &l);
        if (l.rc != ERR_INPUT) unit_fail(__FILE__, __LINE__, "accepted timestamp '%s'", bad[i]);
        CHECK_CONTAINS(l.err, ":2: field 'TIMESTAMP'");
        loaded_free(&l);
    }
    /* Leap day in a leap year is fine. */
    const char *p = tmp("azure_leap.csv");
    unit_write_text(p, "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-02-29 23:59:59.9999999,1,1\n");
    loaded l;
    convert("azure", p, NULL, &l);
    CHECK_INT(l.rc, 0);
    CHECK_STR(S(l.header, "t0"), "2024-03-01T00:00:00.000000Z");
    loaded_free(&l);
}

/* ---- BurstGPT, Splitwise ---- */

TEST(import_burstgpt_sample_failed_rows_kept)
{
    loaded l;
    convert("burstgpt", unit_shared("burstgpt_format_sample.csv"), NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 400);
    CHECK(F(l.header, "t0") == NULL);
    /* First row: 5,ChatGPT,333,39,372,Conversation log (offsets kept). */
    CHECK_INT(I(l.rec[0], "t_us"), 5000000);
    CHECK_STR(S(l.rec[0], "model"), "ChatGPT");
    CHECK_INT(I(l.rec[0], "input_tokens"), 333);
    CHECK_INT(I(l.rec[0], "output_tokens"), 39);
    CHECK_STR(S(F(l.rec[0], "meta"), "Log Type"), "Conversation log");
    CHECK_INT(I(F(l.rec[0], "meta"), "Total tokens"), 372);
    CHECK(F(l.rec[0], "orig") == NULL);
    /* Last row: 319,ChatGPT,1739,103,1842,API log. */
    CHECK_INT(I(l.rec[399], "t_us"), 319000000);
    CHECK_INT(I(l.rec[399], "input_tokens"), 1739);
    CHECK_INT(I(l.rec[399], "output_tokens"), 103);
    CHECK_STR(S(F(l.rec[399], "meta"), "Log Type"), "API log");
    CHECK(sorted_by_time(&l));
    int failed = 0;
    for (size_t i = 0; i < l.n; i++) {
        const cJSON *orig = F(l.rec[i], "orig");
        if (I(l.rec[i], "output_tokens") == 0) {
            failed++;
            CHECK(orig && cJSON_IsFalse(F(orig, "ok")));
        } else {
            CHECK(orig == NULL);
        }
    }
    CHECK_INT(failed, 11);
    loaded_free(&l);
}

TEST(import_burstgpt_reordered_columns_fractional_times)
{
    /* BurstGPT_3 may order its columns differently. */
    const char *p = tmp("burst3.csv");
    unit_write_text(p, "Log Type,Response tokens,Request tokens,Model,Timestamp,Total tokens\n"
                  "API log,10,20,GPT-4,0.25,30\n"
                  "API log,0,5,ChatGPT,1.0000015,5\n");
    import_opts o = {0};
    o.model = "my-model";
    loaded l;
    convert("burstgpt", p, &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_INT(I(l.rec[0], "t_us"), 250000);
    CHECK_INT(I(l.rec[0], "input_tokens"), 20);
    CHECK_INT(I(l.rec[0], "output_tokens"), 10);
    CHECK_STR(S(l.rec[0], "model"), "my-model");
    CHECK_STR(S(F(l.rec[0], "meta"), "Model"), "GPT-4");
    CHECK_INT(I(l.rec[1], "t_us"), 1000002);
    CHECK(cJSON_IsFalse(F(F(l.rec[1], "orig"), "ok")));
    loaded_free(&l);
}

TEST(import_splitwise_sample)
{
    loaded l;
    convert("splitwise", unit_shared("splitwise_test_trace.csv"), NULL, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 3);
    /* 0,2,0,1,1,4096,32 / 1,2,0,3,1,2048,8 / 2,2,0,4,1,2048,16 */
    static const long long t[] = { 1000000, 3000000, 4000000 }, in[] = { 4096, 2048, 2048 },
                           out[] = { 32, 8, 16 };
    static const char *const id[] = { "0", "1", "2" };
    for (int i = 0; i < 3; i++) {
        CHECK_STR(S(l.rec[i], "id"), id[i]);
        CHECK_INT(I(l.rec[i], "t_us"), t[i]);
        CHECK_INT(I(l.rec[i], "input_tokens"), in[i]);
        CHECK_INT(I(l.rec[i], "output_tokens"), out[i]);
        CHECK_INT(I(F(l.rec[i], "meta"), "request_type"), 2);
        CHECK_INT(I(F(l.rec[i], "meta"), "batch_size"), 1);
    }
    loaded_free(&l);
}

/* ---- JSON Lines formats ---- */

TEST(import_mooncake_sample)
{
    loaded l;
    convert("mooncake", unit_shared("mooncake_conversation_trace.jsonl"), NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 3000);
    CHECK_INT(I(l.header, "block_size"), 512);
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK_INT(I(l.rec[0], "input_tokens"), 6758);
    CHECK_INT(I(l.rec[0], "output_tokens"), 500);
    CHECK_INT(cJSON_GetArraySize(F(l.rec[0], "hash_ids")), 14);
    CHECK_STR(S(l.rec[0], "id"), "mooncake-1");
    /* Last: {"timestamp": 987000, "input_length": 900, "output_length": 50,
     * "hash_ids": [0, 55286]}: ms -> µs. */
    const cJSON *last = l.rec[2999];
    CHECK_INT(I(last, "t_us"), 987000000);
    CHECK_INT(I(last, "input_tokens"), 900);
    CHECK_INT(I(last, "output_tokens"), 50);
    CHECK_INT(cJSON_GetArrayItem(F(last, "hash_ids"), 1)->valuedouble, 55286);
    CHECK(sorted_by_time(&l));
    /* A property of the source that must survive: one id per 512 tokens. */
    for (size_t i = 0; i < l.n; i++)
        CHECK_INT(cJSON_GetArraySize(F(l.rec[i], "hash_ids")), (I(l.rec[i], "input_tokens") + 511) / 512);
    loaded_free(&l);
}

TEST(import_bailian_sessions)
{
    loaded l;
    convert("bailian", unit_shared("bailian_format_sample.jsonl"), NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 300);
    CHECK_INT(I(l.header, "block_size"), 16);
    CHECK_STR(S(l.rec[0], "id"), "0");
    CHECK_STR(S(l.rec[0], "session"), "0");
    CHECK_INT(I(l.rec[0], "turn"), 1);
    CHECK(F(l.rec[0], "parent") == NULL);
    CHECK_INT(I(l.rec[0], "t_us"), 196000);
    CHECK_INT(I(l.rec[0], "input_tokens"), 116);
    CHECK_STR(S(F(l.rec[0], "meta"), "type"), "text");
    CHECK_STR(S(l.rec[299], "id"), "299");
    CHECK_INT(I(l.rec[299], "t_us"), 141049000);
    CHECK_INT(I(l.rec[299], "output_tokens"), 227);
    CHECK(sorted_by_time(&l));
    /* Sessions: a first turn is its own session; a later turn belongs to its
     * parent's session (the parent comes earlier) and follows its turn. */
    int firsts = 0, later = 0;
    for (size_t i = 0; i < l.n; i++) {
        const cJSON *r = l.rec[i];
        const char *parent = S(r, "parent");
        if (!parent) {
            firsts++;
            CHECK_STR(S(r, "session"), S(r, "id"));
            CHECK_INT(I(r, "turn"), 1);
            continue;
        }
        size_t j;
        for (j = 0; j < i; j++)
            if (!strcmp(S(l.rec[j], "id"), parent)) break;
        REQUIRE(j < i);
        later++;
        CHECK_STR(S(r, "session"), S(l.rec[j], "session"));
        CHECK_INT(I(r, "turn"), I(l.rec[j], "turn") + 1);
    }
    CHECK_INT(firsts, 173);
    CHECK_INT(later, 127);
    loaded_free(&l);
}

TEST(import_bailian_orphans_and_missing_turns)
{
    /* Parent 50 is not in the file (a cut trace): it names the session. */
    const char *p = tmp("bailian_orphan.jsonl");
    unit_write_text(p, "{\"chat_id\": 51, \"parent_chat_id\": 50, \"timestamp\": 1, \"input_length\": 3, "
                  "\"output_length\": 4}\n"
                  "{\"chat_id\": 52, \"parent_chat_id\": 51, \"timestamp\": 2, \"input_length\": 3, "
                  "\"output_length\": 4}\n");
    loaded l;
    convert("bailian", p, NULL, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_STR(S(l.rec[0], "session"), "50");
    CHECK_STR(S(l.rec[1], "session"), "50");
    CHECK_INT(I(l.rec[0], "turn"), 2);
    CHECK_INT(I(l.rec[1], "turn"), 3);
    CHECK_STR(S(l.rec[1], "parent"), "51");
    loaded_free(&l);
}

TEST(import_aibrix_sample)
{
    loaded l;
    convert("aibrix", unit_shared("aibrix_autoscaling_5s.jsonl"), NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 203);
    CHECK_INT(l.st.rows, 203);
    const cJSON *r = l.rec[0];
    CHECK_INT(I(r, "t_us"), 21000);
    CHECK_INT(I(r, "input_tokens"), 909);
    CHECK_INT(I(r, "output_tokens"), 22);
    CHECK_STR(S(r, "api"), "chat");
    const cJSON *body = F(r, "body");
    REQUIRE(body != NULL);
    CHECK_INT(I(body, "max_tokens"), 22);
    CHECK(F(body, "model") == NULL);
    const cJSON *m0 = cJSON_GetArrayItem(F(body, "messages"), 0);
    CHECK_STR(S(m0, "role"), "user");
    CHECK(S(m0, "content") && !strncmp(S(m0, "content"), "Here is the introduction I have so far", 38));
    const cJSON *last = l.rec[202];
    CHECK_INT(I(last, "t_us"), 4993000);
    CHECK_INT(I(last, "input_tokens"), 549);
    CHECK_INT(I(last, "output_tokens"), 762);
    CHECK(!strncmp(S(cJSON_GetArrayItem(F(F(last, "body"), "messages"), 0), "content"),
                   "Sure! Here is an example of us", 30));
    CHECK(sorted_by_time(&l));
    loaded_free(&l);
}

TEST(import_aibrix_groups_and_length_only)
{
    const char *p = tmp("aibrix_groups.jsonl");
    unit_write_text(p, "{\"timestamp\": 5, \"requests\": [{\"Prompt Length\": 1, \"Output Length\": 2, "
                  "\"prompt\": \"a\"}, {\"Prompt Length\": 3, \"Output Length\": 4, \"x\": 1}], "
                  "\"tag\": \"t\"}\n"
                  "{\"timestamp\": 7.5, \"requests\": []}\n");
    import_opts o = {0};
    o.model = "m";
    loaded l;
    convert("aibrix", p, &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_INT(I(l.rec[0], "t_us"), 5000);
    CHECK_INT(I(l.rec[1], "t_us"), 5000);
    CHECK_STR(S(F(l.rec[0], "body"), "model"), "m");
    CHECK(F(l.rec[1], "body") == NULL);
    CHECK_STR(S(l.rec[1], "api"), "completions");
    CHECK_INT(I(F(l.rec[1], "meta"), "x"), 1);
    CHECK_STR(S(F(l.rec[1], "meta"), "tag"), "t");
    loaded_free(&l);
}

/* ---- ShareGPT ---- */

static const char *msg_content(const cJSON *rec, int i)
{
    return S(cJSON_GetArrayItem(F(F(rec, "body"), "messages"), i), "content");
}

TEST(import_sharegpt_first_turn)
{
    loaded l;
    convert("sharegpt", "tests/data/sharegpt_small.json", NULL, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 4);
    static const char *const ids[] = { "conv-a", "conv-b", "conv-c", "42" };
    for (int i = 0; i < 4; i++) {
        CHECK_STR(S(l.rec[i], "id"), ids[i]);
        CHECK(cJSON_IsTrue(F(l.rec[i], "tokens_estimated")));
        CHECK_STR(S(l.rec[i], "api"), "chat");
        CHECK(F(l.rec[i], "session") == NULL);
    }
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK(sorted_by_time(&l));
    const char *q = "What is the capital of France?", *a = "The capital of France is Paris.";
    CHECK_STR(msg_content(l.rec[0], 0), q);
    CHECK_INT(I(l.rec[0], "input_tokens"), tok_estimate(q, strlen(q)));
    CHECK_INT(I(l.rec[0], "output_tokens"), tok_estimate(a, strlen(a)));
    CHECK_INT(I(F(l.rec[0], "body"), "max_tokens"), tok_estimate(a, strlen(a)));
    CHECK_STR(msg_content(l.rec[1], 0), "Write a haiku about {braces} and [brackets], \"quoted\".");
    CHECK_INT(cJSON_GetArraySize(F(F(l.rec[1], "body"), "messages")), 1);
    CHECK_STR(S(F(l.rec[1], "meta"), "lang"), "en");
    /* A leading system message stays in the body. */
    CHECK_STR(S(cJSON_GetArrayItem(F(F(l.rec[2], "body"), "messages"), 0), "role"), "system");
    CHECK_STR(msg_content(l.rec[2], 1), "Count to 12345.");
    CHECK_STR(msg_content(l.rec[3], 0), "]}{[ tricky: \\\" still inside");
    CHECK_INT(I(F(l.rec[3], "body"), "max_tokens"), 1);
    loaded_free(&l);
}

TEST(import_sharegpt_all_turns)
{
    import_opts o = {0};
    o.sharegpt_turns = 1;
    o.arrival = "constant";
    o.rate = 4;
    o.model = "m";
    loaded l;
    convert("sharegpt", "tests/data/sharegpt_small.json", &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 6);
    static const char *const ids[] = { "conv-a:1", "conv-b:1", "conv-b:2", "conv-b:3", "conv-c:1", "42:1" };
    static const int turns[] = { 1, 1, 2, 3, 1, 1 }, nmsg[] = { 1, 1, 3, 5, 2, 1 };
    for (int i = 0; i < 6; i++) {
        CHECK_STR(S(l.rec[i], "id"), ids[i]);
        CHECK_INT(I(l.rec[i], "turn"), turns[i]);
        CHECK_INT(I(l.rec[i], "t_us"), i * 250000);
        CHECK_INT(cJSON_GetArraySize(F(F(l.rec[i], "body"), "messages")), nmsg[i]);
        CHECK_STR(S(F(l.rec[i], "body"), "model"), "m");
    }
    CHECK_STR(S(l.rec[3], "session"), "conv-b");
    CHECK_STR(S(l.rec[3], "parent"), "conv-b:2");
    CHECK(F(l.rec[1], "parent") == NULL);
    CHECK_STR(msg_content(l.rec[3], 4), "Thanks! \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK_STR(S(cJSON_GetArrayItem(F(F(l.rec[3], "body"), "messages"), 3), "role"), "assistant");
    /* input_tokens covers the whole conversation so far. */
    long long sum = 0;
    for (int k = 0; k < 5; k++) sum += (long long)tok_estimate(msg_content(l.rec[3], k), strlen(msg_content(l.rec[3], k)));
    CHECK_INT(I(l.rec[3], "input_tokens"), sum);
    loaded_free(&l);
}

TEST(import_sharegpt_jsonl_form_and_determinism)
{
    /* The same conversations as JSON Lines give the same records. */
    const char *p = tmp("sharegpt.jsonl");
    unit_write_text(p, "{\"id\": \"x\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, "
                  "{\"from\": \"gpt\", \"value\": \"hello there\"}]}\n"
                  "{\"id\": \"y\", \"conversations\": [{\"from\": \"human\", \"value\": \"again\"}, "
                  "{\"from\": \"gpt\", \"value\": \"sure\"}]}\n");
    const char *q = tmp("sharegpt_arr.json");
    unit_write_text(q, "[{\"id\": \"x\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, "
                  "{\"from\": \"gpt\", \"value\": \"hello there\"}]},"
                  "{\"id\": \"y\", \"conversations\": [{\"from\": \"human\", \"value\": \"again\"}, "
                  "{\"from\": \"gpt\", \"value\": \"sure\"}]}]");
    import_opts o = {0};
    o.seed = 7;
    o.rate = 3;
    loaded a, b, c;
    convert("sharegpt", p, &o, &a);
    convert("sharegpt", q, &o, &b);
    o.seed = 8;
    convert("sharegpt", q, &o, &c);
    REQUIRE(a.rc == 0 && b.rc == 0 && c.rc == 0);
    REQUIRE(a.n == 2 && b.n == 2 && c.n == 2);
    for (int i = 0; i < 2; i++) {
        char *x = cJSON_PrintUnformatted(a.rec[i]), *y = cJSON_PrintUnformatted(b.rec[i]);
        CHECK_STR(x, y);
        free(x);
        free(y);
    }
    CHECK(I(a.rec[1], "t_us") > 0);
    CHECK(I(a.rec[1], "t_us") != I(c.rec[1], "t_us"));
    loaded_free(&a);
    loaded_free(&b);
    loaded_free(&c);
}

static double gap_cv(const loaded *l, double *mean)
{
    double s = 0, s2 = 0;
    size_t n = l->n - 1;
    for (size_t i = 1; i < l->n; i++) {
        double g = (double)(I(l->rec[i], "t_us") - I(l->rec[i - 1], "t_us"));
        s += g;
        s2 += g * g;
    }
    *mean = s / (double)n;
    return sqrt(s2 / (double)n - *mean * *mean) / *mean;
}

TEST(import_sharegpt_arrival_processes)
{
    /* 20000 one-turn conversations at 50 req/s: the gaps' mean is 20 ms and
     * their CV is 1 (poisson), 2 (gamma:2) or 0 (constant). The seed is
     * fixed, so this is deterministic; the bounds are ~5 standard errors. */
    const char *p = tmp("sharegpt_many.jsonl");
    FILE *f = fopen(p, "wb");
    REQUIRE(f != NULL);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "{\"id\": \"c%d\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, "
                   "{\"from\": \"gpt\", \"value\": \"a\"}]}\n", i);
    fclose(f);
    static const char *const arr[] = { "poisson", "gamma:2", "constant" };
    static const double cv_want[] = { 1.0, 2.0, 0.0 }, cv_tol[] = { 0.04, 0.15, 1e-6 },
                        mean_tol[] = { 0.04, 0.08, 1e-3 };
    for (int k = 0; k < 3; k++) {
        import_opts o = {0};
        o.arrival = arr[k];
        o.rate = 50;
        o.seed = 1;
        loaded l;
        convert("sharegpt", p, &o, &l);
        REQUIRE(l.rc == 0);
        REQUIRE(l.n == 20000);
        double mean, cv = gap_cv(&l, &mean);
        CHECK_NEAR(mean, 20000.0, 20000.0 * mean_tol[k]);
        CHECK_NEAR(cv, cv_want[k], cv_tol[k] + 0.01);
        CHECK_STR(S(F(l.header, "synthesised_arrivals"), "arrival"), arr[k]);
        loaded_free(&l);
    }
}

/* ---- generic JSON Lines ---- */

TEST(import_jsonl_with_map)
{
    const char *p = tmp("generic.jsonl");
    unit_write_text(p, "{\"ts\": 0.5, \"prompt_len\": 10, \"completion_len\": 5, \"conv\": \"s1\", "
                  "\"model\": \"llama\", \"req_id\": \"r1\", \"endpoint\": \"chat\", \"extra\": 1, "
                  "\"meta\": {\"arrival\": 1500, \"zone\": \"eu\"}}\n"
                  "{\"ts\": \"1.25\", \"prompt_len\": 12, \"completion_len\": 7, \"conv\": 7, "
                  "\"model\": \"llama\", \"req_id\": 2, \"endpoint\": \"completions\", "
                  "\"request\": {\"prompt\": \"hi\"}, \"meta\": {\"arrival\": 2000}}\n");
    import_opts o = {0};
    o.map = "t=ts,input=prompt_len,output=completion_len,session=conv,model=model,id=req_id,api=endpoint";
    loaded l;
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 2);
    CHECK_INT(I(l.rec[0], "t_us"), 500000);
    CHECK_STR(S(l.rec[0], "id"), "r1");
    CHECK_STR(S(l.rec[0], "session"), "s1");
    CHECK_STR(S(l.rec[0], "api"), "chat");
    CHECK_STR(S(l.rec[0], "model"), "llama");
    CHECK_INT(I(l.rec[0], "input_tokens"), 10);
    CHECK_INT(I(l.rec[0], "output_tokens"), 5);
    CHECK_INT(I(F(l.rec[0], "meta"), "extra"), 1);
    CHECK_STR(S(F(F(l.rec[0], "meta"), "meta"), "zone"), "eu");
    CHECK(F(F(l.rec[0], "meta"), "ts") == NULL);
    CHECK_INT(I(l.rec[1], "t_us"), 1250000);
    CHECK_STR(S(l.rec[1], "id"), "2");
    CHECK_STR(S(l.rec[1], "session"), "7");
    /* body is not mapped explicitly, and "request" is not the default name. */
    CHECK(F(l.rec[1], "body") == NULL);
    loaded_free(&l);

    /* Nested path and another unit; the nested object loses the mapped key. */
    o.map = "t=meta.arrival,input=prompt_len";
    o.time_unit = "ms";
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(I(l.rec[0], "t_us"), 1500000);
    CHECK_INT(I(l.rec[1], "t_us"), 2000000);
    CHECK(F(F(F(l.rec[0], "meta"), "meta"), "arrival") == NULL);
    CHECK_STR(S(F(F(l.rec[0], "meta"), "meta"), "zone"), "eu");
    CHECK(F(F(l.rec[1], "meta"), "meta") == NULL); /* emptied: removed */
    loaded_free(&l);

    /* A mapped field missing from a line names the source field. */
    o.map = "t=ts,input=prompt_len,body=request";
    o.time_unit = NULL;
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "generic.jsonl:1: field 'request'");
    loaded_free(&l);
    o.skip_invalid = 1;
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.st.skipped, 1);
    CHECK_STR(S(F(l.rec[0], "body"), "prompt"), "hi");
    CHECK_STR(S(l.rec[0], "api"), "chat");
    loaded_free(&l);
}

TEST(import_jsonl_defaults_hash_ids_and_usage_errors)
{
    const char *p = tmp("generic2.jsonl");
    unit_write_text(p, "{\"timestamp\": 100, \"input_tokens\": 3, \"output_tokens\": 4, \"hash_ids\": [1, 2], "
                  "\"turn\": 2, \"parent\": \"p\", \"session\": \"s\"}\n");
    import_opts o = {0};
    o.time_unit = "us";
    loaded l;
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "field 'hash_ids'");
    CHECK_CONTAINS(l.err, "block_size=N");
    loaded_free(&l);
    o.map = "block_size=32";
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0);
    REQUIRE(l.n == 1);
    CHECK_INT(I(l.header, "block_size"), 32);
    CHECK_INT(I(l.rec[0], "t_us"), 100);
    CHECK_INT(I(l.rec[0], "turn"), 2);
    CHECK_STR(S(l.rec[0], "parent"), "p");
    CHECK_INT(cJSON_GetArraySize(F(l.rec[0], "hash_ids")), 2);
    loaded_free(&l);

    static const char *const maps[] = { "t", "x=ts", "t=", "=ts", "t=ts,,input=a", "block_size=0" };
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
        o.map = maps[i];
        convert("jsonl", p, &o, &l);
        if (l.rc != ERR_USAGE) unit_fail(__FILE__, __LINE__, "--map '%s' gave %d", maps[i], l.rc);
        CHECK_CONTAINS(l.err, "--map");
        loaded_free(&l);
    }
    o.map = NULL;
    o.time_unit = "h";
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_USAGE);
    loaded_free(&l);
    import_opts s = {0};
    s.arrival = "gamma:-1";
    convert("sharegpt", "tests/data/sharegpt_small.json", &s, &l);
    CHECK_INT(l.rc, ERR_USAGE);
    CHECK_CONTAINS(l.err, "--arrival");
    loaded_free(&l);
    s.arrival = "weibull";
    convert("sharegpt", "tests/data/sharegpt_small.json", &s, &l);
    CHECK_INT(l.rc, ERR_USAGE);
    loaded_free(&l);
}

/* ---- bad input ---- */

typedef struct bad_case {
    const char *fmt, *file, *map;
    const char *where;      /* "FILE:LINE: field 'X'" part of the message */
    int skippable;          /* --skip-invalid turns it into a skipped row */
} bad_case;

static const bad_case bad_cases[] = {
    { "azure", "azure_missing_column.csv", NULL, "azure_missing_column.csv:1: field 'GeneratedTokens'", 0 },
    { "azure", "azure_bad_timestamp.csv", NULL, "azure_bad_timestamp.csv:3: field 'TIMESTAMP'", 1 },
    { "azure", "azure_bad_number.csv", NULL, "azure_bad_number.csv:3: field 'ContextTokens'", 1 },
    { "azure", "azure_out_of_order.csv", NULL, "azure_out_of_order.csv:5: field 'timestamp'", 1 },
    { "azure", "azure_extra_field.csv", NULL, "azure_extra_field.csv:3: field '(row)'", 1 },
    { "azure", "azure_quoted_newline.csv", NULL, "azure_quoted_newline.csv:5: field 'GeneratedTokens'", 1 },
    { "burstgpt", "burstgpt_wrong_columns.csv", NULL, "burstgpt_wrong_columns.csv:1: field 'Timestamp'", 0 },
    { "burstgpt", "burstgpt_bad_number.csv", NULL, "burstgpt_bad_number.csv:3: field 'Response tokens'", 1 },
    { "burstgpt", "burstgpt_stray_quote.csv", NULL, "burstgpt_stray_quote.csv:3: field '(csv)'", 1 },
    { "burstgpt", "burstgpt_out_of_order.csv", NULL, "burstgpt_out_of_order.csv:3: field 'timestamp'", 1 },
    { "splitwise", "splitwise_negative_time.csv", NULL, "splitwise_negative_time.csv:3: field 'arrival_timestamp'", 1 },
    { "splitwise", "splitwise_short_row.csv", NULL, "splitwise_short_row.csv:3: field 'prompt_size'", 1 },
    { "mooncake", "mooncake_bad_json.jsonl", NULL, "mooncake_bad_json.jsonl:2: field '(json)'", 1 },
    { "mooncake", "mooncake_bad_hash.jsonl", NULL, "mooncake_bad_hash.jsonl:2: field 'hash_ids'", 1 },
    { "mooncake", "mooncake_missing_field.jsonl", NULL, "mooncake_missing_field.jsonl:3: field 'output_length'", 1 },
    { "mooncake", "mooncake_out_of_order.jsonl", NULL, "mooncake_out_of_order.jsonl:2: field 'timestamp'", 1 },
    { "mooncake", "mooncake_bad_timestamp.jsonl", NULL, "mooncake_bad_timestamp.jsonl:1: field 'timestamp'", 1 },
    { "bailian", "bailian_duplicate_id.jsonl", NULL, "bailian_duplicate_id.jsonl:2: field 'chat_id'", 1 },
    { "bailian", "bailian_bad_parent.jsonl", NULL, "bailian_bad_parent.jsonl:2: field 'parent_chat_id'", 1 },
    { "aibrix", "aibrix_bad_requests.jsonl", NULL, "aibrix_bad_requests.jsonl:2: field 'requests'", 1 },
    { "aibrix", "aibrix_bad_length.jsonl", NULL, "aibrix_bad_length.jsonl:1: field 'Prompt Length'", 1 },
    { "sharegpt", "sharegpt_truncated.json", NULL, "sharegpt_truncated.json:3: field '(json)'", 0 },
    { "sharegpt", "sharegpt_no_reply.json", NULL, "sharegpt_no_reply.json:3: field 'conversations'", 1 },
    { "sharegpt", "sharegpt_bad_role.json", NULL, "sharegpt_bad_role.json:1: field 'conversations[0].from'", 1 },
    { "sharegpt", "sharegpt_missing_comma.json", NULL, "sharegpt_missing_comma.json:2: field '(json)'", 0 },
    { "jsonl", "jsonl_missing_field.jsonl", "t=ts,input=len", "jsonl_missing_field.jsonl:2: field 'len'", 1 },
    { "jsonl", "jsonl_bad_time.jsonl", "t=ts,input=len", "jsonl_bad_time.jsonl:2: field 'ts'", 1 },
};

TEST(import_bad_corpus_messages_and_skip_invalid)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        char path[256];
        snprintf(path, sizeof path, "tests/data/bad/%s", c->file);
        import_opts o = {0};
        o.map = c->map;
        loaded l;
        convert(c->fmt, path, &o, &l);
        if (l.rc != ERR_INPUT || !strstr(l.err, c->where))
            unit_fail(__FILE__, __LINE__, "%s: rc %d, message \"%s\", expected \"%s\"", c->file,
                      l.rc, l.err, c->where);
        loaded_free(&l);
        o.skip_invalid = 1;
        convert(c->fmt, path, &o, &l);
        if (c->skippable) {
            if (l.rc != 0 || l.st.skipped < 1 || !strstr(l.st.first_skip, c->where))
                unit_fail(__FILE__, __LINE__, "%s with --skip-invalid: rc %d, skipped %llu, "
                          "first \"%s\" (%s)", c->file, l.rc, (unsigned long long)l.st.skipped,
                          l.st.first_skip, l.err);
            if (l.rc == 0 && l.n != l.st.records)
                unit_fail(__FILE__, __LINE__, "%s: %zu records read, %llu written", c->file,
                          l.n, (unsigned long long)l.st.records);
        } else if (l.rc != ERR_INPUT) {
            unit_fail(__FILE__, __LINE__, "%s: --skip-invalid must not hide a fatal error (rc %d)",
                      c->file, l.rc);
        }
        loaded_free(&l);
    }
}

TEST(import_skip_invalid_counts_every_bad_row)
{
    const char *p = tmp("burst_many_bad.csv");
    unit_write_text(p, "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                  "1,ChatGPT,1,1,2,API log\n"
                  "x,ChatGPT,1,1,2,API log\n"
                  "2,ChatGPT,-1,1,2,API log\n"
                  "3,Chat\"GPT,1,1,2,API log\n"
                  "4,ChatGPT,1,1,2,API log\n"
                  "5,ChatGPT,1,1\n"
                  "6,ChatGPT,1,1,2,API log\n");
    import_opts o = {0};
    o.skip_invalid = 1;
    loaded l;
    convert("burstgpt", p, &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 4);
    CHECK_INT(l.st.skipped, 3);
    CHECK_CONTAINS(l.st.first_skip, "burst_many_bad.csv:3: field 'Timestamp'");
    CHECK_INT(I(l.rec[3], "t_us"), 6000000);
    /* The short row (line 7) lacks optional columns only: it is kept. */
    CHECK_INT(I(l.rec[2], "t_us"), 5000000);
    loaded_free(&l);

    /* After a stray quote inside a multi-line field, counting goes on
     * from the line of the error. */
    unit_write_text(p, "Timestamp,Model,Request tokens,Response tokens\n"
                  "1,\"two\nlines\"x,1,1\n"
                  "2,m,1,bad\n");
    o.skip_invalid = 0;
    convert("burstgpt", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "burst_many_bad.csv:3: field '(csv)'");
    loaded_free(&l);
    o.skip_invalid = 1;
    convert("burstgpt", p, &o, &l);
    CHECK_INT(l.rc, 0);
    CHECK_INT(l.st.skipped, 2);
    CHECK_INT(l.n, 0);
    loaded_free(&l);
    unit_write_text(p, "Timestamp,Model,Request tokens,Response tokens\n"
                  "1,\"two\nlines\"x,1,1\n"
                  "2,m,1,1\n"
                  "3,m,1,bad\n");
    convert("burstgpt", p, &o, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.st.skipped, 2);
    CHECK_CONTAINS(l.st.first_skip, ":3: field '(csv)'");
    loaded_free(&l);
    o.skip_invalid = 0;
    convert("burstgpt", p, &o, &l);
    CHECK_CONTAINS(l.err, ":3: field '(csv)'");
    loaded_free(&l);
}

TEST(import_empty_and_garbage_inputs)
{
    for (int i = 0; importers[i]; i++) {
        import_opts o = {0};
        if (!strcmp(importers[i]->name, "jsonl")) o.map = "t=ts,input=n";
        loaded l;
        convert(importers[i]->name, "tests/data/bad/empty.txt", &o, &l);
        if (l.rc != ERR_INPUT || !strstr(l.err, "empty.txt:1: field '"))
            unit_fail(__FILE__, __LINE__, "%s on an empty file: rc %d, \"%s\"",
                      importers[i]->name, l.rc, l.err);
        loaded_free(&l);
        convert(importers[i]->name, "tests/data/bad/garbage.bin", &o, &l);
        if (l.rc != ERR_INPUT || !strstr(l.err, "garbage.bin:"))
            unit_fail(__FILE__, __LINE__, "%s on garbage: rc %d, \"%s\"",
                      importers[i]->name, l.rc, l.err);
        loaded_free(&l);
        o.skip_invalid = 1;
        convert(importers[i]->name, "tests/data/bad/garbage.bin", &o, &l);
        if (l.rc != ERR_INPUT && l.rc != 0)
            unit_fail(__FILE__, __LINE__, "%s on garbage with --skip-invalid: rc %d",
                      importers[i]->name, l.rc);
        loaded_free(&l);
    }
}

TEST(import_truncated_and_whole_zstd)
{
    loaded l;
    convert("mooncake", "tests/data/bad/mooncake_truncated.jsonl.zst", NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "truncated");
    loaded_free(&l);

    /* A whole zstd file converts like the plain one. */
    char err[512];
    const char *z = tmp("azure.csv.zst");
    zio_writer *w = zio_writer_open(z, 3, err, sizeof err);
    REQUIRE(w != NULL);
    FILE *f = fopen(unit_shared("AzureLLMInferenceTrace_conv.csv"), "rb");
    REQUIRE(f != NULL);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) zio_writer_write(w, buf, n);
    fclose(f);
    REQUIRE(zio_writer_close(w, err, sizeof err) == 0);
    convert("azure", z, NULL, &l);
    REQUIRE(l.rc == 0);
    CHECK_INT(l.n, 2999);
    CHECK_INT(I(l.rec[2998], "t_us"), 628559229);
    loaded_free(&l);
}

static void write_long_line_file(const char *path, const char *before, char fill,
                                 size_t n, const char *after)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(before, f);
    char *b = xmalloc(n);
    memset(b, fill, n);
    fwrite(b, 1, n, f);
    free(b);
    fputs(after, f);
    fclose(f);
}

TEST(import_ten_megabyte_lines)
{
    const size_t big = 10u << 20;
    loaded l;
    const char *p = tmp("long.csv");
    write_long_line_file(p, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n"
                            "2023-11-16 18:15:47.0,", '7', big, ",1\n");
    convert("azure", p, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "long.csv:3: field 'ContextTokens'");
    loaded_free(&l);

    p = tmp("long.jsonl");
    write_long_line_file(p, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n{\"x\": \"",
                         'x', big, "\n");
    convert("mooncake", p, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "long.jsonl:2: field '(json)'");
    loaded_free(&l);
    /* A valid 10 MB line is fine (its field lands in meta). */
    write_long_line_file(p, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"x\": \"",
                         'x', big, "\"}\n");
    convert("mooncake", p, NULL, &l);
    CHECK_INT(l.rc, 0);
    CHECK_INT(l.n, 1);
    loaded_free(&l);

    p = tmp("long.json");
    write_long_line_file(p, "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"",
                         'y', big, "\"}, {\"from\": \"gpt\", \"value\": \"ok\"}]}]");
    convert("sharegpt", p, NULL, &l);
    CHECK_INT(l.rc, 0);
    REQUIRE(l.n == 1);
    CHECK_INT(strlen(msg_content(l.rec[0], 0)), big);
    loaded_free(&l);
}

TEST(import_csv_line_numbers_with_quotes_and_blank_lines)
{
    const char *p = tmp("lines.csv");
    unit_write_text(p, "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\r\n"
                  "\r\n"
                  "1,\"multi\r\nline\r\nmodel\",1,1,2,API log\r\n"
                  "\r\n"
                  "\r\n"
                  "2,ChatGPT,1,oops,2,API log\r\n");
    loaded l;
    convert("burstgpt", p, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "lines.csv:8: field 'Response tokens'");
    loaded_free(&l);
    /* An unclosed quote at the end is reported, not swallowed. */
    unit_write_text(p, "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                  "1,ChatGPT,1,1,2,API log\n"
                  "2,\"ChatGPT,1,1,2,API log\n");
    convert("burstgpt", p, NULL, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "lines.csv:3: field '(csv)'");
    loaded_free(&l);
}

/* Wall-clock times (epoch seconds, ms or us) are rebased on the first
 * record, the earliest with --sort, and kept in the header as t0; offsets
 * stay as they are. Order errors name the user's field, not "t". */
TEST(import_jsonl_epoch_times_rebased)
{
    const char *p = tmp("epoch.jsonl");
    /* 1733400000.5 s = 2024-12-05T12:00:00.5Z */
    unit_write_text(p, "{\"ts\": 1733400000.5, \"n\": 10}\n"
                  "{\"ts\": 1733400002.0, \"n\": 11}\n"
                  "{\"ts\": 1733400001.25, \"n\": 12}\n");
    import_opts o = {0};
    o.map = "t=ts,input=n";
    loaded l;
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "epoch.jsonl:3: field 'ts': out of order: 0.750000 s comes after 1.500000 s (line 2)");
    CHECK_CONTAINS(l.err, "re-run with --sort");
    loaded_free(&l);
    o.sort = 1;
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0 && l.n == 3);
    CHECK_STR(S(l.header, "t0"), "2024-12-05T12:00:00.500000Z");
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK_INT(I(l.rec[1], "t_us"), 750000);
    CHECK_INT(I(l.rec[2], "t_us"), 1500000);
    loaded_free(&l);

    /* milliseconds, in order, without --sort; a record before the first */
    unit_write_text(p, "{\"ts\": 1733400000500, \"n\": 10}\n{\"ts\": 1733400000750, \"n\": 11}\n");
    o.sort = 0;
    o.time_unit = "ms";
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0 && l.n == 2);
    CHECK_STR(S(l.header, "t0"), "2024-12-05T12:00:00.500000Z");
    CHECK_INT(I(l.rec[0], "t_us"), 0);
    CHECK_INT(I(l.rec[1], "t_us"), 250000);
    loaded_free(&l);
    unit_write_text(p, "{\"ts\": 1733400000500, \"n\": 10}\n{\"ts\": 1733400000250, \"n\": 11}\n");
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "epoch.jsonl:2: field 'ts': out of order: 0.250000 s before the first record's time");
    loaded_free(&l);

    /* offsets are kept (the wait before the first request too), no t0 */
    unit_write_text(p, "{\"ts\": 2.5, \"n\": 10}\n{\"ts\": 3, \"n\": 11}\n");
    o.time_unit = NULL;
    convert("jsonl", p, &o, &l);
    REQUIRE(l.rc == 0 && l.n == 2);
    CHECK(F(l.header, "t0") == NULL);
    CHECK_INT(I(l.rec[0], "t_us"), 2500000);
    loaded_free(&l);
    /* a negative time names the user's field */
    unit_write_text(p, "{\"ts\": 2.5, \"n\": 10}\n{\"ts\": -1, \"n\": 11}\n");
    convert("jsonl", p, &o, &l);
    CHECK_INT(l.rc, ERR_INPUT);
    CHECK_CONTAINS(l.err, "epoch.jsonl:2: field 'ts':");
    loaded_free(&l);
}
