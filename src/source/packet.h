/* source/packet: Canal Packet envelopes (CanalProtocol) around message bodies.
 * packet_encode serializes a body message into a Packet and frames it into
 * `out`; packet_decode walks a frame payload on its bytes (decode/wire,
 * accepting what protobuf-c's unpack accepts), applying the proto2-style
 * defaults (magic 17, version 1, compression NONE) and refusing compressed
 * bodies. Nothing is copied or allocated: body is a slice of the payload,
 * valid as long as the payload. */
#ifndef CE_SOURCE_PACKET_H
#define CE_SOURCE_PACKET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "canal_protocol.pb-c.h"
#include "util/buf.h"

typedef struct packet_view {
    Canalpb__PacketType type;
    const uint8_t *body;  /* in the payload; NULL when the Packet has no body field */
    size_t body_len;
    int32_t version;      /* 1 when absent */
    Canalpb__Packet *msg; /* always NULL now (body is the payload's): a caller that hands it to
                             canal_batch_parse gets a batch with its own copy of the body */
} packet_view;

/* Appends frame header and Packet(type, body = serialized msg) to out. */
int packet_encode(Canalpb__PacketType type, const ProtobufCMessage *body, ce_buf *out);
/* 0 on success; -1 with err filled when the payload is not a usable Packet. */
int packet_decode(const uint8_t *payload, size_t len, packet_view *pv, char *err, size_t errlen);
/* Clears pv (nothing to free: kept for the callers). */
void packet_free(packet_view *pv);

/* Decodes an ACK body: 0, the error code and its message (copied into msg). */
int packet_decode_ack(const packet_view *pv, int *code, char *msg, size_t msglen);

#endif
