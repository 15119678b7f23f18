/* tcp_reasm.h — TCP stream reassembly for passive capture: a table of
 * flows, and per direction the bytes handed on in sequence order exactly
 * once.
 *
 * Rules (docs/capture.md, "Reassembly"):
 * - Sequence numbers compare modulo 2^32, so streams that wrap are handled.
 * - A segment wholly before the next expected byte is a retransmission and
 *   is dropped; one that overlaps delivered bytes is trimmed; one ahead of
 *   them waits in an ordered queue. Overlapping copies never replace bytes
 *   already taken: the first copy wins, delivered or queued.
 * - A hole is given up (reported as a gap, never filled with anything) when
 *   the other side has acknowledged bytes beyond it for longer than the
 *   grace time (the capture lost them: TCP will not send them again), when
 *   a flow's or the whole table's queued bytes pass their cap, and when the
 *   flow ends.
 * - A flow whose start the capture did not see starts at its first segment
 *   in each direction (the consumer waits for a message boundary).
 * - FIN ends a direction once every byte before it was handed on; RST ends
 *   the flow at once; a flow with no packet for idle_ns ends as idle; the
 *   least recently active flow is evicted when max_flows are open.
 *
 * Ownership: the table owns its flows and queued bytes. The consumer keeps
 * one pointer per flow (the `user` slot), created when it likes and
 * released in on_close, which is called exactly once per flow. Data given to
 * on_data is valid only during the call. */
#ifndef SAGELLM_TCP_REASM_H
#define SAGELLM_TCP_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "capture/pkt_decode.h"

typedef struct tcp_reasm tcp_reasm;

typedef enum tcp_gap_cause {
    TCP_GAP_LOSS,      /* the peer acknowledged bytes the capture never saw */
    TCP_GAP_MEMORY,    /* a queue cap forced the hole to be given up */
    TCP_GAP_SNAPLEN,   /* the snapshot length cut the segment */
    TCP_GAP_CLOSE,     /* the flow ended with the hole still open */
    TCP_NGAP
} tcp_gap_cause;

typedef enum tcp_close_cause {
    TCP_CLOSE_FIN,     /* both directions finished */
    TCP_CLOSE_RST,     /* reset */
    TCP_CLOSE_IDLE,    /* no packet for idle_ns */
    TCP_CLOSE_END,     /* the capture ended (tcp_reasm_finish) */
    TCP_CLOSE_EVICTED, /* max_flows reached: the least recently active flow goes */
    TCP_CLOSE_REUSED,  /* a new SYN on the same addresses and ports */
    TCP_NCLOSE
} tcp_close_cause;

/* A flow as the consumer sees it. Side 0 is the endpoint that sent the
 * first packet the capture saw. */
typedef struct tcp_flow_info {
    uint64_t id;               /* 1, 2, ... in order of creation */
    int client_side;           /* 0 or 1 when known (from the SYN, or a server port); -1 unknown */
    int syn_seen;              /* the capture saw the connection open */
    uint8_t family;            /* 4 or 6 */
    uint8_t addr[2][16];
    uint16_t port[2];
} tcp_flow_info;

/* In-order bytes of one direction. */
typedef struct tcp_chunk {
    int side;                  /* the sender */
    int64_t ts;                /* when the bytes became available in order (ns) */
    uint32_t seq;              /* sequence number of data[0] */
    uint32_t ack;              /* the carrying segment's acknowledgement number */
    int has_ack;
    const uint8_t *data;
    size_t len;
} tcp_chunk;

typedef struct tcp_reasm_cbs {
    void *ud;
    void (*on_data)(void *ud, const tcp_flow_info *f, void **user, const tcp_chunk *c);
    /* len bytes from seq on will never be seen. */
    void (*on_gap)(void *ud, const tcp_flow_info *f, void **user, int side, int64_t ts,
                   uint32_t seq, uint32_t len, tcp_gap_cause cause);
    /* side sent FIN and every byte before it was handed on. */
    void (*on_fin)(void *ud, const tcp_flow_info *f, void **user, int side, int64_t ts);
    /* The flow is gone; release user. */
    void (*on_close)(void *ud, const tcp_flow_info *f, void *user, int64_t ts,
                     tcp_close_cause cause);
} tcp_reasm_cbs;

typedef struct tcp_reasm_opts {
    size_t flow_mem;           /* queued (out-of-order) bytes per flow (0: 8 MiB) */
    size_t total_mem;          /* queued bytes in all flows (0: 256 MiB) */
    size_t max_flows;          /* open flows at most (0: 1,000,000) */
    int64_t idle_ns;           /* idle expiry (0: 300 s) */
    int64_t gap_grace_ns;      /* how long acknowledged-but-unseen bytes may still come (<0: 0; 0: 20 ms) */
    const uint16_t *server_ports;  /* ports that mark the server side when the SYN was not seen */
    size_t nserver_ports;
} tcp_reasm_opts;

typedef struct tcp_reasm_stats {
    uint64_t segments;         /* segments given to tcp_reasm_segment */
    uint64_t payload_bytes;    /* their payload bytes on the wire */
    uint64_t delivered_bytes;
    uint64_t retrans_segments; /* wholly already seen */
    uint64_t retrans_bytes;
    uint64_t overlap_bytes;    /* bytes dropped by first-copy-wins (delivered or queued) */
    uint64_t ooo_segments;     /* queued because they came ahead of a hole */
    uint64_t out_of_window;    /* more than 1 GiB away from the expected byte: ignored */
    uint64_t ignored;          /* no payload and no SYN for an unknown flow */
    uint64_t gaps[TCP_NGAP], gap_bytes[TCP_NGAP];
    uint64_t flows;            /* flows created */
    uint64_t closes[TCP_NCLOSE];
    uint64_t open_flows, peak_flows;
    uint64_t queued_bytes, peak_queued_bytes;
} tcp_reasm_stats;

/* A new empty table. Never returns NULL. */
tcp_reasm *tcp_reasm_new(const tcp_reasm_opts *o, const tcp_reasm_cbs *cb);

/* Takes one decoded segment captured at ts (ns); calls back as bytes
 * become available in order. */
void tcp_reasm_segment(tcp_reasm *r, int64_t ts, const pkt_tcp *seg);

/* Housekeeping at capture time now: expires idle flows and gives up holes
 * whose grace is over. Cheap when called often. */
void tcp_reasm_tick(tcp_reasm *r, int64_t now);

/* Ends every flow (TCP_CLOSE_END), handing on what was queued with its
 * holes reported as gaps. The table stays usable. */
void tcp_reasm_finish(tcp_reasm *r, int64_t now);

/* Counters (owned by the table). */
const tcp_reasm_stats *tcp_reasm_get_stats(const tcp_reasm *r);

/* Names for the causes, for statistics ("loss", "fin", ...). */
const char *tcp_reasm_gap_name(tcp_gap_cause c);
const char *tcp_reasm_close_name(tcp_close_cause c);

/* Frees the table; open flows are ended first as by tcp_reasm_finish at
 * the last packet's time. NULL is a no-op. */
void tcp_reasm_free(tcp_reasm *r);

#endif
