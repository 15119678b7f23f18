/* import_bailian.c — Alibaba Bailian (Qwen) usage traces
 * (alibaba-edu/qwen-bailian-usagetraces-anon), JSON Lines:
 *   {"chat_id": 5, "parent_chat_id": 2, "timestamp": 0.252,
 *    "input_length": 89, "output_length": 51, "type": "text", "turn": 2,
 *    "hash_ids": [0, 1, 21, ...]}
 *
 * Mapping:
 *   timestamp      -> t_us: seconds from the trace start (× 10^6, rounded
 *                     to the µs), kept as offsets, not rebased
 *   chat_id        -> id (as text)
 *   parent_chat_id -> parent (as text); -1 (or null/absent) = first turn
 *   (derived)      -> session: the chat_id of the conversation's first
 *                     turn, found by following parent links. A map from
 *                     chat_id to session and turn (about 32 bytes a
 *                     chat) is kept for that. A parent that is not in the file (a cut-out
 *                     trace) is taken as the first turn: its id is the
 *                     session id, so its later turns still group together.
 *   turn           -> turn (optional; otherwise the parent's turn + 1)
 *   input_length   -> input_tokens
 *   output_length  -> output_tokens
 *   hash_ids       -> hash_ids (optional): 16-token blocks; "block_size": 16
 *                     in the header
 *   type and any other field -> meta
 *   api from --api, else "completions" (length-only); model from --model.
 * chat_id and parent_chat_id are integers; a chat_id seen twice is a bad
 * row. Lines must come in time order (see --sort). */
#include "traces/import.h"
#include "traces/import_rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAILIAN_BLOCK 16
#define ID_LIMIT (INT64_C(1) << 53)

/* Open-addressing map chat_id -> (session, turn). */
typedef struct slot { int64_t key, session; int32_t turn, used; } slot;
typedef struct chatmap { slot *s; size_t cap, n; } chatmap;

static size_t hash_i64(int64_t k, size_t cap)
{
    uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x ^ (x >> 29)) & (cap - 1);
}

static slot *map_find(const chatmap *m, int64_t key)
{
    if (!m->cap) return NULL;
    for (size_t i = hash_i64(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->s[i].used) return NULL;
        if (m->s[i].key == key) return &m->s[i];
    }
}

static void map_put(chatmap *m, int64_t key, int64_t session, int64_t turn)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        chatmap bigger = { xcalloc(m->cap ? m->cap * 2 : 1024, sizeof(slot)),
                           m->cap ? m->cap * 2 : 1024, 0 };
        for (size_t i = 0; i < m->cap; i++)
            if (m->s[i].used) map_put(&bigger, m->s[i].key, m->s[i].session, m->s[i].turn);
        free(m->s);
        *m = bigger;
    }
    size_t i = hash_i64(key, m->cap);
    while (m->s[i].used) i = (i + 1) & (m->cap - 1);
    m->s[i] = (slot){ key, session, (int32_t)turn, 1 };
    m->n++;
}

static int bailian_line(import_ctx *ctx, cJSON *obj, uint64_t line, void *ud)
{
    chatmap *m = ud;
    int64_t chat, parent = -1, t, turn = -1;
    int rc = 0;
    cJSON *cid = import_rec_take(obj, "chat_id");
    cJSON *pid = import_rec_take(obj, "parent_chat_id");
    cJSON *ts = import_rec_take(obj, "timestamp");
    cJSON *tn = import_rec_take(obj, "turn");
    import_rec_lengths len;
    import_rec_lengths_take(obj, &len);
    if (jsonw_int(cid, 0, ID_LIMIT, &chat) < 0)
        rc = import_rec_bad_json(ctx, line, "chat_id", "a non-negative integer", cid);
    else if (pid && !cJSON_IsNull(pid) && jsonw_int(pid, -1, ID_LIMIT, &parent) < 0)
        rc = import_rec_bad_json(ctx, line, "parent_chat_id",
                                 "an integer chat id, or -1 for a first turn", pid);
    else if (import_rec_json_time(ts, 6, &t) < 0)
        rc = import_rec_bad_json(ctx, line, "timestamp", "a non-negative number of seconds", ts);
    else if (!import_rec_lengths_ok(ctx, line, &len, &rc))
        ;
    else if (tn && jsonw_int(tn, 0, INT32_MAX, &turn) < 0)
        rc = import_rec_bad_json(ctx, line, "turn", "a non-negative integer", tn);
    else if (len.hash && !import_rec_hash_ids_ok(ctx, line, "hash_ids", len.hash, &rc))
        ;
    else if (map_find(m, chat))
        rc = import_bad(ctx, line, "chat_id", "expected a unique chat id, got %lld a second time",
                        (long long)chat);
    else if (parent == chat)
        rc = import_bad(ctx, line, "parent_chat_id", "expected another chat's id, got the "
                        "row's own chat_id %lld", (long long)chat);
    else {
        int64_t session = chat, pturn = 0;
        if (parent >= 0) {
            const slot *p = map_find(m, parent);
            session = p ? p->session : parent;
            pturn = p ? p->turn : 1;
        }
        if (turn < 0) turn = pturn + 1;
        map_put(m, chat, session, turn);
        char idb[24], sb[24], pb[24];
        snprintf(idb, sizeof idb, "%lld", (long long)chat);
        snprintf(sb, sizeof sb, "%lld", (long long)session);
        cJSON *rec = import_rec_new(ctx, t, idb);
        import_rec_str(rec, "session", sb);
        import_rec_int(rec, "turn", turn);
        if (parent >= 0) {
            snprintf(pb, sizeof pb, "%lld", (long long)parent);
            import_rec_str(rec, "parent", pb);
        }
        rc = import_rec_lengths_emit(ctx, rec, &len, &obj, line);
    }
    cJSON_Delete(cid);
    cJSON_Delete(pid);
    cJSON_Delete(ts);
    cJSON_Delete(tn);
    import_rec_lengths_free(&len);
    cJSON_Delete(obj);
    return rc;
}

static int bailian_run(import_ctx *ctx)
{
    chatmap m = { NULL, 0, 0 };
    cJSON_AddNumberToObject(import_header(ctx), "block_size", BAILIAN_BLOCK);
    int rc = import_rec_jsonl(ctx, bailian_line, &m);
    free(m.s);
    return rc;
}

const importer import_bailian = {
    "bailian",
    "Alibaba Bailian JSONL (chat_id/parent_chat_id sessions, seconds, 16-token hash blocks)",
    bailian_run,
};
