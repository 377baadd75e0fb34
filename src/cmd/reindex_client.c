/* cmd/reindex_client: see reindex_client.h.
 *
 * Service mode: GET /reindex first (connection refused = no service for
 * this configuration: standalone mode), then POST with the configuration's
 * [http] admin_token, then GET /reindex every second until the job ended,
 * drawing a progress bar on a terminal (stderr) or one line every 5 s.
 * Standalone mode: the pipeline of `run` (service.h) with the job queued
 * before its worker starts and the service told to stop once idle; a thread
 * prints a progress line every 5 s from job_status. */
#include "cmd/reindex_client.h"
#include "util/json.h"
#include "util/clock.h"

#include "service.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define RC_MAX_ANSWER ((size_t)4 << 20)
#define RC_MAX_JOBS 256
#define RC_POLL_MS 1000
#define RC_LINE_MS 5000    /* progress lines when stderr is not a terminal */
#define RC_NEW_INDEX "a new index behind the alias, named when the job starts"
#define RC_MAX_FAILURES 10 /* GETs in a row without an answer while waiting: give up */

/* A job of GET /reindex (job.h, job_status). */
typedef struct rc_job {
    long id;
    char table[256], mode[16], state[16], index[256], alias[256], error[1024];
    int64_t rows, estimate, eta_s, lag_ms; /* eta_s -1 = unknown */
    double rps;
} rc_job;

typedef struct rc_client {
    char base[320]; /* http://host:port */
    const char *listen;
    const char *token; /* "" = none */
    char err[2048];
} rc_client;

/* http://HOST:PORT of [http] listen: a wildcard address is asked on
 * loopback, an IPv6 address in brackets. -1 when listen is not host:port. */
