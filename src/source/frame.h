/* source/frame: Canal's TCP framing, a 4-byte big-endian length then a Packet.
 * frame_parse is pure (for tests and fuzzing); frame_read/frame_write do I/O
 * on a blocking socket. The length is checked against the cap before any
 * allocation. */
#ifndef CE_SOURCE_FRAME_H
#define CE_SOURCE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define FRAME_HEADER_LEN 4
#define FRAME_DEFAULT_MAX (64u << 20)

typedef enum {
    FRAME_OK = 0,        /* a whole frame is in the input */
    FRAME_NEED_MORE = 1, /* header or payload incomplete */
    FRAME_TOO_BIG = -1,  /* declared length above the cap */
} frame_status;

/* Looks at buf[0..len): on FRAME_OK *payload_len is the frame's payload
 * length and the payload starts at buf + FRAME_HEADER_LEN. On NEED_MORE with
 * a complete header, *payload_len is set too. */
frame_status frame_parse(const uint8_t *buf, size_t len, size_t max_payload, size_t *payload_len);
void frame_put_header(uint8_t out[FRAME_HEADER_LEN], uint32_t payload_len);

typedef enum {
    FRAME_IO_OK = 0,
    FRAME_IO_ERROR = -1,   /* EOF, short read, reset: the connection is gone */
    FRAME_IO_TIMEOUT = -2, /* no data within the socket timeout */
    FRAME_IO_EINTR = -3,   /* interrupted by a signal before any byte */
    FRAME_IO_TOO_BIG = -4,
} frame_io;

/* Reads one frame's payload into out (reset first). */
frame_io frame_read(int fd, ce_buf *out, size_t max_payload, char *err, size_t errlen);
/* Writes header + payload. */
frame_io frame_write(int fd, const uint8_t *payload, size_t len, char *err, size_t errlen);

#endif
