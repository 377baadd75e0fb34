/* snapshot: information_schema → snap_table; chunks → row events.
 * A chunk is read whole (mysql_store_result, at most chunk_rows rows) and its
 * transaction committed before its rows are handed out, so the read view is
 * held for one SELECT only. The key values of the chunk's last row become
 * the literals of the next chunk's predicate. */
#include "snapshot/snapshot.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SNAP_SQL_MAX (16u << 20)
#define SNAP_ROW_MAX (1u << 30)

static char *snap_dup(const char *s)
{
    return ce_strdup(s ? s : "");
}

void snap_table_free(snap_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ce_free(t->cols[i].name);
        ce_free(t->cols[i].data_type);
        ce_free(t->cols[i].column_type);
        ce_free(t->cols[i].charset);
        ce_free(t->cols[i].collation);
    }
    ce_free(t->cols);
    ce_free(t->key);
    ce_free(t->key_name);
    ce_free(t->db);
    ce_free(t->table);
    memset(t, 0, sizeof *t);
}

/* 'text' escaped for the connection, into b. */
static int snap_string(my_conn *c, ce_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (ce_buf_putc(b, '\'') != 0 || ce_buf_reserve(b, 2 * n + 2) != 0)
        return -1;
    b->len += mysql_real_escape_string(my_handle(c), (char *)b->data + b->len, s, (unsigned long)n);
    return ce_buf_putc(b, '\'');
}

static MYSQL_RES *snap_query(my_conn *c, const char *sql, my_rc *rc, char *err, size_t errlen)
{
    MYSQL *h = my_handle(c);
    if (mysql_query(h, sql) != 0) {
        *rc = my_error(c, NULL, err, errlen);
        return NULL;
    }
    MYSQL_RES *res = mysql_store_result(h);
    if (res == NULL)
        *rc = my_error(c, NULL, err, errlen);
    return res;
}

static int snap_columns(my_conn *c, snap_table *t, my_rc *rc, char *err, size_t errlen)
{
    ce_buf q;
    ce_buf_init(&q, 4096);
    int ret = -1;
    MYSQL_RES *res = NULL;
    if (ce_buf_append_str(&q, "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, "
                              "COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ") != 0 ||
        snap_string(c, &q, t->db) != 0 || ce_buf_append_str(&q, " AND TABLE_NAME = ") != 0 ||
        snap_string(c, &q, t->table) != 0 || ce_buf_append_str(&q, " ORDER BY ORDINAL_POSITION") != 0 ||
        ce_buf_terminate(&q) != 0) {
        snprintf(err, errlen, "table %s.%s: name too long", t->db, t->table);
        *rc = MY_ERR_QUERY;
        goto out;
    }
    if ((res = snap_query(c, (const char *)q.data, rc, err, errlen)) == NULL)
        goto out;
    size_t n = (size_t)mysql_num_rows(res);
    if (n == 0) {
        snprintf(err, errlen, "mysql %s: table %s.%s does not exist (or the [mysql] user may not see it)", my_peer(c),
                 t->db, t->table);
        *rc = MY_ERR_QUERY;
        goto out;
    }
    if ((t->cols = ce_calloc(n, sizeof *t->cols)) == NULL)
        goto oom;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        snap_col *col = &t->cols[t->n++];
        col->name = snap_dup(row[0]);
        col->data_type = snap_dup(row[1]);
        col->column_type = snap_dup(row[2]);
        col->charset = row[3] ? ce_strdup(row[3]) : NULL;
        col->collation = row[4] ? ce_strdup(row[4]) : NULL;
        col->is_pk = row[5] && strcmp(row[5], "PRI") == 0;
        if (!col->name || !col->data_type || !col->column_type || (row[3] && !col->charset) ||
            (row[4] && !col->collation))
            goto oom;
        snap_col_classify(col);
    }
    ret = 0;
    goto out;
oom:
    snprintf(err, errlen, "table %s.%s: out of memory", t->db, t->table);
    *rc = MY_ERR_OOM;
out:
    if (res)
        mysql_free_result(res);
    ce_buf_free(&q);
    return ret;
}

