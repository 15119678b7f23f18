/* summary_pack.c — merging summaries and their binary form (summary.h):
 * what lets shards of a run, summarised apart (one per process), become
 * one summary.
 *
 * Layout of summary_pack (little-endian, common/binpack.h):
 *   u32 "SGSM", u32 version 1;
 *   the options: f64 slo_ttft_ms, slo_tpot_ms, slo_e2el_ms, trace_rate,
 *     u32 exact + 1, u64 exact_cap;
 *   u64 records, warmup; the 17 u64 counters of the accumulator (COUNTERS
 *     below, in that order); i64 first_send, last_send;
 *   u8 mode (0 exact, 1 histogram);
 *   u64 n, then n pairs (i64 t_send, i64 t_end);
 *   u32 error classes (at most 4096), each u32 length, its bytes (UTF-8), u64 count;
 *   ACC_SETS value sets: exact, u64 n then n f64; histogram, hist_pack.
 * Nothing follows. */
#include "analysis/summary.h"
#include "analysis/summary_int.h"
#include "common/binpack.h"
#include "common/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_MAGIC 0x4d534753u /* "SGSM" */
#define SUMMARY_VERSION 1u
#define MAX_TIME 9007199254740992LL  /* |t| <= 2^53, as summary_add accepts */
#define MAX_VALUE 36028797018963968.0 /* |value| <= 2^55 ns: any difference of two times */
#define MAX_CLASSES 4096 /* error classes a packed summary may hold */

/* The counters of an accumulator that merge by adding. */
#define COUNTERS(X) X(completed) X(failed) X(good) X(nsend) X(in_tokens) X(out_tokens) X(tok_usage) \
    X(tok_chunks) X(basis_tokens) X(basis_chunk) X(in_server) X(in_trace) X(in_none) X(forced)      \
    X(short_out) X(short_missing) X(eng_reqs)

/* 1 when the options a summary was made with agree for a merge. The trace
 * rate is not accumulated: a merge keeps dst's (shards' summaries each have
 * their own; their merge, the sum). */
static int same_opts(const summary_opts *a, const summary_opts *b)
{
    return a->slo_ttft_ms == b->slo_ttft_ms && a->slo_tpot_ms == b->slo_tpot_ms &&
           a->slo_e2el_ms == b->slo_e2el_ms && a->group_by == b->group_by &&
           a->exact == b->exact && summary_cap_of(a) == summary_cap_of(b);
}

/* Widens a's duration span to hold [start, end). */
static void widen(acc *a, int64_t start, int64_t end)
{
    if (a->sends.n == 0 || start < a->dur_start) a->dur_start = start;
    if (a->sends.n == 0 || end > a->dur_end) a->dur_end = end;
}

/* Adds b's value sets to a's (see summary_merge). */
static void merge_sets(acc *a, const acc *b, const summary_opts *o)
{
    int stay = !a->hist && !b->hist && (o->exact == -1 || a->kept + b->kept <= summary_cap_of(o));
    if (!stay) summary_acc_fold(a);
    for (int i = 0; i < ACC_SETS; i++) valset_merge(summary_acc_set(a, i), summary_acc_set(b, i));
    if (stay) a->kept += b->kept;
}

/* Adds everything b holds to a. */
static void acc_merge(acc *a, const acc *b, const summary_opts *o)
{
    if (b->nsend && (a->nsend == 0 || b->first_send < a->first_send)) a->first_send = b->first_send;
    if (b->nsend && (a->nsend == 0 || b->last_send > a->last_send)) a->last_send = b->last_send;
#define ADD(f) a->f += b->f;
    COUNTERS(ADD)
#undef ADD
    for (size_t i = 0; i < b->sends.n; i++) {
        widen(a, b->sends.v[i], b->ends.v[i]);
        summary_iv_push(&a->sends, b->sends.v[i]);
        summary_iv_push(&a->ends, b->ends.v[i]);
    }
    for (size_t i = 0; i < b->nerr; i++) summary_count_error(a, b->errs[i].cls, b->errs[i].n);
    merge_sets(a, b, o);
}

int summary_merge(summary *dst, const summary *src)
{
    dst->err[0] = '\0';
    if (!same_opts(&dst->o, &src->o)) {
        snprintf(dst->err, sizeof dst->err, "summary_merge: the summaries were made with different options "
                 "(SLOs, trace rate or exact mode)");
        return ERR_USAGE;
    }
    acc_merge(&dst->all, &src->all, &dst->o);
    dst->records += src->records;
    dst->warmup += src->warmup;
    return 0;
}

