/* test_metrics: the Prometheus exposition and the health verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_exposition(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    size_t a = stats_table_slot(&s, "shop", "items");
    size_t b = stats_table_slot(&s, "we\"ird", "t\\n");
    assert_int_equal(stats_table_slot(&s, "shop", "items"), a);
    stats_count_row(&s, a, 0);
    stats_count_row(&s, a, 0);
    stats_count_row(&s, a, 2);
    stats_count_row(&s, b, 1);
    CE_STAT_ADD(&s, items_ok, 5);
    CE_STAT_ADD(&s, items_superseded, 1);
    CE_STAT_ADD(&s, acks, 3);
    stats_observe_request(&s, 3000);    /* 3 ms: first bucket */
    stats_observe_request(&s, 700000);  /* 0.7 s */
    stats_observe_request(&s, 90000000); /* 90 s: only +Inf */
    stats_set_ack_position(&s, "mysql-bin.000003", 4567);
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&s, 0, "1.2.3", &out), 0);
    assert_int_equal(ce_buf_terminate(&out), 0);
    const char *t = (const char *)out.data;
    assert_has(t, "canal_es_build_info{version=\"1.2.3\"} 1\n");
    assert_has(t, "# TYPE canal_es_rows_total counter\n");
    assert_has(t, "canal_es_rows_total{table=\"shop.items\",op=\"insert\"} 2\n");
    assert_has(t, "canal_es_rows_total{table=\"shop.items\",op=\"delete\"} 1\n");
    assert_has(t, "canal_es_rows_total{table=\"we\\\"ird.t\\\\n\",op=\"update\"} 1\n");
    assert_has(t, "canal_es_items_total{result=\"applied\"} 5\n");
    assert_has(t, "canal_es_items_total{result=\"superseded\"} 1\n");
    assert_has(t, "canal_es_acks_total 3\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"0.005\"} 1\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"0.5\"} 1\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"1\"} 2\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"30\"} 2\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"+Inf\"} 3\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_sum 90.703000\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_count 3\n");
    assert_has(t, "canal_es_checkpoint_binlog_offset{file=\"mysql-bin.000003\"} 4567\n");
    assert_has(t, "canal_es_search_reachable 1\n");
    assert_has(t, "canal_es_canal_connected 0\n");
    assert_null(strstr(t, "table=\"other\"")); /* the overflow slot only when used */
    /* every sample line belongs to a declared metric */
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            char name[160];
            size_t k = strcspn(p, "{ ");
            snprintf(name, sizeof name, "# TYPE %.*s ", (int)k, p);
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)k, p);
            char *suffix = strstr(base, "_bucket");
            if (suffix == NULL)
                suffix = strstr(base, "_sum");
            if (suffix == NULL)
                suffix = strstr(base, "_count");
            if (suffix != NULL) {
                *suffix = '\0';
                snprintf(name, sizeof name, "# TYPE %s ", base);
            }
            assert_has(t, name);
        }
        p = nl + 1;
    }
    /* a full buffer is an error */
    ce_buf small;
    ce_buf_init(&small, 100);
    assert_int_equal(metrics_render(&s, 0, "1", &small), -1);
    ce_buf_free(&small);
    ce_buf_free(&out);
    stats_destroy(&s);
}

static void test_health(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    ce_buf out;
    ce_buf_init(&out, 4096);
    assert_int_equal(metrics_health(&s, 0, 60, &out), 503);
    ce_buf_terminate(&out);
    assert_string_equal((const char *)out.data,
                        "{\"status\":\"unhealthy\",\"canal_connected\":false,\"search_reachable\":true,"
                        "\"lag_seconds\":0.000,\"reasons\":[\"not connected to Canal\"]}\n");
    CE_STAT_SET(&s, canal_connected, 1);
    ce_buf_reset(&out);
    assert_int_equal(metrics_health(&s, 0, 60, &out), 200);
    ce_buf_terminate(&out);
    assert_non_null(strstr((const char *)out.data, "\"status\":\"ok\""));
    CE_STAT_SET(&s, search_reachable, 0);
    CE_STAT_SET(&s, last_source_time_ms, 1000);
    ce_buf_reset(&out);
    assert_int_equal(metrics_health(&s, 100000, 60, &out), 503);
    ce_buf_terminate(&out);
    assert_non_null(strstr((const char *)out.data,
                           "\"reasons\":[\"the search node did not answer the last request\","
                           "\"lag 99.0 s is over health_max_lag_s (60)\"]"));
    ce_buf_free(&out);
    stats_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
