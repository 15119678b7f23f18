/* tcp_reasm.c — see tcp_reasm.h. The flow table is a chained hash table
 * keyed symmetrically on the two endpoints, with every flow also on a list
 * ordered by last activity (idle expiry and eviction take from its head)
 * and, while it holds queued bytes, on a list of such flows (grace checks
 * and the total memory cap walk only those). */
#include "capture/tcp_reasm.h"
#include "common/rng.h"
#include "common/list.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_AHEAD ((int64_t)1 << 30)       /* the largest window TCP can scale to */
#define SEG_OVERHEAD 48                    /* bytes counted per queued piece on top of its data */

typedef struct seg {
    struct seg *next;
    uint32_t seq, len;
    int64_t ts;
    uint32_t ack;
    uint8_t has_ack;
    uint8_t data[];
} seg;

typedef struct half {
    seg *q;                    /* queued pieces: sorted, never overlapping */
    size_t qbytes;
    uint32_t next;             /* next byte expected */
    uint32_t peer_ack;         /* highest acknowledgement the other side sent for these bytes */
    uint32_t fin_seq, isn;
    uint8_t synced, have_peer_ack, fin, closed, syn;
    int64_t ts;                /* delivery time of the last bytes handed on (non-decreasing) */
    int64_t suspect;           /* since when the peer acknowledged bytes we lack (0: not) */
    int64_t blocked;           /* since when the head waits for the other side's bytes (0: not) */
} half;

typedef struct tcp_flow {
    tcp_flow_info info;
    struct tcp_flow *hnext;                /* hash chain */
    list_link(struct tcp_flow) lru;        /* activity list, least recent first */
    list_link(struct tcp_flow) queued;     /* queued-bytes list */
    int pending;
    half h[2];
    int64_t last_ts;
    uint64_t hash;
    void *user;
} tcp_flow;

struct tcp_reasm {
    tcp_reasm_opts o;
    tcp_reasm_cbs cb;
    uint16_t *ports;
    tcp_flow **buckets;
    size_t nbuckets;
    list_head(tcp_flow) lru;               /* through tcp_flow.lru */
    list_head(tcp_flow) queued;            /* through tcp_flow.queued */
    uint64_t next_id;
    int64_t last_ts, next_tick;
    tcp_reasm_stats st;
};

static const char *const gap_names[TCP_NGAP] = { "loss", "memory", "snaplen", "close" };
static const char *const close_names[TCP_NCLOSE] = { "fin", "rst", "idle", "end", "evicted", "reused" };

const char *tcp_reasm_gap_name(tcp_gap_cause c) { return (unsigned)c < TCP_NGAP ? gap_names[c] : "?"; }
const char *tcp_reasm_close_name(tcp_close_cause c) { return (unsigned)c < TCP_NCLOSE ? close_names[c] : "?"; }

static int32_t sdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

tcp_reasm *tcp_reasm_new(const tcp_reasm_opts *o, const tcp_reasm_cbs *cb)
{
    tcp_reasm *r = xcalloc(1, sizeof *r);
    r->o = *o;
    if (!r->o.flow_mem) r->o.flow_mem = 8u << 20;
    if (!r->o.total_mem) r->o.total_mem = 256u << 20;
    if (!r->o.max_flows) r->o.max_flows = 1000000;
    if (!r->o.idle_ns) r->o.idle_ns = 300LL * 1000000000;
    if (r->o.gap_grace_ns == 0) r->o.gap_grace_ns = 20LL * 1000000;
    if (r->o.gap_grace_ns < 0) r->o.gap_grace_ns = 0;
    if (o->nserver_ports) {
        r->ports = xmalloc(o->nserver_ports * sizeof *r->ports);
        memcpy(r->ports, o->server_ports, o->nserver_ports * sizeof *r->ports);
        r->o.server_ports = r->ports;
    }
    r->cb = *cb;
    r->nbuckets = 1024;
    r->buckets = xcalloc(r->nbuckets, sizeof *r->buckets);
    return r;
}

