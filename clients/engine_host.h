/* engine_host.h — an inference engine loaded for in-process use, behind the
 * public engine interface (include/sagellm/engine_abi.h).
 *
 * Three kinds of engine, chosen by the spec string (`--engine SPEC`):
 *   sim                     the built-in simulated engine (engine/sim_engine),
 *                           configured with engine_config's JSON keys
 *   PATH.so (or any path    an engine library, loaded with dlopen; every
 *   containing a '/')       symbol of the interface is looked up by name
 *   python:MODULE:FACTORY   a Python engine object with sagellm-core's
 *                           interface, driven through embedded CPython
 *                           (only when built with libpython; see python.mk)
 *
 * Whatever the kind, the host offers the same calls with the interface's
 * contract (docs/engine-abi.md): submit never waits, callbacks come from the
 * engine's threads, on_done comes exactly once per accepted request.
 *
 * Ownership: engine_host_open returns a handle the caller closes with
 * engine_host_close (which stops the engine first); engine_host_info returns
 * a malloc'd string the caller frees. */
#ifndef SAGELLM_ENGINE_HOST_H
#define SAGELLM_ENGINE_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "include/sagellm/engine_abi.h"

typedef struct engine_host engine_host;

/* Loads the engine named by spec and creates it from config_json (a JSON
 * object's text; NULL means "{}"). The engine is not started. Returns NULL
 * with a sentence naming the spec in err on failure: unknown spec, missing
 * file, missing symbol, wrong interface version, or the engine's own
 * creation error. */
engine_host *engine_host_open(const char *spec, const char *config_json,
                              char *err, size_t errlen);

/* Starts the engine (may take long). Returns 0, or a negative code with err. */
int engine_host_start(engine_host *h, char *err, size_t errlen);

/* Queues a request (see sagellm_engine_submit). Returns the handle (> 0),
 * or a negative code with err; thread-safe. */
int64_t engine_host_submit(engine_host *h, const sagellm_request *req,
                           const sagellm_callbacks *cb, void *user,
                           char *err, size_t errlen);

/* Asks the engine to end a request early; thread-safe. Returns 0 or < 0. */
int engine_host_cancel(engine_host *h, int64_t handle);

/* Returns 0 when the engine is healthy, else < 0 with a reason in msg. */
int engine_host_health(engine_host *h, char *msg, size_t msglen);

/* The engine's self-description, a JSON object's text wrapped as
 * {"kind": ..., "spec": ..., "engine": <the engine's info or null>}.
 * A malloc'd string the caller frees. */
char *engine_host_info(engine_host *h);

/* "sim", "library" or "python". */
const char *engine_host_kind(const engine_host *h);

/* Stops the engine: requests still in flight end with "abort" before it
 * returns. Idempotent. */
void engine_host_stop(engine_host *h);

/* Stops, destroys and unloads the engine. NULL is a no-op. */
void engine_host_close(engine_host *h);

/* ---- the built-in backends (engine_host_sim.c, engine_host_py.c) ---- */

/* The simulated engine behind the interface (create, start, ... over
 * sim_engine; configuration keys are engine_config's). */
extern const sagellm_engine_api engine_host_sim_api;

/* The Python bridge: every call but create. Its create is
 * engine_host_py_create. */
extern const sagellm_engine_api engine_host_py_api;

/* Imports module, calls module.factory(**config) on the bridge's event
 * loop thread (awaiting the result when it is a coroutine) and wraps the
 * engine object. Configuration keys starting with "python_" are the
 * bridge's own (python_path: a directory or a list of them to put first on
 * sys.path; python_stream: "auto", true or false) and are not passed to the
 * factory. Returns NULL with err on failure, or when built without
 * libpython. */
sagellm_engine *engine_host_py_create(const char *module, const char *factory,
                                      const char *config_json, char *err, size_t errlen);

/* 1 when this build has the Python bridge. */
int engine_host_py_available(void);

#endif
