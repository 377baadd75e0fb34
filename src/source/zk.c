/* source/zk: the running Canal server of a destination, read from ZooKeeper.
 *
 * libzookeeper-mt 3.8 trusts the lengths in a reply: a getData answer whose
 * data length is negative or longer than the frame makes its I/O thread
 * memcpy from NULL or from an uninitialised pointer (process_sync_completion,
 * whatever buffer the caller passes), killing the process. So the session
 * lives in a child process (this binary run as `canal-es zk-follow`, see
 * zk_child_main) and the caller's zk_follow only talks to it over a socket:
 * a crashed child is an error of that read (WARN, the address list is used)
 * and a new child is started on a later read.
 *
 * In the child, state shared with the library's event thread (connected,
 * expired, changed) is guarded by `mu`; everything else belongs to the thread
 * calling zks_running / zks_changed / zks_close. In the caller, zk_follow
 * belongs to the thread calling zk_running / zk_changed / zk_close. */
#include "source/zk.h"
#include "util/clock.h"
#include "util/io.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>
#include <zookeeper/zookeeper.h>

#define ZK_PATH_MAX 512
#define ZK_READ_TRIES 3

/* In the child, the socket to the caller (-1 in the caller's process). */
static int zk_child_fd = -1;

/* A WARN line: logged here, or (in the child) sent to the caller to log. */
static void zk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void zk_warn(const char *fmt, ...)
{
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + 2, sizeof line - 3, fmt, ap);
    va_end(ap);
    if (zk_child_fd < 0) {
        ce_log(CE_LOG_WARN, "zk", "%s", line + 2);
        return;
    }
    line[0] = 'w';
    line[1] = ' ';
    size_t n = strlen(line);
    for (size_t i = 2; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    (void)ce_write_all(zk_child_fd, line, n);
}

typedef struct zk_session zk_session;

/* The session (in the child process). */
struct zk_session {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    int connected;
    int expired;
    int changed;
    /* owned by the reading thread */
    zhandle_t *zh;
    char *hosts;
    char path[ZK_PATH_MAX];
    int timeout_ms;
    int ever_connected;
    int known;               /* last answer: -1 none yet, 0 no running server, 1 addr */
    char addr[ZK_ADDR_MAX];
};

int zk_parse_running(const char *data, size_t len, char *addr, size_t addrlen, char *err, size_t errlen)
{
    int rc = -1;
    char text[ZK_DATA_MAX + 1];
    char perr[160] = "";
    yajl_val root = NULL;
    if (addrlen > 0)
        addr[0] = '\0';
    if (len == 0) {
        snprintf(err, errlen, "empty running node");
        goto out;
    }
    if (len > ZK_DATA_MAX) {
        snprintf(err, errlen, "running node too large (%zu bytes)", len);
        goto out;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    if (strlen(text) != len) {
        snprintf(err, errlen, "NUL byte in running node");
        goto out;
    }
    root = yajl_tree_parse(text, perr, sizeof perr);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "running node is not a JSON object%s%.120s: %.80s", perr[0] ? ": " : "", perr, text);
        goto out;
    }
    static const char *active_path[] = {"active", NULL};
    static const char *address_path[] = {"address", NULL};
    yajl_val active = yajl_tree_get(root, active_path, yajl_t_any);
    if (active != NULL && !YAJL_IS_TRUE(active) && !YAJL_IS_FALSE(active)) {
        snprintf(err, errlen, "running node: \"active\" is not a boolean: %.80s", text);
        goto out;
    }
    if (active != NULL && YAJL_IS_FALSE(active)) {
        rc = 0; /* the server is releasing the destination */
        goto out;
    }
    yajl_val address = yajl_tree_get(root, address_path, yajl_t_any);
    if (address == NULL || !YAJL_IS_STRING(address)) {
        snprintf(err, errlen, "running node has no \"address\" string: %.80s", text);
        goto out;
    }
    const char *a = YAJL_GET_STRING(address);
    char host[ZK_ADDR_MAX];
    int port = 0;
    size_t alen = strlen(a);
    if (alen == 0 || alen >= addrlen || alen >= ZK_ADDR_MAX || ce_parse_hostport(a, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "running node: \"address\" is not host:port: '%.80s'", a);
        goto out;
    }
    memcpy(addr, a, alen + 1);
    rc = 1;
