/* engine_min.c — the smallest engine library that implements
 * include/sagellm/engine_abi.h, for the tests: the tests compile it with
 *     cc -shared -fPIC -I. tests/data/engine_min.c -o engine_min.so -lpthread
 * and load it with dlopen. It is also a template for writing an engine.
 *
 * One worker thread serves the requests in submission order: for each, it
 * hands out max_tokens tokens ("tok" each) in batches of `batch` tokens
 * (configuration {"batch": N}, default 4), then on_done with its counts and
 * times. A prompt containing "FAIL" ends with an error instead.
 *
 * Variants for the tests' error paths:
 *   -DENGINE_MIN_ABI=N        report interface version N
 *   -DENGINE_MIN_NO_CANCEL    do not export sagellm_engine_cancel */
#define _GNU_SOURCE
#include "include/sagellm/engine_abi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ENGINE_MIN_ABI
#define ENGINE_MIN_ABI SAGELLM_ENGINE_ABI_VERSION
#endif

typedef struct req {
    struct req *next;
    sagellm_callbacks cb;
    void *user;
    int64_t handle, max_tokens, prompt_tokens, t_queued;
    int fail, cancelled;
} req;

struct sagellm_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    req *head, *tail;
    int64_t next_handle, cancel_handle;
    int64_t batch, served;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_abi_version(void)
{
    return ENGINE_MIN_ABI;
}

SAGELLM_ENGINE_EXPORT sagellm_engine *sagellm_engine_create(const char *config_json,
                                                            char *err, size_t errlen)
{
    long batch = 4;
    const char *b = config_json ? strstr(config_json, "\"batch\"") : NULL;
    if (b && (sscanf(b, "\"batch\" : %ld", &batch) != 1 && sscanf(b, "\"batch\":%ld", &batch) != 1)) {
        snprintf(err, errlen, "engine_min: 'batch' must be a number");
        return NULL;
    }
    if (batch < 1) {
        snprintf(err, errlen, "engine_min: 'batch' must be at least 1, got %ld", batch);
        return NULL;
    }
    sagellm_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "engine_min: out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->batch = batch;
    return e;
}

static void finish(req *q, const char *reason, const char *error, int64_t produced,
                   int64_t t_first)
{
    sagellm_result r;
    sagellm_result_init(&r);
    int64_t t = now_ns();
    r.finish_reason = reason;
    r.error = error;
    r.prompt_tokens = q->prompt_tokens;
    r.completion_tokens = produced;
    r.t_queued_ns = q->t_queued;
    r.t_scheduled_ns = q->t_queued;
    r.t_first_token_ns = t_first;
    r.t_finished_ns = t;
    r.queue_ns = 0;
    r.prefill_ns = t_first >= 0 ? t_first - q->t_queued : -1;
    r.decode_ns = t_first >= 0 ? t - t_first : -1;
    q->cb.on_done(q->user, &r);
    free(q);
}

