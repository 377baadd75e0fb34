/* test_bulk: row events → map_row → bulk_append → the exact NDJSON bytes.
 * Events are built by hand (as decode would deliver them); no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "bulk/bulk.h"
#include "config.h"
#include "decode/decode.h"
#include "map/map.h"

/* a column with a non-NULL value; v must be a string literal */
#define COL(n, v, t) {.name = (n), .value = (v), .value_len = sizeof(v) - 1, .mysql_type = (t)}
#define KEY(n, v, t) {.name = (n), .value = (v), .value_len = sizeof(v) - 1, .mysql_type = (t), .is_key = true}
#define NUL(n, t) {.name = (n), .value = "", .value_len = 0, .mysql_type = (t), .is_null = true}
#define IMG(arr) {.cols = (arr), .n = sizeof(arr) / sizeof((arr)[0])}
#define NO_IMG {.cols = NULL, .n = 0}

static char idx_items[] = "items";
static char db_shop[] = "shop";
static char tbl_items[] = "items";

/* the rule that takes Canal's isKey columns */
static cfg_table rule_keys = {.db = db_shop, .table = tbl_items, .index = idx_items, .line = 10};

static row_event mk_event(row_op op, row_image before, row_image after)
{
    row_event ev = {.schema = "shop",
                    .table = "items",
                    .op = op,
                    .before = before,
                    .after = after,
                    .logfile = "mysql-bin.000007",
                    .offset = 1234,
                    .execute_time = 1700000000000LL,
                    .row_index = 0,
                    .gtid = ""};
    return ev;
}

/* Every line of the body must parse as JSON (yajl validates UTF-8 too). */
static void assert_ndjson_valid(const bulk *b)
{
    const char *p = (const char *)b->body.data;
    size_t left = b->body.len;
    assert_true(left > 0);
    assert_int_equal(p[left - 1], '\n');
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        assert_non_null(nl);
        size_t n = (size_t)(nl - p);
        char line[4096];
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        char perr[256];
        yajl_val v = yajl_tree_parse(line, perr, sizeof perr);
        if (v == NULL || !YAJL_IS_OBJECT(v))
            fail_msg("invalid JSON line '%s': %s", line, perr);
        yajl_tree_free(v);
        left -= n + 1;
        p = nl + 1;
    }
}

/* Maps ev with rule, appends every action, and compares the whole body. */
static void expect_body(bulk *b, const cfg_table *rule, const row_event *ev, const char *expected,
                        size_t expected_actions)
{
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    int rc = map_row(rule, ev, &mo, err, sizeof err);
    if (rc != MAP_OK)
        fail_msg("map_row: %d %s", rc, err);
    assert_int_equal(mo.n, expected_actions);
    for (size_t i = 0; i < mo.n; i++) {
        if (bulk_append(b, &mo.act[i], err, sizeof err) != 0)
            fail_msg("bulk_append: %s", err);
    }
    map_out_free(&mo);
    size_t n = strlen(expected);
    if (b->body.len != n || memcmp(b->body.data, expected, n) != 0)
        fail_msg("body differs:\n got: %.*s\nwant: %s", (int)b->body.len, (const char *)b->body.data, expected);
    assert_ndjson_valid(b);
}

static int setup(void **state)
{
    static bulk b;
    if (bulk_init(&b, 1 << 20) != 0)
        return -1;
    *state = &b;
    return 0;
}

static int teardown(void **state)
{
    bulk_free(*state);
    return 0;
}

static void test_insert(void **state)
{
    bulk *b = *state;
    const row_col after[] = {
        KEY("id", "7", "bigint(20)"),
        COL("name", "Tea", "varchar(32)"),
        COL("qty", "42", "int(11)"),
        COL("neg", "-3", "smallint(6)"),
        COL("big", "18446744073709551615", "bigint(20) unsigned"),
        COL("code", "00123", "varchar(10)"), /* digits, but a string column */
        COL("zip", "12345", "char(5)"),
        COL("price", "9.90", "decimal(10,2)"),
        COL("at", "2024-01-02 03:04:05", "datetime"),
        COL("empty", "", "varchar(5)"),
        NUL("note", "text"),
        NUL("n_int", "int(11)"),
    };
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"7\"}}\n"
                "{\"id\":7,\"name\":\"Tea\",\"qty\":42,\"neg\":-3,\"big\":18446744073709551615,\"code\":\"00123\","
                "\"zip\":\"12345\",\"price\":\"9.90\",\"at\":\"2024-01-02T03:04:05\",\"empty\":\"\","
                "\"note\":null,\"n_int\":null}\n",
                1);
    assert_int_equal(b->n_actions, 1);
    assert_int_equal(b->values.utf8_repairs, 0);
}

