/* engine_host_sim.c — the built-in simulated engine (engine/sim_engine.h)
 * behind the public engine interface, for `--engine sim`.
 *
 * Configuration: engine_config's JSON keys ("preset", "max_batch",
 * "step_fixed", ...; docs/server.md), the same parameters `serve` takes, so
 * an in-process run and an HTTP run of the same trace see the same engine.
 * Chat requests (messages_json) are rendered with the ChatML template the
 * server counts, so prompt lengths agree with `serve` too.
 *
 * Per request the adapter allocates one small record (the callbacks and the
 * user pointer), freed after on_done; tokens go straight from the engine
 * thread to the host's callback. With the engine's virtual clock the
 * absolute times are not CLOCK_MONOTONIC, so they are reported as unknown
 * (-1) and only the durations are kept. */
#include "clients/engine_host.h"
#include "common/util.h"
#include "engine/engine_config.h"
#include "engine/sim_engine.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct sagellm_engine {
    sim_engine *sim;
    int vclock;
    atomic_int running;          /* started and not stopped */
};

/* One accepted request. */
typedef struct sim_req {
    sagellm_callbacks cb;
    void *user;
    int vclock;
} sim_req;

static sagellm_engine *sim_create(const char *config_json, char *err, size_t errlen)
{
    engine_config cfg;
    engine_config_default(&cfg);
    if (engine_config_from_json(&cfg, config_json, err, errlen) < 0) return NULL;
    if (engine_config_validate(&cfg, err, errlen) < 0) return NULL;
    sim_engine *s = sim_engine_new(&cfg, err, errlen);
    if (!s) return NULL;
    sagellm_engine *e = xcalloc(1, sizeof *e);
    e->sim = s;
    e->vclock = cfg.virtual_clock;
    return e;
}

static int sim_start(sagellm_engine *e, char *err, size_t errlen)
{
    int rc = sim_engine_start(e->sim, err, errlen);
    if (rc == 0) atomic_store(&e->running, 1);
    return rc;
}

static void sim_on_tokens(void *u, const sim_engine_tokens *t)
{
    const sim_req *q = u;
    q->cb.on_tokens(q->user, t->n, t->text, t->text_len, q->vclock ? -1 : t->t_emit_ns);
}

static int64_t abs_time(const sim_req *q, int64_t t)
{
    return q->vclock || t <= 0 ? -1 : t;
}

static int64_t span(int64_t a, int64_t b)
{
    return a > 0 && b >= a ? b - a : -1;
}

static void sim_on_done(void *u, const sim_engine_result *r)
{
    sim_req *q = u;
    sagellm_result res;
    sagellm_result_init(&res);
    res.finish_reason = r->finish_reason;
    res.prompt_tokens = r->prompt_tokens;
    res.completion_tokens = r->completion_tokens;
    res.cached_tokens = r->cached_tokens;
    /* A step starts at the previous step's deadline, which can be a little
     * before a request that joins it arrived: such a request counts as
     * scheduled on arrival (queue 0), never before it. */
    int64_t sched = r->t_scheduled_ns > 0 && r->t_scheduled_ns < r->t_queued_ns
                    ? r->t_queued_ns : r->t_scheduled_ns;
    res.t_queued_ns = abs_time(q, r->t_queued_ns);
    res.t_scheduled_ns = abs_time(q, sched);
    res.t_first_token_ns = abs_time(q, r->t_first_token_ns);
    res.t_finished_ns = abs_time(q, r->t_finished_ns);
    /* The engine's durations, or -1 for a phase that never began. */
    res.queue_ns = span(r->t_queued_ns, sched);
    res.prefill_ns = span(sched, r->t_first_token_ns);
    res.decode_ns = span(r->t_first_token_ns, r->t_finished_ns);
    q->cb.on_done(q->user, &res);
    free(q);
}

/* Appends the ChatML rendering of a messages array (as `serve` counts it).
 * Returns 0, or -1 with err for messages the server would refuse too. */
