/* cmd_trace_split.c — `trace split FILE --shards N -o OUT`: the shards of a
 * trace as files of their own, for a replay too big to ship the whole
 * trace to every node. Shard K's file holds the records `replay --shard
 * K/N` picks from the whole trace (traces/shard.h), each with its index in
 * the whole trace as "trace_index" (so runs of the shards pair with a run
 * of the whole trace), and a header "split": {"shard": K, "shards": N}
 * that replay checks against its own shard. One pass, N writers open. */
#include "cli/cmd_trace_split.h"
#include "cli/cli.h"
#include "common/parse.h"
#include "traces/shard.h"
#include "traces/trace_io.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_CMD "trace split"
#define SPLIT_USAGE "sagellm-bench trace split FILE --shards N -o OUT [--level L] [--skip-invalid]"
#define SPLIT_MAX 1024

static const char split_help[] =
    "Writes N traces, shard K holding exactly the records `replay --shard K/N`\n"
    "sends from FILE (a session's turns together, other records round-robin by\n"
    "index). Each record gets \"trace_index\", its index in FILE; each header\n"
    "\"split\": {\"shard\": K, \"shards\": N}. Replay such a file with\n"
    "`--shard K/N` or `--shard auto` (it sends every record of the file; TRACE\n"
    "may say {k} and {n}).\n\n"
    "  --shards N      number of shards (2..1024)\n"
    "  -o OUT          a name with {k} (and {n}), e.g. parts/t-{k}-of-{n}.jsonl.zst,\n"
    "                  or a directory: OUT/shard-K-of-N.jsonl.zst\n"
    "  --level L       zstd level (default 3)\n"
    "  --skip-invalid  skip bad records (counted) instead of stopping\n";

/* OUT with {k} and {n} replaced; a name without {k} is a directory. */
static char *shard_name(const char *out, int k, int n)
{
    if (strstr(out, "{k}")) return trace_shard_name(out, k, n);
    strbuf b = {0};
    sb_printf(&b, "%s/shard-%d-of-%d.jsonl.zst", out, k, n);
    return b.buf;
}

/* Opens shard k's writer: the input's header with "split" and a history
 * entry. NULL with err. */
static trace_writer *open_shard(const cJSON *hdr, const char *out, int k, int n, int level,
                                char *err, size_t errlen)
{
    cJSON *h = cJSON_Duplicate(hdr, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(h, "split");
    cJSON *s = cJSON_AddObjectToObject(h, "split");
    cJSON_AddNumberToObject(s, "shard", k);
    cJSON_AddNumberToObject(s, "shards", n);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "shard", k);
    cJSON_AddNumberToObject(args, "shards", n);
    trace_header_add_history(h, "split", args);
    char *path = shard_name(out, k, n);
    trace_writer *w = trace_writer_open(path, h, level, err, errlen);
    free(path);
    cJSON_Delete(h);
    return w;
}

/* Reads FILE once and hands each record to its shard's writer. */
static int split_pass(trace_reader *r, trace_writer **w, uint64_t *count, int n, char *err,
                      size_t errlen)
{
    trace_rec *rec;
    int rc;
    uint64_t index = 0;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        int s = trace_shard_of(rec, index, n);
        cJSON_DeleteItemFromObjectCaseSensitive(rec->json, "trace_index");
        cJSON_AddNumberToObject(rec->json, "trace_index", (double)index);
        index++;
        if ((rc = trace_writer_put(w[s], rec->json)) < 0) {
            errf(err, errlen, "%s", trace_writer_error(w[s]));
            return rc;
        }
        count[s]++;
    }
    if (rc < 0) errf(err, errlen, "%s", trace_reader_error(r));
    return rc;
}

static int split_file(const char *path, const char *out, int n, int level, unsigned flags)
{
    char err[1024];
    trace_reader *r = trace_reader_open(path, flags, err, sizeof err);
    if (!r) {
        msg_err("%s", err);
        return strstr(err, "cannot open") ? EXIT_SYSTEM : EXIT_INPUT;
    }
    trace_writer **w = xcalloc((size_t)n, sizeof *w);
    uint64_t *count = xcalloc((size_t)n, sizeof *count);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++)
        if (!(w[k] = open_shard(trace_reader_header(r), out, k + 1, n, level, err, sizeof err)))
            rc = ERR_SYSTEM;
    if (!rc) rc = split_pass(r, w, count, n, err, sizeof err);
    for (int k = 0; k < n; k++) {
        if (!w[k]) continue;
        if (rc < 0) trace_writer_abort(w[k]);
        else if ((rc = trace_writer_close(w[k], err, sizeof err)) < 0) {
            for (int j = k + 1; j < n; j++) trace_writer_abort(w[j]);
            break;
        }
    }
    if (trace_reader_skipped(r))
        msg_warn("skipped %llu invalid records (first: %s)",
                 (unsigned long long)trace_reader_skipped(r), trace_reader_first_skip(r));
    trace_reader_close(r);
    if (rc < 0) msg_err("%s", err);
    else
        for (int k = 0; k < n; k++) {
            char *name = shard_name(out, k + 1, n);
            fprintf(stderr, "shard %d/%d: %llu records -> %s\n", k + 1, n,
                    (unsigned long long)count[k], name);
            free(name);
        }
    free(w);
    free(count);
    return rc < 0 ? err_to_exit(rc) : EXIT_OK;
}

int trace_cmd_split(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"shards", required_argument, 0, 'n'},
        {"level", required_argument, 0, 'l'}, {"skip-invalid", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int c, level = -1, n = 0;
    unsigned flags = 0;
    int64_t v;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n':
            if (parse_i64(optarg, &v) < 0 || v < 2 || v > SPLIT_MAX)
                return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "--shards needs 2..%d, got '%s'", SPLIT_MAX, optarg);
            n = (int)v;
            break;
        case 'l':
            if (parse_i64(optarg, &v) < 0 || v < 0 || v > 22)
                return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "--level needs 0..22, got '%s'", optarg);
            level = (int)v;
            break;
        case 'k': flags |= TRACE_SKIP_INVALID; break;
        case 'h': return cli_print_help(SPLIT_CMD, SPLIT_USAGE, split_help);
        default: return cli_getopt_error(SPLIT_CMD, SPLIT_USAGE, c, argv, lo);
        }
    }
    if (optind >= argc) return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "missing FILE");
    if (optind + 1 < argc) return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
    if (!n) return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "missing --shards N");
    if (!out) return cli_usage_error(SPLIT_CMD, SPLIT_USAGE, "missing -o OUT");
    if (!strstr(out, "{k}")) {
        char err[600];
        if (mkdir_p(out, err, sizeof err)) {
            msg_err("%s", err);
            return EXIT_SYSTEM;
        }
    }
    return split_file(argv[optind], out, n, level, flags);
}
