/* test_mapping: suggested index mappings from Canal's column types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "mapping.h"

#define COL(n, t) {.name = (n), .value = "x", .value_len = 1, .mysql_type = (t)}

static void test_types_by_default(void **state)
{
    (void)state;
    static const struct {
        const char *mysql;
        const char *es;
    } cases[] = {
        {"int(11)", "long"},           {"bigint(20)", "long"},         {"bigint(20) unsigned", "unsigned_long"},
        {"TINYINT(1)", "long"},        {"int(10) unsigned", "long"},   {"decimal(10,2)", "keyword"},
        {"double", "double"},          {"float(7,3)", "double"},       {"bit(1)", "long"},
        {"bit(64)", "unsigned_long"},  {"year(4)", "integer"},         {"date", "date"},
        {"datetime(6)", "date"},       {"timestamp(3)", "date"},       {"time(2)", "keyword"},
        {"char(10)", "keyword"},       {"varchar(255)", "keyword"},    {"varchar(1000)", "text"},
        {"longtext", "text"},          {"enum('a','b')", "keyword"},   {"set('a','b')", "keyword"},
        {"json", "object-disabled"},   {"binary(4)", "keyword"},       {"blob", "text"},
        {"geometry", "text"},          {"something_new", "keyword"},   {"", "keyword"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = mapping_field_type(NULL, "c", cases[i].mysql);
        if (got == NULL || strcmp(got, cases[i].es) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].mysql, cases[i].es, got ? got : "(null)");
    }
}

static void test_rule_options_and_document_shape(void **state)
{
    (void)state;
    static const char text[] = "[table shop.items]\n"
                               "index = items\n"
                               "decimal = number\n"
                               "blob = base64\n"
                               "convert = flag:bool, doc:json, gone:drop, tags:split(|)\n"
                               "rename = name:title\n"
                               "exclude = secret\n"
                               "add_field = source:mysql\n"
                               "delete = soft:deleted\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *r = cfg_find_table(&c, "shop", "items");
    assert_string_equal(mapping_field_type(r, "price", "decimal(10,2)"), "double");
    assert_string_equal(mapping_field_type(r, "data", "blob"), "binary");
    assert_string_equal(mapping_field_type(r, "FLAG", "tinyint(1)"), "boolean");
    assert_null(mapping_field_type(r, "gone", "int(11)"));
    const row_col cols[] = {COL("id", "bigint(20)"), COL("name", "varchar(20)"), COL("secret", "varchar(20)"),
                            COL("gone", "int"),      COL("tags", "varchar(64)"), COL("doc", "longtext")};
    row_image img = {.cols = (row_col *)cols, .n = sizeof cols / sizeof cols[0]};
    ce_buf out;
    ce_buf_init(&out, 1 << 16);
    assert_int_equal(mapping_suggest(r, &img, &out), 0);
    const char *want = "{\n"
                       "  \"mappings\": {\n"
                       "    \"properties\": {\n"
                       "      \"id\": {\n        \"type\": \"long\"\n      },\n"
                       "      \"title\": {\n        \"type\": \"keyword\"\n      },\n"
                       "      \"tags\": {\n        \"type\": \"keyword\"\n      },\n"
                       "      \"doc\": {\n        \"type\": \"object\",\n        \"enabled\": false\n      },\n"
                       "      \"source\": {\n        \"type\": \"keyword\"\n      },\n"
                       "      \"deleted\": {\n        \"type\": \"boolean\"\n      }\n"
                       "    }\n"
                       "  }\n"
                       "}\n";
    if (strcmp((const char *)out.data, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", (const char *)out.data, want);
    /* a full buffer is an error, not a cut JSON */
    ce_buf small;
    ce_buf_init(&small, 16);
    assert_int_equal(mapping_suggest(r, &img, &small), -1);
    assert_int_equal(small.len, 0);
    ce_buf_free(&small);
    ce_buf_free(&out);
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_by_default),
        cmocka_unit_test(test_rule_options_and_document_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
