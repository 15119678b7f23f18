/* binpack.c — see binpack.h. */
#include "common/binpack.h"

#include <string.h>

/* Appends the n low bytes of v, least significant first. */
static void put_le(strbuf *b, uint64_t v, int n)
{
    uint8_t x[8];
    for (int i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    sb_add(b, x, (size_t)n);
}

void bp_put_u8(strbuf *b, uint8_t v) { put_le(b, v, 1); }
void bp_put_u16(strbuf *b, uint16_t v) { put_le(b, v, 2); }
void bp_put_u32(strbuf *b, uint32_t v) { put_le(b, v, 4); }
void bp_put_u64(strbuf *b, uint64_t v) { put_le(b, v, 8); }
void bp_put_i64(strbuf *b, int64_t v) { put_le(b, (uint64_t)v, 8); }

void bp_put_f64(strbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(b, u, 8);
}

bp_reader bp_reader_init(const void *buf, size_t len)
{
    bp_reader r = { buf, len, 0 };
    if (!buf) r.left = 0;
    return r;
}

/* Reads n bytes little-endian; 0 and bad set when fewer are left. */
static uint64_t get_le(bp_reader *r, int n)
{
    if (r->bad || r->left < (size_t)n) {
        r->bad = 1;
        r->left = 0;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    r->left -= (size_t)n;
    return v;
}

uint8_t bp_get_u8(bp_reader *r) { return (uint8_t)get_le(r, 1); }
uint16_t bp_get_u16(bp_reader *r) { return (uint16_t)get_le(r, 2); }
uint32_t bp_get_u32(bp_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t bp_get_u64(bp_reader *r) { return get_le(r, 8); }
int64_t bp_get_i64(bp_reader *r) { return (int64_t)get_le(r, 8); }

double bp_get_f64(bp_reader *r)
{
    uint64_t u = get_le(r, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

const uint8_t *bp_get_bytes(bp_reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        r->left = 0;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}
