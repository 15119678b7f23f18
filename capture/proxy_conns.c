/* proxy_conns.c — see proxy_conns.h. */
#include "capture/proxy_conns.h"
#include "common/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct pconn {
    struct pconn *prev, *next;
    MHD_socket fd;
    int64_t deadline;                  /* CLOCK_MONOTONIC ns; 0: none */
    int timed_out;
} pconn;

struct proxy_conns {
    pthread_mutex_t mu;
    pconn *head;
    int64_t timeout_ns;
};

proxy_conns *proxy_conns_new(int64_t timeout_ns)
{
    proxy_conns *pc = xcalloc(1, sizeof *pc);
    pthread_mutex_init(&pc->mu, NULL);
    pc->timeout_ns = timeout_ns;
    return pc;
}

void proxy_conns_free(proxy_conns *pc)
{
    if (!pc) return;
    while (pc->head) {
        pconn *e = pc->head;
        pc->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&pc->mu);
    free(pc);
}

void proxy_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    proxy_conns *pc = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        pconn *e = xcalloc(1, sizeof *e);
        e->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        e->deadline = now_mono_ns() + pc->timeout_ns;
        pthread_mutex_lock(&pc->mu);
        e->next = pc->head;
        if (pc->head) pc->head->prev = e;
        pc->head = e;
        pthread_mutex_unlock(&pc->mu);
        *socket_context = e;
        return;
    }
    pconn *e = *socket_context;
    if (!e) return;
    *socket_context = NULL;
    pthread_mutex_lock(&pc->mu);
    if (e->prev) e->prev->next = e->next; else pc->head = e->next;
    if (e->next) e->next->prev = e->prev;
    pthread_mutex_unlock(&pc->mu);
    free(e);
}

/* The entry of c, or NULL (MHD thread: entries only go away there). */
static pconn *entry(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void proxy_conns_request_whole(proxy_conns *pc, struct MHD_Connection *c)
{
    pconn *e = entry(c);
    if (!e) return;
    pthread_mutex_lock(&pc->mu);
    e->deadline = 0;
    pthread_mutex_unlock(&pc->mu);
}

void proxy_conns_request_done(proxy_conns *pc, struct MHD_Connection *c)
{
    pconn *e = entry(c);
    if (!e) return;
    pthread_mutex_lock(&pc->mu);
    e->deadline = now_mono_ns() + pc->timeout_ns;
    pthread_mutex_unlock(&pc->mu);
}

int proxy_conns_timed_out(proxy_conns *pc, struct MHD_Connection *c)
{
    pconn *e = entry(c);
    if (!e) return 0;
    pthread_mutex_lock(&pc->mu);
    int t = e->timed_out;
    pthread_mutex_unlock(&pc->mu);
    return t;
}

unsigned proxy_conns_reap(proxy_conns *pc, int64_t now)
{
    unsigned n = 0;
    pthread_mutex_lock(&pc->mu);
    for (pconn *e = pc->head; e; e = e->next) {
        if (!e->deadline || e->deadline > now || e->timed_out || e->fd == MHD_INVALID_SOCKET) continue;
        e->timed_out = 1;
        shutdown(e->fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&pc->mu);
    return n;
}
