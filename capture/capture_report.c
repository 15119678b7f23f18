/* capture_report.c — see capture_report.h. */
#include "capture/capture_report.h"

#include <inttypes.h>

static void num(cJSON *o, const char *k, uint64_t v)
{
    cJSON_AddNumberToObject(o, k, (double)v);
}

/* Incomplete counts by reason, from whichever path ran. */
static const uint64_t *incomplete(const capture_report *r)
{
    if (r->proxy) return r->proxy->incomplete;
    return capture_core_http_stats(r->core)->incomplete;
}

static uint64_t sum(const uint64_t *v, int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s;
}

cJSON *capture_report_json(const capture_report *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", r->mode);
    cJSON_AddStringToObject(o, "source", r->source);
    cJSON_AddStringToObject(o, "end", r->end);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    if (r->pcap) {
        num(o, "packets", r->pcap->packets);
        if (r->pcap->have_kernel_stats) {
            num(o, "kernel_drops", r->pcap->kernel_drops);
            num(o, "if_drops", r->pcap->if_drops);
        } else {
            cJSON_AddNullToObject(o, "kernel_drops");
            cJSON_AddNullToObject(o, "if_drops");
        }
    }
    if (r->core) {
        const capture_core_stats *cs = capture_core_get_stats(r->core);
        const tcp_reasm_stats *t = capture_core_tcp_stats(r->core);
        const http_pair_stats *h = capture_core_http_stats(r->core);
        num(o, "bytes", cs->bytes);
        cJSON *d = cJSON_AddObjectToObject(o, "decode");
        for (int i = 0; i < PKT_NRESULTS; i++) num(d, pkt_decode_result_name((pkt_result)i), cs->decode[i]);
        num(o, "flows", t->flows);
        num(o, "peak_flows", t->peak_flows);
        cJSON *tc = cJSON_AddObjectToObject(o, "tcp");
        num(tc, "segments", t->segments);
        num(tc, "payload_bytes", t->payload_bytes);
        num(tc, "retransmitted_segments", t->retrans_segments);
        num(tc, "retransmitted_bytes", t->retrans_bytes);
        num(tc, "overlap_bytes", t->overlap_bytes);
        num(tc, "out_of_order_segments", t->ooo_segments);
        num(tc, "out_of_window", t->out_of_window);
        num(tc, "peak_queued_bytes", t->peak_queued_bytes);
        cJSON *g = cJSON_AddObjectToObject(tc, "gaps");
        cJSON *gb = cJSON_AddObjectToObject(tc, "gap_bytes");
        for (int i = 0; i < TCP_NGAP; i++) {
            num(g, tcp_reasm_gap_name((tcp_gap_cause)i), t->gaps[i]);
            num(gb, tcp_reasm_gap_name((tcp_gap_cause)i), t->gap_bytes[i]);
        }
        cJSON *cl = cJSON_AddObjectToObject(tc, "closes");
        for (int i = 0; i < TCP_NCLOSE; i++) num(cl, tcp_reasm_close_name((tcp_close_cause)i), t->closes[i]);
        cJSON *ht = cJSON_AddObjectToObject(o, "http");
        num(ht, "connections", h->conns);
        num(ht, "not_http", h->non_http);
        num(ht, "upgraded", h->upgraded);
        num(ht, "requests", h->requests);
        num(ht, "requests_cut_before_path", h->requests_lost);
        num(ht, "not_llm_path", h->not_llm);
        num(ht, "responses", h->responses);
        num(ht, "unpaired_responses", h->unpaired);
        num(ht, "parse_errors_client", h->parse_errors[0]);
        num(ht, "parse_errors_server", h->parse_errors[1]);
        num(ht, "skipped_bytes_client", h->skipped_bytes[0]);
        num(ht, "skipped_bytes_server", h->skipped_bytes[1]);
        num(ht, "peak_body_bytes", h->peak_held_bytes);
        num(o, "requests", h->requests);
    }
    if (r->proxy) {
        const capture_proxy_stats *p = r->proxy;
        num(o, "requests", p->requests);
        cJSON *px = cJSON_AddObjectToObject(o, "proxy");
        num(px, "not_llm_path", p->not_llm);
        num(px, "upstream_errors", p->upstream_errors);
        num(px, "too_large", p->too_large);
        num(px, "rejected", p->rejected);
        num(px, "over_buffered", p->over_buffered);
        num(px, "timed_out", p->timed_out);
        num(px, "bytes_up", p->bytes_up);
        num(px, "bytes_down", p->bytes_down);
        num(px, "peak_active", p->peak_active);
        if (p->protocol) cJSON_AddStringToObject(px, "upstream_protocol", p->protocol);
    }
    const capture_out_stats *w = r->out;
    num(o, "records", w->written);
    num(o, "sampled_out", w->sampled_out);
    num(o, "over_max_requests", w->over_max);
    num(o, "window_forced", w->forced);
    num(o, "files", w->files);
    num(o, "bytes_written", w->bytes_out);
    const sess_stats *ss = &w->sessions;
    cJSON *so = cJSON_AddObjectToObject(o, "sessions");
    num(so, "requests", ss->requests);
    num(so, "first_turns", ss->first_turns);
    num(so, "continued_by_key", ss->by_key);
    num(so, "continued_by_messages", ss->by_prefix);
    num(so, "remembered", ss->open);
    num(so, "peak_remembered", ss->peak_open);
    num(so, "evicted", ss->evicted);
    num(so, "ids_too_long", ss->long_ids);
    const uint64_t *inc = incomplete(r);
    num(o, "incomplete_total", sum(inc, CAP_NINC));
    cJSON *ic = cJSON_AddObjectToObject(o, "incomplete");
    for (int i = 0; i < CAP_NINC; i++) num(ic, cap_exchange_reasons[i], inc[i]);
    return o;
}

