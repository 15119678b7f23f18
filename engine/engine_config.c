/* engine_config.c — see engine_config.h. */
#include "engine/engine_config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/parse.h"
#include "common/util.h"

#define US 1000LL
#define MS 1000000LL

typedef struct preset {
    const char *name, *summary;
    engine_config c;
} preset;

/* The numbers are rough fits to public measurements of each kind of
 * deployment (docs/server.md, "Presets"); they aim at realistic shapes
 * (TTFT growing with prompt and queue, ITL growing with the batch), not at
 * reproducing one GPU to the percent. */
static const preset presets[] = {
    { "gpu-7b", "a 7-8B fp16 model on one A100-class GPU (the default)",
      { "gpu-7b", 256, 131072, 2048, 8192, 8 * MS, 80 * US, 40 * US, 16, -1,
        256.0, 1, 0, 0, 0, 0 } },
    { "tiny-cpu", "a ~1B model on a laptop CPU (llama.cpp-like)",
      { "tiny-cpu", 4, 8192, 512, 4096, 25 * MS, 5 * MS, 1500 * US, 16, -1,
        128.0, 1, 0, 0, 0, 0 } },
    { "gpu-70b", "a 70B model with tensor parallelism on 8 H100-class GPUs",
      { "gpu-70b", 256, 400000, 8192, 32768, 20 * MS, 60 * US, 25 * US, 16, -1,
        384.0, 1, 0, 0, 0, 0 } },
    { "fast", "a fast engine for tests and load-testing the tool itself",
      { "fast", 8192, 1 << 24, 0, 1 << 20, 1 * MS, 0, 100, 16, -1,
        32.0, 1, 0, 0, 0, 0 } },
};
#define NPRESETS (sizeof presets / sizeof presets[0])

void engine_config_default(engine_config *c)
{
    *c = presets[0].c;
}

const char *const *engine_config_preset_names(void)
{
    static const char *names[NPRESETS + 1];
    for (size_t i = 0; i < NPRESETS; i++) names[i] = presets[i].name;
    names[NPRESETS] = NULL;
    return names;
}

const char *engine_config_preset_summary(const char *name)
{
    for (size_t i = 0; i < NPRESETS; i++)
        if (!strcmp(presets[i].name, name)) return presets[i].summary;
    return NULL;
}

int engine_config_preset(engine_config *c, const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < NPRESETS; i++) {
        if (!strcmp(presets[i].name, name)) {
            uint64_t seed = c->seed;
            int vclock = c->virtual_clock, rt = c->realtime;
            *c = presets[i].c;
            c->seed = seed;
            c->virtual_clock = vclock;
            c->realtime = rt;
            return 0;
        }
    }
    errf(err, errlen, "unknown preset '%s' (known: gpu-7b, tiny-cpu, gpu-70b, fast)", name);
    return ERR_USAGE;
}

int engine_config_parse_ns(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0) return -1;
    double mult;
    if (!*end || !strcmp(end, "s")) mult = 1e9;
    else if (!strcmp(end, "ms")) mult = 1e6;
    else if (!strcmp(end, "us")) mult = 1e3;
    else if (!strcmp(end, "ns")) mult = 1.0;
    else return -1;
    double ns = v * mult;
    if (ns > 9.2e18) return -1;
    *out = (int64_t)llround(ns);
    return 0;
}

typedef enum { K_INT, K_NS, K_DOUBLE, K_U64, K_BOOL } kind;

typedef struct key {
    const char *name;
    kind k;
    size_t off;
    int64_t min;       /* for K_INT (and K_NS in ns) */
} key;

#define OFF(f) offsetof(engine_config, f)
static const key keys[] = {
    { "max_batch", K_INT, OFF(max_batch), 1 },
    { "kv_tokens", K_INT, OFF(kv_tokens), 1 },
    { "max_batched_tokens", K_INT, OFF(max_batched_tokens), 0 },
    { "max_model_len", K_INT, OFF(max_model_len), 2 },
    { "step_fixed", K_NS, OFF(step_fixed_ns), 0 },
    { "step_per_seq", K_NS, OFF(step_per_seq_ns), 0 },
    { "prefill_per_token", K_NS, OFF(prefill_token_ns), 0 },
    { "block_size", K_INT, OFF(block_tokens), 1 },
    { "cache_blocks", K_INT, OFF(cache_blocks), -1 },
    { "eos_mean", K_DOUBLE, OFF(eos_mean), 0 },
    { "tokens_per_event", K_INT, OFF(tokens_per_step), 1 },
    { "default_max_tokens", K_INT, OFF(default_max_tokens), 0 },
    { "seed", K_U64, OFF(seed), 0 },
    { "virtual_clock", K_BOOL, OFF(virtual_clock), 0 },
    { "realtime", K_BOOL, OFF(realtime), 0 },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const key *find_key(const char *name, int *is_ns_suffix)
{
    size_t n = strlen(name);
    *is_ns_suffix = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (!strcmp(keys[i].name, name)) return &keys[i];
        size_t kl = strlen(keys[i].name);
        if (keys[i].k == K_NS && n == kl + 3 && !strncmp(name, keys[i].name, kl) &&
            !strcmp(name + kl, "_ns")) {
            *is_ns_suffix = 1;
            return &keys[i];
        }
    }
    return NULL;
}

