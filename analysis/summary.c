/* summary.c — see summary.h.
 *
 * Choices the metrics document leaves open, made here and stated once:
 * - Measured requests are those not marked warm-up. `duration`, the send
 *   lag, `achieved_rate` and `max_concurrency` are over all of them, failed
 *   ones included (a failed request was still scheduled, sent and in
 *   flight); a failed request without t_send_ns or t_end_ns (never sent) is
 *   left out of the figures that need the missing time.
 * - Latencies are over completed requests: TTFT over those with a first
 *   token, TPOT over those with output_tokens > 1 whose tokens came in more
 *   than one event (summary_tpot_ns), ITL over their gaps.
 * - The engine view (records with an "engine" object, from in-process
 *   engines): engine TTFT = t_first_token - t_queued, engine TPOT =
 *   decode / (output_tokens - 1), queue, prefill and decode as the engine
 *   gives them (else from its timestamps); unknown or negative values are
 *   left out. Its keys appear only when some completed request has one.
 * - Short outputs: a completed request whose output length was forced
 *   (forced_output_tokens) and whose server-counted output_tokens is below
 *   it. Chunk counts (token_source "chunks") are not compared: a chunk may
 *   carry several tokens.
 * - ITL: gap i closed by an event carrying k = gap_tokens[i] new tokens
 *   counts as k values of gap/k. A gap closed by an event with k = 0 is
 *   carried into the next gap (no token arrived in it); gaps with k = 0 at
 *   the end of a response are not inter-token latencies and are left out.
 *   Without gap_tokens each chunk gap is one value.
 * - total_input_tokens: a completed request's prompt_tokens (the server's
 *   count) when it has one, else its `input_tokens` field (the trace's
 *   count) when present, else nothing; `input_token_source` says which was
 *   used: "server", "trace", "mixed", or "none" when neither was.
 * - Goodput: a request meets the TPOT SLO trivially when it has no TPOT
 *   (one output token; vLLM counts its TPOT as 0), and fails the TTFT SLO
 *   when it has no first token. A value equal to the SLO meets it.
 * - `achieved_rate` is (sent - 1) / (last t_send - first t_send): the
 *   inverse of the mean gap between sends; trace_rate should be computed
 *   the same way over the schedule.
 * - Figures over an empty set are null where vLLM would print 0, so an
 *   empty set cannot pass for a zero latency.
 * - mean and std (population, ddof=0) use compensated summation; numpy
 *   sums pairwise, so the two agree to rounding, while percentiles and
 *   medians are computed exactly as numpy does (same operations). */
#include "analysis/summary.h"
#include "analysis/summary_int.h"
#include "analysis/stats.h"
#include "analysis/valset.h"
#include "common/jsonw.h"
#include "common/util.h"
#include "common/zio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const eng_names[SUM_ENG_N] = {
    "engine_ttft", "engine_tpot", "engine_queue", "engine_prefill", "engine_decode",
};

/* One record, checked and decoded. */
typedef struct req_view {
    int ok;
    int has_sched, has_send, has_first, has_last, has_end;
    int64_t t_sched, t_send, t_first, t_last, t_end;
    int64_t output_tokens, prompt_tokens, input_tokens; /* -1: null */
    int64_t events, forced;  /* -1: absent */
    int64_t n;               /* choices (n > 1), -1: absent */
    int has_engine;
    double eng[SUM_ENG_N];   /* ns; < 0: unknown */
    int token_source;  /* 0 not given, 1 usage, 2 chunks */
    int per_token;     /* gap_tokens present */
    const cJSON *gaps, *gap_tokens;
    const char *err_class;
} req_view;

