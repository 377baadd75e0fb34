/* sink/deadletter: append-only JSON lines, written with yajl. */
#include "sink/deadletter.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#define DL_MAX_LINE ((size_t)1 << 30)

struct deadletter {
    int fd;
    char *path;
    ce_buf line;
    int dirty;
};

deadletter *dl_open(const char *path, char *err, size_t errlen)
{
    deadletter *d = ce_calloc(1, sizeof *d);
    if (d == NULL || (d->path = ce_strdup(path)) == NULL) {
        snprintf(err, errlen, "dead-letter file %s: out of memory", path);
        ce_free(d);
        return NULL;
    }
    d->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (d->fd < 0) {
        snprintf(err, errlen, "dead-letter file %s: cannot open: %s", path, strerror(errno));
        ce_free(d->path);
        ce_free(d);
        return NULL;
    }
    ce_buf_init(&d->line, DL_MAX_LINE);
    return d;
}

const char *dl_path(const deadletter *d) { return d->path; }

static void dl_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

#define DL_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), sizeof(k) - 1)
#define DL_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

/* Raw JSON from the bulk body (valid by construction), without its newline. */
static yajl_gen_status dl_raw(yajl_gen g, const uint8_t *p, size_t n)
{
    while (n > 0 && p[n - 1] == '\n')
        n--;
    if (n == 0)
        return yajl_gen_null(g);
    return yajl_gen_number(g, (const char *)p, n); /* yajl writes number text verbatim */
}

int dl_write(deadletter *d, const bulk *b, size_t i, const sink_item *it, char *err, size_t errlen)
{
    const uint8_t *p;
    size_t n;
    bulk_action_bytes(b, i, &p, &n);
    size_t action_len = b->meta[i].doc - b->meta[i].start;
    char when[40] = "";
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + k, sizeof when - k, ".%03ldZ", ts.tv_nsec / 1000000L);
    }
    char off[24], status[16], stime[24];
    int offn = snprintf(off, sizeof off, "%lld", (long long)b->meta[i].offset);
    int stn = snprintf(status, sizeof status, "%d", it->status);
    int srcn = snprintf(stime, sizeof stime, "%lld", (long long)b->meta[i].exec_time);
    ce_buf_reset(&d->line);
    int rc = -1;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        goto out;
    yajl_gen_config(g, yajl_gen_print_callback, dl_print, &d->line);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "time");
    if (s == yajl_gen_status_ok) s = DL_STR(g, when);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "status");
    if (s == yajl_gen_status_ok) s = yajl_gen_number(g, status, (size_t)stn);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "error");
    if (s == yajl_gen_status_ok) s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "type");
    if (s == yajl_gen_status_ok) s = DL_STR(g, it->type);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "reason");
    if (s == yajl_gen_status_ok) s = DL_STR(g, it->reason);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "table");
    if (s == yajl_gen_status_ok) s = DL_STR(g, bulk_table(b, i));
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "binlog");
    if (s == yajl_gen_status_ok) s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "file");
    if (s == yajl_gen_status_ok) s = DL_STR(g, bulk_logfile(b, i));
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "offset");
    if (s == yajl_gen_status_ok) s = yajl_gen_number(g, off, (size_t)offn);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "source_time_ms");
    if (s == yajl_gen_status_ok) s = yajl_gen_number(g, stime, (size_t)srcn);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "action");
    if (s == yajl_gen_status_ok) s = dl_raw(g, p, action_len);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "document");
    if (s == yajl_gen_status_ok) s = dl_raw(g, p + action_len, n - action_len);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    if (s != yajl_gen_status_ok || ce_buf_putc(&d->line, '\n') != 0) {
        snprintf(err, errlen, "dead-letter file %s: cannot build the line", d->path);
        goto out;
    }
    size_t w = 0;
    while (w < d->line.len) {
        ssize_t r = write(d->fd, d->line.data + w, d->line.len - w);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "dead-letter file %s: write failed: %s", d->path, strerror(errno));
            goto out;
        }
        w += (size_t)r;
    }
    d->dirty = 1;
    rc = 0;
out:
    if (g)
        yajl_gen_free(g);
    return rc;
}

int dl_write_refused(deadletter *d, const map_out *mo, const sink_item *it, char *err, size_t errlen)
{
    bulk b;
    int rc = -1;
    if (bulk_init(&b, DL_MAX_LINE) != 0) {
        snprintf(err, errlen, "dead-letter file %s: out of memory", d->path);
        goto out;
    }
    for (size_t i = 0; i < mo->n; i++)
        if (bulk_append(&b, &mo->act[i], err, errlen) != 0)
            goto out;
    for (size_t i = 0; i < b.n_actions; i++)
        if (dl_write(d, &b, i, it, err, errlen) != 0)
            goto out;
    rc = 0;
out:
    bulk_free(&b);
    return rc;
}

int dl_sync(deadletter *d, char *err, size_t errlen)
{
    if (!d->dirty)
        return 0;
    if (fsync(d->fd) != 0) {
        snprintf(err, errlen, "dead-letter file %s: fsync failed: %s", d->path, strerror(errno));
        return -1;
    }
    d->dirty = 0;
    return 0;
}

void dl_close(deadletter *d)
{
    if (d == NULL)
        return;
    close(d->fd);
    ce_buf_free(&d->line);
    ce_free(d->path);
    ce_free(d);
}
