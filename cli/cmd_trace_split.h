/* cmd_trace_split.h — `trace split`, dispatched to by cmd_trace.c. argv[0]
 * is the subcommand's name; returns the exit code (0 ok, 2 usage, 3 bad
 * input, 4 system). */
#ifndef SAGELLM_CMD_TRACE_SPLIT_H
#define SAGELLM_CMD_TRACE_SPLIT_H

/* Writes one trace per shard, each with exactly the records `replay
 * --shard K/N` would send from the whole trace (traces/shard.h). */
int trace_cmd_split(int argc, char **argv);

#endif