static void test_update_same_id(void **state)
{
    bulk *b = *state;
    const row_col before[] = {KEY("id", "7", "bigint(20)"), COL("name", "Tea", "varchar(32)")};
    row_col after[] = {KEY("id", "7", "bigint(20)"), COL("name", "Green tea", "varchar(32)")};
    after[1].updated = true;
    row_event ev = mk_event(ROW_UPDATE, (row_image)IMG(before), (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"7\"}}\n"
                "{\"id\":7,\"name\":\"Green tea\"}\n",
                1);
}

static void test_update_changes_id(void **state)
{
    bulk *b = *state;
    const row_col before[] = {KEY("id", "7", "bigint(20)"), COL("name", "Tea", "varchar(32)")};
    const row_col after[] = {KEY("id", "8", "bigint(20)"), COL("name", "Tea", "varchar(32)")};
    row_event ev = mk_event(ROW_UPDATE, (row_image)IMG(before), (row_image)IMG(after));
    /* delete of the old id first, then the new document */
    expect_body(b, &rule_keys, &ev,
                "{\"delete\":{\"_index\":\"items\",\"_id\":\"7\"}}\n"
                "{\"index\":{\"_index\":\"items\",\"_id\":\"8\"}}\n"
                "{\"id\":8,\"name\":\"Tea\"}\n",
                2);
    assert_int_equal(b->n_actions, 2);
}

/* "7" → "70": a prefix of the new id is still another id */
static void test_update_id_prefix(void **state)
{
    bulk *b = *state;
    const row_col before[] = {KEY("id", "7", "bigint(20)")};
    const row_col after[] = {KEY("id", "70", "bigint(20)")};
    row_event ev = mk_event(ROW_UPDATE, (row_image)IMG(before), (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"delete\":{\"_index\":\"items\",\"_id\":\"7\"}}\n"
                "{\"index\":{\"_index\":\"items\",\"_id\":\"70\"}}\n"
                "{\"id\":70}\n",
                2);
}

/* An UPDATE without a before image (MINIMAL row image) indexes the after image. */
static void test_update_without_before(void **state)
{
    bulk *b = *state;
    const row_col after[] = {KEY("id", "5", "int(11)"), COL("v", "x", "varchar(1)")};
    row_event ev = mk_event(ROW_UPDATE, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"5\"}}\n"
                "{\"id\":5,\"v\":\"x\"}\n",
                1);
}

static void test_delete(void **state)
{
    bulk *b = *state;
    const row_col before[] = {KEY("id", "7", "bigint(20)"), COL("name", "Tea", "varchar(32)")};
    row_event ev = mk_event(ROW_DELETE, (row_image)IMG(before), (row_image)NO_IMG);
    expect_body(b, &rule_keys, &ev, "{\"delete\":{\"_index\":\"items\",\"_id\":\"7\"}}\n", 1);
}

static void test_several_actions_accumulate(void **state)
{
    bulk *b = *state;
    const row_col r1[] = {KEY("id", "1", "int(11)")};
    const row_col r2[] = {KEY("id", "2", "int(11)")};
    row_event e1 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(r1));
    row_event e2 = mk_event(ROW_DELETE, (row_image)IMG(r2), (row_image)NO_IMG);
    expect_body(b, &rule_keys, &e1, "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"id\":1}\n", 1);
    expect_body(b, &rule_keys, &e2,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"id\":1}\n"
                "{\"delete\":{\"_index\":\"items\",\"_id\":\"2\"}}\n",
                1);
    assert_int_equal(b->n_actions, 2);
    bulk_reset(b);
    assert_int_equal(b->body.len, 0);
    assert_int_equal(b->n_actions, 0);
    expect_body(b, &rule_keys, &e2, "{\"delete\":{\"_index\":\"items\",\"_id\":\"2\"}}\n", 1);
}

static void test_composite_id_configured(void **state)
{
    bulk *b = *state;
    char c_a[] = "a", c_b[] = "b";
    char *cols[] = {c_a, c_b};
    char idx[] = "ab";
    cfg_table rule = {.db = db_shop, .table = tbl_items, .index = idx, .id_cols = cols, .n_id_cols = 2, .line = 3};
    /* configured columns win over isKey, in the configured order */
    const row_col after[] = {COL("b", "1", "int(11)"), KEY("k", "ignored", "varchar(9)"), COL("a", "x", "varchar(5)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule, &ev,
                "{\"index\":{\"_index\":\"ab\",\"_id\":\"x_1\"}}\n"
                "{\"b\":1,\"k\":\"ignored\",\"a\":\"x\"}\n",
                1);
}

static void test_composite_id_from_keys(void **state)
{
    bulk *b = *state;
    const row_col before[] = {KEY("order_id", "100", "bigint(20)"), COL("qty", "1", "int(11)"),
                              KEY("line_no", "3", "int(11)")};
    const row_col after[] = {KEY("order_id", "100", "bigint(20)"), COL("qty", "2", "int(11)"),
                             KEY("line_no", "4", "int(11)")};
    row_event ev = mk_event(ROW_UPDATE, (row_image)IMG(before), (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"delete\":{\"_index\":\"items\",\"_id\":\"100_3\"}}\n"
                "{\"index\":{\"_index\":\"items\",\"_id\":\"100_4\"}}\n"
                "{\"order_id\":100,\"qty\":2,\"line_no\":4}\n",
                2);
}

static void test_invalid_utf8_repaired(void **state)
{
    bulk *b = *state;
    /* bad bytes in a value, in a column name and in the id */
    const row_col after[] = {KEY("id", "k\xff", "varchar(8)"), COL("t", "a\xc3(b", "varchar(8)"),
                             COL("n\xe4me", "\xe4\xb8\xad\xed\xa0\x80", "text")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"k\xef\xbf\xbd\"}}\n"
                "{\"id\":\"k\xef\xbf\xbd\",\"t\":\"a\xef\xbf\xbd(b\","
                "\"n\xef\xbf\xbdme\":\"\xe4\xb8\xad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}\n",
                1);
    /* id twice (action and document), 1 in t, 1 in the name, 3 in the surrogate */
    assert_int_equal(b->values.utf8_repairs, 7);
}

static void test_escaping(void **state)
{
    bulk *b = *state;
    const row_col after[] = {
        KEY("id", "q\"1", "varchar(8)"),
        COL("s", "say \"hi\" \\ / \n\t\r\b\f \x01\x1f\x7f end", "text"),
        COL("we\"ird\n", "v", "varchar(1)"),
        COL("zh", "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80", "text"),
    };
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"q\\\"1\"}}\n"
                "{\"id\":\"q\\\"1\","
                "\"s\":\"say \\\"hi\\\" \\\\ / \\n\\t\\r\\b\\f \\u0001\\u001F\x7f end\","
                "\"we\\\"ird\\n\":\"v\","
                "\"zh\":\"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"}\n",
                1);
    assert_int_equal(b->values.utf8_repairs, 0);
}

/* DECIMAL text is a string padded to the declared scale (Canal's BigDecimal
 * may drop trailing zeros); digits are never removed. */
static void test_decimal_scale(void **state)
{
    bulk *b = *state;
    const row_col after[] = {
        KEY("id", "1", "int(11)"),
        COL("a", "100.0", "decimal(10,2)"),
        COL("b", "5", "decimal(10,2)"),
        COL("c", "-1.5", "decimal(12,4) unsigned"),
        COL("d", "9.999", "decimal(10,2)"), /* more digits than the scale: kept */
        COL("e", "7", "decimal(10)"),       /* scale 0 */
        COL("f", "0.10", "numeric(5,2)"),
        COL("g", "abc", "decimal(10,2)"),   /* not a number: as sent */
        NUL("h", "decimal(10,2)"),
    };
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n"
                "{\"id\":1,\"a\":\"100.00\",\"b\":\"5.00\",\"c\":\"-1.5000\",\"d\":\"9.999\",\"e\":\"7\","
                "\"f\":\"0.10\",\"g\":\"abc\",\"h\":null}\n",
                1);
}

