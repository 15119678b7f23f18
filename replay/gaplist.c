/* gaplist.c — see gaplist.h. */
#include "replay/gaplist.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gaplist_chunk {
    gaplist_chunk *next;
    uint32_t len, cap;              /* bytes used, bytes in b */
    unsigned char b[];
};
_Static_assert(GAPLIST_SPILL_BYTES - sizeof(gaplist_chunk) <= GAPSTORE_SLOT - 2,
               "a spilled chunk fits a slot");

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

/* ---- the store ---- */

struct gapstore {
    int fd;
    uint32_t nslots;                /* slots the file has */
    uint32_t *free;                 /* slots given back, reused first */
    uint32_t nfree, free_cap;
    long write_errors;
};

gapstore *gapstore_open(const char *dir, char *err, size_t errlen)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {               /* a file system without O_TMPFILE */
        strbuf path = {0};
        sb_printf(&path, "%s/.gaps-XXXXXX", dir);
        fd = mkostemp(path.buf, O_CLOEXEC);
        if (fd >= 0) unlink(path.buf);
        sb_free(&path);
    }
    if (fd < 0) {
        errf(err, errlen, "%s: cannot create a temporary file for chunk gaps: %s", dir, strerror(errno));
        return NULL;
    }
    gapstore *s = xcalloc(1, sizeof *s);
    s->fd = fd;
    return s;
}

void gapstore_close(gapstore *s)
{
    if (!s) return;
    close(s->fd);
    free(s->free);
    free(s);
}

size_t gapstore_slots(const gapstore *s) { return s ? s->nslots : 0; }
long gapstore_write_errors(const gapstore *s) { return s ? s->write_errors : 0; }

static void store_release(gapstore *s, uint32_t slot)
{
    if (s->nfree == s->free_cap) {
        s->free_cap = s->free_cap ? s->free_cap * 2 : 64;
        s->free = xrealloc(s->free, s->free_cap * sizeof *s->free);
    }
    s->free[s->nfree++] = slot;
}

/* Writes len bytes (at most GAPSTORE_SLOT - 2) to a slot. Returns the
 * slot, or -1 when the write fails (the slot is kept for later). */
static int64_t store_put(gapstore *s, const unsigned char *b, size_t len)
{
    uint32_t slot = s->nfree ? s->free[--s->nfree] : s->nslots++;
    unsigned char rec[GAPSTORE_SLOT];
    rec[0] = (unsigned char)(len & 0xff);
    rec[1] = (unsigned char)(len >> 8);
    memcpy(rec + 2, b, len);
    ssize_t w = pwrite(s->fd, rec, len + 2, (off_t)slot * GAPSTORE_SLOT);
    if (w != (ssize_t)(len + 2)) {
        s->write_errors++;
        store_release(s, slot);
        return -1;
    }
    return slot;
}

/* Reads a slot back into buf (GAPSTORE_SLOT bytes). Returns its length, or -1. */
static int store_get(const gapstore *s, uint32_t slot, unsigned char *buf)
{
    ssize_t r = pread(s->fd, buf, GAPSTORE_SLOT, (off_t)slot * GAPSTORE_SLOT);
    if (r < 2) return -1;
    size_t len = (size_t)buf[0] | (size_t)buf[1] << 8;
    if (len > GAPSTORE_SLOT - 2 || (size_t)r < len + 2) return -1;
    return (int)len;
}

/* ---- the list ---- */

static gaplist_chunk *chunk_new(size_t alloc)
{
    gaplist_chunk *c = xmalloc(alloc);
    c->next = NULL;
    c->len = 0;
    c->cap = (uint32_t)(alloc - sizeof *c);
    return c;
}

/* The tail chunk is full: write it to the store and reuse it, or (no
 * store, the first chunk, or a failed write) start a new one. */
static void make_room(gaplist *g)
{
    gaplist_chunk *t = g->tail;
    if (g->store && !g->spill_failed && t != g->head) {
        int64_t slot = store_put(g->store, t->b, t->len);
        if (slot >= 0) {
            if (g->nslots == g->slots_cap) {
                g->slots_cap = g->slots_cap ? g->slots_cap * 2 : 8;
                g->slots = xrealloc(g->slots, g->slots_cap * sizeof *g->slots);
            }
            g->slots[g->nslots++] = (uint32_t)slot;
            t->len = 0;
            return;
        }
        g->spill_failed = 1;        /* this chunk and the rest stay in memory, in order */
    }
    t->next = chunk_new(g->store ? GAPLIST_SPILL_BYTES : GAPLIST_CHUNK_BYTES);
    g->tail = t->next;
}

void gaplist_push(gaplist *g, int64_t gap, int32_t tokens)
{
    if (!g->tail) {
        if (!g->head) g->head = chunk_new(GAPLIST_FIRST_BYTES);
        g->tail = g->head;
    }
    if (g->n == 0) gapcode_init(&g->enc);
    if (g->tail->cap - g->tail->len < GAPCODE_MAX) make_room(g);
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

/* Gives the slots back to the store. */
static void drop_slots(gaplist *g)
{
    for (uint32_t i = 0; i < g->nslots; i++) store_release(g->store, g->slots[i]);
    g->nslots = 0;
    g->spill_failed = 0;
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
    drop_slots(g);
}

void gaplist_free(gaplist *g)
{
    free_chain(g->head);
    g->head = g->tail = NULL;
    g->n = 0;
    gapcode_init(&g->enc);
    drop_slots(g);
    free(g->slots);
    g->slots = NULL;
    g->slots_cap = 0;
}

size_t gaplist_bytes(const gaplist *g)
{
    size_t b = g->slots_cap * sizeof *g->slots;
    for (const gaplist_chunk *c = g->head; c; c = c->next) b += sizeof *c + c->cap;
    return b;
}

void gaplist_iter_init(gaplist_iter *it, const gaplist *g)
{
    it->g = g;
    it->stage = 0;
    it->slot = 0;
    it->c = NULL;
    it->p = NULL;
    it->len = it->pos = 0;
    it->left = g->n;
    gapcode_init(&it->dec);
}

/* Moves to the next run of bytes: the first chunk, each slot, then the
 * chunks after the first in memory. 1, 0 at the end, -1 when a slot
 * cannot be read back. */
static int next_bytes(gaplist_iter *it)
{
    const gaplist *g = it->g;
    it->pos = 0;
    if (it->stage == 0) {
        it->stage = 1;
        if (g->head) {
            it->p = g->head->b;
            it->len = g->head->len;
            return 1;
        }
    }
    if (it->stage == 1) {
        if (it->slot < g->nslots) {
            int len = store_get(g->store, g->slots[it->slot++], it->buf);
            if (len < 0) return -1;
            it->p = it->buf + 2;
            it->len = (size_t)len;
            return 1;
        }
        it->stage = 2;
        it->c = g->head ? g->head->next : NULL;
    }
    if (!it->c) return 0;
    it->p = it->c->b;
    it->len = it->c->len;
    it->c = it->c->next;
    return 1;
}

int gaplist_next(gaplist_iter *it, int64_t *gap, int32_t *tokens)
{
    if (!it->left) return 0;
    while (it->pos >= it->len)
        if (next_bytes(it) <= 0) return -1;
    int k = gapcode_get(it->p + it->pos, it->len - it->pos, &it->dec, gap, tokens);
    if (k < 0) return -1;
    it->pos += (size_t)k;
    it->left--;
    return 1;
}
