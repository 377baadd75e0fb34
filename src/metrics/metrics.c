/* metrics: Prometheus exposition, health verdict, libmicrohttpd server.
 *
 * The server runs libmicrohttpd without its own thread: metrics_loop (one
 * thread per server) calls MHD_run_wait and, between rounds, ends every
 * connection whose request has taken longer than METRICS_REQUEST_MS (a client
 * sending one header line every few seconds resets any idle timeout). All
 * connection bookkeeping (conns[]) is touched only from that thread: MHD
 * calls the notify callbacks from MHD_run_wait, so no lock is needed.
 *
 * Requests: the handler decides what it can from the headers on its first
 * call (405, 413 by Content-Length, 403 for a POST without the admin token)
 * and answers everything else once the body has been read: it is dropped as
 * it arrives, and one over METRICS_MAX_REQUEST_BODY answers 413 (at its end
 * when chunked; the request timeout bounds it). The admin callbacks are guarded by
 * admin_mu, held while one runs: after metrics_set_admin(m, NULL) returns,
 * none is running. */
#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/parse.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define METRICS_MAX_BODY (4u << 20)
#define METRICS_MAX_CONNS 256     /* connections served at once (more wait in the listen backlog) */
#define METRICS_MAX_CONNS_IP 128  /* of which from one address: another one always has room */
#define METRICS_IDLE_S 5          /* no byte for this long: closed */
#define METRICS_REQUEST_MS 10000  /* a request (from the first byte to the response sent) takes at most this */
#define METRICS_LOOP_MS 500
#define METRICS_MAX_REQUEST_BODY 4096u /* request bodies are ignored; larger ones answer 413 */
#define METRICS_MAX_ADMIN_BODY (1u << 20) /* a /reindex answer */

/* printf into out; -1 when it does not fit. */
static int metrics_printf(ce_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int metrics_printf(ce_buf *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    return ce_buf_append(out, line, (size_t)n);
}

/* A label value: backslash, double quote and newline escaped. */
static void metrics_label(const char *v, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *v && n + 3 < outlen; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
            out[n++] = *v;
        } else if (*v == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
}

static int metrics_counter(ce_buf *out, const char *name, const char *help, uint64_t v)
{
    return metrics_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static int metrics_gauge(ce_buf *out, const char *name, const char *help, double v)
{
    return metrics_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

/* The Kafka source's partitions (source/kafka.c), one series each. */
static int metrics_kafka(ce_stats *s, int64_t now_ms, ce_buf *out)
{
    size_t n = atomic_load_explicit(&s->n_kparts, memory_order_acquire);
    if (n == 0)
        return 0;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"canal_es_kafka_partition_assigned", "1 while this instance owns the partition."},
        {"canal_es_kafka_partition_lag_records", "Records between the high watermark and the last acked one."},
        {"canal_es_kafka_partition_lag_seconds", "While behind: seconds since the last acked record's timestamp."},
        {"canal_es_kafka_partition_committed_offset", "The group's committed offset (-1 = none yet)."},
        {"canal_es_kafka_partition_stored_offset", "Offset + 1 of the last acked record (-1 = none yet)."},
    };
    int rc = 0;
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        rc |= metrics_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help, fam[f].name);
        for (size_t i = 0; i < n; i++) {
            const ce_stats_kpart *k = &s->kparts[i];
            char lbl[4 * STATS_TOPIC_NAME];
            metrics_label(k->topic, lbl, sizeof lbl);
            double v = f == 0   ? (double)atomic_load(&k->assigned)
                       : f == 1 ? (double)stats_kpart_lag(k)
                       : f == 2 ? stats_kpart_lag_seconds(k, now_ms)
                       : f == 3 ? (double)atomic_load(&k->committed)
                                : (double)atomic_load(&k->stored);
            rc |= metrics_printf(out, "%s{topic=\"%s\",partition=\"%d\"} %.17g\n", fam[f].name, lbl,
                                 (int)k->partition, v);
        }
    }
    return rc;
}

