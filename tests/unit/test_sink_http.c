/* test_sink_http: the sink against a fake HTTP node on loopback (a thread per
 * connection), for what needs real transfers: the paths that name an index
 * are percent-encoded as the node receives them (_delete_by_query, the HEAD
 * and PUT of index creation), and the response memory of all sinks of the
 * process is bounded together (a response too large for what is left is a
 * retryable error, one announced larger than the limit fails at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sink/automap.h"
#include "sink/setup.h"
#include "sink/sink.h"

#define FAKE_MAX_LOG 32

/* The fake node. _bulk answers by the body: "hold" sends all but 100 bytes of a
 * fake_big-byte answer, waits for fake_release, then the rest; "big" sends
 * a fake_big-byte answer; "huge" announces 10 GiB and sends a little. */
static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released;
    char log[FAKE_MAX_LOG][256]; /* "METHOD PATH" of each request */
    int n_log;
    size_t big;
    int bare; /* an Elasticsearch 8 node without modules: no scaled_float, no _delete_by_query */
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fake_answer(int fd, int status, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     status, len);
    if (send_all(fd, head, (size_t)n) == 0)
        send_all(fd, body, len);
}

/* A valid one-item _bulk answer of exactly `len` bytes (padded). */
static char *fake_bulk_answer(size_t len)
{
    static const char start[] = "{\"items\":[{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"status\":201}}],\"pad\":\"";
    char *b = malloc(len + 1);
    assert_non_null(b);
    memset(b, 'x', len);
    memcpy(b, start, sizeof start - 1);
    memcpy(b + len - 2, "\"}", 2);
    b[len] = '\0';
    return b;
}

static void *fake_conn(void *ud)
{
    int fd = (int)(intptr_t)ud;
    char req[8192];
    for (;;) { /* keep-alive: one request after the other */
        size_t n = 0;
        char *end = NULL;
        while (end == NULL) {
            ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
            if (r <= 0)
                goto out;
            n += (size_t)r;
            req[n] = '\0';
            end = strstr(req, "\r\n\r\n");
        }
        size_t clen = 0;
        const char *cl = strstr(req, "Content-Length: ");
        if (cl != NULL && cl < end)
            clen = (size_t)strtoul(cl + 16, NULL, 10);
        size_t have = n - (size_t)(end + 4 - req);
        while (have < clen && n < sizeof req - 1) {
            ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
            if (r <= 0)
                goto out;
            n += (size_t)r;
            have += (size_t)r;
            req[n] = '\0';
        }
        const char *body = end + 4;
        char method[16] = "", path[200] = "";
        sscanf(req, "%15s %199s", method, path);
        pthread_mutex_lock(&fake.mu);
        if (fake.n_log < FAKE_MAX_LOG)
            snprintf(fake.log[fake.n_log++], sizeof fake.log[0], "%s %s", method, path);
        int bare = fake.bare;
        pthread_mutex_unlock(&fake.mu);
        if (strcmp(path, "/") == 0 && bare) {
            static const char v[] = "{\"version\":{\"number\":\"8.15.0\",\"build_flavor\":\"default\"}}";
            fake_answer(fd, 200, v, sizeof v - 1);
        } else if (strcmp(path, "/") == 0) {
            static const char v[] = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.0\"}}";
            fake_answer(fd, 200, v, sizeof v - 1);
        } else if (bare && strstr(path, "/_simulate") != NULL && strstr(body, "scaled_float") != NULL) {
            static const char e[] = "{\"error\":{\"type\":\"illegal_argument_exception\",\"caused_by\":{\"type\":"
                                    "\"mapper_parsing_exception\",\"reason\":\"No handler for type [scaled_float] "
                                    "declared on field [f]\"}},\"status\":400}";
            fake_answer(fd, 400, e, sizeof e - 1);
        } else if (bare && strstr(path, "/_simulate") != NULL) {
            static const char a[] = "{\"template\":{}}";
            fake_answer(fd, 200, a, sizeof a - 1);
        } else if (bare && strstr(path, "/_delete_by_query") != NULL) {
            static const char e[] = "{\"error\":\"no handler found for uri [/t/_delete_by_query] and method [POST]\","
                                    "\"status\":400}";
            fake_answer(fd, 400, e, sizeof e - 1);
        } else if (strcmp(method, "HEAD") == 0 || (strcmp(method, "GET") == 0 && strstr(path, "/_mapping") != NULL)) {
            static const char nf[] = "HTTP/1.1 404 X\r\nContent-Length: 0\r\n\r\n";
            if (send_all(fd, nf, sizeof nf - 1) != 0)
                goto out;
        } else if (strcmp(method, "PUT") == 0) {
            static const char a[] = "{\"acknowledged\":true}";
            fake_answer(fd, 200, a, sizeof a - 1);
        } else if (strstr(path, "/_simulate") != NULL) { /* automap's capability probe: refused */
            static const char e[] = "{\"error\":{\"type\":\"illegal_argument_exception\"},\"status\":400}";
            fake_answer(fd, 400, e, sizeof e - 1);
        } else if (strstr(path, "/_refresh") != NULL) {
            static const char r[] = "{\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}}";
            fake_answer(fd, 200, r, sizeof r - 1);
        } else if (strstr(path, "/_delete_by_query") != NULL) {
            static const char d[] = "{\"deleted\":3,\"failures\":[]}";
            fake_answer(fd, 200, d, sizeof d - 1);
        } else if (strncmp(body, "huge", 4) == 0) {
            static const char h[] = "HTTP/1.1 200 X\r\nContent-Length: 10737418240\r\n\r\n{\"items\":[";
            send_all(fd, h, sizeof h - 1);
            char c;
            (void)recv(fd, &c, 1, 0); /* until the client hangs up */
            goto out;
        } else {
            char *a = fake_bulk_answer(fake.big);
            char head[128];
            int hn = snprintf(head, sizeof head, "HTTP/1.1 200 X\r\nContent-Length: %zu\r\n\r\n", fake.big);
            int ok = send_all(fd, head, (size_t)hn) == 0;
            size_t half = strncmp(body, "hold", 4) == 0 ? fake.big - 100 : 0;
            if (ok && half > 0) {
                ok = send_all(fd, a, half) == 0;
                pthread_mutex_lock(&fake.mu);
                while (!fake.released)
                    pthread_cond_wait(&fake.cv, &fake.mu);
                pthread_mutex_unlock(&fake.mu);
            }
            if (ok)
                ok = send_all(fd, a + half, fake.big - half) == 0;
            free(a);
            if (!ok)
                goto out;
        }
    }
out:
    close(fd);
    return NULL;
}

