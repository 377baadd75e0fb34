/* refetch: per table, its foreign text columns (information_schema); per
 * row, one SELECT of them by key. The key literals are built from the
 * event's values the way the snapshot builds its chunk predicates
 * (snap_key_literal), the values are converted like the snapshot's
 * (snap_canal_text), so the stream and a reindex agree byte for byte. */
#include "snapshot/refetch.h"
#include "util/clock.h"
#include "map/charset.h"
#include "snapshot/snapshot.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RF_MAX_TABLES 256 /* described tables kept; more evict round-robin */
#define RF_MAX_WARNED 1024 /* (table, column) pairs warned about by rf_scan */
#define RF_SQL_MAX ((size_t)1 << 20)
#define RF_ROW_MAX ((size_t)1 << 30)
#define RF_PREFETCH_ROWS 500 /* point lookups per UNION ALL query */

enum { PF_NONE = 0, PF_FOUND, PF_GONE };

typedef enum { RF_T_READY = 0, RF_T_NONE, RF_T_UNKNOWN } rf_state;

typedef struct rf_table {
    char *db, *table;
    rf_state state;    /* NONE: no foreign column; UNKNOWN: not describable (err in why) */
    char enc[32];      /* the serverenCode the foreign columns were found with */
    snap_table t;
    bool *foreign;     /* per t.cols */
    size_t n_foreign;
    bool key_foreign;  /* a key column is foreign */
    char *why;
} rf_table;

/* One entry's rows in the batch cache. */
typedef struct rf_pfev {
    char file[256];
    int64_t offset;
    char db[256], table[256];
    size_t base, n; /* slots [base, base + n) by row_index */
} rf_pfev;

struct rf_ctx {
    my_opts mo;
    bool on; /* [mysql] is set: text is read back */
    ce_stats *st;
    my_conn *conn;
    rf_table tables[RF_MAX_TABLES];
    size_t n_tables, next_evict;
    size_t last;       /* the last table used (rows come in runs of one table) */
    ce_buf sql, vals;
    row_col *cols;
    size_t cols_cap;
    size_t *offs, *lens; /* per image column: its value in vals (-1: Canal's, -2: NULL) */
    row_event ev;
    const char **tv;   /* one row's foreign values for rf_substitute */
    size_t *tl;
    size_t tcap;
    /* the rows of the current Canal batch read with few queries (rf_prefetch_begin/rf_prefetch/
     * rf_prefetch_end): one slot per row of each entry added, its foreign values in pf_vals */
    bool pf_valid;
    rf_pfev *pfe;            /* the entries added, in order */
    size_t n_pfe, pfe_cap, pfe_hint;
    uint8_t *pf_state;       /* per slot: PF_NONE, PF_FOUND, PF_GONE */
    size_t *pf_vb;           /* per slot: its first value in pf_off/pf_len */
    size_t pf_slots, pf_cap;
    size_t *pf_off, *pf_len; /* per value: in pf_vals; pf_off (size_t)-1 = NULL */
    size_t pf_vals_n, pf_vcap;
    ce_buf pf_vals, pf_sql;
    rf_table *pq_table;      /* the table of the query being built in pf_sql (NULL: none) */
    size_t pq_rows;          /* lookups in it */
    size_t pq_first;         /* its first slot: every later slot marked PF_GONE is in it */
    char *warned[RF_MAX_WARNED];
    size_t n_warned;
};

rf_ctx *rf_open(const my_opts *m, ce_stats *st)
{
    rf_ctx *rf = ce_calloc(1, sizeof *rf);
    if (rf == NULL)
        return NULL;
    rf->on = m != NULL && (m->host[0] != '\0' || m->socket[0] != '\0');
    if (rf->on)
        rf->mo = *m;
    rf->st = st;
    ce_buf_init(&rf->sql, RF_SQL_MAX);
    ce_buf_init(&rf->vals, RF_ROW_MAX);
    ce_buf_init(&rf->pf_vals, RF_ROW_MAX);
    ce_buf_init(&rf->pf_sql, RF_SQL_MAX * 64);
    return rf;
}

static void rf_table_free(rf_table *t)
{
    ce_free(t->db);
    ce_free(t->table);
    ce_free(t->foreign);
    ce_free(t->why);
    if (t->state == RF_T_READY)
        snap_table_free(&t->t);
    memset(t, 0, sizeof *t);
}

void rf_free(rf_ctx *rf)
{
    if (rf == NULL)
        return;
    for (size_t i = 0; i < rf->n_tables; i++)
        rf_table_free(&rf->tables[i]);
    for (size_t i = 0; i < rf->n_warned; i++)
        ce_free(rf->warned[i]);
    my_close(rf->conn);
    ce_buf_free(&rf->sql);
    ce_buf_free(&rf->vals);
    ce_free(rf->cols);
    ce_free(rf->offs);
    ce_free(rf->lens);
    ce_free(rf->tv);
    ce_free(rf->tl);
    ce_free(rf->pf_state);
    ce_free(rf->pf_vb);
    ce_free(rf->pfe);
    ce_free(rf->pf_off);
    ce_free(rf->pf_len);
    ce_buf_free(&rf->pf_vals);
    ce_buf_free(&rf->pf_sql);
    ce_free(rf);
}

