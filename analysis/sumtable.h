/* sumtable.h — the vLLM-style summary table that `replay` prints at the end
 * of a run and `report` prints for a log, from a summary.json object
 * (analysis/summary.h), as text or as a Markdown metric/value table.
 *
 * What the labels say follows the summary: token counts are labelled
 * chunks when the server sent no usage (token_source "chunks"), a missing
 * value prints n/a, the "Engine-reported" section (the in-process engine's
 * own times) appears only when the summary has the engine view, and the
 * short-output count only when some request forced its output length.
 * Nothing here allocates anything the caller must free. */
#ifndef SAGELLM_SUMTABLE_H
#define SAGELLM_SUMTABLE_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/table.h"

#define SUMTABLE_ERRORS 1u   /* text: an "Errors" section with the count per class */

/* Prints the table of sum in format f (TABLE_TEXT or TABLE_MD; TABLE_CSV
 * prints nothing: CSV is the summary's keys). flags: SUMTABLE_*. */
void sumtable_print(const cJSON *sum, table_format f, unsigned flags, FILE *out);

/* Prints a warning line per problem the summary shows that the numbers do
 * not say by themselves (outputs shorter than forced: the target ignored
 * ignore_eos/min_tokens); nothing when there is none. Returns how many. */
int sumtable_warnings(const cJSON *sum, table_format f, FILE *out);

#endif
