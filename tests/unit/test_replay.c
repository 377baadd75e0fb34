/* test_replay: dead-letter lines → the `_bulk` NDJSON they are replayed as,
 * bad lines and their reasons, the rewrite of a line that still fails, the
 * classification of item results, and a round trip through the real
 * dead-letter writer (map_row → bulk_append → dl_write → replay). No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#include "bulk/bulk.h"
#include "config.h"
#include "decode/decode.h"
#include "map/map.h"
#include "replay.h"
#include "sink/dlline.h"
#include "sink/deadletter.h"
#include "util/buf.h"
#include "util/mem.h"

#define HEAD "{\"time\":\"2024-05-01T10:00:00.000Z\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\"," \
             "\"reason\":\"failed to parse field [qty]\"},\"table\":\"shop.items\",\"binlog\":{\"file\":"          \
             "\"mysql-bin.000003\",\"offset\":4567},\"source_time_ms\":1714557600000,"
#define ACT2 "{\"index\":{\"_index\":\"items\",\"_id\":\"2\",\"version\":25769808331,\"version_type\":\"external\"}}"

/* Converts line; on success the NDJSON must equal want (want NULL: must fail
 * with a reason containing why). */
static void expect(const char *line, size_t len, const char *want, const char *why)
{
    ce_buf out;
    ce_buf_init(&out, (size_t)1 << 30);
    assert_int_equal(ce_buf_append(&out, "KEEP", 4), 0); /* what was there before stays */
    dlline_entry e;
    char err[512] = "";
    int rc = dlline_to_ndjson(line, len, &out, &e, err, sizeof err);
    if (want != NULL) {
        if (rc != 0)
            fail_msg("line refused: %s\n%.*s", err, (int)(len > 300 ? 300 : len), line);
        size_t n = strlen(want);
        if (out.len != 4 + n || memcmp(out.data + 4, want, n) != 0)
            fail_msg("NDJSON differs:\n got: %.*s\nwant: %s", (int)(out.len - 4), (const char *)out.data + 4, want);
    } else {
        if (rc == 0)
            fail_msg("line accepted, expected '%s': %.*s", why, (int)(out.len - 4), (const char *)out.data + 4);
        assert_int_equal(out.len, 4);
        if (strstr(err, why) == NULL)
            fail_msg("reason '%s' does not say '%s'", err, why);
    }
    assert_memory_equal(out.data, "KEEP", 4);
    ce_buf_free(&out);
}

#define OK(line, want) expect((line), sizeof(line) - 1, (want), NULL)
#define BAD(line, why) expect((line), sizeof(line) - 1, NULL, (why))

static void test_index_line(void **state)
{
    (void)state;
    OK(HEAD "\"action\":" ACT2 ",\"document\":{\"id\":2,\"qty\":\"not a number\",\"price\":9.90,\"ok\":true,"
            "\"n\":null,\"tags\":[\"a\",[],{}]}}",
       ACT2 "\n{\"id\":2,\"qty\":\"not a number\",\"price\":9.90,\"ok\":true,\"n\":null,\"tags\":[\"a\",[],{}]}\n");
    dlline_entry e;
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    char err[256] = "";
    static const char line[] = HEAD "\"action\":" ACT2 ",\"document\":{\"id\":2}}";
    assert_int_equal(dlline_to_ndjson(line, sizeof line - 1, &out, &e, err, sizeof err), 0);
    assert_int_equal(e.op, DLLINE_OP_INDEX);
    assert_string_equal(e.index, "items");
    assert_string_equal(e.id, "2");
    assert_true(e.has_version);
    assert_true(e.version == 25769808331LL);
    assert_string_equal(e.version_type, "external");
    assert_true(e.has_document);
    ce_buf_free(&out);
}

/* Whitespace and member order of a hand-edited line do not matter; the
 * action line comes first. Members other than action/document are ignored. */
