/* import_csv.c — see import_csv.h. libcsv does the tokenising (quotes,
 * delimiters, CR/LF); this file adds header lookup, line numbers and the
 * row hand-over. Memory: one read buffer, libcsv's field buffer and the
 * current row; nothing grows with the number of rows. */
#include "traces/import_csv.h"
#include "traces/import_rec.h"
#include "common/zio.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_CHUNK (256u << 10)
#define CSV_MAX_FIELD ((size_t)ZIO_DEFAULT_MAX_LINE)
#define CSV_MAX_HEADER 1024
#define CSV_OPTS (CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL | CSV_APPEND_NULL)

typedef struct csvst {
    import_ctx *ctx;
    const import_csv_col *cols;
    size_t ncols;
    import_csv_row_fn fn;
    void *ud;
    /* header */
    int have_header;
    size_t nhead;
    int *map;              /* header index -> col index, or -1 - extra index */
    char **names;          /* header names (trimmed) */
    size_t nextra;
    const char **ex_name, **ex_v;
    size_t *ex_len;
    /* current row */
    strbuf row;            /* field bytes, each NUL-terminated */
    size_t *off, *flen;
    size_t nf, nstored, capf;
    uint64_t line;         /* line where the current row starts */
    uint64_t nl_in_row;    /* newlines inside its quoted fields */
    int prev_cr;
    int rc;                /* first error: stop */
} csvst;

/* libcsv grows its field buffer through this: refusing keeps a field with
 * an unclosed quote from swallowing the whole file into memory. */
static void *capped_realloc(void *p, size_t n)
{
    return n > CSV_MAX_FIELD + 1 ? NULL : realloc(p, n);
}

static void parser_init(struct csv_parser *p)
{
    csv_init(p, CSV_OPTS);
    csv_set_realloc_func(p, capped_realloc);
    csv_set_blk_size(p, 64u << 10);
}

static void on_field(void *field, size_t n, void *data)
{
    csvst *st = data;
    if (st->rc) return;
    st->prev_cr = 0;
    const char *s = field ? field : "";
    for (const char *q = s; (q = memchr(q, '\n', n - (size_t)(q - s))) != NULL; q++)
        st->nl_in_row++;
    size_t limit = st->have_header ? st->nhead + 1 : CSV_MAX_HEADER + 1;
    st->nf++;
    if (st->nstored >= limit) return; /* counted, not kept */
    if (st->nstored == st->capf) {
        st->capf = st->capf ? st->capf * 2 : 16;
        st->off = xrealloc(st->off, st->capf * sizeof *st->off);
        st->flen = xrealloc(st->flen, st->capf * sizeof *st->flen);
    }
    /* Trim spaces (libcsv keeps them inside quoted fields). */
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    st->off[st->nstored] = st->row.len;
    st->flen[st->nstored] = n;
    sb_add(&st->row, s, n);
    sb_addc(&st->row, '\0');
    st->nstored++;
}

static const char *field_at(const csvst *st, size_t i)
{
    return st->row.buf + st->off[i];
}

static int take_header(csvst *st)
{
    import_ctx *ctx = st->ctx;
    if (st->nf > CSV_MAX_HEADER)
        return import_rec_fatal(ctx, st->line, st->cols[0].name,
                                "expected a CSV header line naming the columns, got a row "
                                "of %zu fields", st->nf);
    /* A UTF-8 byte-order mark before the first name is not part of it. */
    if (st->flen[0] >= 3 && !memcmp(field_at(st, 0), "\xEF\xBB\xBF", 3)) {
        st->off[0] += 3;
        st->flen[0] -= 3;
        while (st->flen[0] && *field_at(st, 0) == ' ') st->off[0]++, st->flen[0]--;
    }
    st->nhead = st->nf;
    st->map = xmalloc(st->nhead * sizeof *st->map);
    st->names = xcalloc(st->nhead, sizeof *st->names);
    for (size_t i = 0; i < st->nhead; i++) {
        st->names[i] = xstrndup(field_at(st, i), st->flen[i]);
        st->map[i] = -1;
    }
    for (size_t c = 0; c < st->ncols; c++) {
        size_t i;
        for (i = 0; i < st->nhead; i++)
            if (st->map[i] == -1 && !strcasecmp(st->names[i], st->cols[c].name)) break;
        if (i < st->nhead) {
            st->map[i] = (int)c;
        } else if (st->cols[c].required) {
            strbuf h = {0};
            for (size_t j = 0; j < st->nhead; j++) {
                if (j) sb_addc(&h, ',');
                sb_add(&h, field_at(st, j), st->flen[j]);
            }
            char d[300];
            import_rec_describe(d, sizeof d, h.buf, h.len);
            sb_free(&h);
            return import_rec_fatal(ctx, st->line, st->cols[c].name,
                                    "expected a column named '%s' in the CSV header, found %s",
                                    st->cols[c].name, d);
        }
    }
    for (size_t i = 0; i < st->nhead; i++) {
        if (st->map[i] != -1) continue;
        st->map[i] = -1 - (int)st->nextra++;
        /* Extra columns become meta keys: give unnamed and repeated ones
         * a unique name, "column_N" (N counted from 1). */
        int dup = !st->names[i][0];
        for (size_t j = 0; j < i && !dup; j++)
            dup = st->map[j] < 0 && !strcmp(st->names[j], st->names[i]);
        if (dup) {
            free(st->names[i]);
            strbuf b = {0};
            sb_printf(&b, "column_%zu", i + 1);
            st->names[i] = b.buf;
        }
    }
    if (st->nextra) {
        st->ex_name = xcalloc(st->nextra, sizeof *st->ex_name);
        st->ex_v = xcalloc(st->nextra, sizeof *st->ex_v);
        st->ex_len = xcalloc(st->nextra, sizeof *st->ex_len);
        for (size_t i = 0; i < st->nhead; i++)
            if (st->map[i] < 0) st->ex_name[-1 - st->map[i]] = st->names[i];
    }
    st->have_header = 1;
    return 0;
}

