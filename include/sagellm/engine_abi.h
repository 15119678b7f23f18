/* sagellm/engine_abi.h — the C interface an inference engine implements so
 * that sagellm-bench (`replay --client sagellm --engine PATH.so`) can drive
 * it in-process, without HTTP. docs/engine-abi.md is the full description.
 *
 * An engine is a shared library that exports the ten functions declared
 * below with C linkage. The host resolves each one by name with dlsym and
 * calls sagellm_engine_abi_version() first: a library whose version differs
 * from SAGELLM_ENGINE_ABI_VERSION is refused.
 *
 * Ownership: everything the host passes in (configuration, request,
 * callbacks) belongs to the host and is valid only during the call; the
 * engine copies what it keeps. Everything the engine passes to a callback
 * belongs to the engine and is valid only during the callback. The one
 * exception is sagellm_engine_info's string, which the host hands back to
 * sagellm_engine_info_free.
 *
 * Threads: submit, cancel, health and info may be called from several host
 * threads at once; create, start, stop and destroy are called from one
 * thread, in that order. Callbacks come from the engine's own threads.
 *
 * Clock: every timestamp is CLOCK_MONOTONIC in nanoseconds (the value of
 * clock_gettime(CLOCK_MONOTONIC) in the host's process), or -1 when the
 * engine does not know it. */
#ifndef SAGELLM_ENGINE_ABI_H
#define SAGELLM_ENGINE_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this interface. Any incompatible change increments it; fields
 * added at the end of the structs below do not (see struct_size). */
#define SAGELLM_ENGINE_ABI_VERSION 1

#if defined(__GNUC__)
#define SAGELLM_ENGINE_EXPORT __attribute__((visibility("default")))
#else
#define SAGELLM_ENGINE_EXPORT
#endif

/* True when the struct at p, of the size its writer stored in struct_size,
 * contains member m (for reading structs written against another revision
 * of this header). */
