/* sim_engine.c — see sim_engine.h.
 *
 * Threads: callers touch only the inbox (new requests, cancels) under the
 * engine mutex; the engine thread owns everything else (waiting queue,
 * running batch, KV accounting, prefix cache) and publishes a statistics
 * snapshot after every step. Callbacks are called with no lock held. */
#include "engine/sim_engine.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "common/rng.h"
#include "common/tokcount.h"
#include "common/util.h"
#include "engine/prefix_cache.h"
#include "engine/sim_tokens.h"

#define VOCAB 32000u

typedef struct seq {
    struct seq *next;               /* inbox / waiting list */
    int64_t handle;
    int64_t prompt_tokens, target, generated;
    const char *finish;             /* decided at submit: "stop" or "length" */
    int64_t goal, done, chunk;      /* prefill: tokens to have, have, this step */
    int in_prefill, admitted_once;
    int64_t cached, kv, preemptions;
    uint64_t *hashes;               /* chained block hashes (owned) */
    size_t nhashes;
    int64_t hash_tokens;
    rng r;
    sim_engine_tokens_fn on_tokens;
    sim_engine_done_fn on_done;
    void *user;
    int64_t t_queued, t_sched, t_first, t_fin;
} seq;

struct sim_engine {
    engine_config cfg;
    pthread_t thread;
    int started, joined;
    pthread_mutex_t mu;             /* guards everything up to "engine thread only" */
    pthread_cond_t wake, idle;
    seq *inbox, *inbox_tail;
    int64_t *cancels;
    size_t ncancels, capcancels;
    int stopping, closed;
    int64_t last_handle;
    uint64_t submit_seq;
    int64_t outstanding;            /* accepted and not yet done */
    /* engine thread only */
    int64_t settled;                /* ended since the last publish_stats */
    seq **run;
    size_t nrun, caprun;
    seq *wait, *wait_tail;
    size_t nwait;
    int64_t kv_used;
    prefix_cache *cache;
    strbuf text;
    uint32_t *ids;
    size_t capids;
    _Atomic int64_t vclock;         /* virtual clock (ns) */
    pthread_mutex_t stats_mu;
    sim_engine_stats stats, snap;
};

int64_t sim_engine_now(sim_engine *e)
{
    return e->cfg.virtual_clock ? atomic_load(&e->vclock) : now_mono_ns();
}

static void sleep_until(sim_engine *e, int64_t t)
{
    if (e->cfg.virtual_clock) {
        if (t > atomic_load(&e->vclock)) atomic_store(&e->vclock, t);
        return;
    }
    struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

sim_engine *sim_engine_new(const engine_config *cfg, char *err, size_t errlen)
{
    if (engine_config_validate(cfg, err, errlen)) return NULL;
    sim_engine *e = xcalloc(1, sizeof *e);
    e->cfg = *cfg;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->stats_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &ca);
    pthread_cond_init(&e->idle, &ca);
    pthread_condattr_destroy(&ca);
    int64_t cap = cfg->cache_blocks < 0 ? cfg->kv_tokens / cfg->block_tokens : cfg->cache_blocks;
    e->cache = prefix_cache_new((size_t)cap);
    e->stats.kv_tokens = cfg->kv_tokens;
    e->snap = e->stats;
    atomic_store(&e->vclock, now_mono_ns());
    return e;
}

const engine_config *sim_engine_config(const sim_engine *e)
{
    return &e->cfg;
}

/* Output length: geometric with mean eos_mean (EOS equally likely at every
 * position), then bounded by min_tokens and max_tokens. */
static void plan_output(seq *s, const engine_config *c, int64_t max_tokens,
                        int64_t min_tokens, int ignore_eos)
{
    int64_t len = INT64_MAX;
    if (!ignore_eos && c->eos_mean > 0) {
        if (c->eos_mean <= 1.0) {
            len = 1;
        } else {
            double u = rng_uniform(&s->r);
            double g = ceil(log1p(-u) / log1p(-1.0 / c->eos_mean));
            len = g < 1 ? 1 : g > 9e18 ? INT64_MAX : (int64_t)g;
        }
    }
    if (len < min_tokens) len = min_tokens;
    if (len >= max_tokens) {
        s->target = max_tokens;
        s->finish = "length";
    } else {
        s->target = len;
        s->finish = "stop";
    }
}

