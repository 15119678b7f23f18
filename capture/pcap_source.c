/* pcap_source.c — see pcap_source.h. */
#include "capture/pcap_source.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pcap/pcap.h>

#define POLL_MS 100                /* live: housekeeping at least this often */
#define DRAIN_ROUNDS 20            /* live: after the stop, rounds of draining at most */
#define FILE_CHECK_EVERY 4096      /* file: packets between looks at the stop descriptor */

struct pcap_source {
    pcap_t *p;
    int live;
    int nano;
    int dlt;
    char *name;
    capture_core *core;
    int core_failed;
    uint64_t packets;
    int64_t start_ns;
    int peek;                  /* file: pcap_next_ex's result for the packet read at open */
    struct pcap_pkthdr peek_hdr;
    u_char *peek_data;
};

char *pcap_source_filter(const uint16_t *ports, size_t nports, const char *expr)
{
    strbuf b = {0};
    sb_adds(&b, "tcp");
    if (nports) {
        sb_adds(&b, " and (");
        for (size_t i = 0; i < nports; i++) sb_printf(&b, "%sport %u", i ? " or " : "", ports[i]);
        sb_addc(&b, ')');
    }
    if (expr && *expr) sb_printf(&b, " and (%s)", expr);
    return b.buf;
}

static pcap_source *open_failed(pcap_source *s, int *rc, int code)
{
    *rc = code;
    if (s->p) pcap_close(s->p);
    free(s->peek_data);
    free(s->name);
    free(s);
    return NULL;
}

static pcap_source *open_live(pcap_source *s, const pcap_source_opts *o, int *rc, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    s->p = pcap_create(o->iface, eb);
    if (!s->p) {
        errf(err, errlen, "cannot capture on %s: %s", o->iface, eb);
        return open_failed(s, rc, ERR_SYSTEM);
    }
    pcap_set_snaplen(s->p, o->snaplen > 0 ? o->snaplen : 262144);
    pcap_set_promisc(s->p, 0);
    pcap_set_timeout(s->p, 10);
    pcap_set_buffer_size(s->p, (o->buffer_mb > 0 ? o->buffer_mb : 64) << 20);
    pcap_set_tstamp_precision(s->p, PCAP_TSTAMP_PRECISION_NANO);
    int a = pcap_activate(s->p);
    if (a < 0) {
        const char *why = a == PCAP_ERROR_PERM_DENIED ? "no permission (run as root, or give the "
                          "binary CAP_NET_RAW and CAP_NET_ADMIN)"
                          : a == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                          : a == PCAP_ERROR_IFACE_NOT_UP ? "the interface is not up" : NULL;
        errf(err, errlen, "cannot capture on %s: %s%s%s", o->iface, why ? why : pcap_statustostr(a),
             pcap_geterr(s->p)[0] ? ": " : "", pcap_geterr(s->p));
        return open_failed(s, rc, ERR_SYSTEM);
    }
    if (a > 0) msg_warn("capture on %s: %s: %s", o->iface, pcap_statustostr(a), pcap_geterr(s->p));
    if (pcap_setnonblock(s->p, 1, eb) < 0 || pcap_get_selectable_fd(s->p) < 0) {
        errf(err, errlen, "cannot poll the capture on %s: %s", o->iface, eb);
        return open_failed(s, rc, ERR_SYSTEM);
    }
    s->live = 1;
    s->start_ns = now_real_ns();
    return s;
}

