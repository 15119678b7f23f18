/* replay_args.c — replay's options, parsed for `replay` and `sweep`
 * (replay_args.h). */
#include "cli/replay_args.h"
#include "common/parse.h"
#include "common/url_mask.h"
#include "traces/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define BAD(...) do { rc = cli_usage_error(cmd, usage, __VA_ARGS__); goto out; } while (0)

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

/* Which secret-bearing option the command-line word a names, as
 * getopt_long reads it: --api-key or --header, whole or abbreviated
 * ("--head", "--api-k"), with or without "=VALUE"; 0 for anything else. */
enum { SECRET_NONE, SECRET_KEY, SECRET_HEADER };
static int secret_option(const char *a)
{
    if (strncmp(a, "--", 2) || !a[2]) return SECRET_NONE;
    size_t n = strcspn(a + 2, "=");
    /* "--api" is its own option, "--he" also --help's abbreviation */
    if (n >= 4 && n <= 7 && !strncmp(a + 2, "api-key", n)) return SECRET_KEY;
    if (n >= 3 && n <= 6 && !strncmp(a + 2, "header", n)) return SECRET_HEADER;
    return SECRET_NONE;
}

/* The value of a secret option, masked: "***" for a key; a header keeps its
 * name ("Authorization: ***"), since which header was sent is worth
 * knowing and its value may be a credential whatever the name. */
static void add_masked(strbuf *b, int kind, const char *v)
{
    size_t name = kind == SECRET_HEADER ? strcspn(v, ":") : 0;
    if (name && v[name] == ':' && !memchr(v, ' ', name)) {
        sb_add(b, v, name);
        sb_adds(b, ": ***");
    } else {
        sb_adds(b, "***");
    }
}

/* The command line for run.json: the value of every --api-key and --header
 * masked, in every form getopt_long takes, and in every URL its
 * credentials and query values (url_mask). */
static char *safe_cmdline(int argc, char **argv)
{
    strbuf b = {0};
    sb_adds(&b, "sagellm-bench");
    int pending = SECRET_NONE, options = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        sb_addc(&b, ' ');
        if (pending) {
            add_masked(&b, pending, a);
            pending = SECRET_NONE;
            continue;
        }
        int kind = options ? secret_option(a) : SECRET_NONE;
        const char *eq = kind ? strchr(a, '=') : NULL;
        if (eq) {
            sb_add(&b, a, (size_t)(eq - a) + 1);
            add_masked(&b, kind, eq + 1);
            continue;
        }
        pending = kind;
        if (!strcmp(a, "--")) options = 0;
        url_mask_add(&b, a, strlen(a));
    }
    return b.buf;
}

/* Reads a JSON object from path (NULL with err on failure). */
static cJSON *read_json_object(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = file_read_all(path, &len, err, errlen);
    if (!text) return NULL;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!cJSON_IsObject(o)) {
        errf(err, errlen, "%s: expected a JSON object%s", path, o ? "" : " (invalid JSON)");
        cJSON_Delete(o);
        o = NULL;
    }
    free(text);
    return o;
}

/* With shards: output in OUT/shard-K-of-N/, and {k} / {n} in the trace
 * path replaced (per-shard files of `trace split`). */
static void shard_paths(replay_args *a)
{
    replay_opts *o = &a->o;
    if (o->out_dir) {
        sb_printf(&a->shard_out, "%s/shard-%d-of-%d", o->out_dir, o->shard_k, o->shard_n);
        o->out_dir = a->shard_out.buf;
    }
    a->shard_trace = trace_shard_name(o->trace_path, o->shard_k, o->shard_n);
    o->trace_path = a->shard_trace;
}

/* Sets k=v in cfg: v as JSON when it parses as a value, else as a string. */
static int engine_opt(cJSON *cfg, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return -1;
    char *k = xstrndup(kv, (size_t)(eq - kv));
    /* The whole value must parse: "10ms" is a string, not the number 10
     * with a tail cJSON_Parse would ignore. */
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(eq + 1, &end, 1);
    if (!v) v = cJSON_CreateString(eq + 1);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, k);
    cJSON_AddItemToObject(cfg, k, v);
    free(k);
    return 0;
}