out:
    if (root != NULL)
        yajl_tree_free(root);
    return rc;
}

/* The library's event thread: only record what happened. */
static void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    zk_session *z = ctx;
    pthread_mutex_lock(&z->mu);
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_CONNECTED_STATE) {
            z->connected = 1;
        } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
            z->connected = 0;
            z->expired = 1;
        } else {
            z->connected = 0;
        }
    }
    z->changed = 1; /* a session change may hide a node change: read again */
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
}

/* The library's own log lines (its I/O thread). While the ensemble is
 * unreachable it retries every session timeout / 60 and logs each attempt:
 * pass on at most one line per ZK_LOG_EVERY_MS, counting the others. */
#define ZK_LOG_EVERY_MS 10000

static pthread_mutex_t zk_log_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t zk_log_last_ms;
static unsigned long zk_log_dropped;

static void zk_log_line(const char *message)
{
    const char *m = message ? message : "";
    const char *tag = strstr(m, "):ZOO_"); /* drop the library's time/pid/thread prefix */
    if (tag != NULL)
        m = tag + 2;
    char line[1024];
    snprintf(line, sizeof line, "%s", m);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    uint64_t now = ce_mono_ms();
    pthread_mutex_lock(&zk_log_mu);
    unsigned long dropped = 0;
    bool show = zk_log_last_ms == 0 || now - zk_log_last_ms >= ZK_LOG_EVERY_MS;
    if (show) {
        dropped = zk_log_dropped;
        zk_log_dropped = 0;
        zk_log_last_ms = now;
    } else {
        zk_log_dropped++;
    }
    pthread_mutex_unlock(&zk_log_mu);
    if (!show)
        return;
    if (dropped > 0)
        zk_warn("%s (%lu more library messages in the last %d s not shown)", line, dropped, ZK_LOG_EVERY_MS / 1000);
    else
        zk_warn("%s", line);
}

static int zk_start_session(zk_session *z, char *err, size_t errlen)
{
    z->zh = zookeeper_init2(z->hosts, zk_watcher, z->timeout_ms, NULL, z, 0, zk_log_line);
    if (z->zh == NULL) {
        /* errno says little here (ENOENT from a failed resolution, EINVAL...) */
        snprintf(err, errlen, "zookeeper %s: cannot start a session: host list invalid or not resolvable",
                 z->hosts);
        return -1;
    }
    return 0;
}

static zk_session *zks_open(const char *hosts, const char *destination, long session_timeout_ms, char *err, size_t errlen)
{
    zk_session *z = NULL;
    if (hosts == NULL || hosts[0] == '\0' || destination == NULL || destination[0] == '\0') {
        snprintf(err, errlen, "zookeeper: no hosts or no destination");
        return NULL;
    }
    z = ce_calloc(1, sizeof *z);
    if (z == NULL) {
        snprintf(err, errlen, "zookeeper %s: out of memory", hosts);
        return NULL;
    }
    int n = snprintf(z->path, sizeof z->path, "/otter/canal/destinations/%s/running", destination);
    if (n < 0 || (size_t)n >= sizeof z->path) {
        snprintf(err, errlen, "zookeeper %s: destination name too long (%zu bytes)", hosts, strlen(destination));
        goto fail_free;
    }
    z->hosts = ce_strdup(hosts);
    if (z->hosts == NULL) {
        snprintf(err, errlen, "zookeeper %s: out of memory", hosts);
        goto fail_free;
    }
    z->timeout_ms = session_timeout_ms > 0 && session_timeout_ms < 600000 ? (int)session_timeout_ms : 10000;
    z->known = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&z->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&z->mu, NULL);
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    if (zk_start_session(z, err, errlen) != 0)
        goto fail_sync;
    return z;
fail_sync:
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
fail_free:
    ce_free(z->hosts);
    ce_free(z);
    return NULL;
}

static void zks_close(zk_session *z)
{
    if (z == NULL)
        return;
    if (z->zh != NULL)
        zookeeper_close(z->zh); /* joins the library's threads: no callback after this */
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    ce_free(z->hosts);
    ce_free(z);
}

