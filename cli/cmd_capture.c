/* cmd_capture.c — `sagellm-bench capture`: live LLM traffic into a trace,
 * from packets (an interface or a pcap file) or through a recording proxy.
 * Parses the options, builds the trace header, runs the source until it
 * ends (end of file, --duration, --max-requests, SIGINT/SIGTERM), then
 * finishes the trace and prints the statistics. See docs/capture.md. */
#include "cli/cli.h"
#include "common/jsonw.h"
#include "common/url_mask.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture_core.h"
#include "capture/capture_out.h"
#include "capture/capture_proxy.h"
#include "capture/capture_report.h"
#include "capture/pcap_source.h"
#include "common/http_opts.h"
#include "common/parse.h"
#include "traces/trace.h"

static const char usage[] =
    "sagellm-bench capture (-i IFACE | -r FILE | --proxy [HOST:]PORT --upstream URL) -o OUT [options]";

static const char help[] =
    "Records LLM requests and what the server answered into a trace that `replay` can\n"
    "reissue (trace format v1, source \"capture\"). See docs/capture.md.\n"
    "\n"
    "source (one of):\n"
    "  -i, --interface IFACE   capture live on IFACE (lo, any, eth0, ...); needs root or CAP_NET_RAW\n"
    "  -r, --read FILE         read a pcap or pcapng file (- is standard input)\n"
    "  --proxy [HOST:]PORT     run a recording reverse proxy there (HOST defaults to 127.0.0.1;\n"
    "                          port 0 picks a free one) ...\n"
    "  --upstream URL          ... forwarding to URL (http[s]://HOST:PORT[/PREFIX])\n"
    "\n"
    "the proxy's upstream connection (--proxy only; the trace header's \"tls\" says which applied):\n"
    CLI_HTTP_HELP
    "\n"
    "packets:\n"
    "  --port P                the server's port; repeatable (filter: tcp and (port P or ...))\n"
    "  -f, --filter EXPR       a BPF expression added to the filter\n"
    "  --snaplen N             bytes kept per packet (default 262144)\n"
    "  --buffer-mb N           kernel capture buffer in MiB (default 64)\n"
    "\n"
    "stopping (SIGINT/SIGTERM stop cleanly too, with exit status 5):\n"
    "  --duration DUR          stop after DUR (a file: DUR of capture time)\n"
    "  --max-requests N        stop once N requests are recorded and written\n"
    "\n"
    "output:\n"
    "  -o, --out OUT           the trace (.jsonl.zst compresses; - is standard output)\n"
    "  --level N               zstd level (0 = plain; default 3 for .zst outputs)\n"
    "  --rotate-mb N           a new file every N MB of records: OUT-0001.jsonl.zst, OUT-0002...\n"
    "  --all-paths             also record requests on other paths (api \"other\")\n"
    "  --redact                no prompt text: estimated lengths and hashes of 512-token blocks\n"
    "                          (prefix sharing survives); no headers\n"
    "  --no-headers            leave request headers out (secrets are never written anyway)\n"
    "  --event-times           also write each content event's time: orig.event_ns (ns after the\n"
    "                          arrival) and orig.t_arrival_ns (the arrival on the capture clock)\n"
    "  --sample P              record each request with probability P (default 1)\n"
    "  --seed S                seeds --sample and --redact's hashes (default: random hashes)\n"
    "\n"
    "sessions (session, turn, parent, think_us; see docs/capture.md):\n"
    "  --session-header NAME   requests with the same value of header NAME are one conversation\n"
    "                          (x-conversation-id, ...); it comes before the others\n"
    "  --session-field NAME    ... or of the body's top-level field NAME (user, ...)\n"
    "                          otherwise: a chat request whose messages before its last assistant\n"
    "                          message equal an earlier request's messages continues it\n"
    "  --max-sessions N        conversations remembered, the least recent forgotten (default 100000)\n"
    "  --no-sessions           write no session fields\n"
    "\n"
    "limits:\n"
    "  --idle-timeout DUR      end a connection silent this long (default 300s)\n"
    "  --reorder-window DUR    how long an unfinished exchange may hold back later records\n"
    "                          (default 600s; it is then written as incomplete \"window\")\n"
    "  --flow-mem-mb N         out-of-order bytes held per connection (default 8)\n"
    "  --mem-mb N              out-of-order bytes held in all connections (default 256)\n"
    "  --max-flows N           connections tracked at once (default 1000000)\n"
    "  --max-body-mb N         request body kept per request (default 64)\n"
    "  --max-buffered-mb N     --proxy: request bodies held in all, counting declared lengths;\n"
    "                          a request over it gets 503 (default 256, at least --max-body-mb)\n"
    "  --client-timeout DUR    --proxy: a request must arrive whole this soon after its connection\n"
    "                          opened or the previous response ended; also the idle limit (default 30s)\n"
    "\n"
    "reporting:\n"
    "  --stats FILE            also write the end-of-run statistics as JSON\n"
    "  --ready-file FILE       written once capturing (or listening): the proxy's port, or \"ready\"\n"
    "  -q, --quiet             no statistics on stderr\n"
    "\n"
    "exit status: 0 done, 2 bad usage, 3 bad input (a damaged capture file, an unknown link\n"
    "type), 4 system (no permission to capture, cannot listen or write), 5 interrupted by\n"
    "SIGINT/SIGTERM (the trace is complete).\n";

