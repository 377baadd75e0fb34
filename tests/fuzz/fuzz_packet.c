/* fuzz_packet: libFuzzer target for what a Canal server sends: frames,
 * Packet envelopes, Ack / Handshake / Messages bodies, and the Entry /
 * RowChange decoder behind them (source/frame, source/packet,
 * decode/decode), dispatched as canal_get and run_batch do: Messages bodies
 * and entries go through the wire reader (canal_batch_parse, decode_next).
 *   byte 0 % 3 picks where the rest enters: 0 a stream of frames (the whole
 *   path), 1 a Messages body, 2 one serialized Entry; deeper layers are hard
 *   to reach through three length prefixes, so they get their own door.
 * Each input must decode or be refused with an error, never crash or leak;
 * the events handed to the callbacks must hold what decode.h promises
 * (non-NULL strings, NUL-terminated values, the image the operation needs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canal_protocol.pb-c.h"
#include "decode/decode.h"
#include "source/canal.h"
#include "source/frame.h"
#include "source/packet.h"
#include "source/scramble.h"
#include "util/log.h"

#define FUZZ_MAX_FRAME (1u << 16) /* above the fuzzer's -max_len: big declared lengths are refused */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_packet: %s\n", what);
    abort();
}

static size_t fuzz_touch(const char *s, const char *what)
{
    if (s == NULL)
        fuzz_fail(what);
    return strlen(s);
}

static void fuzz_image(const row_image *img)
{
    if (img->n > 0 && img->cols == NULL)
        fuzz_fail("image without columns");
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        fuzz_touch(c->name, "column name");
        fuzz_touch(c->mysql_type, "column mysql type");
        if (c->value == NULL || c->value[c->value_len] != '\0')
            fuzz_fail("column value not NUL-terminated at value_len");
    }
}

static int fuzz_on_row(void *ud, const row_event *ev)
{
    (void)ud;
    fuzz_touch(ev->schema, "schema");
    fuzz_touch(ev->table, "table");
    fuzz_touch(ev->logfile, "logfile");
    fuzz_touch(ev->gtid, "gtid");
    if (ev->op != ROW_INSERT && ev->op != ROW_UPDATE && ev->op != ROW_DELETE)
        fuzz_fail("row op out of range");
    if ((ev->op == ROW_DELETE && ev->before.n == 0) || (ev->op != ROW_DELETE && ev->after.n == 0))
        fuzz_fail("row without the image its operation needs");
    fuzz_image(&ev->before);
    fuzz_image(&ev->after);
    return 0;
}

static int fuzz_on_ddl(void *ud, const ddl_event *ev)
{
    (void)ud;
    fuzz_touch(ev->schema, "ddl schema");
    fuzz_touch(ev->table, "ddl table");
    fuzz_touch(ev->sql, "ddl sql");
    fuzz_touch(ev->logfile, "ddl logfile");
    if (ev->kind != DDL_OTHER && ev->kind != DDL_TRUNCATE && ev->kind != DDL_DROP)
        fuzz_fail("ddl kind out of range");
    return 0;
}

static void fuzz_err(const char *err, size_t errlen)
{
    if (memchr(err, '\0', errlen) == NULL)
        fuzz_fail("error text not terminated");
}

static void fuzz_entry(decode_ctx *d, const uint8_t *p, size_t n)
{
    char err[1024] = "";
    (void)decode_entry(d, p, n, fuzz_on_row, NULL, err, sizeof err);
    fuzz_err(err, sizeof err);
}

/* As canal_get (canal_batch_parse: the zero-copy Messages walk), then
 * run_batch: each message of a batch is one Entry. With the packet, the
 * batch takes it (as canal_get does); without, it copies the body. */
static void fuzz_messages(decode_ctx *d, const uint8_t *p, size_t n, packet_view *pv)
{
    char err[512] = "";
    /* in a packet: on the frame's bytes, as canal_get keeps a big frame */
    canal_batch *b = pv ? canal_batch_parse_frame(p, n, NULL, err, sizeof err)
                        : canal_batch_parse(p, n, NULL, err, sizeof err);
    if (b == NULL) {
        fuzz_err(err, sizeof err);
        return;
    }
    if (b->n > 0 && b->entries == NULL)
        fuzz_fail("batch entries missing");
    for (size_t i = 0; i < b->n; i++)
        fuzz_entry(d, b->entries[i].p, b->entries[i].len);
    canal_batch_free(b);
}

/* packet_decode (the wire walk) against protobuf-c's unpack with the same
 * defaults and checks: the same verdict, type, version and body. */
