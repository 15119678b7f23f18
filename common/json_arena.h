/* json_arena.h — cJSON values made in a per-thread arena instead of with
 * one malloc per node, key and string.
 *
 * Linking this module routes cJSON's allocations through it
 * (cJSON_InitHooks, in a constructor that runs before main, so before any
 * thread). Outside a scope nothing changes: cJSON allocates with malloc
 * and frees with free. Between json_arena_begin() and json_arena_end() on
 * a thread, every cJSON allocation of that thread (parse, create,
 * duplicate, print) comes from the thread's arena, and freeing it
 * (cJSON_Delete, cJSON_free) does nothing.
 *
 * Ownership rule: json_arena_begin() forgets everything the thread's arena
 * held. A value made in a scope stays valid after json_arena_end() until
 * the next json_arena_begin() on the same thread, and no longer: it must
 * not be kept past that, handed to another thread, attached to a value
 * made outside the arena, or freed with free(). (The sanitizer build
 * poisons forgotten arena memory, so a use after that is reported.)
 *
 * Memory: the arena grows by blocks while a scope needs more; the next
 * scope starts with one block as large as the last scope used, up to
 * JSON_ARENA_KEEP, so a steady stream of similar documents allocates
 * nothing. A thread's arena is freed when the thread exits. */
#ifndef SAGELLM_JSON_ARENA_H
#define SAGELLM_JSON_ARENA_H

#include <stddef.h>

#define JSON_ARENA_KEEP ((size_t)1 << 20) /* bytes kept between scopes, at most */

/* Opens a scope on this thread (forgetting the arena's old contents).
 * Returns 1, or 0 when a scope was already open: that one goes on, nothing
 * is forgotten. Pass the result to json_arena_end. */
int json_arena_begin(void);

/* Closes the scope json_arena_begin opened (opened = its result; 0 does
 * nothing). Values made in it stay valid until the next begin. */
void json_arena_end(int opened);

/* Bytes handed out in this thread's current (or last) scope, and heap
 * blocks the arena allocated since the thread started (for tests and
 * measurements). */
size_t json_arena_used(void);
size_t json_arena_blocks_allocated(void);

#endif