int64_t sim_engine_submit(sim_engine *e, const sim_engine_request *r, char *err, size_t errlen)
{
    const engine_config *c = &e->cfg;
    int64_t P;
    uint32_t *ids = NULL;
    size_t nids = 0;
    if (r->prompt) {
        P = (int64_t)tok_estimate(r->prompt, r->prompt_len);
        nids = sim_tokens_split(r->prompt, r->prompt_len, NULL, 0);
        ids = xmalloc((nids ? nids : 1) * sizeof *ids);
        sim_tokens_split(r->prompt, r->prompt_len, ids, nids);
    } else if (r->prompt_ids) {
        P = (int64_t)r->n_prompt_ids;
    } else {
        P = r->prompt_tokens;
    }
    if (P <= 0) {
        free(ids);
        errf(err, errlen, "the prompt is empty (it must have at least one token)");
        return ERR_USAGE;
    }
    if (P >= c->max_model_len) {
        free(ids);
        errf(err, errlen, "This model's maximum context length is %lld tokens. However, your "
             "request has %lld input tokens. Please reduce the length of the input messages.",
             (long long)c->max_model_len, (long long)P);
        return ERR_USAGE;
    }
    int64_t mt = r->max_tokens;
    if (mt < 0) {
        free(ids);
        errf(err, errlen, "max_tokens must be at least 1, got %lld.", (long long)mt);
        return ERR_USAGE;
    }
    if (mt == 0) {
        mt = c->max_model_len - P;
        if (c->default_max_tokens > 0 && c->default_max_tokens < mt) mt = c->default_max_tokens;
    } else if (P + mt > c->max_model_len) {
        free(ids);
        errf(err, errlen, "This model's maximum context length is %lld tokens. However, you "
             "requested %lld tokens (%lld in the messages, %lld in the completion). Please reduce "
             "the length of the messages or completion.", (long long)c->max_model_len,
             (long long)(P + mt), (long long)P, (long long)mt);
        return ERR_USAGE;
    }
    if (r->min_tokens < 0 || r->min_tokens > mt) {
        free(ids);
        errf(err, errlen, "min_tokens must be between 0 and max_tokens=%lld, got %lld.",
             (long long)mt, (long long)r->min_tokens);
        return ERR_USAGE;
    }

    seq *s = xcalloc(1, sizeof *s);
    s->prompt_tokens = P;
    s->on_tokens = r->on_tokens;
    s->on_done = r->on_done;
    s->user = r->user;
    /* Prefix hashes: from the trace's own when given, else from the tokens. */
    if (r->block_hashes && r->n_block_hashes && r->block_hash_tokens > 0) {
        s->nhashes = r->n_block_hashes;
        s->hashes = xmalloc(s->nhashes * sizeof *s->hashes);
        sim_tokens_chain_hashes(r->block_hashes, s->nhashes, s->hashes);
        s->hash_tokens = r->block_hash_tokens;
    } else {
        const uint32_t *src = ids ? ids : r->prompt_ids;
        size_t n = ids ? nids : r->prompt_ids ? r->n_prompt_ids : 0;
        size_t nb = n / (size_t)c->block_tokens;
        if (nb) {
            s->hashes = xmalloc(nb * sizeof *s->hashes);
            s->nhashes = sim_tokens_block_hashes(src, n, (size_t)c->block_tokens, s->hashes, nb);
        }
        s->hash_tokens = c->block_tokens;
    }
    free(ids);

    pthread_mutex_lock(&e->mu);
    if (e->closed) {
        pthread_mutex_unlock(&e->mu);
        free(s->hashes);
        free(s);
        errf(err, errlen, "the engine is shutting down");
        return ERR_USAGE;
    }
    uint64_t n = e->submit_seq++;
    s->handle = ++e->last_handle;
    s->t_queued = sim_engine_now(e);
    e->outstanding++;
    /* Seed: the request's own, else its submission number. */
    rng_seed2(&s->r, c->seed, r->has_seed ? mix64(r->seed) ^ 0x5eedULL : n);
    plan_output(s, c, mt, r->min_tokens, r->ignore_eos);
    if (e->inbox_tail) e->inbox_tail->next = s; else e->inbox = s;
    e->inbox_tail = s;
    pthread_cond_signal(&e->wake);
    int64_t h = s->handle;
    pthread_mutex_unlock(&e->mu);
    return h;
}