/* What the option loop gathers besides a->o. */
typedef struct parse_state {
    const char *client_name;
    const char **headers, **eopts;
    int nh, neo, shards;
} parse_state;

/* An option's value is wrong: the message into msg, -1 from the handler. */
#define OPT_BAD(...) do { errf(msg, msglen, __VA_ARGS__); return -1; } while (0)

/* Target and client options (--client ... --scrape-metrics). Returns 1 when c was one of them, 0
 * when not, -1 with a message in msg when its value is wrong. */
static int target_opt(replay_args *a, parse_state *ps, int c, const char *arg, char *msg, size_t msglen)
{
    switch (c) {
    case O_CLIENT: ps->client_name = arg; break;
    case O_URL: a->o.copt.base_url = arg; break;
    case O_API:
        if (strcmp(arg, "chat") && strcmp(arg, "completions") && strcmp(arg, "generate"))
            OPT_BAD("--api must be chat, completions or generate, got '%s'", arg);
        a->o.copt.api = arg;
        break;
    case O_MODEL: a->o.copt.model = arg; break;
    case O_KEY: a->o.copt.api_key = arg; break;
    case O_HEADER:
        if (!strchr(arg, ':')) OPT_BAD("--header needs 'Name: value'; the text given has no ':' (not shown: it may hold a credential)");
        ps->headers[ps->nh++] = arg;
        break;
    case O_NOSTREAM: a->o.copt.stream = CLIENT_STREAM_OFF; break;
    case O_STREAM:
        if (!strcmp(arg, "as-sent")) a->o.copt.stream = CLIENT_STREAM_AS_SENT;
        else if (!strcmp(arg, "on")) a->o.copt.stream = CLIENT_STREAM_ON;
        else if (!strcmp(arg, "off")) a->o.copt.stream = CLIENT_STREAM_OFF;
        else OPT_BAD("--stream must be as-sent, on or off, got '%s'", arg);
        break;
    case O_RHEADERS: a->o.copt.replay_headers = 1; break;
    case O_RH_ALLOW: a->o.copt.replay_headers = 1; a->o.copt.headers_allow = arg; break;
    case O_RH_DENY: a->o.copt.replay_headers = 1; a->o.copt.headers_deny = arg; break;
    case O_LMD_SID: a->o.copt.lmdeploy_session_id = 1; break;
    case O_NOFORCE: a->o.copt.force_output_len = 0; break;
    case O_WAIT:
        a->o.wait_ready = 1;
        if (arg && dur_ms(arg, &a->o.wait_ready_ms) < 0) OPT_BAD("--wait-ready needs a time, got '%s'", arg);
        break;
    case O_SCRAPE:
        if (dur_ms(arg, &a->o.scrape_interval_ms) < 0 || a->o.scrape_interval_ms < 10)
            OPT_BAD("--scrape-metrics needs an interval of at least 10ms, got '%s'", arg);
        break;
    default: return 0;
    }
    return 1;
}

/* Timing and fault options (--speed ... --max-error-rate). Returns 1 when c was one of them, 0
 * when not, -1 with a message in msg when its value is wrong. */
