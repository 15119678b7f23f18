/* schedule.c — the reader: streams the trace, applies the window, --first,
 * --shard, --duration and --warmup, turns trace times into schedule times
 * (t_us / speed) and hands each request to its worker (by session when
 * there is one, so a session's turns stay on one worker; round robin
 * otherwise). It runs ahead of the schedule by at most REPLAY_LOOKAHEAD
 * requests per worker, so memory does not grow with the trace. */
#include "replay/replay_int.h"
#include "traces/shard.h"
#include "traces/trace_io.h"
#include "common/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rq_free(rq *q)
{
    if (!q) return;
    trace_rec_clear(&q->rec);
    free(q);
}

/* The filter every pass shares. Returns 1 keep, 0 skip, -1 stop reading.
 * *index gets the record's index in the window (stable across shards). */
typedef struct filt {
    const replay_opts *o;
    uint64_t seen, kept;
    int presplit;   /* the file is already this shard (trace split): keep all */
} filt;

static int filter(filt *f, const trace_rec *rec, uint64_t *index, int64_t *trace_ns, int *warmup)
{
    const replay_opts *o = f->o;
    if (o->from_us >= 0 && rec->t_us < o->from_us) return 0;
    if (o->to_us >= 0 && rec->t_us >= o->to_us) return -1;
    if (o->first >= 0 && (int64_t)f->seen >= o->first) return -1;
    int64_t t = rec->t_us - (o->from_us > 0 ? o->from_us : 0);
    int64_t ns = (int64_t)((double)t * 1000.0 / o->speed);
    if (o->duration_us >= 0 && ns >= o->duration_us * 1000) return -1;
    *index = f->seen++;
    if (f->presplit) {
        int64_t orig = trace_rec_orig_index(rec);
        if (orig >= 0) *index = (uint64_t)orig;
    } else if (trace_shard_of(rec, *index, o->shard_n) != o->shard_k - 1) {
        return 0;
    }
    f->kept++;
    *trace_ns = ns;
    *warmup = (o->warmup_n > 0 && (int64_t)f->kept <= o->warmup_n) ||
              (o->warmup_us > 0 && ns < o->warmup_us * 1000);
    return 1;
}

static void push(run *r, int wi, rq *q)
{
    rq_queue *qu = &r->queues[wi];
    pthread_mutex_lock(&qu->mu);
    while (atomic_load(&qu->pending) >= REPLAY_LOOKAHEAD && !atomic_load(&r->stop))
        pthread_cond_wait(&qu->space, &qu->mu);
    int was_empty = qu->head == NULL;
    if (qu->tail) qu->tail->next = q;
    else qu->head = q;
    qu->tail = q;
    atomic_fetch_add(&qu->pending, 1);
    pthread_mutex_unlock(&qu->mu);
    if (was_empty && r->started) worker_wake(r->workers[wi]);
}

int schedule_check_split(const replay_opts *o, const trace_reader *tr, int *presplit,
                         char *err, size_t errlen)
{
    int k, n, s = trace_header_split(trace_reader_header(tr), &k, &n);
    *presplit = 0;
    if (s < 0) {
        errf(err, errlen, "%s: header: field 'split': expected {\"shard\": K, \"shards\": N} "
             "with 1 <= K <= N", o->trace_path);
        return -1;
    }
    if (s == 0 || o->shard_n <= 1) return 0;
    if (k != o->shard_k || n != o->shard_n) {
        errf(err, errlen, "%s is shard %d of %d (trace split), but this process is shard %d/%d",
             o->trace_path, k, n, o->shard_k, o->shard_n);
        return -1;
    }
    *presplit = 1;
    return 0;
}

