/* cmd_pending.c — commands whose implementation lands in a later release.
 * They parse --help like every command and otherwise say plainly that the
 * command is not available yet (exit 2), never pretending to run. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static int pending(const char *name, const char *usage, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cli_print_help(name, usage, "This command is not implemented in this version yet.\n");
    fprintf(stderr, "sagellm-bench %s: not implemented in version %s yet\n", name, SAGELLM_VERSION);
    return EXIT_USAGE;
}

#define PENDING(var, nm, sum, use)                                         \
    static int run_##var(int argc, char **argv) { return pending(nm, use, argc, argv); } \
    const cli_cmd var = { nm, sum, use, "", run_##var };

