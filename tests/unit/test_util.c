/* test_util: UTF-8 validation/repair, capped buffers, number and address
 * parsing, backoff bounds, and the integer rules of map/value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

#include <cmocka.h>

#include "util/log.h"

#include "map/value.h"
#include "util/arena.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/parse.h"
#include "util/utf8.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- UTF-8 ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_int_equal(ce_utf8_valid_prefix(S("")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("plain ascii")), 11);
    /* 2-, 3- and 4-byte sequences: é, 中, U+1F600 (emoji), U+10FFFF (the last one) */
    assert_int_equal(ce_utf8_valid_prefix(S("\xc3\xa9")), 2);
    assert_int_equal(ce_utf8_valid_prefix(S("\xe4\xb8\xad")), 3);
    assert_int_equal(ce_utf8_valid_prefix(S("\xf0\x9f\x98\x80")), 4);
    assert_int_equal(ce_utf8_valid_prefix(S("a\xf0\x9f\x98\x80z")), 6);
    assert_int_equal(ce_utf8_valid_prefix(S("\xf4\x8f\xbf\xbf")), 4);
    /* U+FFFD itself and the last code point before the surrogates (U+D7FF) */
    assert_int_equal(ce_utf8_valid_prefix(S("\xef\xbf\xbd\xed\x9f\xbf")), 6);
    /* an embedded NUL is valid UTF-8 */
    assert_int_equal(ce_utf8_valid_prefix(S("a\0b")), 3);
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    /* overlong encodings: '/' as 2 bytes, NUL as 2 bytes, U+0000 as 3, U+FFFF as 4 */
    assert_int_equal(ce_utf8_valid_prefix(S("ab\xc0\xaf")), 2);
    assert_int_equal(ce_utf8_valid_prefix(S("\xc1\xbf")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("x\xe0\x80\x80")), 1);
    assert_int_equal(ce_utf8_valid_prefix(S("\xe0\x9f\xbf")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("\xf0\x8f\xbf\xbf")), 0);
    /* surrogates U+D800 and U+DFFF */
    assert_int_equal(ce_utf8_valid_prefix(S("ok\xed\xa0\x80")), 2);
    assert_int_equal(ce_utf8_valid_prefix(S("\xed\xbf\xbf")), 0);
    /* above U+10FFFF: U+110000, and lead bytes F5..FF */
    assert_int_equal(ce_utf8_valid_prefix(S("\xf4\x90\x80\x80")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("\xf5\x80\x80\x80")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("\xff")), 0);
    /* truncated sequences: 2 of 3 bytes, 3 of 4 bytes, a lone lead byte */
    assert_int_equal(ce_utf8_valid_prefix(S("ab\xe4\xb8")), 2);
    assert_int_equal(ce_utf8_valid_prefix(S("\xf0\x9f\x98")), 0);
    assert_int_equal(ce_utf8_valid_prefix(S("\xc3")), 0);
    /* a lone continuation byte, and a lead byte followed by ASCII */
    assert_int_equal(ce_utf8_valid_prefix(S("a\x80")), 1);
    assert_int_equal(ce_utf8_valid_prefix(S("\xc3(")), 0);
    /* a truncated sequence must not read past n even if more bytes follow */
    assert_int_equal(ce_utf8_valid_prefix("\xe4\xb8\xad", 2), 0);
}

