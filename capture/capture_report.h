/* capture_report.h — the end-of-run statistics of `capture`: packets,
 * kernel drops (pcap_stats), flows, requests, records, and incomplete
 * exchanges by reason; as text for stderr and as JSON for --stats.
 *
 * Ownership: the report only points at counters its caller owns. */
#ifndef SAGELLM_CAPTURE_REPORT_H
#define SAGELLM_CAPTURE_REPORT_H

#include <cjson/cJSON.h>

#include "capture/capture_core.h"
#include "capture/capture_out.h"
#include "capture/capture_proxy.h"
#include "capture/pcap_source.h"
#include "common/util.h"

typedef struct capture_report {
    const char *mode;                  /* "live", "file" or "proxy" */
    const char *source;                /* the interface, file, or the proxy's URL */
    const char *end;                   /* why the capture stopped, in words */
    const pcap_source_stats *pcap;     /* packet capture only */
    const capture_core *core;          /* packet capture only */
    const capture_proxy_stats *proxy;  /* proxy only */
    const capture_out_stats *out;
    const char *out_path;
    double seconds;                    /* wall time of the run */
} capture_report;

/* The statistics as a JSON object (the caller frees it). */
cJSON *capture_report_json(const capture_report *r);

/* The statistics as a few lines of text, appended to b. */
void capture_report_text(const capture_report *r, strbuf *b);

#endif
