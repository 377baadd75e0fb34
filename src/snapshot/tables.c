/* tables: information_schema.TABLES → the tables of a rule.
 * Names are compared in C with strcmp after the query (information_schema
 * compares them case-insensitively on some servers, the stream's rule
 * lookup does not), string literals are escaped for the connection by
 * mysql_real_escape_string, and every name read is length-checked before
 * it is copied. The regex rule's listing streams its rows
 * (mysql_use_result) and keeps only the tables of the rule. */
#include "snapshot/tables.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/parse.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_TABLES_SQL_MAX 4096

void snap_names_free(snap_names *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        ce_free(l->v[i].db);
        ce_free(l->v[i].table);
    }
    ce_free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* 'text' escaped for the connection, into b. */
static int snap_tables_string(my_conn *c, ce_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > SNAP_NAME_MAX || ce_buf_putc(b, '\'') != 0 || ce_buf_reserve(b, 2 * n + 2) != 0)
        return -1;
    b->len += mysql_real_escape_string(my_handle(c), (char *)b->data + b->len, s, (unsigned long)n);
    return ce_buf_putc(b, '\'');
}

/* SELECT cols FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'db' AND
 * TABLE_NAME = 'table', into q (terminated). */
static int snap_tables_lookup_sql(my_conn *c, ce_buf *q, const char *cols, const char *db, const char *table)
{
    return ce_buf_append_str(q, "SELECT ") != 0 || ce_buf_append_str(q, cols) != 0 ||
                   ce_buf_append_str(q, " FROM information_schema.TABLES WHERE TABLE_SCHEMA = ") != 0 ||
                   snap_tables_string(c, q, db) != 0 || ce_buf_append_str(q, " AND TABLE_NAME = ") != 0 ||
                   snap_tables_string(c, q, table) != 0 || ce_buf_terminate(q) != 0
               ? -1
               : 0;
}

/* row[i] as a name: not NULL, no NUL byte, at most SNAP_NAME_MAX bytes. */
static bool snap_tables_name_ok(MYSQL_ROW row, const unsigned long *len, unsigned i)
{
    return row[i] != NULL && len[i] <= SNAP_NAME_MAX && strlen(row[i]) == len[i];
}

static int snap_tables_add(snap_names *l, size_t *cap, const char *db, const char *table)
{
    if (l->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        snap_name *v = ce_realloc(l->v, ncap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        *cap = ncap;
    }
    snap_name *e = &l->v[l->n];
    e->db = ce_strdup(db);
    e->table = ce_strdup(table);
    if (e->db == NULL || e->table == NULL) {
        ce_free(e->db);
        ce_free(e->table);
        return -1;
    }
    l->n++;
    return 0;
}

static int snap_tables_cmp(const void *a, const void *b)
{
    const snap_name *x = a, *y = b;
    int r = strcmp(x->db, y->db);
    return r ? r : strcmp(x->table, y->table);
}

/* A plain rule: its table exists, is a base table, and this rule is the
 * first that matches it. */
static int snap_tables_plain(my_conn *c, const cfg *conf, const cfg_table *rule, snap_names *out, char *err,
                             size_t errlen)
{
    ce_buf q;
    ce_buf_init(&q, SNAP_TABLES_SQL_MAX);
    MYSQL_RES *res = NULL;
    int ret = -1;
    size_t cap = 0;
    const cfg_table *first = cfg_find_table(conf, rule->db, rule->table);
    if (first != rule) {
        char name[300];
        snprintf(err, errlen,
                 "table rule %s.%s (line %d): table %s.%s is matched first by rule %s (line %d), whose rule the "
                 "stream uses for its rows: this rule loads nothing (remove it, or move it above line %d)",
                 rule->db, rule->table, rule->line, rule->db, rule->table,
                 first ? cfg_rule_name(first, name, sizeof name) : "?", first ? first->line : 0,
                 first ? first->line : 0);
        goto out;
    }
    if (snap_tables_lookup_sql(c, &q, "TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE", rule->db, rule->table) != 0) {
        snprintf(err, errlen, "table rule %.300s.%.300s (line %d): name longer than %d bytes", rule->db,
                 rule->table, rule->line, SNAP_NAME_MAX);
        goto out;
    }
    MYSQL *h = my_handle(c);
    if (mysql_query(h, (const char *)q.data) != 0 || (res = mysql_store_result(h)) == NULL) {
        char e[900];
        my_error(c, "listing tables", e, sizeof e);
        snprintf(err, errlen, "table rule %s.%s (line %d): %s", rule->db, rule->table, rule->line, e);
        goto out;
    }
    const char *type = NULL;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        if (snap_tables_name_ok(row, len, 0) && snap_tables_name_ok(row, len, 1) && strcmp(row[0], rule->db) == 0 &&
            strcmp(row[1], rule->table) == 0) {
            type = row[2] ? row[2] : "";
            break;
        }
    }
    if (type == NULL) {
        snprintf(err, errlen,
                 "mysql %s: table %s.%s of rule line %d does not exist (or the [mysql] user may not see it)",
                 my_peer(c), rule->db, rule->table, rule->line);
        goto out;
    }
    if (strcmp(type, "BASE TABLE") != 0 && strcmp(type, "SYSTEM VERSIONED") != 0) {
        snprintf(err, errlen,
                 "mysql %s: %s.%s of rule line %d is a %.40s, not a base table: the binlog carries no rows of it",
                 my_peer(c), rule->db, rule->table, rule->line, type);
        goto out;
    }
    if (snap_tables_add(out, &cap, rule->db, rule->table) != 0) {
        snprintf(err, errlen, "table rule %s.%s: out of memory", rule->db, rule->table);
        goto out;
    }
    ret = 0;
out:
    if (res)
        mysql_free_result(res);
    ce_buf_free(&q);
    return ret;
}

