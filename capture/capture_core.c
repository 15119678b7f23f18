/* capture_core.c — see capture_core.h. The reassembly callbacks map TCP
 * events onto the HTTP layer; the HTTP connection is created with the
 * first payload byte of a flow, so flows that never carry data cost only
 * their reassembly state. */
#include "capture/capture_core.h"
#include "common/util.h"

#include <stdlib.h>

struct capture_core {
    tcp_reasm *tcp;
    http_pair *http;
    capture_out *out;
    capture_core_stats st;
    int failed;
};

static const char *close_reason(tcp_close_cause c)
{
    switch (c) {
    case TCP_CLOSE_RST: return CAP_INC_RESET;
    case TCP_CLOSE_IDLE: return CAP_INC_IDLE;
    case TCP_CLOSE_END: return CAP_INC_STOPPED;
    case TCP_CLOSE_EVICTED: return CAP_INC_MEMORY;
    default: return CAP_INC_CLOSED;
    }
}

static void on_data(void *ud, const tcp_flow_info *f, void **user, const tcp_chunk *ch)
{
    capture_core *c = ud;
    if (!*user) *user = http_pair_conn_new(c->http, f->id, f->client_side, f->syn_seen);
    http_pair_data(c->http, *user, ch->side, ch->ts, ch->seq, ch->ack, ch->has_ack, ch->data, ch->len);
}

static void on_gap(void *ud, const tcp_flow_info *f, void **user, int side, int64_t ts,
                   uint32_t seq, uint32_t len, tcp_gap_cause cause)
{
    capture_core *c = ud;
    if (*user) http_pair_gap(c->http, *user, side, ts, cause == TCP_GAP_MEMORY ? CAP_INC_MEMORY : CAP_INC_GAP);
}

static void on_fin(void *ud, const tcp_flow_info *f, void **user, int side, int64_t ts)
{
    capture_core *c = ud;
    if (*user) http_pair_fin(c->http, *user, side, ts);
}

static void on_close(void *ud, const tcp_flow_info *f, void *user, int64_t ts, tcp_close_cause cause)
{
    capture_core *c = ud;
    http_pair_conn_close(c->http, user, ts, close_reason(cause));
}

capture_core *capture_core_new(const capture_core_opts *o, capture_out *out)
{
    capture_core *c = xcalloc(1, sizeof *c);
    tcp_reasm_cbs cb = { c, on_data, on_gap, on_fin, on_close };
    c->tcp = tcp_reasm_new(&o->tcp, &cb);
    c->http = http_pair_new(&o->http, out);
    c->out = out;
    return c;
}

static int check_out(capture_core *c, int64_t now)
{
    if (c->failed) return ERR_SYSTEM;
    if (capture_out_tick(c->out, now)) c->failed = 1;
    return c->failed ? ERR_SYSTEM : 0;
}

int capture_core_packet(capture_core *c, int dlt, int64_t ts, const uint8_t *frame,
                        size_t caplen, size_t wirelen)
{
    c->st.packets++;
    c->st.bytes += wirelen;
    if (!c->st.first_ts) c->st.first_ts = ts;
    if (ts > c->st.last_ts) c->st.last_ts = ts;
    pkt_tcp seg;
    pkt_result r = pkt_decode(dlt, frame, caplen, wirelen, &seg);
    c->st.decode[r]++;
    if (r == PKT_OK) tcp_reasm_segment(c->tcp, ts, &seg);
    tcp_reasm_tick(c->tcp, c->st.last_ts);
    return check_out(c, c->st.last_ts);
}

int capture_core_tick(capture_core *c, int64_t now)
{
    if (now < c->st.last_ts) now = c->st.last_ts;
    tcp_reasm_tick(c->tcp, now);
    return check_out(c, now);
}

int capture_core_finish(capture_core *c, int64_t now)
{
    if (now < c->st.last_ts) now = c->st.last_ts;
    tcp_reasm_finish(c->tcp, now);
    return check_out(c, now);
}

int capture_core_done(const capture_core *c) { return capture_out_done(c->out); }
const capture_core_stats *capture_core_get_stats(const capture_core *c) { return &c->st; }
const tcp_reasm_stats *capture_core_tcp_stats(const capture_core *c) { return tcp_reasm_get_stats(c->tcp); }
const http_pair_stats *capture_core_http_stats(const capture_core *c) { return http_pair_get_stats(c->http); }

void capture_core_free(capture_core *c)
{
    if (!c) return;
    tcp_reasm_free(c->tcp);
    http_pair_free(c->http);
    free(c);
}