int metrics_render(ce_stats *s, int64_t now_ms, const char *version, ce_buf *out)
{
    int rc = 0;
    char lbl[STATS_TABLE_NAME * 2 + 8];
    metrics_label(version, lbl, sizeof lbl);
    rc |= metrics_printf(out, "# HELP canal_es_build_info canal-es version.\n# TYPE canal_es_build_info gauge\n"
                              "canal_es_build_info{version=\"%s\"} 1\n",
                         lbl);
    rc |= metrics_gauge(out, "canal_es_start_time_seconds", "Start time of the process (Unix seconds).",
                        (double)CE_STAT_GET(s, start_time_ms) / 1000.0);
    rc |= metrics_printf(out, "# HELP canal_es_rows_total Row changes read from Canal, by table and operation.\n"
                              "# TYPE canal_es_rows_total counter\n");
    static const char *const ops[] = {"insert", "update", "delete"};
    size_t n = atomic_load_explicit(&s->n_tables, memory_order_acquire);
    for (size_t i = 0; i <= STATS_MAX_TABLES && rc == 0; i++) {
        if (i >= n && i < STATS_MAX_TABLES)
            continue;
        const ce_stats_table *t = &s->tables[i];
        uint64_t r[3];
        for (int k = 0; k < 3; k++)
            r[k] = atomic_load_explicit(&t->rows[k], memory_order_relaxed);
        if (i == STATS_MAX_TABLES && r[0] + r[1] + r[2] == 0)
            break;
        metrics_label(i == STATS_MAX_TABLES ? "other" : t->name, lbl, sizeof lbl);
        for (int k = 0; k < 3; k++)
            rc |= metrics_printf(out, "canal_es_rows_total{table=\"%s\",op=\"%s\"} %" PRIu64 "\n", lbl, ops[k], r[k]);
    }
    rc |= metrics_printf(out, "# HELP canal_es_text_replaced_values_total Text values indexed with U+FFFD (text Canal "
                              "could not decode), by table and column.\n"
                              "# TYPE canal_es_text_replaced_values_total counter\n");
    size_t nf = atomic_load_explicit(&s->n_fffd, memory_order_acquire);
    for (size_t i = 0; i <= STATS_MAX_FFFD && rc == 0; i++) {
        if (i >= nf && i < STATS_MAX_FFFD)
            continue;
        const ce_stats_fffd *f = &s->fffd[i];
        uint64_t v = atomic_load_explicit(&f->values, memory_order_relaxed);
        if (i == STATS_MAX_FFFD && v == 0)
            break;
        char col[STATS_COLUMN_NAME * 2 + 8];
        metrics_label(i == STATS_MAX_FFFD ? "other" : f->table, lbl, sizeof lbl);
        metrics_label(i == STATS_MAX_FFFD ? "other" : f->column, col, sizeof col);
        rc |= metrics_printf(out, "canal_es_text_replaced_values_total{table=\"%s\",column=\"%s\"} %" PRIu64 "\n",
                             lbl, col, v);
    }
    rc |= metrics_counter(out, "canal_es_charset_reads_total",
                          "Rows whose text in a charset Canal cannot decode was read back from [mysql].",
                          CE_STAT_GET(s, charset_reads));
    rc |= metrics_printf(out, "# HELP canal_es_charset_read_seconds_total Time spent reading text back from [mysql].\n"
                              "# TYPE canal_es_charset_read_seconds_total counter\n"
                              "canal_es_charset_read_seconds_total %.6f\n",
                         (double)CE_STAT_GET(s, charset_read_us) / 1e6);
    rc |= metrics_counter(out, "canal_es_charset_rows_gone_total",
                          "Rows read back from [mysql] that were no longer there (deleted since; their delete follows).",
                          CE_STAT_GET(s, charset_gone));
    rc |= metrics_counter(out, "canal_es_rows_skipped_total", "Rows of tables without a rule, or without an id.",
                          CE_STAT_GET(s, rows_skipped));
    rc |= metrics_counter(out, "canal_es_batches_total", "Canal batches processed.", CE_STAT_GET(s, batches));
    rc |= metrics_counter(out, "canal_es_acks_total", "Canal batches acknowledged.", CE_STAT_GET(s, acks));
    rc |= metrics_printf(out, "# HELP canal_es_items_total Bulk items by final result of each attempt.\n"
                              "# TYPE canal_es_items_total counter\n"
                              "canal_es_items_total{result=\"applied\"} %" PRIu64 "\n"
                              "canal_es_items_total{result=\"superseded\"} %" PRIu64 "\n"
                              "canal_es_items_total{result=\"retried\"} %" PRIu64 "\n"
                              "canal_es_items_total{result=\"rejected\"} %" PRIu64 "\n"
                              "canal_es_items_total{result=\"fatal\"} %" PRIu64 "\n",
                         CE_STAT_GET(s, items_ok), CE_STAT_GET(s, items_superseded), CE_STAT_GET(s, items_retry),
                         CE_STAT_GET(s, items_dead), CE_STAT_GET(s, items_fatal));
    rc |= metrics_counter(out, "canal_es_bulk_requests_total", "Requests sent to the search node.",
                          CE_STAT_GET(s, bulk_requests));
    rc |= metrics_counter(out, "canal_es_request_failures_total",
                          "Requests that failed as a whole (transport, timeout, 429, 5xx).",
                          CE_STAT_GET(s, request_failures));
    rc |= metrics_counter(out, "canal_es_request_splits_total", "413 answers that made requests smaller.",
                          CE_STAT_GET(s, requests_split));
    rc |= metrics_printf(out, "# HELP canal_es_bulk_request_duration_seconds Latency of requests to the node.\n"
                              "# TYPE canal_es_bulk_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < STATS_LAT_BUCKETS; b++) {
        cum += CE_STAT_GET(s, lat_bucket[b]);
        if (b + 1 == STATS_LAT_BUCKETS)
            rc |= metrics_printf(out, "canal_es_bulk_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
        else
            rc |= metrics_printf(out, "canal_es_bulk_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                                 stats_lat_bounds[b], cum);
    }
    rc |= metrics_printf(out, "canal_es_bulk_request_duration_seconds_sum %.6f\n"
                              "canal_es_bulk_request_duration_seconds_count %" PRIu64 "\n",
                         (double)CE_STAT_GET(s, lat_sum_us) / 1e6, cum);
    rc |= metrics_counter(out, "canal_es_retries_total", "Backoff waits before a retry (node or Canal).",
                          CE_STAT_GET(s, retries));
    rc |= metrics_counter(out, "canal_es_dead_letters_total", "Documents written to the dead-letter file.",
                          CE_STAT_GET(s, dead_letters));
    rc |= metrics_counter(out, "canal_es_reconnects_total", "Canal connections re-established.",
                          CE_STAT_GET(s, reconnects));
    rc |= metrics_counter(out, "canal_es_frames_too_big_total",
                          "GET answers refused: a frame above [canal] max_frame_mb.", CE_STAT_GET(s, frames_too_big));
    rc |= metrics_counter(out, "canal_es_utf8_replaced_total", "Values whose invalid UTF-8 was replaced.",
                          CE_STAT_GET(s, utf8_repairs));
    rc |= metrics_gauge(out, "canal_es_lag_seconds",
                        "Seconds between now and the source time of the last acked change (0 when caught up).",
                        stats_lag_seconds(s, now_ms));
    char file[128];
    int64_t off = stats_ack_position(s, file, sizeof file);
    metrics_label(file, lbl, sizeof lbl);
    rc |= metrics_printf(out, "# HELP canal_es_checkpoint_binlog_offset Binlog position of the last ack.\n"
                              "# TYPE canal_es_checkpoint_binlog_offset gauge\n"
                              "canal_es_checkpoint_binlog_offset{file=\"%s\"} %" PRId64 "\n",
                         lbl, off);
    int64_t ack = CE_STAT_GET(s, last_ack_wall_ms);
    rc |= metrics_gauge(out, "canal_es_last_ack_timestamp_seconds", "Wall time of the last ack (0 = none yet).",
                        (double)ack / 1000.0);
    rc |= metrics_gauge(out, "canal_es_canal_connected", "1 while connected to a Canal server.",
                        CE_STAT_GET(s, canal_connected) ? 1 : 0);
    rc |= metrics_gauge(out, "canal_es_search_reachable", "1 while the search node answered the last request.",
                        CE_STAT_GET(s, search_reachable) ? 1 : 0);
    rc |= metrics_kafka(s, now_ms, out);
    rc |= metrics_counter(out, "canal_es_reindex_rows_total", "Snapshot rows written by initial loads and reindexes.",
                          CE_STAT_GET(s, reindex_rows));
    rc |= metrics_counter(out, "canal_es_reindex_chunks_total", "Snapshot chunks completed and saved.",
                          CE_STAT_GET(s, reindex_chunks));
    rc |= metrics_printf(out, "# HELP canal_es_reindex_jobs_total Snapshot jobs ended, by result (failed includes "
                              "cancelled).\n"
                              "# TYPE canal_es_reindex_jobs_total counter\n"
                              "canal_es_reindex_jobs_total{result=\"done\"} %" PRIu64 "\n"
                              "canal_es_reindex_jobs_total{result=\"failed\"} %" PRIu64 "\n",
                         CE_STAT_GET(s, reindex_jobs_done), CE_STAT_GET(s, reindex_jobs_failed));
    rc |= metrics_gauge(out, "canal_es_reindex_running", "1 while a snapshot job is loading, catching up or swapping.",
                        CE_STAT_GET(s, reindex_running) ? 1 : 0);
    rc |= metrics_gauge(out, "canal_es_reindex_queued", "Snapshot jobs waiting to run.",
                        (double)CE_STAT_GET(s, reindex_queued));
    rc |= metrics_gauge(out, "canal_es_reindex_job_rows", "Rows written so far by the running job.",
                        (double)CE_STAT_GET(s, reindex_job_rows));
    rc |= metrics_gauge(out, "canal_es_reindex_job_rows_estimate",
                        "Row estimate of the running job's tables (information_schema.TABLES).",
                        (double)CE_STAT_GET(s, reindex_job_estimate));
    return rc == 0 ? 0 : -1;
}

int metrics_health(ce_stats *s, int64_t now_ms, long max_lag_s, ce_buf *out)
{
    bool canal = CE_STAT_GET(s, canal_connected) != 0;
    bool search = CE_STAT_GET(s, search_reachable) != 0;
    double lag = stats_lag_seconds(s, now_ms);
    bool lag_ok = lag < (double)max_lag_s;
    char reasons[512] = "";
    size_t n = 0;
    if (!canal)
        n += (size_t)snprintf(reasons + n, sizeof reasons - n, "%s\"not connected to %s\"", n ? "," : "",
                              CE_STAT_GET(s, source_kafka) ? "Kafka" : "Canal");
    if (!search && n < sizeof reasons)
        n += (size_t)snprintf(reasons + n, sizeof reasons - n, "%s\"the search node did not answer the last request\"",
                              n ? "," : "");
    if (!lag_ok && n < sizeof reasons)
        snprintf(reasons + n, sizeof reasons - n, "%s\"lag %.1f s is over health_max_lag_s (%ld)\"", n ? "," : "", lag,
                 max_lag_s);
    bool ok = canal && search && lag_ok;
    metrics_printf(out, "{\"status\":\"%s\",\"canal_connected\":%s,\"search_reachable\":%s,\"lag_seconds\":%.3f,",
                   ok ? "ok" : "unhealthy", canal ? "true" : "false", search ? "true" : "false", lag);
    size_t nk = atomic_load_explicit(&s->n_kparts, memory_order_acquire);
    if (nk > 0) {
        metrics_printf(out, "\"kafka_partitions\":[");
        bool first = true;
        for (size_t i = 0; i < nk; i++) {
            const ce_stats_kpart *k = &s->kparts[i];
            if (!atomic_load(&k->assigned))
                continue;
            char lbl[4 * STATS_TOPIC_NAME];
            metrics_label(k->topic, lbl, sizeof lbl);
            metrics_printf(out,
                           "%s{\"topic\":\"%s\",\"partition\":%d,\"lag_records\":%lld,\"lag_seconds\":%.3f,"
                           "\"committed\":%lld}",
                           first ? "" : ",", lbl, (int)k->partition, (long long)stats_kpart_lag(k),
                           stats_kpart_lag_seconds(k, now_ms), (long long)atomic_load(&k->committed));
            first = false;
        }
        metrics_printf(out, "],");
    }
    metrics_printf(out, "\"reasons\":[%s]}\n", reasons);
    return ok ? 200 : 503;
}

typedef struct metrics_conn {
    struct MHD_Connection *c; /* NULL: free slot */
    int fd;
    int64_t since_ms; /* start of the current request (accept, or end of the previous one) */
    int cut;          /* shut down already */
} metrics_conn;

struct metrics_server {
    struct MHD_Daemon *d;
    ce_stats *s;
    long max_lag_s;
    char version[32];
    pthread_t thread;
    atomic_int stop;
    metrics_conn conns[METRICS_MAX_CONNS]; /* only the loop thread */
    pthread_mutex_t admin_mu;              /* guards admin, token and has_admin */
    metrics_admin admin;                   /* admin.token is token */
    char *token;                           /* owned copy; "" = no POST is allowed */
    int has_admin;
};

/* One request (the handler's con_cls), freed when it ends. */
typedef struct metrics_req {
    size_t body; /* request body bytes read (and dropped) */
} metrics_req;

/* Connection opened / closed (called from MHD_run_wait in the loop thread). */
static void metrics_on_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    metrics_server *m = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        for (size_t i = 0; i < METRICS_MAX_CONNS && fi != NULL; i++) {
            if (m->conns[i].c == NULL) {
                m->conns[i] = (metrics_conn){.c = c, .fd = fi->connect_fd, .since_ms = (int64_t)ce_mono_ms()};
                *socket_context = &m->conns[i];
                return;
            }
        }
        *socket_context = NULL; /* not tracked: MHD's own limit keeps this from happening */
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
        metrics_conn *mc = *socket_context;
        mc->c = NULL;
        *socket_context = NULL;
    }
}

