/* test_sse.c — unit tests for common/sse: every parsing rule of the
 * WHATWG event-stream interpretation, chunk splitting, limits, truncation. */
#include "tests/unit/unit.h"
#include "common/sse.h"
#include "common/util.h"

#include <stdlib.h>

/* Events rendered as "type|id|data;" ("#text;" for comments), so a whole
 * sequence compares with one CHECK_STR. NULs in data are shown as "\0". */
typedef struct {
    strbuf out;
    int stop_every; /* return 1 from the callback (to test SSE_STOPPED) */
} rec;

static int on_event(const sse_event *ev, void *ud)
{
    rec *r = ud;
    if (ev->comment) {
        sb_addc(&r->out, '#');
    } else {
        CHECK_INT(strlen(ev->type), ev->type_len);
        CHECK_INT(strlen(ev->id), ev->id_len);
        CHECK_INT(ev->data[ev->data_len], 0);
        sb_add(&r->out, ev->type, ev->type_len);
        sb_addc(&r->out, '|');
        sb_add(&r->out, ev->id, ev->id_len);
        sb_addc(&r->out, '|');
    }
    for (size_t i = 0; i < ev->data_len; i++) {
        if (ev->data[i]) sb_addc(&r->out, ev->data[i]);
        else sb_adds(&r->out, "\\0");
    }
    sb_addc(&r->out, ';');
    return r->stop_every;
}

/* Feeds s (n bytes) in chunks of `chunk` bytes (0: whole), then finishes.
 * Appends the events to out and returns sse_finish's result (or the
 * feed's error). */
static int parse_chunked(sse_parser *p, const char *s, size_t n, size_t chunk, strbuf *out)
{
    rec r = { *out, 0 };
    int rc = 0;
    if (!chunk) chunk = n ? n : 1;
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = sse_feed(p, s + off, k, on_event, &r);
        if (rc == 0) CHECK_INT(sse_consumed(p), k);
    }
    *out = r.out;
    return rc < 0 ? rc : sse_finish(p);
}

/* Parses a NUL-free string in one piece; returns the rendered events. The
 * result lives in a static buffer until the next call. */
static const char *parse(const char *s, int *finish)
{
    static strbuf out;
    sb_reserve(&out, 0);
    sb_clear(&out);
    sse_parser *p = sse_new(0);
    int rc = parse_chunked(p, s, strlen(s), 0, &out);
    if (finish) *finish = rc;
    sse_free(p);
    return out.buf;
}

