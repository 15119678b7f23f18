/* server_probe.c — small blocking HTTP calls the replay makes around the
 * run: readiness (GET /health), model discovery (GET /v1/models), and the
 * /metrics scraper thread that samples the server's Prometheus metrics into
 * DIR/server_metrics.jsonl. */
#include "replay/server_probe.h"
#include "common/jsonw.h"
#include "common/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    strbuf *b = ud;
    if (b->len < (8u << 20)) sb_add(b, p, s * n);
    return s * n;
}

int probe_get(const client_opts *co, int root, const char *path, long timeout_ms, strbuf *body,
              long *status, char *protocol, char *err, size_t errlen)
{
    CURL *e = curl_easy_init();
    strbuf url = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    sb_printf(&url, "%s%s", root ? co->root_url : co->api_url, path);
    struct curl_slist *h = NULL;
    if (co->api_key && *co->api_key) {
        strbuf a = {0};
        sb_printf(&a, "Authorization: Bearer %s", co->api_key);
        h = curl_slist_append(h, a.buf);
        sb_free(&a);
    }
    for (const char *const *p = co->headers; p && *p; p++) h = curl_slist_append(h, *p);
    curl_easy_setopt(e, CURLOPT_URL, url.buf);
    http_opts_apply(e, &co->http, url.buf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        if (protocol) snprintf(protocol, PROBE_PROTOCOL_LEN, "%s", http_opts_protocol(e));
    } else {
        errf(err, errlen, "GET %s: %s", url.buf, cerr[0] ? cerr : curl_easy_strerror(rc));
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    sb_free(&url);
    return rc == CURLE_OK ? 0 : ERR_SYSTEM;
}

int probe_wait_ready(const client_opts *co, int64_t max_ms, char *err, size_t errlen)
{
    int64_t deadline = now_mono_ns() + max_ms * 1000000LL;
    char last[512] = "";
    for (;;) {
        strbuf b = {0};
        long st;
        int rc = probe_get(co, 1, "/health", 2000, &b, &st, NULL, last, sizeof last);
        sb_free(&b);
        if (rc == 0 && st == 200) return 0;
        if (rc == 0) snprintf(last, sizeof last, "GET %s/health answered %ld", co->root_url, st);
        if (now_mono_ns() >= deadline) {
            errf(err, errlen, "the server was not ready after %lld ms (%s)", (long long)max_ms, last);
            return ERR_SYSTEM;
        }
        struct timespec ts = { 0, 200000000L }; /* poll every 200 ms */
        nanosleep(&ts, NULL);
    }
}

/* A short message from an error body: the "message" of {"error": {...}},
 * a flat {"message": ...} or {"detail": ...}, else the first bytes. */
static void body_message(const strbuf *b, char *out, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(b->buf ? b->buf : "", b->len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(doc, "message");
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(doc, "detail");
    if (cJSON_IsString(m)) snprintf(out, len, "%s", m->valuestring);
    else if (b->len) snprintf(out, len, "%.*s", (int)(b->len < 160 ? b->len : 160), b->buf);
    else snprintf(out, len, "(empty body)");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    cJSON_Delete(doc);
}

int probe_server(const client_opts *co, probe_report *pr, char *err, size_t errlen)
{
    strbuf b = {0};
    long st;
    char msg[300];
    memset(pr, 0, sizeof *pr);
    int rc = probe_get(co, 0, "/models", 10000, &b, &st, pr->protocol, err, errlen);
    if (rc) {
        char why[600];
        snprintf(why, sizeof why, "%s", err);
        errf(err, errlen, "cannot reach the server: %s", why);
        sb_free(&b);
        return ERR_USAGE;
    }
    pr->status = st;
    body_message(&b, msg, sizeof msg);
    if (st == 401 || st == 403) {
        errf(err, errlen, "the server refused us: GET %s/models answered %ld: %s (check --api-key, "
             "$OPENAI_API_KEY or --header)", co->api_url, st, msg);
        rc = ERR_USAGE;
    } else if (st == 404 && !co->model) {
        errf(err, errlen, "GET %s/models answered 404: no OpenAI API under this base URL (check "
             "--url: give the server's base URL with or without /v1, e.g. http://host:8000/v1; "
             "or name the model with --model if the server has no /v1/models)", co->api_url);
        rc = ERR_USAGE;
    } else if (st == 200) {
        cJSON *doc = cJSON_ParseWithLength(b.buf ? b.buf : "", b.len);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "data"), 0), "id");
        if (cJSON_IsString(id)) pr->model = xstrdup(id->valuestring);
        snprintf(pr->note, sizeof pr->note, "GET /models: %s",
                 pr->model ? pr->model : "answered 200 without a model id");
        cJSON_Delete(doc);
    } else {
        snprintf(pr->note, sizeof pr->note, "GET /models answered %ld: %s", st, msg);
    }
    sb_free(&b);
    return rc;
}

int probe_is_refusal(int status)
{
    return status == 401 || status == 403 || status == 404;
}

/* ---- /metrics scraper ---- */

