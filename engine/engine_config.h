/* engine_config.h — the simulated engine's parameters: defaults, named
 * presets, setting one parameter from text (command line, JSON) and
 * describing a configuration as JSON. docs/server.md ("Engine model")
 * explains each parameter.
 *
 * An engine_config is plain data: copy it freely; it owns no memory. */
#ifndef SAGELLM_ENGINE_CONFIG_H
#define SAGELLM_ENGINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct engine_config {
    char preset[32];              /* name of the preset it started from */
    int64_t max_batch;            /* running sequences at most (vLLM max_num_seqs) */
    int64_t kv_tokens;            /* KV-cache capacity in tokens */
    int64_t max_batched_tokens;   /* prefill tokens per step (chunked prefill); 0 = no limit */
    int64_t max_model_len;        /* prompt + output tokens at most per request */
    int64_t step_fixed_ns;        /* cost of every step */
    int64_t step_per_seq_ns;      /* cost per running sequence in a step */
    int64_t prefill_token_ns;     /* cost per uncached prompt token prefilled */
    int64_t block_tokens;         /* prefix-cache block size in tokens */
    int64_t cache_blocks;         /* prefix-cache capacity in blocks; 0 = off, -1 = kv_tokens/block_tokens */
    double eos_mean;              /* mean output length when EOS decides; 0 = never EOS */
    int64_t tokens_per_step;      /* tokens per decode step and streamed event (speculative decoding) */
    int64_t default_max_tokens;   /* when a request gives none; 0 = max_model_len - prompt */
    uint64_t seed;                /* seeds output lengths and words */
    int virtual_clock;            /* 1: no sleeping, time advances by step costs (tests, simulation) */
    int realtime;                 /* 1: run the engine thread SCHED_FIFO (needs CAP_SYS_NICE) */
} engine_config;

/* Fills c with the default preset ("gpu-7b"). */
void engine_config_default(engine_config *c);

/* Replaces c with the named preset. Returns 0, or ERR_USAGE with a message
 * naming the known presets in err. */
int engine_config_preset(engine_config *c, const char *name, char *err, size_t errlen);

/* Names of the presets, NULL-terminated, and a one-line description of each. */
const char *const *engine_config_preset_names(void);
const char *engine_config_preset_summary(const char *name);

/* Sets one parameter by its documented key ("max_batch", "step_fixed",
 * "prefill_per_token", ...; see docs/server.md) from text. Durations accept
 * ns/us/ms/s suffixes (a bare number is seconds) and fractions ("0.5us").
 * Returns 0, or ERR_USAGE with a message naming the key and the expected
 * value in err. */
int engine_config_set(engine_config *c, const char *key, const char *value,
                      char *err, size_t errlen);

/* Applies a JSON object of parameters (the same keys; numbers or strings;
 * "preset" first if present). Returns 0, or ERR_INPUT/ERR_USAGE with err. */
int engine_config_from_json(engine_config *c, const char *json, char *err, size_t errlen);

/* Checks that the parameters are usable together. Returns 0 or ERR_USAGE. */
int engine_config_validate(const engine_config *c, char *err, size_t errlen);

/* Describes c as a JSON object, with the same keys engine_config_set and
 * engine_config_from_json accept (durations as "KEY_ns" integers).
 * Returns a malloc'd NUL-terminated string the caller frees. */
char *engine_config_to_json(const engine_config *c);

/* Parses a duration with unit into ns ("12ms", "0.5us", "80ns", "1.5" = s).
 * Returns 0 or -1. */
int engine_config_parse_ns(const char *s, int64_t *out);

#endif