/* An embedded NUL in a value is kept and escaped, not a string end. */
static void test_embedded_nul(void **state)
{
    bulk *b = *state;
    const row_col after[] = {KEY("id", "1", "int(11)"), COL("bin", "a\0b", "varbinary(3)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule_keys, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n"
                "{\"id\":1,\"bin\":\"a\\u0000b\"}\n",
                1);
}

/* The rule's value_opts reach the document: drop leaves a column out (key
 * and value), conversions and options apply to the rest. */
static void test_table_value_opts(void **state)
{
    bulk *b = *state;
    char c_secret[] = "Secret", c_tags[] = "tags", c_flag[] = "flag", sep[] = ",";
    value_conv convs[] = {{.column = c_secret, .kind = VALUE_CONV_DROP},
                          {.column = c_tags, .kind = VALUE_CONV_SPLIT, .sep = sep},
                          {.column = c_flag, .kind = VALUE_CONV_BOOL}};
    cfg_table rule = {.db = db_shop, .table = tbl_items, .index = idx_items, .line = 20};
    rule.values = (value_opts){.decimal = VALUE_DECIMAL_NUMBER, .blob = VALUE_BLOB_BASE64, .tz_set = 1,
                               .tz_offset_min = 480, .convs = convs, .n_convs = 3};
    const row_col after[] = {
        KEY("id", "1", "int(11)"),
        COL("secret", "pw", "varchar(8)"), /* names match case-insensitively */
        COL("tags", "a,b", "varchar(8)"),
        COL("flag", "0", "varchar(1)"),
        COL("price", "100.0", "decimal(10,2)"),
        COL("at", "2024-01-02 03:04:05.5", "datetime(1)"),
        COL("bin", "\xc3\xbf\x01", "varbinary(2)"),
    };
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_body(b, &rule, &ev,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n"
                "{\"id\":1,\"tags\":[\"a\",\"b\"],\"flag\":false,\"price\":100.00,"
                "\"at\":\"2024-01-02T03:04:05.5+08:00\",\"bin\":\"/wE=\"}\n",
                1);
    /* a drop on the only column leaves an empty document */
    const row_col only[] = {KEY("Secret", "x", "varchar(1)")};
    row_event ev2 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(only));
    bulk_reset(b);
    expect_body(b, &rule, &ev2, "{\"index\":{\"_index\":\"items\",\"_id\":\"x\"}}\n{}\n", 1);
}

