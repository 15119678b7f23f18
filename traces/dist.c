/* dist.c — see dist.h. */
#include "traces/dist.h"
#include "traces/trace_io.h"
#include "common/parse.h"
#include "common/util.h"
#include "common/zio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    K_FIXED, K_UNIFORM, K_NORMAL, K_LOGNORMAL, K_EXPONENTIAL, K_TABLE
} dist_kind;

struct dist {
    dist_kind kind;
    dist_unit unit;
    char *spec;
    int64_t lo, hi;       /* fixed (lo), uniform */
    double a, b;          /* normal: mean, sd; lognormal: mu, sigma; exponential: mean */
    double mean;          /* dist_mean */
    /* K_TABLE (zipf, empirical): values with cumulative weights. */
    int64_t *vals;
    double *cum;
    size_t n;
};

static const char kinds_text[] =
    "fixed:N, uniform:MIN:MAX, normal:MEAN:SD, lognormal:MEAN:SIGMA, "
    "exponential:MEAN, zipf:S:MAX or empirical:FILE";

void dist_free(dist *d)
{
    if (!d) return;
    free(d->spec);
    free(d->vals);
    free(d->cum);
    free(d);
}

const char *dist_spec(const dist *d) { return d->spec; }
double dist_mean(const dist *d) { return d->mean; }

/* ---- parameters ---- */

/* Splits s at ':' into at most max fields (in place); returns the count,
 * or max + 1 when there are more. */
static int split_params(char *s, char **f, int max)
{
    int n = 0;
    for (;;) {
        if (n == max) return max + 1;
        f[n++] = s;
        char *c = strchr(s, ':');
        if (!c) return n;
        *c = '\0';
        s = c + 1;
    }
}

/* A count parameter: a non-negative integer up to DIST_MAX_COUNT. */
static int param_count(const char *s, int64_t *out)
{
    return parse_i64(s, out) == 0 && *out >= 0 && *out <= DIST_MAX_COUNT ? 0 : -1;
}

/* A duration parameter: microseconds up to DIST_MAX_US. */
static int param_duration(const char *s, int64_t *out)
{
    return parse_duration_us(s, out) == 0 && *out <= DIST_MAX_US ? 0 : -1;
}

/* A value parameter as a double: plain number for counts, microseconds for
 * durations. */
static int param_value(const char *s, dist_unit unit, double *out)
{
    if (unit == DIST_DURATION) {
        int64_t us;
        if (param_duration(s, &us) < 0) return -1;
        *out = (double)us;
        return 0;
    }
    return parse_double(s, out);
}

static int param_int(const char *s, dist_unit unit, int64_t *out)
{
    if (unit == DIST_DURATION) return param_duration(s, out);
    return param_count(s, out);
}

/* ---- tables (zipf, empirical) ---- */

typedef struct table_build {
    int64_t *vals;
    double *w;
    size_t n, cap;
} table_build;

static void tb_add(table_build *t, int64_t v, double w)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->vals = xrealloc(t->vals, t->cap * sizeof *t->vals);
        t->w = xrealloc(t->w, t->cap * sizeof *t->w);
    }
    t->vals[t->n] = v;
    t->w[t->n] = w;
    t->n++;
}

static void tb_free(table_build *t)
{
    free(t->vals);
    free(t->w);
}

/* Turns t's weights into d's cumulative table (t is consumed). Returns 0, or
 * -1 when the weights add up to nothing. */