int sim_engine_cancel(sim_engine *e, int64_t handle)
{
    pthread_mutex_lock(&e->mu);
    if (handle <= 0 || handle > e->last_handle) {
        pthread_mutex_unlock(&e->mu);
        return ERR_USAGE;
    }
    if (e->ncancels == e->capcancels) {
        e->capcancels = e->capcancels ? e->capcancels * 2 : 16;
        e->cancels = xrealloc(e->cancels, e->capcancels * sizeof *e->cancels);
    }
    e->cancels[e->ncancels++] = handle;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

/* Ends s: its callback, then the bookkeeping that lets wait_idle return. */
static void finish_seq(sim_engine *e, seq *s, const char *reason, int64_t t)
{
    sim_engine_result res = {0};
    s->t_fin = t;
    res.finish_reason = reason;
    res.prompt_tokens = s->prompt_tokens;
    res.cached_tokens = s->cached;
    res.completion_tokens = s->generated;
    res.preemptions = s->preemptions;
    res.t_queued_ns = s->t_queued;
    res.t_scheduled_ns = s->t_sched;
    res.t_first_token_ns = s->t_first;
    res.t_finished_ns = t;
    if (s->t_sched) res.queue_ns = s->t_sched - s->t_queued;
    if (s->t_first) {
        res.prefill_ns = s->t_first - s->t_sched;
        res.decode_ns = t - s->t_first;
    }
    if (strcmp(reason, "abort")) e->stats.requests_finished++;
    else e->stats.requests_aborted++;
    if (s->on_done) s->on_done(s->user, &res);
    free(s->hashes);
    free(s);
    e->settled++;
}

static void run_push(sim_engine *e, seq *s)
{
    if (e->nrun == e->caprun) {
        e->caprun = e->caprun ? e->caprun * 2 : 64;
        e->run = xrealloc(e->run, e->caprun * sizeof *e->run);
    }
    e->run[e->nrun++] = s;
}

static void wait_push_back(sim_engine *e, seq *s)
{
    s->next = NULL;
    if (e->wait_tail) e->wait_tail->next = s; else e->wait = s;
    e->wait_tail = s;
    e->nwait++;
}

static void wait_push_front(sim_engine *e, seq *s)
{
    s->next = e->wait;
    e->wait = s;
    if (!e->wait_tail) e->wait_tail = s;
    e->nwait++;
}

static seq *wait_pop(sim_engine *e)
{
    seq *s = e->wait;
    e->wait = s->next;
    if (!e->wait) e->wait_tail = NULL;
    e->nwait--;
    s->next = NULL;
    return s;
}

/* Removes the request with this handle from the batch or the queue and
 * ends it with "abort"; a handle already finished is ignored. */
static void apply_cancel(sim_engine *e, int64_t h, int64_t t)
{
    for (size_t i = 0; i < e->nrun; i++) {
        if (e->run[i]->handle == h) {
            seq *s = e->run[i];
            memmove(e->run + i, e->run + i + 1, (e->nrun - i - 1) * sizeof *e->run);
            e->nrun--;
            e->kv_used -= s->kv;
            finish_seq(e, s, "abort", t);
            return;
        }
    }
    for (seq **pp = &e->wait; *pp; pp = &(*pp)->next) {
        if ((*pp)->handle == h) {
            seq *s = *pp;
            *pp = s->next;
            if (e->wait_tail == s) {
                e->wait_tail = NULL;
                for (seq *q = e->wait; q; q = q->next) e->wait_tail = q;
            }
            e->nwait--;
            finish_seq(e, s, "abort", t);
            return;
        }
    }
}

/* Decides this step's work; returns the number of prefill tokens computed
 * (the rest of the cost depends only on the batch size). */
static int64_t schedule(sim_engine *e, int64_t t_start)
{
    const engine_config *c = &e->cfg;
    int64_t budget = c->max_batched_tokens > 0 ? c->max_batched_tokens : INT64_MAX;
    int64_t prefill = 0;

    /* Decoding sequences grow by up to tokens_per_step; when the KV cache
     * cannot hold that, preempt the newest (recompute later), as vLLM does. */
    for (;;) {
        int64_t need = 0;
        for (size_t i = 0; i < e->nrun; i++) {
            seq *s = e->run[i];
            if (!s->in_prefill) {
                int64_t k = s->target - s->generated;
                need += k < c->tokens_per_step ? k : c->tokens_per_step;
            }
        }
        if (e->kv_used + need <= c->kv_tokens || e->nrun <= 1) break;
        seq *s = e->run[--e->nrun];
        e->kv_used -= s->kv;
        s->kv = 0;
        s->in_prefill = 0;
        s->preemptions++;
        e->stats.preemptions++;
        wait_push_front(e, s);
    }
    /* Chunked prefills already in the batch go first. */
    for (size_t i = 0; i < e->nrun; i++) {
        seq *s = e->run[i];
        s->chunk = 0;
        if (s->in_prefill && budget > 0) {
            int64_t k = s->goal - s->done;
            s->chunk = k < budget ? k : budget;
            budget -= s->chunk;
            prefill += s->chunk;
        }
    }
    /* Admit from the head of the queue (first come, first served). */
    while (e->nwait && (int64_t)e->nrun < c->max_batch && budget > 0) {
        seq *s = e->wait;
        int64_t goal = s->prompt_tokens + s->generated;     /* recompute after preemption */
        if (e->kv_used + goal + 1 > c->kv_tokens) break;
        wait_pop(e);
        size_t hit = prefix_cache_match(e->cache, s->hashes, s->nhashes);
        int64_t cached = (int64_t)hit * s->hash_tokens;
        if (cached > s->prompt_tokens) cached = s->prompt_tokens;
        if (cached > goal - 1) cached = goal - 1;
        if (!s->admitted_once) {
            s->admitted_once = 1;
            s->t_sched = t_start;
            s->cached = cached;
            e->stats.prefix_queries_tokens += s->prompt_tokens;
            e->stats.prefix_hit_tokens += cached;
            e->stats.prompt_tokens_total += s->prompt_tokens;
            e->stats.cached_tokens_total += cached;
        }
        s->goal = goal;
        s->done = cached;
        s->in_prefill = 1;
        s->kv = goal;
        e->kv_used += goal;
        int64_t k = goal - cached;
        s->chunk = k < budget ? k : budget;
        budget -= s->chunk;
        prefill += s->chunk;
        run_push(e, s);
    }
    return prefill;
}

static void hand_out(sim_engine *e, seq *s, int64_t k, int64_t t_sched, int64_t t_emit)
{
    if ((size_t)k > e->capids) {
        e->capids = (size_t)k * 2;
        e->ids = xrealloc(e->ids, e->capids * sizeof *e->ids);
    }
    sb_clear(&e->text);
    for (int64_t i = 0; i < k; i++) {
        size_t wl;
        uint32_t id = (uint32_t)(rng_u64(&s->r) % VOCAB);
        const char *w = sim_tokens_word(id, &wl);
        e->ids[i] = id;
        sb_add(&e->text, w, wl);
    }
    sb_addc(&e->text, '\0');
    e->text.len--;
    if (!s->t_first) s->t_first = t_emit;
    int last = s->generated + k >= s->target;
    sim_engine_tokens t = { s->generated, (int)k, e->ids, e->text.buf, e->text.len,
                            t_sched, t_emit, last, last ? s->finish : NULL, s->prompt_tokens };
    s->generated += k;
    s->kv += k;
    e->kv_used += k;
    e->stats.generation_tokens_total += k;
    if (s->on_tokens) s->on_tokens(s->user, &t);
}

/* The end of a step: prefills progress, every sequence past its prefill
 * gets its tokens, finished ones leave the batch. */
static void emit(sim_engine *e, int64_t t_sched)
{
    const engine_config *c = &e->cfg;
    int64_t t_emit = sim_engine_now(e);
    size_t j = 0;
    for (size_t i = 0; i < e->nrun; i++) {
        seq *s = e->run[i];
        int64_t k = 0;
        if (s->in_prefill) {
            s->done += s->chunk;
            s->chunk = 0;
            if (s->done >= s->goal) {
                s->in_prefill = 0;
                if (s->preemptions == 0 || s->generated == 0)
                    prefix_cache_insert(e->cache, s->hashes, s->nhashes);
                k = 1;              /* the prefill step samples one token */
            }
        } else {
            k = s->target - s->generated;
            if (k > c->tokens_per_step) k = c->tokens_per_step;
        }
        if (k > 0) hand_out(e, s, k, t_sched, t_emit);
        if (s->generated >= s->target) {
            e->kv_used -= s->kv;
            finish_seq(e, s, s->finish, t_emit);
        } else {
            e->run[j++] = s;
        }
    }
    e->nrun = j;
}

/* Publishes the statistics snapshot, then counts the requests ended since
 * the last call as done, so that wait_idle returns with the snapshot
 * already up to date. */
static void publish_stats(sim_engine *e)
{
    e->stats.running = (int64_t)e->nrun;
    e->stats.waiting = (int64_t)e->nwait;
    e->stats.kv_used_tokens = e->kv_used;
    pthread_mutex_lock(&e->stats_mu);
    e->snap = e->stats;
    pthread_mutex_unlock(&e->stats_mu);
    if (e->settled) {
        pthread_mutex_lock(&e->mu);
        e->outstanding -= e->settled;
        e->settled = 0;
        if (e->outstanding == 0) pthread_cond_broadcast(&e->idle);
        pthread_mutex_unlock(&e->mu);
    }
}

static void abort_all(sim_engine *e, int64_t t)
{
    while (e->nrun) {
        seq *s = e->run[--e->nrun];
        finish_seq(e, s, "abort", t);
    }
    while (e->nwait) finish_seq(e, wait_pop(e), "abort", t);
    e->kv_used = 0;
}

static void *engine_main(void *arg)
{
    sim_engine *e = arg;
    const engine_config *c = &e->cfg;
    int64_t *cancels = NULL;
    size_t capc = 0;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t t_next = sim_engine_now(e);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stopping && !e->inbox && !e->ncancels && !e->nrun && !e->nwait) {
            pthread_mutex_unlock(&e->mu);
            publish_stats(e);
            pthread_mutex_lock(&e->mu);
            if (e->stopping || e->inbox || e->ncancels) break;
            pthread_cond_wait(&e->wake, &e->mu);
            t_next = sim_engine_now(e);
        }
        seq *in = e->inbox;
        e->inbox = e->inbox_tail = NULL;
        size_t nc = e->ncancels;
        if (nc > capc) {
            capc = nc;
            cancels = xrealloc(cancels, capc * sizeof *cancels);
        }
        if (nc) memcpy(cancels, e->cancels, nc * sizeof *cancels);
        e->ncancels = 0;
        int stop = e->stopping;
        if (stop) e->closed = 1;
        pthread_mutex_unlock(&e->mu);

        while (in) {
            seq *s = in;
            in = in->next;
            wait_push_back(e, s);
        }
        int64_t now = sim_engine_now(e);
        if (stop) {
            abort_all(e, now);
            publish_stats(e);
            break;
        }
        for (size_t i = 0; i < nc; i++) apply_cancel(e, cancels[i], now);
        if (!e->nrun && !e->nwait) {
            publish_stats(e);
            continue;
        }

        /* The step starts where the previous one ended (absolute deadlines:
         * no drift, the hand-out of tokens overlaps the next step as vLLM's
         * asynchronous output processing does). Only when the engine has
         * fallen a whole minimal step behind is it re-anchored at now, and
         * the step counted late. */
        int64_t start = t_next;
        int64_t slack = c->step_fixed_ns > 0 ? c->step_fixed_ns : 1000000;
        if (now - t_next > slack && !c->virtual_clock) {
            e->stats.late_steps++;
            if (now - t_next > e->stats.max_late_ns) e->stats.max_late_ns = now - t_next;
            start = now;
        }
        int64_t prefill = schedule(e, start);
        int64_t cost = c->step_fixed_ns + c->step_per_seq_ns * (int64_t)e->nrun +
                       c->prefill_token_ns * prefill;
        int64_t deadline = start + cost;
        sleep_until(e, deadline);
        e->stats.steps++;
        emit(e, deadline);
        publish_stats(e);
        t_next = deadline;
    }
    free(cancels);
    return NULL;
}

