/* launcher.h — `replay --shard auto`: which shard this process is, from the
 * environment a cluster launcher gives each process it starts.
 *
 * Looked for, in this order of precedence:
 *   MPI   Open MPI's OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE, MPICH/Hydra's
 *         PMI_RANK/PMI_SIZE, PMIx's PMIX_RANK (its size from another of
 *         these or --shards);
 *   Slurm SLURM_PROCID/SLURM_NTASKS (srun, one task per shard);
 *   Kubernetes an Indexed Job's JOB_COMPLETION_INDEX, with --shards N.
 * Every variable found of the tier used must agree (and with --shards N);
 * a lower tier is ignored when a higher one is found, and the description
 * says so: `mpirun` inside a Slurm allocation leaves SLURM_PROCID of the
 * launcher's step in each rank's environment. Ranks and indexes are
 * 0-based; shards are 1-based (rank r is shard r + 1). */
#ifndef SAGELLM_LAUNCHER_H
#define SAGELLM_LAUNCHER_H

#include <stddef.h>

typedef struct launcher_shard {
    int k, n;            /* shard K of N, 1 <= K <= N */
    int mpi;             /* 1: an MPI launcher started this process */
    char source[200];    /* e.g. "OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=4" */
} launcher_shard;

/* Reads the environment. shards: --shards N (0 when not given). Returns 0
 * with *out filled, or -1 with a one-line message in err: no launcher
 * found, a malformed value, or values that disagree. */
int launcher_detect(int shards, launcher_shard *out, char *err, size_t errlen);

#endif
