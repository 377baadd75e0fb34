/* test_snapshot: the pure parts of the snapshot (src/snapshot/snapsql.c):
 * chunk SQL with expanded keyset predicates and quoted identifiers, key
 * literals, casts per type, Canal's text of FLOAT/DOUBLE (Java's
 * Float/Double.toString) and of binary values; and the version of a
 * snapshot row (map_row: the position's version minus one). No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "map/map.h"
#include "snapshot/snapsql.h"

static snap_col mk_col(const char *name, const char *data_type, const char *charset, const char *collation)
{
    snap_col c = {.name = (char *)name,
                  .data_type = (char *)data_type,
                  .column_type = (char *)data_type,
                  .charset = (char *)charset,
                  .collation = (char *)collation};
    snap_col_classify(&c);
    return c;
}

static void expect_str(const ce_buf *b, const char *want)
{
    size_t n = strlen(want);
    if (b->len < n || memcmp(b->data, want, n) != 0 || (b->len > n && b->data[n] != '\0'))
        fail_msg("got:  %.*s\nwant: %s", (int)b->len, (const char *)b->data, want);
}

/* First chunk: no WHERE; later chunks: a > ? OR (a = ? AND b > ?) OR ...,
 * never a row constructor, never LIMIT offset. Casts: ENUM/SET + 0, BIT and
 * FLOAT cast; backticks in names doubled. */
static void test_select(void **state)
{
    (void)state;
    snap_col cols[] = {mk_col("a", "int", NULL, NULL), mk_col("we`ird", "varchar", "utf8mb4", "utf8mb4_general_ci"),
                       mk_col("c", "date", NULL, NULL),  mk_col("e", "enum", NULL, NULL),
                       mk_col("s", "set", NULL, NULL),   mk_col("b", "bit", NULL, NULL),
                       mk_col("f", "float", NULL, NULL), mk_col("d", "double", NULL, NULL)};
    size_t key[] = {0, 1, 2};
    snap_table t = {.db = "d`b", .table = "t", .cols = cols, .n = 8, .key = key, .n_key = 3, .key_name = "PRIMARY"};
    ce_buf b;
    ce_buf_init(&b, 1 << 16);
    assert_int_equal(snap_build_select(&b, &t, NULL, 3), 0);
    expect_str(&b, "SELECT `a`, `we``ird`, `c`, (`e` + 0), (`s` + 0), CAST(`b` AS UNSIGNED), CAST(`f` AS DOUBLE), "
                   "`d`, `a`, `we``ird`, `c` FROM `d``b`.`t` FORCE INDEX (`PRIMARY`) ORDER BY `a`, `we``ird`, `c` "
                   "LIMIT 3");
    ce_buf_reset(&b);
    const char *last[] = {"7", "_utf8mb4 X'78' COLLATE utf8mb4_general_ci", "'2024-01-02'"};
    assert_int_equal(snap_build_select(&b, &t, last, 3), 0);
    expect_str(&b, "SELECT `a`, `we``ird`, `c`, (`e` + 0), (`s` + 0), CAST(`b` AS UNSIGNED), CAST(`f` AS DOUBLE), "
                   "`d`, `a`, `we``ird`, `c` FROM `d``b`.`t` FORCE INDEX (`PRIMARY`) WHERE `a` > 7 OR (`a` = 7 AND "
                   "`we``ird` > _utf8mb4 X'78' COLLATE utf8mb4_general_ci) OR (`a` = 7 AND `we``ird` = _utf8mb4 "
                   "X'78' COLLATE utf8mb4_general_ci AND `c` > '2024-01-02') ORDER BY `a`, `we``ird`, `c` LIMIT 3");
    /* one key column: a plain range */
    ce_buf_reset(&b);
    t.n_key = 1;
    t.key_name = "uk";
    assert_int_equal(snap_build_select(&b, &t, last, 10), 0);
    assert_non_null(strstr((const char *)b.data, "FORCE INDEX (`uk`) WHERE `a` > 7 ORDER BY `a` LIMIT 10"));
    assert_null(strstr((const char *)b.data, "OFFSET"));
    ce_buf_free(&b);
}

/* Key values go back as literals: numbers checked, strings and bytes in hex
 * with their charset and collation, dates quoted; anything else refused. */
static void test_literals(void **state)
{
    (void)state;
    char err[256];
    ce_buf b;
    ce_buf_init(&b, 4096);
    snap_col i = mk_col("i", "bigint", NULL, NULL);
    assert_int_equal(snap_key_literal(&b, &i, "-42", 3, err, sizeof err), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "-42");
    ce_buf_reset(&b);
    assert_int_equal(snap_key_literal(&b, &i, "1 OR 1=1", 8, err, sizeof err), -1);
    assert_non_null(strstr(err, "key column i"));
    ce_buf_reset(&b);
    snap_col s = mk_col("s", "varchar", "latin1", "latin1_swedish_ci");
    assert_int_equal(snap_key_literal(&b, &s, "a'\\\x00\xff", 5, err, sizeof err), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "_latin1 X'61275C00FF' COLLATE latin1_swedish_ci");
    ce_buf_reset(&b);
    snap_col bad = mk_col("s", "varchar", "utf8mb4", "x' OR 1");
    assert_int_equal(snap_key_literal(&b, &bad, "a", 1, err, sizeof err), -1);
    ce_buf_reset(&b);
    snap_col bin = mk_col("b", "varbinary", NULL, NULL);
    assert_int_equal(snap_key_literal(&b, &bin, "\x01\x02", 2, err, sizeof err), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "X'0102'");
    ce_buf_reset(&b);
    snap_col dt = mk_col("t", "datetime", NULL, NULL);
    assert_int_equal(snap_key_literal(&b, &dt, "2024-01-02 03:04:05.5", 21, err, sizeof err), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "'2024-01-02 03:04:05.5'");
    ce_buf_reset(&b);
    assert_int_equal(snap_key_literal(&b, &dt, "2024'", 5, err, sizeof err), -1);
    snap_col js = mk_col("j", "json", NULL, NULL);
    assert_int_equal(js.key_kind, SNAP_KEY_NONE);
    ce_buf_free(&b);
}