void capture_report_text(const capture_report *r, strbuf *b)
{
    sb_printf(b, "capture: %s %s: stopped: %s after %.1f s\n", r->mode, r->source, r->end, r->seconds);
    if (r->pcap) {
        sb_printf(b, "  packets   %" PRIu64 " read", r->pcap->packets);
        if (r->pcap->have_kernel_stats)
            sb_printf(b, ", %" PRIu64 " dropped by the kernel, %" PRIu64 " by the interface",
                      r->pcap->kernel_drops, r->pcap->if_drops);
        sb_addc(b, '\n');
    }
    if (r->core) {
        const capture_core_stats *cs = capture_core_get_stats(r->core);
        const tcp_reasm_stats *t = capture_core_tcp_stats(r->core);
        const http_pair_stats *h = capture_core_http_stats(r->core);
        sb_printf(b, "  tcp       %" PRIu64 " segments, %" PRIu64 " flows (peak %" PRIu64 " open), %" PRIu64
                  " retransmitted, %" PRIu64 " out of order, %" PRIu64 " overlapping bytes; gaps:",
                  cs->decode[PKT_OK], t->flows, t->peak_flows, t->retrans_segments, t->ooo_segments,
                  t->overlap_bytes);
        for (int i = 0; i < TCP_NGAP; i++)
            sb_printf(b, " %s %" PRIu64, tcp_reasm_gap_name((tcp_gap_cause)i), t->gaps[i]);
        sb_addc(b, '\n');
        sb_printf(b, "  http      %" PRIu64 " requests (%" PRIu64 " on other paths), %" PRIu64 " responses, %" PRIu64
                  " unpaired, %" PRIu64 " parse errors, %" PRIu64 " connections not HTTP\n",
                  h->requests, h->not_llm, h->responses, h->unpaired,
                  h->parse_errors[0] + h->parse_errors[1], h->non_http);
    }
    if (r->proxy) {
        const capture_proxy_stats *p = r->proxy;
        sb_printf(b, "  proxy     %" PRIu64 " requests (%" PRIu64 " on other paths), %" PRIu64
                  " upstream errors, peak %" PRIu64 " in flight", p->requests, p->not_llm,
                  p->upstream_errors, p->peak_active);
        if (p->rejected || p->over_buffered || p->too_large || p->timed_out)
            sb_printf(b, "; refused: %" PRIu64 " targets (400), %" PRIu64 " over --max-buffered-mb (503), %" PRIu64
                      " over --max-body-mb (413); %" PRIu64 " connections timed out", p->rejected,
                      p->over_buffered, p->too_large, p->timed_out);
        sb_addc(b, '\n');
    }
    const uint64_t *inc = incomplete(r);
    sb_printf(b, "  trace     %" PRIu64 " records to %s (%" PRIu64 " file%s), %" PRIu64 " sampled out, %" PRIu64
              " incomplete", r->out->written, r->out_path, r->out->files, r->out->files == 1 ? "" : "s",
              r->out->sampled_out, sum(inc, CAP_NINC));
    int first = 1;
    for (int i = 0; i < CAP_NINC; i++) {
        if (!inc[i]) continue;
        sb_printf(b, "%s%s %" PRIu64, first ? ": " : ", ", cap_exchange_reasons[i], inc[i]);
        first = 0;
    }
    sb_addc(b, '\n');
    const sess_stats *ss = &r->out->sessions;
    if (ss->requests)
        sb_printf(b, "  sessions  %" PRIu64 " started, %" PRIu64 " turns continued (%" PRIu64 " by key, %" PRIu64
                  " by messages), %" PRIu64 " forgotten at --max-sessions\n", ss->first_turns,
                  ss->by_key + ss->by_prefix, ss->by_key, ss->by_prefix, ss->evicted);
}
