/* mpi_sync.c — the start barrier and the end gather of a sharded replay
 * launched by MPI (`make MPI=1`; docs/scale-out.md). Without SAGELLM_MPI
 * the build has no MPI: mpi_sync_begin says so when a launcher asks for it.
 *
 * Start. Each rank first measures its clock's offset to rank 0 (the
 * smallest-round-trip of 8 ping-pongs, Cristian's method), then all meet at
 * MPI_Barrier; each takes its exit time and starts SYNC_DELAY later on its
 * own CLOCK_MONOTONIC. So the start skew is the barrier's exit spread, and
 * no agreement of the hosts' clocks is needed. To measure that spread the
 * ranks exchange their exit times (CLOCK_REALTIME, corrected by the offset
 * to rank 0) with MPI_Allgather within the delay; every rank records the
 * spread, its offset and the round trip in run.json's "start_sync". A rank
 * that failed before its start (ready 0) makes every rank give up: the
 * MPI_Allreduce of readiness comes before the barrier.
 *
 * End. Rank 0 gathers every rank's packed summary (summary_pack) with
 * MPI_Gatherv, merges them (summary_merge) and prints the merged table;
 * the other ranks print none. Threads: only the thread that runs
 * replay_run calls MPI (MPI_THREAD_FUNNELED). */
#include "cli/mpi_sync.h"
#include "analysis/runlog.h"
#include "analysis/summary.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SAGELLM_MPI
#include <mpi.h>

#define SYNC_DELAY_NS 200000000LL /* 200 ms from the barrier to the start */
#define PINGS 8

typedef struct mpi_state {
    int rank, size;
    summary_opts so;
} mpi_state;

static mpi_state st;

/* This rank's clock offset to rank 0 (add it to a local time to get rank
 * 0's) and the round trip it was measured with, in ns. */
