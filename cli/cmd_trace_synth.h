/* cmd_trace_synth.h — `trace synth` and `trace materialize`, dispatched to
 * by cmd_trace.c. argv[0] is the subcommand's name; the return value is the
 * exit code (0 ok, 2 usage, 3 bad input, 4 system). */
#ifndef SAGELLM_CMD_TRACE_SYNTH_H
#define SAGELLM_CMD_TRACE_SYNTH_H

/* Synthesises a length-only trace from distributions (traces/synth.h). */
int trace_cmd_synth(int argc, char **argv);

/* Copies a trace, giving every length-only record a synthesised request
 * body (traces/prompt.h). */
int trace_cmd_materialize(int argc, char **argv);

#endif
