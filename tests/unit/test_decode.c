/* test_decode: Entry bytes → row events.
 *
 * The Entry messages below are written by hand in protobuf wire format
 * (tag = field << 3 | wire type; 0 = varint, 2 = length-delimited), not
 * produced by protobuf-c, so the decoder is checked against the wire format
 * itself: absent proto2-style fields, explicit false/zero values, negative
 * int32 varints, multi-byte lengths. Each sub-message is a macro with its
 * length written out by hand and checked at compile time by CHECK_LEN.
 * One test at the end builds an Entry with protobuf-c and compares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../fuzz/wire_diff.h"
#include "decode/decode.h"
#include "entry_protocol.pb-c.h"

#define CHECK_LEN(n, ...) _Static_assert(sizeof((const uint8_t[]){__VA_ARGS__}) == (n), "length " #n)

/* ---------- columns ---------- */

/* Column{sqlType=-5 (BIGINT), name="id", isKey=true, value=ch, mysqlType="bigint(20)"}; isNull absent */
#define COL_ID(ch)                                                                                     \
    0x10, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* 2: sqlType -5, 10-byte varint */ \
        0x1a, 0x02, 'i', 'd',                                         /* 3: name */                  \
        0x20, 0x01,                                                   /* 4: isKey */                 \
        0x42, 0x01, (ch),                                             /* 8: value */                 \
        0x52, 0x0a, 'b', 'i', 'g', 'i', 'n', 't', '(', '2', '0', ')'  /* 10: mysqlType */
#define COL_ID_LEN 32
CHECK_LEN(COL_ID_LEN, COL_ID('7'));

/* Column{index=1, sqlType=12, name="name", isNull=false (explicit), value="绿茶", mysqlType="varchar(32)"} */
#define COL_NAME_CN                                                   \
    0x08, 0x01,                                        /* 1: index */ \
        0x10, 0x0c,                                    /* 2: sqlType 12 (VARCHAR) */ \
        0x1a, 0x04, 'n', 'a', 'm', 'e',                /* 3: name */ \
        0x30, 0x00,                                    /* 6: isNull = false, present */ \
        0x42, 0x06, 0xe7, 0xbb, 0xbf, 0xe8, 0x8c, 0xb6, /* 8: value, UTF-8 */ \
        0x52, 0x0b, 'v', 'a', 'r', 'c', 'h', 'a', 'r', '(', '3', '2', ')'
#define COL_NAME_CN_LEN 33
CHECK_LEN(COL_NAME_CN_LEN, COL_NAME_CN);

/* Column{index=2, sqlType=12, name="note", isNull=true, mysqlType="text"}; no value */
#define COL_NOTE_NULL                          \
    0x08, 0x02,                                \
        0x10, 0x0c,                            \
        0x1a, 0x04, 'n', 'o', 't', 'e',        \
        0x30, 0x01,                 /* 6: isNull = true */ \
        0x52, 0x04, 't', 'e', 'x', 't'
#define COL_NOTE_NULL_LEN 18
CHECK_LEN(COL_NOTE_NULL_LEN, COL_NOTE_NULL);

/* Column{index=1, sqlType=12, name="name", value="Tea", mysqlType="varchar(32)"}; isNull absent */
#define COL_NAME_TEA                           \
    0x08, 0x01,                                \
        0x10, 0x0c,                            \
        0x1a, 0x04, 'n', 'a', 'm', 'e',        \
        0x42, 0x03, 'T', 'e', 'a',             \
        0x52, 0x0b, 'v', 'a', 'r', 'c', 'h', 'a', 'r', '(', '3', '2', ')'
#define COL_NAME_TEA_LEN 28
CHECK_LEN(COL_NAME_TEA_LEN, COL_NAME_TEA);

/* Column{index=1, sqlType=12, name="name", updated=true, value="Green tea", mysqlType="varchar(32)"} */
#define COL_NAME_GREEN                                             \
    0x08, 0x01,                                                    \
        0x10, 0x0c,                                                \
        0x1a, 0x04, 'n', 'a', 'm', 'e',                            \
        0x28, 0x01, /* 5: updated */                               \
        0x42, 0x09, 'G', 'r', 'e', 'e', 'n', ' ', 't', 'e', 'a',   \
        0x52, 0x0b, 'v', 'a', 'r', 'c', 'h', 'a', 'r', '(', '3', '2', ')'
#define COL_NAME_GREEN_LEN 36
CHECK_LEN(COL_NAME_GREEN_LEN, COL_NAME_GREEN);

/* RowData fields: 1 beforeColumns, 2 afterColumns */
#define BEFORE_ID(ch) 0x0a, COL_ID_LEN, COL_ID(ch)
#define AFTER_ID(ch) 0x12, COL_ID_LEN, COL_ID(ch)

/* ---------- headers ---------- */

/* Header{logfileName="mysql-bin.000003", logfileOffset=off, executeTime=1700000000123,
 *        schemaName="shop", tableName="items", eventType=et}; off is a 2-byte varint */