static void fuzz_packet_diff(const uint8_t *payload, size_t n, int rc, const packet_view *pv)
{
    Canalpb__Packet *pkt = canalpb__packet__unpack(NULL, n, payload);
    int ok = 0;
    if (pkt != NULL) {
        int magic = pkt->magic_number_present_case == CANALPB__PACKET__MAGIC_NUMBER_PRESENT_MAGIC_NUMBER
                        ? pkt->magic_number
                        : 17;
        int comp = pkt->compression_present_case == CANALPB__PACKET__COMPRESSION_PRESENT_COMPRESSION
                       ? (int)pkt->compression
                       : CANALPB__COMPRESSION__NONE;
        ok = magic == 17 && (comp == CANALPB__COMPRESSION__NONE || comp == 0);
    }
    if (ok != (rc == 0))
        fuzz_fail("packet_decode and protobuf-c disagree on accepting a Packet");
    if (ok) {
        int version = pkt->version_present_case == CANALPB__PACKET__VERSION_PRESENT_VERSION ? pkt->version : 1;
        if (pv->type != pkt->type || pv->version != version || pv->body_len != pkt->body.len ||
            (pv->body_len > 0 && memcmp(pv->body, pkt->body.data, pv->body_len) != 0))
            fuzz_fail("packet_decode and protobuf-c disagree on a Packet's fields");
        if (pv->body_len > 0 && (pv->body < payload || pv->body + pv->body_len > payload + n))
            fuzz_fail("packet body outside the payload");
    }
    if (pkt)
        canalpb__packet__free_unpacked(pkt, NULL);
}

static void fuzz_packet(decode_ctx *d, const uint8_t *payload, size_t n)
{
    packet_view pv;
    char err[512] = "";
    int rc = packet_decode(payload, n, &pv, err, sizeof err);
    fuzz_packet_diff(payload, n, rc, &pv);
    if (rc != 0) {
        fuzz_err(err, sizeof err);
        return;
    }
    if (pv.body_len > 0 && pv.body == NULL)
        fuzz_fail("packet body length without data");
    if (pv.type == CANALPB__PACKET_TYPE__ACK) {
        int code = 0;
        char msg[512];
        if (packet_decode_ack(&pv, &code, msg, sizeof msg) == 0 && memchr(msg, '\0', sizeof msg) == NULL)
            fuzz_fail("ack message not terminated");
    } else if (pv.type == CANALPB__PACKET_TYPE__HANDSHAKE) {
        Canalpb__Handshake *hs = canalpb__handshake__unpack(NULL, pv.body_len, pv.body);
        if (hs != NULL) {
            char scrambled[SCRAMBLE_HEX_LEN + 1];
            scramble411_hex("secret", hs->seeds.data, hs->seeds.len, scrambled);
            if (strlen(scrambled) != SCRAMBLE_HEX_LEN)
                fuzz_fail("scramble411 is not 40 hex digits");
            canalpb__handshake__free_unpacked(hs, NULL);
        }
    } else {
        fuzz_messages(d, pv.body, pv.body_len, &pv); /* any other type too: the body is bytes */
    }
    packet_free(&pv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static decode_ctx d;
    static int ready;
    if (!ready) {
        char err[256];
        /* DDL entries are logged at INFO: format them, to nowhere */
        if (ce_log_open("/dev/null", err, sizeof err) == 0)
            ce_log_set_level(CE_LOG_DEBUG);
        else
            ce_log_set_level(CE_LOG_ERROR);
        decode_init(&d);
        d.on_ddl = fuzz_on_ddl;
        ready = 1;
    }
    if (size < 1)
        return 0;
    uint8_t door = data[0] % 3;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (door == 1) {
        fuzz_messages(&d, p, n, NULL);
        return 0;
    }
    if (door == 2) {
        fuzz_entry(&d, p, n);
        return 0;
    }
    /* a stream of frames, as frame_read takes them off the socket */
    while (n > 0) {
        size_t len = 0;
        frame_status fs = frame_parse(p, n, FUZZ_MAX_FRAME, &len);
        if (fs != FRAME_OK)
            break; /* too big: the connection is dropped; need more: the rest never came */
        if (len > n - FRAME_HEADER_LEN)
            fuzz_fail("frame_parse: payload past the input");
        fuzz_packet(&d, p + FRAME_HEADER_LEN, len);
        p += FRAME_HEADER_LEN + len;
        n -= FRAME_HEADER_LEN + len;
    }
    return 0;
}
