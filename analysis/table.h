/* table.h — the tables `report` and `compare` print, built cell by cell and
 * rendered as aligned plain text, Markdown or CSV (RFC 4180 quoting). The
 * first row added is the header. A table owns copies of its cells; free it
 * with table_free. */
#ifndef SAGELLM_TABLE_H
#define SAGELLM_TABLE_H

#include <stdio.h>

#include "common/util.h"

typedef enum table_format { TABLE_TEXT, TABLE_MD, TABLE_CSV } table_format;

typedef struct table table;

/* A new empty table with a title (printed above it in text and Markdown,
 * not in CSV; may be NULL). */
table *table_new(const char *title);

/* Appends a cell to the current row (printf-style). */
void table_cell(table *t, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Appends a number with the given decimals, or "n/a" when !have. In CSV the
 * number is written in full: the shortest %.15g..%.17g text that reads back
 * as the same double (an empty cell when !have). */
void table_num(table *t, int have, double v, int decimals);

/* Ends the current row. */
void table_end_row(table *t);

/* Rows added so far, the header included. */
int table_rows(const table *t);

/* Prints t to out in format f: text columns are padded (the first
 * left-aligned, the others right-aligned), Markdown gets a header rule,
 * CSV quotes cells that need it. */
void table_print(const table *t, table_format f, FILE *out);

/* Frees t. table_free(NULL) is a no-op. */
void table_free(table *t);

/* Formats a duration given in ms compactly: "850 us", "12.3 ms", "4.20 s". */
void table_fmt_ms(char *buf, size_t len, double ms);

#endif
