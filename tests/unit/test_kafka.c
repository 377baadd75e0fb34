/* test_kafka: what the Kafka source does without a broker: the offsets a
 * batch may store (kafka_off: order, offset + 1 per partition, forgotten on a
 * rebalance), the records it reads (kafka_rec: Packet{MESSAGES} without the
 * length prefix, flat JSON refused naming canal.mq.flatMessage, garbage
 * refused), the [kafka] configuration (one source, required keys, SASL and
 * TLS, on_truncate/on_drop), and the version scheme of per-row entries (two
 * changes of one document in one binlog event never share a version, and the
 * later one wins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "map/map.h"
#include "metrics/metrics.h"
#include "run/run_int.h"
#include "source/frame.h"
#include "source/kafka_off.h"
#include "source/kafka_rec.h"
#include "source/packet.h"
#include "util/buf.h"

/* ---- kafka_off ---------------------------------------------------------- */

static void test_off_marks(void **state)
{
    (void)state;
    koff k;
    koff_init(&k);
    char err[256];
    int64_t a, b;
    assert_int_equal(koff_begin(&k, &a), 0);
    assert_int_equal(koff_add(&k, "t", 0, 10, 1000, err, sizeof err), 0);
    assert_int_equal(koff_add(&k, "t", 3, 7, 1001, err, sizeof err), 0);
    assert_int_equal(koff_add(&k, "t", 0, 11, 1002, err, sizeof err), 0);
    assert_int_equal(koff_add(&k, "u", 0, 5, 1003, err, sizeof err), 0);
    assert_int_equal(koff_last_marks(&k), 3);
    assert_int_equal(koff_begin(&k, &b), 0);
    assert_true(b > a);
    assert_int_equal(koff_add(&k, "t", 0, 12, 1004, err, sizeof err), 0);
    /* acks go in order: the second batch first is refused */
    const koff_batch *out = NULL;
    assert_int_equal(koff_ack(&k, b, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of order"));
    assert_int_equal(koff_ack(&k, a, &out, err, sizeof err), 0);
    assert_int_equal(out->n, 3);
    /* offset + 1 of the last record of each partition */
    assert_string_equal(out->marks[0].topic, "t");
    assert_int_equal(out->marks[0].partition, 0);
    assert_int_equal(out->marks[0].next, 12);
    assert_int_equal(out->marks[0].ts_ms, 1002);
    assert_int_equal(out->marks[1].partition, 3);
    assert_int_equal(out->marks[1].next, 8);
    assert_string_equal(out->marks[2].topic, "u");
    assert_int_equal(out->marks[2].next, 6);
    assert_int_equal(koff_ack(&k, b, &out, err, sizeof err), 0);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->marks[0].next, 13);
    assert_int_equal(koff_ack(&k, b, &out, err, sizeof err), -1); /* nothing open */
    koff_free(&k);
}

static void test_off_forget(void **state)
{
    (void)state;
    koff k;
    koff_init(&k);
    char err[256];
    int64_t a, b, c;
    assert_int_equal(koff_begin(&k, &a), 0);
    assert_int_equal(koff_add(&k, "t", 1, 100, 0, err, sizeof err), 0);
    assert_int_equal(koff_begin(&k, &b), 0);
    assert_int_equal(koff_add(&k, "t", 1, 101, 0, err, sizeof err), 0);
    /* a rebalance: neither batch stores anything, a late ack of them is refused */
    koff_forget(&k);
    assert_int_equal(koff_open(&k), 0);
    const koff_batch *out = NULL;
    assert_int_equal(koff_ack(&k, a, &out, err, sizeof err), -1);
    /* ids keep growing; an empty round is dropped */
    assert_int_equal(koff_begin(&k, &c), 0);
    assert_true(c > b);
    assert_int_equal(koff_last_marks(&k), 0);
    koff_drop_last(&k);
    assert_int_equal(koff_open(&k), 0);
    /* the ring holds KOFF_MAX_BATCHES open batches, and wraps */
    for (int round = 0; round < 3; round++) {
        int64_t ids[KOFF_MAX_BATCHES];
        for (size_t i = 0; i < KOFF_MAX_BATCHES; i++) {
            assert_int_equal(koff_begin(&k, &ids[i]), 0);
            assert_int_equal(koff_add(&k, "t", (int32_t)(i % 6), (int64_t)i, 0, err, sizeof err), 0);
        }
        int64_t extra;
        assert_int_equal(koff_begin(&k, &extra), -1);
        for (size_t i = 0; i < KOFF_MAX_BATCHES; i++) {
            assert_int_equal(koff_ack(&k, ids[i], &out, err, sizeof err), 0);
            assert_int_equal(out->marks[0].next, (int64_t)i + 1);
        }
    }
    koff_free(&k);
}

/* ---- kafka_rec ---------------------------------------------------------- */

/* A record value as Canal's protobuf mode writes it: Packet{MESSAGES} without
 * the TCP frame's length prefix. */
static void make_record(ce_buf *out, const char *const *entries, size_t n, Canalpb__PacketType type)
{
    Canalpb__Messages m = CANALPB__MESSAGES__INIT;
    ProtobufCBinaryData items[8];
    for (size_t i = 0; i < n; i++)
        items[i] = (ProtobufCBinaryData){.data = (uint8_t *)entries[i], .len = strlen(entries[i])};
    m.batch_id = 0;
    m.n_messages = n;
    m.messages = items;
    ce_buf framed;
    ce_buf_init(&framed, 1 << 20);
    assert_int_equal(packet_encode(type, &m.base, &framed), 0);
    ce_buf_init(out, 1 << 20);
    assert_int_equal(ce_buf_append(out, framed.data + FRAME_HEADER_LEN, framed.len - FRAME_HEADER_LEN), 0);
    ce_buf_free(&framed);
}

static void test_rec_messages(void **state)
{
    (void)state;
    const char *entries[] = {"entry-one", "entry-two"};
    ce_buf v;
    make_record(&v, entries, 2, CANALPB__PACKET_TYPE__MESSAGES);
    krec r;
    char err[512];
    assert_int_equal(krec_parse(v.data, v.len, &r, err, sizeof err), KREC_OK);
    assert_int_equal(r.n, 2);
    size_t len;
    const uint8_t *p = krec_entry(&r, 1, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(p, "entry-two", 9);
    krec_free(&r);
    ce_buf_free(&v);
}

static void test_rec_refused(void **state)
{
    (void)state;
    krec r;
    char err[512];
    const char *flat = "{\"data\":[{\"id\":\"1\"}],\"database\":\"shop\",\"table\":\"items\",\"type\":\"INSERT\"}";
    assert_int_equal(krec_parse((const uint8_t *)flat, strlen(flat), &r, err, sizeof err), KREC_FLAT);
    assert_non_null(strstr(err, "canal.mq.flatMessage = false"));
    const char *flat_ws = "\n  [ {\"data\":null} ]";
    assert_int_equal(krec_parse((const uint8_t *)flat_ws, strlen(flat_ws), &r, err, sizeof err), KREC_FLAT);
    assert_int_equal(krec_parse(NULL, 0, &r, err, sizeof err), KREC_BAD);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    assert_int_equal(krec_parse(junk, sizeof junk, &r, err, sizeof err), KREC_BAD);
    assert_non_null(strstr(err, "not a Canal record"));
    /* a Packet that is not MESSAGES */
    const char *entries[] = {"x"};
    ce_buf v;
    make_record(&v, entries, 1, CANALPB__PACKET_TYPE__ACK);
    assert_int_equal(krec_parse(v.data, v.len, &r, err, sizeof err), KREC_BAD);
    assert_non_null(strstr(err, "not MESSAGES"));
    ce_buf_free(&v);
}

/* ---- [kafka] ------------------------------------------------------------ */

#define T_KAFKA "[kafka]\nbrokers = 127.0.0.1:9092\ntopic = example\n"
#define T_TABLE "[table shop.items]\nindex = items\n"

static void expect_cfg_error(const char *text, const char *part)
{
    cfg c;
    char err[1024] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) == 0) {
        cfg_free(&c);
        fail_msg("accepted:\n%s", text);
    }
    if (strstr(err, part) == NULL)
        fail_msg("message '%s' does not contain '%s'", err, part);
}