static int table_finish(dist *d, table_build *t)
{
    double total = 0, sum = 0;
    d->kind = K_TABLE;
    d->vals = t->vals;
    d->cum = t->w;
    d->n = t->n;
    t->vals = NULL;
    t->w = NULL;
    for (size_t i = 0; i < d->n; i++) {
        sum += (double)d->vals[i] * d->cum[i];
        total += d->cum[i];
        d->cum[i] = total;
    }
    if (!(total > 0) || !isfinite(total)) return -1;
    d->mean = sum / total;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Values of `field` in every record of a trace, as a table of distinct
 * values weighted by their counts. */
static int load_trace_values(dist *d, const char *path, const char *field,
                             char *err, size_t errlen)
{
    trace_reader *tr = trace_reader_open(path, TRACE_NO_ORDER_CHECK, err, errlen);
    if (!tr) return ERR_INPUT;
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    trace_rec *rec;
    int rc;
    for (;;) {
        rc = trace_reader_next(tr, &rec);
        if (rc < 0) errf(err, errlen, "%s", trace_reader_error(tr));
        if (rc <= 0) break;
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(rec->json, field);
        if (!f || cJSON_IsNull(f)) continue;
        double x = cJSON_IsNumber(f) ? f->valuedouble : -1;
        if (!(x >= 0 && x <= (double)(d->unit == DIST_COUNT ? DIST_MAX_COUNT : DIST_MAX_US))
            || floor(x) != x) {
            errf(err, errlen, "%s:%llu: field '%s': expected a non-negative integer "
                 "for empirical:FILE", path, (unsigned long long)rec->line, field);
            rc = ERR_INPUT;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = (int64_t)x;
    }
    trace_reader_close(tr);
    if (rc < 0) {
        free(v);
        return rc;
    }
    if (!n) {
        free(v);
        errf(err, errlen, "%s: no record has field '%s' (empirical:FILE needs values)", path, field);
        return ERR_INPUT;
    }
    qsort(v, n, sizeof *v, cmp_i64);
    table_build t = {0};
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i]) j++;
        tb_add(&t, v[i], (double)(j - i));
        i = j;
    }
    free(v);
    table_finish(d, &t);
    return 0;
}

/* Splits a value-file line into up to 3 fields at blanks or commas. */
static int split_line(char *s, char **f)
{
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',' || *s == '\r') s++;
        if (!*s) return n;
        if (n == 3) return 4;
        f[n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != ',' && *s != '\r') s++;
        if (*s) *s++ = '\0';
    }
}

static int load_empirical(dist *d, const char *path, const char *field,
                          char *err, size_t errlen)
{
    zio_reader *z = zio_reader_open(path, err, errlen);
    if (!z) return ERR_SYSTEM;
    table_build t = {0};
    char *line;
    size_t len;
    int rc;
    for (;;) {
        rc = zio_reader_getline(z, &line, &len);
        if (rc < 0) errf(err, errlen, "%s", zio_reader_error(z));
        if (rc <= 0) break;
        uint64_t ln = zio_reader_lineno(z);
        if (memchr(line, '\0', len)) {
            errf(err, errlen, "%s:%llu: expected text, got a NUL byte (is this a binary file?)",
                 zio_reader_path(z), (unsigned long long)ln);
            rc = ERR_INPUT;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) continue;
        if (*p == '{' && t.n == 0) {
            /* A trace (its header line is a JSON object). */
            zio_reader_close(z);
            tb_free(&t);
            if (!field) {
                errf(err, errlen, "empirical:%s: the file is a trace, but this option takes "
                     "a file of values (one per line, or 'VALUE WEIGHT')", path);
                return ERR_USAGE;
            }
            return load_trace_values(d, path, field, err, errlen);
        }
        char *f[4];
        int nf = split_line(p, f);
        int64_t v;
        double w = 1;
        if (nf == 0) continue;   /* only separators */
        if (nf > 2) {
            errf(err, errlen, "%s:%llu: expected 'VALUE' or 'VALUE WEIGHT', got %d fields",
                 zio_reader_path(z), (unsigned long long)ln, nf > 3 ? 4 : nf);
            rc = ERR_INPUT;
            break;
        }
        if (param_int(f[0], d->unit, &v) < 0) {
            errf(err, errlen, "%s:%llu: value: expected %s, got '%.40s'",
                 zio_reader_path(z), (unsigned long long)ln,
                 d->unit == DIST_DURATION ? "a duration (e.g. 2.5 = seconds, 250ms)"
                                          : "a non-negative integer", f[0]);
            rc = ERR_INPUT;
            break;
        }
        if (nf == 2 && (parse_double(f[1], &w) < 0 || w < 0)) {
            errf(err, errlen, "%s:%llu: weight: expected a non-negative number, got '%.40s'",
                 zio_reader_path(z), (unsigned long long)ln, f[1]);
            rc = ERR_INPUT;
            break;
        }
        tb_add(&t, v, w);
    }
    if (rc < 0) {
        zio_reader_close(z);
        tb_free(&t);
        return rc;
    }
    zio_reader_close(z);
    if (!t.n || table_finish(d, &t) < 0) {
        tb_free(&t);
        errf(err, errlen, "%s: no values with a positive weight, or weights too large to add up "
             "(empirical:FILE needs one value per line, or 'VALUE WEIGHT' lines)", path);
        return ERR_INPUT;
    }
    return 0;
}

