/* source/canal: a Canal TCP client. Connects (to the running server named in
 * ZooKeeper when `zookeeper` is set, else trying each configured address in
 * turn), handshakes, authenticates with scramble411, subscribes and rolls
 * back to batch 0 so every un-acked batch is redelivered. Then GET (no
 * auto-ack, explicit timeout and unit) and CLIENTACK strictly in batch order.
 * Errors the server reports (ACK packets) are decoded as Ack and carried
 * with their code and message. Batches returned by canal_get belong to the
 * caller (canal_batch_free) and stay valid after later GETs and after
 * canal_free, so several can be in hand at once (pipelining). With ZooKeeper, canal_get first checks whether
 * the running server moved (a watch fired) and then returns CANAL_ERR_IO so
 * the caller reconnects to the new one. Every wait (connect, each read) is
 * done in poll slices that watch opts.stop, so a stop request ends it at
 * once; writes are small and bounded by the socket's send timeout. */
#ifndef CE_SOURCE_CANAL_H
#define CE_SOURCE_CANAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "canal_protocol.pb-c.h"
#include "util/result.h"

typedef struct canal_opts {
    const char *addresses;  /* host:port[,host:port...] */
    const char *destination;
    const char *username;
    const char *password;
    long client_id;
    const char *filter;
    long fetch_size;
    long fetch_timeout_ms;
    size_t max_frame;       /* 0 = FRAME_DEFAULT_MAX */
    long connect_timeout_ms;
    volatile sig_atomic_t *stop; /* a signal sets it: connects and reads give up within ~100 ms */
    const char *zookeeper;  /* NULL or "": off; else host:port[,...] of the Canal cluster's ZooKeeper */
    long zookeeper_timeout_ms; /* ZooKeeper session timeout (0: 10000) */
    int no_rollback;        /* 1: connect without rollback(0), which would hand the un-acked batches of a
                               running client of the same destination back to the queue (check-config) */
} canal_opts;

typedef enum {
    CANAL_OK = 0,
    CANAL_ERR_IO = -1,      /* connection lost/refused, timeout, bad frame: reconnect */
    CANAL_ERR_AUTH = -2,    /* authentication refused: fatal */
    CANAL_ERR_STANDBY = -3, /* "should start first": try the next server */
    CANAL_ERR_SERVER = -4,  /* server refused subscribe etc.: fatal */
    CANAL_ERR_INTR = -5,    /* interrupted by a signal */
    CANAL_ERR_ORDER = -6,   /* caller acked out of order: a bug, fatal */
    CANAL_ERR_TOO_BIG = -7, /* a frame above max_frame (err names both sizes); the connection is closed */
} canal_rc;

/* The kind of a canal_rc (util/result.h), so callers decide by kind:
 * OK; RETRY (IO, STANDBY: reconnect with backoff); PERMANENT (TOO_BIG: the
 * same batch comes again, retrying helps only so often); FATAL (AUTH,
 * SERVER, ORDER: the configuration or the caller is wrong); STOPPED (INTR). */
ce_result canal_rc_kind(canal_rc rc);

typedef struct canal_client canal_client;

/* One serialized Entry of a batch. */
typedef struct canal_entry {
    const uint8_t *p;
    size_t len;
} canal_entry;

/* A batch of GET: its id and its entries, in order. */
typedef struct canal_batch {
    int64_t id;
    size_t n;
    const canal_entry *entries;
    size_t bytes;   /* the size of the MESSAGES body it came from */
    void *priv;     /* the memory it owns */
} canal_batch;

void canal_batch_free(canal_batch *b);
/* The batch of a MESSAGES body (walked on its bytes, decode/wire): its entries
 * are slices of the body. With owner (a Packet body points into, as
 * protobuf-c unpacked it) the batch takes that packet on success and
 * frees it with itself; without, the batch holds one copy of the body.
 * NULL with err filled when the body is not a Messages or memory runs out.
 * A batch id of -1 (nothing to fetch) is returned as it is. */
canal_batch *canal_batch_parse(const uint8_t *body, size_t len, Canalpb__Packet *owner, char *err, size_t errlen);
/* The same for a body in `frame`, a buffer from ce_malloc (util/mem.h) the
 * batch takes on success and frees with itself (a frame read off the
 * socket, walked by packet_decode: nothing copied). frame NULL: the body
 * stays the caller's, not copied, and must outlive the batch. */
canal_batch *canal_batch_parse_frame(const uint8_t *body, size_t len, void *frame, char *err, size_t errlen);

canal_client *canal_new(const canal_opts *opts);
void canal_free(canal_client *c);
/* Connect to the running server named in ZooKeeper (when set and it names one;
 * after a failed attempt on it, the next address of the list gets one try) or
 * else to the next address; handshake, auth, subscribe, rollback(0). */
canal_rc canal_connect(canal_client *c, char *err, size_t errlen);
void canal_close(canal_client *c);
/* The "host:port" in use (or last tried). */
const char *canal_peer(const canal_client *c);
/* Fetches one batch. *out is NULL for an empty batch (batch id -1). */
canal_rc canal_get(canal_client *c, canal_batch **out, char *err, size_t errlen);
/* How a GET waits on the server (Canal 1.1.x):
 * CANAL_GET_WAIT   up to fetch_size, the server waiting up to fetch_timeout_ms for that many (canal_get);
 * CANAL_GET_NOW    what the server holds now, up to fetch_size, at once (timeout -1: empty when nothing);
 * CANAL_GET_FIRST  as soon as the server holds anything, waiting up to fetch_timeout_ms for it (fetch
 *                  size 1: one entry, or what the server's memory batch unit covers).
 * The stream asks NOW while changes flow and FIRST when it is idle: a change waits neither for a batch to
 * fill nor for the timeout. */
typedef enum { CANAL_GET_WAIT = 0, CANAL_GET_NOW, CANAL_GET_FIRST } canal_wait;
canal_rc canal_get_mode(canal_client *c, canal_wait mode, canal_batch **out, char *err, size_t errlen);
/* on != 0: a stop request does not end a GET or ACK that waits for the
 * server (the caller holds batches it wants to ack on this connection;
 * the wait stays bounded by the read timeout). 0 (the default): a stop
 * ends every wait at once and closes the connection. */
void canal_hold(canal_client *c, int on);
/* Acks the oldest outstanding batch; batch_id must be that one. */
canal_rc canal_ack(canal_client *c, int64_t batch_id, char *err, size_t errlen);

#endif
