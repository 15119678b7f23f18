/* gaplist.c — see gaplist.h. */
#include "replay/gaplist.h"
#include "common/util.h"

#include <stdlib.h>

struct gaplist_chunk {
    gaplist_chunk *next;
    uint32_t len, cap;              /* bytes used, bytes in b */
    unsigned char b[];
};

/* 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... on the two's-complement bits of d. */
static uint64_t zigzag64(uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
static uint64_t unzigzag64(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }
static uint32_t zigzag32(uint32_t d) { return (d << 1) ^ (0 - (d >> 31)); }
static uint32_t unzigzag32(uint32_t z) { return (z >> 1) ^ (0 - (z & 1)); }

/* LEB128: 7 bits a byte, low first, bit 7 = more follow. Returns bytes written. */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t i = 0;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        p[i++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return i;
}

/* Reads a LEB128 number of at most bits bits from the n bytes at p, in its
 * shortest form (no trailing zero byte). Returns the bytes read, or -1. */
static int get_varint(const unsigned char *p, size_t n, unsigned bits, uint64_t *v)
{
    uint64_t out = 0;
    for (unsigned i = 0, shift = 0; i < n && shift < bits; i++, shift += 7) {
        uint64_t payload = p[i] & 0x7f;
        if (bits - shift < 7 && payload >> (bits - shift)) return -1;  /* too wide */
        out |= payload << shift;
        if (!(p[i] & 0x80)) {
            if (i > 0 && payload == 0) return -1;                       /* not the shortest form */
            *v = out;
            return (int)i + 1;
        }
    }
    return -1;                      /* ended inside the number, or too long */
}

void gapcode_init(gapcode_state *s)
{
    s->gap = 0;
    s->tokens = 1;
}

size_t gapcode_put(unsigned char *out, gapcode_state *s, int64_t gap, int32_t tokens)
{
    uint64_t z = zigzag64((uint64_t)gap - (uint64_t)s->gap);
    int flag = tokens != s->tokens;
    size_t i = 1;
    out[0] = (unsigned char)((z & 0x3f) << 1 | (unsigned)flag);
    z >>= 6;
    if (z) {
        out[0] |= 0x80;
        i += put_varint(out + i, z);
    }
    if (flag) i += put_varint(out + i, zigzag32((uint32_t)tokens));
    s->gap = gap;
    s->tokens = tokens;
    return i;
}

int gapcode_get(const unsigned char *p, size_t n, gapcode_state *s, int64_t *gap, int32_t *tokens)
{
    if (n < 1) return -1;
    size_t i = 1;
    uint64_t z = (p[0] >> 1) & 0x3f, rest = 0, t = 0;
    if (p[0] & 0x80) {
        int k = get_varint(p + i, n - i, 58, &rest);
        if (k < 0 || rest == 0) return -1;  /* rest 0: not the shortest form */
        z |= rest << 6;
        i += (size_t)k;
    }
    int32_t tok = s->tokens;
    if (p[0] & 1) {
        int k = get_varint(p + i, n - i, 32, &t);
        if (k < 0) return -1;
        tok = (int32_t)unzigzag32((uint32_t)t);
        if (tok == s->tokens) return -1;    /* a flag for no change: not what put writes */
        i += (size_t)k;
    }
    s->gap = (int64_t)((uint64_t)s->gap + unzigzag64(z));
    s->tokens = tok;
    *gap = s->gap;
    *tokens = tok;
    return (int)i;
}

static gaplist_chunk *chunk_new(size_t alloc)
{
    gaplist_chunk *c = xmalloc(alloc);
    c->next = NULL;
    c->len = 0;
    c->cap = (uint32_t)(alloc - sizeof *c);
    return c;
}

void gaplist_push(gaplist *g, int64_t gap, int32_t tokens)
{
    if (!g->tail) {
        if (!g->head) g->head = chunk_new(GAPLIST_FIRST_BYTES);
        g->tail = g->head;
    }
    if (g->n == 0) gapcode_init(&g->enc);
    if (g->tail->cap - g->tail->len < GAPCODE_MAX) {
        g->tail->next = chunk_new(GAPLIST_CHUNK_BYTES);
        g->tail = g->tail->next;
    }
    g->tail->len += (uint32_t)gapcode_put(g->tail->b + g->tail->len, &g->enc, gap, tokens);
    g->n++;
}

static void free_chain(gaplist_chunk *c)
{
    while (c) {
        gaplist_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void gaplist_reset(gaplist *g)
{
    if (g->head) {
        free_chain(g->head->next);
        g->head->next = NULL;
        g->head->len = 0;
    }
    g->tail = g->head;
    g->n = 0;
    gapcode_init(&g->enc);
}

void gaplist_free(gaplist *g)
{
    free_chain(g->head);
    g->head = g->tail = NULL;
    g->n = 0;
    gapcode_init(&g->enc);
}

size_t gaplist_bytes(const gaplist *g)
{
    size_t b = 0;
    for (const gaplist_chunk *c = g->head; c; c = c->next) b += sizeof *c + c->cap;
    return b;
}

void gaplist_iter_init(gaplist_iter *it, const gaplist *g)
{
    it->c = g->head;
    it->pos = 0;
    it->left = g->n;
    gapcode_init(&it->dec);
}

int gaplist_next(gaplist_iter *it, int64_t *gap, int32_t *tokens)
{
    if (!it->left) return 0;
    while (it->c && it->pos >= it->c->len) {
        it->c = it->c->next;
        it->pos = 0;
    }
    if (!it->c) return -1;
    int k = gapcode_get(it->c->b + it->pos, it->c->len - it->pos, &it->dec, gap, tokens);
    if (k < 0) return -1;
    it->pos += (size_t)k;
    it->left--;
    return 1;
}