#define HEADER(off_lo, off_hi, et)                                                                        \
    0x12, 0x10, 'm', 'y', 's', 'q', 'l', '-', 'b', 'i', 'n', '.', '0', '0', '0', '0', '0', '3', /* 2 */ \
        0x18, (off_lo), (off_hi),                                 /* 3: logfileOffset */                 \
        0x30, 0xfb, 0xd0, 0x95, 0xff, 0xbc, 0x31,                 /* 6: executeTime 1700000000123 */     \
        0x42, 0x04, 's', 'h', 'o', 'p',                           /* 8: schemaName */                    \
        0x4a, 0x05, 'i', 't', 'e', 'm', 's',                      /* 9: tableName */                     \
        0x58, (et)                                                /* 11: eventType */
#define HEADER_LEN 43
CHECK_LEN(HEADER_LEN, HEADER(0xe1, 0x21, 1));

/* Header{schemaName="shop", tableName="items"}: no eventType, no position */
#define HEADER_MIN 0x42, 0x04, 's', 'h', 'o', 'p', 0x4a, 0x05, 'i', 't', 'e', 'm', 's'
#define HEADER_MIN_LEN 13
CHECK_LEN(HEADER_MIN_LEN, HEADER_MIN);

/* ---------- INSERT: one row, three columns ---------- */

#define RD_INSERT                                   \
    0x12, COL_ID_LEN, COL_ID('7'),                  \
        0x12, COL_NAME_CN_LEN, COL_NAME_CN,         \
        0x12, COL_NOTE_NULL_LEN, COL_NOTE_NULL
#define RD_INSERT_LEN 89
CHECK_LEN(RD_INSERT_LEN, RD_INSERT);

/* RowChange{tableId=42, eventType=INSERT, rowDatas=[RD_INSERT]} */
#define RC_INSERT 0x08, 0x2a, 0x10, 0x01, 0x62, RD_INSERT_LEN, RD_INSERT
#define RC_INSERT_LEN 95
CHECK_LEN(RC_INSERT_LEN, RC_INSERT);

/* Entry{header (offset 4321, INSERT), entryType=ROWDATA, storeValue=RC_INSERT} */
static const uint8_t entry_insert[] = {
    0x0a, HEADER_LEN, HEADER(0xe1, 0x21, 0x01), /* 1: header */
    0x10, 0x02,                                 /* 2: entryType ROWDATA */
    0x1a, RC_INSERT_LEN, RC_INSERT,             /* 3: storeValue */
};
CHECK_LEN(144, 0x0a, HEADER_LEN, HEADER(0xe1, 0x21, 0x01), 0x10, 0x02, 0x1a, RC_INSERT_LEN, RC_INSERT);

/* ---------- UPDATE: both images; lengths above 127 take two varint bytes ---------- */

#define RD_UPDATE                                                        \
    0x0a, COL_ID_LEN, COL_ID('7'), 0x0a, COL_NAME_TEA_LEN, COL_NAME_TEA, \
        0x12, COL_ID_LEN, COL_ID('7'), 0x12, COL_NAME_GREEN_LEN, COL_NAME_GREEN
#define RD_UPDATE_LEN 136 /* varint 0x88 0x01 */
CHECK_LEN(RD_UPDATE_LEN, RD_UPDATE);

#define RC_UPDATE 0x08, 0x2a, 0x10, 0x02, 0x62, 0x88, 0x01, RD_UPDATE
#define RC_UPDATE_LEN 143 /* varint 0x8f 0x01 */
CHECK_LEN(RC_UPDATE_LEN, RC_UPDATE);

/* offset 5000 = varint 0x88 0x27 */
static const uint8_t entry_update[] = {
    0x0a, HEADER_LEN, HEADER(0x88, 0x27, 0x02),
    0x10, 0x02,
    0x1a, 0x8f, 0x01, RC_UPDATE,
};

/* ---------- DELETE ---------- */

#define RC_DELETE 0x08, 0x2a, 0x10, 0x03, 0x62, COL_ID_LEN + 2, BEFORE_ID('7')
#define RC_DELETE_LEN 40
CHECK_LEN(RC_DELETE_LEN, RC_DELETE);

/* offset 6000 = varint 0xf0 0x2e */
static const uint8_t entry_delete[] = {
    0x0a, HEADER_LEN, HEADER(0xf0, 0x2e, 0x03),
    0x10, 0x02,
    0x1a, RC_DELETE_LEN, RC_DELETE,
};

/* ---------- defaults ---------- */

/* Entry without entryType (field 2): must be ROWDATA.
 * RowChange{eventType=INSERT, rowDatas=[{after=[id=9]}]} */
#define RC_INSERT_9 0x10, 0x01, 0x62, COL_ID_LEN + 2, AFTER_ID('9')
#define RC_INSERT_9_LEN 38
CHECK_LEN(RC_INSERT_9_LEN, RC_INSERT_9);
static const uint8_t entry_no_entry_type[] = {
    0x0a, HEADER_MIN_LEN, HEADER_MIN,
    0x1a, RC_INSERT_9_LEN, RC_INSERT_9,
};

/* RowChange without eventType, header without eventType: must be UPDATE.
 * Columns have no isNull field: must read false. */
#define RC_NO_EVENT_TYPE 0x08, 0x2a, 0x62, 2 * (COL_ID_LEN + 2), BEFORE_ID('1'), AFTER_ID('1')
#define RC_NO_EVENT_TYPE_LEN 72
CHECK_LEN(RC_NO_EVENT_TYPE_LEN, RC_NO_EVENT_TYPE);
static const uint8_t entry_no_event_type[] = {
    0x0a, HEADER_MIN_LEN, HEADER_MIN,
    0x10, 0x02,
    0x1a, RC_NO_EVENT_TYPE_LEN, RC_NO_EVENT_TYPE,
};

