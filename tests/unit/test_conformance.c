/* test_conformance.c — replays the server transcripts of tests/conformance/
 * through every HTTP client (gateway, vllm, lmdeploy) and checks each
 * client's per-request record against the transcript's expectations.
 *
 * A transcript is what one server sends for one request: status, content
 * type and the body byte for byte (see tests/conformance/README.md for the
 * format). The body goes through the replay's own code: xfer_start builds
 * the request with the client, xfer_response_begin/xfer_response_data take
 * the response as libcurl's write callback would hand it over (one SSE
 * event at a time, event k at k ms after the send), xfer_complete
 * classifies it and xfer_format writes the requests.jsonl line, which is
 * parsed back and compared field by field. */
#include "tests/unit/unit.h"
#include "replay/xfer.h"
#include "replay/replay_int.h"
#include "analysis/runlog.h"

#include <dirent.h>
#include <stdlib.h>

#define CONF_DIR "tests/conformance"
#define MS 1000000LL

static const char *const http_clients[] = {"gateway", "vllm", "lmdeploy"};
#define NCLIENTS (sizeof http_clients / sizeof *http_clients)

typedef struct transcript {
    char path[300];
    char *text;               /* the whole file (owned) */
    const char *api;          /* "chat", "completions", "generate" */
    int status;
    char ctype[128];
    const char *body;         /* into text */
    size_t body_len;
    /* expectation lines: "expect CLIENTS KEY=VALUE ..." (pointers into text) */
    const char *expect[32];
    int nexpect;
} transcript;

/* Reads a transcript's header lines; the body is everything after the
 * line "body". Returns 0, or -1 with a failure reported. */
static int load(const char *path, transcript *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    size_t len = 0;
    char err[512];
    if (!(t->text = file_read_all(path, &len, err, sizeof err))) {
        unit_fail(__FILE__, __LINE__, "%s", err);
        return -1;
    }
    t->api = "chat";
    char *p = t->text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        if (!strcmp(p, "body")) {
            t->body = nl + 1;
            t->body_len = len - (size_t)(t->body - t->text);
            return 0;
        }
        if (!strncmp(p, "api ", 4)) t->api = p + 4;
        else if (!strncmp(p, "status ", 7)) t->status = atoi(p + 7);
        else if (!strncmp(p, "content-type ", 13)) snprintf(t->ctype, sizeof t->ctype, "%s", p + 13);
        else if (!strncmp(p, "expect ", 7) && t->nexpect < 32) t->expect[t->nexpect++] = p + 7;
        else if (*p && *p != '#' && strncmp(p, "server ", 7) && strncmp(p, "source ", 7))
            unit_fail(__FILE__, __LINE__, "%s: unknown header line '%s'", path, p);
        p = nl + 1;
    }
    unit_fail(__FILE__, __LINE__, "%s: no 'body' line", path);
    return -1;
}

/* Whether an expectation line's client list ("all" or "a,b") names cl. */
static int names_client(const char *list, size_t n, const char *cl)
{
    if (n == 3 && !memcmp(list, "all", 3)) return 1;
    size_t cn = strlen(cl);
    for (const char *p = list; p < list + n;) {
        const char *c = memchr(p, ',', (size_t)(list + n - p));
        size_t k = c ? (size_t)(c - p) : (size_t)(list + n - p);
        if (k == cn && !memcmp(p, cl, cn)) return 1;
        p += k + 1;
    }
    return 0;
}

/* The nth (0-based) setting of expectation KEY for client cl, in file
 * order; pass nth -1 for the last, which wins (a later line overrides an
 * earlier "all" for one client). Values may be "quoted" to hold spaces. A
 * bare word (ok) is a key with an empty value. Returns 1 and the value in
 * val, or 0. */
static int expected_nth(const transcript *t, const char *cl, const char *key, int nth,
                        char *val, size_t vlen)
{
    int found = 0, seen = 0;
    size_t kl = strlen(key);
    for (int i = 0; i < t->nexpect; i++) {
        const char *e = t->expect[i], *sp = strchr(e, ' ');
        if (!sp || !names_client(e, (size_t)(sp - e), cl)) continue;
        for (const char *p = sp; *p;) {
            while (*p == ' ') p++;
            const char *w = p, *v = NULL, *end;
            while (*p && *p != ' ' && *p != '=') p++;
            size_t wl = (size_t)(p - w);
            if (*p == '=') {
                p++;
                if (*p == '"') {
                    v = ++p;
                    while (*p && *p != '"') p++;
                    end = p;
                    if (*p) p++;
                } else {
                    v = p;
                    while (*p && *p != ' ') p++;
                    end = p;
                }
            } else {
                end = v = p;
            }
            if (wl == kl && !memcmp(w, key, kl) && (nth < 0 || seen++ == nth)) {
                snprintf(val, vlen, "%.*s", (int)(end - v), v);
                found = 1;
            }
        }
    }
    return found;
}

static int expected(const transcript *t, const char *cl, const char *key, char *val, size_t vlen)
{
    return expected_nth(t, cl, key, -1, val, vlen);
}