static int render_chat(const char *json, strbuf *p, char *err, size_t errlen)
{
    cJSON *msgs = cJSON_ParseWithOpts(json, NULL, 0);
    int rc = -1;
    if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs)) {
        errf(err, errlen, "'messages' must be a non-empty list of messages");
        goto out;
    }
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role)) {
            errf(err, errlen, "messages[%d] must be an object with a string 'role'", i);
            goto out;
        }
        sb_printf(p, "<|im_start|>%s\n", role->valuestring);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(c)) {
            sb_adds(p, c->valuestring);
        } else if (cJSON_IsArray(c)) {
            for (const cJSON *part = c->child; part; part = part->next) {
                const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
                if (cJSON_IsString(text)) sb_adds(p, text->valuestring);
            }
        }
        sb_adds(p, "<|im_end|>\n");
    }
    sb_adds(p, "<|im_start|>assistant\n");
    rc = 0;
out:
    cJSON_Delete(msgs);
    return rc;
}

static int64_t sim_submit(sagellm_engine *e, const sagellm_request *req,
                          const sagellm_callbacks *cb, void *user, char *err, size_t errlen)
{
    if (!cb || !cb->on_done) {
        errf(err, errlen, "submit needs an on_done callback");
        return ERR_USAGE;
    }
    sim_engine_request r;
    memset(&r, 0, sizeof r);
    strbuf chat = {0};
    if (SAGELLM_HAS_FIELD(req, sagellm_request, messages_json) && req->messages_json) {
        if (render_chat(req->messages_json, &chat, err, errlen) < 0) {
            sb_free(&chat);
            return ERR_USAGE;
        }
        r.prompt = chat.buf;
        r.prompt_len = chat.len;
    } else if (req->prompt) {
        r.prompt = req->prompt;
        r.prompt_len = req->prompt_len;
    } else if (req->prompt_ids) {
        r.prompt_ids = req->prompt_ids;
        r.n_prompt_ids = req->n_prompt_ids;
    } else {
        errf(err, errlen, "the request has no prompt (neither text nor token ids)");
        return ERR_USAGE;
    }
    r.max_tokens = req->max_tokens;
    r.min_tokens = req->min_tokens;
    r.ignore_eos = req->ignore_eos;
    r.has_seed = req->has_seed;
    r.seed = req->seed;
    sim_req *q = xmalloc(sizeof *q);
    memset(&q->cb, 0, sizeof q->cb);
    memcpy(&q->cb, cb, cb->struct_size < sizeof q->cb ? cb->struct_size : sizeof q->cb);
    q->user = user;
    q->vclock = e->vclock;
    r.on_tokens = q->cb.on_tokens ? sim_on_tokens : NULL;
    r.on_done = sim_on_done;
    r.user = q;
    int64_t h = sim_engine_submit(e->sim, &r, err, errlen);
    sb_free(&chat);
    if (h <= 0) {
        free(q);
        return h < 0 ? h : ERR_SYSTEM;
    }
    return h;
}

static int sim_cancel(sagellm_engine *e, int64_t handle)
{
    return sim_engine_cancel(e->sim, handle);
}

static void sim_stop(sagellm_engine *e)
{
    atomic_store(&e->running, 0);
    sim_engine_stop(e->sim);
}

static void sim_destroy(sagellm_engine *e)
{
    if (!e) return;
    sim_engine_free(e->sim);
    free(e);
}

static int sim_health(sagellm_engine *e, char *msg, size_t msglen)
{
    if (atomic_load(&e->running)) return 0;
    errf(msg, msglen, "the simulated engine is not running");
    return ERR_SYSTEM;
}

static char *sim_info(sagellm_engine *e)
{
    return sim_engine_info_json(e->sim);
}

static void sim_info_free(sagellm_engine *e, char *info)
{
    free(info);
}

static int sim_abi_version(void)
{
    return SAGELLM_ENGINE_ABI_VERSION;
}

const sagellm_engine_api engine_host_sim_api = {
    .abi_version = sim_abi_version,
    .create = sim_create,
    .start = sim_start,
    .submit = sim_submit,
    .cancel = sim_cancel,
    .stop = sim_stop,
    .destroy = sim_destroy,
    .health = sim_health,
    .info = sim_info,
    .info_free = sim_info_free,
};
