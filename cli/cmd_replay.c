/* cmd_replay.c — `sagellm-bench replay TRACE --client C --url URL --out DIR`. */
#include "cli/cli.h"
#include "cli/mpi_sync.h"
#include "clients/base_url.h"
#include "common/parse.h"
#include "common/url_mask.h"
#include "replay/launcher.h"
#include "replay/replay.h"

#include <pthread.h>
#include <signal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_REPLAY "sagellm-bench replay TRACE --client gateway|vllm|lmdeploy|sagellm (--url URL | --engine SPEC) --out DIR [options]"

static const char replay_help[] =
    "Sends every request of TRACE at its trace time (open loop) and records\n"
    "what happened: DIR/requests.jsonl, DIR/summary.json, DIR/run.json.\n\n"
    "target:\n"
    "  --client NAME         gateway (any OpenAI server), vllm, lmdeploy, sagellm (in-process)\n"
    "                        (default gateway)\n"
    "  --url URL             server base URL, with or without /v1, or under a gateway's path\n"
    "                        prefix: http://h:8000, http://h:8000/v1, https://gw/openai/v1\n"
    "                        (default http://127.0.0.1:8000; see docs/real-servers.md)\n"
    "  --api KIND            chat, completions, or generate (lmdeploy); default: the record's\n"
    "  --model NAME          model to ask for (default: the record's, else GET /v1/models)\n"
    "  --api-key KEY         bearer token (default: $OPENAI_API_KEY); never written anywhere\n"
    "  --header 'K: V'       extra request header (repeatable)\n"
    "  --stream MODE         as-sent (default: a record's body keeps its own stream and\n"
    "                        stream_options; length-only records stream), on (SSE with\n"
    "                        include_usage for every request) or off (one JSON response)\n"
    "  --no-stream           the same as --stream off\n"
    "  --no-force-output-len vllm/lmdeploy: let the server decide output lengths\n"
    "  --replay-headers      send each record's captured headers (never secrets, framing,\n"
    "                        or a header the run sets itself: --header values win)\n"
    "  --replay-headers-allow LIST  only these captured headers (comma-separated names;\n"
    "                        implies --replay-headers)\n"
    "  --replay-headers-deny LIST   never these captured headers (implies --replay-headers)\n"
    "  --lmdeploy-session-id lmdeploy: send the record's session as session_id (for old\n"
    "                        servers; a busy id is refused: 400 \"occupied\" or 500)\n"
    "  --wait-ready[=TIME]   poll GET /health until ready (default up to 10m)\n"
    "  --scrape-metrics T    sample GET /metrics every T into DIR/server_metrics.jsonl\n"
    CLI_HTTP_HELP
    "in-process engine (--client sagellm):\n"
    "  --engine SPEC         sim (the built-in engine), PATH.so, or python:MODULE:FACTORY\n"
    "  --engine-config FILE  engine configuration, a JSON object\n"
    "  --engine-opt K=V      one configuration value (repeatable; over --engine-config)\n"
    "timing:\n"
    "  --speed X             divide trace times by X (default 1)\n"
    "  --from T --to T       replay a time window of the trace (rebased to its start)\n"
    "  --first N             only the first N requests\n"
    "  --duration T          stop scheduling after T of run time\n"
    "  --warmup N|T          the first N requests (or those in the first T) are warm-up\n"
    "  --shard K/N|auto      send only shard K of N (by session, else by index); output in\n"
    "                        DIR/shard-K-of-N/; auto: K and N from the launcher (mpirun,\n"
    "                        srun, a Kubernetes Indexed Job; docs/scale-out.md)\n"
    "  --shards N            the number of shards, for a launcher that gives only an index\n"
    "                        (JOB_COMPLETION_INDEX); TRACE may name {k} and {n} (a file of\n"
    "                        `trace split`)\n"
    "  --start-at EPOCH_S    start at this wall-clock time (several processes together)\n"
    "  --max-inflight N      closed-loop cap on requests in flight (waits show in send lag)\n"
    "  --rx-stamp MODE       kernel (default: the kernel's receive time of the bytes) or poll\n"
    "                        (when epoll reported the socket readable); docs/metrics.md\n"
    "  --spin T              wake T before each send and busy-wait the rest (e.g. 100us; at\n"
    "                        most 10ms): sends on time where the timer wakes late, for the\n"
    "                        CPU of T per request (docs/replay.md)\n"
    "  --sessions MODE       timed (default) or dependent (a turn waits for the previous)\n"
    "  --threads N           worker threads (default: number of cores)\n"
    "  --max-connections N   connection cap across workers (default: as needed)\n"
    "  --dry-run             print the schedule's plan, send nothing\n"
    "faults and limits:\n"
    "  --timeout T           whole-request timeout (default none)\n"
    "  --stall-timeout T     fail a request that receives nothing for T (default 5m; 0: never)\n"
    "  --connect-timeout T   connection set-up timeout (default 10s)\n"
    "  --grace T             after SIGINT, wait T for requests in flight (default 30s)\n"
    "  --max-response-events N  fail a response with more than N content events as\n"
    "                        too_large (default 1000000; at most 2000000, so its log line\n"
    "                        stays readable)\n"
    "  --max-response-bytes N   fail a response of more than N body bytes as too_large\n"
    "                        (default 1G; suffixes K, M, G are binary: 1K = 1024)\n"
    "  --max-error-rate P    exit 0 despite failures up to this share (default 0)\n"
    "output:\n"
    "  --out DIR             output directory (created)\n"
    "  --csv                 also write DIR/requests.csv\n"
    "  --slo ttft=T,tpot=T,e2el=T   goodput SLOs for the summary\n"
    "  --seed S              seed of synthesised prompts (default 0)\n"
    "  --skip-invalid        skip bad trace records (counted) instead of stopping\n"
    "  -q, --quiet           no progress output\n\n"
    "exit codes: 0 all requests succeeded; 1 some failed (beyond --max-error-rate);\n"
    "2 usage; 3 bad trace; 4 system error; 5 interrupted (files complete).\n";