const tcp_reasm_stats *tcp_reasm_get_stats(const tcp_reasm *r) { return &r->st; }

/* ---- the table ---- */

static uint64_t endpoint_hash(uint8_t fam, const uint8_t *a, uint16_t port)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, a + 8, 8);
    return mix64(x ^ mix64(y ^ ((uint64_t)port << 8 | fam)));
}

static int is_server_port(const tcp_reasm *r, uint16_t p)
{
    for (size_t i = 0; i < r->o.nserver_ports; i++)
        if (r->o.server_ports[i] == p) return 1;
    return 0;
}

/* Which side of f sent p: 0, 1, or -1 when p is not of this flow. */
static int side_of(const tcp_flow *f, const pkt_tcp *p)
{
    const tcp_flow_info *i = &f->info;
    if (i->family != p->family) return -1;
    size_t n = p->family == 4 ? 4 : 16;
    if (p->sport == i->port[0] && p->dport == i->port[1] && !memcmp(p->src, i->addr[0], n) &&
        !memcmp(p->dst, i->addr[1], n))
        return 0;
    if (p->sport == i->port[1] && p->dport == i->port[0] && !memcmp(p->src, i->addr[1], n) &&
        !memcmp(p->dst, i->addr[0], n))
        return 1;
    return -1;
}

