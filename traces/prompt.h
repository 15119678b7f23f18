/* prompt.h — deterministic prompt text for length-only trace records.
 *
 * The text is made of words from a fixed vocabulary of 512 common English
 * words of 3 to 6 lowercase letters, separated by single spaces. Each word,
 * with or without its leading space, is exactly one token under the
 * cl100k_base and o200k_base (GPT), Llama 2 and Llama 3 tokenizers, and
 * counts exactly 1 under tok_estimate (tokcount.h), so a text of N words is
 * N tokens (docs/prompt-synthesis.md has the measured figures).
 *
 * With hash ids the text is one block per id, each block's words drawn from
 * a generator seeded by the id alone, so equal ids give byte-identical
 * blocks and a server's prefix cache sees the sharing the original system
 * saw. Tokens beyond the blocks come from the caller's seed.
 *
 * Ownership: functions append to a caller-owned strbuf; prompt_make_body
 * returns a new cJSON object the caller frees with cJSON_Delete. */
#ifndef SAGELLM_PROMPT_H
#define SAGELLM_PROMPT_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "common/util.h"
#include "traces/trace.h"

#define PROMPT_VOCAB_SIZE 512
#define PROMPT_MAX_WORD_BYTES 7   /* a word with its leading space */
/* The longest prompt synthesised, in tokens: past any model's context
 * window (10M), and what keeps a record with a corrupt length from taking
 * gigabytes (2^31 tokens would be 15 GB of text). */
#define PROMPT_MAX_TOKENS INT64_C(10000000)

/* Appends to out the text of `tokens` tokens: the first min(len, ceil(tokens/
 * block_size)) ids of hash_ids each give a block of block_size words (the last
 * one possibly partial: the first words of that id's block), and any tokens
 * past those blocks come from `seed`. hash_ids may be NULL (then all of the
 * text comes from seed). The text starts with a letter (the first word's
 * space is dropped) and ends with a letter; no NUL is counted in out->len but
 * out->buf is NUL-terminated. Returns 0, or ERR_USAGE (out unchanged) for
 * tokens < 0 or > PROMPT_MAX_TOKENS, a hash_ids that is not an array of
 * integers, or block_size < 1 with hash_ids. Thread-safe: no shared state. */
int prompt_synth(strbuf *out, int64_t tokens, const cJSON *hash_ids,
                 int64_t block_size, uint64_t seed);

/* Appends the first `tokens` words of hash block `hash_id`, each word with its
 * leading space: the exact bytes that block contributes to every prompt it
 * appears in after the first position (tokens <= 0 appends nothing). */
void prompt_block(strbuf *out, int64_t hash_id, int64_t tokens);

/* The seed of a record's own text: seed mixed with a hash of r->id, so a
 * record's text does not depend on where it sits in the trace. */
uint64_t prompt_record_seed(const trace_rec *r, uint64_t seed);

/* A request body for a length-only record (r->input_tokens >= 0): api (NULL:
 * r->api) "chat" gives {"model", "messages": [{"role": "user", "content"}]},
 * "embeddings" gives {"model", "input"}, any other api {"model", "prompt"};
 * "max_tokens" is output_tokens when that is > 0 (not for embeddings).
 * "model" is model, else r->model, else absent. The text is
 * prompt_synth(input_tokens, r->hash_ids, r->block_size,
 * prompt_record_seed(r, seed)). Returns a new object (the caller frees it),
 * or NULL when r has no input_tokens, more than PROMPT_MAX_TOKENS, or
 * unusable hash_ids (prompt_refusal says which). */
cJSON *prompt_make_body(const trace_rec *r, const char *api, const char *model,
                        uint64_t seed);
/* Why prompt_make_body refused r, for a message naming the field:
 * "field 'input_tokens': ..." or "field 'hash_ids': ...". */
const char *prompt_refusal(const trace_rec *r);

#endif
