/* test_frame: Canal framing (pure parse and socket I/O over a socketpair)
 * and the Packet envelope (defaults, refused compression, Ack decoding).
 * Packets are written here as raw protobuf bytes where the point is what a
 * server puts (or omits) on the wire. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "source/frame.h"
#include "source/packet.h"
#include "decode/wire.h"
#include "util/buf.h"

/* ---- frame_parse / frame_put_header ---- */

static void test_header_round_trip(void **state)
{
    (void)state;
    static const uint32_t lens[] = {0, 1, 255, 256, 0x12345678u, FRAME_DEFAULT_MAX, UINT32_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t h[FRAME_HEADER_LEN];
        frame_put_header(h, lens[i]);
        size_t n = 12345;
        frame_status st = frame_parse(h, sizeof h, SIZE_MAX, &n);
        assert_int_equal(n, lens[i]);
        assert_int_equal(st, lens[i] == 0 ? FRAME_OK : FRAME_NEED_MORE);
    }
    /* big-endian on the wire */
    uint8_t h[FRAME_HEADER_LEN];
    frame_put_header(h, 0x01020304u);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[1], 2);
    assert_int_equal(h[2], 3);
    assert_int_equal(h[3], 4);
}

static void test_parse_whole_frame(void **state)
{
    (void)state;
    uint8_t buf[FRAME_HEADER_LEN + 5 + 3];
    frame_put_header(buf, 5);
    memcpy(buf + FRAME_HEADER_LEN, "hello", 5);
    memcpy(buf + FRAME_HEADER_LEN + 5, "xyz", 3); /* start of the next frame */
    size_t n = 0;
    assert_int_equal(frame_parse(buf, FRAME_HEADER_LEN + 5, 100, &n), FRAME_OK);
    assert_int_equal(n, 5);
    n = 0;
    assert_int_equal(frame_parse(buf, sizeof buf, 100, &n), FRAME_OK);
    assert_int_equal(n, 5);
    /* the payload may be exactly the cap */
    assert_int_equal(frame_parse(buf, sizeof buf, 5, &n), FRAME_OK);
}

static void test_parse_need_more(void **state)
{
    (void)state;
    uint8_t buf[FRAME_HEADER_LEN + 10];
    frame_put_header(buf, 10);
    memset(buf + FRAME_HEADER_LEN, 'a', 10);
    size_t n;
    for (size_t len = 0; len < FRAME_HEADER_LEN; len++) {
        n = 777;
        assert_int_equal(frame_parse(buf, len, 100, &n), FRAME_NEED_MORE);
        assert_int_equal(n, 777); /* no header yet: untouched */
    }
    for (size_t len = FRAME_HEADER_LEN; len < sizeof buf; len++) {
        n = 0;
        assert_int_equal(frame_parse(buf, len, 100, &n), FRAME_NEED_MORE);
        assert_int_equal(n, 10); /* header complete: length known */
    }
    assert_int_equal(frame_parse(buf, sizeof buf, 100, &n), FRAME_OK);
}

static void test_parse_too_big(void **state)
{
    (void)state;
    uint8_t h[FRAME_HEADER_LEN];
    size_t n = 0;
    frame_put_header(h, 101);
    assert_int_equal(frame_parse(h, sizeof h, 100, &n), FRAME_TOO_BIG);
    frame_put_header(h, FRAME_DEFAULT_MAX + 1u);
    assert_int_equal(frame_parse(h, sizeof h, FRAME_DEFAULT_MAX, &n), FRAME_TOO_BIG);
    /* 0xFFFFFFFF from a hostile peer: refused from the 4 header bytes alone */
    static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(frame_parse(huge, sizeof huge, FRAME_DEFAULT_MAX, &n), FRAME_TOO_BIG);
    frame_put_header(h, FRAME_DEFAULT_MAX);
    assert_int_equal(frame_parse(h, sizeof h, FRAME_DEFAULT_MAX, &n), FRAME_NEED_MORE);
    assert_int_equal(n, FRAME_DEFAULT_MAX);
}

