/* engine_host_py.c — the Python bridge: a Python engine object with
 * sagellm-core's interface (`await engine.start()`, `engine.is_running`,
 * `await engine.generate(prompt=..., max_tokens=..., ...)`, optionally
 * `async for event in engine.stream(request)`) behind the engine interface,
 * for `--engine python:MODULE:FACTORY`.
 *
 * Threads: one asyncio event loop per engine, on its own thread, which is
 * the only thread that runs the engine's Python code. submit() never takes
 * the GIL: it queues a copy of the request under a mutex and wakes the loop
 * through an eventfd the loop watches (loop.add_reader), so a busy
 * interpreter cannot stall the replay's workers. The loop thread releases
 * the GIL around every callback into the host. create, start, health, info
 * and stop take the GIL briefly on the caller's thread.
 *
 * Errors: an exception raised by the engine inside a request becomes that
 * request's on_done with the exception's type and message as the error;
 * nothing of the engine's can take the process down.
 *
 * The interpreter is initialised once per process (without Python's signal
 * handlers, so SIGINT stays the replay's) and never finalised: CPython does
 * not support re-initialisation well, and the process exits soon after its
 * engine is stopped. Built only when SAGELLM_HAVE_PYTHON is defined (see
 * clients/python.mk); otherwise engine_host_py_create says how to get it. */
#ifdef SAGELLM_HAVE_PYTHON
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif

#include "clients/engine_host.h"
#include "common/util.h"

#ifdef SAGELLM_HAVE_PYTHON

/* clients/engine_host.py, embedded by clients/engine_host_py_src.S. */
extern const char engine_host_py_src[];

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer: the interpreter is never finalised (see above), so what
 * CPython allocated for itself is still held at exit. Only allocations made
 * inside libpython are exempted; the bridge's own are still checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpython3\n";
}
#endif

/* A submitted request, from submit() until its on_done. */
typedef struct py_req {
    struct py_req *next;
    sagellm_callbacks cb;
    void *user;
    int64_t handle;
    /* the request, copied (freed once handed to Python) */
    char *prompt;
    uint32_t *ids;
    size_t nids;
    int64_t max_tokens, min_tokens;
    int ignore_eos, has_seed;
    uint64_t seed;
    double temperature, top_p;
    char *model, *request_id, *trace_id;
} py_req;

struct sagellm_engine {
    PyObject *bridge;             /* _sagellm_bridge.Bridge */
    PyObject *wake;               /* the loop's reader callback */
    int efd;                      /* eventfd: wakes the loop */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;           /* guards everything below */
    py_req *head, *tail;          /* submitted, not yet handed to Python */
    int64_t *cancels;             /* handles to cancel */
    size_t ncancel, capcancel;
    int accepting, stopping;
    int64_t next_handle;
    char *module, *factory;
};

static pthread_once_t py_once = PTHREAD_ONCE_INIT;
static char py_init_err[512];
static PyObject *py_helper;       /* the _sagellm_bridge module */
static PyObject *py_emit_tokens_fn, *py_emit_done_fn;

/* Fills err with "what: ExcType: message" from the pending Python error
 * (and clears it). Needs the GIL. */
static void py_error(char *err, size_t errlen, const char *what)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    const char *msg = NULL;
    PyObject *d = NULL;
    if (v && py_helper) d = PyObject_CallMethod(py_helper, "describe", "O", v);
    if (d) msg = PyUnicode_AsUTF8(d);
    if (!msg) PyErr_Clear();
    errf(err, errlen, "%s: %s", what, msg ? msg : "unknown Python error");
    Py_XDECREF(d);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
}

static void free_req_data(py_req *q)
{
    free(q->prompt);
    free(q->ids);
    free(q->model);
    free(q->request_id);
    free(q->trace_id);
    q->prompt = q->model = q->request_id = q->trace_id = NULL;
    q->ids = NULL;
}

static void finish_abort(py_req *q, const char *error)
{
    sagellm_result r;
    sagellm_result_init(&r);
    r.finish_reason = error ? NULL : "abort";
    r.error = error;
    q->cb.on_done(q->user, &r);
    free_req_data(q);
    free(q);
}

static int64_t span(int64_t a, int64_t b)
{
    return a >= 0 && b >= a ? b - a : -1;
}

