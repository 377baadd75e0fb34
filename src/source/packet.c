/* source/packet: Packet envelope encode/decode (decode on the wire bytes). */
#include "source/packet.h"
#include "decode/wire.h"
#include "source/frame.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define PACKET_MAGIC 17

int packet_encode(Canalpb__PacketType type, const ProtobufCMessage *body, ce_buf *out)
{
    int rc = -1;
    uint8_t *bodybuf = NULL;
    size_t blen = body ? protobuf_c_message_get_packed_size(body) : 0;
    if (blen) {
        bodybuf = ce_malloc(blen);
        if (bodybuf == NULL)
            goto out;
        protobuf_c_message_pack(body, bodybuf);
    }
    Canalpb__Packet pkt = CANALPB__PACKET__INIT;
    pkt.type = type;
    pkt.body.data = bodybuf;
    pkt.body.len = blen;
    pkt.version_present_case = CANALPB__PACKET__VERSION_PRESENT_VERSION;
    pkt.version = 1;
    size_t plen = canalpb__packet__get_packed_size(&pkt);
    if (plen > UINT32_MAX || ce_buf_reserve(out, FRAME_HEADER_LEN + plen) != 0)
        goto out;
    frame_put_header(out->data + out->len, (uint32_t)plen);
    out->len += FRAME_HEADER_LEN;
    canalpb__packet__pack(&pkt, out->data + out->len);
    out->len += plen;
    rc = 0;
out:
    ce_free(bodybuf);
    return rc;
}

int packet_decode(const uint8_t *payload, size_t len, packet_view *pv, char *err, size_t errlen)
{
    memset(pv, 0, sizeof *pv);
    wire_packet pk;
    if (wire_packet_parse(payload, len, &pk) != WIRE_OK) {
        snprintf(err, errlen, "malformed packet (%zu bytes are not a Canal Packet)", len);
        return -1;
    }
    int magic = pk.has_magic ? pk.magic : PACKET_MAGIC;
    int32_t comp = pk.has_compression ? pk.compression : CANALPB__COMPRESSION__NONE;
    if (magic != PACKET_MAGIC) {
        snprintf(err, errlen, "bad packet magic number %d (expected %d)", magic, PACKET_MAGIC);
        return -1;
    }
    if (comp != CANALPB__COMPRESSION__NONE && comp != CANALPB__COMPRESSION__COMPRESSION_COMPATIBLE_PROTO2) {
        snprintf(err, errlen, "packet compression %d is not supported", (int)comp);
        return -1;
    }
    pv->type = (Canalpb__PacketType)pk.type;
    pv->body = pk.body.p;
    pv->body_len = pk.body.len;
    pv->version = pk.has_version ? pk.version : 1;
    return 0;
}

void packet_free(packet_view *pv) { memset(pv, 0, sizeof *pv); }

int packet_decode_ack(const packet_view *pv, int *code, char *msg, size_t msglen)
{
    Canalpb__Ack *ack = canalpb__ack__unpack(NULL, pv->body_len, pv->body);
    if (ack == NULL)
        return -1;
    *code = ack->error_code_present_case == CANALPB__ACK__ERROR_CODE_PRESENT_ERROR_CODE ? ack->error_code : 0;
    snprintf(msg, msglen, "%s", ack->error_message ? ack->error_message : "");
    canalpb__ack__free_unpacked(ack, NULL);
    return 0;
}