static void *fake_accept(void *ud)
{
    (void)ud;
    for (;;) {
        int c = accept(fake.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, fake_conn, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
}

static int fake_start(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fake.fd, 16) != 0 ||
        getsockname(fake.fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    fake.port = ntohs(a.sin_port);
    return pthread_create(&fake.thread, NULL, fake_accept, NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
    (void)state;
    shutdown(fake.fd, SHUT_RDWR);
    close(fake.fd);
    pthread_join(fake.thread, NULL);
    return 0;
}

static void fake_reset(void)
{
    pthread_mutex_lock(&fake.mu);
    fake.n_log = 0;
    fake.released = 0;
    fake.bare = 0;
    pthread_mutex_unlock(&fake.mu);
}

/* A request line that begins with prefix and contains part. */
static int fake_logged_like(const char *prefix, const char *part)
{
    int found = 0;
    pthread_mutex_lock(&fake.mu);
    for (int i = 0; i < fake.n_log; i++)
        found |= strncmp(fake.log[i], prefix, strlen(prefix)) == 0 && strstr(fake.log[i], part) != NULL;
    pthread_mutex_unlock(&fake.mu);
    return found;
}

static int fake_logged(const char *line)
{
    int found = 0;
    pthread_mutex_lock(&fake.mu);
    for (int i = 0; i < fake.n_log; i++)
        found |= strcmp(fake.log[i], line) == 0;
    pthread_mutex_unlock(&fake.mu);
    if (!found)
        for (int i = 0; i < fake.n_log; i++)
            print_message("  logged: %s\n", fake.log[i]);
    return found;
}

static sink *fake_sink(void)
{
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake.port);
    sink *s = sink_new(url, 5000, err, sizeof err);
    assert_non_null(s);
    return s;
}

/* TRUNCATE of table `%2a`: the node must be asked about index "shop-%2a", not "shop-*". */
static void test_delete_by_query_path_is_encoded(void **state)
{
    (void)state;
    fake_reset();
    sink *s = fake_sink();
    char err[512] = "";
    long long deleted = 0;
    assert_int_equal(sink_delete_all(s, "shop-%2a", &deleted, err, sizeof err), SINK_OK);
    assert_int_equal(deleted, 3);
    /* a refresh first: documents indexed since the last one are deleted too */
    assert_true(fake_logged("POST /shop-%252a/_refresh"));
    assert_true(fake_logged("POST /shop-%252a/_delete_by_query?conflicts=proceed&refresh=true"));
    assert_int_equal(sink_delete_all(s, "a b", &deleted, err, sizeof err), SINK_OK);
    assert_true(fake_logged("POST /a%20b/_delete_by_query?conflicts=proceed&refresh=true"));
    sink_free(s);
}

/* An Elasticsearch 8 node assembled without its modules (the embedded test-stack node): the automap
 * probes find unsigned_long and flattened but not scaled_float, and a TRUNCATE stops canal-es with a
 * message that says why instead of retrying for ever. */
static void test_node_without_modules(void **state)
{
    (void)state;
    fake_reset();
    pthread_mutex_lock(&fake.mu);
    fake.bare = 1;
    pthread_mutex_unlock(&fake.mu);
    sink *s = fake_sink();
    char err[512] = "";
    mapping_caps caps;
    assert_int_equal(automap_caps(s, &caps, err, sizeof err), SINK_OK);
    assert_true(caps.unsigned_long);
    assert_non_null(caps.flat);
    assert_string_equal(caps.flat, "flattened");
    assert_true(caps.no_scaled_float);
    long long deleted = -1;
    assert_int_equal(sink_delete_all(s, "shop", &deleted, err, sizeof err), SINK_FATAL);
    assert_non_null(strstr(err, "no _delete_by_query"));
    assert_non_null(strstr(err, "on_truncate = ignore"));
    assert_int_equal(deleted, 0);
    sink_free(s);
    fake_reset();
}

/* The probe of a node that refuses every template without naming the type keeps scaled_float. */
static void test_scaled_float_kept_unless_named(void **state)
{
    (void)state;
    fake_reset();
    sink *s = fake_sink();
    char err[512] = "";
    mapping_caps caps;
    assert_int_equal(automap_caps(s, &caps, err, sizeof err), SINK_OK);
    assert_false(caps.unsigned_long);
    assert_false(caps.no_scaled_float);
    sink_free(s);
}

/* Index creation from a mapping file: the HEAD check and the PUT name the index encoded. */
static void test_setup_paths_are_encoded(void **state)
{
    (void)state;
    fake_reset();
    char path[] = "/tmp/test_sink_http_mapping_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}", 2), 2);
    close(fd);
    cfg_table rule;
    memset(&rule, 0, sizeof rule);
    rule.index = "shop-{table}";
    rule.mapping = path;
    rule.line = 7;
    sink *s = fake_sink();
    char err[512] = "";
    int created = 0;
    assert_int_equal(setup_ensure(s, &rule, "shop-%2a", NULL, 0, &created, err, sizeof err), SINK_OK);
    assert_int_equal(created, 1);
    assert_true(fake_logged("HEAD /shop-%252a"));
    assert_true(fake_logged("PUT /shop-%252a"));
    sink_free(s);
    unlink(path);
}

