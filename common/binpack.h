/* binpack.h — a fixed little-endian byte layout for state sent between
 * processes (analysis/hist.c, analysis/summary.c pack and unpack with it).
 *
 * Writers append to a strbuf. A reader walks a caller-owned buffer and never
 * reads past its end: a read beyond it returns 0 and sets `bad`, so a
 * decoder can read a whole structure and check `bad` once. */
#ifndef SAGELLM_BINPACK_H
#define SAGELLM_BINPACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

void bp_put_u8(strbuf *b, uint8_t v);
void bp_put_u16(strbuf *b, uint16_t v);
void bp_put_u32(strbuf *b, uint32_t v);
void bp_put_u64(strbuf *b, uint64_t v);
/* An int64 as its two's-complement bits. */
void bp_put_i64(strbuf *b, int64_t v);
/* A double as its IEEE 754 bits (bit-exact round trip). */
void bp_put_f64(strbuf *b, double v);

typedef struct bp_reader {
    const uint8_t *p;   /* next byte */
    size_t left;        /* bytes left */
    int bad;            /* 1 once a read ran past the end */
} bp_reader;

/* A reader over buf[0..len). */
bp_reader bp_reader_init(const void *buf, size_t len);
uint8_t bp_get_u8(bp_reader *r);
uint16_t bp_get_u16(bp_reader *r);
uint32_t bp_get_u32(bp_reader *r);
uint64_t bp_get_u64(bp_reader *r);
int64_t bp_get_i64(bp_reader *r);
double bp_get_f64(bp_reader *r);
/* Points at the next n bytes and skips them; NULL (and bad set) when fewer
 * are left. */
const uint8_t *bp_get_bytes(bp_reader *r, size_t n);

#endif
