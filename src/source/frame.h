/* source/frame: Canal's TCP framing, a 4-byte big-endian length then a Packet.
 * frame_parse is pure (for tests and fuzzing); frame_read/frame_write do I/O
 * on a blocking socket. The length is checked against the cap before any
 * allocation. frame_read_wait waits for each byte in short poll slices, so a
 * stop flag set by a signal handler (in any thread) ends the wait promptly. */
#ifndef CE_SOURCE_FRAME_H
#define CE_SOURCE_FRAME_H

#include <signal.h>
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
    FRAME_IO_TOO_BIG = -4, /* declared length above the cap; nothing of the payload was read */
    FRAME_IO_STOPPED = -5, /* the stop flag was seen while waiting for data */
} frame_io;

/* Reads one frame's payload into out (reset first). Blocks in recv: the
 * socket's own timeout (SO_RCVTIMEO) and EINTR end a wait. */
frame_io frame_read(int fd, ce_buf *out, size_t max_payload, char *err, size_t errlen);
/* The same, waiting in poll slices of at most FRAME_WAIT_SLICE_MS: gives up
 * with FRAME_IO_STOPPED as soon as *stop is non-zero (stop may be NULL), and
 * after idle_timeout_ms without a byte (FRAME_IO_TIMEOUT before the first
 * byte, FRAME_IO_ERROR in the middle of a frame; <= 0: no limit). */
#define FRAME_WAIT_SLICE_MS 100
frame_io frame_read_wait(int fd, ce_buf *out, size_t max_payload, volatile sig_atomic_t *stop, long idle_timeout_ms,
                         char *err, size_t errlen);
/* Writes header + payload. */
frame_io frame_write(int fd, const uint8_t *payload, size_t len, char *err, size_t errlen);

#endif