static void repair_check(const char *in, size_t n, const char *expected, size_t expected_replaced)
{
    ce_buf b;
    ce_buf_init(&b, 1024);
    size_t replaced = 7; /* added to, not overwritten */
    assert_int_equal(ce_utf8_repair(in, n, &b, &replaced), 0);
    assert_int_equal(replaced, 7 + expected_replaced);
    assert_int_equal(b.len, strlen(expected));
    assert_memory_equal(b.data ? (const void *)b.data : "", expected, strlen(expected));
    /* the result is valid */
    assert_int_equal(ce_utf8_valid_prefix((const char *)b.data, b.len), b.len);
    ce_buf_free(&b);
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8_repair(void **state)
{
    (void)state;
    repair_check(S("valid \xe4\xb8\xad\xf0\x9f\x98\x80"), "valid \xe4\xb8\xad\xf0\x9f\x98\x80", 0);
    repair_check(S("a\xff" "b"), "a" FFFD "b", 1);
    /* each bad byte becomes one U+FFFD */
    repair_check(S("x\xc0\xafy"), "x" FFFD FFFD "y", 2);
    repair_check(S("\xed\xa0\x80"), FFFD FFFD FFFD, 3);
    repair_check(S("\xf4\x90\x80\x80!"), FFFD FFFD FFFD FFFD "!", 4);
    /* truncated at the end, then valid text after a truncated sequence */
    repair_check(S("end\xe4\xb8"), "end" FFFD FFFD, 2);
    repair_check(S("\xe4\xb8z\xe4\xb8\xad"), FFFD FFFD "z\xe4\xb8\xad", 2);
    repair_check(S(""), "", 0);
}

static void test_utf8_repair_full(void **state)
{
    (void)state;
    ce_buf b;
    ce_buf_init(&b, 4);
    size_t replaced = 0;
    assert_int_equal(ce_utf8_repair(S("ab\xff"), &b, &replaced), -1); /* 2 + 3 bytes > 4 */
    assert_true(b.len <= 4);
    ce_buf_free(&b);
}

/* ---- ce_buf ---- */

static void test_buf_cap(void **state)
{
    (void)state;
    ce_buf b;
    ce_buf_init(&b, 10);
    assert_int_equal(ce_buf_append(&b, "12345678", 8), 0);
    assert_int_equal(b.len, 8);
    /* 8 + 3 > 10: refused, unchanged */
    assert_int_equal(ce_buf_append(&b, "abc", 3), -1);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "12345678", 8);
    assert_int_equal(ce_buf_append_str(&b, "ab"), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(ce_buf_putc(&b, 'x'), -1);
    assert_int_equal(ce_buf_reserve(&b, 1), -1);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "12345678ab", 10);
    /* appending nothing is always fine */
    assert_int_equal(ce_buf_append(&b, "", 0), 0);
    /* a huge request must not overflow len + extra */
    assert_int_equal(ce_buf_reserve(&b, SIZE_MAX), -1);
    assert_int_equal(ce_buf_reserve(&b, SIZE_MAX - 5), -1);
    ce_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(ce_buf_append_str(&b, "hello"), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    assert_int_equal(b.len, 5);
    assert_string_equal((const char *)b.data, "hello");
    ce_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_buf_growth(void **state)
{
    (void)state;
    ce_buf b;
    ce_buf_init(&b, 100000);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(ce_buf_putc(&b, (uint8_t)(i & 0xff)), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.cap, 100000);
    assert_int_equal(ce_buf_putc(&b, 0), -1);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i & 0xff));
    ce_buf_free(&b);
}

static void test_buf_alloc_failure(void **state)
{
    (void)state;
    ce_buf b;
    ce_buf_init(&b, 1000);
    ce_mem_fail_after(0);
    int rc = ce_buf_append(&b, "abc", 3);
    ce_mem_fail_after(-1);
    assert_int_equal(rc, -1);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    assert_int_equal(ce_buf_append(&b, "abc", 3), 0);
    ce_buf_free(&b);
}

