/* util/io: small POSIX I/O helpers shared by the modules that write files
 * and sockets (checkpoint, replay's .remaining file, the ZooKeeper reader). */
#ifndef CE_UTIL_IO_H
#define CE_UTIL_IO_H

#include <stddef.h>

/* Writes all n bytes of p to fd, retrying after EINTR and short writes.
 * On a socket it never raises SIGPIPE (MSG_NOSIGNAL). 0, or -1 with errno. */
int ce_write_all(int fd, const void *p, size_t n);

#endif