static void test_no_id(void **state)
{
    (void)state;
    const row_col after[] = {COL("a", "1", "int(11)"), COL("b", "2", "int(11)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(&rule_keys, &ev, &mo, err, sizeof err), MAP_NO_ID);
    assert_int_equal(mo.n, 0);
    row_event del = mk_event(ROW_DELETE, (row_image)IMG(after), (row_image)NO_IMG);
    assert_int_equal(map_row(&rule_keys, &del, &mo, err, sizeof err), MAP_NO_ID);
    assert_int_equal(mo.n, 0);
    map_out_free(&mo);
}

static void test_missing_id_column(void **state)
{
    (void)state;
    char c_sku[] = "sku";
    char *cols[] = {c_sku};
    cfg_table rule = {.db = db_shop, .table = tbl_items, .index = idx_items, .id_cols = cols, .n_id_cols = 1, .line = 12};
    const row_col after[] = {KEY("id", "1", "int(11)"), COL("name", "x", "varchar(5)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_ERR);
    assert_string_equal(err, "binlog mysql-bin.000007:1234: shop.items: id column 'sku' (config line 12) is not in "
                             "the after image");
    assert_int_equal(mo.n, 0);
    map_out_free(&mo);
}

static void test_null_id_column(void **state)
{
    (void)state;
    const row_col before[] = {KEY("id", "1", "int(11)")};
    row_col after[] = {NUL("id", "int(11)")};
    after[0].is_key = true;
    row_event ev = mk_event(ROW_UPDATE, (row_image)IMG(before), (row_image)IMG(after));
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(&rule_keys, &ev, &mo, err, sizeof err), MAP_ERR);
    assert_non_null(strstr(err, "id column 'id' is NULL in the after image"));
    map_out_free(&mo);
}

/* The hashed _id (map.h, docs/type-mapping.md): a key that would make the
 * _id longer than 512 bytes, an empty key, a key that looks hashed. The
 * digests come from Python's hashlib. */
#define H_X513 "35ade0090e64e74d6ad04204009c23a4e34b82bdf0f4f317fbcc5f26f9b10241"
#define H_X511 "8f635db74975c62baf2dde0e0739fbe268c25c5d5fa6768d7f232dfc502d12ac"
#define H_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H_LOOKS "995ec0e9419791e3a1dcda0b91c92504f6275b657d366e1f81f9d2c894011433"

static void expect_id(const cfg_table *rule, const row_event *ev, size_t n, const char *id0, const char *id1)
{
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(rule, ev, &mo, err, sizeof err), MAP_OK);
    assert_int_equal(mo.n, n);
    assert_int_equal(mo.act[0].id_len, strlen(id0));
    assert_memory_equal(mo.act[0].id, id0, strlen(id0));
    if (n > 1) {
        assert_int_equal(mo.act[1].id_len, strlen(id1));
        assert_memory_equal(mo.act[1].id, id1, strlen(id1));
    }
    map_out_free(&mo);
}

static void test_id_too_long(void **state)
{
    bulk *b = *state;
    static char big[MAP_ID_MAX + 1];
    memset(big, 'x', sizeof big);
    row_col after[] = {KEY("id", "", "varchar(600)")};
    after[0].value = big;
    after[0].value_len = MAP_ID_MAX + 1;
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    expect_id(&rule_keys, &ev, 1, "~sha256:" H_X513, NULL);
    /* its delete and an update that keeps the key find the same document */
    row_event del = mk_event(ROW_DELETE, (row_image)IMG(after), (row_image)NO_IMG);
    expect_id(&rule_keys, &del, 1, "~sha256:" H_X513, NULL);
    row_event upd = mk_event(ROW_UPDATE, (row_image)IMG(after), (row_image)IMG(after));
    expect_id(&rule_keys, &upd, 1, "~sha256:" H_X513, NULL);
    /* an update to a short key deletes the hashed id */
    const row_col short_key[] = {KEY("id", "7", "varchar(600)")};
    row_event upd2 = mk_event(ROW_UPDATE, (row_image)IMG(after), (row_image)IMG(short_key));
    expect_id(&rule_keys, &upd2, 2, "~sha256:" H_X513, "7");
    /* exactly the limit is kept as it is */
    after[0].value_len = MAP_ID_MAX;
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(&rule_keys, &ev, &mo, err, sizeof err), MAP_OK);
    assert_int_equal(mo.act[0].id_len, MAP_ID_MAX);
    assert_int_equal(bulk_append(b, &mo.act[0], err, sizeof err), 0);
    assert_ndjson_valid(b);
    map_out_free(&mo);
    /* the prefix counts: 2 + 511 bytes are hashed, the prefix kept in front */
    char prefix[] = "p_";
    cfg_table pre = rule_keys;
    pre.id_prefix = prefix;
    after[0].value_len = MAP_ID_MAX - 1;
    expect_id(&pre, &ev, 1, "p_~sha256:" H_X511, NULL);
    after[0].value_len = MAP_ID_MAX - 2;
    map_out_init(&mo);
    assert_int_equal(map_row(&pre, &ev, &mo, err, sizeof err), MAP_OK);
    assert_int_equal(mo.act[0].id_len, MAP_ID_MAX);
    map_out_free(&mo);
    /* a prefix that leaves no room for the hashed form */
    static char long_prefix[460];
    memset(long_prefix, 'p', sizeof long_prefix - 1);
    pre.id_prefix = long_prefix;
    after[0].value_len = MAP_ID_MAX;
    map_out_init(&mo);
    assert_int_equal(map_row(&pre, &ev, &mo, err, sizeof err), MAP_ERR);
    assert_non_null(strstr(err, "shop.items: id_prefix (459 bytes) leaves no room for a hashed _id"));
    map_out_free(&mo);
}

/* An empty key, and a key that looks like a hashed id, are hashed too: no
 * key gets the id of another. */
static void test_id_empty_or_looks_hashed(void **state)
{
    (void)state;
    const row_col empty[] = {KEY("id", "", "varchar(10)"), COL("v", "a", "varchar(1)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(empty));
    expect_id(&rule_keys, &ev, 1, "~sha256:" H_EMPTY, NULL);
    row_event del = mk_event(ROW_DELETE, (row_image)IMG(empty), (row_image)NO_IMG);
    expect_id(&rule_keys, &del, 1, "~sha256:" H_EMPTY, NULL);
    const row_col looks[] = {KEY("id", "~sha256:abc", "varchar(20)")};
    row_event ev2 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(looks));
    expect_id(&rule_keys, &ev2, 1, "~sha256:" H_LOOKS, NULL);
    /* the separator follows a non-empty part only: two empty columns are an empty key */
    const row_col two[] = {KEY("a", "", "varchar(10)"), KEY("b", "", "varchar(10)")};
    row_event ev3 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(two));
    expect_id(&rule_keys, &ev3, 1, "~sha256:" H_EMPTY, NULL);
}

/* A table name that makes the index template give an invalid index name: the
 * actions are built (for the dead-letter file) but map_row says not to send
 * them, naming table, template, config line, name, reason and binlog position.
 * A `%` is valid (it is escaped in URL paths, not refused). */
static void test_bad_index_name(void **state)
{
    (void)state;
    static char tmpl[] = "{db}-{table}", pat[] = "shop\\..*";
    cfg_table rule = {.pattern = pat, .index = tmpl, .line = 10};
    const row_col after[] = {KEY("id", "1", "int(11)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(after));
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    ev.table = "%2a";
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_OK);
    assert_string_equal(mo.index, "shop-%2a");
    ev.table = "My Table";
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_BAD_INDEX);
    assert_string_equal(err, "binlog mysql-bin.000007:1234: table shop.My Table: index template '{db}-{table}' "
                             "(config line 10) gives 'shop-my table', which is not a valid index name (contains a "
                             "space): not sent");
    assert_int_equal(mo.n, 1);
    assert_string_equal(mo.act[0].index, "shop-my table");
    ev.table = "a*b";
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_BAD_INDEX);
    assert_non_null(strstr(err, "(contains '*')"));
    ev.schema = "_x";
    ev.table = "t";
    static char only_db[] = "{db}";
    rule.index = only_db;
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_BAD_INDEX);
    assert_non_null(strstr(err, "(starts with '_')"));
    /* longer than 255 bytes: the refused name is kept whole, never cut to a valid one */
    static char many[] = "{table}{table}{table}{table}{table}";
    static char t64[65];
    memset(t64, 'a', 64);
    rule.index = many;
    ev.table = t64;
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_BAD_INDEX);
    assert_non_null(strstr(err, "(is longer than 255 bytes)"));
    assert_int_equal(strlen(mo.index), 320);
    map_out_free(&mo);
}

