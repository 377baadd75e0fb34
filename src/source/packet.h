/* source/packet: Canal Packet envelopes (CanalProtocol) around message bodies.
 * packet_encode serializes a body message into a Packet and frames it into
 * `out`; packet_decode unpacks a frame payload, applying the proto2-style
 * defaults (magic 17, version 1, compression NONE) and refusing compressed
 * bodies. The returned Packet must be freed with packet_free; body points
 * into it. */
#ifndef CE_SOURCE_PACKET_H
#define CE_SOURCE_PACKET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "canal_protocol.pb-c.h"
#include "util/buf.h"

typedef struct packet_view {
    Canalpb__PacketType type;
    const uint8_t *body;
    size_t body_len;
    Canalpb__Packet *msg; /* owner of body */
} packet_view;

/* Appends frame header and Packet(type, body = serialized msg) to out. */
int packet_encode(Canalpb__PacketType type, const ProtobufCMessage *body, ce_buf *out);
/* 0 on success; -1 with err filled when the payload is not a usable Packet. */
int packet_decode(const uint8_t *payload, size_t len, packet_view *pv, char *err, size_t errlen);
void packet_free(packet_view *pv);

/* Decodes an ACK body: 0, the error code and its message (copied into msg). */
int packet_decode_ack(const packet_view *pv, int *code, char *msg, size_t msglen);

#endif