static int rc_base_url(const char *listen, char *out, size_t len)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return -1;
    char host[256];
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return -1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    const char *h = host;
    if (strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    int n = snprintf(out, len, strchr(h, ':') ? "http://[%s]:%s" : "http://%s:%s", h, colon + 1);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static size_t rc_collect(char *p, size_t size, size_t n, void *ud)
{
    return ce_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* One request to the service. 0 with *status and body (NUL-terminated); 1
 * connection refused (no service listens); -1 another failure (cl->err). */
static int rc_http(rc_client *cl, const char *method, const char *path, long *status, ce_buf *body)
{
    int rc = -1;
    char url[1024];
    char auth[1024];
    struct curl_slist *hdr = NULL;
    ce_buf_reset(body);
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(cl->err, sizeof cl->err, "cannot create an HTTP client (out of memory?)");
        goto out;
    }
    snprintf(url, sizeof url, "%s%s", cl->base, path);
    hdr = curl_slist_append(hdr, "Expect:");
    if (strcmp(method, "POST") == 0 && cl->token[0] != '\0') {
        int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", cl->token);
        if (n < 0 || (size_t)n >= sizeof auth) {
            snprintf(cl->err, sizeof cl->err, "[http] admin_token is longer than %zu bytes", sizeof auth - 32);
            goto out;
        }
        hdr = curl_slist_append(hdr, auth);
        memset(auth, 0, sizeof auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* the listener is local: never through a proxy */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rc_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_COULDNT_CONNECT) {
        rc = 1;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(cl->err, sizeof cl->err, "%s %.900s (the [http] listen %.300s of the service): %s", method, url, cl->listen,
                 curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (ce_buf_terminate(body) != 0) {
        snprintf(cl->err, sizeof cl->err, "%s %.900s: the answer is larger than %zu bytes", method, url, RC_MAX_ANSWER);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(hdr);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

static void rc_copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src ? src : ""); }

/* The "error" member of an answer, else its text (shortened). */
static void rc_answer_error(const char *json, char *out, size_t len)
{
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    const char *e = v != NULL ? ce_json_str(v, "error") : NULL;
    if (e != NULL)
        snprintf(out, len, "%s", e);
    else
        snprintf(out, len, "%.300s", json);
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    yajl_tree_free(v);
}

/* The jobs of a job_status answer. -1 when it is not one. */
static int rc_parse_jobs(const char *json, rc_job *jobs, size_t max, size_t *n)
{
    *n = 0;
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    const char *path[] = {"jobs", NULL};
    yajl_val arr = v != NULL ? yajl_tree_get(v, path, yajl_t_array) : NULL;
    if (arr == NULL) {
        yajl_tree_free(v);
        return -1;
    }
    for (size_t i = 0; i < arr->u.array.len && *n < max; i++) {
        yajl_val o = arr->u.array.values[i];
        if (!YAJL_IS_OBJECT(o))
            continue;
        rc_job *j = &jobs[(*n)++];
        memset(j, 0, sizeof *j);
        j->id = (long)ce_json_num(o, "id", 0);
        rc_copy(j->table, sizeof j->table, ce_json_str(o, "table"));
        rc_copy(j->mode, sizeof j->mode, ce_json_str(o, "mode"));
        rc_copy(j->state, sizeof j->state, ce_json_str(o, "state"));
        rc_copy(j->index, sizeof j->index, ce_json_str(o, "index"));
        rc_copy(j->alias, sizeof j->alias, ce_json_str(o, "alias"));
        rc_copy(j->error, sizeof j->error, ce_json_str(o, "error"));
        j->rows = (int64_t)ce_json_num(o, "rows", 0);
        j->estimate = (int64_t)ce_json_num(o, "rows_estimate", 0);
        j->eta_s = (int64_t)ce_json_num(o, "eta_s", -1);
        j->lag_ms = (int64_t)ce_json_num(o, "stream_lag_ms", 0);
        j->rps = ce_json_num(o, "rows_per_s", 0);
    }
    yajl_tree_free(v);
    return 0;
}

static const rc_job *rc_find(const rc_job *jobs, size_t n, long id)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i].id == id)
            return &jobs[i];
    return NULL;
}

static bool rc_terminal(const char *state)
{
    return strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0;
}

/* "job 3 shop.products loading [#####     ] 45.2% 45200/100000 rows, 1234 rows/s, ETA 0:00:44, stream lag 120 ms" */
static void rc_progress_line(const rc_job *j, bool bar, char *out, size_t len)
{
    char pct[64] = "", eta[32] = "?", bars[32] = "";
    if (j->estimate > 0) {
        double p = 100.0 * (double)j->rows / (double)j->estimate;
        if (p > 100.0)
            p = 100.0; /* the estimate is approximate */
        snprintf(pct, sizeof pct, "%5.1f%% ", p);
        if (bar) {
            int fill = (int)(p / 5.0);
            bars[0] = '[';
            for (int i = 0; i < 20; i++)
                bars[1 + i] = i < fill ? '#' : ' ';
            bars[21] = ']';
            bars[22] = ' ';
            bars[23] = '\0';
        }
    }
    if (j->eta_s >= 0)
        snprintf(eta, sizeof eta, "%" PRId64 ":%02" PRId64 ":%02" PRId64, j->eta_s / 3600, j->eta_s / 60 % 60,
                 j->eta_s % 60);
    char rows[64];
    if (j->estimate > 0)
        snprintf(rows, sizeof rows, "%" PRId64 "/%" PRId64, j->rows, j->estimate);
    else
        snprintf(rows, sizeof rows, "%" PRId64, j->rows);
    snprintf(out, len, "job %ld %s %s %s%s%s rows, %.0f rows/s, ETA %s, stream lag %" PRId64 " ms", j->id, j->table,
             j->state, bars, pct, rows, j->rps, eta, j->lag_ms);
}

/* The end of a job: 0 done, 1 otherwise (with the job's error). */
static int rc_report_end(const rc_job *j)
{
    if (strcmp(j->state, "done") == 0) {
        printf("job %ld done: %" PRId64 " rows of %s in %s%s%s%s\n", j->id, j->rows, j->table, j->index,
               j->alias[0] ? " (alias " : "", j->alias, j->alias[0] ? ")" : "");
        return 0;
    }
    fprintf(stderr, "canal-es reindex: job %ld %s: %s\n", j->id, j->state,
            j->error[0] ? j->error : "(no error recorded)");
    return 1;
}

/* Polls GET /reindex until job id ended. index: the target the submit
 * answered ("" when named only when the job starts: printed once known). */
static int rc_wait(rc_client *cl, long id, const char *index, const char *path)
{
    int rc = 1;
    bool named = index[0] != '\0';
    bool tty = isatty(STDERR_FILENO) == 1;
    bool drawn = false;
    int64_t last_line = 0;
    char last_state[16] = "";
    int failures = 0;
    ce_buf body;
    ce_buf_init(&body, RC_MAX_ANSWER);
    rc_job *jobs = ce_calloc(RC_MAX_JOBS, sizeof *jobs);
    if (jobs == NULL) {
        fprintf(stderr, "canal-es reindex: out of memory\n");
        goto out;
    }
    for (;;) {
        long status = 0;
        size_t n = 0;
        int r = rc_http(cl, "GET", "/reindex", &status, &body);
        if (r == 1) {
            fprintf(stderr,
                    "%scanal-es reindex: the service on %s stopped before job %ld ended; it resumes from its last "
                    "saved chunk when the service starts again (see canal-es reindex -c %s --status)\n",
                    drawn ? "\n" : "", cl->listen, id, path);
            goto out;
        }
        if (r < 0 || status != 200 || rc_parse_jobs((const char *)body.data, jobs, RC_MAX_JOBS, &n) != 0) {
            if (++failures >= RC_MAX_FAILURES) {
                char why[2048];
                if (r < 0)
                    snprintf(why, sizeof why, "%s", cl->err);
                else
                    rc_answer_error((const char *)body.data, why, sizeof why);
                fprintf(stderr, "%scanal-es reindex: GET /reindex failed %d times in a row (last: %s); the job "
                                "goes on in the service (canal-es reindex -c %s --status)\n",
                        drawn ? "\n" : "", failures, why, path);
                goto out;
            }
        } else {
            failures = 0;
            const rc_job *j = rc_find(jobs, n, id);
            if (j == NULL) {
                fprintf(stderr, "%scanal-es reindex: the service no longer lists job %ld (restarted?)\n",
                        drawn ? "\n" : "", id);
                goto out;
            }
            if (!named && j->index[0] != '\0') {
                if (drawn)
                    fputs("\r\033[K", stderr);
                printf("job %ld: target index %s\n", id, j->index);
                fflush(stdout);
                named = true;
            }
            char line[1024];
            rc_progress_line(j, tty, line, sizeof line);
            int64_t now = (int64_t)ce_mono_ms();
            if (tty) {
                fprintf(stderr, "\r%s\033[K", line);
                drawn = true;
            } else if (rc_terminal(j->state) || now - last_line >= RC_LINE_MS || strcmp(last_state, j->state) != 0) {
                fprintf(stderr, "%s\n", line);
                last_line = now;
            }
            snprintf(last_state, sizeof last_state, "%s", j->state);
            if (rc_terminal(j->state)) {
                if (drawn)
                    fputc('\n', stderr);
                rc = rc_report_end(j);
                goto out;
            }
        }
        ce_sleep_ms(RC_POLL_MS, NULL);
    }
out:
    ce_free(jobs);
    ce_buf_free(&body);
    return rc;
}

/* The jobs as a table on f. */
static void rc_print_table(const rc_job *jobs, size_t n, FILE *f)
{
    int wt = 5, wi = 5;
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(jobs[i].table), b = (int)strlen(jobs[i].index);
        wt = a > wt ? a : wt;
        wi = b > wi ? b : wi;
    }
    fprintf(f, "%-4s %-*s %-8s %-11s %-21s %-*s %s\n", "ID", wt, "TABLE", "MODE", "STATE", "ROWS/ESTIMATE", wi,
            "INDEX", "ERROR");
    for (size_t i = 0; i < n; i++) {
        const rc_job *j = &jobs[i];
        char rows[48];
        snprintf(rows, sizeof rows, "%" PRId64 "/%" PRId64, j->rows, j->estimate);
        fprintf(f, "%-4ld %-*s %-8s %-11s %-21s %-*s %s\n", j->id, wt, j->table, j->mode, j->state, rows, wi,
                j->index, j->error[0] ? j->error : "-");
    }
}