static int take_row(csvst *st)
{
    import_ctx *ctx = st->ctx;
    import_count_row(ctx);
    if (st->nf > st->nhead)
        return import_bad(ctx, st->line, "(row)", "expected %zu comma-separated fields as in "
                          "the header, got %zu", st->nhead, st->nf);
    import_csv_row r;
    memset(&r, 0, sizeof r);
    r.line = st->line;
    size_t nex = 0;
    for (size_t i = 0; i < st->nf; i++) {
        int m = st->map[i];
        if (m >= 0) {
            r.v[m] = field_at(st, i);
            r.len[m] = st->flen[i];
        } else {
            st->ex_name[nex] = st->names[i];
            st->ex_v[nex] = field_at(st, i);
            st->ex_len[nex] = st->flen[i];
            nex++;
        }
    }
    for (size_t c = 0; c < st->ncols; c++)
        if (st->cols[c].required && !r.v[c])
            return import_bad(ctx, st->line, st->cols[c].name, "expected a value, but the row "
                              "has only %zu of the header's %zu fields", st->nf, st->nhead);
    r.nextra = nex;
    r.extra_name = st->ex_name;
    r.extra_v = st->ex_v;
    r.extra_len = st->ex_len;
    return st->fn(ctx, &r, st->ud);
}

static void reset_row(csvst *st)
{
    sb_clear(&st->row);
    st->nf = st->nstored = 0;
    st->nl_in_row = 0;
}

static void on_row(int c, void *data)
{
    csvst *st = data;
    if (st->rc) return;
    int nl = c == '\n' || c == '\r';
    if (st->nf == 0) {
        /* A blank line, or the LF of a CRLF. */
        if (nl && !(c == '\n' && st->prev_cr)) st->line++;
        st->prev_cr = c == '\r';
        return;
    }
    st->rc = st->have_header ? take_row(st) : take_header(st);
    st->line += st->nl_in_row + (uint64_t)nl;
    st->prev_cr = c == '\r';
    reset_row(st);
}

/* A libcsv error at this point of the input: reports it; returns 0 if the
 * caller should skip the rest of the line and go on. */
static int syntax_error(csvst *st, struct csv_parser *p, int at_end)
{
    uint64_t line = st->line + st->nl_in_row;
    if (at_end) {
        reset_row(st);
        return import_bad(st->ctx, line, "(csv)", "expected a closing quote for the field "
                          "that starts here, got the end of the input");
    }
    for (size_t i = 0; i < p->entry_pos; i++)
        if (p->entry_buf[i] == '\n') line++;
    int e = csv_error(p);
    if (e == CSV_ENOMEM || e == CSV_ETOOBIG)
        return import_rec_fatal(st->ctx, line, "(csv)", "expected fields shorter than %zu MB, "
                                "got a longer one (an unclosed quote?)", CSV_MAX_FIELD >> 20);
    int rc = import_bad(st->ctx, line, "(csv)", "expected well-formed CSV (a quote only at the "
                        "start of a field, closed before the next comma): %s", csv_strerror(e));
    /* The caller skips to the end of this line: the next row starts after it. */
    st->line = line;
    reset_row(st);
    return rc;
}

static void csvst_free(csvst *st)
{
    for (size_t i = 0; i < st->nhead; i++) free(st->names ? st->names[i] : NULL);
    free(st->names);
    free(st->map);
    free(st->ex_name);
    free(st->ex_v);
    free(st->ex_len);
    free(st->off);
    free(st->flen);
    sb_free(&st->row);
}

