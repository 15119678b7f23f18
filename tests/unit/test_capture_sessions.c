/* test_capture_sessions.c — sessions inferred from traffic
 * (traces/sessionize.c): canonical message hashes, prefix chains, keys
 * and their precedence, the memory cap; and the packet path, where the
 * capture's writer gives the fields to records made from frames. */
#include "tests/unit/test_capture.h"
#include "tests/unit/unit.h"
#include "common/util.h"
#include "traces/sessionize.h"

#include <stdlib.h>
#include <string.h>

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!j) fprintf(stderr, "    bad JSON in a test: %s\n", s);
    return j;
}

/* Steps a request with body text (may be NULL), an optional key, id, time
 * and e2e; returns the step's result with *a filled. */
static int step(sessionizer *s, const char *body, const char *key, const char *id, int64_t t_us,
                int64_t e2e_us, sess_assign *a)
{
    cJSON *b = body ? parse(body) : NULL;
    sess_facts f;
    sess_facts_fill(&f, b, key, key ? strlen(key) : 0, NULL);
    f.e2e_us = e2e_us;
    int rc = sessionizer_step(s, &f, id, t_us, a);
    cJSON_Delete(b);
    return rc;
}

TEST(capture_sessions_canonical_hash)
{
    cJSON *a = parse("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"n\":1}");
    cJSON *b = parse("{ \"n\": 1.0, \"content\": [ {\"text\": \"hi\", \"type\": \"text\"} ], \"role\": \"user\" }");
    cJSON *c = parse("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi!\"}],\"n\":1}");
    cJSON *d = parse("{\"role\":\"user\",\"content\":[{\"text\":\"type\",\"type\":\"text\"}],\"n\":1}");
    REQUIRE(a && b && c && d);
    CHECK(sess_canon_hash(a) == sess_canon_hash(b));      /* key order, spacing, 1 vs 1.0 */
    CHECK(sess_canon_hash(a) != sess_canon_hash(c));
    CHECK(sess_canon_hash(a) != sess_canon_hash(d));      /* values stay with their keys */
    cJSON *e = parse("[1,2]"), *f = parse("[2,1]");
    CHECK(sess_canon_hash(e) != sess_canon_hash(f));      /* arrays keep their order */
    cJSON_Delete(a); cJSON_Delete(b); cJSON_Delete(c); cJSON_Delete(d); cJSON_Delete(e); cJSON_Delete(f);
}

#define U(x) "{\"role\":\"user\",\"content\":\"" x "\"}"
#define A(x) "{\"role\":\"assistant\",\"content\":\"" x "\"}"
#define S "{\"role\":\"system\",\"content\":\"be brief\"}"

TEST(capture_sessions_prefix_chains)
{
    sessionizer *s = sessionizer_new(0);
    sess_assign a;
    REQUIRE(step(s, "{\"messages\":[" S "," U("q1") "]}", NULL, "r1", 1000, 500, &a) == 1);
    CHECK_STR(a.session, "r1");
    CHECK_INT(a.turn, 0);
    CHECK_STR(a.parent, "");
    CHECK_INT(a.think_us, -1);
    /* another conversation in between */
    REQUIRE(step(s, "{\"messages\":[" U("other") "]}", NULL, "x1", 1200, -1, &a) == 1);
    CHECK_STR(a.session, "x1");
    /* turn 2: the first request's messages, the reply, a new question;
     * written differently (spaces, key order) */
    REQUIRE(step(s, "{\"model\":\"m\", \"messages\": [ {\"content\": \"be brief\", \"role\": \"system\"}, "
                    U("q1") ", " A("a1") ", " U("q2") "]}", NULL, "r2", 2000, 300, &a) == 1);
    CHECK_STR(a.session, "r1");
    CHECK_INT(a.turn, 1);
    CHECK_STR(a.parent, "r1");
    CHECK_INT(a.think_us, 2000 - 1500);
    /* turn 3, arriving before turn 2's end: no think time */
    REQUIRE(step(s, "{\"messages\":[" S "," U("q1") "," A("a1") "," U("q2") "," A("a2") "," U("q3") "]}",
                 NULL, "r3", 2100, -1, &a) == 1);
    CHECK_STR(a.session, "r1");
    CHECK_INT(a.turn, 2);
    CHECK_STR(a.parent, "r2");
    CHECK_INT(a.think_us, -1);
    /* a trailing turn of several messages (assistant, tool, user) */
    REQUIRE(step(s, "{\"messages\":[" U("other") "," A("o1") ",{\"role\":\"tool\",\"content\":\"t\"}," U("o2") "]}",
                 NULL, "x2", 2200, -1, &a) == 1);
    CHECK_STR(a.session, "x1");
    CHECK_STR(a.parent, "x1");
    /* another reply to turn 1 (a regenerated answer): a branch of r1 */
    REQUIRE(step(s, "{\"messages\":[" S "," U("q1") "," A("OTHER") "," U("q2") "]}", NULL, "r2b", 2250, -1, &a) == 1);
    CHECK_STR(a.parent, "r1");
    CHECK_INT(a.turn, 1);
    /* a history never seen is a new session */
    REQUIRE(step(s, "{\"messages\":[" S "," U("q0") "," A("a0") "," U("q2") "]}", NULL, "y", 2300, -1, &a) == 1);
    CHECK_STR(a.session, "y");
    CHECK_INT(a.turn, 0);
    /* no messages, no key: nothing */
    CHECK(step(s, "{\"prompt\":\"hello\"}", NULL, "p", 2400, -1, &a) == 0);
    CHECK(step(s, NULL, NULL, "p2", 2500, -1, &a) == 0);
    sess_stats st;
    sessionizer_stats(s, &st);
    CHECK_INT(st.requests, 7);
    CHECK_INT(st.first_turns, 3);
    CHECK_INT(st.by_prefix, 4);
    CHECK_INT(st.evicted, 0);
    sessionizer_free(s);
}