/* A body cap: the action that does not fit is refused, the body left as it was. */
static void test_body_cap(void **state)
{
    (void)state;
    bulk b;
    assert_int_equal(bulk_init(&b, 100), 0);
    const row_col r1[] = {KEY("id", "1", "int(11)")};
    const row_col big[] = {KEY("id", "2", "int(11)"),
                           COL("t", "0123456789012345678901234567890123456789012345678901234567890123456789", "text")};
    row_event e1 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(r1));
    row_event e2 = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(big));
    static const char first[] = "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"id\":1}\n";
    expect_body(&b, &rule_keys, &e1, first, 1);
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    assert_int_equal(map_row(&rule_keys, &e2, &mo, err, sizeof err), MAP_OK);
    assert_int_equal(bulk_append(&b, &mo.act[0], err, sizeof err), -1);
    assert_non_null(strstr(err, "size cap"));
    assert_int_equal(b.body.len, sizeof first - 1);
    assert_memory_equal(b.body.data, first, sizeof first - 1);
    assert_int_equal(b.n_actions, 1);
    /* the generator is usable again: a small action still fits */
    expect_body(&b, &rule_keys, &e1,
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"id\":1}\n"
                "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"id\":1}\n",
                1);
    map_out_free(&mo);
    bulk_free(&b);
}

/* Table rule features end to end: template index, id prefix and separator,
 * include/rename/add_field, routing, pipeline and soft deletes. */