#define SAGELLM_HAS_FIELD(p, type, m) \
    ((p)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

/* The engine's state, opaque to the host. */
typedef struct sagellm_engine sagellm_engine;

/* One generation request. Fill it with sagellm_request_init()'s defaults
 * and set what the request needs. */
typedef struct sagellm_request {
    size_t struct_size;          /* sizeof(sagellm_request) as the host compiled it */
    const char *prompt;          /* UTF-8 prompt text, NUL-terminated, or NULL */
    size_t prompt_len;           /* its length in bytes */
    const char *messages_json;   /* chat requests: the messages as a JSON array
                                    (OpenAI shape), for engines that apply a
                                    chat template; prompt then holds the
                                    messages' text joined by newlines. NULL
                                    for plain prompts. */
    const uint32_t *prompt_ids;  /* or the prompt as token ids (prompt NULL) */
    size_t n_prompt_ids;
    int64_t max_tokens;          /* tokens to generate at most; 0: the engine's default */
    int64_t min_tokens;          /* no end of sequence before this many; 0: none */
    int32_t ignore_eos;          /* 1: generate exactly max_tokens */
    int32_t has_seed;            /* 1: seed the request's sampling with seed */
    uint64_t seed;
    double temperature;          /* < 0: the engine's default */
    double top_p;                /* < 0: the engine's default */
    const char *model;           /* model asked for, or NULL: the engine's */
    const char *request_id;      /* the host's id of the request (NUL-terminated) or NULL */
    const char *trace_id;        /* an id for tracing systems, or NULL */
} sagellm_request;

/* How a request ended. Unknown counts and times are -1. */
typedef struct sagellm_result {
    size_t struct_size;          /* sizeof(sagellm_result) as the engine compiled it */
    const char *finish_reason;   /* "stop", "length", "abort" (cancelled or engine stopped), or NULL */
    const char *error;           /* NULL when the request succeeded; else why it failed */
    int64_t prompt_tokens;       /* the prompt's length in tokens */
    int64_t completion_tokens;   /* tokens generated (handed to on_tokens) */
    int64_t cached_tokens;       /* prompt tokens served from a prefix cache */
    int64_t t_queued_ns;         /* the engine accepted the request */
    int64_t t_scheduled_ns;      /* first admitted to a running batch */
    int64_t t_first_token_ns;    /* first token produced */
    int64_t t_finished_ns;       /* finished (last token, error or abort) */
    int64_t queue_ns;            /* scheduled - queued */
    int64_t prefill_ns;          /* first token - scheduled */
    int64_t decode_ns;           /* finished - first token */
} sagellm_result;

/* What the engine calls back. For each accepted request: on_tokens zero or
 * more times, then on_done exactly once; never two calls for the same
 * request at once, never a call after on_done has returned, never a call
 * from inside submit on the submitting thread. Callbacks must be quick and
 * must not block; they may call submit and cancel. */
typedef struct sagellm_callbacks {
    size_t struct_size;          /* sizeof(sagellm_callbacks) as the host compiled it */
    /* count new tokens whose text is text[0..len) (not NUL-terminated; may
     * be empty when the engine produces ids only), produced at engine_ns. */
    void (*on_tokens)(void *user, int64_t count, const char *text, size_t len,
                      int64_t engine_ns);
    void (*on_done)(void *user, const sagellm_result *result);
} sagellm_callbacks;

/* ---- the functions an engine library exports ---- */

/* Returns SAGELLM_ENGINE_ABI_VERSION as the library was compiled. */
SAGELLM_ENGINE_EXPORT int sagellm_engine_abi_version(void);

/* Creates an engine, not yet running, from config_json (a JSON object's
 * text, "{}" for the defaults; the keys are the engine's own). Returns NULL
 * with a sentence in err (NUL-terminated, at most errlen bytes) on failure. */
SAGELLM_ENGINE_EXPORT sagellm_engine *sagellm_engine_create(const char *config_json,
                                                            char *err, size_t errlen);

/* Starts the engine: may take long (loading a model) and returns when it
 * accepts requests. Returns 0, or a negative number with err. */
SAGELLM_ENGINE_EXPORT int sagellm_engine_start(sagellm_engine *e, char *err, size_t errlen);

/* Queues a request and returns at once, without waiting for the engine.
 * Returns the request's handle (> 0), after which cb->on_done will come
 * exactly once with user; or a negative number with err, after which no
 * callback comes. cb is copied; user is passed back untouched. */
SAGELLM_ENGINE_EXPORT int64_t sagellm_engine_submit(sagellm_engine *e, const sagellm_request *req,
                                                    const sagellm_callbacks *cb, void *user,
                                                    char *err, size_t errlen);

/* Asks the engine to end a request early: it ends with finish_reason
 * "abort" (on_done, from the engine's thread) unless it finished first.
 * Never waits. Returns 0, or a negative number for an unknown handle. */
SAGELLM_ENGINE_EXPORT int sagellm_engine_cancel(sagellm_engine *e, int64_t handle);

/* Stops the engine and waits for it: every request still queued or running
 * ends with "abort" (on_done) before stop returns; later submits fail.
 * Idempotent. */
SAGELLM_ENGINE_EXPORT void sagellm_engine_stop(sagellm_engine *e);

/* Stops the engine if needed and frees it. NULL is a no-op. */
SAGELLM_ENGINE_EXPORT void sagellm_engine_destroy(sagellm_engine *e);

/* Returns 0 when the engine is running and accepting requests, else a
 * negative number with the reason in msg. */
SAGELLM_ENGINE_EXPORT int sagellm_engine_health(sagellm_engine *e, char *msg, size_t msglen);

/* Describes the engine (name, version, configuration, statistics) as the
 * text of a JSON object, which the caller returns to
 * sagellm_engine_info_free; NULL when the engine has nothing to say. */
SAGELLM_ENGINE_EXPORT char *sagellm_engine_info(sagellm_engine *e);
SAGELLM_ENGINE_EXPORT void sagellm_engine_info_free(sagellm_engine *e, char *info);

/* ---- for hosts ---- */

/* The exported functions as one table (what a host fills with dlsym). */
typedef struct sagellm_engine_api {
    int (*abi_version)(void);
    sagellm_engine *(*create)(const char *config_json, char *err, size_t errlen);
    int (*start)(sagellm_engine *e, char *err, size_t errlen);
    int64_t (*submit)(sagellm_engine *e, const sagellm_request *req,
                      const sagellm_callbacks *cb, void *user, char *err, size_t errlen);
    int (*cancel)(sagellm_engine *e, int64_t handle);
    void (*stop)(sagellm_engine *e);
    void (*destroy)(sagellm_engine *e);
    int (*health)(sagellm_engine *e, char *msg, size_t msglen);
    char *(*info)(sagellm_engine *e);
    void (*info_free)(sagellm_engine *e, char *info);
} sagellm_engine_api;

/* A request with nothing set: no prompt, engine defaults everywhere. */
static inline void sagellm_request_init(sagellm_request *r)
{
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    r->temperature = -1;
    r->top_p = -1;
}

/* A result that knows nothing: every count and time -1. */
static inline void sagellm_result_init(sagellm_result *r)
{
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    r->prompt_tokens = r->completion_tokens = r->cached_tokens = -1;
    r->t_queued_ns = r->t_scheduled_ns = r->t_first_token_ns = r->t_finished_ns = -1;
    r->queue_ns = r->prefill_ns = r->decode_ns = -1;
}

#ifdef __cplusplus
}
#endif

#endif
