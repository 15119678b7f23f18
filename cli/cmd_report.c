/* cmd_report.c — `sagellm-bench report`: the summary of a run recomputed
 * from its per-request log (the numbers of its summary.json), SLO goodput,
 * errors by class, the send-lag verdict, per-group tables and a time
 * series, as text, JSON, Markdown or CSV (analysis/report.h). */
#include "cli/cli.h"
#include "common/jsonw.h"
#include "analysis/report.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_REPORT "sagellm-bench report RUN_DIR|requests.jsonl|SHARD_RUN... [--allow-partial] [--slo ttft=200ms,tpot=50ms,e2el=5s] " \
                 "[--format table|json|md|csv] [--by model|api|session|minute] [--exclude-warmup[=N|T]] [--exact|--histogram]"

static const char report_help[] =
    "Recomputes a run's summary from its per-request log (requests.jsonl, plain or zstd) with\n"
    "the code that wrote its summary.json, so the numbers agree to the last digit, and adds SLO\n"
    "goodput, errors by class, a verdict on the client's send lag, tables per group and a time\n"
    "series. run.json beside the log supplies the trace rate, not_sent and the run's own --slo.\n"
    "A sharded replay's directory (DIR/shard-K-of-N/...), or its shards' run directories, is\n"
    "reported as one run: the logs merged, the start skew between the shards stated.\n\n"
    "options:\n"
    "  --slo LIST            SLOs for goodput, e.g. ttft=200ms,tpot=50ms,e2el=5s (default: the\n"
    "                        run's own --slo from run.json, if any; --slo none for no SLO)\n"
    "  --format F            table (default), json (summary.json's keys plus the report's), md, csv\n"
    "  --by KEY              a table per model, api, session or minute (of the send time)\n"
    "  --max-groups N        groups kept apart before the rest are pooled as \"(other)\" (default 1000)\n"
    "  --exclude-warmup[=X]  requests marked warm-up are always left out (as in summary.json);\n"
    "                        =N also leaves out trace indices below N, =T (with a unit, e.g. 30s)\n"
    "                        the requests scheduled in the run's first T\n"
    "  --interval T          time-series interval (default: a round value giving <= 60 rows)\n"
    "  --series              with --format csv: print the time series instead of the summary rows\n"
    "  --late T              send-lag p99 above which the client counts as late (default 1ms)\n"
    "  --allow-partial       merge the shards there are when some are missing or unfinished\n"
    "                        (named on stderr and in source.shards_missing)\n"
    "  --exact               keep every latency value for exact percentiles, however long the run\n"
    "                        (default: exact up to 4M values, then histograms within 0.049%;\n"
    "                        \"percentiles\" in the output says which)\n"
    "  --histogram           histograms from the start, whatever the run's size\n\n"
    "exit status: 0 ok, 2 usage, 3 malformed log or run.json (file:line: field), 4 unreadable file.\n";

static int run_report(int argc, char **argv)
{
    static const struct option lo[] = {
        {"slo", required_argument, 0, 's'}, {"format", required_argument, 0, 'f'},
        {"by", required_argument, 0, 'b'}, {"max-groups", required_argument, 0, 'G'},
        {"exclude-warmup", optional_argument, 0, 'w'}, {"interval", required_argument, 0, 'i'},
        {"series", no_argument, 0, 'S'}, {"late", required_argument, 0, 'l'}, {"exact", no_argument, 0, 'x'},
        {"histogram", no_argument, 0, 'H'}, {"allow-partial", no_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    runlog_opts ro;
    memset(&ro, 0, sizeof ro);
    report_opts rp = { 0, 0 };
    const char *format = "table";
    int series = 0, c;
    char err[1024];
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            ro.slo_given = 1;
            if (strcmp(optarg, "none") && runlog_parse_slo(optarg, &ro.sum, err, sizeof err))
                return cli_usage_error("report", U_REPORT, "%s", err);
            break;
        case 'f':
            if (strcmp(optarg, "table") && strcmp(optarg, "json") && strcmp(optarg, "md") && strcmp(optarg, "csv"))
                return cli_usage_error("report", U_REPORT, "--format must be table, json, md or csv, got '%s'", optarg);
            format = optarg;
            break;
        case 'b':
            if (groups_parse_by(optarg, &ro.by) < 0)
                return cli_usage_error("report", U_REPORT, "--by must be model, api, session or minute, got '%s'", optarg);
            break;
        case 'G': {
            int64_t n;
            if (parse_i64(optarg, &n) < 0 || n < 1 || n > 1000000)
                return cli_usage_error("report", U_REPORT, "--max-groups needs 1..1000000, got '%s'", optarg);
            ro.max_groups = (size_t)n;
            break;
        }
        case 'w':
            if (optarg && runlog_parse_exclusion(optarg, &ro) < 0)
                return cli_usage_error("report", U_REPORT, "--exclude-warmup=X: X is a request count or a time "
                                       "such as 30s, got '%s'", optarg);
            break;
        case 'i': {
            int64_t us;
            if (parse_duration_us(optarg, &us) < 0 || us < 1000)
                return cli_usage_error("report", U_REPORT, "--interval needs a time of at least 1ms, got '%s'", optarg);
            rp.interval_ns = us * 1000;
            break;
        }
        case 'S': series = 1; break;
        case 'P': ro.allow_partial = 1; break;
        case 'x': ro.sum.exact = -1; break;
        case 'H': ro.sum.exact = 1; break;
        case 'l': {
            int64_t us;
            if (parse_duration_us(optarg, &us) < 0 || us <= 0)
                return cli_usage_error("report", U_REPORT, "--late needs a positive time, got '%s'", optarg);
            rp.late_us = (double)us;
            break;
        }
        case 'h': return cli_print_help("report", U_REPORT, report_help);
        default: return cli_getopt_error("report", U_REPORT, c, argv, lo);
        }
    }
    if (optind >= argc) return cli_usage_error("report", U_REPORT, "missing RUN_DIR or requests.jsonl");

    if (series && strcmp(format, "csv"))
        return cli_usage_error("report", U_REPORT, "--series goes with --format csv");
    int rc;
    runlog *r = runlog_open_many((const char *const *)argv + optind, argc - optind, &ro, &rc, err, sizeof err);
    if (!r) {
        msg_err("%s", err);
        return err_to_exit(rc);
    }
    cJSON *rep = report_json(r, &rp);
    if (!strcmp(format, "json")) {
        char *s = jsonw_print(rep, 1);
        printf("%s\n", s);
        cJSON_free(s);
    } else if (!strcmp(format, "csv")) {
        report_print_csv(rep, series, stdout);
    } else {
        report_print(rep, !strcmp(format, "md") ? TABLE_MD : TABLE_TEXT, stdout);
    }
    cJSON_Delete(rep);
    runlog_free(r);
    if (fflush(stdout) != 0) {
        msg_err("cannot write the report to stdout");
        return EXIT_SYSTEM;
    }
    return EXIT_OK;
}

const cli_cmd cmd_report = {
    "report", "summarise a run: its summary, SLO goodput, errors, send lag, groups, time series",
    U_REPORT, report_help, run_report,
};
