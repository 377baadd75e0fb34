/* source/source: where the service loop's batches come from. One interface
 * over two producers of Canal Entries:
 *   - the Canal TCP client (source/canal.c; source_canal.c adapts it), one
 *     batch per GET, acked with CLIENTACK;
 *   - a Kafka consumer (source/kafka.c) over Canal's MQ mode in protobuf form,
 *     one batch per poll round, acked by storing offset + 1 of each of its
 *     records' partitions (committed by librdkafka).
 * The loop connects, gets batches (in one of the wait modes), acks them
 * strictly in the order they were got, and on a lost connection forgets every
 * batch in hand and connects again: the source then delivers everything not
 * acked again. A batch belongs to the caller (src_batch_free) and stays valid
 * after later gets; its entries are serialized Canal Entries (decode_next).
 * The result codes are those of canal.h, plus SRC_ERR_REBALANCE. */
#ifndef CE_SOURCE_SOURCE_H
#define CE_SOURCE_SOURCE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/canal.h"

typedef enum {
    SRC_OK = CANAL_OK,
    SRC_ERR_IO = CANAL_ERR_IO,           /* connection lost, timeout, bad frame: forget the batches, reconnect */
    SRC_ERR_AUTH = CANAL_ERR_AUTH,       /* credentials refused: fatal */
    SRC_ERR_STANDBY = CANAL_ERR_STANDBY, /* a standby server: try the next */
    SRC_ERR_SERVER = CANAL_ERR_SERVER,   /* the server refused the subscription / topic: fatal */
    SRC_ERR_INTR = CANAL_ERR_INTR,       /* a stop request ended the wait */
    SRC_ERR_ORDER = CANAL_ERR_ORDER,     /* acked out of order: a bug, fatal */
    SRC_ERR_TOO_BIG = CANAL_ERR_TOO_BIG, /* a frame above the cap */
    SRC_ERR_FORMAT = -8,                 /* records the decoder cannot take (flat JSON): fatal, err says what to set */
    SRC_ERR_REBALANCE = -9,              /* partitions were revoked or assigned: forget the batches in hand (none of
                                            their offsets is stored any more) and get again, without a delay */
} src_rc;

/* How a get waits (canal_wait): WAIT up to the batch size for up to the fetch
 * timeout; NOW what is there at once; FIRST as soon as anything is there,
 * waiting up to the fetch timeout. */
typedef enum { SRC_GET_WAIT = CANAL_GET_WAIT, SRC_GET_NOW = CANAL_GET_NOW, SRC_GET_FIRST = CANAL_GET_FIRST } src_wait;

typedef canal_entry src_entry;
typedef canal_batch src_batch;

typedef struct src_ops {
    const char *kind; /* "canal" | "kafka" */
    src_rc (*connect)(void *impl, char *err, size_t errlen);
    src_rc (*get)(void *impl, src_wait mode, src_batch **out, char *err, size_t errlen);
    src_rc (*ack)(void *impl, int64_t batch_id, char *err, size_t errlen);
    void (*batch_free)(void *impl, src_batch *b);
    const char *(*peer)(const void *impl);
    const char *(*what)(const void *impl); /* "destination example", "group g, topic t" */
    void (*free)(void *impl);
    /* Optional: on != 0 while the caller holds batches it must ack on this
     * connection: a stop request does not end a wait for the server then. */
    void (*hold)(void *impl, int on);
} src_ops;

/* A source: its operations and its state. */
typedef struct source {
    const src_ops *ops;
    void *impl;
} source;

/* The Canal TCP client of opts (canal_new). NULL when out of memory. */
source *src_canal_new(const canal_opts *opts);

/* Connects (or reconnects: the batches in hand are forgotten and delivered
 * again). */
src_rc src_connect(source *s, char *err, size_t errlen);
/* The next batch; *out is NULL when there is none (yet). */
src_rc src_get(source *s, src_wait mode, src_batch **out, char *err, size_t errlen);
/* Acks the oldest batch got and not acked; batch_id must be that one. */
src_rc src_ack(source *s, int64_t batch_id, char *err, size_t errlen);
void src_batch_free(source *s, src_batch *b);
/* See src_ops.hold (a no-op for a source without it). */
void src_hold(source *s, int on);
/* The server in use or last tried ("host:port", or the broker list). */
const char *src_peer(const source *s);
/* What is subscribed, for log lines. */
const char *src_what(const source *s);
const char *src_kind(const source *s);
void src_free(source *s);

#endif
