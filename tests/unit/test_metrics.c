/* test_metrics: the Prometheus exposition, the health verdict, and the
 * admin endpoints of a real server on loopback with fake job callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics/metrics.h"

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_exposition(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    size_t a = stats_table_slot(&s, "shop", "items");
    size_t b = stats_table_slot(&s, "we\"ird", "t\\n");
    assert_int_equal(stats_table_slot(&s, "shop", "items"), a);
    stats_count_row(&s, a, 0);
    stats_count_row(&s, a, 0);
    stats_count_row(&s, a, 2);
    stats_count_row(&s, b, 1);
    CE_STAT_ADD(&s, items_ok, 5);
    CE_STAT_ADD(&s, items_superseded, 1);
    CE_STAT_ADD(&s, acks, 3);
    stats_observe_request(&s, 3000);    /* 3 ms: first bucket */
    stats_observe_request(&s, 700000);  /* 0.7 s */
    stats_observe_request(&s, 90000000); /* 90 s: only +Inf */
    stats_set_ack_position(&s, "mysql-bin.000003", 4567);
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&s, 0, "1.2.3", &out), 0);
    assert_int_equal(ce_buf_terminate(&out), 0);
    const char *t = (const char *)out.data;
    assert_has(t, "canal_es_build_info{version=\"1.2.3\"} 1\n");
    assert_has(t, "# TYPE canal_es_rows_total counter\n");
    assert_has(t, "canal_es_rows_total{table=\"shop.items\",op=\"insert\"} 2\n");
    assert_has(t, "canal_es_rows_total{table=\"shop.items\",op=\"delete\"} 1\n");
    assert_has(t, "canal_es_rows_total{table=\"we\\\"ird.t\\\\n\",op=\"update\"} 1\n");
    assert_has(t, "canal_es_items_total{result=\"applied\"} 5\n");
    assert_has(t, "canal_es_items_total{result=\"superseded\"} 1\n");
    assert_has(t, "canal_es_acks_total 3\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"0.005\"} 1\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"0.5\"} 1\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"1\"} 2\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"30\"} 2\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_bucket{le=\"+Inf\"} 3\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_sum 90.703000\n");
    assert_has(t, "canal_es_bulk_request_duration_seconds_count 3\n");
    assert_has(t, "canal_es_checkpoint_binlog_offset{file=\"mysql-bin.000003\"} 4567\n");
    assert_has(t, "canal_es_search_reachable 1\n");
    assert_has(t, "canal_es_canal_connected 0\n");
    assert_null(strstr(t, "table=\"other\"")); /* the overflow slot only when used */
    assert_has(t, "# TYPE canal_es_reindex_rows_total counter\ncanal_es_reindex_rows_total 0\n");
    assert_has(t, "canal_es_reindex_jobs_total{result=\"done\"} 0\n");
    assert_has(t, "canal_es_reindex_running 0\n");
    /* every sample line belongs to a declared metric */
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            char name[160];
            size_t k = strcspn(p, "{ ");
            snprintf(name, sizeof name, "# TYPE %.*s ", (int)k, p);
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)k, p);
            char *suffix = strstr(base, "_bucket");
            if (suffix == NULL)
                suffix = strstr(base, "_sum");
            if (suffix == NULL)
                suffix = strstr(base, "_count");
            if (suffix != NULL) {
                *suffix = '\0';
                snprintf(name, sizeof name, "# TYPE %s ", base);
            }
            assert_has(t, name);
        }
        p = nl + 1;
    }
    /* a full buffer is an error */
    ce_buf small;
    ce_buf_init(&small, 100);
    assert_int_equal(metrics_render(&s, 0, "1", &small), -1);
    ce_buf_free(&small);
    ce_buf_free(&out);
    stats_destroy(&s);
}

