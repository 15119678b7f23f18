/* sessionize.h — sessions inferred from traffic, for traces captured
 * without them (docs/trace-format.md, "Sessions from traffic").
 *
 * Two ways a request joins a conversation, in this order of precedence:
 *  - a grouping key (a request header such as x-conversation-id, or a body
 *    field such as `user`): requests with the same key are one session, in
 *    arrival order;
 *  - a message-prefix chain: a chat request whose `messages` minus its
 *    trailing turn (the last assistant message and everything after it)
 *    equal the whole `messages` of an earlier request continues that
 *    request's session. Messages compare by a hash of their canonical JSON
 *    (key order, spacing and number spelling do not matter).
 * A request that joins nothing starts a session of its own: `session` = its
 * id, `turn` 0. A continuation gets `session` (the first turn's id), `turn`
 * (the parent's + 1), `parent` (the parent's id) and `think_us` (its arrival
 * less the parent's end, when that is known and not negative).
 *
 * Memory is bounded: at most max_open conversations are remembered (each
 * holds its latest request's id), the least recently continued one is
 * forgotten first (counted in evicted).
 *
 * Ownership: the sessionizer copies what it keeps; sess_facts and
 * sess_assign are plain data. Not thread-safe. */
#ifndef SAGELLM_SESSIONIZE_H
#define SAGELLM_SESSIONIZE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "common/util.h"
#include "traces/trace.h"

#define SESS_ID_MAX 256               /* longer ids are not followed */

/* What a request says about its conversation. */
typedef struct sess_facts {
    int has_msgs;                     /* the body has a `messages` array */
    uint64_t full;                    /* hash of all its messages */
    int has_prefix;                   /* it has an assistant message ... */
    uint64_t prefix;                  /* ... and this hashes the messages before the last one */
    int has_key;                      /* a grouping key was found */
    uint64_t key;                     /* its hash */
    int64_t e2e_us;                   /* the response's end after arrival (-1: unknown) */
} sess_facts;

/* The session fields given to a request. */
typedef struct sess_assign {
    char session[SESS_ID_MAX];
    char parent[SESS_ID_MAX];         /* "" for a first turn */
    int64_t turn;
    int64_t think_us;                 /* -1: not known */
} sess_assign;

typedef struct sess_stats {
    uint64_t requests;                /* requests with facts to go on */
    uint64_t first_turns;             /* sessions started */
    uint64_t by_key, by_prefix;       /* continuations found each way */
    uint64_t evicted;                 /* conversations forgotten at the cap */
    uint64_t open, peak_open;         /* conversations remembered */
    uint64_t long_ids;                /* requests skipped: id of SESS_ID_MAX bytes or more */
} sess_stats;

typedef struct sessionizer sessionizer;

/* Fills f from a request body (NULL: none): the message hashes of a chat
 * body; then the key from key_value (key_len bytes; NULL: none), else from
 * the body's top-level `field` (a string or a number; NULL: none). e2e_us
 * is set to -1. */
void sess_facts_fill(sess_facts *f, const cJSON *body, const char *key_value, size_t key_len,
                     const char *field);

/* A hash of v's canonical JSON: object members in any order, numbers by
 * value, strings by their bytes. */
uint64_t sess_canon_hash(const cJSON *v);

/* A sessionizer remembering at most max_open conversations (0: 100000). */
sessionizer *sessionizer_new(size_t max_open);

/* The next request in arrival order: id, arrival t_us (any fixed origin,
 * the same for every call). Returns 1 with *a filled when the request
 * belongs to a session (every request with messages or a key does), 0
 * when f gives nothing to go on. */
int sessionizer_step(sessionizer *s, const sess_facts *f, const char *id, int64_t t_us,
                     sess_assign *a);

/* Sessionizes one record of an existing trace: its facts come from its
 * body, the grouping key from its recorded request header `header` (any
 * case; NULL: none) or body field `field`, its end from orig.e2e_us. When
 * it gets a session, its session, turn, parent and think_us are replaced
 * in r->json (the typed fields of r are then stale: write r->json).
 * Returns what sessionizer_step returns. */
int sessionizer_apply(sessionizer *s, trace_rec *r, const char *header, const char *field);

/* Appends a's fields as JSON members: ,"session":...,"turn":N[,"parent":...][,"think_us":N] */
void sess_assign_append(const sess_assign *a, strbuf *out);

/* Counters (a copy). */
void sessionizer_stats(const sessionizer *s, sess_stats *st);

/* NULL is a no-op. */
void sessionizer_free(sessionizer *s);

#endif
