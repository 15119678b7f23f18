/* sse_bench.c — SSE parser throughput: replays a realistic vLLM chat stream
 * (role chunk, content chunks with continuous usage stats, finish chunk,
 * usage chunk, [DONE]) through sse_feed until N events have been parsed,
 * cut into chunks of several sizes: one event per chunk (a server that
 * flushes every token), 16 and 64 bytes (worst cases), 1460 (a TCP
 * segment), 16384 (libcurl's write buffer) and the whole stream at once.
 * Prints ns per event and MB/s of CPU time on one core. Built and run by
 * bench/sse.sh. Usage: sse_bench [N] */
#include "common/sse.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKENS_PER_STREAM 500

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = { " the", " of", " and", " to", " in", " is", " that", " for",
    " it", " as", " with", " was", " on", " be", " by", " this", " Paris", " model", ",", "." };

/* One stream as vLLM's OpenAI server sends it with
 * stream_options={"include_usage":true,"continuous_usage_stats":true}.
 * ev_end receives the offset after each event (for per-event chunks). */
static void make_stream(strbuf *s, size_t *ev_end, size_t *nev)
{
    const char *head = "{\"id\":\"chatcmpl-3f9b6c0e8f3a4d2b9a7e1c5d\",\"object\":\"chat.completion.chunk\","
                       "\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",";
    int prompt = 812;
    *nev = 0;
    sb_printf(s, "data: %s\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
              "\"logprobs\":null,\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,"
              "\"completion_tokens\":0}}\n\n", head, prompt, prompt);
    ev_end[(*nev)++] = s->len;
    for (int i = 1; i <= TOKENS_PER_STREAM; i++) {
        sb_printf(s, "data: %s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
                  "\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,"
                  "\"completion_tokens\":%d}}\n\n", head, words[(i * 7) % 20], prompt, prompt + i, i);
        ev_end[(*nev)++] = s->len;
    }
    sb_printf(s, "data: %s\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\","
              "\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,"
              "\"completion_tokens\":%d}}\n\n", head, prompt, prompt + TOKENS_PER_STREAM, TOKENS_PER_STREAM);
    ev_end[(*nev)++] = s->len;
    sb_printf(s, "data: %s\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,"
              "\"completion_tokens\":%d}}\n\n", head, prompt, prompt + TOKENS_PER_STREAM, TOKENS_PER_STREAM);
    ev_end[(*nev)++] = s->len;
    sb_adds(s, "data: [DONE]\n\n");
    ev_end[(*nev)++] = s->len;
}

typedef struct {
    uint64_t events, bytes;
} counts;

static int on_event(const sse_event *ev, void *ud)
{
    counts *c = ud;
    c->events++;
    c->bytes += ev->data_len + (unsigned char)ev->data[0];
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    strbuf s = {0};
    size_t ev_end[TOKENS_PER_STREAM + 8], nev;
    make_stream(&s, ev_end, &nev);
    long streams = (n + (long)nev - 1) / (long)nev;
    printf("stream: %zu events, %zu bytes (%.0f bytes/event); %ld streams = %ld events per run\n",
           nev, s.len, (double)s.len / (double)nev, streams, streams * (long)nev);
    const long sizes[] = { -1, 16, 64, 1460, 16384, 0 };
    sse_parser *p = sse_new(0);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        counts c = { 0, 0 };
        double t0 = cpu_s();
        for (long st = 0; st < streams; st++) {
            sse_reset(p);
            if (sizes[k] < 0) {
                size_t off = 0;
                for (size_t e = 0; e < nev; e++) {
                    sse_feed(p, s.buf + off, ev_end[e] - off, on_event, &c);
                    off = ev_end[e];
                }
            } else {
                size_t chunk = sizes[k] ? (size_t)sizes[k] : s.len;
                for (size_t off = 0; off < s.len; off += chunk)
                    sse_feed(p, s.buf + off, off + chunk < s.len ? chunk : s.len - off, on_event, &c);
            }
            if (sse_finish(p) != 0) {
                fprintf(stderr, "sse_bench: stream not clean: %s\n", sse_error(p));
                return 1;
            }
        }
        double dt = cpu_s() - t0;
        if (c.events != (uint64_t)(streams * (long)nev)) {
            fprintf(stderr, "sse_bench: %llu events, expected %ld\n", (unsigned long long)c.events,
                    streams * (long)nev);
            return 1;
        }
        char label[32];
        if (sizes[k] < 0) snprintf(label, sizeof label, "one event");
        else if (sizes[k] == 0) snprintf(label, sizeof label, "whole stream");
        else snprintf(label, sizeof label, "%ld bytes", sizes[k]);
        printf("chunks of %-12s %7.1f ns/event %8.0f MB/s  (%.2f s CPU)\n", label,
               dt * 1e9 / (double)c.events, (double)s.len * (double)streams / dt / 1e6, dt);
    }
    sse_free(p);
    sb_free(&s);
    return 0;
}
