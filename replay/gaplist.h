/* gaplist.h — the chunk gaps of one request in flight, exact and compact.
 *
 * A request keeps every gap between its content events (int64 ns) and the
 * token count of the event closing each gap (int32; 1 almost always, -1
 * when the server does not say) until its log line is written. Kept as two
 * plain arrays that is 12 bytes a token, doubled while growing; here each
 * entry is coded against the previous one:
 *
 *   d = gap - previous gap (wrapping 64-bit arithmetic; the first gap is
 *       coded against 0), z = zigzag(d) (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...)
 *   first byte: bit 7 more bytes follow, bits 6..1 the low 6 bits of z,
 *               bit 0 set when the token count differs from the previous
 *               entry's (the first entry is compared with 1)
 *   then the rest of z, 7 bits a byte, low bits first, bit 7 = more follow
 *   then, when bit 0 was set, zigzag(tokens) the same way
 *
 * so a gap within ±2^19 ns (0.52 ms) of the previous one takes 3 bytes,
 * within ±2^26 ns (67 ms) 4; a token count that stays the same (1, or -1
 * when unknown) takes nothing. Every value
 * comes back exactly as pushed, whatever it is (0, negative, over 2^32 ns,
 * INT64_MIN/MAX). Entries never straddle two chunks, so the decoder works
 * on flat byte ranges and checks every length it reads (gapcode_get).
 *
 * Memory: chunks of GAPLIST_FIRST_BYTES, then GAPLIST_CHUNK_BYTES,
 * allocated as gaps arrive (no doubling); gaplist_reset keeps only the
 * first. A gaplist is plain data, zero-initialised before use; it owns its
 * chunks (gaplist_free). Not thread-safe: one owner (the request's).
 *
 * With a store (gaplist.store, set by the owner before the first push),
 * the memory of a request no longer grows with its tokens: the first
 * chunk stays in memory (a short answer never reaches the store), later
 * ones are GAPLIST_SPILL_BYTES and each is written to a slot of the store
 * as it fills, its buffer reused; the list keeps the slots' numbers (4
 * bytes per chunk of about 60 gaps). Reading back reads the slots in
 * order. A write that fails (a full disk) leaves that chunk and every
 * later one in memory: nothing is lost. gaplist_reset and gaplist_free
 * give the slots back to the store. */
#ifndef SAGELLM_GAPLIST_H
#define SAGELLM_GAPLIST_H

#include <stddef.h>
#include <stdint.h>

#define GAPCODE_MAX 15              /* longest entry: 10 bytes of gap, 5 of tokens */
#define GAPLIST_FIRST_BYTES 256     /* allocation of the first chunk (header included) */
#define GAPLIST_CHUNK_BYTES 1024    /* allocation of every later chunk */
#define GAPLIST_SPILL_BYTES 256     /* ... of the later chunk, when it goes to a store */
#define GAPSTORE_SLOT 256           /* a slot of the store: 2 bytes of length, then the chunk's */

/* A file of gap chunks (one per worker): an unlinked temporary file in a
 * directory (the run's), slots of GAPSTORE_SLOT bytes handed out and taken
 * back by its gaplists. One thread only, as its gaplists. */
typedef struct gapstore gapstore;

/* Opens a store in dir (O_TMPFILE, else a file created and unlinked at
 * once). NULL with err when neither works. */
gapstore *gapstore_open(const char *dir, char *err, size_t errlen);
void gapstore_close(gapstore *s);
/* Slots the file holds (in use or free), and writes that failed. */
size_t gapstore_slots(const gapstore *s);
long gapstore_write_errors(const gapstore *s);

/* The coder's state: what the next entry is coded against. */
typedef struct gapcode_state {
    int64_t gap;                    /* the previous gap (0 before the first) */
    int32_t tokens;                 /* the previous token count (1 before the first) */
} gapcode_state;

/* Resets s to the state before a first entry. */
void gapcode_init(gapcode_state *s);
/* Writes the entry (gap, tokens) coded against s into out and advances s.
 * Returns the bytes written (1..GAPCODE_MAX). */
size_t gapcode_put(unsigned char *out, gapcode_state *s, int64_t gap, int32_t tokens);
/* Reads one entry from the n bytes at p, coded against s; on success
 * stores it, advances s and returns the bytes read (> 0). Returns -1,
 * leaving s as it was, when the bytes end inside the entry or hold a
 * number over 64 bits (gap) or 32 bits (tokens). */
int gapcode_get(const unsigned char *p, size_t n, gapcode_state *s, int64_t *gap, int32_t *tokens);

typedef struct gaplist_chunk gaplist_chunk;

typedef struct gaplist {
    gaplist_chunk *head, *tail;
    size_t n;                       /* entries held */
    gapcode_state enc;              /* the state after the last entry */
    gapstore *store;                /* where full chunks go, or NULL (all in memory) */
    uint32_t *slots;                /* the store's slots holding chunks 2.., in order */
    uint32_t nslots, slots_cap;
    int spill_failed;               /* a write failed: the rest stays in memory */
} gaplist;

/* Appends one entry. Allocation failure aborts (xmalloc). */
void gaplist_push(gaplist *g, int64_t gap, int32_t tokens);
/* Forgets every entry; keeps the first chunk for the next request. */
void gaplist_reset(gaplist *g);
/* Frees every chunk; g is then empty and reusable. */
void gaplist_free(gaplist *g);
/* Bytes allocated in memory for the chunks (their headers included) and
 * the slot numbers. */
size_t gaplist_bytes(const gaplist *g);

/* Reads the entries back in order:
 *     gaplist_iter it;
 *     gaplist_iter_init(&it, g);
 *     while (gaplist_next(&it, &gap, &tokens) > 0) ...
 * The list must not change while it is read. */
typedef struct gaplist_iter {
    const gaplist *g;
    int stage;                      /* 0: the first chunk next, 1: slots, 2: chunks in memory */
    uint32_t slot;                  /* the next of g->slots to read */
    const gaplist_chunk *c;         /* the next chunk in memory (stage 2) */
    const unsigned char *p;         /* the bytes being read */
    size_t len, pos;
    size_t left;                    /* entries not yet read */
    gapcode_state dec;
    unsigned char buf[GAPSTORE_SLOT]; /* a slot read back */
} gaplist_iter;

void gaplist_iter_init(gaplist_iter *it, const gaplist *g);
/* 1 and the next entry; 0 at the end; -1 when the bytes are corrupt (not
 * produced by gaplist_push) or a slot cannot be read back (the entries
 * read so far stand). */
int gaplist_next(gaplist_iter *it, int64_t *gap, int32_t *tokens);

#endif
