/* test_config: the INI loader. Good files (every field, every default) and
 * each class of error with its exact "NAME:LINE: " prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define MIN_TABLE "[table shop.items]\nindex = items\n"

/* Loads text that must fail; checks that the message starts with `prefix`
 * and contains `part` (when not NULL). */
static void expect_error(const char *text, const char *prefix, const char *part)
{
    cfg c;
    char err[1024] = "";
    int rc = cfg_load_string(text, "t.ini", &c, err, sizeof err);
    if (rc != -1)
        fail_msg("accepted:\n%s", text);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", err, prefix);
    if (part && strstr(err, part) == NULL)
        fail_msg("message '%s' does not contain '%s'", err, part);
    /* a failed load leaves nothing behind */
    assert_null(c.tables);
    assert_int_equal(c.n_tables, 0);
    assert_null(c.canal.address);
    assert_null(c.path);
}

static void load_ok(const char *text, cfg *c)
{
    char err[1024] = "";
    if (cfg_load_string(text, "t.ini", c, err, sizeof err) != 0)
        fail_msg("rejected: %s", err);
    assert_string_equal(err, "");
}

static void test_defaults(void **state)
{
    (void)state;
    cfg c;
    load_ok(MIN_TABLE, &c);
    assert_string_equal(c.path, "t.ini");
    assert_string_equal(c.canal.address, "127.0.0.1:11111");
    assert_string_equal(c.canal.destination, "example");
    assert_string_equal(c.canal.username, "");
    assert_string_equal(c.canal.password, "");
    assert_int_equal(c.canal.client_id, 1001);
    assert_string_equal(c.canal.filter, "");
    assert_int_equal(c.canal.batch_size, 1000);
    assert_int_equal(c.canal.fetch_timeout_ms, 500);
    assert_string_equal(c.es.url, "http://127.0.0.1:9200");
    assert_int_equal(c.n_tables, 1);
    assert_string_equal(c.tables[0].db, "shop");
    assert_string_equal(c.tables[0].table, "items");
    assert_string_equal(c.tables[0].index, "items");
    assert_null(c.tables[0].id_cols);
    assert_int_equal(c.tables[0].n_id_cols, 0);
    assert_int_equal(c.tables[0].line, 1);
    cfg_free(&c);
    assert_null(c.tables);
    assert_null(c.canal.address);
}

static void test_every_field(void **state)
{
    (void)state;
    static const char text[] = "; full configuration\n"                    /* 1 */
                               "[canal]\n"                                  /* 2 */
                               "address = 10.0.0.1:11111, 10.0.0.2:11112\n" /* 3 */
                               "destination = orders\n"                     /* 4 */
                               "username = canal\n"                         /* 5 */
                               "password = pw\n"                            /* 6 */
                               "client_id = 32767\n"                        /* 7 */
                               "filter = shop\\\\..*\n"                     /* 8 */
                               "batch_size = 1000000\n"                     /* 9 */
                               "fetch_timeout_ms = 1\n"                     /* 10 */
                               "\n"                                         /* 11 */
                               "[elasticsearch]\n"                          /* 12 */
                               "url = https://es.example:9243/\n"           /* 13 */
                               "\n"                                         /* 14 */
                               "[table shop.products]\n"                    /* 15 */
                               "index = products-v1\n"                      /* 16 */
                               "id = shop_id, sku\n"                        /* 17 */
                               "[table shop.orders]\n"                      /* 18 */
                               "id =\n"                                     /* 19 */
                               "index = orders\n";                          /* 20 */
    cfg c;
    load_ok(text, &c);
    assert_string_equal(c.canal.address, "10.0.0.1:11111, 10.0.0.2:11112");
    assert_string_equal(c.canal.destination, "orders");
    assert_string_equal(c.canal.username, "canal");
    assert_string_equal(c.canal.password, "pw");
    assert_int_equal(c.canal.client_id, 32767);
    assert_string_equal(c.canal.filter, "shop\\\\..*");
    assert_int_equal(c.canal.batch_size, 1000000);
    assert_int_equal(c.canal.fetch_timeout_ms, 1);
    assert_string_equal(c.es.url, "https://es.example:9243/");
    assert_int_equal(c.n_tables, 2);

    const cfg_table *p = cfg_find_table(&c, "shop", "products");
    assert_non_null(p);
    assert_ptr_equal(p, &c.tables[0]);
    assert_string_equal(p->index, "products-v1");
    assert_int_equal(p->n_id_cols, 2);
    assert_string_equal(p->id_cols[0], "shop_id");
    assert_string_equal(p->id_cols[1], "sku");
    assert_int_equal(p->line, 15);

    const cfg_table *o = cfg_find_table(&c, "shop", "orders");
    assert_non_null(o);
    assert_string_equal(o->index, "orders");
    assert_null(o->id_cols); /* "id =" keeps Canal's isKey columns */
    assert_int_equal(o->line, 18);

    assert_null(cfg_find_table(&c, "shop", "missing"));
    assert_null(cfg_find_table(&c, "other", "orders"));
    assert_null(cfg_find_table(&c, "Shop", "orders")); /* exact match */
    cfg_free(&c);
}

/* [defaults] options reach every table unless the table sets its own. */
static void test_defaults_section(void **state)
{
    (void)state;
    cfg c;
    load_ok("[table a.one]\nindex = one\n"
            "[defaults]\ndecimal = number\ntimezone = +08:00\nblob = base64\non_truncate = ignore\n"
            "[table a.two]\nindex = two\ndecimal = string\ntimezone = UTC\non_drop = ignore\n"
            "convert = tags:split(,), flag:bool, secret:drop\n",
            &c);
    assert_int_equal(c.n_tables, 2);
    const cfg_table *one = cfg_find_table(&c, "a", "one"), *two = cfg_find_table(&c, "a", "two");
    assert_non_null(one);
    assert_non_null(two);
    assert_int_equal(one->values.decimal, VALUE_DECIMAL_NUMBER);
    assert_int_equal(one->values.tz_set, 1);
    assert_int_equal(one->values.tz_offset_min, 480);
    assert_int_equal(one->values.blob, VALUE_BLOB_BASE64);
    assert_int_equal(one->on_truncate, CFG_DDL_IGNORE);
    assert_int_equal(one->on_drop, CFG_DDL_DELETE);
    assert_int_equal(one->values.n_convs, 0);
    assert_int_equal(two->values.decimal, VALUE_DECIMAL_STRING);
    assert_int_equal(two->values.tz_set, 1);
    assert_int_equal(two->values.tz_offset_min, 0);
    assert_int_equal(two->values.blob, VALUE_BLOB_BASE64);
    assert_int_equal(two->on_truncate, CFG_DDL_IGNORE);
    assert_int_equal(two->on_drop, CFG_DDL_IGNORE);
    assert_int_equal(two->values.n_convs, 3);
    assert_string_equal(two->values.convs[0].column, "tags");
    assert_int_equal(two->values.convs[0].kind, VALUE_CONV_SPLIT);
    assert_string_equal(two->values.convs[0].sep, ",");
    assert_int_equal(two->values.convs[1].kind, VALUE_CONV_BOOL);
    assert_int_equal(two->values.convs[2].kind, VALUE_CONV_DROP);
    cfg_free(&c);
}

