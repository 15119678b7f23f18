/* test_engine_host.c — the engine interface's host (clients/engine_host.h):
 * the built-in simulated engine behind the interface, an engine library
 * built here from tests/data/engine_min.c and loaded with dlopen (and its
 * broken variants: wrong interface version, missing symbol), and the Python
 * bridge with tests/data/py_engine/test_engine.py (generate path, stream
 * path, an exception inside the engine), when this build has the bridge. */
#include "tests/unit/unit.h"
#include "clients/engine_host.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What one request received. */
typedef struct got {
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *ndone;
    int64_t tokens, batches, text_bytes, done_calls;
    int64_t first_engine_ns, last_engine_ns;
    int tokens_after_done;
    char finish[32], error[256];
    sagellm_result res;
} got;

static void on_tokens(void *user, int64_t n, const char *text, size_t len, int64_t engine_ns)
{
    got *g = user;
    if (g->done_calls) g->tokens_after_done = 1;
    g->tokens += n;
    g->batches++;
    g->text_bytes += (int64_t)len;
    if (g->first_engine_ns < 0) g->first_engine_ns = engine_ns;
    g->last_engine_ns = engine_ns;
}

static void on_done(void *user, const sagellm_result *r)
{
    got *g = user;
    pthread_mutex_lock(g->mu);
    g->done_calls++;
    g->res = *r;
    snprintf(g->finish, sizeof g->finish, "%s", r->finish_reason ? r->finish_reason : "");
    snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
    g->res.finish_reason = g->res.error = NULL;
    (*g->ndone)++;
    pthread_cond_broadcast(g->cv);
    pthread_mutex_unlock(g->mu);
}

static const sagellm_callbacks cbs = { sizeof(sagellm_callbacks), on_tokens, on_done };

typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ndone;
    got g[64];
} batch;

static void batch_init(batch *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    for (int i = 0; i < 64; i++) {
        b->g[i].mu = &b->mu;
        b->g[i].cv = &b->cv;
        b->g[i].ndone = &b->ndone;
        b->g[i].first_engine_ns = b->g[i].last_engine_ns = -1;
    }
}

/* Waits (bounded, 60 s) until n requests are done. Returns 1 when they are. */
static int batch_wait(batch *b, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 60;
    pthread_mutex_lock(&b->mu);
    int rc = 0;
    while (b->ndone < n && rc == 0) rc = pthread_cond_timedwait(&b->cv, &b->mu, &dl);
    int ok = b->ndone >= n;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static void batch_free(batch *b)
{
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}

static int64_t submit_text(engine_host *h, batch *b, int i, const char *prompt, int64_t max_tokens,
                           char *err, size_t errlen)
{
    sagellm_request q;
    sagellm_request_init(&q);
    q.prompt = prompt;
    q.prompt_len = strlen(prompt);
    q.max_tokens = max_tokens;
    q.min_tokens = max_tokens;
    q.ignore_eos = 1;
    q.request_id = "req";
    q.trace_id = "trace";
    return engine_host_submit(h, &q, &cbs, &b->g[i], err, errlen);
}

/* Every request done once, no tokens after done, timestamps in order. */
static void check_request(const got *g, int64_t want_tokens)
{
    CHECK_INT(g->done_calls, 1);
    CHECK(!g->tokens_after_done);
    CHECK_STR(g->error, "");
    CHECK_INT(g->tokens, want_tokens);
    CHECK_INT(g->res.completion_tokens, want_tokens);
    const sagellm_result *r = &g->res;
    CHECK(r->t_queued_ns > 0 && r->t_queued_ns <= r->t_scheduled_ns);
    CHECK(r->t_scheduled_ns <= r->t_first_token_ns && r->t_first_token_ns <= r->t_finished_ns);
    CHECK_INT(r->queue_ns, r->t_scheduled_ns - r->t_queued_ns);
    CHECK_INT(r->prefill_ns, r->t_first_token_ns - r->t_scheduled_ns);
    CHECK_INT(r->decode_ns, r->t_finished_ns - r->t_first_token_ns);
}

TEST(engine_host_sim_serves_requests)
{
    char err[512];
    engine_host *h = engine_host_open("sim", "{\"preset\":\"fast\",\"step_fixed\":\"200us\"}",
                                      err, sizeof err);
    REQUIRE(h);
    CHECK_STR(engine_host_kind(h), "sim");
    CHECK(engine_host_health(h, err, sizeof err) < 0);   /* not started yet */
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    CHECK(engine_host_health(h, err, sizeof err) == 0);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    for (int i = 0; i < 16; i++)
        CHECK(submit_text(h, b, i, "one two three four five", 5 + i, err, sizeof err) > 0);
    REQUIRE(batch_wait(b, 16));
    for (int i = 0; i < 16; i++) {
        check_request(&b->g[i], 5 + i);
        CHECK_STR(b->g[i].finish, "length");
        CHECK_INT(b->g[i].res.prompt_tokens, 5);
        /* tokens carry the engine's emit time, between first token and finish */
        CHECK(b->g[i].first_engine_ns >= b->g[i].res.t_first_token_ns);
        CHECK(b->g[i].last_engine_ns <= b->g[i].res.t_finished_ns);
    }
    char *info = engine_host_info(h);
    cJSON *j = cJSON_Parse(info);
    CHECK(cJSON_IsObject(j));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "engine")));
    cJSON_Delete(j);
    free(info);
    engine_host_close(h);
    batch_free(b);
    free(b);
}

