/* reqlog.c — DIR/requests.jsonl: workers append batches of whole lines
 * under a mutex; the file is flushed when a batch arrives and closed with
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

struct reqlog {
    pthread_mutex_t mu;
    int fd;
    char *path;
    int failed;
    char err[512];
};

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
    l->fd = fd;
    l->path = p.buf;
    return l;
}

const char *reqlog_path(const reqlog *l) { return l->path; }

int reqlog_append(reqlog *l, const char *data, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    while (len > 0 && !l->failed) {
        ssize_t n = write(l->fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(l->err, sizeof l->err, "%s: write error: %s", l->path, strerror(errno));
            l->failed = 1;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    if (l->failed) rc = ERR_SYSTEM;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int reqlog_close(reqlog *l, char *err, size_t errlen)
{
    if (!l) return 0;
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