static void test_bad_options(void **state)
{
    (void)state;
    expect_error("[defaults]\ndecimal = float\n" MIN_TABLE, "t.ini:2: ", "decimal: 'float'");
    expect_error("[defaults]\ntimezone = +15:00\n" MIN_TABLE, "t.ini:2: ", "timezone");
    expect_error("[defaults]\nblob = hex\n" MIN_TABLE, "t.ini:2: ", "blob: 'hex'");
    expect_error("[defaults]\non_drop = maybe\n" MIN_TABLE, "t.ini:2: ", "on_drop: 'maybe'");
    expect_error("[defaults]\nindex = x\n" MIN_TABLE, "t.ini:2: ", "[defaults]: unknown key 'index'");
    expect_error("[defaults]\n[defaults]\n" MIN_TABLE, "t.ini:2: ", "already given at line 1");
    expect_error(MIN_TABLE "convert = a:frobnicate\n", "t.ini:3: ", "convert");
    expect_error(MIN_TABLE "on_truncate = ignore\non_truncate = delete\n", "t.ini:4: ", "duplicate key");
    expect_error("[elasticsearch]\non_error = dead_letter\n" MIN_TABLE, "t.ini: ", "needs dead_letter = PATH");
    expect_error("[elasticsearch]\non_error = skip\n" MIN_TABLE, "t.ini: ", "on_error: 'skip'");
    expect_error("[elasticsearch]\nversioning = internal\n" MIN_TABLE, "t.ini: ", "versioning: 'internal'");
    expect_error("[elasticsearch]\nversion_epoch = 256\n" MIN_TABLE, "t.ini:2: ", "version_epoch");
    expect_error("[elasticsearch]\nretry_initial_ms = 500\nretry_max_ms = 100\n" MIN_TABLE, "t.ini: ",
                 "retry_max_ms (100) is below");
    cfg c;
    load_ok("[elasticsearch]\ndead_letter = /tmp/x.jsonl\n" MIN_TABLE, &c);
    assert_int_equal(c.es.halt_on_error, 0);
    assert_int_equal(c.es.versioning_on, 1);
    cfg_free(&c);
    load_ok(MIN_TABLE, &c);
    assert_int_equal(c.es.halt_on_error, 1);
    assert_int_equal(c.es.max_retries, 0);
    cfg_free(&c);
}

static void test_unknown_section(void **state)
{
    (void)state;
    expect_error("[canal]\naddress = h:1\n[elastic]\nurl = http://x\n" MIN_TABLE, "t.ini:3: ",
                 "unknown section [elastic]");
    /* also when the unknown section is empty (inih would not report it) */
    expect_error(MIN_TABLE "\n[tables]\n", "t.ini:4: ", "unknown section [tables]");
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_error("[canal]\ndestination = x\naddres = h:1\n" MIN_TABLE, "t.ini:3: [canal]: unknown key 'addres'",
                 "known: address, destination");
    expect_error("[elasticsearch]\nurl = http://x\nuser = u\n" MIN_TABLE, "t.ini:3: [elasticsearch]: unknown key 'user'",
                 "known: url");
    expect_error("[table shop.items]\nindex = items\nids = a\n", "t.ini:3: [table shop.items]: unknown key 'ids'",
                 "known: index, id");
    /* a [canal] key in a [table] section is unknown there */
    expect_error("[table shop.items]\nindex = items\naddress = h:1\n", "t.ini:3: [table shop.items]: unknown key 'address'",
                 NULL);
}

static void test_bad_integer(void **state)
{
    (void)state;
    expect_error("[canal]\nclient_id = abc\n" MIN_TABLE, "t.ini:2: [canal] client_id: 'abc' is not an integer in 1..32767",
                 NULL);
    expect_error("[canal]\n\nclient_id = 32768\n" MIN_TABLE,
                 "t.ini:3: [canal] client_id: '32768' is not an integer in 1..32767", NULL);
    expect_error("[canal]\nclient_id = 0\n" MIN_TABLE, "t.ini:2: [canal] client_id: '0' is not an integer", NULL);
    expect_error("[canal]\nbatch_size = 0\n" MIN_TABLE, "t.ini:2: [canal] batch_size: '0' is not an integer in 1..1000000",
                 NULL);
    expect_error("[canal]\nbatch_size = 1000001\n" MIN_TABLE, "t.ini:2: [canal] batch_size: ", NULL);
    expect_error("[canal]\nfetch_timeout_ms = 600001\n" MIN_TABLE,
                 "t.ini:2: [canal] fetch_timeout_ms: '600001' is not an integer in 1..600000", NULL);
    expect_error("[canal]\nfetch_timeout_ms = 5s\n" MIN_TABLE, "t.ini:2: [canal] fetch_timeout_ms: '5s'", NULL);
    expect_error("[canal]\nbatch_size = 99999999999999999999999\n" MIN_TABLE, "t.ini:2: [canal] batch_size: ", NULL);
    expect_error("[canal]\nbatch_size = -5\n" MIN_TABLE, "t.ini:2: [canal] batch_size: '-5'", NULL);
    expect_error("[canal]\nbatch_size =\n" MIN_TABLE, "t.ini:2: [canal] batch_size: '' is not an integer", NULL);
    expect_error("[canal]\nbatch_size = 1.5\n" MIN_TABLE, "t.ini:2: [canal] batch_size: '1.5'", NULL);
    /* range ends are accepted */
    cfg c;
    load_ok("[canal]\nclient_id = 1\nbatch_size = 1\nfetch_timeout_ms = 600000\n" MIN_TABLE, &c);
    assert_int_equal(c.canal.client_id, 1);
    assert_int_equal(c.canal.batch_size, 1);
    assert_int_equal(c.canal.fetch_timeout_ms, 600000);
    cfg_free(&c);
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error("[canal]\ndestination = a\nusername = u\ndestination = b\n" MIN_TABLE,
                 "t.ini:4: [canal]: duplicate key 'destination'", NULL);
    /* also when the section is repeated */
    expect_error("[canal]\ndestination = a\n" MIN_TABLE "[canal]\ndestination = b\n",
                 "t.ini:6: [canal]: duplicate key 'destination'", NULL);
    /* a repeated section with other keys is fine */
    cfg c;
    load_ok("[canal]\ndestination = a\n" MIN_TABLE "[canal]\nusername = u\n", &c);
    assert_string_equal(c.canal.destination, "a");
    assert_string_equal(c.canal.username, "u");
    cfg_free(&c);
    expect_error("[table shop.items]\nindex = items\nindex = other\n", "t.ini:3: [table shop.items]: duplicate key 'index'",
                 NULL);
    expect_error("[table shop.items]\nindex = items\nid = a\nid = b\n", "t.ini:4: [table shop.items]: duplicate key 'id'",
                 NULL);
    expect_error("[table shop.items]\nindex = items\n\n[table shop.other]\nindex = o\n[table shop.items]\nindex = again\n",
                 "t.ini:6: table shop.items is already configured at line 1", NULL);
}