void summary_iv_push(ivec *a, int64_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

valset *summary_acc_set(const acc *a, int i)
{
    const valset *base[] = { &a->ttft, &a->tpot, &a->itl, &a->e2el, &a->lag };
    return (valset *)(i < 5 ? base[i] : &a->eng[i - 5]);
}

/* Frees what an accumulator owns (not a itself). */
static void acc_free(acc *a)
{
    for (int i = 0; i < ACC_SETS; i++) valset_free(summary_acc_set(a, i));
    free(a->sends.v);
    free(a->ends.v);
    for (size_t i = 0; i < a->nerr; i++) free(a->errs[i].cls);
    free(a->errs);
}

summary *summary_new(const summary_opts *opts, char *err, size_t errlen)
{
    summary_opts o;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    const struct { const char *name; double v; } chk[] = {
        { "ttft SLO", o.slo_ttft_ms }, { "tpot SLO", o.slo_tpot_ms },
        { "e2el SLO", o.slo_e2el_ms }, { "trace rate", o.trace_rate },
    };
    for (size_t i = 0; i < sizeof chk / sizeof chk[0]; i++) {
        if (!isfinite(chk[i].v) || chk[i].v < 0) {
            errf(err, errlen, "%s: expected a finite number >= 0, got %g", chk[i].name, chk[i].v);
            return NULL;
        }
    }
    if (o.group_by != SUMMARY_GROUP_NONE) {
        errf(err, errlen, "summary: grouping is done by groups_new (analysis/groups.h), one summary per group");
        return NULL;
    }
    if (o.exact < -1 || o.exact > 1) {
        errf(err, errlen, "summary: exact must be -1 (never fold), 0 (auto) or 1 (histograms), got %d", o.exact);
        return NULL;
    }
    summary *s = xcalloc(1, sizeof *s);
    s->o = o;
    if (o.exact == 1) summary_acc_fold(&s->all);
    return s;
}

void summary_free(summary *s)
{
    if (!s) return;
    acc_free(&s->all);
    free(s);
}

const char *summary_error(const summary *s) { return s->err; }
int summary_is_histogram(const summary *s) { return s->all.hist; }
uint64_t summary_records(const summary *s) { return s->records; }

/* ---- decoding a record ---- */

/* "a string", "a number"...: what j is, for messages. */
static const char *type_name(const cJSON *j)
{
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsNull(j)) return "null";
    return "something else";
}

/* Names the record in messages: its "index" when it has one. */
static void who(const cJSON *req, uint64_t nth, char *buf, size_t len)
{
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(req, "index");
    if (cJSON_IsNumber(ix)) snprintf(buf, len, "request index %.0f", ix->valuedouble);
    else snprintf(buf, len, "record %llu", (unsigned long long)nth);
}

/* An exact integer in cJSON's double (|v| <= 2^53). */
/* 1 and *out set when j is a number holding an integer within +-2^53 (so
 * cJSON's double held it exactly), else 0. */
static int as_int(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0) return 0;
    *out = (int64_t)v;
    return 1;
}

/* A record being decoded: where messages go and whether one was set. */
typedef struct dec {
    summary *s;
    const char *who;
    int bad;
} dec;

/* Sets the summary's message to "WHO: MESSAGE" (the first one only). */
static PRINTF_LIKE(2, 3) void decode_error(dec *d, const char *fmt, ...)
{
    if (d->bad) return;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errf(d->s->err, sizeof d->s->err, "%s: %s", d->who, msg);
    d->bad = 1;
}

/* An integer field: 1 when present, 0 when absent or null (and required is
 * 0), -1 on a wrong type or a missing required field. */
static int field_int(dec *d, const cJSON *req, const char *key, int required, int64_t min, int64_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!j || cJSON_IsNull(j)) {
        if (!required) return 0;
        decode_error(d, "field \"%s\": missing (a completed request must have it)", key);
        return -1;
    }
    if (!as_int(j, out)) {
        decode_error(d, "field \"%s\": expected an integer, got %s", key, type_name(j));
        return -1;
    }
    if (*out < min) {
        decode_error(d, "field \"%s\": expected an integer >= %lld, got %lld", key, (long long)min, (long long)*out);
        return -1;
    }
    return 1;
}

/* A boolean field; absent or null gives dflt. -1 on a wrong type. */
static int field_bool(dec *d, const cJSON *req, const char *key, int dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!j || cJSON_IsNull(j)) return dflt;
    if (!cJSON_IsBool(j)) {
        decode_error(d, "field \"%s\": expected true or false, got %s", key, type_name(j));
        return -1;
    }
    return cJSON_IsTrue(j);
}

