/* sim_tokens.c — see sim_tokens.h. */
#include "engine/sim_tokens.h"

#include <string.h>

#include "common/rng.h"

static int is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* FNV-1a over the token's bytes, finished with mix64; the flag says whether
 * a space preceded it (BPE folds it into the token). */
static uint32_t token_id(const unsigned char *p, size_t n, int spaced)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)spaced;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return (uint32_t)mix64(h);
}

/* Follows tok_estimate's rule token by token (common/tokcount.c): a unit
 * test checks that both always count the same. */
size_t sim_tokens_split(const char *text, size_t len, uint32_t *ids, size_t cap)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    size_t n = 0;
    int spaced = 0;
#define EMIT(start, l) do { if (n < cap) ids[n] = token_id((start), (l), spaced); \
                            n++; spaced = 0; } while (0)
    while (p < end) {
        unsigned char c = *p;
        if (is_alpha(c) || is_digit(c)) {
            int alpha = is_alpha(c);
            size_t chunk = alpha ? 6 : 3;
            const unsigned char *s = p;
            while (p < end && (alpha ? is_alpha(*p) : is_digit(*p))) p++;
            for (const unsigned char *q = s; q < p; q += chunk) {
                size_t l = (size_t)(p - q) < chunk ? (size_t)(p - q) : chunk;
                EMIT(q, l);
            }
        } else if (c == ' ' || c == '\t') {
            p++;
            spaced = 1;
        } else if (c == '\n' || c == '\r') {
            const unsigned char *s = p;
            while (p < end && (*p == '\n' || *p == '\r')) p++;
            EMIT(s, 1);
        } else if (c < 0x80) {
            EMIT(p, 1);
            p++;
        } else {
            const unsigned char *s = p++;
            while (p < end && (*p & 0xC0) == 0x80) p++;
            EMIT(s, (size_t)(p - s));
        }
    }
#undef EMIT
    return n;
}

size_t sim_tokens_block_hashes(const uint32_t *ids, size_t n, size_t block,
                               uint64_t *hashes, size_t cap)
{
    if (block == 0) return 0;
    size_t nb = n / block;
    uint64_t h = 0x5a6e4c4cULL;     /* any fixed start */
    for (size_t b = 0; b < nb && b < cap; b++) {
        uint64_t x = h;
        for (size_t i = 0; i < block; i++)
            x = mix64(x ^ ids[b * block + i]);
        h = mix64(x + b);
        hashes[b] = h;
    }
    return nb;
}

void sim_tokens_chain_hashes(const uint64_t *in, size_t n, uint64_t *out)
{
    uint64_t h = 0x7472616365ULL;   /* a different start: never equals text hashes */
    for (size_t i = 0; i < n; i++) {
        h = mix64(h ^ mix64(in[i] + 0x9e3779b97f4a7c15ULL));
        out[i] = h;
    }
}

/* Short, common words: each generated token is one of them with a leading
 * space, so streamed text is readable and its length predictable. */
static const char *const words[] = {
    " the", " of", " and", " to", " in", " a", " is", " that", " for", " it",
    " as", " was", " with", " be", " by", " on", " not", " he", " this", " are",
    " or", " his", " from", " at", " which", " but", " have", " an", " had", " they",
    " you", " were", " their", " one", " all", " we", " can", " her", " has", " there",
    " been", " if", " more", " when", " will", " would", " who", " so", " no", " model",
    " token", " time", " data", " serve", " batch", " cache", " queue", " step", " load", " fast",
    " text", " word", " line", " test",
};
#define NWORDS (sizeof words / sizeof words[0])

const char *sim_tokens_word(uint32_t id, size_t *len)
{
    const char *w = words[id % NWORDS];
    if (len) *len = strlen(w);
    return w;
}

size_t sim_tokens_nwords(void)
{
    return NWORDS;
}
