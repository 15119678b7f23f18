/* capture_pcapgen.c — writes synthetic pcap files of LLM traffic for
 * bench/capture_bench.sh (Ethernet, IPv4, nanosecond timestamps):
 *
 *   capture_pcapgen stream OUT REQUESTS CONNS EVENTS
 *       REQUESTS streamed chat exchanges spread over CONNS keep-alive
 *       connections, interleaved as a loaded server's would be: each
 *       response has EVENTS SSE events, one per segment, acknowledged by
 *       the client every second segment; request bodies of about 1 KB.
 *   capture_pcapgen flows OUT FLOWS EVENTS
 *       FLOWS connections that all open, send a request and get the start
 *       of a streamed response before any of them ends (the open-flow
 *       memory test); then each gets its last EVENTS events and closes.
 *
 * Prints "packets=N requests=N bytes=N" on stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conn {
    uint32_t cseq, sseq;
    uint16_t port;
    int state;            /* stream: 0 idle, >0 events sent + 1 */
} conn;

static FILE *out;
static uint64_t npkts, nbytes, t_ns = 1700000000ULL * 1000000000ULL;
static unsigned char frame[70000];

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void pkt(const conn *c, int from_client, uint8_t flags, const char *data, size_t n)
{
    memset(frame, 0, 54);
    put16(frame + 12, 0x0800);
    unsigned char *ip = frame + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, (unsigned)(40 + n));
    ip[8] = 64;
    ip[9] = 6;
    unsigned char cli[4] = { 127, 0, 0, 1 }, srv[4] = { 127, 0, 0, 2 };
    memcpy(ip + 12, from_client ? cli : srv, 4);
    memcpy(ip + 16, from_client ? srv : cli, 4);
    put16(tcp, from_client ? c->port : 8000);
    put16(tcp + 2, from_client ? 8000 : c->port);
    put32(tcp + 4, from_client ? c->cseq : c->sseq);
    put32(tcp + 8, from_client ? c->sseq : c->cseq);
    tcp[12] = 0x50;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, data, n);
    uint32_t len = (uint32_t)(54 + n);
    uint32_t hdr[4] = { (uint32_t)(t_ns / 1000000000ULL), (uint32_t)(t_ns % 1000000000ULL), len, len };
    fwrite(hdr, sizeof hdr, 1, out);
    fwrite(frame, len, 1, out);
    npkts++;
    nbytes += len + 16;
    t_ns += 2000;
}

static void send_data(conn *c, int from_client, const char *d, size_t n)
{
    pkt(c, from_client, 0x18, d, n);
    if (from_client) c->cseq += (uint32_t)n; else c->sseq += (uint32_t)n;
}

static void handshake(conn *c)
{
    pkt(c, 1, 0x02, "", 0);
    c->cseq++;
    pkt(c, 0, 0x12, "", 0);
    c->sseq++;
    pkt(c, 1, 0x10, "", 0);
}

static void close_conn(conn *c)
{
    pkt(c, 1, 0x11, "", 0);
    c->cseq++;
    pkt(c, 0, 0x11, "", 0);
    c->sseq++;
    pkt(c, 1, 0x10, "", 0);
}

static char req_buf[4096], ev_buf[512], hdr_buf[256], end_buf[512];
static size_t req_len, ev_len, hdr_len, end_len;

static void make_messages(void)
{
    char body[2048];
    int n = snprintf(body, sizeof body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    for (int i = 0; i < 160; i++) n += snprintf(body + n, sizeof body - (size_t)n, "word ");
    n += snprintf(body + n, sizeof body - (size_t)n, "\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":64}");
    req_len = (size_t)snprintf(req_buf, sizeof req_buf, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.2:8000\r\n"
                               "Content-Type: application/json\r\nAccept: */*\r\nContent-Length: %d\r\n\r\n%s", n, body);
    hdr_len = (size_t)snprintf(hdr_buf, sizeof hdr_buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n");
    const char *ev = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                     "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"finish_reason\":null}]}\n\n";
    ev_len = (size_t)snprintf(ev_buf, sizeof ev_buf, "%zx\r\n%s\r\n", strlen(ev), ev);
    const char *u = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
                    "\"usage\":{\"prompt_tokens\":170,\"completion_tokens\":64,\"total_tokens\":234}}\n\n";
    end_len = (size_t)snprintf(end_buf, sizeof end_buf, "%zx\r\n%s\r\n%zx\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
                               strlen(u), u, (size_t)14);
}

static void event(conn *c, int k)
{
    send_data(c, 0, ev_buf, ev_len);
    if (k % 2) pkt(c, 1, 0x10, "", 0);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: capture_pcapgen stream OUT REQUESTS CONNS EVENTS | flows OUT FLOWS EVENTS\n");
        return 2;
    }
    out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 1; }
    uint32_t gh[6] = { 0xa1b23c4d, 2 | (4u << 16), 0, 0, 262144, 1 };
    fwrite(gh, sizeof gh, 1, out);
    make_messages();
    uint64_t requests = 0;
    if (!strcmp(argv[1], "stream") && argc >= 6) {
        long total = atol(argv[3]), nc = atol(argv[4]), ev = atol(argv[5]);
        conn *cs = calloc((size_t)nc, sizeof *cs);
        for (long i = 0; i < nc; i++) {
            cs[i].port = (uint16_t)(10000 + i % 50000);
            cs[i].cseq = (uint32_t)(i * 7919u);
            cs[i].sseq = (uint32_t)(i * 104729u);
            handshake(&cs[i]);
        }
        long started = 0, done = 0;
        /* Round robin: each connection takes one step per round. */
        while (done < total) {
            for (long i = 0; i < nc && done < total; i++) {
                conn *c = &cs[i];
                if (c->state == 0) {
                    if (started >= total) continue;
                    send_data(c, 1, req_buf, req_len);
                    send_data(c, 0, hdr_buf, hdr_len);
                    started++;
                    c->state = 1;
                } else if (c->state <= ev) {
                    event(c, c->state);
                    c->state++;
                } else {
                    send_data(c, 0, end_buf, end_len);
                    pkt(c, 1, 0x10, "", 0);
                    c->state = 0;
                    done++;
                }
            }
        }
        for (long i = 0; i < nc; i++) close_conn(&cs[i]);
        requests = (uint64_t)done;
        free(cs);
    } else if (!strcmp(argv[1], "flows")) {
        long nf = atol(argv[3]), ev = atol(argv[4]);
        conn *cs = calloc((size_t)nf, sizeof *cs);
        for (long i = 0; i < nf; i++) {
            cs[i].port = (uint16_t)(10000 + i % 50000);
            cs[i].cseq = (uint32_t)(i * 7919u);
            cs[i].sseq = (uint32_t)(i * 104729u);
            handshake(&cs[i]);
            send_data(&cs[i], 1, req_buf, req_len);
            send_data(&cs[i], 0, hdr_buf, hdr_len);
            event(&cs[i], 1);
        }
        for (long i = 0; i < nf; i++) {
            for (long k = 2; k <= ev; k++) event(&cs[i], (int)k);
            send_data(&cs[i], 0, end_buf, end_len);
            close_conn(&cs[i]);
        }
        requests = (uint64_t)nf;
        free(cs);
    } else {
        fprintf(stderr, "capture_pcapgen: unknown mode %s\n", argv[1]);
        return 2;
    }
    if (fclose(out)) { perror("close"); return 1; }
    printf("packets=%llu requests=%llu bytes=%llu\n", (unsigned long long)npkts,
           (unsigned long long)requests, (unsigned long long)nbytes);
    return 0;
}