/* ---- frame_read / frame_write ---- */

typedef struct pair {
    int a, b;
} pair;

static int pair_setup(void **state)
{
    static pair p;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    p.a = sv[0];
    p.b = sv[1];
    *state = &p;
    return 0;
}

static int pair_teardown(void **state)
{
    pair *p = *state;
    if (p->a >= 0)
        close(p->a);
    if (p->b >= 0)
        close(p->b);
    return 0;
}

static void close_writer(pair *p)
{
    close(p->a);
    p->a = -1;
}

static void send_all(int fd, const void *data, size_t n)
{
    assert_int_equal(send(fd, data, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void test_io_whole_frame(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    assert_int_equal(frame_write(p->a, (const uint8_t *)"payload-1", 9, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(frame_write(p->a, (const uint8_t *)"", 0, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(frame_write(p->a, (const uint8_t *)"second", 6, err, sizeof err), FRAME_IO_OK);

    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, 9);
    assert_memory_equal(in.data, "payload-1", 9);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, 0);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, 6);
    assert_memory_equal(in.data, "second", 6);

    /* what frame_write put on the wire: exactly header + payload */
    assert_int_equal(frame_write(p->a, (const uint8_t *)"abc", 3, err, sizeof err), FRAME_IO_OK);
    uint8_t raw[16];
    assert_int_equal(recv(p->b, raw, sizeof raw, 0), 7);
    static const uint8_t expect[7] = {0, 0, 0, 3, 'a', 'b', 'c'};
    assert_memory_equal(raw, expect, 7);
    ce_buf_free(&in);
}

static void test_io_frame_in_pieces(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    /* header split across writes, payload in two parts, all before reading */
    static const uint8_t part1[2] = {0, 0};
    static const uint8_t part2[5] = {0, 6, 'a', 'b', 'c'};
    send_all(p->a, part1, sizeof part1);
    send_all(p->a, part2, sizeof part2);
    send_all(p->a, "def", 3);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, 6);
    assert_memory_equal(in.data, "abcdef", 6);
    ce_buf_free(&in);
}

/* A frame far larger than the socket buffers: written by a child process
 * while the parent reads it in many partial recv() calls. */
static void test_io_large_frame(void **state)
{
    pair *p = *state;
    enum { N = 3 << 20 };
    uint8_t *payload = malloc(N);
    assert_non_null(payload);
    for (size_t i = 0; i < N; i++)
        payload[i] = (uint8_t)(i * 2654435761u >> 13);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char cerr[256];
        close(p->b);
        _exit(frame_write(p->a, payload, N, cerr, sizeof cerr) == FRAME_IO_OK ? 0 : 1);
    }
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, N);
    frame_io rc = frame_read(p->b, &in, N, err, sizeof err);
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(rc, FRAME_IO_OK);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(in.len, N);
    assert_memory_equal(in.data, payload, N);
    ce_buf_free(&in);
    free(payload);
}

static void test_io_truncated_then_eof(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    static const uint8_t partial[4 + 3] = {0, 0, 0, 10, 'a', 'b', 'c'}; /* says 10, sends 3 */
    send_all(p->a, partial, sizeof partial);
    close_writer(p);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "closed"));
    assert_non_null(strstr(err, "middle of a frame"));
    ce_buf_free(&in);
}

static void test_io_truncated_header(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    static const uint8_t partial[2] = {0, 0};
    send_all(p->a, partial, sizeof partial);
    close_writer(p);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "middle of a frame"));
    ce_buf_free(&in);
}

static void test_io_eof_between_frames(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    close_writer(p);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "connection closed by peer"));
    assert_null(strstr(err, "middle"));
    ce_buf_free(&in);
}