/* A response was sent (or the request ended): the next request gets a new
 * budget; the request's state is freed. */
static void metrics_on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)toe;
    if (con_cls != NULL && *con_cls != NULL) {
        ce_free(*con_cls);
        *con_cls = NULL;
    }
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci != NULL && ci->socket_context != NULL)
        ((metrics_conn *)ci->socket_context)->since_ms = (int64_t)ce_mono_ms();
}

/* Shuts down connections over METRICS_REQUEST_MS; MHD then sees the end of
 * the stream in its next round and closes them (the fd is still MHD's: it is
 * only closed after the CLOSED notification, in this thread). */
static void metrics_sweep(metrics_server *m)
{
    int64_t now = (int64_t)ce_mono_ms();
    for (size_t i = 0; i < METRICS_MAX_CONNS; i++) {
        metrics_conn *mc = &m->conns[i];
        if (mc->c != NULL && !mc->cut && now - mc->since_ms > METRICS_REQUEST_MS) {
            shutdown(mc->fd, SHUT_RDWR);
            mc->cut = 1;
        }
    }
}

static void *metrics_loop(void *arg)
{
    metrics_server *m = arg;
    while (!atomic_load(&m->stop)) {
        MHD_run_wait(m->d, METRICS_LOOP_MS);
        metrics_sweep(m);
    }
    return NULL;
}

