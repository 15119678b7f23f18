/* server.c — see server.h. The libmicrohttpd daemon, routing, request
 * bodies, authentication, error shapes, housekeeping and shutdown. What
 * happens to a generation request after it is parsed lives in
 * server_exchange.c; the protocols in server_openai.c and server_lmdeploy.c. */
#include "engine/server_int.h"
#include "common/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


void server_config_default(server_config *c)
{
    memset(c, 0, sizeof *c);
    c->api = SERVER_API_VLLM;
    c->host = "127.0.0.1";
    c->model = "sagellm-sim";
    c->stall_ns = 300LL * 1000000000;
    c->max_body = 16u << 20;
    c->threads = 1;
    c->max_connections = 20000;
    c->lmdeploy_minor = 16;
}

int server_api_parse(const char *s, server_api *out)
{
    if (!strcmp(s, "vllm")) *out = SERVER_API_VLLM;
    else if (!strcmp(s, "lmdeploy")) *out = SERVER_API_LMDEPLOY;
    else if (!strcmp(s, "gateway")) *out = SERVER_API_GATEWAY;
    else return -1;
    return 0;
}

const char *server_api_name(server_api a)
{
    return a == SERVER_API_LMDEPLOY ? "lmdeploy" : a == SERVER_API_GATEWAY ? "gateway" : "vllm";
}

enum MHD_Result server_respond(xch *x, int status, const char *ctype, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (x->client_id[0]) MHD_add_response_header(r, "X-Request-Id", x->client_id);
    enum MHD_Result ret = MHD_queue_response(x->st.conn, (unsigned)status, r);
    MHD_destroy_response(r);
    x->status = status;
    x->state = XS_RESPONDED;
    x->handed_pending = 1;                  /* sent once the request completes */
    return ret;
}

/* The error types each profile's real server uses for a status. */
static const char *error_type(const server_config *c, int status)
{
    if (c->api == SERVER_API_VLLM) {
        switch (status) {
        case 401: return "Unauthorized";
        case 404: return "NotFoundError";
        case 413: return "BadRequestError";
        case 500: return "InternalServerError";
        case 503: return "ServiceUnavailableError";
        default: return status >= 500 ? "InternalServerError" : "BadRequestError";
        }
    }
    if (c->api == SERVER_API_LMDEPLOY && c->lmdeploy_minor >= 16) {
        /* lmdeploy/serve/openai/errors.py: type from the status's ErrorCode. */
        if (status == 401) return "authentication_error";
        if (status == 404) return "not_found_error";
        if (status >= 500) return "server_error";
        return "invalid_request_error";
    }
    if (status >= 500) return c->api == SERVER_API_GATEWAY ? "server_error" : "internal_error";
    return "invalid_request_error";
}

void server_error_json(const struct server *s, int status, const char *message,
                       const char *param, strbuf *out)
{
    const char *type = error_type(&s->cfg, status);
    if (s->cfg.api == SERVER_API_LMDEPLOY) {
        /* LMDeploy: a flat ErrorResponse, fields in its declaration order. */
        sb_adds(out, "{\"message\":");
        sb_json_str(out, message, strlen(message));
        sb_printf(out, ",\"type\":\"%s\",\"code\":%d,\"param\":", type, status);
        if (param) sb_json_str(out, param, strlen(param)); else sb_adds(out, "null");
        sb_adds(out, ",\"object\":\"error\"}");
        return;
    }
    /* vLLM and OpenAI: {"error": {...}}; OpenAI's code is a string or null. */
    sb_adds(out, "{\"error\":{\"message\":");
    sb_json_str(out, message, strlen(message));
    sb_printf(out, ",\"type\":\"%s\",\"param\":", type);
    if (param) sb_json_str(out, param, strlen(param)); else sb_adds(out, "null");
    if (s->cfg.api == SERVER_API_VLLM) sb_printf(out, ",\"code\":%d}}", status);
    else if (status == 401) sb_adds(out, ",\"code\":\"invalid_api_key\"}}");
    else if (status == 404 && param && !strcmp(param, "model"))
        sb_adds(out, ",\"code\":\"model_not_found\"}}");
    else sb_adds(out, ",\"code\":null}}");
}

