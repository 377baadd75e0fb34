/* util/io: see io.h. */
#include "util/io.h"

#include <errno.h>
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
