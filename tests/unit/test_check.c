/* check: the verdict of [mysql]'s @@server_id against the serverIds of
 * Canal's entries (check_server_ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

static void test_same_server_is_ok(void **state)
{
    (void)state;
    char msg[1000];
    int64_t ids[] = {1};
    const char *v = check_server_ids("127.0.0.1:3306", 1, ids, 1, msg, sizeof msg);
    assert_string_equal(v, "ok");
    assert_string_equal(msg, "mysql 127.0.0.1:3306: server_id 1 equals the serverId of Canal's newest waiting "
                             "entry: the snapshot reads the server whose binlog Canal reads");
}

static void test_other_server_fails_naming_both(void **state)
{
    (void)state;
    char msg[1000];
    int64_t ids[] = {2};
    const char *v = check_server_ids("127.0.0.1:3306", 1, ids, 1, msg, sizeof msg);
    assert_string_equal(v, "FAIL");
    assert_non_null(strstr(msg, "[mysql] 127.0.0.1:3306 has server_id 1 but Canal's entries come from serverId 2: "
                                "the snapshot would read another server ("));
}

static void test_newest_entry_decides(void **state)
{
    (void)state;
    char msg[1000];
    /* Canal switched from server 7 to server 1 (HA): the newest entries are 1's */
    int64_t ids[] = {7, 1};
    assert_string_equal(check_server_ids("db:3306", 1, ids, 2, msg, sizeof msg), "ok");
    assert_non_null(strstr(msg, "(older entries also came from serverId 7)"));
    int64_t back[] = {1, 7};
    assert_string_equal(check_server_ids("db:3306", 1, back, 2, msg, sizeof msg), "FAIL");
    assert_non_null(
        strstr(msg, "has server_id 1 but Canal's entries come from serverId 7 (older entries: serverId 1)"));
    /* the largest server_id MySQL accepts */
    int64_t big[] = {4294967295};
    assert_string_equal(check_server_ids("db:3306", 4294967295u, big, 1, msg, sizeof msg), "ok");
    assert_string_equal(check_server_ids("db:3306", 4294967294u, big, 1, msg, sizeof msg), "FAIL");
    assert_non_null(strstr(msg, "server_id 4294967294 but Canal's entries come from serverId 4294967295"));
}

static void test_nothing_to_compare(void **state)
{
    (void)state;
    char msg[1000];
    assert_null(check_server_ids("db:3306", 1, NULL, 0, msg, sizeof msg));
    assert_non_null(strstr(msg, "not compared"));
}

static void test_message_is_bounded(void **state)
{
    (void)state;
    char peer[600], small[40], msg[1000];
    memset(peer, 'h', sizeof peer - 1);
    peer[sizeof peer - 1] = '\0';
    int64_t ids[8] = {1000000001, 1000000002, 1000000003, 1000000004, 1000000005, 1000000006, 1000000007, 9};
    assert_string_equal(check_server_ids(peer, 1, ids, 8, small, sizeof small), "FAIL");
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_string_equal(check_server_ids(peer, 9, ids, 8, msg, sizeof msg), "ok");
    assert_true(strlen(msg) < sizeof msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_server_is_ok),
        cmocka_unit_test(test_other_server_fails_naming_both),
        cmocka_unit_test(test_newest_entry_decides),
        cmocka_unit_test(test_nothing_to_compare),
        cmocka_unit_test(test_message_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