/* emit_tokens(ctx, count, text, engine_ns) */
static PyObject *py_emit_tokens(PyObject *self, PyObject *args)
{
    PyObject *ctx;
    long long n, ts;
    const char *text;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "OLs#L", &ctx, &n, &text, &len, &ts)) return NULL;
    py_req *q = PyLong_AsVoidPtr(ctx);
    if (!q) return NULL;
    Py_BEGIN_ALLOW_THREADS
    q->cb.on_tokens(q->user, (int64_t)n, text, (size_t)len, (int64_t)ts);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* emit_done(ctx, finish_reason, error, prompt, completion, cached,
 *           t_queued, t_scheduled, t_first_token, t_finished) */
static PyObject *py_emit_done(PyObject *self, PyObject *args)
{
    PyObject *ctx = PyTuple_Size(args) > 0 ? PyTuple_GetItem(args, 0) : NULL;
    py_req *q = ctx ? PyLong_AsVoidPtr(ctx) : NULL;
    if (!q) return NULL;
    sagellm_result r;
    sagellm_result_init(&r);
    const char *finish = NULL, *error = NULL;
    long long v[7];
    if (!PyArg_ParseTuple(args, "OzzLLLLLLL", &ctx, &finish, &error, &v[0], &v[1], &v[2],
                          &v[3], &v[4], &v[5], &v[6])) {
        /* Still end the request exactly once. */
        PyErr_Clear();
        error = "the Python bridge could not read the engine's result";
        finish = NULL;
        for (int i = 0; i < 7; i++) v[i] = -1;
    }
    r.finish_reason = finish;
    r.error = error;
    r.prompt_tokens = v[0];
    r.completion_tokens = v[1];
    r.cached_tokens = v[2];
    r.t_queued_ns = v[3];
    r.t_scheduled_ns = v[4];
    r.t_first_token_ns = v[5];
    r.t_finished_ns = v[6];
    r.queue_ns = span(r.t_queued_ns, r.t_scheduled_ns);
    r.prefill_ns = span(r.t_scheduled_ns, r.t_first_token_ns);
    r.decode_ns = span(r.t_first_token_ns, r.t_finished_ns);
    Py_BEGIN_ALLOW_THREADS
    q->cb.on_done(q->user, &r);
    Py_END_ALLOW_THREADS
    free(q);
    Py_RETURN_NONE;
}

static PyMethodDef emit_tokens_def = {"emit_tokens", py_emit_tokens, METH_VARARGS, NULL};
static PyMethodDef emit_done_def = {"emit_done", py_emit_done, METH_VARARGS, NULL};

/* Our own executable's path, so CPython looks for its standard library
 * from there and then its build prefix, not from whatever `python3` is
 * first on PATH. */
static void set_program_name(PyConfig *c)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    PyConfig_SetBytesString(c, &c->program_name, path);
}

static void py_init(void)
{
    int own = !Py_IsInitialized();
    if (own) {
        PyConfig c;
        PyConfig_InitPythonConfig(&c);
        c.install_signal_handlers = 0;
        c.parse_argv = 0;
        set_program_name(&c);
        PyStatus st = Py_InitializeFromConfig(&c);
        PyConfig_Clear(&c);
        if (PyStatus_Exception(st)) {
            errf(py_init_err, sizeof py_init_err, "cannot initialise Python: %s",
                 st.err_msg ? st.err_msg : "unknown error");
            return;
        }
    }
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *mod = PyModule_New("_sagellm_bridge");
    PyObject *dict = mod ? PyModule_GetDict(mod) : NULL;
    PyObject *r = NULL;
    if (dict && PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) == 0)
        r = PyRun_String(engine_host_py_src, Py_file_input, dict, dict);
    py_emit_tokens_fn = PyCFunction_New(&emit_tokens_def, NULL);
    py_emit_done_fn = PyCFunction_New(&emit_done_def, NULL);
    if (!r || !py_emit_tokens_fn || !py_emit_done_fn) {
        py_error(py_init_err, sizeof py_init_err, "cannot set up the Python bridge");
        Py_XDECREF(mod);
    } else {
        py_helper = mod;
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    /* The thread that initialised holds the GIL; let the others have it. */
    if (own) PyEval_SaveThread();
}