TEST(engine_host_sim_chat_uses_the_servers_template)
{
    char err[512];
    engine_host *h = engine_host_open("sim", "{\"preset\":\"fast\"}", err, sizeof err);
    REQUIRE(h);
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    sagellm_request q;
    sagellm_request_init(&q);
    q.prompt = "hello";
    q.prompt_len = 5;
    q.max_tokens = 3;
    q.ignore_eos = 1;
    CHECK(engine_host_submit(h, &q, &cbs, &b->g[0], err, sizeof err) > 0);
    q.messages_json = "[{\"role\":\"user\",\"content\":\"hello\"}]";
    CHECK(engine_host_submit(h, &q, &cbs, &b->g[1], err, sizeof err) > 0);
    q.messages_json = "{\"not\":\"a list\"}";
    CHECK(engine_host_submit(h, &q, &cbs, &b->g[2], err, sizeof err) < 0);
    CHECK_CONTAINS(err, "messages");
    REQUIRE(batch_wait(b, 2));
    /* ChatML adds the role markers around the same text */
    CHECK(b->g[1].res.prompt_tokens > b->g[0].res.prompt_tokens);
    engine_host_close(h);
    batch_free(b);
    free(b);
}

TEST(engine_host_sim_stop_aborts_in_flight_once)
{
    char err[512];
    engine_host *h = engine_host_open("sim", "{\"preset\":\"fast\",\"step_fixed\":\"5ms\"}",
                                      err, sizeof err);
    REQUIRE(h);
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    int64_t id[4];
    for (int i = 0; i < 4; i++) id[i] = submit_text(h, b, i, "a b c", 100000, err, sizeof err);
    CHECK(id[0] > 0 && id[3] > 0);
    CHECK(engine_host_cancel(h, id[0]) == 0);
    REQUIRE(batch_wait(b, 1));   /* the cancelled one ends on its own */
    engine_host_stop(h);         /* the others end before stop returns */
    CHECK_INT(b->ndone, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(b->g[i].done_calls, 1);
        CHECK_STR(b->g[i].finish, "abort");
    }
    CHECK(submit_text(h, b, 5, "late", 3, err, sizeof err) < 0);
    engine_host_close(h);
    batch_free(b);
    free(b);
}

TEST(engine_host_rejects_bad_specs_and_configs)
{
    char err[512];
    CHECK(!engine_host_open("nope", NULL, err, sizeof err));
    CHECK_CONTAINS(err, "unknown engine 'nope'");
    CHECK(!engine_host_open("python:only_module", NULL, err, sizeof err));
    CHECK_CONTAINS(err, "python:MODULE:FACTORY");
    CHECK(!engine_host_open("sim", "{\"max_batch\":0}", err, sizeof err));
    CHECK_CONTAINS(err, "max_batch");
    CHECK(!engine_host_open("sim", "{\"no_such_key\":1}", err, sizeof err));
    CHECK_CONTAINS(err, "no_such_key");
    CHECK(!engine_host_open("/nonexistent/dir/engine.so", NULL, err, sizeof err));
    CHECK_CONTAINS(err, "cannot open: No such file or directory");
    CHECK(!engine_host_open("", NULL, err, sizeof err));
    engine_host_close(NULL);
}

