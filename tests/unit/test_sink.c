/* test_sink: sink_parse_response on _bulk responses shaped like the ones
 * Elasticsearch 8 / OpenSearch 2 return. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sink/sink.h"

static int parse(const char *json, sink_summary *sum, char *err, size_t errlen)
{
    return sink_parse_response(json, strlen(json), sum, err, errlen);
}

static void test_all_ok(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":30,\"errors\":false,\"items\":["
        "{\"index\":{\"_index\":\"products\",\"_id\":\"1\",\"_version\":1,\"result\":\"created\","
        "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,\"status\":201}},"
        "{\"index\":{\"_index\":\"products\",\"_id\":\"2\",\"_version\":3,\"result\":\"updated\","
        "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":5,\"_primary_term\":1,\"status\":200}},"
        "{\"delete\":{\"_index\":\"products\",\"_id\":\"3\",\"_version\":2,\"result\":\"deleted\","
        "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":6,\"_primary_term\":1,\"status\":200}}"
        "]}";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse(resp, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 3);
    assert_int_equal(sum.ok, 3);
    assert_int_equal(sum.failed, 0);
    assert_int_equal(sum.fail_status, 0);
    assert_string_equal(sum.fail_index, "");
}

static void test_mapper_parsing_exception(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":3,\"errors\":true,\"items\":["
        "{\"index\":{\"_index\":\"products\",\"_id\":\"1\",\"_version\":1,\"result\":\"created\",\"status\":201}},"
        "{\"index\":{\"_index\":\"products\",\"_id\":\"42\",\"status\":400,\"error\":{"
        "\"type\":\"mapper_parsing_exception\","
        "\"reason\":\"failed to parse field [price] of type [float] in document with id '42'. "
        "Preview of field's value: 'abc'\","
        "\"caused_by\":{\"type\":\"number_format_exception\",\"reason\":\"For input string: \\\"abc\\\"\"}}}},"
        "{\"index\":{\"_index\":\"other\",\"_id\":\"43\",\"status\":400,\"error\":{"
        "\"type\":\"document_parsing_exception\",\"reason\":\"second failure\"}}}"
        "]}";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse(resp, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 3);
    assert_int_equal(sum.ok, 1);
    assert_int_equal(sum.failed, 2);
    /* the first failure is kept */
    assert_int_equal(sum.fail_status, 400);
    assert_string_equal(sum.fail_index, "products");
    assert_string_equal(sum.fail_id, "42");
    assert_string_equal(sum.fail_type, "mapper_parsing_exception");
    assert_string_equal(sum.fail_reason, "failed to parse field [price] of type [float] in document with id '42'. "
                                         "Preview of field's value: 'abc'");
}

static void test_delete_404_is_ok(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":1,\"errors\":false,\"items\":["
        "{\"delete\":{\"_index\":\"products\",\"_id\":\"9\",\"_version\":1,\"result\":\"not_found\","
        "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":7,\"_primary_term\":1,\"status\":404}}"
        "]}";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse(resp, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 1);
    assert_int_equal(sum.ok, 1);
    assert_int_equal(sum.failed, 0);
}

/* A 404 on an index action (index_not_found with auto-create off) is a failure. */
static void test_index_404_is_failure(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":1,\"errors\":true,\"items\":["
        "{\"index\":{\"_index\":\"missing\",\"_id\":\"1\",\"status\":404,\"error\":{"
        "\"type\":\"index_not_found_exception\",\"reason\":\"no such index [missing]\",\"index\":\"missing\"}}}"
        "]}";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse(resp, &sum, err, sizeof err), 0);
    assert_int_equal(sum.ok, 0);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.fail_status, 404);
    assert_string_equal(sum.fail_type, "index_not_found_exception");
}

static void test_429_item_failed(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":12,\"errors\":true,\"items\":["
        "{\"delete\":{\"_index\":\"products\",\"_id\":\"5\",\"status\":200,\"result\":\"deleted\"}},"
        "{\"index\":{\"_index\":\"products\",\"_id\":\"6\",\"status\":429,\"error\":{"
        "\"type\":\"es_rejected_execution_exception\","
        "\"reason\":\"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, "
        "replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=10]\"}}}"
        "]}";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse(resp, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 2);
    assert_int_equal(sum.ok, 1);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.fail_status, 429);
    assert_string_equal(sum.fail_id, "6");
    assert_string_equal(sum.fail_type, "es_rejected_execution_exception");
    assert_true(strncmp(sum.fail_reason, "rejected execution of coordinating operation", 44) == 0);
}

/* A long reason is cut to the field size, still terminated. */
static void test_long_reason_truncated(void **state)
{
    (void)state;
    char resp[2048];
    char reason[1001];
    memset(reason, 'r', 1000);
    reason[1000] = '\0';
    int n = snprintf(resp, sizeof resp,
                     "{\"items\":[{\"create\":{\"_index\":\"i\",\"_id\":\"1\",\"status\":400,\"error\":{"
                     "\"type\":\"mapper_parsing_exception\",\"reason\":\"%s\"}}}]}",
                     reason);
    assert_true(n > 0 && (size_t)n < sizeof resp);
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(sink_parse_response(resp, (size_t)n, &sum, err, sizeof err), 0);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.fail_status, 400);
    assert_int_equal(strlen(sum.fail_reason), sizeof sum.fail_reason - 1);
}

