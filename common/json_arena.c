/* json_arena.c — see json_arena.h.
 *
 * Each thread has at most one arena (created at its first scope, freed by
 * a thread-specific-data destructor when the thread exits): a list of
 * blocks, newest first, each handing out 16-byte aligned pieces from its
 * start. cJSON's free hook asks whether a pointer lies in one of the
 * calling thread's blocks (one block in the steady state) and frees it
 * with free() otherwise. */
#include "common/json_arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN ((size_t)16)
#define FIRST_BLOCK ((size_t)16 << 10)

typedef struct block {
    struct block *next;
    size_t cap, used;
} block;

/* The pieces start this far into a block (malloc's alignment kept). */
#define HEADER ((sizeof(block) + ALIGN - 1) & ~(ALIGN - 1))

typedef struct arena {
    block *head;        /* the block pieces come from; older ones after it */
    size_t used;        /* bytes handed out in the current scope */
    size_t nblocks;     /* blocks allocated since the thread's first scope */
    int active;
} arena;

static _Thread_local arena *tls_arena;
static pthread_key_t arena_key;
static int key_ok;          /* arena_key exists: arenas are freed at thread exit */

static char *block_data(block *b)
{
    return (char *)b + HEADER;
}

/* A new block of at least need bytes in front of a's list, or NULL. */
static block *block_new(arena *a, size_t need)
{
    size_t cap = a->head ? a->head->cap * 2 : FIRST_BLOCK;
    if (cap < need) cap = need;
    if (cap > SIZE_MAX - HEADER) return NULL;
    block *b = malloc(HEADER + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->nblocks++;
    POISON(block_data(b), cap);
    return b;
}

static void blocks_free(block *b)
{
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
}

/* A piece from a new block: the slow path, kept out of hook_malloc so
 * that its usual case stays a few instructions. */
__attribute__((noinline)) static void *arena_take_new(arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
    if (need < n) return NULL;
    block *b = block_new(a, need);
    if (!b) return NULL;
    b->used = need;
    a->used += need;
    UNPOISON(block_data(b), n);
    return block_data(b);
}

static int arena_owns(const arena *a, const void *p)
{
    const char *c = p;
    for (const block *b = a->head; b; b = b->next) {
        const char *d = (const char *)b + HEADER;
        if (c >= d && c < d + b->cap) return 1;
    }
    return 0;
}

/* Forgets every piece. Several blocks become one block as large as all of
 * them (at most JSON_ARENA_KEEP); a single block over that is let go. */
static void arena_reset(arena *a)
{
    if (a->head && (a->head->next || a->head->cap > JSON_ARENA_KEEP)) {
        size_t total = 0;
        for (const block *b = a->head; b; b = b->next) total += b->cap;
        blocks_free(a->head);
        a->head = NULL;
        block_new(a, total < JSON_ARENA_KEEP ? total : JSON_ARENA_KEEP);
    } else if (a->head) {
        a->head->used = 0;
        POISON(block_data(a->head), a->head->cap);
    }
    a->used = 0;
}

static void *hook_malloc(size_t n)
{
    arena *a = tls_arena;
    if (!a || !a->active) return malloc(n);
    size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
    block *b = a->head;
    if (need < n || !b || b->cap - b->used < need) return arena_take_new(a, n);
    char *p = block_data(b) + b->used;
    b->used += need;
    a->used += need;
    UNPOISON(p, n);
    return p;
}

static void hook_free(void *p)
{
    arena *a = tls_arena;
    if (p && a && arena_owns(a, p)) return;
    free(p);
}

static void arena_thread_exit(void *v)
{
    arena *a = v;
    tls_arena = NULL;
    blocks_free(a->head);
    free(a);
}

/* Before main, so before any thread: cJSON's hooks are process-wide. */
__attribute__((constructor)) static void json_arena_install(void)
{
    key_ok = pthread_key_create(&arena_key, arena_thread_exit) == 0;
    cJSON_Hooks h = { hook_malloc, hook_free };
    cJSON_InitHooks(&h);
}

int json_arena_begin(void)
{
    arena *a = tls_arena;
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a) return 0; /* no arena: the heap, as without this module */
        if (key_ok) pthread_setspecific(arena_key, a);
        tls_arena = a;
    }
    if (a->active) return 0;
    arena_reset(a);
    a->active = 1;
    return 1;
}

void json_arena_end(int opened)
{
    if (opened && tls_arena) tls_arena->active = 0;
}

size_t json_arena_used(void)
{
    return tls_arena ? tls_arena->used : 0;
}

size_t json_arena_blocks_allocated(void)
{
    return tls_arena ? tls_arena->nblocks : 0;
}
