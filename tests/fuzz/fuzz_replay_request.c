/* fuzz_replay_request.c — libFuzzer target for what replay builds from a
 * trace record (hostile input): the request of each HTTP client and the
 * captured headers --replay-headers would send.
 *
 * Input: one options byte, then a record line. Options: bits 0-1 the
 * client (gateway, vllm, lmdeploy, gateway); bits 2-3 --stream (as-sent,
 * on, off); bit 4 --model; bit 5 --api chat; bit 6 --lmdeploy-session-id;
 * bit 7 no forcing.
 * A built request must have a path starting with '/' with no byte outside
 * printable ASCII, a body that is a JSON object, a JSON array (or null) of
 * edits, body_exact only with no edits; a header line never a secret nor a
 * line break; a refused record always says why. */
#include "clients/client.h"
#include "common/header_rule.h"
#include "replay/req_headers.h"
#include "traces/trace.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const client_request *cr)
{
    if (cr->path[0] != '/') __builtin_trap();
    for (const char *p = cr->path; *p; p++)
        if (*p <= ' ' || *p > '~') __builtin_trap();
    cJSON *b = cJSON_ParseWithLength(cr->body.buf ? cr->body.buf : "", cr->body.len);
    if (!cJSON_IsObject(b)) __builtin_trap();
    cJSON_Delete(b);
    cJSON *e = cJSON_ParseWithLength(cr->edits.buf ? cr->edits.buf : "", cr->edits.len);
    if (!cJSON_IsArray(e) && !cJSON_IsNull(e)) __builtin_trap();
    if (cr->body_exact && cJSON_GetArraySize(e) != 0) __builtin_trap();
    cJSON_Delete(e);
}

static void check_headers(const client_opts *co, const trace_rec *r)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(r->json, "headers");
    struct curl_slist *run = curl_slist_append(NULL, "Content-Type: application/json");
    int n = 0;
    struct curl_slist *l = req_headers_list(co, run, h, &n);
    for (const struct curl_slist *p = l ? l->next : NULL; p; p = p->next) {
        const char *colon = strpbrk(p->data, ":;");
        if (!colon || strpbrk(p->data, "\r\n") || header_rule_secret(p->data, (size_t)(colon - p->data)))
            __builtin_trap();
    }
    curl_slist_free_all(l);
    curl_slist_free_all(run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "gateway", "vllm", "lmdeploy", "gateway" };
    static const int streams[] = { CLIENT_STREAM_AS_SENT, CLIENT_STREAM_ON, CLIENT_STREAM_OFF,
                                   CLIENT_STREAM_AS_SENT };
    if (size < 1) return 0;
    uint8_t opt = data[0];
    trace_rec r;
    char err[512];
    memset(&r, 0, sizeof r);
    if (trace_rec_parse(&r, (const char *)data + 1, size - 1, 0, err, sizeof err) < 0) {
        trace_rec_clear(&r);
        return 0;
    }
    client_opts o;
    memset(&o, 0, sizeof o);
    o.base_url = "http://127.0.0.1:1";
    o.api_url = "http://127.0.0.1:1/v1";
    o.root_url = "http://127.0.0.1:1";
    o.stream = streams[(opt >> 2) & 3];
    o.model = opt & 16 ? "fuzz-model" : NULL;
    o.api = opt & 32 ? "chat" : NULL;
    o.lmdeploy_session_id = (opt >> 6) & 1;
    o.force_output_len = !(opt & 128);
    o.replay_headers = 1;
    client *c = client_new(client_find(names[opt & 3], NULL), &o, err, sizeof err);
    if (!c) __builtin_trap();
    client_request cr;
    memset(&cr, 0, sizeof cr);
    cr.forced_output = -1;
    err[0] = '\0';
    if (c->ops->build(c, &r, &cr, err, sizeof err) == 0) check_request(&cr);
    else if (!err[0]) __builtin_trap();
    check_headers(&o, &r);
    client_request_free(&cr);
    client_free(c);
    trace_rec_clear(&r);
    return 0;
}