/* A string field that must be one of two words: 1 or 2, 0 when absent. */
static int field_word(dec *d, const cJSON *req, const char *key, const char *w1, const char *w2)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!j || cJSON_IsNull(j)) return 0;
    if (cJSON_IsString(j) && strcmp(j->valuestring, w1) == 0) return 1;
    if (cJSON_IsString(j) && strcmp(j->valuestring, w2) == 0) return 2;
    decode_error(d, "field \"%s\": expected \"%s\" or \"%s\"", key, w1, w2);
    return -1;
}

#define MAX_NS 9007199254740992LL

double summary_tpot_ns(int64_t output_tokens, int64_t events, int64_t n, int64_t t_first,
                       int64_t t_last)
{
    /* n > 1: the choices decode side by side, so the gap is over the tokens
     * of one choice (their mean, output_tokens / n), not over all. */
    double per_choice = n > 1 ? (double)output_tokens / (double)n : (double)output_tokens;
    if (per_choice <= 1 || (events >= 0 && events < 2) || t_last <= t_first) return -1;
    return (double)(t_last - t_first) / (per_choice - 1);
}

/* b - a when both are known, else -1 (also when negative). */
static double span(int ha, int64_t a, int hb, int64_t b)
{
    return ha > 0 && hb > 0 && b >= a ? (double)(b - a) : -1;
}

/* Decodes a completed record's "engine" object (absent or null: none) into
 * v's engine view. 0 or ERR_INPUT on a member that is not an integer. */
static int decode_engine(dec *d, const cJSON *req, req_view *v)
{
    static const char *const keys[] = { "t_queued_ns", "t_scheduled_ns", "t_first_token_ns",
                                        "t_finished_ns", "queue_ns", "prefill_ns", "decode_ns" };
    enum { Q, S, F, E, QD, PD, DD, NK };
    for (int i = 0; i < SUM_ENG_N; i++) v->eng[i] = -1;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(req, "engine");
    if (!e || cJSON_IsNull(e)) return 0;
    if (!cJSON_IsObject(e)) {
        decode_error(d, "field \"engine\": expected an object or null, got %s", type_name(e));
        return ERR_INPUT;
    }
    int64_t t[NK];
    int h[NK];
    for (int i = 0; i < NK; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
        h[i] = x && !cJSON_IsNull(x);
        if (h[i] && !as_int(x, &t[i])) {
            decode_error(d, "field \"engine.%s\": expected an integer or null, got %s", keys[i], type_name(x));
            return ERR_INPUT;
        }
        v->has_engine |= h[i];
    }
    v->eng[SUM_ENG_TTFT] = span(h[Q], t[Q], h[F], t[F]);
    v->eng[SUM_ENG_QUEUE] = h[QD] ? (t[QD] >= 0 ? (double)t[QD] : -1) : span(h[Q], t[Q], h[S], t[S]);
    v->eng[SUM_ENG_PREFILL] = h[PD] ? (t[PD] >= 0 ? (double)t[PD] : -1) : span(h[S], t[S], h[F], t[F]);
    v->eng[SUM_ENG_DECODE] = h[DD] ? (t[DD] >= 0 ? (double)t[DD] : -1) : span(h[F], t[F], h[E], t[E]);
    if (v->output_tokens > 1 && v->eng[SUM_ENG_DECODE] >= 0)
        v->eng[SUM_ENG_TPOT] = v->eng[SUM_ENG_DECODE] / (double)(v->output_tokens - 1);
    return 0;
}

static int decode_gaps(dec *d, const cJSON *req, req_view *v, int basis);

