/* check: configuration and connection verdicts. */
#include "opts.h"
#include "check.h"
#include "config.h"
#include "decode/decode.h"
#include "map/charset.h"
#include "mapping.h"
#include "run.h"
#include "sink/node.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "snapshot/tables.h"
#include "source/mysql.h"
#include "source/canal.h"
#include "metrics/metrics.h"
#include "util/log.h"
#include "util/mem.h"

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

#define CHECK_PEEK_TABLES 256
#define CHECK_PEEK_BATCHES 60 /* below the client's 64 un-acked batches */
#define CHECK_SERVER_IDS 8
#define CHECK_FFFD 64 /* (table, column) pairs named for values holding U+FFFD */

/* The document fields of the first waiting change of one table. */
typedef struct check_seen {
    char *db, *table;
    const cfg_table *rule;
    char **field, **column, **mysql_type;
    size_t n;
} check_seen;

typedef struct check_ctx {
    int failed;
    int warned;
    const cfg *c;
    check_seen seen[CHECK_PEEK_TABLES];
    size_t n_seen;
    int peek;   /* --peek: read the waiting batches for the column types */
    int canal_ok;
    size_t n_entries; /* entries read by --peek */
    int64_t sid[CHECK_SERVER_IDS]; /* their distinct serverIds, newest last */
    size_t n_sid;
    char *fffd[CHECK_FFFD]; /* "db.table\tcolumn" of waiting text values holding U+FFFD */
    size_t n_fffd;
} check_ctx;

static void check_seen_free(check_seen *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ce_free(t->field[i]);
        ce_free(t->column[i]);
        ce_free(t->mysql_type[i]);
    }
    ce_free(t->field);
    ce_free(t->column);
    ce_free(t->mysql_type);
    ce_free(t->db);
    ce_free(t->table);
}

/* Notes the text columns of a waiting change that hold U+FFFD (Canal could
 * not decode them: their charset is not the one it decodes with). */
static void check_note_fffd(check_ctx *k, const row_event *ev)
{
    const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
    for (size_t i = 0; i < img->n && k->n_fffd < CHECK_FFFD; i++) {
        const row_col *c = &img->cols[i];
        if (c->is_null || !cs_mysql_type_is_text(c->mysql_type) || !cs_has_fffd(c->value, c->value_len))
            continue;
        char key[700];
        snprintf(key, sizeof key, "%s.%s\t%s", ev->schema, ev->table, c->name);
        bool seen = false;
        for (size_t j = 0; j < k->n_fffd && !seen; j++)
            seen = strcmp(k->fffd[j], key) == 0;
        if (!seen && (k->fffd[k->n_fffd] = ce_strdup(key)) != NULL)
            k->n_fffd++;
    }
}

static int check_on_row(void *ud, const row_event *ev)
{
    check_ctx *k = ud;
    const cfg_table *mapped = cfg_find_table(k->c, ev->schema, ev->table);
    if (mapped != NULL && mapped->enabled)
        check_note_fffd(k, ev);
    if (k->n_seen >= CHECK_PEEK_TABLES)
        return 1;
    for (size_t i = 0; i < k->n_seen; i++)
        if (strcmp(k->seen[i].db, ev->schema) == 0 && strcmp(k->seen[i].table, ev->table) == 0)
            return 0;
    const cfg_table *rule = cfg_find_table(k->c, ev->schema, ev->table);
    if (rule == NULL || !rule->enabled)
        return 0;
    const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
    size_t n = mapping_columns(rule, img, NULL, NULL, 0);
    mapping_col *cols = ce_calloc(n ? n : 1, sizeof *cols);
    check_seen *t = &k->seen[k->n_seen];
    memset(t, 0, sizeof *t);
    if (cols == NULL)
        return -1;
    n = mapping_columns(rule, img, NULL, cols, n);
    t->db = ce_strdup(ev->schema);
    t->table = ce_strdup(ev->table);
    t->rule = rule;
    t->field = ce_calloc(n ? n : 1, sizeof(char *));
    t->column = ce_calloc(n ? n : 1, sizeof(char *));
    t->mysql_type = ce_calloc(n ? n : 1, sizeof(char *));
    int rc = t->db && t->table && t->field && t->column && t->mysql_type ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (cols[i].column == NULL)
            continue;
        t->field[t->n] = ce_strdup(cols[i].field);
        t->column[t->n] = ce_strdup(cols[i].column);
        t->mysql_type[t->n] = ce_strdup(cols[i].mysql_type ? cols[i].mysql_type : "");
        t->n++;
        if (!t->field[t->n - 1] || !t->column[t->n - 1] || !t->mysql_type[t->n - 1])
            rc = -1;
    }
    ce_free(cols);
    k->n_seen++;
    return rc;
}

