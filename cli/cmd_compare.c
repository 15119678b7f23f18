/* cmd_compare.c — `sagellm-bench compare`: two or more runs of the same
 * trace side by side, with seeded bootstrap intervals for the differences,
 * requests paired by trace index, warnings when the runs are not
 * comparable, and the original system's timings beside the replay's for
 * captured traces (analysis/compare.h). */
#include "cli/cli.h"
#include "cli/compare_sweeps.h"
#include "common/jsonw.h"
#include "analysis/compare.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_COMPARE "sagellm-bench compare RUN_A RUN_B [...] [--slo LIST] [--format table|json|md|csv] " \
                  "[--seed S] [--resamples R] [--orig [--trace FILE]]"

static const char compare_help[] =
    "Sets runs of the same trace side by side; RUN_A is the baseline. Each RUN is a run\n"
    "directory or its requests.jsonl. For each figure of the summary: every run's value, the\n"
    "difference and ratio to A. For the median and p99 of TTFT, TPOT and E2EL: the difference\n"
    "with a seeded bootstrap interval and a verdict (slower/faster only when the interval\n"
    "excludes 0 and the difference is at least --min-effect). Requests are paired by trace\n"
    "index (share faster/slower). Warns when the runs did not replay the same trace (run.json's\n"
    "trace_digest) or replayed it differently, when a client was late, when requests failed.\n"
    "When the trace's records hold the original server's timings (orig.ttft_us, orig.e2e_us),\n"
    "the original TTFT and E2E are set beside each run's; with one RUN, only that table.\n"
    "Two sweep directories (sagellm-bench sweep --out DIR): the capacity of each, their ratio\n"
    "with its range from the bracketing points, and the points side by side.\n\n"
    "options:\n"
    "  --slo LIST            SLOs for goodput (default: each run's own --slo; none for none)\n"
    "  --format F            table (default), json, md, csv (the side-by-side table)\n"
    "  --seed S              bootstrap seed (default 1); the same seed gives the same intervals\n"
    "  --resamples R         bootstrap resamples (default 1000)\n"
    "  --level L             interval level (default 0.95)\n"
    "  --min-effect PCT      smallest relative difference called slower/faster (default 5%)\n"
    "  --orig                require the original-vs-replay table (exit 3 when the trace has none)\n"
    "  --trace FILE          the replayed trace, when run.json's path does not lead to it\n"
    "  --exclude-warmup[=X]  as for report: =N trace indices below N, =T the first T of each run\n"
    "  --late T              send-lag p99 above which a client counts as late (default 1ms)\n\n"
    "exit status: 0 ok, 2 usage, 3 malformed log, run.json or trace, 4 unreadable file.\n";

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cli_usage_error("compare", U_COMPARE, "%s", msg);
}

/* Prints the comparison of doc as format asks. EXIT_OK, or EXIT_SYSTEM
 * when stdout cannot be written. */
static int print_comparison(cJSON *doc, const char *format)
{
    if (!strcmp(format, "json")) {
        char *s = jsonw_print(doc, 1);
        printf("%s\n", s);
        cJSON_free(s);
    } else if (!strcmp(format, "csv")) {
        compare_print_csv(doc, stdout);
    } else {
        compare_print(doc, !strcmp(format, "md") ? TABLE_MD : TABLE_TEXT, stdout);
    }
    if (fflush(stdout) != 0) {
        msg_err("cannot write the comparison to stdout");
        return EXIT_SYSTEM;
    }
    return EXIT_OK;
}

/* Loads the n runs (a sharded replay's directory is one run) and compares
 * them. Returns the exit code. */
static int compare_runs(int n, char **paths, const runlog_opts *ro, const compare_opts *co,
                        const char *format)
{
    runlog *runs[COMPARE_MAX_RUNS] = { 0 };
    char err[1024];
    int rc = 0, exitc = EXIT_OK;
    for (int i = 0; i < n && exitc == EXIT_OK; i++) {
        runs[i] = runlog_open(paths[i], ro, &rc, err, sizeof err);
        if (!runs[i]) {
            msg_err("%s", err);
            exitc = err_to_exit(rc);
        }
    }
    if (exitc == EXIT_OK) {
        cJSON *doc = compare_json(runs, (size_t)n, co, &rc, err, sizeof err);
        if (!doc && rc == ERR_USAGE) {
            exitc = cli_usage_error("compare", U_COMPARE, "%s", err);
        } else if (!doc) {
            msg_err("%s", err);
            exitc = err_to_exit(rc);
        } else {
            exitc = print_comparison(doc, format);
            cJSON_Delete(doc);
        }
    }
    for (int i = 0; i < n; i++) runlog_free(runs[i]);
    return exitc;
}