static void test_health(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    ce_buf out;
    ce_buf_init(&out, 4096);
    assert_int_equal(metrics_health(&s, 0, 60, &out), 503);
    ce_buf_terminate(&out);
    assert_string_equal((const char *)out.data,
                        "{\"status\":\"unhealthy\",\"canal_connected\":false,\"search_reachable\":true,"
                        "\"lag_seconds\":0.000,\"reasons\":[\"not connected to Canal\"]}\n");
    CE_STAT_SET(&s, canal_connected, 1);
    ce_buf_reset(&out);
    assert_int_equal(metrics_health(&s, 0, 60, &out), 200);
    ce_buf_terminate(&out);
    assert_non_null(strstr((const char *)out.data, "\"status\":\"ok\""));
    CE_STAT_SET(&s, search_reachable, 0);
    CE_STAT_SET(&s, last_source_time_ms, 1000);
    ce_buf_reset(&out);
    assert_int_equal(metrics_health(&s, 100000, 60, &out), 503);
    ce_buf_terminate(&out);
    assert_non_null(strstr((const char *)out.data,
                           "\"reasons\":[\"the search node did not answer the last request\","
                           "\"lag 99.0 s is over health_max_lag_s (60)\"]"));
    ce_buf_free(&out);
    stats_destroy(&s);
}

static void test_reindex_exposition(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    CE_STAT_ADD(&s, reindex_rows, 12345);
    CE_STAT_ADD(&s, reindex_chunks, 13);
    CE_STAT_ADD(&s, reindex_jobs_done, 2);
    CE_STAT_ADD(&s, reindex_jobs_failed, 1);
    CE_STAT_SET(&s, reindex_running, 1);
    CE_STAT_SET(&s, reindex_queued, 3);
    CE_STAT_SET(&s, reindex_job_rows, 4000);
    CE_STAT_SET(&s, reindex_job_estimate, 100000);
    ce_buf out;
    ce_buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&s, 0, "1", &out), 0);
    assert_int_equal(ce_buf_terminate(&out), 0);
    const char *t = (const char *)out.data;
    assert_has(t, "# HELP canal_es_reindex_rows_total ");
    assert_has(t, "# TYPE canal_es_reindex_rows_total counter\ncanal_es_reindex_rows_total 12345\n");
    assert_has(t, "# TYPE canal_es_reindex_chunks_total counter\ncanal_es_reindex_chunks_total 13\n");
    assert_has(t, "# TYPE canal_es_reindex_jobs_total counter\n");
    assert_has(t, "canal_es_reindex_jobs_total{result=\"done\"} 2\n");
    assert_has(t, "canal_es_reindex_jobs_total{result=\"failed\"} 1\n");
    assert_has(t, "# TYPE canal_es_reindex_running gauge\ncanal_es_reindex_running 1\n");
    assert_has(t, "# TYPE canal_es_reindex_queued gauge\ncanal_es_reindex_queued 3\n");
    assert_has(t, "# TYPE canal_es_reindex_job_rows gauge\ncanal_es_reindex_job_rows 4000\n");
    assert_has(t, "# TYPE canal_es_reindex_job_rows_estimate gauge\ncanal_es_reindex_job_rows_estimate 100000\n");
    ce_buf_free(&out);
    stats_destroy(&s);
}

/* ---- the admin endpoints, against fakes of job_status/submit/cancel ---- */

typedef struct fake_jobs {
    int submits, cancels, statuses;
    char table[64];
    bool in_place;
    long id;
} fake_jobs;

static int fake_status(void *ud, ce_buf *out)
{
    ((fake_jobs *)ud)->statuses++;
    ce_buf_append_str(out, "{\"jobs\":[{\"id\":1,\"state\":\"loading\"}]}");
    return 200;
}

static int fake_submit(void *ud, const char *db_table, bool in_place, ce_buf *out)
{
    fake_jobs *f = ud;
    f->submits++;
    snprintf(f->table, sizeof f->table, "%s", db_table);
    f->in_place = in_place;
    if (strcmp(db_table, "no.rule") == 0) {
        ce_buf_append_str(out, "{\"error\":\"no enabled rule for no.rule\"}");
        return 404;
    }
    ce_buf_append_str(out, "{\"id\":7,\"table\":\"shop.products\",\"index\":\"products-20260101000000\"}");
    return 202;
}

static int fake_cancel(void *ud, long id, ce_buf *out)
{
    fake_jobs *f = ud;
    f->cancels++;
    f->id = id;
    ce_buf_append_str(out, "{\"id\":7,\"state\":\"cancelled\"}");
    return 200;
}

