/* server_metrics.c — GET /metrics in Prometheus text format with vLLM's
 * (vllm:...) or LMDeploy's (lmdeploy:...) names and buckets, and
 * GET /v1/models. Gauges and token counters come from the engine's
 * statistics; latency histograms are recorded when requests finish. */
#include "engine/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* vLLM's and LMDeploy's bucket boundaries (seconds). */
static const double ttft_b[] = { 0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
                                 640.0, 2560.0 };
static const double lat_b[] = { 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                                40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0 };
#define NB(a) ((int)(sizeof a / sizeof a[0]))
#define MAXB 24

typedef struct hist {
    const char *name, *help;
    const double *b;
    int nb;
    uint64_t cnt[MAXB];          /* per bucket (not cumulative) */
    uint64_t n;
    double sum;
} hist;

enum { H_TTFT, H_E2E, H_QUEUE, H_PREFILL, H_DECODE, NHIST };

struct server_metrics {
    pthread_mutex_t mu;
    hist h[NHIST];
    uint64_t finished[3];        /* stop, length, abort */
};

server_metrics *server_metrics_new(void)
{
    server_metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->h[H_TTFT] = (hist){ "time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft_b, NB(ttft_b), {0}, 0, 0 };
    m->h[H_E2E] = (hist){ "e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", lat_b, NB(lat_b), {0}, 0, 0 };
    m->h[H_QUEUE] = (hist){ "request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", lat_b, NB(lat_b), {0}, 0, 0 };
    m->h[H_PREFILL] = (hist){ "request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", lat_b, NB(lat_b), {0}, 0, 0 };
    m->h[H_DECODE] = (hist){ "request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", lat_b, NB(lat_b), {0}, 0, 0 };
    return m;
}

void server_metrics_free(server_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(hist *h, double v)
{
    int i = 0;
    while (i < h->nb && v > h->b[i]) i++;
    h->cnt[i]++;                 /* i == nb: only +Inf */
    h->n++;
    h->sum += v;
}

void server_metrics_request(server_metrics *m, const xch *x, const sim_engine_result *r)
{
    int k = !strcmp(r->finish_reason, "stop") ? 0 : !strcmp(r->finish_reason, "length") ? 1 : 2;
    pthread_mutex_lock(&m->mu);
    m->finished[k]++;
    if (k < 2 && r->t_first_token_ns) {
        observe(&m->h[H_TTFT], (double)(r->t_first_token_ns - x->t_arrival) / 1e9);
        observe(&m->h[H_E2E], (double)(r->t_finished_ns - x->t_arrival) / 1e9);
        observe(&m->h[H_QUEUE], (double)r->queue_ns / 1e9);
        observe(&m->h[H_PREFILL], (double)r->prefill_ns / 1e9);
        observe(&m->h[H_DECODE], (double)r->decode_ns / 1e9);
    }
    pthread_mutex_unlock(&m->mu);
}

static void metric(strbuf *o, const char *pre, const char *name, const char *type,
                   const char *help, const char *labels, double v)
{
    sb_printf(o, "# HELP %s:%s %s\n# TYPE %s:%s %s\n%s:%s{%s} %.17g\n",
              pre, name, help, pre, name, type, pre, name, labels, v);
}

void server_metrics_text(struct server *s, strbuf *o)
{
    const char *pre = s->cfg.api == SERVER_API_LMDEPLOY ? "lmdeploy" : "vllm";
    char labels[400];
    strbuf esc = {0};
    for (const char *p = s->model; *p; p++) {
        if (*p == '\\' || *p == '"') sb_addc(&esc, '\\');
        if (*p == '\n') sb_adds(&esc, "\\n"); else sb_addc(&esc, *p);
    }
    snprintf(labels, sizeof labels, "model_name=\"%s\",engine=\"0\"", esc.buf ? esc.buf : "");
    sb_free(&esc);
    sim_engine_stats st;
    sim_engine_get_stats(s->engine, &st);
    int lm = s->cfg.api == SERVER_API_LMDEPLOY;
    metric(o, pre, "num_requests_running", "gauge",
           "Number of requests in model execution batches.", labels, (double)st.running);
    metric(o, pre, "num_requests_waiting", "gauge",
           "Number of requests waiting to be processed.", labels, (double)st.waiting);
    metric(o, pre, lm ? "gpu_cache_usage_perc" : "kv_cache_usage_perc", "gauge",
           "KV-cache usage. 1 means 100 percent usage.", labels,
           st.kv_tokens ? (double)st.kv_used_tokens / (double)st.kv_tokens : 0.0);
    metric(o, pre, "prompt_tokens_total", "counter", "Number of prefill tokens processed.",
           labels, (double)st.prompt_tokens_total);
    metric(o, pre, "generation_tokens_total", "counter", "Number of generation tokens processed.",
           labels, (double)st.generation_tokens_total);
    if (!lm) {
        metric(o, pre, "prefix_cache_queries_total", "counter",
               "Prefix cache queries, in terms of number of queried tokens.", labels,
               (double)st.prefix_queries_tokens);
        metric(o, pre, "prefix_cache_hits_total", "counter",
               "Prefix cache hits, in terms of number of cached tokens.", labels,
               (double)st.prefix_hit_tokens);
        metric(o, pre, "num_preemptions_total", "counter",
               "Cumulative number of preemption from the engine.", labels, (double)st.preemptions);
    }
    server_metrics *m = s->metrics;
    pthread_mutex_lock(&m->mu);
    static const char *const reasons[] = { "stop", "length", "abort" };
    sb_printf(o, "# HELP %s:request_success_total Count of successfully processed requests.\n"
              "# TYPE %s:request_success_total counter\n", pre, pre);
    for (int i = 0; i < 3; i++)
        sb_printf(o, "%s:request_success_total{%s,finished_reason=\"%s\"} %llu\n", pre, labels,
                  reasons[i], (unsigned long long)m->finished[i]);
    for (int k = 0; k < NHIST; k++) {
        const hist *h = &m->h[k];
        sb_printf(o, "# HELP %s:%s %s\n# TYPE %s:%s histogram\n", pre, h->name, h->help, pre, h->name);
        uint64_t cum = 0;
        for (int i = 0; i < h->nb; i++) {
            cum += h->cnt[i];
            sb_printf(o, "%s:%s_bucket{%s,le=\"%g\"} %llu\n", pre, h->name, labels, h->b[i],
                      (unsigned long long)cum);
        }
        sb_printf(o, "%s:%s_bucket{%s,le=\"+Inf\"} %llu\n%s:%s_sum{%s} %.17g\n"
                  "%s:%s_count{%s} %llu\n", pre, h->name, labels, (unsigned long long)h->n,
                  pre, h->name, labels, h->sum, pre, h->name, labels, (unsigned long long)h->n);
    }
    pthread_mutex_unlock(&m->mu);
}

void server_models_json(struct server *s, strbuf *o)
{
    long long created = (long long)time(NULL);
    sb_printf(o, "{\"object\":\"list\",\"data\":[{\"id\":%s,\"object\":\"model\",\"created\":%lld,",
              s->model_json, created);
    switch (s->cfg.api) {
    case SERVER_API_VLLM:
        sb_printf(o, "\"owned_by\":\"vllm\",\"root\":%s,\"parent\":null,\"max_model_len\":%lld,"
                  "\"permission\":[]}]}", s->model_json,
                  (long long)sim_engine_config(s->engine)->max_model_len);
        break;
    case SERVER_API_LMDEPLOY:
        sb_printf(o, "\"owned_by\":\"lmdeploy\",\"root\":%s,\"parent\":null,\"permission\":[]}]}",
                  s->model_json);
        break;
    default:
        sb_adds(o, "\"owned_by\":\"system\"}]}");
    }
}
