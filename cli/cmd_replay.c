/* cmd_replay.c — `sagellm-bench replay TRACE --client C --url URL --out DIR`. */
#include "cli/replay_args.h"

#define U_REPLAY "sagellm-bench replay TRACE --client gateway|vllm|lmdeploy|sagellm (--url URL | --engine SPEC) --out DIR [options]"

static const char replay_help[] =
    "Sends every request of TRACE at its trace time (open loop) and records\n"
    "what happened: DIR/requests.jsonl, DIR/summary.json, DIR/run.json.\n\n"
    REPLAY_ARGS_HELP
    "exit codes: 0 all requests succeeded; 1 some failed (beyond --max-error-rate);\n"
    "2 usage; 3 bad trace; 4 system error; 5 interrupted (files complete).\n";

static int run_replay(int argc, char **argv)
{
    replay_args a;
    int rc;
    if (replay_args_parse(&a, "replay", U_REPLAY, replay_help, NULL, NULL, NULL, argc, argv, &rc))
        rc = replay_run(&a.o);
    replay_args_free(&a);
    return rc;
}

const cli_cmd cmd_replay = {
    "replay", "replay a trace against a server, with its original timing",
    U_REPLAY, replay_help, run_replay,
};
