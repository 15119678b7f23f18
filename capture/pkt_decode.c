/* pkt_decode.c — see pkt_decode.h. Every read is bounds-checked against
 * caplen; IP lengths bound the payload so Ethernet padding never counts as
 * data. */
#include "capture/pkt_decode.h"

#include <string.h>
#include <pcap/dlt.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pkt_decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_NULL: case DLT_LOOP:
    case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
        return 1;
    default:
        return 0;
    }
}

const char *pkt_decode_result_name(pkt_result r)
{
    static const char *const names[PKT_NRESULTS] = {
        "ok", "not_ip", "not_tcp", "fragment", "short", "malformed", "bad_link",
    };
    return (unsigned)r < PKT_NRESULTS ? names[r] : "unknown";
}

/* TCP header at p (n bytes of IP payload present, wire_n on the wire). */
static pkt_result tcp(const uint8_t *p, size_t n, size_t wire_n, pkt_tcp *out)
{
    if (n < 20) return PKT_SHORT;
    size_t hl = (size_t)(p[12] >> 4) * 4;
    if (hl < 20 || hl > wire_n) return PKT_MALFORMED;
    if (n < hl) return PKT_SHORT;
    out->sport = rd16(p);
    out->dport = rd16(p + 2);
    out->seq = rd32(p + 4);
    out->ack = rd32(p + 8);
    out->flags = p[13] & 0x1F;
    out->payload = p + hl;
    out->payload_len = (uint32_t)(n - hl);
    out->payload_wire = (uint32_t)(wire_n - hl);
    return PKT_OK;
}

/* IPv4 packet at p: cap bytes captured, wire bytes on the wire (both from
 * the link layer's point of view). */
static pkt_result ipv4(const uint8_t *p, size_t cap, size_t wire, pkt_tcp *out)
{
    if (cap < 20) return PKT_SHORT;
    if (p[0] >> 4 != 4) return PKT_MALFORMED;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t total = rd16(p + 2);
    /* A zero total length is what TSO leaves on some captured outgoing
     * packets: the frame's length is then the packet's. */
    if (total == 0) total = wire;
    if (ihl < 20 || total < ihl || total > wire) return PKT_MALFORMED;
    if (cap < ihl) return PKT_SHORT;
    uint16_t frag = rd16(p + 6);
    if (frag & 0x3FFF) return PKT_FRAGMENT;      /* MF set or a non-zero offset */
    if (p[9] != 6) return PKT_NOT_TCP;
    out->family = 4;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    size_t have = (cap < total ? cap : total) - ihl;
    return tcp(p + ihl, have, total - ihl, out);
}

static pkt_result ipv6(const uint8_t *p, size_t cap, size_t wire, pkt_tcp *out)
{
    if (cap < 40) return PKT_SHORT;
    if (p[0] >> 4 != 6) return PKT_MALFORMED;
    size_t plen = rd16(p + 4);
    if (plen == 0) plen = wire >= 40 ? wire - 40 : 0;   /* jumbogram or TSO: trust the frame */
    if (40 + plen > wire) return PKT_MALFORMED;
    size_t end = 40 + plen, off = 40;
    uint8_t nh = p[6];
    /* Extension headers, at most 16 of them. */
    for (int i = 0; i < 16; i++) {
        if (nh == 6) break;
        if (nh == 44) return PKT_FRAGMENT;
        if (nh != 0 && nh != 43 && nh != 60 && nh != 51) return PKT_NOT_TCP;
        if (off + 8 > cap) return PKT_SHORT;
        size_t len = nh == 51 ? ((size_t)p[off + 1] + 2) * 4 : ((size_t)p[off + 1] + 1) * 8;
        nh = p[off];
        off += len;
        if (off > end) return PKT_MALFORMED;
    }
    if (nh != 6) return PKT_MALFORMED;
    out->family = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    size_t have = (cap < end ? cap : end);
    if (have < off) return PKT_SHORT;
    return tcp(p + off, have - off, end - off, out);
}

static pkt_result by_ethertype(uint16_t type, const uint8_t *p, size_t cap, size_t wire, pkt_tcp *out)
{
    if (type == ETHERTYPE_IPV4) return ipv4(p, cap, wire, out);
    if (type == ETHERTYPE_IPV6) return ipv6(p, cap, wire, out);
    return PKT_NOT_IP;
}

/* BSD loopback: the address family in the sender's byte order (NULL) or
 * network order (LOOP). AF_INET is 2 everywhere; AF_INET6 is 10 (Linux),
 * 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS). */
static pkt_result loopback(uint32_t fam, const uint8_t *p, size_t cap, size_t wire, pkt_tcp *out)
{
    if (fam == 2) return ipv4(p, cap, wire, out);
    if (fam == 10 || fam == 24 || fam == 28 || fam == 30) return ipv6(p, cap, wire, out);
    return PKT_NOT_IP;
}

pkt_result pkt_decode(int dlt, const uint8_t *d, size_t cap, size_t wire, pkt_tcp *out)
{
    if (wire < cap) wire = cap;
    switch (dlt) {
    case DLT_EN10MB: {
        if (cap < 14) return PKT_SHORT;
        size_t off = 12;
        uint16_t type = rd16(d + off);
        for (int i = 0; i < 2 && (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ); i++) {
            off += 4;
            if (cap < off + 2) return PKT_SHORT;
            type = rd16(d + off);
        }
        off += 2;
        return by_ethertype(type, d + off, cap - off, wire - off, out);
    }
    case DLT_LINUX_SLL:
        if (cap < 16) return PKT_SHORT;
        return by_ethertype(rd16(d + 14), d + 16, cap - 16, wire - 16, out);
    case DLT_LINUX_SLL2:
        if (cap < 20) return PKT_SHORT;
        return by_ethertype(rd16(d), d + 20, cap - 20, wire - 20, out);
    case DLT_NULL: {
        if (cap < 4) return PKT_SHORT;
        uint32_t le = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
        uint32_t fam = le < 65536 ? le : rd32(d);
        return loopback(fam, d + 4, cap - 4, wire - 4, out);
    }
    case DLT_LOOP:
        if (cap < 4) return PKT_SHORT;
        return loopback(rd32(d), d + 4, cap - 4, wire - 4, out);
    case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
        if (cap < 1) return PKT_SHORT;
        if (d[0] >> 4 == 4) return ipv4(d, cap, wire, out);
        if (d[0] >> 4 == 6) return ipv6(d, cap, wire, out);
        return PKT_NOT_IP;
    default:
        return PKT_BAD_LINK;
    }
}
