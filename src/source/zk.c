/* source/zk: the running Canal server of a destination, read from ZooKeeper.
 * State shared with the library's event thread (connected, expired, changed)
 * is guarded by `mu`; everything else belongs to the thread calling
 * zk_running / zk_changed / zk_close. */
#include "source/zk.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_tree.h>
#include <zookeeper/zookeeper.h>

#define ZK_PATH_MAX 512
#define ZK_READ_TRIES 3

struct zk_follow {
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
    zk_follow *z = ctx;
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

static uint64_t zk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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
    uint64_t now = zk_now_ms();
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
        ce_log(CE_LOG_WARN, "zk", "%s (%lu more library messages in the last %d s not shown)", line, dropped,
               ZK_LOG_EVERY_MS / 1000);
    else
        ce_log(CE_LOG_WARN, "zk", "%s", line);
}

static int zk_start_session(zk_follow *z, char *err, size_t errlen)
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

zk_follow *zk_open(const char *hosts, const char *destination, long session_timeout_ms, char *err, size_t errlen)
{
    zk_follow *z = NULL;
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

void zk_close(zk_follow *z)
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

const char *zk_path(const zk_follow *z) { return z->path; }

int zk_changed(zk_follow *z)
{
    pthread_mutex_lock(&z->mu);
    int c = z->changed;
    pthread_mutex_unlock(&z->mu);
    return c;
}

/* A new session after the old one expired (ephemeral watches are gone with it). */
static int zk_restart_session(zk_follow *z, char *err, size_t errlen)
{
    if (z->zh != NULL)
        zookeeper_close(z->zh);
    z->zh = NULL;
    pthread_mutex_lock(&z->mu);
    z->expired = 0;
    z->connected = 0;
    z->changed = 1;
    pthread_mutex_unlock(&z->mu);
    ce_log(CE_LOG_WARN, "zk", "zookeeper %s: session expired; starting a new one", z->hosts);
    return zk_start_session(z, err, errlen);
}

/* Waits (only before the first session is up) until connected. Clears `changed`
 * when connected: the read that follows sees every change made before it. */
static int zk_wait_connected(zk_follow *z)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    long wait_ms = z->ever_connected ? 0 : z->timeout_ms;
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
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
static int zk_read(zk_follow *z, char *err, size_t errlen)
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

int zk_running(zk_follow *z, char *addr, size_t addrlen, char *err, size_t errlen)
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