static void test_member_order_and_spaces(void **state)
{
    (void)state;
    OK(" { \"document\" : { \"b\" : [ 1 , 2 ] } ,\r\n \"extra\": {\"action\": 1}, \"action\" : { \"create\" : "
       "{ \"_index\" : \"i\" , \"_id\" : \"x\" } } } \r",
       "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"b\":[1,2]}\n");
    /* versioning = off: no version at all */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{}\n");
    /* other action metadata (routing) is kept */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"routing\":\"r\"}},\"document\":{\"a\":1}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"routing\":\"r\"}}\n{\"a\":1}\n");
}

static void test_delete_lines(void **state)
{
    (void)state;
    static const char del[] = "{\"delete\":{\"_index\":\"items\",\"_id\":\"9\",\"version\":7,\"version_type\":\"external\"}}";
    OK(HEAD "\"action\":" "{\"delete\":{\"_index\":\"items\",\"_id\":\"9\",\"version\":7,\"version_type\":\"external\"}}"
            ",\"document\":null}",
       "{\"delete\":{\"_index\":\"items\",\"_id\":\"9\",\"version\":7,\"version_type\":\"external\"}}\n");
    /* without a "document" member at all */
    char line[512];
    snprintf(line, sizeof line, "{\"action\":%s}", del);
    char want[512];
    snprintf(want, sizeof want, "%s\n", del);
    expect(line, strlen(line), want, NULL);
    BAD("{\"action\":{\"delete\":{\"_index\":\"i\",\"_id\":\"9\"}},\"document\":{\"id\":9}}",
        "a delete action has no document");
    BAD("{\"action\":{\"delete\":{\"_index\":\"i\",\"_id\":\"9\"}},\"document\":0}", "a delete action has no document");
    dlline_entry e;
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    char err[256] = "";
    assert_int_equal(dlline_to_ndjson(line, strlen(line), &out, &e, err, sizeof err), 0);
    assert_int_equal(e.op, DLLINE_OP_DELETE);
    assert_false(e.has_document);
    assert_string_equal(e.id, "9");
    ce_buf_free(&out);
}

static void test_not_json(void **state)
{
    (void)state;
    BAD("{not json", "not valid JSON");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":1}", "not valid JSON");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":1}} trailing", "not valid JSON");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":1}}{}", "not valid JSON");
    BAD("[{\"action\":{}}]", "not a JSON object");
    BAD("\"text\"", "not a JSON object");
    BAD("42", "not a JSON object");
    BAD("null", "not a JSON object");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":'x'}}", "not valid JSON");
    /* a raw NUL byte and a raw control character */
    expect("{\"a\":\"x\0y\"}", 12, NULL, "not valid JSON");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":\"x\001\"}}", "not valid JSON");
    /* invalid UTF-8 (a lone continuation byte, an overlong encoding) */
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":\"\x80\"}}", "not valid JSON");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":\"\xc0\xaf\"}}", "invalid UTF-8");
    /* an escaped lone surrogate is decoded by yajl as '?' (the service never writes one: value.c repairs them) */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"a\":\"\\ud800\"}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"a\":\"?\"}\n");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"\xed\xa0\x80\":1}}", "invalid UTF-8");
    /* the reason says where */
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    dlline_entry e;
    char err[256] = "";
    static const char line[] = "{\"action\": nope}";
    assert_int_equal(dlline_to_ndjson(line, sizeof line - 1, &out, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "near byte"));
    ce_buf_free(&out);
}

