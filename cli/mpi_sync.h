/* mpi_sync.h — the start barrier and end gather of a replay launched by
 * MPI (cli/mpi_sync.c; real only in an MPI build, `make MPI=1`). */
#ifndef SAGELLM_MPI_SYNC_H
#define SAGELLM_MPI_SYNC_H

#include <stddef.h>

#include "replay/launcher.h"
#include "replay/replay.h"

/* For a process an MPI launcher started (ls->mpi): initialises MPI, checks
 * that its rank and size are ls's, and fills sync. slo: replay's --slo (the
 * merged summary's SLOs), or NULL. Returns 1 (sync set: call mpi_sync_end
 * after the run), 0 (a build without MPI: a notice is printed, no sync),
 * or -1 with err. */
int mpi_sync_begin(const launcher_shard *ls, const char *slo, replay_sync *sync, char *err,
                   size_t errlen);

/* MPI_Finalize (nothing without MPI). */
void mpi_sync_end(void);

#endif
