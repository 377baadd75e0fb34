/* source/kafka: a Kafka consumer (librdkafka) of the topic Canal's MQ mode
 * writes in protobuf form, as a source (source.h) of the service loop.
 *
 * One get = one poll round: up to max_poll_records records (and max_bytes of
 * values), each a Packet{MESSAGES} whose Entries become the batch's entries
 * (source/kafka_rec.h). An ack of the batch stores offset + 1 of its last
 * record in each partition (enable.auto.offset.store = false); librdkafka
 * commits what is stored (enable.auto.commit, every second, and on close),
 * and the revoke of a rebalance commits it synchronously first. So an offset
 * is committed only after every action of every record before it had its
 * final result. A rebalance (range assignor, eager) forgets every batch in
 * hand (SRC_ERR_REBALANCE): their records are read again from the committed
 * offsets by whoever owns the partition next. Per-partition assignment,
 * stored and committed offsets and high watermarks go to stats (ce_stats
 * kparts) for /metrics. Threads: one (the pipeline thread); librdkafka's own
 * threads call only the log and error callbacks, which touch atomics. */
#ifndef CE_SOURCE_KAFKA_H
#define CE_SOURCE_KAFKA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "source/source.h"
#include "stats.h"

typedef struct kafka_opts {
    const char *brokers;
    const char *topic;      /* one, a comma-separated list, or ^REGEX */
    const char *group_id;
    const char *client_id;
    int tls;
    const char *ca_file, *cert_file, *key_file;
    int verify;
    const char *sasl_mechanism; /* "" = none */
    const char *username, *password;
    long session_timeout_ms;
    long max_poll_records;
    long poll_timeout_ms;
    size_t max_bytes;       /* values of one batch (0: 64 MiB) */
    long connect_timeout_ms;/* broker metadata on connect (0: 10000) */
    volatile sig_atomic_t *stop;
    ce_stats *stats;        /* NULL: no per-partition series */
} kafka_opts;

/* The consumer (not connected yet). NULL when out of memory. */
source *src_kafka_new(const kafka_opts *o);

/* What check-config and status ask the cluster (no group join, nothing
 * committed). */
typedef struct kafka_probe_part {
    int32_t partition;
    int64_t low, high;   /* watermarks (-1: unknown) */
    int64_t committed;   /* the group's committed offset (-1: none) */
} kafka_probe_part;

#define KAFKA_PROBE_MAX_PARTS 256

typedef struct kafka_probe {
    int brokers_up;          /* brokers in the metadata answer (0: unreachable) */
    char topic[256];         /* the first topic of the list (a regex is not probed) */
    int topic_exists;
    size_t n_parts;
    kafka_probe_part parts[KAFKA_PROBE_MAX_PARTS];
    char group_state[64];    /* "Stable", "Empty", ... ("" unknown) */
    int group_members;       /* -1 unknown */
    char err[512];           /* why something is unknown */
} kafka_probe;

/* Fills p. 0 when the brokers answered (the rest may still be unknown, see
 * p->err), -1 when they did not (p->err says why). */
int kafka_probe_run(const kafka_opts *o, long timeout_ms, kafka_probe *p);

#endif