/* ---------- transaction boundaries and other entry types ---------- */

#define HEADER_POS 0x12, 0x10, 'm', 'y', 's', 'q', 'l', '-', 'b', 'i', 'n', '.', '0', '0', '0', '0', '0', '3', 0x18, 0xe1, 0x21
#define HEADER_POS_LEN 21
CHECK_LEN(HEADER_POS_LEN, HEADER_POS);

/* entryType TRANSACTIONBEGIN, storeValue TransactionBegin{threadId=77}
 * (a RowChange parse of it would find field 4 as tableId... it must not be parsed at all) */
static const uint8_t entry_begin[] = {
    0x0a, HEADER_POS_LEN, HEADER_POS,
    0x10, 0x01,
    0x1a, 0x02, 0x20, 0x4d,
};
/* entryType TRANSACTIONEND, storeValue TransactionEnd{transactionId="123"} */
static const uint8_t entry_end[] = {
    0x0a, HEADER_POS_LEN, HEADER_POS,
    0x10, 0x03,
    0x1a, 0x05, 0x12, 0x03, '1', '2', '3',
};
/* entryType GTIDLOG, header{gtid="uuid:5"} */
static const uint8_t entry_gtid[] = {
    0x0a, 0x08, 0x6a, 0x06, 'u', 'u', 'i', 'd', ':', '5',
    0x10, 0x05,
};
/* entryType HEARTBEAT, nothing else */
static const uint8_t entry_heartbeat[] = {0x10, 0x04};

/* ---------- several rows in one event ---------- */

#define RD_AFTER_ID(ch) 0x62, COL_ID_LEN + 2, AFTER_ID(ch)
#define RC_MULTI 0x10, 0x01, RD_AFTER_ID('1'), RD_AFTER_ID('2'), RD_AFTER_ID('3')
#define RC_MULTI_LEN 110
CHECK_LEN(RC_MULTI_LEN, RC_MULTI);
static const uint8_t entry_multi[] = {
    0x0a, HEADER_LEN, HEADER(0xe1, 0x21, 0x01),
    0x10, 0x02,
    0x1a, RC_MULTI_LEN, RC_MULTI,
};

/* ---------- DDL and QUERY ---------- */

/* RowChange{isDdl=true, sql="ALTER TABLE items ADD c INT", rowDatas=[{after=[id=1]}]}, eventType absent:
 * the row must not come out (if isDdl were ignored it would, as an UPDATE). */
#define RC_DDL                                                                                                   \
    0x50, 0x01,                                                                                     /* 10: isDdl */ \
        0x5a, 0x1b, 'A', 'L', 'T', 'E', 'R', ' ', 'T', 'A', 'B', 'L', 'E', ' ', 'i', 't', 'e', 'm', 's', ' ', 'A', \
        'D', 'D', ' ', 'c', ' ', 'I', 'N', 'T',                                                     /* 11: sql */   \
        RD_AFTER_ID('1')
#define RC_DDL_LEN 67
CHECK_LEN(RC_DDL_LEN, RC_DDL);
static const uint8_t entry_ddl[] = {
    0x0a, HEADER_MIN_LEN + 2, HEADER_MIN, 0x58, 0x05, /* header eventType ALTER */
    0x10, 0x02,
    0x1a, RC_DDL_LEN, RC_DDL,
};

/* RowChange{eventType=QUERY, sql="SELECT 1"}: not a row event, not DDL */
static const uint8_t entry_query[] = {
    0x10, 0x02,
    0x1a, 0x0c, 0x10, 0x07, 0x5a, 0x08, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1',
};

/* ---------- broken input ---------- */

/* header claims 32 bytes, 1 follows */
static const uint8_t entry_truncated[] = {0x0a, 0x20, 0x01};
/* a valid Entry whose storeValue is not a RowChange (rowDatas claims 16 bytes) */
static const uint8_t entry_bad_rowchange[] = {0x10, 0x02, 0x1a, 0x03, 0x62, 0x10, 0x00};
/* INSERT whose only row has a before image and no after image */
static const uint8_t entry_insert_no_after[] = {
    0x0a, HEADER_LEN, HEADER(0xe1, 0x21, 0x01),
    0x10, 0x02,
    0x1a, 4 + COL_ID_LEN + 2, 0x10, 0x01, 0x62, COL_ID_LEN + 2, BEFORE_ID('1'),
};

/* ---------- capture of the events (they are only valid in the callback) ---------- */

#define MAX_EVENTS 8
#define MAX_COLS 4

typedef struct cap_col {
    char name[32];
    char value[32];
    size_t value_len;
    char mysql_type[32];
    int sql_type;
    bool is_null, is_key, updated;
} cap_col;

typedef struct cap_event {
    char schema[16], table[16], logfile[32], gtid[64];
    row_op op;
    int64_t offset, execute_time;
    uint32_t row_index;
    cap_col before[MAX_COLS], after[MAX_COLS];
    size_t n_before, n_after;
} cap_event;

typedef struct capture {
    cap_event ev[MAX_EVENTS];
    size_t n;
    size_t stop_at; /* return 99 at this call (1-based); 0 = never */
} capture;