static void test_table_without_index(void **state)
{
    (void)state;
    /* reported at the section's header line, whether or not another section follows */
    expect_error("[canal]\naddress = h:1\n[table shop.items]\nid = a\n[table shop.other]\nindex = o\n",
                 "t.ini:3: [table shop.items]: missing key 'index'", NULL);
    expect_error(MIN_TABLE "[table shop.other]\nid = a\n", "t.ini:3: [table shop.other]: missing key 'index'", NULL);
    expect_error("[table shop.empty]\n", "t.ini:1: [table shop.empty]: missing key 'index'", NULL);
}

static void test_bad_table_name(void **state)
{
    (void)state;
    expect_error("[table items]\nindex = items\n", "t.ini:1: section [table items]: expected [table DB.TABLE]", NULL);
    expect_error("[canal]\n[table .items]\nindex = items\n", "t.ini:2: section [table .items]: expected", NULL);
    expect_error("[table shop.]\nindex = items\n", "t.ini:1: section [table shop.]: expected", NULL);
    expect_error("[table shop.items extra]\nindex = items\n", "t.ini:1: section [table shop.items extra]: expected",
                 NULL);
    expect_error("[table ]\nindex = items\n", "t.ini:1: ", NULL);
    expect_error("[canal\naddress = h:1\n", "t.ini:1: section header without ']'", NULL);
}

static void test_bad_index_name(void **state)
{
    (void)state;
    expect_error("[table shop.items]\nindex = Items\n", "t.ini:2: [table shop.items]: index 'Items' is not a valid index name",
                 NULL);
    expect_error("[table shop.items]\n\nindex = it ems\n", "t.ini:3: [table shop.items]: index 'it ems'", NULL);
    expect_error("[table shop.items]\nindex = a/b\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex = _items\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex = -items\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex = a*b\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex = ..\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex =\n", "t.ini:2: ", "not a valid index name");
    expect_error("[table shop.items]\nindex = items\nid = a, ,b\n", "t.ini:3: bad column name in list 'a, ,b'", NULL);
    expect_error("[table shop.items]\nindex = items\nid = ,\n", "t.ini:3: empty column list", NULL);
    expect_error("[table shop.items]\nindex = items\nid = a`b\n", "t.ini:3: bad column name in list 'a`b'", NULL);
}

static void test_key_outside_section(void **state)
{
    (void)state;
    expect_error("address = h:1\n" MIN_TABLE, "t.ini:1: key 'address' outside of any section", NULL);
    expect_error("; comment\n\nurl = http://x\n" MIN_TABLE, "t.ini:3: key 'url' outside of any section", NULL);
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_error("[canal]\nthis is not a key value\n" MIN_TABLE,
                 "t.ini:2: syntax error (expected [section] or key = value)", NULL);
    expect_error(MIN_TABLE "id\n", "t.ini:3: syntax error", NULL);
    /* the first error of the file is the one reported, even when a later
     * line has another kind of error */
    expect_error("[canal]\ngarbage\nbogus = 1\n" MIN_TABLE, "t.ini:2: syntax error", NULL);
    expect_error("[canal]\ndestination = x\n= nokey\n" MIN_TABLE, "t.ini:3: ", NULL);
}

static void test_no_table(void **state)
{
    (void)state;
    expect_error("[canal]\naddress = h:1\n", "t.ini: no [table DB.TABLE] section", NULL);
    expect_error("", "t.ini: no [table DB.TABLE] section", NULL);
    expect_error("; only a comment\n", "t.ini: no [table DB.TABLE] section", NULL);
}

static void test_cross_field(void **state)
{
    (void)state;
    expect_error("[canal]\naddress = nohost\n" MIN_TABLE, "t.ini: [canal] address: 'nohost' is not host:port", NULL);
    expect_error("[canal]\naddress = h:1,h:0\n" MIN_TABLE, "t.ini: [canal] address: 'h:0' is not host:port", NULL);
    expect_error("[canal]\naddress = ,\n" MIN_TABLE, "t.ini: [canal] address: expected 1 to 16", NULL);
    expect_error("[canal]\ndestination =\n" MIN_TABLE, "t.ini: [canal] destination must not be empty", NULL);
    expect_error("[elasticsearch]\nurl = ftp://x\n" MIN_TABLE, "t.ini: [elasticsearch] url: 'ftp://x' must start with",
                 NULL);
}

static void test_env_expansion(void **state)
{
    (void)state;
    assert_int_equal(setenv("CE_TEST_PASSWORD", "p@ss ${NOT_EXPANDED}", 1), 0);
    assert_int_equal(setenv("CE_TEST_HOST", "canal.local", 1), 0);
    assert_int_equal(setenv("CE_TEST_BATCH", "250", 1), 0);
    cfg c;
    load_ok("[canal]\n"
            "address = ${CE_TEST_HOST}:11111\n"
            "password = ${CE_TEST_PASSWORD}\n"
            "username = a$$b\n"
            "batch_size = ${CE_TEST_BATCH}\n"
            "destination = $x\n" MIN_TABLE,
            &c);
    assert_string_equal(c.canal.address, "canal.local:11111");
    assert_string_equal(c.canal.password, "p@ss ${NOT_EXPANDED}"); /* not expanded twice */
    assert_string_equal(c.canal.username, "a$b");
    assert_int_equal(c.canal.batch_size, 250);
    assert_string_equal(c.canal.destination, "$x");
    cfg_free(&c);

    assert_int_equal(unsetenv("CE_TEST_UNSET_VAR"), 0);
    expect_error("[canal]\nusername = u\npassword = ${CE_TEST_UNSET_VAR}\n" MIN_TABLE,
                 "t.ini:3: environment variable CE_TEST_UNSET_VAR is not set", NULL);
    expect_error("[table shop.items]\nindex = ${CE_TEST_UNSET_VAR}\n",
                 "t.ini:2: environment variable CE_TEST_UNSET_VAR is not set", NULL);
    expect_error("[canal]\npassword = ${CE_TEST_HOST\n" MIN_TABLE, "t.ini:2: unterminated ${", NULL);
    /* say what is wrong and how to write it */
    expect_error("[canal]\npassword = ${}\n" MIN_TABLE,
                 "t.ini:2: no variable name in ${...}: write ${NAME} with NAME an environment variable (a literal $ "
                 "is written $$)",
                 NULL);
    expect_error("[canal]\npassword = ${ }\n" MIN_TABLE, "t.ini:2: no variable name in ${...}: write ${NAME}", NULL);
    expect_error("[canal]\npassword = ${${HOME}}\n" MIN_TABLE,
                 "t.ini:2: ${ inside ${...}: variables cannot be nested; write ${NAME} with NAME an environment "
                 "variable (a literal $ is written $$)",
                 NULL);
    expect_error("[canal]\npassword = x${${HOME}\n" MIN_TABLE, "t.ini:2: ${ inside ${...}: variables cannot be nested",
                 NULL);
    expect_error("[canal]\npassword = ${A B}\n" MIN_TABLE,
                 "t.ini:2: '${A B}': 'A B' is not an environment variable name (no $, =, {, spaces or tabs; a "
                 "literal $ is written $$)",
                 NULL);
    expect_error("[canal]\npassword = ${A=B}\n" MIN_TABLE, "t.ini:2: '${A=B}': 'A=B' is not an environment", NULL);
    expect_error("[canal]\npassword = ab${\n" MIN_TABLE,
                 "t.ini:2: unterminated ${ in value: write ${NAME} (a literal $ is written $$)", NULL);
    /* an expanded value is checked like a written one */
    assert_int_equal(setenv("CE_TEST_BATCH", "many", 1), 0);
    expect_error("[canal]\nbatch_size = ${CE_TEST_BATCH}\n" MIN_TABLE, "t.ini:2: [canal] batch_size: 'many'", NULL);
    unsetenv("CE_TEST_PASSWORD");
    unsetenv("CE_TEST_HOST");
    unsetenv("CE_TEST_BATCH");
}