static int timing_opt(replay_args *a, parse_state *ps, int c, const char *arg, char *msg, size_t msglen)
{
    int64_t v;
    double d;
    int used = 0;
    switch (c) {
    case O_SPEED:
        if (parse_double(arg, &a->o.speed) < 0 || a->o.speed <= 0) OPT_BAD("--speed needs a positive number, got '%s'", arg);
        break;
    case O_FROM: if (parse_duration_us(arg, &a->o.from_us) < 0) OPT_BAD("--from needs a time such as 90s, got '%s'", arg); break;
    case O_TO: if (parse_duration_us(arg, &a->o.to_us) < 0) OPT_BAD("--to needs a time such as 90s, got '%s'", arg); break;
    case O_FIRST: if (parse_i64(arg, &a->o.first) < 0 || a->o.first < 0) OPT_BAD("--first needs a count, got '%s'", arg); break;
    case O_DURATION: if (parse_duration_us(arg, &a->o.duration_us) < 0) OPT_BAD("--duration needs a time, got '%s'", arg); break;
    case O_WARMUP:
        if (parse_i64(arg, &v) == 0 && v >= 0) a->o.warmup_n = v;
        else if (parse_duration_us(arg, &a->o.warmup_us) < 0) OPT_BAD("--warmup needs a count or a time, got '%s'", arg);
        break;
    case O_SHARD:
        if (!strcmp(arg, "auto")) a->shard_auto = 1;
        else if (sscanf(arg, "%d/%d%n", &a->o.shard_k, &a->o.shard_n, &used) != 2 || arg[used] ||
                 a->o.shard_n < 1 || a->o.shard_k < 1 || a->o.shard_k > a->o.shard_n)
            OPT_BAD("--shard needs K/N with 1 <= K <= N, or auto, got '%s'", arg);
        break;
    case O_SHARDS:
        if (parse_i64(arg, &v) < 0 || v < 1 || v > 100000) OPT_BAD("--shards needs 1..100000, got '%s'", arg);
        ps->shards = (int)v;
        break;
    case O_STARTAT: if (parse_double(arg, &a->o.start_at) < 0 || a->o.start_at <= 0) OPT_BAD("--start-at needs epoch seconds, got '%s'", arg); break;
    case O_INFLIGHT: if (parse_i64(arg, &a->o.max_inflight) < 0 || a->o.max_inflight < 1) OPT_BAD("--max-inflight needs a positive count, got '%s'", arg); break;
    case O_SESSIONS:
        if (!strcmp(arg, "timed")) a->o.sessions_mode = SESSIONS_TIMED;
        else if (!strcmp(arg, "dependent")) a->o.sessions_mode = SESSIONS_DEPENDENT;
        else OPT_BAD("--sessions must be timed or dependent, got '%s'", arg);
        break;
    case O_THREADS: if (parse_i64(arg, &v) < 0 || v < 1 || v > 256) OPT_BAD("--threads needs 1..256, got '%s'", arg); a->o.threads = (int)v; break;
    case O_MAXCONN: if (parse_i64(arg, &a->o.max_connections) < 0 || a->o.max_connections < 1) OPT_BAD("--max-connections needs a positive count, got '%s'", arg); break;
    case O_DRY: a->o.dry_run = 1; break;
    case O_TIMEOUT: if (dur_ms(arg, &a->o.timeout_ms) < 0) OPT_BAD("--timeout needs a time, got '%s'", arg); break;
    case O_RXSTAMP:
        if (!strcmp(arg, "kernel")) a->o.rx_stamp = RX_STAMP_KERNEL;
        else if (!strcmp(arg, "poll")) a->o.rx_stamp = RX_STAMP_POLL;
        else OPT_BAD("--rx-stamp must be kernel or poll, got '%s'", arg);
        break;
    case O_SPIN: {
        int64_t us;
        if (parse_duration_us(arg, &us) < 0 || us > 10000)
            OPT_BAD("--spin needs a time of at most 10ms (e.g. 100us), got '%s'", arg);
        a->o.spin_ns = us * 1000;
        break;
    }
    case O_STALL: if (dur_ms(arg, &a->o.stall_timeout_ms) < 0) OPT_BAD("--stall-timeout needs a time, got '%s'", arg); break;
    case O_CTIMEOUT: if (dur_ms(arg, &a->o.connect_timeout_ms) < 0) OPT_BAD("--connect-timeout needs a time, got '%s'", arg); break;
    case O_GRACE: if (dur_ms(arg, &a->o.grace_ms) < 0) OPT_BAD("--grace needs a time, got '%s'", arg); break;
    case O_MAXEVENTS:
        if (parse_i64(arg, &a->o.max_response_events) < 0 || a->o.max_response_events < 1 ||
            a->o.max_response_events > 2 * REPLAY_MAX_RESPONSE_EVENTS)
            OPT_BAD("--max-response-events needs a count from 1 to %lld, got '%s'",
                2 * REPLAY_MAX_RESPONSE_EVENTS, arg);
        break;
    case O_MAXBYTES:
        if (parse_bytes(arg, &a->o.max_response_bytes) < 0)
            OPT_BAD("--max-response-bytes needs a positive byte count such as 4096, 64M or 2G, "
                "got '%s'", arg);
        break;
    case O_MAXERR: if (parse_prob(arg, &d) < 0) OPT_BAD("--max-error-rate needs a share between 0 and 1, got '%s'", arg); a->o.max_error_rate = d; break;
    default: return 0;
    }
    return 1;
}

