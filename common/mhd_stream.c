/* mhd_stream.c — see mhd_stream.h. */
#include "common/mhd_stream.h"

void mhd_stream_suspend(mhd_stream *st)
{
    st->suspended = 1;
    MHD_suspend_connection(st->conn);
}

void mhd_stream_resume(mhd_stream *st)
{
    if (st->suspended && !st->conn_done) {
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    mhd_stream *st = cls;
    return st->ops->read(st->owner, pos, buf, max);
}

static void stream_release(void *cls)
{
    mhd_stream *st = cls;
    st->ops->unref(st->owner);
}

struct MHD_Response *mhd_stream_response(mhd_stream *st, uint64_t size)
{
    st->ops->ref(st->owner);
    struct MHD_Response *r =
        MHD_create_response_from_callback(size, 16384, stream_read, st, stream_release);
    if (!r) st->ops->unref(st->owner);
    return r;
}
