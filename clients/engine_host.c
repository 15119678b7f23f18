/* engine_host.c — see engine_host.h: spec parsing, loading an engine
 * library (dlopen, one dlsym per symbol, the interface version checked
 * before anything else is called), and the calls every backend shares. */
#include "clients/engine_host.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct engine_host {
    const sagellm_engine_api *api;
    sagellm_engine_api lib;      /* the library's functions (kind "library") */
    sagellm_engine *eng;
    void *dl;
    const char *kind;
    char *spec;
    int started, stopped;
};

/* The symbols of the interface, in the order the version check needs:
 * the version first, so a library of another version is named as such
 * rather than by whatever symbol it happens to lack. */
static const struct {
    const char *name;
    size_t off;
} symbols[] = {
    {"sagellm_engine_abi_version", offsetof(sagellm_engine_api, abi_version)},
    {"sagellm_engine_create", offsetof(sagellm_engine_api, create)},
    {"sagellm_engine_start", offsetof(sagellm_engine_api, start)},
    {"sagellm_engine_submit", offsetof(sagellm_engine_api, submit)},
    {"sagellm_engine_cancel", offsetof(sagellm_engine_api, cancel)},
    {"sagellm_engine_stop", offsetof(sagellm_engine_api, stop)},
    {"sagellm_engine_destroy", offsetof(sagellm_engine_api, destroy)},
    {"sagellm_engine_health", offsetof(sagellm_engine_api, health)},
    {"sagellm_engine_info", offsetof(sagellm_engine_api, info)},
    {"sagellm_engine_info_free", offsetof(sagellm_engine_api, info_free)},
};

static int is_library_spec(const char *spec)
{
    size_t n = strlen(spec);
    return strchr(spec, '/') || (n > 3 && !strcmp(spec + n - 3, ".so")) || strstr(spec, ".so.");
}

/* Opens spec with dlopen and fills h->lib. Returns 0 or ERR_* with err. */
static int load_library(engine_host *h, const char *spec, char *err, size_t errlen)
{
    struct stat st;
    if (strchr(spec, '/') && stat(spec, &st) < 0) {
        errf(err, errlen, "engine library %s: cannot open: %s", spec, strerror(errno));
        return ERR_USAGE;
    }
    dlerror();
    h->dl = dlopen(spec, RTLD_NOW | RTLD_LOCAL);
    if (!h->dl) {
        const char *e = dlerror();
        errf(err, errlen, "engine library %s: cannot load: %s", spec, e ? e : "dlopen failed");
        return ERR_USAGE;
    }
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        dlerror();
        void *p = dlsym(h->dl, symbols[i].name);
        const char *e = dlerror();
        if (!p || e) {
            errf(err, errlen, "engine library %s: missing symbol %s (an engine exports every "
                 "function of sagellm/engine_abi.h; see docs/engine-abi.md)%s%s",
                 spec, symbols[i].name, e ? ": " : "", e ? e : "");
            return ERR_USAGE;
        }
        /* POSIX guarantees data and function pointers share a representation. */
        memcpy((char *)&h->lib + symbols[i].off, &p, sizeof p);
        if (i == 0) {
            int v = h->lib.abi_version();
            if (v != SAGELLM_ENGINE_ABI_VERSION) {
                errf(err, errlen, "engine library %s implements engine ABI version %d, but this "
                     "sagellm-bench speaks version %d: rebuild the engine against this "
                     "version's include/sagellm/engine_abi.h", spec, v, SAGELLM_ENGINE_ABI_VERSION);
                return ERR_USAGE;
            }
        }
    }
    h->api = &h->lib;
    return 0;
}

/* Splits "python:MODULE:FACTORY". Returns 0 or ERR_USAGE with err. */
static int python_spec(const char *spec, char **module, char **factory, char *err, size_t errlen)
{
    const char *m = spec + strlen("python:");
    const char *colon = strchr(m, ':');
    if (!colon || colon == m || !colon[1] || strchr(colon + 1, ':')) {
        errf(err, errlen, "engine '%s': expected python:MODULE:FACTORY (e.g. "
             "python:my_engine:make_engine)", spec);
        return ERR_USAGE;
    }
    *module = xstrndup(m, (size_t)(colon - m));
    *factory = xstrdup(colon + 1);
    return 0;
}