static pcap_source *open_file(pcap_source *s, const pcap_source_opts *o, int *rc, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    if (strcmp(o->file, "-")) {
        struct stat sb;
        FILE *f = fopen(o->file, "rb");
        if (!f) {
            errf(err, errlen, "cannot open %s: %s", o->file, strerror(errno));
            return open_failed(s, rc, ERR_SYSTEM);
        }
        int dir = fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode);
        fclose(f);
        if (dir) {
            errf(err, errlen, "cannot read %s: it is a directory", o->file);
            return open_failed(s, rc, ERR_SYSTEM);
        }
    }
    s->p = pcap_open_offline_with_tstamp_precision(o->file, PCAP_TSTAMP_PRECISION_NANO, eb);
    if (!s->p) {
        errf(err, errlen, "%s: not a capture file libpcap can read (pcap or pcapng): %s", o->file, eb);
        return open_failed(s, rc, ERR_INPUT);
    }
    /* The first packet is read now, so the trace's header can say when the
     * capture started; pcap_source_run takes it first. */
    struct pcap_pkthdr *h;
    const u_char *data;
    s->peek = pcap_next_ex(s->p, &h, &data);
    if (s->peek == 1) {
        s->peek_hdr = *h;
        s->peek_data = xmalloc(h->caplen ? h->caplen : 1);
        memcpy(s->peek_data, data, h->caplen);
        int nano = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO;
        s->start_ns = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (nano ? 1 : 1000);
    }
    return s;
}

