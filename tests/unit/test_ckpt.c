/* test_ckpt: the checkpoint file round trip, atomic replacement, refusal of
 * a foreign checkpoint, broken files, and the status text. */
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

#include "commit/ckpt.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ckpt-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/ckpt.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    unlink(path);
    rmdir(dir);
    return 0;
}

static void put_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static ckpt sample(void)
{
    ckpt c;
    memset(&c, 0, sizeof c);
    snprintf(c.destination, sizeof c.destination, "example");
    c.client_id = 1001;
    c.batch_id = 42;
    snprintf(c.binlog_file, sizeof c.binlog_file, "mysql-bin.000007");
    c.binlog_offset = 123456;
    snprintf(c.gtid, sizeof c.gtid, "0-1-99 \"q\" \\ é");
    c.source_time_ms = 1700000000123;
    c.wall_time_ms = 1700000001456;
    return c;
}

static void test_round_trip(void **state)
{
    (void)state;
    char err[512] = "";
    ckpt c = sample(), r;
    assert_int_equal(ckpt_read(path, &r, err, sizeof err), 1); /* none yet */
    assert_int_equal(ckpt_write(path, &c, err, sizeof err), 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* the temp file was renamed away */
    assert_int_equal(ckpt_read(path, &r, err, sizeof err), 0);
    assert_memory_equal(&r, &c, sizeof c);
    c.batch_id = 43;
    c.binlog_offset = 999;
    assert_int_equal(ckpt_write(path, &c, err, sizeof err), 0);
    assert_int_equal(ckpt_read(path, &r, err, sizeof err), 0);
    assert_int_equal(r.batch_id, 43);
    assert_int_equal(r.binlog_offset, 999);
}

static void test_owner(void **state)
{
    (void)state;
    char err[512] = "";
    ckpt c = sample();
    assert_int_equal(ckpt_check_owner(path, &c, "example", 1001, err, sizeof err), 0);
    assert_int_equal(ckpt_check_owner(path, &c, "other", 1001, err, sizeof err), -1);
    assert_non_null(strstr(err, "belongs to destination example client 1001, not other client 1001"));
    assert_int_equal(ckpt_check_owner(path, &c, "example", 7, err, sizeof err), -1);
}

static void test_broken_files(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "{\"destination\":\"example\"}",
        "{\"destination\":\"example\",\"client_id\":\"1001\",\"batch_id\":1,\"binlog_file\":\"f\","
        "\"binlog_offset\":4,\"gtid\":\"\",\"source_time_ms\":0,\"wall_time_ms\":0}",
        "{\"destination\":\"example\",\"client_id\":1001,\"batch_id\":1,\"binlog_file\":\"f\"",
        "[1,2]",
        "{\"version\":2,\"destination\":\"example\",\"client_id\":1001,\"batch_id\":1,\"binlog_file\":\"f\","
        "\"binlog_offset\":4,\"gtid\":\"\",\"source_time_ms\":0,\"wall_time_ms\":0}",
        "{\"version\":1,\"destination\":\"ex\xc0\xaf" "ample\",\"client_id\":1001,\"batch_id\":1,\"binlog_file\":\"f\","
        "\"binlog_offset\":4,\"gtid\":\"\",\"source_time_ms\":0,\"wall_time_ms\":0}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        ckpt r;
        put_file(bad[i]);
        memset(&r, 0x5a, sizeof r);
        if (ckpt_read(path, &r, err, sizeof err) != -1)
            fail_msg("case %zu accepted", i);
        assert_non_null(strstr(err, path));
        assert_null(strchr(err, '\n')); /* one line */
        assert_int_equal(((unsigned char *)&r)[0], 0x5a); /* untouched on failure */
    }
    /* a NUL byte, with garbage after a valid object */
    {
        static const char nul[] = "{\"version\":1}\0garbage";
        FILE *g = fopen(path, "w");
        assert_non_null(g);
        fwrite(nul, 1, sizeof nul - 1, g);
        fclose(g);
        char e2[512] = "";
        ckpt r2;
        assert_int_equal(ckpt_read(path, &r2, e2, sizeof e2), -1);
        assert_non_null(strstr(e2, "NUL byte"));
    }
    /* larger than 64 KiB */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 70000; i++)
        fputc(' ', f);
    fclose(f);
    char err[512] = "";
    ckpt r;
    assert_int_equal(ckpt_read(path, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "larger than"));
}

static void test_write_failure(void **state)
{
    (void)state;
    char err[512] = "";
    ckpt c = sample();
    assert_int_equal(ckpt_write("/nonexistent-dir/x/ckpt.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x/ckpt.json"));
    snprintf(c.gtid, sizeof c.gtid, "bad \xff utf8");
    assert_int_equal(ckpt_write(path, &c, err, sizeof err), -1); /* never a broken file */
    /* rename onto a directory fails and leaves no temp file behind */
    char sub[160], tmp[200];
    snprintf(sub, sizeof sub, "%s/isdir", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    c = sample();
    assert_int_equal(ckpt_write(sub, &c, err, sizeof err), -1);
    assert_int_not_equal(access(tmp, F_OK), 0);
    rmdir(sub);
}

static void test_status_text(void **state)
{
    (void)state;
    ckpt c = sample();
    char out[2048];
    ckpt_format_status(&c, c.source_time_ms + 2500, out, sizeof out);
    assert_non_null(strstr(out, "binlog: mysql-bin.000007:123456\n"));
    assert_non_null(strstr(out, "lag_seconds: 2.500\n"));
    assert_non_null(strstr(out, "source_time: 2023-11-14T22:13:20.123Z\n"));
    c.source_time_ms = 0;
    ckpt_format_status(&c, 5, out, sizeof out);
    assert_non_null(strstr(out, "lag_seconds: unknown\n"));
    /* a hand-edited file: no control byte reaches the terminal, one field per line */
    snprintf(c.binlog_file, sizeof c.binlog_file, "mysql-bin.000007\nlag_seconds: 0\x1b[2J\xe4\xb8\xad");
    snprintf(c.gtid, sizeof c.gtid, "\r\x7f");
    ckpt_format_status(&c, 5, out, sizeof out);
    assert_non_null(strstr(out, "binlog: mysql-bin.000007\\nlag_seconds: 0\\x1b[2J\xe4\xb8\xad:123456\n"));
    assert_non_null(strstr(out, "gtid: \\r\\x7f\n"));
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\r'));
    size_t lines = 0;
    for (const char *q = out; *q; q++)
        lines += *q == '\n';
    assert_int_equal(lines, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