static enum MHD_Result metrics_reply_h(struct MHD_Connection *conn, unsigned status, const char *type,
                                       const void *body, size_t len, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    if (allow != NULL)
        MHD_add_response_header(resp, "Allow", allow);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned status, const char *type, const void *body,
                                     size_t len)
{
    return metrics_reply_h(conn, status, type, body, len, NULL);
}

/* A constant JSON answer ({"error":...}). */
static enum MHD_Result metrics_reply_json(struct MHD_Connection *conn, unsigned status, const char *json)
{
    return metrics_reply(conn, status, "application/json", json, strlen(json));
}

typedef enum { METRICS_R_NONE, METRICS_R_METRICS, METRICS_R_HEALTH, METRICS_R_REINDEX, METRICS_R_CANCEL } metrics_route;

static metrics_route metrics_route_of(const char *url)
{
    if (strcmp(url, "/metrics") == 0)
        return METRICS_R_METRICS;
    if (strcmp(url, "/health") == 0)
        return METRICS_R_HEALTH;
    if (strcmp(url, "/reindex") == 0)
        return METRICS_R_REINDEX;
    if (strcmp(url, "/reindex/cancel") == 0)
        return METRICS_R_CANCEL;
    return METRICS_R_NONE;
}

/* The methods a route answers (the Allow header of its 405). */
static const char *metrics_allowed(metrics_route r)
{
    switch (r) {
    case METRICS_R_REINDEX:
        return "GET, HEAD, POST";
    case METRICS_R_CANCEL:
        return "POST";
    default:
        return "GET, HEAD";
    }
}