static const char VLLM[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\xc3\xa9\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

TEST(sse_vllm_stream)
{
    int fin;
    const char *ev = parse(VLLM, &fin);
    CHECK_INT(fin, 0);
    CHECK_CONTAINS(ev, "message||{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]};");
    CHECK_CONTAINS(ev, ";message||[DONE];");
    int n = 0;
    for (const char *q = ev; (q = strstr(q, "message|")); q++) n++;
    CHECK_INT(n, 5);
}

/* A sample using every rule: BOM, comments, CR/LF/CRLF, multi-line data,
 * event types, ids, retry, unknown fields, empty data, an empty dispatch. */
static const char SAMPLE[] =
    "\xEF\xBB\xBF: hello\r\n"
    "retry: 1500\r"
    "event: add\r\n"
    "data: one\n"
    "data:two\r"
    "data\n"
    "id: 7\r\n"
    "\r\n"
    "foo: bar\n"
    "data:  spaced\r"
    "\r"
    "event: ping\n"
    "\n"
    "data\n"
    "\n"
    ":\n"
    "id\n"
    "data: \xe2\x82\xac end\r\n"
    "\n";

static const char SAMPLE_EVENTS[] =
    "add|7|one\ntwo\n;"
    "message|7| spaced;"
    "message|7|;"
    "message||\xe2\x82\xac end;";

TEST(sse_sample_every_rule)
{
    sse_parser *p = sse_new(0);
    strbuf out = {0};
    CHECK_INT(parse_chunked(p, SAMPLE, sizeof SAMPLE - 1, 0, &out), 0);
    CHECK_STR(out.buf, SAMPLE_EVENTS);
    const sse_stats *st = sse_get_stats(p);
    CHECK_INT(st->events, 4);
    CHECK_INT(st->comments, 2);
    CHECK_INT(st->empty_dispatches, 1); /* "event: ping" then a blank line */
    CHECK_INT(st->lines, 19);
    CHECK_INT(st->bytes, sizeof SAMPLE - 1);
    CHECK_INT(sse_retry_ms(p), 1500);
    CHECK_STR(sse_last_event_id(p), "");
    sb_free(&out);
    sse_free(p);
}

TEST(sse_split_at_every_position_gives_same_events)
{
    size_t n = sizeof SAMPLE - 1;
    sse_parser *p = sse_new(0);
    /* two pieces, split at every byte */
    for (size_t cut = 0; cut <= n; cut++) {
        strbuf out = {0};
        rec r = { out, 0 };
        sse_reset(p);
        CHECK_INT(sse_feed(p, SAMPLE, cut, on_event, &r), 0);
        CHECK_INT(sse_feed(p, SAMPLE + cut, n - cut, on_event, &r), 0);
        CHECK_INT(sse_finish(p), 0);
        if (!r.out.buf || strcmp(r.out.buf, SAMPLE_EVENTS))
            unit_fail(__FILE__, __LINE__, "split at %zu: \"%s\"", cut, r.out.buf ? r.out.buf : "");
        sb_free(&r.out);
    }
    /* three pieces, every pair of cuts */
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            rec r = { {0}, 0 };
            sse_reset(p);
            sse_feed(p, SAMPLE, a, on_event, &r);
            sse_feed(p, SAMPLE + a, b - a, on_event, &r);
            sse_feed(p, SAMPLE + b, n - b, on_event, &r);
            if (sse_finish(p) != 0 || !r.out.buf || strcmp(r.out.buf, SAMPLE_EVENTS))
                unit_fail(__FILE__, __LINE__, "cuts at %zu,%zu: \"%s\"", a, b, r.out.buf ? r.out.buf : "");
            sb_free(&r.out);
        }
    }
    /* every fixed chunk size, including one byte at a time */
    for (size_t c = 1; c <= n; c++) {
        strbuf out = {0};
        sse_reset(p);
        CHECK_INT(parse_chunked(p, SAMPLE, n, c, &out), 0);
        if (strcmp(out.buf, SAMPLE_EVENTS)) unit_fail(__FILE__, __LINE__, "chunk %zu", c);
        sb_free(&out);
    }
    sse_free(p);
}

TEST(sse_line_endings_cr_lf_crlf)
{
    CHECK_STR(parse("data: a\n\n", NULL), "message||a;");
    CHECK_STR(parse("data: a\r\r", NULL), "message||a;");
    CHECK_STR(parse("data: a\r\n\r\n", NULL), "message||a;");
    CHECK_STR(parse("data: a\r\ndata: b\rdata: c\n\r\n", NULL), "message||a\nb\nc;");
    /* "\n\r" is two line ends: the data line, then a blank line */
    CHECK_STR(parse("data: a\n\rdata: b\r\n\n", NULL), "message||a;message||b;");
    /* "\r\r\n": a line, a blank line (the "\r\n") */
    CHECK_STR(parse("data: a\r\r\n", NULL), "message||a;");
    /* "\r\n" split between two chunks is one line end, not two */
    sse_parser *p = sse_new(0);
    rec r = { {0}, 0 };
    sse_feed(p, "data: a\r", 8, on_event, &r);
    sse_feed(p, "\ndata: b\r", 9, on_event, &r);
    sse_feed(p, "\n\r", 2, on_event, &r);
    sse_feed(p, "\n", 1, on_event, &r);
    CHECK_STR(r.out.buf, "message||a\nb;");
    CHECK_INT(sse_get_stats(p)->lines, 3);
    CHECK_INT(sse_finish(p), 0);
    sb_free(&r.out);
    sse_free(p);
}