static void copy_str(char *dst, size_t dlen, const char *src)
{
    assert_non_null(src);
    assert_true(strlen(src) < dlen);
    snprintf(dst, dlen, "%s", src);
}

static void copy_image(cap_col *dst, size_t *n, const row_image *img)
{
    assert_true(img->n <= MAX_COLS);
    *n = img->n;
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        copy_str(dst[i].name, sizeof dst[i].name, c->name);
        assert_true(c->value_len < sizeof dst[i].value);
        memcpy(dst[i].value, c->value, c->value_len);
        dst[i].value[c->value_len] = '\0';
        dst[i].value_len = c->value_len;
        copy_str(dst[i].mysql_type, sizeof dst[i].mysql_type, c->mysql_type);
        dst[i].sql_type = c->sql_type;
        dst[i].is_null = c->is_null;
        dst[i].is_key = c->is_key;
        dst[i].updated = c->updated;
    }
}

static int on_row(void *ud, const row_event *ev)
{
    capture *cap = ud;
    assert_true(cap->n < MAX_EVENTS);
    cap_event *o = &cap->ev[cap->n++];
    copy_str(o->schema, sizeof o->schema, ev->schema);
    copy_str(o->table, sizeof o->table, ev->table);
    copy_str(o->logfile, sizeof o->logfile, ev->logfile);
    copy_str(o->gtid, sizeof o->gtid, ev->gtid);
    o->op = ev->op;
    o->offset = ev->offset;
    o->execute_time = ev->execute_time;
    o->row_index = ev->row_index;
    copy_image(o->before, &o->n_before, &ev->before);
    copy_image(o->after, &o->n_after, &ev->after);
    return cap->n == cap->stop_at ? 99 : 0;
}

static int run(const uint8_t *data, size_t len, decode_ctx *d, capture *cap, char *err, size_t errlen)
{
    memset(cap, 0, sizeof *cap);
    err[0] = '\0';
    return decode_entry(d, data, len, on_row, cap, err, errlen);
}

static void check_id_col(const cap_col *c, const char *value)
{
    assert_string_equal(c->name, "id");
    assert_string_equal(c->value, value);
    assert_true(c->is_key);
    assert_false(c->is_null);
    assert_false(c->updated);
    assert_int_equal(c->sql_type, -5);
    assert_string_equal(c->mysql_type, "bigint(20)");
}

/* ---------- tests ---------- */

static void test_insert(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_insert, sizeof entry_insert, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    const cap_event *e = &cap.ev[0];
    assert_int_equal(e->op, ROW_INSERT);
    assert_string_equal(e->schema, "shop");
    assert_string_equal(e->table, "items");
    assert_string_equal(e->logfile, "mysql-bin.000003");
    assert_int_equal(e->offset, 4321);
    assert_true(e->execute_time == 1700000000123LL);
    assert_int_equal(e->row_index, 0);
    assert_string_equal(e->gtid, "");
    assert_int_equal(e->n_before, 0);
    assert_int_equal(e->n_after, 3);

    check_id_col(&e->after[0], "7");

    assert_string_equal(e->after[1].name, "name");
    assert_string_equal(e->after[1].value, "\xe7\xbb\xbf\xe8\x8c\xb6");
    assert_int_equal(e->after[1].value_len, 6);
    assert_false(e->after[1].is_null); /* explicit false */
    assert_false(e->after[1].is_key);
    assert_int_equal(e->after[1].sql_type, 12);
    assert_string_equal(e->after[1].mysql_type, "varchar(32)");

    assert_string_equal(e->after[2].name, "note");
    assert_true(e->after[2].is_null);
    assert_string_equal(e->after[2].value, ""); /* NULL: empty text */
    assert_int_equal(e->after[2].value_len, 0);
    assert_string_equal(e->after[2].mysql_type, "text");

    assert_int_equal(d.stats.entries, 1);
    assert_int_equal(d.stats.rows, 1);
    assert_int_equal(d.stats.txn_begin + d.stats.txn_end + d.stats.ddl + d.stats.other, 0);
    decode_free(&d);
}

static void test_update_both_images(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_update, sizeof entry_update, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    const cap_event *e = &cap.ev[0];
    assert_int_equal(e->op, ROW_UPDATE);
    assert_int_equal(e->offset, 5000);
    assert_int_equal(e->n_before, 2);
    assert_int_equal(e->n_after, 2);
    check_id_col(&e->before[0], "7");
    check_id_col(&e->after[0], "7");
    /* before and after are kept apart */
    assert_string_equal(e->before[1].name, "name");
    assert_string_equal(e->before[1].value, "Tea");
    assert_false(e->before[1].updated);
    assert_false(e->before[1].is_null); /* isNull absent */
    assert_string_equal(e->after[1].name, "name");
    assert_string_equal(e->after[1].value, "Green tea");
    assert_true(e->after[1].updated);
    assert_false(e->after[1].is_null);
    assert_int_equal(d.stats.rows, 1);
    decode_free(&d);
}

static void test_delete(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_delete, sizeof entry_delete, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.ev[0].op, ROW_DELETE);
    assert_int_equal(cap.ev[0].offset, 6000);
    assert_int_equal(cap.ev[0].n_before, 1);
    assert_int_equal(cap.ev[0].n_after, 0);
    check_id_col(&cap.ev[0].before[0], "7");
    decode_free(&d);
}