/* Checks and decodes a measured record's fields into v. 0 or ERR_INPUT. */
static int decode(dec *d, const cJSON *req, req_view *v)
{
    memset(v, 0, sizeof *v);
    int ok = field_bool(d, req, "ok", -2);
    if (ok == -2) decode_error(d, "field \"ok\": missing");
    if (ok < 0) return ERR_INPUT;
    v->ok = ok;
    v->has_sched = field_int(d, req, "t_sched_ns", 0, -MAX_NS, &v->t_sched);
    v->has_send = field_int(d, req, "t_send_ns", ok, -MAX_NS, &v->t_send);
    v->has_first = field_int(d, req, "t_first_token_ns", 0, -MAX_NS, &v->t_first);
    v->has_last = field_int(d, req, "t_last_token_ns", 0, -MAX_NS, &v->t_last);
    v->has_end = field_int(d, req, "t_end_ns", ok, -MAX_NS, &v->t_end);
    if (d->bad) return ERR_INPUT;
    if (v->has_send && v->has_end && v->t_end < v->t_send)
        decode_error(d, "t_end_ns (%lld) is before t_send_ns (%lld)", (long long)v->t_end, (long long)v->t_send);

    if (!ok) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(req, "error");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class");
        if (e && !cJSON_IsNull(e) && !cJSON_IsObject(e))
            decode_error(d, "field \"error\": expected an object or null, got %s", type_name(e));
        else if (c && !cJSON_IsNull(c) && !cJSON_IsString(c))
            decode_error(d, "field \"error.class\": expected a string, got %s", type_name(c));
        v->err_class = cJSON_IsString(c) && c->valuestring[0] ? c->valuestring : "unknown";
        return d->bad ? ERR_INPUT : 0;
    }

    /* A completed request: the fields the latencies and totals need. */
    if (field_int(d, req, "output_tokens", 1, 0, &v->output_tokens) < 0) return ERR_INPUT;
    v->prompt_tokens = v->input_tokens = v->events = v->forced = v->n = -1;
    if (field_int(d, req, "prompt_tokens", 0, 0, &v->prompt_tokens) == 0) v->prompt_tokens = -1;
    if (field_int(d, req, "input_tokens", 0, 0, &v->input_tokens) == 0) v->input_tokens = -1;
    if (field_int(d, req, "events", 0, 0, &v->events) == 0) v->events = -1;
    if (field_int(d, req, "n", 0, 0, &v->n) == 0) v->n = -1;
    if (field_int(d, req, "forced_output_tokens", 0, 0, &v->forced) == 0) v->forced = -1;
    v->token_source = field_word(d, req, "token_source", "usage", "chunks");
    int basis = field_word(d, req, "itl_basis", "tokens", "chunk");
    if (d->bad) return ERR_INPUT;
    if (v->has_first && v->t_first < v->t_send)
        decode_error(d, "t_first_token_ns (%lld) is before t_send_ns (%lld)", (long long)v->t_first, (long long)v->t_send);
    if (v->has_first && v->has_last && v->t_last < v->t_first)
        decode_error(d, "t_last_token_ns is before t_first_token_ns");
    if (v->has_last && v->t_end < v->t_last) decode_error(d, "t_end_ns is before t_last_token_ns");
    if (v->output_tokens > 1 && (!v->has_first || !v->has_last))
        decode_error(d, "output_tokens is %lld but t_first_token_ns or t_last_token_ns is null",
            (long long)v->output_tokens);
    if (d->bad || decode_engine(d, req, v) < 0) return ERR_INPUT;
    return decode_gaps(d, req, v, basis);
}

/* Checks and decodes a completed record's gaps_ns and gap_tokens (basis:
 * its itl_basis word, 0 when absent). 0 or ERR_INPUT. */