bool rf_enabled(const rf_ctx *rf)
{
    return rf != NULL && rf->on;
}

static rf_table *rf_find(rf_ctx *rf, const char *db, const char *table)
{
    if (rf->last < rf->n_tables && strcmp(rf->tables[rf->last].db, db) == 0 &&
        strcmp(rf->tables[rf->last].table, table) == 0)
        return &rf->tables[rf->last];
    for (size_t i = 0; i < rf->n_tables; i++)
        if (strcmp(rf->tables[i].db, db) == 0 && strcmp(rf->tables[i].table, table) == 0) {
            rf->last = i;
            return &rf->tables[i];
        }
    return NULL;
}

void rf_forget(rf_ctx *rf, const char *db, const char *table)
{
    if (rf == NULL)
        return;
    for (size_t i = 0; i < rf->n_tables; i++)
        if (strcmp(rf->tables[i].db, db) == 0 && (table[0] == '\0' || strcmp(rf->tables[i].table, table) == 0)) {
            rf_table_free(&rf->tables[i]);
            rf->tables[i] = rf->tables[--rf->n_tables];
            memset(&rf->tables[rf->n_tables], 0, sizeof rf->tables[0]);
            i--;
        }
    rf->last = (size_t)-1;
    rf->pf_valid = false;
}

static int rf_connect(rf_ctx *rf, char *err, size_t errlen)
{
    if (rf->conn != NULL)
        return 0;
    my_rc rc;
    rf->conn = my_open(&rf->mo, &rc, err, errlen);
    return rf->conn != NULL ? 0 : -1;
}

static void rf_drop_conn(rf_ctx *rf)
{
    my_close(rf->conn);
    rf->conn = NULL;
}

/* "g (gbk), b (big5)" of t's foreign columns. */
static void rf_list(const rf_table *t, bool keys_only, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->t.n; i++) {
        if (!t->foreign[i] || (keys_only && !t->t.cols[i].is_pk))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s (%s)", n ? ", " : "", t->t.cols[i].name, t->t.cols[i].charset);
        if (w < 0 || (size_t)w >= outlen - n) {
            out[n] = '\0';
            break;
        }
        n += (size_t)w;
    }
}

/* Marks t's foreign columns for enc and says so once. */
static void rf_classify(rf_table *t, const char *enc)
{
    t->n_foreign = 0;
    t->key_foreign = false;
    for (size_t i = 0; i < t->t.n; i++) {
        const snap_col *c = &t->t.cols[i];
        t->foreign[i] = cs_is_text_type(c->data_type) && !cs_canal_exact(enc, c->charset);
        if (!t->foreign[i])
            continue;
        t->n_foreign++;
        for (size_t k = 0; k < t->t.n_key; k++)
            if (t->t.key[k] == i)
                t->key_foreign = true;
    }
    snprintf(t->enc, sizeof t->enc, "%s", enc);
    t->state = t->n_foreign ? RF_T_READY : RF_T_NONE;
    if (t->n_foreign == 0)
        return;
    char list[600];
    rf_list(t, false, list, sizeof list);
    ce_log(CE_LOG_INFO, "charset",
           "table %s.%s: Canal decodes text as %s, which garbles column(s) %s: their text is read back from [mysql] "
           "by key %s for rows where it is not ASCII (one query per binlog event, of up to 500 rows)",
           t->db, t->table, enc[0] ? enc : "UTF-8", list, t->t.key_name);
    if (t->key_foreign)
        ce_log(CE_LOG_WARN, "charset",
               "table %s.%s: key %s holds column(s) in such a charset: rows whose key is not ASCII cannot be found in "
               "MySQL and are dead-lettered (use a key in utf8mb4 or ascii, or set canal.instance.connectionCharset "
               "when every text column of the instance shares one charset)",
               t->db, t->table, t->t.key_name);
}

/* The table's entry, described when missing; NULL with err on a MySQL
 * failure worth retrying. */
