/* hset.c — see hset.h. Linear probing, load factor at most 1/2. */
#include "common/hset.h"
#include "common/rng.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static void grow(hset *s, int strings)
{
    size_t ncap = s->cap ? s->cap * 2 : 64;
    uint64_t *nk = xcalloc(ncap, sizeof *nk);
    char **ns = strings ? xcalloc(ncap, sizeof *ns) : NULL;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i]) continue;
        size_t j = mix64(s->keys[i]) & (ncap - 1);
        while (nk[j]) j = (j + 1) & (ncap - 1);
        nk[j] = s->keys[i];
        if (ns) ns[j] = s->strs[i];
    }
    free(s->keys);
    free(s->strs);
    s->keys = nk;
    s->strs = ns;
    s->cap = ncap;
}

int hset_add_int(hset *s, int64_t v)
{
    if ((s->len + 1) * 2 > s->cap) grow(s, 0);
    uint64_t k = (uint64_t)v + 1;
    if (k == 0) k = 0x8000000000000000ULL; /* v == -1 */
    size_t j = mix64(k) & (s->cap - 1);
    while (s->keys[j]) {
        if (s->keys[j] == k) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = k;
    s->len++;
    return 1;
}

int hset_add_str(hset *s, const char *str)
{
    if ((s->len + 1) * 2 > s->cap) grow(s, 1);
    uint64_t k = hash_str(str) | 1;
    size_t j = mix64(k) & (s->cap - 1);
    while (s->keys[j]) {
        if (s->keys[j] == k && !strcmp(s->strs[j], str)) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = k;
    s->strs[j] = xstrdup(str);
    s->len++;
    return 1;
}

void hset_free(hset *s)
{
    if (s->strs)
        for (size_t i = 0; i < s->cap; i++) free(s->strs[i]);
    free(s->keys);
    free(s->strs);
    memset(s, 0, sizeof *s);
}