static void test_missing_fields(void **state)
{
    (void)state;
    BAD("{}", "no \"action\"");
    BAD(HEAD "\"document\":{\"a\":1}}", "no \"action\"");
    BAD("{\"action\":null,\"document\":{}}", "\"action\" must be an object");
    BAD("{\"action\":\"index\",\"document\":{}}", "\"action\" must be an object");
    BAD("{\"action\":{},\"document\":{}}", "\"action\" must be an object with one member");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"},\"delete\":{\"_index\":\"i\",\"_id\":\"1\"}}}",
        "one member");
    BAD("{\"action\":{\"upsert\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{}}", "unknown action \"upsert\"");
    BAD("{\"action\":{\"index\":[]},\"document\":{}}", "\"action\".index must be an object");
    BAD("{\"action\":{\"index\":{\"_id\":\"1\"}},\"document\":{}}", "no _index");
    BAD("{\"action\":{\"index\":{\"_index\":\"\",\"_id\":\"1\"}},\"document\":{}}", "no _index");
    BAD("{\"action\":{\"index\":{\"_index\":5,\"_id\":\"1\"}},\"document\":{}}", "no _index");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\"}},\"document\":{}}", "no _id");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"\"}},\"document\":{}}", "no _id");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":1}},\"document\":{}}", "no _id");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":\"12\"}},\"document\":{}}",
        "version must be a non-negative integer");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":-1}},\"document\":{}}",
        "version must be a non-negative integer");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":1.5}},\"document\":{}}",
        "version must be a non-negative integer");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":99999999999999999999}},\"document\":{}}",
        "version must be a non-negative integer");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":1,\"version_type\":1}},\"document\":{}}",
        "version_type must be a string");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}}", "\"document\" is missing");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":null}", "\"document\" is null");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":[1]}", "not an object");
    BAD("{\"action\":{\"update\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":\"x\"}", "not an object");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"2\"}},"
        "\"document\":{}}",
        "\"action\" appears twice");
    BAD("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{},\"document\":{}}",
        "\"document\" appears twice");
}

static void test_unicode(void **state)
{
    (void)state;
    /* escapes become UTF-8; UTF-8 stays as it is; control characters stay escaped */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"\\u4e2d\"}},\"document\":{\"s\":\"\\u00e9\\ud83d\\ude00 "
       "中文 😀 𝄞\",\"c\":\"tab\\tnl\\nq\\\"bs\\\\sl\\/\",\"\\u00fc\":1}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"中\"}}\n{\"s\":\"é😀 中文 😀 𝄞\",\"c\":\"tab\\tnl\\nq\\\"bs\\\\sl/\","
       "\"ü\":1}\n");
    /* a NUL escape in a value and in a key is kept (yajl_tree would cut the string there) */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"s\":\"a\\u0000b\",\"k\\u0000\":\"\\u001f\"}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"s\":\"a\\u0000b\",\"k\\u0000\":\"\\u001F\"}\n");
}

static void test_huge_values(void **state)
{
    (void)state;
    /* numbers are written as they were: no rounding, no overflow */
    OK("{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":9223372036854775807,\"version_type\":\"external\"}},"
       "\"document\":{\"u\":18446744073709551615,\"n\":-9223372036854775808,\"big\":123456789012345678901234567890,"
       "\"e\":1e400,\"d\":-0.000000000000000000000000000001,\"f\":3.141592653589793238462643383279}}",
       "{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"version\":9223372036854775807,\"version_type\":\"external\"}}\n"
       "{\"u\":18446744073709551615,\"n\":-9223372036854775808,\"big\":123456789012345678901234567890,"
       "\"e\":1e400,\"d\":-0.000000000000000000000000000001,\"f\":3.141592653589793238462643383279}\n");

    /* a 20 MB string value */
    size_t big = (size_t)20 << 20;
    static const char pre[] = "{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"blob\":\"";
    static const char post[] = "\"}}";
    size_t len = sizeof pre - 1 + big + sizeof post - 1;
    char *line = malloc(len);
    assert_non_null(line);
    memcpy(line, pre, sizeof pre - 1);
    memset(line + sizeof pre - 1, 'x', big);
    memcpy(line + sizeof pre - 1 + big, post, sizeof post - 1);
    ce_buf out;
    ce_buf_init(&out, (size_t)1 << 30);
    dlline_entry e;
    char err[256] = "";
    assert_int_equal(dlline_to_ndjson(line, len, &out, &e, err, sizeof err), 0);
    static const char act[] = "{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"blob\":\"";
    assert_int_equal(out.len, sizeof act - 1 + big + 3);
    assert_memory_equal(out.data, act, sizeof act - 1);
    assert_memory_equal(out.data + out.len - 3, "\"}\n", 3);

    /* an output buffer too small: refused, left as it was */
    ce_buf small;
    ce_buf_init(&small, 1 << 20);
    assert_int_equal(ce_buf_append(&small, "abc", 3), 0);
    assert_int_equal(dlline_to_ndjson(line, len, &small, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not fit"));
    assert_int_equal(small.len, 3);
    ce_buf_free(&small);
    ce_buf_free(&out);
    free(line);
}

/* Nesting: yajl_gen stops at 128 levels; the line is bad, not truncated. */
static void test_deep_nesting(void **state)
{
    (void)state;
    char line[2048];
    for (int depth = 100; depth <= 200; depth += 100) {
        int n = snprintf(line, sizeof line, "{\"action\":{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}},\"document\":{\"j\":");
        for (int i = 0; i < depth; i++)
            line[n++] = '[';
        for (int i = 0; i < depth; i++)
            line[n++] = ']';
        line[n++] = '}';
        line[n++] = '}';
        ce_buf out;
        ce_buf_init(&out, 1 << 20);
        dlline_entry e;
        char err[256] = "";
        int rc = dlline_to_ndjson(line, (size_t)n, &out, &e, err, sizeof err);
        if (depth == 100) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "nested deeper than 128"));
            assert_int_equal(out.len, 0);
        }
        ce_buf_free(&out);
    }
}

