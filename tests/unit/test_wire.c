/* test_wire: the wire reader (decode/wire) at the edges of the wire format,
 * and against protobuf-c (the reference decoder) on every one of them:
 * truncated and overlong varints, lengths past the end, unknown fields of
 * every wire type, wrong wire types of every known field, the absence of
 * required fields, a Header given twice, bool fields of other wire types,
 * NUL bytes and invalid UTF-8 in strings, the fuzz seed corpora, the batch
 * that canal_batch_parse builds and the one canal_get returns from a local
 * server (it takes the packet and outlives the client). Inputs are encoded by hand here (e_*
 * helpers), so neither decoder checks itself. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../fuzz/wire_diff.h"
#include "canal_protocol.pb-c.h"
#include "decode/decode.h"
#include "decode/wire.h"
#include "entry_protocol.pb-c.h"
#include "source/canal.h"
#include "source/frame.h"
#include "source/packet.h"

/* ---------- encoding ---------- */

typedef struct enc {
    uint8_t b[4096];
    size_t n;
} enc;

static void e_raw(enc *e, const void *p, size_t n)
{
    assert_true(e->n + n <= sizeof e->b);
    memcpy(e->b + e->n, p, n);
    e->n += n;
}

static void e_varint(enc *e, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b |= 0x80;
        e_raw(e, &b, 1);
    } while (v);
}

static void e_tag(enc *e, uint32_t field, int wt) { e_varint(e, (uint64_t)field << 3 | (uint64_t)wt); }

static void e_vf(enc *e, uint32_t field, uint64_t v)
{
    e_tag(e, field, WIRE_VARINT);
    e_varint(e, v);
}

static void e_bf(enc *e, uint32_t field, const void *p, size_t n)
{
    e_tag(e, field, WIRE_LEN);
    e_varint(e, n);
    e_raw(e, p, n);
}

static void e_sf(enc *e, uint32_t field, const char *s) { e_bf(e, field, s, strlen(s)); }
static void e_sub(enc *e, uint32_t field, const enc *sub) { e_bf(e, field, sub->b, sub->n); }

