/* cmd_replay.c — `sagellm-bench replay TRACE --client C --url URL --out DIR`. */
#include "cli/mpi_sync.h"
#include "cli/replay_args.h"

#include <pthread.h>
#include <signal.h>

#define U_REPLAY "sagellm-bench replay TRACE --client gateway|vllm|lmdeploy|sagellm (--url URL | --engine SPEC) --out DIR [options]"

static const char replay_help[] =
    "Sends every request of TRACE at its trace time (open loop) and records\n"
    "what happened: DIR/requests.jsonl, DIR/summary.json, DIR/run.json.\n\n"
    REPLAY_ARGS_HELP
    "exit codes: 0 all requests succeeded; 1 some failed (beyond --max-error-rate);\n"
    "2 usage; 3 bad trace; 4 system error; 5 interrupted (files complete).\n";

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

/* replay_run; started by an MPI launcher (--shard auto), between MPI's
 * start barrier and end gather (cli/mpi_sync.c). */
static int replay_maybe_mpi(replay_args *a)
{
    replay_sync sync;
    char err[600];
    int mpi = 0;
    if (a->shard_auto && a->launcher.mpi) {
        block_signals(); /* before MPI starts its threads: they must not take SIGINT */
        if ((mpi = mpi_sync_begin(&a->launcher, a->o.slo, &sync, err, sizeof err)) < 0) {
            msg_err("%s", err);
            return EXIT_SYSTEM;
        }
        if (mpi) a->o.sync = &sync;
    }
    int rc = replay_run(&a->o);
    if (mpi) mpi_sync_end();
    a->o.sync = NULL;
    return rc;
}

static int run_replay(int argc, char **argv)
{
    replay_args a;
    int rc;
    if (replay_args_parse(&a, "replay", U_REPLAY, replay_help, NULL, NULL, NULL, argc, argv, &rc))
        rc = replay_maybe_mpi(&a);
    replay_args_free(&a);
    return rc;
}

const cli_cmd cmd_replay = {
    "replay", "replay a trace against a server, with its original timing",
    U_REPLAY, replay_help, run_replay,
};