static rf_table *rf_table_for(rf_ctx *rf, const char *db, const char *table, const char *enc, char *err,
                              size_t errlen)
{
    rf_table *t = rf_find(rf, db, table);
    if (t != NULL) {
        if (t->state != RF_T_UNKNOWN && strcmp(t->enc, enc) != 0)
            rf_classify(t, enc);
        return t;
    }
    if (rf->n_tables == RF_MAX_TABLES) {
        size_t i = rf->next_evict++ % RF_MAX_TABLES;
        rf_table_free(&rf->tables[i]);
        rf->tables[i] = rf->tables[--rf->n_tables];
        memset(&rf->tables[rf->n_tables], 0, sizeof rf->tables[0]);
        rf->last = (size_t)-1;
    }
    if (rf_connect(rf, err, errlen) != 0)
        return NULL;
    rf_table nt = {0};
    nt.db = ce_strdup(db);
    nt.table = ce_strdup(table);
    if (nt.db == NULL || nt.table == NULL) {
        rf_table_free(&nt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    my_rc rc;
    char e[1024];
    if (snap_describe(rf->conn, db, table, &nt.t, &rc, e, sizeof e) != 0) {
        if (rc == MY_ERR_CONNECT || rc == MY_ERR_OOM) {
            snprintf(err, errlen, "%s", e);
            if (rc == MY_ERR_CONNECT)
                rf_drop_conn(rf);
            rf_table_free(&nt);
            return NULL;
        }
        nt.state = RF_T_UNKNOWN;
        nt.why = ce_strdup(e);
        ce_log(CE_LOG_WARN, "charset",
               "table %s.%s: its text cannot be read back from [mysql] where Canal garbles it: %s (its rows are indexed "
               "with Canal's text)",
               db, table, e);
    } else if ((nt.foreign = ce_calloc(nt.t.n ? nt.t.n : 1, sizeof *nt.foreign)) == NULL) {
        snap_table_free(&nt.t);
        rf_table_free(&nt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    } else {
        rf_classify(&nt, enc);
    }
    rf->last = rf->n_tables;
    rf->tables[rf->n_tables++] = nt;
    return &rf->tables[rf->last];
}

static const row_col *rf_col(const row_image *img, size_t hint, const char *name)
{
    if (hint < img->n && strcmp(img->cols[hint].name, name) == 0)
        return &img->cols[hint];
    for (size_t i = 0; i < img->n; i++)
        if (strcmp(img->cols[i].name, name) == 0)
            return &img->cols[i];
    return NULL;
}

/* Canal's text of bytes (one code point per byte) back to the bytes; BINARY(n)
 * padded with 0x00 to n like the column. -1 when it is not such text. */
static int rf_bytes(ce_buf *b, const snap_col *c, const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t x = (uint8_t)v[i];
        if (x >= 0x80) {
            if ((x != 0xC2 && x != 0xC3) || i + 1 >= len)
                return -1;
            x = (uint8_t)(((x & 0x03) << 6) | ((uint8_t)v[++i] & 0x3F));
        }
        if (ce_buf_putc(b, x) != 0)
            return -1;
    }
    if (c->val_kind == SNAP_VAL_BINARY_N) {
        const char *p = strchr(c->column_type, '(');
        long n = p ? strtol(p + 1, NULL, 10) : 0;
        while (n > 0 && b->len < (size_t)n)
            if (ce_buf_putc(b, 0) != 0)
                return -1;
    }
    return 0;
}

/* SELECT [tag,] <foreign columns> FROM `db`.`t` WHERE k1 = v1 AND ...
 * appended to q (tag < 0: none); RF_BADKEY with err when a key value cannot
 * be written (q is then cut back). */
static rf_rc rf_build(const rf_table *t, const row_image *img, long tag, ce_buf *q, char *err, size_t errlen)
{
    size_t start = q->len;
    int rc = ce_buf_append_str(q, "SELECT ");
    size_t k = 0;
    if (tag >= 0) {
        char num[32];
        snprintf(num, sizeof num, "%ld", tag);
        rc |= ce_buf_append_str(q, num);
        k++;
    }
    for (size_t i = 0; i < t->t.n; i++) {
        if (!t->foreign[i])
            continue;
        if (k++ > 0)
            rc |= ce_buf_append_str(q, ", ");
        rc |= snap_quote_ident(q, t->t.cols[i].name);
    }
    rc |= ce_buf_append_str(q, " FROM ");
    rc |= snap_quote_ident(q, t->t.db);
    rc |= ce_buf_putc(q, '.');
    rc |= snap_quote_ident(q, t->t.table);
    rc |= ce_buf_append_str(q, " WHERE ");
    ce_buf raw;
    ce_buf_init(&raw, RF_ROW_MAX);
    for (size_t j = 0; j < t->t.n_key && rc == 0; j++) {
        const snap_col *c = &t->t.cols[t->t.key[j]];
        const row_col *v = rf_col(img, t->t.key[j], c->name);
        if (v == NULL || v->is_null) {
            snprintf(err, errlen, "key column %s is %s in the event", c->name, v ? "NULL" : "missing");
            ce_buf_free(&raw);
            q->len = start;
            return RF_BADKEY;
        }
        if (t->foreign[t->t.key[j]] && !(cs_ascii_safe(c->charset) && cs_is_ascii(v->value, v->value_len))) {
            snprintf(err, errlen,
                     "key column %s (%s) holds text Canal garbled ('%.40s'): the row cannot be read back from "
                     "[mysql]; use a key in utf8mb4 or ascii, or set canal.instance.connectionCharset when every "
                     "text column of the instance shares one charset",
                     c->name, c->charset, v->value);
            ce_buf_free(&raw);
            q->len = start;
            return RF_BADKEY;
        }
        const char *val = v->value;
        size_t vlen = v->value_len;
        if (c->key_kind == SNAP_KEY_BIN) {
            ce_buf_reset(&raw);
            if (rf_bytes(&raw, c, v->value, v->value_len) != 0) {
                snprintf(err, errlen, "key column %s (%s): value is not Canal's text of bytes", c->name,
                         c->column_type);
                ce_buf_free(&raw);
                q->len = start;
                return RF_BADKEY;
            }
            val = (const char *)raw.data;
            vlen = raw.len;
        }
        if (j > 0)
            rc |= ce_buf_append_str(q, " AND ");
        rc |= snap_quote_ident(q, c->name);
        rc |= ce_buf_append_str(q, " = ");
        if (rc == 0 && snap_key_literal(q, c, val ? val : "", vlen, err, errlen) != 0) {
            ce_buf_free(&raw);
            q->len = start;
            return RF_BADKEY;
        }
    }
    ce_buf_free(&raw);
    if (rc != 0) {
        snprintf(err, errlen, "the query is longer than %zu bytes", (size_t)RF_SQL_MAX);
        q->len = start;
        return RF_BADKEY;
    }
    return RF_ASIS;
}

/* Copies img into rf->cols with the foreign values (in t's column order;
 * NULL: SQL NULL) substituted; rf->ev points to it. */
static int rf_substitute(rf_ctx *rf, const rf_table *t, const row_event *ev, const row_image *img,
                         const char *const *row, const size_t *len)
{
    if (img->n > rf->cols_cap) {
        row_col *nc = ce_realloc(rf->cols, img->n * sizeof *nc);
        if (nc)
            rf->cols = nc;
        size_t *no = nc ? ce_realloc(rf->offs, img->n * sizeof *no) : NULL;
        if (no)
            rf->offs = no;
        size_t *nl = no ? ce_realloc(rf->lens, img->n * sizeof *nl) : NULL;
        if (nl)
            rf->lens = nl;
        if (nl == NULL)
            return -1;
        rf->cols_cap = img->n;
    }
    ce_buf_reset(&rf->vals);
    for (size_t i = 0; i < img->n; i++) {
        rf->cols[i] = img->cols[i];
        rf->offs[i] = (size_t)-1;
    }
    size_t k = 0;
    for (size_t i = 0; i < t->t.n; i++) {
        if (!t->foreign[i])
            continue;
        size_t r = k++;
        const snap_col *c = &t->t.cols[i];
        for (size_t j = 0; j < img->n; j++) {
            if (strcmp(img->cols[j].name, c->name) != 0)
                continue;
            if (row[r] == NULL) {
                rf->cols[j].is_null = true;
                rf->offs[j] = (size_t)-2;
                break;
            }
            rf->cols[j].is_null = false;
            rf->offs[j] = rf->vals.len;
            if (snap_canal_text(&rf->vals, c->val_kind, row[r], len[r]) != 0)
                return -1;
            rf->lens[j] = rf->vals.len - rf->offs[j];
            if (ce_buf_putc(&rf->vals, 0) != 0)
                return -1;
            break;
        }
    }
    for (size_t j = 0; j < img->n; j++) {
        if (rf->offs[j] == (size_t)-1)
            continue;
        if (rf->offs[j] == (size_t)-2) {
            rf->cols[j].value = "";
            rf->cols[j].value_len = 0;
            continue;
        }
        rf->cols[j].value = (const char *)rf->vals.data + rf->offs[j];
        rf->cols[j].value_len = rf->lens[j];
    }
    rf->ev = *ev;
    row_image *dst = ev->op == ROW_DELETE ? &rf->ev.before : &rf->ev.after;
    dst->cols = rf->cols;
    dst->n = img->n;
    return 0;
}

/* Whether a foreign value of img is not ASCII (Canal's text of it may be wrong). */
static bool rf_needs(const rf_table *t, const row_image *img)
{
    for (size_t i = 0; i < t->t.n; i++) {
        if (!t->foreign[i])
            continue;
        const row_col *v = rf_col(img, i, t->t.cols[i].name);
        if (v != NULL && !v->is_null &&
            !(cs_ascii_safe(t->t.cols[i].charset) && cs_is_ascii(v->value, v->value_len)))
            return true;
    }
    return false;
}

static int rf_tmp(rf_ctx *rf, size_t n)
{
    if (n <= rf->tcap)
        return 0;
    const char **nv = ce_realloc((void *)rf->tv, n * sizeof *nv);
    if (nv)
        rf->tv = nv;
    size_t *nl = nv ? ce_realloc(rf->tl, n * sizeof *nl) : NULL;
    if (nl)
        rf->tl = nl;
    if (nl == NULL)
        return -1;
    rf->tcap = n;
    return 0;
}

/* The index in t->t.cols of its k-th foreign column. */
static size_t rf_nth_foreign(const rf_table *t, size_t k)
{
    for (size_t i = 0; i < t->t.n; i++)
        if (t->foreign[i] && k-- == 0)
            return i;
    return 0;
}

typedef int pf_hit;

/* What the batch's prefetch read for this row (PF_NONE: not read); *vb
 * its first value. Rows come in the order they were added: the search
 * starts at the entry of the last hit. */
static pf_hit rf_pf_lookup(rf_ctx *rf, const row_event *ev, size_t *vb)
{
    if (!rf->pf_valid || rf->n_pfe == 0)
        return PF_NONE;
    for (size_t k = 0; k < rf->n_pfe; k++) {
        size_t i = (rf->pfe_hint + k) % rf->n_pfe;
        const rf_pfev *e = &rf->pfe[i];
        if (e->offset != ev->offset || strcmp(e->file, ev->logfile) != 0 || strcmp(e->db, ev->schema) != 0 ||
            strcmp(e->table, ev->table) != 0)
            continue;
        rf->pfe_hint = i;
        if (ev->row_index >= e->n)
            return PF_NONE;
        size_t slot = e->base + ev->row_index;
        *vb = rf->pf_vb[slot];
        return rf->pf_state[slot];
    }
    return PF_NONE;
}

/* "binlog FILE:POS: db.table: " before err. */
static void rf_prefix(const row_event *ev, char *err, size_t errlen)
{
    char pre[600];
    int w = snprintf(pre, sizeof pre, "binlog %s:%lld: %s.%s: ", ev->logfile, (long long)ev->offset, ev->schema,
                     ev->table);
    size_t n = strlen(err);
    if (w > 0 && n + (size_t)w < errlen) {
        memmove(err + w, err, n + 1);
        memcpy(err, pre, (size_t)w);
    }
}

/* A read failed: err says how; a lost connection is dropped, a changed
 * table described again. */
static void rf_query_failed(rf_ctx *rf, const row_event *ev, char *err, size_t errlen)
{
    unsigned no = mysql_errno(my_handle(rf->conn));
    my_rc mrc = my_error(rf->conn, "reading back text Canal garbled", err, errlen);
    if (mrc == MY_ERR_CONNECT)
        rf_drop_conn(rf);
    else if (no == ER_BAD_FIELD_ERROR || no == ER_NO_SUCH_TABLE)
        rf_forget(rf, ev->schema, ev->table); /* the table changed: described again on the retry */
    rf->pf_valid = false;
}

/* The row is no longer in MySQL: an INSERT is skipped, an UPDATE deletes
 * its before image (a re-keyed row's old document must go). */
static rf_rc rf_gone(rf_ctx *rf, const row_event *ev, const row_event **out)
{
    CE_STAT_ADD(rf->st, charset_gone, 1);
    ce_log(CE_LOG_DEBUG, "charset", "binlog %s:%lld: %s.%s: the row is no longer in MySQL: %s", ev->logfile,
           (long long)ev->offset, ev->schema, ev->table,
           ev->op == ROW_UPDATE ? "its before image is deleted" : "skipped");
    *out = NULL;
    if (ev->op == ROW_UPDATE) {
        rf->ev = *ev;
        rf->ev.op = ROW_DELETE;
        rf->ev.after = (row_image){0};
        *out = &rf->ev;
    }
    return RF_GONE;
}

/* Whether a text value of img is not plain ASCII (non-ASCII bytes, or NUL
 * as in ucs2/utf16/utf32 text read as UTF-8): only then can a charset have
 * been garbled, and only then must a table not yet described be. */
static bool rf_maybe_garbled(const rf_ctx *rf, const row_image *img)
{
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        if (c->is_null || !cs_mysql_type_is_text(c->mysql_type))
            continue;
        if (!cs_is_ascii(c->value, c->value_len) || memchr(c->value, 0, c->value_len) != NULL)
            return true;
    }
    (void)rf;
    return false;
}

rf_rc rf_fix(rf_ctx *rf, const row_event *ev, const char *enc, bool soft, const row_event **out, char *err,
             size_t errlen)
{
    *out = NULL;
    if (!rf_enabled(rf) || ev->snapshot || ev->op == ROW_DELETE)
        return RF_ASIS; /* a hard delete needs the key only; a soft one writes the before image, whose row is gone */
    (void)soft;
    enc = enc ? enc : "";
    if (rf_find(rf, ev->schema, ev->table) == NULL && !rf_maybe_garbled(rf, &ev->after))
        return RF_ASIS; /* MySQL is not asked about a table until a row may need it */
    rf_table *t = rf_table_for(rf, ev->schema, ev->table, enc, err, errlen);
    if (t == NULL)
        return RF_RETRY;
    if (t->state != RF_T_READY)
        return RF_ASIS;
    const row_image *img = &ev->after;
    if (!rf_needs(t, img))
        return RF_ASIS;
    if (rf_tmp(rf, t->n_foreign) != 0) {
        snprintf(err, errlen, "out of memory");
        return RF_RETRY;
    }
    size_t vb = 0;
    const pf_hit hit = rf_pf_lookup(rf, ev, &vb);
    if (hit == PF_FOUND) {
        for (size_t k = 0; k < t->n_foreign; k++) {
            size_t o = rf->pf_off[vb + k];
            rf->tv[k] = o == (size_t)-1 ? NULL : (const char *)rf->pf_vals.data + o;
            rf->tl[k] = rf->pf_len[vb + k];
        }
        if (rf_substitute(rf, t, ev, img, rf->tv, rf->tl) != 0) {
            snprintf(err, errlen, "out of memory");
            return RF_RETRY;
        }
        *out = &rf->ev;
        return RF_FIXED;
    }
    if (hit == PF_GONE)
        return rf_gone(rf, ev, out);
    ce_buf_reset(&rf->sql);
    rf_rc br = rf_build(t, img, -1, &rf->sql, err, errlen);
    if (br == RF_ASIS && ce_buf_terminate(&rf->sql) != 0) {
        snprintf(err, errlen, "the query is too long");
        br = RF_BADKEY;
    }
    if (br != RF_ASIS) {
        rf_prefix(ev, err, errlen);
        return br;
    }
    if (rf_connect(rf, err, errlen) != 0)
        return RF_RETRY;
    uint64_t t0 = ce_mono_us();
    MYSQL *h = my_handle(rf->conn);
    MYSQL_RES *res = NULL;
    if (mysql_query(h, (const char *)rf->sql.data) != 0 || (res = mysql_store_result(h)) == NULL) {
        rf_query_failed(rf, ev, err, errlen);
        return RF_RETRY;
    }
    CE_STAT_ADD(rf->st, charset_reads, 1);
    MYSQL_ROW row = mysql_fetch_row(res);
    rf_rc rc;
    if (row == NULL) {
        rc = rf_gone(rf, ev, out);
    } else {
        const unsigned long *len = mysql_fetch_lengths(res);
        for (size_t k = 0; k < t->n_foreign; k++) {
            rf->tv[k] = row[k];
            rf->tl[k] = len[k];
        }
        if (rf_substitute(rf, t, ev, img, rf->tv, rf->tl) != 0) {
            snprintf(err, errlen, "binlog %s:%lld: %s.%s: out of memory reading back its text", ev->logfile,
                     (long long)ev->offset, ev->schema, ev->table);
            rc = RF_RETRY;
        } else {
            *out = &rf->ev;
            rc = RF_FIXED;
        }
    }
    mysql_free_result(res);
    CE_STAT_ADD(rf->st, charset_read_us, ce_mono_us() - t0);
    return rc;
}

void rf_prefetch_begin(rf_ctx *rf)
{
    if (rf == NULL)
        return;
    rf->n_pfe = 0;
    rf->pfe_hint = 0;
    rf->pf_slots = 0;
    rf->pf_vals_n = 0;
    rf->pq_table = NULL;
    rf->pq_rows = 0;
    ce_buf_reset(&rf->pf_vals);
    ce_buf_reset(&rf->pf_sql);
    rf->pf_valid = true;
}

/* Runs the UNION ALL being built (rows of rf->pq_table, each tagged with
 * its slot); a failure leaves those slots PF_NONE (each row reads alone). */
static void rf_pf_run(rf_ctx *rf)
{
    rf_table *t = rf->pq_table;
    size_t asked = rf->pq_rows, first = rf->pq_first;
    rf->pq_table = NULL;
    rf->pq_rows = 0;
    if (t == NULL || asked == 0)
        return;
    char err[1024];
    ce_buf *q = &rf->pf_sql;
    MYSQL_RES *res = NULL;
    bool ok = ce_buf_terminate(q) == 0 && rf_connect(rf, err, sizeof err) == 0;
    uint64_t t0 = ce_mono_us();
    if (ok) {
        MYSQL *h = my_handle(rf->conn);
        if (mysql_query(h, (const char *)q->data) != 0 || (res = mysql_store_result(h)) == NULL) {
            my_rc mrc = my_error(rf->conn, "reading back text Canal garbled", err, sizeof err);
            ce_log(CE_LOG_DEBUG, "charset", "%s.%s: %s: the rows are read one by one", t->db, t->table, err);
            if (mrc == MY_ERR_CONNECT)
                rf_drop_conn(rf);
            ok = false;
        }
    }
    size_t nf = t->n_foreign;
    MYSQL_ROW row;
    while (ok && (row = mysql_fetch_row(res)) != NULL) {
        const unsigned long *len = mysql_fetch_lengths(res);
        char *end = NULL;
        unsigned long r = row[0] ? strtoul(row[0], &end, 10) : (unsigned long)rf->pf_slots;
        if (r >= rf->pf_slots || rf->pf_state[r] != PF_GONE)
            continue;
        size_t vb = rf->pf_vb[r];
        for (size_t k = 0; k < nf && ok; k++) {
            size_t at = vb + k;
            if (row[k + 1] == NULL) {
                rf->pf_off[at] = (size_t)-1;
                rf->pf_len[at] = 0;
                continue;
            }
            rf->pf_off[at] = rf->pf_vals.len;
            if (snap_canal_text(&rf->pf_vals, t->t.cols[rf_nth_foreign(t, k)].val_kind, row[k + 1], len[k + 1]) !=
                    0 ||
                ce_buf_putc(&rf->pf_vals, 0) != 0) {
                ok = false;
                break;
            }
            rf->pf_len[at] = rf->pf_vals.len - rf->pf_off[at] - 1;
        }
        if (ok)
            rf->pf_state[r] = PF_FOUND;
    }
    if (res != NULL)
        mysql_free_result(res);
    if (!ok) {
        /* the slots of this query (all from pq_first on) are read alone by rf_fix */
        for (size_t sl = first; sl < rf->pf_slots; sl++)
            if (rf->pf_state[sl] == PF_GONE)
                rf->pf_state[sl] = PF_NONE;
    }
    CE_STAT_ADD(rf->st, charset_read_us, ce_mono_us() - t0);
    CE_STAT_ADD(rf->st, charset_reads, asked);
}

/* Grows the per-slot and per-value arrays for `slots` more slots and
 * `vals` more values. */
static int rf_pf_grow(rf_ctx *rf, size_t slots, size_t vals)
{
    size_t ns = rf->pf_slots + slots, nv = rf->pf_vals_n + vals;
    if (ns > rf->pf_cap) {
        size_t cap = ns * 2;
        uint8_t *st = ce_realloc(rf->pf_state, cap);
        if (st == NULL)
            return -1;
        rf->pf_state = st;
        size_t *vb = ce_realloc(rf->pf_vb, cap * sizeof *vb);
        if (vb == NULL)
            return -1;
        rf->pf_vb = vb;
        rf->pf_cap = cap;
    }
    if (nv > rf->pf_vcap) {
        size_t cap = nv * 2;
        size_t *o = ce_realloc(rf->pf_off, cap * sizeof *o);
        if (o == NULL)
            return -1;
        rf->pf_off = o;
        size_t *l = ce_realloc(rf->pf_len, cap * sizeof *l);
        if (l == NULL)
            return -1;
        rf->pf_len = l;
        rf->pf_vcap = cap;
    }
    return 0;
}

void rf_prefetch(rf_ctx *rf, const row_event *evs, size_t n, const char *enc)
{
    if (!rf_enabled(rf) || !rf->pf_valid || n == 0 || evs[0].op == ROW_DELETE || evs[0].snapshot)
        return;
    char err[1024];
    enc = enc ? enc : "";
    if (rf_find(rf, evs[0].schema, evs[0].table) == NULL) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = rf_maybe_garbled(rf, &evs[i].after);
        if (!any)
            return;
    }
    rf_table *t = rf_table_for(rf, evs[0].schema, evs[0].table, enc, err, sizeof err);
    if (t == NULL || t->state != RF_T_READY || t->n_foreign == 0)
        return; /* each row asks again (and retries) */
    size_t rows = (size_t)evs[n - 1].row_index + 1, nf = t->n_foreign;
    if (rf->n_pfe == rf->pfe_cap) {
        size_t cap = rf->pfe_cap ? rf->pfe_cap * 2 : 64;
        rf_pfev *ne = ce_realloc(rf->pfe, cap * sizeof *ne);
        if (ne == NULL)
            return;
        rf->pfe = ne;
        rf->pfe_cap = cap;
    }
    if (rf_pf_grow(rf, rows, rows * nf) != 0)
        return;
    rf_pfev *e = &rf->pfe[rf->n_pfe++];
    snprintf(e->file, sizeof e->file, "%s", evs[0].logfile);
    e->offset = evs[0].offset;
    snprintf(e->db, sizeof e->db, "%s", evs[0].schema);
    snprintf(e->table, sizeof e->table, "%s", evs[0].table);
    e->base = rf->pf_slots;
    e->n = rows;
    for (size_t r = 0; r < rows; r++) {
        rf->pf_state[e->base + r] = PF_NONE;
        rf->pf_vb[e->base + r] = rf->pf_vals_n + r * nf;
    }
    rf->pf_slots += rows;
    rf->pf_vals_n += rows * nf;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].row_index >= rows || !rf_needs(t, &evs[i].after))
            continue;
        if (rf->pq_table != NULL && (rf->pq_table != t || rf->pq_rows >= RF_PREFETCH_ROWS))
            rf_pf_run(rf); /* another table's query, or a full one */
        ce_buf *q = &rf->pf_sql;
        if (rf->pq_table == NULL)
            ce_buf_reset(q);
        size_t mark = q->len;
        size_t slot = e->base + evs[i].row_index;
        if (rf->pq_rows > 0 && ce_buf_append_str(q, " UNION ALL ") != 0)
            continue;
        if (rf_build(t, &evs[i].after, (long)slot, q, err, sizeof err) != RF_ASIS) {
            q->len = mark; /* that row asks alone and is reported then */
            continue;
        }
        rf->pf_state[slot] = PF_GONE; /* until its row comes back */
        if (rf->pq_rows == 0)
            rf->pq_first = slot;
        rf->pq_table = t;
        rf->pq_rows++;
    }
}