TEST(sse_comments_counted_and_reported)
{
    sse_parser *p = sse_new(0);
    rec r = { {0}, 0 };
    const char *s = ": ping - 2024-05-01\n:x\n:  two\n:\ndata: d\n: mid\n\n";
    sse_feed(p, s, strlen(s), on_event, &r);
    CHECK(r.out.buf && strcmp(r.out.buf, "message||d;") == 0);
    CHECK_INT(sse_get_stats(p)->comments, 5);
    sb_free(&r.out);
    sse_reset(p);
    CHECK_INT(sse_get_stats(p)->comments, 0);
    sse_set_report_comments(p, 1);
    r.out = (strbuf){0};
    sse_feed(p, s, strlen(s), on_event, &r);
    CHECK_STR(r.out.buf, "#ping - 2024-05-01;#x;# two;#;#mid;message||d;");
    CHECK_INT(sse_finish(p), 0); /* comments alone do not leave an event open */
    sb_free(&r.out);
    sse_free(p);
}

TEST(sse_fields_and_values)
{
    CHECK_STR(parse("data:x\n\n", NULL), "message||x;");              /* no space */
    CHECK_STR(parse("data:  x\n\n", NULL), "message|| x;");           /* one space stripped */
    CHECK_STR(parse("data: a:b: c\n\n", NULL), "message||a:b: c;");   /* first colon splits */
    CHECK_STR(parse("data\n\n", NULL), "message||;");                 /* no colon: empty value */
    CHECK_STR(parse("data:\n\n", NULL), "message||;");
    CHECK_STR(parse("data\ndata\n\n", NULL), "message||\n;");
    CHECK_STR(parse("DATA: x\nData: y\n data: z\n\n", NULL), "");     /* case and leading space matter */
    CHECK_STR(parse("foo: x\ndata: y\nbar\n\n", NULL), "message||y;"); /* unknown fields ignored */
    CHECK_STR(parse("dat: x\ndatax: y\nevents: z\nid2: w\ndata: v\n\n", NULL), "message||v;");
    /* the type: default "message", replaced by the last event field, reset at dispatch */
    CHECK_STR(parse("event: a\nevent: b\ndata: 1\n\ndata: 2\n\n", NULL), "b||1;message||2;");
    CHECK_STR(parse("event:\ndata: 1\n\n", NULL), "message||1;");
    /* a blank line with no data dispatches nothing and forgets the type */
    int fin;
    CHECK_STR(parse("event: a\n\ndata: 1\n\n\n\n", &fin), "message||1;");
    CHECK_INT(fin, 0);
}

TEST(sse_ids_persist_and_nul_ignored)
{
    CHECK_STR(parse("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", NULL),
              "message|1|a;message|1|b;message||c;");
    CHECK_STR(parse("id: 5\n\ndata: a\n\n", NULL), "message|5|a;"); /* set by an event with no data */
    CHECK_STR(parse("id: x y:z\ndata: a\n\n", NULL), "message|x y:z|a;");
    /* an id containing NUL is ignored; NUL elsewhere is kept */
    static const char s[] = "id: 1\ndata: a\n\nid: 2\0x\ndata: b\0c\n\n";
    sse_parser *p = sse_new(0);
    strbuf out = {0};
    CHECK_INT(parse_chunked(p, s, sizeof s - 1, 0, &out), 0);
    CHECK_STR(out.buf, "message|1|a;message|1|b\\0c;");
    CHECK_STR(sse_last_event_id(p), "1");
    sb_free(&out);
    sse_free(p);
}