/* A regex rule: every base table whose first matching rule is this one. */
static int snap_tables_regex(my_conn *c, const cfg *conf, const cfg_table *rule, snap_names *out, char *err,
                             size_t errlen)
{
    static const char sql[] =
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') "
        "AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')";
    MYSQL *h = my_handle(c);
    MYSQL_RES *res = NULL;
    int ret = -1;
    size_t cap = 0;
    char name[300], e[900];
    cfg_rule_name(rule, name, sizeof name);
    if (mysql_query(h, sql) != 0 || (res = mysql_use_result(h)) == NULL) {
        my_error(c, "listing tables", e, sizeof e);
        snprintf(err, errlen, "table rule %s (line %d): %s", name, rule->line, e);
        goto out;
    }
    MYSQL_ROW row;
    bool failed = false;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (failed)
            continue; /* drain the result: the connection stays usable */
        unsigned long *len = mysql_fetch_lengths(res);
        if (!snap_tables_name_ok(row, len, 0) || !snap_tables_name_ok(row, len, 1)) {
            snprintf(err, errlen,
                     "table rule %s (line %d): mysql %s: information_schema.TABLES holds a name that is NULL, longer "
                     "than %d bytes or holds a NUL byte (schema %.80s)",
                     name, rule->line, my_peer(c), SNAP_NAME_MAX, row[0] ? row[0] : "NULL");
            failed = true;
            continue;
        }
        if (cfg_find_table(conf, row[0], row[1]) != rule)
            continue;
        if (out->n >= SNAP_TABLES_MAX) {
            snprintf(err, errlen, "table rule %s (line %d): matches more than %d tables (narrow the regex)", name,
                     rule->line, SNAP_TABLES_MAX);
            failed = true;
            continue;
        }
        if (snap_tables_add(out, &cap, row[0], row[1]) != 0) {
            snprintf(err, errlen, "table rule %s (line %d): out of memory", name, rule->line);
            failed = true;
        }
    }
    if (!failed && mysql_errno(h) != 0) {
        my_error(c, "listing tables", e, sizeof e);
        snprintf(err, errlen, "table rule %s (line %d): %s", name, rule->line, e);
        failed = true;
    }
    if (failed)
        goto out;
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, snap_tables_cmp);
    ret = 0;
out:
    if (res)
        mysql_free_result(res);
    return ret;
}

int snap_rule_tables(my_conn *c, const cfg *conf, const cfg_table *rule, snap_names *out, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    int rc = rule->pattern != NULL ? snap_tables_regex(c, conf, rule, out, err, errlen)
                                   : snap_tables_plain(c, conf, rule, out, err, errlen);
    if (rc != 0)
        snap_names_free(out);
    return rc;
}

int64_t snap_estimate_rows(my_conn *c, const char *db, const char *table)
{
    ce_buf q;
    ce_buf_init(&q, SNAP_TABLES_SQL_MAX);
    MYSQL_RES *res = NULL;
    int64_t n = -1;
    if (snap_tables_lookup_sql(c, &q, "TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS", db, table) != 0)
        goto out;
    MYSQL *h = my_handle(c);
    if (mysql_query(h, (const char *)q.data) != 0 || (res = mysql_store_result(h)) == NULL)
        goto out;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        int64_t v;
        if (snap_tables_name_ok(row, len, 0) && snap_tables_name_ok(row, len, 1) && strcmp(row[0], db) == 0 &&
            strcmp(row[1], table) == 0) {
            if (row[2] != NULL && len[2] < 24 && ce_parse_i64(row[2], 0, INT64_MAX, &v) == 0)
                n = v;
            break;
        }
    }
out:
    if (res)
        mysql_free_result(res);
    ce_buf_free(&q);
    return n;
}
