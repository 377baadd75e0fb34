/* check: configuration and connection verdicts. */
#include "check.h"
#include "config.h"
#include "run.h"
#include "sink/node.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "source/mysql.h"
#include "source/canal.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
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
    ce_log_print(stdout, "%-4s  %s", verdict, msg); /* names and node answers escaped */
    fflush(stdout);
}

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
        char path[3 * CFG_INDEX_MAX + 64], err[1024];
        if (sink_index_path(target, "", path, sizeof path) != 0) {
            check_say(k, "FAIL", "table %s (line %d): index %s does not fit in a URL path", name, t->line, target);
            continue;
        }
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

/* [mysql] (when set): connect, server_id, the position method, and per exact
 * table rule SELECT on the table and a key the snapshot can page on. */
static void check_mysql(check_ctx *k, const cfg *c)
{
    if (c->mysql.host[0] == '\0' && c->mysql.socket[0] == '\0')
        return;
    char err[1024];
    my_rc rc;
    my_conn *my = my_connect(&c->mysql, &rc, err, sizeof err);
    if (my == NULL) {
        check_say(k, "FAIL", "%s", err);
        return;
    }
    uint32_t id = 0;
    if (my_server_id(my, &id, err, sizeof err) != MY_OK) {
        check_say(k, "FAIL", "%s", err);
        goto out;
    }
    snap_pos m = snap_method(my, c->reindex.position);
    char pos[32] = "", file[256];
    int found = 0;
    my_rc qrc = MY_OK;
    if (m == SNAP_POS_LOCK_TABLES &&
        ((qrc = my_value(my, "SHOW MASTER STATUS", file, sizeof file, &found, err, sizeof err)) != MY_OK || !found)) {
        check_say(k, "FAIL", "%s (position = lock_tables reads SHOW MASTER STATUS: grant REPLICATION CLIENT, "
                  "or BINLOG MONITOR on MariaDB 10.5+, and turn log_bin on)",
                  qrc != MY_OK ? err : "mysql: SHOW MASTER STATUS returned nothing: is log_bin on?");
        goto out;
    }
    snprintf(pos, sizeof pos, "%s", m == SNAP_POS_BINLOG_SNAPSHOT ? "binlog_snapshot" : "lock_tables");
    check_say(k, "ok",
              "mysql %s: %s, server_id %u, position = %s (the snapshot is only right when this is the server whose "
              "binlog Canal reads: its server_id must equal the serverId of Canal's entries; check-config fetches "
              "no entry to compare)",
              my_peer(my), my_server_version(my), id, pos);
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        if (t->pattern != NULL || !t->enabled)
            continue;
        snap_table st;
        if (snap_describe(my, t->db, t->table, &st, &rc, err, sizeof err) != 0) {
            check_say(k, rc == MY_ERR_QUERY && strstr(err, "no primary key") ? "warn" : "FAIL",
                      "table %s.%s (line %d): snapshot: %s", t->db, t->table, t->line, err);
            continue;
        }
        ce_buf q;
        ce_buf_init(&q, 4096);
        int brc = ce_buf_append_str(&q, "SELECT 1 FROM ") | snap_quote_ident(&q, t->db) | ce_buf_putc(&q, '.') |
                  snap_quote_ident(&q, t->table) | ce_buf_append_str(&q, " LIMIT 0") | ce_buf_terminate(&q);
        if (brc != 0 || my_exec(my, (const char *)q.data, err, sizeof err) != MY_OK)
            check_say(k, "FAIL", "table %s.%s (line %d): snapshot: %s", t->db, t->table, t->line,
                      brc ? "name too long" : err);
        else
            check_say(k, "ok", "table %s.%s (line %d): snapshot can read it, paging on key %s", t->db, t->table,
                      t->line, st.key_name);
        ce_buf_free(&q);
        snap_table_free(&st);
    }
out:
    my_close(my);
}

static const char check_help[] =
    "usage: canal-es check-config -c FILE\n"
    "\n"
    "Loads FILE (every error as FILE:LINE), then connects to the Canal server (authentication,\n"
    "destination, subscribe; nothing is fetched or acked), to the [mysql] server when set (credentials,\n"
    "server_id, SELECT and a usable key per table), to the search node (credentials, version)\n"
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
        ce_log_print(stdout, "FAIL  config %s", err);
        return 2;
    }
    ce_log_set_level(CE_LOG_ERROR); /* the verdicts say it all */
    check_say(&k, "ok", "config %s: %zu table rule(s), destination %s", path, c.n_tables, c.canal.destination);
    check_canal(&k, &c);
    check_mysql(&k, &c);
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