int sim_engine_start(sim_engine *e, char *err, size_t errlen)
{
    if (e->started) return 0;
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc) {
        errf(err, errlen, "cannot start the engine thread: %s", strerror(rc));
        return ERR_SYSTEM;
    }
    pthread_setname_np(e->thread, "sim-engine");
    e->started = 1;
    if (e->cfg.realtime && !e->cfg.virtual_clock) {
        /* Wakes on time even when another thread of the process holds the
         * CPU; the thread sleeps at least one step cost after every step,
         * so it cannot starve the others. */
        struct sched_param sp = { .sched_priority = 1 };
        rc = pthread_setschedparam(e->thread, SCHED_FIFO, &sp);
        if (rc) {
            sim_engine_stop(e);
            errf(err, errlen, "cannot run the engine thread with real-time priority "
                 "(SCHED_FIFO): %s; it needs CAP_SYS_NICE (or run without realtime)",
                 strerror(rc));
            return ERR_SYSTEM;
        }
    }
    return 0;
}

void sim_engine_stop(sim_engine *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->mu);
    if (e->started && !e->joined) {
        pthread_join(e->thread, NULL);
        e->joined = 1;
    }
}

void sim_engine_free(sim_engine *e)
{
    if (!e) return;
    sim_engine_stop(e);
    /* Never started: requests still in the inbox end here. */
    while (e->inbox) {
        seq *s = e->inbox;
        e->inbox = s->next;
        finish_seq(e, s, "abort", sim_engine_now(e));
    }
    while (e->nwait) finish_seq(e, wait_pop(e), "abort", sim_engine_now(e));
    publish_stats(e);
    free(e->run);
    free(e->cancels);
    free(e->ids);
    sb_free(&e->text);
    prefix_cache_free(e->cache);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->stats_mu);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->idle);
    free(e);
}

