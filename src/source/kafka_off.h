/* source/kafka_off: which offsets a Kafka batch may store once it is acked.
 * A batch is the records of one poll round, possibly of several partitions.
 * Batches are acked strictly in the order they were opened (the service
 * loop acks in batch order, after every action from their records has a
 * final result); the ack of a batch yields, per partition it holds, the
 * offset after its last record there (offset + 1, Kafka's "next record to
 * read"), which is what may be stored and committed. A rebalance forgets
 * every open batch: their records are read again from the committed
 * offsets by whichever consumer owns the partition next. Pure bookkeeping
 * (no librdkafka): tested without a broker. */
#ifndef CE_SOURCE_KAFKA_OFF_H
#define CE_SOURCE_KAFKA_OFF_H

#include <stddef.h>
#include <stdint.h>

#define KOFF_MAX_BATCHES 64 /* above RUN_MAX_IN_HAND */
#define KOFF_MAX_TOPICS 64

/* The position one acked batch reached in one partition. */
typedef struct koff_mark {
    const char *topic;  /* interned: valid until koff_free */
    int32_t partition;
    int64_t next;       /* offset + 1 of its last record there */
    int64_t ts_ms;      /* that record's timestamp (0 = none) */
} koff_mark;

typedef struct koff_batch {
    int64_t id;
    koff_mark *marks;
    size_t n, cap;
} koff_batch;

typedef struct koff {
    koff_batch ring[KOFF_MAX_BATCHES];
    size_t head, count;   /* open batches, oldest first; the last may be being filled */
    int64_t next_id;      /* ids grow from 1 across rebalances */
    char *topics[KOFF_MAX_TOPICS];
    size_t n_topics;
} koff;

void koff_init(koff *k);
void koff_free(koff *k);
/* Opens a batch at the end; its id in *id. -1 when KOFF_MAX_BATCHES are open. */
int koff_begin(koff *k, int64_t *id);
/* A record of the batch being filled (the last one opened). Offsets of one
 * partition only grow inside a batch. -1 when out of memory or too many
 * topics (err says which). */
int koff_add(koff *k, const char *topic, int32_t partition, int64_t offset, int64_t ts_ms, char *err, size_t errlen);
/* Records in the last batch opened (0: it is empty). */
size_t koff_last_marks(const koff *k);
/* Drops the last batch opened (an empty poll round, or one cut short). */
void koff_drop_last(koff *k);
/* Acks the oldest open batch, which must be batch_id; *out then points to its
 * marks (valid until the next call on k). -1 with err when batch_id is not
 * the oldest (a caller bug) or nothing is open. */
int koff_ack(koff *k, int64_t batch_id, const koff_batch **out, char *err, size_t errlen);
/* Forgets every open batch (a rebalance): none of their offsets is stored. */
void koff_forget(koff *k);
/* Open batches. */
size_t koff_open(const koff *k);

#endif