static void grow(tcp_reasm *r)
{
    size_t n = r->nbuckets * 2;
    tcp_flow **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < r->nbuckets; i++) {
        tcp_flow *f = r->buckets[i];
        while (f) {
            tcp_flow *nx = f->hnext;
            size_t k = f->hash & (n - 1);
            f->hnext = b[k];
            b[k] = f;
            f = nx;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

static void pending_update(tcp_reasm *r, tcp_flow *f)
{
    int want = f->h[0].q || f->h[1].q;
    if (want == f->pending) return;
    if (want) list_push_front(&r->queued, f, queued);
    else list_remove(&r->queued, f, queued);
    f->pending = want;
}

static void close_flow(tcp_reasm *r, tcp_flow *f, int64_t ts, tcp_close_cause cause);

static tcp_flow *create(tcp_reasm *r, const pkt_tcp *p, uint64_t hash, int64_t ts)
{
    if (r->st.open_flows >= r->o.max_flows && r->lru.first)
        close_flow(r, r->lru.first, ts, TCP_CLOSE_EVICTED);
    if (r->st.open_flows + 1 > r->nbuckets * 3 / 4) grow(r);
    tcp_flow *f = xcalloc(1, sizeof *f);
    f->info.id = ++r->next_id;
    f->info.family = p->family;
    memcpy(f->info.addr[0], p->src, 16);
    memcpy(f->info.addr[1], p->dst, 16);
    f->info.port[0] = p->sport;
    f->info.port[1] = p->dport;
    f->info.client_side = -1;
    if ((p->flags & (PKT_SYN | PKT_ACK)) == PKT_SYN) {
        f->info.client_side = 0;
        f->info.syn_seen = 1;
    } else if ((p->flags & (PKT_SYN | PKT_ACK)) == (PKT_SYN | PKT_ACK)) {
        f->info.client_side = 1;
        f->info.syn_seen = 1;
    } else if (is_server_port(r, p->dport)) {
        f->info.client_side = 0;
    } else if (is_server_port(r, p->sport)) {
        f->info.client_side = 1;
    }
    f->hash = hash;
    f->last_ts = ts;
    size_t k = hash & (r->nbuckets - 1);
    f->hnext = r->buckets[k];
    r->buckets[k] = f;
    list_push_back(&r->lru, f, lru);
    r->st.flows++;
    r->st.open_flows++;
    if (r->st.open_flows > r->st.peak_flows) r->st.peak_flows = r->st.open_flows;
    return f;
}

static void free_queue(tcp_reasm *r, half *h)
{
    seg *s = h->q;
    while (s) {
        seg *nx = s->next;
        r->st.queued_bytes -= s->len + SEG_OVERHEAD;
        free(s);
        s = nx;
    }
    h->q = NULL;
    h->qbytes = 0;
}

/* ---- delivery ---- */

static void deliver(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, uint32_t seq,
                    const uint8_t *d, uint32_t n, uint32_t ack, int has_ack)
{
    half *h = &f->h[side];
    if (ts > h->ts) h->ts = ts;
    h->next = seq + n;
    r->st.delivered_bytes += n;
    if (r->cb.on_data) {
        tcp_chunk c = { side, h->ts, seq, ack, has_ack, d, n };
        r->cb.on_data(r->cb.ud, &f->info, &f->user, &c);
    }
}

static void gap(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, uint32_t n, tcp_gap_cause cause)
{
    half *h = &f->h[side];
    if (!n) return;
    if (ts > h->ts) h->ts = ts;
    uint32_t at = h->next;
    h->next += n;
    r->st.gaps[cause]++;
    r->st.gap_bytes[cause] += n;
    if (r->cb.on_gap) r->cb.on_gap(r->cb.ud, &f->info, &f->user, side, h->ts, at, n, cause);
}

static void check_fin(tcp_reasm *r, tcp_flow *f, int side)
{
    half *h = &f->h[side];
    if (h->fin && !h->closed && h->next == h->fin_seq && !h->q) {
        h->closed = 1;
        if (r->cb.on_fin) r->cb.on_fin(r->cb.ud, &f->info, &f->user, side, h->ts);
    }
}

/* 1 while a segment acknowledging `ack` must wait: it acknowledges bytes of
 * the other side that were not handed on yet (the capture reordered the
 * two directions, or lost those bytes). Handing it on first would let a
 * response overtake its request. */
static int waits_for_peer(const tcp_flow *f, int side, uint32_t ack, int has_ack)
{
    const half *o = &f->h[!side];
    if (!has_ack || !o->synced || o->closed) return 0;
    int32_t d = sdiff(ack, o->next);
    if (d <= 0 || d > MAX_AHEAD) return 0;
    if (o->fin && o->next == o->fin_seq && d == 1) return 0;   /* it acknowledges the FIN */
    return 1;
}

/* Hands on queued pieces of `side` that the expected byte has reached and
 * whose acknowledgement the other side has caught up with (or that waited
 * longer than the grace, or all of them with force). Returns 1 if it
 * handed anything on. */
static int drain(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, int force)
{
    half *h = &f->h[side];
    seg *s;
    int progress = 0;
    while ((s = h->q) && sdiff(s->seq, h->next) <= 0) {
        uint32_t skip = (uint32_t)-sdiff(s->seq, h->next);
        if (skip < s->len && !force && waits_for_peer(f, side, s->ack, s->has_ack)) {
            if (!h->blocked) h->blocked = ts > 0 ? ts : 1;
            if (ts - h->blocked < r->o.gap_grace_ns) break;
        }
        h->blocked = 0;
        h->q = s->next;
        h->qbytes -= s->len + SEG_OVERHEAD;
        r->st.queued_bytes -= s->len + SEG_OVERHEAD;
        if (skip < s->len) {
            int64_t t = s->ts > ts ? s->ts : ts;
            deliver(r, f, side, t, s->seq + skip, s->data + skip, s->len - skip, s->ack, s->has_ack);
            progress = 1;
        }
        free(s);
    }
    if (!h->q) h->blocked = 0;
    pending_update(r, f);
    check_fin(r, f, side);
    return progress;
}

/* Drains both directions until neither moves (bytes of one may free the
 * other's). */
static void drain_both(tcp_reasm *r, tcp_flow *f, int64_t ts, int force)
{
    for (int guard = 0; guard < 1 << 20; guard++)
        if (!(drain(r, f, 0, ts, force) | drain(r, f, 1, ts, force))) break;
}

/* Gives up the hole before the first queued piece (or before `to` when the
 * queue is empty), then hands on what follows it. */
static void skip_hole(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, tcp_gap_cause cause)
{
    half *h = &f->h[side];
    if (!h->q) return;
    int32_t d = sdiff(h->q->seq, h->next);
    if (d > 0) gap(r, f, side, ts, (uint32_t)d, cause);
    drain_both(r, f, ts, cause == TCP_GAP_CLOSE || cause == TCP_GAP_MEMORY);
}

/* Inserts [seq, seq+n) into the queue, keeping only bytes no queued piece
 * holds yet (first copy wins). */
static void enqueue(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, uint32_t seq,
                    const uint8_t *d, uint32_t n, uint32_t ack, int has_ack)
{
    half *h = &f->h[side];
    seg **pp = &h->q;
    uint32_t s = seq, e = seq + n;
    while (sdiff(e, s) > 0) {
        seg *q = *pp;
        uint32_t piece_end = e;
        if (q && sdiff(q->seq, s) <= 0) {
            uint32_t qe = q->seq + q->len;
            if (sdiff(s, qe) >= 0) {            /* q ends before s */
                pp = &q->next;
                continue;
            }
            uint32_t ov = sdiff(e, qe) < 0 ? e : qe;  /* [s, ov) is already queued */
            r->st.overlap_bytes += ov - s;
            d += ov - s;
            s = ov;
            pp = &q->next;
            continue;
        }
        if (q && sdiff(q->seq, e) < 0) piece_end = q->seq;  /* stop where q starts */
        uint32_t len = piece_end - s;
        seg *ns = xmalloc(sizeof *ns + len);
        ns->seq = s;
        ns->len = len;
        ns->ts = ts;
        ns->ack = ack;
        ns->has_ack = (uint8_t)has_ack;
        memcpy(ns->data, d, len);
        ns->next = q;
        *pp = ns;
        pp = &ns->next;
        h->qbytes += len + SEG_OVERHEAD;
        r->st.queued_bytes += len + SEG_OVERHEAD;
        d += len;
        s = piece_end;
    }
    if (r->st.queued_bytes > r->st.peak_queued_bytes) r->st.peak_queued_bytes = r->st.queued_bytes;
    pending_update(r, f);
}

/* Gives up holes while the flow or the table holds more than its cap. */
static void enforce_caps(tcp_reasm *r, tcp_flow *f, int side, int64_t ts)
{
    while (f->h[side].q && f->h[0].qbytes + f->h[1].qbytes > r->o.flow_mem)
        skip_hole(r, f, side, ts, TCP_GAP_MEMORY);
    while (f->h[!side].q && f->h[0].qbytes + f->h[1].qbytes > r->o.flow_mem)
        skip_hole(r, f, !side, ts, TCP_GAP_MEMORY);
    /* Each round empties at least one piece, so this ends. */
    while (r->st.queued_bytes > r->o.total_mem && r->queued.first) {
        tcp_flow *g = r->queued.first;
        skip_hole(r, g, g->h[0].q ? 0 : 1, ts, TCP_GAP_MEMORY);
    }
}

/* The other side acknowledged bytes of `side` that were never seen: after
 * the grace, give up the hole up to what was acknowledged. */
static void check_evidence(tcp_reasm *r, tcp_flow *f, int side, int64_t now)
{
    half *h = &f->h[side];
    for (int guard = 0; guard < 1 << 20; guard++) {
        if (!h->q || !h->have_peer_ack || sdiff(h->peer_ack, h->next) <= 0) {
            h->suspect = 0;
            return;
        }
        if (!h->suspect) h->suspect = now > 0 ? now : 1;
        if (now - h->suspect < r->o.gap_grace_ns) return;
        h->suspect = 0;
        uint32_t to = sdiff(h->peer_ack, h->q->seq) >= 0 ? h->q->seq : h->peer_ack;
        gap(r, f, side, now, to - h->next, TCP_GAP_LOSS);
        drain_both(r, f, now, 0);
    }
}

/* Ends a direction's stream at the flow's end: every queued piece is
 * handed on, holes and unseen acknowledged bytes reported as gaps. */
static void flush_half(tcp_reasm *r, tcp_flow *f, int side, int64_t ts)
{
    half *h = &f->h[side];
    if (!h->synced) return;
    for (int guard = 0; h->q && guard < 1 << 20; guard++) {
        if (sdiff(h->q->seq, h->next) <= 0) {      /* no hole: it was waiting for the other side */
            drain(r, f, side, ts, 1);
            continue;
        }
        int lost = h->have_peer_ack && sdiff(h->peer_ack, h->q->seq) >= 0;
        skip_hole(r, f, side, ts, lost ? TCP_GAP_LOSS : TCP_GAP_CLOSE);
    }
    if (h->fin && !h->closed && sdiff(h->fin_seq, h->next) > 0)
        gap(r, f, side, ts, (uint32_t)sdiff(h->fin_seq, h->next), TCP_GAP_LOSS);
    else if (!h->fin && h->have_peer_ack && sdiff(h->peer_ack, h->next) > 0 &&
             sdiff(h->peer_ack, h->next) < MAX_AHEAD)
        gap(r, f, side, ts, (uint32_t)sdiff(h->peer_ack, h->next), TCP_GAP_LOSS);
    check_fin(r, f, side);
}

static void close_flow(tcp_reasm *r, tcp_flow *f, int64_t ts, tcp_close_cause cause)
{
    if (cause != TCP_CLOSE_FIN) {
        flush_half(r, f, 0, ts);
        flush_half(r, f, 1, ts);
    }
    free_queue(r, &f->h[0]);
    free_queue(r, &f->h[1]);
    pending_update(r, f);
    size_t k = f->hash & (r->nbuckets - 1);
    tcp_flow **pp = &r->buckets[k];
    while (*pp && *pp != f) pp = &(*pp)->hnext;
    if (*pp) *pp = f->hnext;
    list_remove(&r->lru, f, lru);
    r->st.open_flows--;
    r->st.closes[cause]++;
    if (r->cb.on_close) r->cb.on_close(r->cb.ud, &f->info, f->user, ts, cause);
    free(f);
}

/* ---- segments ---- */

static void take_data(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, uint32_t seq,
                      const uint8_t *d, uint32_t len, uint32_t wire, uint32_t ack, int has_ack)
{
    half *h = &f->h[side];
    int64_t rel = sdiff(seq, h->next);
    if (rel > MAX_AHEAD || rel < -MAX_AHEAD) {
        r->st.out_of_window++;
        return;
    }
    if (rel + (int64_t)wire <= 0) {
        r->st.retrans_segments++;
        r->st.retrans_bytes += wire;
        return;
    }
    if (rel < 0) {                              /* overlaps bytes already handed on */
        uint32_t skip = (uint32_t)-rel;
        r->st.overlap_bytes += skip;
        seq += skip;
        wire -= skip;
        if (skip >= len) {
            d += len;
            len = 0;
        } else {
            d += skip;
            len -= skip;
        }
        rel = 0;
    }
    if (rel == 0 && !(len && (h->q || waits_for_peer(f, side, ack, has_ack)))) {
        if (len) deliver(r, f, side, ts, seq, d, len, ack, has_ack);
        if (wire > len) gap(r, f, side, ts, wire - len, TCP_GAP_SNAPLEN);
        drain_both(r, f, ts, 0);
        return;
    }
    if (rel == 0) {                             /* in order, but behind the other side */
        enqueue(r, f, side, ts, seq, d, len, ack, has_ack);
        drain_both(r, f, ts, 0);
        enforce_caps(r, f, side, ts);
        return;
    }
    r->st.ooo_segments++;
    if (len) {
        enqueue(r, f, side, ts, seq, d, len, ack, has_ack);
        enforce_caps(r, f, side, ts);
    }
}

static void segment(tcp_reasm *r, tcp_flow *f, int side, int64_t ts, const pkt_tcp *p)
{
    half *h = &f->h[side], *o = &f->h[!side];
    uint32_t seq = p->seq;
    if (p->flags & PKT_ACK && o->synced &&
        (!o->have_peer_ack || sdiff(p->ack, o->peer_ack) > 0)) {
        o->peer_ack = p->ack;
        o->have_peer_ack = 1;
    }
    if (p->flags & PKT_RST) {
        close_flow(r, f, ts, TCP_CLOSE_RST);
        return;
    }
    if (p->flags & PKT_SYN) {
        if (!h->syn) {
            h->syn = 1;
            h->isn = seq;
            if (!h->synced || sdiff(seq + 1, h->next) > 0) h->next = seq + 1;
            h->synced = 1;
            if (!f->info.syn_seen) {
                f->info.syn_seen = 1;
                f->info.client_side = p->flags & PKT_ACK ? !side : side;
            }
        }
        seq++;                                  /* data of a SYN follows it */
    }
    if (!h->synced) {
        h->next = seq;
        h->synced = 1;
    }
    if (p->flags & PKT_FIN && !h->fin) {
        h->fin = 1;
        h->fin_seq = seq + p->payload_wire;
    }
    if (p->payload_wire)
        take_data(r, f, side, ts, seq, p->payload, p->payload_len, p->payload_wire, p->ack,
                  (p->flags & PKT_ACK) != 0);
    check_fin(r, f, side);
    check_evidence(r, f, 0, ts);
    check_evidence(r, f, 1, ts);
    if (f->h[0].closed && f->h[1].closed) close_flow(r, f, ts, TCP_CLOSE_FIN);
}

void tcp_reasm_segment(tcp_reasm *r, int64_t ts, const pkt_tcp *p)
{
    r->st.segments++;
    r->st.payload_bytes += p->payload_wire;
    if (ts > r->last_ts) r->last_ts = ts;
    uint64_t hash = endpoint_hash(p->family, p->src, p->sport) + endpoint_hash(p->family, p->dst, p->dport);
    tcp_flow *f = r->buckets[hash & (r->nbuckets - 1)];
    int side = -1;
    for (; f; f = f->hnext)
        if (f->hash == hash && (side = side_of(f, p)) >= 0) break;
    int syn_only = (p->flags & (PKT_SYN | PKT_ACK | PKT_RST)) == PKT_SYN;
    if (f && syn_only && (!f->h[side].syn || f->h[side].isn != p->seq)) {
        close_flow(r, f, ts, TCP_CLOSE_REUSED);  /* a new connection on the same 4-tuple */
        f = NULL;
    }
    if (!f) {
        if (!(p->flags & PKT_SYN) && !p->payload_wire) {
            r->st.ignored++;
            return;
        }
        if (p->flags & PKT_RST) {
            r->st.ignored++;
            return;
        }
        f = create(r, p, hash, ts);
        side = 0;
    }
    if (ts > f->last_ts) f->last_ts = ts;
    if (r->lru.last != f) {
        list_remove(&r->lru, f, lru);
        list_push_back(&r->lru, f, lru);
    }
    segment(r, f, side, ts, p);
}

void tcp_reasm_tick(tcp_reasm *r, int64_t now)
{
    if (now < r->next_tick) return;
    r->next_tick = now + 5000000;               /* at most every 5 ms of capture time */
    while (r->lru.first && now - r->lru.first->last_ts >= r->o.idle_ns)
        close_flow(r, r->lru.first, now, TCP_CLOSE_IDLE);
    tcp_flow *f = r->queued.first;
    while (f) {
        tcp_flow *nx = f->queued.next;                /* f may leave the list, not be freed */
        check_evidence(r, f, 0, now);
        check_evidence(r, f, 1, now);
        drain_both(r, f, now, 0);
        f = nx;
    }
}

void tcp_reasm_finish(tcp_reasm *r, int64_t now)
{
    while (r->lru.first) close_flow(r, r->lru.first, now, TCP_CLOSE_END);
}

void tcp_reasm_free(tcp_reasm *r)
{
    if (!r) return;
    tcp_reasm_finish(r, r->last_ts);
    free(r->buckets);
    free(r->ports);
    free(r);
}