enum {
    O_CLIENT = 256, O_URL, O_API, O_MODEL, O_KEY, O_HEADER, O_NOSTREAM, O_NOFORCE, O_WAIT,
    O_SCRAPE, O_SPEED, O_FROM, O_TO, O_FIRST, O_DURATION, O_WARMUP, O_SHARD, O_STARTAT,
    O_INFLIGHT, O_SESSIONS, O_THREADS, O_MAXCONN, O_DRY, O_TIMEOUT, O_STALL, O_CTIMEOUT,
    O_GRACE, O_MAXERR, O_OUT, O_CSV, O_SLO, O_SEED, O_SKIP, O_QUIET, O_HELP,
    O_ENGINE, O_ENGINE_CFG, O_ENGINE_OPT, O_STREAM, O_RHEADERS, O_RH_ALLOW, O_RH_DENY, O_LMD_SID,
    O_MAXEVENTS, O_MAXBYTES, O_SPIN, O_RXSTAMP, O_SHARDS,
    O_HTTP /* .. O_HTTP + CLI_HTTP_NOPTS - 1: cli_http_opt */
};

static const struct option lo[] = {
    {"client", required_argument, 0, O_CLIENT}, {"url", required_argument, 0, O_URL},
    {"api", required_argument, 0, O_API}, {"model", required_argument, 0, O_MODEL},
    {"api-key", required_argument, 0, O_KEY}, {"header", required_argument, 0, O_HEADER},
    {"no-stream", no_argument, 0, O_NOSTREAM}, {"no-force-output-len", no_argument, 0, O_NOFORCE},
    {"wait-ready", optional_argument, 0, O_WAIT}, {"scrape-metrics", required_argument, 0, O_SCRAPE},
    {"speed", required_argument, 0, O_SPEED}, {"from", required_argument, 0, O_FROM},
    {"to", required_argument, 0, O_TO}, {"first", required_argument, 0, O_FIRST},
    {"duration", required_argument, 0, O_DURATION}, {"warmup", required_argument, 0, O_WARMUP},
    {"shard", required_argument, 0, O_SHARD}, {"shards", required_argument, 0, O_SHARDS}, {"start-at", required_argument, 0, O_STARTAT},
    {"max-inflight", required_argument, 0, O_INFLIGHT}, {"sessions", required_argument, 0, O_SESSIONS},
    {"threads", required_argument, 0, O_THREADS}, {"max-connections", required_argument, 0, O_MAXCONN},
    {"dry-run", no_argument, 0, O_DRY}, {"timeout", required_argument, 0, O_TIMEOUT},
    {"stall-timeout", required_argument, 0, O_STALL}, {"connect-timeout", required_argument, 0, O_CTIMEOUT},
    {"grace", required_argument, 0, O_GRACE}, {"max-error-rate", required_argument, 0, O_MAXERR},
    {"out", required_argument, 0, O_OUT}, {"csv", no_argument, 0, O_CSV},
    {"slo", required_argument, 0, O_SLO}, {"seed", required_argument, 0, O_SEED},
    {"skip-invalid", no_argument, 0, O_SKIP}, {"quiet", no_argument, 0, O_QUIET},
    {"engine", required_argument, 0, O_ENGINE}, {"engine-config", required_argument, 0, O_ENGINE_CFG},
    {"engine-opt", required_argument, 0, O_ENGINE_OPT}, CLI_HTTP_LONGOPTS(O_HTTP), {"stream", required_argument, 0, O_STREAM},
    {"replay-headers", no_argument, 0, O_RHEADERS},
    {"replay-headers-allow", required_argument, 0, O_RH_ALLOW},
    {"replay-headers-deny", required_argument, 0, O_RH_DENY},
    {"lmdeploy-session-id", no_argument, 0, O_LMD_SID},
    {"max-response-events", required_argument, 0, O_MAXEVENTS},
    {"max-response-bytes", required_argument, 0, O_MAXBYTES},
    {"spin", required_argument, 0, O_SPIN}, {"rx-stamp", required_argument, 0, O_RXSTAMP},
    {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};

#define BAD(...) do { rc = cli_usage_error("replay", U_REPLAY, __VA_ARGS__); goto out; } while (0)

static int dur_ms(const char *s, int64_t *ms)
{
    int64_t us;
    if (parse_duration_us(s, &us) < 0) return -1;
    *ms = us / 1000;
    return 0;
}

/* Parses a byte count: digits with an optional binary suffix K, M or G.
 * Returns 0, or -1 when s is not one or is under 1. */
static int parse_bytes(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int shift = 0;
    char num[32];
    if (n && strchr("kKmMgG", s[n - 1])) {
        char u = (char)(s[n - 1] | 0x20);
        shift = u == 'k' ? 10 : u == 'm' ? 20 : 30;
        n--;
    }
    if (!n || n >= sizeof num) return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    int64_t v;
    if (parse_i64(num, &v) < 0 || v < 1 || v > (INT64_MAX >> shift)) return -1;
    *out = v << shift;
    return 0;
}

/* The command line for run.json, with the API key and auth headers masked,
 * and in every URL its credentials and query values (url_mask). */
static char *safe_cmdline(int argc, char **argv)
{
    strbuf b = {0};
    sb_adds(&b, "sagellm-bench");
    int mask_next = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        sb_addc(&b, ' ');
        if (mask_next) {
            sb_adds(&b, "***");
            mask_next = 0;
            continue;
        }
        if (!strcmp(a, "--api-key")) mask_next = 1;
        else if (!strncmp(a, "--api-key=", 10)) a = "--api-key=***";
        else if (!strcmp(a, "--header") && i + 1 < argc && (strcasestr(argv[i + 1], "auth") ||
                 strcasestr(argv[i + 1], "key") || strcasestr(argv[i + 1], "cookie") ||
                 strcasestr(argv[i + 1], "token"))) mask_next = 1;
        url_mask_add(&b, a, strlen(a));
    }
    return b.buf;
}

