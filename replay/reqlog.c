/* reqlog.c — DIR/requests.jsonl. Workers hand batches of whole lines to
 * reqlog_append, which only copies them into the pending buffer; a writer
 * thread writes that buffer out, so a write held by the disk (page-cache
 * writeback) never stalls a worker's event loop. The file is closed with
 * fsync, so an interrupted run leaves every finished request on disk.
 * Also converts the log to CSV (--csv). */
#include "replay/replay_int.h"
#include "common/util.h"
#include "common/zio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines waiting for the writer at most: past it, reqlog_append waits (the
 * disk is slower than the run; memory stays bounded). */
#define REQLOG_PENDING_MAX (64u << 20)

struct reqlog {
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* the writer: lines pending, or closing */
    pthread_cond_t room;      /* appenders: the pending buffer was taken */
    strbuf pending;           /* appended, not yet taken by the writer */
    int closing;
    pthread_t writer;
    int fd;
    char *path;
    int failed;               /* a write failed: err says why */
    char err[512];
};

static int write_all(reqlog *l, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(l->fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Takes the pending lines in one piece (a buffer swap) and writes them
 * outside the lock, until closing and nothing is left. */
static void *writer_main(void *arg)
{
    reqlog *l = arg;
    strbuf out = {0};
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->pending.len && !l->closing) pthread_cond_wait(&l->wake, &l->mu);
        if (!l->pending.len) break;
        strbuf t = out;
        out = l->pending;
        l->pending = t;
        pthread_cond_broadcast(&l->room);
        pthread_mutex_unlock(&l->mu);
        int rc = l->failed ? 0 : write_all(l, out.buf, out.len);
        int e = errno;
        sb_clear(&out);
        pthread_mutex_lock(&l->mu);
        if (rc < 0 && !l->failed) {
            snprintf(l->err, sizeof l->err, "%s: write error: %s", l->path, strerror(e));
            l->failed = 1;
            pthread_cond_broadcast(&l->room);
        }
    }
    pthread_mutex_unlock(&l->mu);
    sb_free(&out);
    return NULL;
}

reqlog *reqlog_open(const char *dir, char *err, size_t errlen)
{
    strbuf p = {0};
    sb_printf(&p, "%s/requests.jsonl", dir);
    int fd = open(p.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
    if (fd < 0) {
        errf(err, errlen, "%s: cannot create: %s", p.buf, strerror(errno));
        sb_free(&p);
        return NULL;
    }
    reqlog *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->wake, NULL);
    pthread_cond_init(&l->room, NULL);
    l->fd = fd;
    l->path = p.buf;
    int rc = pthread_create(&l->writer, NULL, writer_main, l);
    if (rc) {
        errf(err, errlen, "%s: cannot start the log writer thread: %s", p.buf, strerror(rc));
        close(fd);
        pthread_cond_destroy(&l->room);
        pthread_cond_destroy(&l->wake);
        pthread_mutex_destroy(&l->mu);
        free(l->path);
        free(l);
        return NULL;
    }
    pthread_setname_np(l->writer, "replay-log");
    return l;
}

const char *reqlog_path(const reqlog *l) { return l->path; }

int reqlog_append(reqlog *l, const char *data, size_t len)
{
    pthread_mutex_lock(&l->mu);
    while (!l->failed && l->pending.len && l->pending.len + len > REQLOG_PENDING_MAX)
        pthread_cond_wait(&l->room, &l->mu);
    if (!l->failed) {
        int was_empty = !l->pending.len;
        sb_add(&l->pending, data, len);
        if (was_empty) pthread_cond_signal(&l->wake);
    }
    int rc = l->failed ? ERR_SYSTEM : 0;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int reqlog_close(reqlog *l, char *err, size_t errlen)
{
    if (!l) return 0;
    pthread_mutex_lock(&l->mu);
    l->closing = 1;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->writer, NULL);   /* it writes what is pending first */
    int rc = l->failed ? ERR_SYSTEM : 0;
    if (rc) errf(err, errlen, "%s", l->err);
    if (fsync(l->fd) < 0 && !rc && errno != EINVAL) {
        errf(err, errlen, "%s: fsync: %s", l->path, strerror(errno));
        rc = ERR_SYSTEM;
    }
    if (close(l->fd) < 0 && !rc) {
        errf(err, errlen, "%s: close: %s", l->path, strerror(errno));
        rc = ERR_SYSTEM;
    }
    sb_free(&l->pending);
    pthread_cond_destroy(&l->room);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
    return rc;
}

/* ---- CSV ---- */

static const char *const csv_cols[] = {
    "index", "id", "session", "turn", "client", "api", "model", "warmup", "ok", "status",
    "error_class", "error_message", "t_sched_ns", "t_send_ns", "connect_ns", "t_first_byte_ns",
    "t_first_token_ns", "t_last_token_ns", "t_end_ns", "send_lag_us", "ttft_ms",
    "ttft_from_sched_ms", "e2e_ms", "e2e_from_sched_ms", "tpot_ms", "prompt_tokens",
    "output_tokens", "token_source", "expected_output_tokens", "events", "itl_basis", NULL
};

static void csv_field(strbuf *b, const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) return;
    if (cJSON_IsBool(v)) {
        sb_adds(b, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d && d < 9e15 && d > -9e15) sb_printf(b, "%lld", (long long)d);
        else sb_printf(b, "%.6f", d);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (strpbrk(s, ",\"\r\n")) {
            sb_addc(b, '"');
            for (; *s; s++) {
                if (*s == '"') sb_addc(b, '"');
                sb_addc(b, *s);
            }
            sb_addc(b, '"');
        } else {
            sb_adds(b, s);
        }
    }
}

int reqlog_write_csv(const char *jsonl, const char *csv, char *err, size_t errlen)
{
    zio_reader *r = zio_reader_open(jsonl, err, errlen);
    if (!r) return ERR_SYSTEM;
    zio_writer *w = zio_writer_open(csv, 0, err, errlen);
    if (!w) {
        zio_reader_close(r);
        return ERR_SYSTEM;
    }
    strbuf b = {0};
    for (int i = 0; csv_cols[i]; i++) sb_printf(&b, "%s%s", i ? "," : "", csv_cols[i]);
    sb_addc(&b, '\n');
    char *line;
    size_t len;
    int rc;
    while ((rc = zio_reader_getline(r, &line, &len)) > 0) {
        cJSON *o = cJSON_ParseWithLength(line, len);
        if (!o) continue;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        for (int i = 0; csv_cols[i]; i++) {
            if (i) sb_addc(&b, ',');
            const char *k = csv_cols[i];
            if (!strcmp(k, "error_class")) csv_field(&b, cJSON_GetObjectItemCaseSensitive(e, "class"));
            else if (!strcmp(k, "error_message")) csv_field(&b, cJSON_GetObjectItemCaseSensitive(e, "message"));
            else csv_field(&b, cJSON_GetObjectItemCaseSensitive(o, k));
        }
        sb_addc(&b, '\n');
        cJSON_Delete(o);
        if (b.len > (1u << 20)) {
            if (zio_writer_write(w, b.buf, b.len) < 0) break;
            sb_clear(&b);
        }
    }
    int wrc = zio_writer_write(w, b.buf, b.len);
    sb_free(&b);
    if (rc < 0) errf(err, errlen, "%s", zio_reader_error(r));
    zio_reader_close(r);
    if (rc < 0 || wrc < 0) {
        if (wrc < 0) errf(err, errlen, "%s", zio_writer_error(w));
        zio_writer_abort(w);
        return ERR_SYSTEM;
    }
    return zio_writer_close(w, err, errlen);
}