/* Why a rendered index name is refused, and cfg_index_check for one table. */
static void test_index_name_problem(void **state)
{
    (void)state;
    char buf[64];
    assert_null(cfg_index_name_problem("shop-%2a", buf, sizeof buf)); /* '%' is valid: escaped in paths */
    assert_null(cfg_index_name_problem(".hidden", buf, sizeof buf));
    assert_null(cfg_index_name_problem("caf\xc3\xa9", buf, sizeof buf));
    assert_string_equal(cfg_index_name_problem("", buf, sizeof buf), "is empty");
    assert_string_equal(cfg_index_name_problem("a b", buf, sizeof buf), "contains a space");
    assert_string_equal(cfg_index_name_problem("shop-*", buf, sizeof buf), "contains '*'");
    assert_string_equal(cfg_index_name_problem("a,b", buf, sizeof buf), "contains ','");
    assert_string_equal(cfg_index_name_problem("a#b", buf, sizeof buf), "contains '#'");
    assert_string_equal(cfg_index_name_problem("a\\b", buf, sizeof buf), "contains '\\'");
    assert_string_equal(cfg_index_name_problem("a/b", buf, sizeof buf), "contains '/'");
    assert_string_equal(cfg_index_name_problem("a?b", buf, sizeof buf), "contains '?'");
    assert_string_equal(cfg_index_name_problem("a\"b", buf, sizeof buf), "contains '\"'");
    assert_string_equal(cfg_index_name_problem("a<b", buf, sizeof buf), "contains '<'");
    assert_string_equal(cfg_index_name_problem("a>b", buf, sizeof buf), "contains '>'");
    assert_string_equal(cfg_index_name_problem("a|b", buf, sizeof buf), "contains '|'");
    assert_string_equal(cfg_index_name_problem("a:b", buf, sizeof buf), "contains ':'");
    assert_string_equal(cfg_index_name_problem("a\tb", buf, sizeof buf), "contains the control character 0x09");
    assert_string_equal(cfg_index_name_problem("Shop", buf, sizeof buf), "has upper case");
    assert_string_equal(cfg_index_name_problem("-a", buf, sizeof buf), "starts with '-'");
    assert_string_equal(cfg_index_name_problem("_a", buf, sizeof buf), "starts with '_'");
    assert_string_equal(cfg_index_name_problem("+a", buf, sizeof buf), "starts with '+'");
    assert_string_equal(cfg_index_name_problem(".", buf, sizeof buf), "is '.' or '..'");
    assert_string_equal(cfg_index_name_problem("..", buf, sizeof buf), "is '.' or '..'");
    char n[300];
    memset(n, 'a', sizeof n);
    n[255] = '\0';
    assert_null(cfg_index_name_problem(n, buf, sizeof buf));
    n[255] = 'a';
    n[256] = '\0';
    assert_string_equal(cfg_index_name_problem(n, buf, sizeof buf), "is longer than 255 bytes");

    cfg c;
    load_ok("[table /shop\\..*/]\nindex = {db}-{table}\n", &c);
    const cfg_table *t = cfg_find_table(&c, "shop", "My Table");
    assert_non_null(t);
    char idx[CFG_INDEX_MAX + 1], why[64];
    assert_int_equal(cfg_index_check(t, "shop", "%2a", idx, sizeof idx, why, sizeof why), 0);
    assert_string_equal(idx, "shop-%2a");
    assert_int_equal(cfg_index_check(t, "shop", "My Table", idx, sizeof idx, why, sizeof why), -1);
    assert_string_equal(idx, "shop-my table"); /* upper case is lowered; the space stays */
    assert_string_equal(why, "contains a space");
    assert_int_equal(cfg_index_for(t, "shop", "a*", idx, sizeof idx), -1);
    /* too long for the buffer: what fits, and why */
    assert_int_equal(cfg_index_check(t, "shop", n, idx, 100, why, sizeof why), -1);
    assert_int_equal(strlen(idx), 99);
    assert_string_equal(why, "is longer than 255 bytes");
    cfg_free(&c);
}

static void test_comments_and_empty(void **state)
{
    (void)state;
    cfg c;
    load_ok("# hash comment\n"
            "[canal]\n"
            "; semicolon comment\n"
            "address = h:1 ; inline comment\n"
            "destination = d;e\n"
            "filter =\n"
            "username =   spaced   \n"
            "[table shop.items]\n"
            "index = items ; the index\n"
            "id = a ; b\n",
            &c);
    assert_string_equal(c.canal.address, "h:1");
    assert_string_equal(c.canal.destination, "d;e"); /* no blank before ';': part of the value */
    assert_string_equal(c.canal.filter, "");
    assert_string_equal(c.canal.username, "spaced");
    assert_string_equal(c.tables[0].index, "items");
    assert_int_equal(c.tables[0].n_id_cols, 1);
    assert_string_equal(c.tables[0].id_cols[0], "a");
    cfg_free(&c);
}

static void test_crlf_and_bom(void **state)
{
    (void)state;
    cfg c;
    load_ok("\xef\xbb\xbf[canal]\r\ndestination = d\r\n[table shop.items]\r\nindex = items\r\n", &c);
    assert_string_equal(c.canal.destination, "d");
    assert_string_equal(c.tables[0].index, "items");
    cfg_free(&c);
}

/* The line limit is enforced with an error naming the line, never by
 * silently cutting the value (which could also let the cut-off tail be
 * parsed as a line of its own). */