static void *worker(void *arg)
{
    sagellm_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->head && !e->stopping) pthread_cond_wait(&e->cv, &e->mu);
        req *q = e->head;
        if (!q) break;
        e->head = q->next;
        if (!e->head) e->tail = NULL;
        e->served++;   /* counted before its on_done, so a host that saw it sees it here */
        if (e->stopping) {
            pthread_mutex_unlock(&e->mu);
            finish(q, "abort", NULL, 0, -1);
            pthread_mutex_lock(&e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        if (q->fail) {
            finish(q, NULL, "engine_min: the prompt asked to fail", 0, -1);
        } else {
            int64_t produced = 0, t_first = -1;
            const char *reason = "length";
            char text[4 * 64 + 1];
            while (produced < q->max_tokens) {
                pthread_mutex_lock(&e->mu);
                int stop = e->stopping || e->cancel_handle == q->handle;
                pthread_mutex_unlock(&e->mu);
                if (stop) {
                    reason = "abort";
                    break;
                }
                int64_t n = q->max_tokens - produced;
                if (n > e->batch) n = e->batch;
                if (n > 64) n = 64;
                for (int64_t i = 0; i < n; i++) memcpy(text + 4 * i, " tok", 4);
                int64_t t = now_ns();
                if (t_first < 0) t_first = t;
                q->cb.on_tokens(q->user, n, text, (size_t)(4 * n), t);
                produced += n;
            }
            finish(q, reason, NULL, produced, t_first);
        }
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_start(sagellm_engine *e, char *err, size_t errlen)
{
    if (pthread_create(&e->thread, NULL, worker, e) != 0) {
        snprintf(err, errlen, "engine_min: cannot start its thread");
        return -1;
    }
    e->started = 1;
    return 0;
}

SAGELLM_ENGINE_EXPORT int64_t sagellm_engine_submit(sagellm_engine *e, const sagellm_request *r,
                                                    const sagellm_callbacks *cb, void *user,
                                                    char *err, size_t errlen)
{
    if (!r->prompt && !r->prompt_ids) {
        snprintf(err, errlen, "engine_min: the request has no prompt");
        return -1;
    }
    req *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "engine_min: out of memory");
        return -1;
    }
    memcpy(&q->cb, cb, cb->struct_size < sizeof q->cb ? cb->struct_size : sizeof q->cb);
    q->user = user;
    q->max_tokens = r->max_tokens > 0 ? r->max_tokens : 16;
    q->prompt_tokens = r->prompt ? (int64_t)(r->prompt_len + 3) / 4 : (int64_t)r->n_prompt_ids;
    q->fail = r->prompt && strstr(r->prompt, "FAIL") != NULL;
    q->t_queued = now_ns();
    pthread_mutex_lock(&e->mu);
    if (e->stopping || !e->started) {
        pthread_mutex_unlock(&e->mu);
        free(q);
        snprintf(err, errlen, "engine_min: not running");
        return -1;
    }
    q->handle = ++e->next_handle;
    if (e->tail) e->tail->next = q;
    else e->head = q;
    e->tail = q;
    int64_t h = q->handle;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return h;
}

#ifndef ENGINE_MIN_NO_CANCEL
SAGELLM_ENGINE_EXPORT int sagellm_engine_cancel(sagellm_engine *e, int64_t handle)
{
    pthread_mutex_lock(&e->mu);
    int ok = handle > 0 && handle <= e->next_handle;
    if (ok) e->cancel_handle = handle;   /* one at a time is enough for a test engine */
    pthread_mutex_unlock(&e->mu);
    return ok ? 0 : -1;
}
#endif

SAGELLM_ENGINE_EXPORT void sagellm_engine_stop(sagellm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int was = e->stopping;
    e->stopping = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (!was && e->started) pthread_join(e->thread, NULL);
}

SAGELLM_ENGINE_EXPORT void sagellm_engine_destroy(sagellm_engine *e)
{
    if (!e) return;
    sagellm_engine_stop(e);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_health(sagellm_engine *e, char *msg, size_t msglen)
{
    pthread_mutex_lock(&e->mu);
    int ok = e->started && !e->stopping;
    pthread_mutex_unlock(&e->mu);
    if (!ok) snprintf(msg, msglen, "engine_min: not running");
    return ok ? 0 : -1;
}

SAGELLM_ENGINE_EXPORT char *sagellm_engine_info(sagellm_engine *e)
{
    char *s = malloc(128);
    if (!s) return NULL;
    pthread_mutex_lock(&e->mu);
    snprintf(s, 128, "{\"name\":\"engine_min\",\"batch\":%lld,\"served\":%lld}",
             (long long)e->batch, (long long)e->served);
    pthread_mutex_unlock(&e->mu);
    return s;
}

SAGELLM_ENGINE_EXPORT void sagellm_engine_info_free(sagellm_engine *e, char *info)
{
    (void)e;
    free(info);
}
