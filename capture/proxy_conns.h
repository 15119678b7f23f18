/* proxy_conns.h — the recording proxy's client connections and their
 * deadlines: a request must arrive whole (headers and body) within the
 * client timeout of the connection's start or of the previous response's
 * end, so a client that trickles bytes (slowloris) or sends half a request
 * and waits is dropped, however often it sends a byte. Idle connections are
 * libmicrohttpd's own MHD_OPTION_CONNECTION_TIMEOUT; this adds the whole-
 * request deadline it lacks.
 *
 * Threads: libmicrohttpd's thread calls proxy_conns_notify (as its
 * MHD_OPTION_NOTIFY_CONNECTION callback), _request_whole and _request_done;
 * any other thread calls proxy_conns_reap. One lock inside; libmicrohttpd
 * reports a connection closed before it closes the socket, so a socket is
 * only shut down while its connection is registered. Ownership: entries
 * belong to the registry; proxy_conns_free after the daemon is stopped. */
#ifndef SAGELLM_PROXY_CONNS_H
#define SAGELLM_PROXY_CONNS_H

#include <microhttpd.h>
#include <stdint.h>

typedef struct proxy_conns proxy_conns;

/* A registry with the given whole-request timeout (> 0). Never NULL. */
proxy_conns *proxy_conns_new(int64_t timeout_ns);

/* Frees the registry and any entries left. NULL is a no-op. */
void proxy_conns_free(proxy_conns *pc);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the registry. */
void proxy_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);

/* The request on c arrived whole: no deadline while it is answered. */
void proxy_conns_request_whole(proxy_conns *pc, struct MHD_Connection *c);

/* The request on c ended: the next must arrive whole within the timeout. */
void proxy_conns_request_done(proxy_conns *pc, struct MHD_Connection *c);

/* 1 when c was shut down by proxy_conns_reap. */
int proxy_conns_timed_out(proxy_conns *pc, struct MHD_Connection *c);

/* Shuts down (both directions) the sockets of connections past their
 * deadline, so libmicrohttpd reads the end and closes them; returns how
 * many it shut down this call. */
unsigned proxy_conns_reap(proxy_conns *pc, int64_t now_mono_ns);

#endif