/* The loop's reader callback (loop thread, GIL held): hands queued
 * requests and cancellations to the driver. */
static PyObject *py_wake(PyObject *self, PyObject *unused)
{
    sagellm_engine *e = PyLong_AsVoidPtr(self);
    uint64_t v;
    if (read(e->efd, &v, sizeof v) < 0 && errno != EAGAIN) { /* nothing to drain */ }
    pthread_mutex_lock(&e->mu);
    py_req *list = e->head;
    e->head = e->tail = NULL;
    int64_t *cancels = e->cancels;
    size_t ncancel = e->ncancel;
    e->cancels = NULL;
    e->ncancel = e->capcancel = 0;
    int stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);
    PyObject *driver = PyObject_GetAttrString(e->bridge, "driver");
    if (!driver) PyErr_Clear();
    while (list) {
        py_req *q = list;
        list = q->next;
        if (stopping || !driver || driver == Py_None) {
            Py_BEGIN_ALLOW_THREADS
            finish_abort(q, NULL);
            Py_END_ALLOW_THREADS
            continue;
        }
        PyObject *kw = PyDict_New();
#define SET(key, obj) do { PyObject *o_ = (obj); \
        if (o_) { PyDict_SetItemString(kw, key, o_); Py_DECREF(o_); } } while (0)
        if (q->prompt)
            SET("prompt", PyUnicode_DecodeUTF8(q->prompt, (Py_ssize_t)strlen(q->prompt), "replace"));
        else
            PyDict_SetItemString(kw, "prompt", Py_None);
        if (q->ids) {
            PyObject *l = PyList_New((Py_ssize_t)q->nids);
            for (size_t i = 0; l && i < q->nids; i++)
                PyList_SET_ITEM(l, (Py_ssize_t)i, PyLong_FromUnsignedLong(q->ids[i]));
            SET("prompt_token_ids", l);
        }
        if (q->max_tokens > 0) SET("max_tokens", PyLong_FromLongLong(q->max_tokens));
        if (q->min_tokens > 0) SET("min_tokens", PyLong_FromLongLong(q->min_tokens));
        if (q->ignore_eos) SET("ignore_eos", PyBool_FromLong(1));
        if (q->has_seed) SET("seed", PyLong_FromUnsignedLongLong(q->seed));
        if (q->temperature >= 0) SET("temperature", PyFloat_FromDouble(q->temperature));
        if (q->top_p >= 0) SET("top_p", PyFloat_FromDouble(q->top_p));
        if (q->model) SET("model", PyUnicode_FromString(q->model));
        if (q->request_id) SET("request_id", PyUnicode_FromString(q->request_id));
        if (q->trace_id) SET("trace_id", PyUnicode_FromString(q->trace_id));
#undef SET
        free_req_data(q);
        PyObject *r = PyErr_Occurred() ? NULL
            : PyObject_CallMethod(driver, "submit", "NLO", PyLong_FromVoidPtr(q),
                                  (long long)q->handle, kw);
        Py_DECREF(kw);
        if (!r) {
            char msg[512];
            py_error(msg, sizeof msg, "the Python bridge could not start the request");
            Py_BEGIN_ALLOW_THREADS
            finish_abort(q, msg);
            Py_END_ALLOW_THREADS
        }
        Py_XDECREF(r);
    }
    for (size_t i = 0; i < ncancel && driver && driver != Py_None; i++) {
        PyObject *r = PyObject_CallMethod(driver, "cancel", "L", (long long)cancels[i]);
        if (!r) PyErr_Clear();
        Py_XDECREF(r);
    }
    free(cancels);
    Py_XDECREF(driver);
    Py_RETURN_NONE;
}

static PyMethodDef wake_def = {"wake", py_wake, METH_NOARGS, NULL};

static void *loop_main(void *arg)
{
    sagellm_engine *e = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_CallMethod(e->bridge, "run", NULL);
    if (!r) PyErr_Print();   /* the loop itself failed: nothing else can report it */
    Py_XDECREF(r);
    PyGILState_Release(g);
    return NULL;
}

int engine_host_py_available(void)
{
    return 1;
}

static void py_stop(sagellm_engine *e);
static void py_destroy(sagellm_engine *e);