static void test_rule_features(void **state)
{
    bulk *b = *state;
    static const char text[] = "[table /[Ss]hop\\.order_[0-9]+/]\n"
                               "index = orders-{db}\n"
                               "id = region, id\n"
                               "id_prefix = {table}:\n"
                               "id_separator = /\n"
                               "include = id, region, total, Customer_ID\n"
                               "rename = customer_id:customer, total:amount\n"
                               "add_field = source:mysql, region:fixed\n"
                               "routing = customer_id\n"
                               "pipeline = enrich\n"
                               "delete = soft:deleted\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *rule = cfg_find_table(&c, "Shop", "order_3");
    assert_non_null(rule);
    const row_col img[] = {
        KEY("id", "5", "bigint(20)"),        COL("region", "eu", "varchar(8)"),
        COL("total", "9.50", "decimal(6,2)"), COL("customer_id", "77", "int(11)"),
        COL("secret", "x", "varchar(8)"),
    };
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(img));
    ev.schema = "Shop";
    ev.table = "order_3";
    /* region is kept for the id but replaced in the document by the static field */
    expect_body(b, rule, &ev,
                "{\"index\":{\"_index\":\"orders-shop\",\"_id\":\"order_3:eu/5\",\"routing\":\"77\","
                "\"pipeline\":\"enrich\"}}\n"
                "{\"id\":5,\"amount\":\"9.50\",\"customer\":77,\"source\":\"mysql\",\"region\":\"fixed\","
                "\"deleted\":false}\n",
                1);
    bulk_reset(b);
    row_event del = mk_event(ROW_DELETE, (row_image)IMG(img), (row_image)NO_IMG);
    del.schema = "Shop";
    del.table = "order_3";
    expect_body(b, rule, &del,
                "{\"index\":{\"_index\":\"orders-shop\",\"_id\":\"order_3:eu/5\",\"routing\":\"77\","
                "\"pipeline\":\"enrich\"}}\n"
                "{\"id\":5,\"amount\":\"9.50\",\"customer\":77,\"source\":\"mysql\",\"region\":\"fixed\","
                "\"deleted\":true}\n",
                1);
    /* a NULL routing value is an error naming the column */
    const row_col nul_route[] = {KEY("id", "6", "bigint(20)"), COL("region", "eu", "varchar(8)"),
                                 NUL("customer_id", "int(11)")};
    row_event bad = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(nul_route));
    map_out mo;
    map_out_init(&mo);
    assert_int_equal(map_row(rule, &bad, &mo, err, sizeof err), MAP_ERR);
    assert_non_null(strstr(err, "routing column 'customer_id'"));
    map_out_free(&mo);
    cfg_free(&c);
}

/* An exact rule with exclude and a hard delete: plain delete action. */
static void test_rule_exclude_and_delete(void **state)
{
    bulk *b = *state;
    static const char text[] = "[table shop.users]\nindex = u-{table}\nexclude = PASSWORD\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *rule = cfg_find_table(&c, "shop", "users");
    const row_col img[] = {KEY("id", "1", "int(11)"), COL("password", "h", "varchar(8)"), COL("n", "a", "varchar(8)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(img));
    ev.table = "users";
    expect_body(b, rule, &ev, "{\"index\":{\"_index\":\"u-users\",\"_id\":\"1\"}}\n{\"id\":1,\"n\":\"a\"}\n", 1);
    bulk_reset(b);
    row_event del = mk_event(ROW_DELETE, (row_image)IMG(img), (row_image)NO_IMG);
    del.table = "users";
    expect_body(b, rule, &del, "{\"delete\":{\"_index\":\"u-users\",\"_id\":\"1\"}}\n", 1);
    cfg_free(&c);
}

/* The document line of the last action in b equals want. */
static void expect_last_doc(bulk *b, const cfg_table *rule, const row_event *ev, const char *want)
{
    map_out mo;
    map_out_init(&mo);
    char err[512] = "";
    if (map_row(rule, ev, &mo, err, sizeof err) != MAP_OK || mo.n != 1 || bulk_append(b, &mo.act[0], err, sizeof err) != 0)
        fail_msg("map_row/bulk_append: %s", err);
    map_out_free(&mo);
    const bulk_meta *m = &b->meta[b->n_actions - 1];
    size_t n = b->body.len - m->doc;
    if (n != strlen(want) || memcmp(b->body.data + m->doc, want, n) != 0)
        fail_msg("document differs:\n got: %.*s\nwant: %s", (int)n, (const char *)b->body.data + m->doc, want);
}

/* The document plans kept per (rule, column layout): rules and layouts that
 * alternate, more layouts than are kept, and a layout that differs only in a
 * column's type (the scale of a DECIMAL, a mysqlType that is absent) each
 * give the document their own rule and types prescribe. */
static void test_plans_follow_rule_and_layout(void **state)
{
    bulk *b = *state;
    static const char text[] = "[table shop.a]\nindex = a\nrename = name:title\nadd_field = k:v\n"
                               "[table shop.b]\nindex = b\nexclude = name\ndelete = soft:gone\n"
                               "[table shop.c]\nindex = c\nconvert = name:drop, qty:string\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *ra = cfg_find_table(&c, "shop", "a"), *rb = cfg_find_table(&c, "shop", "b"),
                    *rc = cfg_find_table(&c, "shop", "c");
    const row_col img[] = {KEY("id", "1", "int(11)"), COL("name", "n\"1", "varchar(8)"), COL("qty", "2", "int(11)"),
                           COL("p", "1.5", "decimal(6,2)")};
    const row_col img4[] = {KEY("id", "1", "int(11)"), COL("name", "n\"1", "varchar(8)"), COL("qty", "2", "int(11)"),
                            COL("p", "1.5", "decimal(6,4)")};
    row_col img_sql[] = {KEY("id", "1", "int(11)"), COL("name", "n\"1", "varchar(8)"), COL("qty", "2", NULL),
                         COL("p", "1.5", "decimal(6,2)")};
    img_sql[2].sql_type = 12; /* VARCHAR by sqlType: a string */
    const row_col img_renamed[] = {KEY("id", "1", "int(11)"), COL("Name", "n\"1", "varchar(8)"),
                                   COL("qty", "2", "int(11)"), COL("p", "1.5", "decimal(6,2)")};
    row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(img));
    static const char doc_a[] = "{\"id\":1,\"title\":\"n\\\"1\",\"qty\":2,\"p\":\"1.50\",\"k\":\"v\"}\n";
    static const char doc_b[] = "{\"id\":1,\"qty\":2,\"p\":\"1.50\",\"gone\":false}\n";
    static const char doc_c[] = "{\"id\":1,\"qty\":\"2\",\"p\":\"1.50\"}\n";
    for (int round = 0; round < 3; round++) {
        ev.table = "a";
        ev.after = (row_image)IMG(img);
        expect_last_doc(b, ra, &ev, doc_a);
        ev.table = "b";
        expect_last_doc(b, rb, &ev, doc_b);
        ev.table = "c";
        expect_last_doc(b, rc, &ev, doc_c);
        ev.table = "a";
        ev.after = (row_image)IMG(img4);
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"n\\\"1\",\"qty\":2,\"p\":\"1.5000\",\"k\":\"v\"}\n");
        ev.after = (row_image)IMG(img_sql);
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"n\\\"1\",\"qty\":\"2\",\"p\":\"1.50\",\"k\":\"v\"}\n");
        ev.after = (row_image)IMG(img_renamed); /* rename is case-insensitive, the plan keyed by the exact name */
        expect_last_doc(b, ra, &ev, doc_a);
        ev.after = (row_image)IMG(img);
        expect_last_doc(b, ra, &ev, doc_a);
        /* no rule: the column names as they are */
        ev.table = "x";
        expect_last_doc(b, &rule_keys, &ev, "{\"id\":1,\"name\":\"n\\\"1\",\"qty\":2,\"p\":\"1.50\"}\n");
    }
    assert_ndjson_valid(b);
    cfg_free(&c);
}

