/* charset: which column charsets survive Canal's decoding; the U+FFFD
 * counters per (table, column) and their /metrics series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map/charset.h"
#include "metrics/metrics.h"
#include "stats.h"
#include "util/buf.h"

static void test_text_types(void **state)
{
    (void)state;
    assert_true(cs_is_text_type("varchar"));
    assert_true(cs_is_text_type("longtext"));
    assert_true(cs_is_text_type("char"));
    assert_false(cs_is_text_type("enum"));
    assert_false(cs_is_text_type("varbinary"));
    assert_false(cs_is_text_type("blob"));
    assert_false(cs_is_text_type(NULL));
    assert_true(cs_mysql_type_is_text("varchar(20)"));
    assert_true(cs_mysql_type_is_text("char(3)"));
    assert_true(cs_mysql_type_is_text("mediumtext"));
    assert_false(cs_mysql_type_is_text("varbinary(20)"));
    assert_false(cs_mysql_type_is_text("texts"));
    assert_false(cs_mysql_type_is_text("int(11)"));
    assert_false(cs_mysql_type_is_text(NULL));
}

static void test_canal_exact(void **state)
{
    (void)state;
    /* Canal's default: UTF-8 (also when the header says nothing) */
    const char *utf8[] = {"UTF-8", "utf8", "", NULL};
    for (int i = 0; i < 4; i++) {
        const char *e = utf8[i];
        assert_true(cs_canal_exact(e, "utf8mb4"));
        assert_true(cs_canal_exact(e, "utf8mb3"));
        assert_true(cs_canal_exact(e, "utf8"));
        assert_true(cs_canal_exact(e, "ascii"));
        assert_true(cs_canal_exact(e, NULL)); /* not text */
        assert_false(cs_canal_exact(e, "gbk"));
        assert_false(cs_canal_exact(e, "big5"));
        assert_false(cs_canal_exact(e, "latin1"));
        assert_false(cs_canal_exact(e, "sjis"));
        assert_false(cs_canal_exact(e, "euckr"));
        assert_false(cs_canal_exact(e, "ucs2"));
        assert_false(cs_canal_exact(e, "utf16"));
    }
    /* an instance decoding with GBK garbles the UTF-8 columns instead */
    assert_true(cs_canal_exact("GBK", "gbk"));
    assert_true(cs_canal_exact("GBK", "gb2312"));
    assert_true(cs_canal_exact("GBK", "ascii"));
    assert_false(cs_canal_exact("GBK", "utf8mb4"));
    assert_false(cs_canal_exact("GBK", "big5"));
    assert_true(cs_canal_exact("Shift_JIS", "sjis"));
    assert_true(cs_canal_exact("EUC-KR", "euckr"));
    assert_true(cs_canal_exact("windows-1252", "latin1"));
    assert_false(cs_canal_exact("ISO-8859-1", "latin1")); /* MySQL's latin1 is cp1252: 0x80 is the euro sign */
    assert_true(cs_canal_exact("Big5", "big5"));
}

static void test_ascii_and_fffd(void **state)
{
    (void)state;
    assert_true(cs_ascii_safe("gbk"));
    assert_true(cs_ascii_safe("latin1"));
    assert_true(cs_ascii_safe("sjis"));
    assert_false(cs_ascii_safe("ucs2"));
    assert_false(cs_ascii_safe("utf16"));
    assert_false(cs_ascii_safe("utf32"));
    assert_true(cs_is_ascii("abc 123 ~", 9));
    assert_true(cs_is_ascii("", 0));
    assert_false(cs_is_ascii("caf\xc3\xa9", 5));
    assert_true(cs_has_fffd("caf\xef\xbf\xbd", 6));
    assert_true(cs_has_fffd("\xef\xbf\xbd", 3));
    assert_true(cs_has_fffd("\xef\xef\xbf\xbd!", 5));
    assert_false(cs_has_fffd("\xef\xbf", 2));
    assert_false(cs_has_fffd("\xef\xbf\xbc", 3));
    assert_false(cs_has_fffd("plain", 5));
    assert_false(cs_has_fffd("\xe6\xb5\x8b\xe8\xaf\x95", 6)); /* 测试 */
}

static void test_fffd_counters_are_bounded(void **state)
{
    (void)state;
    ce_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    stats_init(s);
    stats_count_fffd(s, "db", "t", "g");
    stats_count_fffd(s, "db", "t", "g");
    stats_count_fffd(s, "db", "t", "b");
    assert_int_equal(s->n_fffd, 2);
    assert_int_equal(s->fffd[0].values, 2);
    assert_string_equal(s->fffd[0].table, "db.t");
    assert_string_equal(s->fffd[1].column, "b");
    char col[16];
    for (int i = 0; i < STATS_MAX_FFFD + 10; i++) {
        snprintf(col, sizeof col, "c%d", i);
        stats_count_fffd(s, "db", "wide", col);
    }
    assert_int_equal(s->n_fffd, STATS_MAX_FFFD);
    assert_int_equal(s->fffd[STATS_MAX_FFFD].values, 12); /* the rest share "other" */
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(s, 1000, "t", &out), 0);
    assert_int_equal(ce_buf_terminate(&out), 0);
    const char *m = (const char *)out.data;
    assert_non_null(strstr(m, "canal_es_text_replaced_values_total{table=\"db.t\",column=\"g\"} 2\n"));
    assert_non_null(strstr(m, "canal_es_text_replaced_values_total{table=\"db.t\",column=\"b\"} 1\n"));
    assert_non_null(strstr(m, "canal_es_text_replaced_values_total{table=\"other\",column=\"other\"} 12\n"));
    assert_non_null(strstr(m, "canal_es_charset_reads_total 0\n"));
    size_t series = 0;
    for (const char *p = m; (p = strstr(p, "\ncanal_es_text_replaced_values_total{")) != NULL; p++)
        series++;
    assert_int_equal(series, STATS_MAX_FFFD + 1);
    ce_buf_free(&out);
    stats_destroy(s);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_types),
        cmocka_unit_test(test_canal_exact),
        cmocka_unit_test(test_ascii_and_fffd),
        cmocka_unit_test(test_fffd_counters_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
