/* stats: counters, lag and the log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void test_fresh_counters_are_zero(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    char line[1024];
    stats_format(&s, 1000, line, sizeof line);
    assert_string_equal(line, "batches=0 acks=0 rows=0 skipped_rows=0 actions=0 superseded=0 bulk_requests=0 "
                              "request_failures=0 splits=0 item_retries=0 dead_letters=0 retries=0 "
                              "reconnects=0 frames_too_big=0 utf8_replaced=0 lag_s=0.0");
    assert_true(stats_lag_seconds(&s, 1000) == 0.0);
}

static void test_counters_add_up(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    CE_STAT_ADD(&s, batches, 3);
    CE_STAT_ADD(&s, acks, 2);
    CE_STAT_ADD(&s, rows_in, UINT64_C(18446744073709551615));
    CE_STAT_ADD(&s, items_ok, 10);
    CE_STAT_ADD(&s, items_ok, 5);
    CE_STAT_ADD(&s, dead_letters, 1);
    char line[1024];
    stats_format(&s, 0, line, sizeof line);
    assert_non_null(strstr(line, "batches=3 acks=2 rows=18446744073709551615 "));
    assert_non_null(strstr(line, " actions=15 "));
    assert_non_null(strstr(line, " dead_letters=1 "));
}

static void test_lag(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    CE_STAT_SET(&s, last_source_time_ms, 10000);
    assert_true(stats_lag_seconds(&s, 12500) == 2.5);
    assert_true(stats_lag_seconds(&s, 9000) == 0.0); /* clock behind the source: no negative lag */
    CE_STAT_SET(&s, caught_up, 1);
    assert_true(stats_lag_seconds(&s, 12500) == 0.0); /* nothing waits in Canal */
    char line[1024];
    CE_STAT_SET(&s, caught_up, 0);
    stats_format(&s, 70000, line, sizeof line);
    assert_non_null(strstr(line, " lag_s=60.0"));
}

static void test_truncated_line_is_terminated(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    char line[16];
    memset(line, 'x', sizeof line);
    stats_format(&s, 0, line, sizeof line);
    assert_int_equal(strlen(line), sizeof line - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_counters_are_zero),
        cmocka_unit_test(test_counters_add_up),
        cmocka_unit_test(test_lag),
        cmocka_unit_test(test_truncated_line_is_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
