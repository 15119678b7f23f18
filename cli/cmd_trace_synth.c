/* cmd_trace_synth.c — `trace synth` (traces/synth.c) and `trace materialize`
 * (traces/prompt.c): option parsing, messages and exit codes only. */
#include "cli/cli.h"
#include "cli/cmd_trace_synth.h"
#include "common/parse.h"
#include "traces/prompt.h"
#include "traces/synth.h"
#include "traces/trace_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- synth ---- */

#define SYNTH_CMD "trace synth"
#define SYNTH_USAGE "sagellm-bench trace synth -o OUT --duration D --rate R [--arrival A] " \
                    "--input DIST --output DIST [options]"

static const char synth_help[] =
    "Synthesises a trace of length-only records (input_tokens, output_tokens)\n"
    "from an arrival process and length distributions; the same seed gives the\n"
    "same records. See docs/trace-synth.md.\n\n"
    "options:\n"
    "  -o, --out OUT          output trace (.jsonl.zst compresses; - is stdout)\n"
    "  --duration D           length of the trace (90s, 10m, 1h; a bare number is\n"
    "                         seconds); no record starts at or after it\n"
    "  --rate R               arrivals per second: requests, or session starts with\n"
    "                         --sessions\n"
    "  --arrival A            poisson (default), gamma:CV (shape 1/CV^2; CV > 1 is\n"
    "                         burstier than poisson) or constant\n"
    "  --input DIST           new input tokens per request (per turn with --sessions;\n"
    "                         the prefix and the conversation so far come on top)\n"
    "  --output DIST          output tokens per request\n"
    "  --sessions DIST        turns per session: multi-turn conversations whose turn k\n"
    "                         carries turn k-1's input and output\n"
    "  --think DIST           time between a session's turns, as durations (default\n"
    "                         " SYNTH_DEFAULT_THINK "; needs --sessions)\n"
    "  --prefix TOKENS:GROUPS every session starts with one of GROUPS shared prefixes\n"
    "                         (system prompts) of TOKENS tokens, chosen uniformly\n"
    "  --block-size N         tokens per hash block (default 512); hash_ids are\n"
    "                         written with --prefix or --sessions\n"
    "  --api KIND             chat (default), completions or generate\n"
    "  --model M              model name for every record (default: none)\n"
    "  --seed S               random seed (default 1)\n"
    "  --max-records N        stop after N records\n"
    "  --level N              zstd level (0 = plain; default 3 for .zst outputs)\n\n"
    "DIST (token counts; for --think the values are durations):\n"
    "  fixed:N                always N\n"
    "  uniform:MIN:MAX        integers MIN..MAX, inclusive\n"
    "  normal:MEAN:SD         rounded; clamped to >= 1\n"
    "  lognormal:MEAN:SIGMA   MEAN is the distribution's mean (mu = ln MEAN - SIGMA^2/2),\n"
    "                         SIGMA the log's standard deviation; rounded, >= 1\n"
    "  exponential:MEAN       rounded; clamped to >= 1\n"
    "  zipf:S:MAX             P(k) ~ k^-S on 1..MAX\n"
    "  empirical:FILE         values from FILE (one per line, or 'VALUE WEIGHT'), or\n"
    "                         the matching field of a trace file\n\n"
    "example:\n"
    "  sagellm-bench trace synth -o chat.jsonl.zst --duration 10m --rate 2 \\\n"
    "      --arrival gamma:2 --input lognormal:800:1.0 --output uniform:50:400 \\\n"
    "      --sessions uniform:1:6 --think exponential:20s --prefix 1024:8\n";

#define synth_usage(...) cli_usage_error(SYNTH_CMD, SYNTH_USAGE, __VA_ARGS__)

/* "TOKENS:GROUPS", both positive integers. */
static int parse_prefix(const char *s, int64_t *tokens, int64_t *groups)
{
    const char *c = strchr(s, ':');
    if (!c) return -1;
    char *t = xstrndup(s, (size_t)(c - s));
    int rc = parse_i64(t, tokens) < 0 || *tokens < 1 || parse_i64(c + 1, groups) < 0 || *groups < 1;
    free(t);
    return rc ? -1 : 0;
}

