/* util/io: see io.h. */
#include "util/io.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ce_write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    int is_socket = 1;
    while (n > 0) {
        ssize_t w = is_socket ? send(fd, b, n, MSG_NOSIGNAL) : write(fd, b, n);
        if (w < 0 && is_socket && errno == ENOTSOCK) {
            is_socket = 0;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int ce_sync_dir_of(const char *path, char *dir, size_t dirlen)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (slash == NULL)
        n = snprintf(dir, dirlen, ".");
    else
        n = snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (n < 0 || (size_t)n >= dirlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int ce_write_file_atomic(const char *path, const void *data, size_t len, const char *what, char *err, size_t errlen)
{
    char tmp[4096], dir[4096];
    int fd = -1, rc = -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s %s: path too long", what, path);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ce_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s %s: cannot write %s: %s", what, path, tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "%s %s: close: %s", what, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s %s: rename: %s", what, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* fsync the directory so the rename itself is durable */
    if (ce_sync_dir_of(path, dir, sizeof dir) != 0) {
        snprintf(err, errlen, "%s %s: fsync of directory %s: %s", what, path, dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return rc;
}

int ce_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *err, size_t errlen)
{
    ce_buf b;
    ce_buf_init(&b, max + 1);
    int rc = -1;
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: cannot open: %s", what, path, strerror(errno));
        goto out;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max || ce_buf_append(&b, chunk, n) != 0) {
            snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max);
            goto out;
        }
    }
    if (ferror(f) || ce_buf_terminate(&b) != 0) {
        snprintf(err, errlen, "%s %s: cannot read", what, path);
        goto out;
    }
    *len = b.len;
    *out = b.data ? (char *)b.data : ce_strdup("");
    b.data = NULL;
    if (*out == NULL)
        snprintf(err, errlen, "%s %s: out of memory", what, path);
    else
        rc = 0;
out:
    if (f)
        fclose(f);
    ce_buf_free(&b);
    return rc;
}
