/* test_value: every row of docs/type-mapping.md from crafted Canal columns,
 * compared byte for byte; every output must also parse back (yajl_tree) and
 * be valid UTF-8. Plus the option parsers used by the config loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "map/value.h"
#include "util/buf.h"
#include "util/utf8.h"

static value_ctx V;

/* Emits one column into a fresh generator (UTF-8 validation on) and returns
 * the JSON text in `out`; checks it parses back and is valid UTF-8. */
static void emit_col(const row_col *c, const value_opts *o, const value_conv *conv, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_status st = value_emit(&V, g, c, o, conv);
    if (st != yajl_gen_status_ok)
        fail_msg("value_emit(%s, '%.*s') = %d", c->mysql_type, (int)c->value_len, c->value, (int)st);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    ce_buf_reset(out);
    assert_int_equal(ce_buf_append(out, "[", 1), 0);
    assert_int_equal(ce_buf_append(out, buf, len), 0);
    assert_int_equal(ce_buf_append(out, "]", 1), 0);
    assert_int_equal(ce_buf_terminate(out), 0);
    yajl_gen_free(g);
    assert_int_equal(ce_utf8_valid_prefix((const char *)out->data, out->len), out->len);
    char perr[256];
    yajl_val tree = yajl_tree_parse((const char *)out->data, perr, sizeof perr);
    if (tree == NULL)
        fail_msg("output does not parse back: %s: %s", (const char *)out->data, perr);
    yajl_tree_free(tree);
    /* drop the brackets again */
    memmove(out->data, out->data + 1, out->len - 2);
    out->len -= 2;
    out->data[out->len] = '\0';
}

static void check_full(const char *type, int sql_type, const char *val, size_t n, bool is_null, const value_opts *o,
                       const value_conv *conv, const char *want, size_t want_n, int line)
{
    row_col c = {.name = "c", .value = val, .value_len = n, .mysql_type = type, .sql_type = sql_type,
                 .is_null = is_null};
    ce_buf out;
    ce_buf_init(&out, (size_t)1 << 24);
    emit_col(&c, o, conv, &out);
    if (out.len != want_n || memcmp(out.data, want, want_n) != 0)
        fail_msg("line %d: %s '%.*s':\n got: %s\nwant: %.*s", line, type, (int)(n > 200 ? 200 : n), val,
                 (const char *)out.data, (int)want_n, want);
    ce_buf_free(&out);
}

#define LIT(s) (s), (sizeof(s) - 1)
/* by type, default options */
#define T(type, val, want) check_full((type), 0, LIT(val), false, NULL, NULL, LIT(want), __LINE__)
/* with options */
#define TO(type, val, opts, want) check_full((type), 0, LIT(val), false, (opts), NULL, LIT(want), __LINE__)
/* with a convert kind */
#define TC(type, val, conv, want) check_full((type), 0, LIT(val), false, NULL, (conv), LIT(want), __LINE__)
/* no mysqlType, by sqlType */
#define TS(sql, val, want) check_full("", (sql), LIT(val), false, NULL, NULL, LIT(want), __LINE__)

static int setup(void **state)
{
    (void)state;
    value_ctx_init(&V);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    value_ctx_free(&V);
    return 0;
}

static void test_integers(void **state)
{
    (void)state;
    T("tinyint(4)", "-128", "-128");
    T("tinyint(4)", "127", "127");
    T("tinyint(3) unsigned", "255", "255");
    T("tinyint(1)", "1", "1"); /* still an integer, not a bool */
    T("smallint(6)", "-32768", "-32768");
    T("smallint(6)", "32767", "32767");
    T("smallint(5) unsigned", "65535", "65535");
    T("mediumint(9)", "-8388608", "-8388608");
    T("mediumint(9)", "8388607", "8388607");
    T("mediumint(8) unsigned", "16777215", "16777215");
    T("int(11)", "-2147483648", "-2147483648");
    T("int(11)", "2147483647", "2147483647");
    T("int(10) unsigned", "4294967295", "4294967295");
    T("bigint(20)", "-9223372036854775808", "-9223372036854775808");
    T("bigint(20)", "9223372036854775807", "9223372036854775807");
    T("bigint(20) unsigned", "18446744073709551615", "18446744073709551615");
    T("BIGINT UNSIGNED ZEROFILL", "0", "0");
    T("int(5) unsigned zerofill", "42", "42");
    T("integer", "-1", "-1");
    T("INT", "7", "7");
    /* not what Canal sends, but never invalid JSON */
    T("int(11)", "+5", "5");
    T("int(11)", "007", "7");
    T("int(11)", "abc", "\"abc\"");
    T("int(11)", "", "\"\"");
}

