/* test_capture.h — helpers for the capture unit tests: frames built in
 * memory (any supported link type, IPv4 or IPv6) fed through the same
 * capture_core a real capture uses, with the records collected in memory
 * and each one checked against the trace format as it is written. */
#ifndef SAGELLM_TEST_CAPTURE_H
#define SAGELLM_TEST_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "capture/capture_core.h"

#define TCAP_MAX_RECS 512

typedef struct tcap {
    capture_out *out;
    capture_core *core;
    cJSON *recs[TCAP_MAX_RECS];  /* parsed records, in the order written */
    int n;
    int bad;                     /* records trace_rec_parse refused */
    int64_t last_t_us;
    int disorder;                /* a record went back in time */
    int finished;
} tcap;

/* Options for tcap_open; zero means the defaults. */
typedef struct tcap_opts {
    capture_core_opts core;
    capture_out_opts out;        /* sink fields are filled by tcap_open */
} tcap_opts;

/* Opens a capture writing to memory. o may be NULL. */
void tcap_open(tcap *t, const tcap_opts *o);
/* Ends every flow (capture_core_finish) and closes the writer; the
 * statistics stay readable until tcap_close. */
void tcap_finish(tcap *t);
/* Frees everything (tcap_finish first if not done). */
void tcap_close(tcap *t);

/* One TCP connection between a client and a server. seq fields are the
 * next byte each side sends; ts advances by 10 us per packet. */
typedef struct tconn {
    int dlt;                     /* link type of the frames (default DLT_EN10MB) */
    int family;                  /* 4 or 6 */
    uint8_t cli[16], srv[16];
    uint16_t cport, sport;
    uint32_t cseq, sseq;         /* next sequence number of client / server */
    int64_t ts;                  /* capture time of the next packet (ns) */
} tconn;

/* A connection from 10.0.0.1:40000 to 10.0.0.2:8000 (or fd00::1/::2 for
 * family 6) with the given initial sequence numbers. */
void tconn_init(tconn *c, int family, uint32_t cisn, uint32_t sisn);

/* Builds one frame into buf (cap bytes); returns its length. */
size_t tpkt_build(uint8_t *buf, size_t cap, int dlt, int family, const uint8_t *src,
                  const uint8_t *dst, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                  uint8_t flags, const void *payload, size_t n);

/* Feeds one segment from the client (from_client = 1) or the server at
 * sequence number seq, acknowledging the other side's current seq. Does not
 * move the connection's seq fields. */
void tconn_seg(tcap *t, tconn *c, int from_client, uint32_t seq, uint8_t flags,
               const void *data, size_t n);
/* Sends data in order in segments of at most mss bytes, advancing seq. */
void tconn_send(tcap *t, tconn *c, int from_client, const void *data, size_t n, size_t mss);
void tconn_sends(tcap *t, tconn *c, int from_client, const char *text);
/* SYN, SYN-ACK, ACK. */
void tconn_open(tcap *t, tconn *c);
/* FIN from both sides. */
void tconn_close(tcap *t, tconn *c);

/* A chat request with a JSON body whose user message is `content`. */
char *treq_chat(const char *content, const char *extra_headers);
/* An SSE response, chunked, with n content events, a usage chunk and
 * [DONE]: "HTTP/1.1 200 OK ..." (the caller frees it). */
char *tresp_sse(int n, int prompt_tokens);
/* The content string of the first user message of a record's body, or NULL. */
const char *trec_content(const cJSON *rec);
/* orig.FIELD of a record as a number (-1 when absent) or string (NULL). */
double trec_orig_num(const cJSON *rec, const char *field);
const char *trec_orig_str(const cJSON *rec, const char *field);

#endif