static bool metrics_method_ok(metrics_route r, const char *method)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    switch (r) {
    case METRICS_R_REINDEX:
        return get || post;
    case METRICS_R_CANCEL:
        return post;
    default:
        return get;
    }
}

static int metrics_sha256(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

/* NULL when the request carries "Authorization: Bearer T" with T equal to
 * the admin token (compared in constant time: both hashed, CRYPTO_memcmp),
 * else the JSON of the 403 saying what to do. Never echoes a token. */
static const char *metrics_auth_problem(metrics_server *m, struct MHD_Connection *conn)
{
    const char *problem = NULL;
    pthread_mutex_lock(&m->admin_mu);
    if (!m->has_admin) {
        problem = NULL; /* answered 503 by the dispatch */
        goto out;
    }
    if (m->token == NULL || m->token[0] == '\0') {
        problem = "{\"error\":\"this service has no [http] admin_token, so its POST endpoints are off: set "
                  "admin_token in the [http] section of its configuration, restart it, and send the token as "
                  "'Authorization: Bearer TOKEN'\"}\n";
        goto out;
    }
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL) {
        problem = "{\"error\":\"POST needs the header 'Authorization: Bearer TOKEN' with TOKEN the [http] "
                  "admin_token of the service's configuration\"}\n";
        goto out;
    }
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) {
        problem = "{\"error\":\"the Authorization header must be 'Bearer TOKEN' with TOKEN the [http] "
                  "admin_token of the service's configuration\"}\n";
        goto out;
    }
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    unsigned char a[32], b[32];
    if (metrics_sha256(h, n, a) != 0 || metrics_sha256(m->token, strlen(m->token), b) != 0 ||
        CRYPTO_memcmp(a, b, sizeof a) != 0)
        problem = "{\"error\":\"the Bearer token is not the [http] admin_token of the service's configuration\"}\n";