static void test_io_too_big(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, SIZE_MAX);
    /* declares 0x7fffffff bytes: must be refused from the header, nothing allocated */
    static const uint8_t hdr[4] = {0x7f, 0xff, 0xff, 0xff};
    send_all(p->a, hdr, sizeof hdr);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_TOO_BIG);
    assert_null(in.data);
    assert_int_equal(in.cap, 0);
    assert_int_equal(in.len, 0);
    assert_non_null(strstr(err, "2147483647"));
    assert_non_null(strstr(err, "1024"));
    ce_buf_free(&in);
}

static void test_io_timeout(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    assert_int_equal(setsockopt(p->b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    /* nothing sent: a timeout, not an error */
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_TIMEOUT);
    /* a timeout in the middle of a frame loses the framing: an error */
    static const uint8_t partial[5] = {0, 0, 0, 10, 'a'};
    send_all(p->a, partial, sizeof partial);
    assert_int_equal(frame_read(p->b, &in, 1024, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "timed out"));
    ce_buf_free(&in);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static volatile sig_atomic_t wait_stop;

static void *set_stop_later(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 150 * 1000000L};
    nanosleep(&ts, NULL);
    wait_stop = 1; /* as a signal handler in another thread would */
    return NULL;
}

/* frame_read_wait: a stop flag set while waiting (no signal reaches the
 * reader) ends the wait within a poll slice; a frame already there is read. */
static void test_io_wait_stop(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    wait_stop = 1;
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 0, err, sizeof err), FRAME_IO_STOPPED);
    wait_stop = 0;
    pthread_t th;
    long t0 = now_ms();
    assert_int_equal(pthread_create(&th, NULL, set_stop_later, NULL), 0);
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 60000, err, sizeof err), FRAME_IO_STOPPED);
    long took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 100 && took < 150 + 3 * FRAME_WAIT_SLICE_MS);
    assert_non_null(strstr(err, "stopped"));
    /* stopped in the middle of a frame too */
    wait_stop = 0;
    static const uint8_t partial[5] = {0, 0, 0, 10, 'a'};
    send_all(p->a, partial, sizeof partial);
    assert_int_equal(pthread_create(&th, NULL, set_stop_later, NULL), 0);
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 60000, err, sizeof err), FRAME_IO_STOPPED);
    pthread_join(th, NULL);
    assert_non_null(strstr(err, "middle of a frame"));
    ce_buf_free(&in);
}

static void test_io_wait_frame_and_idle_timeout(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf in;
    ce_buf_init(&in, 1 << 20);
    wait_stop = 0;
    static const uint8_t whole[7] = {0, 0, 0, 3, 'a', 'b', 'c'};
    send_all(p->a, whole, sizeof whole);
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 1000, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, 3);
    assert_memory_equal(in.data, "abc", 3);
    /* nothing more: the idle timeout, without a socket timeout set */
    long t0 = now_ms();
    assert_int_equal(frame_read_wait(p->b, &in, 1024, NULL, 250, err, sizeof err), FRAME_IO_TIMEOUT);
    long took = now_ms() - t0;
    assert_true(took >= 240 && took < 250 + 2 * FRAME_WAIT_SLICE_MS);
    /* idle in the middle of a frame loses the framing */
    static const uint8_t partial[5] = {0, 0, 0, 10, 'a'};
    send_all(p->a, partial, sizeof partial);
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 50, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "middle of a frame"));
    /* the cap holds as in frame_read */
    static const uint8_t big[4] = {0x00, 0x10, 0x00, 0x01};
    send_all(p->a, big, sizeof big);
    assert_int_equal(frame_read_wait(p->b, &in, 1024, &wait_stop, 1000, err, sizeof err), FRAME_IO_TOO_BIG);
    assert_non_null(strstr(err, "1048577"));
    ce_buf_free(&in);
}