TEST(capture_sessions_keys_and_cap)
{
    sessionizer *s = sessionizer_new(0);
    sess_assign a;
    /* a key comes first: same messages in two keyed conversations stay apart */
    REQUIRE(step(s, "{\"messages\":[" U("hi") "]}", "alice", "k1", 0, 10, &a) == 1);
    REQUIRE(step(s, "{\"messages\":[" U("hi") "]}", "bob", "k2", 5, 10, &a) == 1);
    CHECK_STR(a.session, "k2");
    CHECK_INT(a.turn, 0);
    REQUIRE(step(s, "{\"messages\":[" U("next") "]}", "alice", "k3", 100, 10, &a) == 1);
    CHECK_STR(a.session, "k1");
    CHECK_INT(a.turn, 1);
    CHECK_STR(a.parent, "k1");
    CHECK_INT(a.think_us, 90);
    /* a key alone, no body */
    REQUIRE(step(s, NULL, "bob", "k4", 200, -1, &a) == 1);
    CHECK_STR(a.parent, "k2");
    /* a body field as the key */
    cJSON *b = parse("{\"user\":\"carol\",\"messages\":[" U("x") "]}");
    sess_facts f;
    sess_facts_fill(&f, b, NULL, 0, "user");
    CHECK(f.has_key && f.has_msgs);
    cJSON_Delete(b);
    b = parse("{\"user\":42}");
    sess_facts_fill(&f, b, NULL, 0, "user");
    CHECK(f.has_key && !f.has_msgs);
    cJSON_Delete(b);
    /* an id too long to follow */
    char longid[SESS_ID_MAX + 10];
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK(step(s, NULL, "bob", longid, 300, -1, &a) == 0);
    sessionizer_free(s);

    /* room for two: the least recently continued is forgotten */
    s = sessionizer_new(2);
    step(s, NULL, "a", "a0", 0, -1, &a);
    step(s, NULL, "b", "b0", 1, -1, &a);
    step(s, NULL, "a", "a1", 2, -1, &a);               /* a is now the most recent */
    step(s, NULL, "c", "c0", 3, -1, &a);               /* forgets b */
    REQUIRE(step(s, NULL, "a", "a2", 4, -1, &a) == 1);
    CHECK_STR(a.session, "a0");
    CHECK_INT(a.turn, 2);
    REQUIRE(step(s, NULL, "b", "b1", 5, -1, &a) == 1);
    CHECK_STR(a.session, "b1");                         /* a new session */
    sess_stats st;
    sessionizer_stats(s, &st);
    CHECK_INT(st.evicted, 2);
    CHECK_INT(st.open, 2);
    CHECK_INT(st.peak_open, 2);
    sessionizer_free(s);

    /* many keys through a small table: every lookup still finds its key */
    s = sessionizer_new(64);
    char key[32], id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "u%d", i % 50);
        snprintf(id, sizeof id, "r%d", i);
        REQUIRE(step(s, NULL, key, id, i, -1, &a) == 1);
        CHECK_INT(a.turn, i / 50);
    }
    sessionizer_free(s);
}

/* A two-turn conversation and a stranger over one captured connection:
 * the packet path's records get the session fields too. */
TEST(capture_sessions_packet_path)
{
    tcap t;
    tconn c;
    tcap_open(&t, NULL);
    tconn_init(&c, 4, 100, 200);
    tconn_open(&t, &c);
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"messages\":[" U("q1") "]}",
        "{\"model\":\"m\",\"messages\":[" U("stranger") "]}",
        "{\"model\": \"m\", \"messages\": [" U("q1") ", " A("a1") ", " U("q2") "]}",
    };
    for (int i = 0; i < 3; i++) {
        strbuf r = {0};
        sb_printf(&r, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n%s", strlen(bodies[i]), bodies[i]);
        tconn_send(&t, &c, 1, r.buf, r.len, 1400);
        char *resp = tresp_sse(2, 7);
        tconn_send(&t, &c, 0, resp, strlen(resp), 1400);
        free(resp);
        sb_free(&r);
    }
    tconn_close(&t, &c);
    tcap_finish(&t);
    REQUIRE(t.n == 3);
    CHECK(t.bad == 0);
    const char *id0 = cJSON_GetObjectItem(t.recs[0], "id")->valuestring;
    const cJSON *s2 = cJSON_GetObjectItem(t.recs[2], "session"), *p2 = cJSON_GetObjectItem(t.recs[2], "parent");
    REQUIRE(cJSON_IsString(s2) && cJSON_IsString(p2));
    CHECK_STR(s2->valuestring, id0);
    CHECK_STR(p2->valuestring, id0);
    CHECK_INT(cJSON_GetObjectItem(t.recs[2], "turn")->valueint, 1);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(t.recs[2], "think_us")));
    CHECK_STR(cJSON_GetObjectItem(t.recs[1], "session")->valuestring,
              cJSON_GetObjectItem(t.recs[1], "id")->valuestring);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(t.recs[2], "body_raw")));
    CHECK(!cJSON_GetObjectItem(t.recs[0], "body_raw"));
    CHECK_STR(cJSON_GetObjectItem(t.recs[0], "path")->valuestring, "/v1/chat/completions");
    const sess_stats *st = &capture_out_get_stats(t.out)->sessions;
    CHECK_INT(st->by_prefix, 1);
    CHECK_INT(st->first_turns, 2);
    tcap_close(&t);
}
