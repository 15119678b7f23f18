/* tokcount.h — the project's one documented rule for estimating how many
 * tokens a text has when no tokenizer is at hand (docs/trace-format.md,
 * "Token estimates"). Used by importers that only have text, by the
 * simulated engine to count prompt tokens, and by capture --redact.
 *
 * Rule: a run of ASCII letters of length L counts ceil(L/6) tokens; a run of
 * digits ceil(L/3); every other printable ASCII character 1; every non-ASCII
 * UTF-8 character 1; a run of newlines 1; spaces and tabs 0 (BPE tokenizers
 * fold a leading space into the next word). */
#ifndef SAGELLM_TOKCOUNT_H
#define SAGELLM_TOKCOUNT_H

#include <stddef.h>

size_t tok_estimate(const char *s, size_t n);

#endif
