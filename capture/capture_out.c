/* capture_out.c — see capture_out.h. Tickets form a list sorted by
 * arrival (a new ticket is nearly always the latest, so insertion walks
 * back from the tail a step or two). */
#include "capture/capture_out.h"
#include "common/list.h"
#include "common/rng.h"
#include "common/util.h"
#include "traces/trace_io.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capture_ticket {
    list_link(capture_ticket) link;  /* the window, by time */
    int64_t t;
    capture_force_fn force;
    void *owner;
    char *rec;                 /* the record text once completed */
    size_t len;
    int done;
    int has_facts;
    sess_facts facts;
};

struct capture_out {
    capture_out_opts o;
    char *path;
    cJSON *header;
    rng rng;
    list_head(capture_ticket) win;  /* open and finished tickets, by time (through link) */
    uint64_t open;
    trace_writer *tw;
    int64_t t0_us, last_t_us;
    uint64_t part, ids;
    int failed, busy, closed;
    strbuf line;
    sessionizer *sess;         /* NULL with no_sessions */
    capture_out_stats st;
    char err[1024];
};

capture_out *capture_out_new(const capture_out_opts *o, char *err, size_t errlen)
{
    if (!o->sink && !o->path) {
        errf(err, errlen, "no output given");
        return NULL;
    }
    if (!o->sink && o->rotate_bytes && !strcmp(o->path, "-")) {
        errf(err, errlen, "--rotate-mb needs an output file, not standard output");
        return NULL;
    }
    if (!(o->sample > 0 && o->sample <= 1)) {
        errf(err, errlen, "the sampling probability must be in (0, 1], got %g", o->sample);
        return NULL;
    }
    capture_out *w = xcalloc(1, sizeof *w);
    w->o = *o;
    if (!w->o.window_ns) w->o.window_ns = 600LL * 1000000000;
    if (!w->o.window_bytes) w->o.window_bytes = (size_t)256 << 20;
    w->path = o->path ? xstrdup(o->path) : NULL;
    w->o.path = w->path;
    w->header = o->header ? cJSON_Duplicate(o->header, 1) : trace_header_new("capture");
    w->o.header = NULL;
    rng_seed2(&w->rng, o->seed, 0x5a3d1eULL);
    if (!o->no_sessions) w->sess = sessionizer_new(o->max_sessions);
    return w;
}

const capture_out_stats *capture_out_get_stats(const capture_out *w) { return &w->st; }
const char *capture_out_error(const capture_out *w) { return w->err; }
uint64_t capture_out_open(const capture_out *w) { return w->open; }

int capture_out_done(const capture_out *w)
{
    return w->o.max_requests && w->st.reserved >= w->o.max_requests && !w->win.first;
}

capture_ticket *capture_out_reserve(capture_out *w, int64_t t, capture_force_fn force, void *owner)
{
    if (w->o.max_requests && w->st.reserved >= w->o.max_requests) {
        w->st.over_max++;
        return NULL;
    }
    if (w->o.sample < 1 && rng_uniform(&w->rng) >= w->o.sample) {
        w->st.sampled_out++;
        return NULL;
    }
    capture_ticket *k = xcalloc(1, sizeof *k);
    k->t = t;
    k->force = force;
    k->owner = owner;
    capture_ticket *p = w->win.last;
    for (int i = 0; p && p->t > t && i < 1 << 20; i++) p = p->link.prev;
    list_insert_after(&w->win, p, k, link);
    w->st.reserved++;
    w->open++;
    return k;
}

/* PATH for part n: "BASE-0001.jsonl.zst" from "BASE.jsonl.zst". */
static char *part_path(const char *path, uint64_t n)
{
    static const char *const exts[] = { ".jsonl.zst", ".jsonl", ".zst", NULL };
    size_t len = strlen(path), cut = len;
    for (int i = 0; exts[i]; i++) {
        size_t e = strlen(exts[i]);
        if (len > e && !strcmp(path + len - e, exts[i])) {
            cut = len - e;
            break;
        }
    }
    strbuf b = {0};
    sb_add(&b, path, cut);
    sb_printf(&b, "-%04" PRIu64 "%s", n, path + cut);
    return b.buf;
}

static int open_file(capture_out *w, int64_t t_ns)
{
    cJSON *h = cJSON_Duplicate(w->header, 1);
    char iso[64];
    if (t_ns >= 0) {
        fmt_iso8601(t_ns, iso, sizeof iso);
        cJSON_DeleteItemFromObjectCaseSensitive(h, "t0");
        cJSON_AddStringToObject(h, "t0", iso);
    }
    char *p = w->o.rotate_bytes ? part_path(w->path, w->part + 1) : xstrdup(w->path);
    if (w->o.rotate_bytes) {
        cJSON_DeleteItemFromObjectCaseSensitive(h, "part");
        cJSON_AddNumberToObject(h, "part", (double)(w->part + 1));
    }
    w->tw = trace_writer_open(p, h, w->o.level, w->err, sizeof w->err);
    cJSON_Delete(h);
    free(p);
    if (!w->tw) {
        w->failed = 1;
        return ERR_SYSTEM;
    }
    w->part++;
    w->t0_us = t_ns >= 0 ? t_ns / 1000 : 0;
    w->last_t_us = 0;
    return 0;
}

