/* engine_burst.c — an engine library for bench/sagellm_client.sh that
 * measures what the host's token callback costs. Not part of the product.
 *
 *   cc -O2 -shared -fPIC -I. bench/engine_burst.c -o engine_burst.so -lpthread
 *   sagellm-bench replay T --client sagellm --engine ./engine_burst.so \
 *       --engine-opt report=/tmp/burst.txt
 *
 * One thread serves the requests one after the other, handing out each
 * request's max_tokens tokens as fast as it can, one token per on_tokens
 * call (the worst case: a host pays per call), each stamped with
 * CLOCK_MONOTONIC as a real engine would. The CPU time of that thread
 * (CLOCK_THREAD_CPUTIME_ID) around the loop, less the same loop with a
 * callback that does nothing (calibrated at start), is the host's callback
 * path: the sagellm client's callback and the replay's recording of the
 * tokens. At stop it writes one line to the configured report file:
 *   calls=N path_cpu_ns_per_call=X loop_baseline_ns=Y wall_ns_per_call=Z */
#define _GNU_SOURCE
#include "include/sagellm/engine_abi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct req {
    struct req *next;
    sagellm_callbacks cb;
    void *user;
    int64_t max_tokens, t_queued;
} req;

struct sagellm_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    req *head, *tail;
    int64_t next_handle;
    char report[512];
    double baseline_ns;          /* CPU per iteration of the loop with a no-op callback */
    int64_t calls, cpu_ns, wall_ns;
};

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void noop_tokens(void *user, int64_t n, const char *text, size_t len, int64_t t)
{
    (void)user; (void)n; (void)text; (void)len; (void)t;
    __asm__ volatile("" ::: "memory");
}

/* The token loop, the same code for the calibration and the real calls. */
static void __attribute__((noinline))
token_loop(void (*volatile fn)(void *, int64_t, const char *, size_t, int64_t), void *user,
           int64_t n)
{
    for (int64_t i = 0; i < n; i++) fn(user, 1, " tok", 4, clock_ns(CLOCK_MONOTONIC));
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_abi_version(void)
{
    return SAGELLM_ENGINE_ABI_VERSION;
}

SAGELLM_ENGINE_EXPORT sagellm_engine *sagellm_engine_create(const char *config_json,
                                                            char *err, size_t errlen)
{
    sagellm_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *r = strstr(config_json, "\"report\"");
    if (r && sscanf(r, "\"report\":\"%511[^\"]\"", e->report) != 1 &&
        sscanf(r, "\"report\" : \"%511[^\"]\"", e->report) != 1) {
        snprintf(err, errlen, "engine_burst: 'report' must be a path");
        free(e);
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    return e;
}

static void *worker(void *arg)
{
    sagellm_engine *e = arg;
    /* Calibrate: the loop with a callback that does nothing. */
    const int64_t k = 2000000;
    token_loop(noop_tokens, NULL, k / 10);
    int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    token_loop(noop_tokens, NULL, k);
    e->baseline_ns = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)k;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->head && !e->stopping) pthread_cond_wait(&e->cv, &e->mu);
        req *q = e->head;
        if (!q) break;
        e->head = q->next;
        if (!e->head) e->tail = NULL;
        int stopping = e->stopping;
        pthread_mutex_unlock(&e->mu);
        sagellm_result r;
        sagellm_result_init(&r);
        r.t_queued_ns = r.t_scheduled_ns = q->t_queued;
        r.completion_tokens = 0;
        r.finish_reason = "abort";
        if (!stopping) {
            int64_t w0 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
            r.t_first_token_ns = w0;
            token_loop(q->cb.on_tokens, q->user, q->max_tokens);
            int64_t c2 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w1 = clock_ns(CLOCK_MONOTONIC);
            e->calls += q->max_tokens;
            e->cpu_ns += c2 - c1;
            e->wall_ns += w1 - w0;
            r.completion_tokens = q->max_tokens;
            r.finish_reason = "length";
        }
        r.t_finished_ns = clock_ns(CLOCK_MONOTONIC);
        r.queue_ns = 0;
        if (r.t_first_token_ns >= 0) {
            r.prefill_ns = r.t_first_token_ns - r.t_scheduled_ns;
            r.decode_ns = r.t_finished_ns - r.t_first_token_ns;
        }
        q->cb.on_done(q->user, &r);
        free(q);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_start(sagellm_engine *e, char *err, size_t errlen)
{
    if (pthread_create(&e->thread, NULL, worker, e) != 0) {
        snprintf(err, errlen, "engine_burst: cannot start its thread");
        return -1;
    }
    e->started = 1;
    return 0;
}

SAGELLM_ENGINE_EXPORT int64_t sagellm_engine_submit(sagellm_engine *e, const sagellm_request *r,
                                                    const sagellm_callbacks *cb, void *user,
                                                    char *err, size_t errlen)
{
    req *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(&q->cb, cb, cb->struct_size < sizeof q->cb ? cb->struct_size : sizeof q->cb);
    q->user = user;
    q->max_tokens = r->max_tokens > 0 ? r->max_tokens : 1000;
    q->t_queued = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        free(q);
        snprintf(err, errlen, "engine_burst: stopped");
        return -1;
    }
    int64_t h = ++e->next_handle;
    if (e->tail) e->tail->next = q;
    else e->head = q;
    e->tail = q;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return h;
}

SAGELLM_ENGINE_EXPORT int sagellm_engine_cancel(sagellm_engine *e, int64_t handle)
{
    (void)e;
    (void)handle;
    return 0;
}

SAGELLM_ENGINE_EXPORT void sagellm_engine_stop(sagellm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int was = e->stopping;
    e->stopping = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (was || !e->started) return;
    pthread_join(e->thread, NULL);
    if (e->report[0]) {
        FILE *f = fopen(e->report, "w");
        if (f) {
            double n = e->calls ? (double)e->calls : 1;
            fprintf(f, "calls=%lld path_cpu_ns_per_call=%.1f loop_baseline_ns=%.1f "
                    "wall_ns_per_call=%.1f\n", (long long)e->calls,
                    (double)e->cpu_ns / n - e->baseline_ns, e->baseline_ns,
                    (double)e->wall_ns / n);
            fclose(f);
        }
    }
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
    (void)e;
    (void)msg;
    (void)msglen;
    return 0;
}

SAGELLM_ENGINE_EXPORT char *sagellm_engine_info(sagellm_engine *e)
{
    (void)e;
    return strdup("{\"name\":\"engine_burst\"}");
}

SAGELLM_ENGINE_EXPORT void sagellm_engine_info_free(sagellm_engine *e, char *info)
{
    (void)e;
    free(info);
}