static int decode_gaps(dec *d, const cJSON *req, req_view *v, int basis)
{
    v->gaps = cJSON_GetObjectItemCaseSensitive(req, "gaps_ns");
    v->gap_tokens = cJSON_GetObjectItemCaseSensitive(req, "gap_tokens");
    if (cJSON_IsNull(v->gaps)) v->gaps = NULL;
    if (cJSON_IsNull(v->gap_tokens)) v->gap_tokens = NULL;
    if (v->gaps && !cJSON_IsArray(v->gaps)) {
        decode_error(d, "field \"gaps_ns\": expected an array, got %s", type_name(v->gaps));
        return ERR_INPUT;
    }
    if (v->gap_tokens && !cJSON_IsArray(v->gap_tokens)) {
        decode_error(d, "field \"gap_tokens\": expected an array, got %s", type_name(v->gap_tokens));
        return ERR_INPUT;
    }
    int ngaps = cJSON_GetArraySize(v->gaps);
    if (v->gap_tokens && cJSON_GetArraySize(v->gap_tokens) != ngaps) {
        decode_error(d, "gap_tokens has %d entries, gaps_ns %d", cJSON_GetArraySize(v->gap_tokens), ngaps);
        return ERR_INPUT;
    }
    v->per_token = v->gap_tokens != NULL;
    if (basis && basis != (v->per_token ? 1 : 2)) {
        decode_error(d, "field \"itl_basis\" is \"%s\" but gap_tokens is %s", v->per_token ? "chunk" : "tokens",
            v->per_token ? "present" : "missing");
        return ERR_INPUT;
    }
    const cJSON *g, *k = v->gap_tokens ? v->gap_tokens->child : NULL;
    int64_t ktotal = 0, gtotal = 0;
    int i = 0;
    cJSON_ArrayForEach(g, v->gaps) {
        int64_t x;
        if (!as_int(g, &x) || x < 0) {
            decode_error(d, "gaps_ns[%d]: expected an integer >= 0", i);
            return ERR_INPUT;
        }
        gtotal += x; /* no overflow: each term is <= 2^53 and the sum is checked */
        /* n > 1: the gaps of each choice fit in the request's span. */
        if (gtotal > (v->n > 1 ? v->n : 1) * (v->t_end - v->t_send)) {
            decode_error(d, "gaps_ns add up to more than t_end_ns - t_send_ns (times n)");
            return ERR_INPUT;
        }
        if (k) {
            if (!as_int(k, &x) || x < 0) {
                decode_error(d, "gap_tokens[%d]: expected an integer >= 0", i);
                return ERR_INPUT;
            }
            ktotal += x;
            if (ktotal > v->output_tokens) {
                decode_error(d, "gap_tokens add up to more than output_tokens (%lld)", (long long)v->output_tokens);
                return ERR_INPUT;
            }
            k = k->next;
        }
        i++;
    }
    return 0;
}

/* ---- accumulating ---- */

void summary_count_error(acc *a, const char *cls, uint64_t n)
{
    for (size_t i = 0; i < a->nerr; i++) {
        if (strcmp(a->errs[i].cls, cls) == 0) {
            a->errs[i].n += n;
            return;
        }
    }
    a->errs = xrealloc(a->errs, (a->nerr + 1) * sizeof *a->errs);
    a->errs[a->nerr].cls = xstrdup(cls);
    a->errs[a->nerr].n = n;
    a->nerr++;
}

uint64_t summary_cap_of(const summary_opts *o)
{
    return o->exact_cap ? (uint64_t)o->exact_cap : SUMMARY_EXACT_CAP;
}

void summary_acc_fold(acc *a)
{
    for (int i = 0; i < ACC_SETS; i++) valset_fold(summary_acc_set(a, i));
    a->hist = 1;
    a->kept = 0;
}

/* Adds n copies of x to the set v of a: kept one by one in exact mode,
 * except that in auto mode a is folded first when they would take the
 * values kept past the cap. */
static void put(acc *a, const summary_opts *o, valset *v, double x, uint64_t n)
{
    if (!a->hist && o->exact == 0 && a->kept + n > summary_cap_of(o)) summary_acc_fold(a);
    valset_add_n(v, x, n);
    if (!a->hist) a->kept += n;
}

/* Adds a completed request's ITL values (rules at the top of the file);
 * its arrays were checked by decode. */
static void add_itl(acc *a, const summary_opts *o, const req_view *v)
{
    const cJSON *g, *k = v->per_token ? v->gap_tokens->child : NULL;
    int64_t carry = 0;
    cJSON_ArrayForEach(g, v->gaps) {
        int64_t gap = (int64_t)g->valuedouble;
        if (!k) {
            put(a, o, &a->itl, (double)gap, 1);
            continue;
        }
        int64_t n = (int64_t)k->valuedouble;
        k = k->next;
        if (n == 0) { /* no token arrived: the time belongs to the next gap */
            carry += gap;
            continue;
        }
        double per = (double)(gap + carry) / (double)n;
        carry = 0;
        put(a, o, &a->itl, per, (uint64_t)n);
    }
}

