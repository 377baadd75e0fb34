/* cmd/cmd_snapshot: `canal-es snapshot -c FILE --table DB.TABLE [--all-tables]
 * --dry-run` reads one table (or every table of its rule, snapshot/tables.h)
 * from [mysql] chunk by chunk (src/snapshot) and prints the _bulk NDJSON the
 * snapshot would send (map_row + bulk, as `run --dry-run` prints the
 * stream's). Sending, the tee with the stream, the alias swap and resuming
 * belong to the job engine of `run` (docs/reindex.md). Exit 0 done, 1 MySQL
 * or table failure, 2 usage or configuration error. */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "bulk/bulk.h"
#include "config.h"
#include "map/map.h"
#include "snapshot/snapshot.h"
#include "snapshot/tables.h"
#include "source/mysql.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SNAPCMD_MAX_BODY ((size_t)512 << 20)

static const char snapcmd_help[] =
    "usage: canal-es snapshot -c FILE --table DB.TABLE [--all-tables] --dry-run\n"
    "                         [--log-level error|warn|info|debug]\n"
    "\n"
    "Reads DB.TABLE from the [mysql] server in chunks of [reindex] chunk_rows rows, keyset-paginated on\n"
    "its primary key (else a unique key of NOT NULL columns), each chunk in its own consistent-snapshot\n"
    "transaction, and prints on stdout the _bulk NDJSON it would send: the documents the table's rule\n"
    "makes of each row, equal to the stream's, with the version of the chunk's binlog position minus\n"
    "one. The table's rule is the first [table] rule that matches it, exact or regex, as for the stream.\n"
    "When that is a regex rule, the tables it covers on the server are logged: every base table it\n"
    "matches first (outside mysql, information_schema, performance_schema, sys); DB.TABLE must be one.\n"
    "--all-tables reads every table of DB.TABLE's rule, sorted by database then table.\n"
    "--dry-run is required: to load the rows, use `canal-es reindex` (or `run` with [mysql]; docs/reindex.md).\n"
    "A summary per table (rows, chunks, binlog positions, position method) goes to the log (stderr).\n"
    "\n"
    "exit status: 0 done, 1 MySQL or table failure (also: the rule covers no table), 2 usage or\n"
    "configuration error (no rule matches DB.TABLE, [mysql] not set)\n";

typedef struct snapcmd {
    const cfg *c;
    const cfg_table *rule;
    map_out mo;
    bulk b;
    char err[1024];
    bool failed;
} snapcmd;

static int snapcmd_flush(snapcmd *s)
{
    if (s->b.body.len > 0 && (fwrite(s->b.body.data, 1, s->b.body.len, stdout) != s->b.body.len || fflush(stdout))) {
        snprintf(s->err, sizeof s->err, "cannot write to stdout");
        return -1;
    }
    bulk_reset(&s->b);
    return 0;
}

static int snapcmd_row(void *ud, const row_event *ev)
{
    snapcmd *s = ud;
    int rc = map_row(s->rule, ev, &s->mo, s->err, sizeof s->err);
    if (rc == MAP_NO_ID) {
        snprintf(s->err, sizeof s->err,
                 "table %s.%s: no primary key and no 'id' columns in its rule: the stream skips its rows, so "
                 "does the snapshot (set id = COLUMNS)",
                 ev->schema, ev->table);
        return 1;
    }
    if (rc != MAP_OK)
        return 1;
    for (size_t i = 0; i < s->mo.n; i++)
        if (bulk_append(&s->b, &s->mo.act[i], s->err, sizeof s->err) != 0)
            return 1;
    if (s->b.body.len >= (size_t)s->c->es.bulk_max_bytes || s->b.n_actions >= (size_t)s->c->es.bulk_max_actions)
        return snapcmd_flush(s) == 0 ? 0 : 1;
    return 0;
}

/* Reads one table of the rule and prints its NDJSON. 0, or 1 logged. */
static int snapcmd_table(snapcmd *s, my_conn *my, const char *db, const char *tbl, snap_pos method,
                         uint64_t *rows)
{
    char err[1024];
    my_rc mrc;
    snap_table t = {0};
    int ret = 1;
    if (snap_describe(my, db, tbl, &t, &mrc, err, sizeof err) != 0) {
        ce_log(CE_LOG_ERROR, "snapshot", "%s", err);
        goto out;
    }
    int64_t estimate = snap_estimate_rows(my, db, tbl);
    char est[64] = "unknown";
    if (estimate >= 0)
        snprintf(est, sizeof est, "%lld", (long long)estimate);
    snap_stats st;
    int rc = snap_read(my, &s->c->mysql, &t, s->c->reindex.chunk_rows, method, snapcmd_row, s, &st, err, sizeof err);
    if (rc != 0) {
        ce_log(CE_LOG_ERROR, "snapshot", "%s", rc == -1 ? err : s->err);
        goto out;
    }
    if (snapcmd_flush(s) != 0) {
        ce_log(CE_LOG_ERROR, "snapshot", "%s", s->err);
        goto out;
    }
    *rows += st.rows;
    ce_log(CE_LOG_INFO, "snapshot",
           "dry run: %s.%s: %llu rows in %llu chunks of up to %ld on key %s, binlog positions %s:%lld .. %s:%lld "
           "(position = %s; information_schema estimated %s rows), nothing sent",
           db, tbl, (unsigned long long)st.rows, (unsigned long long)st.chunks, s->c->reindex.chunk_rows, t.key_name,
           st.first_file, (long long)st.first_pos, st.last_file, (long long)st.last_pos,
           method == SNAP_POS_BINLOG_SNAPSHOT ? "binlog_snapshot" : "lock_tables", est);
    ret = 0;
out:
    snap_table_free(&t);
    return ret;
}