/* row_event.layout: the images of one kind of one layout share names and mysqlTypes, so the plan is
 * checked in full once per layout and kind; sqlTypes, counts, the other kind and other layouts still
 * choose their own plan. */
static void test_plans_by_layout(void **state)
{
    bulk *b = *state;
    static const char text[] = "[table shop.a]\nindex = a\nrename = name:title\n"
                               "[table shop.b]\nindex = b\ndelete = soft:gone\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *ra = cfg_find_table(&c, "shop", "a"), *rb = cfg_find_table(&c, "shop", "b");
    const row_col img[] = {KEY("id", "1", "int(11)"), COL("name", "x", "varchar(8)"), COL("qty", "2", "int(11)")};
    row_col img_sql[] = {KEY("id", "1", "int(11)"), COL("name", "x", "varchar(8)"), COL("qty", "2", NULL)};
    img_sql[2].sql_type = 12; /* VARCHAR by sqlType: a string */
    const row_col img2[] = {KEY("id", "1", "int(11)"), COL("qty", "2", "int(11)")};
    const row_col before[] = {KEY("id", "1", "int(11)"), COL("other", "y", "varchar(8)"), COL("z", "3", "int(11)")};
    const row_col other[] = {KEY("id", "1", "int(11)"), COL("Name", "x", "varchar(8)"), COL("q", "2", "int(11)")};
    const uint64_t l1 = UINT64_MAX - 10, l2 = UINT64_MAX - 11, l3 = UINT64_MAX - 12; /* l3: table b */
    for (int round = 0; round < 2; round++) {
        row_event ev = mk_event(ROW_INSERT, (row_image)NO_IMG, (row_image)IMG(img));
        ev.table = "a";
        ev.layout = l1;
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"x\",\"qty\":2}\n");
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"x\",\"qty\":2}\n");
        ev.after = (row_image)IMG(img_sql); /* same layout, another sqlType */
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"x\",\"qty\":\"2\"}\n");
        ev.after = (row_image)IMG(img2); /* another count */
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"qty\":2}\n");
        ev.after = (row_image)IMG(other); /* another layout */
        ev.layout = l2;
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"x\",\"q\":2}\n"); /* rename: any case */
        ev.layout = 0;
        ev.after = (row_image)IMG(img);
        expect_last_doc(b, ra, &ev, "{\"id\":1,\"title\":\"x\",\"qty\":2}\n");
        /* the before image of layout l3 (a soft delete documents it): not the after images' plan */
        row_event del = mk_event(ROW_DELETE, (row_image)IMG(before), (row_image)NO_IMG);
        del.table = "b";
        del.layout = l3;
        expect_last_doc(b, rb, &del, "{\"id\":1,\"other\":\"y\",\"z\":3,\"gone\":true}\n");
        ev.table = "b";
        ev.layout = l3;
        ev.after = (row_image)IMG(other);
        expect_last_doc(b, rb, &ev, "{\"id\":1,\"Name\":\"x\",\"q\":2,\"gone\":false}\n");
        expect_last_doc(b, rb, &del, "{\"id\":1,\"other\":\"y\",\"z\":3,\"gone\":true}\n");
    }
    /* each action's table: the rows of one layout share it; layout 0 and a layout in between compare it */
    static const char *const tables[] = {"shop.a", "shop.a", "shop.a", "shop.a", "shop.a", "shop.a",
                                         "shop.b", "shop.b", "shop.b"};
    for (size_t i = 0; i < b->n_actions; i++)
        if (strcmp(bulk_table(b, i), tables[i % 9]) != 0)
            fail_msg("action %zu: table %s, want %s", i, bulk_table(b, i), tables[i % 9]);
    assert_ndjson_valid(b);
    cfg_free(&c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* External versions: epoch | file sequence | offset + row; growing along the binlog. */
static void test_versions(void **state)
{
    (void)state;
    assert_int_equal(map_version("mysql-bin.000001", 4, 0, 0), ((int64_t)1 << 33) | 4);
    assert_int_equal(map_version("mysql-bin.000003", 1000, 2, 1), ((int64_t)1 << 55) | ((int64_t)3 << 33) | 1002);
    assert_true(map_version("mysql-bin.000001", 900, 5, 0) < map_version("mysql-bin.000001", 1000, 0, 0));
    assert_true(map_version("mysql-bin.000001", ((int64_t)1 << 32), 0, 0) < map_version("mysql-bin.000002", 4, 0, 0));
    assert_true(map_version("mysql-bin.000002", 4, 0, 0) < map_version("mysql-bin.000002", 4, 0, 1));
    assert_int_equal(map_version("mysql-bin", 4, 0, 0), -1);            /* no sequence */
    assert_int_equal(map_version("mysql-bin.4194304", 4, 0, 0), -1);    /* 2^22 files */
    assert_int_equal(map_version("mysql-bin.000001", (int64_t)1 << 33, 0, 0), -1);
    assert_int_equal(map_version("mysql-bin.000001", 4, 0, 256), -1);  /* epoch above 255 */
    assert_true(map_version("mysql-bin.000001", 4, 0, 255) > 0);
}

/* Version fields on the action line; per-action table and binlog file. */
static void test_version_line(void **state)
{
    (void)state;
    bulk b;
    assert_int_equal(bulk_init(&b, 1 << 20), 0);
    row_col cols[1] = {{.name = "id", .value = "7", .value_len = 1, .mysql_type = "int(11)", .is_key = true}};
    row_event ev = {.schema = "s", .table = "t", .op = ROW_INSERT, .after = {cols, 1}, .logfile = "mysql-bin.000002",
                    .offset = 120};
    row_event ev2 = ev;
    ev2.table = "u";
    ev2.offset = 300;
    map_action a = {MAP_INDEX, "idx", "7", 1, &ev.after, &ev, NULL, 42};
    map_action d = {MAP_DELETE, "idx", "8", 1, NULL, &ev2, NULL, 43};
    map_action n = {MAP_DELETE, "idx", "9", 1, NULL, &ev2, NULL, 0};
    char err[256];
    assert_int_equal(bulk_append(&b, &a, err, sizeof err), 0);
    assert_int_equal(bulk_append(&b, &d, err, sizeof err), 0);
    assert_int_equal(bulk_append(&b, &n, err, sizeof err), 0);
    static const char all[] =
        "{\"index\":{\"_index\":\"idx\",\"_id\":\"7\",\"version\":42,\"version_type\":\"external\"}}\n"
        "{\"id\":7}\n"
        "{\"delete\":{\"_index\":\"idx\",\"_id\":\"8\",\"version\":43,\"version_type\":\"external\"}}\n"
        "{\"delete\":{\"_index\":\"idx\",\"_id\":\"9\"}}\n";
    assert_int_equal(b.body.len, sizeof all - 1);
    assert_memory_equal(b.body.data, all, sizeof all - 1);
    assert_string_equal(bulk_table(&b, 0), "s.t");
    assert_string_equal(bulk_logfile(&b, 1), "mysql-bin.000002");
    assert_string_equal(bulk_table(&b, 2), "s.u");
    bulk_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        T(test_rule_features),
        T(test_rule_exclude_and_delete),
        T(test_plans_follow_rule_and_layout),
        T(test_plans_by_layout),
        cmocka_unit_test(test_version_line),
        T(test_insert),
        T(test_update_same_id),
        T(test_update_changes_id),
        T(test_update_id_prefix),
        T(test_id_empty_or_looks_hashed),
        T(test_update_without_before),
        T(test_delete),
        T(test_several_actions_accumulate),
        T(test_composite_id_configured),
        T(test_composite_id_from_keys),
        T(test_invalid_utf8_repaired),
        T(test_escaping),
        T(test_decimal_scale),
        T(test_embedded_nul),
        T(test_table_value_opts),
        cmocka_unit_test(test_no_id),
        cmocka_unit_test(test_missing_id_column),
        cmocka_unit_test(test_null_id_column),
        T(test_id_too_long),
        cmocka_unit_test(test_bad_index_name),
        cmocka_unit_test(test_body_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