/* Output and engine options (--out ... --engine-opt). Returns 1 when c was one of them, 0
 * when not, -1 with a message in msg when its value is wrong. */
static int output_opt(replay_args *a, parse_state *ps, int c, const char *arg, char *msg, size_t msglen)
{
    switch (c) {
    case O_OUT: a->o.out_dir = arg; break;
    case O_CSV: a->o.csv = 1; break;
    case O_SLO: a->o.slo = arg; break;
    case O_SEED: if (parse_u64(arg, &a->o.copt.seed) < 0) OPT_BAD("--seed needs a non-negative integer, got '%s'", arg); break;
    case O_SKIP: a->o.skip_invalid = 1; break;
    case O_ENGINE: a->o.copt.engine = arg; break;
    case O_ENGINE_CFG:
        cJSON_Delete(a->ecfg);
        if (!(a->ecfg = read_json_object(arg, msg, msglen))) {
            char why[600];
            snprintf(why, sizeof why, "%s", msg);
            OPT_BAD("--engine-config: %s", why);
        }
        break;
    case O_ENGINE_OPT:
        if (!strchr(arg, '=')) OPT_BAD("--engine-opt needs KEY=VALUE, got '%s'", arg);
        ps->eopts[ps->neo++] = arg;
        break;
    default: return 0;
    }
    return 1;
}

/* The checks that need every option: one TRACE, --out, the client, its
 * engine configuration or URL, the shard (--shard auto). EXIT_OK, or the
 * exit code of a usage error (printed). */
#define CHK_BAD(...) return cli_usage_error(cmd, usage, __VA_ARGS__)
static int check_args(replay_args *a, parse_state *ps, const char *cmd, const char *usage,
                      int argc, char **argv)
{
    char eerr[600];
    if (optind >= argc) CHK_BAD("missing TRACE");
    if (optind + 1 < argc) CHK_BAD("unexpected argument '%s'", argv[optind + 1]);
    a->o.trace_path = argv[optind];
    if (!a->o.out_dir && !a->o.dry_run) CHK_BAD("missing --out DIR");
    if (ps->shards && !a->shard_auto) CHK_BAD("--shards N goes with --shard auto");
    if (a->shard_auto) {
        if (launcher_detect(ps->shards, &a->launcher, eerr, sizeof eerr)) CHK_BAD("%s", eerr);
        a->o.shard_k = a->launcher.k;
        a->o.shard_n = a->launcher.n;
        a->o.shard_source = a->launcher.source;
        if (!a->o.quiet)
            fprintf(stderr, "sagellm-bench %s: shard %d/%d (--shard auto: %s)\n", cmd, a->o.shard_k,
                    a->o.shard_n, a->launcher.source);
    }
    if (a->o.shard_n > 1) shard_paths(a);
    if (a->o.from_us >= 0 && a->o.to_us >= 0 && a->o.to_us <= a->o.from_us) CHK_BAD("--to must be after --from");
    int renamed;
    a->o.client = client_find(ps->client_name, &renamed);
    if (!a->o.client) {
        strbuf names = {0};
        for (int i = 0; client_registry[i]; i++) sb_printf(&names, "%s%s", i ? ", " : "", client_registry[i]->name);
        int rc = cli_usage_error(cmd, usage, "unknown client '%s' (one of: %s)", ps->client_name, names.buf);
        sb_free(&names);
        return rc;
    }
    if (renamed) fprintf(stderr, "sagellm-bench %s: notice: --client openai is now called 'gateway'\n", cmd);
    if (!strcmp(a->o.client->name, "lmdeploy") && a->o.copt.api && !strcmp(a->o.copt.api, "generate"))
        fprintf(stderr, "sagellm-bench %s: warning: --api generate sends chat records' messages "
                "joined into one prompt: the model's chat template is not applied\n", cmd);
    if (a->o.copt.lmdeploy_session_id && strcmp(a->o.client->name, "lmdeploy"))
        CHK_BAD("--lmdeploy-session-id needs --client lmdeploy");
    if (a->o.client->submit) {
        if (!a->o.copt.engine) a->o.copt.engine = "sim";
        if (!a->ecfg) a->ecfg = cJSON_CreateObject();
        for (int i = 0; i < ps->neo; i++)
            if (engine_opt(a->ecfg, ps->eopts[i]) < 0) CHK_BAD("--engine-opt needs KEY=VALUE, got '%s'", ps->eopts[i]);
        a->engine_cfg = cJSON_PrintUnformatted(a->ecfg);
        a->o.copt.engine_config = a->engine_cfg;
    } else if (a->o.copt.engine || a->ecfg || ps->neo) {
        CHK_BAD("--engine, --engine-config and --engine-opt need --client sagellm");
    }
    if (!a->o.client->submit) {
        char uerr[600];
        if (base_url_parse(a->o.copt.base_url, &a->burl, uerr, sizeof uerr)) CHK_BAD("%s", uerr);
        a->o.copt.api_url = a->burl.api;
        a->o.copt.root_url = a->burl.root;
        http_opts_from_env(&a->o.copt.http);
        if (http_opts_check(&a->o.copt.http, uerr, sizeof uerr)) CHK_BAD("%s", uerr);
    }
    if (!a->o.copt.api_key) a->o.copt.api_key = getenv("OPENAI_API_KEY");
    a->o.copt.headers = ps->headers;
    a->cmdline = safe_cmdline(argc, argv);
    a->o.cmdline = a->cmdline;
    return EXIT_OK;
}
#undef CHK_BAD