/* A line that still fails gets the new time/status/error, everything else as it was. */
static void test_rewrite(void **state)
{
    (void)state;
    static const char line[] = HEAD "\"action\":" ACT2 ",\"document\":{\"id\":2,\"s\":\"a\\u0000b\",\"u\":18446744073709551615}}";
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    char err[256] = "";
    assert_int_equal(dlline_rewrite(line, sizeof line - 1, "2025-01-02T03:04:05.678Z", 400,
                                         "document_parsing_exception", "bad \"qty\" 中", &out, err, sizeof err),
                     0);
    static const char want[] =
        "{\"time\":\"2025-01-02T03:04:05.678Z\",\"status\":400,\"error\":{\"type\":\"document_parsing_exception\","
        "\"reason\":\"bad \\\"qty\\\" 中\"},\"table\":\"shop.items\",\"binlog\":{\"file\":\"mysql-bin.000003\","
        "\"offset\":4567},\"source_time_ms\":1714557600000,\"action\":" ACT2
        ",\"document\":{\"id\":2,\"s\":\"a\\u0000b\",\"u\":18446744073709551615}}\n";
    if (out.len != sizeof want - 1 || memcmp(out.data, want, out.len) != 0)
        fail_msg("rewrite differs:\n got: %.*s\nwant: %s", (int)out.len, (const char *)out.data, want);
    /* and it replays as the original did */
    ce_buf a, b;
    ce_buf_init(&a, 1 << 20);
    ce_buf_init(&b, 1 << 20);
    dlline_entry e;
    assert_int_equal(dlline_to_ndjson(line, sizeof line - 1, &a, &e, err, sizeof err), 0);
    assert_int_equal(dlline_to_ndjson((const char *)out.data, out.len - 1, &b, &e, err, sizeof err), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* a line without time/status/error gets them */
    ce_buf_reset(&out);
    static const char bare[] = "{\"action\":{\"delete\":{\"_index\":\"i\",\"_id\":\"1\"}}}";
    assert_int_equal(dlline_rewrite(bare, sizeof bare - 1, "T", 503, "unavailable", "r", &out, err, sizeof err), 0);
    static const char want2[] = "{\"time\":\"T\",\"status\":503,\"error\":{\"type\":\"unavailable\",\"reason\":\"r\"},"
                                "\"action\":{\"delete\":{\"_index\":\"i\",\"_id\":\"1\"}}}\n";
    assert_int_equal(out.len, sizeof want2 - 1);
    assert_memory_equal(out.data, want2, out.len);
    /* a bad line cannot be rewritten; out is left as it was */
    ce_buf_reset(&out);
    assert_int_equal(dlline_rewrite("[1]", 3, "T", 400, "t", "r", &out, err, sizeof err), -1);
    assert_int_equal(out.len, 0);
    assert_int_equal(dlline_rewrite("{\"a\":", 5, "T", 400, "t", "r", &out, err, sizeof err), -1);
    assert_int_equal(out.len, 0);
    ce_buf_free(&a);
    ce_buf_free(&b);
    ce_buf_free(&out);
}

static sink_item item(const char *op, int status, const char *type)
{
    sink_item it = {.cls = sink_classify_item(op, status, type), .status = status};
    snprintf(it.type, sizeof it.type, "%s", type);
    return it;
}

static void test_classify(void **state)
{
    (void)state;
    sink_item it;
    it = item("index", 201, "");
    assert_int_equal(replay_classify(&it), REPLAY_APPLIED);
    it = item("index", 200, "");
    assert_int_equal(replay_classify(&it), REPLAY_APPLIED);
    it = item("delete", 200, "");
    assert_int_equal(replay_classify(&it), REPLAY_APPLIED);
    it = item("delete", 404, "");
    assert_int_equal(replay_classify(&it), REPLAY_APPLIED); /* already gone */
    it = item("index", 404, "index_not_found_exception");
    assert_int_equal(replay_classify(&it), REPLAY_REJECTED);
    it = item("index", 409, "version_conflict_engine_exception");
    assert_int_equal(replay_classify(&it), REPLAY_SUPERSEDED);
    it = item("delete", 409, "version_conflict_engine_exception");
    assert_int_equal(replay_classify(&it), REPLAY_SUPERSEDED);
    it = item("index", 400, "mapper_parsing_exception");
    assert_int_equal(replay_classify(&it), REPLAY_REJECTED);
    it = item("index", 429, "es_rejected_execution_exception");
    assert_int_equal(replay_classify(&it), REPLAY_RETRY);
    it = item("index", 503, "unavailable_shards_exception");
    assert_int_equal(replay_classify(&it), REPLAY_RETRY);
    it = item("index", 403, "cluster_block_exception");
    assert_int_equal(replay_classify(&it), REPLAY_RETRY);
    it = item("index", 401, "security_exception");
    assert_int_equal(replay_classify(&it), REPLAY_FATAL);
}

static void test_summary(void **state)
{
    (void)state;
    replay_counts c = {.lines = 12, .applied = 5, .superseded = 3, .rejected = 2, .failed = 1, .bad = 1};
    char out[200];
    replay_format_summary(&c, out, sizeof out);
    assert_string_equal(out, "replayed 12: applied 5, superseded 3, rejected 2, failed 1, bad lines 1");
}

/* ---- round trip through the service's own writer ---- */

#define COL(n, v, t) {.name = (n), .value = (v), .value_len = sizeof(v) - 1, .mysql_type = (t)}
#define KEY(n, v, t) {.name = (n), .value = (v), .value_len = sizeof(v) - 1, .mysql_type = (t), .is_key = true}
#define IMG(arr) {.cols = (arr), .n = sizeof(arr) / sizeof((arr)[0])}

static char idx_items[] = "items";
static char db_shop[] = "shop";
static char tbl_items[] = "items";

static void append_event(bulk *b, row_op op, const row_col *cols, size_t n, int64_t offset)
{
    static cfg_table rule = {.db = db_shop, .table = tbl_items, .index = idx_items, .line = 10};
    row_image img = {.cols = cols, .n = n};
    row_image none = {.cols = NULL, .n = 0};
    row_event ev = {.schema = "shop", .table = "items", .op = op, .before = op == ROW_DELETE ? img : none,
                    .after = op == ROW_DELETE ? none : img, .logfile = "mysql-bin.000003", .offset = offset,
                    .execute_time = 1714557600000LL, .gtid = ""};
    map_out mo;
    map_out_init(&mo);
    mo.versioning = 1;
    char err[512] = "";
    if (map_row(&rule, &ev, &mo, err, sizeof err) != MAP_OK)
        fail_msg("map_row: %s", err);
    for (size_t i = 0; i < mo.n; i++)
        if (bulk_append(b, &mo.act[i], err, sizeof err) != 0)
            fail_msg("bulk_append: %s", err);
    map_out_free(&mo);
}

static void test_round_trip_dead_letter_writer(void **state)
{
    (void)state;
    bulk b;
    assert_int_equal(bulk_init(&b, 1 << 20), 0);
    const row_col r1[] = {KEY("id", "1", "int(11)"), COL("qty", "not a number", "varchar(20)"),
                          COL("big", "18446744073709551615", "bigint(20) unsigned"),
                          COL("s", "中文 😀 \"q\" \\ \x01", "varchar(50)")};
    row_col r2[] = {KEY("id", "2", "int(11)"), COL("qty", "x", "varchar(20)")};
    r2[1].value = "a\0b"; /* a NUL byte in a string column */
    r2[1].value_len = 3;
    const row_col r3[] = {KEY("id", "3", "int(11)"), COL("qty", "7", "varchar(20)")};
    append_event(&b, ROW_INSERT, r1, 4, 1000);
    append_event(&b, ROW_INSERT, r2, 2, 2000);
    append_event(&b, ROW_DELETE, r3, 2, 3000);
    assert_int_equal(b.n_actions, 3);

    char path[] = "/tmp/test_replay_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[512] = "";
    deadletter *d = dl_open(path, err, sizeof err);
    assert_non_null(d);
    for (size_t i = 0; i < b.n_actions; i++) {
        sink_item it = {.cls = SINK_ITEM_DEAD, .status = 400};
        snprintf(it.type, sizeof it.type, "mapper_parsing_exception");
        snprintf(it.reason, sizeof it.reason, "failed to parse field [qty]");
        assert_int_equal(dl_write(d, &b, i, &it, err, sizeof err), 0);
    }
    assert_int_equal(dl_sync(d, err, sizeof err), 0);
    dl_close(d);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    unlink(path);
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    size_t lines = 0;
    for (const char *p = text; p < text + n;) {
        const char *nl = memchr(p, '\n', (size_t)(text + n - p));
        assert_non_null(nl);
        dlline_entry e;
        if (dlline_to_ndjson(p, (size_t)(nl - p), &out, &e, err, sizeof err) != 0)
            fail_msg("line %zu refused: %s: %.*s", lines + 1, err, (int)(nl - p), p);
        assert_true(e.has_version);
        assert_string_equal(e.version_type, "external");
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, 3);
    /* exactly the bytes the service sent */
    if (out.len != b.body.len || memcmp(out.data, b.body.data, out.len) != 0)
        fail_msg("replayed body differs:\n got: %.*s\nwant: %.*s", (int)out.len, (const char *)out.data,
                 (int)b.body.len, (const char *)b.body.data);
    ce_buf_free(&out);
    bulk_free(&b);
}

/* ---- lines that hold no action: a row that could not be mapped, an entry that does not decode */

typedef struct bad_sink {
    deadletter *d;
    size_t calls;
} bad_sink;

static int on_bad_to_dl(void *ud, const decode_bad *bad)
{
    bad_sink *bs = ud;
    char err[256];
    bs->calls++;
    if (dl_write_entry(bs->d, bad, err, sizeof err) != 0)
        fail_msg("dl_write_entry: %s", err);
    return 0;
}

static int on_row_unexpected(void *ud, const row_event *ev)
{
    (void)ud;
    (void)ev;
    fail_msg("no row expected");
    return 0;
}

static const char *tree_str(yajl_val v, const char *a, const char *b)
{
    const char *path[] = {a, b, NULL};
    return YAJL_GET_STRING(yajl_tree_get(v, path, yajl_t_string));
}

/* Entry{header{logfileName "bin.1", logfileOffset 42, schemaName "d", tableName "t"}, ROWDATA,
 * storeValue = 3 bytes that are not a RowChange (rowDatas claims 16 bytes)} */
static const uint8_t bad_rowchange[] = {0x0a, 0x0f, 0x12, 0x05, 'b', 'i', 'n', '.', '1', 0x18, 0x2a, 0x42, 0x01,
                                        'd',  0x4a, 0x01, 't',  0x10, 0x02, 0x1a, 0x03, 0x62, 0x10, 0x00};

static void test_unreplayable_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/test_replay_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[512] = "";
    deadletter *d = dl_open(path, err, sizeof err);
    assert_non_null(d);
    /* decode → dead letter: the service's path for a malformed RowChange */
    decode_ctx dec;
    decode_init(&dec);
    bad_sink bs = {.d = d};
    dec.on_bad = on_bad_to_dl;
    assert_int_equal(decode_entry(&dec, bad_rowchange, sizeof bad_rowchange, on_row_unexpected, &bs, err, sizeof err),
                     0);
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(decode_entry(&dec, junk, sizeof junk, on_row_unexpected, &bs, err, sizeof err), 0);
    assert_int_equal(bs.calls, 2);
    assert_int_equal(dec.stats.bad, 2);
    decode_free(&dec);
    /* a row its rule could not map */
    row_col cols[] = {KEY("id", "", "int(11)"), COL("s", "\xff ok", "varchar(5)")};
    cols[0].is_null = true;
    row_event ev = {.schema = "shop", .table = "items", .op = ROW_INSERT, .after = IMG(cols),
                    .logfile = "mysql-bin.000009", .offset = 77, .execute_time = 1714557600000, .row_index = 1};
    assert_int_equal(dl_write_row(d, &ev, "binlog mysql-bin.000009:77: shop.items: id column 'id' is NULL", err,
                                  sizeof err), 0);
    assert_int_equal(dl_sync(d, err, sizeof err), 0);
    dl_close(d);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    text[n] = '\0';
    char *lines[3];
    size_t nl = 0;
    for (char *p = text, *save = NULL, *l; (l = strtok_r(p, "\n", &save)) != NULL; p = NULL) {
        assert_true(nl < 3);
        lines[nl++] = l;
    }
    assert_int_equal(nl, 3);
    char perr[128];
    /* 1: the malformed RowChange, with its position and its bytes */
    yajl_val v = yajl_tree_parse(lines[0], perr, sizeof perr);
    assert_non_null(v);
    assert_string_equal(tree_str(v, "kind", NULL), "entry");
    assert_string_equal(tree_str(v, "error", "type"), "malformed_entry");
    assert_string_equal(tree_str(v, "error", "reason"), "binlog bin.1:42: malformed RowChange (3 bytes)");
    assert_string_equal(tree_str(v, "table", NULL), "d.t");
    assert_string_equal(tree_str(v, "binlog", "file"), "bin.1");
    const char *off_path[] = {"binlog", "offset", NULL};
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, off_path, yajl_t_number)), 42);
    const char *status_path[] = {"status", NULL};
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, status_path, yajl_t_number)), 0);
    const char *b64 = tree_str(v, "entry_base64", NULL);
    assert_non_null(b64);
    unsigned char raw[64];
    int rn = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(rn >= (int)sizeof bad_rowchange);
    assert_memory_equal(raw, bad_rowchange, sizeof bad_rowchange);
    yajl_tree_free(v);
    /* 2: an Entry that is not one: no position, no table */
    v = yajl_tree_parse(lines[1], perr, sizeof perr);
    assert_non_null(v);
    assert_string_equal(tree_str(v, "error", "reason"), "malformed Entry (3 bytes)");
    assert_string_equal(tree_str(v, "table", NULL), "");
    assert_string_equal(tree_str(v, "entry_base64", NULL), "////");
    yajl_tree_free(v);
    /* 3: the row, its images as text (invalid UTF-8 repaired), NULL as null */
    v = yajl_tree_parse(lines[2], perr, sizeof perr);
    assert_non_null(v);
    assert_string_equal(tree_str(v, "kind", NULL), "row");
    assert_string_equal(tree_str(v, "error", "type"), "row_not_mapped");
    assert_string_equal(tree_str(v, "table", NULL), "shop.items");
    assert_string_equal(tree_str(v, "row", "op"), "insert");
    const char *after_s[] = {"row", "after", "s", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, after_s, yajl_t_string)), "\xef\xbf\xbd ok");
    const char *after_id[] = {"row", "after", "id", NULL};
    assert_true(YAJL_IS_NULL(yajl_tree_get(v, after_id, yajl_t_any)));
    const char *before[] = {"row", "before", NULL};
    assert_true(YAJL_IS_NULL(yajl_tree_get(v, before, yajl_t_any)));
    yajl_tree_free(v);
    /* replay knows them for what they are */
    for (size_t i = 0; i < 3; i++)
        expect(lines[i], strlen(lines[i]), NULL, "not replayable");
    expect(lines[0], strlen(lines[0]), NULL, "a Canal entry canal-es could not turn into a document (\"kind\":\"entry\")");
    expect(lines[2], strlen(lines[2]), NULL, "a row canal-es could not turn into a document (\"kind\":\"row\")");
    BAD("{\"kind\":\"other\"}", "not replayable: a record");
    BAD("{\"kind\":{\"a\":\"row\"},\"x\":\"y\"}", "no \"action\" member");
}