/* A field of any wire type with a small well-formed payload. */
static void e_any(enc *e, uint32_t field, int wt)
{
    static const uint8_t eight[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    e_tag(e, field, wt);
    if (wt == WIRE_VARINT)
        e_varint(e, 1);
    else if (wt == WIRE_I64)
        e_raw(e, eight, 8);
    else if (wt == WIRE_I32)
        e_raw(e, eight, 4);
    else if (wt == WIRE_LEN)
        e_raw(e, "\x01x", 2);
}

static void header(enc *h, const char *logfile, uint64_t offset)
{
    h->n = 0;
    e_sf(h, 2, logfile);
    e_vf(h, 3, offset);
    e_vf(h, 4, 11);
    e_sf(h, 5, "UTF-8");
    e_vf(h, 6, 1700000000000ULL);
    e_sf(h, 8, "db");
    e_sf(h, 9, "t");
}

static void column(enc *c, const char *name, const char *value, bool key)
{
    c->n = 0;
    e_vf(c, 1, 0);
    e_vf(c, 2, (uint64_t)-5);
    e_sf(c, 3, name);
    if (key)
        e_vf(c, 4, 1);
    e_sf(c, 8, value);
    e_sf(c, 10, "bigint(20)");
}

/* Entry{header, ROWDATA, RowChange{INSERT, rows: RowData{after: col}}}; the extra bytes go at the end of
 * the message named by `where` (0 Entry, 1 Header, 2 RowChange, 3 RowData, 4 Column, 5 a Pair of the Column). */
static void entry_with(enc *out, int where, const enc *extra)
{
    enc h, col, rd, rc, pair;
    header(&h, "mysql-bin.000003", 4);
    column(&col, "id", "42", true);
    pair.n = 0;
    e_sf(&pair, 1, "k");
    if (where == 5)
        e_raw(&pair, extra->b, extra->n);
    e_sub(&col, 7, &pair);
    if (where == 4)
        e_raw(&col, extra->b, extra->n);
    rd.n = 0;
    e_sub(&rd, 2, &col);
    if (where == 3)
        e_raw(&rd, extra->b, extra->n);
    rc.n = 0;
    e_vf(&rc, 2, 1);
    e_sub(&rc, 12, &rd);
    if (where == 2)
        e_raw(&rc, extra->b, extra->n);
    if (where == 1)
        e_raw(&h, extra->b, extra->n);
    out->n = 0;
    e_sub(out, 1, &h);
    e_vf(out, 2, 2);
    e_sub(out, 3, &rc);
    if (where == 0)
        e_raw(out, extra->b, extra->n);
}

/* ---------- checks ---------- */

typedef struct pair_ctx {
    decode_ctx w, r;
} pair_ctx;

static int setup(void **state)
{
    static pair_ctx pc;
    decode_init(&pc.w);
    decode_init(&pc.r);
    *state = &pc;
    return 0;
}

static int teardown(void **state)
{
    pair_ctx *pc = *state;
    decode_free(&pc->w);
    decode_free(&pc->r);
    return 0;
}

/* Decodes with both (their stats and positions stay alike); *o is the wire reader's. */
static void decode_both(pair_ctx *pc, const uint8_t *p, size_t n, decode_out *o)
{
    decode_out ref;
    char err[256];
    assert_int_equal(decode_next(&pc->w, p, n, o, err, sizeof err), 0);
    assert_int_equal(decode_next_pbc(&pc->r, p, n, &ref, err, sizeof err), 0);
}

/* Both decoders agree on these bytes (as an Entry and as a Messages body); returns the Entry's kind. */
static decode_kind agree(pair_ctx *pc, const uint8_t *p, size_t n)
{
    char why[512] = "";
    if (wire_diff_entry(&pc->w, &pc->r, p, n, why, sizeof why) != 0)
        fail_msg("Entry of %zu bytes: %s", n, why);
    if (wire_diff_messages(&pc->w, &pc->r, p, n, why, sizeof why) != 0)
        fail_msg("Messages of %zu bytes: %s", n, why);
    decode_out o;
    decode_both(pc, p, n, &o);
    return o.kind;
}

static bool pbc_entry_ok(const uint8_t *p, size_t n)
{
    Entrypb__Entry *e = entrypb__entry__unpack(NULL, n, p);
    if (e)
        entrypb__entry__free_unpacked(e, NULL);
    return e != NULL;
}

static int scan_one(const uint8_t *p, size_t n, wire_field *f)
{
    wire_reader r;
    wire_init(&r, p, n);
    return wire_next(&r, f);
}

static void test_varints(void **state)
{
    pair_ctx *pc = *state;
    wire_field f;
    /* field 15 (unknown in Entry) as a varint */
    static const uint8_t ok10[] = {0x78, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(scan_one(ok10, sizeof ok10, &f), 1);
    assert_int_equal(f.num, 15);
    assert_int_equal(f.type, WIRE_VARINT);
    assert_true(f.v == (uint64_t)1 << 63);
    assert_int_equal(f.raw_len, 10);
    assert_int_equal(agree(pc, ok10, sizeof ok10), DECODE_ROWS);
    static const uint8_t ones[] = {0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(scan_one(ones, sizeof ones, &f), 1);
    assert_true(f.v == UINT64_MAX);
    const uint8_t *const bad[] = {
        (const uint8_t[]){0x78},                                                             /* no value */
        (const uint8_t[]){0x78, 0x80},                                                       /* truncated */
        (const uint8_t[]){0x78, 0xff, 0xff},                                                 /* truncated */
        (const uint8_t[]){0x78, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, /* 11 bytes */
        (const uint8_t[]){0x00, 0x01},                                                       /* field 0 */
        (const uint8_t[]){0x07, 0x01},                                                       /* field 0, type 7 */
        (const uint8_t[]){0xf8, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01},                         /* 6-byte tag */
        (const uint8_t[]){0xf8},                                                             /* tag truncated */
    };
    static const size_t bad_len[] = {1, 2, 3, 12, 2, 2, 7, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(scan_one(bad[i], bad_len[i], &f), WIRE_BAD);
        assert_false(pbc_entry_ok(bad[i], bad_len[i]));
        assert_int_equal(agree(pc, bad[i], bad_len[i]), DECODE_BAD);
    }
    /* a 5-byte tag is read as protobuf-c reads it */
    static const uint8_t tag5[] = {0xf8, 0x80, 0x80, 0x80, 0x00, 0x01};
    assert_int_equal(scan_one(tag5, sizeof tag5, &f), 1);
    assert_int_equal(f.num, 15);
    assert_int_equal(agree(pc, tag5, sizeof tag5), DECODE_ROWS);
}

static void test_lengths(void **state)
{
    pair_ctx *pc = *state;
    wire_field f;
    static const uint8_t zero[] = {0x7a, 0x00};
    assert_int_equal(scan_one(zero, sizeof zero, &f), 1);
    assert_int_equal(f.data.len, 0);
    assert_non_null(f.data.p);
    static const uint8_t pref5[] = {0x7a, 0x81, 0x80, 0x80, 0x80, 0x00, 'x'};
    assert_int_equal(scan_one(pref5, sizeof pref5, &f), 1);
    assert_int_equal(f.data.len, 1);
    assert_int_equal(f.data.p[0], 'x');
    assert_int_equal(agree(pc, pref5, sizeof pref5), DECODE_ROWS);
    const uint8_t *const bad[] = {
        (const uint8_t[]){0x7a, 0x05, 'a'},                               /* past the end */
        (const uint8_t[]){0x7a},                                          /* no length */
        (const uint8_t[]){0x7a, 0x80},                                    /* length truncated */
        (const uint8_t[]){0x7a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'x'}, /* 6-byte length */
        (const uint8_t[]){0x7a, 0xff, 0xff, 0xff, 0xff, 0x0f},            /* above INT_MAX */
        (const uint8_t[]){0x79, 1, 2, 3, 4, 5, 6, 7},                     /* 64-bit: 7 bytes */
        (const uint8_t[]){0x7d, 1, 2, 3},                                 /* 32-bit: 3 bytes */
        (const uint8_t[]){0x0a, 0x03, 0x12, 0x05, 'a'},                   /* nested: past its message */
    };
    static const size_t bad_len[] = {3, 1, 2, 8, 6, 8, 4, 5};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_reader r;
        wire_init(&r, bad[i], bad_len[i]);
        int rc;
        while ((rc = wire_next(&r, &f)) == 1)
            assert_true(f.raw + f.raw_len <= bad[i] + bad_len[i]);
        if (i < 7)
            assert_int_equal(rc, WIRE_BAD);
        assert_false(pbc_entry_ok(bad[i], bad_len[i]));
        assert_int_equal(agree(pc, bad[i], bad_len[i]), DECODE_BAD);
    }
}

/* Unknown fields of wire types 0, 1, 2, 5 are skipped at every level; 3, 4, 6, 7 fail the message. */
static void test_unknown_fields(void **state)
{
    pair_ctx *pc = *state;
    for (int where = 0; where <= 5; where++) {
        for (int wt = 0; wt < 8; wt++) {
            enc extra = {.n = 0}, e;
            e_any(&extra, 99, wt);
            if (wt == 3 || wt == 4)
                e_raw(&extra, "\x01", 1);
            entry_with(&e, where, &extra);
            bool ok = wt == 0 || wt == 1 || wt == 2 || wt == 5;
            /* inside the RowChange (storeValue bytes) the Entry itself still unpacks */
            assert_int_equal(pbc_entry_ok(e.b, e.n), ok || where >= 2);
            assert_int_equal(agree(pc, e.b, e.n), ok ? DECODE_ROWS : DECODE_BAD);
            if (ok) {
                decode_out o;
                decode_both(pc, e.b, e.n, &o);
                assert_int_equal(o.n, 1);
                assert_string_equal(o.rows[0].after.cols[0].value, "42");
                assert_string_equal(o.rows[0].logfile, "mysql-bin.000003");
            }
        }
    }
}

/* Every field number 1..14 of every message, in every wire type: both decoders accept or refuse alike;
 * a few are checked by hand. */
static void test_wrong_wire_types(void **state)
{
    pair_ctx *pc = *state;
    size_t refused = 0, total = 0;
    for (int where = 0; where <= 5; where++) {
        for (uint32_t field = 1; field <= 14; field++) {
            for (int wt = 0; wt < 6; wt++) {
                if (wt == 3 || wt == 4)
                    continue;
                enc extra = {.n = 0}, e;
                e_any(&extra, field, wt);
                entry_with(&e, where, &extra);
                total++;
                refused += !pbc_entry_ok(e.b, e.n) || agree(pc, e.b, e.n) == DECODE_BAD;
            }
        }
    }
    assert_true(refused > 0 && refused < total);
    /* by hand: Column.name (3) as a varint, Header.logfileOffset (3) as bytes, Entry.header as a varint */
    static const struct {
        int where;
        uint32_t field;
        int wt;
        decode_kind kind;
    } cases[] = {
        {4, 3, WIRE_VARINT, DECODE_BAD}, {1, 3, WIRE_LEN, DECODE_BAD}, {0, 1, WIRE_VARINT, DECODE_BAD},
        {2, 12, WIRE_I32, DECODE_BAD},   {3, 1, WIRE_I64, DECODE_BAD}, {5, 2, WIRE_VARINT, DECODE_BAD},
        {4, 4, WIRE_I32, DECODE_ROWS}, /* bool: any wire type */
        {2, 10, WIRE_LEN, DECODE_DDL}, /* isDdl from a length-delimited field: "\x01x" reads true */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enc extra = {.n = 0}, e;
        e_any(&extra, cases[i].field, cases[i].wt);
        entry_with(&e, cases[i].where, &extra);
        assert_int_equal(agree(pc, e.b, e.n), cases[i].kind);
    }
    /* Messages: batchId as bytes, messages as a varint */
    static const uint8_t m1[] = {0x0a, 0x00}, m2[] = {0x10, 0x01};
    char err[256];
    assert_null(canal_batch_parse(m1, sizeof m1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "malformed MESSAGES"));
    assert_null(canal_batch_parse(m2, sizeof m2, NULL, err, sizeof err));
    agree(pc, m1, sizeof m1);
    agree(pc, m2, sizeof m2);
}

/* proto3: no field is required, so absent ones read as their defaults in both. */
static void test_no_required_fields(void **state)
{
    pair_ctx *pc = *state;
    const ProtobufCMessageDescriptor *descs[] = {&entrypb__entry__descriptor,     &entrypb__header__descriptor,
                                                 &entrypb__row_change__descriptor, &entrypb__row_data__descriptor,
                                                 &entrypb__column__descriptor,    &entrypb__pair__descriptor,
                                                 &canalpb__messages__descriptor};
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
        for (unsigned k = 0; k < descs[i]->n_fields; k++)
            assert_int_not_equal(descs[i]->fields[k].label, PROTOBUF_C_LABEL_REQUIRED);
    /* an empty Entry: ROWDATA, an empty RowChange (UPDATE), no rows */
    decode_out o;
    char err[256];
    assert_int_equal(agree(pc, (const uint8_t *)"", 0), DECODE_ROWS);
    decode_both(pc, (const uint8_t *)"", 0, &o);
    assert_int_equal(o.n, 0);
    assert_int_equal(o.n_bad, 0);
    /* a column with nothing but its value: name and mysqlType "", sqlType 0, flags false */
    enc col = {.n = 0}, rd = {.n = 0}, rc = {.n = 0}, e = {.n = 0};
    e_sf(&col, 8, "v");
    e_sub(&rd, 2, &col);
    e_vf(&rc, 2, 1);
    e_sub(&rc, 12, &rd);
    e_sub(&e, 3, &rc);
    assert_int_equal(agree(pc, e.b, e.n), DECODE_ROWS);
    decode_both(pc, e.b, e.n, &o);
    assert_int_equal(o.n, 1);
    const row_col *c = &o.rows[0].after.cols[0];
    assert_string_equal(c->name, "");
    assert_string_equal(c->mysql_type, "");
    assert_string_equal(o.rows[0].schema, "");
    assert_int_equal(c->sql_type, 0);
    assert_false(c->is_key || c->updated || c->is_null);
    /* an empty Messages body: batch 0, no entries */
    canal_batch *b = canal_batch_parse((const uint8_t *)"", 0, NULL, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(b->id, 0);
    assert_int_equal(b->n, 0);
    canal_batch_free(b);
}

/* A Header given twice is merged as protobuf-c merges it. */
static void test_header_twice(void **state)
{
    pair_ctx *pc = *state;
    enc h1 = {.n = 0}, h2 = {.n = 0}, rc = {.n = 0}, col, rd = {.n = 0}, e = {.n = 0};
    e_vf(&h1, 1, 1);  /* version */
    e_vf(&h1, 7, 2);  /* sourceType */
    e_vf(&h1, 11, 3); /* eventType DELETE */
    e_sf(&h1, 2, "mysql-bin.000009");
    e_vf(&h1, 3, 500);
    e_sf(&h1, 8, "first");
    e_sf(&h2, 8, "second");
    e_vf(&h2, 6, 77);
    column(&col, "id", "5", true);
    e_sub(&rd, 1, &col);
    e_sub(&rc, 12, &rd);
    e_sub(&e, 1, &h1);
    e_sub(&e, 1, &h2);
    e_sub(&e, 3, &rc);
    assert_int_equal(agree(pc, e.b, e.n), DECODE_ROWS);
    decode_out o;
    decode_both(pc, e.b, e.n, &o);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.rows[0].op, ROW_DELETE);                    /* oneof: the earlier's */
    assert_string_equal(o.rows[0].logfile, "mysql-bin.000009");    /* string absent in the latter */
    assert_string_equal(o.rows[0].schema, "second");               /* string in both: the latter's */
    assert_int_equal(o.rows[0].offset, 0);                         /* plain integer: the latter's, absent */
    assert_int_equal(o.rows[0].execute_time, 77);
    /* without version in either, protobuf-c's merge fails, and so does the wire reader */
    e.n = 0;
    e_sub(&e, 1, &h2);
    e_sub(&e, 1, &h2);
    e_sub(&e, 3, &rc);
    assert_false(pbc_entry_ok(e.b, e.n));
    assert_int_equal(agree(pc, e.b, e.n), DECODE_BAD);
}

/* Bool fields take any wire type; true when a scanned byte (a length prefix too) has a low bit set. */
static void test_bool_wire_types(void **state)
{
    pair_ctx *pc = *state;
    const struct {
        const uint8_t *b;
        size_t n;
        bool v;
    } cases[] = {
        {(const uint8_t[]){0x20, 0x80, 0x00}, 3, false},            /* varint 0 in two bytes */
        {(const uint8_t[]){0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, 11, true},
        {(const uint8_t[]){0x25, 0, 0, 0, 0x80}, 5, false},         /* 32-bit: only 0x80 */
        {(const uint8_t[]){0x21, 0, 0, 0, 0, 0, 0, 0, 1}, 9, true}, /* 64-bit */
        {(const uint8_t[]){0x22, 0x00}, 2, false},                  /* empty bytes */
        {(const uint8_t[]){0x22, 0x01, 0x00}, 3, true},             /* the length byte counts */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enc extra = {.n = 0}, e;
        e_raw(&extra, cases[i].b, cases[i].n);
        entry_with(&e, 4, &extra); /* after the column's isKey = 1: the last one wins */
        assert_int_equal(agree(pc, e.b, e.n), DECODE_ROWS);
        decode_out o;
        decode_both(pc, e.b, e.n, &o);
        assert_int_equal(o.rows[0].after.cols[0].is_key, cases[i].v);
    }
}

/* Strings are not checked for UTF-8 and may hold NUL: C strings end there, values keep every byte. */
static void test_nul_and_invalid_utf8(void **state)
{
    pair_ctx *pc = *state;
    enc col = {.n = 0}, rd = {.n = 0}, rc = {.n = 0}, h = {.n = 0}, e = {.n = 0};
    e_bf(&col, 3, "na\0me", 5);
    e_bf(&col, 8, "\xff\xfe\0\xc3(", 5);
    e_bf(&col, 10, "\x80", 1);
    e_sub(&rd, 2, &col);
    e_vf(&rc, 2, 1);
    e_sub(&rc, 12, &rd);
    e_bf(&h, 8, "\0db", 3);
    e_bf(&h, 9, "t\xc0\xaf", 3);
    e_sub(&e, 1, &h);
    e_sub(&e, 3, &rc);
    assert_int_equal(agree(pc, e.b, e.n), DECODE_ROWS);
    decode_out o;
    decode_both(pc, e.b, e.n, &o);
    const row_col *c = &o.rows[0].after.cols[0];
    assert_string_equal(c->name, "na");
    assert_int_equal(c->value_len, 5);
    assert_memory_equal(c->value, "\xff\xfe\0\xc3(", 5);
    assert_int_equal(c->value[5], '\0');
    assert_string_equal(c->mysql_type, "\x80");
    assert_string_equal(o.rows[0].schema, "");
    assert_string_equal(o.rows[0].table, "t\xc0\xaf");
}

/* Every seed of the fuzz corpora, and each of their prefixes: both decoders agree. */
static void test_corpora(void **state)
{
    pair_ctx *pc = *state;
    static const char *const dirs[] = {TEST_DATA_DIR "/../../fuzz/corpus/wire", TEST_DATA_DIR "/../../fuzz/corpus/packet"};
    size_t files = 0;
    for (size_t d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        assert_non_null(dir);
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dirs[d], de->d_name);
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            static uint8_t buf[65536];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            files++;
            for (size_t cut = 0; cut <= n; cut++) {
                char why[512] = "";
                if (wire_diff_entry(&pc->w, &pc->r, buf, cut, why, sizeof why) != 0 ||
                    wire_diff_messages(&pc->w, &pc->r, buf, cut, why, sizeof why) != 0 ||
                    (n > 0 && cut > 0 && wire_diff_entry(&pc->w, &pc->r, buf + 1, cut - 1, why, sizeof why) != 0) ||
                    (n > 0 && cut > 0 && wire_diff_messages(&pc->w, &pc->r, buf + 1, cut - 1, why, sizeof why) != 0))
                    fail_msg("%s, first %zu bytes: %s", path, cut, why);
            }
        }
        closedir(dir);
    }
    assert_true(files >= 10);
}

/* A Column of the fields in `order` (field numbers; 0 ends), `wide` bools and ints as ten-byte varints
 * and a two-byte length for the value, wrapped in an INSERT entry. */
static void column_entry(enc *out, const int *order, bool wide, size_t cut)
{
    enc h, col = {.n = 0}, rd = {.n = 0}, rc = {.n = 0};
    static const char value[] = "a value of more than one hundred and twenty-eight bytes, so that its length "
                                "prefix takes two bytes on the wire; then some more text to be sure of it";
    header(&h, "mysql-bin.000003", 4);
    for (const int *f = order; *f; f++) {
        switch (*f) {
        case 3: e_sf(&col, 3, "name"); break;
        case 7: { enc pair = {.n = 0}; e_sf(&pair, 1, "k"); e_sub(&col, 7, &pair); break; }
        case 8: e_bf(&col, 8, value, wide ? sizeof value - 1 : 5); break;
        case 10: e_sf(&col, 10, "varchar(255)"); break;
        default:
            if (wide) {
                e_tag(&col, (uint32_t)*f, WIRE_VARINT);
                e_raw(&col, "\x81\x80\x80\x80\x80\x80\x80\x80\x80\x02", 10);
            } else {
                e_vf(&col, (uint32_t)*f, (uint64_t)(*f == 2 ? -5 : 1));
            }
        }
    }
    if (cut < col.n)
        col.n = cut;
    e_sub(&rd, 2, &col);
    e_vf(&rc, 2, 1);
    e_sub(&rc, 12, &rd);
    out->n = 0;
    e_sub(out, 1, &h);
    e_vf(out, 2, 2);
    e_sub(out, 3, &rc);
}

/* The Column walk takes fields in number order and leaves any other order, repeat, wire type or
 * malformed field to the general loop: both decoders agree on all of them, cut at every byte too. */
static void test_column_orders(void **state)
{
    pair_ctx *pc = *state;
    static const int orders[][12] = {
        {1, 2, 3, 4, 5, 6, 8, 9, 10, 0}, {2, 3, 6, 8, 10, 0},          {10, 8, 6, 5, 4, 3, 2, 1, 0},
        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0}, {3, 3, 8, 8, 10, 10, 0},    {1, 2, 3, 8, 10, 3, 8, 10, 0},
        {4, 5, 6, 4, 5, 6, 0},           {8, 0},                         {1, 2, 11, 3, 8, 10, 0},
        {0},
    };
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        for (int wide = 0; wide <= 1; wide++) {
            enc e;
            column_entry(&e, orders[i], wide, SIZE_MAX);
            assert_int_equal(agree(pc, e.b, e.n), DECODE_ROWS);
            for (size_t cut = 0; cut < 400; cut++) {
                column_entry(&e, orders[i], wide, cut);
                agree(pc, e.b, e.n);
            }
        }
    }
    /* by hand: the ordered walk's values */
    static const int full[] = {1, 2, 3, 4, 5, 6, 8, 9, 10, 0};
    enc e;
    column_entry(&e, full, false, SIZE_MAX);
    decode_out o;
    decode_both(pc, e.b, e.n, &o);
    assert_int_equal(o.n, 1);
    const row_col *c = &o.rows[0].after.cols[0];
    assert_string_equal(c->name, "name");
    assert_string_equal(c->value, "a val");
    assert_string_equal(c->mysql_type, "varchar(255)");
    assert_int_equal(c->sql_type, -5);
    assert_true(c->is_key && c->updated && c->is_null);
}

