/* cmd_trace_sessionize.c — `trace sessionize` (traces/sessionize.c):
 * sessions inferred for a trace captured without them. Option parsing,
 * messages and exit codes only. */
#include "cli/cli.h"
#include "cli/cmd_trace_sessionize.h"
#include "cli/trace_rewrite.h"
#include "common/parse.h"
#include "traces/sessionize.h"
#include "traces/trace_io.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESS_CMD "trace sessionize"
#define SESS_USAGE "sagellm-bench trace sessionize FILE -o OUT [--session-header NAME] " \
                   "[--session-field NAME] [--max-sessions N]"

static const char sess_help[] =
    "Infers session, turn, parent and think_us for the records of a trace (a capture\n"
    "made without them), so `replay --sessions dependent` replays its conversations.\n"
    "A chat request whose messages before its last assistant message equal an earlier\n"
    "request's messages continues that request's session; every other request with\n"
    "messages starts one. With a grouping key, requests with the same key are one\n"
    "session instead (when a request has the key). See docs/trace-format.md.\n\n"
    "options:\n"
    "  -o, --out OUT           output trace (.jsonl.zst compresses; - is stdout)\n"
    "  --session-header NAME   group by the recorded request header NAME\n"
    "  --session-field NAME    group by the body's top-level field NAME (user, ...)\n"
    "  --max-sessions N        conversations remembered, the least recent forgotten\n"
    "                          (default 100000)\n"
    "  --level N               zstd level (0 = plain; default 3 for .zst outputs)\n";

static int name_ok(const char *s)
{
    return s[0] && strlen(s) <= 100 && !strpbrk(s, " :\t\r\n");
}

typedef struct sess_pass {
    sessionizer *s;
    const char *header, *field;
    uint64_t records;
} sess_pass;

static int sessionize_edit(trace_rec *rec, void *ud)
{
    sess_pass *p = ud;
    sessionizer_apply(p->s, rec, p->header, p->field);
    p->records++;
    return 1;
}

/* Reads path, writes out with the fields set; returns an exit code. */
static int sessionize_file(const char *path, const char *out, int level, const char *header,
                           const char *field, uint64_t max_open)
{
    cJSON *args = cJSON_CreateObject();
    if (header) cJSON_AddStringToObject(args, "header", header);
    if (field) cJSON_AddStringToObject(args, "field", field);
    cJSON_AddNumberToObject(args, "max_sessions", (double)max_open);
    sess_pass p = { sessionizer_new((size_t)max_open), header, field, 0 };
    int ec = trace_rewrite(path, 0, out, level, "sessionize", args, sessionize_edit, &p);
    sess_stats st;
    sessionizer_stats(p.s, &st);
    sessionizer_free(p.s);
    if (ec != EXIT_OK) return ec;
    fprintf(stderr, "%s: %" PRIu64 " records, %" PRIu64 " sessions started, %" PRIu64
            " turns continued (%" PRIu64 " by key, %" PRIu64 " by messages), %" PRIu64
            " forgotten at --max-sessions, written to %s\n", path, p.records, st.first_turns,
            st.by_key + st.by_prefix, st.by_key, st.by_prefix, st.evicted, out);
    return EXIT_OK;
}

int trace_cmd_sessionize(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"session-header", required_argument, 0, 'H'},
        {"session-field", required_argument, 0, 'F'}, {"max-sessions", required_argument, 0, 'm'},
        {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL, *header = NULL, *field = NULL;
    uint64_t max_open = 100000;
    int c, level = -1;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'H': case 'F':
            if (!name_ok(optarg))
                return cli_usage_error(SESS_CMD, SESS_USAGE, "%s needs a header or field name, got '%s'",
                                       c == 'H' ? "--session-header" : "--session-field", optarg);
            *(c == 'H' ? &header : &field) = optarg;
            break;
        case 'm':
            if (parse_u64(optarg, &max_open) < 0 || !max_open || max_open > 100000000)
                return cli_usage_error(SESS_CMD, SESS_USAGE, "--max-sessions needs 1..100000000, got '%s'", optarg);
            break;
        case 'l': {
            int64_t v;
            if (parse_i64(optarg, &v) < 0 || v < 0 || v > 22)
                return cli_usage_error(SESS_CMD, SESS_USAGE, "--level needs 0..22, got '%s'", optarg);
            level = (int)v;
            break;
        }
        case 'h': return cli_print_help(SESS_CMD, SESS_USAGE, sess_help);
        default: return cli_getopt_error(SESS_CMD, SESS_USAGE, c, argv, lo);
        }
    }
    if (optind >= argc) return cli_usage_error(SESS_CMD, SESS_USAGE, "missing FILE");
    if (optind + 1 < argc) return cli_usage_error(SESS_CMD, SESS_USAGE, "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return cli_usage_error(SESS_CMD, SESS_USAGE, "missing -o OUT");
    return sessionize_file(argv[optind], out, level, header, field, max_open);
}