static void test_long_line(void **state)
{
    (void)state;
    size_t sizes[] = {199, 200, 201, 4096, 65533, 65534, 70000, 300000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t vlen = sizes[k];
        static const char head[] = "[canal]\nfilter = ";
        static const char tail[] = "\nusername = u\n" MIN_TABLE;
        size_t total = sizeof head - 1 + vlen + sizeof tail;
        char *text = malloc(total);
        assert_non_null(text);
        memcpy(text, head, sizeof head - 1);
        /* the value ends with "x\nusername = evil" material if it were cut */
        memset(text + sizeof head - 1, 'a', vlen);
        memcpy(text + sizeof head - 1 + vlen, tail, sizeof tail);
        size_t line_len = strlen("filter = ") + vlen; /* without the newline */
        cfg c;
        char err[512] = "";
        int rc = cfg_load_string(text, "t.ini", &c, err, sizeof err);
        if (line_len <= 65533) {
            if (rc != 0)
                fail_msg("line of %zu bytes rejected: %s", line_len, err);
            assert_int_equal(strlen(c.canal.filter), vlen);
            assert_string_equal(c.canal.username, "u");
            cfg_free(&c);
        } else {
            if (rc != -1)
                fail_msg("line of %zu bytes accepted (filter length %zu)", line_len, strlen(c.canal.filter));
            assert_string_equal(err, "t.ini:2: line longer than 65534 bytes");
        }
        free(text);
    }
    /* a key smuggled after the limit is not parsed */
    size_t pad = 70000;
    static const char head[] = "[canal]\nfilter = ";
    static const char tail[] = "destination = smuggled\n" MIN_TABLE;
    char *text = malloc(sizeof head + pad + sizeof tail);
    assert_non_null(text);
    memcpy(text, head, sizeof head - 1);
    memset(text + sizeof head - 1, ' ', pad);
    memcpy(text + sizeof head - 1 + pad, tail, sizeof tail);
    cfg c;
    char err[512] = "";
    assert_int_equal(cfg_load_string(text, "t.ini", &c, err, sizeof err), -1);
    assert_string_equal(err, "t.ini:2: line longer than 65534 bytes");
    free(text);
}

static void test_long_value_from_env(void **state)
{
    (void)state;
    size_t n = 70000;
    char *v = malloc(n + 1);
    assert_non_null(v);
    memset(v, 'v', n);
    v[n] = '\0';
    assert_int_equal(setenv("CE_TEST_LONG", v, 1), 0);
    free(v);
    expect_error("[canal]\npassword = ${CE_TEST_LONG}\n" MIN_TABLE, "t.ini:2: value longer than 65536 bytes", NULL);
    unsetenv("CE_TEST_LONG");
}

/* ---- cfg_load on files ---- */

static char *write_temp(const char *content, size_t n)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/ce_test_config_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

