/* compare_sweeps.c — `compare SWEEP_A SWEEP_B` (compare_sweeps.h). */
#include "cli/compare_sweeps.h"
#include "cli/cli.h"
#include "analysis/sweep.h"
#include "common/jsonw.h"

#include <stdio.h>
#include <string.h>

int compare_is_sweep(const char *path)
{
    return sweep_is_sweep(path);
}

int compare_sweeps(int n, char **paths, const char *format)
{
    if (n != 2)
        return cli_usage_error("compare", "sagellm-bench compare SWEEP_A SWEEP_B [--format table|json]",
                               "sweeps are compared two at a time, got %d", n);
    char err[1024];
    int rc = 0, exitc = EXIT_OK;
    cJSON *a = sweep_load(paths[0], &rc, err, sizeof err), *b = NULL;
    if (a) b = sweep_load(paths[1], &rc, err, sizeof err);
    if (!a || !b) {
        msg_err("%s%s", err, a && !sweep_is_sweep(paths[1]) ? " (compare a sweep with a sweep)" : "");
        cJSON_Delete(a);
        return err_to_exit(rc);
    }
    cJSON *doc = sweep_compare_json(a, paths[0], b, paths[1]);
    if (!strcmp(format, "json")) {
        char *s = jsonw_print(doc, 1);
        printf("%s\n", s);
        cJSON_free(s);
    } else {
        sweep_compare_print(doc, stdout);
    }
    if (fflush(stdout) != 0) {
        msg_err("cannot write the comparison to stdout");
        exitc = EXIT_SYSTEM;
    }
    cJSON_Delete(doc);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return exitc;
}