static void expect_java(double d, bool is_float, const char *want)
{
    char out[40];
    assert_int_equal(snap_java_double(d, is_float, out, sizeof out), 0);
    if (strcmp(out, want) != 0)
        fail_msg("%.17g (%s): got %s, want %s", d, is_float ? "float" : "double", out, want);
}

/* Java's Double.toString / Float.toString: plain in [1e-3, 1e7) with at least
 * one fraction digit, else d.dddE±n; the shortest digits that read back. */
static void test_java_text(void **state)
{
    (void)state;
    expect_java(1.5, false, "1.5");
    expect_java(100, false, "100.0");
    expect_java(1e10, false, "1.0E10");
    expect_java(1e7, false, "1.0E7");
    expect_java(1234567, false, "1234567.0");
    expect_java(0.001, false, "0.001");
    expect_java(0.0001, false, "1.0E-4");
    expect_java(-1e-300, false, "-1.0E-300");
    expect_java(3.141592653589793, false, "3.141592653589793");
    expect_java(0.1, false, "0.1");
    expect_java(1.7976931348623157e308, false, "1.7976931348623157E308");
    expect_java(0.0, false, "0.0");
    expect_java(-0.0, false, "-0.0");
    expect_java(-2.25, false, "-2.25");
    expect_java(123456789012.0, false, "1.23456789012E11");
    /* FLOAT: selected as the exact double of the float, printed as Float.toString */
    expect_java(3.1415927410125732, true, "3.1415927");
    expect_java(1e10, true, "1.0E10");
    expect_java(0.1f, true, "0.1");
    expect_java(3.4028234663852886e38, true, "3.4028235E38");
    expect_java(1.5, true, "1.5");
    char out[3];
    assert_int_equal(snap_java_double(1.5, false, out, sizeof out), -1);
}

/* Bytes become one code point each (Canal's ISO-8859-1 string); BINARY(n)
 * loses its trailing 0x00 like the binlog; FLOAT/DOUBLE text is parsed. */
static void test_canal_text(void **state)
{
    (void)state;
    ce_buf b;
    ce_buf_init(&b, 4096);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_BYTES, "\xe4\xb8\xad\x00\x41", 5), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "\xc3\xa4\xc2\xb8\xc2\xad\x00\x41", 8);
    ce_buf_reset(&b);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_BINARY_N, "\x01\x00\x00\x00", 4), 0);
    assert_int_equal(b.len, 1);
    ce_buf_reset(&b);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_BINARY_N, "\x00\x00", 2), 0);
    assert_int_equal(b.len, 0);
    ce_buf_reset(&b);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_DOUBLE, "1e300", 5), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "1.0E300");
    ce_buf_reset(&b);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_FLOAT, "3.1415927410125732", 18), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    expect_str(&b, "3.1415927");
    ce_buf_reset(&b);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_DOUBLE, "abc", 3), -1);
    assert_int_equal(snap_canal_text(&b, SNAP_VAL_RAW, "2024-00-10", 10), 0);
    assert_int_equal(b.len, 10);
    ce_buf_free(&b);
}

/* A snapshot row read at P gets P's version minus one: below every event at
 * or after P, at or above every earlier one. */
static void test_snapshot_version(void **state)
{
    (void)state;
    static char db[] = "shop", tbl[] = "items", idx[] = "items";
    cfg_table rule = {.db = db, .table = tbl, .index = idx, .line = 1};
    row_col cols[] = {{.name = "id", .value = "1", .value_len = 1, .mysql_type = "int(11)", .is_key = true}};
    row_event ev = {.schema = "shop",
                    .table = "items",
                    .op = ROW_INSERT,
                    .after = {.cols = cols, .n = 1},
                    .logfile = "mysql-bin.000003",
                    .offset = 1000,
                    .gtid = "",
                    .snapshot = true};
    map_out mo;
    map_out_init(&mo);
    mo.versioning = 1;
    char err[256];
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_OK);
    int64_t at_p = map_version("mysql-bin.000003", 1000, 0, 0);
    assert_int_equal(mo.act[0].version, at_p - 1);
    assert_true(mo.act[0].version < at_p);
    assert_true(mo.act[0].version >= map_version("mysql-bin.000003", 990, 9, 0)); /* last row before P */
    ev.snapshot = false;
    assert_int_equal(map_row(&rule, &ev, &mo, err, sizeof err), MAP_OK);
    assert_int_equal(mo.act[0].version, at_p);
    map_out_free(&mo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select),       cmocka_unit_test(test_literals),         cmocka_unit_test(test_java_text),
        cmocka_unit_test(test_canal_text),   cmocka_unit_test(test_snapshot_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
