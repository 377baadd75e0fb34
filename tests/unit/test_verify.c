/* test_verify: the pure parts of `canal-es verify` (src/verify/vcmp.h): the
 * canonical JSON comparison (key order does not matter, numbers by exact
 * value, strings byte for byte), the first differing field, and the report's
 * text and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "util/mem.h"
#include "verify/vcmp.h"
#include "verify/vint.h"

static int cmp(const char *e, const char *x, vc_diff *d)
{
    char err[200];
    int rc = vc_json_compare(e, strlen(e), x, strlen(x), d, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    return rc;
}

static void test_key_order_does_not_matter(void **state)
{
    (void)state;
    vc_diff d;
    assert_int_equal(cmp("{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2],\"e\":null}}",
                         "{\"c\":{\"e\":null,\"d\":[1,2]},\"b\":\"x\",\"a\":1}", &d),
                     0);
    assert_int_equal(cmp("{}", "{}", &d), 0);
    assert_int_equal(cmp("[]", "[]", &d), 0);
}

static void test_numbers_by_exact_value(void **state)
{
    (void)state;
    assert_true(vc_number_equal("1.5", "1.50"));
    assert_true(vc_number_equal("15e-1", "1.5"));
    assert_true(vc_number_equal("1E+2", "100"));
    assert_true(vc_number_equal("0", "-0"));
    assert_true(vc_number_equal("0.000", "0e10"));
    assert_true(vc_number_equal("-0.0012", "-1.2e-3"));
    assert_true(vc_number_equal("12345678901234567890123", "12345678901234567890123.000"));
    assert_false(vc_number_equal("1", "1.0000000000000000001"));
    assert_false(vc_number_equal("9007199254740993", "9007199254740992")); /* equal as doubles */
    assert_false(vc_number_equal("1", "-1"));
    assert_false(vc_number_equal("10", "1"));
    assert_false(vc_number_equal("1e2", "1e3"));
    assert_false(vc_number_equal("abc", "1"));
    vc_diff d;
    assert_int_equal(cmp("{\"p\":10.50}", "{\"p\":10.5}", &d), 0);
    assert_int_equal(cmp("{\"p\":10.5}", "{\"p\":10.51}", &d), 1);
    assert_string_equal(d.field, "p");
    assert_string_equal(d.expected, "10.5");
    assert_string_equal(d.indexed, "10.51");
}

static void test_types_and_strings(void **state)
{
    (void)state;
    vc_diff d;
    /* a number is not the string of its text */
    assert_int_equal(cmp("{\"n\":1}", "{\"n\":\"1\"}", &d), 1);
    assert_string_equal(d.field, "n");
    assert_string_equal(d.expected, "1");
    assert_string_equal(d.indexed, "\"1\"");
    /* strings byte for byte after unescaping */
    assert_int_equal(cmp("{\"s\":\"\\u00e9t\\u00e9\"}", "{\"s\":\"été\"}", &d), 0);
    assert_int_equal(cmp("{\"s\":\"abc\"}", "{\"s\":\"abc \"}", &d), 1);
    assert_int_equal(cmp("{\"s\":\"A\"}", "{\"s\":\"a\"}", &d), 1);
    assert_int_equal(cmp("{\"b\":true}", "{\"b\":false}", &d), 1);
    assert_string_equal(d.expected, "true");
    assert_string_equal(d.indexed, "false");
    assert_int_equal(cmp("{\"z\":null}", "{\"z\":0}", &d), 1);
    assert_int_equal(cmp("{\"z\":null}", "{\"z\":null}", &d), 0);
}

static void test_first_differing_field(void **state)
{
    (void)state;
    vc_diff d;
    /* a field missing on the indexed side */
    assert_int_equal(cmp("{\"a\":1,\"b\":2}", "{\"a\":1}", &d), 1);
    assert_string_equal(d.field, "b");
    assert_string_equal(d.expected, "2");
    assert_string_equal(d.indexed, "(absent)");
    /* a field only the index has */
    assert_int_equal(cmp("{\"a\":1}", "{\"a\":1,\"deleted\":true}", &d), 1);
    assert_string_equal(d.field, "deleted");
    assert_string_equal(d.expected, "(absent)");
    assert_string_equal(d.indexed, "true");
    /* nested paths, arrays in order */
    assert_int_equal(cmp("{\"o\":{\"l\":[1,{\"k\":\"v\"}]}}", "{\"o\":{\"l\":[1,{\"k\":\"w\"}]}}", &d), 1);
    assert_string_equal(d.field, "o.l[1].k");
    assert_string_equal(d.expected, "\"v\"");
    assert_string_equal(d.indexed, "\"w\"");
    assert_int_equal(cmp("{\"l\":[1,2]}", "{\"l\":[2,1]}", &d), 1);
    assert_string_equal(d.field, "l[0]");
    assert_int_equal(cmp("{\"l\":[1,2,3]}", "{\"l\":[1,2]}", &d), 1);
    assert_string_equal(d.field, "l[2]");
    assert_string_equal(d.expected, "3");
    assert_string_equal(d.indexed, "(absent)");
    /* an object against an array: the whole value */
    assert_int_equal(cmp("{\"x\":{\"a\":1}}", "{\"x\":[1]}", &d), 1);
    assert_string_equal(d.field, "x");
    assert_string_equal(d.expected, "{\"a\":1}");
    assert_string_equal(d.indexed, "[1]");
}

