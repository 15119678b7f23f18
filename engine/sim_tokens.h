/* sim_tokens.h — the simulated engine's notion of tokens: prompt text split
 * into pseudo token ids by the project's token-estimate rule (tokcount.h),
 * prompts hashed in fixed-size blocks for prefix caching, and the
 * deterministic words the engine "generates".
 *
 * Functions here are pure (no state, no allocation unless they say so). */
#ifndef SAGELLM_SIM_TOKENS_H
#define SAGELLM_SIM_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* Splits text into the tokens tok_estimate counts (the same number, in the
 * same order) and stores a 32-bit pseudo id for each: a hash of the token's
 * bytes, so equal text gives equal ids. Writes at most cap ids to ids (NULL
 * with cap 0 only counts) and returns the number of tokens. */
size_t sim_tokens_split(const char *text, size_t len, uint32_t *ids, size_t cap);

/* Chained block hashes for prefix caching: hashes[i] covers tokens
 * [0, (i+1)*block) of ids, so two prompts share hashes[i] exactly when they
 * share their first (i+1)*block tokens. Only full blocks are hashed; returns
 * how many (n / block), writing at most cap of them. */
size_t sim_tokens_block_hashes(const uint32_t *ids, size_t n, size_t block,
                               uint64_t *hashes, size_t cap);

/* Chains externally given per-block hashes (e.g. a trace's hash_ids, which
 * already identify a block with its prefix) the same way, salting them so
 * they never collide with text-derived hashes. */
void sim_tokens_chain_hashes(const uint64_t *in, size_t n, uint64_t *out);

/* The generated word for a token id: a short lowercase word with a leading
 * space (" the", " model"). Returns a static string; *len gets its length. */
const char *sim_tokens_word(uint32_t id, size_t *len);

/* Number of distinct generated words (ids map onto them modulo this). */
size_t sim_tokens_nwords(void);

#endif