static void test_decimals(void **state)
{
    (void)state;
    T("decimal(10,2)", "100.0", "\"100.00\"");
    T("decimal(10,2)", "0", "\"0.00\"");
    T("decimal(10,2)", "-0.00", "\"-0.00\"");
    T("decimal(10,2) unsigned", "12.345", "\"12.345\"");
    T("decimal(65,30)", "12345678901234567890123456789012345.5",
      "\"12345678901234567890123456789012345.500000000000000000000000000000\"");
    T("numeric(5)", "99999", "\"99999\"");
    T("decimal", "1.5", "\"1.5\"");
    value_opts num = {.decimal = VALUE_DECIMAL_NUMBER};
    TO("decimal(10,2)", "100.0", &num, "100.00");
    TO("decimal(10,2)", "0", &num, "0.00");
    TO("decimal(10,2)", "-0.00", &num, "-0.00");
    TO("decimal(20,0)", "18446744073709551616", &num, "18446744073709551616");
    TO("decimal(10,2)", "+1.5", &num, "\"+1.50\""); /* not a JSON number: a string */
    TO("decimal(10,2)", ".5", &num, "\".5\"");
    TO("decimal(10,2)", "abc", &num, "\"abc\"");
}

static void test_floats(void **state)
{
    (void)state;
    T("double", "1.0", "1.0");
    T("double", "1.0E10", "1.0E10");
    T("double", "-1.5E-5", "-1.5E-5");
    T("float", "3.4028235E38", "3.4028235E38");
    T("double(10,3)", "-0.0", "-0.0");
    T("real", "2.5", "2.5");
    T("double precision", "1", "1");
    T("double", "NaN", "null");
    T("double", "Infinity", "null");
    T("float", "-Infinity", "null");
    T("double", ".5", "0.5");
    T("double", "5.", "5");
    T("double", "+1e5", "1e5");
    T("double", "00.25", "0.25");
    T("double", "1e", "\"1e\"");
    T("double", "--1", "\"--1\"");
}

static void test_bit_year(void **state)
{
    (void)state;
    T("bit(1)", "0", "0");
    T("bit(1)", "1", "1");
    T("bit(10)", "1023", "1023");
    T("bit(64)", "18446744073709551615", "18446744073709551615");
    /* bytes, one per code point, big endian */
    T("bit(8)", "\xc3\xbf", "255");
    T("bit(16)", "\x01\x00", "256");
    T("bit(64)", "\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf", "18446744073709551615");
    T("bit(8)", "", "\"\"");
    T("year(4)", "2024", "2024");
    T("year", "1901", "1901");
    T("year", "2155", "2155");
    T("year(4)", "0000", "null");
}

static void test_dates(void **state)
{
    (void)state;
    T("date", "2024-02-29", "\"2024-02-29\"");
    T("date", "0000-00-00", "null");
    T("date", "2024-00-10", "null");
    T("date", "2024-01-00", "null");
    T("date", "0000-01-01", "\"0000-01-01\"");
    T("datetime", "2024-01-02 03:04:05", "\"2024-01-02T03:04:05\"");
    T("datetime(6)", "2024-01-02 03:04:05.123456", "\"2024-01-02T03:04:05.123456\"");
    T("datetime(3)", "9999-12-31 23:59:59.999", "\"9999-12-31T23:59:59.999\"");
    T("datetime", "0000-00-00 00:00:00", "null");
    T("datetime(6)", "0000-00-00 00:00:00.000000", "null");
    T("datetime", "2024-00-00 00:00:00", "null");
    T("timestamp", "2024-05-06 07:08:09", "\"2024-05-06T07:08:09\"");
    T("timestamp", "0000-00-00 00:00:00", "null");
    T("datetime", "yesterday", "\"yesterday\"");
    T("datetime", "2024-01-02 03:04:05.", "\"2024-01-02 03:04:05.\"");
    T("time", "838:59:59", "\"838:59:59\"");
    T("time(1)", "-00:00:01.5", "\"-00:00:01.5\"");
    T("time", "12:00:00", "\"12:00:00\"");
}

static void test_timezones(void **state)
{
    (void)state;
    value_opts o = {0};
    assert_int_equal(value_parse_timezone("UTC", &o.tz_set, &o.tz_offset_min), 0);
    TO("datetime", "2024-01-02 03:04:05", &o, "\"2024-01-02T03:04:05Z\"");
    assert_int_equal(value_parse_timezone("+08:00", &o.tz_set, &o.tz_offset_min), 0);
    TO("timestamp(6)", "2024-01-02 03:04:05.000001", &o, "\"2024-01-02T03:04:05.000001+08:00\"");
    assert_int_equal(value_parse_timezone("-05:30", &o.tz_set, &o.tz_offset_min), 0);
    TO("datetime", "2024-01-02 03:04:05", &o, "\"2024-01-02T03:04:05-05:30\"");
    assert_int_equal(value_parse_timezone("+1400", &o.tz_set, &o.tz_offset_min), 0);
    TO("datetime", "2024-01-02 03:04:05", &o, "\"2024-01-02T03:04:05+14:00\"");
    assert_int_equal(value_parse_timezone("-00:00", &o.tz_set, &o.tz_offset_min), 0);
    TO("datetime", "2024-01-02 03:04:05", &o, "\"2024-01-02T03:04:05Z\"");
    /* dates, zero dates and TIME get no offset */
    TO("date", "2024-01-02", &o, "\"2024-01-02\"");
    TO("datetime", "0000-00-00 00:00:00", &o, "null");
    TO("time", "01:02:03", &o, "\"01:02:03\"");
    assert_int_equal(value_parse_timezone("", &o.tz_set, &o.tz_offset_min), 0);
    assert_int_equal(o.tz_set, 0);
    TO("datetime", "2024-01-02 03:04:05", &o, "\"2024-01-02T03:04:05\"");
}