/* The length of the next SSE event in b (through its blank line). */
static size_t next_event(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == '\n' && b[i + 1] == '\n') return i + 2;
        if (i + 3 < n && !memcmp(b + i, "\r\n\r\n", 4)) return i + 4;
    }
    return n;
}

/* Replays t through client name; returns the parsed log line (caller
 * frees) or NULL. */
static cJSON *replay_one(const transcript *t, const char *name)
{
    client_opts co = {0};
    char err[256], line[512];
    co.base_url = co.root_url = "http://127.0.0.1:9";
    co.api_url = "http://127.0.0.1:9/v1";
    co.stream = !strncmp(t->ctype, "text/event-stream", 17);
    co.force_output_len = 1;
    client *cl = client_new(client_find(name, NULL), &co, err, sizeof err);
    if (!cl) return NULL;
    replay_opts o = {0};
    rq q = {0};
    snprintf(line, sizeof line, "{\"t_us\":0,\"id\":\"conf\",\"api\":\"%s\",\"model\":\"m\","
             "\"input_tokens\":8,\"output_tokens\":4,\"body\":{\"model\":\"m\",%s}}", t->api,
             strcmp(t->api, "chat") ? "\"prompt\":\"hi\"" : "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]");
    cJSON *out = NULL;
    if (trace_rec_parse(&q.rec, line, strlen(line), 0, err, sizeof err) < 0) {
        unit_fail(__FILE__, __LINE__, "record: %s", err);
        client_free(cl);
        return NULL;
    }
    xfer *x = xfer_new(cl, NULL, &o);
    if (xfer_start(x, &q, 0, 1) == 0) {
        x->t_send = 0;
        xfer_response_begin(x, t->status, t->ctype[0] ? t->ctype : NULL, 1 * MS);
        size_t off = 0;
        int64_t k = 1, stopped = 0;
        while (off < t->body_len && !stopped) {
            size_t n = x->is_sse && x->status < 300 ? next_event(t->body + off, t->body_len - off)
                                                     : t->body_len - off;
            stopped = xfer_response_data(x, t->body + off, n, k * MS) < 0;
            off += n;
            k++;
        }
        x->t_end = k * MS;
        xfer_complete(x, stopped ? CURLE_WRITE_ERROR : CURLE_OK);
        strbuf b = {0};
        xfer_format(x, &b);
        const char *end = NULL;
        out = cJSON_ParseWithLengthOpts(b.buf, b.len, &end, 0);
        sb_free(&b);
    }
    xfer_recycle(x);
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
    return out;
}

static const char *field_text(const cJSON *rec, const char *key, char *buf, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!v || cJSON_IsNull(v)) snprintf(buf, n, "none");
    else if (cJSON_IsString(v)) snprintf(buf, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(buf, n, "%.10g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else snprintf(buf, n, "?");
    return buf;
}

/* gaps_ns as chunk counts ("1,2"); "" when none. */
static void gap_text(const cJSON *rec, char *buf, size_t n)
{
    const cJSON *g;
    size_t len = 0;
    buf[0] = '\0';
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(rec, "gaps_ns")) {
        if (len + 24 >= n) break;
        len += (size_t)snprintf(buf + len, n - len, len ? ",%.10g" : "%.10g", g->valuedouble / MS);
    }
}

static int quiet;             /* count mismatches without reporting them */

/* Compares one client's record with the expectations; returns failures. */
static int check_record(const transcript *t, const char *cl, const cJSON *rec)
{
    static const struct { const char *key, *field; } plain[] = {
        {"events", "events"}, {"ttft_chunk", "ttft_ms"}, {"output_tokens", "output_tokens"},
        {"token_source", "token_source"}, {"prompt_tokens", "prompt_tokens"},
        {"finish_reason", "finish_reason"}, {"n", "n"}, {"itl_basis", "itl_basis"},
        {"tpot_ms", "tpot_ms"}, {"status", "status"},
    };
    char want[256], got[256];
    int bad = 0;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(rec, "error");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(error, "class");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
    int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "ok"));
    const char *gotcls = cJSON_IsString(cls) ? cls->valuestring : "none";
#define MISMATCH(what, w, g) do { bad++; if (!quiet) unit_fail(__FILE__, __LINE__, "%s [%s]: %s is %s, expected %s", \
        t->path, cl, what, g, w); } while (0)
    if (expected(t, cl, "ok", want, sizeof want)) {
        if (!ok) MISMATCH("outcome", "ok", gotcls);
    } else if (expected(t, cl, "error", want, sizeof want)) {
        if (ok || strcmp(want, gotcls)) MISMATCH("outcome", want, ok ? "ok" : gotcls);
    } else {
        bad++;
        unit_fail(__FILE__, __LINE__, "%s: no expected outcome (ok or error=CLASS) for %s", t->path, cl);
    }
    /* Every message=... given must be part of the message. */
    for (int i = 0; expected_nth(t, cl, "message", i, want, sizeof want); i++)
        if (!(cJSON_IsString(msg) && strstr(msg->valuestring, want)))
            MISMATCH("error message", want, cJSON_IsString(msg) ? msg->valuestring : "none");
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (expected(t, cl, plain[i].key, want, sizeof want) &&
            strcmp(want, field_text(rec, plain[i].field, got, sizeof got)))
            MISMATCH(plain[i].key, want, got);
    if (expected(t, cl, "gaps", want, sizeof want)) {
        gap_text(rec, got, sizeof got);
        if (strcmp(want, got)) MISMATCH("gaps (chunks)", want, got);
    }
    if (t->status != (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "status")))
        MISMATCH("status", "the transcript's", field_text(rec, "status", got, sizeof got));