/* The serverId of the last entry header (0: none yet), kept once, newest
 * last (when full, the oldest is dropped). */
static void check_note_server_id(check_ctx *k, int64_t id)
{
    if (id == 0)
        return;
    for (size_t i = 0; i < k->n_sid; i++)
        if (k->sid[i] == id) {
            memmove(&k->sid[i], &k->sid[i + 1], (k->n_sid - i - 1) * sizeof k->sid[0]);
            k->n_sid--;
            break;
        }
    if (k->n_sid == CHECK_SERVER_IDS) {
        memmove(&k->sid[0], &k->sid[1], (k->n_sid - 1) * sizeof k->sid[0]);
        k->n_sid--;
    }
    k->sid[k->n_sid++] = id;
}

const char *check_server_ids(const char *peer, uint32_t mysql_id, const int64_t *ids, size_t n, char *msg,
                             size_t msglen)
{
    if (n == 0) {
        snprintf(msg, msglen, "mysql %s: server_id %u not compared with Canal's entries: none read", peer, mysql_id);
        return NULL;
    }
    char others[200] = "";
    size_t used = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int w = snprintf(others + used, sizeof others - used, "%s%lld", used ? ", " : "", (long long)ids[i]);
        if (w < 0 || (size_t)w >= sizeof others - used)
            break;
        used += (size_t)w;
    }
    int64_t newest = ids[n - 1];
    if (newest == (int64_t)mysql_id) {
        snprintf(msg, msglen,
                 "mysql %s: server_id %u equals the serverId of Canal's newest waiting entry: the snapshot reads "
                 "the server whose binlog Canal reads%s%s%s",
                 peer, mysql_id, used ? " (older entries also came from serverId " : "", others, used ? ")" : "");
        return "ok";
    }
    snprintf(msg, msglen,
             "[mysql] %s has server_id %u but Canal's entries come from serverId %lld%s%s%s: the snapshot would read "
             "another server (point [mysql] at the server Canal's instance dumps the binlog of; a replica that "
             "logs its master's events with log_slave_updates shows the master's serverId, see docs/reindex.md)",
             peer, mysql_id, (long long)newest, used ? " (older entries: serverId " : "", others, used ? ")" : "");
    return "FAIL";
}

/* Reads the batches waiting in Canal (never acked: redelivered after the
 * next connect) for the column types of each mapped table. */
