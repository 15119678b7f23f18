/* cmd_trace.c — `sagellm-bench trace SUBCOMMAND`: convert, inspect, cat,
 * validate, slice, merge, scale, sort (synth and materialize live in
 * cmd_trace_synth.c). Each subcommand but sort streams its input: memory
 * does not grow with the trace; sort holds every record. */
#include "cli/cli.h"
#include "common/jsonw.h"
#include "cli/cmd_trace_synth.h"
#include "cli/cmd_trace_sessionize.h"
#include "cli/cmd_trace_split.h"
#include "cli/trace_rewrite.h"
#include "common/parse.h"
#include "common/zio.h"
#include "traces/import.h"
#include "traces/inspect.h"
#include "traces/trace_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sub {
    const char *name, *usage, *summary;
    int (*run)(int argc, char **argv);
} sub;

static const char trace_usage[] =
    "sagellm-bench trace (convert|inspect|cat|validate|slice|merge|scale|sort|synth|materialize|sessionize|split) ...";

#define U_CONVERT "sagellm-bench trace convert --from FORMAT IN -o OUT [options]"
#define U_INSPECT "sagellm-bench trace inspect FILE [--json] [--skip-invalid]"
#define U_CAT "sagellm-bench trace cat FILE [--no-header]"
#define U_VALIDATE "sagellm-bench trace validate FILE [--max-errors N]"
#define U_SLICE "sagellm-bench trace slice FILE (--from T --to T | --first N) -o OUT"
#define U_MERGE "sagellm-bench trace merge A B ... -o OUT [--prefix-ids]"
#define U_SCALE "sagellm-bench trace scale FILE (--speed X | --rate R) -o OUT"
#define U_SORT "sagellm-bench trace sort FILE -o OUT"

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Reports a library error and maps it to an exit code. */
static int report_error(int rc, const char *msg)
{
    msg_err("%s", msg);
    return err_to_exit(rc);
}

/* Opens the output writer with the input's header plus a history entry. */
static trace_writer *open_out(const char *out, const cJSON *hdr, int level,
                              const char *op, cJSON *args, int *exitc)
{
    char err[600];
    cJSON *h = cJSON_Duplicate(hdr, 1);
    trace_header_add_history(h, op, args);
    trace_writer *w = trace_writer_open(out, h, level, err, sizeof err);
    cJSON_Delete(h);
    if (!w) *exitc = report_error(ERR_SYSTEM, err);
    return w;
}

static int close_out(trace_writer *w)
{
    char err[600];
    int rc = trace_writer_close(w, err, sizeof err);
    return rc ? report_error(rc, err) : EXIT_OK;
}

static void report_skips(trace_reader *r)
{
    if (trace_reader_skipped(r))
        msg_warn("skipped %llu invalid records (first: %s)",
                 (unsigned long long)trace_reader_skipped(r), trace_reader_first_skip(r));
}

int trace_rewrite(const char *path, unsigned flags, const char *out, int level,
                  const char *op, cJSON *args, rec_edit edit, void *ud)
{
    char err[1024];
    trace_reader *r = trace_reader_open(path, flags, err, sizeof err);
    if (!r) {
        cJSON_Delete(args);
        return report_error(strstr(err, "cannot open") ? ERR_SYSTEM : ERR_INPUT, err);
    }
    int ec = EXIT_OK, rc;
    trace_writer *w = open_out(out, trace_reader_header(r), level, op, args, &ec);
    if (!w) {
        trace_reader_close(r);
        return ec;
    }
    trace_rec *rec;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        int k = edit(rec, ud);
        if (k < 0) break;
        if (k == 0) continue;
        if ((rc = trace_writer_put_rec(w, rec)) < 0) {
            ec = report_error(rc, trace_writer_error(w));
            break;
        }
    }
    if (rc < 0 && ec == EXIT_OK) ec = report_error(rc, trace_reader_error(r));
    report_skips(r);
    trace_reader_close(r);
    if (ec != EXIT_OK) {
        trace_writer_abort(w);
        return ec;
    }
    return close_out(w);
}

/* ---- convert ---- */