static void test_parse_timezone(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int set, off;
    } ok[] = {{"", 0, 0},         {"UTC", 1, 0},       {"utc", 1, 0},      {"Z", 1, 0},
              {"z", 1, 0},        {"+08:00", 1, 480},  {"-05:30", 1, -330}, {"+0800", 1, 480},
              {"+08", 1, 480},    {"+14:00", 1, 840},  {"-14:00", 1, -840}, {"+00:00", 1, 0},
              {"+05:45", 1, 345}, {"-0930", 1, -570}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int set = 7, off = 7;
        if (value_parse_timezone(ok[i].s, &set, &off) != 0)
            fail_msg("'%s' should parse", ok[i].s);
        assert_int_equal(set, ok[i].set);
        assert_int_equal(off, ok[i].off);
    }
    static const char *const bad[] = {"+14:01", "+15", "-15:00", "+08:60", "08:00", "+8:00", "+08:",
                                      "+08:000", "+080", "abc", "UTC+8", "+08:00 ", " +08:00", "+", "GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int set = 7, off = 7;
        if (value_parse_timezone(bad[i], &set, &off) == 0)
            fail_msg("'%s' should be rejected", bad[i]);
        assert_int_equal(set, 7); /* untouched */
        assert_int_equal(off, 7);
    }
    int set, off;
    assert_int_equal(value_parse_timezone(NULL, &set, &off), -1);
}