static void check_peek(check_ctx *k, canal_client *cc)
{
    decode_ctx dec;
    decode_init(&dec);
    char err[1024];
    for (int b = 0; b < CHECK_PEEK_BATCHES && k->n_seen < CHECK_PEEK_TABLES; b++) {
        canal_batch *m = NULL;
        if (canal_get(cc, &m, err, sizeof err) != CANAL_OK || m == NULL)
            break; /* nothing (more) waiting within fetch_timeout_ms */
        for (size_t i = 0; i < m->n; i++) {
            int drc = decode_entry(&dec, m->entries[i].p, m->entries[i].len, check_on_row, k, err, sizeof err);
            k->n_entries++;
            check_note_server_id(k, dec.server_id);
            if (drc < 0)
                break;
        }
        canal_batch_free(m);
    }
    decode_free(&dec);
}

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
    opts_canal(c, &co);
    co.fetch_timeout_ms = 1000; /* --peek stops after 1 s without a waiting change */
    co.no_rollback = !k->peek;  /* checking the connection must not disturb a running service's batches */
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
    if (rc == CANAL_OK) {
        check_say(k, "ok", "canal %s: authenticated as '%s', subscribed to destination %s as client %ld",
                  canal_peer(cc), c->canal.username, c->canal.destination, c->canal.client_id);
        k->canal_ok = 1;
        if (k->peek)
            check_peek(k, cc);
    }
    else if (rc == CANAL_ERR_AUTH)
        check_say(k, "FAIL", "canal: %s (check [canal] username and password)", err);
    else if (rc == CANAL_ERR_STANDBY)
        check_say(k, "FAIL", "canal: %s (no server runs destination %s: check the name and the servers)", err,
                  c->canal.destination);
    else if (rc == CANAL_ERR_SERVER)
        check_say(k, "FAIL", "canal: %s (check [canal] destination and filter)", err);
    else
        check_say(k, "FAIL", "canal: %s (check [canal] address%s)", err, c->canal.zookeeper[0] ? " and zookeeper" : "");
    canal_free(cc); /* nothing acked */
}

/* [kafka]: brokers, topic and partitions, the group and its commits (a
 * client that joins nothing and commits nothing). */
