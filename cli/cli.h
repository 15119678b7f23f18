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
                     cmd_report, cmd_compare, cmd_sweep;

/* Prints "sagellm-bench CMD: MESSAGE" and "usage: ..." to stderr and
 * returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
/* --level N of the commands that write a trace: 0 with *level set when
 * arg is an integer 0..22 (zstd's levels; 0 = plain), else the usage
 * error's exit code (EXIT_USAGE) after its message. */
int cli_level(const char *cmd, const char *usage, const char *arg, int *level);
/* Prints full help for a command to stdout and returns EXIT_OK. */
int cli_print_help(const char *cmd, const char *usage, const char *help);
/* Describes a getopt_long failure ('?' or ':') as a usage error. */
int cli_getopt_error(const char *cmd, const char *usage, int c, char **argv,
                     const struct option *longopts);

/* The HTTP connection options every command that talks to a server takes
 * (replay, capture --proxy): --cacert, --capath, --insecure, --cert, --key,
 * --http2. CLI_HTTP_LONGOPTS(base) expands to their getopt_long entries with
 * codes base .. base+5; cli_http_opt() handles one of them. */
#define CLI_HTTP_LONGOPTS(base) \
    {"cacert", required_argument, 0, (base)}, {"capath", required_argument, 0, (base) + 1}, \
    {"insecure", no_argument, 0, (base) + 2}, {"cert", required_argument, 0, (base) + 3}, \
    {"key", required_argument, 0, (base) + 4}, {"http2", no_argument, 0, (base) + 5}
#define CLI_HTTP_NOPTS 6
#define CLI_HTTP_HELP \
    "  --cacert FILE         trust the CA certificates in FILE (PEM); default: $CURL_CA_BUNDLE,\n" \
    "                        $SSL_CERT_FILE, else the system store\n" \
    "  --capath DIR          trust the CA directory DIR (default: $SSL_CERT_DIR)\n" \
    "  --insecure            do not verify the server's certificate (noted in run.json)\n" \
    "  --cert FILE --key FILE  client certificate and key for mutual TLS (PEM)\n" \
    "  --http2               HTTP/2: h2 over TLS (ALPN), h2c with prior knowledge on http://\n"
struct http_opts;
/* Applies option code (base .. base+5) with arg to h. Returns 1 when code
 * was one of them, 0 otherwise. */
int cli_http_opt(int code, int base, const char *arg, struct http_opts *h);

#endif