engine_host *engine_host_open(const char *spec, const char *config_json,
                              char *err, size_t errlen)
{
    if (!spec || !*spec) {
        errf(err, errlen, "no engine given: use sim, PATH.so or python:MODULE:FACTORY");
        return NULL;
    }
    const char *cfg = config_json && *config_json ? config_json : "{}";
    engine_host *h = xcalloc(1, sizeof *h);
    h->spec = xstrdup(spec);
    char cerr[1024] = "";
    if (!strcmp(spec, "sim")) {
        h->kind = "sim";
        h->api = &engine_host_sim_api;
        h->eng = h->api->create(cfg, cerr, sizeof cerr);
    } else if (!strncmp(spec, "python:", 7)) {
        char *module, *factory;
        h->kind = "python";
        h->api = &engine_host_py_api;
        if (python_spec(spec, &module, &factory, err, errlen) < 0) goto fail;
        h->eng = engine_host_py_create(module, factory, cfg, cerr, sizeof cerr);
        free(module);
        free(factory);
    } else if (is_library_spec(spec)) {
        h->kind = "library";
        if (load_library(h, spec, err, errlen) < 0) goto fail;
        h->eng = h->api->create(cfg, cerr, sizeof cerr);
    } else {
        errf(err, errlen, "unknown engine '%s': expected sim, the path of an engine library "
             "(PATH.so), or python:MODULE:FACTORY", spec);
        goto fail;
    }
    if (!h->eng) {
        errf(err, errlen, "engine %s: %s", spec, cerr[0] ? cerr : "creation failed (no reason given)");
        goto fail;
    }
    return h;
fail:
    if (h->dl) dlclose(h->dl);
    free(h->spec);
    free(h);
    return NULL;
}

int engine_host_start(engine_host *h, char *err, size_t errlen)
{
    char e[1024] = "";
    if (h->api->start(h->eng, e, sizeof e) < 0) {
        errf(err, errlen, "engine %s: start: %s", h->spec, e[0] ? e : "failed (no reason given)");
        return ERR_SYSTEM;
    }
    h->started = 1;
    return 0;
}

int64_t engine_host_submit(engine_host *h, const sagellm_request *req,
                           const sagellm_callbacks *cb, void *user,
                           char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    int64_t id = h->api->submit(h->eng, req, cb, user, err, errlen);
    if (id <= 0) {
        if (err && errlen && !err[0]) errf(err, errlen, "the engine refused the request (no reason given)");
        return id < 0 ? id : ERR_SYSTEM;
    }
    return id;
}

int engine_host_cancel(engine_host *h, int64_t handle)
{
    return h->api->cancel(h->eng, handle);
}

int engine_host_health(engine_host *h, char *msg, size_t msglen)
{
    if (msg && msglen) msg[0] = '\0';
    return h->api->health(h->eng, msg, msglen);
}

char *engine_host_info(engine_host *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", h->kind);
    cJSON_AddStringToObject(o, "spec", h->spec);
    char *s = h->api->info(h->eng);
    cJSON *inner = s ? cJSON_Parse(s) : NULL;
    if (s) h->api->info_free(h->eng, s);
    cJSON_AddItemToObject(o, "engine", inner ? inner : cJSON_CreateNull());
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *ret = xstrdup(out);
    cJSON_free(out);
    return ret;
}

const char *engine_host_kind(const engine_host *h)
{
    return h->kind;
}

void engine_host_stop(engine_host *h)
{
    if (h->stopped) return;
    h->stopped = 1;
    h->api->stop(h->eng);
}

void engine_host_close(engine_host *h)
{
    if (!h) return;
    engine_host_stop(h);
    h->api->destroy(h->eng);
    if (h->dl) dlclose(h->dl);
    free(h->spec);
    free(h);
}