static void test_io_write_to_closed(void **state)
{
    pair *p = *state;
    char err[256] = "";
    close(p->b);
    p->b = -1;
    /* MSG_NOSIGNAL: an error, not SIGPIPE */
    assert_int_equal(frame_write(p->a, (const uint8_t *)"x", 1, err, sizeof err), FRAME_IO_ERROR);
    assert_non_null(strstr(err, "write failed"));
}

/* ---- Packet ---- */

static void test_packet_garbage(void **state)
{
    (void)state;
    char err[256];
    packet_view pv;
    /* incomplete varint tag */
    static const uint8_t g1[] = {0xff, 0xff, 0xff};
    /* field 5 (body) claims 16 bytes, 1 present */
    static const uint8_t g2[] = {0x2a, 0x10, 0x01};
    /* wire type 7 does not exist */
    static const uint8_t g3[] = {0x0f, 0x01};
    /* field number 0 */
    static const uint8_t g4[] = {0x00, 0x01};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{g1, sizeof g1}, {g2, sizeof g2}, {g3, sizeof g3}, {g4, sizeof g4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        assert_int_equal(packet_decode(cases[i].p, cases[i].n, &pv, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_null(pv.msg);
    }
    assert_non_null(strstr(err, "malformed packet"));
}

static void test_packet_round_trip(void **state)
{
    (void)state;
    char err[256] = "";
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    Canalpb__Sub sub = CANALPB__SUB__INIT;
    sub.destination = (char *)"example";
    sub.client_id = (char *)"1001";
    sub.filter = (char *)"shop\\..*";
    assert_int_equal(packet_encode(CANALPB__PACKET_TYPE__SUBSCRIPTION, &sub.base, &out), 0);

    size_t n = 0;
    assert_int_equal(frame_parse(out.data, out.len, FRAME_DEFAULT_MAX, &n), FRAME_OK);
    assert_int_equal(out.len, FRAME_HEADER_LEN + n);
    packet_view pv;
    assert_int_equal(packet_decode(out.data + FRAME_HEADER_LEN, n, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__SUBSCRIPTION);
    assert_null(pv.msg); /* nothing unpacked: body is a slice of the payload */
    assert_int_equal(pv.version, 1);
    assert_true(pv.body >= out.data + FRAME_HEADER_LEN && pv.body + pv.body_len <= out.data + out.len);
    Canalpb__Sub *got = canalpb__sub__unpack(NULL, pv.body_len, pv.body);
    assert_non_null(got);
    assert_string_equal(got->destination, "example");
    assert_string_equal(got->client_id, "1001");
    assert_string_equal(got->filter, "shop\\..*");
    canalpb__sub__free_unpacked(got, NULL);
    packet_free(&pv);
    assert_null(pv.msg);

    /* a second packet is appended after the first */
    size_t first = out.len;
    Canalpb__ClientAck ack = CANALPB__CLIENT_ACK__INIT;
    ack.destination = (char *)"example";
    ack.client_id = (char *)"1001";
    ack.batch_id = 123456789012LL;
    assert_int_equal(packet_encode(CANALPB__PACKET_TYPE__CLIENTACK, &ack.base, &out), 0);
    assert_int_equal(frame_parse(out.data + first, out.len - first, FRAME_DEFAULT_MAX, &n), FRAME_OK);
    assert_int_equal(packet_decode(out.data + first + FRAME_HEADER_LEN, n, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__CLIENTACK);
    Canalpb__ClientAck *ga = canalpb__client_ack__unpack(NULL, pv.body_len, pv.body);
    assert_non_null(ga);
    assert_true(ga->batch_id == 123456789012LL);
    canalpb__client_ack__free_unpacked(ga, NULL);
    packet_free(&pv);

    /* a packet with no body at all */
    size_t second = out.len;
    assert_int_equal(packet_encode(CANALPB__PACKET_TYPE__GET, NULL, &out), 0);
    assert_int_equal(frame_parse(out.data + second, out.len - second, FRAME_DEFAULT_MAX, &n), FRAME_OK);
    assert_int_equal(packet_decode(out.data + second + FRAME_HEADER_LEN, n, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__GET);
    assert_int_equal(pv.body_len, 0);
    packet_free(&pv);
    ce_buf_free(&out);
}

static void test_packet_encode_cap(void **state)
{
    (void)state;
    ce_buf out;
    ce_buf_init(&out, 8); /* too small for any framed packet with a body */
    Canalpb__Sub sub = CANALPB__SUB__INIT;
    sub.destination = (char *)"example";
    assert_int_equal(packet_encode(CANALPB__PACKET_TYPE__SUBSCRIPTION, &sub.base, &out), -1);
    assert_int_equal(out.len, 0);
    ce_buf_free(&out);
}

/* Packet{type=MESSAGES(7), body=Messages{batch_id=5}}: magic, version and
 * compression absent, as Canal's fast path sends them. */
static void test_packet_defaults(void **state)
{
    (void)state;
    static const uint8_t raw[] = {
        0x18, 0x07,             /* 3: type = MESSAGES */
        0x2a, 0x02, 0x08, 0x05, /* 5: body = {1: batch_id = 5} */
    };
    char err[256] = "";
    packet_view pv;
    assert_int_equal(packet_decode(raw, sizeof raw, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__MESSAGES);
    assert_int_equal(pv.body_len, 2);
    assert_ptr_equal(pv.body, raw + 4);
    assert_int_equal(pv.version, 1);
    wire_packet pk;
    assert_int_equal(wire_packet_parse(raw, sizeof raw, &pk), WIRE_OK);
    assert_false(pk.has_magic || pk.has_version || pk.has_compression);
    Canalpb__Messages *m = canalpb__messages__unpack(NULL, pv.body_len, pv.body);
    assert_non_null(m);
    assert_int_equal(m->batch_id, 5);
    assert_int_equal(m->n_messages, 0);
    canalpb__messages__free_unpacked(m, NULL);
    packet_free(&pv);

    /* explicit magic 17, version 1, compression NONE: the same */
    static const uint8_t full[] = {0x08, 0x11, 0x10, 0x01, 0x18, 0x07, 0x20, 0x01, 0x2a, 0x02, 0x08, 0x05};
    assert_int_equal(packet_decode(full, sizeof full, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__MESSAGES);
    assert_int_equal(pv.body_len, 2);
    packet_free(&pv);

    /* compression explicitly 0 (COMPATIBLE_PROTO2) is no compression */
    static const uint8_t comp0[] = {0x18, 0x07, 0x20, 0x00, 0x2a, 0x02, 0x08, 0x05};
    assert_int_equal(packet_decode(comp0, sizeof comp0, &pv, err, sizeof err), 0);
    packet_free(&pv);
}

/* The walk agrees with protobuf-c's unpack: the last body and version win, unknown fields are
 * skipped, a known field of another wire type or a cut body refuses the Packet. */
static void test_packet_as_protobuf_c(void **state)
{
    (void)state;
    static const uint8_t twice[] = {0x2a, 0x01, 0x41, 0x10, 0x03, 0x18, 0x07, 0x10, 0x05,
                                    0x78, 0x01, 0x2a, 0x02, 0x08, 0x05};
    static const uint8_t type_bytes[] = {0x1a, 0x01, 0x07};
    static const uint8_t cut[] = {0x18, 0x07, 0x2a, 0x03, 0x08, 0x05};
    static const uint8_t big_type[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* enum: any int32 */
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{twice, sizeof twice}, {type_bytes, sizeof type_bytes}, {cut, sizeof cut},
                 {big_type, sizeof big_type}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        packet_view pv;
        int rc = packet_decode(cases[i].p, cases[i].n, &pv, err, sizeof err);
        Canalpb__Packet *pkt = canalpb__packet__unpack(NULL, cases[i].n, cases[i].p);
        assert_int_equal(rc == 0, pkt != NULL);
        if (pkt != NULL) {
            assert_int_equal(pv.type, pkt->type);
            assert_int_equal(pv.version,
                             pkt->version_present_case == CANALPB__PACKET__VERSION_PRESENT_VERSION ? pkt->version : 1);
            assert_int_equal(pv.body_len, pkt->body.len);
            assert_memory_equal(pv.body, pkt->body.data, pv.body_len);
            canalpb__packet__free_unpacked(pkt, NULL);
        }
        packet_free(&pv);
    }
    char err[256];
    packet_view pv;
    assert_int_equal(packet_decode(twice, sizeof twice, &pv, err, sizeof err), 0);
    assert_ptr_equal(pv.body, twice + 13);
    assert_int_equal(pv.version, 5);
}

/* The default magic must be 17 when absent: an explicit 0 is a bad magic. */
static void test_packet_bad_magic(void **state)
{
    (void)state;
    static const uint8_t magic0[] = {0x08, 0x00, 0x18, 0x07};
    static const uint8_t magic18[] = {0x08, 0x12, 0x18, 0x07};
    char err[256] = "";
    packet_view pv;
    assert_int_equal(packet_decode(magic0, sizeof magic0, &pv, err, sizeof err), -1);
    assert_non_null(strstr(err, "magic"));
    assert_null(pv.msg);
    err[0] = '\0';
    assert_int_equal(packet_decode(magic18, sizeof magic18, &pv, err, sizeof err), -1);
    assert_non_null(strstr(err, "18"));
}

static void test_packet_gzip_refused(void **state)
{
    (void)state;
    /* type MESSAGES, compression GZIP (3), some body */
    static const uint8_t gz[] = {0x18, 0x07, 0x20, 0x03, 0x2a, 0x03, 0x1f, 0x8b, 0x08};
    static const uint8_t zlib[] = {0x18, 0x07, 0x20, 0x02};
    static const uint8_t lzf[] = {0x18, 0x07, 0x20, 0x04};
    char err[256] = "";
    packet_view pv;
    assert_int_equal(packet_decode(gz, sizeof gz, &pv, err, sizeof err), -1);
    assert_non_null(strstr(err, "compression 3"));
    assert_null(pv.msg);
    assert_int_equal(packet_decode(zlib, sizeof zlib, &pv, err, sizeof err), -1);
    assert_int_equal(packet_decode(lzf, sizeof lzf, &pv, err, sizeof err), -1);
}

static void test_ack_decode(void **state)
{
    (void)state;
    char err[256] = "";
    char msg[64];
    int code = -1;
    packet_view pv;

    /* Ack{} on success: no fields at all */
    static const uint8_t ok[] = {0x18, 0x03};
    assert_int_equal(packet_decode(ok, sizeof ok, &pv, err, sizeof err), 0);
    assert_int_equal(pv.type, CANALPB__PACKET_TYPE__ACK);
    memset(msg, 'X', sizeof msg);
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), 0);
    assert_int_equal(code, 0);
    assert_string_equal(msg, "");
    packet_free(&pv);

    /* Ack{error_message "hi"}: error_code absent reads 0 */
    static const uint8_t msg_only[] = {0x18, 0x03, 0x2a, 0x04, 0x12, 0x02, 'h', 'i'};
    code = -1;
    assert_int_equal(packet_decode(msg_only, sizeof msg_only, &pv, err, sizeof err), 0);
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), 0);
    assert_int_equal(code, 0);
    assert_string_equal(msg, "hi");
    packet_free(&pv);

    /* Ack{error_code 400, "auth failed for user:canal"} */
    static const uint8_t fail[] = {0x18, 0x03, 0x2a, 0x1f, 0x08, 0x90, 0x03, 0x12, 0x1a, 'a', 'u', 't',
                                   'h',  ' ',  'f',  'a',  'i',  'l',  'e',  'd',  ' ',  'f', 'o', 'r',
                                   ' ',  'u',  's',  'e',  'r',  ':',  'c',  'a',  'n',  'a',  'l'};
    assert_int_equal(packet_decode(fail, sizeof fail, &pv, err, sizeof err), 0);
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), 0);
    assert_int_equal(code, 400);
    assert_string_equal(msg, "auth failed for user:canal");
    /* a message longer than the buffer is cut, still terminated */
    char small[5];
    assert_int_equal(packet_decode_ack(&pv, &code, small, sizeof small), 0);
    assert_string_equal(small, "auth");
    packet_free(&pv);

    /* error_code explicitly 0 */
    static const uint8_t zero[] = {0x18, 0x03, 0x2a, 0x02, 0x08, 0x00};
    code = -1;
    assert_int_equal(packet_decode(zero, sizeof zero, &pv, err, sizeof err), 0);
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), 0);
    assert_int_equal(code, 0);
    packet_free(&pv);

    /* a body that is not an Ack */
    static const uint8_t bad[] = {0x18, 0x03, 0x2a, 0x02, 0x12, 0x05};
    assert_int_equal(packet_decode(bad, sizeof bad, &pv, err, sizeof err), 0);
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), -1);
    packet_free(&pv);
}

