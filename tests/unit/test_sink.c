/* test_sink: sink_parse_response on _bulk responses shaped like the ones
 * Elasticsearch 8 / OpenSearch 2 return; the URL list and node choice
 * (sink/node.h), request headers, `GET /` version answers, gzip bodies and
 * secret redaction. No network beyond refused connections on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <zlib.h>

#include "config.h"
#include "sink/node.h"
#include "sink/sink.h"
#include "util/buf.h"

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

/* An item status outside 100-599 (here 2^31, which an int cast printed as
 * -2147483648) is a broken node or proxy: retried, never dead-lettered, and
 * the message shows the number as sent. */
static void test_item_status_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(sink_classify_item("index", 0, ""), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 99, ""), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 600, "mapper_parsing_exception"), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", -400, ""), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 599, ""), SINK_ITEM_RETRY);
    assert_int_equal(sink_classify_item("index", 100, ""), SINK_ITEM_DEAD);
    static const char resp[] =
        "{\"took\":1,\"errors\":true,\"items\":["
        "{\"index\":{\"_index\":\"p\",\"_id\":\"1\",\"status\":2147483648,\"error\":{\"type\":\"x\","
        "\"reason\":\"y\"}}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"2\",\"status\":-7}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"3\",\"status\":4294967497}}]}"; /* 2^32 + 201 */
    sink_item items[3];
    sink_summary sum = {.item = items, .item_cap = 3};
    char err[256] = "";
    assert_int_equal(sink_parse_response(resp, sizeof resp - 1, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 3);
    assert_int_equal(sum.ok, 0);
    assert_int_equal(sum.retry, 3);
    assert_int_equal(sum.dead, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].cls, SINK_ITEM_RETRY);
        assert_int_equal(items[i].status, 0);
        assert_string_equal(items[i].type, "invalid_item_status");
    }
    assert_string_equal(items[0].reason,
                        "item status 2147483648 is not an HTTP status (100-599): a broken node or proxy; retried");
    assert_non_null(strstr(items[1].reason, "item status -7 is not"));
    assert_non_null(strstr(items[2].reason, "item status 4294967497 is not"));
    assert_int_equal(sum.fail_status, 0);
    assert_non_null(strstr(sum.fail_reason, "2147483648"));
    assert_null(strstr(sum.fail_reason, "-2147483648"));
}

/* Index names in URL paths: one segment, percent-encoded, so "%2a" reaches
 * the node as "%2a" (not the wildcard "*"), and no name can add a path. */
static void test_path_segment(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(sink_path_segment("shop-%2a", out, sizeof out), 0);
    assert_string_equal(out, "shop-%252a");
    assert_int_equal(sink_path_segment("orders.v1_a~b-2", out, sizeof out), 0);
    assert_string_equal(out, "orders.v1_a~b-2"); /* unreserved bytes stay */
    assert_int_equal(sink_path_segment("a*b,c/d?e#f g\\h:i\"", out, sizeof out), 0);
    assert_string_equal(out, "a%2Ab%2Cc%2Fd%3Fe%23f%20g%5Ch%3Ai%22");
    assert_int_equal(sink_path_segment("_all", out, sizeof out), 0);
    assert_string_equal(out, "_all");
    assert_int_equal(sink_path_segment("\xc3\xa9\x01", out, sizeof out), 0);
    assert_string_equal(out, "%C3%A9%01");
    assert_int_equal(sink_path_segment("", out, sizeof out), -1);
    assert_int_equal(sink_path_segment(".", out, sizeof out), -1);
    assert_int_equal(sink_path_segment("..", out, sizeof out), -1);
    assert_string_equal(out, "");
    /* exactly fitting, and one byte short */
    assert_int_equal(sink_path_segment("%%", out, 7), 0);
    assert_string_equal(out, "%25%25");
    assert_int_equal(sink_path_segment("%%", out, 6), -1);
    assert_string_equal(out, "");
    assert_int_equal(sink_path_segment("abc", out, 3), -1);
    assert_int_equal(sink_path_segment("abc", out, 0), -1);

    char path[3 * CFG_INDEX_MAX + 64];
    assert_int_equal(sink_index_path("shop-%2a", "/_delete_by_query?conflicts=proceed", path, sizeof path), 0);
    assert_string_equal(path, "/shop-%252a/_delete_by_query?conflicts=proceed");
    assert_int_equal(sink_index_path("a b", "", path, sizeof path), 0);
    assert_string_equal(path, "/a%20b");
    assert_int_equal(sink_index_path("..", "/_doc/1", path, sizeof path), -1);
    assert_string_equal(path, "");
    assert_int_equal(sink_index_path("abc", "/x", path, 7), 0);
    assert_string_equal(path, "/abc/x");
    assert_int_equal(sink_index_path("abc", "/xy", path, 7), -1);
    /* the longest valid name, every byte escaped, fits the buffers the callers use */
    char longest[CFG_INDEX_MAX + 1];
    memset(longest, '%', CFG_INDEX_MAX);
    longest[CFG_INDEX_MAX] = '\0';
    assert_int_equal(sink_index_path(longest, "", path, sizeof path), 0);
    assert_int_equal(strlen(path), 1 + 3 * CFG_INDEX_MAX);
}

