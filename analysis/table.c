/* table.c — see table.h. */
#include "analysis/table.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct cell {
    char *text;     /* shown in text and Markdown */
    char *exact;    /* for CSV, when it differs (numbers); NULL otherwise */
} cell;

typedef struct row {
    cell *c;
    int n;
} row;

struct table {
    char *title;
    row *rows;
    int nrows, cap;
    row cur;
};

table *table_new(const char *title)
{
    table *t = xcalloc(1, sizeof *t);
    if (title) t->title = xstrdup(title);
    return t;
}

static void push_cell(table *t, char *text, char *exact)
{
    t->cur.c = xrealloc(t->cur.c, (size_t)(t->cur.n + 1) * sizeof *t->cur.c);
    t->cur.c[t->cur.n].text = text;
    t->cur.c[t->cur.n].exact = exact;
    t->cur.n++;
}

void table_cell(table *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    push_cell(t, xstrdup(tmp), NULL);
}

void table_num(table *t, int have, double v, int decimals)
{
    if (!have || !isfinite(v)) {
        push_cell(t, xstrdup("n/a"), xstrdup(""));
        return;
    }
    char a[64], b[64];
    snprintf(a, sizeof a, "%.*f", decimals, v);
    for (int p = 15; p <= 17; p++) { /* the shortest text that reads back as v */
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v) break;
    }
    push_cell(t, xstrdup(a), xstrdup(b));
}

void table_end_row(table *t)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = xrealloc(t->rows, (size_t)t->cap * sizeof *t->rows);
    }
    t->rows[t->nrows++] = t->cur;
    t->cur.c = NULL;
    t->cur.n = 0;
}

int table_rows(const table *t) { return t->nrows; }

static void free_row(row *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->c[i].text);
        free(r->c[i].exact);
    }
    free(r->c);
}

void table_free(table *t)
{
    if (!t) return;
    for (int i = 0; i < t->nrows; i++) free_row(&t->rows[i]);
    free_row(&t->cur);
    free(t->rows);
    free(t->title);
    free(t);
}

/* Display width of UTF-8 text (code points; the tables hold no wide
 * characters). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_csv_cell(const char *s, FILE *out)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Markdown cells: a '|' would end the cell. */
static void print_md_cell(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
}

void table_print(const table *t, table_format f, FILE *out)
{
    int ncol = 0;
    for (int i = 0; i < t->nrows; i++)
        if (t->rows[i].n > ncol) ncol = t->rows[i].n;
    if (f == TABLE_CSV) {
        for (int i = 0; i < t->nrows; i++) {
            for (int c = 0; c < t->rows[i].n; c++) {
                if (c) fputc(',', out);
                const cell *x = &t->rows[i].c[c];
                print_csv_cell(x->exact && i > 0 ? x->exact : x->text, out);
            }
            fputc('\n', out);
        }
        return;
    }
    if (f == TABLE_MD) {
        if (t->title) fprintf(out, "### %s\n\n", t->title);
        for (int i = 0; i < t->nrows; i++) {
            fputc('|', out);
            for (int c = 0; c < ncol; c++) {
                fputc(' ', out);
                if (c < t->rows[i].n) print_md_cell(t->rows[i].c[c].text, out);
                fputs(" |", out);
            }
            fputc('\n', out);
            if (i == 0) {
                fputc('|', out);
                for (int c = 0; c < ncol; c++) fputs(c ? "---:|" : "---|", out);
                fputc('\n', out);
            }
        }
        fputc('\n', out);
        return;
    }
    int *w = xcalloc((size_t)ncol + 1, sizeof *w);
    for (int i = 0; i < t->nrows; i++)
        for (int c = 0; c < t->rows[i].n; c++) {
            int k = width(t->rows[i].c[c].text);
            if (k > w[c]) w[c] = k;
        }
    if (t->title) fprintf(out, "%s\n", t->title);
    for (int i = 0; i < t->nrows; i++) {
        fputs("  ", out);
        for (int c = 0; c < t->rows[i].n; c++) {
            const char *s = t->rows[i].c[c].text;
            int pad = w[c] - width(s);
            if (c == 0) fprintf(out, "%s%*s", s, pad, "");
            else fprintf(out, "  %*s%s", pad, "", s);
        }
        fputc('\n', out);
    }
    free(w);
}

void table_fmt_ms(char *buf, size_t len, double ms)
{
    double a = fabs(ms);
    if (!isfinite(ms)) snprintf(buf, len, "n/a");
    else if (a < 1) snprintf(buf, len, "%.0f us", ms * 1000);
    else if (a < 1000) snprintf(buf, len, "%.*f ms", a < 10 ? 2 : a < 100 ? 1 : 0, ms);
    else snprintf(buf, len, "%.2f s", ms / 1000);
}
