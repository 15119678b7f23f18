/* cmd_serve.c — `sagellm-bench serve`: the built-in simulated LLM server.
 * Parses options into an engine_config and a server_config, runs until
 * SIGINT or SIGTERM, then shuts down cleanly (ground truth flushed). */
#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/parse.h"
#include "engine/engine_config.h"
#include "engine/server.h"
#include "engine/sim_engine.h"

static const char usage[] =
    "sagellm-bench serve [--api vllm|lmdeploy|gateway] [--host ADDR] [--port N] [options]";

static const char help[] =
    "Runs a simulated continuous-batching LLM engine behind an HTTP server that speaks\n"
    "the vLLM, LMDeploy or OpenAI API. Runs until SIGINT/SIGTERM. See docs/server.md.\n"
    "\n"
    "server:\n"
    "  --api NAME              vllm (default), lmdeploy or gateway (OpenAI protocol only)\n"
    "  --host ADDR             address to bind (default 127.0.0.1)\n"
    "  --port N                port; 0 (default) picks a free one. The chosen URL is printed\n"
    "                          on stdout as 'listening on http://HOST:PORT'\n"
    "  --port-file FILE        also write the port number to FILE once listening\n"
    "  --root-path PREFIX      serve every endpoint under PREFIX (e.g. /openai: a gateway's\n"
    "                          path-based mount; /openai/v1/chat/completions, /openai/health)\n"
    "  --model NAME            served model name (default sagellm-sim)\n"
    "  --api-key KEY           require 'Authorization: Bearer KEY' (401 otherwise)\n"
    "  --ground-truth FILE     write one JSON line per request with the server's timestamps\n"
    "  --seed N                seeds output lengths, words and faults (default 0)\n"
    "  --max-body-size BYTES   larger request bodies get 413 (default 16777216)\n"
    "  --threads N             HTTP threads (default 1)\n"
    "  --max-connections N     concurrent connections at most (default 20000)\n"
    "  --lmdeploy-version V    LMDeploy release to imitate with --api lmdeploy: 0.16 (default)\n"
    "                          or 0.12 (health body, session conflicts, error types)\n"
    "  --disable-metrics       no GET /metrics (LMDeploy's option; vLLM always serves it)\n"
    "  --reasoning F           act as a server with a reasoning parser: chat outputs start\n"
    "                          with reasoning, F (0..1) of their expected length\n"
    "\n"
    "engine (durations take ns/us/ms/s suffixes; a bare number is seconds):\n"
    "  --preset NAME           gpu-7b (default), tiny-cpu, gpu-70b or fast; --list-presets\n"
    "  --engine-config JSON    parameters as a JSON object, or @FILE holding one\n"
    "  --max-batch N           running sequences at most\n"
    "  --kv-tokens N           KV-cache capacity in tokens\n"
    "  --max-batched-tokens N  prefill tokens per step (chunked prefill; 0 = unlimited)\n"
    "  --max-model-len N       prompt + output tokens at most\n"
    "  --step-time DUR         fixed cost of every step\n"
    "  --per-seq-time DUR      cost per running sequence in a step\n"
    "  --prefill-per-token DUR cost per uncached prompt token\n"
    "  --block-size N          prefix-cache block size in tokens\n"
    "  --cache-blocks N        prefix-cache capacity in blocks (0 = off, -1 = all of the KV cache)\n"
    "  --eos-mean N            mean output length when EOS decides (0 = never EOS)\n"
    "  --tokens-per-event N    tokens per decode step and streamed event\n"
    "  --default-max-tokens N  max_tokens when a request gives none (0 = fill the context)\n"
    "  --realtime              run the engine thread SCHED_FIFO for exact pacing (needs\n"
    "                          CAP_SYS_NICE; exit 4 when refused)\n"
    "\n"
    "fault injection (seeded; each request gets at most one fault):\n"
    "  --fail-rate P           answer HTTP 500\n"
    "  --reset-rate P          close the connection mid-stream\n"
    "  --stall-rate P          stop sending mid-stream\n"
    "  --error-in-stream-rate P  send an error object inside the stream\n"
    "  --abort-rate P          end the output early with finish_reason \"abort\" (vllm, lmdeploy)\n"
    "  --stall-time DUR        how long a stalled response stays open (default 300s)\n"
    "\n"
    "exit status: 0 after SIGINT/SIGTERM, 2 bad usage, 3 bad --engine-config file,\n"
    "4 cannot listen or write the ground truth.\n";