void sim_engine_get_stats(sim_engine *e, sim_engine_stats *s)
{
    pthread_mutex_lock(&e->stats_mu);
    *s = e->snap;
    pthread_mutex_unlock(&e->stats_mu);
}

char *sim_engine_info_json(sim_engine *e)
{
    sim_engine_stats s;
    sim_engine_get_stats(e, &s);
    char *cfg = engine_config_to_json(&e->cfg);
    strbuf b = {0};
    sb_printf(&b, "{\"config\":%s,\"stats\":{\"running\":%lld,\"waiting\":%lld,"
              "\"kv_used_tokens\":%lld,\"kv_tokens\":%lld,\"steps\":%lld,\"late_steps\":%lld,"
              "\"max_late_ns\":%lld,\"prompt_tokens_total\":%lld,\"cached_tokens_total\":%lld,"
              "\"generation_tokens_total\":%lld,\"requests_finished\":%lld,"
              "\"requests_aborted\":%lld,\"preemptions\":%lld}}", cfg,
              (long long)s.running, (long long)s.waiting, (long long)s.kv_used_tokens,
              (long long)s.kv_tokens, (long long)s.steps, (long long)s.late_steps,
              (long long)s.max_late_ns, (long long)s.prompt_tokens_total,
              (long long)s.cached_tokens_total, (long long)s.generation_tokens_total,
              (long long)s.requests_finished, (long long)s.requests_aborted,
              (long long)s.preemptions);
    free(cfg);
    return b.buf;
}

int sim_engine_wait_idle(sim_engine *e, int64_t timeout_ns)
{
    struct timespec ts;
    int64_t until = now_mono_ns() + timeout_ns;
    ts.tv_sec = (time_t)(until / 1000000000);
    ts.tv_nsec = (long)(until % 1000000000);
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    while (e->outstanding > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&e->idle, &e->mu, &ts);
    int idle = e->outstanding == 0;
    pthread_mutex_unlock(&e->mu);
    return idle;
}