/* ---- parse ---- */

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(ce_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(ce_parse_i64("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(ce_parse_i64("0", 0, 0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ce_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(ce_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    v = 99;
    /* range ends are inclusive, one past is refused and *out untouched */
    assert_int_equal(ce_parse_i64("1", 1, 32767, &v), 0);
    assert_int_equal(ce_parse_i64("32767", 1, 32767, &v), 0);
    v = 99;
    assert_int_equal(ce_parse_i64("32768", 1, 32767, &v), -1);
    assert_int_equal(ce_parse_i64("0", 1, 32767, &v), -1);
    assert_int_equal(v, 99);
    /* overflow of int64 */
    assert_int_equal(ce_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
    assert_int_equal(ce_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
    /* not wholly a number */
    assert_int_equal(ce_parse_i64("", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64(NULL, 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64(" 5", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64("5 ", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64("5x", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64("0x10", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64("1.5", 0, 100, &v), -1);
    assert_int_equal(ce_parse_i64("-", 0, 100, &v), -1);
    assert_int_equal(v, 99);
}

static void test_parse_hostport(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(ce_parse_hostport("127.0.0.1:11111", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 11111);
    assert_int_equal(ce_parse_hostport("canal-server.local:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "canal-server.local");
    assert_int_equal(port, 1);
    assert_int_equal(ce_parse_hostport("h:65535", host, sizeof host, &port), 0);
    assert_int_equal(port, 65535);
    /* the last colon separates the port */
    assert_int_equal(ce_parse_hostport("::1:11111", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 11111);

    assert_int_equal(ce_parse_hostport("h:0", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport("h:65536", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport("h:", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport("h:12a", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport("h:-1", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport("hostonly", host, sizeof host, &port), -1);
    assert_int_equal(ce_parse_hostport(":11111", host, sizeof host, &port), -1);
    /* host too long for the buffer: "abcdefgh" needs 9 bytes */
    char small[8];
    assert_int_equal(ce_parse_hostport("abcdefgh:1", small, sizeof small, &port), -1);
    assert_int_equal(ce_parse_hostport("abcdefg:1", small, sizeof small, &port), 0);
    assert_string_equal(small, "abcdefg");
}

static void test_trim(void **state)
{
    (void)state;
    char a[] = " \t value with inner space \r\n";
    assert_string_equal(ce_trim(a), "value with inner space");
    char b[] = "   ";
    assert_string_equal(ce_trim(b), "");
    char c[] = "x";
    assert_string_equal(ce_trim(c), "x");
}

/* ---- backoff ---- */

static uint64_t expected_cap(uint64_t initial, uint64_t max, unsigned attempt)
{
    uint64_t cap = initial;
    for (unsigned i = 0; i < attempt && cap < max; i++)
        cap *= 2;
    return cap > max ? max : cap;
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    ce_backoff b;
    ce_backoff_init(&b, 100, 5000);
    b.rng = 0x123456789abcdefULL; /* deterministic */
    /* caps: 100 200 400 800 1600 3200 5000 5000 ... */
    for (unsigned attempt = 0; attempt < 12; attempt++) {
        uint64_t cap = expected_cap(100, 5000, attempt);
        uint64_t seen_max = 0;
        for (int i = 0; i < 2000; i++) {
            b.attempt = attempt;
            uint64_t d = ce_backoff_next(&b);
            assert_true(d <= cap);
            assert_int_equal(b.attempt, attempt + 1);
            if (d > seen_max)
                seen_max = d;
        }
        /* with 2000 uniform draws the largest is above 3/4 of the cap, and
         * above the previous cap, unless the distribution is broken */
        assert_true(seen_max > cap * 3 / 4);
        if (attempt > 0 && cap > expected_cap(100, 5000, attempt - 1))
            assert_true(seen_max > expected_cap(100, 5000, attempt - 1));
    }
    /* sequential calls keep growing the cap and never exceed max */
    ce_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    for (int i = 0; i < 200; i++) {
        unsigned a = b.attempt;
        uint64_t d = ce_backoff_next(&b);
        assert_true(d <= expected_cap(100, 5000, a));
        assert_true(d <= 5000);
    }
    assert_true(b.attempt <= 64);
}

static void test_backoff_degenerate(void **state)
{
    (void)state;
    ce_backoff b;
    /* initial 0 becomes 1; max below initial becomes initial */
    ce_backoff_init(&b, 0, 0);
    assert_int_equal(b.initial_ms, 1);
    assert_int_equal(b.max_ms, 1);
    for (int i = 0; i < 100; i++)
        assert_true(ce_backoff_next(&b) <= 1);
    ce_backoff_init(&b, 300, 100);
    assert_int_equal(b.max_ms, 300);
    for (int i = 0; i < 100; i++)
        assert_true(ce_backoff_next(&b) <= 300);
    /* a huge max does not overflow the doubling */
    ce_backoff_init(&b, 1000, UINT64_MAX);
    b.attempt = 70;
    (void)ce_backoff_next(&b);
}

static void test_sleep_stops(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 1;
    /* must return at once: a 1-hour sleep would hang the test */
    assert_int_equal(ce_sleep_ms(3600u * 1000u, &stop), 1);
    assert_int_equal(ce_sleep_ms(0, NULL), 0);
}

/* ---- value rules ---- */

static void test_value_integer_type(void **state)
{
    (void)state;
    static const char *const yes[] = {"tinyint",       "tinyint(1)",          "smallint(6)", "mediumint(9)",
                                      "int",           "int(11)",             "INT(11)",     "integer",
                                      "bigint(20)",    "bigint(20) unsigned", "int unsigned"};
    static const char *const no[] = {"varchar(20)", "char(5)",  "text",    "decimal(10,2)", "double", "float",
                                     "datetime",    "interval", "intx",    "point",         "bit(1)", "",
                                     "bigintx",     "year",     "tinytext"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!value_is_integer_type(yes[i]))
            fail_msg("'%s' should be an integer type", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (value_is_integer_type(no[i]))
            fail_msg("'%s' should not be an integer type", no[i]);
    }
}

static void test_value_integer_text(void **state)
{
    (void)state;
    assert_true(value_is_integer_text(S("0")));
    assert_true(value_is_integer_text(S("-1")));
    assert_true(value_is_integer_text(S("1234567890")));
    assert_true(value_is_integer_text(S("18446744073709551615"))); /* BIGINT UNSIGNED max, 20 digits */
    assert_true(value_is_integer_text(S("-9223372036854775808")));
    assert_false(value_is_integer_text(S("")));
    assert_false(value_is_integer_text(S("-")));
    assert_false(value_is_integer_text(S("007")));
    assert_false(value_is_integer_text(S("-01")));
    assert_false(value_is_integer_text(S("1.0")));
    assert_false(value_is_integer_text(S("1e3")));
    assert_false(value_is_integer_text(S("+1")));
    assert_false(value_is_integer_text(S(" 1")));
    assert_false(value_is_integer_text(S("123456789012345678901"))); /* 21 digits */
    /* only the first n bytes count */
    assert_true(value_is_integer_text("12x", 2));
}

static void test_value_decimal_scale(void **state)
{
    (void)state;
    assert_int_equal(value_decimal_scale("decimal(10,2)"), 2);
    assert_int_equal(value_decimal_scale("DECIMAL(65,30)"), 30);
    assert_int_equal(value_decimal_scale("decimal(12,4) unsigned"), 4);
    assert_int_equal(value_decimal_scale("numeric(5,1)"), 1);
    assert_int_equal(value_decimal_scale("decimal(10)"), 0);
    assert_int_equal(value_decimal_scale("decimal(10,0)"), 0);
    assert_int_equal(value_decimal_scale("int(11)"), -1);
    assert_int_equal(value_decimal_scale("double"), -1);
    assert_int_equal(value_decimal_scale("varchar(10)"), -1);
    assert_int_equal(value_decimal_scale("decimal"), -1);
}

/* arena: aligned, distinct allocations; reset reuses blocks; the cap holds. */
static void test_arena(void **state)
{
    (void)state;
    ce_arena a;
    ce_arena_init(&a, (size_t)1 << 20);
    unsigned char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = ce_arena_alloc(&a, 1000 + (size_t)i);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        memset(p[i], i, 1000 + (size_t)i);
    }
    for (int i = 0; i < 100; i++)
        for (size_t k = 0; k < 1000 + (size_t)i; k++)
            assert_int_equal(p[i][k], (unsigned char)i);
    size_t total = a.total;
    assert_true(total >= 100 * 1000);
    ce_arena_reset(&a);
    for (int i = 0; i < 100; i++)
        assert_non_null(ce_arena_alloc(&a, 1000 + (size_t)i));
    assert_int_equal(a.total, total); /* no new blocks after reset */
    assert_null(ce_arena_alloc(&a, (size_t)2 << 20)); /* above the cap */
    void *viapb = a.pb.alloc(a.pb.allocator_data, 64); /* protobuf-c face */
    assert_non_null(viapb);
    a.pb.free(a.pb.allocator_data, viapb);               /* a no-op */
    ce_arena_free(&a);
    assert_int_equal(a.total, 0);
}

/* Log records: text and JSON, escaping, invalid UTF-8, no destination. */
static void test_log_records(void **state)
{
    (void)state;
    char out[1024];
    size_t n = ce_log_format_record(CE_LOG_TEXT, 1700000000123LL, CE_LOG_WARN, "sink", "example", "retrying", out,
                                    sizeof out);
    assert_string_equal(out, "2023-11-14T22:13:20.123Z WARN  sink dest=example: retrying\n");
    assert_int_equal(n, strlen(out));
    ce_log_format_record(CE_LOG_TEXT, 0, CE_LOG_INFO, "main", "", "x", out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z INFO  main: x\n");
    ce_log_format_record(CE_LOG_JSON, 1700000000123LL, CE_LOG_ERROR, "run", "ex\"1", "a \"q\" \\ \n\t\x01 \xff \xe4\xb8\xad",
                         out, sizeof out);
    assert_string_equal(out, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"error\",\"component\":\"run\","
                             "\"destination\":\"ex\\\"1\",\"msg\":\"a \\\"q\\\" \\\\ \\n\\t\\u0001 \xEF\xBF\xBD \xe4\xb8\xad\"}\n");
    ce_log_format_record(CE_LOG_JSON, 0, CE_LOG_DEBUG, "c", "", "m", out, sizeof out);
    assert_string_equal(out, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"debug\",\"component\":\"c\",\"msg\":\"m\"}\n");
    /* a small buffer: still one terminated line */
    char small[64];
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    n = ce_log_format_record(CE_LOG_JSON, 0, CE_LOG_INFO, "c", "d", big, small, sizeof small);
    assert_true(n < sizeof small);
    assert_int_equal(small[n - 1], '\n');
    n = ce_log_format_record(CE_LOG_TEXT, 0, CE_LOG_INFO, "c", "d", big, small, sizeof small);
    assert_true(n < sizeof small);
    assert_int_equal(small[n - 1], '\n');
    ce_log_level lv;
    assert_int_equal(ce_log_parse_level("debug", &lv), 0);
    assert_int_equal(lv, CE_LOG_DEBUG);
    assert_int_equal(ce_log_parse_level("DEBUG", &lv), -1);
}

/* Text records and command output escape what could forge a line or drive a
 * terminal: newlines, ESC, DEL, C1 controls, invalid UTF-8; valid UTF-8 stays. */
static void test_log_escape(void **state)
{
    (void)state;
    char out[1024];
    ce_log_format_record(CE_LOG_TEXT, 0, CE_LOG_WARN, "map", "",
                         "table evil\n2026-01-01T00:00:00.000Z ERROR forged\x1b[2J: no rule", out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z WARN  map: table evil\\n2026-01-01T00:00:00.000Z ERROR "
                             "forged\\x1b[2J: no rule\n");
    ce_log_format_record(CE_LOG_TEXT, 0, CE_LOG_INFO, "c\r", "d\te", "\xe4\xb8\xad\xe6\x96\x87 a\\b \x7f \xc2\x9b "
                         "\xc2\xa0 \xff \xe4\xb8 \xed\xa0\x80 \x01", out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z INFO  c\\r dest=d\\te: \xe4\xb8\xad\xe6\x96\x87 a\\b \\x7f "
                             "\\xc2\\x9b \xc2\xa0 \\xff \\xe4\\xb8 \\xed\\xa0\\x80 \\x01\n");
    /* exactly one newline, at the end, and no control byte */
    char msg[300];
    for (size_t i = 0; i < sizeof msg - 1; i++)
        msg[i] = (char)(i % 64 + 1);
    msg[sizeof msg - 1] = '\0';
    size_t n = ce_log_format_record(CE_LOG_TEXT, 0, CE_LOG_INFO, "c", "", msg, out, sizeof out);
    assert_int_equal(n, strlen(out));
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    assert_int_equal(out[n - 1], '\n');
    /* cut before a piece that does not fit: never half an escape */
    char small[8];
    assert_int_equal(ce_log_escape("ab\x1b", 3, small, 5), 2);
    assert_string_equal(small, "ab");
    assert_int_equal(ce_log_escape("a\nb", 3, small, sizeof small), 4);
    assert_string_equal(small, "a\\nb");
    assert_int_equal(ce_log_escape("x", 1, small, 0), 0);
    /* command output: one line whatever the data holds */
    char path[] = "/tmp/canal-es-print-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    assert_non_null(f);
    ce_log_print(f, "binlog: %s:%d", "a\nb\x1b[2J\xe4\xb8\xad", 4);
    rewind(f);
    char got[128] = "";
    size_t r = fread(got, 1, sizeof got - 1, f);
    got[r] = '\0';
    assert_string_equal(got, "binlog: a\\nb\\x1b[2J\xe4\xb8\xad:4\n");
    fclose(f);
    unlink(path);
}

/* ce_log to a file; a reopen after the file was moved creates a new one. */
static void test_log_file_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/canal-es-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], moved[256], err[256];
    snprintf(path, sizeof path, "%s/a.log", dir);
    snprintf(moved, sizeof moved, "%s/a.log.1", dir);
    assert_int_equal(ce_log_open(path, err, sizeof err), 0);
    ce_log(CE_LOG_ERROR, "t", "first %d", 1);
    assert_int_equal(rename(path, moved), 0);
    ce_log(CE_LOG_ERROR, "t", "second");
    ce_log_request_reopen();
    ce_log(CE_LOG_ERROR, "t", "third");
    ce_log_close();
    char buf[512];
    FILE *f = fopen(moved, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "t: first 1\n"));
    assert_non_null(strstr(buf, "t: second\n"));
    assert_null(strstr(buf, "third"));
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "t: third\n"));
    assert_int_equal(ce_log_open("/nonexistent/dir/x.log", err, sizeof err), -1);
    assert_string_equal(err, "log file /nonexistent/dir/x.log: cannot open: No such file or directory");
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_records),
        cmocka_unit_test(test_log_escape),
        cmocka_unit_test(test_log_file_reopen),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_repair),
        cmocka_unit_test(test_utf8_repair_full),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_alloc_failure),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_degenerate),
        cmocka_unit_test(test_sleep_stops),
        cmocka_unit_test(test_value_integer_type),
        cmocka_unit_test(test_value_integer_text),
        cmocka_unit_test(test_value_decimal_scale),
        cmocka_unit_test(test_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