enum {
    O_API = 256, O_HOST, O_PORT, O_PORT_FILE, O_MODEL, O_API_KEY, O_GT, O_SEED, O_MAX_BODY,
    O_THREADS, O_MAX_CONN, O_PRESET, O_ENGINE_CONFIG, O_LIST_PRESETS, O_FAIL, O_RESET, O_STALL,
    O_ERRSTREAM, O_STALL_TIME, O_REALTIME, O_ENGINE_KEY, O_HELP, O_LMD_VERSION, O_NO_METRICS,
    O_REASONING, O_ABORT, O_ROOT_PATH,
};

/* Engine options map onto engine_config keys (engine_config_set). */
static const struct { const char *opt, *key; } engine_opts[] = {
    { "max-batch", "max_batch" }, { "kv-tokens", "kv_tokens" },
    { "max-batched-tokens", "max_batched_tokens" }, { "max-model-len", "max_model_len" },
    { "step-time", "step_fixed" }, { "per-seq-time", "step_per_seq" },
    { "prefill-per-token", "prefill_per_token" }, { "block-size", "block_size" },
    { "cache-blocks", "cache_blocks" }, { "eos-mean", "eos_mean" },
    { "tokens-per-event", "tokens_per_event" }, { "default-max-tokens", "default_max_tokens" },
};
#define NENGINE (sizeof engine_opts / sizeof engine_opts[0])

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) || rename(tmp, path)) return -1;
    return 0;
}

/* What the command line asked for. */
typedef struct serve_args {
    server_config sc;
    const char *preset, *engine_json, *port_file;
    const char *ekeys[64], *evals[64];   /* engine options, in the order given */
    size_t nkv;
    uint64_t seed;
    int realtime;
} serve_args;

/* A parse step's "go on" (any other value is the command's exit status). */
#define GO_ON (-1)

static const struct option base_opts[] = {
    { "api", required_argument, NULL, O_API }, { "host", required_argument, NULL, O_HOST },
    { "port", required_argument, NULL, O_PORT },
    { "port-file", required_argument, NULL, O_PORT_FILE },
    { "root-path", required_argument, NULL, O_ROOT_PATH },
    { "model", required_argument, NULL, O_MODEL },
    { "api-key", required_argument, NULL, O_API_KEY },
    { "ground-truth", required_argument, NULL, O_GT }, { "seed", required_argument, NULL, O_SEED },
    { "max-body-size", required_argument, NULL, O_MAX_BODY },
    { "threads", required_argument, NULL, O_THREADS },
    { "max-connections", required_argument, NULL, O_MAX_CONN },
    { "preset", required_argument, NULL, O_PRESET },
    { "engine-config", required_argument, NULL, O_ENGINE_CONFIG },
    { "list-presets", no_argument, NULL, O_LIST_PRESETS },
    { "fail-rate", required_argument, NULL, O_FAIL },
    { "reset-rate", required_argument, NULL, O_RESET },
    { "stall-rate", required_argument, NULL, O_STALL },
    { "error-in-stream-rate", required_argument, NULL, O_ERRSTREAM },
    { "stall-time", required_argument, NULL, O_STALL_TIME },
    { "realtime", no_argument, NULL, O_REALTIME },
    { "lmdeploy-version", required_argument, NULL, O_LMD_VERSION },
    { "disable-metrics", no_argument, NULL, O_NO_METRICS },
    { "reasoning", required_argument, NULL, O_REASONING },
    { "abort-rate", required_argument, NULL, O_ABORT },
    { "help", no_argument, NULL, O_HELP },
};
#define NBASE (sizeof base_opts / sizeof base_opts[0])