enum {
    O_PROXY = 256, O_UPSTREAM, O_PORT, O_SNAPLEN, O_BUFFER, O_DURATION, O_MAX_REQ, O_LEVEL,
    O_ROTATE, O_ALL_PATHS, O_REDACT, O_NO_HEADERS, O_SAMPLE, O_SEED, O_IDLE, O_WINDOW, O_FLOW_MEM,
    O_MEM, O_MAX_FLOWS, O_MAX_BODY, O_STATS, O_READY, O_HELP, O_SESS_HEADER, O_SESS_FIELD,
    O_MAX_SESS, O_NO_SESS, O_MAX_BUFFERED, O_CLIENT_TIMEOUT, O_EVENT_TIMES, O_HTTP,
};

#define MAX_PORTS 64

typedef struct copts {
    const char *iface, *file, *proxy, *upstream, *filter, *out, *stats, *ready;
    const char *out_shown;     /* the name given with -o when it is written as stdout */
    uint16_t ports[MAX_PORTS];
    size_t nports;
    int snaplen, buffer_mb, level, all_paths, redact, no_headers, event_times, quiet, have_seed;
    int64_t duration_ns, idle_ns, window_ns;
    uint64_t max_requests, rotate_mb, flow_mem_mb, mem_mb, max_flows, max_body_mb, seed;
    uint64_t max_buffered_mb;  /* --proxy: request bodies held in all */
    int64_t client_timeout_ns; /* --proxy: a request arrives whole within it */
    double sample;
    const char *session_header, *session_field;
    int no_sessions;
    uint64_t max_sessions;
    http_opts http;            /* the proxy's upstream connection */
    int http_given;            /* one of the options above was given */
} copts;

#define usage_error(...) cli_usage_error("capture", usage, __VA_ARGS__)

/* 1 if path names something other than a regular file (/dev/null, a FIFO,
 * /dev/stdout): it is written in place, never replaced by a rename. */