int trace_cmd_synth(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"duration", required_argument, 0, 'd'},
        {"rate", required_argument, 0, 'r'}, {"arrival", required_argument, 0, 'a'},
        {"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'O'},
        {"sessions", required_argument, 0, 'S'}, {"think", required_argument, 0, 't'},
        {"prefix", required_argument, 0, 'p'}, {"block-size", required_argument, 0, 'b'},
        {"api", required_argument, 0, 'A'}, {"model", required_argument, 0, 'M'},
        {"seed", required_argument, 0, 's'}, {"max-records", required_argument, 0, 'n'},
        {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    synth_opts o;
    synth_opts_init(&o);
    const char *out = NULL;
    int c, level = -1, have_rate = 0, have_block = 0;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'd':
            if (parse_duration_us(optarg, &o.duration_us) < 0 || o.duration_us <= 0)
                return synth_usage("--duration needs a positive duration such as 90s, 10m or 1h, got '%s'", optarg);
            break;
        case 'r':
            if (parse_double(optarg, &o.rate) < 0 || o.rate <= 0)
                return synth_usage("--rate needs a positive number (per second), got '%s'", optarg);
            have_rate = 1;
            break;
        case 'a': o.arrival = optarg; break;
        case 'i': o.input = optarg; break;
        case 'O': o.output = optarg; break;
        case 'S': o.sessions = optarg; break;
        case 't': o.think = optarg; break;
        case 'p':
            if (parse_prefix(optarg, &o.prefix_tokens, &o.prefix_groups) < 0)
                return synth_usage("--prefix needs TOKENS:GROUPS with positive integers, got '%s'", optarg);
            break;
        case 'b':
            if (parse_i64(optarg, &o.block_size) < 0 || o.block_size < 1 || o.block_size > INT32_MAX)
                return synth_usage("--block-size needs a positive integer, got '%s'", optarg);
            have_block = 1;
            break;
        case 'A':
            if (strcmp(optarg, "chat") && strcmp(optarg, "completions") && strcmp(optarg, "generate"))
                return synth_usage("--api must be chat, completions or generate, got '%s'", optarg);
            o.api = optarg;
            break;
        case 'M': o.model = optarg; break;
        case 's':
            if (parse_u64(optarg, &o.seed) < 0)
                return synth_usage("--seed needs a non-negative integer, got '%s'", optarg);
            break;
        case 'n':
            if (parse_i64(optarg, &o.max_records) < 0 || o.max_records < 1)
                return synth_usage("--max-records needs a positive integer, got '%s'", optarg);
            break;
        case 'l':
            if (cli_level(SYNTH_CMD, SYNTH_USAGE, optarg, &level)) return EXIT_USAGE;
            break;
        case 'h': return cli_print_help(SYNTH_CMD, SYNTH_USAGE, synth_help);
        default: return cli_getopt_error(SYNTH_CMD, SYNTH_USAGE, c, argv, lo);
        }
    }
    if (optind < argc) return synth_usage("unexpected argument '%s'", argv[optind]);
    if (!out) return synth_usage("%s", "missing -o OUT");
    if (!o.duration_us) return synth_usage("%s", "missing --duration D");
    if (!have_rate) return synth_usage("%s", "missing --rate R");
    if (!o.input) return synth_usage("%s", "missing --input DIST");
    if (!o.output) return synth_usage("%s", "missing --output DIST");
    if (have_block && !o.prefix_tokens && !o.sessions)
        return synth_usage("%s", "--block-size only applies with --prefix or --sessions (hash ids)");

    char err[1024];
    synth *s;
    int rc = synth_new(&o, &s, err, sizeof err);
    if (rc == ERR_USAGE) return cli_usage_error(SYNTH_CMD, SYNTH_USAGE, "%s", err);
    if (rc) {
        msg_err("%s", err);
        return err_to_exit(rc);
    }
    rc = synth_write(s, out, level, err, sizeof err);
    synth_stats st;
    synth_get_stats(s, &st);
    synth_free(s);
    if (rc) {
        msg_err("%s", err);
        return err_to_exit(rc);
    }
    if (strcmp(out, "-")) {
        if (o.sessions)
            fprintf(stderr, "synth: %llu records in %llu sessions (%llu cut short by the duration) "
                    "written to %s\n", (unsigned long long)st.records, (unsigned long long)st.sessions,
                    (unsigned long long)st.sessions_cut, out);
        else
            fprintf(stderr, "synth: %llu records written to %s\n", (unsigned long long)st.records, out);
    }
    return EXIT_OK;
}

/* ---- materialize ---- */

#define MAT_CMD "trace materialize"
#define MAT_USAGE "sagellm-bench trace materialize FILE -o OUT [--api chat|completions|generate] " \
                  "[--model M] [--seed S]"