int import_csv_run(import_ctx *ctx, const import_csv_col *cols, size_t ncols,
                   import_csv_row_fn fn, void *ud)
{
    if (ncols > IMPORT_CSV_MAX_COLS)
        return import_fail(ctx, ERR_SYSTEM, "import_csv_run: too many columns");
    csvst st;
    memset(&st, 0, sizeof st);
    st.ctx = ctx;
    st.cols = cols;
    st.ncols = ncols;
    st.fn = fn;
    st.ud = ud;
    st.line = 1;
    struct csv_parser p;
    parser_init(&p);
    struct zio_reader *in = import_input(ctx);
    char *buf = xmalloc(CSV_CHUNK);
    int skip_line = 0;
    int rc = 0;
    for (;;) {
        long n = zio_reader_read(in, buf, CSV_CHUNK);
        if (n < 0) {
            rc = import_rec_read_error(ctx, (int)n);
            break;
        }
        if (n == 0) break;
        size_t pos = 0, len = (size_t)n;
        while (pos < len && !st.rc) {
            if (skip_line) {
                const char *q = memchr(buf + pos, '\n', len - pos);
                if (!q) {
                    pos = len;
                    break;
                }
                pos = (size_t)(q - buf) + 1;
                skip_line = 0;
                st.line++;
                st.prev_cr = 0;
                continue;
            }
            size_t k = csv_parse(&p, buf + pos, len - pos, on_field, on_row, &st);
            if (st.rc) break;
            if (k == len - pos && csv_error(&p) == CSV_SUCCESS) {
                pos = len;
                break;
            }
            st.rc = syntax_error(&st, &p, 0);
            csv_free(&p);
            parser_init(&p);
            pos += k;
            skip_line = 1;
        }
        if (st.rc) break;
    }
    if (!rc && !st.rc && !skip_line && csv_fini(&p, on_field, on_row, &st) != 0 && !st.rc)
        st.rc = syntax_error(&st, &p, 1);
    if (!rc) rc = st.rc;
    if (!rc && !st.have_header) {
        strbuf names = {0};
        for (size_t c = 0; c < ncols; c++)
            if (cols[c].required) sb_printf(&names, "%s%s", names.len ? "," : "", cols[c].name);
        rc = import_rec_fatal(ctx, 1, ncols ? cols[0].name : "(csv)", "expected a CSV header "
                              "line with the columns %s, got an empty input", names.buf);
        sb_free(&names);
    }
    csv_free(&p);
    free(buf);
    csvst_free(&st);
    return rc;
}

/* 1 if s is a plain number a reader would want as one: "-12", "3.5", "1e3". */
static int looks_numeric(const char *s, size_t n, int *is_int)
{
    size_t i = 0, digits = 0;
    int other = 0;
    if (i < n && s[i] == '-') i++;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') digits++;
        else if (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-') other = 1;
        else return 0;
    }
    *is_int = !other && digits <= 15;
    return digits > 0;
}

int import_csv_add_meta(import_ctx *ctx, cJSON *rec, const import_csv_row *row)
{
    if (!row->nextra) return 0;
    cJSON *meta = cJSON_CreateObject();
    for (size_t i = 0; i < row->nextra; i++) {
        const char *v = row->extra_v[i];
        size_t n = row->extra_len[i];
        int is_int = 0;
        cJSON *item = NULL;
        if (looks_numeric(v, n, &is_int)) {
            char *end;
            double d = is_int ? (double)strtoll(v, &end, 10) : strtod(v, &end);
            if (end == v + n && d == d && d - d == 0) item = cJSON_CreateNumber(d);
        }
        if (!item) {
            if (!import_rec_utf8_ok(v, n)) {
                cJSON_Delete(meta);
                return import_rec_bad_text(ctx, row->line, row->extra_name[i],
                                           "UTF-8 text", v, n);
            }
            item = cJSON_CreateString(v);
        }
        if (!import_rec_utf8_ok(row->extra_name[i], strlen(row->extra_name[i]))) {
            cJSON_Delete(item);
            cJSON_Delete(meta);
            return import_rec_bad_text(ctx, 1, "(header)", "UTF-8 column names",
                                       row->extra_name[i], strlen(row->extra_name[i]));
        }
        cJSON_AddItemToObject(meta, row->extra_name[i], item);
    }
    import_rec_add(rec, "meta", meta);
    return 0;
}

int import_csv_counts(import_ctx *ctx, const import_csv_row *r, const import_csv_col *cols,
                      int ci, int co, int64_t *in, int64_t *out, int *rc)
{
    if (import_rec_parse_count(r->v[ci], r->len[ci], in) < 0)
        *rc = import_rec_bad_text(ctx, r->line, cols[ci].name, "a non-negative integer",
                                  r->v[ci], r->len[ci]);
    else if (import_rec_parse_count(r->v[co], r->len[co], out) < 0)
        *rc = import_rec_bad_text(ctx, r->line, cols[co].name, "a non-negative integer",
                                  r->v[co], r->len[co]);
    else
        return 1;
    return 0;
}

cJSON *import_csv_length_rec(import_ctx *ctx, const import_csv_row *r, int64_t t_us,
                             const char *id, int64_t in, int64_t out, int *rc)
{
    cJSON *rec = import_rec_new(ctx, t_us, id);
    import_rec_api_model(ctx, rec, 0, NULL);
    import_rec_int(rec, "input_tokens", in);
    import_rec_int(rec, "output_tokens", out);
    *rc = import_csv_add_meta(ctx, rec, r);
    if (!*rc) return rec;
    cJSON_Delete(rec);
    return NULL;
}