static int is_special(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

static int parse_mb(const char *opt, const char *v, uint64_t *out)
{
    if (parse_u64(v, out) || *out == 0 || *out > (1u << 20))
        return usage_error("%s: expected a positive number of MiB, got '%s'", opt, v);
    return 0;
}

/* --client-timeout: 100ms to 24h into *ns; 0 or an exit code. */
static int parse_client_timeout(const char *v, int64_t *ns)
{
    int64_t us;
    if (parse_duration_us(v, &us) || us < 100000 || us > 86400LL * 1000000)
        return usage_error("%s: expected a duration from 100ms to 24h, got '%s'", "--client-timeout", v);
    *ns = us * 1000;
    return 0;
}

/* The options' combinations, after parsing; 0 or an exit code. */
static int check_args(copts *o)
{
    int nsrc = !!o->iface + !!o->file + !!o->proxy;
    if (nsrc != 1)
        return cli_usage_error("capture", usage, nsrc ? "give only one of -i, -r and --proxy"
                                                       : "missing a source: -i IFACE, -r FILE or --proxy PORT");
    if (o->proxy && !o->upstream) return cli_usage_error("capture", usage, "--proxy needs --upstream URL");
    if (!o->proxy && o->upstream) return cli_usage_error("capture", usage, "--upstream goes with --proxy");
    if (!o->proxy && o->http_given)
        return cli_usage_error("capture", usage, "--cacert, --capath, --insecure, --cert, --key and --http2 "
                               "are for --proxy's upstream");
    if (!o->proxy && (o->max_buffered_mb || o->client_timeout_ns))
        return cli_usage_error("capture", usage, "--max-buffered-mb and --client-timeout are for --proxy");
    if (o->max_buffered_mb && o->max_buffered_mb < (o->max_body_mb ? o->max_body_mb : 64))
        return cli_usage_error("capture", usage, "--max-buffered-mb must be at least --max-body-mb (%llu)",
                               (unsigned long long)(o->max_body_mb ? o->max_body_mb : 64));
    if (o->proxy && (o->nports || o->filter))
        return cli_usage_error("capture", usage, "--port and --filter are for packet capture, not --proxy");
    if (!o->out) return cli_usage_error("capture", usage, "missing -o OUT");
    if (o->no_sessions && (o->session_header || o->session_field || o->max_sessions))
        return cli_usage_error("capture", usage, "--no-sessions goes with no other session option");
    if (o->proxy) {
        char herr[600];
        http_opts_from_env(&o->http);
        if (http_opts_check(&o->http, herr, sizeof herr)) return cli_usage_error("capture", usage, "%s", herr);
    }
    if (o->rotate_mb && !strcmp(o->out, "-"))
        return cli_usage_error("capture", usage, "--rotate-mb needs an output file, not -");
    if (strcmp(o->out, "-") && is_special(o->out)) {
        /* The trace writer renames a temporary file onto its output, which
         * must not happen to a device or a FIFO: write it as standard output. */
        if (o->rotate_mb)
            return cli_usage_error("capture", usage, "--rotate-mb needs a regular output file, not %s", o->out);
        int fd = open(o->out, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
            msg_err("capture: cannot open %s: %s", o->out, strerror(errno));
            if (fd >= 0) close(fd);
            return EXIT_SYSTEM;
        }
        close(fd);
        o->out_shown = o->out;
        o->out = "-";
    }
    return 0;
}

static const struct option capture_opts[] = {
    { "interface", required_argument, NULL, 'i' }, { "read", required_argument, NULL, 'r' },
    { "proxy", required_argument, NULL, O_PROXY }, { "upstream", required_argument, NULL, O_UPSTREAM },
    { "port", required_argument, NULL, O_PORT }, { "filter", required_argument, NULL, 'f' },
    { "snaplen", required_argument, NULL, O_SNAPLEN }, { "buffer-mb", required_argument, NULL, O_BUFFER },
    { "duration", required_argument, NULL, O_DURATION },
    { "max-requests", required_argument, NULL, O_MAX_REQ }, { "out", required_argument, NULL, 'o' },
    { "level", required_argument, NULL, O_LEVEL }, { "rotate-mb", required_argument, NULL, O_ROTATE },
    { "all-paths", no_argument, NULL, O_ALL_PATHS }, { "redact", no_argument, NULL, O_REDACT },
    { "no-headers", no_argument, NULL, O_NO_HEADERS }, { "sample", required_argument, NULL, O_SAMPLE },
    { "event-times", no_argument, NULL, O_EVENT_TIMES },
    { "seed", required_argument, NULL, O_SEED }, { "idle-timeout", required_argument, NULL, O_IDLE },
    { "reorder-window", required_argument, NULL, O_WINDOW },
    { "flow-mem-mb", required_argument, NULL, O_FLOW_MEM }, { "mem-mb", required_argument, NULL, O_MEM },
    { "max-flows", required_argument, NULL, O_MAX_FLOWS },
    { "max-body-mb", required_argument, NULL, O_MAX_BODY },
    { "max-buffered-mb", required_argument, NULL, O_MAX_BUFFERED },
    { "client-timeout", required_argument, NULL, O_CLIENT_TIMEOUT }, { "stats", required_argument, NULL, O_STATS },
    { "ready-file", required_argument, NULL, O_READY }, { "quiet", no_argument, NULL, 'q' },
    { "session-header", required_argument, NULL, O_SESS_HEADER },
    { "session-field", required_argument, NULL, O_SESS_FIELD },
    { "max-sessions", required_argument, NULL, O_MAX_SESS }, { "no-sessions", no_argument, NULL, O_NO_SESS },
    { "help", no_argument, NULL, O_HELP }, CLI_HTTP_LONGOPTS(O_HTTP), { NULL, 0, NULL, 0 },
};

/* The options whose value is checked (c, as opt on the command line, with
 * its value arg) into o. Returns 0, or the exit status. */
static int parse_value(copts *o, int c, const char *opt, const char *arg)
{
    int64_t v;
    switch (c) {
    case O_SESS_HEADER: case O_SESS_FIELD:
        if (!arg[0] || strlen(arg) > 100 || strpbrk(arg, " :\t\r\n"))
            return usage_error("%s: expected a header or field name, got '%s'", opt, arg);
        *(c == O_SESS_HEADER ? &o->session_header : &o->session_field) = arg;
        break;
    case O_MAX_SESS:
        if (parse_u64(arg, &o->max_sessions) || !o->max_sessions || o->max_sessions > 100000000)
            return usage_error("%s: expected 1..100000000, got '%s'", "--max-sessions", arg);
        break;
    case O_PORT:
        if (parse_i64(arg, &v) || v < 1 || v > 65535) return usage_error("%s: expected a port 1..65535, got '%s'", "--port", arg);
        if (o->nports == MAX_PORTS) return usage_error("%s: at most 64 ports, got more ('%s')", "--port", arg);
        o->ports[o->nports++] = (uint16_t)v;
        break;
    case O_SNAPLEN:
        if (parse_i64(arg, &v) || v < 128 || v > 262144) return usage_error("%s: expected 128..262144, got '%s'", "--snaplen", arg);
        o->snaplen = (int)v;
        break;
    case O_BUFFER:
        if (parse_i64(arg, &v) || v < 1 || v > 4096) return usage_error("%s: expected 1..4096 MiB, got '%s'", "--buffer-mb", arg);
        o->buffer_mb = (int)v;
        break;
    case O_LEVEL:
        if (parse_i64(arg, &v) || v < 0 || v > 22) return usage_error("%s: expected 0..22, got '%s'", "--level", arg);
        o->level = (int)v;
        break;
    case O_DURATION: case O_IDLE: case O_WINDOW:
        if (parse_duration_us(arg, &v) || v <= 0)
            return usage_error("%s: expected a positive duration such as 30s, got '%s'", opt, arg);
        *(c == O_DURATION ? &o->duration_ns : c == O_IDLE ? &o->idle_ns : &o->window_ns) = v * 1000;
        break;
    case O_CLIENT_TIMEOUT: if (parse_client_timeout(arg, &o->client_timeout_ns)) return EXIT_USAGE; break;
    case O_MAX_REQ:
        if (parse_u64(arg, &o->max_requests) || !o->max_requests)
            return usage_error("%s: expected a positive integer, got '%s'", "--max-requests", arg);
        break;
    case O_MAX_FLOWS:
        if (parse_u64(arg, &o->max_flows) || !o->max_flows || o->max_flows > 100000000)
            return usage_error("%s: expected 1..100000000, got '%s'", "--max-flows", arg);
        break;
    case O_ROTATE: if (parse_mb(opt, arg, &o->rotate_mb)) return EXIT_USAGE; break;
    case O_FLOW_MEM: if (parse_mb(opt, arg, &o->flow_mem_mb)) return EXIT_USAGE; break;
    case O_MEM: if (parse_mb(opt, arg, &o->mem_mb)) return EXIT_USAGE; break;
    case O_MAX_BODY: if (parse_mb(opt, arg, &o->max_body_mb)) return EXIT_USAGE; break;
    case O_MAX_BUFFERED: if (parse_mb(opt, arg, &o->max_buffered_mb)) return EXIT_USAGE; break;
    case O_SAMPLE:
        if (parse_prob(arg, &o->sample) || o->sample <= 0)
            return usage_error("%s: expected a probability in (0, 1], got '%s'", "--sample", arg);
        break;
    case O_SEED:
        if (parse_u64(arg, &o->seed)) return usage_error("%s: expected an unsigned integer, got '%s'", "--seed", arg);
        o->have_seed = 1;
        break;
    }
    return 0;
}

/* Parses the command line into o. Returns 0, -1 for --help, or the exit
 * status. */
static int parse_args(int argc, char **argv, copts *o)
{
    int c;
    while ((c = getopt_long(argc, argv, ":i:r:f:o:qh", capture_opts, NULL)) != -1) {
        const char *opt = argv[optind - 1];
        if (cli_http_opt(c, O_HTTP, optarg, &o->http)) {
            o->http_given = 1;
            continue;
        }
        switch (c) {
        case 'h': case O_HELP: return -1;
        case 'i': o->iface = optarg; break;
        case 'r': o->file = optarg; break;
        case O_PROXY: o->proxy = optarg; break;
        case O_UPSTREAM: o->upstream = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'o': o->out = optarg; break;
        case O_STATS: o->stats = optarg; break;
        case O_READY: o->ready = optarg; break;
        case 'q': o->quiet = 1; break;
        case O_ALL_PATHS: o->all_paths = 1; break;
        case O_REDACT: o->redact = 1; break;
        case O_NO_HEADERS: o->no_headers = 1; break;
        case O_EVENT_TIMES: o->event_times = 1; break;
        case O_NO_SESS: o->no_sessions = 1; break;
        case ':': case '?':
            return cli_getopt_error("capture", usage, c, argv, capture_opts);
        default: {
            int rc = parse_value(o, c, opt, optarg);
            if (rc) return rc;
        }
        }
    }
    if (optind < argc) return cli_usage_error("capture", usage, "unexpected argument '%s'", argv[optind]);
    return check_args(o);
}

static int write_small_file(const char *path, const char *text)
{
    if (is_special(path)) {
        FILE *f = fopen(path, "w");
        if (!f) return -1;
        int bad_write = fputs(text, f) < 0;
        return fclose(f) || bad_write ? -1 : 0;
    }
    strbuf tmp = {0};
    sb_printf(&tmp, "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp.buf, "w");
    int rc = -1;
    if (f) {
        int bad_write = fputs(text, f) < 0;
        if (!fclose(f) && !bad_write && !rename(tmp.buf, path)) rc = 0;
    }
    if (rc) unlink(tmp.buf);
    sb_free(&tmp);
    return rc;
}

static const char *end_words(pcap_source_end e)
{
    switch (e) {
    case PCAP_END_EOF: return "end of file";
    case PCAP_END_DURATION: return "duration reached";
    case PCAP_END_MAX: return "max requests reached";
    case PCAP_END_SIGNAL: return "interrupted";
    default: return "error";
    }
}

/* The end: statistics on stderr and to --stats. Returns 0 or EXIT_SYSTEM. */
static int report(const copts *o, capture_report *r)
{
    if (!o->quiet) {
        strbuf b = {0};
        capture_report_text(r, &b);
        fputs(b.buf, stderr);
        sb_free(&b);
    }
    if (!o->stats) return 0;
    cJSON *j = capture_report_json(r);
    char *s = jsonw_print(j, 1);
    cJSON_Delete(j);
    strbuf b = {0};
    sb_printf(&b, "%s\n", s);
    cJSON_free(s);
    int rc = write_small_file(o->stats, b.buf);
    sb_free(&b);
    if (rc) {
        msg_err("capture: cannot write --stats %s: %s", o->stats, strerror(errno));
        return EXIT_SYSTEM;
    }
    return 0;
}

static cJSON *make_header(const copts *o, int64_t start_ns, const char *filter)
{
    cJSON *h = trace_header_new("capture");
    char iso[64];
    if (o->iface) cJSON_AddStringToObject(h, "interface", o->iface);
    if (o->file) cJSON_AddStringToObject(h, "file", o->file);
    if (o->proxy) {
        cJSON_AddStringToObject(h, "proxy", o->proxy);
        char *up = url_mask(o->upstream);   /* never the upstream's password or query values */
        cJSON_AddStringToObject(h, "upstream", up);
        free(up);
        /* The trust and protocol settings that applied, never a key. */
        if (o->http_given || !strncmp(o->upstream, "https://", 8)) http_opts_describe(&o->http, h);
    }
    if (filter) cJSON_AddStringToObject(h, "filter", filter);
    if (start_ns > 0) {
        fmt_iso8601(start_ns, iso, sizeof iso);
        cJSON_AddStringToObject(h, "start", iso);
    }
    if (o->redact) cJSON_AddTrueToObject(h, "redacted");
    if (o->sample < 1) cJSON_AddNumberToObject(h, "sample", o->sample);
    if (o->all_paths) cJSON_AddTrueToObject(h, "all_paths");
    if (o->event_times) cJSON_AddTrueToObject(h, "event_times");
    if (o->no_sessions) {
        cJSON_AddStringToObject(h, "sessions", "none");
    } else {
        cJSON *s = cJSON_AddObjectToObject(h, "sessions");
        if (o->session_header) cJSON_AddStringToObject(s, "header", o->session_header);
        if (o->session_field) cJSON_AddStringToObject(s, "field", o->session_field);
        cJSON_AddStringToObject(s, "messages", "prefix chains");
    }
    return h;
}

static void fill_out_opts(const copts *o, capture_out_opts *w, const cJSON *hdr)
{
    memset(w, 0, sizeof *w);
    w->path = o->out;
    w->header = hdr;
    w->level = o->level;
    w->rotate_bytes = o->rotate_mb << 20;
    w->sample = o->sample;
    w->seed = o->seed;
    w->max_requests = o->max_requests;
    w->window_ns = o->window_ns;
    w->no_sessions = o->no_sessions;
    w->max_sessions = o->max_sessions;
}

static cap_format_opts format_opts(const copts *o)
{
    cap_format_opts f = { .redact = o->redact, .no_headers = o->no_headers,
                          .event_times = o->event_times, .salt = o->seed,
                          .session_header = o->session_header, .session_field = o->session_field };
    if (!o->have_seed && getrandom(&f.salt, sizeof f.salt, 0) != (ssize_t)sizeof f.salt)
        f.salt = (uint64_t)now_real_ns() ^ (uint64_t)getpid() << 32;
    return f;
}

/* Finishes the trace; returns 0 or an exit code. */
static int close_out(capture_out *w)
{
    char err[1100];
    if (capture_out_close(w, err, sizeof err)) {
        msg_err("capture: %s", err);
        return EXIT_SYSTEM;
    }
    return 0;
}

static int run_packets(const copts *o, int sfd)
{
    pcap_source_opts po = { o->iface, o->file, NULL, o->snaplen, o->buffer_mb };
    char *filter = pcap_source_filter(o->ports, o->nports, o->filter);
    po.filter = filter;
    char err[1200];
    int rc;
    int64_t t_start = now_mono_ns();
    pcap_source *src = pcap_source_open(&po, &rc, err, sizeof err);
    if (!src) {
        free(filter);
        if (rc == ERR_USAGE) return cli_usage_error("capture", usage, "%s", err);
        msg_err("capture: %s", err);
        return err_to_exit(rc);
    }
    cJSON *hdr = make_header(o, pcap_source_start_ns(src), filter);
    cJSON_AddStringToObject(hdr, "link_type", pcap_source_dlt_name(src));
    cJSON_AddNumberToObject(hdr, "snaplen", pcap_source_snaplen(src));
    capture_out_opts wo;
    fill_out_opts(o, &wo, hdr);
    capture_out *w = capture_out_new(&wo, err, sizeof err);
    cJSON_Delete(hdr);
    if (!w) {
        pcap_source_close(src);
        free(filter);
        return cli_usage_error("capture", usage, "%s", err);
    }
    capture_core_opts co;
    memset(&co, 0, sizeof co);
    co.tcp.flow_mem = o->flow_mem_mb << 20;
    co.tcp.total_mem = o->mem_mb << 20;
    co.tcp.max_flows = o->max_flows;
    co.tcp.idle_ns = o->idle_ns;
    co.tcp.server_ports = o->ports;
    co.tcp.nserver_ports = o->nports;
    co.http.all_paths = o->all_paths;
    co.http.max_body = o->max_body_mb << 20;
    co.http.fmt = format_opts(o);
    capture_core *core = capture_core_new(&co, w);
    if (o->ready && write_small_file(o->ready, "ready\n")) {
        msg_err("capture: cannot write --ready-file %s: %s", o->ready, strerror(errno));
        capture_core_free(core);
        capture_out_free(w);
        pcap_source_close(src);
        free(filter);
        return EXIT_SYSTEM;
    }
    pcap_source_stats ps;
    int run_rc = pcap_source_run(src, core, o->duration_ns, sfd, &ps, err, sizeof err);
    if (run_rc) msg_err("capture: %s", err);
    int exitc = run_rc ? err_to_exit(run_rc) : ps.end == PCAP_END_SIGNAL ? EXIT_INTERRUPTED : EXIT_OK;
    if (capture_core_finish(core, 0)) exitc = EXIT_SYSTEM;
    int crc = close_out(w);
    if (crc) exitc = crc;
    capture_report r = { o->iface ? "live" : "file", o->iface ? o->iface : o->file,
                         end_words(ps.end), &ps, core, NULL, capture_out_get_stats(w),
                         o->out_shown ? o->out_shown : o->out,
                         (double)(now_mono_ns() - t_start) / 1e9 };
    int rrc = report(o, &r);
    if (rrc && !exitc) exitc = rrc;
    capture_core_free(core);
    capture_out_free(w);
    pcap_source_close(src);
    free(filter);
    return exitc;
}

static int run_proxy(const copts *o, int sfd)
{
    char err[1200];
    int rc;
    int64_t t_start = now_mono_ns();
    cJSON *hdr = make_header(o, now_real_ns(), NULL);
    capture_out_opts wo;
    fill_out_opts(o, &wo, hdr);
    capture_out *w = capture_out_new(&wo, err, sizeof err);
    cJSON_Delete(hdr);
    if (!w) return cli_usage_error("capture", usage, "%s", err);
    capture_proxy_opts po;
    memset(&po, 0, sizeof po);
    po.listen = o->proxy;
    po.upstream = o->upstream;
    po.http = o->http;
    po.all_paths = o->all_paths;
    po.max_body = o->max_body_mb << 20;
    /* The total cap is at least the per-request one, so a body that may
     * be kept alone is never refused for lack of room forever. */
    uint64_t body_mb = o->max_body_mb ? o->max_body_mb : 64;
    po.max_buffered = (o->max_buffered_mb ? o->max_buffered_mb : body_mb > 256 ? body_mb : 256) << 20;
    po.client_timeout_ns = o->client_timeout_ns;
    po.fmt = format_opts(o);
    capture_proxy *px = capture_proxy_new(&po, w, &rc, err, sizeof err);
    if (!px) {
        capture_out_free(w);
        if (rc == ERR_USAGE) return cli_usage_error("capture", usage, "%s", err);
        msg_err("capture: %s", err);
        return err_to_exit(rc);
    }
    if (!o->quiet) {
        char *up = url_mask(o->upstream);
        fprintf(stderr, "sagellm-bench capture: proxy on %s -> %s\n", capture_proxy_url(px), up);
        free(up);
    }
    char portbuf[32];
    snprintf(portbuf, sizeof portbuf, "%d\n", capture_proxy_port(px));
    int exitc = EXIT_OK;
    const char *end = "duration reached";
    if (o->ready && write_small_file(o->ready, portbuf)) {
        msg_err("capture: cannot write --ready-file %s: %s", o->ready, strerror(errno));
        exitc = EXIT_SYSTEM;
        end = "error";
    }
    int64_t deadline = o->duration_ns ? now_mono_ns() + o->duration_ns : 0;
    while (!exitc) {
        int ms = 100;
        if (deadline) {
            int64_t left = deadline - now_mono_ns();
            if (left <= 0) break;
            if (left / 1000000 < ms) ms = (int)(left / 1000000) + 1;
        }
        struct pollfd pf = { sfd, POLLIN, 0 };
        if (poll(&pf, 1, ms) > 0 && (pf.revents & POLLIN)) {
            end = "interrupted";
            exitc = EXIT_INTERRUPTED;
            break;
        }
        if (capture_proxy_tick(px)) {
            msg_err("capture: writing the trace failed: %s", capture_out_error(w));
            end = "error";
            exitc = EXIT_SYSTEM;
            break;
        }
        if (capture_proxy_done(px)) {
            end = "max requests reached";
            break;
        }
    }
    capture_proxy_shutdown(px);
    int crc = close_out(w);
    if (crc) exitc = crc;
    capture_proxy_stats st;
    capture_proxy_get_stats(px, &st);
    capture_report r = { "proxy", capture_proxy_url(px), end, NULL, NULL, &st,
                         capture_out_get_stats(w), o->out_shown ? o->out_shown : o->out,
                         (double)(now_mono_ns() - t_start) / 1e9 };
    int rrc = report(o, &r);
    if (rrc && !exitc) exitc = rrc;
    capture_proxy_free(px);
    capture_out_free(w);
    return exitc;
}

static int run_capture(int argc, char **argv)
{
    copts o;
    memset(&o, 0, sizeof o);
    o.level = -1;
    o.sample = 1;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) return cli_print_help("capture", usage, help);
    if (rc) return rc;
    /* SIGINT and SIGTERM are taken through a signalfd that the capture
     * loop polls; every thread started later inherits the blocked mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        msg_err("capture: signalfd: %s", strerror(errno));
        return EXIT_SYSTEM;
    }
    rc = o.proxy ? run_proxy(&o, sfd) : run_packets(&o, sfd);
    close(sfd);
    return rc;
}

const cli_cmd cmd_capture = {
    "capture", "record live traffic into a trace", usage, help, run_capture,
};