/* The answer to sink_bulk's filter_path (only errors, _index, _id, status
 * and error.type/reason), as OpenSearch 2.19 and Elasticsearch 7.17 send
 * it: every item, in order, with its operation. */
static void test_filtered_response(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"errors\":true,\"items\":[{\"index\":{\"_index\":\"fp\",\"_id\":\"1\",\"status\":201}},"
        "{\"index\":{\"_index\":\"fp\",\"_id\":\"2\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
        "\"reason\":\"failed to parse field [n]\"}}},"
        "{\"index\":{\"_index\":\"fp\",\"_id\":\"1\",\"status\":409,\"error\":{\"type\":"
        "\"version_conflict_engine_exception\",\"reason\":\"[1]: version conflict\"}}},"
        "{\"delete\":{\"_index\":\"fp\",\"_id\":\"nope\",\"status\":404}},"
        "{\"create\":{\"_index\":\"fp\",\"_id\":\"3\",\"status\":201}},"
        "{\"update\":{\"_index\":\"fp\",\"_id\":\"zz\",\"status\":404,\"error\":{\"type\":\"document_missing_exception\","
        "\"reason\":\"[zz]: document missing\"}}}]}";
    sink_item items[6];
    sink_summary sum = {.item = items, .item_cap = 6};
    char err[256] = "";
    assert_int_equal(sink_parse_response(resp, sizeof resp - 1, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 6);
    assert_int_equal(sum.ok, 4);
    assert_int_equal(sum.dead, 2);
    static const int status[] = {201, 400, 409, 404, 201, 404};
    static const sink_item_class cls[] = {SINK_ITEM_OK, SINK_ITEM_DEAD, SINK_ITEM_OK,
                                          SINK_ITEM_OK, SINK_ITEM_OK,   SINK_ITEM_DEAD};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(items[i].status, status[i]);
        assert_int_equal(items[i].cls, cls[i]);
    }
    assert_string_equal(items[2].type, "version_conflict_engine_exception");
    assert_string_equal(items[5].type, "document_missing_exception");
    assert_string_equal(items[5].reason, "[zz]: document missing");
    assert_string_equal(sum.fail_id, "2");
    assert_string_equal(sum.fail_index, "fp");
}

/* Fields the items are not judged by are skipped whatever their shape
 * (objects, arrays, nested errors); the first of a repeated key counts;
 * a value of the wrong kind is not taken. */
