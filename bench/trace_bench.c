/* trace_bench.c — trace format throughput: writes N records (length-only,
 * then with chat bodies) through trace_writer, reads them back through
 * trace_reader, and prints records/s, MB/s and the compression ratio.
 * Built and run by bench/trace_io.sh. CPU time is measured with
 * CLOCK_PROCESS_CPUTIME_ID (one thread), so "on one core" holds. */
#include "common/util.h"
#include "traces/trace_io.h"

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

static const char *const words[] = { "the", "of", "and", "to", "in", "is", "that", "for",
    "it", "as", "with", "was", "on", "be", "by", "this", "are", "or", "from", "at" };

static void run(const char *path, long n, int bodies, int level)
{
    char err[512];
    cJSON *h = trace_header_new("synth");
    trace_writer *w = trace_writer_open(path, h, level, err, sizeof err);
    cJSON_Delete(h);
    if (!w) { fprintf(stderr, "%s\n", err); exit(1); }
    strbuf line = {0}, text = {0};
    unsigned long long x = 88172645463325252ULL;
    double t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int in = 50 + (int)(x % 2000), out = 10 + (int)((x >> 20) % 500);
        sb_clear(&line);
        if (!bodies) {
            sb_printf(&line, "{\"t_us\":%ld,\"id\":\"r%ld\",\"api\":\"chat\",\"model\":\"m\","
                      "\"input_tokens\":%d,\"output_tokens\":%d}", i * 1000, i, in, out);
        } else {
            sb_clear(&text);
            int nw = 40 + (int)(x % 200);
            for (int k = 0; k < nw; k++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                sb_adds(&text, k ? " " : "");
                sb_adds(&text, words[x % 20]);
            }
            sb_printf(&line, "{\"t_us\":%ld,\"id\":\"r%ld\",\"api\":\"chat\",\"model\":\"m\","
                      "\"output_tokens\":%d,\"body\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"%s\"}],\"max_tokens\":%d,\"temperature\":0.7}}", i * 1000, i, out, text.buf, out);
        }
        /* Parse then write, as convert does: measures the writer with a real record. */
        trace_rec r = {0};
        if (trace_rec_parse(&r, line.buf, line.len, 0, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); exit(1); }
        if (trace_writer_put_rec(w, &r) < 0) { fprintf(stderr, "%s\n", trace_writer_error(w)); exit(1); }
        trace_rec_clear(&r);
    }
    uint64_t raw = trace_writer_bytes_in(w), disk = trace_writer_bytes_out(w);
    if (trace_writer_close(w, err, sizeof err)) { fprintf(stderr, "%s\n", err); exit(1); }
    double tw = cpu_s() - t0;

    t0 = cpu_s();
    trace_reader *r = trace_reader_open(path, 0, err, sizeof err);
    if (!r) { fprintf(stderr, "%s\n", err); exit(1); }
    trace_rec *rec;
    long got = 0, sum = 0;
    int rc;
    while ((rc = trace_reader_next(r, &rec)) > 0) { got++; sum += rec->output_tokens; }
    if (rc < 0 || got != n) { fprintf(stderr, "read: %s (%ld)\n", trace_reader_error(r), got); exit(1); }
    trace_reader_close(r);
    double tr = cpu_s() - t0;
    printf("%-12s level %-2d records %ld  write(parse+serialise+compress) %9.0f rec/s  read(decompress+parse) %9.0f rec/s"
           "  %7.1f MB/s  raw %.1f MB  on disk %.1f MB  ratio %.1fx\n",
           bodies ? "with-bodies" : "length-only", level, n, n / tw, n / tr, raw / tr / 1e6,
           raw / 1e6, disk / 1e6, (double)raw / (double)disk);
    sb_free(&line);
    sb_free(&text);
    (void)sum;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char p1[512], p2[512], p3[512];
    snprintf(p1, sizeof p1, "%s/bench-len.jsonl.zst", dir);
    snprintf(p2, sizeof p2, "%s/bench-body.jsonl.zst", dir);
    snprintf(p3, sizeof p3, "%s/bench-len.jsonl", dir);
    run(p1, n, 0, 3);
    run(p3, n, 0, 0);
    run(p2, n, 1, 3);
    return 0;
}