static int zks_changed(zk_session *z)
{
    pthread_mutex_lock(&z->mu);
    int c = z->changed;
    pthread_mutex_unlock(&z->mu);
    return c;
}

/* A new session after the old one expired (ephemeral watches are gone with it). */
static int zk_restart_session(zk_session *z, char *err, size_t errlen)
{
    if (z->zh != NULL)
        zookeeper_close(z->zh);
    z->zh = NULL;
    pthread_mutex_lock(&z->mu);
    z->expired = 0;
    z->connected = 0;
    z->changed = 1;
    pthread_mutex_unlock(&z->mu);
    zk_warn("zookeeper %s: session expired; starting a new one", z->hosts);
    return zk_start_session(z, err, errlen);
}

/* Waits (only before the first session is up) until connected. Clears `changed`
 * when connected: the read that follows sees every change made before it. */
static int zk_wait_connected(zk_session *z)
{
    long wait_ms = z->ever_connected ? 0 : z->timeout_ms;
    struct timespec dl = ce_deadline_ts(0, wait_ms);
    pthread_mutex_lock(&z->mu);
    while (!z->connected && !z->expired && wait_ms > 0) {
        if (pthread_cond_timedwait(&z->cv, &z->mu, &dl) == ETIMEDOUT)
            break;
    }
    int connected = z->connected;
    if (connected)
        z->changed = 0;
    pthread_mutex_unlock(&z->mu);
    if (connected)
        z->ever_connected = 1;
    return connected;
}

/* One read of the node, re-arming the watch (on the node, or on its creation
 * when it does not exist). 1/0 as zk_running, -1 on a ZooKeeper error. */
static int zk_read(zk_session *z, char *err, size_t errlen)
{
    char buf[ZK_DATA_MAX];
    char perr[200];
    for (int i = 0; i < ZK_READ_TRIES; i++) {
        struct Stat st;
        int len = (int)sizeof buf;
        int zr = zoo_get(z->zh, z->path, 1, buf, &len, &st);
        if (zr == ZOK) {
            if (st.dataLength > (int)sizeof buf) {
                snprintf(err, errlen, "zookeeper %s: %s: node too large (%d bytes)", z->hosts, z->path, st.dataLength);
                return -1;
            }
            int pr = zk_parse_running(buf, len > 0 ? (size_t)len : 0, z->addr, sizeof z->addr, perr, sizeof perr);
            if (pr < 0) {
                snprintf(err, errlen, "zookeeper %.200s: %s: %.200s", z->hosts, z->path, perr);
                return -1;
            }
            return pr;
        }
        if (zr == ZNONODE) {
            zr = zoo_exists(z->zh, z->path, 1, &st);
            if (zr == ZNONODE)
                return 0;
            if (zr == ZOK)
                continue; /* created in between: read it */
        }
        snprintf(err, errlen, "zookeeper %s: reading %s: %s", z->hosts, z->path, zerror(zr));
        pthread_mutex_lock(&z->mu);
        z->changed = 1; /* try again on the next call */
        pthread_mutex_unlock(&z->mu);
        return -1;
    }
    snprintf(err, errlen, "zookeeper %s: %s keeps changing", z->hosts, z->path);
    return -1;
}