/* Reads a JSON object from path (NULL with err on failure). */
static cJSON *read_json_object(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    strbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_add(&b, buf, n);
    fclose(f);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(b.buf ? b.buf : "", b.len, &end, 0);
    if (!cJSON_IsObject(o)) {
        errf(err, errlen, "%s: expected a JSON object%s", path, o ? "" : " (invalid JSON)");
        cJSON_Delete(o);
        o = NULL;
    }
    sb_free(&b);
    return o;
}

/* Sets k=v in cfg: v as JSON when it parses as a value, else as a string. */
static int engine_opt(cJSON *cfg, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return -1;
    char *k = xstrndup(kv, (size_t)(eq - kv));
    cJSON *v = cJSON_Parse(eq + 1);
    if (!v) v = cJSON_CreateString(eq + 1);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, k);
    cJSON_AddItemToObject(cfg, k, v);
    free(k);
    return 0;
}

/* With shards: output in OUT/shard-K-of-N/, and {k} / {n} in the trace
 * path replaced (per-shard files of `trace split`). */
static void shard_paths(replay_opts *o, strbuf *out, strbuf *trace)
{
    if (o->out_dir) {
        sb_printf(out, "%s/shard-%d-of-%d", o->out_dir, o->shard_k, o->shard_n);
        o->out_dir = out->buf;
    }
    for (const char *p = o->trace_path; *p; p++) {
        if (!strncmp(p, "{k}", 3)) sb_printf(trace, "%d", o->shard_k), p += 2;
        else if (!strncmp(p, "{n}", 3)) sb_printf(trace, "%d", o->shard_n), p += 2;
        else sb_addc(trace, *p);
    }
    sb_addc(trace, '\0');
    o->trace_path = trace->buf;
}

