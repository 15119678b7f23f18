/* cmd_trace_sessionize.h — `trace sessionize`, dispatched to by
 * cmd_trace.c. argv[0] is the subcommand's name; the return value is the
 * exit code (0 ok, 2 usage, 3 bad input, 4 system). */
#ifndef SAGELLM_CMD_TRACE_SESSIONIZE_H
#define SAGELLM_CMD_TRACE_SESSIONIZE_H

/* Copies a trace with session, turn, parent and think_us inferred
 * (traces/sessionize.h). */
int trace_cmd_sessionize(int argc, char **argv);

#endif