static bool snapcmd_listed(const snap_names *l, const char *db, const char *tbl)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].db, db) == 0 && strcmp(l->v[i].table, tbl) == 0)
            return true;
    return false;
}

/* INFO: the tables a regex rule covers (the first ones when the line would
 * be too long). */
static void snapcmd_log_tables(const cfg_table *rule, const snap_names *l)
{
    char name[300], list[3000];
    size_t used = 0, i = 0;
    list[0] = '\0';
    for (; i < l->n; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s.%s", i ? ", " : "", l->v[i].db, l->v[i].table);
        if (n < 0 || (size_t)n >= sizeof list - used) {
            list[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
    char more[64] = "";
    if (i < l->n)
        snprintf(more, sizeof more, ", ... and %zu more", l->n - i);
    ce_log(CE_LOG_INFO, "snapshot", "rule %s (line %d) covers %zu table(s) on the server: %s%s",
           cfg_rule_name(rule, name, sizeof name), rule->line, l->n, l->n ? list : "none", more);
}

int cmd_snapshot(int argc, char **argv)
{
    const char *table = NULL;
    bool dry_run = false, all_tables = false;
    const cmd_opt opts[] = {
        {.name = "--table", .text = &table},
        {.name = "--all-tables", .flag = &all_tables},
        {.name = "--dry-run", .flag = &dry_run},
        {0},
    };
    const cmd_spec spec = {.name = "snapshot", .help = snapcmd_help, .opts = opts, .log_level = true};
    cmd_args a;
    int rc = cmd_parse(&spec, argc, argv, &a);
    if (rc != CMD_GO_ON)
        return rc;
    const char *path = a.config;
    if (table == NULL)
        return cmd_usage(&spec, "-c FILE and --table DB.TABLE are required", NULL);
    if (!dry_run)
        return cmd_usage(&spec, "--dry-run is required (to load the rows: canal-es reindex -c FILE --table DB.TABLE)",
                         NULL);
    char db[CMD_NAME_MAX + 1], tbl[CMD_NAME_MAX + 1];
    if (cmd_split_table(table, db, tbl) != 0)
        return cmd_usage(&spec, "--table is not DB.TABLE:", table);
    cfg c;
    char err[1024];
    if (cmd_load(path, &c) != 0)
        return CMD_USAGE;
    cmd_apply_log(&a, &c);
    ce_log_set_destination(c.canal.destination);

    int ret = 2;
    snapcmd s = {.c = &c};
    map_out_init(&s.mo);
    s.mo.versioning = c.es.versioning_on;
    s.mo.version_epoch = (unsigned)c.es.version_epoch;
    bool bulk_ok = bulk_init(&s.b, SNAPCMD_MAX_BODY) == 0;
    my_conn *my = NULL;
    snap_names names = {0};
    s.rule = cfg_find_table(&c, db, tbl);
    if (s.rule == NULL || !s.rule->enabled) {
        fprintf(stderr, "canal-es snapshot: %s: %s\n", table,
                s.rule == NULL ? "no [table] rule matches it" : "its rule has enabled = false");
        goto out;
    }
    if (c.mysql.host[0] == '\0' && c.mysql.socket[0] == '\0') {
        fprintf(stderr, "canal-es snapshot: %s: [mysql] host (or socket) is not set\n", path);
        goto out;
    }
    ret = 1;
    if (!bulk_ok) {
        ce_log(CE_LOG_ERROR, "snapshot", "out of memory");
        goto out;
    }
    my_rc mrc;
    if ((my = my_connect(&c.mysql, &mrc, err, sizeof err)) == NULL) {
        ce_log(CE_LOG_ERROR, "snapshot", "%s", err);
        goto out;
    }
    if (s.rule->pattern != NULL || all_tables) {
        if (snap_rule_tables(my, &c, s.rule, &names, err, sizeof err) != 0) {
            ce_log(CE_LOG_ERROR, "snapshot", "%s", err);
            goto out;
        }
        if (s.rule->pattern != NULL) {
            snapcmd_log_tables(s.rule, &names);
            if (!all_tables && !snapcmd_listed(&names, db, tbl)) {
                char name[300];
                ce_log(CE_LOG_ERROR, "snapshot",
                       "%s.%s is not among the tables of rule %s (line %d) on mysql %s: no such base table (a view "
                       "or a system table is never loaded)",
                       db, tbl, cfg_rule_name(s.rule, name, sizeof name), s.rule->line, my_peer(my));
                goto out;
            }
        }
        if (all_tables && names.n == 0) {
            char name[300];
            ce_log(CE_LOG_ERROR, "snapshot",
                   "rule %s (line %d) covers no table on mysql %s (no base table it matches first): nothing to read",
                   cfg_rule_name(s.rule, name, sizeof name), s.rule->line, my_peer(my));
            goto out;
        }
    }
    snap_pos method = snap_method(my, c.reindex.position);
    uint64_t rows = 0;
    if (!all_tables) {
        if (snapcmd_table(&s, my, db, tbl, method, &rows) != 0)
            goto out;
    } else {
        for (size_t i = 0; i < names.n; i++)
            if (snapcmd_table(&s, my, names.v[i].db, names.v[i].table, method, &rows) != 0)
                goto out;
        char name[300];
        ce_log(CE_LOG_INFO, "snapshot", "dry run: rule %s (line %d): %llu rows of %zu table(s), nothing sent",
               cfg_rule_name(s.rule, name, sizeof name), s.rule->line, (unsigned long long)rows, names.n);
    }
    ret = 0;
out:
    snap_names_free(&names);
    my_close(my);
    if (bulk_ok)
        bulk_free(&s.b);
    map_out_free(&s.mo);
    cfg_free(&c);
    return ret;
}