static void test_cfg_kafka(void **state)
{
    (void)state;
    cfg c;
    char err[1024] = "";
    if (cfg_load_string(T_KAFKA T_TABLE, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.kafka.on, 1);
    assert_int_equal(c.kafka.tls_on, 0);
    assert_string_equal(c.kafka.group_id, "canal-es");
    assert_int_equal(c.kafka.max_poll_records, 1000);
    /* DDL deletes default to ignore with Kafka */
    assert_int_equal(c.tables[0].on_truncate, CFG_DDL_IGNORE);
    assert_int_equal(c.tables[0].on_drop, CFG_DDL_IGNORE);
    cfg_free(&c);
    /* without brokers, [kafka] is off and [canal] is the source (TCP defaults kept) */
    if (cfg_load_string("[kafka]\ntopic = x\n" T_TABLE, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.kafka.on, 0);
    assert_int_equal(c.tables[0].on_truncate, CFG_DDL_DELETE);
    cfg_free(&c);
    /* TLS on by a file; SASL with its secrets */
    if (cfg_load_string(T_KAFKA "ca_file = " TEST_DATA_DIR "\n" T_TABLE, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.kafka.tls_on, 1);
    cfg_free(&c);
    assert_int_equal(setenv("T_KAFKA_PW", "s3cret", 1), 0);
    if (cfg_load_string(T_KAFKA "sasl_mechanism = SCRAM-SHA-512\nusername = u\npassword = ${T_KAFKA_PW}\n" T_TABLE,
                        "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.kafka.password, "s3cret");
    cfg_free(&c);
    unsetenv("T_KAFKA_PW");
}

static void test_cfg_kafka_refused(void **state)
{
    (void)state;
    expect_cfg_error("[canal]\ndestination = example\n" T_KAFKA T_TABLE, "[canal] and [kafka] brokers are both given");
    expect_cfg_error(T_KAFKA "[canal]\n" T_TABLE, "t.ini:4: [canal] and [kafka]");
    expect_cfg_error("[kafka]\nbrokers = 127.0.0.1:9092\n" T_TABLE, "[kafka] topic must not be empty");
    expect_cfg_error("[kafka]\nbrokers = nohost\ntopic = t\n" T_TABLE, "[kafka] brokers: 'nohost' is not host:port");
    expect_cfg_error(T_KAFKA "group_id =\n" T_TABLE, "[kafka] group_id must not be empty");
    expect_cfg_error(T_KAFKA "sasl_mechanism = GSSAPI\n" T_TABLE, "is not one of PLAIN, SCRAM-SHA-256");
    expect_cfg_error(T_KAFKA "sasl_mechanism = PLAIN\nusername = u\n" T_TABLE, "needs username and password");
    expect_cfg_error(T_KAFKA "username = u\npassword = p\n" T_TABLE, "sasl_mechanism is not");
    expect_cfg_error(T_KAFKA "cert_file = /etc/hostname\n" T_TABLE, "cert_file is set without key_file");
    expect_cfg_error(T_KAFKA "ca_file = /nonexistent/ca.pem\n" T_TABLE, "[kafka] ca_file: cannot read");
    expect_cfg_error(T_KAFKA "topic = ^(\n" T_TABLE, "duplicate key");
    expect_cfg_error("[kafka]\nbrokers = 127.0.0.1:9092\ntopic = ^(\n" T_TABLE, "is not a regular expression");
    expect_cfg_error(T_KAFKA T_TABLE "on_truncate = delete\n", "on_truncate = delete cannot be used with [kafka]");
    expect_cfg_error(T_KAFKA "[defaults]\non_drop = delete\n" T_TABLE, "on_drop = delete cannot be used with [kafka]");
    expect_cfg_error(T_KAFKA "session_timeout_ms = 10\n" T_TABLE, "session_timeout_ms");
    expect_cfg_error(T_KAFKA "max_poll_records = 0\n" T_TABLE, "max_poll_records");
    /* an explicit ignore is fine */
    cfg c;
    char err[1024] = "";
    if (cfg_load_string(T_KAFKA T_TABLE "on_truncate = ignore\non_drop = ignore\n", "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    cfg_free(&c);
}

/* ---- versions of per-row entries ------------------------------------------ */

#define KEY(n, v) {.name = (n), .value = (v), .value_len = sizeof(v) - 1, .mysql_type = "int(11)", .is_key = true}
#define IMG(arr) {.cols = (arr), .n = sizeof(arr) / sizeof((arr)[0])}

static char idx_items[] = "items";
static char db_shop[] = "shop";
static char tbl_items[] = "items";
static cfg_table rule = {.db = db_shop, .table = tbl_items, .index = idx_items, .line = 1};

static row_event mk_update(const row_col *before, const row_col *after, int64_t offset)
{
    return (row_event){.schema = "shop",
                       .table = "items",
                       .op = ROW_UPDATE,
                       .before = {.cols = before, .n = 1},
                       .after = {.cols = after, .n = 1},
                       .logfile = "mysql-bin.000003",
                       .offset = offset,
                       .row_index = 0, /* lost with partitionHash: every row its own Entry */
                       .gtid = ""};
}

/* Maps ev with the Kafka scheme; the version of the action on id with op. */
static int64_t version_of(const row_event *ev, map_op op, const char *id)
{
    map_out mo;
    map_out_init(&mo);
    mo.versioning = 1;
    char err[512];
    int rc = map_row(&rule, ev, &mo, err, sizeof err);
    if (rc != MAP_OK)
        fail_msg("map_row: %s", err);
    run_kafka_versions(&mo);
    int64_t v = -1;
    for (size_t i = 0; i < mo.n; i++)
        if (mo.act[i].op == op && mo.act[i].id_len == strlen(id) && memcmp(mo.act[i].id, id, mo.act[i].id_len) == 0)
            v = mo.act[i].version;
    map_out_free(&mo);
    if (v < 0)
        fail_msg("no action on %s", id);
    return v;
}

/* UPDATE items SET id = id + 1 ORDER BY id DESC over ids 2 and 3, one binlog
 * event at offset 500: rows (3 -> 4) then (2 -> 3). Canal sends each row to
 * the partition of its new key, so document 3 is deleted by one record and
 * indexed by another, in any order, both with row index 0. The index (the
 * later change) must carry the higher version. */
static void test_versions_key_change(void **state)
{
    (void)state;
    const row_col b3[] = {KEY("id", "3")}, a4[] = {KEY("id", "4")};
    const row_col b2[] = {KEY("id", "2")}, a3[] = {KEY("id", "3")};
    row_event r0 = mk_update(b3, a4, 500), r1 = mk_update(b2, a3, 500);
    int64_t del3 = version_of(&r0, MAP_DELETE, "3");
    int64_t idx4 = version_of(&r0, MAP_INDEX, "4");
    int64_t del2 = version_of(&r1, MAP_DELETE, "2");
    int64_t idx3 = version_of(&r1, MAP_INDEX, "3");
    int64_t base = map_version("mysql-bin.000003", 500, 0, 0);
    assert_int_equal(del3, base);
    assert_int_equal(del2, base);
    assert_int_equal(idx4, base + 1);
    assert_true(idx3 > del3); /* document 3 ends indexed, whichever record arrives first */
    /* the next event (at least a 19-byte header later) is above both */
    const row_col a5[] = {KEY("id", "5")};
    row_event next = mk_update(a4, a5, 519);
    assert_true(version_of(&next, MAP_DELETE, "4") > idx4);
    /* a snapshot row read at that event's position stays between them */
    assert_true(map_version("mysql-bin.000003", 519, 0, 0) - 1 > idx4);
}

/* ---- per-partition metrics ------------------------------------------------- */

static void test_metrics_partitions(void **state)
{
    (void)state;
    static ce_stats s;
    stats_init(&s);
    ce_stats_kpart *p0 = stats_kpart(&s, "example", 0);
    ce_stats_kpart *p3 = stats_kpart(&s, "example", 3);
    assert_non_null(p0);
    assert_ptr_equal(stats_kpart(&s, "example", 0), p0);
    atomic_store(&s.source_kafka, 1);
    atomic_store(&p0->assigned, 1);
    atomic_store(&p0->high, 120);
    atomic_store(&p0->committed, 90);
    assert_int_equal(stats_kpart_lag(p0), 30); /* before any ack: from the committed offset */
    atomic_store(&p0->stored, 100);
    atomic_store(&p0->last_ts_ms, 1000);
    assert_int_equal(stats_kpart_lag(p0), 20);
    assert_true(stats_kpart_lag_seconds(p0, 3500) > 2.49 && stats_kpart_lag_seconds(p0, 3500) < 2.51);
    atomic_store(&p3->high, 7);
    atomic_store(&p3->stored, 7);
    assert_int_equal(stats_kpart_lag(p3), 0);
    assert_true(stats_kpart_lag_seconds(p3, 3500) == 0.0);
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&s, 3500, "t", &out), 0);
    assert_int_equal(ce_buf_terminate(&out), 0);
    const char *t = (const char *)out.data;
    assert_non_null(strstr(t, "canal_es_kafka_partition_assigned{topic=\"example\",partition=\"0\"} 1\n"));
    assert_non_null(strstr(t, "canal_es_kafka_partition_assigned{topic=\"example\",partition=\"3\"} 0\n"));
    assert_non_null(strstr(t, "canal_es_kafka_partition_lag_records{topic=\"example\",partition=\"0\"} 20\n"));
    assert_non_null(strstr(t, "canal_es_kafka_partition_lag_seconds{topic=\"example\",partition=\"0\"} 2.5\n"));
    assert_non_null(strstr(t, "canal_es_kafka_partition_committed_offset{topic=\"example\",partition=\"0\"} 90\n"));
    assert_non_null(strstr(t, "canal_es_kafka_partition_stored_offset{topic=\"example\",partition=\"3\"} 7\n"));
    ce_buf_reset(&out);
    assert_int_equal(metrics_health(&s, 3500, 60, &out), 503);
    assert_int_equal(ce_buf_terminate(&out), 0);
    t = (const char *)out.data;
    assert_non_null(strstr(t, "\"not connected to Kafka\""));
    assert_non_null(strstr(t, "\"kafka_partitions\":[{\"topic\":\"example\",\"partition\":0,\"lag_records\":20,"
                              "\"lag_seconds\":2.500,\"committed\":90}]"));
    ce_buf_free(&out);
    stats_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_marks),       cmocka_unit_test(test_off_forget),
        cmocka_unit_test(test_rec_messages),    cmocka_unit_test(test_rec_refused),
        cmocka_unit_test(test_cfg_kafka),       cmocka_unit_test(test_cfg_kafka_refused),
        cmocka_unit_test(test_versions_key_change), cmocka_unit_test(test_metrics_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