/* The fault rates and --reasoning: a fraction between 0 and 1. */
static int set_fraction(server_config *sc, int c, const char *arg)
{
    double d;
    if (parse_prob(arg, &d))
        return cli_usage_error("serve", usage, "--%s: expected a %s between 0 and 1, got '%s'",
                               c == O_FAIL ? "fail-rate" : c == O_RESET ? "reset-rate"
                               : c == O_STALL ? "stall-rate" : c == O_ABORT ? "abort-rate"
                               : c == O_REASONING ? "reasoning" : "error-in-stream-rate",
                               c == O_REASONING ? "fraction" : "probability", arg);
    if (c == O_FAIL) sc->fail_rate = d;
    else if (c == O_RESET) sc->reset_rate = d;
    else if (c == O_STALL) sc->stall_rate = d;
    else if (c == O_ABORT) sc->abort_rate = d;
    else if (c == O_REASONING) sc->reasoning = d;
    else sc->error_in_stream_rate = d;
    return GO_ON;
}

/* The options with a number or a name to check. */
static int set_checked(server_config *sc, int c, const char *arg)
{
    int64_t v;
    uint64_t u;
    switch (c) {
    case O_API:
        if (server_api_parse(arg, &sc->api))
            return cli_usage_error("serve", usage, "--api: expected vllm, lmdeploy or gateway, got '%s'", arg);
        break;
    case O_PORT:
        if (parse_i64(arg, &v) || v < 0 || v > 65535)
            return cli_usage_error("serve", usage, "--port: expected 0..65535, got '%s'", arg);
        sc->port = (int)v;
        break;
    case O_ROOT_PATH:
        if (arg[0] != '/' || strlen(arg) < 2 || strlen(arg) > 64 || arg[strlen(arg) - 1] == '/')
            return cli_usage_error("serve", usage, "--root-path needs a path such as /openai, got '%s'", arg);
        sc->root_path = arg;
        break;
    case O_MODEL:
        if (!*arg) return cli_usage_error("serve", usage, "--model: the name is empty");
        sc->model = arg;
        break;
    case O_MAX_BODY:
        if (parse_u64(arg, &u) || u == 0)
            return cli_usage_error("serve", usage, "--max-body-size: expected a positive number of bytes, got '%s'", arg);
        sc->max_body = (size_t)u;
        break;
    case O_THREADS:
        if (parse_i64(arg, &v) || v < 1 || v > 256)
            return cli_usage_error("serve", usage, "--threads: expected 1..256, got '%s'", arg);
        sc->threads = (int)v;
        break;
    case O_MAX_CONN:
        if (parse_i64(arg, &v) || v < 1 || v > 1000000)
            return cli_usage_error("serve", usage, "--max-connections: expected 1..1000000, got '%s'", arg);
        sc->max_connections = (unsigned)v;
        break;
    case O_LMD_VERSION:
        if (!strcmp(arg, "0.16") || !strncmp(arg, "0.16.", 5)) sc->lmdeploy_minor = 16;
        else if (!strcmp(arg, "0.12") || !strncmp(arg, "0.12.", 5)) sc->lmdeploy_minor = 12;
        else return cli_usage_error("serve", usage, "--lmdeploy-version: expected 0.16 or 0.12, got '%s'", arg);
        break;
    case O_STALL_TIME:
        if (engine_config_parse_ns(arg, &v))
            return cli_usage_error("serve", usage, "--stall-time: expected a duration such as 30s, got '%s'", arg);
        sc->stall_ns = v;
        break;
    }
    return GO_ON;
}

