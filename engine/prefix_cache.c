/* prefix_cache.c — see prefix_cache.h. A fixed pool of entries, a hash
 * table of bucket chains (indices into the pool) and an intrusive
 * doubly-linked LRU list; every operation is O(1) expected. */
#include "engine/prefix_cache.h"

#include <stdlib.h>

#include "common/rng.h"
#include "common/util.h"

#define NIL UINT32_MAX

typedef struct entry {
    uint64_t hash;
    uint32_t next;          /* bucket chain */
    uint32_t prev_lru, next_lru;
} entry;

struct prefix_cache {
    size_t cap, used;
    entry *e;
    uint32_t *bucket;
    size_t nbuckets;        /* power of two */
    uint32_t head, tail;    /* LRU: head = most recent */
    uint32_t free_list;     /* through next */
};

prefix_cache *prefix_cache_new(size_t capacity)
{
    prefix_cache *c = xcalloc(1, sizeof *c);
    if (capacity > (size_t)UINT32_MAX - 1) capacity = (size_t)UINT32_MAX - 1;
    c->cap = capacity;
    c->nbuckets = 16;
    while (c->nbuckets < capacity * 2) c->nbuckets *= 2;
    c->bucket = xmalloc(c->nbuckets * sizeof *c->bucket);
    for (size_t i = 0; i < c->nbuckets; i++) c->bucket[i] = NIL;
    c->e = xmalloc((capacity ? capacity : 1) * sizeof *c->e);
    c->free_list = NIL;
    for (size_t i = capacity; i-- > 0;) {
        c->e[i].next = c->free_list;
        c->free_list = (uint32_t)i;
    }
    c->head = c->tail = NIL;
    return c;
}

void prefix_cache_free(prefix_cache *c)
{
    if (!c) return;
    free(c->e);
    free(c->bucket);
    free(c);
}

static size_t slot(const prefix_cache *c, uint64_t h)
{
    return (size_t)(mix64(h) & (c->nbuckets - 1));
}

static uint32_t find(const prefix_cache *c, uint64_t h)
{
    for (uint32_t i = c->bucket[slot(c, h)]; i != NIL; i = c->e[i].next)
        if (c->e[i].hash == h) return i;
    return NIL;
}

static void lru_unlink(prefix_cache *c, uint32_t i)
{
    entry *x = &c->e[i];
    if (x->prev_lru != NIL) c->e[x->prev_lru].next_lru = x->next_lru; else c->head = x->next_lru;
    if (x->next_lru != NIL) c->e[x->next_lru].prev_lru = x->prev_lru; else c->tail = x->prev_lru;
}

static void lru_push_front(prefix_cache *c, uint32_t i)
{
    entry *x = &c->e[i];
    x->prev_lru = NIL;
    x->next_lru = c->head;
    if (c->head != NIL) c->e[c->head].prev_lru = i; else c->tail = i;
    c->head = i;
}

static void bucket_remove(prefix_cache *c, uint32_t i)
{
    uint32_t *pp = &c->bucket[slot(c, c->e[i].hash)];
    while (*pp != i) pp = &c->e[*pp].next;
    *pp = c->e[i].next;
}

size_t prefix_cache_match(prefix_cache *c, const uint64_t *hashes, size_t n)
{
    size_t k = 0;
    if (!c->cap) return 0;
    while (k < n && find(c, hashes[k]) != NIL) k++;
    /* Refresh from the last block to the first, so that the first block of a
     * prefix is always the last to go (later blocks are useless without it). */
    for (size_t j = k; j-- > 0;) {
        uint32_t i = find(c, hashes[j]);
        lru_unlink(c, i);
        lru_push_front(c, i);
    }
    return k;
}

void prefix_cache_insert(prefix_cache *c, const uint64_t *hashes, size_t n)
{
    if (!c->cap) return;
    for (size_t k = n; k-- > 0;) {      /* last block first: see match */
        uint32_t i = find(c, hashes[k]);
        if (i != NIL) {
            lru_unlink(c, i);
            lru_push_front(c, i);
            continue;
        }
        if (c->free_list != NIL) {
            i = c->free_list;
            c->free_list = c->e[i].next;
            c->used++;
        } else {
            i = c->tail;                /* evict the least recently used */
            lru_unlink(c, i);
            bucket_remove(c, i);
        }
        c->e[i].hash = hashes[k];
        size_t s = slot(c, hashes[k]);
        c->e[i].next = c->bucket[s];
        c->bucket[s] = i;
        lru_push_front(c, i);
    }
}

size_t prefix_cache_size(const prefix_cache *c) { return c->used; }
size_t prefix_cache_capacity(const prefix_cache *c) { return c->cap; }
