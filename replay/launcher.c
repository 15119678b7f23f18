/* launcher.c — see launcher.h. */
#include "replay/launcher.h"
#include "common/parse.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One rank/size pair a launcher may set. size NULL: the launcher gives
 * only the rank. */
typedef struct env_pair {
    const char *rank, *size;
    int tier;            /* 0 MPI, 1 Slurm, 2 Kubernetes */
} env_pair;

static const env_pair pairs[] = {
    { "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", 0 },
    { "PMI_RANK", "PMI_SIZE", 0 },
    { "PMIX_RANK", NULL, 0 },
    { "SLURM_PROCID", "SLURM_NTASKS", 1 },
    { "JOB_COMPLETION_INDEX", NULL, 2 },
};
static const char *const tier_name[] = { "MPI", "Slurm", "Kubernetes" };

/* A non-negative integer from the environment: 1 found, 0 unset, -1 bad. */
static int env_int(const char *name, int64_t *v, char *err, size_t errlen)
{
    const char *s = getenv(name);
    if (!s) return 0;
    if (parse_i64(s, v) < 0 || *v < 0 || *v > 1000000) {
        errf(err, errlen, "--shard auto: %s='%s' is not a rank (a non-negative integer)", name, s);
        return -1;
    }
    return 1;
}

/* Rank and size of one tier: -1 when absent; returns -1 on a bad or
 * disagreeing value. */
static int read_tier(int tier, int64_t *rank, int64_t *size, char *desc, size_t dlen,
                     char *err, size_t errlen)
{
    *rank = *size = -1;
    size_t dn = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (pairs[i].tier != tier) continue;
        int64_t r, s = -1;
        int got = env_int(pairs[i].rank, &r, err, errlen);
        if (got < 0) return -1;
        if (!got) continue;
        if (pairs[i].size && env_int(pairs[i].size, &s, err, errlen) < 0) return -1;
        if ((*rank >= 0 && r != *rank) || (s >= 0 && *size >= 0 && s != *size)) {
            errf(err, errlen, "--shard auto: the %s launcher's variables disagree: %s=%lld but "
                 "earlier %s", tier_name[tier], pairs[i].rank, (long long)r, desc);
            return -1;
        }
        *rank = r;
        if (s >= 0) *size = s;
        dn += (size_t)snprintf(desc + dn, dn < dlen ? dlen - dn : 0, "%s%s=%lld", dn ? ", " : "",
                               pairs[i].rank, (long long)r);
        if (s >= 0) dn += (size_t)snprintf(desc + dn, dn < dlen ? dlen - dn : 0, ", %s=%lld",
                                           pairs[i].size, (long long)s);
    }
    return 0;
}

int launcher_detect(int shards, launcher_shard *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (int tier = 0; tier < 3; tier++) {
        int64_t rank, size;
        char desc[sizeof out->source] = "";
        if (read_tier(tier, &rank, &size, desc, sizeof desc, err, errlen)) return -1;
        if (rank < 0) continue;
        if (size < 0) size = shards;
        if (size <= 0) {
            errf(err, errlen, "--shard auto: %s gives this process's index but not how many "
                 "there are: add --shards N", desc);
            return -1;
        }
        if (shards > 0 && shards != size) {
            errf(err, errlen, "--shard auto: --shards %d disagrees with the launcher (%s)", shards, desc);
            return -1;
        }
        if (rank >= size) {
            errf(err, errlen, "--shard auto: rank %lld is not below the number of shards %lld (%s)",
                 (long long)rank, (long long)size, desc);
            return -1;
        }
        out->k = (int)rank + 1;
        out->n = (int)size;
        out->mpi = tier == 0;
        int n = snprintf(out->source, sizeof out->source, "%s", desc);
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
            if (pairs[i].tier > tier && getenv(pairs[i].rank) && n >= 0 && (size_t)n < sizeof out->source)
                n += snprintf(out->source + n, sizeof out->source - (size_t)n, "; %s ignored", pairs[i].rank);
        return 0;
    }
    errf(err, errlen, "--shard auto: no launcher found (none of OMPI_COMM_WORLD_RANK, PMI_RANK, "
         "PMIX_RANK, SLURM_PROCID, JOB_COMPLETION_INDEX is set); use --shard K/N");
    return -1;
}