static void check_kafka(check_ctx *k, const cfg *c)
{
    kafka_opts ko;
    opts_kafka(c, &ko);
    kafka_probe *p = ce_calloc(1, sizeof *p);
    if (p == NULL) {
        check_say(k, "FAIL", "kafka: out of memory");
        return;
    }
    if (kafka_probe_run(&ko, 10000, p) != 0) {
        check_say(k, "FAIL", "%s (check [kafka] brokers, tls and sasl_mechanism)", p->err);
        goto out;
    }
    check_say(k, "ok", "kafka %s: %d brokers in the cluster", c->kafka.brokers, p->brokers_up);
    k->canal_ok = 1;
    if (p->topic[0] == '^') {
        check_say(k, "warn", "kafka: %s", p->err);
        goto out;
    }
    if (!p->topic_exists) {
        check_say(k, "FAIL",
                  "kafka: %s (create it with as many partitions as Canal's canal.mq.partitionsNum, or check [kafka] "
                  "topic)",
                  p->err);
        goto out;
    }
    long long lag = 0, behind_unknown = 0;
    size_t committed = 0;
    for (size_t i = 0; i < p->n_parts; i++) {
        const kafka_probe_part *pp = &p->parts[i];
        if (pp->committed >= 0)
            committed++;
        int64_t from = pp->committed >= 0 ? pp->committed : pp->low;
        if (pp->high >= 0 && from >= 0 && pp->high > from)
            lag += pp->high - from;
        else if (pp->high < 0)
            behind_unknown++;
    }
    check_say(k, p->n_parts > 1 ? "ok" : "warn",
              "kafka topic %s: %zu partitions%s", p->topic, p->n_parts,
              p->n_parts > 1 ? "" : " (one partition: one instance of the group does all the work; Canal's "
                                   "canal.mq.partitionsNum and partitionHash spread it)");
    char members[32] = "members unknown";
    if (p->group_members >= 0)
        snprintf(members, sizeof members, "%d members", p->group_members);
    check_say(k, "ok",
              "kafka group %s: state %s, %s; offsets committed for %zu of %zu partitions (the others start at their "
              "earliest record), %lld records behind%s",
              c->kafka.group_id, p->group_state[0] ? p->group_state : "unknown", members, committed, p->n_parts, lag,
              behind_unknown ? " (some watermarks unknown)" : "");
out:
    ce_free(p);
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

/* The existing index's fields against what canal-es sends for the columns
 * of the waiting changes of the rule's tables: a warning per field that
 * cannot hold it. Returns how many tables were compared. */
static size_t check_fields(check_ctx *k, const cfg_table *t, const char *name, const char *target, sink *s)
{
    char path[3 * CFG_INDEX_MAX + 16], err[1024], idx[CFG_INDEX_MAX + 1], problem[600];
    if (sink_index_path(target, "/_mapping", path, sizeof path) != 0)
        return 0;
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0, compared = 0;
    if (sink_request(s, "GET", path, NULL, 0, &status, &resp, &rlen, err, sizeof err) != SINK_OK || status != 200)
        return 0;
    char perr[128];
    yajl_val v = yajl_tree_parse(resp, perr, sizeof perr);
    static const char *props_path[] = {"mappings", "properties", NULL};
    yajl_val props = v && YAJL_IS_OBJECT(v) && v->u.object.len > 0
                         ? yajl_tree_get(v->u.object.values[0], props_path, yajl_t_object)
                         : NULL;
    for (size_t i = 0; i < k->n_seen; i++) {
        const check_seen *w = &k->seen[i];
        if (w->rule != t || cfg_index_for(t, w->db, w->table, idx, sizeof idx) != 0 || strcmp(idx, target) != 0)
            continue;
        compared++;
        for (size_t j = 0; props != NULL && j < w->n; j++) {
            const char *fp[] = {w->field[j], NULL};
            yajl_val f = yajl_tree_get(props, fp, yajl_t_object);
            if (f == NULL)
                continue; /* not mapped yet: the node maps it on the first document */
            static const char *type_path[] = {"type", NULL};
            static const char *format_path[] = {"format", NULL};
            static const char *factor_path[] = {"scaling_factor", NULL};
            yajl_val ty = yajl_tree_get(f, type_path, yajl_t_string);
            yajl_val fo = yajl_tree_get(f, format_path, yajl_t_string);
            yajl_val fa = yajl_tree_get(f, factor_path, yajl_t_number);
            if (mapping_field_problem(t, w->column[j], w->mysql_type[j], ty ? YAJL_GET_STRING(ty) : "object",
                                      fo ? YAJL_GET_STRING(fo) : NULL, fa ? YAJL_GET_DOUBLE(fa) : 0, problem,
                                      sizeof problem) != NULL)
                check_say(k, "warn", "table %s (line %d): index %s field %s (column %s.%s.%s %s): %s", name, t->line,
                          target, w->field[j], w->db, w->table, w->column[j], w->mysql_type[j], problem);
        }
    }
    if (v)
        yajl_tree_free(v);
    return compared;
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
                      t->line, target,
                      t->mapping                                ? " (created from the mapping file)"
                      : t->mapping_mode == CFG_MAPPING_AUTO ? " (created from the column types)"
                                                                : "");
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
        else if (status == 200 && check_fields(k, t, name, target, s) > 0)
            check_say(k, "ok", "table %s (line %d): %s %s exists (its fields compared with the waiting changes)",
                      name, t->line, what, target);
        else if (status == 200)
            check_say(k, "ok", "table %s (line %d): %s %s exists (fields not compared: %s)", name, t->line, what,
                      target,
                      k->peek ? "no change of its tables waiting in Canal"
                              : "--peek, with the service stopped, compares them with the changes waiting in Canal");
        else if (status != 404)
            check_say(k, "FAIL", "table %s (line %d): %s %s: HEAD answered HTTP %ld", name, t->line, what, target,
                      status);
        else if (t->mapping)
            check_say(k, "ok", "table %s (line %d): %s %s does not exist yet: created from %s before the first write",
                      name, t->line, what, target, t->mapping);
        else if (t->mapping_mode == CFG_MAPPING_AUTO && (t->alias == NULL || strchr(t->index, '{') == NULL))
            check_say(k, "ok",
                      "table %s (line %d): %s %s does not exist yet: created from the column types before the first "
                      "write (mapping = auto; `canal-es mapping` prints it)",
                      name, t->line, what, target);
        else if (t->alias)
            check_say(k, "FAIL",
                      "table %s (line %d): alias %s does not exist: writes would create an index of that name "
                      "(create the alias, or set mapping = auto or FILE with a plain index to have canal-es create "
                      "index %s with it)",
                      name, t->line, target, t->index);
        else if (auto_create)
            check_say(k, "warn",
                      "table %s (line %d): index %s does not exist: the node will create it on the first write with "
                      "dynamic mapping (mapping = dynamic; set mapping = auto or FILE to choose the types)",
                      name, t->line, target);
        else
            check_say(k, "FAIL",
                      "table %s (line %d): index %s does not exist and the node does not create indexes "
                      "(action.auto_create_index): create it, or set mapping = auto or FILE",
                      name, t->line, target);
    }
}

