/* check: configuration and connection verdicts. */
#include "check.h"
#include "config.h"
#include "run.h"
#include "sink/node.h"
#include "sink/sink.h"
#include "source/canal.h"
#include "metrics/metrics.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

typedef struct check_ctx {
    int failed;
    int warned;
} check_ctx;

static void check_say(check_ctx *k, const char *verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void check_say(check_ctx *k, const char *verdict, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(verdict, "FAIL") == 0)
        k->failed++;
    else if (strcmp(verdict, "warn") == 0)
        k->warned++;
    printf("%-4s  %s\n", verdict, msg);
    fflush(stdout);
}

/* A file run opens (append: for writing, created when missing; else read,
 * and replaced through a temporary file beside it). 0, or -1 with why. */
static int check_path(const char *what, const char *path, bool append, char *why, size_t whylen)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(why, whylen, "%s %.500s: is a directory", what, path);
            return -1;
        }
        if (!append && !S_ISREG(st.st_mode)) {
            snprintf(why, whylen, "%s %.500s: not a regular file", what, path);
            return -1;
        }
        if (append) {
            /* as run opens it, without creating anything; O_NONBLOCK: a FIFO without reader fails */
            int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) {
                snprintf(why, whylen, "%s %.500s: cannot open: %s", what, path, strerror(errno));
                return -1;
            }
            close(fd);
            return 0;
        }
        /* replaced through a temporary file: the directory checks below apply */
    } else if (errno != ENOENT) {
        snprintf(why, whylen, "%s %.500s: %s", what, path, strerror(errno));
        return -1;
    }
    /* created (or replaced by rename): its directory must exist and take new files */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        snprintf(why, whylen, "%s %.500s: directory %.400s: %s", what, path, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s %.500s: %.400s is not a directory", what, path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, whylen, "%s %.500s: cannot create files in %.400s: %s", what, path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int check_local(const cfg *c, int dry_run, check_say_fn say, void *ctx)
{
    int n = 0;
    char why[1200];
    if (c->log.file[0] != '\0' && check_path("[log] file", c->log.file, true, why, sizeof why) != 0) {
        say(ctx, why);
        n++;
    }
    if (dry_run)
        return n;
    if (c->checkpoint.file[0] != '\0' && check_path("[checkpoint] file", c->checkpoint.file, false, why, sizeof why) != 0) {
        say(ctx, why);
        n++;
    }
    if (!c->es.halt_on_error &&
        check_path("[elasticsearch] dead_letter", c->es.dead_letter, true, why, sizeof why) != 0) {
        say(ctx, why);
        n++;
    }
    if (c->http.listen[0] != '\0') {
        struct sockaddr_storage ss;
        int port = 0;
        if (metrics_listen_addr(c->http.listen, &ss, &port, why, sizeof why) != 0) {
            say(ctx, why);
            n++;
        }
    }
    return n;
}

static void check_say_local(void *ctx, const char *message) { check_say(ctx, "FAIL", "%s", message); }

static void check_canal(check_ctx *k, const cfg *c)
{
    char err[1024];
    canal_opts co;
    run_canal_opts(c, &co);
    canal_client *cc = canal_new(&co);
    if (cc == NULL) {
        check_say(k, "FAIL", "canal: out of memory");
        return;
    }
    /* each address once: a standby or a dead server moves on to the next */
    size_t n_addr = 1;
    for (const char *q = c->canal.address; *q; q++)
        n_addr += *q == ',';
    canal_rc rc = CANAL_ERR_IO;
    for (size_t i = 0; i < n_addr + (c->canal.zookeeper[0] ? 1 : 0); i++) {
        rc = canal_connect(cc, err, sizeof err);
        if (rc == CANAL_OK || rc == CANAL_ERR_AUTH || rc == CANAL_ERR_SERVER)
            break;
    }
    if (rc == CANAL_OK)
        check_say(k, "ok", "canal %s: authenticated as '%s', subscribed to destination %s as client %ld",
                  canal_peer(cc), c->canal.username, c->canal.destination, c->canal.client_id);
    else if (rc == CANAL_ERR_AUTH)
        check_say(k, "FAIL", "canal: %s (check [canal] username and password)", err);
    else if (rc == CANAL_ERR_STANDBY)
        check_say(k, "FAIL", "canal: %s (no server runs destination %s: check the name and the servers)", err,
                  c->canal.destination);
    else if (rc == CANAL_ERR_SERVER)
        check_say(k, "FAIL", "canal: %s (check [canal] destination and filter)", err);
    else
        check_say(k, "FAIL", "canal: %s (check [canal] address%s)", err, c->canal.zookeeper[0] ? " and zookeeper" : "");
    canal_free(cc); /* nothing fetched, nothing acked */
}

/* GET / → distribution and version; false when the node cannot be used. */
/* The URL list without user:password@ (single-threaded command: one buffer). */
static const char *shown_url(const cfg *c)
{
    static char shown[1024];
    node_shown_list(c->es.url, shown, sizeof shown);
    return shown;
}

static bool check_node(check_ctx *k, const cfg *c, sink *s)
{
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    char err[1024];
    sink_rc rc = sink_request(s, "GET", "/", NULL, 0, &status, &resp, &rlen, err, sizeof err);
    if (rc == SINK_FATAL) {
        check_say(k, "FAIL", "search %s: %s (check [elasticsearch] credentials)", shown_url(c), err);
        return false;
    }
    if (rc != SINK_OK) {
        check_say(k, "FAIL", "search %s: %s (check [elasticsearch] url, and that the node runs)", shown_url(c), err);
        return false;
    }
    char perr[128];
    yajl_val v = status == 200 ? yajl_tree_parse(resp, perr, sizeof perr) : NULL;
    static const char *num_path[] = {"version", "number", NULL};
    static const char *dist_path[] = {"version", "distribution", NULL};
    yajl_val num = v ? yajl_tree_get(v, num_path, yajl_t_string) : NULL;
    yajl_val dist = v ? yajl_tree_get(v, dist_path, yajl_t_string) : NULL;
    bool ok = num != NULL;
    if (!ok) {
        check_say(k, "FAIL", "search %s: GET / answered HTTP %ld, not an Elasticsearch/OpenSearch node: %.200s",
                  shown_url(c), status, resp);
    } else {
        const char *d = dist ? YAJL_GET_STRING(dist) : "elasticsearch";
        const char *ver = YAJL_GET_STRING(num);
        bool old_es = strcmp(d, "opensearch") != 0 && ver[0] >= '0' && ver[0] <= '6' && ver[1] == '.';
        if (old_es) {
            check_say(k, "FAIL", "search %s: %s %s: canal-es needs Elasticsearch 7 or later, or OpenSearch",
                      shown_url(c), d, ver);
            ok = false;
        } else {
            check_say(k, "ok", "search %s: %s %s", shown_url(c), d, ver);
        }
    }
    if (v)
        yajl_tree_free(v);
    return ok;
}

/* action.auto_create_index allows new indexes? (true unless set to false) */
static bool check_auto_create(sink *s)
{
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    char err[256];
    if (sink_request(s, "GET", "/_cluster/settings?include_defaults=true&flat_settings=true", NULL, 0, &status,
                     &resp, &rlen, err, sizeof err) != SINK_OK ||
        status != 200)
        return true;
    return strstr(resp, "\"action.auto_create_index\":\"false\"") == NULL;
}

static void check_rules(check_ctx *k, const cfg *c, sink *s)
{
    bool auto_create = check_auto_create(s);
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        char name[300];
        cfg_rule_name(t, name, sizeof name);
        if (!t->enabled) {
            check_say(k, "ok", "table %s (line %d): enabled = false, its rows are skipped", name, t->line);
            continue;
        }
        const char *target = t->alias ? t->alias : t->index;
        if (strchr(target, '{') != NULL) {
            check_say(k, "ok", "table %s (line %d): index template %s, checked when the first row arrives%s", name,
                      t->line, target, t->mapping ? " (created from the mapping file)" : "");
            continue;
        }
        char path[400], err[1024];
        snprintf(path, sizeof path, "/%s", target);
        long status = 0;
        const char *resp = NULL;
        size_t rlen = 0;
        sink_rc rc = sink_request(s, "HEAD", path, NULL, 0, &status, &resp, &rlen, err, sizeof err);
        const char *what = t->alias ? "alias" : "index";
        if (rc != SINK_OK)
            check_say(k, "FAIL", "table %s (line %d): %s %s: %s", name, t->line, what, target, err);
        else if (status == 200)
            check_say(k, "ok", "table %s (line %d): %s %s exists", name, t->line, what, target);
        else if (status != 404)
            check_say(k, "FAIL", "table %s (line %d): %s %s: HEAD answered HTTP %ld", name, t->line, what, target,
                      status);
        else if (t->mapping)
            check_say(k, "ok", "table %s (line %d): %s %s does not exist yet: created from %s before the first write",
                      name, t->line, what, target, t->mapping);
        else if (t->alias)
            check_say(k, "FAIL",
                      "table %s (line %d): alias %s does not exist: writes would create an index of that name "
                      "(create the alias, or set mapping = FILE to have canal-es create index %s with it)",
                      name, t->line, target, t->index);
        else if (auto_create)
            check_say(k, "warn",
                      "table %s (line %d): index %s does not exist: the node will create it on the first write with "
                      "dynamic mapping (set mapping = FILE, see `canal-es mapping`, to choose the types)",
                      name, t->line, target);
        else
            check_say(k, "FAIL",
                      "table %s (line %d): index %s does not exist and the node does not create indexes "
                      "(action.auto_create_index): create it, or set mapping = FILE",
                      name, t->line, target);
    }
}

