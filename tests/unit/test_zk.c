/* test_zk: the data of Canal's running node (/otter/canal/destinations/{d}/running).
 *
 * Canal 1.1.7 writes ServerRunningData with fastjson2 (JsonUtils.marshalToByte):
 * properties in name order, null ones (the deprecated cid) left out, e.g.
 * {"active":true,"address":"127.0.0.1:11111"}; older servers also wrote "cid".
 * The first vector is the exact node read from the test stack's Canal cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "source/zk.h"

static int parse(const char *json, char *addr, size_t addrlen)
{
    char err[256] = "";
    int rc = zk_parse_running(json, strlen(json), addr, addrlen, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0'); /* every refusal says why */
    return rc;
}

static void test_canal_117_node(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    assert_int_equal(parse("{\"active\":true,\"address\":\"127.0.0.1:11111\"}", addr, sizeof addr), 1);
    assert_string_equal(addr, "127.0.0.1:11111");
}

static void test_member_order_cid_and_unknown_members(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    assert_int_equal(parse("{\"address\":\"canal-2.example:11112\",\"cid\":1,\"active\":true}", addr, sizeof addr), 1);
    assert_string_equal(addr, "canal-2.example:11112");
    assert_int_equal(parse(" { \"cid\" : null , \"address\" : \"10.0.0.5:1\" , \"extra\" : {\"a\":[1,2]} } ", addr,
                           sizeof addr),
                     1);
    assert_string_equal(addr, "10.0.0.5:1");
}

static void test_active_defaults_to_true(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    assert_int_equal(parse("{\"address\":\"h:65535\"}", addr, sizeof addr), 1);
    assert_string_equal(addr, "h:65535");
}

static void test_inactive_names_no_server(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    snprintf(addr, sizeof addr, "stale"); /* must be cleared */
    assert_int_equal(parse("{\"active\":false,\"address\":\"127.0.0.1:11111\"}", addr, sizeof addr), 0);
    assert_string_equal(addr, "");
    assert_int_equal(parse("{\"active\":false}", addr, sizeof addr), 0);
}

static void test_data_is_not_nul_terminated(void **state)
{
    (void)state;
    static const char node[] = "{\"active\":true,\"address\":\"a:1\"}GARBAGE";
    char addr[ZK_ADDR_MAX];
    char err[256];
    assert_int_equal(zk_parse_running(node, strlen(node) - strlen("GARBAGE"), addr, sizeof addr, err, sizeof err), 1);
    assert_string_equal(addr, "a:1");
    assert_int_equal(zk_parse_running(node, strlen(node), addr, sizeof addr, err, sizeof err), -1);
}

static void test_refused_shapes(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    static const char *bad[] = {
        "",
        "   ",
        "not json",
        "[\"127.0.0.1:11111\"]",
        "\"127.0.0.1:11111\"",
        "{}",
        "{\"active\":true}",
        "{\"active\":true,\"address\":null}",
        "{\"active\":true,\"address\":11111}",
        "{\"active\":\"true\",\"address\":\"h:1\"}",
        "{\"active\":1,\"address\":\"h:1\"}",
        "{\"active\":true,\"address\":\"\"}",
        "{\"active\":true,\"address\":\"nohostport\"}",
        "{\"active\":true,\"address\":\"h:0\"}",
        "{\"active\":true,\"address\":\"h:65536\"}",
        "{\"active\":true,\"address\":\"h:12x\"}",
        "{\"active\":true,\"address\":\":11111\"}",
        "{\"active\":true,\"address\":\"h:1\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], addr, sizeof addr) != -1)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_embedded_nul_and_sizes(void **state)
{
    (void)state;
    char addr[ZK_ADDR_MAX];
    char err[256];
    static const char with_nul[] = "{\"address\":\"a:1\"}\0{}";
    assert_int_equal(zk_parse_running(with_nul, sizeof with_nul - 1, addr, sizeof addr, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));

    /* an address longer than the caller's buffer is refused, not cut */
    char small[8];
    assert_int_equal(parse("{\"address\":\"abcdef:1\"}", small, sizeof small), -1);
    assert_int_equal(parse("{\"address\":\"abcde:1\"}", small, sizeof small), 1);
    assert_string_equal(small, "abcde:1");

    /* data larger than ZK_DATA_MAX */
    static char big[ZK_DATA_MAX + 64];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"address\":\"a:1\"}", 17);
    assert_int_equal(zk_parse_running(big, ZK_DATA_MAX, addr, sizeof addr, err, sizeof err), 1);
    assert_int_equal(zk_parse_running(big, ZK_DATA_MAX + 1, addr, sizeof addr, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));
}

static void test_open_refuses_empty_arguments(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(zk_open("", "example", 1000, err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(zk_open("127.0.0.1:2181", "", 1000, err, sizeof err));
    assert_true(err[0] != '\0');
}

/* No ZooKeeper listens on port 1: the first read waits for the session up to
 * the timeout, then fails naming the hosts and the watched path. */
static void test_unreachable_ensemble_names_hosts_and_path(void **state)
{
    (void)state;
    char err[512] = "";
    zk_follow *z = zk_open("127.0.0.1:1", "ha", 1000, err, sizeof err);
    assert_non_null(z);
    assert_string_equal(zk_path(z), "/otter/canal/destinations/ha/running");
    char addr[ZK_ADDR_MAX] = "x";
    assert_int_equal(zk_running(z, addr, sizeof addr, err, sizeof err), -1);
    assert_string_equal(addr, "");
    assert_non_null(strstr(err, "127.0.0.1:1"));
    assert_non_null(strstr(err, "/otter/canal/destinations/ha/running"));
    zk_close(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canal_117_node),
        cmocka_unit_test(test_member_order_cid_and_unknown_members),
        cmocka_unit_test(test_active_defaults_to_true),
        cmocka_unit_test(test_inactive_names_no_server),
        cmocka_unit_test(test_data_is_not_nul_terminated),
        cmocka_unit_test(test_refused_shapes),
        cmocka_unit_test(test_embedded_nul_and_sizes),
        cmocka_unit_test(test_open_refuses_empty_arguments),
        cmocka_unit_test(test_unreachable_ensemble_names_hosts_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