/* ---- packing ---- */

static void pack_opts(const summary_opts *o, strbuf *out)
{
    bp_put_f64(out, o->slo_ttft_ms);
    bp_put_f64(out, o->slo_tpot_ms);
    bp_put_f64(out, o->slo_e2el_ms);
    bp_put_f64(out, o->trace_rate);
    bp_put_u32(out, (uint32_t)(o->exact + 1));
    bp_put_u64(out, summary_cap_of(o));
}

void summary_pack(const summary *s, strbuf *out)
{
    const acc *a = &s->all;
    bp_put_u32(out, SUMMARY_MAGIC);
    bp_put_u32(out, SUMMARY_VERSION);
    pack_opts(&s->o, out);
    bp_put_u64(out, s->records);
    bp_put_u64(out, s->warmup);
#define PUT(f) bp_put_u64(out, a->f);
    COUNTERS(PUT)
#undef PUT
    bp_put_i64(out, a->first_send);
    bp_put_i64(out, a->last_send);
    bp_put_u8(out, (uint8_t)a->hist);
    bp_put_u64(out, a->sends.n);
    for (size_t i = 0; i < a->sends.n; i++) {
        bp_put_i64(out, a->sends.v[i]);
        bp_put_i64(out, a->ends.v[i]);
    }
    bp_put_u32(out, (uint32_t)a->nerr);
    for (size_t i = 0; i < a->nerr; i++) {
        size_t n = strlen(a->errs[i].cls);
        bp_put_u32(out, (uint32_t)n);
        sb_add(out, a->errs[i].cls, n);
        bp_put_u64(out, a->errs[i].n);
    }
    for (int i = 0; i < ACC_SETS; i++) {
        const valset *v = summary_acc_set(a, i);
        if (v->h) {
            hist_pack(v->h, out);
            continue;
        }
        bp_put_u64(out, v->v.n);
        for (size_t k = 0; k < v->v.n; k++) bp_put_f64(out, v->v.v[k]);
    }
}

/* ---- unpacking ---- */

/* Reads the options and checks them against want: the bytes must be those
 * summary_pack writes for want. 0 or -1 with a message. */
static int unpack_opts(bp_reader *r, const summary_opts *want, char *err, size_t errlen)
{
    strbuf w = {0};
    pack_opts(want, &w);
    const uint8_t *got = bp_get_bytes(r, w.len);
    int same = got && !memcmp(got, w.buf, w.len);
    sb_free(&w);
    if (!got) return -1;
    if (!same) {
        errf(err, errlen, "summary: packed with other options (SLOs, trace rate or exact mode) than given");
        return -1;
    }
    return 0;
}

/* Reads the request intervals into a (and its duration span). */
static int unpack_spans(bp_reader *r, acc *a, char *err, size_t errlen)
{
    uint64_t n = bp_get_u64(r);
    if (r->bad || n > r->left / 16 || n > a->nsend) {
        errf(err, errlen, "summary: %llu request intervals do not fit (%zu bytes left, %llu sent)",
             (unsigned long long)n, r->left, (unsigned long long)a->nsend);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        int64_t s = bp_get_i64(r), e = bp_get_i64(r);
        if (s < -MAX_TIME || s > MAX_TIME || e < s || e > MAX_TIME) {
            errf(err, errlen, "summary: bad request interval [%lld, %lld)", (long long)s, (long long)e);
            return -1;
        }
        widen(a, s, e);
        summary_iv_push(&a->sends, s);
        summary_iv_push(&a->ends, e);
    }
    return 0;
}

/* Reads the error classes into a. */
static int unpack_errors(bp_reader *r, acc *a, char *err, size_t errlen)
{
    uint32_t n = bp_get_u32(r);
    if (r->bad || n > r->left / 12 || n > MAX_CLASSES) {
        errf(err, errlen, "summary: %u error classes do not fit (at most %d)", n, MAX_CLASSES);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = bp_get_u32(r);
        const uint8_t *p = bp_get_bytes(r, len);
        uint64_t c = bp_get_u64(r);
        if (r->bad || len == 0 || memchr(p, 0, len) || !utf8_valid((const char *)p, len) || c == 0) {
            errf(err, errlen, "summary: bad error class %u (empty, truncated, not UTF-8, or never counted)", i);
            return -1;
        }
        char *cls = xstrndup((const char *)p, len);
        for (size_t k = 0; k < a->nerr; k++) {
            if (!strcmp(a->errs[k].cls, cls)) {
                errf(err, errlen, "summary: error class \"%s\" twice", cls);
                free(cls);
                return -1;
            }
        }
        summary_count_error(a, cls, c);
        free(cls);
    }
    return 0;
}