static void clock_offset(int64_t *offset, int64_t *rtt)
{
    *offset = 0;
    *rtt = 0;
    for (int peer = 1; peer < st.size; peer++) {
        if (st.rank != 0 && st.rank != peer) continue;
        int64_t best = INT64_MAX;
        for (int i = 0; i < PINGS; i++) {
            int64_t t[2];
            if (st.rank == 0) {
                int64_t dummy;
                MPI_Recv(&dummy, 1, MPI_INT64_T, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                t[0] = now_real_ns();
                MPI_Send(t, 1, MPI_INT64_T, peer, 2, MPI_COMM_WORLD);
                continue;
            }
            int64_t a = now_real_ns();
            MPI_Send(&a, 1, MPI_INT64_T, 0, 1, MPI_COMM_WORLD);
            MPI_Recv(&t[1], 1, MPI_INT64_T, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            int64_t b = now_real_ns();
            if (b - a < best) {
                best = b - a;
                *offset = t[1] - (a + (b - a) / 2);
                *rtt = b - a;
            }
        }
    }
}

static int sync_start(void *ud, int ready, int64_t *t0_mono, cJSON *info, char *err, size_t errlen)
{
    int all_ready = 0;
    MPI_Allreduce(&ready, &all_ready, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ready) {
        errf(err, errlen, "another shard could not start (its own message says why); no shard sends");
        return -1;
    }
    int64_t offset, rtt;
    clock_offset(&offset, &rtt);
    MPI_Barrier(MPI_COMM_WORLD);
    int64_t exit_mono = now_mono_ns(), exit_real = now_real_ns() + offset;
    *t0_mono = exit_mono + SYNC_DELAY_NS;
    int64_t *all = xcalloc((size_t)st.size, sizeof *all);
    MPI_Allgather(&exit_real, 1, MPI_INT64_T, all, 1, MPI_INT64_T, MPI_COMM_WORLD);
    int64_t lo = all[0], hi = all[0];
    for (int i = 1; i < st.size; i++) {
        if (all[i] < lo) lo = all[i];
        if (all[i] > hi) hi = all[i];
    }
    free(all);
    cJSON_AddStringToObject(info, "method", "mpi-barrier");
    cJSON_AddNumberToObject(info, "rank", st.rank);
    cJSON_AddNumberToObject(info, "ranks", st.size);
    cJSON_AddNumberToObject(info, "delay_ms", (double)SYNC_DELAY_NS / 1e6);
    cJSON_AddNumberToObject(info, "barrier_exit_spread_us", (double)(hi - lo) / 1e3);
    cJSON_AddNumberToObject(info, "exit_after_first_us", (double)(exit_real - lo) / 1e3);
    cJSON_AddNumberToObject(info, "clock_offset_to_rank0_us", (double)offset / 1e3);
    cJSON_AddNumberToObject(info, "offset_rtt_us", (double)rtt / 1e3);
    if (*t0_mono <= now_mono_ns()) {
        errf(err, errlen, "the start agreement took longer than its %lld ms delay",
             SYNC_DELAY_NS / 1000000LL);
        return -1;
    }
    return 0;
}

/* Rank 0: unpacks and merges every rank's summary (each packed with its
 * own trace rate; the merge's is their sum); NULL when one is missing. */
static summary *merge_all(const char *buf, const int *lens, const int *offs, const double *rates,
                          char *err, size_t errlen)
{
    summary_opts so = st.so;
    so.trace_rate = 0;
    for (int i = 0; i < st.size; i++) so.trace_rate += rates[i];
    summary *m = summary_new(&so, err, errlen);
    for (int i = 0; m && i < st.size; i++) {
        if (lens[i] == 0) {
            errf(err, errlen, "shard %d/%d has no summary", i + 1, st.size);
            summary_free(m);
            return NULL;
        }
        summary_opts own = st.so;
        own.trace_rate = rates[i];
        summary *s = summary_unpack(buf + offs[i], (size_t)lens[i], &own, err, errlen);
        if (!s || summary_merge(m, s)) {
            if (s) errf(err, errlen, "shard %d/%d: %s", i + 1, st.size, summary_error(m));
            summary_free(s);
            summary_free(m);
            return NULL;
        }
        summary_free(s);
    }
    return m;
}

static int sync_finish(void *ud, const summary *mine, double trace_rate, cJSON **merged)
{
    strbuf p = {0};
    if (mine) summary_pack(mine, &p);
    if (p.len > (size_t)INT32_MAX) sb_clear(&p);
    int len = (int)p.len, *lens = NULL, *offs = NULL;
    double *rates = NULL;
    if (st.rank == 0) {
        lens = xcalloc((size_t)st.size, sizeof *lens);
        offs = xcalloc((size_t)st.size, sizeof *offs);
        rates = xcalloc((size_t)st.size, sizeof *rates);
    }
    MPI_Gather(&trace_rate, 1, MPI_DOUBLE, rates, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
    char *all = NULL;
    if (st.rank == 0) {
        long total = 0;
        for (int i = 0; i < st.size; i++) {
            offs[i] = (int)total;
            total += lens[i];
        }
        if (total > INT32_MAX) total = 0; /* cannot be gathered in one call */
        all = xmalloc((size_t)total + 1);
    }
    MPI_Gatherv(p.buf ? p.buf : "", len, MPI_BYTE, all, lens, offs, MPI_BYTE, 0, MPI_COMM_WORLD);
    sb_free(&p);
    int rc = 0;
    if (st.rank == 0) {
        char err[512];
        summary *m = merge_all(all, lens, offs, rates, err, sizeof err);
        if (m) {
            *merged = summary_json(m);
            summary_free(m);
            rc = 1;
        } else {
            fprintf(stderr, "sagellm-bench replay: cannot merge the shards' summaries: %s; "
                    "`report DIR` merges their logs\n", err);
            rc = -1;
        }
    }
    free(all);
    free(lens);
    free(offs);
    free(rates);
    return rc;
}

int mpi_sync_begin(const launcher_shard *ls, const char *slo, replay_sync *sync, char *err,
                   size_t errlen)
{
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        errf(err, errlen, "MPI_Init_thread failed");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &st.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &st.size);
    if (st.rank != ls->k - 1 || st.size != ls->n) {
        errf(err, errlen, "MPI says rank %d of %d, the environment shard %d/%d (%s)", st.rank,
             st.size, ls->k, ls->n, ls->source);
        MPI_Finalize();
        return -1;
    }
    memset(&st.so, 0, sizeof st.so);
    if (slo && runlog_parse_slo(slo, &st.so, err, errlen)) {
        MPI_Finalize();
        return -1;
    }
    sync->start = sync_start;
    sync->finish = sync_finish;
    sync->ud = &st;
    return 1;
}

void mpi_sync_end(void)
{
    MPI_Finalize();
}

#else /* no MPI in this build */

int mpi_sync_begin(const launcher_shard *ls, const char *slo, replay_sync *sync, char *err,
                   size_t errlen)
{
    fprintf(stderr, "sagellm-bench replay: notice: started by an MPI launcher (%s), but this "
            "build has no MPI (make MPI=1): no start barrier, each shard starts on its own\n",
            ls->source);
    return 0;
}

void mpi_sync_end(void) {}

#endif