/* A regex rule: the tables it loads (the base tables it matches first). */
static void check_regex_tables(check_ctx *k, my_conn *my, const cfg *c, const cfg_table *t)
{
    char name[300], err[1024], list[400];
    snap_names l;
    cfg_rule_name(t, name, sizeof name);
    if (snap_rule_tables(my, c, t, &l, err, sizeof err) != 0) {
        check_say(k, "FAIL", "%s", err);
        return;
    }
    size_t used = 0, i = 0;
    list[0] = '\0';
    for (; i < l.n; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s.%s", i ? ", " : "", l.v[i].db, l.v[i].table);
        if (w < 0 || (size_t)w >= sizeof list - used) {
            list[used] = '\0';
            break;
        }
        used += (size_t)w;
    }
    if (l.n == 0)
        check_say(k, "warn",
                  "table %s (line %d): snapshot: matches no base table on mysql %s that an earlier rule does not "
                  "claim: nothing to load",
                  name, t->line, my_peer(my));
    else
        check_say(k, "ok", "table %s (line %d): snapshot loads %zu table(s): %s%s", name, t->line, l.n, list,
                  i < l.n ? ", ..." : "");
    snap_names_free(&l);
}

/* The text columns of a table that Canal (decoding with [canal]
 * connection_charset, UTF-8 by default) garbles: named with their charset; canal-es reads them
 * back from [mysql] (snapshot/refetch.h). A key among them is a warning. */
static void check_table_charsets(check_ctx *k, const cfg_table *t, const snap_table *st)
{
    char list[700] = "", keys[400] = "";
    size_t n = 0, nk = 0;
    for (size_t i = 0; i < st->n; i++) {
        const snap_col *col = &st->cols[i];
        if (!cs_is_text_type(col->data_type) || cs_canal_exact(k->c->canal.connection_charset, col->charset))
            continue;
        bool key = false;
        for (size_t j = 0; j < st->n_key; j++)
            key = key || st->key[j] == i;
        char *dst = key ? keys : list;
        size_t cap = key ? sizeof keys : sizeof list, *used = key ? &nk : &n;
        int w = snprintf(dst + *used, cap - *used, "%s%s (%s)", *used ? ", " : "", col->name, col->charset);
        if (w > 0 && (size_t)w < cap - *used)
            *used += (size_t)w;
    }
    if (n > 0)
        check_say(k, "ok",
                  "table %s.%s (line %d): column(s) %s: Canal decodes text as UTF-8 (canal.instance.connectionCharset) "
                  "and garbles these charsets; canal-es reads their text back from [mysql] by key %s for every row "
                  "where it is not ASCII (one SELECT per such row, docs/type-mapping.md)",
                  t->db, t->table, t->line, list, st->key_name);
    if (nk > 0)
        check_say(k, "warn",
                  "table %s.%s (line %d): key column(s) %s: Canal garbles this charset, so a row whose key is not "
                  "ASCII cannot be found in MySQL and is dead-lettered (use a key in utf8mb4 or ascii, or set "
                  "canal.instance.connectionCharset when every text column of the instance shares one charset)",
                  t->db, t->table, t->line, keys);
}