/* row_event.layout: the rows of one entry share one, never 0; the next entry (the same bytes too) and
 * the reference decoder's get others. */
static void test_layout_tokens(void **state)
{
    pair_ctx *pc = *state;
    enc h, col, rd = {.n = 0}, rc = {.n = 0}, e = {.n = 0};
    header(&h, "mysql-bin.000003", 4);
    column(&col, "id", "42", true);
    e_sub(&rd, 2, &col);
    e_vf(&rc, 2, 1);
    e_sub(&rc, 12, &rd);
    e_sub(&rc, 12, &rd);
    e_sub(&e, 1, &h);
    e_vf(&e, 2, 2);
    e_sub(&e, 3, &rc);
    decode_out o, r;
    char err[256];
    assert_int_equal(decode_next(&pc->w, e.b, e.n, &o, err, sizeof err), 0);
    assert_int_equal(o.n, 2);
    uint64_t first = o.rows[0].layout;
    assert_true(first != 0);
    assert_true(o.rows[1].layout == first);
    assert_int_equal(decode_next_pbc(&pc->r, e.b, e.n, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 2);
    assert_true(r.rows[0].layout != 0 && r.rows[0].layout == r.rows[1].layout && r.rows[0].layout != first);
    assert_int_equal(decode_next(&pc->w, e.b, e.n, &o, err, sizeof err), 0);
    assert_true(o.rows[0].layout != 0 && o.rows[0].layout != first && o.rows[0].layout != r.rows[0].layout);
}

/* canal_batch_parse: entries are slices of the batch's own bytes; an id of -1 comes back as it is. */
static void test_batch_parse(void **state)
{
    (void)state;
    enc e1, m = {.n = 0}, extra = {.n = 0};
    entry_with(&e1, 0, &extra);
    e_vf(&m, 1, 12);
    e_sub(&m, 2, &e1);
    e_bf(&m, 2, "", 0);
    e_sub(&m, 2, &e1);
    char err[256];
    uint8_t copy[sizeof m.b];
    memcpy(copy, m.b, m.n);
    canal_batch *b = canal_batch_parse(copy, m.n, NULL, err, sizeof err);
    assert_non_null(b);
    memset(copy, 0xee, m.n); /* the batch holds its own copy */
    assert_int_equal(b->id, 12);
    assert_int_equal(b->n, 3);
    assert_int_equal(b->bytes, m.n);
    assert_int_equal(b->entries[0].len, e1.n);
    assert_memory_equal(b->entries[0].p, e1.b, e1.n);
    assert_int_equal(b->entries[1].len, 0);
    assert_memory_equal(b->entries[2].p, e1.b, e1.n);
    canal_batch_free(b);
    m.n = 0;
    e_vf(&m, 1, (uint64_t)-1);
    b = canal_batch_parse(m.b, m.n, NULL, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(b->id, -1);
    assert_int_equal(b->n, 0);
    canal_batch_free(b);
    canal_batch_free(NULL);
}

/* ---------- canal_get on a local server: the batch takes the packet and outlives the client ---------- */

typedef struct fake_srv {
    int lfd;
    const enc *entry;
    int ok;
} fake_srv;

static int srv_send(int fd, Canalpb__PacketType type, const ProtobufCMessage *body)
{
    ce_buf out;
    char err[256];
    ce_buf_init(&out, 1 << 20);
    int rc = packet_encode(type, body, &out);
    if (rc == 0)
        rc = frame_write(fd, out.data + FRAME_HEADER_LEN, out.len - FRAME_HEADER_LEN, err, sizeof err) == FRAME_IO_OK
                 ? 0
                 : -1;
    ce_buf_free(&out);
    return rc;
}

static void *srv_main(void *ud)
{
    fake_srv *s = ud;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    ce_buf in;
    char err[256];
    ce_buf_init(&in, 1 << 20);
    Canalpb__Handshake hs = CANALPB__HANDSHAKE__INIT;
    hs.seeds.data = (uint8_t *)"12345678";
    hs.seeds.len = 8;
    Canalpb__Ack ack = CANALPB__ACK__INIT;
    ProtobufCBinaryData msgs[2] = {{s->entry->n, (uint8_t *)s->entry->b}, {0, NULL}};
    Canalpb__Messages m = CANALPB__MESSAGES__INIT, none = CANALPB__MESSAGES__INIT;
    m.batch_id = 7;
    m.n_messages = 2;
    m.messages = msgs;
    none.batch_id = -1;
    /* a body above CANAL_TAKE_FRAME_MIN: the batch keeps the frame buffer */
    static uint8_t filler[70000];
    for (size_t i = 0; i < sizeof filler; i++)
        filler[i] = (uint8_t)(i * 7);
    ProtobufCBinaryData bigmsgs[3] = {{s->entry->n, (uint8_t *)s->entry->b}, {sizeof filler, filler},
                                      {s->entry->n, (uint8_t *)s->entry->b}};
    Canalpb__Messages big = CANALPB__MESSAGES__INIT;
    big.batch_id = 8;
    big.n_messages = 3;
    big.messages = bigmsgs;
    int ok = srv_send(fd, CANALPB__PACKET_TYPE__HANDSHAKE, &hs.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* auth */
             srv_send(fd, CANALPB__PACKET_TYPE__ACK, &ack.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* subscribe */
             srv_send(fd, CANALPB__PACKET_TYPE__ACK, &ack.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* rollback */
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* get */
             srv_send(fd, CANALPB__PACKET_TYPE__MESSAGES, &m.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* get */
             srv_send(fd, CANALPB__PACKET_TYPE__MESSAGES, &big.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* get */
             srv_send(fd, CANALPB__PACKET_TYPE__MESSAGES, &m.base) == 0 &&
             frame_read(fd, &in, 1 << 20, err, sizeof err) == FRAME_IO_OK && /* get */
             srv_send(fd, CANALPB__PACKET_TYPE__MESSAGES, &none.base) == 0;
    s->ok = ok;
    ce_buf_free(&in);
    close(fd);
    return NULL;
}

static void test_canal_get_batch(void **state)
{
    pair_ctx *pc = *state;
    enc e, extra = {.n = 0};
    entry_with(&e, 0, &extra);
    fake_srv s = {.entry = &e};
    s.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s.lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s.lfd, 1), 0);
    assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&sa, &sl), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, srv_main, &s), 0);
    char addr[64], err[1024];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    canal_opts o = {.addresses = addr, .destination = "example", .username = "canal", .password = "canal",
                    .client_id = 1001, .filter = "", .fetch_size = 100, .fetch_timeout_ms = 1000,
                    .connect_timeout_ms = 5000};
    canal_client *c = canal_new(&o);
    assert_non_null(c);
    canal_batch *b = NULL, *empty = NULL, *big = NULL, *again = NULL;
    if (canal_connect(c, err, sizeof err) != CANAL_OK)
        fail_msg("connect: %s", err);
    if (canal_get(c, &b, err, sizeof err) != CANAL_OK)
        fail_msg("get: %s", err);
    if (canal_get(c, &big, err, sizeof err) != CANAL_OK)
        fail_msg("get: %s", err);
    if (canal_get(c, &again, err, sizeof err) != CANAL_OK) /* into a new receive buffer */
        fail_msg("get: %s", err);
    assert_int_equal(canal_get(c, &empty, err, sizeof err), CANAL_OK);
    assert_null(empty); /* batch -1 */
    canal_free(c);
    pthread_join(th, NULL);
    close(s.lfd);
    assert_true(s.ok);
    /* the batch is the caller's: valid after the client is gone */
    assert_non_null(b);
    assert_int_equal(b->id, 7);
    assert_int_equal(b->n, 2);
    assert_int_equal(b->entries[0].len, e.n);
    assert_memory_equal(b->entries[0].p, e.b, e.n);
    assert_int_equal(b->entries[1].len, 0);
    decode_out out;
    decode_both(pc, b->entries[0].p, b->entries[0].len, &out);
    assert_int_equal(out.kind, DECODE_ROWS);
    assert_int_equal(out.n, 1);
    canal_batch_free(b);
    /* the big batch (the frame buffer it took) and the one read after it */
    assert_non_null(big);
    assert_int_equal(big->id, 8);
    assert_int_equal(big->n, 3);
    assert_int_equal(big->entries[0].len, e.n);
    assert_memory_equal(big->entries[0].p, e.b, e.n);
    assert_int_equal(big->entries[1].len, 70000);
    for (size_t i = 0; i < 70000; i++)
        if (big->entries[1].p[i] != (uint8_t)(i * 7))
            fail_msg("big batch byte %zu differs", i);
    assert_memory_equal(big->entries[2].p, e.b, e.n);
    assert_non_null(again);
    assert_int_equal(again->id, 7);
    assert_int_equal(again->n, 2);
    assert_memory_equal(again->entries[0].p, e.b, e.n);
    decode_both(pc, big->entries[2].p, big->entries[2].len, &out);
    assert_int_equal(out.n, 1);
    canal_batch_free(big);
    canal_batch_free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),          cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_unknown_fields),   cmocka_unit_test(test_wrong_wire_types),
        cmocka_unit_test(test_no_required_fields), cmocka_unit_test(test_header_twice),
        cmocka_unit_test(test_bool_wire_types),  cmocka_unit_test(test_nul_and_invalid_utf8),
        cmocka_unit_test(test_corpora),          cmocka_unit_test(test_batch_parse),
        cmocka_unit_test(test_column_orders),    cmocka_unit_test(test_layout_tokens),
        cmocka_unit_test(test_canal_get_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