static const char check_help[] =
    "usage: canal-es check-config -c FILE\n"
    "\n"
    "Loads FILE (every error as FILE:LINE), makes the checks `run` makes before starting ([log] file,\n"
    "[checkpoint] file and dead_letter can be opened, [http] listen resolves), then connects to the\n"
    "Canal server (authentication, destination, subscribe; nothing is fetched or acked), to the search\n"
    "node (credentials, version)\n"
    "and checks each [table] rule's index or alias. Prints one verdict per item: ok, warn or FAIL.\n"
    "\n"
    "exit status: 0 nothing failed, 1 something failed, 2 usage or configuration error\n";

int check_main(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(check_help, stdout);
            return 0;
        } else {
            fprintf(stderr, "canal-es check-config: unexpected argument '%s'\n%s", argv[i], check_help);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "canal-es check-config: -c FILE is required\n%s", check_help);
        return 2;
    }
    cfg c;
    char err[1024];
    check_ctx k = {0};
    if (cfg_load(path, &c, err, sizeof err) != 0) {
        printf("FAIL  config %s\n", err);
        return 2;
    }
    ce_log_set_level(CE_LOG_ERROR); /* the verdicts say it all */
    check_say(&k, "ok", "config %s: %zu table rule(s), destination %s", path, c.n_tables, c.canal.destination);
    check_local(&c, 0, check_say_local, &k);
    check_canal(&k, &c);
    sink_opts so;
    sink_opts_from_cfg(&so, &c.es);
    if (so.timeout_ms > 10000)
        so.timeout_ms = 10000; /* a verdict should not wait a minute */
    sink *s = sink_open(&so, err, sizeof err);
    if (s == NULL)
        check_say(&k, "FAIL", "search %s: %s", shown_url(&c), err);
    else if (check_node(&k, &c, s))
        check_rules(&k, &c, s);
    sink_free(s);
    printf("%s: %d failed, %d warning(s)\n", k.failed ? "FAIL" : "ok", k.failed, k.warned);
    cfg_free(&c);
    return k.failed ? 1 : 0;
}