/* Item classes: what is done, retried, dead-lettered or fatal; per-item results filled in order. */
static void test_item_classes(void **state)
{
    (void)state;
    assert_int_equal(sink_classify_item("index", 201, ""), SINK_ITEM_OK);
    assert_int_equal(sink_classify_item("delete", 404, ""), SINK_ITEM_OK);
    assert_int_equal(sink_classify_item("index", 404, "index_not_found_exception"), SINK_ITEM_DEAD);
    assert_int_equal(sink_classify_item("index", 409, "version_conflict_engine_exception"), SINK_ITEM_OK);
    assert_int_equal(sink_classify_item("index", 429, "es_rejected_execution_exception"), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 503, "unavailable_shards_exception"), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 403, "cluster_block_exception"), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 403, "security_exception"), SINK_ITEM_FATAL);
    assert_int_equal(sink_classify_item("index", 400, "mapper_parsing_exception"), SINK_ITEM_DEAD);
    static const char resp[] =
        "{\"took\":3,\"errors\":true,\"items\":["
        "{\"index\":{\"_index\":\"p\",\"_id\":\"1\",\"status\":201}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
        "\"reason\":\"failed to parse field [qty]\"}}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"3\",\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\","
        "\"reason\":\"queue full\"}}},"
        "{\"delete\":{\"_index\":\"p\",\"_id\":\"4\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\","
        "\"reason\":\"v\"}}}]}";
    sink_item items[4];
    sink_summary sum = {.item = items, .item_cap = 4};
    char err[256] = "";
    assert_int_equal(sink_parse_response(resp, sizeof resp - 1, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 4);
    assert_int_equal(sum.ok, 2);
    assert_int_equal(sum.dead, 1);
    assert_int_equal(sum.retry, 1);
    assert_ptr_equal(sum.item, items);
    assert_int_equal(items[0].cls, SINK_ITEM_OK);
    assert_int_equal(items[1].cls, SINK_ITEM_DEAD);
    assert_int_equal(items[1].status, 400);
    assert_string_equal(items[1].type, "mapper_parsing_exception");
    assert_string_equal(items[1].reason, "failed to parse field [qty]");
    assert_int_equal(items[2].cls, SINK_ITEM_RETRY);
    assert_int_equal(items[3].cls, SINK_ITEM_OK);
}

static void test_empty_items(void **state)
{
    (void)state;
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(parse("{\"took\":0,\"errors\":false,\"items\":[]}", &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 0);
    assert_int_equal(sum.failed, 0);
}

static void test_not_a_bulk_response(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "garbage",
        "{\"took\":1,",
        "[1,2,3]",
        "\"items\"",
        /* an error response (HTTP 400 body), no items */
        ("{\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"The bulk request must "
         "be terminated by a newline [\\n]\"}],\"type\":\"illegal_argument_exception\"},\"status\":400}"),
        "{\"items\":{}}",
        "{\"items\":[1]}",
        "{\"items\":[{\"index\":{\"_id\":\"1\"}}]}",                       /* no status */
        "{\"items\":[{\"index\":{\"status\":\"200\"}}]}",                  /* status not a number */
        "{\"items\":[{\"index\":{\"status\":200.5}}]}",                    /* not an integer */
        "{\"items\":[{\"index\":{\"status\":201},\"delete\":{\"status\":200}}]}", /* two ops in one item */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sink_summary sum = {0};
        char err[256] = "";
        if (parse(bad[i], &sum, err, sizeof err) != -1)
            fail_msg("case %zu accepted: %s", i, bad[i]);
        if (err[0] == '\0')
            fail_msg("case %zu: no error message", i);
    }
    /* an embedded NUL is refused, not read as a shorter document */
    static const char nul[] = "{\"items\":[]}\0garbage";
    sink_summary sum = {0};
    char err[256] = "";
    assert_int_equal(sink_parse_response(nul, sizeof nul - 1, &sum, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    /* the length is honoured: only the first bytes are parsed */
    static const char longer[] = "{\"items\":[]}trailing";
    assert_int_equal(sink_parse_response(longer, 12, &sum, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_ok),
        cmocka_unit_test(test_mapper_parsing_exception),
        cmocka_unit_test(test_delete_404_is_ok),
        cmocka_unit_test(test_index_404_is_failure),
        cmocka_unit_test(test_429_item_failed),
        cmocka_unit_test(test_long_reason_truncated),
        cmocka_unit_test(test_item_classes),
        cmocka_unit_test(test_empty_items),
        cmocka_unit_test(test_not_a_bulk_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