/* Blocks SIGINT and SIGTERM in this thread and the threads it starts
 * (replay_run takes them with sigtimedwait). */
static void block_signals(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static int run_replay(int argc, char **argv)
{
    replay_opts o;
    replay_opts_init(&o);
    const char *client_name = "gateway";
    o.copt.base_url = "http://127.0.0.1:8000";
    const char **headers = xcalloc((size_t)argc + 1, sizeof *headers);
    int nh = 0, rc = EXIT_OK, c, shard_auto = 0, shards = 0, mpi = 0;
    replay_sync sync;
    launcher_shard ls;
    strbuf shard_out = {0}, shard_trace = {0};
    char *cmdline = NULL, *engine_cfg = NULL;
    base_url burl = {0};
    cJSON *ecfg = NULL;
    const char **eopts = xcalloc((size_t)argc + 1, sizeof *eopts);
    int neo = 0;
    char eerr[600];
    while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
        int64_t v;
        double d;
        switch (c) {
        case O_CLIENT: client_name = optarg; break;
        case O_URL: o.copt.base_url = optarg; break;
        case O_API:
            if (strcmp(optarg, "chat") && strcmp(optarg, "completions") && strcmp(optarg, "generate"))
                BAD("--api must be chat, completions or generate, got '%s'", optarg);
            o.copt.api = optarg;
            break;
        case O_MODEL: o.copt.model = optarg; break;
        case O_KEY: o.copt.api_key = optarg; break;
        case O_HEADER:
            if (!strchr(optarg, ':')) BAD("--header needs 'Name: value', got '%s'", optarg);
            headers[nh++] = optarg;
            break;
        case O_NOSTREAM: o.copt.stream = CLIENT_STREAM_OFF; break;
        case O_STREAM:
            if (!strcmp(optarg, "as-sent")) o.copt.stream = CLIENT_STREAM_AS_SENT;
            else if (!strcmp(optarg, "on")) o.copt.stream = CLIENT_STREAM_ON;
            else if (!strcmp(optarg, "off")) o.copt.stream = CLIENT_STREAM_OFF;
            else BAD("--stream must be as-sent, on or off, got '%s'", optarg);
            break;
        case O_RHEADERS: o.copt.replay_headers = 1; break;
        case O_RH_ALLOW: o.copt.replay_headers = 1; o.copt.headers_allow = optarg; break;
        case O_RH_DENY: o.copt.replay_headers = 1; o.copt.headers_deny = optarg; break;
        case O_LMD_SID: o.copt.lmdeploy_session_id = 1; break;
        case O_NOFORCE: o.copt.force_output_len = 0; break;
        case O_WAIT:
            o.wait_ready = 1;
            if (optarg && dur_ms(optarg, &o.wait_ready_ms) < 0) BAD("--wait-ready needs a time, got '%s'", optarg);
            break;
        case O_SCRAPE:
            if (dur_ms(optarg, &o.scrape_interval_ms) < 0 || o.scrape_interval_ms < 10)
                BAD("--scrape-metrics needs an interval of at least 10ms, got '%s'", optarg);
            break;
        case O_SPEED:
            if (parse_double(optarg, &o.speed) < 0 || o.speed <= 0) BAD("--speed needs a positive number, got '%s'", optarg);
            break;
        case O_FROM: if (parse_duration_us(optarg, &o.from_us) < 0) BAD("--from needs a time such as 90s, got '%s'", optarg); break;
        case O_TO: if (parse_duration_us(optarg, &o.to_us) < 0) BAD("--to needs a time such as 90s, got '%s'", optarg); break;
        case O_FIRST: if (parse_i64(optarg, &o.first) < 0 || o.first < 0) BAD("--first needs a count, got '%s'", optarg); break;
        case O_DURATION: if (parse_duration_us(optarg, &o.duration_us) < 0) BAD("--duration needs a time, got '%s'", optarg); break;
        case O_WARMUP:
            if (parse_i64(optarg, &v) == 0 && v >= 0) o.warmup_n = v;
            else if (parse_duration_us(optarg, &o.warmup_us) < 0) BAD("--warmup needs a count or a time, got '%s'", optarg);
            break;
        case O_SHARD:
            if (!strcmp(optarg, "auto")) shard_auto = 1;
            else if (sscanf(optarg, "%d/%d", &o.shard_k, &o.shard_n) != 2 || o.shard_n < 1 ||
                     o.shard_k < 1 || o.shard_k > o.shard_n)
                BAD("--shard needs K/N with 1 <= K <= N, or auto, got '%s'", optarg);
            break;
        case O_SHARDS:
            if (parse_i64(optarg, &v) < 0 || v < 1 || v > 100000) BAD("--shards needs 1..100000, got '%s'", optarg);
            shards = (int)v;
            break;
        case O_STARTAT: if (parse_double(optarg, &o.start_at) < 0 || o.start_at <= 0) BAD("--start-at needs epoch seconds, got '%s'", optarg); break;
        case O_INFLIGHT: if (parse_i64(optarg, &o.max_inflight) < 0 || o.max_inflight < 1) BAD("--max-inflight needs a positive count, got '%s'", optarg); break;
        case O_SESSIONS:
            if (!strcmp(optarg, "timed")) o.sessions_mode = SESSIONS_TIMED;
            else if (!strcmp(optarg, "dependent")) o.sessions_mode = SESSIONS_DEPENDENT;
            else BAD("--sessions must be timed or dependent, got '%s'", optarg);
            break;
        case O_THREADS: if (parse_i64(optarg, &v) < 0 || v < 1 || v > 256) BAD("--threads needs 1..256, got '%s'", optarg); o.threads = (int)v; break;
        case O_MAXCONN: if (parse_i64(optarg, &o.max_connections) < 0 || o.max_connections < 1) BAD("--max-connections needs a positive count, got '%s'", optarg); break;
        case O_DRY: o.dry_run = 1; break;
        case O_TIMEOUT: if (dur_ms(optarg, &o.timeout_ms) < 0) BAD("--timeout needs a time, got '%s'", optarg); break;
        case O_RXSTAMP:
            if (!strcmp(optarg, "kernel")) o.rx_stamp = RX_STAMP_KERNEL;
            else if (!strcmp(optarg, "poll")) o.rx_stamp = RX_STAMP_POLL;
            else BAD("--rx-stamp must be kernel or poll, got '%s'", optarg);
            break;
        case O_SPIN: {
            int64_t us;
            if (parse_duration_us(optarg, &us) < 0 || us > 10000)
                BAD("--spin needs a time of at most 10ms (e.g. 100us), got '%s'", optarg);
            o.spin_ns = us * 1000;
            break;
        }
        case O_STALL: if (dur_ms(optarg, &o.stall_timeout_ms) < 0) BAD("--stall-timeout needs a time, got '%s'", optarg); break;
        case O_CTIMEOUT: if (dur_ms(optarg, &o.connect_timeout_ms) < 0) BAD("--connect-timeout needs a time, got '%s'", optarg); break;
        case O_GRACE: if (dur_ms(optarg, &o.grace_ms) < 0) BAD("--grace needs a time, got '%s'", optarg); break;
        case O_MAXEVENTS:
            if (parse_i64(optarg, &o.max_response_events) < 0 || o.max_response_events < 1 ||
                o.max_response_events > 2 * REPLAY_MAX_RESPONSE_EVENTS)
                BAD("--max-response-events needs a count from 1 to %lld, got '%s'",
                    2 * REPLAY_MAX_RESPONSE_EVENTS, optarg);
            break;
        case O_MAXBYTES:
            if (parse_bytes(optarg, &o.max_response_bytes) < 0)
                BAD("--max-response-bytes needs a positive byte count such as 4096, 64M or 2G, "
                    "got '%s'", optarg);
            break;
        case O_MAXERR: if (parse_prob(optarg, &d) < 0) BAD("--max-error-rate needs a share between 0 and 1, got '%s'", optarg); o.max_error_rate = d; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_CSV: o.csv = 1; break;
        case O_SLO: o.slo = optarg; break;
        case O_SEED: if (parse_u64(optarg, &o.copt.seed) < 0) BAD("--seed needs a non-negative integer, got '%s'", optarg); break;
        case O_SKIP: o.skip_invalid = 1; break;
        case O_ENGINE: o.copt.engine = optarg; break;
        case O_ENGINE_CFG:
            cJSON_Delete(ecfg);
            if (!(ecfg = read_json_object(optarg, eerr, sizeof eerr))) BAD("--engine-config: %s", eerr);
            break;
        case O_ENGINE_OPT:
            if (!strchr(optarg, '=')) BAD("--engine-opt needs KEY=VALUE, got '%s'", optarg);
            eopts[neo++] = optarg;
            break;
        case 'q': case O_QUIET: o.quiet = 1; break;
        case 'h': case O_HELP: rc = cli_print_help("replay", U_REPLAY, replay_help); goto out;
        default:
            if (cli_http_opt(c, O_HTTP, optarg, &o.copt.http)) break;
            rc = cli_getopt_error("replay", U_REPLAY, c, argv, lo);
            goto out;
        }
    }
    if (optind >= argc) BAD("missing TRACE");
    if (optind + 1 < argc) BAD("unexpected argument '%s'", argv[optind + 1]);
    o.trace_path = argv[optind];
    if (!o.out_dir && !o.dry_run) BAD("missing --out DIR");
    if (shards && !shard_auto) BAD("--shards N goes with --shard auto");
    if (shard_auto) {
        if (launcher_detect(shards, &ls, eerr, sizeof eerr)) BAD("%s", eerr);
        o.shard_k = ls.k;
        o.shard_n = ls.n;
        o.shard_source = ls.source;
    }
    if (o.shard_n > 1) shard_paths(&o, &shard_out, &shard_trace);
    if (o.from_us >= 0 && o.to_us >= 0 && o.to_us <= o.from_us) BAD("--to must be after --from");
    int renamed;
    o.client = client_find(client_name, &renamed);
    if (!o.client) {
        strbuf names = {0};
        for (int i = 0; client_registry[i]; i++) sb_printf(&names, "%s%s", i ? ", " : "", client_registry[i]->name);
        rc = cli_usage_error("replay", U_REPLAY, "unknown client '%s' (one of: %s)", client_name, names.buf);
        sb_free(&names);
        goto out;
    }
    if (renamed) fprintf(stderr, "sagellm-bench replay: notice: --client openai is now called 'gateway'\n");
    if (!strcmp(o.client->name, "lmdeploy") && o.copt.api && !strcmp(o.copt.api, "generate"))
        fprintf(stderr, "sagellm-bench replay: warning: --api generate sends chat records' messages "
                "joined into one prompt: the model's chat template is not applied\n");
    if (o.copt.lmdeploy_session_id && strcmp(o.client->name, "lmdeploy"))
        BAD("--lmdeploy-session-id needs --client lmdeploy");
    if (o.client->submit) {
        if (!o.copt.engine) o.copt.engine = "sim";
        if (!ecfg) ecfg = cJSON_CreateObject();
        for (int i = 0; i < neo; i++)
            if (engine_opt(ecfg, eopts[i]) < 0) BAD("--engine-opt needs KEY=VALUE, got '%s'", eopts[i]);
        engine_cfg = cJSON_PrintUnformatted(ecfg);
        o.copt.engine_config = engine_cfg;
    } else if (o.copt.engine || ecfg || neo) {
        BAD("--engine, --engine-config and --engine-opt need --client sagellm");
    }
    if (!o.client->submit) {
        char uerr[600];
        if (base_url_parse(o.copt.base_url, &burl, uerr, sizeof uerr)) BAD("%s", uerr);
        o.copt.api_url = burl.api;
        o.copt.root_url = burl.root;
        http_opts_from_env(&o.copt.http);
        if (http_opts_check(&o.copt.http, uerr, sizeof uerr)) BAD("%s", uerr);
    }
    if (!o.copt.api_key) o.copt.api_key = getenv("OPENAI_API_KEY");
    o.copt.headers = headers;
    cmdline = safe_cmdline(argc, argv);
    o.cmdline = cmdline;
    if (shard_auto && ls.mpi) {
        block_signals(); /* before MPI starts its threads: they must not take SIGINT */
        if ((mpi = mpi_sync_begin(&ls, o.slo, &sync, eerr, sizeof eerr)) < 0) {
            msg_err("%s", eerr);
            rc = EXIT_SYSTEM;
            goto out;
        }
        if (mpi) o.sync = &sync;
    }
    rc = replay_run(&o);
    if (mpi) mpi_sync_end();
out:
    sb_free(&shard_out);
    sb_free(&shard_trace);
    free(headers);
    free(eopts);
    cJSON_Delete(ecfg);
    if (engine_cfg) cJSON_free(engine_cfg);
    base_url_clear(&burl);
    free(cmdline);
    return rc;
}

const cli_cmd cmd_replay = {
    "replay", "replay a trace against a server, with its original timing",
    U_REPLAY, replay_help, run_replay,
};
