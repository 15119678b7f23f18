/* synth.h — the trace synthesiser: length-only records from an arrival
 * process and length distributions (dist.h), optionally as multi-turn
 * sessions and with shared system-prompt prefixes described by hash ids.
 *
 * Model (docs/trace-synth.md):
 *  - The arrival process (rate R per second) gives the start of each session;
 *    without --sessions every session is one request, so R is the request
 *    rate. The first arrival is at t_us 0. No record starts at or after the
 *    duration: turns that would are dropped (the session is cut short).
 *  - A session has TURNS turns (sessions dist, at least 1), numbered from 0.
 *    Turn 0's input is the prefix (when prefixes are on) plus `input` new
 *    tokens; turn k's input is turn k-1's input + its output + `input` new
 *    tokens. Turn k arrives `think` after turn k-1's arrival; think is also
 *    its think_us (which dependent-session replay counts from the previous
 *    turn's completion instead).
 *  - Hash ids (Mooncake-style, one id per block_size tokens, the last block
 *    possibly partial, len == ceil(input_tokens / block_size)) are written
 *    when prefixes or sessions are on. A prefix group's full blocks have the
 *    same ids in every request of the group; turn k reuses the ids of turn
 *    k-1's full input blocks; every other block gets a new id.
 *  - Each session draws from its own random stream (seed, session number),
 *    so the same seed gives the same records, byte for byte.
 * Records are produced sorted by t_us; memory is bounded by the number of
 * sessions in progress at once, not by the trace's length. */
#ifndef SAGELLM_SYNTH_H
#define SAGELLM_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct synth_opts {
    int64_t duration_us;      /* > 0: no record at or after this offset */
    double rate;              /* session starts (= requests without sessions) per second */
    const char *arrival;      /* "poisson" (NULL), "gamma:CV", "constant" */
    const char *input;        /* DIST of new input tokens per request/turn */
    const char *output;       /* DIST of output tokens */
    const char *sessions;     /* DIST of turns per session, or NULL (single requests) */
    const char *think;        /* DIST of durations between turns (NULL: SYNTH_DEFAULT_THINK) */
    int64_t prefix_tokens;    /* shared prefix length (0: none) */
    int64_t prefix_groups;    /* number of distinct prefixes (>= 1 with prefix_tokens) */
    int64_t block_size;       /* hash block size (SYNTH_DEFAULT_BLOCK) */
    const char *api;          /* record api ("chat") */
    const char *model;        /* record model, or NULL for none */
    uint64_t seed;
    int64_t max_records;      /* stop after this many records (0: no limit) */
} synth_opts;

#define SYNTH_DEFAULT_BLOCK 512
#define SYNTH_DEFAULT_THINK "exponential:10s"
#define SYNTH_DEFAULT_SEED 1

typedef struct synth_stats {
    uint64_t records, sessions, sessions_cut, max_active;
} synth_stats;

typedef struct synth synth;

/* Fills o with the defaults (poisson, chat, block 512, seed 1, no limits);
 * the caller then sets duration, rate, input and output at least. */
void synth_opts_init(synth_opts *o);

/* Validates o and parses its distributions into a new generator *out (the
 * caller frees it with synth_free). o's strings are copied. Returns 0,
 * ERR_USAGE for a bad option or DIST spec, ERR_INPUT/ERR_SYSTEM for an
 * empirical file that is malformed/unreadable; err says which option and
 * what was expected. */
int synth_new(const synth_opts *o, synth **out, char *err, size_t errlen);

/* The trace header (source "synth", every parameter and the seed), owned
 * by s. */
const cJSON *synth_header(const synth *s);

/* Produces the next record as one JSON line (no newline) in *line, *len,
 * valid until the next call, with its t_us. Returns 1, or 0 at the end. */
int synth_next(synth *s, const char **line, size_t *len, int64_t *t_us);

/* Counts so far. */
void synth_get_stats(const synth *s, synth_stats *st);

/* Writes the whole trace to path (trace_writer_open's level rule: < 0 picks
 * zstd for ".zst"). Returns 0 or a negative error with err filled. */
int synth_write(synth *s, const char *path, int level, char *err, size_t errlen);

/* Frees s; synth_free(NULL) is a no-op. */
void synth_free(synth *s);

#endif