static size_t snap_col_index(const snap_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

/* PRIMARY, else the first unique index (by name) of NOT NULL whole columns
 * of a kind the predicate can write back. */
static int snap_key(my_conn *c, snap_table *t, my_rc *rc, char *err, size_t errlen)
{
    ce_buf q;
    ce_buf_init(&q, 4096);
    int ret = -1;
    MYSQL_RES *res = NULL;
    size_t *cand = NULL;
    if (ce_buf_append_str(&q, "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART, NULLABLE FROM information_schema.STATISTICS "
                              "WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA = ") != 0 ||
        snap_string(c, &q, t->db) != 0 || ce_buf_append_str(&q, " AND TABLE_NAME = ") != 0 ||
        snap_string(c, &q, t->table) != 0 ||
        ce_buf_append_str(&q, " ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX") != 0 ||
        ce_buf_terminate(&q) != 0) {
        snprintf(err, errlen, "table %s.%s: name too long", t->db, t->table);
        *rc = MY_ERR_QUERY;
        goto out;
    }
    if ((res = snap_query(c, (const char *)q.data, rc, err, errlen)) == NULL)
        goto out;
    if ((cand = ce_calloc(t->n + 1, sizeof *cand)) == NULL) {
        snprintf(err, errlen, "table %s.%s: out of memory", t->db, t->table);
        *rc = MY_ERR_OOM;
        goto out;
    }
    char cur[200] = "";
    size_t nc = 0;
    bool usable = false;
    MYSQL_ROW row;
    for (;;) {
        row = mysql_fetch_row(res);
        if (row == NULL || strcmp(row[0], cur) != 0) {
            if (cur[0] != '\0' && usable && nc > 0)
                break; /* the index in cur is the key */
            if (row == NULL)
                break;
            snprintf(cur, sizeof cur, "%s", row[0]);
            nc = 0;
            usable = true;
        }
        size_t i = snap_col_index(t, row[1]);
        if (i == (size_t)-1 || row[2] != NULL || (row[3] && row[3][0] != '\0') ||
            t->cols[i].key_kind == SNAP_KEY_NONE || nc >= t->n)
            usable = false;
        else
            cand[nc++] = i;
    }
    if (!(cur[0] != '\0' && usable && nc > 0)) {
        snprintf(err, errlen,
                 "table %s.%s has no primary key and no unique key of NOT NULL columns: the snapshot cannot page "
                 "through it (add a primary key, or set snapshot = never in its rule)",
                 t->db, t->table);
        *rc = MY_ERR_QUERY;
        goto out;
    }
    t->key = cand;
    cand = NULL;
    t->n_key = nc;
    if ((t->key_name = ce_strdup(cur)) == NULL) {
        snprintf(err, errlen, "table %s.%s: out of memory", t->db, t->table);
        *rc = MY_ERR_OOM;
        goto out;
    }
    ret = 0;
out:
    ce_free(cand);
    if (res)
        mysql_free_result(res);
    ce_buf_free(&q);
    return ret;
}

int snap_describe(my_conn *c, const char *db, const char *table, snap_table *t, my_rc *rc, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    *rc = MY_OK;
    t->db = ce_strdup(db);
    t->table = ce_strdup(table);
    if (t->db == NULL || t->table == NULL) {
        snprintf(err, errlen, "out of memory");
        *rc = MY_ERR_OOM;
        snap_table_free(t);
        return -1;
    }
    if (snap_columns(c, t, rc, err, errlen) != 0 || snap_key(c, t, rc, err, errlen) != 0) {
        snap_table_free(t);
        return -1;
    }
    return 0;
}

snap_pos snap_method(my_conn *c, const char *position)
{
    if (strcmp(position, "binlog_snapshot") == 0)
        return SNAP_POS_BINLOG_SNAPSHOT;
    if (strcmp(position, "lock_tables") == 0)
        return SNAP_POS_LOCK_TABLES;
    return my_is_mariadb(c) ? SNAP_POS_BINLOG_SNAPSHOT : SNAP_POS_LOCK_TABLES;
}

/* The binlog file and position of a "file\tposition" pair of rows or columns. */
static int snap_set_pos(const char *file, const char *pos, char *out_file, size_t file_len, int64_t *out_pos)
{
    int64_t p;
    if (file == NULL || pos == NULL || file[0] == '\0' || ce_parse_i64(pos, 4, INT64_MAX, &p) != 0 ||
        strlen(file) >= file_len)
        return -1;
    snprintf(out_file, file_len, "%s", file);
    *out_pos = p;
    return 0;
}

/* MariaDB: binlog_snapshot_file/position inside the transaction: the binlog
 * position of exactly this read view. */
static int snap_pos_status(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen)
{
    my_rc rc;
    MYSQL_RES *res = snap_query(c, "SHOW STATUS LIKE 'binlog_snapshot_%'", &rc, err, errlen);
    if (res == NULL)
        return -1;
    char f[256] = "", p[32] = "";
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_file") == 0)
            snprintf(f, sizeof f, "%s", row[1]);
        else if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_position") == 0)
            snprintf(p, sizeof p, "%s", row[1]);
    }
    mysql_free_result(res);
    if (snap_set_pos(f, p, file, file_len, pos) != 0) {
        snprintf(err, errlen,
                 "mysql %s: no binlog_snapshot_file/binlog_snapshot_position ('%s' '%s'): the server is not MariaDB "
                 "or its binary log is off (use [reindex] position = lock_tables on MySQL)",
                 my_peer(c), f, p);
        return -1;
    }
    return 0;
}

/* SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+): the end of the binlog. */
static int snap_pos_master(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen)
{
    my_rc rc;
    MYSQL_RES *res = snap_query(c, "SHOW MASTER STATUS", &rc, err, errlen);
    if (res == NULL && mysql_errno(my_handle(c)) == 1064)
        res = snap_query(c, "SHOW BINARY LOG STATUS", &rc, err, errlen);
    if (res == NULL)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(res);
    int ret = 0;
    if (row == NULL || mysql_num_fields(res) < 2 || snap_set_pos(row[0], row[1], file, file_len, pos) != 0) {
        snprintf(err, errlen, "mysql %s: SHOW MASTER STATUS returned no binlog position: is log_bin on?", my_peer(c));
        ret = -1;
    }
    mysql_free_result(res);
    return ret;
}

typedef struct snap_chunk {
    MYSQL_RES *res;
    char file[256];
    int64_t pos;
} snap_chunk;

/* One chunk: the read view, its position, the SELECT, COMMIT. */
static int snap_read_chunk(my_conn *c, my_conn *lk, const snap_table *t, snap_pos method, const char *sql,
                           snap_chunk *ch, char *err, size_t errlen)
{
    my_rc rc;
    char lock_sql[1200];
    int ret = -1;
    bool locked = false, in_txn = false;
    if (method == SNAP_POS_LOCK_TABLES) {
        /* no writer of the table holds it or can commit to it while the lock is
         * held: every change before the position read below is committed (and
         * visible to the read view opened under the lock), every later one is
         * written to the binlog after it */
        ce_buf b;
        ce_buf_init(&b, sizeof lock_sql);
        int brc = ce_buf_append_str(&b, "LOCK TABLES ") | snap_quote_ident(&b, t->db) | ce_buf_putc(&b, '.') |
                  snap_quote_ident(&b, t->table) | ce_buf_append_str(&b, " READ") | ce_buf_terminate(&b);
        if (brc == 0)
            snprintf(lock_sql, sizeof lock_sql, "%s", (const char *)b.data);
        ce_buf_free(&b);
        if (brc != 0) {
            snprintf(err, errlen, "table %s.%s: name too long", t->db, t->table);
            goto out;
        }
        if (my_exec(lk, lock_sql, err, errlen) != MY_OK)
            goto out;
        locked = true;
        if (snap_pos_master(lk, ch->file, sizeof ch->file, &ch->pos, err, errlen) != 0)
            goto out;
    }
    if (my_exec(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT", err, errlen) != MY_OK)
        goto out;
    in_txn = true;
    if (locked) {
        locked = false;
        if (my_exec(lk, "UNLOCK TABLES", err, errlen) != MY_OK)
            goto out;
    }
    if (method == SNAP_POS_BINLOG_SNAPSHOT && snap_pos_status(c, ch->file, sizeof ch->file, &ch->pos, err, errlen) != 0)
        goto out;
    if ((ch->res = snap_query(c, sql, &rc, err, errlen)) == NULL)
        goto out;
    in_txn = false;
    if (my_exec(c, "COMMIT", err, errlen) != MY_OK)
        goto out;
    ret = 0;
out:
    if (ret != 0 && ch->res) {
        mysql_free_result(ch->res);
        ch->res = NULL;
    }
    if (in_txn) {
        char e2[256];
        (void)my_exec(c, "ROLLBACK", e2, sizeof e2);
    }
    if (locked) {
        char e2[256];
        (void)my_exec(lk, "UNLOCK TABLES", e2, sizeof e2);
    }
    return ret;
}

/* The rows of one chunk → fn; the last row's key literals into keys. */
static int snap_emit(const snap_table *t, snap_chunk *ch, row_col *cols, ce_buf *vals, size_t *offs, ce_buf *keys,
                     char **last, snap_row_fn fn, void *ud, size_t *nrows, char *err, size_t errlen)
{
    MYSQL_ROW row;
    *nrows = 0;
    int64_t now = ce_wall_ms();
    while ((row = mysql_fetch_row(ch->res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(ch->res);
        ce_buf_reset(vals);
        for (size_t i = 0; i < t->n; i++) {
            const snap_col *col = &t->cols[i];
            offs[i] = vals->len;
            if (row[i] != NULL && snap_canal_text(vals, col->val_kind, row[i], len[i]) != 0) {
                snprintf(err, errlen, "table %s.%s: column %s (%s): value '%.*s' cannot be converted (or is too large)",
                         t->db, t->table, col->name, col->column_type, (int)(len[i] > 40 ? 40 : len[i]), row[i]);
                return -1;
            }
            if (ce_buf_putc(vals, 0) != 0) {
                snprintf(err, errlen, "table %s.%s: a row is larger than %u bytes", t->db, t->table, SNAP_ROW_MAX);
                return -1;
            }
        }
        for (size_t i = 0; i < t->n; i++) {
            const snap_col *col = &t->cols[i];
            const char *v = (const char *)vals->data + offs[i];
            size_t vl = (i + 1 < t->n ? offs[i + 1] : vals->len) - offs[i] - 1;
            cols[i] = (row_col){.name = col->name,
                                .value = v,
                                .value_len = vl,
                                .mysql_type = col->column_type,
                                .is_null = row[i] == NULL,
                                .is_key = col->is_pk,
                                .updated = true};
        }
        row_event ev = {.schema = t->db,
                        .table = t->table,
                        .op = ROW_INSERT,
                        .after = {.cols = cols, .n = t->n},
                        .logfile = ch->file,
                        .offset = ch->pos,
                        .execute_time = now,
                        .row_index = 0,
                        .gtid = "",
                        .snapshot = true};
        (*nrows)++;
        int rc = fn(ud, &ev);
        if (rc != 0)
            return rc;
        /* the key of the last row so far: the next chunk starts after it */
        ce_buf_reset(keys);
        size_t koff[64];
        for (size_t k = 0; k < t->n_key && k < 64; k++) {
            size_t fi = t->n + k;
            koff[k] = keys->len;
            if (row[fi] == NULL) {
                snprintf(err, errlen, "table %s.%s: key column %s is NULL", t->db, t->table, t->cols[t->key[k]].name);
                return -1;
            }
            if (snap_key_literal(keys, &t->cols[t->key[k]], row[fi], len[fi], err, errlen) != 0 ||
                ce_buf_putc(keys, 0) != 0)
                return -1;
        }
        for (size_t k = 0; k < t->n_key && k < 64; k++)
            last[k] = (char *)keys->data + koff[k];
    }
    return 0;
}

int snap_snapshot_position(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen)
{
    return snap_pos_status(c, file, file_len, pos, err, errlen);
}

int snap_master_position(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen)
{
    return snap_pos_master(c, file, file_len, pos, err, errlen);
}

int snap_read(my_conn *c, const cfg_mysql *m, const snap_table *t, long chunk_rows, snap_pos method, snap_row_fn fn,
              void *ud, snap_stats *st, char *err, size_t errlen)
{
    return snap_read_from(c, m, t, chunk_rows, method, NULL, fn, NULL, ud, st, err, errlen);
}

int snap_read_from(my_conn *c, const cfg_mysql *m, const snap_table *t, long chunk_rows, snap_pos method,
                   const char *const *start_after, snap_row_fn fn, snap_chunk_fn on_chunk, void *ud, snap_stats *st,
                   char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->method = method;
    int ret = -1;
    my_conn *lk = NULL;
    ce_buf sql, vals, keys, prev;
    ce_buf_init(&sql, SNAP_SQL_MAX);
    ce_buf_init(&vals, SNAP_ROW_MAX);
    ce_buf_init(&keys, SNAP_SQL_MAX);
    ce_buf_init(&prev, SNAP_SQL_MAX);
    row_col *cols = ce_calloc(t->n, sizeof *cols);
    size_t *offs = ce_calloc(t->n, sizeof *offs);
    char *last[64];
    bool have_last = false;
    snap_chunk ch = {0};
    if (cols == NULL || offs == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (t->n_key > 64) {
        snprintf(err, errlen, "table %s.%s: key %s has more than 64 columns", t->db, t->table, t->key_name);
        goto out;
    }
    if (my_exec(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", err, errlen) != MY_OK)
        goto out;
    if (method == SNAP_POS_LOCK_TABLES) {
        my_rc rc;
        if ((lk = my_connect(m, &rc, err, errlen)) == NULL)
            goto out;
        char q[64];
        snprintf(q, sizeof q, "SET SESSION lock_wait_timeout = %ld", (m->connect_timeout_ms + 999) / 1000 * 6);
        if (my_exec(lk, q, err, errlen) != MY_OK)
            goto out;
    }
    if (start_after != NULL) {
        /* resume: the first chunk starts after the saved key */
        size_t koff[64];
        for (size_t k = 0; k < t->n_key; k++) {
            koff[k] = keys.len;
            if (ce_buf_append_str(&keys, start_after[k]) != 0 || ce_buf_putc(&keys, 0) != 0) {
                snprintf(err, errlen, "table %s.%s: the saved key is too large", t->db, t->table);
                goto out;
            }
        }
        for (size_t k = 0; k < t->n_key; k++)
            last[k] = (char *)keys.data + koff[k];
        if (ce_buf_append(&prev, keys.data, keys.len) != 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        have_last = true;
    }
    for (;;) {
        ce_buf_reset(&sql);
        if (snap_build_select(&sql, t, have_last ? (const char *const *)last : NULL, chunk_rows) != 0) {
            snprintf(err, errlen, "table %s.%s: the chunk query is larger than %u bytes", t->db, t->table,
                     SNAP_SQL_MAX);
            goto out;
        }
        if (snap_read_chunk(c, lk, t, method, (const char *)sql.data, &ch, err, errlen) != 0)
            goto out;
        if (ce_log_enabled(CE_LOG_DEBUG))
            ce_log(CE_LOG_DEBUG, "snapshot", "%s.%s: chunk %llu read at binlog %s:%lld: %s", t->db, t->table,
                   (unsigned long long)st->chunks + 1, ch.file, (long long)ch.pos, (const char *)sql.data);
        if (st->chunks == 0) {
            snprintf(st->first_file, sizeof st->first_file, "%s", ch.file);
            st->first_pos = ch.pos;
        }
        snprintf(st->last_file, sizeof st->last_file, "%s", ch.file);
        st->last_pos = ch.pos;
        st->chunks++;
        size_t nrows = 0;
        int rc = snap_emit(t, &ch, cols, &vals, offs, &keys, last, fn, ud, &nrows, err, errlen);
        mysql_free_result(ch.res);
        ch.res = NULL;
        st->rows += nrows;
        if (rc != 0) {
            ret = rc;
            goto out;
        }
        if (on_chunk != NULL) {
            snap_chunk_info ci = {.file = ch.file,
                                  .pos = ch.pos,
                                  .rows = nrows,
                                  .last_key = nrows > 0 ? (const char *const *)last : NULL,
                                  .last = nrows < (size_t)chunk_rows};
            if ((rc = on_chunk(ud, &ci)) != 0) {
                ret = rc;
                goto out;
            }
        }
        if (nrows < (size_t)chunk_rows)
            break;
        /* the key must move on, or the next chunk would read the same rows */
        if (have_last && prev.len == keys.len && memcmp(prev.data, keys.data, keys.len) == 0) {
            snprintf(err, errlen, "table %s.%s: the key did not advance after %llu rows", t->db, t->table,
                     (unsigned long long)st->rows);
            goto out;
        }
        ce_buf_reset(&prev);
        if (ce_buf_append(&prev, keys.data, keys.len) != 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        have_last = true;
    }
    ret = 0;
out:
    if (ch.res)
        mysql_free_result(ch.res);
    my_close(lk);
    ce_free(cols);
    ce_free(offs);
    ce_buf_free(&sql);
    ce_buf_free(&vals);
    ce_buf_free(&keys);
    ce_buf_free(&prev);
    return ret;
}