static void test_absent_entry_type_is_rowdata(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_no_entry_type, sizeof entry_no_entry_type, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.ev[0].op, ROW_INSERT);
    assert_string_equal(cap.ev[0].schema, "shop");
    assert_string_equal(cap.ev[0].table, "items");
    assert_string_equal(cap.ev[0].logfile, ""); /* absent position */
    assert_int_equal(cap.ev[0].offset, 0);
    check_id_col(&cap.ev[0].after[0], "9");
    assert_int_equal(d.stats.rows, 1);
    assert_int_equal(d.stats.other, 0);
    decode_free(&d);
}

static void test_absent_event_type_is_update(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_no_event_type, sizeof entry_no_event_type, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.ev[0].op, ROW_UPDATE);
    assert_int_equal(cap.ev[0].n_before, 1);
    assert_int_equal(cap.ev[0].n_after, 1);
    check_id_col(&cap.ev[0].before[0], "1"); /* isNull absent → false */
    check_id_col(&cap.ev[0].after[0], "1");
    decode_free(&d);
}

static void test_transaction_entries(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_begin, sizeof entry_begin, &d, &cap, err, sizeof err), 0);
    assert_int_equal(run(entry_insert, sizeof entry_insert, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(run(entry_end, sizeof entry_end, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(run(entry_gtid, sizeof entry_gtid, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(run(entry_heartbeat, sizeof entry_heartbeat, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(run(entry_begin, sizeof entry_begin, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(d.stats.entries, 6);
    assert_int_equal(d.stats.txn_begin, 2);
    assert_int_equal(d.stats.txn_end, 1);
    assert_int_equal(d.stats.gtid, 1);
    assert_int_equal(d.stats.heartbeat, 1);
    assert_int_equal(d.stats.rows, 1);
    assert_int_equal(d.stats.ddl, 0);
    assert_int_equal(d.stats.other, 0);
    decode_free(&d);
}

static void test_multi_row(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_multi, sizeof entry_multi, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 3);
    static const char *const ids[] = {"1", "2", "3"};
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(cap.ev[i].row_index, i);
        assert_int_equal(cap.ev[i].op, ROW_INSERT);
        /* every row of the event shares its position */
        assert_string_equal(cap.ev[i].logfile, "mysql-bin.000003");
        assert_int_equal(cap.ev[i].offset, 4321);
        assert_int_equal(cap.ev[i].n_after, 1);
        check_id_col(&cap.ev[i].after[0], ids[i]);
    }
    assert_int_equal(d.stats.rows, 3);
    assert_int_equal(d.stats.entries, 1);
    decode_free(&d);
}

static void test_callback_stops(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    memset(&cap, 0, sizeof cap);
    cap.stop_at = 2;
    char err[256] = "";
    assert_int_equal(decode_entry(&d, entry_multi, sizeof entry_multi, on_row, &cap, err, sizeof err), 99);
    assert_int_equal(cap.n, 2);
    assert_int_equal(cap.ev[1].row_index, 1);
    decode_free(&d);
}

static void test_ddl_no_rows(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_ddl, sizeof entry_ddl, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(d.stats.ddl, 1);
    assert_int_equal(d.stats.rows, 0);
    assert_int_equal(run(entry_query, sizeof entry_query, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(d.stats.other, 1);
    assert_int_equal(d.stats.ddl, 1);
    assert_int_equal(d.stats.entries, 2);
    decode_free(&d);
}

static void test_malformed(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(entry_truncated, sizeof entry_truncated, &d, &cap, err, sizeof err), -1);
    assert_string_equal(err, "malformed Entry (3 bytes)");
    assert_int_equal(cap.n, 0);
    assert_int_equal(d.stats.entries, 0);

    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(run(junk, sizeof junk, &d, &cap, err, sizeof err), -1);
    assert_non_null(strstr(err, "malformed Entry"));

    assert_int_equal(run(entry_bad_rowchange, sizeof entry_bad_rowchange, &d, &cap, err, sizeof err), -1);
    assert_non_null(strstr(err, "malformed RowChange (3 bytes)"));
    assert_int_equal(cap.n, 0);

    assert_int_equal(run(entry_insert_no_after, sizeof entry_insert_no_after, &d, &cap, err, sizeof err), -1);
    assert_string_equal(err, "binlog mysql-bin.000003:4321: shop.items row 0 has no after image");
    assert_int_equal(cap.n, 0);

    /* every truncation of a valid entry is an error or a clean result, never a crash */
    for (size_t n = 0; n < sizeof entry_update; n++) {
        int rc = run(entry_update, n, &d, &cap, err, sizeof err);
        assert_true(rc == 0 || rc == -1);
        if (rc == -1)
            assert_true(err[0] != '\0');
    }
    decode_free(&d);
}

/* With on_bad, bad data is handed over (raw bytes, position, reason) and
 * decoding goes on; the callback's result is passed back. */
static struct {
    size_t calls;
    const uint8_t *entry;
    size_t len;
    char schema[16], table[16], logfile[32], reason[128];
    int64_t offset;
    int rc;
} bad_seen;

static int on_bad(void *ud, const decode_bad *b)
{
    (void)ud;
    bad_seen.calls++;
    bad_seen.entry = b->entry;
    bad_seen.len = b->len;
    copy_str(bad_seen.schema, sizeof bad_seen.schema, b->schema);
    copy_str(bad_seen.table, sizeof bad_seen.table, b->table);
    copy_str(bad_seen.logfile, sizeof bad_seen.logfile, b->logfile);
    copy_str(bad_seen.reason, sizeof bad_seen.reason, b->reason);
    bad_seen.offset = b->offset;
    return bad_seen.rc;
}

static void test_on_bad(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    d.on_bad = on_bad;
    capture cap;
    char err[256];
    memset(&bad_seen, 0, sizeof bad_seen);
    assert_int_equal(run(entry_bad_rowchange, sizeof entry_bad_rowchange, &d, &cap, err, sizeof err), 0);
    assert_int_equal(bad_seen.calls, 1);
    assert_ptr_equal(bad_seen.entry, entry_bad_rowchange);
    assert_int_equal(bad_seen.len, sizeof entry_bad_rowchange);
    assert_string_equal(bad_seen.reason, "binlog :0: malformed RowChange (3 bytes)");
    assert_int_equal(cap.n, 0);

    assert_int_equal(run(entry_insert_no_after, sizeof entry_insert_no_after, &d, &cap, err, sizeof err), 0);
    assert_int_equal(bad_seen.calls, 2);
    assert_string_equal(bad_seen.reason, "binlog mysql-bin.000003:4321: shop.items row 0 has no after image");
    assert_string_equal(bad_seen.schema, "shop");
    assert_string_equal(bad_seen.table, "items");
    assert_string_equal(bad_seen.logfile, "mysql-bin.000003");
    assert_int_equal(bad_seen.offset, 4321);

    assert_int_equal(run(entry_truncated, sizeof entry_truncated, &d, &cap, err, sizeof err), 0);
    assert_int_equal(bad_seen.calls, 3);
    assert_string_equal(bad_seen.reason, "malformed Entry (3 bytes)");
    assert_string_equal(bad_seen.logfile, "");

    bad_seen.rc = 7; /* e.g. halt */
    assert_int_equal(run(entry_bad_rowchange, sizeof entry_bad_rowchange, &d, &cap, err, sizeof err), 7);
    assert_int_equal(d.stats.bad, 4);
    /* valid entries are not affected */
    assert_int_equal(run(entry_insert, sizeof entry_insert, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(bad_seen.calls, 4);
    decode_free(&d);
}

/* on_rows sees every row of the entry before the first row callback; the
 * row callbacks get the same events; its non-zero result stops the entry. */
static struct {
    size_t calls, n, rows_before;
    char ids[4][8];
    const row_event *evs;
    int rc;
} rows_seen;

static int on_rows(void *ud, const row_event *evs, size_t n)
{
    capture *cap = ud;
    rows_seen.calls++;
    rows_seen.n = n;
    rows_seen.rows_before = cap->n;
    rows_seen.evs = evs;
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_int_equal(evs[i].row_index, i);
        assert_int_equal(evs[i].after.n, 1);
        snprintf(rows_seen.ids[i], sizeof rows_seen.ids[i], "%s", evs[i].after.cols[0].value);
    }
    return rows_seen.rc;
}

static void test_on_rows(void **state)
{
    (void)state;
    decode_ctx d;
    decode_init(&d);
    d.on_rows = on_rows;
    capture cap;
    char err[256];
    memset(&rows_seen, 0, sizeof rows_seen);
    assert_int_equal(run(entry_multi, sizeof entry_multi, &d, &cap, err, sizeof err), 0);
    assert_int_equal(rows_seen.calls, 1);
    assert_int_equal(rows_seen.n, 3);
    assert_int_equal(rows_seen.rows_before, 0);
    assert_string_equal(rows_seen.ids[0], "1");
    assert_string_equal(rows_seen.ids[2], "3");
    assert_int_equal(cap.n, 3);
    check_id_col(&cap.ev[2].after[0], "3");
    /* not for entries without rows */
    assert_int_equal(run(entry_ddl, sizeof entry_ddl, &d, &cap, err, sizeof err), 0);
    assert_int_equal(rows_seen.calls, 1);
    /* a row without its image is left out of on_rows and still reported */
    d.on_bad = on_bad;
    memset(&bad_seen, 0, sizeof bad_seen);
    assert_int_equal(run(entry_insert_no_after, sizeof entry_insert_no_after, &d, &cap, err, sizeof err), 0);
    assert_int_equal(rows_seen.calls, 1);
    assert_int_equal(bad_seen.calls, 1);
    rows_seen.rc = 5;
    assert_int_equal(run(entry_multi, sizeof entry_multi, &d, &cap, err, sizeof err), 5);
    assert_int_equal(cap.n, 0);
    decode_free(&d);
}

/* The same kind of entry built with protobuf-c: the decoder agrees with it. */
static void test_protobuf_c_built(void **state)
{
    (void)state;
    Entrypb__Column cols[5];
    Entrypb__Column *before[2], *after[3];
    static const struct {
        const char *name, *value, *mysql_type;
        int sql_type;
        int is_key, updated, null_present, is_null;
    } spec[5] = {
        {"id", "18446744073709551615", "bigint(20) unsigned", -5, 1, 0, 0, 0},
        {"title", "old", "varchar(64)", 12, 0, 0, 1, 0},
        {"id", "18446744073709551615", "bigint(20) unsigned", -5, 1, 0, 0, 0},
        {"title", "new \"quoted\"", "varchar(64)", 12, 0, 1, 0, 0},
        {"deleted_at", "", "datetime(6)", 93, 0, 1, 1, 1},
    };
    for (int i = 0; i < 5; i++) {
        entrypb__column__init(&cols[i]);
        cols[i].index = i % 2;
        cols[i].name = (char *)spec[i].name;
        cols[i].value.data = (uint8_t *)spec[i].value;
        cols[i].value.len = strlen(spec[i].value);
        cols[i].mysql_type = (char *)spec[i].mysql_type;
        cols[i].sql_type = spec[i].sql_type;
        cols[i].is_key = spec[i].is_key;
        cols[i].updated = spec[i].updated;
        if (spec[i].null_present) {
            cols[i].is_null_present_case = ENTRYPB__COLUMN__IS_NULL_PRESENT_IS_NULL;
            cols[i].is_null = spec[i].is_null;
        }
    }
    before[0] = &cols[0];
    before[1] = &cols[1];
    after[0] = &cols[2];
    after[1] = &cols[3];
    after[2] = &cols[4];
    Entrypb__RowData rd = ENTRYPB__ROW_DATA__INIT;
    rd.n_before_columns = 2;
    rd.before_columns = before;
    rd.n_after_columns = 3;
    rd.after_columns = after;
    Entrypb__RowData *rds[2] = {&rd, &rd};
    Entrypb__RowChange rc = ENTRYPB__ROW_CHANGE__INIT;
    rc.table_id = 7;
    rc.event_type_present_case = ENTRYPB__ROW_CHANGE__EVENT_TYPE_PRESENT_EVENT_TYPE;
    rc.event_type = ENTRYPB__EVENT_TYPE__UPDATE;
    rc.n_row_datas = 2;
    rc.row_datas = rds;
    uint8_t rcbuf[1024];
    size_t rclen = entrypb__row_change__get_packed_size(&rc);
    assert_true(rclen <= sizeof rcbuf);
    entrypb__row_change__pack(&rc, rcbuf);

    Entrypb__Header h = ENTRYPB__HEADER__INIT;
    h.logfile_name = (char *)"binlog.000123";
    h.logfile_offset = 987654321012LL;
    h.execute_time = 1712345678901LL;
    h.schema_name = (char *)"库";
    h.table_name = (char *)"表_1";
    h.gtid = (char *)"3E11FA47-71CA-11E1-9E33-C80AA9429562:23";
    h.event_type_present_case = ENTRYPB__HEADER__EVENT_TYPE_PRESENT_EVENT_TYPE;
    h.event_type = ENTRYPB__EVENT_TYPE__UPDATE;
    Entrypb__Entry e = ENTRYPB__ENTRY__INIT;
    e.header = &h;
    e.entry_type_present_case = ENTRYPB__ENTRY__ENTRY_TYPE_PRESENT_ENTRY_TYPE;
    e.entry_type = ENTRYPB__ENTRY_TYPE__ROWDATA;
    e.store_value.data = rcbuf;
    e.store_value.len = rclen;
    uint8_t ebuf[2048];
    size_t elen = entrypb__entry__get_packed_size(&e);
    assert_true(elen <= sizeof ebuf);
    entrypb__entry__pack(&e, ebuf);

    decode_ctx d;
    decode_init(&d);
    capture cap;
    char err[256];
    assert_int_equal(run(ebuf, elen, &d, &cap, err, sizeof err), 0);
    assert_int_equal(cap.n, 2);
    for (uint32_t r = 0; r < 2; r++) {
        const cap_event *ev = &cap.ev[r];
        assert_int_equal(ev->op, ROW_UPDATE);
        assert_int_equal(ev->row_index, r);
        assert_string_equal(ev->schema, h.schema_name);
        assert_string_equal(ev->table, h.table_name);
        assert_string_equal(ev->logfile, h.logfile_name);
        assert_true(ev->offset == h.logfile_offset);
        assert_true(ev->execute_time == h.execute_time);
        assert_string_equal(ev->gtid, h.gtid);
        assert_int_equal(ev->n_before, 2);
        assert_int_equal(ev->n_after, 3);
        for (size_t i = 0; i < 5; i++) {
            const cap_col *c = i < 2 ? &ev->before[i] : &ev->after[i - 2];
            assert_string_equal(c->name, spec[i].name);
            assert_string_equal(c->value, spec[i].value);
            assert_int_equal(c->value_len, strlen(spec[i].value));
            assert_string_equal(c->mysql_type, spec[i].mysql_type);
            assert_int_equal(c->sql_type, spec[i].sql_type);
            assert_int_equal(c->is_key, spec[i].is_key);
            assert_int_equal(c->updated, spec[i].updated);
            assert_int_equal(c->is_null, spec[i].is_null);
        }
    }

    /* and protobuf-c reads the hand-written bytes the way the tests above expect */
    Entrypb__Entry *pe = entrypb__entry__unpack(NULL, sizeof entry_update, entry_update);
    assert_non_null(pe);
    assert_int_equal(pe->entry_type, ENTRYPB__ENTRY_TYPE__ROWDATA);
    assert_int_equal(pe->header->logfile_offset, 5000);
    Entrypb__RowChange *prc = entrypb__row_change__unpack(NULL, pe->store_value.len, pe->store_value.data);
    assert_non_null(prc);
    assert_int_equal(prc->table_id, 42);
    assert_int_equal(prc->n_row_datas, 1);
    assert_int_equal(prc->row_datas[0]->n_before_columns, 2);
    assert_int_equal(prc->row_datas[0]->n_after_columns, 2);
    assert_int_equal(prc->row_datas[0]->before_columns[0]->sql_type, -5);
    entrypb__row_change__free_unpacked(prc, NULL);
    entrypb__entry__free_unpacked(pe, NULL);
    decode_free(&d);
}

enum { WIDE_N = 300 };

static int on_wide_row(void *ud, const row_event *ev)
{
    size_t *seen = ud;
    (*seen)++;
    assert_int_equal(ev->op, ROW_INSERT);
    assert_int_equal(ev->before.n, 0);
    assert_int_equal(ev->after.n, WIDE_N);
    for (int i = 0; i < WIDE_N; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(value, sizeof value, "%d", i * 7);
        assert_string_equal(ev->after.cols[i].name, name);
        assert_int_equal(ev->after.cols[i].value_len, strlen(value));
        assert_memory_equal(ev->after.cols[i].value, value, strlen(value));
        assert_int_equal(ev->after.cols[i].is_key, i == 0);
    }
    return 0;
}

/* Many columns: the scratch space grows and stays correct. */
static void test_wide_row(void **state)
{
    (void)state;
    enum { N = WIDE_N };
    static Entrypb__Column cols[N];
    static Entrypb__Column *ptrs[N];
    static char names[N][16], values[N][16];
    for (int i = 0; i < N; i++) {
        entrypb__column__init(&cols[i]);
        snprintf(names[i], sizeof names[i], "c%d", i);
        snprintf(values[i], sizeof values[i], "%d", i * 7);
        cols[i].name = names[i];
        cols[i].value.data = (uint8_t *)values[i];
        cols[i].value.len = strlen(values[i]);
        cols[i].mysql_type = (char *)"int(11)";
        cols[i].is_key = i == 0;
        ptrs[i] = &cols[i];
    }
    Entrypb__RowData rd = ENTRYPB__ROW_DATA__INIT;
    rd.n_after_columns = N;
    rd.after_columns = ptrs;
    Entrypb__RowData *rds[1] = {&rd};
    Entrypb__RowChange rc = ENTRYPB__ROW_CHANGE__INIT;
    rc.event_type_present_case = ENTRYPB__ROW_CHANGE__EVENT_TYPE_PRESENT_EVENT_TYPE;
    rc.event_type = ENTRYPB__EVENT_TYPE__INSERT;
    rc.n_row_datas = 1;
    rc.row_datas = rds;
    static uint8_t rcbuf[16384], ebuf[16384];
    size_t rclen = entrypb__row_change__get_packed_size(&rc);
    assert_true(rclen <= sizeof rcbuf);
    entrypb__row_change__pack(&rc, rcbuf);
    Entrypb__Entry e = ENTRYPB__ENTRY__INIT;
    e.store_value.data = rcbuf;
    e.store_value.len = rclen;
    size_t elen = entrypb__entry__get_packed_size(&e);
    assert_true(elen <= sizeof ebuf);
    entrypb__entry__pack(&e, ebuf);

    decode_ctx d;
    decode_init(&d);
    /* a small row first, then the wide one */
    capture cap;
    char err[256];
    assert_int_equal(run(entry_insert, sizeof entry_insert, &d, &cap, err, sizeof err), 0);
    size_t seen = 0;
    assert_int_equal(decode_entry(&d, ebuf, elen, on_wide_row, &seen, err, sizeof err), 0);
    assert_int_equal(seen, 1);
    assert_true(d.scratch_cap >= N);
    decode_free(&d);
}

/* The wire reader (decode_next) and protobuf-c (decode_next_pbc) agree on every vector above, field by
 * field (tests/fuzz/wire_diff.h), in one stream so the positions and counters are compared too. */
static void test_wire_matches_protobuf_c(void **state)
{
    (void)state;
    static const struct {
        const uint8_t *p;
        size_t n;
    } v[] = {
#define V(x) {x, sizeof x}
        V(entry_insert), V(entry_update), V(entry_delete), V(entry_no_entry_type), V(entry_no_event_type),
        V(entry_begin),  V(entry_end),    V(entry_gtid),   V(entry_heartbeat),     V(entry_multi),
        V(entry_ddl),    V(entry_query),  V(entry_truncated), V(entry_bad_rowchange), V(entry_insert_no_after),
#undef V
    };
    decode_ctx w, r;
    decode_init(&w);
    decode_init(&r);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char why[512] = "";
        if (wire_diff_entry(&w, &r, v[i].p, v[i].n, why, sizeof why) != 0)
            fail_msg("vector %zu: %s", i, why);
    }
    assert_int_equal(w.stats.entries, 14); /* all but entry_truncated */
    assert_int_equal(w.stats.bad, 3);
    decode_free(&w);
    decode_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_on_bad),
        cmocka_unit_test(test_on_rows),
        cmocka_unit_test(test_update_both_images),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_absent_entry_type_is_rowdata),
        cmocka_unit_test(test_absent_event_type_is_update),
        cmocka_unit_test(test_transaction_entries),
        cmocka_unit_test(test_multi_row),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_ddl_no_rows),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_protobuf_c_built),
        cmocka_unit_test(test_wide_row),
        cmocka_unit_test(test_wire_matches_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
