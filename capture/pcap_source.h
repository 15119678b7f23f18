/* pcap_source.h — packets from libpcap into the capture core: a live
 * interface (`any` and `lo` included) or a pcap/pcapng file, with a BPF
 * filter, nanosecond timestamps, and the kernel's drop counters.
 *
 * The live loop polls the capture's descriptor together with a caller's
 * stop descriptor (a signalfd for SIGINT/SIGTERM), so a signal ends it
 * cleanly; packets still buffered in the kernel are then drained for a
 * bounded time. Reading a file checks the stop descriptor every few
 * thousand packets.
 *
 * Ownership: a pcap_source owns its libpcap handle; the core is the
 * caller's. */
#ifndef SAGELLM_PCAP_SOURCE_H
#define SAGELLM_PCAP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture_core.h"

typedef struct pcap_source pcap_source;

typedef struct pcap_source_opts {
    const char *iface;         /* live capture on this interface, or */
    const char *file;          /* read this pcap or pcapng file ("-": stdin) */
    const char *filter;        /* BPF expression (NULL: "tcp") */
    int snaplen;               /* bytes kept per packet (0: 262144) */
    int buffer_mb;             /* kernel buffer for live capture (0: 64) */
} pcap_source_opts;

/* Why pcap_source_run returned. */
typedef enum pcap_source_end {
    PCAP_END_EOF,              /* end of the file */
    PCAP_END_DURATION,         /* the duration passed */
    PCAP_END_MAX,              /* --max-requests records written */
    PCAP_END_SIGNAL,           /* the stop descriptor became readable */
    PCAP_END_ERROR,            /* see the return code */
} pcap_source_end;

typedef struct pcap_source_stats {
    uint64_t packets;          /* packets read */
    uint64_t kernel_drops;     /* live: dropped for lack of buffer space (pcap_stats ps_drop) */
    uint64_t if_drops;         /* live: dropped by the interface or driver (ps_ifdrop) */
    int have_kernel_stats;     /* 1 when the counters above come from pcap_stats */
    pcap_source_end end;
} pcap_source_stats;

/* The BPF filter for the options: "tcp and (port P or ...) and (EXPR)".
 * ports may be empty and expr NULL. The caller frees the result. */
char *pcap_source_filter(const uint16_t *ports, size_t nports, const char *expr);

/* Opens and activates the source and installs the filter. NULL with err
 * filled on failure; *rc is then ERR_SYSTEM (no permission, no such
 * interface, unreadable file), ERR_INPUT (not a capture file, or a link
 * type the decoder does not know) or ERR_USAGE (a filter that does not
 * compile). */
pcap_source *pcap_source_open(const pcap_source_opts *o, int *rc, char *err, size_t errlen);

/* The link type (a DLT_ value) and its name ("EN10MB", "LINUX_SLL", ...). */
int pcap_source_dlt(const pcap_source *s);
const char *pcap_source_dlt_name(const pcap_source *s);
/* When the capture started (ns, wall clock): the first packet's time for
 * a file (0 when it has none), the opening for an interface. */
int64_t pcap_source_start_ns(const pcap_source *s);
/* The snapshot length in effect. */
int pcap_source_snaplen(const pcap_source *s);

/* Feeds packets to core until the end of the file, duration_ns of capture
 * time (0: no limit), --max-requests, or until stop_fd (-1: none) is
 * readable. Returns 0, ERR_INPUT (a corrupt or truncated file; the packets
 * before the damage were used), or ERR_SYSTEM (a read error, or the core
 * could not write); err says what. st is filled in every case. */
int pcap_source_run(pcap_source *s, capture_core *core, int64_t duration_ns, int stop_fd,
                    pcap_source_stats *st, char *err, size_t errlen);

/* Closes the source. NULL is a no-op. */
void pcap_source_close(pcap_source *s);

#endif