/* Reads one value set into v (exact values or a histogram, as mode says). */
static int unpack_set(bp_reader *r, valset *v, int mode, uint64_t *kept, char *err, size_t errlen)
{
    if (mode) {
        size_t used = 0;
        hist *h = hist_unpack(r->p, r->left, &used, err, errlen);
        if (!h) return -1;
        bp_get_bytes(r, used);
        hist_free(v->h);
        v->h = h;
        return 0;
    }
    uint64_t n = bp_get_u64(r);
    if (r->bad || n > r->left / 8) {
        errf(err, errlen, "summary: %llu values do not fit", (unsigned long long)n);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        double x = bp_get_f64(r);
        if (!isfinite(x) || fabs(x) > MAX_VALUE) {
            errf(err, errlen, "summary: value %g out of range", x);
            return -1;
        }
        valset_add(v, x);
    }
    *kept += n;
    return 0;
}

/* Reads the counters and checks how they relate. */
static int unpack_counters(bp_reader *r, summary *s, char *err, size_t errlen)
{
    acc *a = &s->all;
    s->records = bp_get_u64(r);
    s->warmup = bp_get_u64(r);
#define GET(f) a->f = bp_get_u64(r);
    COUNTERS(GET)
#undef GET
    a->first_send = bp_get_i64(r);
    a->last_send = bp_get_i64(r);
    if (r->bad) return -1;
    if (a->nsend && (a->first_send < -MAX_TIME || a->last_send > MAX_TIME || a->first_send > a->last_send)) {
        errf(err, errlen, "summary: bad first and last send times");
        return -1;
    }
    if (!a->nsend && (a->first_send || a->last_send)) {
        errf(err, errlen, "summary: send times without a request sent");
        return -1;
    }
    return 0;
}

/* Reads the body after the options into s. 0 or -1 (message in err, or
 * none when the buffer ran out). */
static int unpack_body(bp_reader *r, summary *s, char *err, size_t errlen)
{
    acc *a = &s->all;
    if (unpack_counters(r, s, err, errlen) < 0) return -1;
    int mode = bp_get_u8(r);
    if (r->bad) return -1;
    if (mode > 1 || (s->o.exact == 1 && !mode) || (s->o.exact == -1 && mode)) {
        errf(err, errlen, "summary: mode %d does not go with exact = %d", mode, s->o.exact);
        return -1;
    }
    if (mode) summary_acc_fold(a);
    if (unpack_spans(r, a, err, errlen) < 0 || unpack_errors(r, a, err, errlen) < 0) return -1;
    uint64_t kept = 0;
    for (int i = 0; i < ACC_SETS; i++)
        if (unpack_set(r, summary_acc_set(a, i), mode, &kept, err, errlen) < 0) return -1;
    a->kept = kept;
    if (!mode && s->o.exact == 0 && kept > summary_cap_of(&s->o)) { /* summary_pack would have folded */
        errf(err, errlen, "summary: %llu exact values, past the cap of %llu", (unsigned long long)kept,
             (unsigned long long)summary_cap_of(&s->o));
        return -1;
    }
    return r->bad ? -1 : 0;
}

summary *summary_unpack(const void *buf, size_t len, const summary_opts *o, char *err, size_t errlen)
{
    summary *s = summary_new(o, err, errlen);
    if (!s) return NULL;
    bp_reader r = bp_reader_init(buf, len);
    err[0] = '\0';
    uint32_t magic = bp_get_u32(&r), version = bp_get_u32(&r);
    if (!r.bad && (magic != SUMMARY_MAGIC || version != SUMMARY_VERSION)) {
        errf(err, errlen, "summary: not a packed summary (magic %08x, version %u; expected \"SGSM\" version %u)",
             magic, version, SUMMARY_VERSION);
        goto fail;
    }
    if (r.bad || unpack_opts(&r, &s->o, err, errlen) < 0 || unpack_body(&r, s, err, errlen) < 0) goto fail;
    if (r.left) {
        errf(err, errlen, "summary: %zu bytes after the end", r.left);
        goto fail;
    }
    return s;
fail:
    if (!err[0] || r.bad) errf(err, errlen, "summary: truncated (%zu bytes)", len);
    summary_free(s);
    return NULL;
}
