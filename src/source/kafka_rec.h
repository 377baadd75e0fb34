/* source/kafka_rec: one Kafka record written by Canal's MQ mode, read as the
 * Entries it carries. In protobuf mode (canal.mq.flatMessage = false) a
 * record's value is the TCP protocol's Packet{type MESSAGES, body Messages}
 * without the frame's length prefix; each Messages item is one serialized
 * Entry, decoded by decode_next like a TCP batch's. A flat JSON record
 * (canal.mq.flatMessage = true, the default of Canal) has no binlog
 * coordinates and only string values: it is refused, naming the setting.
 * The krec owns the unpacked Packet and Messages; its entries point into
 * them until krec_free. */
#ifndef CE_SOURCE_KAFKA_REC_H
#define CE_SOURCE_KAFKA_REC_H

#include <stddef.h>
#include <stdint.h>

#include "canal_protocol.pb-c.h"

typedef enum {
    KREC_OK = 0,
    KREC_FLAT = 1,  /* a flat JSON message: err names canal.mq.flatMessage */
    KREC_BAD = 2,   /* neither: err says why */
    KREC_NOMEM = 3,
} krec_rc;

typedef struct krec {
    Canalpb__Messages *m; /* NULL when the record holds no Messages */
    size_t n;             /* entries */
    int64_t batch_id;     /* Canal's id (0 with partitionHash) */
} krec;

/* Reads a record value. err (when not KREC_OK) starts with what the record
 * is; the caller adds where it was (topic, partition, offset). */
krec_rc krec_parse(const uint8_t *value, size_t len, krec *out, char *err, size_t errlen);
/* The i-th serialized Entry (i < n). */
const uint8_t *krec_entry(const krec *r, size_t i, size_t *len);
void krec_free(krec *r);

#endif
