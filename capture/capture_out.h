/* capture_out.h — the captured trace's writer: records leave in arrival
 * order through a bounded reorder window.
 *
 * A request takes a ticket when it arrives (capture_out_reserve) and hands
 * its record in when its exchange ends (capture_out_complete). Records are
 * written once every earlier ticket is done, so a long response delays the
 * ones behind it but never reorders them. The window is bounded in time
 * and in held bytes: when the oldest open ticket is older than window_ns,
 * or the finished records waiting behind it hold more than window_bytes,
 * its owner is asked (the force callback) to complete it now with what is
 * known, marked incomplete "window".
 *
 * Sampling (--sample) and --max-requests are decided at reserve time.
 * Output is trace format v1: the header gets t0 (the first record's
 * arrival, wall clock) and, with rotation, its part number; each rotated
 * file starts again at t_us 0.
 *
 * Not thread-safe: a multi-threaded user serialises every call. */
#ifndef SAGELLM_CAPTURE_OUT_H
#define SAGELLM_CAPTURE_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "traces/sessionize.h"

typedef struct capture_out capture_out;
typedef struct capture_ticket capture_ticket;

/* Called when ticket t must be completed now; the owner calls
 * capture_out_complete (or capture_out_cancel) on t before returning. */
typedef void (*capture_force_fn)(void *owner, capture_ticket *t);

/* Receives each record line instead of a file (tests, fuzzing). */
typedef int (*capture_sink_fn)(void *ud, const char *line, size_t len, int64_t t_us);

typedef struct capture_out_opts {
    const char *path;          /* output trace ("-": stdout); ignored with sink */
    capture_sink_fn sink;
    void *sink_ud;
    const cJSON *header;       /* header to write (copied; t0 and part are added) */
    int level;                 /* zstd level as trace_writer_open takes it (-1: by name) */
    uint64_t rotate_bytes;     /* start a new file after this many bytes (0: never) */
    double sample;             /* probability to keep a request (0 < p <= 1) */
    uint64_t seed;             /* of the sampling */
    uint64_t max_requests;     /* record at most this many (0: no limit) */
    int64_t window_ns;         /* oldest open ticket's age limit (0: 600 s) */
    size_t window_bytes;       /* finished records held behind it (0: 256 MiB) */
    int no_sessions;           /* write no session fields */
    size_t max_sessions;       /* conversations remembered (0: 100000) */
} capture_out_opts;

typedef struct capture_out_stats {
    uint64_t reserved;         /* tickets given */
    uint64_t written;          /* records written */
    uint64_t cancelled;
    uint64_t sampled_out;      /* requests --sample left out */
    uint64_t over_max;         /* requests after --max-requests */
    uint64_t forced;           /* tickets the window forced */
    uint64_t clamped;          /* records whose arrival went back in time (set to the previous) */
    uint64_t files;            /* output files completed */
    uint64_t held_bytes, peak_held_bytes;
    uint64_t bytes_out;        /* bytes written to disk (after compression) */
    sess_stats sessions;       /* the sessionizer's (zero with no_sessions) */
} capture_out_stats;

/* Creates the writer; the file is opened when the first record is written.
 * Returns NULL with err filled when the options are invalid. */
capture_out *capture_out_new(const capture_out_opts *o, char *err, size_t errlen);

/* A place in arrival order for a request that arrived at t (ns, wall
 * clock), or NULL when it is sampled out or past --max-requests. */
capture_ticket *capture_out_reserve(capture_out *w, int64_t t, capture_force_fn force, void *owner);

/* Completes t with a record from cap_exchange_format (copied: the text
 * after "t_us" and "id", starting with ',') and what it says about its
 * conversation (sf, copied; NULL: nothing). Records are written in arrival
 * order, and that is when session, turn, parent and think_us are inferred
 * (sessionize.h) and put after the id. t is freed once written.
 * Returns 0 or ERR_SYSTEM when the output failed. */
int capture_out_complete(capture_out *w, capture_ticket *t, const char *rec, size_t len,
                         const sess_facts *sf);

/* Gives t up: nothing is written for it. */
void capture_out_cancel(capture_out *w, capture_ticket *t);

/* Moves the window to capture time now (forcing tickets older than it)
 * and writes what is ready. Returns 0 or ERR_SYSTEM. */
int capture_out_tick(capture_out *w, int64_t now);

/* 1 when --max-requests records were reserved and all are written. */
int capture_out_done(const capture_out *w);

/* Tickets still open (reserved, not completed). */
uint64_t capture_out_open(const capture_out *w);

/* Counters (owned by the writer, valid until capture_out_free). */
const capture_out_stats *capture_out_get_stats(const capture_out *w);
/* The message of the last output failure ("" when none; owned by w). */
const char *capture_out_error(const capture_out *w);

/* Forces every open ticket, writes everything and finishes the file(s)
 * (an empty capture still makes a file with its header). Returns 0 or an
 * error with err filled. The statistics stay readable until the free. */
int capture_out_close(capture_out *w, char *err, size_t errlen);

/* Frees w; an output not finished by capture_out_close is removed. NULL is
 * a no-op. */
void capture_out_free(capture_out *w);

#endif
