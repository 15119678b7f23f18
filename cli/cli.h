/* cli.h — the command-line layer: the only code that prints usage, maps
 * errors to exit codes and knows every module. One file per command. */
#ifndef SAGELLM_CLI_H
#define SAGELLM_CLI_H

#include <getopt.h>
#include "common/util.h"

typedef struct cli_cmd {
    const char *name;
    const char *summary;     /* one line for `help` */
    const char *usage;       /* the usage line(s), without "usage: " */
    const char *help;        /* full option text for `CMD --help` */
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} cli_cmd;

extern const cli_cmd cmd_trace, cmd_serve, cmd_replay, cmd_capture,
                     cmd_report, cmd_compare;

/* Prints "sagellm-bench CMD: MESSAGE" and "usage: ..." to stderr and
 * returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
/* Prints full help for a command to stdout and returns EXIT_OK. */
int cli_print_help(const char *cmd, const char *usage, const char *help);
/* Describes a getopt_long failure ('?' or ':') as a usage error. */
int cli_getopt_error(const char *cmd, const char *usage, int c, char **argv,
                     const struct option *longopts);

#endif
