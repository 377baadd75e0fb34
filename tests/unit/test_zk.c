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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A fake ZooKeeper (tests/integration/fakezk.py, MODE ok|negative|huge) on a
 * free port; its pid in *pid, the port returned (0 when it did not start). */
static int fake_zk(const char *mode, pid_t *pid)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test (longjmp past stop_fake) leaves no server behind */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", TEST_DATA_DIR "/../../integration/fakezk.py", "0", mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[200] = "";
    size_t n = 0;
    while (n + 1 < sizeof line && read(p[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    close(p[0]);
    const char *colon = strrchr(line, ':');
    int port = 0;
    if (colon != NULL)
        sscanf(colon + 1, "%d", &port);
    return port;
}

static void stop_fake(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* A getData reply whose data length is negative or beyond the frame crashes
 * libzookeeper-mt 3.8's I/O thread (memcpy in zookeeper_process, whatever the
 * caller's buffer). The session runs in a child process: the read fails,
 * saying the reader died, and this process goes on. */
static void test_hostile_replies_kill_only_the_reader(void **state)
{
    (void)state;
    /* under ASan the child should fail as it does without: malloc(-5) returning
     * NULL (not ASan's abort), then SIGSEGV itself (not ASan's report of it) */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%shandle_segv=0:allocator_may_return_null=1", asan ? asan : "", asan && asan[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    static const char *const modes[] = {"negative", "huge"};
    for (size_t i = 0; i < 2; i++) {
        pid_t fz;
        int port = fake_zk(modes[i], &fz);
        assert_true(port > 0);
        char hosts[64], err[1024] = "", addr[ZK_ADDR_MAX] = "x";
        snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
        zk_follow *z = zk_open(hosts, "example", 5000, err, sizeof err);
        assert_non_null(z);
        assert_int_equal(zk_running(z, addr, sizeof addr, err, sizeof err), -1);
        assert_string_equal(addr, "");
        /* killed by SIGSEGV; under ASan its memcpy report exits 1 first */
        if (strstr(err, "reader process killed by signal 11") == NULL && strstr(err, "reader process exited") == NULL)
            fail_msg("%s: %s", modes[i], err);
        /* not started again at once: the next read fails fast */
        assert_int_equal(zk_running(z, addr, sizeof addr, err, sizeof err), -1);
        assert_non_null(strstr(err, "restarts in"));
        zk_close(z);
        stop_fake(fz);
    }
    if (asan != NULL)
        setenv("ASAN_OPTIONS", asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
}

/* The same fake answering properly: the child reads the address. */
static void test_reader_process_reads_the_node(void **state)
{
    (void)state;
    pid_t fz;
    int port = fake_zk("ok", &fz);
    assert_true(port > 0);
    char hosts[64], err[1024] = "", addr[ZK_ADDR_MAX] = "";
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
    zk_follow *z = zk_open(hosts, "example", 5000, err, sizeof err);
    assert_non_null(z);
    if (zk_running(z, addr, sizeof addr, err, sizeof err) != 1)
        fail_msg("%s", err);
    assert_string_equal(addr, "127.0.0.1:11111");
    zk_close(z);
    stop_fake(fz);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], ZK_CHILD_COMMAND) == 0)
        return zk_child_main(argc, argv); /* zk_open runs this binary as the reader */
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
        cmocka_unit_test(test_hostile_replies_kill_only_the_reader),
        cmocka_unit_test(test_reader_process_reads_the_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