static void test_load_file(void **state)
{
    (void)state;
    static const char text[] = "[canal]\ndestination = filedest\n[table shop.items]\nindex = items\n";
    char *path = write_temp(text, sizeof text - 1);
    cfg c;
    char err[1024] = "";
    assert_int_equal(cfg_load(path, &c, err, sizeof err), 0);
    assert_string_equal(c.path, path);
    assert_string_equal(c.canal.destination, "filedest");
    cfg_free(&c);

    /* errors name the file */
    static const char bad[] = "[canal]\nbogus = 1\n";
    char *bpath = write_temp(bad, sizeof bad - 1);
    assert_int_equal(cfg_load(bpath, &c, err, sizeof err), -1);
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s:2: [canal]: unknown key 'bogus'", bpath);
    assert_true(strncmp(err, prefix, strlen(prefix)) == 0);

    /* a NUL byte in the file */
    static const char nul[] = "[canal]\ndestination = a\0b\n" MIN_TABLE;
    char *npath = write_temp(nul, sizeof nul - 1);
    assert_int_equal(cfg_load(npath, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL byte"));

    /* an empty file */
    char *epath = write_temp("", 0);
    assert_int_equal(cfg_load(epath, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no [table DB.TABLE] section"));

    unlink(path);
    unlink(bpath);
    unlink(npath);
    unlink(epath);
    free(path);
    free(bpath);
    free(npath);
    free(epath);
}

static void test_load_data_file(void **state)
{
    (void)state;
    cfg c;
    char err[1024] = "";
    const char *path = TEST_DATA_DIR "/two-tables.ini";
    if (cfg_load(path, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.canal.address, "canal-a:11111,canal-b:11111");
    assert_int_equal(c.canal.client_id, 1002);
    assert_string_equal(c.es.url, "http://es:9200");
    assert_int_equal(c.n_tables, 2);
    const cfg_table *t = cfg_find_table(&c, "shop", "order_items");
    assert_non_null(t);
    assert_int_equal(t->line, 14);
    assert_string_equal(t->index, "order-items");
    assert_int_equal(t->n_id_cols, 2);
    assert_string_equal(t->id_cols[0], "order_id");
    assert_string_equal(t->id_cols[1], "line_no");
    assert_int_equal(cfg_find_table(&c, "shop", "products")->line, 10);
    cfg_free(&c);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    cfg c;
    char err[1024] = "";
    assert_int_equal(cfg_load("/nonexistent/dir/canal-es.ini", &c, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/dir/canal-es.ini: cannot open: No such file or directory");
    assert_null(c.tables);
    assert_null(c.path);
}

/* The shipped example configuration loads (with its ${CANAL_PASSWORD}). */
static void test_shipped_example(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/../../../etc/canal-es.ini", TEST_DATA_DIR);
    assert_int_equal(setenv("CANAL_PASSWORD", "example-password", 1), 0);
    cfg c;
    char err[1024] = "";
    if (cfg_load(path, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(c.n_tables >= 1);
    assert_string_equal(c.canal.password, "example-password");
    cfg_free(&c);
    unsetenv("CANAL_PASSWORD");
}

/* mapping = auto | dynamic | FILE: default auto, [defaults] inherited, a table overrides; flatten. */
static void test_mapping_modes(void **state)
{
    (void)state;
    char mapping[] = "/tmp/canal-es-test-mapping-XXXXXX";
    int fd = mkstemp(mapping);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}", 2), 2);
    close(fd);
    cfg c;
    load_ok("[table a.b]\nindex = x\n", &c);
    assert_int_equal(c.tables[0].mapping_mode, CFG_MAPPING_AUTO);
    assert_null(c.tables[0].mapping);
    cfg_free(&c);
    char text[1024];
    snprintf(text, sizeof text,
             "[defaults]\nmapping = %s\n"
             "[table a.b]\nindex = x\n"
             "[table a.c]\nindex = y\nmapping = dynamic\n"
             "[table a.d]\nindex = z\nmapping = auto\nflatten = payload, Meta\n",
             mapping);
    load_ok(text, &c);
    assert_int_equal(c.tables[0].mapping_mode, CFG_MAPPING_FILE);
    assert_string_equal(c.tables[0].mapping, mapping);
    assert_int_equal(c.tables[1].mapping_mode, CFG_MAPPING_DYNAMIC);
    assert_null(c.tables[1].mapping);
    assert_int_equal(c.tables[2].mapping_mode, CFG_MAPPING_AUTO);
    assert_int_equal(c.tables[2].n_flatten, 2);
    assert_string_equal(c.tables[2].flatten[1], "Meta");
    cfg_free(&c);
    load_ok("[defaults]\nmapping = dynamic\n[table a.b]\nindex = x\n", &c);
    assert_int_equal(c.tables[0].mapping_mode, CFG_MAPPING_DYNAMIC);
    cfg_free(&c);
    expect_error("[defaults]\nmapping = Auto\n[table a.b]\nindex = x\n",
                 "t.ini:2: [defaults] mapping: 'Auto' is not auto or dynamic", NULL);
    unlink(mapping);
}

/* Table rules: regex sections, first match wins, templates and every key. */
static void test_table_rules(void **state)
{
    (void)state;
    char mapping[] = "/tmp/canal-es-test-mapping-XXXXXX";
    int fd = mkstemp(mapping);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}", 2), 2);
    close(fd);
    char text[2048];
    snprintf(text, sizeof text,
             "[table shop.order_archive]\n"                 /* 1 */
             "index = archive\n"                            /* 2 */
             "enabled = false\n"                            /* 3 */
             "[table /shop\\.order_[0-9]+/]\n"              /* 4 */
             "index = orders-{db}\n"                        /* 5 */
             "id_prefix = {table}:\n"                       /* 6 */
             "id_separator = |\n"                           /* 7 */
             "include = id, total, customer_id\n"           /* 8 */
             "rename = customer_id:customer, total:amount\n" /* 9 */
             "add_field = source:mysql, region:eu:west\n"   /* 10 */
             "routing = customer_id\n"                      /* 11 */
             "pipeline = orders-enrich\n"                   /* 12 */
             "delete = soft:is_deleted\n"                   /* 13 */
             "mapping = %s\n"                               /* 14 */
             "[table /[a-z]+\\.(users|Accounts)/]\n"        /* 15 */
             "index = {db}_{table}\n"                       /* 16 */
             "exclude = password_hash\n"                    /* 17 */
             "alias = people\n",                            /* 18 */
             mapping);
    cfg c;
    load_ok(text, &c);
    assert_int_equal(c.n_tables, 3);
    const cfg_table *a = cfg_find_table(&c, "shop", "order_archive");
    assert_ptr_equal(a, &c.tables[0]); /* exact rule first: the regex below would match too */
    assert_false(a->enabled);
    const cfg_table *o = cfg_find_table(&c, "shop", "order_17");
    assert_ptr_equal(o, &c.tables[1]);
    assert_true(o->enabled);
    assert_string_equal(o->pattern, "shop\\.order_[0-9]+");
    assert_null(o->db);
    assert_null(cfg_find_table(&c, "shop", "order_17x")); /* the whole name must match */
    assert_null(cfg_find_table(&c, "xshop", "order_1"));
    assert_null(cfg_find_table(&c, "shop", "order_"));
    assert_string_equal(o->id_prefix, "{table}:");
    assert_string_equal(o->id_separator, "|");
    assert_int_equal(o->n_include, 3);
    assert_string_equal(o->include[2], "customer_id");
    assert_int_equal(o->n_rename, 2);
    assert_string_equal(o->rename[1].a, "total");
    assert_string_equal(o->rename[1].b, "amount");
    assert_int_equal(o->n_add_field, 2);
    assert_string_equal(o->add_field[1].a, "region");
    assert_string_equal(o->add_field[1].b, "eu:west"); /* split at the first ':' */
    assert_string_equal(o->routing, "customer_id");
    assert_string_equal(o->pipeline, "orders-enrich");
    assert_int_equal(o->delete_mode, CFG_DELETE_SOFT);
    assert_string_equal(o->soft_field, "is_deleted");
    assert_string_equal(o->mapping, mapping);
    char idx[CFG_INDEX_MAX + 1];
    assert_int_equal(cfg_index_for(o, "Shop", "order_17", idx, sizeof idx), 0);
    assert_string_equal(idx, "orders-shop"); /* lowercased */
    assert_true(cfg_index_shared(&c, o));    /* every shard in one index */
    assert_false(cfg_index_shared(&c, a));
    const cfg_table *u = cfg_find_table(&c, "crm", "Accounts");
    assert_ptr_equal(u, &c.tables[2]);
    assert_int_equal(cfg_index_for(u, "crm", "Accounts", idx, sizeof idx), 0);
    assert_string_equal(idx, "people"); /* writes go through the alias */
    assert_string_equal(u->id_separator, "_");
    assert_int_equal(u->n_exclude, 1);
    char name[64];
    assert_string_equal(cfg_rule_name(u, name, sizeof name), "/[a-z]+\\.(users|Accounts)/");
    assert_string_equal(cfg_rule_name(a, name, sizeof name), "shop.order_archive");
    cfg_free(&c);
    unlink(mapping);
}

static void test_table_rule_errors(void **state)
{
    (void)state;
    expect_error("[table /shop.(/]\nindex = x\n", "t.ini:1: section [table /shop.(/]: pattern refused: unbalanced '('",
                 NULL);
    expect_error("[table /shop.[/]\nindex = x\n", "t.ini:1: section [table /shop.[/]: pattern refused: unterminated",
                 NULL);
    expect_error("[table /shop/\nindex = x\n", "t.ini:1: section header without ']'", NULL);
    expect_error("[table /x/]\nindex = x\n[table /x/]\nindex = y\n", "t.ini:3: table pattern /x/ is already configured at line 1",
                 NULL);
    expect_error("[table //]\nindex = x\n", "t.ini:1: section [table //]: expected [table /REGEX/]", NULL);
    /* glibc's regcomp expands repetitions: stacked ones would take gigabytes (found by fuzz_input) */
    expect_error("[table /a\\.b[0-9]++++++++++++++++/]\nindex = x\n", "t.ini:1: section [table ", "stacked");
    expect_error("[table /a{100}{100}/]\nindex = x\n", "t.ini:1: section [table ", "stacked");
    /* repetitions of what can match nothing: regcomp's epsilon closures ran for hours (found by fuzz_input) */
    expect_error("[table /x|++++++++++++re /]\nindex = x\n", "t.ini:1: section [table ", "nothing before it");
    expect_error("[table /)++++++++++++re /]\nindex = x\n", "t.ini:1: section [table ", "unbalanced ')'");
    expect_error("[table /()+re/]\nindex = x\n", "t.ini:1: section [table ", "empty string");
    expect_error("[table /a(b*)+/]\nindex = x\n", "t.ini:1: section [table ", "empty string");
    expect_error("[table /a(b|)*/]\nindex = x\n", "t.ini:1: section [table ", "empty string");
    expect_error("[table /a(^)*/]\nindex = x\n", "t.ini:1: section [table ", "empty string");
    /* a ')' would close the anchoring group: "a)|(.*" matched every table */
    expect_error("[table /a)|(.*/]\nindex = x\n", "t.ini:1: section [table ", "unbalanced ')'");
    expect_error("[table /(((a{16}){16}){16})/]\nindex = x\n", "t.ini:1: section [table ", "4096 copies");
    expect_error("[table /a{2,1}/]\nindex = x\n", "t.ini:1: section [table ", "interval");
    expect_error("[table /a{300}/]\nindex = x\n", "t.ini:1: section [table ", "interval");
    expect_error("[table /(a)\\1/]\nindex = x\n", "t.ini:1: section [table ", "back-references");
    expect_error("[table /a\\/]\nindex = x\n", "t.ini:1: section [table ", "trailing");
    cfg ok;
    load_ok("[table /shop_[0-9]+\\.order_[0-9]{1,4}/]\nindex = x\n[table /[+{]+x/]\nindex = y\n", &ok);
    cfg_free(&ok);
    load_ok("[table /(shop|crm)_[0-9]{2,}\\.(a|b[[:digit:]]*)?x[]a-z]+|x\\.y/]\nindex = x\n", &ok);
    assert_non_null(cfg_find_table(&ok, "shop_12", "b9x]q"));
    assert_non_null(cfg_find_table(&ok, "x", "y"));
    assert_null(cfg_find_table(&ok, "shop_1", "x"));
    cfg_free(&ok);
    expect_error("[table a.b]\nindex = {schema}\n", "t.ini:2: [table a.b]: index '{schema}' is not a valid index name",
                 NULL);
    expect_error("[table a.b]\nindex = x\nalias = {table}\n", "t.ini:3: [table a.b]: alias '{table}' is not a valid", NULL);
    expect_error("[table a.b]\nindex = x\nid_prefix = {nope}\n", "t.ini:3: [table a.b] id_prefix: '{nope}'", NULL);
    expect_error("[table a.b]\nindex = x\ninclude = a\nexclude = b\n", "t.ini:1: [table a.b]: give include or exclude",
                 NULL);
    expect_error("[table a.b]\nindex = x\nrename = a\n", "t.ini:3: [table a.b] rename: 'a' is not NAME:VALUE", NULL);
    expect_error("[table a.b]\nindex = x\nrename = a:b, a:c\n", "t.ini:3: [table a.b] rename: 'a' given twice", NULL);
    expect_error("[table a.b]\nindex = x\nadd_field = ,\n", "t.ini:3: [table a.b] add_field: empty list", NULL);
    expect_error("[table a.b]\nindex = x\ndelete = soft\n", "t.ini:3: [table a.b] delete: 'soft' is not delete or soft:FIELD",
                 NULL);
    expect_error("[table a.b]\nindex = x\ndelete = soft:\n", "t.ini:3: [table a.b] delete:", NULL);
    expect_error("[table a.b]\nindex = x\nenabled = yes\n", "t.ini:3: [table a.b] enabled: 'yes' is not true or false",
                 NULL);
    expect_error("[table a.b]\nindex = x\nrouting = a b\n", "t.ini:3: [table a.b] routing: 'a b' is not a column name",
                 NULL);
    expect_error("[table a.b]\nindex = x\nmapping = /nonexistent/m.json\n",
                 "t.ini:3: [table a.b] mapping: '/nonexistent/m.json' is not auto or dynamic, and cannot be read as a file: "
                 "No such file or directory", NULL);
    expect_error("[table a.b]\nindex = x\nid_separator = 12345678901234567\n", "t.ini:3: [table a.b] id_separator", NULL);
    char bad[] = "/tmp/canal-es-test-badmap-XXXXXX";
    int fd = mkstemp(bad);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"mappings\": [", 14), 14);
    close(fd);
    char text[512];
    snprintf(text, sizeof text, "[table a.b]\nindex = x\nmapping = %s\n", bad);
    expect_error(text, "t.ini:1: [table] mapping file ", "not a JSON object");
    snprintf(text, sizeof text, "[table a.b]\nindex = x-{table}\nalias = y\nmapping = %s\n", bad);
    expect_error(text, "t.ini:1: [table]: with alias and mapping, index must be a plain name", NULL);
    unlink(bad);
    expect_error("[table a.b]\nindex = x\npipeline = p\npipeline = q\n", "t.ini:4: [table a.b]: duplicate key 'pipeline'",
                 NULL);
}

/* Enumerated values and secrets read from a file ("@/path"). */
static void test_enums_and_secrets(void **state)
{
    (void)state;
    expect_error("[elasticsearch]\ncompression = zstd\n" MIN_TABLE,
                 "t.ini:2: [elasticsearch] compression: 'zstd' is not one of none,gzip", NULL);
    expect_error("[log]\nlevel = verbose\n" MIN_TABLE, "t.ini:2: [log] level: 'verbose' is not one of error,warn,info,debug",
                 NULL);
    expect_error("[canal]\npassword = @/nonexistent/secret\n" MIN_TABLE,
                 "t.ini:2: [canal] password: cannot open secret file /nonexistent/secret", NULL);
    char path[] = "/tmp/canal-es-test-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr=t\n", 7), 7);
    close(fd);
    char text[512];
    snprintf(text, sizeof text, "[canal]\npassword = @%s\n[log]\nlevel = debug\n" MIN_TABLE, path);
    cfg c;
    load_ok(text, &c);
    assert_string_equal(c.canal.password, "s3cr=t"); /* one trailing newline dropped */
    assert_string_equal(c.log.level, "debug");
    assert_string_equal(c.es.compression, "none");
    cfg_free(&c);
    unlink(path);
}

/* "@/path" only reads a regular file: a FIFO (no writer) used to block the
 * load forever, a directory or a device is refused as well. alarm(): a load
 * that blocks fails the test instead of hanging it. */
static void test_secret_not_a_regular_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/canal-es-test-fifo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[600], text[1024], prefix[700];
    snprintf(fifo, sizeof fifo, "%s/secret", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10);
    snprintf(text, sizeof text, "[canal]\npassword = @%s\n" MIN_TABLE, fifo);
    snprintf(prefix, sizeof prefix, "t.ini:2: [canal] password: secret file %s is not a regular file", fifo);
    expect_error(text, prefix, NULL);
    snprintf(text, sizeof text, "[elasticsearch]\npassword = @%s\n" MIN_TABLE, dir);
    snprintf(prefix, sizeof prefix, "t.ini:2: [elasticsearch] password: secret file %s is not a regular file", dir);
    expect_error(text, prefix, NULL);
    expect_error("[canal]\npassword = @/dev/zero\n" MIN_TABLE,
                 "t.ini:2: [canal] password: secret file /dev/zero is not a regular file", NULL);
    alarm(0);
    unlink(fifo);
    rmdir(dir);
}

/* [elasticsearch] transport keys: URL lists, credentials, TLS files. */
static void test_transport_keys(void **state)
{
    (void)state;
    expect_error("[elasticsearch]\nurl = http://a:9200, ftp://b\n" MIN_TABLE, "t.ini: [elasticsearch] ", "ftp://b");
    expect_error("[elasticsearch]\nurl = https://u:sekrit@a:9200, ftp://b\n" MIN_TABLE, "t.ini: [elasticsearch] ", NULL);
    expect_error("[elasticsearch]\nusername = u\n" MIN_TABLE,
                 "t.ini: [elasticsearch] username is set but password is empty", NULL);
    expect_error("[elasticsearch]\npassword = p\n" MIN_TABLE,
                 "t.ini: [elasticsearch] password is set but username is empty", NULL);
    expect_error("[elasticsearch]\nusername = u\npassword = p\napi_key = k\n" MIN_TABLE,
                 "t.ini: [elasticsearch] api_key and username/password are both set", NULL);
    expect_error("[elasticsearch]\ncert_file = /etc/hostname\n" MIN_TABLE,
                 "t.ini: [elasticsearch] cert_file is set without key_file", NULL);
    expect_error("[elasticsearch]\nca_file = /nonexistent/ca.pem\n" MIN_TABLE,
                 "t.ini: [elasticsearch] ca_file: cannot read /nonexistent/ca.pem", NULL);
    cfg c;
    char err[1024] = "";
    if (cfg_load_string("[elasticsearch]\nurl = https://a:9200/, https://b:9243\napi_key = k==\nverify = false\n"
                        "compression = gzip\nconcurrency = 8\n" MIN_TABLE,
                        "t.ini", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.es.api_key, "k==");
    assert_string_equal(c.es.verify, "false");
    assert_string_equal(c.es.compression, "gzip");
    assert_int_equal(c.es.concurrency, 8);
    cfg_free(&c);
    /* a message about a bad URL never shows its password */
    assert_int_equal(cfg_load_string("[elasticsearch]\nurl = https://u:sekrit@a:9200, ftp://b\n" MIN_TABLE, "t.ini", &c,
                                     err, sizeof err),
                     -1);
    assert_null(strstr(err, "sekrit"));
}

/* Every key of the schema is in etc/canal-es.ini (as "key =", in its
 * section) and in docs/configuration.md (as `key`). */
static char *slurp(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/../../../%s", TEST_DATA_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static void test_every_key_documented(void **state)
{
    (void)state;
    char *ini = slurp("etc/canal-es.ini");
    char *md = slurp("docs/configuration.md");
    const char *section, *key, *def;
    for (size_t i = 0; cfg_schema_key(i, &section, &key, &def) == 0; i++) {
        char want[160];
        snprintf(want, sizeof want, "`%s`", key);
        if (strstr(md, want) == NULL)
            fail_msg("docs/configuration.md does not document [%s] %s", section, key);
        if (strcmp(section, "table") == 0)
            continue; /* table keys are listed in a comment of the example rule */
        char head[64];
        snprintf(head, sizeof head, "\n[%s]\n", section);
        const char *sec = strstr(ini, head);
        if (sec == NULL)
            fail_msg("etc/canal-es.ini has no [%s] section", section);
        const char *next = strstr(sec + strlen(head), "\n[");
        snprintf(want, sizeof want, "\n%s =", key);
        const char *at = strstr(sec, want);
        if (at == NULL || (next != NULL && at > next))
            fail_msg("etc/canal-es.ini does not list %s in [%s]", key, section);
        /* the example shows the default value (secrets and the example password aside) */
        const char *v = at + strlen(want);
        if (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\n");
        if (def != NULL && strncmp(v, def, vl) != 0 && strstr(v, "${") != v && strstr(v, "@") != v &&
            strcmp(key, "username") != 0)
            fail_msg("etc/canal-es.ini: [%s] %s = %.*s, but the default is '%s'", section, key, (int)vl, v, def);
    }
    free(ini);
    free(md);
}

/* [mysql] and [reindex]: defaults, a secret password from ${VAR} or @FILE,
 * and the cross-checks (user with host or socket, time_zone, ca_file). */
static void test_mysql_section(void **state)
{
    (void)state;
    cfg c;
    load_ok(MIN_TABLE, &c);
    assert_string_equal(c.mysql.host, "");
    assert_int_equal(c.mysql.port, 3306);
    assert_string_equal(c.mysql.verify, "true");
    assert_int_equal(c.mysql.connect_timeout_ms, 10000);
    assert_string_equal(c.mysql.time_zone, "+00:00");
    assert_int_equal(c.reindex.chunk_rows, 1000);
    assert_string_equal(c.reindex.position, "auto");
    cfg_free(&c);
    setenv("TEST_MY_PW", "s3cret", 1);
    load_ok("[mysql]\nhost = db1\nport = 3307\nuser = snap\npassword = ${TEST_MY_PW}\n"
            "[reindex]\nchunk_rows = 3\nposition = lock_tables\n" MIN_TABLE, &c);
    assert_string_equal(c.mysql.host, "db1");
    assert_int_equal(c.mysql.port, 3307);
    assert_string_equal(c.mysql.password, "s3cret");
    assert_int_equal(c.reindex.chunk_rows, 3);
    assert_string_equal(c.reindex.position, "lock_tables");
    cfg_free(&c);
    char path[] = "/tmp/test_config_mypw_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\n", 10), 10);
    close(fd);
    char text[512];
    snprintf(text, sizeof text, "[mysql]\nsocket = /run/mysqld.sock\nuser = u\npassword = @%s\n" MIN_TABLE, path);
    load_ok(text, &c);
    assert_string_equal(c.mysql.password, "from-file");
    cfg_free(&c);
    unlink(path);
    expect_error("[mysql]\nhost = db1\n" MIN_TABLE, "t.ini: ", "[mysql] user must be set");
    expect_error("[mysql]\nuser = u\n" MIN_TABLE, "t.ini: ", "neither host nor socket");
    expect_error("[mysql]\nhost = h\nuser = u\ntime_zone = +08:00'\n" MIN_TABLE, "t.ini: ", "time_zone");
    expect_error("[mysql]\nhost = h\nuser = u\nca_file = /nonexistent/ca.pem\n" MIN_TABLE, "t.ini: ",
                 "[mysql] ca_file: cannot read /nonexistent/ca.pem");
    expect_error("[mysql]\nport = 0\n" MIN_TABLE, "t.ini:2: ", "port");
    expect_error("[reindex]\nposition = show_master_status\n" MIN_TABLE, "t.ini:2: ", "position: 'show_master_status'");
    expect_error("[reindex]\nchunk_rows = 0\n" MIN_TABLE, "t.ini:2: ", "chunk_rows");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_mysql_section),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_defaults_section),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_bad_integer),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_table_without_index),
        cmocka_unit_test(test_bad_table_name),
        cmocka_unit_test(test_bad_index_name),
        cmocka_unit_test(test_key_outside_section),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_no_table),
        cmocka_unit_test(test_cross_field),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_index_name_problem),
        cmocka_unit_test(test_comments_and_empty),
        cmocka_unit_test(test_crlf_and_bom),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_long_value_from_env),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_data_file),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_shipped_example),
        cmocka_unit_test(test_table_rules),
        cmocka_unit_test(test_table_rule_errors),
        cmocka_unit_test(test_enums_and_secrets),
        cmocka_unit_test(test_secret_not_a_regular_file),
        cmocka_unit_test(test_transport_keys),
        cmocka_unit_test(test_every_key_documented),
        cmocka_unit_test(test_mapping_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