bool rf_any_foreign(const rf_ctx *rf)
{
    if (!rf_enabled(rf))
        return false;
    for (size_t i = 0; i < rf->n_tables; i++)
        if (rf->tables[i].state == RF_T_READY && rf->tables[i].n_foreign > 0)
            return true;
    return false;
}

void rf_prefetch_end(rf_ctx *rf)
{
    if (rf != NULL)
        rf_pf_run(rf);
}

/* True the first time (db.table, column) is seen. */
static bool rf_first(rf_ctx *rf, const char *db, const char *table, const char *column)
{
    char key[800];
    snprintf(key, sizeof key, "%s.%s\t%s", db, table, column);
    for (size_t i = 0; i < rf->n_warned; i++)
        if (strcmp(rf->warned[i], key) == 0)
            return false;
    if (rf->n_warned < RF_MAX_WARNED && (rf->warned[rf->n_warned] = ce_strdup(key)) != NULL)
        rf->n_warned++;
    return true;
}

void rf_scan(rf_ctx *rf, const row_event *ev, const char *enc, bool soft)
{
    if (ev->op == ROW_DELETE && !soft)
        return; /* a hard delete indexes no text */
    const row_image *img = ev->op == ROW_DELETE ? &ev->before : &ev->after;
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        if (c->is_null || !cs_mysql_type_is_text(c->mysql_type) || !cs_has_fffd(c->value, c->value_len))
            continue;
        stats_count_fffd(rf->st, ev->schema, ev->table, c->name);
        if (!rf_first(rf, ev->schema, ev->table, c->name))
            continue;
        const char *e = enc && enc[0] ? enc : "UTF-8";
        const rf_table *t = rf_enabled(rf) ? rf_find(rf, ev->schema, ev->table) : NULL;
        const char *cs = NULL;
        for (size_t k = 0; t != NULL && t->state == RF_T_READY && k < t->t.n; k++)
            if (strcmp(t->t.cols[k].name, c->name) == 0)
                cs = t->t.cols[k].charset;
        if (!rf_enabled(rf))
            ce_log(CE_LOG_WARN, "charset",
                   "binlog %s:%lld: table %s.%s column %s: value holds U+FFFD: Canal decoded its text as %s and its "
                   "charset is probably another one (SHOW FULL COLUMNS FROM %s.%s shows it): the text is lost before "
                   "canal-es sees it. Configure [mysql] so canal-es reads such text back from MySQL exactly, or set "
                   "canal.instance.connectionCharset when every text column of the instance shares one charset "
                   "(counted in canal_es_text_replaced_values_total)",
                   ev->logfile, (long long)ev->offset, ev->schema, ev->table, c->name, e, ev->schema, ev->table);
        else if (ev->op == ROW_DELETE && cs != NULL && !cs_canal_exact(e, cs))
            ce_log(CE_LOG_WARN, "charset",
                   "binlog %s:%lld: table %s.%s column %s (%s): a soft-deleted document keeps Canal's text (U+FFFD): "
                   "the row is gone from MySQL, nothing can be read back",
                   ev->logfile, (long long)ev->offset, ev->schema, ev->table, c->name, cs);
        else
            ce_log(CE_LOG_WARN, "charset",
                   "binlog %s:%lld: table %s.%s column %s%s%s%s: value holds U+FFFD%s (counted in "
                   "canal_es_text_replaced_values_total)",
                   ev->logfile, (long long)ev->offset, ev->schema, ev->table, c->name, cs ? " (" : "", cs ? cs : "",
                   cs ? ")" : "",
                   t != NULL && t->state == RF_T_UNKNOWN ? ": its text cannot be read back (see the warning above)"
                   : cs != NULL && !cs_canal_exact(e, cs) ? ""
                                                          : " in MySQL too, or Canal decodes it with a charset the "
                                                            "column does not use");
    }
}
