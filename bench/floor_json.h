/* floor_json.h — the JSON work of the floor programs of bench/replay.sh
 * (bench/replay_floor.c, bench/curl_floor.c), with `json`: cJSON's parse
 * of every SSE event's data, or of a whole body that is not a stream, the
 * least a client must do to read the tokens and usage an answer carries,
 * and the tree dropped. cJSON allocates from a bump arena emptied after
 * each parse (its frees do nothing), as the replay's parsers do
 * (common/json_arena.c). Not part of the product; static functions, one
 * include per program. */
#ifndef BENCH_FLOOR_JSON_H
#define BENCH_FLOOR_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <string.h>

static unsigned char floor_arena[1 << 18];
static size_t floor_arena_used;

static void *floor_arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof floor_arena - floor_arena_used) return NULL;
    void *p = floor_arena + floor_arena_used;
    floor_arena_used += n;
    return p;
}

static void floor_arena_free(void *p) { (void)p; }

/* Call once before any parse. */
static void floor_json_init(void)
{
    cJSON_Hooks hooks = { floor_arena_alloc, floor_arena_free };
    cJSON_InitHooks(&hooks);
}

/* Parses p[0..n) and drops the tree: 0, or -1 when cJSON refuses it. */
static int floor_json_parse(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    cJSON_Delete(j);
    floor_arena_used = 0;
    return j ? 0 : -1;
}

/* Parses the data of every "data:" line in p[0..n) whose line end is in
 * it ("[DONE]" is not JSON and is skipped; the bytes around the lines, a
 * chunked body's size lines included, are ignored, so each event's data
 * must sit in one chunk, as `serve` writes them). Returns the events cJSON
 * refused. */
static long floor_json_data_lines(const char *p, size_t n)
{
    long refused = 0;
    const char *end = p + n;
    for (const char *d = p; (d = memmem(d, (size_t)(end - d), "data:", 5)); ) {
        d += 5;
        if (d < end && *d == ' ') d++;
        const char *nl = memchr(d, '\n', (size_t)(end - d));
        if (!nl) break;
        if ((size_t)(nl - d) != 6 || memcmp(d, "[DONE]", 6)) refused += floor_json_parse(d, (size_t)(nl - d)) < 0;
        d = nl;
    }
    return refused;
}

#endif