/* GET /reindex printed as a table. 0 printed, 1 no service (refused), -1 failure (cl->err). */
static int rc_status(rc_client *cl, FILE *f)
{
    int rc = -1;
    ce_buf body;
    ce_buf_init(&body, RC_MAX_ANSWER);
    rc_job *jobs = ce_calloc(RC_MAX_JOBS, sizeof *jobs);
    long status = 0;
    size_t n = 0;
    if (jobs == NULL) {
        snprintf(cl->err, sizeof cl->err, "out of memory");
        goto out;
    }
    rc = rc_http(cl, "GET", "/reindex", &status, &body);
    if (rc != 0)
        goto out;
    rc = -1;
    if (status != 200) {
        char why[512];
        rc_answer_error((const char *)body.data, why, sizeof why);
        snprintf(cl->err, sizeof cl->err, "GET %.320s/reindex answered %ld: %.512s", cl->base, status, why);
        goto out;
    }
    if (rc_parse_jobs((const char *)body.data, jobs, RC_MAX_JOBS, &n) != 0) {
        snprintf(cl->err, sizeof cl->err, "GET %s/reindex: not a job list (is this canal-es?)", cl->base);
        goto out;
    }
    if (n == 0)
        fprintf(f, "no reindex jobs in the service on %s\n", cl->listen);
    else
        rc_print_table(jobs, n, f);
    rc = 0;
out:
    ce_free(jobs);
    ce_buf_free(&body);
    return rc;
}