/* mapping = auto: reading the existing mapping, the HEAD and the PUT name the index encoded. */
static void test_automap_paths_are_encoded(void **state)
{
    (void)state;
    fake_reset();
    cfg_table rule;
    memset(&rule, 0, sizeof rule);
    rule.index = "shop-{table}";
    rule.mapping_mode = CFG_MAPPING_AUTO;
    rule.line = 3;
    const row_col cols[] = {{.name = "id", .value = "1", .value_len = 1, .mysql_type = "int(11)", .is_key = true}};
    row_event ev = {.schema = "shop", .table = "%2a", .op = ROW_INSERT, .after = {.cols = cols, .n = 1},
                    .logfile = "mysql-bin.000001", .offset = 4};
    automap *am = automap_new();
    assert_non_null(am);
    sink *s = fake_sink();
    char err[512] = "";
    int created = 0;
    assert_int_equal(automap_ensure(am, s, &rule, "shop-%2a", &ev, &created, err, sizeof err), SINK_OK);
    assert_int_equal(created, 1);
    assert_true(fake_logged("GET /shop-%252a/_mapping"));
    assert_true(fake_logged("PUT /shop-%252a"));
    assert_false(fake_logged("PUT /shop-%2a"));
    sink_free(s);
    automap_free(am);
}