out:
    pthread_mutex_unlock(&m->admin_mu);
    return problem;
}

/* What the headers alone decide: 1 with *r when answered. */
static int metrics_early(metrics_server *m, struct MHD_Connection *conn, metrics_route route, const char *method,
                         enum MHD_Result *r)
{
    if (route == METRICS_R_NONE && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
        static const char msg[] = "not found: try /metrics, /health or /reindex\n";
        *r = metrics_reply(conn, 404, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return 1;
    }
    if (!metrics_method_ok(route, method)) {
        char msg[96];
        int n = snprintf(msg, sizeof msg, "only %s here\n", metrics_allowed(route));
        *r = metrics_reply_h(conn, 405, "text/plain; charset=utf-8", msg, (size_t)n, metrics_allowed(route));
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t clen = 0;
    if (cl != NULL && (ce_parse_i64(cl, 0, INT64_MAX, &clen) != 0 || clen > (int64_t)METRICS_MAX_REQUEST_BODY)) {
        *r = metrics_reply_json(conn, 413,
                                "{\"error\":\"request bodies are ignored here and limited to 4096 bytes: pass the "
                                "parameters in the query string\"}\n");
        return 1;
    }
    if (strcmp(method, "POST") == 0) {
        const char *problem = metrics_auth_problem(m, conn);
        if (problem != NULL) {
            *r = metrics_reply_json(conn, 403, problem);
            return 1;
        }
    }
    return 0;
}

/* POST /reindex and /reindex/cancel and GET /reindex, once the body is read. */
static enum MHD_Result metrics_admin_request(metrics_server *m, struct MHD_Connection *conn, metrics_route route,
                                             const char *method)
{
    enum MHD_Result r;
    ce_buf b;
    ce_buf_init(&b, METRICS_MAX_ADMIN_BODY);
    pthread_mutex_lock(&m->admin_mu);
    int status;
    if (!m->has_admin) {
        r = metrics_reply_json(conn, 503, "{\"error\":\"this process runs no reindex jobs (a dry run, or it is "
                                          "starting or stopping)\"}\n");
        goto out;
    }
    if (route == METRICS_R_REINDEX && strcmp(method, "POST") != 0) {
        status = m->admin.status(m->admin.ud, &b);
    } else if (route == METRICS_R_REINDEX) {
        const char *table = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "table");
        const char *ip = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "in_place");
        bool in_place = false;
        if (table == NULL || table[0] == '\0') {
            r = metrics_reply_json(conn, 400, "{\"error\":\"POST /reindex needs ?table=DB.TABLE\"}\n");
            goto out;
        }
        if (ip != NULL && (strcmp(ip, "1") == 0 || strcmp(ip, "true") == 0))
            in_place = true;
        else if (ip != NULL && ip[0] != '\0' && strcmp(ip, "0") != 0 && strcmp(ip, "false") != 0) {
            r = metrics_reply_json(conn, 400, "{\"error\":\"in_place must be 1 or 0\"}\n");
            goto out;
        }
        status = m->admin.submit(m->admin.ud, table, in_place, &b);
    } else {
        const char *ids = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
        int64_t id = 0;
        if (ids == NULL || ce_parse_i64(ids, 1, LONG_MAX, &id) != 0) {
            r = metrics_reply_json(conn, 400,
                                   "{\"error\":\"POST /reindex/cancel needs ?id=N with N a job id (GET /reindex "
                                   "lists them)\"}\n");
            goto out;
        }
        status = m->admin.cancel(m->admin.ud, (long)id, &b);
    }
    if (status < 100 || status > 599)
        status = 500;
    ce_buf_putc(&b, '\n');
    r = metrics_reply(conn, (unsigned)status, "application/json", b.data ? (void *)b.data : "", b.len);
out:
    pthread_mutex_unlock(&m->admin_mu);
    ce_buf_free(&b);
    return r;
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                       const char *version, const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    (void)version, (void)upload_data;
    metrics_server *m = cls;
    metrics_route route = metrics_route_of(url);
    metrics_req *rq = *con_cls;
    enum MHD_Result r;
    if (rq == NULL) { /* first call: only the headers are in */
        if (metrics_early(m, conn, route, method, &r))
            return r;
        rq = ce_calloc(1, sizeof *rq);
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* a body: counted and dropped (MHD cannot answer before its end) */
        rq->body += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->body > METRICS_MAX_REQUEST_BODY) /* chunked, so no Content-Length said so first */
        return metrics_reply_json(conn, 413,
                                  "{\"error\":\"request bodies are ignored here and limited to 4096 bytes: pass the "
                                  "parameters in the query string\"}\n");
    if (route == METRICS_R_REINDEX || route == METRICS_R_CANCEL)
        return metrics_admin_request(m, conn, route, method);
    ce_buf b;
    ce_buf_init(&b, METRICS_MAX_BODY);
    if (route == METRICS_R_METRICS) {
        if (metrics_render(m->s, ce_wall_ms(), m->version, &b) != 0) {
            static const char msg[] = "metrics too large\n";
            r = metrics_reply(conn, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        } else {
            r = metrics_reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? (void *)b.data : "",
                              b.len);
        }
    } else {
        int status = metrics_health(m->s, ce_wall_ms(), m->max_lag_s, &b);
        r = metrics_reply(conn, (unsigned)status, "application/json", b.data ? (void *)b.data : "", b.len);
    }
    ce_buf_free(&b);
    return r;
}