int reindex_print_live(const cfg *c, FILE *f)
{
    if (c->http.listen[0] == '\0')
        return -1;
    rc_client cl = {.listen = c->http.listen, .token = ""};
    if (rc_base_url(c->http.listen, cl.base, sizeof cl.base) != 0)
        return -1;
    fprintf(f, "live jobs of the service on %s:\n", c->http.listen);
    int r = rc_status(&cl, f);
    if (r == 1)
        fprintf(f, "  no service answers on %s\n", c->http.listen);
    else if (r < 0)
        fprintf(f, "  %s\n", cl.err);
    return r == 0 ? 0 : 1;
}

/* The exit code of a refused submit: the request or the configuration is
 * wrong (bad name, no rule, no [mysql], wrong token) = 2, else 1. */
static int rc_submit_exit(long status)
{
    return status == 400 || status == 403 || status == 404 || status == 503 ? 2 : 1;
}

/* The id and index of a 202 answer. */
static int rc_parse_submitted(const char *json, long *id, char *index, size_t len)
{
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    if (v == NULL)
        return -1;
    *id = (long)ce_json_num(v, "id", 0);
    rc_copy(index, len, ce_json_str(v, "index"));
    yajl_tree_free(v);
    return *id > 0 ? 0 : -1;
}

/* ---- standalone: the pipeline in this process ---- */

typedef struct rc_ticker {
    job_mgr *jm;
    long id;
    volatile sig_atomic_t done;
    pthread_t thread;
} rc_ticker;

/* The job of this process's job_status, 0 when found. */
static int rc_local_job(job_mgr *jm, long id, rc_job *out)
{
    int rc = -1;
    ce_buf b;
    ce_buf_init(&b, RC_MAX_ANSWER);
    rc_job *jobs = ce_calloc(RC_MAX_JOBS, sizeof *jobs);
    size_t n = 0;
    if (jobs != NULL && job_status(jm, &b) == 200 && ce_buf_terminate(&b) == 0 &&
        rc_parse_jobs((const char *)b.data, jobs, RC_MAX_JOBS, &n) == 0) {
        const rc_job *j = rc_find(jobs, n, id);
        if (j != NULL) {
            *out = *j;
            rc = 0;
        }
    }
    ce_free(jobs);
    ce_buf_free(&b);
    return rc;
}