static size_t http_collect(char *p, size_t size, size_t n, void *ud)
{
    ce_buf_append((ce_buf *)ud, p, size * n);
    return size * n;
}

/* One request; returns the status (0 on a transport error), body in resp. */
static long http_do_h(int port, const char *method, const char *path, const char *auth, const char *body,
                      const char *extra, ce_buf *resp)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *hdr = NULL;
    char line[256];
    if (auth != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", auth);
        hdr = curl_slist_append(hdr, line);
    }
    hdr = curl_slist_append(hdr, "Expect:");
    if (extra != NULL)
        hdr = curl_slist_append(hdr, extra);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    ce_buf_reset(resp);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    ce_buf_terminate(resp);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return status;
}

static long http_do(int port, const char *method, const char *path, const char *auth, const char *body, ce_buf *resp)
{
    return http_do_h(port, method, path, auth, body, NULL, resp);
}

/* A port free on 127.0.0.1 (bound, read back, released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_admin_endpoints(void **state)
{
    (void)state;
    ce_stats s;
    stats_init(&s);
    int port = free_port();
    char listen[64], err[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    metrics_server *ms = metrics_start(listen, &s, 60, "1", err, sizeof err);
    assert_non_null(ms);
    ce_buf r;
    ce_buf_init(&r, 1 << 20);
    const char *body;

    /* no callbacks (a dry run): 503, nothing else is touched */
    assert_int_equal(http_do(port, "GET", "/reindex", NULL, NULL, &r), 503);
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b", "Bearer x", NULL, &r), 503);

    fake_jobs f = {0};
    metrics_admin a = {.status = fake_status, .submit = fake_submit, .cancel = fake_cancel, .ud = &f,
                       .token = "s3cret-Token"};
    assert_int_equal(metrics_set_admin(ms, &a), 0);

    /* GET status: no token needed */
    assert_int_equal(http_do(port, "GET", "/reindex", NULL, NULL, &r), 200);
    assert_string_equal((const char *)r.data, "{\"jobs\":[{\"id\":1,\"state\":\"loading\"}]}\n");
    assert_int_equal(f.statuses, 1);
    assert_int_equal(http_do(port, "HEAD", "/reindex", NULL, NULL, &r), 200);

    /* POST without / with a wrong token: 403 with what to do, never the token, no job */
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", NULL, NULL, &r), 403);
    body = (const char *)r.data;
    assert_non_null(strstr(body, "\"error\":"));
    assert_non_null(strstr(body, "Authorization: Bearer TOKEN"));
    assert_non_null(strstr(body, "admin_token"));
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", "Bearer s3cret-Tokeo", NULL, &r), 403);
    assert_null(strstr((const char *)r.data, "s3cret"));
    assert_non_null(strstr((const char *)r.data, "is not the [http] admin_token"));
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", "Bearer s3cret-Token-longer", NULL, &r),
                     403);
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", "Bearer ", NULL, &r), 403);
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", "Basic czNjcmV0LVRva2Vu", NULL, &r), 403);
    assert_non_null(strstr((const char *)r.data, "must be 'Bearer TOKEN'"));
    assert_int_equal(http_do(port, "POST", "/reindex/cancel?id=7", "Bearer nope", NULL, &r), 403);
    assert_int_equal(f.submits, 0);
    assert_int_equal(f.cancels, 0);

    /* the right token: the callbacks' status and JSON pass through */
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products", "Bearer s3cret-Token", NULL, &r), 202);
    assert_string_equal((const char *)r.data,
                        "{\"id\":7,\"table\":\"shop.products\",\"index\":\"products-20260101000000\"}\n");
    assert_int_equal(f.submits, 1);
    assert_string_equal(f.table, "shop.products");
    assert_false(f.in_place);
    assert_int_equal(http_do(port, "POST", "/reindex?table=shop.products&in_place=1", "bearer  s3cret-Token", NULL,
                             &r),
                     202);
    assert_true(f.in_place);
    assert_int_equal(http_do(port, "POST", "/reindex?table=no.rule", "Bearer s3cret-Token", NULL, &r), 404);
    assert_non_null(strstr((const char *)r.data, "no enabled rule for no.rule"));
    assert_int_equal(http_do(port, "POST", "/reindex/cancel?id=7", "Bearer s3cret-Token", NULL, &r), 200);
    assert_int_equal(f.cancels, 1);
    assert_int_equal(f.id, 7);
    /* a small body is ignored */
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b", "Bearer s3cret-Token", "{\"x\":1}", &r), 202);
    assert_int_equal(f.submits, 4);

    /* bad parameters: 400, nothing called */
    assert_int_equal(http_do(port, "POST", "/reindex", "Bearer s3cret-Token", NULL, &r), 400);
    assert_non_null(strstr((const char *)r.data, "table=DB.TABLE"));
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b&in_place=yes", "Bearer s3cret-Token", NULL, &r), 400);
    assert_int_equal(http_do(port, "POST", "/reindex/cancel?id=x", "Bearer s3cret-Token", NULL, &r), 400);
    assert_int_equal(http_do(port, "POST", "/reindex/cancel", "Bearer s3cret-Token", NULL, &r), 400);
    assert_int_equal(f.submits, 4);
    assert_int_equal(f.cancels, 1);

    /* methods */
    assert_int_equal(http_do(port, "DELETE", "/reindex", "Bearer s3cret-Token", NULL, &r), 405);
    assert_int_equal(http_do(port, "PUT", "/reindex", "Bearer s3cret-Token", NULL, &r), 405);
    assert_int_equal(http_do(port, "GET", "/reindex/cancel?id=7", NULL, NULL, &r), 405);
    assert_int_equal(http_do(port, "POST", "/metrics", "Bearer s3cret-Token", NULL, &r), 405);
    assert_int_equal(http_do(port, "POST", "/nope", NULL, NULL, &r), 405);
    assert_int_equal(http_do(port, "GET", "/nope", NULL, NULL, &r), 404);
    assert_int_equal(f.cancels, 1);

    /* a body over 4 KiB: 413 */
    char big[8192];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b", "Bearer s3cret-Token", big, &r), 413);
    assert_non_null(strstr((const char *)r.data, "limited to 4096 bytes"));
    /* the same without a Content-Length (chunked): refused once 4 KiB have arrived */
    assert_int_equal(
        http_do_h(port, "POST", "/reindex?table=a.b", "Bearer s3cret-Token", big, "Transfer-Encoding: chunked", &r),
        413);
    assert_int_equal(http_do_h(port, "POST", "/reindex?table=a.b", "Bearer s3cret-Token", "{}",
                               "Transfer-Encoding: chunked", &r),
                     202);
    assert_int_equal(f.submits, 5);

    /* /metrics and /health still answer */
    assert_int_equal(http_do(port, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_non_null(strstr((const char *)r.data, "canal_es_reindex_running"));

    /* no token configured: every POST is 403 and says which key to set */
    a.token = "";
    assert_int_equal(metrics_set_admin(ms, &a), 0);
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b", "Bearer ", NULL, &r), 403);
    assert_non_null(strstr((const char *)r.data, "no [http] admin_token"));
    assert_int_equal(http_do(port, "POST", "/reindex?table=a.b", NULL, NULL, &r), 403);
    assert_int_equal(f.submits, 5);
    assert_int_equal(http_do(port, "GET", "/reindex", NULL, NULL, &r), 200);

    /* cleared again */
    assert_int_equal(metrics_set_admin(ms, NULL), 0);
    assert_int_equal(http_do(port, "GET", "/reindex", NULL, NULL, &r), 503);

    ce_buf_free(&r);
    metrics_stop(ms);
    stats_destroy(&s);
}

static void test_loopback(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    int port;
    char err[256];
    assert_int_equal(metrics_listen_addr("127.0.0.1:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 1);
    assert_int_equal(metrics_listen_addr("127.1.2.3:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 1);
    assert_int_equal(metrics_listen_addr("[::1]:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 1);
    assert_int_equal(metrics_listen_addr("0.0.0.0:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 0);
    assert_int_equal(metrics_listen_addr("10.1.2.3:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 0);
    assert_int_equal(metrics_listen_addr("[::]:9180", &ss, &port, err, sizeof err), 0);
    assert_int_equal(metrics_addr_is_loopback(&ss), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_reindex_exposition),
        cmocka_unit_test(test_admin_endpoints),
        cmocka_unit_test(test_loopback),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