int metrics_set_admin(metrics_server *m, const metrics_admin *a)
{
    if (m == NULL)
        return 0;
    char *tok = NULL;
    if (a != NULL) {
        tok = ce_strdup(a->token != NULL ? a->token : "");
        if (tok == NULL)
            return -1;
    }
    pthread_mutex_lock(&m->admin_mu); /* waits for a callback that runs */
    char *old = m->token;
    if (a != NULL) {
        m->admin = *a;
        m->admin.token = tok;
    } else {
        memset(&m->admin, 0, sizeof m->admin);
    }
    m->token = tok;
    m->has_admin = a != NULL;
    pthread_mutex_unlock(&m->admin_mu);
    ce_free(old);
    return 0;
}

int metrics_addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int metrics_listen_addr(const char *listen, struct sockaddr_storage *ss, int *port, char *err, size_t errlen)
{
    char host[256];
    const char *hp = listen;
    char unbracketed[300];
    if (listen[0] == '[') {
        /* [v6addr]:port: the brackets only separate the address from the port */
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen) >= sizeof unbracketed) {
            snprintf(err, errlen, "[http] listen: '%s' is not host:port", listen);
            return -1;
        }
        snprintf(unbracketed, sizeof unbracketed, "%.*s%s", (int)(close - listen - 1), listen + 1, close + 1);
        hp = unbracketed;
    }
    if (ce_parse_hostport(hp, host, sizeof host, port) != 0 || host[0] == '\0') {
        snprintf(err, errlen, "[http] listen: '%s' is not host:port", listen);
        return -1;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", *port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
                    *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "[http] listen %s: cannot resolve %s: %s", listen, host, gai_strerror(gai));
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen <= sizeof *ss ? res->ai_addrlen : sizeof *ss);
    freeaddrinfo(res);
    return 0;
}