static void test_strings(void **state)
{
    (void)state;
    T("varchar(32)", "h\xc3\xa9llo", "\"h\xc3\xa9llo\"");
    T("char(4)", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* 4-byte UTF-8 */
    T("text", "", "\"\"");
    T("longtext", "00123", "\"00123\"");
    T("mediumtext", "line\nnext \"q\" \\", "\"line\\nnext \\\"q\\\" \\\\\"");
    T("uuid", "123e4567-e89b-12d3-a456-426614174000", "\"123e4567-e89b-12d3-a456-426614174000\"");
    T("varchar(8)", "a\0b", "\"a\\u0000b\"");
    /* text columns arrive decoded: code points above 0x7F are not bytes */
    T("text", "\xc3\xa9", "\"\xc3\xa9\"");
    uint64_t before = V.utf8_repairs;
    T("varchar(8)", "a\xff" "b\xc3", "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
    T("text", "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* a surrogate: 3 bytes, 3 repairs */
    assert_int_equal(V.utf8_repairs - before, 5);
    /* NULL is null whatever the type or conversion; "" stays "" */
    check_full("varchar(3)", 0, "", 0, true, NULL, NULL, LIT("null"), __LINE__);
    check_full("int(11)", 0, "", 0, true, NULL, NULL, LIT("null"), __LINE__);
    value_conv split = {.column = "c", .kind = VALUE_CONV_SPLIT, .sep = ","};
    check_full("varchar(3)", 0, "", 0, true, NULL, &split, LIT("null"), __LINE__);
    check_full("varchar(3)", 0, NULL, 0, false, NULL, NULL, LIT("\"\""), __LINE__);
}

static void test_enum(void **state)
{
    (void)state;
    const char *t = "enum('a','b','it''s')";
    check_full(t, 4, LIT("1"), false, NULL, NULL, LIT("\"a\""), __LINE__);
    check_full(t, 4, LIT("2"), false, NULL, NULL, LIT("\"b\""), __LINE__);
    check_full(t, 4, LIT("3"), false, NULL, NULL, LIT("\"it's\""), __LINE__);
    check_full(t, 4, LIT("0"), false, NULL, NULL, LIT("\"\""), __LINE__); /* MySQL's '' for invalid values */
    check_full(t, 4, LIT("4"), false, NULL, NULL, LIT("\"4\""), __LINE__); /* no such member: the index */
    check_full(t, 4, LIT("b"), false, NULL, NULL, LIT("\"b\""), __LINE__); /* the member text itself */
    T("enum('x,y','(z)','a\\'b','c\\\\d','e\\nf')", "1", "\"x,y\"");
    T("enum('x,y','(z)','a\\'b','c\\\\d','e\\nf')", "2", "\"(z)\"");
    T("enum('x,y','(z)','a\\'b','c\\\\d','e\\nf')", "3", "\"a'b\"");
    T("enum('x,y','(z)','a\\'b','c\\\\d','e\\nf')", "4", "\"c\\\\d\"");
    T("enum('x,y','(z)','a\\'b','c\\\\d','e\\nf')", "5", "\"e\\nf\"");
    T("ENUM('Small','\xe4\xb8\xad')", "2", "\"\xe4\xb8\xad\"");
    T("enum('a', 'b')", "2", "\"b\"");
    T("enum('')", "1", "\"\"");
    T("enum", "1", "\"1\"");            /* no member list */
    T("enum('a','b", "2", "\"2\"");     /* cut member list */
    T("enum('a')", "99999999999999999999999", "\"99999999999999999999999\"");
}

static void test_set(void **state)
{
    (void)state;
    const char *t = "set('a','b','c')";
    check_full(t, -7, LIT("0"), false, NULL, NULL, LIT("[]"), __LINE__);
    check_full(t, -7, LIT("1"), false, NULL, NULL, LIT("[\"a\"]"), __LINE__);
    check_full(t, -7, LIT("5"), false, NULL, NULL, LIT("[\"a\",\"c\"]"), __LINE__);
    check_full(t, -7, LIT("7"), false, NULL, NULL, LIT("[\"a\",\"b\",\"c\"]"), __LINE__);
    check_full(t, -7, LIT("8"), false, NULL, NULL, LIT("[]"), __LINE__); /* bits without a member */
    check_full(t, -7, LIT("a,c"), false, NULL, NULL, LIT("[\"a\",\"c\"]"), __LINE__);
    check_full(t, -7, LIT(""), false, NULL, NULL, LIT("[]"), __LINE__);
    T("set('x,y','z''s')", "3", "[\"x,y\",\"z's\"]");
    T("SET('p','q')", "2", "[\"q\"]");
    T("set", "3", "\"3\"");
    /* 64 members, all set */
    char type[1024];
    size_t k = 0;
    k += (size_t)snprintf(type + k, sizeof type - k, "set(");
    for (int i = 0; i < 64; i++)
        k += (size_t)snprintf(type + k, sizeof type - k, "%s'm%d'", i ? "," : "", i);
    snprintf(type + k, sizeof type - k, ")");
    char want[1024];
    k = 0;
    k += (size_t)snprintf(want + k, sizeof want - k, "[");
    for (int i = 0; i < 64; i++)
        k += (size_t)snprintf(want + k, sizeof want - k, "%s\"m%d\"", i ? "," : "", i);
    snprintf(want + k, sizeof want - k, "]");
    check_full(type, -7, LIT("18446744073709551615"), false, NULL, NULL, want, strlen(want), __LINE__);
    check_full(type, -7, LIT("9223372036854775808"), false, NULL, NULL, LIT("[\"m63\"]"), __LINE__);
}

static void test_json(void **state)
{
    (void)state;
    T("json", "{\"a\": [1, 2.5e3, true, false, null], \"b\" : {\"c\":\"d\"}}",
      "{\"a\":[1,2.5e3,true,false,null],\"b\":{\"c\":\"d\"}}");
    T("json", "{\"e\":\"\\u00e9\",\"s\":\"\\ud83d\\ude00\",\"q\":\"\\\"\\\\\\/\"}",
      "{\"e\":\"\xc3\xa9\",\"s\":\"\xf0\x9f\x98\x80\",\"q\":\"\\\"\\\\/\"}");
    T("json", "[18446744073709551615, -1.0E-400, 123456789012345678901234567890]",
      "[18446744073709551615,-1.0E-400,123456789012345678901234567890]");
    T("json", "42", "42");
    T("json", "\"s\"", "\"s\"");
    T("json", "null", "null");
    T("json", "\"\xe4\xb8\xad\"", "\"\xe4\xb8\xad\"");
    T("json", "{\"\\u0000k\":1}", "{\"\\u0000k\":1}");
    /* invalid JSON: the text as a string */
    T("json", "{\"a\":", "\"{\\\"a\\\":\"");
    T("json", "{a:1}", "\"{a:1}\"");
    T("json", "[1] [2]", "\"[1] [2]\"");
    T("json", "01", "\"01\"");
    T("json", "\"\xff\"", "\"\\\"\xef\xbf\xbd\\\"\"");
    T("json", "", "null");
    /* a lone surrogate escape decodes to no valid UTF-8: repaired */
    uint64_t before = V.utf8_repairs;
    T("json", "[\"\\udc00\"]", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");
    assert_true(V.utf8_repairs > before);
    /* nesting: VALUE_JSON_MAX_DEPTH is fine, one more is a string */
    char deep[2 * VALUE_JSON_MAX_DEPTH + 3];
    memset(deep, '[', VALUE_JSON_MAX_DEPTH);
    memset(deep + VALUE_JSON_MAX_DEPTH, ']', VALUE_JSON_MAX_DEPTH);
    check_full("json", 0, deep, 2 * VALUE_JSON_MAX_DEPTH, false, NULL, NULL, deep, 2 * VALUE_JSON_MAX_DEPTH, __LINE__);
    memset(deep, '[', VALUE_JSON_MAX_DEPTH + 1);
    memset(deep + VALUE_JSON_MAX_DEPTH + 1, ']', VALUE_JSON_MAX_DEPTH + 1);
    char want[2 * VALUE_JSON_MAX_DEPTH + 5];
    want[0] = '"';
    memcpy(want + 1, deep, 2 * VALUE_JSON_MAX_DEPTH + 2);
    want[2 * VALUE_JSON_MAX_DEPTH + 3] = '"';
    check_full("json", 0, deep, 2 * VALUE_JSON_MAX_DEPTH + 2, false, NULL, NULL, want, 2 * VALUE_JSON_MAX_DEPTH + 4,
               __LINE__);
}

/* Canal's text for raw bytes: each byte as the code point of the same value. */
static size_t latin1(const unsigned char *b, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x80) {
            out[k++] = (char)b[i];
        } else {
            out[k++] = (char)(0xC0 | b[i] >> 6);
            out[k++] = (char)(0x80 | (b[i] & 0x3F));
        }
    }
    return k;
}

/* BINARY(n): the binlog drops trailing 0x00 bytes; they are restored. */
static void test_binary_padding(void **state)
{
    (void)state;
    value_opts o = {.blob = VALUE_BLOB_BASE64};
    check_full("binary(4)", -2, "", 0, false, &o, NULL, LIT("\"AAAAAA==\""), __LINE__);
    check_full("binary(4)", -2, "\x01", 1, false, &o, NULL, LIT("\"AQAAAA==\""), __LINE__);
    check_full("binary(2)", -2, "\x01\x02", 2, false, &o, NULL, LIT("\"AQI=\""), __LINE__);
    check_full("varbinary(4)", -3, "\x01", 1, false, &o, NULL, LIT("\"AQ==\""), __LINE__);
}

static void test_blob_all_bytes(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char text[512];
    size_t tn = latin1(all, 256, text);
    static const char b64[] =
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xN"
        "Tk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ"
        "2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs"
        "7e7v8PHy8/T19vf4+fr7/P3+/w==\"";
    value_opts o = {.blob = VALUE_BLOB_AUTO};
    check_full("blob", 2004, text, tn, false, &o, NULL, LIT(b64), __LINE__);
    check_full("longblob", 2004, text, tn, false, NULL, NULL, LIT(b64), __LINE__);
    check_full("varbinary(256)", -3, text, tn, false, NULL, NULL, LIT(b64), __LINE__);
    o.blob = VALUE_BLOB_BASE64;
    check_full("tinyblob", 2004, text, tn, false, &o, NULL, LIT(b64), __LINE__);
    value_conv c64 = {.column = "c", .kind = VALUE_CONV_BASE64};
    check_full("mediumblob", 2004, text, tn, false, NULL, &c64, LIT(b64), __LINE__);
    /* blob=text: bytes 0x80..0xFF are each invalid here and become U+FFFD */
    o.blob = VALUE_BLOB_TEXT;
    ce_buf want;
    ce_buf_init(&want, 4096);
    yajl_gen g = yajl_gen_alloc(NULL);
    char dec[128 + 128 * 3];
    memcpy(dec, all, 128);
    for (int i = 0; i < 128; i++)
        memcpy(dec + 128 + 3 * i, "\xef\xbf\xbd", 3);
    yajl_gen_string(g, (const unsigned char *)dec, sizeof dec);
    const unsigned char *wb;
    size_t wn;
    yajl_gen_get_buf(g, &wb, &wn);
    uint64_t before = V.utf8_repairs;
    check_full("blob", 2004, text, tn, false, &o, NULL, (const char *)wb, wn, __LINE__);
    assert_int_equal(V.utf8_repairs - before, 128);
    value_conv ctext = {.column = "c", .kind = VALUE_CONV_TEXT};
    check_full("blob", 2004, text, tn, false, NULL, &ctext, (const char *)wb, wn, __LINE__);
    yajl_gen_free(g);
    ce_buf_free(&want);
}

static void test_blob(void **state)
{
    (void)state;
    value_opts b64 = {.blob = VALUE_BLOB_BASE64}, txt = {.blob = VALUE_BLOB_TEXT};
    /* UTF-8 text stored in a BLOB (the seed's garbled Chinese): 中 is E4 B8 AD */
    T("blob", "\xc3\xa4\xc2\xb8\xc2\xad", "\"\xe4\xb8\xad\"");
    TO("blob", "\xc3\xa4\xc2\xb8\xc2\xad", &b64, "\"5Lit\"");
    TO("blob", "\xc3\xa4\xc2\xb8\xc2\xad", &txt, "\"\xe4\xb8\xad\"");
    /* é as one byte E9 is not UTF-8: base64 */
    T("varbinary(4)", "\xc3\xa9", "\"6Q==\"");
    T("binary(3)", "a\0b", "\"a\\u0000b\"");
    T("binary(2)", "\xc3\xbf\x01", "\"/wE=\"");
    T("blob", "", "\"\"");
    TO("blob", "", &b64, "\"\"");
    TO("blob", "ab", &b64, "\"YWI=\"");
    TO("blob", "abc", &b64, "\"YWJj\"");
    TO("blob", "abcd", &b64, "\"YWJjZA==\"");
    /* a code point above U+00FF: already text */
    T("blob", "\xe4\xb8\xad", "\"\xe4\xb8\xad\"");
    TO("blob", "\xe4\xb8\xad", &b64, "\"5Lit\"");
    /* invalid UTF-8 from the wire: text, repaired */
    T("blob", "\xff", "\"\xef\xbf\xbd\"");
    /* GEOMETRY: WKB bytes (a POINT(1 2) with SRID 0) */
    static const unsigned char wkb[] = {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
                                        0, 0, 0, 0, 0, 0, 0, 0x40};
    char text[64];
    size_t tn = latin1(wkb, sizeof wkb, text);
    check_full("point", -2, text, tn, false, NULL, NULL, LIT("\"AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA==\""), __LINE__);
    check_full("geometry", -2, text, tn, false, NULL, NULL, LIT("\"AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA==\""), __LINE__);
    /* TEXT sent as CLOB is decided by mysqlType: no recovery */
    check_full("text", 2005, LIT("\xc3\xa9"), false, NULL, NULL, LIT("\"\xc3\xa9\""), __LINE__);
}

static void test_by_sql_type(void **state)
{
    (void)state;
    TS(-5, "18446744073709551615", "18446744073709551615");
    TS(4, "-3", "-3");
    TS(3, "1.50", "\"1.50\"");
    TS(8, "1.0E-5", "1.0E-5");
    TS(-7, "5", "5");
    TS(91, "0000-00-00", "null");
    TS(93, "2024-01-02 03:04:05", "\"2024-01-02T03:04:05\"");
    TS(92, "01:02:03", "\"01:02:03\"");
    TS(2004, "\xc3\xa9", "\"6Q==\"");
    TS(12, "\xc3\xa9", "\"\xc3\xa9\"");
    check_full(NULL, 12, LIT("x"), false, NULL, NULL, LIT("\"x\""), __LINE__);
}

static void test_convert_kinds(void **state)
{
    (void)state;
    value_conv s = {.column = "c", .kind = VALUE_CONV_STRING};
    TC("int(11)", "42", &s, "\"42\"");
    TC("datetime", "2024-01-02 03:04:05", &s, "\"2024-01-02 03:04:05\"");
    TC("blob", "\xc3\xa9", &s, "\"\xc3\xa9\""); /* as sent */
    TC("varchar(4)", "a\xff", &s, "\"a\xef\xbf\xbd\"");

    value_conv num = {.column = "c", .kind = VALUE_CONV_NUMBER};
    TC("varchar(9)", "  12.50 ", &num, "12.50");
    TC("varchar(9)", "-7", &num, "-7");
    TC("varchar(9)", ".5", &num, "0.5");
    TC("varchar(9)", "1e3", &num, "1e3");
    TC("varchar(9)", "abc", &num, "null");
    TC("varchar(9)", "NaN", &num, "null");
    TC("varchar(9)", "", &num, "null");

    value_conv b = {.column = "c", .kind = VALUE_CONV_BOOL};
    TC("tinyint(1)", "0", &b, "false");
    TC("tinyint(1)", "1", &b, "true");
    TC("int(11)", "-2", &b, "true");
    TC("decimal(5,2)", "0.00", &b, "false");
    TC("decimal(5,2)", "0.01", &b, "true");
    TC("varchar(5)", "0e5", &b, "false");
    TC("varchar(5)", "TRUE", &b, "true");
    TC("varchar(5)", " false ", &b, "false");
    TC("varchar(5)", "yes", &b, "null");
    TC("varchar(5)", "", &b, "null");
    TC("bit(1)", "1", &b, "true");
    check_full("bit(8)", -7, "\0", 1, false, NULL, &b, LIT("false"), __LINE__);
    check_full("bit(16)", -7, "\0\x01", 2, false, NULL, &b, LIT("true"), __LINE__);

    value_conv j = {.column = "c", .kind = VALUE_CONV_JSON};
    TC("varchar(32)", "{\"a\": [1, \"x\"]}", &j, "{\"a\":[1,\"x\"]}");
    TC("text", "not json", &j, "\"not json\"");
    TC("text", "", &j, "null");
    TC("blob", "{\"k\":\"\xc3\xa4\xc2\xb8\xc2\xad\"}", &j, "{\"k\":\"\xe4\xb8\xad\"}"); /* recovered bytes */

    value_conv b64 = {.column = "c", .kind = VALUE_CONV_BASE64};
    TC("varchar(8)", "\xe4\xb8\xad", &b64, "\"5Lit\"");
    TC("blob", "\xc3\xa4\xc2\xb8\xc2\xad", &b64, "\"5Lit\"");
    TC("varchar(8)", "", &b64, "\"\"");

    value_conv t = {.column = "c", .kind = VALUE_CONV_TEXT};
    TC("blob", "\xc3\xa4\xc2\xb8\xc2\xad", &t, "\"\xe4\xb8\xad\"");
    TC("varbinary(4)", "\xc3\xa9", &t, "\"\xef\xbf\xbd\"");
    TC("varchar(4)", "ok", &t, "\"ok\"");

    value_conv sp = {.column = "c", .kind = VALUE_CONV_SPLIT, .sep = ","};
    TC("varchar(16)", "a,b,,c", &sp, "[\"a\",\"b\",\"\",\"c\"]");
    TC("varchar(16)", "", &sp, "[]");
    TC("varchar(16)", "one", &sp, "[\"one\"]");
    TC("varchar(16)", ",", &sp, "[\"\",\"\"]");
    TC("varchar(16)", "a,\xff", &sp, "[\"a\",\"\xef\xbf\xbd\"]");
    value_conv sp2 = {.column = "c", .kind = VALUE_CONV_SPLIT, .sep = " | "};
    TC("text", "x | y |  z", &sp2, "[\"x\",\"y\",\" z\"]");
    TC("text", "x | y | z", &sp2, "[\"x\",\"y\",\"z\"]");
    TC("blob", "\xc3\xa4\xc2\xb8\xc2\xad,b", &sp, "[\"\xe4\xb8\xad\",\"b\"]");
    value_conv spn = {.column = "c", .kind = VALUE_CONV_SPLIT, .sep = NULL};
    TC("text", "a,b", &spn, "[\"a,b\"]");

    value_conv d = {.column = "c", .kind = VALUE_CONV_DROP};
    TC("int(11)", "1", &d, "null");
    value_conv none = {.column = "c", .kind = VALUE_CONV_NONE};
    TC("int(11)", "1", &none, "1");
}

static void test_find_conv(void **state)
{
    (void)state;
    value_conv convs[] = {{.column = "Tags", .kind = VALUE_CONV_SPLIT, .sep = ","},
                          {.column = "pw", .kind = VALUE_CONV_DROP}};
    value_opts o = {.convs = convs, .n_convs = 2};
    assert_ptr_equal(value_find_conv(&o, "tags"), &convs[0]);
    assert_ptr_equal(value_find_conv(&o, "PW"), &convs[1]);
    assert_null(value_find_conv(&o, "other"));
    assert_null(value_find_conv(NULL, "tags"));
    value_opts empty = {0};
    assert_null(value_find_conv(&empty, "tags"));
}

static void test_parse_convert(void **state)
{
    (void)state;
    value_conv *c = NULL;
    size_t n = 99;
    char err[256] = "";
    int rc = value_parse_convert(" tags:split(,), Body : JSON ,pw:drop,x:split(, ),y:split()),z:bool, "
                                 "a:string,b:number,d:base64,e:text",
                                 &c, &n, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(n, 10);
    assert_string_equal(c[0].column, "tags");
    assert_int_equal(c[0].kind, VALUE_CONV_SPLIT);
    assert_string_equal(c[0].sep, ",");
    assert_string_equal(c[1].column, "Body");
    assert_int_equal(c[1].kind, VALUE_CONV_JSON);
    assert_null(c[1].sep);
    assert_int_equal(c[2].kind, VALUE_CONV_DROP);
    assert_string_equal(c[3].sep, ", ");
    assert_string_equal(c[4].sep, ")");
    assert_int_equal(c[5].kind, VALUE_CONV_BOOL);
    assert_int_equal(c[6].kind, VALUE_CONV_STRING);
    assert_int_equal(c[7].kind, VALUE_CONV_NUMBER);
    assert_int_equal(c[8].kind, VALUE_CONV_BASE64);
    assert_int_equal(c[9].kind, VALUE_CONV_TEXT);
    value_convs_free(c, n);

    c = (value_conv *)&n; /* must stay untouched on errors */
    n = 5;
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"a", "'a' has no ':KIND'"},
        {"a:foo", "a: unknown kind 'foo' (known: string, number, bool, json, base64, text, split(SEP), drop)"},
        {"a:split", "a: split needs its separator"},
        {"a:split()", "a: the split separator must be 1 to 32 bytes"},
        {"a:split(,", "a: split( has no closing ')'"},
        {"a:string,", "nothing after the last ','"},
        {"a:string, A:json", "column 'A' is given twice"},
        {":string", "an entry has no column name"},
        {"a:string x", "a: unexpected 'x' after the kind"},
        {"a:string,,b:json", "'' has no ':KIND'"},
        {"a:split(,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,)", "separator must be 1 to 32 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (value_parse_convert(bad[i].spec, &c, &n, err, sizeof err) != -1)
            fail_msg("'%s' should be rejected", bad[i].spec);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
        assert_ptr_equal(c, (value_conv *)&n);
        assert_int_equal(n, 5);
    }
    assert_int_equal(value_parse_convert("   ", &c, &n, err, sizeof err), 0);
    assert_null(c);
    assert_int_equal(n, 0);
    assert_int_equal(value_parse_convert("", &c, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
}

static void test_parse_modes(void **state)
{
    (void)state;
    value_decimal_mode d = VALUE_DECIMAL_STRING;
    assert_int_equal(value_parse_decimal("number", &d), 0);
    assert_int_equal(d, VALUE_DECIMAL_NUMBER);
    assert_int_equal(value_parse_decimal("String", &d), 0);
    assert_int_equal(d, VALUE_DECIMAL_STRING);
    assert_int_equal(value_parse_decimal("float", &d), -1);
    assert_int_equal(value_parse_decimal("", &d), -1);
    assert_int_equal(value_parse_decimal(NULL, &d), -1);
    value_blob_mode b = VALUE_BLOB_AUTO;
    assert_int_equal(value_parse_blob("base64", &b), 0);
    assert_int_equal(b, VALUE_BLOB_BASE64);
    assert_int_equal(value_parse_blob("TEXT", &b), 0);
    assert_int_equal(b, VALUE_BLOB_TEXT);
    assert_int_equal(value_parse_blob("auto", &b), 0);
    assert_int_equal(b, VALUE_BLOB_AUTO);
    assert_int_equal(value_parse_blob("hex", &b), -1);
    assert_int_equal(value_parse_blob(NULL, &b), -1);
}

static void test_json_number_grammar(void **state)
{
    (void)state;
    static const char *const yes[] = {"0", "-0", "1", "-1.5", "1e5", "1E+5", "1.0e-07", "123456789012345678901234567890",
                                      "0.0"};
    static const char *const no[] = {"", "-", "+1", "01", ".5", "5.", "1e", "1e+", "NaN", "Infinity", "0x1",
                                     " 1", "1 ", "--1", "1.2.3"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!value_is_json_number(yes[i], strlen(yes[i])))
            fail_msg("'%s' is a JSON number", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (value_is_json_number(no[i], strlen(no[i])))
            fail_msg("'%s' is not a JSON number", no[i]);
}

/* yajl's printer into a ce_buf */
static void print_to_buf(void *ctx, const char *s, size_t n) { assert_int_equal(ce_buf_append(ctx, s, n), 0); }

/* The one-pass writer against the two passes it replaces (repair, then
 * yajl_gen_string's escaping): byte for byte, with the same repair count,
 * over crafted edge cases and pseudo-random byte strings weighted towards
 * what the fast paths look at (ASCII words, 3-byte sequences, escapes). */
static void test_json_string_like_yajl(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "", "a", "plain ascii text, longer than a word", "\"quoted\" \\ back", "\b\t\n\f\r\x01\x1f\x7f/",
        "这是中文，包含。", "\xe4\xb8", "\xed\xa0\x80\xed\xbf\xbf", "\xe0\x80\x80\xe0\xa0\x80", "\xef\xbf\xbd\xf4\x90\x80\x80",
        "\xf0\x9f\x98\x80 emoji \xc3\xa9", "12345678\xe8\xbf\x99\xe8\xbf\x99\xe8\xbf", "\xe8\xbf\x99\xe8\xbf\x99\"\xe8\xbf\x99",
    };
    static const char alphabet[] = "ab\"\\\n\x01\x7f\x80\xbf\xc3\xa9\xe0\xe8\xed\xef\xf0\xf4\xff";
    ce_buf mine, ref, rep;
    ce_buf_init(&mine, 1 << 20);
    ce_buf_init(&ref, 1 << 20);
    ce_buf_init(&rep, 1 << 20);
    uint32_t seed = 12345;
    char text[64];
    for (size_t round = 0; round < 20000; round++) {
        const char *s = text;
        size_t n;
        if (round < sizeof cases / sizeof cases[0]) {
            s = cases[round];
            n = strlen(s);
        } else {
            seed = seed * 1103515245u + 12345u;
            n = (seed >> 16) % sizeof text;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                uint32_t r = seed >> 16;
                if (r % 3 == 0 && i + 3 <= n) { /* a valid 3-byte sequence */
                    text[i++] = (char)(0xE1 + r % 11);
                    text[i++] = (char)(0x80 + (r >> 4) % 64);
                    text[i] = (char)(0x80 + (r >> 10) % 64);
                } else {
                    text[i] = r % 2 ? 'x' : alphabet[(r >> 3) % (sizeof alphabet - 1)];
                }
            }
        }
        size_t mine_rep = 0, ref_rep = 0;
        ce_buf_reset(&mine);
        assert_int_equal(ce_utf8_json_append(s, n, &mine, &mine_rep), 0);
        ce_buf_reset(&rep);
        assert_int_equal(ce_utf8_repair(s, n, &rep, &ref_rep), 0);
        ce_buf_reset(&ref);
        yajl_gen g = yajl_gen_alloc(NULL);
        assert_non_null(g);
        yajl_gen_config(g, yajl_gen_print_callback, print_to_buf, &ref);
        assert_int_equal(yajl_gen_string(g, rep.len ? rep.data : (const unsigned char *)"", rep.len), yajl_gen_status_ok);
        yajl_gen_free(g);
        if (mine.len != ref.len || memcmp(mine.data, ref.data, ref.len) != 0)
            fail_msg("round %zu: '%.*s' != yajl's '%.*s'", round, (int)mine.len, (const char *)mine.data, (int)ref.len,
                     (const char *)ref.data);
        assert_int_equal(mine_rep, ref_rep);
    }
    /* a full buffer: -1 and the length as it was */
    ce_buf small;
    ce_buf_init(&small, 8);
    size_t r = 0;
    assert_int_equal(ce_utf8_json_append("abc", 3, &small, &r), 0);
    assert_int_equal(ce_utf8_json_append("\n", 1, &small, &r), -1);
    assert_int_equal(small.len, 5);
    ce_buf_free(&small);
    ce_buf_free(&mine);
    ce_buf_free(&ref);
    ce_buf_free(&rep);
}

#define U(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        U(test_integers),      U(test_decimals),       U(test_floats),        U(test_bit_year),
        U(test_dates),         U(test_timezones),      U(test_parse_timezone), U(test_strings),
        U(test_enum),          U(test_set),            U(test_json),          U(test_blob_all_bytes),
        U(test_blob),          U(test_by_sql_type),    U(test_convert_kinds), U(test_find_conv),
        U(test_parse_convert), U(test_parse_modes),    U(test_json_number_grammar), U(test_binary_padding),
        U(test_json_string_like_yajl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