/* A row canal-es refused to send (its index name is invalid): the dead-letter
 * line names the error and table and replays as the action it stands for. */
static void test_refused_row_dead_letter(void **state)
{
    (void)state;
    static char tmpl[] = "{db}-{table}";
    cfg_table rule = {.db = db_shop, .table = tbl_items, .index = tmpl, .line = 4};
    const row_col cols[] = {{.name = "id", .value = "9", .value_len = 1, .mysql_type = "int(11)", .is_key = true}};
    row_image img = {.cols = cols, .n = 1}, none = {.cols = NULL, .n = 0};
    row_event ev = {.schema = "shop", .table = "my table", .op = ROW_INSERT, .before = none, .after = img,
                    .logfile = "mysql-bin.000003", .offset = 777, .execute_time = 1714557600000LL, .gtid = ""};
    map_out mo;
    map_out_init(&mo);
    char err[512] = "", reason[512] = "";
    assert_int_equal(map_row(&rule, &ev, &mo, reason, sizeof reason), MAP_BAD_INDEX);
    char path[] = "/tmp/test_replay_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    deadletter *d = dl_open(path, err, sizeof err);
    assert_non_null(d);
    sink_item it = {.cls = SINK_ITEM_DEAD, .status = 400, .type = "invalid_index_name_exception"};
    snprintf(it.reason, sizeof it.reason, "%.*s", (int)sizeof it.reason - 1, reason);
    assert_int_equal(dl_write_refused(d, &mo, &it, err, sizeof err), 0);
    assert_int_equal(dl_sync(d, err, sizeof err), 0);
    dl_close(d);
    map_out_free(&mo);
    static char text[1 << 14];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    text[n] = '\0';
    assert_non_null(strstr(text, "\"status\":400,\"error\":{\"type\":\"invalid_index_name_exception\",\"reason\":"
                                 "\"binlog mysql-bin.000003:777: table shop.my table: index template"));
    assert_non_null(strstr(text, "\"table\":\"shop.my table\",\"binlog\":{\"file\":\"mysql-bin.000003\",\"offset\":777}"));
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    dlline_entry e;
    assert_int_equal(dlline_to_ndjson(text, n - 1, &out, &e, err, sizeof err), 0);
    assert_string_equal(e.index, "shop-my table");
    assert_string_equal(e.id, "9");
    ce_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_line),
        cmocka_unit_test(test_member_order_and_spaces),
        cmocka_unit_test(test_delete_lines),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_round_trip_dead_letter_writer),
        cmocka_unit_test(test_unreplayable_lines),
        cmocka_unit_test(test_refused_row_dead_letter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