#undef MISMATCH
    return bad;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The transcripts, sorted (caller frees each and the array). */
static char **list_transcripts(int *n)
{
    DIR *d = opendir(CONF_DIR);
    char **v = NULL;
    *n = 0;
    if (!d) return NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".txt")) continue;
        v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
        v[*n] = xcalloc(1, l + sizeof CONF_DIR + 1);
        sprintf(v[*n], "%s/%s", CONF_DIR, de->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, by_name);
    return v;
}

/* Runs every transcript through client cl (NULL: all of them). */
static void run_client(const char *only)
{
    int n = 0, checked = 0;
    char **files = list_transcripts(&n);
    for (int i = 0; i < n; i++) {
        transcript t;
        if (load(files[i], &t) == 0) {
            for (size_t c = 0; c < NCLIENTS; c++) {
                if (only && strcmp(only, http_clients[c])) continue;
                cJSON *rec = replay_one(&t, http_clients[c]);
                if (!rec) {
                    unit_fail(__FILE__, __LINE__, "%s [%s]: no record", t.path, http_clients[c]);
                    continue;
                }
                check_record(&t, http_clients[c], rec);
                cJSON_Delete(rec);
                checked++;
            }
        }
        free(t.text);
        free(files[i]);
    }
    free(files);
    if (n < 30) unit_fail(__FILE__, __LINE__, "only %d transcripts found in %s", n, CONF_DIR);
    CHECK(checked == n);
}

TEST(conformance_gateway) { run_client("gateway"); }
TEST(conformance_vllm) { run_client("vllm"); }
TEST(conformance_lmdeploy) { run_client("lmdeploy"); }

/* The driver itself: a transcript whose expectation is wrong must fail. */
TEST(conformance_driver_detects_a_wrong_expectation)
{
    transcript t = {0};
    char text[] = "status 200\ncontent-type text/event-stream\n"
                  "expect all ok events=2 ttft_chunk=1 gaps=1 n=1 output_tokens=5\nbody\n"
                  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n"
                  "data: [DONE]\n\n";
    t.text = text;
    snprintf(t.path, sizeof t.path, "inline");
    t.api = "chat";
    t.status = 200;
    snprintf(t.ctype, sizeof t.ctype, "text/event-stream");
    char *b = strstr(text, "body\n") + 5;
    t.body = b;
    t.body_len = strlen(b);
    t.expect[t.nexpect++] = "all ok events=2 ttft_chunk=1 gaps=1 n=1 output_tokens=5";
    cJSON *rec = replay_one(&t, "gateway");
    REQUIRE(rec);
    quiet = 1;
    int bad = check_record(&t, "gateway", rec);
    quiet = 0;
    /* Everything matches but output_tokens (2 chunks, no usage). */
    CHECK_INT(bad, 1);
    t.expect[0] = "all ok events=2 ttft_chunk=1 gaps=1 n=1 output_tokens=2 token_source=chunks";
    CHECK_INT(check_record(&t, "gateway", rec), 0);
    cJSON_Delete(rec);
}

/* The summary's TPOT (analysis/runlog.c, from the log line) and the log
 * line's own tpot_ms agree for n > 1: both per choice. */
TEST(conformance_tpot_for_several_choices_agrees_with_the_summary)
{
    transcript t;
    REQUIRE(load(CONF_DIR "/vllm_chat_stream_n2.txt", &t) == 0);
    cJSON *rec = replay_one(&t, "vllm");
    free(t.text);
    REQUIRE(rec);
    double tpot_ms = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "tpot_ms"));
    CHECK_NEAR(tpot_ms, 2.5, 1e-9);
    char path[512], *line = cJSON_PrintUnformatted(rec);
    snprintf(path, sizeof path, "%s/n2-requests.jsonl", unit_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "%s\n", line);
    fclose(f);
    free(line);
    cJSON_Delete(rec);
    char err[512] = "";
    int rc = 0;
    runlog *r = runlog_open(path, NULL, &rc, err, sizeof err);
    if (!r) unit_fail(__FILE__, __LINE__, "runlog_open: %s", err);
    REQUIRE(r);
    REQUIRE(r->nreqs == 1);
    CHECK_NEAR(r->reqs[0].tpot_ns / 1e6, 2.5, 1e-9);
    runlog_free(r);
}