static int close_file(capture_out *w)
{
    if (!w->tw) return 0;
    w->st.bytes_out += trace_writer_bytes_out(w->tw);
    int rc = trace_writer_close(w->tw, w->err, sizeof w->err);
    w->tw = NULL;
    if (rc) w->failed = 1;
    else w->st.files++;
    return rc;
}

static int write_one(capture_out *w, capture_ticket *k)
{
    if (w->failed) return ERR_SYSTEM;
    int64_t t_us;
    if (w->o.sink) {
        if (!w->st.written) w->t0_us = k->t / 1000;
    } else if (!w->tw && open_file(w, k->t)) {
        return ERR_SYSTEM;
    }
    t_us = k->t / 1000 - w->t0_us;
    if (t_us < w->last_t_us) {
        t_us = w->last_t_us;
        w->st.clamped++;
    }
    w->last_t_us = t_us;
    sb_clear(&w->line);
    sb_printf(&w->line, "{\"t_us\":%" PRId64 ",\"id\":\"cap-%" PRIu64 "\"", t_us, ++w->ids);
    sess_assign a;
    char id[32];
    snprintf(id, sizeof id, "cap-%" PRIu64, w->ids);
    /* Times in µs of the capture clock, so think times span rotated files. */
    if (w->sess && k->has_facts) {
        if (sessionizer_step(w->sess, &k->facts, id, k->t / 1000, &a)) sess_assign_append(&a, &w->line);
        sessionizer_stats(w->sess, &w->st.sessions);
    }
    sb_add(&w->line, k->rec, k->len);
    int rc;
    if (w->o.sink) {
        rc = w->o.sink(w->o.sink_ud, w->line.buf, w->line.len, t_us);
        if (rc) errf(w->err, sizeof w->err, "the record sink failed");
    } else {
        rc = trace_writer_put_raw(w->tw, w->line.buf, w->line.len, t_us);
        if (rc) snprintf(w->err, sizeof w->err, "%s", trace_writer_error(w->tw));
        else if (w->o.rotate_bytes && trace_writer_bytes_in(w->tw) >= w->o.rotate_bytes)
            rc = close_file(w);
    }
    if (rc) {
        w->failed = 1;
        return ERR_SYSTEM;
    }
    w->st.written++;
    return 0;
}

/* Writes the finished tickets at the head. */
static int emit_ready(capture_out *w)
{
    int rc = 0;
    capture_ticket *k;
    while ((k = w->win.first) && k->done) {
        list_remove(&w->win, k, link);
        if (!rc) rc = write_one(w, k);
        w->st.held_bytes -= k->len;
        free(k->rec);
        free(k);
    }
    return rc;
}

int capture_out_complete(capture_out *w, capture_ticket *k, const char *rec, size_t len,
                         const sess_facts *sf)
{
    if (!k || k->done) return w->failed ? ERR_SYSTEM : 0;
    if (sf) {
        k->facts = *sf;
        k->has_facts = 1;
    }
    k->rec = xmalloc(len + 1);
    memcpy(k->rec, rec, len);
    k->rec[len] = '\0';
    k->len = len;
    k->done = 1;
    w->open--;
    w->st.held_bytes += len;
    if (w->st.held_bytes > w->st.peak_held_bytes) w->st.peak_held_bytes = w->st.held_bytes;
    if (w->busy) return 0;
    return emit_ready(w);
}

void capture_out_cancel(capture_out *w, capture_ticket *k)
{
    if (!k) return;
    if (!k->done) w->open--;
    w->st.held_bytes -= k->len;
    list_remove(&w->win, k, link);
    free(k->rec);
    free(k);
    w->st.cancelled++;
    if (!w->busy) emit_ready(w);
}

/* Forces open tickets at the head while the window says so (all when
 * everything must go). Owners complete or cancel them synchronously. */
static void force_head(capture_out *w, int64_t now, int all)
{
    w->busy = 1;
    capture_ticket *k;
    for (uint64_t guard = 0; (k = w->win.first) && guard < (1ULL << 40); guard++) {
        if (k->done) {
            emit_ready(w);
            continue;
        }
        if (!all && now - k->t < w->o.window_ns && w->st.held_bytes <= w->o.window_bytes) break;
        w->st.forced++;
        k->force(k->owner, k);
        if (w->win.first == k && !k->done) capture_out_cancel(w, k);  /* an owner that did neither */
    }
    w->busy = 0;
}

int capture_out_tick(capture_out *w, int64_t now)
{
    force_head(w, now, 0);
    int rc = emit_ready(w);
    return rc ? rc : w->failed ? ERR_SYSTEM : 0;
}

int capture_out_close(capture_out *w, char *err, size_t errlen)
{
    force_head(w, 0, 1);
    int rc = emit_ready(w);
    if (!w->failed && !w->o.sink && !w->tw && !w->st.written && open_file(w, -1)) rc = ERR_SYSTEM;
    if (close_file(w)) rc = ERR_SYSTEM;
    if (w->failed) rc = ERR_SYSTEM;
    if (rc) errf(err, errlen, "%s", w->err[0] ? w->err : "writing the trace failed");
    w->closed = 1;
    return rc;
}

void capture_out_free(capture_out *w)
{
    if (!w) return;
    if (w->tw) trace_writer_abort(w->tw);
    while (w->win.first) {
        capture_ticket *k = w->win.first;
        list_remove(&w->win, k, link);
        free(k->rec);
        free(k);
    }
    cJSON_Delete(w->header);
    sessionizer_free(w->sess);
    sb_free(&w->line);
    free(w->path);
    free(w);
}