/* Without [mysql]: the waiting changes (--peek) whose text holds U+FFFD. */
static void check_fffd(check_ctx *k, const cfg *c)
{
    bool mysql = c->mysql.host[0] != '\0' || c->mysql.socket[0] != '\0';
    for (size_t i = 0; i < k->n_fffd; i++) {
        char *tab = strchr(k->fffd[i], '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        if (mysql)
            check_say(k, "warn",
                      "table %s column %s: a waiting change holds U+FFFD although its charset is one Canal decodes "
                      "(the text holds U+FFFD in MySQL too, or Canal's connectionCharset is not UTF-8)",
                      k->fffd[i], tab + 1);
        else
            check_say(k, "warn",
                      "table %s column %s: a waiting change holds U+FFFD: Canal decodes text as UTF-8 and this "
                      "column's charset is another one (SHOW FULL COLUMNS FROM %s shows it), so its text is lost "
                      "before canal-es sees it: configure [mysql] so canal-es reads it back exactly, or set "
                      "canal.instance.connectionCharset when every text column of the instance shares one charset",
                      k->fffd[i], tab + 1, k->fffd[i]);
        *tab = '\t';
    }
}

/* [mysql] (when set): connect, server_id (against Canal's entries with
 * --peek), the position method, per exact table rule SELECT on the table
 * and a key the snapshot can page on, per regex rule the tables it loads. */
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
    check_say(k, "ok", "mysql %s: %s, server_id %u, position = %s%s", my_peer(my), my_server_version(my), id, pos,
              k->peek ? ""
                      : " (not compared with the serverId of Canal's entries: that needs --peek, which reads the "
                        "waiting entries without acking them; run it with the service stopped)");
    if (k->peek) {
        char msg[1000];
        const char *verdict = check_server_ids(my_peer(my), id, k->sid, k->n_sid, msg, sizeof msg);
        if (verdict != NULL)
            check_say(k, verdict, "%s", msg);
        else
            check_say(k, "warn",
                      "mysql %s: server_id %u not compared with the serverId of Canal's entries: %s (the snapshot is "
                      "only right on the server whose binlog Canal reads; compare again after a write, or compare "
                      "SELECT @@server_id with the serverId in Canal's instance log)",
                      my_peer(my), id,
                      !k->canal_ok        ? "Canal could not be read (see its verdict)"
                      : k->n_entries == 0 ? "no entry was waiting in Canal"
                                          : "the entries read carry no serverId");
    }
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        if (!t->enabled)
            continue;
        if (t->pattern != NULL) {
            check_regex_tables(k, my, c, t);
            continue;
        }
        const cfg_table *first = cfg_find_table(c, t->db, t->table);
        if (first != t) {
            char name[300];
            check_say(k, "warn",
                      "table %s.%s (line %d): matched first by rule %s (line %d): the stream and the snapshot use "
                      "that rule for its rows, this one is never used (remove it, or move it above line %d)",
                      t->db, t->table, t->line, first ? cfg_rule_name(first, name, sizeof name) : "?",
                      first ? first->line : 0, first ? first->line : 0);
            continue;
        }
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
        check_table_charsets(k, t, &st);
        ce_buf_free(&q);
        snap_table_free(&st);
    }
out:
    my_close(my);
}

int check_run(const cfg *c, const char *path, bool peek)
{
    static check_ctx k; /* large: the peeked tables */
    memset(&k, 0, sizeof k);
    k.peek = peek;
    char err[1024];
    ce_log_set_level(CE_LOG_ERROR); /* the verdicts say it all */
    k.c = c;
    check_say(&k, "ok", "config %s: %zu table rule(s), destination %s", path, c->n_tables, c->canal.destination);
    check_local(c, 0, check_say_local, &k);
    if (c->kafka.on)
        check_kafka(&k, c);
    else
        check_canal(&k, c);
    check_mysql(&k, c);
    check_fffd(&k, c);
    sink_opts so;
    sink_opts_from_cfg(&so, &c->es);
    if (so.timeout_ms > 10000)
        so.timeout_ms = 10000; /* a verdict should not wait a minute */
    sink *s = sink_open(&so, err, sizeof err);
    if (s == NULL)
        check_say(&k, "FAIL", "search %s: %s", shown_url(c), err);
    else if (check_node(&k, c, s))
        check_rules(&k, c, s);
    sink_free(s);
    printf("%s: %d failed, %d warning(s)\n", k.failed ? "FAIL" : "ok", k.failed, k.warned);
    for (size_t i = 0; i < k.n_seen; i++)
        check_seen_free(&k.seen[i]);
    for (size_t i = 0; i < k.n_fffd; i++)
        ce_free(k.fffd[i]);
    return k.failed ? 1 : 0;
}
