/* hset.h — open-addressing hash sets of 64-bit integers and of strings,
 * for counting distinct sessions, hash ids and the like. The set owns
 * copies of the strings it holds. Zero-initialise, then use; hset_free. */
#ifndef SAGELLM_HSET_H
#define SAGELLM_HSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct hset {
    uint64_t *keys;     /* integer keys (value + 1; 0 = empty) or string hashes */
    char **strs;        /* string keys (NULL for an integer set) */
    size_t cap, len;
} hset;

/* Adds v; returns 1 if it was new, 0 if already present. */
int hset_add_int(hset *s, int64_t v);
int hset_add_str(hset *s, const char *str);
void hset_free(hset *s);

#endif