static void *rc_tick(void *arg)
{
    rc_ticker *t = arg;
    while (!ce_sleep_ms(RC_LINE_MS, &t->done)) {
        rc_job j;
        if (rc_local_job(t->jm, t->id, &j) == 0) {
            char line[1024];
            rc_progress_line(&j, false, line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
    }
    return NULL;
}

static int rc_standalone(cfg *c, const char *path, const char *table, bool in_place, bool level_given)
{
    int rc = service_prepare(c, level_given, false);
    if (rc != 0)
        return rc;
    service_signals();
    service *sv = service_open(c, false);
    if (sv == NULL) {
        ce_log_close();
        return 1;
    }
    ce_buf out;
    ce_buf_init(&out, RC_MAX_ANSWER);
    rc_ticker t = {.jm = service_jobs(sv)};
    bool ticking = false;
    int status = job_submit(t.jm, table, in_place, &out);
    char index[256] = "";
    if (ce_buf_terminate(&out) != 0 || status != 202 ||
        rc_parse_submitted((const char *)out.data, &t.id, index, sizeof index) != 0) {
        char why[1024];
        rc_answer_error(out.data ? (const char *)out.data : "", why, sizeof why);
        fprintf(stderr, "canal-es reindex: %s: %s\n", table, why);
        rc = status == 202 ? 1 : rc_submit_exit(status);
        goto out;
    }
    printf("job %ld: %s -> %s (in this process: %s)\n", t.id, table, index[0] ? index : RC_NEW_INDEX,
           c->http.listen[0] ? "no service answers on [http] listen" : "[http] listen is empty");
    fflush(stdout);
    ticking = pthread_create(&t.thread, NULL, rc_tick, &t) == 0;
    rc = service_loop(sv, true);
    if (ticking) {
        t.done = 1;
        pthread_join(t.thread, NULL);
    }
    rc_job j;
    if (rc_local_job(t.jm, t.id, &j) != 0) {
        fprintf(stderr, "canal-es reindex: job %ld is not known any more\n", t.id);
        rc = 1;
    } else if (!rc_terminal(j.state)) {
        fprintf(stderr,
                "canal-es reindex: stopped before job %ld ended (%s, %" PRId64 " rows): it resumes from its last "
                "saved chunk at the next `canal-es run -c %s` or `canal-es reindex -c %s`\n",
                j.id, j.state, j.rows, path, path);
        rc = 1;
    } else {
        int end = rc_report_end(&j);
        rc = end != 0 ? end : rc;
    }
out:
    ce_buf_free(&out);
    service_close(sv);
    ce_log_close();
    return rc;
}

/* ---- the command ---- */

/* POST path to the service (token checked first); prints the outcome. */
static int rc_post(rc_client *cl, const char *cfgpath, const char *path, long *status, ce_buf *body)
{
    if (cl->token[0] == '\0') {
        fprintf(stderr,
                "canal-es reindex: %s has no [http] admin_token: set it to the token the service on %s runs "
                "with (its POST endpoints answer 403 without one)\n",
                cfgpath, cl->listen);
        return 2;
    }
    int r = rc_http(cl, "POST", path, status, body);
    if (r == 1) {
        fprintf(stderr, "canal-es reindex: the service on %s stopped answering\n", cl->listen);
        return 1;
    }
    if (r < 0) {
        fprintf(stderr, "canal-es reindex: %s\n", cl->err);
        return 1;
    }
    return 0;
}

int reindex_request(cfg *c, const char *path, const reindex_req *req)
{
    const char *table = req->table;
    bool in_place = req->in_place, no_wait = req->no_wait;
    long cancel_id = req->cancel_id;
    int rc = 2;
    rc_client cl = {.listen = c->http.listen, .token = c->http.admin_token ? c->http.admin_token : ""};
    ce_buf body;
    ce_buf_init(&body, RC_MAX_ANSWER);
    bool no_listen = c->http.listen[0] == '\0';
    if (!no_listen && rc_base_url(c->http.listen, cl.base, sizeof cl.base) != 0) {
        ce_log_print(stderr, "canal-es reindex: [http] listen '%s' is not host:port", c->http.listen);
        goto out;
    }
    if (no_listen && table == NULL) {
        fprintf(stderr,
                "canal-es reindex: %s has an empty [http] listen, so there is no service to ask: set [http] listen "
                "(e.g. 127.0.0.1:9180) and restart the service\n",
                path);
        goto out;
    }
    if (req->status_only) {
        int r = rc_status(&cl, stdout);
        if (r == 1) {
            fprintf(stderr, "canal-es reindex: no service answers on %s (connection refused)\n", c->http.listen);
            char buf[8192];
            job_state_summary(c, buf, sizeof buf);
            if (buf[0] != '\0')
                printf("jobs recorded in the state file:\n%s", buf);
            rc = 0;
        } else if (r < 0) {
            fprintf(stderr, "canal-es reindex: %s\n", cl.err);
            rc = 1;
        } else {
            rc = 0;
        }
        goto out;
    }
    long status = 0;
    /* is a service there? (refused: none runs for this configuration) */
    int probe = no_listen ? 1 : rc_http(&cl, "GET", "/reindex", &status, &body);
    if (probe < 0) {
        fprintf(stderr, "canal-es reindex: %s\n", cl.err);
        rc = 1;
        goto out;
    }
    if (cancel_id > 0) {
        if (probe == 1) {
            fprintf(stderr, "canal-es reindex: no service answers on %s (connection refused): nothing to cancel\n",
                    c->http.listen);
            rc = 1;
            goto out;
        }
        char p[64];
        snprintf(p, sizeof p, "/reindex/cancel?id=%ld", cancel_id);
        rc = rc_post(&cl, path, p, &status, &body);
        if (rc != 0)
            goto out;
        if (status == 200) {
            printf("job %ld cancelled\n", cancel_id);
            rc = 0;
        } else {
            char why[1024];
            rc_answer_error((const char *)body.data, why, sizeof why);
            fprintf(stderr, "canal-es reindex: cancel job %ld: %s (HTTP %ld)\n", cancel_id, why, status);
            rc = 1;
        }
        goto out;
    }
    if (probe == 1) {
        if (no_wait) {
            fprintf(stderr,
                    "canal-es reindex: --no-wait needs a running service, and %s: run without --no-wait to load "
                    "%s in this process\n",
                    no_listen ? "[http] listen is empty" : "none answers on [http] listen", table);
            goto out;
        }
        ce_buf_free(&body);
        return rc_standalone(c, path, table, in_place, req->level_given);
    }
    char *esc = curl_easy_escape(NULL, table, 0);
    if (esc == NULL) {
        fprintf(stderr, "canal-es reindex: out of memory\n");
        rc = 1;
        goto out;
    }
    char p[1024];
    snprintf(p, sizeof p, "/reindex?table=%s%s", esc, in_place ? "&in_place=1" : "");
    curl_free(esc);
    rc = rc_post(&cl, path, p, &status, &body);
    if (rc != 0)
        goto out;
    long id = 0;
    char index[256] = "";
    if (status != 202 || rc_parse_submitted((const char *)body.data, &id, index, sizeof index) != 0) {
        char why[1024];
        rc_answer_error((const char *)body.data, why, sizeof why);
        fprintf(stderr, "canal-es reindex: %s: %s (HTTP %ld)\n", table, why, status);
        rc = status == 202 ? 1 : rc_submit_exit(status);
        goto out;
    }
    printf("job %ld: %s -> %s (service on %s)\n", id, table, index[0] ? index : RC_NEW_INDEX, c->http.listen);
    fflush(stdout);
    rc = no_wait ? 0 : rc_wait(&cl, id, index, path);
out:
    ce_buf_free(&body);
    return rc;
}