static const char convert_help[] =
    "Imports a public trace format into a sagellm trace (format v1).\n\n"
    "formats:\n%s\n"
    "options:\n"
    "  --from FORMAT       input format (required)\n"
    "  -o, --out OUT       output trace (.jsonl.zst compresses; - is stdout)\n"
    "  --map SPEC          jsonl: our=theirs pairs, e.g. t=ts,input=prompt_len,output=gen_len\n"
    "                      (names: t id session turn parent api model input output body)\n"
    "  --time-unit U       jsonl: unit of the mapped time field: s (default), ms, us\n"
    "  --arrival A         sharegpt: poisson (default), gamma:CV or constant\n"
    "  --rate R            sharegpt: arrival rate in requests/s (default 1)\n"
    "  --seed S            sharegpt: seed for arrivals (default 0)\n"
    "  --turns first|all   sharegpt: first human turn only (default) or every turn as a session\n"
    "  --model M           model name to put in every record\n"
    "  --api KIND          api for every record (chat, completions, generate)\n"
    "  --sort              sort records by time in memory instead of failing on disorder\n"
    "  --skip-invalid      count and skip bad rows instead of stopping\n"
    "  --level N           zstd level (0 = plain; default 3 for .zst outputs)\n";

static int run_convert(int argc, char **argv)
{
    static const struct option lo[] = {
        {"from", required_argument, 0, 'f'}, {"out", required_argument, 0, 'o'},
        {"map", required_argument, 0, 'm'}, {"time-unit", required_argument, 0, 'u'},
        {"arrival", required_argument, 0, 'a'}, {"rate", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'}, {"turns", required_argument, 0, 'T'},
        {"model", required_argument, 0, 'M'}, {"api", required_argument, 0, 'A'},
        {"sort", no_argument, 0, 'S'}, {"skip-invalid", no_argument, 0, 'k'},
        {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    import_opts o;
    memset(&o, 0, sizeof o);
    o.level = -1;
    o.rate = 1;
    const char *from = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'o': o.out_path = optarg; break;
        case 'm': o.map = optarg; break;
        case 'u':
            if (strcmp(optarg, "s") && strcmp(optarg, "ms") && strcmp(optarg, "us"))
                return cli_usage_error("trace convert", U_CONVERT, "--time-unit must be s, ms or us, got '%s'", optarg);
            o.time_unit = optarg;
            break;
        case 'a': o.arrival = optarg; break;
        case 'r':
            if (parse_double(optarg, &o.rate) < 0 || o.rate <= 0)
                return cli_usage_error("trace convert", U_CONVERT, "--rate needs a positive number, got '%s'", optarg);
            break;
        case 's':
            if (parse_u64(optarg, &o.seed) < 0)
                return cli_usage_error("trace convert", U_CONVERT, "--seed needs a non-negative integer, got '%s'", optarg);
            break;
        case 'T':
            if (!strcmp(optarg, "first")) o.sharegpt_turns = 0;
            else if (!strcmp(optarg, "all")) o.sharegpt_turns = 1;
            else return cli_usage_error("trace convert", U_CONVERT, "--turns must be first or all, got '%s'", optarg);
            break;
        case 'M': o.model = optarg; break;
        case 'A': o.api = optarg; break;
        case 'S': o.sort = 1; break;
        case 'k': o.skip_invalid = 1; break;
        case 'l':
            if (cli_level("trace convert", U_CONVERT, optarg, &o.level)) return EXIT_USAGE;
            break;
        case 'h': {
            strbuf fm = {0};
            for (int i = 0; importers[i]; i++)
                sb_printf(&fm, "  %-10s %s\n", importers[i]->name, importers[i]->summary);
            char *txt = xmalloc(sizeof convert_help + fm.len);
            sprintf(txt, convert_help, fm.buf);
            cli_print_help("trace convert", U_CONVERT, txt);
            free(txt);
            sb_free(&fm);
            return EXIT_OK;
        }
        default: return cli_getopt_error("trace convert", U_CONVERT, c, argv, lo);
        }
    }
    if (!from) return cli_usage_error("trace convert", U_CONVERT, "missing --from FORMAT");
    const importer *imp = import_find(from);
    if (!imp) {
        strbuf names = {0};
        for (int i = 0; importers[i]; i++) sb_printf(&names, "%s%s", i ? ", " : "", importers[i]->name);
        int rc = cli_usage_error("trace convert", U_CONVERT, "unknown format '%s' (one of: %s)", from, names.buf);
        sb_free(&names);
        return rc;
    }
    if (optind >= argc) return cli_usage_error("trace convert", U_CONVERT, "missing input file");
    if (optind + 1 < argc) return cli_usage_error("trace convert", U_CONVERT, "unexpected argument '%s'", argv[optind + 1]);
    if (!o.out_path) return cli_usage_error("trace convert", U_CONVERT, "missing -o OUT");
    o.in_path = argv[optind];
    import_stats st;
    char err[1200];
    int rc = import_run(imp, &o, &st, err, sizeof err);
    if (st.skipped)
        msg_warn("skipped %llu invalid rows (first: %s)", (unsigned long long)st.skipped, st.first_skip);
    if (rc) return report_error(rc, err);
    if (strcmp(o.out_path, "-"))
        fprintf(stderr, "%s: %llu records written to %s\n", o.in_path,
                (unsigned long long)st.records, o.out_path);
    return EXIT_OK;
}

/* ---- inspect ---- */

static void print_dist(const char *label, const cJSON *d)
{
    double n = cJSON_GetObjectItem(d, "count")->valuedouble;
    if (n == 0) {
        printf("%-16s (none)\n", label);
        return;
    }
    printf("%-16s mean %.1f  p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", label,
           cJSON_GetObjectItem(d, "mean")->valuedouble, cJSON_GetObjectItem(d, "p50")->valuedouble,
           cJSON_GetObjectItem(d, "p90")->valuedouble, cJSON_GetObjectItem(d, "p99")->valuedouble,
           cJSON_GetObjectItem(d, "max")->valuedouble);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_counts(const char *label, const cJSON *o)
{
    printf("%-16s", label);
    int i = 0;
    for (const cJSON *c = o->child; c && i < 8; c = c->next, i++)
        printf("%s%s %.0f", i ? ", " : " ", c->string, c->valuedouble);
    if (i == 8 && cJSON_GetArraySize(o) > 8) printf(", ... (%d in all)", cJSON_GetArraySize(o));
    printf("\n");
}

static int run_inspect(int argc, char **argv)
{
    static const struct option lo[] = {
        {"json", no_argument, 0, 'j'}, {"skip-invalid", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    unsigned flags = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'k': flags |= TRACE_SKIP_INVALID; break;
        case 'h': return cli_print_help("trace inspect", U_INSPECT,
            "Prints a trace's size, duration, arrival rates, length distributions,\n"
            "sessions, share of records with bodies and prefix sharing.\n\n"
            "  --json           machine-readable output\n"
            "  --skip-invalid   skip bad records (counted) instead of stopping\n");
        default: return cli_getopt_error("trace inspect", U_INSPECT, c, argv, lo);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("trace inspect", U_INSPECT, optind >= argc ? "missing FILE" : "too many arguments");
    char err[1024];
    cJSON *res = trace_inspect(argv[optind], flags, err, sizeof err);
    if (!res) return report_error(ERR_INPUT, err);
    if (json) {
        char *s = jsonw_print(res, 1);
        printf("%s\n", s);
        cJSON_free(s);
    } else {
        const cJSON *h = cJSON_GetObjectItem(res, "header");
        const cJSON *src = cJSON_GetObjectItem(h, "source");
        const cJSON *rate = cJSON_GetObjectItem(res, "rate");
        const cJSON *s = cJSON_GetObjectItem(res, "sessions");
        printf("%-16s %s\n", "file", argv[optind]);
        printf("%-16s %s\n", "source", cJSON_IsString(src) ? src->valuestring : "?");
        printf("%-16s %.0f\n", "records", num(res, "records"));
        if (num(res, "skipped_invalid") > 0)
            printf("%-16s %.0f\n", "skipped invalid", num(res, "skipped_invalid"));
        printf("%-16s %.3f s\n", "duration", num(res, "duration_s"));
        printf("%-16s mean %.3f/s; peak %.0f/s (second %.0f), %.0f/min (minute %.0f)\n", "rate",
               num(rate, "mean_per_s"), num(rate, "peak_per_s"), num(rate, "peak_second"),
               num(rate, "peak_per_min"), num(rate, "peak_minute"));
        print_dist("input tokens", cJSON_GetObjectItem(res, "input_tokens"));
        print_dist("output tokens", cJSON_GetObjectItem(res, "output_tokens"));
        if (num(s, "count") > 0)
            printf("%-16s %.0f sessions, %.0f records, mean %.2f turns, max turn %.0f\n", "sessions",
                   num(s, "count"), num(s, "records"), num(s, "mean_turns"), num(s, "max_turn"));
        else
            printf("%-16s none\n", "sessions");
        printf("%-16s %.1f%% of records\n", "with body", 100 * num(res, "with_body_share"));
        const cJSON *p = cJSON_GetObjectItem(res, "prefix");
        if (p)
            printf("%-16s %.1f%% of %.0f hash blocks repeat an earlier block (block size %.0f)\n",
                   "prefix sharing", 100 * num(p, "sharing_ratio"), num(p, "blocks"), num(p, "block_size"));
        print_counts("apis", cJSON_GetObjectItem(res, "apis"));
        print_counts("models", cJSON_GetObjectItem(res, "models"));
    }
    cJSON_Delete(res);
    return EXIT_OK;
}

/* ---- cat ---- */

static int run_cat(int argc, char **argv)
{
    static const struct option lo[] = {
        {"no-header", no_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, no_header = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'n': no_header = 1; break;
        case 'h': return cli_print_help("trace cat", U_CAT,
            "Writes a trace as plain JSON Lines to stdout, byte for byte as stored.\n"
            "Several files are written one after the other.\n\n"
            "  --no-header   leave out each file's header line\n");
        default: return cli_getopt_error("trace cat", U_CAT, c, argv, lo);
        }
    }
    if (optind >= argc) return cli_usage_error("trace cat", U_CAT, "missing FILE");
    for (int i = optind; i < argc; i++) {
        char err[600];
        zio_reader *z = zio_reader_open(argv[i], err, sizeof err);
        if (!z) return report_error(ERR_SYSTEM, err);
        char *line;
        size_t len;
        int rc;
        uint64_t n = 0;
        while ((rc = zio_reader_getline(z, &line, &len)) > 0) {
            if (n++ == 0) {
                cJSON *h = cJSON_ParseWithLength(line, len);
                char msg[512];
                int hrc = h ? trace_header_check(h, msg, sizeof msg) : ERR_INPUT;
                if (!h) snprintf(msg, sizeof msg, "invalid JSON in the header line");
                cJSON_Delete(h);
                if (hrc) {
                    fprintf(stderr, "sagellm-bench: %s:1: %s\n", argv[i], msg);
                    zio_reader_close(z);
                    return EXIT_INPUT;
                }
                if (no_header) continue;
            }
            line[len] = '\n';
            if (fwrite(line, 1, len + 1, stdout) != len + 1) {
                msg_err("write error on stdout");
                zio_reader_close(z);
                return EXIT_SYSTEM;
            }
            line[len] = '\0';
        }
        if (rc < 0) {
            fflush(stdout);
            int ec = report_error(rc, zio_reader_error(z));
            zio_reader_close(z);
            return ec;
        }
        zio_reader_close(z);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_SYSTEM;
}

/* ---- validate ---- */

static int run_validate(int argc, char **argv)
{
    static const struct option lo[] = {
        {"max-errors", required_argument, 0, 'm'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, quiet = 0;
    int64_t max_errors = 20;
    while ((c = getopt_long(argc, argv, ":hq", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (parse_i64(optarg, &max_errors) < 0 || max_errors < 0)
                return cli_usage_error("trace validate", U_VALIDATE, "--max-errors needs a non-negative integer");
            break;
        case 'q': quiet = 1; break;
        case 'h': return cli_print_help("trace validate", U_VALIDATE,
            "Checks every line of a trace: the header, each record's fields and\n"
            "types, and arrival order. Lists the problems (file:line: field: what\n"
            "was expected) and exits 3 when there are any.\n\n"
            "  --max-errors N   list at most N problems (default 20; all are counted)\n"
            "  -q, --quiet      print nothing, only set the exit code\n");
        default: return cli_getopt_error("trace validate", U_VALIDATE, c, argv, lo);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("trace validate", U_VALIDATE, optind >= argc ? "missing FILE" : "too many arguments");
    const char *path = argv[optind];
    char err[1024];
    trace_reader *r = trace_reader_open(path, 0, err, sizeof err);
    if (!r) {
        if (!quiet) msg_err("%s", err);
        return strstr(err, "cannot open") ? EXIT_SYSTEM : EXIT_INPUT;
    }
    uint64_t bad = 0;
    trace_rec *rec;
    int rc;
    for (;;) {
        rc = trace_reader_next(r, &rec);
        if (rc == 0) break;
        if (rc > 0) continue;
        bad++;
        if (!quiet && (int64_t)bad <= max_errors) fprintf(stderr, "%s\n", trace_reader_error(r));
        if (trace_reader_fatal(r)) break;
    }
    if (!quiet) {
        if (bad)
            printf("%s: INVALID: %llu problem%s, %llu valid records%s\n", path, (unsigned long long)bad,
                   bad == 1 ? "" : "s", (unsigned long long)trace_reader_count(r),
                   trace_reader_fatal(r) ? " before a fatal error" : "");
        else
            printf("%s: OK: %llu records\n", path, (unsigned long long)trace_reader_count(r));
    }
    int fatal_sys = trace_reader_fatal(r) && strstr(trace_reader_error(r), "read error");
    trace_reader_close(r);
    return bad ? (fatal_sys ? EXIT_SYSTEM : EXIT_INPUT) : EXIT_OK;
}

/* ---- slice ---- */

typedef struct slice_state { int64_t from, to, first, base; uint64_t kept; } slice_state;

/* Keeps the window; times are rebased on --from, or with --first and no
 * --from on the first record kept (so the slice starts at 0). */
static int slice_edit(trace_rec *rec, void *ud)
{
    slice_state *st = ud;
    if (st->first >= 0 && (int64_t)st->kept >= st->first) return -1;
    if (st->from >= 0 && rec->t_us < st->from) return 0;
    if (st->to >= 0 && rec->t_us >= st->to) return -1;
    if (st->base < 0) st->base = rec->t_us;
    if (st->base) trace_rec_set_t_us(rec, rec->t_us - st->base);
    st->kept++;
    return 1;
}

static int run_slice(int argc, char **argv)
{
    static const struct option lo[] = {
        {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 't'},
        {"first", required_argument, 0, 'n'}, {"out", required_argument, 0, 'o'},
        {"level", required_argument, 0, 'l'}, {"skip-invalid", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, level = -1;
    unsigned flags = 0;
    int64_t from = -1, to = -1, first = -1;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (parse_duration_us(optarg, &from) < 0)
                return cli_usage_error("trace slice", U_SLICE, "--from needs a time such as 90s, 1.5m or 250ms, got '%s'", optarg);
            break;
        case 't':
            if (parse_duration_us(optarg, &to) < 0)
                return cli_usage_error("trace slice", U_SLICE, "--to needs a time such as 90s, 1.5m or 250ms, got '%s'", optarg);
            break;
        case 'n':
            if (parse_i64(optarg, &first) < 0 || first < 0)
                return cli_usage_error("trace slice", U_SLICE, "--first needs a non-negative integer, got '%s'", optarg);
            break;
        case 'o': out = optarg; break;
        case 'l':
            if (cli_level("trace slice", U_SLICE, optarg, &level)) return EXIT_USAGE;
            break;
        case 'k': flags |= TRACE_SKIP_INVALID; break;
        case 'h': return cli_print_help("trace slice", U_SLICE,
            "Keeps the records in a time window and/or the first N records.\n"
            "With --from, times are rebased so that the window's start is 0 (the\n"
            "wait before the first arrival in the window is kept); with --first\n"
            "alone, so that the first record kept is at 0.\n\n"
            "  --from T       window start (trace time: 90s, 1.5m, 250ms, 2h; bare = s)\n"
            "  --to T         window end, exclusive\n"
            "  --first N      at most N records (after the window)\n"
            "  -o OUT         output trace\n"
            "  --level N      zstd level, 0..22 (0 = plain; default 3 for .zst outputs)\n"
            "  --skip-invalid skip bad records (counted) instead of stopping\n");
        default: return cli_getopt_error("trace slice", U_SLICE, c, argv, lo);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("trace slice", U_SLICE, optind >= argc ? "missing FILE" : "too many arguments");
    if (from < 0 && to < 0 && first < 0)
        return cli_usage_error("trace slice", U_SLICE, "give --from/--to or --first");
    if (from >= 0 && to >= 0 && to <= from)
        return cli_usage_error("trace slice", U_SLICE, "--to must be after --from");
    if (!out) return cli_usage_error("trace slice", U_SLICE, "missing -o OUT");
    cJSON *args = cJSON_CreateObject();
    if (from >= 0) trace_add_int(args, "from_us", from);
    if (to >= 0) trace_add_int(args, "to_us", to);
    if (first >= 0) trace_add_int(args, "first", first);
    slice_state st = { from, to, first, from >= 0 ? from : first >= 0 ? -1 : 0, 0 };
    return trace_rewrite(argv[optind], flags, out, level, "slice", args, slice_edit, &st);
}

/* ---- merge ---- */

static int run_merge(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"level", required_argument, 0, 'l'},
        {"prefix-ids", no_argument, 0, 'p'}, {"skip-invalid", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, level = -1, prefix = 0;
    unsigned flags = 0;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'l':
            if (cli_level("trace merge", U_MERGE, optarg, &level)) return EXIT_USAGE;
            break;
        case 'p': prefix = 1; break;
        case 'k': flags |= TRACE_SKIP_INVALID; break;
        case 'h': return cli_print_help("trace merge", U_MERGE,
            "Interleaves traces by arrival time (ties keep the inputs' order).\n"
            "Records are copied unchanged; ids and sessions of different inputs\n"
            "may collide unless --prefix-ids is given.\n\n"
            "  -o OUT          output trace\n"
            "  --level N       zstd level, 0..22 (0 = plain; default 3 for .zst outputs)\n"
            "  --prefix-ids    prefix id, session and parent with \"N:\" (N = input index)\n");
        default: return cli_getopt_error("trace merge", U_MERGE, c, argv, lo);
        }
    }
    int n = argc - optind;
    if (n < 1) return cli_usage_error("trace merge", U_MERGE, "missing input files");
    if (!out) return cli_usage_error("trace merge", U_MERGE, "missing -o OUT");
    trace_reader **rs = xcalloc((size_t)n, sizeof *rs);
    trace_rec **cur = xcalloc((size_t)n, sizeof *cur);
    int64_t *blk = xcalloc((size_t)n, sizeof *blk);
    char err[1024];
    int ec = EXIT_OK, rc = 0, same_block = 1;
    cJSON *h = trace_header_new("merge");
    cJSON *inputs = cJSON_AddArrayToObject(h, "inputs");
    trace_writer *w = NULL;
    for (int i = 0; i < n; i++) {
        rs[i] = trace_reader_open(argv[optind + i], flags, err, sizeof err);
        if (!rs[i]) {
            ec = report_error(ERR_INPUT, err);
            goto done;
        }
        cJSON *in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "file", argv[optind + i]);
        cJSON_AddItemToObject(in, "header", cJSON_Duplicate(trace_reader_header(rs[i]), 1));
        cJSON_AddItemToArray(inputs, in);
        const cJSON *b = cJSON_GetObjectItem(trace_reader_header(rs[i]), "block_size");
        blk[i] = cJSON_IsNumber(b) ? (int64_t)b->valuedouble : 0;
        if (blk[i] != blk[0]) same_block = 0;
    }
    if (same_block && blk[0]) trace_add_int(h, "block_size", blk[0]);
    w = trace_writer_open(out, h, level, err, sizeof err);
    if (!w) {
        ec = report_error(ERR_SYSTEM, err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        rc = trace_reader_next(rs[i], &cur[i]);
        if (rc < 0) { ec = report_error(rc, trace_reader_error(rs[i])); goto done; }
        if (rc == 0) cur[i] = NULL;
    }
    for (;;) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (cur[i] && (best < 0 || cur[i]->t_us < cur[best]->t_us)) best = i;
        if (best < 0) break;
        trace_rec *rec = cur[best];
        if (!same_block && rec->hash_ids && !cJSON_GetObjectItem(rec->json, "block_size"))
            trace_add_int(rec->json, "block_size", rec->block_size);
        if (prefix) {
            static const char *const keys[] = { "id", "session", "parent" };
            for (int k = 0; k < 3; k++) {
                cJSON *v = cJSON_GetObjectItemCaseSensitive(rec->json, keys[k]);
                if (!v || cJSON_IsNull(v)) continue;
                char buf[600];
                if (cJSON_IsString(v)) snprintf(buf, sizeof buf, "%d:%.580s", best, v->valuestring);
                else snprintf(buf, sizeof buf, "%d:%.0f", best, v->valuedouble);
                cJSON_ReplaceItemInObjectCaseSensitive(rec->json, keys[k], cJSON_CreateString(buf));
            }
        }
        if ((rc = trace_writer_put_rec(w, rec)) < 0) { ec = report_error(rc, trace_writer_error(w)); goto done; }
        rc = trace_reader_next(rs[best], &cur[best]);
        if (rc < 0) { ec = report_error(rc, trace_reader_error(rs[best])); goto done; }
        if (rc == 0) cur[best] = NULL;
    }
done:
    for (int i = 0; i < n; i++) {
        if (rs[i]) report_skips(rs[i]);
        trace_reader_close(rs[i]);
    }
    free(rs);
    free(cur);
    free(blk);
    cJSON_Delete(h);
    if (ec != EXIT_OK) {
        trace_writer_abort(w);
        return ec;
    }
    return close_out(w);
}

/* ---- scale ---- */

static int scale_edit(trace_rec *rec, void *ud)
{
    double speed = *(const double *)ud;
    trace_rec_set_t_us(rec, (int64_t)((double)rec->t_us / speed + 0.5));
    if (rec->think_us >= 0) {
        cJSON *t = cJSON_GetObjectItem(rec->json, "think_us");
        cJSON_SetNumberValue(t, (double)(int64_t)((double)rec->think_us / speed + 0.5));
    }
    return 1;
}

static int run_scale(int argc, char **argv)
{
    static const struct option lo[] = {
        {"speed", required_argument, 0, 's'}, {"rate", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'}, {"level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, level = -1;
    double speed = 0, rate = 0;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_double(optarg, &speed) < 0 || speed <= 0)
                return cli_usage_error("trace scale", U_SCALE, "--speed needs a positive number, got '%s'", optarg);
            break;
        case 'r':
            if (parse_double(optarg, &rate) < 0 || rate <= 0)
                return cli_usage_error("trace scale", U_SCALE, "--rate needs a positive number, got '%s'", optarg);
            break;
        case 'o': out = optarg; break;
        case 'l':
            if (cli_level("trace scale", U_SCALE, optarg, &level)) return EXIT_USAGE;
            break;
        case 'h': return cli_print_help("trace scale", U_SCALE,
            "Compresses or stretches time: t_us and think_us are divided by the\n"
            "speed factor (the original server timings under \"orig\" are kept).\n\n"
            "  --speed X   X > 1 sends faster (2 = twice the rate)\n"
            "  --rate R    choose the factor so the mean rate becomes R requests/s\n"
            "              (reads the file twice, so not from stdin)\n"
            "  -o OUT      output trace\n"
            "  --level N   zstd level, 0..22 (0 = plain; default 3 for .zst outputs)\n");
        default: return cli_getopt_error("trace scale", U_SCALE, c, argv, lo);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("trace scale", U_SCALE, optind >= argc ? "missing FILE" : "too many arguments");
    if ((speed > 0) == (rate > 0)) return cli_usage_error("trace scale", U_SCALE, "give exactly one of --speed or --rate");
    if (!out) return cli_usage_error("trace scale", U_SCALE, "missing -o OUT");
    const char *path = argv[optind];
    char err[1024];
    if (rate > 0) {
        if (!strcmp(path, "-"))
            return cli_usage_error("trace scale", U_SCALE, "--rate reads the input twice: give a file, not -");
        cJSON *st = trace_inspect(path, 0, err, sizeof err);
        if (!st) return report_error(ERR_INPUT, err);
        double cur = num(cJSON_GetObjectItem(st, "rate"), "mean_per_s");
        cJSON_Delete(st);
        if (cur <= 0) {
            msg_err("%s: the trace spans no time, so it has no rate to scale", path);
            return EXIT_INPUT;
        }
        speed = rate / cur;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "speed", speed);
    if (rate > 0) cJSON_AddNumberToObject(args, "rate", rate);
    return trace_rewrite(path, 0, out, level, "scale", args, scale_edit, &speed);
}

/* ---- sort ---- */

/* By time, then by line: records with equal times keep their order. */
static int cmp_rec(const void *pa, const void *pb)
{
    const trace_rec *a = pa, *b = pb;
    if (a->t_us != b->t_us) return a->t_us < b->t_us ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

/* Reads every record of r (in any order) into *out; returns the count, or
 * -1 after reporting a read error (exit code in *ec). */
static ssize_t read_all(trace_reader *r, trace_rec **out, int *ec)
{
    size_t n = 0, cap = 0;
    trace_rec *v = NULL, *rec;
    int rc;
    while ((rc = trace_reader_next(r, &rec)) > 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = xrealloc(v, cap * sizeof *v);
        }
        memset(&v[n], 0, sizeof v[n]);
        trace_rec_move(&v[n++], rec);
    }
    if (rc < 0) {
        *ec = report_error(rc, trace_reader_error(r));
        for (size_t i = 0; i < n; i++) trace_rec_clear(&v[i]);
        free(v);
        return -1;
    }
    *out = v;
    return (ssize_t)n;
}

static int run_sort(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", required_argument, 0, 'o'}, {"level", required_argument, 0, 'l'},
        {"skip-invalid", no_argument, 0, 'k'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, level = -1, ec = EXIT_OK;
    unsigned flags = TRACE_NO_ORDER_CHECK;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'l':
            if (cli_level("trace sort", U_SORT, optarg, &level)) return EXIT_USAGE;
            break;
        case 'k': flags |= TRACE_SKIP_INVALID; break;
        case 'h': return cli_print_help("trace sort", U_SORT,
            "Sorts a trace's records by arrival time (records with equal times keep\n"
            "their order). Holds the whole trace in memory.\n\n"
            "  -o OUT          output trace\n"
            "  --level N       zstd level, 0..22 (0 = plain; default 3 for .zst outputs)\n"
            "  --skip-invalid  skip bad records (counted) instead of stopping\n");
        default: return cli_getopt_error("trace sort", U_SORT, c, argv, lo);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("trace sort", U_SORT, optind >= argc ? "missing FILE" : "too many arguments");
    if (!out) return cli_usage_error("trace sort", U_SORT, "missing -o OUT");
    char err[1024];
    trace_reader *r = trace_reader_open(argv[optind], flags, err, sizeof err);
    if (!r) return report_error(strstr(err, "cannot open") ? ERR_SYSTEM : ERR_INPUT, err);
    trace_rec *v = NULL;
    ssize_t n = read_all(r, &v, &ec);
    trace_writer *w = n < 0 ? NULL : open_out(out, trace_reader_header(r), level, "sort", NULL, &ec);
    report_skips(r);
    trace_reader_close(r);
    if (n > 0) qsort(v, (size_t)n, sizeof *v, cmp_rec);
    for (ssize_t i = 0; w && i < n && ec == EXIT_OK; i++) {
        int rc = trace_writer_put_rec(w, &v[i]);
        if (rc < 0) ec = report_error(rc, trace_writer_error(w));
    }
    for (ssize_t i = 0; i < n; i++) trace_rec_clear(&v[i]);
    free(v);
    if (!w) return ec;
    if (ec != EXIT_OK) {
        trace_writer_abort(w);
        return ec;
    }
    return close_out(w);
}

static const sub subs[] = {
    {"convert", U_CONVERT, "import a public trace format", run_convert},
    {"inspect", U_INSPECT, "statistics of a trace", run_inspect},
    {"cat", U_CAT, "write a trace as plain JSON Lines", run_cat},
    {"validate", U_VALIDATE, "check every record of a trace", run_validate},
    {"slice", U_SLICE, "keep a time window or the first N records", run_slice},
    {"merge", U_MERGE, "interleave traces by time", run_merge},
    {"scale", U_SCALE, "speed a trace up or slow it down", run_scale},
    {"sort", U_SORT, "sort a trace's records by arrival time", run_sort},
    {"synth", "sagellm-bench trace synth -o OUT --duration D --rate R [--arrival A] --input DIST --output DIST [options]", "synthesise a trace", trace_cmd_synth},
    {"materialize", "sagellm-bench trace materialize FILE -o OUT [options]", "give length-only records request bodies", trace_cmd_materialize},
    {"sessionize", "sagellm-bench trace sessionize FILE -o OUT [options]", "infer sessions from chat message prefixes or a key", trace_cmd_sessionize},
    {"split", "sagellm-bench trace split FILE --shards N -o OUT", "one trace per replay shard", trace_cmd_split},
};

static int print_trace_help(void)
{
    printf("usage: %s\n\nsubcommands:\n", trace_usage);
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        printf("  %-12s %s\n", subs[i].name, subs[i].summary);
    printf("\nRun 'sagellm-bench trace SUBCOMMAND --help' for its options.\n");
    return EXIT_OK;
}

static int run_trace(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "sagellm-bench trace: missing subcommand\nusage: %s\n", trace_usage);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) return print_trace_help();
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (!strcmp(subs[i].name, argv[1])) {
            optind = 1;
            return subs[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "sagellm-bench trace: unknown subcommand '%s'\nusage: %s\n", argv[1], trace_usage);
    return EXIT_USAGE;
}

static const char trace_help[] =
    "subcommands: convert inspect cat validate slice merge scale sort synth materialize\n"
    "sessionize split\n"
    "Run 'sagellm-bench trace SUBCOMMAND --help' for each one's options.\n";

const cli_cmd cmd_trace = {
    "trace", "convert, inspect, slice, merge, scale and synthesise traces",
    trace_usage, trace_help, run_trace,
};
