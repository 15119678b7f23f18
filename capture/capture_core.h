/* capture_core.h — the packet path of `capture`, whatever feeds it: frame
 * -> pkt_decode -> tcp_reasm -> http_pair -> capture_out. pcap_source.c
 * feeds it from libpcap; the unit tests and the fuzz target feed it frames
 * they build, so every test runs the code a real capture runs.
 *
 * Ownership: the core owns its reassembly and pairing state; the writer
 * (capture_out) stays the caller's and must outlive the core. */
#ifndef SAGELLM_CAPTURE_CORE_H
#define SAGELLM_CAPTURE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture_out.h"
#include "capture/http_pair.h"
#include "capture/pkt_decode.h"
#include "capture/tcp_reasm.h"

typedef struct capture_core capture_core;

typedef struct capture_core_opts {
    tcp_reasm_opts tcp;
    http_pair_opts http;
} capture_core_opts;

typedef struct capture_core_stats {
    uint64_t packets;                  /* frames given to capture_core_packet */
    uint64_t bytes;                    /* their length on the wire */
    uint64_t decode[PKT_NRESULTS];     /* by pkt_decode result */
    int64_t first_ts, last_ts;         /* capture clock, ns (0: no packet yet) */
} capture_core_stats;

/* A new core writing to out (not owned). Never returns NULL. */
capture_core *capture_core_new(const capture_core_opts *o, capture_out *out);

/* One captured frame of link type dlt at ts (ns, capture clock): caplen
 * bytes captured of wirelen. Returns 0, or ERR_SYSTEM once writing the
 * trace failed (capture_out_error tells why). */
int capture_core_packet(capture_core *c, int dlt, int64_t ts, const uint8_t *frame,
                        size_t caplen, size_t wirelen);

/* Housekeeping at capture time now when no packet comes (live capture):
 * idle expiry, lost-byte grace, the reorder window. Returns as above. */
int capture_core_tick(capture_core *c, int64_t now);

/* Ends every open connection (their exchanges become incomplete
 * "capture_stopped") and writes what is pending. Returns as above. */
int capture_core_finish(capture_core *c, int64_t now);

/* 1 when --max-requests records are written. */
int capture_core_done(const capture_core *c);

/* Counters of the frames, the reassembly and the HTTP layer (owned by the
 * core, valid until capture_core_free). */
const capture_core_stats *capture_core_get_stats(const capture_core *c);
const tcp_reasm_stats *capture_core_tcp_stats(const capture_core *c);
const http_pair_stats *capture_core_http_stats(const capture_core *c);

/* Frees the core (open connections are ended first). NULL is a no-op. */
void capture_core_free(capture_core *c);

#endif