TEST(sse_retry_digits_only)
{
    sse_parser *p = sse_new(0);
    const char *cases[][2] = {
        { "retry: 3000\n", "3000" }, { "retry:0\n", "0" }, { "retry: 12a\n", "-1" },
        { "retry: -5\n", "-1" }, { "retry:\n", "-1" }, { "retry\n", "-1" },
        { "retry: 1 \n", "-1" }, { "retry:  7\n", "-1" },
        { "retry: 99999999999999999999999\n", "9223372036854775807" },
        { "retry: 9223372036854775806\n", "9223372036854775806" },
        { "retry: 10\nretry: x\n", "10" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sse_reset(p);
        sse_feed(p, cases[i][0], strlen(cases[i][0]), NULL, NULL);
        CHECK_INT(sse_retry_ms(p), strtoll(cases[i][1], NULL, 10));
    }
    sse_free(p);
}

TEST(sse_bom_skipped_once)
{
    CHECK_STR(parse("\xEF\xBB\xBF" "data: a\n\n", NULL), "message||a;");
    /* a second BOM is part of the field name, so the line is an unknown field */
    CHECK_STR(parse("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", NULL), "message||b;");
    /* a BOM prefix that is not a BOM stays in the line */
    CHECK_STR(parse("\xEF\xBB" "data: a\n\ndata: b\n\n", NULL), "message||b;");
    CHECK_STR(parse("\xEF\n" "data: a\n\n", NULL), "message||a;");
    /* a BOM in the middle of the stream is data */
    CHECK_STR(parse("data: \xEF\xBB\xBFx\n\n", NULL), "message||\xEF\xBB\xBFx;");
    /* split one byte at a time */
    const char *s = "\xEF\xBB\xBF" "data: a\n\n";
    sse_parser *p = sse_new(0);
    strbuf out = {0};
    CHECK_INT(parse_chunked(p, s, strlen(s), 1, &out), 0);
    CHECK_STR(out.buf, "message||a;");
    sb_free(&out);
    /* a stream that ends inside a BOM ended inside a line */
    int fin;
    parse("\xEF\xBB", &fin);
    CHECK_INT(fin, SSE_TRUNCATED);
    parse("\xEF\xBB\xBF", &fin);
    CHECK_INT(fin, 0);
    sse_free(p);
}

TEST(sse_truncated_stream_detected)
{
    struct { const char *s; int fin; const char *ev; } cases[] = {
        { "", 0, "" },
        { "data: a\n\n", 0, "message||a;" },
        { "data: a\n\ndata: b\n", SSE_TRUNCATED, "message||a;" },  /* no blank line */
        { "data: a\n\ndata: b", SSE_TRUNCATED, "message||a;" },    /* inside a line */
        { "data: a\n\nevent: x\n", SSE_TRUNCATED, "message||a;" }, /* a field, no data */
        { "data: a\n\nfoo\n", SSE_TRUNCATED, "message||a;" },
        { "data: a\n\n:", SSE_TRUNCATED, "message||a;" },          /* an unterminated comment */
        { "data: a\n\n: keep-alive\n", 0, "message||a;" },         /* a whole comment is fine */
        { "data: a\r\r", 0, "message||a;" },
        { "data: a\n\r", 0, "message||a;" },
        { "data: a\r", SSE_TRUNCATED, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fin;
        const char *ev = parse(cases[i].s, &fin);
        if (fin != cases[i].fin || strcmp(ev, cases[i].ev))
            unit_fail(__FILE__, __LINE__, "case %zu: finish %d, events \"%s\"", i, fin, ev);
    }
}

TEST(sse_size_limit)
{
    sse_parser *p = sse_new(16);
    rec r = { {0}, 0 };
    /* a line of exactly 16 bytes is fine, even when split */
    CHECK_INT(sse_feed(p, "data: 0123456", 13, on_event, &r), 0);
    CHECK_INT(sse_feed(p, "789\n\n", 5, on_event, &r), 0);
    CHECK_STR(r.out.buf, "message||0123456789;");
    /* garbage with no line end fails once over the limit, whatever the chunks */
    for (int i = 0; i < 16; i++) CHECK_INT(sse_feed(p, "x", 1, on_event, &r), 0);
    CHECK_INT(sse_feed(p, "x", 1, on_event, &r), ERR_INPUT);
    CHECK_CONTAINS(sse_error(p), "line over the limit of 16 bytes");
    CHECK_INT(sse_feed(p, "\n\n", 2, on_event, &r), ERR_INPUT); /* stays failed */
    CHECK_INT(sse_consumed(p), 0);
    CHECK_INT(sse_finish(p), ERR_INPUT);
    /* a long line inside one chunk fails too */
    sse_reset(p);
    CHECK_STR(sse_error(p), "");
    CHECK_INT(sse_feed(p, "data: 0123456789A\n\n", 19, on_event, &r), ERR_INPUT);
    /* data that grows past the limit over several lines */
    sse_reset(p);
    CHECK_INT(sse_feed(p, "data: 01234567\n", 15, on_event, &r), 0);  /* 9 bytes buffered */
    CHECK_INT(sse_feed(p, "data: 012345\n", 13, on_event, &r), 0);    /* 16 */
    CHECK_INT(sse_feed(p, "data:\n", 6, on_event, &r), ERR_INPUT);     /* 17 */
    CHECK_CONTAINS(sse_error(p), "event data over the limit");
    /* the limit is per event: many events of 9 bytes pass */
    sse_reset(p);
    for (int i = 0; i < 100; i++) CHECK_INT(sse_feed(p, "data: 01234567\n\n", 16, on_event, &r), 0);
    CHECK_INT(sse_get_stats(p)->events, 100);
    sb_free(&r.out);
    sse_free(p);
}

TEST(sse_callback_stop_and_resume)
{
    const char *s = "data: a\n\n: c\ndata: b\r\rdata: c\n\n";
    size_t n = strlen(s);
    sse_parser *p = sse_new(0);
    rec r = { {0}, 1 };
    size_t off = 0;
    int stops = 0, rc;
    while ((rc = sse_feed(p, s + off, n - off, on_event, &r)) == SSE_STOPPED) {
        stops++;
        off += sse_consumed(p);
    }
    CHECK_INT(rc, 0);
    CHECK_INT(stops, 3);
    CHECK_STR(r.out.buf, "message||a;message||b;message||c;");
    CHECK_INT(sse_get_stats(p)->bytes, n);
    CHECK_INT(sse_finish(p), 0);
    /* the first stop is right after the blank line of the first event */
    sse_reset(p);
    CHECK_INT(sse_feed(p, s, n, on_event, &r), SSE_STOPPED);
    CHECK_INT(sse_consumed(p), 9);
    sb_free(&r.out);
    sse_free(p);
}

TEST(sse_reset_forgets_stream_and_reuses_buffers)
{
    sse_parser *p = sse_new(0);
    rec r = { {0}, 0 };
    const char *s = "id: 9\nretry: 5\ndata: x\n\ndata: partial";
    sse_feed(p, s, strlen(s), on_event, &r);
    CHECK_INT(sse_finish(p), SSE_TRUNCATED);
    sse_reset(p);
    CHECK_STR(sse_last_event_id(p), "");
    CHECK_INT(sse_retry_ms(p), -1);
    CHECK_INT(sse_finish(p), 0);
    CHECK_INT(sse_get_stats(p)->events, 0);
    /* the partial line is gone: a fresh stream parses on its own */
    sb_clear(&r.out);
    sse_feed(p, "data: y\n\n", 9, on_event, &r);
    CHECK_STR(r.out.buf, "message||y;");
    sb_free(&r.out);
    sse_free(p);
    sse_free(NULL);
}

/* A parser trimmed after a long event (and a long partial line) parses the
 * next stream as a new one would; trimming mid-stream keeps what is
 * pending. */
TEST(sse_trim_after_long_event)
{
    sse_parser *p = sse_new(0);
    rec r = { {0}, 0 };
    strbuf big = {0};
    sb_adds(&big, "event: e\nid: 1\ndata: ");
    for (int i = 0; i < 100000; i++) sb_addc(&big, 'a' + i % 26);
    sb_adds(&big, "\n\ndata: cut");
    sse_feed(p, big.buf, big.len, on_event, &r);
    CHECK_INT(sse_get_stats(p)->events, 1);
    sse_trim(p, 4096);                                  /* mid-stream: "cut" stays pending */
    sse_feed(p, "\n\n", 2, on_event, &r);
    CHECK_CONTAINS(r.out.buf, "message|1|cut;");
    sse_reset(p);
    sse_trim(p, 4096);
    sse_trim(p, 0);
    sb_clear(&r.out);
    sse_feed(p, "data: y\n\n", 9, on_event, &r);
    CHECK_STR(r.out.buf, "message||y;");
    sb_free(&r.out);
    sb_free(&big);
    sse_free(p);
}
