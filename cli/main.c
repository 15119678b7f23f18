/* main.c — sagellm-bench entry point: dispatches to subcommands. */
#include "cli/cli.h"
#include "common/http_opts.h"
#include "common/parse.h"
#include "common/url_mask.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

static const cli_cmd *const commands[] = {
    &cmd_trace, &cmd_serve, &cmd_replay, &cmd_capture, &cmd_report, &cmd_compare, &cmd_sweep,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char main_usage[] =
    "sagellm-bench [--version] [--help] COMMAND [ARGS]";

static void print_main_help(FILE *f)
{
    fprintf(f, "usage: %s\n\n"
            "Trace-replay benchmark engine for LLM serving.\n\ncommands:\n", main_usage);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-9s %s\n", "help", "show help for a command (help CMD)");
    fprintf(f, "\nRun 'sagellm-bench help COMMAND' or 'sagellm-bench COMMAND --help' "
               "for a command's options.\n");
}

static const cli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i]->name, name)) return commands[i];
    return NULL;
}

/* A command that succeeded but whose standard output could not be written
 * (a full disk, a closed pipe when SIGPIPE is ignored) did not succeed:
 * says so and returns EXIT_SYSTEM. A command that failed has said why. */
static int stdout_checked(int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return rc;
    if (rc != EXIT_OK) return rc;
    fprintf(stderr, "sagellm-bench: standard output: write error%s%s\n", errno ? ": " : "",
            errno ? strerror(errno) : "");
    return EXIT_SYSTEM;
}

int cli_level(const char *cmd, const char *usage, const char *arg, int *level)
{
    int64_t v;
    if (parse_i64(arg, &v) < 0 || v < 0 || v > 22)
        return cli_usage_error(cmd, usage, "--level needs 0..22, got '%s'", arg);
    *level = (int)v;
    return 0;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *safe = url_mask(msg);   /* a URL echoed back shows no password or query value */
    fprintf(stderr, "sagellm-bench %s: %s\nusage: %s\n", cmd, safe, usage);
    free(safe);
    return EXIT_USAGE;
}

int cli_print_help(const char *cmd, const char *usage, const char *help)
{
    printf("usage: %s\n", usage);
    if (help && *help) printf("\n%s", help);
    return EXIT_OK;
}

int cli_getopt_error(const char *cmd, const char *usage, int c, char **argv,
                     const struct option *longopts)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return cli_usage_error(cmd, usage, "option '%s' needs a value", arg);
    if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        return cli_usage_error(cmd, usage, "unknown option '-%c'", optopt);
    return cli_usage_error(cmd, usage, "unknown option '%s'", arg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "sagellm-bench: missing command\nusage: %s\n", main_usage);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "-V") || !strcmp(name, "version")) {
        printf("sagellm-bench %s\n", SAGELLM_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        print_main_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            print_main_help(stdout);
            return EXIT_OK;
        }
        const cli_cmd *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "sagellm-bench: unknown command '%s'\nusage: %s\n", argv[2], main_usage);
            return EXIT_USAGE;
        }
        if (argc > 3 && !strcmp(c->name, "trace")) {
            /* help trace SUB → trace SUB --help */
            char *av[] = { argv[2], argv[3], (char *)"--help", NULL };
            return c->run(3, av);
        }
        return cli_print_help(c->name, c->usage, c->help);
    }
    const cli_cmd *c = find_command(name);
    if (!c) {
        fprintf(stderr, "sagellm-bench: unknown command '%s'\nusage: %s\n", name, main_usage);
        return EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "sagellm-bench: curl_global_init failed\n");
        return EXIT_SYSTEM;
    }
    optind = 1;
    opterr = 0;
    int rc = c->run(argc - 1, argv + 1);
    curl_global_cleanup();
    return stdout_checked(rc);
}

int cli_http_opt(int code, int base, const char *arg, struct http_opts *h)
{
    switch (code - base) {
    case 0: h->cacert = arg; h->cacert_from = "--cacert"; return 1;
    case 1: h->capath = arg; h->capath_from = "--capath"; return 1;
    case 2: h->insecure = 1; return 1;
    case 3: h->cert = arg; return 1;
    case 4: h->key = arg; return 1;
    case 5: h->http2 = 1; return 1;
    default: return 0;
    }
}