static int zks_running(zk_session *z, char *addr, size_t addrlen, char *err, size_t errlen)
{
    int rc = -1;
    char why[1024] = "";
    pthread_mutex_lock(&z->mu);
    int expired = z->expired;
    pthread_mutex_unlock(&z->mu);
    if (expired && zk_restart_session(z, why, sizeof why) != 0)
        goto cached;
    if (!zk_wait_connected(z)) {
        snprintf(why, sizeof why, "zookeeper %s: not connected (watching %s)", z->hosts, z->path);
        goto cached;
    }
    rc = zk_read(z, why, sizeof why);
    if (rc < 0) {
        z->known = -1;
        goto out;
    }
    z->known = rc;
    goto out;
cached:
    rc = z->known; /* the last answer read, or -1 */
out:
    if (rc == 1) {
        if (strlen(z->addr) >= addrlen) {
            snprintf(err, errlen, "zookeeper %s: %s: address too long", z->hosts, z->path);
            return -1;
        }
        memcpy(addr, z->addr, strlen(z->addr) + 1);
    } else if (addrlen > 0) {
        addr[0] = '\0';
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", why);
    return rc;
}

/* ------------------------------------------------------------ the child */

/* `canal-es zk-follow HOSTS DESTINATION TIMEOUT_MS`, stdin/stdout a socket to
 * the caller. Each 'r' byte read asks for one zks_running; the answer is one
 * line: "1 host:port", "0" or "-1 reason". "c" says the node may have
 * changed, "w message" is a WARN for the caller's log. EOF: close and exit. */
int zk_child_main(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[1], ZK_CHILD_COMMAND) != 0) {
        fprintf(stderr, "usage: canal-es %s HOSTS DESTINATION TIMEOUT_MS (internal)\n", ZK_CHILD_COMMAND);
        return 2;
    }
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the caller */
    signal(SIGPIPE, SIG_IGN);
    /* the caller stops us by closing its socket: a signal sent to the whole
     * service (Ctrl-C, systemd's SIGTERM, a SIGHUP for the log) is its business */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    zk_child_fd = 1;
    int64_t timeout = 0;
    if (ce_parse_i64(argv[4], 1, 600000, &timeout) != 0)
        timeout = 10000;
    char err[1024] = "";
    zk_session *z = zks_open(argv[2], argv[3], (long)timeout, err, sizeof err);
    int reported = 0;
    for (;;) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0) {
            char req[64];
            ssize_t n = read(0, req, sizeof req);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n; i++) {
                if (req[i] != 'r')
                    continue;
                char line[1400], addr[ZK_ADDR_MAX] = "";
                int rc;
                err[0] = '\0';
                if (z == NULL)
                    z = zks_open(argv[2], argv[3], (long)timeout, err, sizeof err);
                rc = z != NULL ? zks_running(z, addr, sizeof addr, err, sizeof err) : -1;
                reported = 0;
                if (rc == 1)
                    snprintf(line, sizeof line, "1 %s\n", addr);
                else if (rc == 0)
                    snprintf(line, sizeof line, "0\n");
                else
                    snprintf(line, sizeof line, "-1 %.1300s\n", err[0] ? err : "zookeeper: no answer");
                for (char *q = line; *q && q[1]; q++)
                    if (*q == '\n' || *q == '\r')
                        *q = ' ';
                if (ce_write_all(1, line, strlen(line)) != 0)
                    goto out;
            }
        }
        if (z != NULL && !reported && zks_changed(z)) {
            reported = 1;
            if (ce_write_all(1, "c\n", 2) != 0)
                break;
        }
    }
out:
    zks_close(z);
    return 0;
}

/* ----------------------------------------------------------- the caller */

#define ZK_RESPAWN_MS 5000 /* a child that died is started again after this long */
/* Set in the child's environment: a program that does not run zk_child_main
 * for ZK_CHILD_COMMAND would otherwise start its own main again in the child,
 * which would start another child, and so on. zk_open refuses there. */
#define ZK_READER_ENV "CANAL_ES_ZK_READER"
#define ZK_LINE_MAX 2048

struct zk_follow {
    char *hosts;
    char destination[256];
    char path[ZK_PATH_MAX];
    long timeout_ms;
    pid_t pid;           /* the child, -1 none */
    int fd;              /* socket to it, -1 none */
    int changed;
    uint64_t next_spawn_ms;
    char in[ZK_LINE_MAX];
    size_t in_len;
};