void *schedule_reader_main(void *arg)
{
    run *r = arg;
    const replay_opts *o = r->o;
    char err[1024];
    unsigned flags = o->skip_invalid ? TRACE_SKIP_INVALID : 0;
    trace_reader *tr = trace_reader_open(o->trace_path, flags, err, sizeof err);
    if (!tr) {
        snprintf(r->reader_err, sizeof r->reader_err, "%s", err);
        r->reader_rc = strstr(err, "cannot open") ? ERR_SYSTEM : ERR_INPUT;
        goto done;
    }
    filt f = { o, 0, 0, 0 };
    if (schedule_check_split(o, tr, &f.presplit, err, sizeof err)) {
        snprintf(r->reader_err, sizeof r->reader_err, "%s", err);
        r->reader_rc = ERR_USAGE;
        trace_reader_close(tr);
        goto done;
    }
    uint64_t rr = 0;
    trace_rec *rec;
    int rc = 0;      /* stays 0 when a stop comes before the first record */
    int64_t first_ns = -1, last_ns = -1;
    while (!atomic_load(&r->stop) && (rc = trace_reader_next(tr, &rec)) > 0) {
        uint64_t index;
        int64_t ns;
        int warm;
        int k = filter(&f, rec, &index, &ns, &warm);
        if (k < 0) break;
        if (k == 0) continue;
        rq *q = xcalloc(1, sizeof *q);
        trace_rec_move(&q->rec, rec);
        q->index = index;
        q->trace_ns = ns;
        q->t_sched = ns;
        q->warmup = warm;
        if (first_ns < 0) first_ns = ns;
        last_ns = ns;
        int wi = q->rec.session ? (int)(hash_str(q->rec.session) % (uint64_t)r->nworkers)
                                : (int)(rr++ % (uint64_t)r->nworkers);
        atomic_fetch_add(&r->scheduled, 1);
        push(r, wi, q);
    }
    if (rc < 0 && !atomic_load(&r->stop)) {
        snprintf(r->reader_err, sizeof r->reader_err, "%s", trace_reader_error(tr));
        r->reader_rc = rc;
    }
    if (trace_reader_skipped(tr)) {
        atomic_store(&r->bad_records, (long)trace_reader_skipped(tr));
        msg_warn("skipped %llu invalid records (first: %s)",
                 (unsigned long long)trace_reader_skipped(tr), trace_reader_first_skip(tr));
    }
    r->sched_first_ns = first_ns;
    r->sched_last_ns = last_ns;
    long n = atomic_load(&r->scheduled);
    /* As achieved_rate: (n - 1) intervals over the span of the schedule. */
    r->trace_rate = n > 1 && last_ns > first_ns ? (double)(n - 1) / ((double)(last_ns - first_ns) / 1e9) : 0;
    trace_reader_close(tr);
done:
    for (int i = 0; i < r->nworkers; i++) {
        pthread_mutex_lock(&r->queues[i].mu);
        r->queues[i].closed = 1;
        pthread_mutex_unlock(&r->queues[i].mu);
        if (r->started) worker_wake(r->workers[i]);
    }
    atomic_store(&r->reader_done, 1);
    pthread_mutex_lock(&r->start_mu);
    pthread_cond_broadcast(&r->start_cv);
    pthread_mutex_unlock(&r->start_mu);
    return NULL;
}

int schedule_plan(const replay_opts *o, int nworkers, cJSON *plan, char *err, size_t errlen)
{
    unsigned flags = o->skip_invalid ? TRACE_SKIP_INVALID : 0;
    trace_reader *tr = trace_reader_open(o->trace_path, flags, err, errlen);
    if (!tr) return strstr(err, "cannot open") ? ERR_SYSTEM : ERR_INPUT;
    filt f = { o, 0, 0, 0 };
    if (schedule_check_split(o, tr, &f.presplit, err, errlen)) {
        trace_reader_close(tr);
        return ERR_USAGE;
    }
    uint64_t rr = 0, n = 0, warm = 0, with_body = 0, sess_recs = 0;
    int64_t first = -1, last = -1, peak = 0, cur = 0, bin = -1, in_sum = 0, out_sum = 0;
    uint64_t *per = xcalloc((size_t)nworkers, sizeof *per);
    trace_rec *rec;
    int rc;
    while ((rc = trace_reader_next(tr, &rec)) > 0) {
        uint64_t index;
        int64_t ns;
        int w;
        int k = filter(&f, rec, &index, &ns, &w);
        if (k < 0) break;
        if (k == 0) continue;
        n++;
        warm += (uint64_t)w;
        if (first < 0) first = ns;
        last = ns;
        if (ns / 1000000000LL != bin) {
            bin = ns / 1000000000LL;
            cur = 0;
        }
        if (++cur > peak) peak = cur;
        if (rec->body) with_body++;
        if (rec->input_tokens > 0) in_sum += rec->input_tokens;
        if (rec->output_tokens > 0) out_sum += rec->output_tokens;
        int wi = rec->session ? (int)(hash_str(rec->session) % (uint64_t)nworkers)
                              : (int)(rr++ % (uint64_t)nworkers);
        if (rec->session) sess_recs++;
        per[wi]++;
    }
    if (rc < 0) {
        errf(err, errlen, "%s", trace_reader_error(tr));
        trace_reader_close(tr);
        free(per);
        return rc;
    }
    double span = last > first ? (double)(last - first) / 1e9 : 0;
    cJSON_AddNumberToObject(plan, "requests", (double)n);
    cJSON_AddNumberToObject(plan, "warmup_requests", (double)warm);
    cJSON_AddNumberToObject(plan, "first_send_s", first < 0 ? 0 : (double)first / 1e9);
    cJSON_AddNumberToObject(plan, "last_send_s", last < 0 ? 0 : (double)last / 1e9);
    cJSON_AddNumberToObject(plan, "mean_rate", span > 0 ? (double)n / span : 0);
    cJSON_AddNumberToObject(plan, "peak_rate_per_s", (double)peak);
    cJSON_AddNumberToObject(plan, "with_body", (double)with_body);
    cJSON_AddNumberToObject(plan, "session_requests", (double)sess_recs);
    cJSON_AddNumberToObject(plan, "trace_input_tokens", (double)in_sum);
    cJSON_AddNumberToObject(plan, "trace_output_tokens", (double)out_sum);
    cJSON *pw = cJSON_AddArrayToObject(plan, "per_worker");
    for (int i = 0; i < nworkers; i++) cJSON_AddItemToArray(pw, cJSON_CreateNumber((double)per[i]));
    free(per);
    trace_reader_close(tr);
    return 0;
}