struct scraper {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    const client_opts *co;
    int64_t interval_ns, t0;
    FILE *f;
    uint64_t samples, failures;
    char err[512];
};

/* Turns Prometheus text into {"name{labels}": value}; histogram buckets are
 * left out (their _sum and _count stay). */
static cJSON *parse_prom(const char *text)
{
    cJSON *m = cJSON_CreateObject();
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[0] != '#') {
            /* "name{labels} value [timestamp]": the value follows the
             * closing brace, or the first space when there are no labels. */
            const char *brace = memchr(p, '}', len);
            const char *vstart = brace ? brace + 1 : memchr(p, ' ', len);
            if (vstart) {
                while (*vstart == ' ') vstart++;
                const char *name_end = brace ? brace + 1 : vstart - 1;
                while (name_end > p && name_end[-1] == ' ') name_end--;
                char *endv;
                double v = strtod(vstart, &endv);
                size_t nlen = (size_t)(name_end - p);
                int bucket = nlen > 7 && memmem(p, nlen, "_bucket", 7);
                if (endv != vstart && !bucket && nlen < 512 && isfinite(v)) {
                    char key[512];
                    memcpy(key, p, nlen);
                    key[nlen] = '\0';
                    cJSON_AddNumberToObject(m, key, v);
                }
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return m;
}

/* 1 when key (a parse_prom name, "name{labels}") is a gauge named
 * *suffix, whatever its prefix and labels. */
static int prom_name_is(const char *key, const char *suffix)
{
    const char *brace = strchr(key, '{');
    size_t n = brace ? (size_t)(brace - key) : strlen(key), k = strlen(suffix);
    return n >= k && !memcmp(key + n - k, suffix, k) && (n == k || key[n - k - 1] == ':' || key[n - k - 1] == '_');
}

int probe_server_load(const client_opts *co, double *running, double *waiting, char *err, size_t errlen)
{
    strbuf b = {0};
    long st = 0;
    if (probe_get(co, 1, "/metrics", 2000, &b, &st, NULL, err, errlen) || st != 200) {
        if (st && st != 200) errf(err, errlen, "GET /metrics answered HTTP %ld", st);
        sb_free(&b);
        return ERR_SYSTEM;
    }
    cJSON *m = parse_prom(b.buf ? b.buf : "");
    sb_free(&b);
    int found = 0;
    *running = *waiting = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        if (prom_name_is(e->string, "num_requests_running")) *running += e->valuedouble, found = 1;
        else if (prom_name_is(e->string, "num_requests_waiting")) *waiting += e->valuedouble, found = 1;
    }
    cJSON_Delete(m);
    if (!found) {
        errf(err, errlen, "GET /metrics has no num_requests_running or num_requests_waiting gauge");
        return ERR_INPUT;
    }
    return 0;
}

static void *scrape_main(void *arg)
{
    scraper *s = arg;
    int64_t next = now_mono_ns();
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        strbuf b = {0};
        long st;
        char err[512];
        int64_t t = now_mono_ns();
        if (probe_get(s->co, 1, "/metrics", 2000, &b, &st, NULL, err, sizeof err) == 0 && st == 200) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "t_ns", (double)(t - s->t0));
            cJSON_AddItemToObject(o, "metrics", parse_prom(b.buf ? b.buf : ""));
            char *line = jsonw_print(o, 0);
            fprintf(s->f, "%s\n", line);
            fflush(s->f);
            cJSON_free(line);
            cJSON_Delete(o);
            s->samples++;
        } else {
            s->failures++;
            if (!s->err[0]) snprintf(s->err, sizeof s->err, "%s", st ? "non-200 answer" : err);
        }
        sb_free(&b);
        next += s->interval_ns;
        struct timespec ts = { next / 1000000000LL, next % 1000000000LL };
        pthread_mutex_lock(&s->mu);
        while (!s->stop) {
            /* Condition variables use CLOCK_REALTIME by default; convert. */
            int64_t wait = next - now_mono_ns();
            if (wait <= 0) break;
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            int64_t abs = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec + wait;
            ts.tv_sec = abs / 1000000000LL;
            ts.tv_nsec = abs % 1000000000LL;
            if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

scraper *scrape_start(const client_opts *co, const char *path, int64_t interval_ms, int64_t t0,
                      char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        errf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    scraper *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->co = co;
    s->f = f;
    s->interval_ns = interval_ms * 1000000LL;
    s->t0 = t0;
    if (pthread_create(&s->th, NULL, scrape_main, s)) {
        errf(err, errlen, "cannot start the metrics scraper thread");
        fclose(f);
        free(s);
        return NULL;
    }
    pthread_setname_np(s->th, "replay-metrics");
    return s;
}

void scrape_stop(scraper *s, uint64_t *samples, uint64_t *failures)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    if (samples) *samples = s->samples;
    if (failures) *failures = s->failures;
    if (s->failures && s->err[0]) msg_warn("metrics scraper: %llu failed samples (first: %s)",
                                           (unsigned long long)s->failures, s->err);
    fclose(s->f);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
