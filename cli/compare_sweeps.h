/* compare_sweeps.h — `compare SWEEP_A SWEEP_B`: the capacity of two sweeps
 * (directories with sweep.json) and their ratio, the points side by side
 * (analysis/sweep.h). cmd_compare.c hands over when its first argument is
 * a sweep. */
#ifndef SAGELLM_COMPARE_SWEEPS_H
#define SAGELLM_COMPARE_SWEEPS_H

/* 1 when path is a sweep directory or its sweep.json. */
int compare_is_sweep(const char *path);

/* Compares the n sweeps at paths (exactly two) and prints the result in
 * format ("table", "json"; "md" and "csv" print the table). Returns an
 * exit code. */
int compare_sweeps(int n, char **paths, const char *format);

#endif
