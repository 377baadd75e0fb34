/* commit/ckpt: atomic checkpoint file (yajl for both directions). */
#include "commit/ckpt.h"
#include "util/clock.h"
#include "util/io.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define CKPT_MAX_FILE (64u << 10)

int64_t ckpt_now_ms(void) { return ce_wall_ms(); }

static void ckpt_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

#define CK_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), sizeof(k) - 1)

static yajl_gen_status ckpt_str(yajl_gen g, const char *s)
{
    size_t n = strlen(s);
    if (ce_utf8_valid_prefix(s, n) != n)
        return yajl_gen_invalid_string;
    return yajl_gen_string(g, (const unsigned char *)s, n);
}

static yajl_gen_status ckpt_int(yajl_gen g, int64_t v) { return yajl_gen_integer(g, (long long)v); }

int ckpt_write(const char *path, const ckpt *c, char *err, size_t errlen)
{
    int rc = -1;
    ce_buf out;
    ce_buf_init(&out, CKPT_MAX_FILE);
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        snprintf(err, errlen, "checkpoint %s: out of memory", path);
        goto out;
    }
    yajl_gen_config(g, yajl_gen_print_callback, ckpt_print, &out);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "version");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, 1);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "destination");
    if (s == yajl_gen_status_ok) s = ckpt_str(g, c->destination);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "client_id");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, c->client_id);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "batch_id");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, c->batch_id);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "binlog_file");
    if (s == yajl_gen_status_ok) s = ckpt_str(g, c->binlog_file);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "binlog_offset");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, c->binlog_offset);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "gtid");
    if (s == yajl_gen_status_ok) s = ckpt_str(g, c->gtid);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "source_time_ms");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, c->source_time_ms);
    if (s == yajl_gen_status_ok) s = CK_KEY(g, "wall_time_ms");
    if (s == yajl_gen_status_ok) s = ckpt_int(g, c->wall_time_ms);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    if (s != yajl_gen_status_ok || ce_buf_putc(&out, '\n') != 0) {
        snprintf(err, errlen, "checkpoint %s: cannot encode (invalid UTF-8 in a field?)", path);
        goto out;
    }
    if (ce_write_file_atomic(path, out.data, out.len, "checkpoint", err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (g)
        yajl_gen_free(g);
    ce_buf_free(&out);
    return rc;
}

static int ckpt_get_str(yajl_val root, const char *key, char *dst, size_t dlen)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    const char *str = v ? YAJL_GET_STRING(v) : NULL;
    if (str == NULL || strlen(str) >= dlen || ce_utf8_valid_prefix(str, strlen(str)) != strlen(str))
        return -1;
    snprintf(dst, dlen, "%s", str);
    return 0;
}

static int ckpt_get_int(yajl_val root, const char *key, int64_t *dst)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);
    if (v == NULL || !YAJL_IS_INTEGER(v))
        return -1;
    *dst = YAJL_GET_INTEGER(v);
    return 0;
}

int ckpt_read(const char *path, ckpt *result, char *err, size_t errlen)
{
    ckpt tmp, *out = &tmp; /* *result changes only on success */
    memset(out, 0, sizeof *out);
    char text[CKPT_MAX_FILE + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "checkpoint %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t n = 0;
    ssize_t r;
    while (n < sizeof text - 1 && (r = read(fd, text + n, sizeof text - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "checkpoint %s: read: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n == sizeof text - 1) {
        snprintf(err, errlen, "checkpoint %s: larger than %u bytes", path, CKPT_MAX_FILE);
        return -1;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n) != NULL) {
        snprintf(err, errlen, "checkpoint %s: NUL byte in the file", path);
        return -1;
    }
    char perr[200] = "";
    yajl_val root = yajl_tree_parse(text, perr, sizeof perr);
    int64_t client = 0, version = 0;
    int rc = -1;
    perr[strcspn(perr, "\n")] = '\0'; /* yajl's message spans lines: keep the first */
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "checkpoint %s: not a JSON object: %.150s", path, perr);
    } else if (ckpt_get_int(root, "version", &version) != 0 || version != 1) {
        snprintf(err, errlen, "checkpoint %s: missing or unsupported \"version\" (this canal-es reads 1)", path);
    } else if (ckpt_get_str(root, "destination", out->destination, sizeof out->destination) != 0 ||
               ckpt_get_int(root, "client_id", &client) != 0 || ckpt_get_int(root, "batch_id", &out->batch_id) != 0 ||
               ckpt_get_str(root, "binlog_file", out->binlog_file, sizeof out->binlog_file) != 0 ||
               ckpt_get_int(root, "binlog_offset", &out->binlog_offset) != 0 ||
               ckpt_get_str(root, "gtid", out->gtid, sizeof out->gtid) != 0 ||
               ckpt_get_int(root, "source_time_ms", &out->source_time_ms) != 0 ||
               ckpt_get_int(root, "wall_time_ms", &out->wall_time_ms) != 0) {
        snprintf(err, errlen, "checkpoint %s: a field is missing or of the wrong type", path);
    } else {
        out->client_id = (long)client;
        *result = tmp;
        rc = 0;
    }
    if (root)
        yajl_tree_free(root);
    return rc;
}

int ckpt_check_owner(const char *path, const ckpt *c, const char *destination, long client_id, char *err,
                     size_t errlen)
{
    if (strcmp(c->destination, destination) == 0 && c->client_id == client_id)
        return 0;
    snprintf(err, errlen,
             "checkpoint %s belongs to destination %s client %ld, not %s client %ld: use another checkpoint file",
             path, c->destination, c->client_id, destination, client_id);
    return -1;
}

static void ckpt_iso(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0 || ce_iso_utc(ms, buf, len) == 0)
        snprintf(buf, len, "unknown");
}

void ckpt_format_status(const ckpt *c, int64_t now_ms, char *buf, size_t buflen)
{
    char src[40], wall[40], lag[32];
    /* the file may have been edited by hand: no control byte reaches the terminal */
    char dest[4 * sizeof c->destination], file[4 * sizeof c->binlog_file], gtid[4 * sizeof c->gtid];
    ce_log_escape(c->destination, strnlen(c->destination, sizeof c->destination), dest, sizeof dest);
    ce_log_escape(c->binlog_file, strnlen(c->binlog_file, sizeof c->binlog_file), file, sizeof file);
    ce_log_escape(c->gtid, strnlen(c->gtid, sizeof c->gtid), gtid, sizeof gtid);
    ckpt_iso(c->source_time_ms, src, sizeof src);
    ckpt_iso(c->wall_time_ms, wall, sizeof wall);
    if (c->source_time_ms > 0)
        snprintf(lag, sizeof lag, "%.3f", (double)(now_ms - c->source_time_ms) / 1000.0);
    else
        snprintf(lag, sizeof lag, "unknown");
    snprintf(buf, buflen,
             "destination: %s\nclient_id: %ld\nbatch_id: %lld\nbinlog: %s:%lld\ngtid: %s\n"
             "source_time: %s\ncheckpoint_time: %s\nlag_seconds: %s\n",
             dest, c->client_id, (long long)c->batch_id, file, (long long)c->binlog_offset,
             gtid[0] ? gtid : "-", src, wall, lag);
}
