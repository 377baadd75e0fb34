/* test_job: the job manager without servers: request validation and its
 * HTTP statuses, the status JSON, the state file (queued initial loads,
 * loaded rules, a foreign or broken file refused, the tee of a resumed
 * alias job on before the stream starts), cancel of a queued job, and the
 * summary `canal-es status` prints. The worker is never started here: the
 * real-stack tests (t_reindex.py) run jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "snapshot/job.h"
#include "stats.h"
#include "util/buf.h"

static char dir[64];
static char ini[4096];
static char state_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/job-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(state_path, sizeof state_path, "%s/ckpt.json.reindex", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/ckpt.json.reindex", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/ckpt.json.reindex.tmp", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

/* A configuration with [mysql] (or without), a plain rule, an alias rule,
 * a rule with snapshot = never and a disabled rule. */
static void load(cfg *c, bool mysql, const char *extra)
{
    snprintf(ini, sizeof ini,
             "[canal]\ndestination = d1\n[checkpoint]\nfile = %s/ckpt.json\n%s"
             "[table shop.products]\nindex = products\n"
             "[table shop.items]\nindex = items_v1\nalias = items\n"
             "[table shop.logs]\nindex = logs\nsnapshot = never\n"
             "[table shop.off]\nindex = off\nenabled = false\n%s",
             dir, mysql ? "[mysql]\nhost = 127.0.0.1\nuser = u\n" : "", extra ? extra : "");
    char err[512];
    int rc = cfg_load_string(ini, "t.ini", c, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static int submit(job_mgr *m, const char *t, bool in_place, char *out, size_t len)
{
    ce_buf b;
    ce_buf_init(&b, 1 << 16);
    int st = job_submit(m, t, in_place, &b);
    snprintf(out, len, "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
    ce_buf_free(&b);
    return st;
}

static void status_of(job_mgr *m, char *out, size_t len)
{
    ce_buf b;
    ce_buf_init(&b, 1 << 16);
    assert_int_equal(job_status(m, &b), 200);
    snprintf(out, len, "%.*s", (int)b.len, (const char *)b.data);
    ce_buf_free(&b);
}

static void test_initial_loads_are_queued(void **state)
{
    (void)state;
    cfg c;
    ce_stats st;
    stats_init(&st);
    load(&c, true, NULL);
    char err[512], out[8192];
    job_mgr *m = job_mgr_new(&c, &st, err, sizeof err);
    assert_non_null(m);
    status_of(m, out, sizeof out);
    /* products and items (in place), not logs (never) nor off (disabled) */
    assert_non_null(strstr(out, "\"table\":\"shop.products\""));
    assert_non_null(strstr(out, "\"table\":\"shop.items\""));
    assert_null(strstr(out, "shop.logs"));
    assert_null(strstr(out, "shop.off"));
    assert_non_null(strstr(out, "\"origin\":\"initial\""));
    assert_null(strstr(out, "\"mode\":\"alias\"")); /* initial loads are in place, even for an alias rule */
    assert_int_equal(CE_STAT_GET(&st, reindex_queued), 2);
    int failed = -1;
    assert_false(job_mgr_idle(m, &failed));
    assert_int_equal(failed, 0);
    /* a request takes the place of the rule's initial load not started yet (reindex before the first run) */
    assert_int_equal(submit(m, "shop.products", false, out, sizeof out), 202);
    assert_non_null(strstr(out, "\"id\":3"));
    status_of(m, out, sizeof out);
    assert_null(strstr(out, "\"id\":1,"));
    assert_non_null(strstr(out, "\"id\":3,"));
    assert_int_equal(CE_STAT_GET(&st, reindex_queued), 2);
    /* a second request for it is refused */
    assert_int_equal(submit(m, "shop.products", false, out, sizeof out), 409);
    assert_non_null(strstr(out, "already queued or running"));
    job_mgr_free(m);
    cfg_free(&c);
    stats_destroy(&st);
}

static void test_submit_validation(void **state)
{
    (void)state;
    cfg c;
    ce_stats st;
    stats_init(&st);
    load(&c, true, "[defaults]\nsnapshot = never\n");
    char err[512], out[8192];
    job_mgr *m = job_mgr_new(&c, &st, err, sizeof err);
    assert_non_null(m);
    status_of(m, out, sizeof out);
    assert_string_equal(out, "{\"jobs\":[]}"); /* [defaults] snapshot = never: nothing queued */
    assert_int_equal(submit(m, "nodot", false, out, sizeof out), 400);
    assert_non_null(strstr(out, "is not DB.TABLE"));
    assert_int_equal(submit(m, ".x", false, out, sizeof out), 400);
    assert_int_equal(submit(m, "shop.nope", false, out, sizeof out), 404);
    assert_non_null(strstr(out, "no [table] rule matches it"));
    assert_int_equal(submit(m, "shop.off", false, out, sizeof out), 404);
    assert_non_null(strstr(out, "enabled = false"));
    assert_int_equal(submit(m, "shop.items", false, out, sizeof out), 202);
    assert_non_null(strstr(out, "\"mode\":\"alias\""));
    assert_non_null(strstr(out, "\"id\":1"));
    assert_int_equal(submit(m, "shop.items", true, out, sizeof out), 409);
    assert_int_equal(submit(m, "shop.products", true, out, sizeof out), 202);
    assert_non_null(strstr(out, "\"mode\":\"in_place\""));
    assert_non_null(strstr(out, "\"index\":\"products\""));
    /* cancel: unknown, queued, ended */
    ce_buf b;
    ce_buf_init(&b, 4096);
    assert_int_equal(job_cancel(m, 99, &b), 404);
    ce_buf_reset(&b);
    assert_int_equal(job_cancel(m, 1, &b), 200);
    ce_buf_reset(&b);
    assert_int_equal(job_cancel(m, 1, &b), 409);
    ce_buf_free(&b);
    status_of(m, out, sizeof out);
    assert_non_null(strstr(out, "\"state\":\"cancelled\""));
    int failed = 0;
    assert_false(job_mgr_idle(m, &failed)); /* job 2 still queued */
    assert_int_equal(failed, 1);
    job_mgr_free(m);
    /* the state file keeps the queued job, not the cancelled one; ids go on */
    m = job_mgr_new(&c, &st, err, sizeof err);
    assert_non_null(m);
    status_of(m, out, sizeof out);
    assert_null(strstr(out, "\"id\":1,"));
    assert_non_null(strstr(out, "\"id\":2,"));
    assert_int_equal(submit(m, "shop.items", false, out, sizeof out), 202);
    assert_non_null(strstr(out, "\"id\":3"));
    char sum[2048];
    job_state_summary(&c, sum, sizeof sum);
    assert_non_null(strstr(sum, "job 2 shop.products (in place, request): queued"));
    assert_non_null(strstr(sum, "job 3 shop.items (alias, request): queued"));
    job_mgr_free(m);
    cfg_free(&c);
    stats_destroy(&st);
}

static void test_without_mysql(void **state)
{
    (void)state;
    cfg c;
    ce_stats st;
    stats_init(&st);
    load(&c, false, NULL);
    char err[512], out[8192];
    job_mgr *m = job_mgr_new(&c, &st, err, sizeof err);
    assert_non_null(m);
    status_of(m, out, sizeof out);
    assert_string_equal(out, "{\"jobs\":[]}");
    assert_int_equal(submit(m, "shop.products", false, out, sizeof out), 503);
    assert_non_null(strstr(out, "[mysql] is not set"));
    int failed;
    assert_true(job_mgr_idle(m, &failed));
    job_mgr_free(m);
    cfg_free(&c);
    stats_destroy(&st);
}

static void write_state(const char *text)
{
    FILE *f = fopen(state_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_state_file(void **state)
{
    (void)state;
    cfg c;
    ce_stats st;
    stats_init(&st);
    load(&c, true, NULL);
    char err[512], out[8192];
    /* loaded rules are not loaded again; a resumed alias job has its tee on at once */
    write_state("{\"version\":1,\"destination\":\"d1\",\"client_id\":1001,\"next_id\":7,"
                "\"loaded\":[\"shop.products\"],\"jobs\":[{\"id\":6,\"table\":\"shop.items\",\"rule\":\"shop.items\","
                "\"mode\":\"alias\",\"origin\":\"request\",\"state\":\"loading\",\"index\":\"items-20260101000000\","
                "\"rows\":4000,\"chunks\":2,\"resumes\":1,\"tables\":[{\"db\":\"shop\",\"table\":\"items\","
                "\"done\":false,\"rows\":4000,\"key\":[\"4000\"]}]}]}\n");
    job_mgr *m = job_mgr_new(&c, &st, err, sizeof err);
    assert_non_null(m);
    status_of(m, out, sizeof out);
    assert_null(strstr(out, "shop.products"));
    assert_non_null(strstr(out, "\"id\":6"));
    assert_non_null(strstr(out, "\"resumes\":2"));
    assert_non_null(strstr(out, "\"rows\":4000"));
    char tee[300];
    assert_int_equal(job_tee(m, &c.tables[1], tee, sizeof tee), 1);
    assert_string_equal(tee, "items-20260101000000");
    assert_int_equal(job_tee(m, &c.tables[0], tee, sizeof tee), 0);
    job_mgr_free(m);
    /* another destination's file is refused */
    write_state("{\"version\":1,\"destination\":\"other\",\"client_id\":1001,\"jobs\":[]}");
    m = job_mgr_new(&c, &st, err, sizeof err);
    assert_null(m);
    assert_non_null(strstr(err, "belongs to destination other client 1001, not d1"));
    /* a broken file is refused, with the way out */
    write_state("{\"version\":1,");
    m = job_mgr_new(&c, &st, err, sizeof err);
    assert_null(m);
    assert_non_null(strstr(err, "move it away to start over"));
    char sum[512];
    job_state_summary(&c, sum, sizeof sum);
    assert_non_null(strstr(sum, "not a JSON object"));
    unlink(state_path);
    cfg_free(&c);
    stats_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_loads_are_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_mysql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