/* packet_encode output read back through a socket with frame_read. */
static void test_packet_over_socket(void **state)
{
    pair *p = *state;
    char err[256] = "";
    ce_buf out, in;
    ce_buf_init(&out, 1 << 20);
    ce_buf_init(&in, 1 << 20);
    Canalpb__Ack ack = CANALPB__ACK__INIT;
    ack.error_code_present_case = CANALPB__ACK__ERROR_CODE_PRESENT_ERROR_CODE;
    ack.error_code = 402;
    ack.error_message = (char *)"batchId:0 is not the firstly";
    assert_int_equal(packet_encode(CANALPB__PACKET_TYPE__ACK, &ack.base, &out), 0);
    send_all(p->a, out.data, out.len);
    assert_int_equal(frame_read(p->b, &in, FRAME_DEFAULT_MAX, err, sizeof err), FRAME_IO_OK);
    assert_int_equal(in.len, out.len - FRAME_HEADER_LEN);
    packet_view pv;
    assert_int_equal(packet_decode(in.data, in.len, &pv, err, sizeof err), 0);
    int code = 0;
    char msg[64];
    assert_int_equal(packet_decode_ack(&pv, &code, msg, sizeof msg), 0);
    assert_int_equal(code, 402);
    assert_string_equal(msg, "batchId:0 is not the firstly");
    packet_free(&pv);
    ce_buf_free(&out);
    ce_buf_free(&in);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_parse_whole_frame),
        cmocka_unit_test(test_parse_need_more),
        cmocka_unit_test(test_parse_too_big),
        PAIR_TEST(test_io_whole_frame),
        PAIR_TEST(test_io_frame_in_pieces),
        PAIR_TEST(test_io_large_frame),
        PAIR_TEST(test_io_truncated_then_eof),
        PAIR_TEST(test_io_truncated_header),
        PAIR_TEST(test_io_eof_between_frames),
        PAIR_TEST(test_io_too_big),
        PAIR_TEST(test_io_timeout),
        PAIR_TEST(test_io_wait_stop),
        PAIR_TEST(test_io_wait_frame_and_idle_timeout),
        PAIR_TEST(test_io_write_to_closed),
        cmocka_unit_test(test_packet_garbage),
        cmocka_unit_test(test_packet_round_trip),
        cmocka_unit_test(test_packet_encode_cap),
        cmocka_unit_test(test_packet_defaults),
        cmocka_unit_test(test_packet_as_protobuf_c),
        cmocka_unit_test(test_packet_bad_magic),
        cmocka_unit_test(test_packet_gzip_refused),
        cmocka_unit_test(test_ack_decode),
        PAIR_TEST(test_packet_over_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