/* Adds one decoded measured request to a; cannot fail. */
static void acc_add(acc *a, const summary_opts *o, const req_view *v)
{
    if (v->has_sched && v->has_send) put(a, o, &a->lag, (double)(v->t_send - v->t_sched), 1);
    if (v->has_send) {
        if (a->nsend == 0 || v->t_send < a->first_send) a->first_send = v->t_send;
        if (a->nsend == 0 || v->t_send > a->last_send) a->last_send = v->t_send;
        a->nsend++;
    }
    if (v->has_send && v->has_end) {
        if (a->sends.n == 0 || v->t_send < a->dur_start) a->dur_start = v->t_send;
        if (a->sends.n == 0 || v->t_end > a->dur_end) a->dur_end = v->t_end;
        summary_iv_push(&a->sends, v->t_send);
        summary_iv_push(&a->ends, v->t_end);
    }
    if (!v->ok) {
        a->failed++;
        summary_count_error(a, v->err_class, 1);
        return;
    }

    a->completed++;
    a->out_tokens += (uint64_t)v->output_tokens;
    if (v->prompt_tokens >= 0) {
        a->in_tokens += (uint64_t)v->prompt_tokens;
        a->in_server++;
    } else if (v->input_tokens >= 0) {
        a->in_tokens += (uint64_t)v->input_tokens;
        a->in_trace++;
    } else {
        a->in_none++;
    }
    if (v->token_source == 1) a->tok_usage++;
    if (v->token_source == 2) a->tok_chunks++;
    if (v->per_token) a->basis_tokens++;
    else a->basis_chunk++;

    int64_t e2e = v->t_end - v->t_send;
    put(a, o, &a->e2el, (double)e2e, 1);
    int64_t ttft = v->has_first ? v->t_first - v->t_send : -1;
    if (v->has_first) put(a, o, &a->ttft, (double)ttft, 1);
    double tpot = v->has_first && v->has_last
                      ? summary_tpot_ns(v->output_tokens, v->events, v->n, v->t_first, v->t_last) : -1;
    if (tpot >= 0) put(a, o, &a->tpot, tpot, 1);
    add_itl(a, o, v);
    if (v->forced >= 0 && v->token_source != 2) {
        a->forced++;
        if (v->output_tokens < v->forced) {
            a->short_out++;
            a->short_missing += (uint64_t)(v->forced - v->output_tokens);
        }
    }
    if (v->has_engine) {
        a->eng_reqs++;
        for (int i = 0; i < SUM_ENG_N; i++)
            if (v->eng[i] >= 0) put(a, o, &a->eng[i], v->eng[i], 1);
    }

    int good = 1;
    if (o->slo_ttft_ms > 0 && (ttft < 0 || (double)ttft > o->slo_ttft_ms * 1e6)) good = 0;
    if (o->slo_tpot_ms > 0 && tpot > o->slo_tpot_ms * 1e6) good = 0;
    if (o->slo_e2el_ms > 0 && (double)e2e > o->slo_e2el_ms * 1e6) good = 0;
    a->good += good;
}

int summary_add(summary *s, const cJSON *req)
{
    char name[64];
    s->err[0] = '\0';
    who(req, s->records + 1, name, sizeof name);
    dec d = { s, name, 0 };
    if (!cJSON_IsObject(req)) {
        decode_error(&d, "expected a JSON object, got %s", type_name(req));
        return ERR_INPUT;
    }
    int warm = field_bool(&d, req, "warmup", 0);
    if (warm < 0) return ERR_INPUT;
    if (warm) {
        s->records++;
        s->warmup++;
        return 0;
    }
    req_view v;
    if (decode(&d, req, &v) < 0) return ERR_INPUT;
    acc_add(&s->all, &s->o, &v);
    s->records++;
    return 0;
}