static void test_long_values_are_cut(void **state)
{
    (void)state;
    char e[1200], x[1200];
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(e, sizeof e, "{\"t\":\"%s\"}", big);
    snprintf(x, sizeof x, "{\"t\":\"b%s\"}", big + 1);
    vc_diff d;
    assert_int_equal(cmp(e, x, &d), 1);
    assert_true(strlen(d.expected) < VC_VALUE_MAX);
    assert_true(strlen(d.expected) > 100);
    assert_string_equal(d.expected + strlen(d.expected) - 3, "...");
    assert_int_equal(d.indexed[1], 'b');
}

static void test_bad_json(void **state)
{
    (void)state;
    char err[200];
    vc_diff d;
    assert_int_equal(vc_json_compare("{\"a\":", 5, "{}", 2, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected"));
    assert_int_equal(vc_json_compare("{}", 2, "nope", 4, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "indexed"));
    /* not NUL-terminated input: only len bytes count */
    assert_int_equal(vc_json_compare("{\"a\":1}XXXX", 7, "{\"a\":1}", 7, &d, err, sizeof err), 0);
}

static vc_report sample(size_t max)
{
    vc_report r = {.max_report = max};
    vc_table_rep *t = vc_add_table(&r, "shop.items", "items");
    assert_non_null(t);
    t->rows = 300;
    t->documents = 299;
    assert_int_equal(vc_list_add(&t->missing, max, "5", 1, NULL), 0);
    assert_int_equal(vc_list_add(&t->missing, max, "500xyz", 3, NULL), 0);
    vc_diff d = {.field = "name", .expected = "\"a\"", .indexed = "\"b\""};
    assert_int_equal(vc_list_add(&t->different, max, "7", 1, &d), 0);
    vc_table_rep *t2 = vc_add_table(&r, "shop.other", "other");
    assert_non_null(t2);
    t2->rows = 3;
    t2->documents = 3;
    vc_index_rep *x = vc_add_index(&r, "items");
    assert_non_null(x);
    x->extra_checked = true;
    x->documents = 300;
    assert_int_equal(vc_list_add(&x->extra, max, "13", 2, NULL), 0);
    vc_index_rep *y = vc_add_index(&r, "other");
    assert_non_null(y);
    y->note = ce_strdup("--table was given");
    assert_ptr_equal(vc_find_index(&r, "other"), y);
    assert_null(vc_find_index(&r, "none"));
    return r;
}

static void test_report_text(void **state)
{
    (void)state;
    vc_report r = sample(10);
    ce_buf b;
    ce_buf_init(&b, 1 << 20);
    assert_int_equal(vc_format_text(&r, &b), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    const char *want = "shop.items -> items: 300 rows, 299 documents, 2 missing, 1 different\n"
                       "  missing: 5, 500\n"
                       "  different:\n"
                       "    7: name: expected \"a\", indexed \"b\"\n"
                       "shop.other -> other: 3 rows, 3 documents, 0 missing, 0 different\n"
                       "index items: 300 documents, 1 extra\n"
                       "  extra: 13\n"
                       "index other: extra documents not checked: --table was given\n"
                       "verify: 2 tables, 303 rows, 303 documents, 2 missing, 1 extra, 1 different\n";
    assert_string_equal((const char *)b.data, want);
    assert_int_equal(vc_report_differs(&r), 1);
    ce_buf_free(&b);
    vc_report_free(&r);
}

static void test_report_max_and_fixed(void **state)
{
    (void)state;
    vc_report r = sample(1);
    r.repair = true;
    r.t[0].fixed = 3;
    r.x[0].fixed = 1;
    ce_buf b;
    ce_buf_init(&b, 1 << 20);
    assert_int_equal(vc_format_text(&r, &b), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "  missing: 5 (and 1 more)\n"));
    assert_non_null(strstr(s, "2 missing, 1 different, 3 fixed\n"));
    assert_non_null(strstr(s, "verify: 2 tables, 303 rows, 303 documents, 2 missing, 1 extra, 1 different, 4 fixed\n"));
    assert_int_equal(vc_report_differs(&r), 0); /* everything found was fixed */
    ce_buf_free(&b);
    vc_report_free(&r);
}

static void test_report_json(void **state)
{
    (void)state;
    vc_report r = sample(10);
    ce_buf b;
    ce_buf_init(&b, 1 << 20);
    assert_int_equal(vc_format_json(&r, &b), 0);
    assert_int_equal(ce_buf_terminate(&b), 0);
    char perr[128];
    yajl_val root = yajl_tree_parse((const char *)b.data, perr, sizeof perr);
    assert_non_null(root);
    const char *tp[] = {"tables", NULL}, *sp[] = {"summary", "missing", NULL}, *ip[] = {"identical", NULL},
               *xp[] = {"indexes", NULL};
    yajl_val tables = yajl_tree_get(root, tp, yajl_t_array);
    assert_non_null(tables);
    assert_int_equal(tables->u.array.len, 2);
    const char *dp[] = {"different_ids", NULL};
    yajl_val diffs = yajl_tree_get(tables->u.array.values[0], dp, yajl_t_array);
    assert_int_equal(diffs->u.array.len, 1);
    const char *fp[] = {"field", NULL}, *ep[] = {"expected", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(diffs->u.array.values[0], fp, yajl_t_string)), "name");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(diffs->u.array.values[0], ep, yajl_t_string)), "\"a\"");
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(root, sp, yajl_t_number)), 2);
    assert_true(YAJL_IS_FALSE(yajl_tree_get(root, ip, yajl_t_any)));
    yajl_val idx = yajl_tree_get(root, xp, yajl_t_array);
    assert_int_equal(idx->u.array.len, 2);
    const char *cp[] = {"extra_checked", NULL}, *np[] = {"note", NULL};
    assert_true(YAJL_IS_FALSE(yajl_tree_get(idx->u.array.values[1], cp, yajl_t_any)));
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(idx->u.array.values[1], np, yajl_t_string)),
                        "--table was given");
    yajl_tree_free(root);
    ce_buf_free(&b);
    vc_report_free(&r);
}

