/* util/io: small POSIX I/O helpers shared by the modules that write files
 * and sockets (checkpoint, replay's .remaining file, the ZooKeeper reader)
 * and read small files whole (mapping files). */
#ifndef CE_UTIL_IO_H
#define CE_UTIL_IO_H

#include <stddef.h>

/* Writes all n bytes of p to fd, retrying after EINTR and short writes.
 * On a socket it never raises SIGPIPE (MSG_NOSIGNAL). 0, or -1 with errno. */
int ce_write_all(int fd, const void *p, size_t n);
/* Replaces the file at path with data as Redis' rdbSave does: PATH.tmp,
 * fsync, rename, fsync of the directory. -1 with err ("what PATH: why"). */
int ce_write_file_atomic(const char *path, const void *data, size_t len, const char *what, char *err, size_t errlen);
/* fsyncs the directory that holds path (after a file in it was created,
 * renamed or removed), so that the change itself is durable. 0, or -1 with
 * errno and the directory's name in dir (dirlen bytes). */
int ce_sync_dir_of(const char *path, char *dir, size_t dirlen);
/* The whole file at path, NUL-terminated, into *out (caller frees with
 * ce_free), its length (without the NUL) in *len. -1 with err ("WHAT PATH:
 * cannot open: why", "... larger than MAX bytes", "... cannot read") when it
 * cannot be read or holds more than max bytes. */
int ce_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *err, size_t errlen);

#endif
