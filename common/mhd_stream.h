/* mhd_stream.h — a libmicrohttpd response streamed from bytes that another
 * thread produces, with the connection suspended while there are none.
 * Used by the built-in server (engine/) and the recording proxy (capture/).
 *
 * The owner (a server exchange, a proxied request) embeds an mhd_stream,
 * fills in conn, ops and owner, and protects suspended/conn_done with its
 * own lock: mhd_stream_suspend and mhd_stream_resume are called with that
 * lock held. Its read callback runs on libmicrohttpd's thread; when it has
 * nothing to hand out and the response is not over, it calls
 * mhd_stream_suspend and returns 0, and the producer calls
 * mhd_stream_resume when there is more.
 *
 * Ownership: the response holds a reference to the owner (ops->ref when it
 * is made, ops->unref when libmicrohttpd destroys it), so the owner
 * outlives every read call. */
#ifndef SAGELLM_MHD_STREAM_H
#define SAGELLM_MHD_STREAM_H

#include <stdint.h>
#include <sys/types.h>
#include <microhttpd.h>

typedef struct mhd_stream_ops {
    /* The body's next bytes (libmicrohttpd's content reader contract):
     * how many were written to buf, 0 after mhd_stream_suspend,
     * MHD_CONTENT_READER_END_OF_STREAM or _END_WITH_ERROR. */
    ssize_t (*read)(void *owner, uint64_t pos, char *buf, size_t max);
    void (*ref)(void *owner);
    void (*unref)(void *owner);
} mhd_stream_ops;

typedef struct mhd_stream {
    struct MHD_Connection *conn;
    const mhd_stream_ops *ops;
    void *owner;
    int suspended;             /* we suspended the connection (owner's lock) */
    int conn_done;             /* the request completed: never resume it (owner's lock) */
} mhd_stream;

/* Suspends the connection until mhd_stream_resume (owner's lock held). */
void mhd_stream_suspend(mhd_stream *st);

/* Resumes the connection if it is suspended and still there (owner's lock
 * held). */
void mhd_stream_resume(mhd_stream *st);

/* A response of size bytes (MHD_SIZE_UNKNOWN: until the reader ends it)
 * whose body comes from st->ops->read, taking a reference to the owner.
 * NULL when libmicrohttpd cannot make one (no reference is kept then).
 * The caller queues and destroys it as usual. */
struct MHD_Response *mhd_stream_response(mhd_stream *st, uint64_t size);

#endif