struct bulk_call {
    sink *s;
    const char *body;
    sink_rc rc;
    char err[512];
};

static void *bulk_thread(void *ud)
{
    struct bulk_call *c = ud;
    sink_summary sum = {0};
    c->rc = sink_bulk(c->s, c->body, strlen(c->body), 1, &sum, c->err, sizeof c->err);
    return NULL;
}

/* Two sinks (concurrency 2): while one response is being read, a second one
 * that would take the process over the limit is not buffered but retried;
 * once the first is done, it fits. */
static void test_response_memory_is_bounded_per_process(void **state)
{
    (void)state;
    fake_reset();
    fake.big = 700 << 10; /* each buffer grows to 1 MiB */
    sink_set_response_limit((size_t)1536 << 10);
    struct bulk_call a = {.s = fake_sink(), .body = "hold\n"};
    sink *b = fake_sink();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bulk_thread, &a), 0);
    struct timespec d = {0, 20 * 1000000};
    for (int i = 0; i < 250 && sink_response_bytes() < (size_t)(1 << 20); i++)
        nanosleep(&d, NULL); /* until the first response is nearly read (5 s at most) */
    assert_true(sink_response_bytes() >= (size_t)(1 << 20));
    char err[512] = "";
    sink_summary sum = {0};
    assert_int_equal(sink_bulk(b, "big\n", 4, 1, &sum, err, sizeof err), SINK_RETRY);
    assert_non_null(strstr(err, "response not read"));
    assert_non_null(strstr(err, "together"));
    assert_true(sink_response_bytes() <= (size_t)1536 << 10);
    pthread_mutex_lock(&fake.mu);
    fake.released = 1;
    pthread_cond_broadcast(&fake.cv);
    pthread_mutex_unlock(&fake.mu);
    pthread_join(t, NULL);
    if (a.rc != SINK_OK)
        print_message("first: %s\n", a.err);
    assert_int_equal(a.rc, SINK_OK);
    assert_int_equal(sink_bulk(b, "big\n", 4, 1, &sum, err, sizeof err), SINK_OK); /* it fits now */
    if (sum.ok != 1)
        print_message("items %zu ok %zu failed %zu: %s %s\n", sum.items, sum.ok, sum.failed, sum.fail_type, sum.fail_reason);
    assert_int_equal(sum.ok, 1);
    /* the node is asked for only the fields the items are judged by */
    assert_true(fake_logged_like("POST /_bulk?filter_path=errors,", "items.*.status"));
    assert_true(fake_logged_like("POST /_bulk?filter_path=", "items.*.error.type,items.*.error.reason"));
    assert_true(sink_response_bytes() < (size_t)(128 << 10)); /* large buffers went back after use */
    sink_free(a.s);
    sink_free(b);
    assert_int_equal(sink_response_bytes(), 0);
    sink_set_response_limit((size_t)256 << 20);
}

/* A response announced larger than the limit fails at once, not after a timeout. */
static void test_huge_content_length_fails_early(void **state)
{
    (void)state;
    fake_reset();
    sink *s = fake_sink(); /* request timeout 5 s */
    char err[512] = "";
    sink_summary sum = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sink_bulk(s, "huge\n", 5, 1, &sum, err, sizeof err), SINK_RETRY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (strstr(err, "larger than 256 MiB") == NULL || secs > 2.0)
        print_message("after %.1f s: %s\n", secs, err);
    assert_non_null(strstr(err, "response not read: larger than 256 MiB"));
    assert_true(secs < 2.0);
    sink_free(s);
    assert_int_equal(sink_response_bytes(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_by_query_path_is_encoded),
        cmocka_unit_test(test_node_without_modules),
        cmocka_unit_test(test_scaled_float_kept_unless_named),
        cmocka_unit_test(test_setup_paths_are_encoded),
        cmocka_unit_test(test_automap_paths_are_encoded),
        cmocka_unit_test(test_response_memory_is_bounded_per_process),
        cmocka_unit_test(test_huge_content_length_fails_early),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