/* Builds tests/data/engine_min.c with extra flags into the scratch
 * directory; returns the library's path (static buffer) or NULL. */
static const char *build_engine(const char *name, const char *flags)
{
    static char path[512];
    char cmd[2048];
    snprintf(path, sizeof path, "%s/%s.so", unit_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "%s -std=c11 -O1 -shared -fPIC -I. %s tests/data/engine_min.c "
             "-o '%s' -lpthread", getenv("CC") ? getenv("CC") : "cc", flags, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "    cannot build the test engine: %s\n", cmd);
        return NULL;
    }
    return path;
}

TEST(engine_host_loads_a_library)
{
    const char *lib = build_engine("engine_min", "");
    REQUIRE(lib);
    char err[512];
    CHECK(!engine_host_open(lib, "{\"batch\":0}", err, sizeof err));
    CHECK_CONTAINS(err, "'batch' must be at least 1");
    engine_host *h = engine_host_open(lib, "{\"batch\":3}", err, sizeof err);
    REQUIRE(h);
    CHECK_STR(engine_host_kind(h), "library");
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    CHECK(engine_host_health(h, err, sizeof err) == 0);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    for (int i = 0; i < 8; i++)
        CHECK(submit_text(h, b, i, "some prompt", 10 + i, err, sizeof err) > 0);
    CHECK(submit_text(h, b, 8, "please FAIL", 10, err, sizeof err) > 0);
    REQUIRE(batch_wait(b, 9));
    for (int i = 0; i < 8; i++) {
        check_request(&b->g[i], 10 + i);
        CHECK_INT(b->g[i].batches, (10 + i + 2) / 3);    /* batches of 3 tokens */
        CHECK_INT(b->g[i].text_bytes, 4 * (10 + i));
    }
    CHECK_CONTAINS(b->g[8].error, "asked to fail");
    CHECK_INT(b->g[8].done_calls, 1);
    char *info = engine_host_info(h);
    CHECK_CONTAINS(info, "\"name\":\"engine_min\"");
    CHECK_CONTAINS(info, "\"served\":9");
    free(info);
    engine_host_close(h);
    batch_free(b);
    free(b);
}

TEST(engine_host_names_a_wrong_abi_version)
{
    const char *lib = build_engine("engine_v99", "-DENGINE_MIN_ABI=99");
    REQUIRE(lib);
    char err[512];
    CHECK(!engine_host_open(lib, NULL, err, sizeof err));
    CHECK_CONTAINS(err, "implements engine ABI version 99");
    CHECK_CONTAINS(err, "speaks version 1");
}

TEST(engine_host_names_a_missing_symbol)
{
    const char *lib = build_engine("engine_nocancel", "-DENGINE_MIN_NO_CANCEL");
    REQUIRE(lib);
    char err[512];
    CHECK(!engine_host_open(lib, NULL, err, sizeof err));
    CHECK_CONTAINS(err, "missing symbol sagellm_engine_cancel");
}

TEST(engine_host_refuses_a_file_that_is_not_a_library)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/not_a_library.so", unit_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    CHECK(!engine_host_open(path, NULL, err, sizeof err));
    CHECK_CONTAINS(err, "cannot load");
}

/* ---- the Python bridge ---- */

static engine_host *py_open(const char *mode, const char *extra, char *err, size_t errlen)
{
    char cfg[1024], cwd[512];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    snprintf(cfg, sizeof cfg, "{\"python_path\":\"%s/tests/data/py_engine\",\"mode\":\"%s\""
             ",\"token_delay\":0.0002%s}", cwd, mode, extra ? extra : "");
    return engine_host_open("python:test_engine:make_engine", cfg, err, errlen);
}