metrics_server *metrics_start(const char *listen, ce_stats *s, long max_lag_s, const char *version, char *err,
                              size_t errlen)
{
    struct sockaddr_storage ss;
    int port = 0;
    if (metrics_listen_addr(listen, &ss, &port, err, errlen) != 0)
        return NULL;
    metrics_server *m = ce_calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "[http] listen %s: out of memory", listen);
        return NULL;
    }
    m->s = s;
    m->max_lag_s = max_lag_s;
    snprintf(m->version, sizeof m->version, "%s", version);
    /* no internal thread: metrics_loop runs it (epoll: no FD_SETSIZE limit) */
    unsigned flags = MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, metrics_handler, m, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS_IP,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_S, MHD_OPTION_NOTIFY_CONNECTION,
                            metrics_on_conn, m, MHD_OPTION_NOTIFY_COMPLETED, metrics_on_done, m, MHD_OPTION_END);
    if (m->d == NULL) {
        snprintf(err, errlen, "[http] listen %s: cannot serve there (address in use or not local?)", listen);
        ce_free(m);
        return NULL;
    }
    atomic_init(&m->stop, 0);
    if (pthread_mutex_init(&m->admin_mu, NULL) != 0) {
        snprintf(err, errlen, "[http] listen %s: cannot create a mutex", listen);
        MHD_stop_daemon(m->d);
        ce_free(m);
        return NULL;
    }
    if (pthread_create(&m->thread, NULL, metrics_loop, m) != 0) {
        snprintf(err, errlen, "[http] listen %s: cannot start the server thread", listen);
        MHD_stop_daemon(m->d);
        pthread_mutex_destroy(&m->admin_mu);
        ce_free(m);
        return NULL;
    }
    return m;
}

void metrics_stop(metrics_server *m)
{
    if (m == NULL)
        return;
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL); /* within METRICS_LOOP_MS */
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->admin_mu);
    ce_free(m->token);
    ce_free(m);
}
