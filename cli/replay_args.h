/* replay_args.h — the options of a replay, parsed once for every command
 * that runs one (`replay`, `sweep`): target, client, timing, faults and
 * output. A command adds its own options through an extra table and a
 * callback; everything else (validation, the client lookup, the engine
 * configuration, the masked command line for run.json) is done here.
 *
 * Ownership: replay_args owns what it allocates for o (headers, engine
 * configuration, base URL, command line); replay_args_free releases it.
 * o's strings otherwise point into argv. */
#ifndef SAGELLM_REPLAY_ARGS_H
#define SAGELLM_REPLAY_ARGS_H

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "clients/base_url.h"
#include "replay/launcher.h"
#include "replay/replay.h"

/* The option text of replay's options, for a command's --help. */
#define REPLAY_ARGS_HELP \
    "target:\n" \
    "  --client NAME         gateway (any OpenAI server), vllm, lmdeploy, sagellm (in-process)\n" \
    "                        (default gateway)\n" \
    "  --url URL             server base URL, with or without /v1, or under a gateway's path\n" \
    "                        prefix: http://h:8000, http://h:8000/v1, https://gw/openai/v1\n" \
    "                        (default http://127.0.0.1:8000; see docs/real-servers.md)\n" \
    "  --api KIND            chat, completions, or generate (lmdeploy); default: the record's\n" \
    "  --model NAME          model to ask for (default: the record's, else GET /v1/models)\n" \
    "  --api-key KEY         bearer token (default: $OPENAI_API_KEY); never written anywhere\n" \
    "  --header 'K: V'       extra request header (repeatable)\n" \
    "  --stream MODE         as-sent (default: a record's body keeps its own stream and\n" \
    "                        stream_options; length-only records stream), on (SSE with\n" \
    "                        include_usage for every request) or off (one JSON response)\n" \
    "  --no-stream           the same as --stream off\n" \
    "  --no-force-output-len vllm/lmdeploy: let the server decide output lengths\n" \
    "  --replay-headers      send each record's captured headers (never secrets, framing,\n" \
    "                        or a header the run sets itself: --header values win)\n" \
    "  --replay-headers-allow LIST  only these captured headers (comma-separated names;\n" \
    "                        implies --replay-headers)\n" \
    "  --replay-headers-deny LIST   never these captured headers (implies --replay-headers)\n" \
    "  --lmdeploy-session-id lmdeploy: send the record's session as session_id (for old\n" \
    "                        servers; a busy id is refused: 400 \"occupied\" or 500)\n" \
    "  --wait-ready[=TIME]   poll GET /health until ready (default up to 10m)\n" \
    "  --scrape-metrics T    sample GET /metrics every T into DIR/server_metrics.jsonl\n" \
    CLI_HTTP_HELP \
    "in-process engine (--client sagellm):\n" \
    "  --engine SPEC         sim (the built-in engine), PATH.so, or python:MODULE:FACTORY\n" \
    "  --engine-config FILE  engine configuration, a JSON object\n" \
    "  --engine-opt K=V      one configuration value (repeatable; over --engine-config)\n" \
    "timing:\n" \
    "  --speed X             divide trace times by X (default 1)\n" \
    "  --from T --to T       replay a time window of the trace (rebased to its start)\n" \
    "  --first N             only the first N requests\n" \
    "  --duration T          stop scheduling after T of run time\n" \
    "  --warmup N|T          the first N requests (or those in the first T) are warm-up\n" \
    "  --shard K/N|auto      send only shard K of N (by session, else by index); output in\n" \
    "                        DIR/shard-K-of-N/; auto: K and N from the launcher (mpirun,\n" \
    "                        srun, a Kubernetes Indexed Job; docs/scale-out.md)\n" \
    "  --shards N            the number of shards, for a launcher that gives only an index\n" \
    "                        (JOB_COMPLETION_INDEX); TRACE may name {k} and {n} (a file of\n" \
    "                        `trace split`)\n" \
    "  --start-at EPOCH_S    start at this wall-clock time (several processes together)\n" \
    "  --max-inflight N      closed-loop cap on requests in flight (waits show in send lag)\n" \
    "  --rx-stamp MODE       kernel (default: the kernel's receive time of the bytes) or poll\n" \
    "                        (when epoll reported the socket readable); docs/metrics.md\n" \
    "  --spin T              wake T before each send and busy-wait the rest (e.g. 100us; at\n" \
    "                        most 10ms): sends on time where the timer wakes late, for the\n" \
    "                        CPU of T per request (docs/replay.md)\n" \
    "  --sessions MODE       timed (default) or dependent (a turn waits for the previous)\n" \
    "  --threads N           worker threads (default: number of cores)\n" \
    "  --max-connections N   connection cap across workers (default: as needed)\n" \
    "  --dry-run             print the schedule's plan, send nothing\n" \
    "faults and limits:\n" \
    "  --timeout T           whole-request timeout (default none)\n" \
    "  --stall-timeout T     fail a request that receives nothing for T (default 5m; 0: never)\n" \
    "  --connect-timeout T   connection set-up timeout (default 10s)\n" \
    "  --grace T             after SIGINT, wait T for requests in flight (default 30s)\n" \
    "  --max-response-events N  fail a response with more than N content events as\n" \
    "                        too_large (default 1000000; at most 2000000, so its log line\n" \
    "                        stays readable)\n" \
    "  --max-response-bytes N   fail a response of more than N body bytes as too_large\n" \
    "                        (default 1G; suffixes K, M, G are binary: 1K = 1024)\n" \
    "  --max-error-rate P    exit 0 despite failures up to this share (default 0)\n" \
    "output:\n" \
    "  --out DIR             output directory (created)\n" \
    "  --csv                 also write DIR/requests.csv\n" \
    "  --slo ttft=T,tpot=T,e2el=T   goodput SLOs for the summary\n" \
    "  --seed S              seed of synthesised prompts (default 0)\n" \
    "  --skip-invalid        skip bad trace records (counted) instead of stopping\n" \
    "  -q, --quiet           no progress output\n\n"

/* Option codes from here up are the calling command's own. */
#define REPLAY_ARGS_EXTRA 1000

/* Handles one of the command's own options (code >= REPLAY_ARGS_EXTRA).
 * Returns 0, or -1 with a message for the usage error in err. */
typedef int (*replay_args_extra_fn)(void *ud, int code, const char *arg, char *err, size_t errlen);

typedef struct replay_args {
    replay_opts o;            /* ready for replay_run once parsed */
    const char **headers;     /* owned array; strings in argv */
    const char **eopts;
    char *cmdline, *engine_cfg;
    cJSON *ecfg;
    base_url burl;
    int shard_auto;           /* --shard auto: the shard came from launcher */
    launcher_shard launcher;
    strbuf shard_out;         /* DIR/shard-K-of-N */
    char *shard_trace;        /* TRACE with {k} and {n} replaced */
} replay_args;

/* Parses argv (argv[0] the command's name) into a: replay's options, the
 * command's own (extra, may be NULL: a table ended by a zero entry, codes
 * from REPLAY_ARGS_EXTRA up, handled by fn with ud), one TRACE and --out.
 * Returns 1 when the command should go on, or 0 with *rc its exit code:
 * EXIT_OK after --help (printed), EXIT_USAGE after a usage error (printed
 * with the usage line). Free a with replay_args_free either way. */
int replay_args_parse(replay_args *a, const char *cmd, const char *usage, const char *help,
                      const struct option *extra, replay_args_extra_fn fn, void *ud,
                      int argc, char **argv, int *rc);

/* Frees what a owns. */
void replay_args_free(replay_args *a);

#endif