static const char mat_help[] =
    "Copies a trace and gives every length-only record a request body whose\n"
    "prompt has input_tokens tokens (docs/prompt-synthesis.md): words chosen\n"
    "by a seeded generator, one block per hash id so equal ids give identical\n"
    "text. Such records get \"body_synthetic\": true. Records that already have\n"
    "a body, and every other field, are kept.\n\n"
    "options:\n"
    "  -o, --out OUT   output trace (.jsonl.zst compresses; - is stdout)\n"
    "  --api KIND      body shape, and the records' api: chat (messages),\n"
    "                  completions or generate (prompt); default: each record's api\n"
    "  --model M       model in the bodies (default: the record's model, else none)\n"
    "  --seed S        seed of the text not covered by hash ids (default 1);\n"
    "                  hash blocks depend on their id only\n"
    "  --level N       zstd level (0 = plain; default 3 for .zst outputs)\n";

int trace_cmd_materialize(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"api", required_argument, 0, 'A'},
        {"model", required_argument, 0, 'M'}, {"seed", required_argument, 0, 's'},
        {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL, *api = NULL, *model = NULL;
    uint64_t seed = SYNTH_DEFAULT_SEED;
    int c, level = -1;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'A':
            if (strcmp(optarg, "chat") && strcmp(optarg, "completions") && strcmp(optarg, "generate"))
                return cli_usage_error(MAT_CMD, MAT_USAGE, "--api must be chat, completions or generate, got '%s'", optarg);
            api = optarg;
            break;
        case 'M': model = optarg; break;
        case 's':
            if (parse_u64(optarg, &seed) < 0)
                return cli_usage_error(MAT_CMD, MAT_USAGE, "--seed needs a non-negative integer, got '%s'", optarg);
            break;
        case 'l':
            if (cli_level(MAT_CMD, MAT_USAGE, optarg, &level)) return EXIT_USAGE;
            break;
        case 'h': return cli_print_help(MAT_CMD, MAT_USAGE, mat_help);
        default: return cli_getopt_error(MAT_CMD, MAT_USAGE, c, argv, lo);
        }
    }
    if (optind >= argc) return cli_usage_error(MAT_CMD, MAT_USAGE, "missing FILE");
    if (optind + 1 < argc) return cli_usage_error(MAT_CMD, MAT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return cli_usage_error(MAT_CMD, MAT_USAGE, "missing -o OUT");
    const char *path = argv[optind];

    char err[1024];
    trace_reader *r = trace_reader_open(path, 0, err, sizeof err);
    if (!r) {
        msg_err("%s", err);
        return EXIT_INPUT;
    }
    cJSON *h = cJSON_Duplicate(trace_reader_header(r), 1);
    cJSON *args = cJSON_CreateObject();
    if (api) cJSON_AddStringToObject(args, "api", api);
    if (model) cJSON_AddStringToObject(args, "model", model);
    cJSON_AddNumberToObject(args, "seed", (double)seed);
    cJSON_AddStringToObject(args, "prompt", "vocab512-v1");
    trace_header_add_history(h, "materialize", args);
    trace_writer *w = trace_writer_open(out, h, level, err, sizeof err);
    cJSON_Delete(h);
    if (!w) {
        trace_reader_close(r);
        msg_err("%s", err);
        return EXIT_SYSTEM;
    }
    trace_rec *rec;
    int rc, ec = EXIT_OK;
    uint64_t made = 0;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        if (!rec->body) {
            cJSON *body = prompt_make_body(rec, api, model, seed);
            if (!body) {
                msg_err("%s:%llu: %s: cannot make a prompt from this record",
                        trace_reader_path(r), (unsigned long long)rec->line, prompt_refusal(rec));
                ec = EXIT_INPUT;
                break;
            }
            if (api) cJSON_ReplaceItemInObjectCaseSensitive(rec->json, "api", cJSON_CreateString(api));
            cJSON_AddItemToObject(rec->json, "body", body);
            /* Say so: this body is not what a client sent. */
            cJSON_AddTrueToObject(rec->json, "body_synthetic");
            made++;
        }
        if ((rc = trace_writer_put(w, rec->json)) < 0) {
            msg_err("%s: %s", out, trace_writer_error(w));
            ec = err_to_exit(rc);
            break;
        }
    }
    if (rc < 0 && ec == EXIT_OK) {
        msg_err("%s", trace_reader_error(r));
        ec = err_to_exit(rc);
    }
    uint64_t total = trace_reader_count(r);
    trace_reader_close(r);
    if (ec != EXIT_OK) {
        trace_writer_abort(w);
        return ec;
    }
    if ((rc = trace_writer_close(w, err, sizeof err)) < 0) {
        msg_err("%s", err);
        return err_to_exit(rc);
    }
    if (strcmp(out, "-"))
        fprintf(stderr, "%s: %llu of %llu records given a body, written to %s\n", path,
                (unsigned long long)made, (unsigned long long)total, out);
    return EXIT_OK;
}