/* LMDeploy's answer to a missing or wrong API key: 0.16's authentication
 * middleware renders RequestError(UNAUTHORIZED); 0.12 raised FastChat's
 * HTTPException, which FastAPI wraps in "detail". */
static void lmdeploy_unauthorized(const struct server *s, strbuf *out)
{
    if (s->cfg.lmdeploy_minor >= 16)
        sb_adds(out, "{\"message\":\"Unauthorized.\",\"type\":\"authentication_error\",\"code\":401,"
                "\"param\":null,\"object\":\"error\"}");
    else
        sb_adds(out, "{\"detail\":{\"error\":{\"message\":\"Please request with valid api key!\","
                "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}}");
}

enum MHD_Result server_respond_error(xch *x, int status, const char *message, const char *param)
{
    strbuf b = {0};
    if (status == 401 && x->srv->cfg.api == SERVER_API_LMDEPLOY) lmdeploy_unauthorized(x->srv, &b);
    else server_error_json(x->srv, status, message, param, &b);
    if (!x->outcome) x->outcome = status >= 500 ? "server_error" : "client_error";
    enum MHD_Result r = server_respond(x, status, "application/json", b.buf, b.len);
    sb_free(&b);
    return r;
}

/* FastAPI's answer to an unknown path or method, which vLLM and LMDeploy
 * return as is; the gateway answers like OpenAI's API. */
static enum MHD_Result respond_route_error(xch *x, int status, const char *method, const char *url)
{
    x->outcome = "client_error";
    if (x->srv->cfg.api == SERVER_API_GATEWAY) {
        char msg[512];
        snprintf(msg, sizeof msg, "Invalid URL (%s %.400s)", method, url);
        return server_respond_error(x, status, msg, NULL);
    }
    const char *b = status == 404 ? "{\"detail\":\"Not Found\"}" : "{\"detail\":\"Method Not Allowed\"}";
    return server_respond(x, status, "application/json", b, strlen(b));
}

typedef struct route { const char *path, *method; endpoint ep; unsigned apis; } route;
#define A_V (1u << SERVER_API_VLLM)
#define A_L (1u << SERVER_API_LMDEPLOY)
#define A_G (1u << SERVER_API_GATEWAY)
static const route routes[] = {
    { "/v1/chat/completions", "POST", EP_CHAT, A_V | A_L | A_G },
    { "/v1/completions", "POST", EP_COMPLETIONS, A_V | A_L | A_G },
    { "/generate", "POST", EP_GENERATE, A_L },
    { "/v1/models", "GET", EP_MODELS, A_V | A_L | A_G },
    { "/health", "GET", EP_HEALTH, A_V | A_L | A_G },
    { "/metrics", "GET", EP_METRICS, A_V | A_L },
};

/* MHD_get_connection_values callback: counts the Content-Length values that
 * differ from the first (libmicrohttpd frames the body by the first one). */
static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind,
                                            const char *key, const char *value)
{
    const char **first = cls;
    if (strcasecmp(key, "Content-Length")) return MHD_YES;
    if (!*first) *first = value ? value : "";
    else if (strcmp(*first, value ? value : "")) first[1] = "conflict";
    return MHD_YES;
}

/* First call for a request (headers received): route, authenticate, and
 * refuse an announced body over the limit before it is sent. */