/* ---- statistics ---- */

/* qsort comparator, ascending. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Adds key: v, or key: null when !have. */
static void add_num_or_null(cJSON *o, const char *key, int have, double v)
{
    if (have) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* mean/median/std/p90/p99 of X in ms, from values in ns. */
static void add_latency(cJSON *o, const char *x, valset *a)
{
    static const char *const stat[] = { "mean", "median", "std", "p90", "p99" };
    double r[5] = { 0 };
    size_t n = valset_count(a);
    if (n) {
        r[0] = valset_mean(a);
        r[1] = valset_median(a);
        r[2] = valset_std(a);
        r[3] = valset_percentile(a, 90);
        r[4] = valset_percentile(a, 99);
    }
    for (int i = 0; i < 5; i++) {
        char key[48];
        snprintf(key, sizeof key, "%s_%s_ms", stat[i], x);
        add_num_or_null(o, key, n != 0, r[i] / 1e6);
    }
}

/* Most intervals [send, end) open at once: both lists sorted, an end at
 * the same instant as a send is taken first. */
static uint64_t max_concurrency(ivec *sends, ivec *ends)
{
    if (sends->n == 0) return 0;
    qsort(sends->v, sends->n, sizeof *sends->v, cmp_i64);
    if (ends->n) qsort(ends->v, ends->n, sizeof *ends->v, cmp_i64);
    int64_t cur = 0, max = 0; /* signed: a zero-length interval ends before it starts */
    size_t j = 0;
    for (size_t i = 0; i < sends->n; i++) {
        while (j < ends->n && ends->v[j] <= sends->v[i]) j++, cur--;
        if (++cur > max) max = cur;
    }
    return (uint64_t)max;
}

/* wa when only a counted, wb when only b, "mixed" when both, NULL when neither. */
static const char *basis_word(uint64_t a, uint64_t b, const char *wa, const char *wb)
{
    if (a && b) return "mixed";
    return a ? wa : b ? wb : NULL;
}

/* Orders error classes by name. */
static int cmp_err(const void *a, const void *b)
{
    return strcmp(((const err_count *)a)->cls, ((const err_count *)b)->cls);
}

/* The summary.json object of one accumulator (sorts its arrays in place).
 * Caller frees the result. */
static cJSON *acc_json(acc *a, const summary_opts *o, uint64_t warmup)
{
    cJSON *j = cJSON_CreateObject();
    int have_dur = a->sends.n > 0;
    double dur = have_dur ? (double)(a->dur_end - a->dur_start) / 1e9 : 0;
    int rates = have_dur && dur > 0;
    cJSON_AddNumberToObject(j, "completed", (double)a->completed);
    cJSON_AddNumberToObject(j, "failed", (double)a->failed);
    add_num_or_null(j, "duration", have_dur, dur);
    cJSON_AddNumberToObject(j, "total_input_tokens", (double)a->in_tokens);
    cJSON_AddNumberToObject(j, "total_output_tokens", (double)a->out_tokens);
    add_num_or_null(j, "request_throughput", rates, (double)a->completed / dur);
    if (o->slo_ttft_ms > 0 || o->slo_tpot_ms > 0 || o->slo_e2el_ms > 0)
        add_num_or_null(j, "request_goodput", rates, (double)a->good / dur);
    add_num_or_null(j, "output_throughput", rates, (double)a->out_tokens / dur);
    add_num_or_null(j, "total_token_throughput", rates, (double)(a->in_tokens + a->out_tokens) / dur);
    add_latency(j, "ttft", &a->ttft);
    add_latency(j, "tpot", &a->tpot);
    add_latency(j, "itl", &a->itl);
    add_latency(j, "e2el", &a->e2el);

    valset *l = &a->lag;
    size_t ln = valset_count(l);
    add_num_or_null(j, "send_lag_p50_us", ln != 0, ln ? valset_percentile(l, 50) / 1e3 : 0);
    add_num_or_null(j, "send_lag_p99_us", ln != 0, ln ? valset_percentile(l, 99) / 1e3 : 0);
    add_num_or_null(j, "send_lag_max_us", ln != 0, ln ? valset_max(l) / 1e3 : 0);
    double span = (double)(a->last_send - a->first_send) / 1e9;
    add_num_or_null(j, "achieved_rate", a->nsend >= 2 && span > 0, (double)(a->nsend - 1) / span);
    add_num_or_null(j, "trace_rate", o->trace_rate > 0, o->trace_rate);
    cJSON_AddNumberToObject(j, "max_concurrency", (double)max_concurrency(&a->sends, &a->ends));

    cJSON *e = cJSON_AddObjectToObject(j, "errors");
    if (a->nerr) qsort(a->errs, a->nerr, sizeof *a->errs, cmp_err);
    for (size_t i = 0; i < a->nerr; i++) cJSON_AddNumberToObject(e, a->errs[i].cls, (double)a->errs[i].n);

    const char *w = basis_word(a->tok_usage, a->tok_chunks, "usage", "chunks");
    if (w) cJSON_AddStringToObject(j, "token_source", w);
    else cJSON_AddNullToObject(j, "token_source");
    w = basis_word(a->basis_tokens, a->basis_chunk, "tokens", "chunk");
    if (w) cJSON_AddStringToObject(j, "itl_basis", w);
    else cJSON_AddNullToObject(j, "itl_basis");
    w = a->completed == 0 ? NULL
        : a->in_server == a->completed ? "server"
        : a->in_trace == a->completed ? "trace"
        : a->in_none == a->completed ? "none" : "mixed";
    if (w) cJSON_AddStringToObject(j, "input_token_source", w);
    else cJSON_AddNullToObject(j, "input_token_source");
    cJSON_AddNumberToObject(j, "warmup_excluded", (double)warmup);
    cJSON_AddNumberToObject(j, "forced_outputs", (double)a->forced);
    add_num_or_null(j, "short_outputs", a->forced != 0, (double)a->short_out);
    add_num_or_null(j, "short_output_tokens_missing", a->forced != 0, (double)a->short_missing);
    if (a->eng_reqs) {
        cJSON_AddNumberToObject(j, "engine_requests", (double)a->eng_reqs);
        for (int i = 0; i < SUM_ENG_N; i++) add_latency(j, eng_names[i], &a->eng[i]);
    }
    cJSON_AddStringToObject(j, "percentiles", a->hist ? "histogram" : "exact");
    cJSON_AddNumberToObject(j, "percentile_error_bound", a->hist ? HIST_REL_ERROR : 0);
    return j;
}

cJSON *summary_json(summary *s)
{
    return acc_json(&s->all, &s->o, s->warmup);
}

summary *summary_from_file(const char *path, const summary_opts *opts, char *err, size_t errlen)
{
    summary *s = summary_new(opts, err, errlen);
    if (!s) return NULL;
    zio_reader *r = zio_reader_open(path, err, errlen);
    if (!r) {
        summary_free(s);
        return NULL;
    }
    char *line;
    size_t len;
    int rc, mine = 0;
    while ((rc = zio_reader_getline(r, &line, &len)) > 0) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        if (i == len) continue;
        const char *end = NULL;
        cJSON *j = jsonw_parse_line(line, len, &end);
        mine = 1;
        if (!j) {
            errf(err, errlen, "%s:%llu: not a valid JSON object (error at byte %zu)", path,
                 (unsigned long long)zio_reader_lineno(r), end ? (size_t)(end - line) + 1 : (size_t)1);
            rc = ERR_INPUT;
            break;
        }
        rc = summary_add(s, j);
        cJSON_Delete(j);
        if (rc < 0) {
            errf(err, errlen, "%s:%llu: %s", path, (unsigned long long)zio_reader_lineno(r), s->err);
            break;
        }
        mine = 0;
    }
    if (rc < 0 && !mine) errf(err, errlen, "%s", zio_reader_error(r));
    zio_reader_close(r);
    if (rc < 0) {
        summary_free(s);
        return NULL;
    }
    return s;
}