static int run_compare(int argc, char **argv)
{
    static const struct option lo[] = {
        {"slo", required_argument, 0, 's'}, {"format", required_argument, 0, 'f'},
        {"seed", required_argument, 0, 'S'}, {"resamples", required_argument, 0, 'R'},
        {"level", required_argument, 0, 'L'}, {"min-effect", required_argument, 0, 'm'},
        {"orig", no_argument, 0, 'o'}, {"trace", required_argument, 0, 't'},
        {"exclude-warmup", optional_argument, 0, 'w'}, {"late", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    runlog_opts ro;
    memset(&ro, 0, sizeof ro);
    compare_opts co;
    memset(&co, 0, sizeof co);
    co.boot.seed = BOOTSTRAP_DEFAULT_SEED;
    co.boot.resamples = BOOTSTRAP_DEFAULT_RESAMPLES;
    co.boot.level = 0.95;
    const char *format = "table";
    char err[1024];
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            ro.slo_given = 1;
            if (strcmp(optarg, "none") && runlog_parse_slo(optarg, &ro.sum, err, sizeof err))
                return cli_usage_error("compare", U_COMPARE, "%s", err);
            break;
        case 'f':
            if (strcmp(optarg, "table") && strcmp(optarg, "json") && strcmp(optarg, "md") && strcmp(optarg, "csv"))
                return usage_error("--format must be table, json, md or csv, got '%s'", optarg);
            format = optarg;
            break;
        case 'S':
            if (parse_u64(optarg, &co.boot.seed) < 0) return usage_error("--seed needs a non-negative integer, got '%s'", optarg);
            break;
        case 'R': {
            int64_t n;
            if (parse_i64(optarg, &n) < 0 || n < 2 || n > 1000000)
                return usage_error("--resamples needs 2..1000000, got '%s'", optarg);
            co.boot.resamples = (int)n;
            break;
        }
        case 'L':
            if (parse_double(optarg, &co.boot.level) < 0 || !(co.boot.level > 0 && co.boot.level < 1))
                return usage_error("--level needs a number between 0 and 1, got '%s'", optarg);
            break;
        case 'm': {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", optarg);
            size_t n = strlen(buf);
            if (n && buf[n - 1] == '%') buf[n - 1] = '\0';
            double pct;
            if (parse_double(buf, &pct) < 0 || pct <= 0 || pct >= 1000)
                return usage_error("--min-effect needs a percentage such as 5 or 5%%, got '%s'", optarg);
            co.min_effect = pct / 100.0;
            break;
        }
        case 'o': co.orig = 1; break;
        case 't': co.trace_path = optarg; break;
        case 'w':
            if (optarg && runlog_parse_exclusion(optarg, &ro) < 0)
                return usage_error("--exclude-warmup=X: X is a request count or a time such as 30s, got '%s'", optarg);
            break;
        case 'l': {
            int64_t us;
            if (parse_duration_us(optarg, &us) < 0 || us <= 0) return usage_error("--late needs a positive time, got '%s'", optarg);
            co.late_us = (double)us;
            break;
        }
        case 'h': return cli_print_help("compare", U_COMPARE, compare_help);
        default: return cli_getopt_error("compare", U_COMPARE, c, argv, lo);
        }
    }
    int n = argc - optind;
    if (n < 1) return cli_usage_error("compare", U_COMPARE, "missing runs to compare");
    if (n > COMPARE_MAX_RUNS) return cli_usage_error("compare", U_COMPARE, "at most %d runs", COMPARE_MAX_RUNS);
    if (compare_is_sweep(argv[optind])) return compare_sweeps(n, argv + optind, format);
    return compare_runs(n, argv + optind, &ro, &co, format);
}

const cli_cmd cmd_compare = {
    "compare", "compare runs of one trace, with bootstrap intervals; original vs replay",
    U_COMPARE, compare_help, run_compare,
};