int engine_config_set(engine_config *c, const char *name, const char *value,
                      char *err, size_t errlen)
{
    int ns_suffix;
    if (!strcmp(name, "preset")) return engine_config_preset(c, value, err, errlen);
    const key *k = find_key(name, &ns_suffix);
    if (!k) {
        errf(err, errlen, "unknown engine parameter '%s'", name);
        return ERR_USAGE;
    }
    char *p = (char *)c + k->off;
    switch (k->k) {
    case K_INT: {
        int64_t v;
        if (parse_i64(value, &v) || v < k->min) {
            errf(err, errlen, "engine parameter %s: expected an integer >= %lld, got '%s'",
                 name, (long long)k->min, value);
            return ERR_USAGE;
        }
        *(int64_t *)p = v;
        break;
    }
    case K_NS: {
        int64_t v;
        int bad = ns_suffix ? (parse_i64(value, &v) || v < 0) : engine_config_parse_ns(value, &v);
        if (bad) {
            errf(err, errlen, "engine parameter %s: expected %s, got '%s'", name,
                 ns_suffix ? "an integer number of nanoseconds" :
                             "a duration such as 8ms, 60us or 250ns", value);
            return ERR_USAGE;
        }
        *(int64_t *)p = v;
        break;
    }
    case K_DOUBLE: {
        double v;
        if (parse_double(value, &v) || v < 0) {
            errf(err, errlen, "engine parameter %s: expected a number >= 0, got '%s'", name, value);
            return ERR_USAGE;
        }
        *(double *)p = v;
        break;
    }
    case K_U64: {
        uint64_t v;
        if (parse_u64(value, &v)) {
            errf(err, errlen, "engine parameter %s: expected an unsigned integer, got '%s'",
                 name, value);
            return ERR_USAGE;
        }
        *(uint64_t *)p = v;
        break;
    }
    case K_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true")) *(int *)p = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false")) *(int *)p = 0;
        else {
            errf(err, errlen, "engine parameter %s: expected true or false, got '%s'", name, value);
            return ERR_USAGE;
        }
        break;
    }
    return 0;
}

int engine_config_from_json(engine_config *c, const char *json, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, strlen(json), &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        errf(err, errlen, "engine configuration: expected a JSON object%s",
             root ? "" : " (the text is not valid JSON)");
        cJSON_Delete(root);
        return ERR_INPUT;
    }
    int rc = 0;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "preset");
    if (pre) {
        if (!cJSON_IsString(pre)) {
            errf(err, errlen, "engine configuration: \"preset\" must be a string");
            rc = ERR_USAGE;
        } else {
            rc = engine_config_preset(c, pre->valuestring, err, errlen);
        }
    }
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        char num[64];
        const char *val;
        if (!strcmp(it->string, "preset")) continue;
        if (cJSON_IsString(it)) val = it->valuestring;
        else if (cJSON_IsBool(it)) val = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            if (d == floor(d) && fabs(d) < 9e15) snprintf(num, sizeof num, "%.0f", d);
            else snprintf(num, sizeof num, "%.17g", d);
            val = num;
        } else {
            errf(err, errlen, "engine configuration: \"%s\" must be a number or a string",
                 it->string);
            rc = ERR_USAGE;
            break;
        }
        rc = engine_config_set(c, it->string, val, err, errlen);
    }
    cJSON_Delete(root);
    return rc;
}

int engine_config_validate(const engine_config *c, char *err, size_t errlen)
{
    if (c->max_model_len > c->kv_tokens) {
        errf(err, errlen, "max_model_len (%lld) must not exceed kv_tokens (%lld): "
             "one request at its longest must fit in the KV cache",
             (long long)c->max_model_len, (long long)c->kv_tokens);
        return ERR_USAGE;
    }
    if (c->step_fixed_ns <= 0 && c->step_per_seq_ns <= 0 && !c->virtual_clock) {
        errf(err, errlen, "step_fixed and step_per_seq cannot both be 0 "
             "(a step must take some time)");
        return ERR_USAGE;
    }
    if (c->default_max_tokens >= c->max_model_len) {
        errf(err, errlen, "default_max_tokens (%lld) must be below max_model_len (%lld)",
             (long long)c->default_max_tokens, (long long)c->max_model_len);
        return ERR_USAGE;
    }
    return 0;
}

char *engine_config_to_json(const engine_config *c)
{
    strbuf b = {0};
    sb_printf(&b, "{\"preset\":\"%s\"", c->preset);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *p = (const char *)c + keys[i].off;
        switch (keys[i].k) {
        case K_INT: sb_printf(&b, ",\"%s\":%lld", keys[i].name, (long long)*(const int64_t *)p); break;
        case K_NS: sb_printf(&b, ",\"%s_ns\":%lld", keys[i].name, (long long)*(const int64_t *)p); break;
        case K_DOUBLE: sb_printf(&b, ",\"%s\":%.17g", keys[i].name, *(const double *)p); break;
        case K_U64: sb_printf(&b, ",\"%s\":%llu", keys[i].name,
                              (unsigned long long)*(const uint64_t *)p); break;
        case K_BOOL: sb_printf(&b, ",\"%s\":%s", keys[i].name, *(const int *)p ? "true" : "false"); break;
        }
    }
    sb_addc(&b, '}');
    return b.buf;
}
