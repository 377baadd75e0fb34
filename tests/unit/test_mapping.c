/* test_mapping: suggested index mappings from Canal's column types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "mapping.h"

#define COL(n, t) {.name = (n), .value = "x", .value_len = 1, .mysql_type = (t)}

static void type_text(const mapping_ftype *t, char *out, size_t len)
{
    if (t->type == NULL)
        snprintf(out, len, "(none)");
    else
        snprintf(out, len, "%s%s%s%s%s", t->type, t->keyword_sub ? "+kw" : "", t->disabled ? "-disabled" : "",
                 t->date_format ? "+fmt" : "", t->ignore_above ? "+ia" : "");
    if (t->scale >= 0)
        snprintf(out + strlen(out), len - strlen(out), "/%d", t->scale);
}

static void test_types_by_default(void **state)
{
    (void)state;
    static const struct {
        const char *mysql;
        const char *es;     /* node with unsigned_long and flat types */
        const char *plain;  /* node without them (NULL: the same) */
    } cases[] = {
        {"tinyint(4)", "byte", NULL},            {"tinyint(3) unsigned", "short", NULL},
        {"TINYINT(1)", "byte", NULL},            {"smallint(6)", "short", NULL},
        {"smallint(5) unsigned", "integer", NULL}, {"mediumint(9)", "integer", NULL},
        {"mediumint(8) unsigned", "integer", NULL}, {"int(11)", "integer", NULL},
        {"int(10) unsigned", "long", NULL},      {"bigint(20)", "long", NULL},
        {"bigint(20) unsigned", "unsigned_long", "keyword"},
        {"decimal(10,2)", "scaled_float/2", NULL}, {"decimal(15,4)", "scaled_float/4", NULL},
        {"decimal(16,2)", "double", NULL},        {"decimal(65,30)", "double", NULL},
        {"decimal(18,0)", "long", NULL},          {"decimal(19,0)", "double", NULL},
        {"decimal", "long", NULL},                {"numeric(5, 3)", "scaled_float/3", NULL},
        {"double", "double", NULL},               {"float(7,3)", "float", NULL},
        {"float", "float", NULL},                 {"real", "double", NULL},
        {"bit(1)", "byte", NULL},                 {"bit(8)", "short", NULL},
        {"bit(31)", "integer", NULL},             {"bit(32)", "long", NULL},
        {"bit(64)", "unsigned_long", "keyword"},  {"year(4)", "short", NULL},
        {"date", "date+fmt", NULL},               {"datetime(6)", "date+fmt", NULL},
        {"timestamp(3)", "date+fmt", NULL},       {"time(2)", "keyword", NULL},
        {"char(10)", "text+kw", NULL},            {"varchar(255)", "text+kw", NULL},
        {"longtext", "text+kw", NULL},            {"enum('a','b')", "keyword", NULL},
        {"set('a','b')", "keyword", NULL},        {"json", "object", NULL},
        {"binary(4)", "keyword+ia", NULL},        {"blob", "text+kw", NULL},
        {"geometry", "text+kw", NULL},            {"something_new", "text+kw", NULL},
        {"", "text+kw", NULL},
    };
    const mapping_caps full = {.unsigned_long = true, .flat = "flat_object"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[64], got_plain[64];
        mapping_ftype t = mapping_field_type(NULL, "c", cases[i].mysql, &full);
        mapping_ftype p = mapping_field_type(NULL, "c", cases[i].mysql, NULL);
        type_text(&t, got, sizeof got);
        type_text(&p, got_plain, sizeof got_plain);
        const char *want_plain = cases[i].plain ? cases[i].plain : cases[i].es;
        if (strcmp(got, cases[i].es) != 0 || strcmp(got_plain, want_plain) != 0)
            fail_msg("%s: expected %s / %s, got %s / %s", cases[i].mysql, cases[i].es, want_plain, got, got_plain);
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
                               "delete = soft:deleted\n"
                               "routing = id\n"
                               "flatten = doc, meta\n";
    cfg c;
    char err[512] = "";
    if (cfg_load_string(text, "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    const cfg_table *r = cfg_find_table(&c, "shop", "items");
    const mapping_caps os = {.unsigned_long = true, .flat = "flat_object"};
    /* decimal = number changes the JSON value, not the field type */
    assert_string_equal(mapping_field_type(r, "price", "decimal(10,2)", NULL).type, "scaled_float");
    /* a node without the mapper-extras module (embedded Elasticsearch 8) has no scaled_float */
    const mapping_caps bare = {.no_scaled_float = true};
    mapping_ftype dbl = mapping_field_type(r, "price", "decimal(10,2)", &bare);
    assert_string_equal(dbl.type, "double");
    assert_int_equal(dbl.scale, -1);
    assert_string_equal(mapping_field_type(r, "price", "decimal(12,0)", &bare).type, "long");
    assert_string_equal(mapping_field_type(r, "data", "blob", NULL).type, "binary");
    assert_string_equal(mapping_field_type(r, "FLAG", "tinyint(1)", NULL).type, "boolean");
    assert_null(mapping_field_type(r, "gone", "int(11)", NULL).type);
    assert_string_equal(mapping_field_type(r, "meta", "json", &os).type, "flat_object");
    mapping_ftype off = mapping_field_type(r, "meta", "json", NULL);
    assert_string_equal(off.type, "object");
    assert_true(off.disabled);
    assert_string_equal(mapping_field_type(r, "other", "json", &os).type, "object");
    const row_col cols[] = {COL("id", "bigint(20)"), COL("name", "varchar(20)"), COL("secret", "varchar(20)"),
                            COL("gone", "int"),      COL("tags", "varchar(64)"), COL("doc", "longtext")};
    row_image img = {.cols = (row_col *)cols, .n = sizeof cols / sizeof cols[0]};
    ce_buf out;
    ce_buf_init(&out, 1 << 16);
    assert_int_equal(mapping_suggest(r, &img, NULL, MAPPING_PRETTY, &out), 0);
    const char *want = "{\n"
                       "  \"mappings\": {\n"
                       "    \"_meta\": {\n      \"canal_es_mapping\": \"auto\"\n    },\n"
                       "    \"_routing\": {\n      \"required\": true\n    },\n"
                       "    \"properties\": {\n"
                       "      \"id\": {\n        \"type\": \"long\"\n      },\n"
                       "      \"title\": {\n        \"type\": \"text\",\n        \"fields\": {\n"
                       "          \"keyword\": {\n            \"type\": \"keyword\",\n"
                       "            \"ignore_above\": 256\n          }\n        }\n      },\n"
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
    assert_int_equal(mapping_suggest(r, &img, NULL, MAPPING_PRETTY, &small), -1);
    assert_int_equal(small.len, 0);
    ce_buf_free(&small);
    ce_buf_free(&out);
    cfg_free(&c);
}

/* The JSON of the details: scaling_factor, date format, keyword subfield. */
static void test_field_json(void **state)
{
    (void)state;
    const row_col cols[] = {COL("p", "decimal(10,2)"), COL("d", "datetime(6)"), COL("k", "varbinary(16)")};
    row_image img = {.cols = (row_col *)cols, .n = 3};
    ce_buf out;
    ce_buf_init(&out, 1 << 16);
    assert_int_equal(mapping_suggest(NULL, &img, NULL, 0, &out), 0);
    assert_string_equal((const char *)out.data,
                        "{\"mappings\":{\"_meta\":{\"canal_es_mapping\":\"auto\"},\"properties\":{"
                        "\"p\":{\"type\":\"scaled_float\",\"scaling_factor\":100},"
                        "\"d\":{\"type\":\"date\",\"format\":\"strict_date_optional_time\"},"
                        "\"k\":{\"type\":\"keyword\",\"ignore_above\":256}}}}");
    out.len = 0;
    mapping_col c = {.field = "p", .t = mapping_field_type(NULL, "p", "decimal(10,2)", NULL)};
    assert_int_equal(mapping_write(NULL, &c, 1, MAPPING_PROPERTIES_ONLY, &out), 0);
    assert_string_equal((const char *)out.data,
                        "{\"properties\":{\"p\":{\"type\":\"scaled_float\",\"scaling_factor\":100}}}");
    ce_buf_free(&out);
}

/* check-config's verdict on an existing field for a column. */
static void test_field_problems(void **state)
{
    (void)state;
    static const struct {
        const char *mysql, *type, *format;
        double factor;
        const char *problem; /* NULL: holds it; else a part of the message */
    } cases[] = {
        {"bigint(20) unsigned", "long", NULL, 0, "long cannot hold every value of bigint(20) unsigned"},
        {"bigint(20) unsigned", "unsigned_long", NULL, 0, NULL},
        {"bigint(20) unsigned", "keyword", NULL, 0, NULL},
        {"bigint(20)", "unsigned_long", NULL, 0, "negative"},
        {"bit(64)", "unsigned_long", NULL, 0, NULL},
        {"int(10) unsigned", "integer", NULL, 0, "fix: long"},
        {"int(11)", "long", NULL, 0, NULL},
        {"tinyint(4)", "byte", NULL, 0, NULL},
        {"decimal(10,2)", "long", NULL, 0, "drops the fraction"},
        {"decimal(10,2)", "scaled_float", NULL, 10, "rounds the 2 decimals"},
        {"decimal(10,2)", "scaled_float", NULL, 100, NULL},
        {"decimal(10,2)", "keyword", NULL, 0, NULL},
        {"decimal(10,2)", "double", NULL, 0, NULL},
        {"datetime(6)", "date", NULL, 0, NULL},
        {"datetime(6)", "date", "yyyy-MM-dd HH:mm:ss", 0, "format yyyy-MM-dd HH:mm:ss does not accept"},
        {"datetime(6)", "date", "epoch_millis||strict_date_optional_time", 0, NULL},
        {"date", "date", "yyyy-MM-dd", 0, NULL},
        {"datetime", "date_nanos", NULL, 0, "before 1970"},
        {"varchar(10)", "long", NULL, 0, "long cannot hold the text values"},
        {"varchar(10)", "keyword", NULL, 0, NULL},
        {"json", "object", NULL, 0, NULL},
        {"json", "keyword", NULL, 0, "cannot hold the object values"},
        {"time", "keyword", NULL, 0, NULL},
    };
    char out[600];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = mapping_field_problem(NULL, "c", cases[i].mysql, cases[i].type, cases[i].format,
                                                cases[i].factor, out, sizeof out);
        if (cases[i].problem == NULL ? got != NULL : got == NULL || strstr(got, cases[i].problem) == NULL)
            fail_msg("%s in %s: expected %s, got %s", cases[i].mysql, cases[i].type,
                     cases[i].problem ? cases[i].problem : "(holds)", got ? got : "(holds)");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_by_default),
        cmocka_unit_test(test_rule_options_and_document_shape),
        cmocka_unit_test(test_field_json),
        cmocka_unit_test(test_field_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