sagellm_engine *engine_host_py_create(const char *module, const char *factory,
                                      const char *config_json, char *err, size_t errlen)
{
    pthread_once(&py_once, py_init);
    if (py_init_err[0]) {
        errf(err, errlen, "%s", py_init_err);
        return NULL;
    }
    sagellm_engine *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    e->module = xstrdup(module);
    e->factory = xstrdup(factory);
    e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->efd < 0) {
        errf(err, errlen, "eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&e->mu);
        free(e->module);
        free(e->factory);
        free(e);
        return NULL;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *self = PyLong_FromVoidPtr(e);
    e->wake = PyCFunction_New(&wake_def, self);
    Py_XDECREF(self);
    e->bridge = e->wake ? PyObject_CallMethod(py_helper, "Bridge", "iO", e->efd, e->wake) : NULL;
    int ok = 0;
    if (!e->bridge) {
        py_error(err, errlen, "cannot create the asyncio loop");
    } else if (pthread_create(&e->thread, NULL, loop_main, e) != 0) {
        errf(err, errlen, "cannot start the Python bridge's thread");
    } else {
        e->thread_started = 1;
        char what[300];
        snprintf(what, sizeof what, "%s.%s", module, factory);
        PyObject *r = PyObject_CallMethod(e->bridge, "create", "sssOO", module, factory,
                                          config_json, py_emit_tokens_fn, py_emit_done_fn);
        if (!r) py_error(err, errlen, what);
        else ok = 1;
        Py_XDECREF(r);
    }
    PyGILState_Release(g);
    if (!ok) {
        py_destroy(e);
        return NULL;
    }
    return e;
}

static int py_start(sagellm_engine *e, char *err, size_t errlen)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_CallMethod(e->bridge, "start", NULL);
    if (!r) {
        char what[300];
        snprintf(what, sizeof what, "%s.%s: engine.start()", e->module, e->factory);
        py_error(err, errlen, what);
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    if (!r) return ERR_SYSTEM;
    pthread_mutex_lock(&e->mu);
    e->accepting = !e->stopping;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static int64_t py_submit(sagellm_engine *e, const sagellm_request *req,
                         const sagellm_callbacks *cb, void *user, char *err, size_t errlen)
{
    if (!cb || !cb->on_done || !cb->on_tokens) {
        errf(err, errlen, "submit needs on_tokens and on_done callbacks");
        return ERR_USAGE;
    }
    if (!req->prompt && !req->prompt_ids) {
        errf(err, errlen, "the request has no prompt (neither text nor token ids)");
        return ERR_USAGE;
    }
    py_req *q = xcalloc(1, sizeof *q);
    memcpy(&q->cb, cb, cb->struct_size < sizeof q->cb ? cb->struct_size : sizeof q->cb);
    q->user = user;
    if (req->prompt) q->prompt = xstrndup(req->prompt, req->prompt_len);
    if (req->prompt_ids && req->n_prompt_ids) {
        q->ids = xmalloc(req->n_prompt_ids * sizeof *q->ids);
        memcpy(q->ids, req->prompt_ids, req->n_prompt_ids * sizeof *q->ids);
        q->nids = req->n_prompt_ids;
    }
    q->max_tokens = req->max_tokens;
    q->min_tokens = req->min_tokens;
    q->ignore_eos = req->ignore_eos;
    q->has_seed = req->has_seed;
    q->seed = req->seed;
    q->temperature = req->temperature;
    q->top_p = req->top_p;
    q->model = dup_or_null(req->model);
    q->request_id = dup_or_null(req->request_id);
    q->trace_id = dup_or_null(req->trace_id);
    pthread_mutex_lock(&e->mu);
    if (!e->accepting) {
        int stopped = e->stopping;
        pthread_mutex_unlock(&e->mu);
        errf(err, errlen, "the Python engine is %s", stopped ? "stopped" : "not started");
        free_req_data(q);
        free(q);
        return ERR_USAGE;
    }
    q->handle = ++e->next_handle;
    if (e->tail) e->tail->next = q;
    else e->head = q;
    e->tail = q;
    int64_t h = q->handle;   /* q may be done and freed once the lock is released */
    pthread_mutex_unlock(&e->mu);
    uint64_t one = 1;
    if (write(e->efd, &one, sizeof one) < 0) { /* the counter is already non-zero */ }
    return h;
}

static int py_cancel(sagellm_engine *e, int64_t handle)
{
    pthread_mutex_lock(&e->mu);
    if (handle <= 0 || handle > e->next_handle) {
        pthread_mutex_unlock(&e->mu);
        return ERR_USAGE;
    }
    if (e->ncancel == e->capcancel) {
        e->capcancel = e->capcancel ? 2 * e->capcancel : 16;
        e->cancels = xrealloc(e->cancels, e->capcancel * sizeof *e->cancels);
    }
    e->cancels[e->ncancel++] = handle;
    pthread_mutex_unlock(&e->mu);
    uint64_t one = 1;
    if (write(e->efd, &one, sizeof one) < 0) { /* the counter is already non-zero */ }
    return 0;
}

static void py_stop(sagellm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int first = !e->stopping;
    e->stopping = 1;
    e->accepting = 0;
    pthread_mutex_unlock(&e->mu);
    if (!first) return;
    if (e->thread_started) {
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *r = PyObject_CallMethod(e->bridge, "shutdown", NULL);
        if (!r) PyErr_Clear();
        Py_XDECREF(r);
        PyGILState_Release(g);
        pthread_join(e->thread, NULL);
        e->thread_started = 0;
    }
    /* Requests the loop never picked up end here, still exactly once. */
    pthread_mutex_lock(&e->mu);
    py_req *list = e->head;
    e->head = e->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    while (list) {
        py_req *q = list;
        list = q->next;
        finish_abort(q, NULL);
    }
}

static void py_destroy(sagellm_engine *e)
{
    if (!e) return;
    py_stop(e);
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(e->bridge);
    Py_XDECREF(e->wake);
    PyGILState_Release(g);
    close(e->efd);
    free(e->cancels);
    pthread_mutex_destroy(&e->mu);
    free(e->module);
    free(e->factory);
    free(e);
}

static int py_health(sagellm_engine *e, char *msg, size_t msglen)
{
    pthread_mutex_lock(&e->mu);
    int accepting = e->accepting;
    pthread_mutex_unlock(&e->mu);
    if (!accepting) {
        errf(msg, msglen, "the Python engine is not running (not started, or stopped)");
        return ERR_SYSTEM;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = PyObject_GetAttrString(e->bridge, "driver");
    PyObject *r = d ? PyObject_CallMethod(d, "running", NULL) : NULL;
    int rc = 0;
    if (!r) {
        py_error(msg, msglen, "engine.is_running");
        rc = ERR_SYSTEM;
    } else if (!PyObject_IsTrue(r)) {
        errf(msg, msglen, "engine.is_running is false");
        rc = ERR_SYSTEM;
    }
    Py_XDECREF(r);
    Py_XDECREF(d);
    PyGILState_Release(g);
    return rc;
}

static char *py_info(sagellm_engine *e)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = PyObject_GetAttrString(e->bridge, "driver");
    PyObject *r = d && d != Py_None ? PyObject_CallMethod(d, "info", NULL) : NULL;
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    char *out = s ? xstrdup(s) : NULL;
    if (!s) PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(d);
    PyGILState_Release(g);
    return out;
}

static void py_info_free(sagellm_engine *e, char *info)
{
    free(info);
}

static int py_abi_version(void)
{
    return SAGELLM_ENGINE_ABI_VERSION;
}

const sagellm_engine_api engine_host_py_api = {
    .abi_version = py_abi_version,
    .create = NULL,               /* engine_host_py_create */
    .start = py_start,
    .submit = py_submit,
    .cancel = py_cancel,
    .stop = py_stop,
    .destroy = py_destroy,
    .health = py_health,
    .info = py_info,
    .info_free = py_info_free,
};

#else /* !SAGELLM_HAVE_PYTHON */

int engine_host_py_available(void)
{
    return 0;
}

sagellm_engine *engine_host_py_create(const char *module, const char *factory,
                                      const char *config_json, char *err, size_t errlen)
{
    errf(err, errlen, "this sagellm-bench was built without the Python bridge: install "
         "libpython3-dev (Debian) and rebuild");
    return NULL;
}

/* Never called: engine_host_py_create fails first. */
const sagellm_engine_api engine_host_py_api = {0};

#endif
