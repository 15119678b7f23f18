/* pkt_decode.h — from a captured frame to a TCP segment: the link layer
 * (Ethernet with up to two VLAN tags, Linux cooked SLL and SLL2, BSD
 * loopback DLT_NULL and DLT_LOOP, raw IP), then IPv4 or IPv6 (extension
 * headers skipped), then TCP. Checksums are not verified (offloading makes
 * them wrong in most captures); IP fragments are reported, not reassembled.
 *
 * Ownership: the decoded segment points into the caller's frame and is
 * valid as long as the frame is. Nothing is allocated. */
#ifndef SAGELLM_PKT_DECODE_H
#define SAGELLM_PKT_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* TCP flag bits as on the wire. */
enum { PKT_FIN = 0x01, PKT_SYN = 0x02, PKT_RST = 0x04, PKT_PSH = 0x08, PKT_ACK = 0x10 };

/* What pkt_decode found; only PKT_OK fills a segment. */
typedef enum pkt_result {
    PKT_OK = 0,
    PKT_NOT_IP,         /* ARP, LLDP, ... */
    PKT_NOT_TCP,        /* UDP, ICMP, ... */
    PKT_FRAGMENT,       /* an IP fragment (not reassembled) */
    PKT_SHORT,          /* the captured bytes end inside a header */
    PKT_MALFORMED,      /* a header contradicts itself (bad lengths, versions) */
    PKT_BAD_LINK,       /* a link type this decoder does not know */
    PKT_NRESULTS
} pkt_result;

/* One TCP segment. Addresses are 16 bytes; IPv4 ones use the first 4. */
typedef struct pkt_tcp {
    uint8_t family;             /* 4 or 6 */
    uint8_t flags;              /* PKT_* flag bits */
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
    uint32_t seq, ack;
    const uint8_t *payload;
    uint32_t payload_len;       /* payload bytes present in the capture */
    uint32_t payload_wire;      /* payload bytes on the wire (more when the snaplen cut it) */
} pkt_tcp;

/* Decodes one frame of link type dlt (a pcap DLT_ value) whose first
 * caplen bytes were captured out of wirelen. Returns PKT_OK and fills *out,
 * or the reason the frame is not a usable TCP segment. */
pkt_result pkt_decode(int dlt, const uint8_t *data, size_t caplen, size_t wirelen, pkt_tcp *out);

/* 1 if pkt_decode understands link type dlt. */
int pkt_decode_link_supported(int dlt);

/* A short name for a pkt_result ("not_tcp", ...), for statistics. */
const char *pkt_decode_result_name(pkt_result r);

#endif