/* One option c (its argument in optarg). */
static int parse_option(serve_args *a, int c, char **argv, const struct option *longopts)
{
    switch (c) {
    case 'h':
    case O_HELP: return cli_print_help("serve", usage, help);
    case O_HOST: a->sc.host = optarg; break;
    case O_PORT_FILE: a->port_file = optarg; break;
    case O_API_KEY: a->sc.api_key = optarg; break;
    case O_GT: a->sc.ground_truth = optarg; break;
    case O_SEED:
        if (parse_u64(optarg, &a->seed))
            return cli_usage_error("serve", usage, "--seed: expected an unsigned integer, got '%s'", optarg);
        break;
    case O_PRESET: a->preset = optarg; break;
    case O_REALTIME: a->realtime = 1; break;
    case O_ENGINE_CONFIG: a->engine_json = optarg; break;
    case O_NO_METRICS: a->sc.disable_metrics = 1; break;
    case O_LIST_PRESETS:
        for (const char *const *n = engine_config_preset_names(); *n; n++)
            printf("%-9s %s\n", *n, engine_config_preset_summary(*n));
        return EXIT_OK;
    case O_FAIL: case O_RESET: case O_STALL: case O_ERRSTREAM: case O_ABORT: case O_REASONING:
        return set_fraction(&a->sc, c, optarg);
    case O_API: case O_PORT: case O_ROOT_PATH: case O_MODEL: case O_MAX_BODY: case O_THREADS:
    case O_MAX_CONN: case O_LMD_VERSION: case O_STALL_TIME:
        return set_checked(&a->sc, c, optarg);
    case ':':
    case '?':
        return cli_getopt_error("serve", usage, c, argv, longopts);
    default:
        if (c >= O_ENGINE_KEY + 100 && c < O_ENGINE_KEY + 100 + (int)NENGINE) {
            if (a->nkv == sizeof a->ekeys / sizeof a->ekeys[0])
                return cli_usage_error("serve", usage, "too many engine options (64 at most)");
            a->ekeys[a->nkv] = engine_opts[c - O_ENGINE_KEY - 100].key;
            a->evals[a->nkv++] = optarg;
        }
        break;
    }
    return GO_ON;
}

/* Parses the command line into a. Returns GO_ON, or the exit status. */
static int parse_args(int argc, char **argv, serve_args *a)
{
    struct option longopts[NBASE + NENGINE + 1];
    memcpy(longopts, base_opts, sizeof base_opts);
    size_t nl = NBASE;
    for (size_t i = 0; i < NENGINE; i++)
        longopts[nl++] = (struct option){ engine_opts[i].opt, required_argument, NULL,
                                          O_ENGINE_KEY + 100 + (int)i };
    longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
    server_config_default(&a->sc);
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc = parse_option(a, c, argv, longopts);
        if (rc != GO_ON) return rc;
    }
    if (optind < argc)
        return cli_usage_error("serve", usage, "unexpected argument '%s'", argv[optind]);
    if (a->sc.abort_rate > 0 && a->sc.api == SERVER_API_GATEWAY)
        return cli_usage_error("serve", usage, "--abort-rate: the OpenAI API has no \"abort\" "
                               "finish reason; use it with --api vllm or lmdeploy");
    char err[1024];
    if (server_config_check_faults(&a->sc, err, sizeof err))
        return cli_usage_error("serve", usage, "%s", err);
    a->sc.seed = a->seed;
    return GO_ON;
}

/* The engine's configuration: preset, then the JSON, then single options,
 * whatever their order on the command line. Returns GO_ON, or the exit status. */
