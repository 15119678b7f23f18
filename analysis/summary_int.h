/* summary_int.h — the accumulator behind analysis/summary.h, shared by
 * summary.c (decoding and adding records, computing the figures) and
 * summary_pack.c (merging, packing and unpacking). Not for other modules. */
#ifndef SAGELLM_SUMMARY_INT_H
#define SAGELLM_SUMMARY_INT_H

#include "analysis/summary.h"
#include "analysis/valset.h"

enum { SUM_ENG_TTFT, SUM_ENG_TPOT, SUM_ENG_QUEUE, SUM_ENG_PREFILL, SUM_ENG_DECODE, SUM_ENG_N };

typedef struct ivec {
    int64_t *v;
    size_t n, cap;
} ivec;

typedef struct err_count {
    char *cls;
    uint64_t n;
} err_count;

/* What is accumulated for one set of requests: the whole run (and, when
 * grouping is added, one per group). Latencies are in ns. */
typedef struct acc {
    uint64_t completed, failed, good;
    valset ttft, tpot, itl, e2el, lag;
    ivec sends, ends;          /* [t_send, t_end) of measured requests with both */
    int64_t first_send, last_send;  /* over requests with a t_send (achieved rate) */
    uint64_t nsend;
    int64_t dur_start, dur_end;     /* over requests with both times (duration) */
    uint64_t in_tokens, out_tokens;
    uint64_t tok_usage, tok_chunks;       /* token_source of completed requests */
    uint64_t basis_tokens, basis_chunk;   /* itl_basis of completed requests */
    uint64_t in_server, in_trace, in_none; /* where total_input_tokens came from */
    uint64_t forced, short_out;           /* forced output lengths, and those not met */
    uint64_t short_missing;               /* tokens the short ones lacked */
    valset eng[SUM_ENG_N];                /* the engine view, ns */
    uint64_t eng_reqs;
    err_count *errs;
    size_t nerr;
    int hist;                             /* 1: the value sets are histograms */
    uint64_t kept;                        /* values kept one by one (exact mode) */
} acc;

/* The value sets of an accumulator, in a fixed order (folding, merging,
 * packing). */
#define ACC_SETS (5 + SUM_ENG_N)

struct summary {
    summary_opts o;
    acc all;
    uint64_t records, warmup;
    char err[320];
};

/* Appends x to a, doubling the capacity when full (allocation aborts on failure). */
void summary_iv_push(ivec *a, int64_t x);
/* Value set i (0 <= i < ACC_SETS) of a. */
valset *summary_acc_set(const acc *a, int i);
/* Counts n failures of class cls (copied). */
void summary_count_error(acc *a, const char *cls, uint64_t n);
/* The cap on values kept one by one in auto mode. */
uint64_t summary_cap_of(const summary_opts *o);
/* Turns every value set of a into a histogram, for good. */
void summary_acc_fold(acc *a);

#endif
