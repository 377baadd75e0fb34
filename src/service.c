/* service: see service.h. */
#include "service.h"

#include "check.h"
#include "metrics/metrics.h"
#include "run.h"
#include "sink/node.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CANAL_ES_VERSION
#define CANAL_ES_VERSION "0.0.0"
#endif

volatile sig_atomic_t service_stop = 0;

struct service {
    const cfg *c;
    bool dry_run;
    ce_stats *st;
    metrics_server *ms;
    job_mgr *jm;
    int lock_fd; /* {checkpoint file}.lock, held while the service runs; -1 = none */
};

/* One service per checkpoint file: a second `run` (or a standalone
 * `reindex` beside a running service) would be a second client of the same
 * destination and overwrite the same checkpoint. flock is released by the
 * kernel when the process ends, kill -9 included. */
static int service_lock(service *s, char *err, size_t errlen)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s.lock", s->c->checkpoint.file) >= sizeof path) {
        snprintf(err, errlen, "[checkpoint] file: path too long");
        return -1;
    }
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen,
                 "another canal-es (pid %s) runs with [checkpoint] file %.300s (it holds %.300s): one service per checkpoint "
                 "file; ask it with `canal-es reindex` through its [http] listener, or stop it first",
                 pid[0] ? pid : "?", s->c->checkpoint.file, path);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        ce_log(CE_LOG_WARN, "main", "cannot write the pid into %s: %s", path, strerror(errno));
    return 0;
}

/* First signal: stop fetching, finish and ack the batch in hand (run.c).
 * Second: exit at once; nothing unfinished is acked, Canal redelivers it. */
static void service_on_signal(int sig)
{
    (void)sig;
    if (service_stop) {
        static const char msg[] = "canal-es: second signal: exiting at once; un-acked batches will be redelivered\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(1);
    }
    service_stop = 1;
}

static void service_on_hup(int sig)
{
    (void)sig;
    ce_log_request_reopen();
}

void service_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = service_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking reads return EINTR and see the stop */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = service_on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL); /* reopen the log file (logrotate) */
    signal(SIGPIPE, SIG_IGN);
}

/* A refusal of check_local (the same check-config prints as FAIL). */
static void service_say_local(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "canal-es: %s\n", message);
}

int service_prepare(cfg *c, bool level_given, bool dry_run)
{
    char err[1024];
    ce_log_level lv;
    if (!level_given && ce_log_parse_level(c->log.level, &lv) == 0)
        ce_log_set_level(lv);
    ce_log_set_format(strcmp(c->log.format, "json") == 0 ? CE_LOG_JSON : CE_LOG_TEXT);
    char dest[300];
    if (c->kafka.on)
        snprintf(dest, sizeof dest, "kafka:%s", c->kafka.group_id); /* the group is what instances share */
    else
        snprintf(dest, sizeof dest, "%s", c->canal.destination);
    ce_log_set_destination(dest);
    if (check_local(c, dry_run, service_say_local, NULL) != 0)
        return 2;
    if (ce_log_open(c->log.file, err, sizeof err) != 0) {
        fprintf(stderr, "canal-es: [log] file: %s\n", err);
        return 2;
    }
    return 0;
}

/* The admin callbacks of the [http] server: the job manager's requests. */
static int service_status(void *ud, ce_buf *out) { return job_status(ud, out); }

static int service_submit(void *ud, const char *db_table, bool in_place, ce_buf *out)
{
    return job_submit(ud, db_table, in_place, out);
}

static int service_cancel(void *ud, long id, ce_buf *out) { return job_cancel(ud, id, out); }

/* The [http] server and what it says about the admin token. */
static int service_serve(service *s, char *err, size_t errlen)
{
    const cfg *c = s->c;
    s->ms = metrics_start(c->http.listen, s->st, c->http.health_max_lag_s, CANAL_ES_VERSION, err, errlen);
    if (s->ms == NULL)
        return -1;
    bool token = c->http.admin_token != NULL && c->http.admin_token[0] != '\0';
    if (s->jm != NULL) {
        metrics_admin a = {.status = service_status,
                           .submit = service_submit,
                           .cancel = service_cancel,
                           .ud = s->jm,
                           .token = c->http.admin_token};
        if (metrics_set_admin(s->ms, &a) != 0) {
            snprintf(err, errlen, "[http] listen %s: out of memory", c->http.listen);
            return -1;
        }
    }
    struct sockaddr_storage ss;
    int port;
    char why[256];
    if (token && metrics_listen_addr(c->http.listen, &ss, &port, why, sizeof why) == 0 &&
        !metrics_addr_is_loopback(&ss))
        ce_log(CE_LOG_WARN, "main",
               "[http] admin_token is set and [http] listen %s is not a loopback address: the token and the "
               "requests travel in clear text; listen on 127.0.0.1 (or put a TLS proxy in front)",
               c->http.listen);
    ce_log(CE_LOG_INFO, "main", "serving /metrics, /health and /reindex on %s%s", c->http.listen,
           token || s->jm == NULL ? "" : " (POST /reindex answers 403: no [http] admin_token)");
    return 0;
}

service *service_open(const cfg *c, bool dry_run)
{
    char err[1024];
    service *s = ce_calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    s->c = c;
    s->dry_run = dry_run;
    s->lock_fd = -1;
    if (!dry_run && c->checkpoint.file[0] != '\0' && service_lock(s, err, sizeof err) != 0) {
        ce_log(CE_LOG_ERROR, "main", "%s", err);
        goto fail;
    }
    s->st = ce_malloc(sizeof *s->st);
    if (s->st == NULL)
        goto oom;
    stats_init(s->st);
    char shown[1024];
    node_shown_list(c->es.url, shown, sizeof shown);
    ce_log(CE_LOG_INFO, "main", "canal-es %s starting: %s %s, search %s, %zu table rule(s)", CANAL_ES_VERSION,
           c->kafka.on ? "kafka" : "canal", c->kafka.on ? c->kafka.brokers : c->canal.address, shown, c->n_tables);
    if (!dry_run) {
        s->jm = job_mgr_new(c, s->st, err, sizeof err);
        if (s->jm == NULL) {
            ce_log(CE_LOG_ERROR, "main", "reindex jobs: %s", err);
            goto fail;
        }
        if (c->http.listen[0] != '\0' && service_serve(s, err, sizeof err) != 0) {
            ce_log(CE_LOG_ERROR, "main", "%s", err);
            goto fail;
        }
    }
    return s;
oom:
    fprintf(stderr, "canal-es: out of memory\n");
fail:
    service_close(s);
    return NULL;
}

job_mgr *service_jobs(service *s) { return s->jm; }

int service_loop(service *s, bool exit_when_idle)
{
    run_opts o;
    run_opts_default(&o);
    o.dry_run = s->dry_run;
    o.stats = s->st;
    o.jobs = s->jm;
    o.exit_when_idle = exit_when_idle;
    if (s->jm != NULL) {
        char err[1024];
        if (job_mgr_start(s->jm, &service_stop, err, sizeof err) != 0) {
            ce_log(CE_LOG_ERROR, "main", "reindex jobs: %s", err);
            return 1;
        }
    }
    return run_service(s->c, &o, &service_stop);
}

void service_close(service *s)
{
    if (s == NULL)
        return;
    metrics_stop(s->ms); /* no admin callback runs after this */
    job_mgr_free(s->jm);
    if (s->st != NULL) {
        stats_destroy(s->st);
        ce_free(s->st);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock; the file stays (removing it would race a new owner) */
    ce_free(s);
}
