/* test_shard.c — the shard rule both replay and `trace split` use
 * (traces/shard.h) and the shard identity `--shard auto` reads from a
 * launcher's environment (replay/launcher.h). */
#include "unit.h"
#include "replay/launcher.h"
#include "traces/shard.h"

#include <stdlib.h>

static const char *const launcher_vars[] = {
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "PMIX_RANK",
    "SLURM_PROCID", "SLURM_NTASKS", "JOB_COMPLETION_INDEX",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof launcher_vars / sizeof launcher_vars[0]; i++) unsetenv(launcher_vars[i]);
}

TEST(shard_rule_keeps_sessions_together_and_spreads_the_rest)
{
    trace_rec r;
    memset(&r, 0, sizeof r);
    int per[4] = { 0 };
    for (uint64_t i = 0; i < 400; i++) per[trace_shard_of(&r, i, 4)]++;
    for (int k = 0; k < 4; k++) CHECK_INT(per[k], 100);     /* round-robin by index */
    CHECK_INT(trace_shard_of(&r, 5, 1), 0);
    r.session = "conv-17";
    int s = trace_shard_of(&r, 0, 4);
    for (uint64_t i = 1; i < 50; i++) CHECK_INT(trace_shard_of(&r, i, 4), s); /* the index no longer matters */
    int spread[8] = { 0 };
    char id[32];
    for (int i = 0; i < 800; i++) {
        snprintf(id, sizeof id, "s%d", i);
        r.session = id;
        spread[trace_shard_of(&r, 0, 8)]++;
    }
    for (int k = 0; k < 8; k++) CHECK(spread[k] > 60 && spread[k] < 140); /* about 100 each */
}

TEST(shard_split_header_is_checked)
{
    int k, n;
    cJSON *h = cJSON_Parse("{\"split\":{\"shard\":2,\"shards\":4}}");
    CHECK_INT(trace_header_split(h, &k, &n), 1);
    CHECK_INT(k, 2);
    CHECK_INT(n, 4);
    cJSON_Delete(h);
    const char *bad[] = { "{\"split\":{\"shard\":5,\"shards\":4}}", "{\"split\":{\"shard\":0,\"shards\":4}}",
                          "{\"split\":{\"shard\":1.5,\"shards\":4}}", "{\"split\":{\"shards\":4}}",
                          "{\"split\":\"1/4\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = cJSON_Parse(bad[i]);
        CHECK_INT(trace_header_split(h, &k, &n), -1);
        cJSON_Delete(h);
    }
    h = cJSON_Parse("{}");
    CHECK_INT(trace_header_split(h, &k, &n), 0);
    cJSON_Delete(h);
}

TEST(launcher_reads_each_launcher)
{
    launcher_shard ls;
    char err[256];
    clear_env();
    CHECK_INT(launcher_detect(0, &ls, err, sizeof err), -1);
    CHECK_CONTAINS(err, "no launcher found");
    setenv("OMPI_COMM_WORLD_RANK", "2", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    setenv("PMIX_RANK", "2", 1);
    REQUIRE(launcher_detect(0, &ls, err, sizeof err) == 0);
    CHECK_INT(ls.k, 3);
    CHECK_INT(ls.n, 4);
    CHECK_INT(ls.mpi, 1);
    clear_env();
    setenv("SLURM_PROCID", "0", 1);
    setenv("SLURM_NTASKS", "8", 1);
    REQUIRE(launcher_detect(0, &ls, err, sizeof err) == 0);
    CHECK_INT(ls.k, 1);
    CHECK_INT(ls.n, 8);
    CHECK_INT(ls.mpi, 0);
    clear_env();
    setenv("JOB_COMPLETION_INDEX", "3", 1);
    CHECK_INT(launcher_detect(0, &ls, err, sizeof err), -1);
    CHECK_CONTAINS(err, "--shards N");
    REQUIRE(launcher_detect(4, &ls, err, sizeof err) == 0);
    CHECK_INT(ls.k, 4);
    CHECK_INT(ls.n, 4);
    CHECK_STR(ls.source, "JOB_COMPLETION_INDEX=3");
    clear_env();
}

TEST(launcher_prefers_mpi_and_refuses_disagreement)
{
    launcher_shard ls;
    char err[256];
    clear_env();
    /* mpirun inside a Slurm allocation: SLURM_PROCID is the launcher's step. */
    setenv("OMPI_COMM_WORLD_RANK", "3", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    setenv("SLURM_PROCID", "0", 1);
    setenv("SLURM_NTASKS", "1", 1);
    REQUIRE(launcher_detect(0, &ls, err, sizeof err) == 0);
    CHECK_INT(ls.k, 4);
    CHECK_CONTAINS(ls.source, "SLURM_PROCID ignored");
    setenv("PMIX_RANK", "1", 1);                      /* within the MPI group: must agree */
    CHECK_INT(launcher_detect(0, &ls, err, sizeof err), -1);
    CHECK_CONTAINS(err, "disagree");
    unsetenv("PMIX_RANK");
    CHECK_INT(launcher_detect(3, &ls, err, sizeof err), -1);  /* --shards 3 vs size 4 */
    CHECK_CONTAINS(err, "--shards 3 disagrees");
    setenv("OMPI_COMM_WORLD_RANK", "x1", 1);
    CHECK_INT(launcher_detect(0, &ls, err, sizeof err), -1);
    CHECK_CONTAINS(err, "OMPI_COMM_WORLD_RANK='x1'");
    setenv("OMPI_COMM_WORLD_RANK", "4", 1);
    CHECK_INT(launcher_detect(0, &ls, err, sizeof err), -1);
    CHECK_CONTAINS(err, "not below");
    clear_env();
}