static int make_zipf(dist *d, double s, int64_t max)
{
    table_build t = {0};
    for (int64_t k = 1; k <= max; k++) tb_add(&t, k, pow((double)k, -s));
    return table_finish(d, &t);
}

/* ---- parse ---- */

static int bad_spec(char *err, size_t errlen, const char *form, const char *spec)
{
    errf(err, errlen, "expected %s, got '%s'", form, spec);
    return ERR_USAGE;
}

int dist_parse(const char *spec, dist_unit unit, const char *trace_field,
               dist **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec || !*spec) {
        errf(err, errlen, "expected a distribution (%s), got an empty string", kinds_text);
        return ERR_USAGE;
    }
    const int dur = unit == DIST_DURATION;
    dist *d = xcalloc(1, sizeof *d);
    d->unit = unit;
    d->spec = xstrdup(spec);
    char *copy = xstrdup(spec);
    char *colon = strchr(copy, ':');
    char *params = colon ? colon + 1 : copy + strlen(copy);
    if (colon) *colon = '\0';
    const char *kind = copy;
    char *f[4];
    int nf = colon ? split_params(params, f, 3) : 0;
    int rc = 0;

    if (!strcmp(kind, "fixed")) {
        d->kind = K_FIXED;
        if (nf != 1 || param_int(f[0], unit, &d->lo) < 0)
            rc = bad_spec(err, errlen, dur ? "fixed:DURATION (e.g. fixed:2s)"
                                           : "fixed:N with a non-negative integer N", spec);
        d->mean = (double)d->lo;
    } else if (!strcmp(kind, "uniform")) {
        d->kind = K_UNIFORM;
        if (nf != 2 || param_int(f[0], unit, &d->lo) < 0 || param_int(f[1], unit, &d->hi) < 0)
            rc = bad_spec(err, errlen, dur ? "uniform:MIN:MAX with durations (e.g. uniform:1s:30s)"
                                           : "uniform:MIN:MAX with non-negative integers", spec);
        else if (d->hi < d->lo) {
            errf(err, errlen, "expected uniform:MIN:MAX with MIN <= MAX, got '%s'", spec);
            rc = ERR_USAGE;
        }
        d->mean = ((double)d->lo + (double)d->hi) / 2;
    } else if (!strcmp(kind, "normal")) {
        d->kind = K_NORMAL;
        if (nf != 2 || param_value(f[0], unit, &d->a) < 0 || param_value(f[1], unit, &d->b) < 0
            || d->b < 0)
            rc = bad_spec(err, errlen, dur ? "normal:MEAN:SD with durations (e.g. normal:10s:2s)"
                                           : "normal:MEAN:SD with numbers, SD >= 0", spec);
        d->mean = d->a;
    } else if (!strcmp(kind, "lognormal")) {
        d->kind = K_LOGNORMAL;
        double mean = 0;
        if (nf != 2 || param_value(f[0], unit, &mean) < 0 || parse_double(f[1], &d->b) < 0
            || !(mean > 0) || d->b < 0 || d->b > 20)
            rc = bad_spec(err, errlen, dur ? "lognormal:MEAN:SIGMA with a duration MEAN > 0 and "
                                             "0 <= SIGMA <= 20 (e.g. lognormal:10s:1.0)"
                                           : "lognormal:MEAN:SIGMA with MEAN > 0 (the mean) and "
                                             "0 <= SIGMA <= 20 (e.g. lognormal:512:0.8)", spec);
        d->a = rc ? 0 : log(mean) - d->b * d->b / 2;
        d->mean = mean;
    } else if (!strcmp(kind, "exponential")) {
        d->kind = K_EXPONENTIAL;
        if (nf != 1 || param_value(f[0], unit, &d->a) < 0 || !(d->a > 0))
            rc = bad_spec(err, errlen, dur ? "exponential:MEAN with a duration MEAN > 0 (e.g. exponential:10s)"
                                           : "exponential:MEAN with a number MEAN > 0", spec);
        d->mean = d->a;
    } else if (!strcmp(kind, "zipf")) {
        double s = 0;
        int64_t max = 0;
        if (dur) {
            errf(err, errlen, "expected a duration distribution (zipf is for counts), got '%s'", spec);
            rc = ERR_USAGE;
        } else if (nf != 2 || parse_double(f[0], &s) < 0 || !(s > 0) || s > 100
                   || parse_i64(f[1], &max) < 0 || max < 1 || max > DIST_ZIPF_MAX) {
            errf(err, errlen, "expected zipf:S:MAX with an exponent 0 < S <= 100 and an integer "
                 "1 <= MAX <= %d, got '%s'", DIST_ZIPF_MAX, spec);
            rc = ERR_USAGE;
        } else {
            make_zipf(d, s, max);
        }
    } else if (!strcmp(kind, "empirical")) {
        if (!colon || !*params) {
            errf(err, errlen, "expected empirical:FILE, got '%s'", spec);
            rc = ERR_USAGE;
        } else {
            /* The path is everything after "empirical:", colons included. */
            rc = load_empirical(d, spec + strlen("empirical:"), trace_field, err, errlen);
        }
    } else {
        errf(err, errlen, "unknown distribution '%s' in '%s' (expected %s)", kind, spec, kinds_text);
        rc = ERR_USAGE;
    }
    free(copy);
    if (rc) {
        dist_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- sampling ---- */

/* Rounds a continuous sample into the unit's range. */
static int64_t clamp_sample(const dist *d, double x)
{
    if (d->unit == DIST_DURATION) {
        if (!(x > 0)) return 0;
        if (x >= (double)DIST_MAX_US) return DIST_MAX_US;
        return (int64_t)llround(x);
    }
    if (!(x >= 1)) return 1;
    if (x >= (double)DIST_MAX_COUNT) return DIST_MAX_COUNT;
    return (int64_t)llround(x);
}

int64_t dist_sample(const dist *d, rng *r)
{
    switch (d->kind) {
    case K_FIXED:
        return d->lo;
    case K_UNIFORM:
        return rng_range(r, d->lo, d->hi);
    case K_NORMAL:
        return clamp_sample(d, d->a + d->b * rng_normal(r));
    case K_LOGNORMAL:
        return clamp_sample(d, exp(d->a + d->b * rng_normal(r)));
    case K_EXPONENTIAL:
        return clamp_sample(d, rng_exp(r, d->a));
    case K_TABLE: {
        /* First entry whose cumulative weight exceeds u: zero-weight
         * entries are never chosen. */
        double u = rng_uniform(r) * d->cum[d->n - 1];
        size_t lo = 0, hi = d->n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (d->cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        return d->vals[lo];
    }
    }
    return 0;
}

/* ---- arrivals ---- */

int dist_arrival_parse(const char *spec, double rate, dist_arrival *a,
                       char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!(rate > 0) || !isfinite(rate)) {
        errf(err, errlen, "expected a rate > 0 (arrivals per second), got %g", rate);
        return ERR_USAGE;
    }
    a->rate = rate;
    a->mean_us = 1e6 / rate;
    if (!spec || !strcmp(spec, "poisson")) {
        a->kind = DIST_ARRIVAL_POISSON;
        a->cv = 1;
        a->shape = 1;
    } else if (!strcmp(spec, "constant")) {
        a->kind = DIST_ARRIVAL_CONSTANT;
        a->cv = 0;
    } else if (!strncmp(spec, "gamma:", 6)) {
        double cv;
        if (parse_double(spec + 6, &cv) < 0 || !(cv > 0) || cv > 100) {
            errf(err, errlen, "expected gamma:CV with a coefficient of variation 0 < CV <= 100 "
                 "(use 'constant' for evenly spaced arrivals), got '%s'", spec);
            return ERR_USAGE;
        }
        a->kind = DIST_ARRIVAL_GAMMA;
        a->cv = cv;
        a->shape = 1.0 / (cv * cv);
    } else {
        errf(err, errlen, "expected an arrival process poisson, gamma:CV or constant, got '%s'", spec);
        return ERR_USAGE;
    }
    return 0;
}

double dist_arrival_gap_us(const dist_arrival *a, rng *r)
{
    switch (a->kind) {
    case DIST_ARRIVAL_POISSON:
        return rng_exp(r, a->mean_us);
    case DIST_ARRIVAL_GAMMA:
        return rng_gamma(r, a->shape, a->mean_us / a->shape);
    case DIST_ARRIVAL_CONSTANT:
        break;
    }
    return a->mean_us;
}

int64_t dist_arrival_next_us(dist_arrival *a, rng *r)
{
    if (!a->started) {
        a->started = 1;
        a->t_us = 0;
        return 0;
    }
    a->t_us += dist_arrival_gap_us(a, r);
    if (a->t_us >= (double)DIST_MAX_US) return DIST_MAX_US;
    return (int64_t)llround(a->t_us);
}