static void test_response_skips_the_rest(void **state)
{
    (void)state;
    static const char resp[] =
        "{\"took\":{\"items\":[1]},\"x\":[{\"status\":1},[[]],null,true,1.5e3,\"s\"],\"errors\":true,\"items\":["
        "{\"index\":{\"_shards\":{\"status\":500,\"error\":{\"type\":\"no\"}},\"status\":400,\"status\":201,"
        "\"_id\":7,\"_index\":[\"no\"],\"error\":{\"caused_by\":{\"type\":\"inner\",\"reason\":\"inner\"},"
        "\"root_cause\":[{\"type\":\"rc\"}],\"type\":\"mapper_parsing_exception\",\"reason\":{\"no\":1},"
        "\"reason\":\"outer\"}}}],\"items\":[1]}";
    sink_item items[1];
    sink_summary sum = {.item = items, .item_cap = 1};
    char err[256] = "";
    assert_int_equal(sink_parse_response(resp, sizeof resp - 1, &sum, err, sizeof err), 0);
    assert_int_equal(sum.items, 1);
    assert_int_equal(items[0].status, 400);
    assert_int_equal(items[0].cls, SINK_ITEM_DEAD);
    assert_string_equal(items[0].type, "mapper_parsing_exception");
    assert_string_equal(items[0].reason, "outer");
    assert_string_equal(sum.fail_id, "7");
    assert_string_equal(sum.fail_index, "");
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

/* ---------------------------------------------------------------- URL list */
static void test_url_list(void **state)
{
    (void)state;
    node_list l;
    char err[256] = "";
    assert_int_equal(node_list_parse(&l, " http://a:9200, https://u:topsecret@b:9201/prefix/ ,http://c", err,
                                     sizeof err),
                     0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].base, "http://a:9200");
    assert_string_equal(l.v[1].base, "https://u:topsecret@b:9201/prefix");
    assert_string_equal(l.v[1].shown, "https://b:9201/prefix");
    assert_string_equal(l.v[2].base, "http://c");
    node_list_free(&l);

    assert_int_equal(node_list_parse(&l, "http://one/", err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].base, "http://one");
    node_list_free(&l);

    static const struct {
        const char *urls;
        const char *msg;
    } bad[] = {
        {"", "empty entry"},
        {"http://a,", "empty entry"},
        {"http://a,,http://b", "empty entry"},
        {"ftp://u:topsecret@x", "'ftp://x' must start with http:// or https://"},
        {"127.0.0.1:9200", "must start with http://"},
        {"http://", "names no host"},
        {"https://:9200", "names no host"},
        {"http://a,https://", "names no host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(node_list_parse(&l, bad[i].urls, err, sizeof err), -1);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("%s: got '%s', expected '%s'", bad[i].urls, err, bad[i].msg);
        assert_null(strstr(err, "topsecret"));
        assert_int_equal(l.n, 0);
    }
    char many[1024] = "";
    size_t off = 0;
    for (int i = 0; i <= NODE_MAX; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "%shttp://h%d", i ? "," : "", i);
    assert_int_equal(node_list_parse(&l, many, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 16 URLs"));
}

static void test_shown_url(void **state)
{
    (void)state;
    char out[128];
    static const char *cases[][2] = {
        {"http://host:9200", "http://host:9200"},
        {"https://user:pa@ss@host/x@y", "https://host/x@y"},
        {"http://user@host", "http://host"},
        {"host:9200", "host:9200"},
        {"http://h?q=a@b", "http://h?q=a@b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        node_shown_url(cases[i][0], strlen(cases[i][0]), out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
    node_shown_url("http://a:b@averyveryverylonghost", 33, out, 10);
    assert_string_equal(out, "http://av");
}

static void test_round_robin_and_skip(void **state)
{
    (void)state;
    node_list l;
    char err[128];
    assert_int_equal(node_list_parse(&l, "http://a,http://b,http://c", err, sizeof err), 0);
    uint64_t t = 100000;
    /* round-robin */
    assert_int_equal(node_pick(&l, t, 0, 1), 0);
    assert_int_equal(node_pick(&l, t, 0, 1), 1);
    assert_int_equal(node_pick(&l, t, 0, 1), 2);
    assert_int_equal(node_pick(&l, t, 0, 1), 0);
    /* b fails: skipped for NODE_SKIP_MIN_MS, then doubling, capped */
    assert_int_equal(node_failed(&l, 1, t), NODE_SKIP_MIN_MS);
    assert_int_equal(node_pick(&l, t, 0, 1), 2);
    assert_int_equal(node_pick(&l, t, 0, 1), 0);
    assert_int_equal(node_pick(&l, t, 0, 1), 2);
    /* within one request: the nodes already tried are not picked again */
    assert_int_equal(node_pick(&l, t, 1u << 0, 0), 2);
    assert_int_equal(node_pick(&l, t, (1u << 0) | (1u << 2), 0), -1); /* b is skipped: no other healthy node */
    assert_int_equal(node_pick(&l, t, (1u << 0) | (1u << 2), 1), 1);  /* unless any node will do */
    /* once the skip is over b is back in the rotation */
    t += NODE_SKIP_MIN_MS;
    int seen_b = 0;
    for (int k = 0; k < 3; k++)
        seen_b |= node_pick(&l, t, 0, 1) == 1;
    assert_true(seen_b);
    assert_int_equal(node_failed(&l, 1, t), 2 * NODE_SKIP_MIN_MS);
    uint64_t last = 0;
    for (int k = 0; k < 20; k++)
        last = node_failed(&l, 1, t);
    assert_int_equal(last, NODE_SKIP_MAX_MS);
    assert_int_equal(node_ok(&l, 1), 1); /* it was failing: back */
    assert_int_equal(node_ok(&l, 1), 0);
    assert_int_equal(node_failed(&l, 1, t), NODE_SKIP_MIN_MS); /* a success resets the skip */
    /* every node skipped: the request still goes, to the one whose skip ends first */
    node_failed(&l, 0, t + 500);
    node_failed(&l, 2, t + 200);
    assert_int_equal(node_pick(&l, t + 300, 0, 0), -1);
    assert_int_equal(node_pick(&l, t + 300, 0, 1), 1);
    assert_int_equal(node_pick(&l, t + 300, 1u << 1, 1), 2);
    node_list_free(&l);

    /* one node: always that one */
    assert_int_equal(node_list_parse(&l, "http://only", err, sizeof err), 0);
    node_failed(&l, 0, 5);
    assert_int_equal(node_pick(&l, 6, 0, 1), 0);
    node_list_free(&l);
}

/* ---------------------------------------------------------------- headers */
static int has_header(const struct curl_slist *h, const char *line)
{
    for (; h != NULL; h = h->next)
        if (strcmp(h->data, line) == 0)
            return 1;
    return 0;
}

static size_t count_headers(const struct curl_slist *h)
{
    size_t n = 0;
    for (; h != NULL; h = h->next)
        n++;
    return n;
}

static void test_headers(void **state)
{
    (void)state;
    struct curl_slist *h = sink_build_headers("application/x-ndjson", 1, "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
    assert_non_null(h);
    assert_true(has_header(h, "Content-Type: application/x-ndjson"));
    assert_true(has_header(h, "Expect:"));
    assert_true(has_header(h, "Content-Encoding: gzip"));
    assert_true(has_header(h, "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="));
    assert_int_equal(count_headers(h), 4);
    curl_slist_free_all(h);

    h = sink_build_headers("application/json", 0, "");
    assert_true(has_header(h, "Content-Type: application/json"));
    assert_false(has_header(h, "Content-Encoding: gzip"));
    assert_int_equal(count_headers(h), 2);
    curl_slist_free_all(h);

    h = sink_build_headers(NULL, 0, NULL);
    assert_int_equal(count_headers(h), 1); /* Expect: only */
    curl_slist_free_all(h);
}

/* ---------------------------------------------------------------- GET / */
static void test_version_parse(void **state)
{
    (void)state;
    sink_info in;
    char err[256] = "";
    static const char os2[] =
        "{\"name\":\"node-1\",\"cluster_name\":\"opensearch\",\"cluster_uuid\":\"x\",\"version\":{"
        "\"distribution\":\"opensearch\",\"number\":\"2.19.1\",\"build_type\":\"tar\",\"build_hash\":\"h\","
        "\"build_date\":\"2025-02-27T01:16:47.726162386Z\",\"build_snapshot\":false,\"lucene_version\":\"9.12.1\","
        "\"minimum_wire_compatibility_version\":\"7.10.0\",\"minimum_index_compatibility_version\":\"7.0.0\"},"
        "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}";
    assert_int_equal(sink_parse_version(os2, sizeof os2 - 1, &in, err, sizeof err), 0);
    assert_int_equal(in.detected, 1);
    assert_int_equal(in.flavour, SINK_FLAVOUR_OPENSEARCH);
    assert_int_equal(in.major, 2);
    assert_int_equal(in.minor, 19);
    assert_string_equal(in.number, "2.19.1");
    assert_string_equal(sink_flavour_name(in.flavour), "opensearch");
    assert_int_equal(sink_version_check(&in, err, sizeof err), 0);

    static const char es8[] =
        "{\"name\":\"es\",\"cluster_name\":\"docker-cluster\",\"version\":{\"number\":\"8.15.0\","
        "\"build_flavor\":\"default\",\"build_type\":\"docker\",\"lucene_version\":\"9.11.1\"},"
        "\"tagline\":\"You Know, for Search\"}";
    assert_int_equal(sink_parse_version(es8, sizeof es8 - 1, &in, err, sizeof err), 0);
    assert_int_equal(in.flavour, SINK_FLAVOUR_ELASTICSEARCH);
    assert_int_equal(in.major, 8);
    assert_int_equal(in.minor, 15);
    assert_int_equal(sink_version_check(&in, err, sizeof err), 0);

    static const char es7[] = "{\"version\":{\"number\":\"7.17.3\",\"build_flavor\":\"default\"}}";
    assert_int_equal(sink_parse_version(es7, sizeof es7 - 1, &in, err, sizeof err), 0);
    assert_int_equal(in.major, 7);
    assert_int_equal(sink_version_check(&in, err, sizeof err), 0);

    static const char es6[] = "{\"version\":{\"number\":\"6.8.23\"},\"tagline\":\"You Know, for Search\"}";
    assert_int_equal(sink_parse_version(es6, sizeof es6 - 1, &in, err, sizeof err), 0);
    assert_int_equal(in.major, 6);
    assert_int_equal(sink_version_check(&in, err, sizeof err), -1);
    assert_non_null(strstr(err, "Elasticsearch 6.8.23 is not supported"));
    assert_non_null(strstr(err, "_type"));

    /* OpenSearch 1.x speaks the 7.x API: accepted */
    static const char os1[] = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"1.3.19\"}}";
    assert_int_equal(sink_parse_version(os1, sizeof os1 - 1, &in, err, sizeof err), 0);
    assert_int_equal(sink_version_check(&in, err, sizeof err), 0);

    static const char *bad[] = {
        "", "<html>401</html>", "[]", "{}", "{\"version\":{}}", "{\"version\":{\"number\":7}}",
        "{\"version\":{\"number\":\"abc\"}}", "{\"version\":{\"number\":\"7\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sink_parse_version(bad[i], strlen(bad[i]), &in, err, sizeof err), -1);
        assert_int_equal(in.detected, 0);
        assert_true(err[0] != '\0');
    }
    static const char nul[] = "{\"version\":{\"number\":\"7.1.0\"}}\0x";
    assert_int_equal(sink_parse_version(nul, sizeof nul - 1, &in, err, sizeof err), -1);
}

/* ---------------------------------------------------------------- gzip */
static void gunzip(const ce_buf *z, uint8_t *out, size_t cap, size_t *len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip wrapper only */
    zs.next_in = z->data;
    zs.avail_in = (uInt)z->len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *len = zs.total_out;
    assert_int_equal(zs.avail_in, 0);
    inflateEnd(&zs);
}

static void test_gzip_roundtrip(void **state)
{
    (void)state;
    size_t n = 300000;
    char *body = malloc(n);
    uint8_t *back = malloc(n + 16);
    assert_non_null(body);
    assert_non_null(back);
    size_t off = 0;
    for (unsigned i = 0; off + 200 < n; i++)
        off += (size_t)snprintf(body + off, n - off,
                                "{\"index\":{\"_index\":\"products\",\"_id\":\"%u\"}}\n{\"id\":%u,\"name\":\"item %u\","
                                "\"price\":\"%u.%02u\"}\n",
                                i, i, i * 7919u, i, i % 100);
    ce_buf z;
    ce_buf_init(&z, (size_t)1 << 30);
    char err[128] = "";
    assert_int_equal(sink_gzip(body, off, &z, err, sizeof err), 0);
    assert_true(z.len > 18 && z.len < off / 3); /* NDJSON compresses well */
    assert_int_equal(z.data[0], 0x1f);        /* gzip magic, deflate */
    assert_int_equal(z.data[1], 0x8b);
    assert_int_equal(z.data[2], 8);
    size_t len = 0;
    gunzip(&z, back, n + 16, &len);
    assert_int_equal(len, off);
    assert_memory_equal(back, body, off);

    /* the buffer is reused: a second, empty body replaces the first */
    assert_int_equal(sink_gzip("", 0, &z, err, sizeof err), 0);
    gunzip(&z, back, n, &len);
    assert_int_equal(len, 0);

    /* a cap too small for the output fails with a message, not a crash */
    ce_buf tiny;
    ce_buf_init(&tiny, 8);
    assert_int_equal(sink_gzip(body, off, &tiny, err, sizeof err), -1);
    assert_non_null(strstr(err, "gzip"));
    ce_buf_free(&tiny);
    ce_buf_free(&z);
    free(body);
    free(back);
}

/* ---------------------------------------------------------------- secrets */
static void test_redact(void **state)
{
    (void)state;
    char msg[128];
    snprintf(msg, sizeof msg, "user elastic password hunter22 echoed: hunter22hunter22!");
    sink_redact(msg, "hunter22");
    assert_string_equal(msg, "user elastic password *** echoed: ******!");
    snprintf(msg, sizeof msg, "a b c");
    sink_redact(msg, "b"); /* too short to tell from ordinary text */
    assert_string_equal(msg, "a b c");
    sink_redact(msg, NULL);
    sink_redact(msg, "");
    assert_string_equal(msg, "a b c");
}

static void test_open_and_unreachable_nodes(void **state)
{
    (void)state;
    char err[1024] = "";
    sink_opts bad = {.url = "http://ok:9200,ftp://u:topsecret@x", .timeout_ms = 1000, .password = "topsecret2"};
    assert_null(sink_open(&bad, err, sizeof err));
    assert_non_null(strstr(err, "ftp://x"));
    assert_null(strstr(err, "topsecret"));

    sink_opts ctl = {.url = "http://h", .timeout_ms = 1000, .api_key = "abc\r\nX-Evil: 1"};
    assert_null(sink_open(&ctl, err, sizeof err));
    assert_non_null(strstr(err, "control characters"));
    assert_null(strstr(err, "Evil"));

    /* two nodes on loopback ports nobody listens on: refused at once */
    sink_opts o = {.url = "http://u:topsecret@127.0.0.1:1/, http://127.0.0.1:2", .timeout_ms = 2000,
                   .username = "elastic", .password = "hunter22", .gzip = 1};
    sink *s = sink_open(&o, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(sink_node_info(s).detected, 0);
    assert_string_equal(sink_base_url(s), "http://127.0.0.1:1");
    assert_int_equal(sink_detect(s, err, sizeof err), SINK_RETRY);
    assert_non_null(strstr(err, "GET http://127.0.0.1:2/: ")); /* failed over to the second, which failed too */
    assert_null(strstr(err, "topsecret"));
    assert_null(strstr(err, "hunter22"));
    sink_summary sum = {0};
    static const char body[] = "{\"delete\":{\"_index\":\"i\",\"_id\":\"1\"}}\n";
    /* the version is asked first, from the node whose turn it is */
    assert_int_equal(sink_bulk(s, body, sizeof body - 1, 1, &sum, err, sizeof err), SINK_RETRY);
    assert_non_null(strstr(err, "GET http://127.0.0.1:"));
    assert_null(strstr(err, "topsecret"));
    char want[128];
    snprintf(want, sizeof want, "GET %s: ", sink_last_url(s)); /* the message names the URL used */
    assert_memory_equal(err, want, strlen(want));
    sink_free(s);
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
        cmocka_unit_test(test_item_status_out_of_range),
        cmocka_unit_test(test_path_segment),
        cmocka_unit_test(test_empty_items),
        cmocka_unit_test(test_not_a_bulk_response),
        cmocka_unit_test(test_url_list),
        cmocka_unit_test(test_shown_url),
        cmocka_unit_test(test_round_robin_and_skip),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_gzip_roundtrip),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_filtered_response),
        cmocka_unit_test(test_response_skips_the_rest),
        cmocka_unit_test(test_open_and_unreachable_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