static enum MHD_Result begin(xch *x, const char *url, const char *method)
{
    struct server *s = x->srv;
    const char *rid = MHD_lookup_connection_value(x->st.conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid) snprintf(x->client_id, sizeof x->client_id, "%s", rid);
    const char *cls[2] = {NULL, NULL};
    MHD_get_connection_values(x->st.conn, MHD_HEADER_KIND, count_content_length, cls);
    if (cls[1]) {
        /* RFC 9112 6.3: unrecoverable framing; answering before the body is
         * read makes libmicrohttpd close the connection, so no byte after it
         * is taken for another request. */
        return server_respond_error(x, 400, "Conflicting Content-Length headers", NULL);
    }
    const route *rt = NULL;
    int path_known = 0;
    const char *full_url = url;
    if (s->cfg.root_path) {
        /* Mounted under a prefix: everything else is unknown. */
        size_t n = strlen(s->cfg.root_path);
        if (strncmp(url, s->cfg.root_path, n) || url[n] != '/')
            return respond_route_error(x, 404, method, full_url);
        url += n;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, url) || !(routes[i].apis & (1u << s->cfg.api))) continue;
        path_known = 1;
        if (!strcmp(routes[i].method, method)) rt = &routes[i];
    }
    if (!rt) return respond_route_error(x, path_known ? 405 : 404, method, full_url);
    x->ep = rt->ep;
    x->path = rt->path;
    if (s->api_key && (x->ep == EP_CHAT || x->ep == EP_COMPLETIONS || x->ep == EP_GENERATE ||
                       x->ep == EP_MODELS)) {
        const char *auth = MHD_lookup_connection_value(x->st.conn, MHD_HEADER_KIND, "Authorization");
        if (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, s->api_key)) {
            x->outcome = "unauthorized";
            if (s->cfg.api == SERVER_API_VLLM) {
                static const char b[] = "{\"error\":\"Unauthorized\"}";
                return server_respond(x, 401, "application/json", b, sizeof b - 1);
            }
            return server_respond_error(x, 401, auth ? "Incorrect API key provided."
                                        : "You didn't provide an API key. You need to provide "
                                          "your API key in an Authorization header using Bearer "
                                          "auth (i.e. Authorization: Bearer YOUR_KEY).", NULL);
        }
    }
    const char *cl = MHD_lookup_connection_value(x->st.conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
        char msg[160];
        snprintf(msg, sizeof msg, "Request body too large: %s bytes (the limit is %zu bytes)",
                 cl, s->cfg.max_body);
        return server_respond_error(x, 413, msg, NULL);
    }
    return MHD_YES;
}

/* The whole request is in: answer it or hand it to the engine. */
/* Parses a request body as one JSON object: valid UTF-8, no NUL byte, nothing
 * but JSON whitespace after the value. Returns the object (caller deletes it)
 * or NULL with a sentence for the 400 in msg. */
static cJSON *parse_body(const char *body, size_t len, char *msg, size_t msglen)
{
    const char *nul = len ? memchr(body, 0, len) : NULL;
    size_t good = utf8_valid_prefix(body, len);
    if (!len) {
        snprintf(msg, msglen, "The request body is empty: expected a JSON object");
        return NULL;
    }
    if (nul) {
        snprintf(msg, msglen, "Invalid JSON in the request body: a NUL byte at byte %zu",
                 (size_t)(nul - body));
        return NULL;
    }
    if (good < len) {
        snprintf(msg, msglen, "The request body is not valid UTF-8 at byte %zu", good);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        snprintf(msg, msglen, "Invalid JSON in the request body near byte %zu",
                 end ? (size_t)(end - body) : 0);
        return NULL;
    }
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end < body + len) {
        snprintf(msg, msglen, "Invalid JSON in the request body: extra data at byte %zu",
                 (size_t)(end - body));
    } else if (!cJSON_IsObject(root)) {
        snprintf(msg, msglen, "The request body must be a JSON object");
    } else {
        return root;
    }
    cJSON_Delete(root);
    return NULL;
}

