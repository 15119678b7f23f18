/* fuzz_response.c — libFuzzer target for a server's response as the replay
 * reads it: bytes go through xfer_response_begin/xfer_response_data (SSE
 * parser, the client's on_event/on_body/error_message, the event-applying
 * code), xfer_complete classifies and xfer_format writes the log line,
 * which must be one valid JSON object with an outcome. No crash, no leak,
 * whatever the server sends.
 *
 * Input: byte 0 picks the client (gateway, vllm, lmdeploy: bits 0-1), the
 * status (bits 2-3: 200, 400, 500, 503), the content type (bit 4: SSE or
 * JSON) and the api (bits 5-6: chat, completions, generate); byte 1 the
 * size of the pieces the body arrives in (1..256 bytes); the rest is the
 * body. */
#include "replay/xfer.h"
#include "replay/replay_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"gateway", "vllm", "lmdeploy", "gateway"};
static const int statuses[] = {200, 400, 500, 503};
static const char *const apis[] = {"chat", "completions", "generate", "chat"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t k = data[0];
    size_t piece = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    client_opts co;
    memset(&co, 0, sizeof co);
    co.base_url = co.root_url = "http://127.0.0.1:9";
    co.api_url = "http://127.0.0.1:9/v1";
    co.stream = (k & 0x10) != 0;
    char err[256], line[256];
    client *cl = client_new(client_find(names[k & 3], NULL), &co, err, sizeof err);
    if (!cl) __builtin_trap();
    rq q;
    memset(&q, 0, sizeof q);
    snprintf(line, sizeof line, "{\"t_us\":0,\"id\":\"f\",\"api\":\"%s\",\"input_tokens\":4,"
             "\"output_tokens\":3}", apis[(k >> 5) & 3]);
    if (trace_rec_parse(&q.rec, line, strlen(line), 0, err, sizeof err) < 0) __builtin_trap();
    replay_opts o;
    memset(&o, 0, sizeof o);
    xfer *x = xfer_new(cl, NULL, &o);
    if (xfer_start(x, &q, 0, 1) == 0) {
        x->t_send = 0;
        xfer_response_begin(x, statuses[(k >> 2) & 3],
                            k & 0x10 ? "text/event-stream; charset=utf-8" : "application/json", 1);
        int stopped = 0;
        int64_t t = 1;
        for (size_t off = 0; off < size && !stopped; off += piece, t++) {
            size_t n = size - off < piece ? size - off : piece;
            stopped = xfer_response_data(x, (const char *)data + off, n, t) < 0;
        }
        x->t_end = t;
        xfer_complete(x, stopped ? CURLE_WRITE_ERROR : CURLE_OK);
        strbuf b = {0};
        xfer_format(x, &b);
        const char *end = NULL;
        cJSON *rec = cJSON_ParseWithLengthOpts(b.buf, b.len, &end, 0);
        if (!cJSON_IsObject(rec) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(rec, "ok")))
            __builtin_trap();
        /* A failure always has a class; a success never has an error. */
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rec, "error");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "ok")) != cJSON_IsNull(e))
            __builtin_trap();
        cJSON_Delete(rec);
        sb_free(&b);
    }
    xfer_recycle(x);
    xfer_free(x);
    trace_rec_clear(&q.rec);
    client_free(cl);
    return 0;
}