static void py_paths(const char *mode, int streaming)
{
    char err[512];
    engine_host *h = py_open(mode, NULL, err, sizeof err);
    if (!h) fprintf(stderr, "    %s\n", err);
    REQUIRE(h);
    CHECK_STR(engine_host_kind(h), "python");
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    CHECK(engine_host_health(h, err, sizeof err) == 0);
    char *info = engine_host_info(h);
    CHECK_CONTAINS(info, streaming ? "\"path\":\"stream\"" : "\"path\":\"generate\"");
    free(info);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    for (int i = 0; i < 12; i++)
        CHECK(submit_text(h, b, i, "alpha beta gamma", 3 + i, err, sizeof err) > 0);
    CHECK(submit_text(h, b, 12, "now FAIL please", 8, err, sizeof err) > 0);
    REQUIRE(batch_wait(b, 13));
    for (int i = 0; i < 12; i++) {
        check_request(&b->g[i], 3 + i);
        CHECK_STR(b->g[i].finish, "length");
        CHECK_INT(b->g[i].res.prompt_tokens, 3);
        /* one batch with everything (generate) or one per token (stream) */
        CHECK_INT(b->g[i].batches, streaming ? 3 + i : 1);
        CHECK_INT(b->g[i].text_bytes, 4 * (3 + i));
        if (streaming) CHECK(b->g[i].first_engine_ns >= b->g[i].res.t_scheduled_ns);
    }
    /* the engine's exception is the request's error, and nothing else broke */
    CHECK_INT(b->g[12].done_calls, 1);
    CHECK_CONTAINS(b->g[12].error, "ValueError: the test engine");
    CHECK_INT(b->g[12].tokens, streaming ? 2 : 0);
    CHECK(engine_host_health(h, err, sizeof err) == 0);
    engine_host_close(h);
    batch_free(b);
    free(b);
}

TEST(engine_host_python_generate_path)
{
    if (!engine_host_py_available()) {
        printf("skip: built without the Python bridge\n");
        return;
    }
    py_paths("generate", 0);
}

TEST(engine_host_python_stream_path)
{
    if (!engine_host_py_available()) {
        printf("skip: built without the Python bridge\n");
        return;
    }
    py_paths("stream", 1);
}

TEST(engine_host_python_errors_and_cancel)
{
    char err[512];
    if (!engine_host_py_available()) {
        CHECK(!engine_host_open("python:m:f", NULL, err, sizeof err));
        CHECK_CONTAINS(err, "without the Python bridge");
        return;
    }
    CHECK(!engine_host_open("python:no_such_module_here:f", NULL, err, sizeof err));
    CHECK_CONTAINS(err, "ModuleNotFoundError");
    CHECK(!py_open("generate", ",\"python_nonsense\":1", err, sizeof err));
    CHECK_CONTAINS(err, "python_nonsense");
    CHECK(!py_open("bogus", NULL, err, sizeof err));
    CHECK_CONTAINS(err, "mode must be");
    engine_host *h = py_open("generate", ",\"start_fails\":true", err, sizeof err);
    REQUIRE(h);
    CHECK(engine_host_start(h, err, sizeof err) < 0);
    CHECK_CONTAINS(err, "refuses to start");
    engine_host_close(h);
    /* cancel one long request; stop ends the other; each done exactly once */
    h = py_open("stream", ",\"token_delay\":0.01", err, sizeof err);
    REQUIRE(h);
    REQUIRE(engine_host_start(h, err, sizeof err) == 0);
    batch *b = xmalloc(sizeof *b);
    batch_init(b);
    int64_t a = submit_text(h, b, 0, "x", 100000, err, sizeof err);
    CHECK(submit_text(h, b, 1, "y", 100000, err, sizeof err) > 0);
    CHECK(a > 0 && engine_host_cancel(h, a) == 0);
    REQUIRE(batch_wait(b, 1));
    CHECK_STR(b->g[0].finish, "abort");
    engine_host_stop(h);
    CHECK_INT(b->ndone, 2);
    CHECK_INT(b->g[1].done_calls, 1);
    CHECK_STR(b->g[1].finish, "abort");
    CHECK(submit_text(h, b, 2, "late", 3, err, sizeof err) < 0);
    CHECK(engine_host_health(h, err, sizeof err) < 0);
    engine_host_close(h);
    batch_free(b);
    free(b);
}
