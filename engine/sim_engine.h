/* sim_engine.h — a simulated continuous-batching LLM engine.
 *
 * One engine thread runs steps the way vLLM's scheduler does: admit waiting
 * requests while the batch and the KV cache allow, prefill them (skipping
 * prompt blocks found in the prefix cache), produce tokens for every running
 * sequence, and take as long as the cost model says:
 *     step = step_fixed + step_per_seq * running + prefill_per_token * prefill tokens
 * Steps are paced with absolute CLOCK_MONOTONIC deadlines, so the schedule
 * does not drift. Output lengths and words come from a seeded generator, so
 * a seed and the same sequence of submissions give the same outputs.
 *
 * Ownership: the caller owns the engine (sim_engine_free) and everything it
 * passes in; sim_engine_submit copies what it needs before returning. Data
 * handed to callbacks is valid only during the call. Callbacks run on the
 * engine thread and must not block; they may call sim_engine_submit and
 * sim_engine_cancel. */
#ifndef SAGELLM_SIM_ENGINE_H
#define SAGELLM_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine_config.h"

typedef struct sim_engine sim_engine;

/* A batch of tokens produced for one request in one step. */
typedef struct sim_engine_tokens {
    int64_t index;            /* position of the first of these tokens in the output (0-based) */
    int n;                    /* number of tokens (>= 1) */
    const uint32_t *ids;      /* their ids */
    const char *text;         /* their text, one word per token (" word"), NUL-terminated */
    size_t text_len;
    int64_t t_sched_ns;       /* CLOCK_MONOTONIC: the step's scheduled end */
    int64_t t_emit_ns;        /* CLOCK_MONOTONIC: when the engine handed them out */
    int last;                 /* 1 when the request finishes with these tokens */
    const char *finish_reason;/* with last: "stop" or "length"; else NULL */
    int64_t prompt_tokens;    /* the request's prompt length (for usage reports) */
} sim_engine_tokens;

/* How a request ended, with the engine's own accounting. Times are
 * CLOCK_MONOTONIC ns (0 when the moment never came). */
typedef struct sim_engine_result {
    const char *finish_reason;   /* "stop", "length" or "abort" (cancelled or engine stopped) */
    int64_t prompt_tokens;
    int64_t cached_tokens;       /* prompt tokens found in the prefix cache */
    int64_t completion_tokens;   /* tokens handed to on_tokens */
    int64_t preemptions;         /* times the sequence was preempted and recomputed */
    int64_t t_queued_ns;         /* submitted */
    int64_t t_scheduled_ns;      /* first admitted to the running batch */
    int64_t t_first_token_ns;    /* first tokens handed out */
    int64_t t_finished_ns;       /* finished (last tokens, or the abort) */
    int64_t queue_ns, prefill_ns, decode_ns;   /* scheduled-queued, first-scheduled, finished-first */
} sim_engine_result;

typedef void (*sim_engine_tokens_fn)(void *user, const sim_engine_tokens *t);
typedef void (*sim_engine_done_fn)(void *user, const sim_engine_result *r);

/* A request. Give the prompt as text (counted with tok_estimate), as token
 * ids, or as a bare count; optionally with a trace's per-block prefix
 * hashes, which then decide prefix-cache hits. */
typedef struct sim_engine_request {
    const char *prompt;              /* text, or NULL */
    size_t prompt_len;
    const uint32_t *prompt_ids;      /* or token ids */
    size_t n_prompt_ids;
    int64_t prompt_tokens;           /* or just a count (when prompt and prompt_ids are absent) */
    const uint64_t *block_hashes;    /* optional: one hash per block_hash_tokens tokens */
    size_t n_block_hashes;
    int64_t block_hash_tokens;       /* tokens each of block_hashes covers (e.g. 512) */
    int64_t max_tokens;              /* 0: the engine's default */
    int64_t min_tokens;              /* no EOS before this many */
    int ignore_eos;                  /* generate exactly max_tokens */
    int has_seed;                    /* seed this request's outputs with seed */
    uint64_t seed;
    sim_engine_tokens_fn on_tokens;  /* may be NULL */
    sim_engine_done_fn on_done;      /* may be NULL; called exactly once per accepted request */
    void *user;
} sim_engine_request;

/* Statistics, as a consistent snapshot taken at the end of a step. */
typedef struct sim_engine_stats {
    int64_t running, waiting;
    int64_t kv_used_tokens, kv_tokens;
    int64_t steps, late_steps;           /* steps that started after their deadline */
    int64_t max_late_ns;
    int64_t prompt_tokens_total, cached_tokens_total, generation_tokens_total;
    int64_t prefix_queries_tokens, prefix_hit_tokens;
    int64_t requests_finished, requests_aborted, preemptions;
} sim_engine_stats;

/* Creates an engine (not yet running) from a validated copy of cfg.
 * Returns NULL with a message in err when cfg is invalid. */
sim_engine *sim_engine_new(const engine_config *cfg, char *err, size_t errlen);

/* Starts the engine thread. Returns 0, or ERR_SYSTEM with err. Requests
 * submitted before the start wait for it (all arriving at the start time). */
int sim_engine_start(sim_engine *e, char *err, size_t errlen);

/* Queues a request; never waits for the engine. Returns the request's
 * handle (> 0) for sim_engine_cancel, or ERR_USAGE with a message a client
 * can be shown (prompt too long, max_tokens out of range, ...) in err, in
 * which case no callback will come. The prompt's text is tokenized here,
 * on the caller's thread. */
int64_t sim_engine_submit(sim_engine *e, const sim_engine_request *r, char *err, size_t errlen);

/* Asks the engine to drop a request: it ends with finish_reason "abort"
 * (on_done from the engine thread) unless it finished first. Never waits.
 * Returns 0, or ERR_USAGE for a handle that was never issued. */
int sim_engine_cancel(sim_engine *e, int64_t handle);

/* Stops the engine thread and waits for it: every request still queued or
 * running ends with "abort" (on_done, from the engine thread). Idempotent. */
void sim_engine_stop(sim_engine *e);

/* Stops the engine if running and frees it. NULL is a no-op. */
void sim_engine_free(sim_engine *e);

/* The engine's configuration. */
const engine_config *sim_engine_config(const sim_engine *e);

/* Copies the latest statistics snapshot into s. Thread-safe. */
void sim_engine_get_stats(sim_engine *e, sim_engine_stats *s);

/* Configuration and statistics as a JSON object: a malloc'd string the
 * caller frees. Thread-safe. */
char *sim_engine_info_json(sim_engine *e);

/* Time on the engine's clock (CLOCK_MONOTONIC ns; the virtual clock when
 * the configuration asks for one). Thread-safe. */
int64_t sim_engine_now(sim_engine *e);

/* Blocks until no request is queued or running, or timeout_ns passes.
 * Returns 1 when idle, 0 on timeout. For tests and orderly shutdowns. */
int sim_engine_wait_idle(sim_engine *e, int64_t timeout_ns);

#endif
