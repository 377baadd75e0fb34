/* source/kafka_rec: Canal MQ records → Entries (see kafka_rec.h). */
#include "source/kafka_rec.h"
#include "source/packet.h"

#include <stdio.h>
#include <string.h>

/* A flat message is one JSON object ({"data":[...],"database":...}); a
 * Packet's first byte is a field tag (0x08, 0x10, 0x18, 0x20 or 0x2a), never
 * '{', '[' or white space. */
static int krec_looks_json(const uint8_t *v, size_t len)
{
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
        i++;
    return i < len && (v[i] == '{' || v[i] == '[');
}

krec_rc krec_parse(const uint8_t *value, size_t len, krec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (value == NULL || len == 0) {
        snprintf(err, errlen, "an empty record (no Canal Packet)");
        return KREC_BAD;
    }
    if (krec_looks_json(value, len)) {
        snprintf(err, errlen,
                 "a flat JSON message (%zu bytes): Canal writes binlog coordinates and typed values only in its "
                 "protobuf form; set canal.mq.flatMessage = false in canal.properties (and restart Canal)",
                 len);
        return KREC_FLAT;
    }
    packet_view pv;
    char why[256];
    if (packet_decode(value, len, &pv, why, sizeof why) != 0) {
        snprintf(err, errlen, "not a Canal record: %s", why);
        return KREC_BAD;
    }
    krec_rc rc = KREC_OK;
    if (pv.type != CANALPB__PACKET_TYPE__MESSAGES) {
        snprintf(err, errlen, "a Canal Packet of type %d, not MESSAGES (%d)", (int)pv.type,
                 (int)CANALPB__PACKET_TYPE__MESSAGES);
        rc = KREC_BAD;
        goto out;
    }
    out->m = canalpb__messages__unpack(NULL, pv.body_len, pv.body);
    if (out->m == NULL) {
        snprintf(err, errlen, "a Canal Packet whose MESSAGES body (%zu bytes) is malformed", pv.body_len);
        rc = KREC_BAD;
        goto out;
    }
    out->n = out->m->n_messages;
    out->batch_id = out->m->batch_id;
out:
    packet_free(&pv);
    return rc;
}

const uint8_t *krec_entry(const krec *r, size_t i, size_t *len)
{
    *len = r->m->messages[i].len;
    return r->m->messages[i].data;
}

void krec_free(krec *r)
{
    if (r->m != NULL)
        canalpb__messages__free_unpacked(r->m, NULL);
    memset(r, 0, sizeof *r);
}