pcap_source *pcap_source_open(const pcap_source_opts *o, int *rc, char *err, size_t errlen)
{
    pcap_source *s = xcalloc(1, sizeof *s);
    *rc = 0;
    s->name = xstrdup(o->iface ? o->iface : o->file);
    if (!(o->iface ? open_live(s, o, rc, err, errlen) : open_file(s, o, rc, err, errlen))) return NULL;
    s->dlt = pcap_datalink(s->p);
    if (!pkt_decode_link_supported(s->dlt)) {
        const char *n = pcap_datalink_val_to_name(s->dlt);
        errf(err, errlen, "%s: link type %s (%d) is not supported (Ethernet, Linux cooked SLL "
             "and SLL2, loopback NULL/LOOP and raw IP are)", s->name, n ? n : "unknown", s->dlt);
        return open_failed(s, rc, ERR_INPUT);
    }
    s->nano = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO;
    struct bpf_program prog;
    const char *expr = o->filter ? o->filter : "tcp";
    if (pcap_compile(s->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        errf(err, errlen, "bad filter '%s': %s", expr, pcap_geterr(s->p));
        return open_failed(s, rc, ERR_USAGE);
    }
    int bad = pcap_setfilter(s->p, &prog) < 0;
    pcap_freecode(&prog);
    if (bad) {
        errf(err, errlen, "cannot install the filter '%s': %s", expr, pcap_geterr(s->p));
        return open_failed(s, rc, ERR_SYSTEM);
    }
    return s;
}

int pcap_source_dlt(const pcap_source *s) { return s->dlt; }
int64_t pcap_source_start_ns(const pcap_source *s) { return s->start_ns; }
int pcap_source_snaplen(const pcap_source *s) { return pcap_snapshot(s->p); }

const char *pcap_source_dlt_name(const pcap_source *s)
{
    const char *n = pcap_datalink_val_to_name(s->dlt);
    return n ? n : "unknown";
}

static void on_packet(u_char *ud, const struct pcap_pkthdr *h, const u_char *data)
{
    pcap_source *s = (pcap_source *)ud;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (s->nano ? 1 : 1000);
    s->packets++;
    if (!s->core_failed && capture_core_packet(s->core, s->dlt, ts, data, h->caplen, h->len))
        s->core_failed = 1;
}

static int readable(int fd, int ms)
{
    if (fd < 0) return 0;
    struct pollfd p = { fd, POLLIN, 0 };
    return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

static int run_file(pcap_source *s, int64_t duration_ns, int stop_fd, pcap_source_stats *st,
                    char *err, size_t errlen)
{
    const capture_core_stats *cs = capture_core_get_stats(s->core);
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r;
        if (s->peek) {
            r = s->peek;
            h = &s->peek_hdr;
            data = s->peek_data;
            s->peek = 0;
        } else {
            r = pcap_next_ex(s->p, &h, &data);
        }
        if (r == PCAP_ERROR_BREAK) {
            st->end = PCAP_END_EOF;
            return 0;
        }
        if (r < 0) {
            st->end = PCAP_END_ERROR;
            errf(err, errlen, "%s: the capture file is damaged after %llu packets: %s", s->name,
                 (unsigned long long)s->packets, pcap_geterr(s->p));
            return ERR_INPUT;
        }
        if (r == 0) continue;
        on_packet((u_char *)s, h, data);
        if (s->core_failed) break;
        if (duration_ns > 0 && cs->last_ts - cs->first_ts >= duration_ns) {
            st->end = PCAP_END_DURATION;
            return 0;
        }
        if (capture_core_done(s->core)) {
            st->end = PCAP_END_MAX;
            return 0;
        }
        if (s->packets % FILE_CHECK_EVERY == 0 && readable(stop_fd, 0)) {
            st->end = PCAP_END_SIGNAL;
            return 0;
        }
    }
    st->end = PCAP_END_ERROR;
    errf(err, errlen, "writing the trace failed");
    return ERR_SYSTEM;
}

static int run_live(pcap_source *s, int64_t duration_ns, int stop_fd, pcap_source_stats *st,
                    char *err, size_t errlen)
{
    int fd = pcap_get_selectable_fd(s->p);
    int64_t deadline = duration_ns > 0 ? now_mono_ns() + duration_ns : 0;
    int rc = 0;
    st->end = PCAP_END_ERROR;
    for (;;) {
        int ms = POLL_MS;
        if (deadline) {
            int64_t left = deadline - now_mono_ns();
            if (left <= 0) {
                st->end = PCAP_END_DURATION;
                break;
            }
            if (left / 1000000 < ms) ms = (int)(left / 1000000) + 1;
        }
        struct pollfd pf[2] = { { fd, POLLIN, 0 }, { stop_fd, POLLIN, 0 } };
        int n = poll(pf, stop_fd >= 0 ? 2 : 1, ms);
        if (n < 0 && errno != EINTR) {
            errf(err, errlen, "poll on the capture of %s: %s", s->name, strerror(errno));
            rc = ERR_SYSTEM;
            break;
        }
        if (stop_fd >= 0 && (pf[1].revents & POLLIN)) {
            st->end = PCAP_END_SIGNAL;
            break;
        }
        if (pcap_dispatch(s->p, -1, on_packet, (u_char *)s) < 0) {
            errf(err, errlen, "capture on %s failed: %s", s->name, pcap_geterr(s->p));
            rc = ERR_SYSTEM;
            break;
        }
        if (s->core_failed || capture_core_tick(s->core, now_real_ns())) {
            s->core_failed = 1;
            break;
        }
        if (capture_core_done(s->core)) {
            st->end = PCAP_END_MAX;
            break;
        }
    }
    /* What the kernel still holds was captured before the stop: take it,
     * for a bounded number of rounds. */
    for (int i = 0; !rc && !s->core_failed && i < DRAIN_ROUNDS; i++) {
        int got = readable(fd, 20) ? pcap_dispatch(s->p, -1, on_packet, (u_char *)s) : 0;
        if (got <= 0) break;
    }
    struct pcap_stat ps;
    if (pcap_stats(s->p, &ps) == 0) {
        st->kernel_drops = ps.ps_drop;
        st->if_drops = ps.ps_ifdrop;
        st->have_kernel_stats = 1;
    }
    if (s->core_failed && !rc) {
        st->end = PCAP_END_ERROR;
        errf(err, errlen, "writing the trace failed");
        rc = ERR_SYSTEM;
    }
    return rc;
}

int pcap_source_run(pcap_source *s, capture_core *core, int64_t duration_ns, int stop_fd,
                    pcap_source_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    s->core = core;
    int rc = s->live ? run_live(s, duration_ns, stop_fd, st, err, errlen)
                     : run_file(s, duration_ns, stop_fd, st, err, errlen);
    st->packets = s->packets;
    return rc;
}

void pcap_source_close(pcap_source *s)
{
    if (!s) return;
    if (s->p) pcap_close(s->p);
    free(s->peek_data);
    free(s->name);
    free(s);
}
