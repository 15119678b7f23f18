/* prefix_cache.h — an LRU set of cached prompt blocks, keyed by chained
 * block hashes (sim_tokens_block_hashes), as vLLM's automatic prefix
 * caching keeps computed KV blocks. Capacity is fixed at creation; adding a
 * block to a full cache evicts the least recently used one.
 *
 * Not thread-safe: the engine thread owns it. */
#ifndef SAGELLM_PREFIX_CACHE_H
#define SAGELLM_PREFIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct prefix_cache prefix_cache;

/* A cache of at most capacity blocks (0 gives a cache that never hits).
 * Free with prefix_cache_free. */
prefix_cache *prefix_cache_new(size_t capacity);
void prefix_cache_free(prefix_cache *c);

/* Length of the longest cached prefix of hashes (in blocks: hashes[0..k)
 * all cached). The matched blocks become most recently used. */
size_t prefix_cache_match(prefix_cache *c, const uint64_t *hashes, size_t n);

/* Adds every hash (or refreshes it), evicting the oldest when full. */
void prefix_cache_insert(prefix_cache *c, const uint64_t *hashes, size_t n);

/* Blocks held now; capacity. */
size_t prefix_cache_size(const prefix_cache *c);
size_t prefix_cache_capacity(const prefix_cache *c);

#endif
