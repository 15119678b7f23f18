/* summary_memgen.c — writes a large synthetic requests.jsonl to stdout for
 * bench/summary_mem.sh: N completed streaming requests of T output tokens
 * each, as the gateway client logs them when the server sends usage but no
 * per-event token counts (chunk gaps: gaps_ns has T - 1 values, one chunk
 * per token). Arrivals are Poisson at R requests/s; TTFT is lognormal
 * (median 120 ms), token gaps lognormal (median 18 ms) with 3 % prefill
 * stalls (median 90 ms); send lags of tens of microseconds. Times are
 * integer ns on the run's clock. Deterministic for given arguments.
 *
 *   summary_memgen N T R > requests.jsonl */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: uniform in (0, 1). */
static double uniform(void)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return ((double)((state * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller, one of the pair). */
static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static int64_t lognormal(double median, double sigma)
{
    return (int64_t)(median * exp(sigma * normal()));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: summary_memgen REQUESTS TOKENS RATE > requests.jsonl\n");
        return 2;
    }
    long n = atol(argv[1]), t = atol(argv[2]);
    double rate = atof(argv[3]);
    if (n < 1 || t < 2 || !(rate > 0)) {
        fprintf(stderr, "summary_memgen: expected REQUESTS >= 1, TOKENS >= 2, RATE > 0\n");
        return 2;
    }
    int64_t *gaps = malloc((size_t)(t - 1) * sizeof *gaps);
    if (!gaps) return 1;
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    double clock = 1e6;
    for (long i = 0; i < n; i++) {
        clock += -log(uniform()) / rate * 1e9;
        int64_t sched = (int64_t)clock, send = sched + 20000 + lognormal(40000, 0.6);
        int64_t first = send + lognormal(120e6, 0.7), sum = 0;
        for (long k = 0; k < t - 1; k++) {
            gaps[k] = uniform() < 0.03 ? lognormal(90e6, 0.3) : lognormal(18e6, 0.25);
            sum += gaps[k];
        }
        int64_t last = first + sum, end = last + 150000;
        printf("{\"index\":%ld,\"id\":\"r-%ld\",\"session\":null,\"client\":\"gateway\",\"api\":\"chat\","
               "\"model\":\"m\",\"warmup\":false,\"t_sched_ns\":%" PRId64 ",\"t_send_ns\":%" PRId64 ","
               "\"connect_ns\":0,\"t_first_byte_ns\":%" PRId64 ",\"t_first_token_ns\":%" PRId64 ","
               "\"t_last_token_ns\":%" PRId64 ",\"t_end_ns\":%" PRId64 ",\"send_lag_us\":%.3f,"
               "\"output_tokens\":%ld,\"token_source\":\"usage\",\"prompt_tokens\":%ld,\"events\":%ld,"
               "\"gaps_ns\":[", i, i, sched, send, first, first, last, end, (double)(send - sched) / 1e3, t,
               100 + i % 3000, t);
        for (long k = 0; k < t - 1; k++) printf(k ? ",%" PRId64 : "%" PRId64, gaps[k]);
        printf("],\"itl_basis\":\"chunk\",\"finish_reason\":\"length\",\"status\":200,\"ok\":true,\"error\":null}\n");
    }
    free(gaps);
    return fflush(stdout) ? 1 : 0;
}