static int engine_setup(const serve_args *a, engine_config *ec)
{
    char err[1024];
    engine_config_default(ec);
    ec->seed = a->seed;
    if (a->preset && engine_config_preset(ec, a->preset, err, sizeof err))
        return cli_usage_error("serve", usage, "--preset: %s", err);
    const char *json = a->engine_json;
    if (json) {
        char *text = NULL;
        if (json[0] == '@') {
            text = file_read_all(json + 1, NULL, err, sizeof err);
            if (!text) {
                msg_err("serve: --engine-config: %s", err);
                return EXIT_INPUT;
            }
        }
        int rc = engine_config_from_json(ec, text ? text : json, err, sizeof err);
        free(text);
        if (rc) {
            if (json[0] == '@') {
                msg_err("serve: --engine-config %s: %s", json + 1, err);
                return EXIT_INPUT;
            }
            return cli_usage_error("serve", usage, "--engine-config: %s", err);
        }
        ec->seed = a->seed;
    }
    for (size_t i = 0; i < a->nkv; i++)
        if (engine_config_set(ec, a->ekeys[i], a->evals[i], err, sizeof err))
            return cli_usage_error("serve", usage, "%s", err);
    if (a->realtime) ec->realtime = 1;
    if (engine_config_validate(ec, err, sizeof err))
        return cli_usage_error("serve", usage, "%s", err);
    return GO_ON;
}

/* A running server and its engine. */
typedef struct serving {
    sim_engine *eng;
    server *srv;
    sigset_t sigs;             /* SIGINT and SIGTERM, taken by serve_wait */
} serving;

/* Starts the engine and the server, says where it listens (stdout, and
 * --port-file). Returns GO_ON, or the exit status (then nothing runs). */
static int serve_start(const serve_args *a, const engine_config *ec, serving *sv)
{
    char err[1024];
    int rc = GO_ON;
    /* Signals are taken synchronously by this thread; every other thread
     * inherits the blocked mask. */
    sigemptyset(&sv->sigs);
    sigaddset(&sv->sigs, SIGINT);
    sigaddset(&sv->sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sv->sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    fd_limit_raise();

    sv->eng = sim_engine_new(ec, err, sizeof err);
    if (!sv->eng) return cli_usage_error("serve", usage, "%s", err);
    sv->srv = server_new(&a->sc, sv->eng, err, sizeof err);
    if (!sv->srv) {
        msg_err("serve: %s", err);
        rc = EXIT_SYSTEM;
        goto fail;
    }
    printf("listening on %s\n", server_url(sv->srv));
    fflush(stdout);
    if (a->port_file && write_port_file(a->port_file, server_port(sv->srv))) {
        msg_err("serve: cannot write --port-file %s: %s", a->port_file, strerror(errno));
        rc = EXIT_SYSTEM;
        goto fail;
    }
    fprintf(stderr, "sagellm-bench serve: %s API, model %s, preset %s, on %s\n",
            server_api_name(a->sc.api), a->sc.model, ec->preset, server_url(sv->srv));
    return GO_ON;
fail:
    server_free(sv->srv);
    sim_engine_free(sv->eng);
    return rc;
}

/* Serves until SIGINT or SIGTERM. */
static void serve_wait(serving *sv)
{
    for (;;) {
        struct timespec tick = { 0, 100000000 };
        int sig = sigtimedwait(&sv->sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
        server_tick(sv->srv);
    }
}

/* Stops the server (its open responses end) and frees both. Returns the
 * exit status. */
static int serve_finish(serving *sv)
{
    char err[1024];
    int rc = server_shutdown(sv->srv, err, sizeof err);
    fprintf(stderr, "sagellm-bench serve: stopped after %llu requests\n",
            (unsigned long long)server_requests(sv->srv));
    server_free(sv->srv);
    sim_engine_free(sv->eng);
    if (rc) {
        msg_err("serve: %s", err);
        return EXIT_SYSTEM;
    }
    return EXIT_OK;
}

static int run_serve(int argc, char **argv)
{
    serve_args a = {0};
    engine_config ec;
    serving sv = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == GO_ON) rc = engine_setup(&a, &ec);
    if (rc == GO_ON) rc = serve_start(&a, &ec, &sv);
    if (rc != GO_ON) return rc;
    serve_wait(&sv);
    return serve_finish(&sv);
}

const cli_cmd cmd_serve = {
    "serve", "run the built-in simulated LLM server", usage, help, run_serve,
};