static enum MHD_Result handle(xch *x)
{
    struct server *s = x->srv;
    x->t_request = now_mono_ns();
    if (x->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "Request body too large (the limit is %zu bytes)", s->cfg.max_body);
        return server_respond_error(x, 413, msg, NULL);
    }
    strbuf b = {0};
    enum MHD_Result ret;
    switch (x->ep) {
    case EP_HEALTH:
        x->outcome = "ok";
        if (s->cfg.api == SERVER_API_LMDEPLOY && s->cfg.lmdeploy_minor >= 16) {
            /* LMDeploy 0.16's health monitor snapshot (TurboMind, the default backend). */
            static const char h[] = "{\"status\":\"healthy\",\"message\":\"TurboMind engine is healthy.\"}";
            return server_respond(x, 200, "application/json", h, sizeof h - 1);
        }
        return server_respond(x, 200, NULL, "", 0);
    case EP_MODELS:
        server_models_json(s, &b);
        x->outcome = "ok";
        ret = server_respond(x, 200, "application/json", b.buf, b.len);
        sb_free(&b);
        return ret;
    case EP_METRICS:
        if (s->cfg.disable_metrics) {          /* no /metrics route: FastAPI's 404 */
            static const char nf[] = "{\"detail\":\"Not Found\"}";
            x->outcome = "client_error";
            return server_respond(x, 404, "application/json", nf, sizeof nf - 1);
        }
        server_metrics_text(s, &b);
        x->outcome = "ok";
        ret = server_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", b.buf, b.len);
        sb_free(&b);
        return ret;
    default:
        break;
    }
    char msg[512] = "";
    cJSON *root = parse_body(x->body.buf, x->body.len, msg, sizeof msg);
    if (!root) return server_respond_error(x, 400, msg, NULL);
    sim_engine_request r = {0};
    strbuf prompt = {0};
    uint32_t *ids = NULL;
    const char *param = NULL;
    int st = x->ep == EP_GENERATE
        ? server_lmdeploy_parse(x, root, &r, &prompt, &ids, msg, sizeof msg, &param)
        : server_openai_parse(x, root, &r, &prompt, &ids, msg, sizeof msg, &param);
    cJSON_Delete(root);
    if (st) {
        ret = server_respond_error(x, st, msg, param);
    } else {
        server_xch_draw_fault(x);
        if (x->fault == FAULT_FAIL) {
            x->outcome = "fail";
            ret = server_respond_error(x, 500, "Simulated server error (fault injection: --fail-rate)", NULL);
        } else {
            ret = server_xch_start(x, &r);
        }
    }
    sb_free(&prompt);
    free(ids);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload, size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    xch *x = *con_cls;
    if (!x) {
        x = server_xch_new(s, c);
        *con_cls = x;
        return begin(x, url, method);
    }
    if (*upload_size) {
        if (x->state == XS_NEW) {
            if (x->body.len + *upload_size > s->cfg.max_body) x->too_large = 1;
            else sb_add(&x->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->state == XS_WAITING) return server_xch_resumed(x);
    if (x->state == XS_RESPONDED) return MHD_YES;
    return handle(x);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    xch *x = *con_cls;
    if (!x) return;
    *con_cls = NULL;
    server_xch_completed(x, toe);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                   char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc || !res) {
        errf(err, errlen, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return ERR_USAGE;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int server_config_check_faults(const server_config *c, char *err, size_t errlen)
{
    double sum = c->fail_rate + c->reset_rate + c->stall_rate + c->error_in_stream_rate +
                 c->abort_rate;
    if (sum <= 1.0 + 1e-12) return 0;
    errf(err, errlen, "the fault rates add up to %g; each request gets at most one fault, "
         "so their sum must be at most 1", sum);
    return ERR_USAGE;
}

server *server_new(const server_config *cfg, sim_engine *engine, char *err, size_t errlen)
{
    if (server_config_check_faults(cfg, err, errlen)) return NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve(cfg->host, cfg->port, &ss, &sslen, err, errlen)) return NULL;

    struct server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->host = xstrdup(cfg->host);
    s->model = xstrdup(cfg->model);
    s->api_key = cfg->api_key ? xstrdup(cfg->api_key) : NULL;
    s->cfg.host = s->host;
    s->cfg.model = s->model;
    s->cfg.api_key = s->api_key;
    s->engine = engine;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->drained, &ca);
    pthread_condattr_destroy(&ca);
    s->metrics = server_metrics_new();
    strbuf mj = {0};
    sb_json_str(&mj, s->model, strlen(s->model));
    snprintf(s->model_json, sizeof s->model_json, "%s", mj.buf);
    sb_free(&mj);

    if (cfg->ground_truth) {
        char *ecfg = engine_config_to_json(sim_engine_config(engine));
        strbuf h = {0};
        sb_printf(&h, "\"version\":\"%s\",\"api\":\"%s\",\"model\":%s,\"seed\":%llu,"
                  "\"faults\":{\"fail_rate\":%.17g,\"reset_rate\":%.17g,\"stall_rate\":%.17g,"
                  "\"error_in_stream_rate\":%.17g,\"abort_rate\":%.17g,\"stall_ns\":%lld},"
                  "\"reasoning\":%.17g,%s\"engine\":%s",
                  SAGELLM_VERSION, server_api_name(cfg->api), s->model_json,
                  (unsigned long long)cfg->seed, cfg->fail_rate, cfg->reset_rate,
                  cfg->stall_rate, cfg->error_in_stream_rate, cfg->abort_rate,
                  (long long)cfg->stall_ns, cfg->reasoning,
                  cfg->api != SERVER_API_LMDEPLOY ? ""
                  : cfg->lmdeploy_minor >= 16 ? "\"lmdeploy_version\":\"0.16\","
                                              : "\"lmdeploy_version\":\"0.12\",", ecfg);
        free(ecfg);
        s->gt = ground_truth_open(cfg->ground_truth, h.buf, err, errlen);
        sb_free(&h);
        if (!s->gt) {
            server_free(s);
            return NULL;
        }
    }
    if (sim_engine_start(engine, err, errlen)) {
        server_free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem ops[] = {
        { MHD_OPTION_SOCK_ADDR, 0, &ss },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL },
        { MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL },
        { MHD_OPTION_THREAD_POOL_SIZE, cfg->threads > 1 ? cfg->threads : 0, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    if (cfg->threads <= 1) ops[4].option = MHD_OPTION_END;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                            MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->d) {
        errf(err, errlen, "cannot listen on %s port %d (address in use, or not a local "
             "address?)", cfg->host, cfg->port);
        s->shut = 1;
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    if (strchr(cfg->host, ':'))
        snprintf(s->url, sizeof s->url, "http://[%s]:%d%s", cfg->host, s->port,
                 cfg->root_path ? cfg->root_path : "");
    else
        snprintf(s->url, sizeof s->url, "http://%s:%d%s", cfg->host, s->port,
                 cfg->root_path ? cfg->root_path : "");
    return s;
}

int server_port(const server *s) { return s->port; }

const char *server_url(const server *s) { return s->url; }
uint64_t server_requests(const server *s) { return atomic_load(&((server *)s)->nrequests); }

void server_tick(server *s)
{
    int64_t now = now_mono_ns();
    pthread_mutex_lock(&s->mu);
    for (xch *x = s->live.first; x; x = x->live.next) {
        pthread_mutex_lock(&x->mu);
        int due = x->stalled && !x->kill && x->stall_deadline <= now;
        pthread_mutex_unlock(&x->mu);
        if (due) server_xch_kill(x);
    }
    pthread_mutex_unlock(&s->mu);
}

int server_shutdown(server *s, char *err, size_t errlen)
{
    if (s->shut) return 0;
    s->shut = 1;
    if (s->d) {
        MHD_socket ls = MHD_quiesce_daemon(s->d);
        if (ls != MHD_INVALID_SOCKET) close(ls);
    }
    sim_engine_stop(s->engine);
    /* Every open response ends now; then wait (bounded) for the HTTP thread
     * to close them, so no connection is left suspended when it stops. */
    pthread_mutex_lock(&s->mu);
    for (xch *x = s->live.first; x; x = x->live.next) server_xch_kill(x);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 3;
    while (s->nlive && pthread_cond_timedwait(&s->drained, &s->mu, &until) != ETIMEDOUT) {}
    pthread_mutex_unlock(&s->mu);
    if (s->d) MHD_stop_daemon(s->d);
    s->d = NULL;
    int rc = ground_truth_close(s->gt, err, errlen);
    s->gt = NULL;
    return rc;
}

void server_free(server *s)
{
    if (!s) return;
    if (!s->shut) server_shutdown(s, NULL, 0);
    ground_truth_close(s->gt, NULL, 0);
    server_metrics_free(s->metrics);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->drained);
    free(s->host);
    free(s->model);
    free(s->api_key);
    free(s->sessions);
    free(s);
}