static void test_report_many_items(void **state)
{
    (void)state;
    vc_report r = {.max_report = 100};
    vc_table_rep *t = vc_add_table(&r, "a.b", "b");
    for (int i = 0; i < 1000; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "%d", i);
        assert_int_equal(vc_list_add(&t->missing, r.max_report, id, (size_t)n, NULL), 0);
    }
    for (int i = 0; i < 40; i++)
        assert_non_null(vc_add_table(&r, "c.d", "d"));
    assert_int_equal(r.t[0].missing.total, 1000);
    assert_int_equal(r.t[0].missing.n, 100);
    assert_string_equal(r.t[0].missing.v[99].id, "99");
    vc_totals tt;
    vc_report_totals(&r, &tt);
    assert_int_equal(tt.tables, 41);
    assert_int_equal(tt.missing, 1000);
    vc_report_free(&r);
}

static char *lit(const char *data_type, const char *charset, const char *collation, const char *v, size_t len)
{
    static char out[512];
    snap_col c = {.name = "k", .data_type = (char *)data_type, .column_type = (char *)data_type,
                  .charset = (char *)charset, .collation = (char *)collation};
    snap_col_classify(&c);
    ce_buf b;
    ce_buf_init(&b, 1 << 16);
    int rc = vf_key_literal(&b, &c, v, len);
    if (rc == 0 && ce_buf_terminate(&b) == 0)
        snprintf(out, sizeof out, "%s", (const char *)b.data);
    ce_buf_free(&b);
    return rc == 0 ? out : NULL;
}

static void test_key_literals_from_canal_text(void **state)
{
    (void)state;
    assert_string_equal(lit("bigint", NULL, NULL, "-42", 3), "-42");
    assert_string_equal(lit("decimal", NULL, NULL, "10.50", 5), "10.50");
    assert_string_equal(lit("double", NULL, NULL, "1.0E10", 6), "1.0E10");
    /* enum, set and bit arrive as their number, which MySQL compares by index/value */
    assert_string_equal(lit("enum", NULL, NULL, "2", 1), "2");
    assert_string_equal(lit("varchar", "utf8mb4", "utf8mb4_bin", "a'b", 3), "_utf8mb4 X'612762' COLLATE utf8mb4_bin");
    assert_string_equal(lit("datetime", NULL, NULL, "2024-01-02 03:04:05", 19), "'2024-01-02 03:04:05'");
    /* bytes: one code point per byte (ISO-8859-1 as UTF-8) back to the bytes */
    assert_string_equal(lit("varbinary", NULL, NULL, "A\xc3\xbf\xc2\x80", 5), "X'41FF80'");
    assert_null(lit("varbinary", NULL, NULL, "\xe2\x82\xac", 3)); /* U+20AC is no byte */
    assert_null(lit("float", NULL, NULL, "1.1", 3));                /* Float.toString does not read back */
    assert_null(lit("binary", NULL, NULL, "ab", 2));                /* trailing 0x00 were dropped */
    assert_null(lit("int", NULL, NULL, "1 OR 1=1", 8));             /* never text into SQL */
    assert_null(lit("datetime", NULL, NULL, "2024' --", 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_order_does_not_matter),
        cmocka_unit_test(test_numbers_by_exact_value),
        cmocka_unit_test(test_types_and_strings),
        cmocka_unit_test(test_first_differing_field),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_report_text),
        cmocka_unit_test(test_report_max_and_fixed),
        cmocka_unit_test(test_report_json),
        cmocka_unit_test(test_report_many_items),
        cmocka_unit_test(test_key_literals_from_canal_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
