/* prompt_bench.c — prompt synthesis speed: prompt_synth text throughput
 * (MB/s, tokens/s) for several lengths, without hash ids and with 16- and
 * 512-token hash blocks, and prompt_make_body (a whole chat body) per
 * record. Built and run by bench/prompt_speed.sh. CPU time of one thread
 * (CLOCK_PROCESS_CPUTIME_ID). */
#include "common/util.h"
#include "traces/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cJSON *make_ids(int64_t tokens, int64_t bs, int64_t base)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < (tokens + bs - 1) / bs; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)(base + i)));
    return a;
}

/* Generates about `budget` bytes of prompts of `tokens` tokens. */
static void bench_synth(int64_t tokens, int64_t bs, double budget)
{
    cJSON *ids = bs ? make_ids(tokens, bs, 1000) : NULL;
    strbuf b = {0};
    double bytes = 0, toks = 0, t0 = cpu_s();
    uint64_t seed = 1;
    while (bytes < budget) {
        sb_clear(&b);
        prompt_synth(&b, tokens, ids, bs, seed++);
        bytes += (double)b.len;
        toks += (double)tokens;
    }
    double dt = cpu_s() - t0;
    printf("prompt_synth %6lld tokens, %-13s %8.0f MB/s  %6.1f M tokens/s  (%.2f bytes/token)\n",
           (long long)tokens, bs ? (bs == 16 ? "16-tok blocks" : "512-tok blocks") : "no hash ids",
           bytes / dt / 1e6, toks / dt / 1e6, bytes / toks);
    sb_free(&b);
    cJSON_Delete(ids);
}

static void bench_body(int64_t tokens, long n)
{
    char line[256];
    snprintf(line, sizeof line, "{\"t_us\":0,\"id\":1,\"api\":\"chat\",\"input_tokens\":%lld,"
             "\"output_tokens\":100,\"block_size\":512}", (long long)tokens);
    trace_rec r;
    char err[256];
    memset(&r, 0, sizeof r);
    if (trace_rec_parse(&r, line, strlen(line), 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    cJSON *ids = make_ids(tokens, 512, 0);
    cJSON_AddItemToObject(r.json, "hash_ids", ids);
    r.hash_ids = ids;
    double t0 = cpu_s(), bytes = 0;
    for (long i = 0; i < n; i++) {
        cJSON *b = prompt_make_body(&r, NULL, "m", (uint64_t)i);
        bytes += (double)strlen(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), 0)
                                    ->child->next->valuestring);
        cJSON_Delete(b);
    }
    double dt = cpu_s() - t0;
    printf("prompt_make_body (chat) %6lld tokens: %9.0f bodies/s  %6.0f MB/s of prompt text\n",
           (long long)tokens, n / dt, bytes / dt / 1e6);
    trace_rec_clear(&r);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) * 1e6 : 2e9;
    static const int64_t lens[] = {128, 1024, 8192, 32768};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        bench_synth(lens[i], 0, budget);
        bench_synth(lens[i], 16, budget);
        bench_synth(lens[i], 512, budget);
    }
    bench_body(1024, 100000);
    bench_body(8192, 20000);
    return 0;
}
