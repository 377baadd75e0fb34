/* sink/deadletter: append-only JSON lines, written with yajl in the format of
 * sink/dlline. */
#include "sink/deadletter.h"
#include "sink/dlline.h"
#include "util/clock.h"
#include "util/io.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#define DL_MAX_LINE DLLINE_MAX_LINE

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

/* Opens the line's object with the members every record has (sink/dlline). */
static yajl_gen_status dl_head(yajl_gen g, int status, const char *type, const char *reason, const char *table,
                               const char *logfile, long long offset, long long exec_time)
{
    char when[40];
    ce_iso_utc(ce_wall_ms(), when, sizeof when);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = dlline_result(g, when, status, type, reason);
    if (s == yajl_gen_status_ok) s = dlline_origin(g, table, logfile, offset, exec_time);
    return s;
}

static yajl_gen dl_gen(deadletter *d)
{
    ce_buf_reset(&d->line);
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g != NULL)
        yajl_gen_config(g, yajl_gen_print_callback, dl_print, &d->line);
    return g;
}

/* Closes the object, appends the line to the file and frees g. */
static int dl_finish(deadletter *d, yajl_gen g, yajl_gen_status s, char *err, size_t errlen)
{
    int rc = -1;
    if (g == NULL || s != yajl_gen_status_ok || yajl_gen_map_close(g) != yajl_gen_status_ok ||
        ce_buf_putc(&d->line, '\n') != 0) {
        snprintf(err, errlen, "dead-letter file %s: cannot build the line", d->path);
        goto out;
    }
    if (ce_write_all(d->fd, d->line.data, d->line.len) != 0) {
        snprintf(err, errlen, "dead-letter file %s: write failed: %s", d->path, strerror(errno));
        goto out;
    }
    d->dirty = 1;
    rc = 0;
out:
    if (g)
        yajl_gen_free(g);
    return rc;
}

int dl_write(deadletter *d, const bulk *b, size_t i, const sink_item *it, char *err, size_t errlen)
{
    const uint8_t *p;
    size_t n;
    bulk_action_bytes(b, i, &p, &n);
    size_t action_len = b->meta[i].doc - b->meta[i].start;
    yajl_gen g = dl_gen(d);
    yajl_gen_status s = g == NULL ? yajl_gen_in_error_state
                                  : dl_head(g, it->status, it->type, it->reason, bulk_table(b, i),
                                            bulk_logfile(b, i), (long long)b->meta[i].offset,
                                            (long long)b->meta[i].exec_time);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "action");
    if (s == yajl_gen_status_ok) s = dl_raw(g, p, action_len);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "document");
    if (s == yajl_gen_status_ok) s = dl_raw(g, p + action_len, n - action_len);
    return dl_finish(d, g, s, err, errlen);
}

/* One image as {"column": "text" | null}; invalid UTF-8 becomes U+FFFD. */
static yajl_gen_status dl_image(yajl_gen g, const row_image *img, ce_buf *tmp)
{
    if (img->n == 0)
        return yajl_gen_null(g);
    yajl_gen_status s = yajl_gen_map_open(g);
    for (size_t i = 0; i < img->n && s == yajl_gen_status_ok; i++) {
        const row_col *c = &img->cols[i];
        size_t fixed = 0;
        ce_buf_reset(tmp);
        if (ce_utf8_repair(c->name, strlen(c->name), tmp, &fixed) != 0)
            return yajl_gen_in_error_state;
        s = yajl_gen_string(g, tmp->data, tmp->len);
        if (s != yajl_gen_status_ok)
            break;
        if (c->is_null) {
            s = yajl_gen_null(g);
            continue;
        }
        ce_buf_reset(tmp);
        if (ce_utf8_repair(c->value, c->value_len, tmp, &fixed) != 0)
            return yajl_gen_in_error_state;
        s = yajl_gen_string(g, tmp->len ? tmp->data : (const uint8_t *)"", tmp->len);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s;
}

/* "db.table" with invalid UTF-8 repaired, into tmp (NUL-terminated). */
static const char *dl_table(ce_buf *tmp, const char *schema, const char *table)
{
    size_t fixed = 0;
    ce_buf_reset(tmp);
    if (ce_utf8_repair(schema, strlen(schema), tmp, &fixed) != 0 || ce_buf_putc(tmp, '.') != 0 ||
        ce_utf8_repair(table, strlen(table), tmp, &fixed) != 0 || ce_buf_terminate(tmp) != 0)
        return "?";
    return (const char *)tmp->data;
}

int dl_write_row(deadletter *d, const row_event *ev, const char *reason, char *err, size_t errlen)
{
    static const char *const ops[] = {"?", "insert", "update", "delete"};
    ce_buf tmp, name;
    ce_buf_init(&tmp, DL_MAX_LINE);
    ce_buf_init(&name, 4096);
    yajl_gen g = dl_gen(d);
    yajl_gen_status s = g == NULL ? yajl_gen_in_error_state
                                  : dl_head(g, 0, "row_not_mapped", reason,
                                            dl_table(&name, ev->schema, ev->table), ev->logfile,
                                            (long long)ev->offset, (long long)ev->execute_time);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "kind");
    if (s == yajl_gen_status_ok) s = DL_STR(g, "row");
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "row");
    if (s == yajl_gen_status_ok) s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "op");
    if (s == yajl_gen_status_ok) s = DL_STR(g, ops[ev->op >= ROW_INSERT && ev->op <= ROW_DELETE ? ev->op : 0]);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "row_index");
    if (s == yajl_gen_status_ok) s = yajl_gen_integer(g, (long long)ev->row_index);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "before");
    if (s == yajl_gen_status_ok) s = dl_image(g, &ev->before, &tmp);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "after");
    if (s == yajl_gen_status_ok) s = dl_image(g, &ev->after, &tmp);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    int rc = dl_finish(d, g, s, err, errlen);
    ce_buf_free(&tmp);
    ce_buf_free(&name);
    return rc;
}

int dl_write_entry(deadletter *d, const decode_bad *bad, char *err, size_t errlen)
{
    ce_buf name;
    ce_buf_init(&name, 4096);
    int rc = -1;
    size_t b64cap = 4 * ((bad->len + 2) / 3) + 1;
    unsigned char *b64 = bad->len <= DL_MAX_LINE / 2 ? ce_malloc(b64cap) : NULL;
    if (b64 == NULL) {
        snprintf(err, errlen, "dead-letter file %s: out of memory for a %zu-byte entry", d->path, bad->len);
        goto out;
    }
    int n64 = EVP_EncodeBlock(b64, bad->entry, (int)bad->len);
    yajl_gen g = dl_gen(d);
    yajl_gen_status s = g == NULL || n64 < 0
                            ? yajl_gen_in_error_state
                            : dl_head(g, 0, "malformed_entry", bad->reason,
                                      bad->schema[0] || bad->table[0] ? dl_table(&name, bad->schema, bad->table) : "",
                                      bad->logfile, (long long)bad->offset, (long long)bad->execute_time);
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "kind");
    if (s == yajl_gen_status_ok) s = DL_STR(g, "entry");
    if (s == yajl_gen_status_ok) s = DL_KEY(g, "entry_base64");
    if (s == yajl_gen_status_ok) s = yajl_gen_string(g, b64, (size_t)(n64 < 0 ? 0 : n64));
    rc = dl_finish(d, g, s, err, errlen);
out:
    ce_free(b64);
    ce_buf_free(&name);
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
