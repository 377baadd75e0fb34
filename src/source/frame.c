/* source/frame: length-prefixed frames on a socket. */
#include "source/frame.h"
#include "util/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How frame_read_full waits: wait == NULL blocks in recv. */
typedef struct frame_waiter {
    volatile sig_atomic_t *stop;
    long idle_timeout_ms;
} frame_waiter;

frame_status frame_parse(const uint8_t *buf, size_t len, size_t max_payload, size_t *payload_len)
{
    if (len < FRAME_HEADER_LEN)
        return FRAME_NEED_MORE;
    uint32_t n = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) | ((uint32_t)buf[2] << 8) | (uint32_t)buf[3];
    if (n > max_payload)
        return FRAME_TOO_BIG;
    *payload_len = n;
    return len - FRAME_HEADER_LEN >= n ? FRAME_OK : FRAME_NEED_MORE;
}

void frame_put_header(uint8_t out[FRAME_HEADER_LEN], uint32_t n)
{
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
}

/* Waits until fd is readable (or has an error/EOF for recv to report), in
 * slices, watching the stop flag and the idle timeout. */
static frame_io frame_wait_readable(int fd, const frame_waiter *w, int started, char *err, size_t errlen)
{
    long start = (long)ce_mono_ms();
    for (;;) {
        if (w->stop != NULL && *w->stop) {
            snprintf(err, errlen, "stopped while waiting for data%s", started ? " in the middle of a frame" : "");
            return FRAME_IO_STOPPED;
        }
        long slice = FRAME_WAIT_SLICE_MS;
        if (w->idle_timeout_ms > 0) {
            long left = w->idle_timeout_ms - ((long)ce_mono_ms() - start);
            if (left <= 0) {
                snprintf(err, errlen, "no data for %ld ms%s", w->idle_timeout_ms,
                         started ? " in the middle of a frame" : "");
                return started ? FRAME_IO_ERROR : FRAME_IO_TIMEOUT;
            }
            if (left < slice)
                slice = left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)slice);
        if (r > 0)
            return FRAME_IO_OK;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll failed: %s", strerror(errno));
            return FRAME_IO_ERROR;
        }
    }
}

/* Reads exactly n bytes. `started` tells whether an EINTR may be reported. */
static frame_io frame_read_full(int fd, uint8_t *dst, size_t n, int started, const frame_waiter *w, char *err,
                                size_t errlen)
{
    size_t got = 0;
    while (got < n) {
        if (w != NULL) {
            frame_io wr = frame_wait_readable(fd, w, started, err, errlen);
            if (wr != FRAME_IO_OK)
                return wr;
        }
        ssize_t r = recv(fd, dst + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            started = 1;
            continue;
        }
        if (r == 0) {
            snprintf(err, errlen, "connection closed by peer%s", started ? " in the middle of a frame" : "");
            return FRAME_IO_ERROR;
        }
        if (errno == EINTR) {
            if (!started)
                return FRAME_IO_EINTR;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            snprintf(err, errlen, "read timed out%s", started ? " in the middle of a frame" : "");
            return started ? FRAME_IO_ERROR : FRAME_IO_TIMEOUT;
        }
        snprintf(err, errlen, "read failed: %s", strerror(errno));
        return FRAME_IO_ERROR;
    }
    return FRAME_IO_OK;
}

static frame_io frame_read_with(int fd, ce_buf *out, size_t max_payload, const frame_waiter *w, char *err,
                                size_t errlen)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    ce_buf_reset(out);
    frame_io rc = frame_read_full(fd, hdr, sizeof hdr, 0, w, err, errlen);
    if (rc != FRAME_IO_OK)
        return rc;
    size_t n = 0;
    if (frame_parse(hdr, sizeof hdr, max_payload, &n) == FRAME_TOO_BIG) {
        snprintf(err, errlen, "frame of %u bytes exceeds the cap of %zu bytes",
                 ((unsigned)hdr[0] << 24) | ((unsigned)hdr[1] << 16) | ((unsigned)hdr[2] << 8) | hdr[3],
                 max_payload);
        return FRAME_IO_TOO_BIG;
    }
    if (n == 0)
        return FRAME_IO_OK;
    if (ce_buf_reserve(out, n) != 0) {
        snprintf(err, errlen, "cannot allocate %zu bytes for a frame", n);
        return FRAME_IO_ERROR;
    }
    rc = frame_read_full(fd, out->data, n, 1, w, err, errlen);
    if (rc == FRAME_IO_OK)
        out->len = n;
    return rc;
}

frame_io frame_read(int fd, ce_buf *out, size_t max_payload, char *err, size_t errlen)
{
    return frame_read_with(fd, out, max_payload, NULL, err, errlen);
}

frame_io frame_read_wait(int fd, ce_buf *out, size_t max_payload, volatile sig_atomic_t *stop, long idle_timeout_ms,
                         char *err, size_t errlen)
{
    frame_waiter w = {.stop = stop, .idle_timeout_ms = idle_timeout_ms};
    return frame_read_with(fd, out, max_payload, &w, err, errlen);
}

frame_io frame_write(int fd, const uint8_t *payload, size_t len, char *err, size_t errlen)
{
    if (len > UINT32_MAX) {
        snprintf(err, errlen, "frame too large to send");
        return FRAME_IO_ERROR;
    }
    uint8_t hdr[FRAME_HEADER_LEN];
    frame_put_header(hdr, (uint32_t)len);
    const uint8_t *parts[2] = {hdr, payload};
    size_t lens[2] = {sizeof hdr, len};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, errlen, "write failed: %s", w < 0 ? strerror(errno) : "no progress");
                return FRAME_IO_ERROR;
            }
            off += (size_t)w;
        }
    }
    return FRAME_IO_OK;
}
