/* source/zk: follows the running server of a Canal HA cluster in ZooKeeper.
 *
 * The running Canal server of a destination holds the ephemeral node
 * /otter/canal/destinations/{destination}/running with the JSON of Canal's
 * ServerRunningData, e.g. {"active":true,"address":"10.0.0.5:11111"} (a
 * deprecated "cid" may appear too). zk_follow keeps one ZooKeeper session
 * (libzookeeper_mt: its own I/O and event threads) and a watch on that node,
 * in a child process (this binary run with ZK_CHILD_COMMAND): a malformed
 * reply that crashes the library kills only the child, and the read that saw
 * it fails (-1) instead of the process. Every read of the node is asked by
 * the caller's thread (zk_running), which also re-arms the watch. So one
 * thread owns the zk_follow for reading; zk_changed may be called from it at
 * any time and is cheap. zk_close ends the child and frees everything (from
 * the owning thread). A program using zk_open must run zk_child_main when its
 * argv[1] is ZK_CHILD_COMMAND (canal-es's main does, so do the unit tests). */
#ifndef CE_SOURCE_ZK_H
#define CE_SOURCE_ZK_H

#include <stddef.h>

#define ZK_ADDR_MAX 256   /* longest "host:port" accepted from the running node */
#define ZK_DATA_MAX 4096  /* longest running node read */
#define ZK_CHILD_COMMAND "zk-follow" /* internal subcommand: the reader process */

typedef struct zk_follow zk_follow;

/* Starts a session with `hosts` ("host:port[,host:port...]") watching the
 * running node of `destination`. Connecting happens in the background.
 * NULL with err filled on bad arguments or when the library refuses. */
zk_follow *zk_open(const char *hosts, const char *destination, long session_timeout_ms, char *err, size_t errlen);
void zk_close(zk_follow *z);

/* Reads the running node now (waiting up to the session timeout for the
 * first connection) and re-arms the watch. 1: a server runs the destination,
 * its "host:port" is in addr; 0: none does (no node, or "active":false);
 * -1: ZooKeeper could not be read (err names the hosts and the path) and no
 * earlier answer is known. While the session is disconnected the last answer
 * read is returned. */
int zk_running(zk_follow *z, char *addr, size_t addrlen, char *err, size_t errlen);

/* Nonzero when the node may have changed since the last zk_running: a watch
 * fired, or the session was (re)established or expired. */
int zk_changed(zk_follow *z);

/* The reader process: `PROG zk-follow HOSTS DESTINATION TIMEOUT_MS`, talking
 * to zk_open's caller on stdin/stdout. Returns the exit status. */
int zk_child_main(int argc, char **argv);

/* The watched path, for messages. */
const char *zk_path(const zk_follow *z);

/* Parses the running node's data (not NUL-terminated, `len` bytes).
 * 1: active, "host:port" written to addr; 0: the node says "active":false;
 * -1: not the expected JSON (err says why). Unknown members are ignored. */
int zk_parse_running(const char *data, size_t len, char *addr, size_t addrlen, char *err, size_t errlen);

#endif