int replay_args_parse(replay_args *a, const char *cmd, const char *usage, const char *help,
                      const struct option *extra, replay_args_extra_fn fn, void *ud,
                      int argc, char **argv, int *rcp)
{
    memset(a, 0, sizeof *a);
    replay_opts_init(&a->o);
    a->o.copt.base_url = "http://127.0.0.1:8000";
    parse_state ps = { "gateway", NULL, NULL, 0, 0, 0 };
    ps.headers = a->headers = xcalloc((size_t)argc + 1, sizeof *ps.headers);
    ps.eopts = a->eopts = xcalloc((size_t)argc + 1, sizeof *ps.eopts);
    int rc = EXIT_OK, c, go = 0;
    char eerr[600];
    size_t nlo = sizeof lo / sizeof lo[0] - 1, nx = 0;
    while (extra && extra[nx].name) nx++;
    struct option *all = xcalloc(nlo + nx + 1, sizeof *all);
    memcpy(all, lo, nlo * sizeof *all);
    if (nx) memcpy(all + nlo, extra, nx * sizeof *all);
    while ((c = getopt_long(argc, argv, ":qh", all, NULL)) != -1) {
        int h = target_opt(a, &ps, c, optarg, eerr, sizeof eerr);
        if (!h) h = timing_opt(a, &ps, c, optarg, eerr, sizeof eerr);
        if (!h) h = output_opt(a, &ps, c, optarg, eerr, sizeof eerr);
        if (h < 0) BAD("%s", eerr);
        if (h) continue;
        switch (c) {
        case 'q': case O_QUIET: a->o.quiet = 1; break;
        case 'h': case O_HELP: rc = cli_print_help(cmd, usage, help); goto out;
        default:
            if (cli_http_opt(c, O_HTTP, optarg, &a->o.copt.http)) break;
            if (c >= REPLAY_ARGS_EXTRA && fn) {
                if (fn(ud, c, optarg, eerr, sizeof eerr) < 0) BAD("%s", eerr);
                break;
            }
            rc = cli_getopt_error(cmd, usage, c, argv, all);
            goto out;
        }
    }
    if ((rc = check_args(a, &ps, cmd, usage, argc, argv)) != EXIT_OK) goto out;
    go = 1;
out:
    free(all);
    *rcp = rc;
    return go;
}

void replay_args_free(replay_args *a)
{
    free(a->headers);
    free(a->eopts);
    cJSON_Delete(a->ecfg);
    if (a->engine_cfg) cJSON_free(a->engine_cfg);
    base_url_clear(&a->burl);
    free(a->cmdline);
    sb_free(&a->shard_out);
    free(a->shard_trace);
    memset(a, 0, sizeof *a);
}