static int zk_spawn(zk_follow *z, char *err, size_t errlen)
{
    int sv[2] = {-1, -1};
    int rc = -1;
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    char **envp = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "zookeeper %s: cannot start the reader process: socketpair: %s", z->hosts,
                 strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto spawn_failed;
    fa_init = true;
    /* dup2 clears FD_CLOEXEC on the copies; the originals close on exec */
    if (posix_spawn_file_actions_adddup2(&fa, sv[1], 0) != 0 || posix_spawn_file_actions_adddup2(&fa, sv[1], 1) != 0)
        goto spawn_failed;
    char tbuf[24];
    snprintf(tbuf, sizeof tbuf, "%ld", z->timeout_ms);
    char *argv[] = {"canal-es", ZK_CHILD_COMMAND, z->hosts, z->destination, tbuf, NULL};
    extern char **environ;
    size_t n_env = 0;
    while (environ[n_env] != NULL)
        n_env++;
    envp = ce_calloc(n_env + 2, sizeof *envp);
    if (envp == NULL) {
        errno = ENOMEM;
        goto spawn_failed;
    }
    memcpy(envp, environ, n_env * sizeof *envp);
    envp[n_env] = ZK_READER_ENV "=1";
    pid_t pid;
    int e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
    if (e != 0) {
        errno = e;
        goto spawn_failed;
    }
    z->pid = pid;
    z->fd = sv[0];
    sv[0] = -1;
    z->in_len = 0;
    rc = 0;
    goto out;
spawn_failed:
    snprintf(err, errlen, "zookeeper %s: cannot start the reader process: %s", z->hosts, strerror(errno));
out:
    ce_free(envp);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

/* Ends the child (closing its socket first, so it can close its session) and
 * describes how it ended in why. */
static void zk_reap(zk_follow *z, int wait_ms, char *why, size_t whylen)
{
    if (z->fd >= 0)
        close(z->fd);
    z->fd = -1;
    if (z->pid <= 0)
        return;
    int st = 0;
    pid_t r = 0;
    for (int waited = 0; (r = waitpid(z->pid, &st, WNOHANG)) == 0 && waited < wait_ms; waited += 20)
        usleep(20000);
    if (r == 0) {
        kill(z->pid, SIGKILL);
        r = waitpid(z->pid, &st, 0);
    }
    if (why != NULL && r == z->pid) {
        if (WIFSIGNALED(st))
            snprintf(why, whylen, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        else
            snprintf(why, whylen, "exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    z->pid = -1;
    z->next_spawn_ms = ce_mono_ms() + ZK_RESPAWN_MS;
}

/* Handles one line from the child. 1 when it was an answer (rc, addr, err set). */
static int zk_line(zk_follow *z, char *line, int *rc, char *addr, size_t addrlen, char *err, size_t errlen)
{
    if (line[0] == 'c' && line[1] == '\0') {
        z->changed = 1;
        return 0;
    }
    if (line[0] == 'w' && line[1] == ' ') {
        ce_log(CE_LOG_WARN, "zk", "%s", line + 2);
        return 0;
    }
    if (line[0] == '1' && line[1] == ' ') {
        size_t n = strlen(line + 2);
        if (n == 0 || n >= addrlen) {
            *rc = -1;
            snprintf(err, errlen, "zookeeper %s: %s: address too long", z->hosts, z->path);
        } else {
            memcpy(addr, line + 2, n + 1);
            *rc = 1;
        }
        return 1;
    }
    if (line[0] == '0' && line[1] == '\0') {
        *rc = 0;
        return 1;
    }
    if (line[0] == '-' && line[1] == '1') {
        *rc = -1;
        snprintf(err, errlen, "%s", line[2] ? line + 3 : "zookeeper: no answer");
        return 1;
    }
    return 0; /* unknown: ignored */
}

/* Reads what the child sent, for up to wait_ms (0: only what is there).
 * 1 when an answer arrived, 0 when none (yet), -1 when the child is gone
 * (EOF or error: the caller reaps it). */
static int zk_pump(zk_follow *z, int wait_ms, int *rc, char *addr, size_t addrlen, char *err, size_t errlen)
{
    uint64_t deadline = ce_mono_ms() + (uint64_t)wait_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr(z->in, '\n', z->in_len)) != NULL) {
            *nl = '\0';
            size_t used = (size_t)(nl - z->in) + 1;
            int got = zk_line(z, z->in, rc, addr, addrlen, err, errlen);
            memmove(z->in, z->in + used, z->in_len - used);
            z->in_len -= used;
            if (got)
                return 1;
        }
        if (z->in_len == sizeof z->in)
            z->in_len = 0; /* a line longer than any the child writes: drop it */
        uint64_t now = ce_mono_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        struct pollfd pfd = {.fd = z->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -1;
        if (pr == 0)
            return 0;
        ssize_t n = recv(z->fd, z->in + z->in_len, sizeof z->in - z->in_len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        z->in_len += (size_t)n;
    }
}

zk_follow *zk_open(const char *hosts, const char *destination, long session_timeout_ms, char *err, size_t errlen)
{
    if (hosts == NULL || hosts[0] == '\0' || destination == NULL || destination[0] == '\0') {
        snprintf(err, errlen, "zookeeper: no hosts or no destination");
        return NULL;
    }
    if (getenv(ZK_READER_ENV) != NULL) {
        snprintf(err, errlen, "zookeeper %s: called in a reader process (the program must run zk_child_main for '%s')",
                 hosts, ZK_CHILD_COMMAND);
        return NULL;
    }
    zk_follow *z = ce_calloc(1, sizeof *z);
    if (z == NULL) {
        snprintf(err, errlen, "zookeeper %s: out of memory", hosts);
        return NULL;
    }
    z->pid = -1;
    z->fd = -1;
    int n = snprintf(z->path, sizeof z->path, "/otter/canal/destinations/%s/running", destination);
    if (n < 0 || (size_t)n >= sizeof z->path || strlen(destination) >= sizeof z->destination) {
        snprintf(err, errlen, "zookeeper %s: destination name too long (%zu bytes)", hosts, strlen(destination));
        goto fail;
    }
    memcpy(z->destination, destination, strlen(destination) + 1);
    z->hosts = ce_strdup(hosts);
    if (z->hosts == NULL) {
        snprintf(err, errlen, "zookeeper %s: out of memory", hosts);
        goto fail;
    }
    z->timeout_ms = session_timeout_ms > 0 && session_timeout_ms < 600000 ? session_timeout_ms : 10000;
    if (zk_spawn(z, err, errlen) != 0)
        goto fail;
    return z;
fail:
    ce_free(z->hosts);
    ce_free(z);
    return NULL;
}

void zk_close(zk_follow *z)
{
    if (z == NULL)
        return;
    zk_reap(z, 3000, NULL, 0);
    ce_free(z->hosts);
    ce_free(z);
}

const char *zk_path(const zk_follow *z) { return z->path; }

int zk_changed(zk_follow *z)
{
    if (z->fd >= 0) {
        int rc = 0;
        char addr[ZK_ADDR_MAX], err[64];
        if (zk_pump(z, 0, &rc, addr, sizeof addr, err, sizeof err) < 0) {
            char why[128] = "";
            zk_reap(z, 1000, why, sizeof why);
            ce_log(CE_LOG_WARN, "zk", "zookeeper %s: the reader process %s while watching %s; a new one is started "
                   "on the next read", z->hosts, why, z->path);
        }
    }
    return z->changed;
}

int zk_running(zk_follow *z, char *addr, size_t addrlen, char *err, size_t errlen)
{
    int rc = -1;
    if (addrlen > 0)
        addr[0] = '\0';
    if (z->fd < 0) {
        uint64_t now = ce_mono_ms();
        if (now < z->next_spawn_ms) {
            snprintf(err, errlen, "zookeeper %s: reader process restarts in %llu ms", z->hosts,
                     (unsigned long long)(z->next_spawn_ms - now));
            return -1;
        }
        if (zk_spawn(z, err, errlen) != 0) {
            z->next_spawn_ms = now + ZK_RESPAWN_MS;
            return -1;
        }
    }
    z->changed = 0; /* a change reported before this read is seen by it */
    if (ce_write_all(z->fd, "r", 1) != 0) {
        char why[128] = "";
        zk_reap(z, 1000, why, sizeof why);
        snprintf(err, errlen, "zookeeper %s: the reader process %s (reading %s)", z->hosts, why, z->path);
        return -1;
    }
    /* the child waits up to the session timeout for the first connection, then reads */
    int got = zk_pump(z, (int)z->timeout_ms * 2 + 5000, &rc, addr, addrlen, err, errlen);
    if (got == 1)
        return rc;
    char why[128] = "did not answer";
    if (got == 0)
        kill(z->pid, SIGKILL);
    zk_reap(z, 1000, got < 0 ? why : NULL, sizeof why);
    snprintf(err, errlen,
             "zookeeper %s: the reader process %s reading %s (a malformed ZooKeeper reply crashes libzookeeper; "
             "another reader is started in %d s)",
             z->hosts, why, z->path, ZK_RESPAWN_MS / 1000);
    if (addrlen > 0)
        addr[0] = '\0';
    return -1;
}
