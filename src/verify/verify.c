/* verify: the command (see verify.h; the correctness argument is in
 * docs/operations.md, "Verifying an index").
 * Memory: one chunk of expected documents (bulk + per-row offsets), one
 * _mget batch, the candidates of one table (at most VF_CAND_MAX, each with
 * its key literals), and for the extra pass a window of at most VF_WINDOW
 * index ids. Nothing grows with the table.
 * Extra documents, the bounded method: the index's ids are walked with a
 * scroll (sort _doc, portable to every supported version) in windows of
 * VF_WINDOW ids held in a hash set; for each window every table writing to
 * the index is read again (keyset chunks) and each row's _id and routing
 * are struck from the set. What is left was produced by no row at that
 * read: it is an extra candidate. A hashed `~sha256:` id needs no parsing:
 * ids are compared as the rows produce them. The walk is skipped when the
 * index's _count equals the number of live documents the row pass found. */
#include "verify/verify.h"
#include "verify/vcmp.h"

#include "bulk/bulk.h"
#include "commit/ckpt.h"
#include "config.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "snapshot/tables.h"
#include "source/mysql.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <mysql.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define VF_MAX_BODY ((size_t)256 << 20)
#define VF_MGET_BATCH 500     /* ids per _mget */
#define VF_REREAD_BATCH 200   /* rows per re-read */
#define VF_CAND_MAX 20000     /* differences of one table re-checked (more: reported as found) */
#define VF_WINDOW 100000      /* index ids per extra-pass window */
#define VF_SCROLL_SIZE 1000
#define VF_ROUNDS 3           /* re-check rounds */
#define VF_QUIET_MS 3000      /* checkpoint unchanged this long: the stream has nothing more in hand */
#define VF_TRIES 6            /* attempts of one request to the node */
#define VF_KEYS_MAX 64
#define VF_EVENTS 8           /* binlog events looked at after the checkpoint's */

enum { VF_OK = 0, VF_FAIL = 3 };
enum { VF_MISSING = 1, VF_DIFFERENT = 2 };

static volatile sig_atomic_t vf_stop = 0;

static void vf_on_signal(int sig)
{
    (void)sig;
    vf_stop = 1;
}

/* A difference of the row pass being re-checked. */
typedef struct vf_cand {
    char *id;
    size_t id_len;
    char *routing; /* expected routing (NULL = none) */
    size_t routing_len;
    char *keys;    /* n_key NUL-terminated key literals; NULL: the key cannot be written back */
    int kind;
    vc_diff d;
    char *bad_routing; /* the indexed _routing when only that differs */
    char *fix;         /* --repair: the index action (version P - 1) of the last re-read */
    size_t fix_len;
    int rounds;        /* rounds in which it still differed with an older document */
    bool final;        /* confirmed, resolved or changing */
    bool confirmed, changing;
} vf_cand;

/* One expected document of the chunk (or of a re-read). */
typedef struct vf_exp {
    size_t act;              /* action index in the bulk */
    size_t id_off, id_len;   /* in strs */
    size_t rt_off, rt_len;
    bool has_rt;
    size_t key_off;          /* key literals in strs */
    bool has_key;
} vf_exp;

typedef struct vf_tbl {
    const cfg_table *rule;
    char *db, *table;
    char index[MAP_INDEX_BUF];
    uint64_t found_live; /* documents of its rows found, not soft-deleted */
    int64_t writes0;     /* the index's write counters before the row pass (-1 unknown) */
    vc_table_rep *rep;
} vf_tbl;

typedef struct vf {
    cfg c;
    bool cfg_ok;
    my_conn *my, *lk;
    sink *s;
    size_t req_cap;
    snap_pos method;
    vc_report rep;
    bool repair, json, progress;
    long settle_ms;
    /* the table in hand */
    vf_tbl *tb;
    snap_table st;
    map_out mo;
    bulk b;
    bool bulk_ok;
    ce_buf strs;
    vf_exp *ex;
    size_t nex, excap;
    vf_cand *cand;
    size_t ncand;
    uint64_t rows_done;
    int64_t estimate;
    uint64_t rate_start_ms, rate_rows;
    char err[1024];
} vf;

static uint64_t vf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int vf_sleep(uint64_t ms) { return ce_sleep_ms(ms, &vf_stop) != 0 || vf_stop; }

/* ---- the node --------------------------------------------------------------- */

/* One request with retries on transport errors, 429 and 5xx. 0 with
 * *status (and the response) when the node answered; -1 with v->err. */
static int vf_req(vf *v, const char *method, const char *path, const void *body, size_t len, long *status,
                  const char **resp, size_t *rlen)
{
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)v->c.es.retry_initial_ms, (uint64_t)v->c.es.retry_max_ms);
    for (int i = 0;; i++) {
        sink_rc rc = sink_request(v->s, method, path, body, len, status, resp, rlen, v->err, sizeof v->err);
        if (rc == SINK_OK && *status != 429 && *status < 500)
            return 0;
        if (rc == SINK_FATAL)
            return -1;
        if (rc == SINK_OK)
            snprintf(v->err, sizeof v->err, "%s %s%.300s: HTTP %ld: %.200s", method, sink_base_url(v->s), path, *status,
                     *resp ? *resp : "");
        if (i + 1 >= VF_TRIES || vf_stop)
            return -1;
        if (vf_sleep(dlv_wait_ms(ce_backoff_next(&bo), sink_retry_after_ms(v->s))))
            return -1;
    }
}

static void vf_gen_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

#define VF_GSTR(g, s, n) yajl_gen_string(g, (const unsigned char *)(s), (n))
#define VF_GKEY(g, k) yajl_gen_string(g, (const unsigned char *)(k), strlen(k))

/* One requested document of an _mget. */
typedef struct vf_get {
    const char *id;
    size_t id_len;
    const char *routing;
    size_t routing_len;
} vf_get;

/* POST index/_mget for gets[0, n): *root holds the parsed answer, docs its
 * "docs" array (n entries, in order). -1 with v->err. */
static int vf_mget(vf *v, const char *index, const vf_get *gets, size_t n, yajl_val *root, yajl_val *docs)
{
    *root = NULL;
    ce_buf body;
    ce_buf_init(&body, VF_MAX_BODY);
    int ret = -1;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    yajl_gen_config(g, yajl_gen_print_callback, vf_gen_print, &body);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "docs")) == yajl_gen_status_ok)
        s = yajl_gen_array_open(g);
    for (size_t i = 0; i < n && s == yajl_gen_status_ok; i++) {
        s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "_id")) == yajl_gen_status_ok)
            s = VF_GSTR(g, gets[i].id, gets[i].id_len);
        if (s == yajl_gen_status_ok && gets[i].routing != NULL && (s = VF_GKEY(g, "routing")) == yajl_gen_status_ok)
            s = VF_GSTR(g, gets[i].routing, gets[i].routing_len);
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
    }
    if (s == yajl_gen_status_ok && (s = yajl_gen_array_close(g)) == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s != yajl_gen_status_ok) {
        snprintf(v->err, sizeof v->err, "index %s: cannot build the _mget request (an id is not valid UTF-8?)", index);
        goto out;
    }
    char path[1200];
    if (sink_index_path(index, "/_mget?realtime=true", path, sizeof path) != 0) {
        snprintf(v->err, sizeof v->err, "index %s: name cannot be put in a URL", index);
        goto out;
    }
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    if (vf_req(v, "POST", path, body.data, body.len, &status, &resp, &rlen) != 0)
        goto out;
    if (status == 404) {
        /* no such index: every document is missing */
        *docs = NULL;
        ret = 0;
        goto out;
    }
    char perr[128];
    if (status != 200 || (*root = yajl_tree_parse(resp, perr, sizeof perr)) == NULL) {
        snprintf(v->err, sizeof v->err, "POST %s%.300s: HTTP %ld: %.300s", sink_base_url(v->s), path, status, resp);
        goto out;
    }
    const char *dp[] = {"docs", NULL};
    *docs = yajl_tree_get(*root, dp, yajl_t_array);
    if (*docs == NULL || (*docs)->u.array.len != n) {
        snprintf(v->err, sizeof v->err, "POST %s%.300s: the answer does not hold %zu docs", sink_base_url(v->s), path, n);
        goto out;
    }
    ret = 0;
out:
    if (ret != 0) {
        yajl_tree_free(*root);
        *root = NULL;
    }
    if (g != NULL)
        yajl_gen_free(g);
    ce_buf_free(&body);
    return ret;
}

/* What one _mget entry says: -1 with v->err on an error entry. */
typedef struct vf_doc {
    bool found;
    int64_t version;
    const char *routing;
    yajl_val source;
} vf_doc;

static int vf_doc_of(vf *v, yajl_val docs, size_t i, vf_doc *d)
{
    memset(d, 0, sizeof *d);
    if (docs == NULL)
        return 0;
    yajl_val e = docs->u.array.values[i];
    const char *ep[] = {"error", NULL}, *fp[] = {"found", NULL}, *vp[] = {"_version", NULL},
               *rp[] = {"_routing", NULL}, *sp[] = {"_source", NULL};
    yajl_val err = yajl_tree_get(e, ep, yajl_t_any);
    if (err != NULL) {
        char r[200];
        vc_render(err, r, sizeof r);
        snprintf(v->err, sizeof v->err, "_mget: %s", r);
        return -1;
    }
    yajl_val f = yajl_tree_get(e, fp, yajl_t_any);
    d->found = f != NULL && YAJL_IS_TRUE(f);
    yajl_val ver = yajl_tree_get(e, vp, yajl_t_number);
    d->version = ver != NULL && YAJL_IS_INTEGER(ver) ? YAJL_GET_INTEGER(ver) : -1;
    yajl_val r = yajl_tree_get(e, rp, yajl_t_string);
    d->routing = r != NULL ? YAJL_GET_STRING(r) : NULL;
    d->source = yajl_tree_get(e, sp, yajl_t_object);
    return 0;
}

/* 1 when the document is soft-deleted under the rule (FIELD true). */
static bool vf_soft_deleted(const cfg_table *rule, const vf_doc *d)
{
    if (rule->delete_mode != CFG_DELETE_SOFT || d->source == NULL)
        return false;
    const char *p[] = {rule->soft_field, NULL};
    yajl_val f = yajl_tree_get(d->source, p, yajl_t_any);
    return f != NULL && YAJL_IS_TRUE(f);
}

/* Compares an expected document line (and routing) with what the node
 * holds: 0 equal, 1 different (d), -1 with v->err. */
static int vf_compare(vf *v, const cfg_table *rule, const char *line, size_t len, const char *rt, size_t rt_len,
                      const vf_doc *doc, vc_diff *d)
{
    if (!doc->found) {
        snprintf(d->field, sizeof d->field, "%s", "");
        snprintf(d->expected, sizeof d->expected, "%s", "(document)");
        snprintf(d->indexed, sizeof d->indexed, "%s", "(absent)");
        return 1;
    }
    int rc = 0;
    if (rule->pipeline == NULL) {
        char *copy = ce_strndup(line, len), perr[128];
        yajl_val e = copy != NULL ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
        if (e == NULL) {
            snprintf(v->err, sizeof v->err, "the expected document does not parse (%s)", copy ? perr : "out of memory");
            ce_free(copy);
            return -1;
        }
        rc = vc_value_compare(e, doc->source, d);
        yajl_tree_free(e);
        ce_free(copy);
        if (rc != 0)
            return 1;
    }
    bool same = rt == NULL ? doc->routing == NULL
                           : doc->routing != NULL && strlen(doc->routing) == rt_len && memcmp(doc->routing, rt, rt_len) == 0;
    if (!same) {
        snprintf(d->field, sizeof d->field, "_routing");
        if (rt == NULL)
            snprintf(d->expected, sizeof d->expected, "(absent)");
        else
            snprintf(d->expected, sizeof d->expected, "\"%.*s\"", (int)(rt_len > 100 ? 100 : rt_len), rt);
        if (doc->routing == NULL)
            snprintf(d->indexed, sizeof d->indexed, "(absent)");
        else
            snprintf(d->indexed, sizeof d->indexed, "\"%.100s\"", doc->routing);
        return 1;
    }
    return 0;
}

/* ---- the stream's progress ---------------------------------------------------- */

static int64_t vf_pos_version(const char *file, int64_t pos) { return map_version(file, pos, 0, 0); }

/* 1 when the binlog holds no event between the checkpoint's event and P:
 * the stream has applied everything before P (it is caught up). 0 when
 * there is one, or when it cannot be told (another file, no privilege:
 * SHOW BINLOG EVENTS needs REPLICATION SLAVE / BINLOG MONITOR). */
static int vf_nothing_between(vf *v, const ckpt *k, const char *file, int64_t pos)
{
    if (strcmp(k->binlog_file, file) != 0 || strlen(file) > 200)
        return 0;
    char q[400];
    snprintf(q, sizeof q, "SHOW BINLOG EVENTS IN '%s' FROM %lld LIMIT %d", file, (long long)k->binlog_offset,
             VF_EVENTS);
    for (const char *c = file; *c; c++)
        if (*c == '\'' || *c == '\\')
            return 0;
    MYSQL *h = my_handle(v->my);
    if (mysql_query(h, q) != 0)
        return 0;
    MYSQL_RES *res = mysql_store_result(h);
    if (res == NULL)
        return 0;
    int ret = 0;
    unsigned nf = mysql_num_fields(res);
    size_t rows = mysql_num_rows(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row != NULL && nf >= 6) {
        /* the checkpoint's own event first; after it only events without
         * row changes (the transaction's end, the next one's header) may
         * start before P */
        ret = rows < VF_EVENTS;
        while ((row = mysql_fetch_row(res)) != NULL) {
            int64_t np;
            if (row[1] == NULL || row[2] == NULL || ce_parse_i64(row[1], 0, INT64_MAX, &np) != 0) {
                ret = 0;
                break;
            }
            if (np >= pos) {
                ret = 1;
                break;
            }
            const char *type = row[2], *info = row[5] ? row[5] : "";
            bool quiet = strcmp(type, "Xid") == 0 || strcmp(type, "Gtid") == 0 || strcmp(type, "Annotate_rows") == 0 ||
                         strcmp(type, "Table_map") == 0 || strcmp(type, "Binlog_checkpoint") == 0 ||
                         (strcmp(type, "Query") == 0 && (strncmp(info, "COMMIT", 6) == 0 || strcmp(info, "BEGIN") == 0));
            if (!quiet) {
                ret = 0;
                break;
            }
        }
    }
    mysql_free_result(res);
    return ret;
}

/* Waits until the service's checkpoint is at or past P (1), or it did not
 * move for VF_QUIET_MS, or settle_ms passed (0). No checkpoint file: the
 * quiet wait only. */
static int vf_settle(vf *v, const char *file, int64_t pos)
{
    int64_t want = vf_pos_version(file, pos);
    uint64_t start = vf_mono_ms(), changed = start;
    ckpt last = {0};
    bool have = false;
    for (;;) {
        if (v->c.checkpoint.file[0] != '\0') {
            ckpt k;
            char e[512];
            if (ckpt_read(v->c.checkpoint.file, &k, e, sizeof e) == 0) {
                int64_t at = vf_pos_version(k.binlog_file, k.binlog_offset);
                if (want >= 0 && (at >= want || vf_nothing_between(v, &k, file, pos)))
                    return 1;
                if (!have || k.batch_id != last.batch_id || k.binlog_offset != last.binlog_offset ||
                    strcmp(k.binlog_file, last.binlog_file) != 0) {
                    if (have)
                        changed = vf_mono_ms();
                    last = k;
                    have = true;
                }
            }
        }
        uint64_t now = vf_mono_ms();
        if (now - changed >= VF_QUIET_MS || now - start >= (uint64_t)v->settle_ms)
            return 0;
        if (vf_sleep(200))
            return 0;
    }
}

/* ---- key literals and re-reads -------------------------------------------------- */

/* The literal of a key column from the Canal text the row carries; -1 when
 * that text cannot be written back exactly (FLOAT, BINARY(n)). */
static int vf_key_literal(ce_buf *b, const snap_col *col, const char *v, size_t len)
{
    char e[200];
    if (col->val_kind == SNAP_VAL_FLOAT || col->val_kind == SNAP_VAL_BINARY_N)
        return -1;
    if (col->val_kind == SNAP_VAL_BYTES) {
        /* one code point per byte (ISO-8859-1 as UTF-8) back to the bytes */
        ce_buf raw;
        ce_buf_init(&raw, len + 1);
        int rc = 0;
        for (size_t i = 0; i < len && rc == 0; i++) {
            uint8_t c = (uint8_t)v[i];
            if (c < 0x80)
                rc = ce_buf_putc(&raw, c);
            else if ((c == 0xC2 || c == 0xC3) && i + 1 < len)
                rc = ce_buf_putc(&raw, (uint8_t)(((c & 0x03) << 6) | ((uint8_t)v[++i] & 0x3F)));
            else
                rc = -1;
        }
        if (rc == 0)
            rc = snap_key_literal(b, col, (const char *)raw.data, raw.len, e, sizeof e);
        ce_buf_free(&raw);
        return rc;
    }
    return snap_key_literal(b, col, v, len, e, sizeof e);
}

/* The key literals of a row (NUL-terminated each) appended to b; -1 when
 * one cannot be written back. */
static int vf_row_keys(const snap_table *t, const row_event *ev, ce_buf *b)
{
    for (size_t k = 0; k < t->n_key; k++) {
        size_t ci = t->key[k];
        if (ci >= ev->after.n || ev->after.cols[ci].is_null)
            return -1;
        const row_col *c = &ev->after.cols[ci];
        if (vf_key_literal(b, &t->cols[ci], c->value, c->value_len) != 0 || ce_buf_putc(b, 0) != 0)
            return -1;
    }
    return 0;
}

static int vf_binlog_snapshot_pos(vf *v, char *file, size_t flen, int64_t *pos)
{
    MYSQL *h = my_handle(v->my);
    if (mysql_query(h, "SHOW STATUS LIKE 'binlog_snapshot_%'") != 0) {
        my_error(v->my, NULL, v->err, sizeof v->err);
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(h);
    if (res == NULL) {
        my_error(v->my, NULL, v->err, sizeof v->err);
        return -1;
    }
    char f[256] = "", p[32] = "";
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_file") == 0)
            snprintf(f, sizeof f, "%s", row[1]);
        else if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_position") == 0)
            snprintf(p, sizeof p, "%s", row[1]);
    }
    mysql_free_result(res);
    if (f[0] == '\0' || ce_parse_i64(p, 0, INT64_MAX, pos) != 0) {
        snprintf(v->err, sizeof v->err, "mysql %s: no binlog_snapshot_file/position (use [reindex] position = "
                 "lock_tables on MySQL)", my_peer(v->my));
        return -1;
    }
    snprintf(file, flen, "%s", f);
    return 0;
}

/* Reads the rows with the given keys (keysets[i]: n_key literals) in one
 * consistent snapshot, calling fn for each; P into file/pos. */
static int vf_read_keys(vf *v, const char *const *keysets, size_t n, snap_row_fn fn, void *ud, char *file,
                        size_t flen, int64_t *pos)
{
    const snap_table *t = &v->st;
    int ret = -1;
    bool in_txn = false, locked = false;
    MYSQL_RES *res = NULL;
    ce_buf sql, suffix, vals;
    ce_buf_init(&sql, 64u << 20);
    ce_buf_init(&suffix, 1u << 20);
    ce_buf_init(&vals, 1u << 30);
    row_col *cols = ce_calloc(t->n, sizeof *cols);
    size_t *offs = ce_calloc(t->n, sizeof *offs);
    if (cols == NULL || offs == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    /* snap_build_select's text without its ORDER BY ... LIMIT, which is put
     * back after the WHERE */
    int brc = ce_buf_append_str(&suffix, " ORDER BY ");
    for (size_t k = 0; k < t->n_key; k++) {
        if (k > 0)
            brc |= ce_buf_append_str(&suffix, ", ");
        brc |= snap_quote_ident(&suffix, t->cols[t->key[k]].name);
    }
    char lim[40];
    snprintf(lim, sizeof lim, " LIMIT %zu", n);
    brc |= ce_buf_append_str(&suffix, lim);
    brc |= snap_build_select(&sql, t, NULL, (long)n);
    if (brc != 0 || sql.len < suffix.len || memcmp(sql.data + sql.len - suffix.len, suffix.data, suffix.len) != 0) {
        snprintf(v->err, sizeof v->err, "table %s.%s: cannot build the re-read query", t->db, t->table);
        goto out;
    }
    sql.len -= suffix.len;
    brc = ce_buf_append_str(&sql, " WHERE ");
    for (size_t i = 0; i < n; i++) {
        brc |= ce_buf_append_str(&sql, i ? " OR (" : "(");
        const char *lit = keysets[i];
        for (size_t k = 0; k < t->n_key; k++) {
            if (k > 0)
                brc |= ce_buf_append_str(&sql, " AND ");
            brc |= snap_quote_ident(&sql, t->cols[t->key[k]].name);
            brc |= ce_buf_append_str(&sql, " = ");
            brc |= ce_buf_append_str(&sql, lit);
            lit += strlen(lit) + 1;
        }
        brc |= ce_buf_putc(&sql, ')');
    }
    brc |= ce_buf_append(&sql, suffix.data, suffix.len);
    brc |= ce_buf_terminate(&sql);
    if (brc != 0) {
        snprintf(v->err, sizeof v->err, "table %s.%s: the re-read query is too large", t->db, t->table);
        goto out;
    }
    if (v->method == SNAP_POS_LOCK_TABLES) {
        my_rc mrc;
        if (v->lk == NULL && (v->lk = my_connect(&v->c.mysql, &mrc, v->err, sizeof v->err)) == NULL)
            goto out;
        ce_buf lq;
        ce_buf_init(&lq, 2048);
        int lrc = ce_buf_append_str(&lq, "LOCK TABLES ") | snap_quote_ident(&lq, t->db) | ce_buf_putc(&lq, '.') |
                  snap_quote_ident(&lq, t->table) | ce_buf_append_str(&lq, " READ") | ce_buf_terminate(&lq);
        my_rc r = lrc == 0 ? my_exec(v->lk, (const char *)lq.data, v->err, sizeof v->err) : MY_ERR_QUERY;
        ce_buf_free(&lq);
        if (r != MY_OK)
            goto out;
        locked = true;
        if (snap_master_position(v->lk, file, flen, pos, v->err, sizeof v->err) != 0)
            goto out;
    }
    if (my_exec(v->my, "START TRANSACTION WITH CONSISTENT SNAPSHOT", v->err, sizeof v->err) != MY_OK)
        goto out;
    in_txn = true;
    if (locked) {
        locked = false;
        if (my_exec(v->lk, "UNLOCK TABLES", v->err, sizeof v->err) != MY_OK)
            goto out;
    }
    if (v->method == SNAP_POS_BINLOG_SNAPSHOT && vf_binlog_snapshot_pos(v, file, flen, pos) != 0)
        goto out;
    MYSQL *h = my_handle(v->my);
    if (mysql_query(h, (const char *)sql.data) != 0 || (res = mysql_store_result(h)) == NULL) {
        my_error(v->my, NULL, v->err, sizeof v->err);
        goto out;
    }
    in_txn = false;
    if (my_exec(v->my, "COMMIT", v->err, sizeof v->err) != MY_OK)
        goto out;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        ce_buf_reset(&vals);
        for (size_t i = 0; i < t->n; i++) {
            offs[i] = vals.len;
            if ((row[i] != NULL && snap_canal_text(&vals, t->cols[i].val_kind, row[i], len[i]) != 0) ||
                ce_buf_putc(&vals, 0) != 0) {
                snprintf(v->err, sizeof v->err, "table %s.%s: column %s: value cannot be converted", t->db, t->table,
                         t->cols[i].name);
                goto out;
            }
        }
        for (size_t i = 0; i < t->n; i++) {
            size_t vl = (i + 1 < t->n ? offs[i + 1] : vals.len) - offs[i] - 1;
            cols[i] = (row_col){.name = t->cols[i].name,
                                .value = (const char *)vals.data + offs[i],
                                .value_len = vl,
                                .mysql_type = t->cols[i].column_type,
                                .is_null = row[i] == NULL,
                                .is_key = t->cols[i].is_pk,
                                .updated = true};
        }
        row_event ev = {.schema = t->db,
                        .table = t->table,
                        .op = ROW_INSERT,
                        .after = {.cols = cols, .n = t->n},
                        .logfile = file,
                        .offset = *pos,
                        .gtid = "",
                        .snapshot = true};
        if (fn(ud, &ev) != 0)
            goto out;
    }
    ret = 0;
out:
    if (res != NULL)
        mysql_free_result(res);
    if (in_txn) {
        char e2[256];
        (void)my_exec(v->my, "ROLLBACK", e2, sizeof e2);
    }
    if (locked) {
        char e2[256];
        (void)my_exec(v->lk, "UNLOCK TABLES", e2, sizeof e2);
    }
    ce_free(cols);
    ce_free(offs);
    ce_buf_free(&sql);
    ce_buf_free(&suffix);
    ce_buf_free(&vals);
    return ret;
}

/* ---- expected documents ----------------------------------------------------- */

static void vf_exp_reset(vf *v)
{
    bulk_reset(&v->b);
    ce_buf_reset(&v->strs);
    v->nex = 0;
}

/* map_row of one row into the bulk and an vf_exp entry (keys: also its key
 * literals). 0, or -1 with v->err. */
static int vf_expect(vf *v, const row_event *ev, bool keys)
{
    int rc = map_row(v->tb->rule, ev, &v->mo, v->err, sizeof v->err);
    if (rc == MAP_NO_ID) {
        snprintf(v->err, sizeof v->err, "table %s.%s: no id (no primary key and no id columns in its rule)",
                 ev->schema, ev->table);
        return -1;
    }
    if (rc != MAP_OK)
        return -1;
    for (size_t i = 0; i < v->mo.n; i++) {
        map_action a = v->mo.act[i];
        if (a.op != MAP_INDEX)
            continue;
        a.index = v->tb->index;
        if (v->nex == v->excap) {
            size_t cap = v->excap ? v->excap * 2 : 1024;
            vf_exp *ne = ce_realloc(v->ex, cap * sizeof *ne);
            if (ne == NULL) {
                snprintf(v->err, sizeof v->err, "out of memory");
                return -1;
            }
            v->ex = ne;
            v->excap = cap;
        }
        vf_exp *x = &v->ex[v->nex];
        memset(x, 0, sizeof *x);
        x->act = v->b.n_actions;
        if (bulk_append(&v->b, &a, v->err, sizeof v->err) != 0)
            return -1;
        x->id_off = v->strs.len;
        x->id_len = a.id_len;
        if (ce_buf_append(&v->strs, a.id, a.id_len) != 0)
            goto oom;
        if (a.routing != NULL) {
            x->has_rt = true;
            x->rt_off = v->strs.len;
            x->rt_len = a.routing_len;
            if (ce_buf_append(&v->strs, a.routing, a.routing_len) != 0)
                goto oom;
        }
        if (keys) {
            size_t before = v->strs.len;
            x->key_off = before;
            x->has_key = vf_row_keys(&v->st, ev, &v->strs) == 0;
            if (!x->has_key)
                v->strs.len = before;
        }
        v->nex++;
    }
    return 0;
oom:
    snprintf(v->err, sizeof v->err, "table %s.%s: the chunk is too large", ev->schema, ev->table);
    return -1;
}

/* The document line of action i (without its newline). */
static void vf_doc_line(const vf *v, size_t i, const char **p, size_t *n)
{
    const uint8_t *ap;
    size_t an;
    bulk_action_bytes(&v->b, i, &ap, &an);
    size_t off = v->b.meta[i].doc - v->b.meta[i].start;
    *p = (const char *)ap + off;
    *n = an > off ? an - off - 1 : 0;
}

static const char *vf_str(const vf *v, size_t off) { return (const char *)v->strs.data + off; }

/* ---- the row pass ------------------------------------------------------------ */

static int vf_add_cand(vf *v, const vf_exp *x, int kind, const vc_diff *d, const vf_doc *doc)
{
    vc_table_rep *tr = v->tb->rep;
    if (v->ncand >= VF_CAND_MAX || !x->has_key) {
        /* not re-checked: reported as found */
        vc_list *l = kind == VF_MISSING ? &tr->missing : &tr->different;
        return vc_list_add(l, v->rep.max_report, vf_str(v, x->id_off), x->id_len, kind == VF_MISSING ? NULL : d);
    }
    if (v->ncand % 256 == 0) {
        vf_cand *nc = ce_realloc(v->cand, (v->ncand + 256) * sizeof *nc);
        if (nc == NULL)
            return -1;
        v->cand = nc;
    }
    vf_cand *c = &v->cand[v->ncand];
    memset(c, 0, sizeof *c);
    size_t klen = 0;
    const char *k = vf_str(v, x->key_off);
    for (size_t i = 0; i < v->st.n_key; i++)
        klen += strlen(k + klen) + 1;
    c->id = ce_strndup(vf_str(v, x->id_off), x->id_len);
    c->id_len = x->id_len;
    c->keys = ce_malloc(klen);
    if (x->has_rt)
        c->routing = ce_strndup(vf_str(v, x->rt_off), x->rt_len);
    c->routing_len = x->rt_len;
    if (c->id == NULL || c->keys == NULL || (x->has_rt && c->routing == NULL)) {
        ce_free(c->id);
        ce_free(c->keys);
        ce_free(c->routing);
        return -1;
    }
    memcpy(c->keys, k, klen);
    c->kind = kind;
    c->d = *d;
    (void)doc;
    v->ncand++;
    return 0;
}

static void vf_cands_free(vf *v)
{
    for (size_t i = 0; i < v->ncand; i++) {
        ce_free(v->cand[i].id);
        ce_free(v->cand[i].routing);
        ce_free(v->cand[i].keys);
        ce_free(v->cand[i].bad_routing);
        ce_free(v->cand[i].fix);
    }
    ce_free(v->cand);
    v->cand = NULL;
    v->ncand = 0;
}

/* _mget of the chunk's expected documents and the comparison. */
static int vf_check_chunk(vf *v)
{
    vf_get *gets = ce_calloc(VF_MGET_BATCH, sizeof *gets);
    if (gets == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        return -1;
    }
    int ret = -1;
    for (size_t at = 0; at < v->nex; at += VF_MGET_BATCH) {
        size_t n = v->nex - at < VF_MGET_BATCH ? v->nex - at : VF_MGET_BATCH;
        for (size_t i = 0; i < n; i++) {
            const vf_exp *x = &v->ex[at + i];
            gets[i] = (vf_get){vf_str(v, x->id_off), x->id_len, x->has_rt ? vf_str(v, x->rt_off) : NULL, x->rt_len};
        }
        yajl_val root = NULL, docs = NULL;
        if (vf_mget(v, v->tb->index, gets, n, &root, &docs) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            const vf_exp *x = &v->ex[at + i];
            vf_doc doc;
            if (vf_doc_of(v, docs, i, &doc) != 0) {
                yajl_tree_free(root);
                goto out;
            }
            if (doc.found) {
                v->tb->rep->documents++;
                if (!vf_soft_deleted(v->tb->rule, &doc))
                    v->tb->found_live++;
            }
            const char *line;
            size_t len;
            vf_doc_line(v, x->act, &line, &len);
            vc_diff d;
            int rc = vf_compare(v, v->tb->rule, line, len, x->has_rt ? vf_str(v, x->rt_off) : NULL, x->rt_len, &doc, &d);
            if (rc < 0 ||
                (rc == 1 && vf_add_cand(v, x, doc.found ? VF_DIFFERENT : VF_MISSING, &d, &doc) != 0)) {
                if (rc > 0)
                    snprintf(v->err, sizeof v->err, "out of memory");
                yajl_tree_free(root);
                goto out;
            }
        }
        yajl_tree_free(root);
    }
    ret = 0;
out:
    ce_free(gets);
    return ret;
}

static int vf_row(void *ud, const row_event *ev)
{
    vf *v = ud;
    return vf_expect(v, ev, true) == 0 ? 0 : 1;
}

static void vf_show_progress(vf *v, bool done)
{
    if (!v->progress)
        return;
    int64_t est = v->estimate > (int64_t)v->rows_done ? v->estimate : (int64_t)v->rows_done;
    double pct = est > 0 ? 100.0 * (double)v->rows_done / (double)est : 100.0;
    int bar = (int)(pct / 5);
    char b[21];
    for (int i = 0; i < 20; i++)
        b[i] = i < bar ? '#' : '.';
    b[20] = '\0';
    fprintf(stderr, "\rverify %s.%s [%s] %llu of ~%lld rows (%.0f%%)%s", v->tb->db, v->tb->table, b,
            (unsigned long long)v->rows_done, (long long)est, pct, done ? "\n" : "");
    fflush(stderr);
}

static int vf_chunk(void *ud, const snap_chunk_info *ci)
{
    vf *v = ud;
    int rc = vf_check_chunk(v);
    vf_exp_reset(v);
    if (rc != 0)
        return 1;
    v->rows_done += ci->rows;
    v->tb->rep->rows += ci->rows;
    vf_show_progress(v, false);
    long max = v->c.reindex.max_rows_per_s;
    if (max > 0) {
        v->rate_rows += ci->rows;
        uint64_t due = v->rate_start_ms + v->rate_rows * 1000u / (uint64_t)max, now = vf_mono_ms();
        if (due > now && vf_sleep(due - now))
            return 1;
    }
    if (vf_stop) {
        snprintf(v->err, sizeof v->err, "stopped by a signal");
        return 1;
    }
    return 0;
}

/* ---- re-checks ---------------------------------------------------------------- */

static int vf_rr_row(void *ud, const row_event *ev)
{
    vf *v = ud;
    return vf_expect(v, ev, false) == 0 ? 0 : 1;
}

/* One round over the pending candidates: re-read their rows at a fresh P,
 * wait for the stream to pass P, fetch the documents, compare. */
static int vf_round(vf *v, int round)
{
    const char **keysets = ce_calloc(VF_REREAD_BATCH, sizeof *keysets);
    size_t *which = ce_calloc(VF_REREAD_BATCH, sizeof *which);
    vf_get *gets = ce_calloc(VF_REREAD_BATCH, sizeof *gets);
    int ret = -1;
    if (keysets == NULL || which == NULL || gets == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    size_t i = 0;
    while (i < v->ncand) {
        size_t n = 0;
        for (; i < v->ncand && n < VF_REREAD_BATCH; i++)
            if (!v->cand[i].final) {
                which[n] = i;
                keysets[n++] = v->cand[i].keys;
            }
        if (n == 0)
            break;
        char file[256];
        int64_t pos = 0;
        vf_exp_reset(v);
        if (vf_read_keys(v, keysets, n, vf_rr_row, v, file, sizeof file, &pos) != 0)
            goto out;
        bool passed = vf_settle(v, file, pos) == 1;
        int64_t pver = map_version(file, pos, 0, (unsigned)v->c.es.version_epoch);
        /* the document under each candidate's id, with the routing its row has now */
        for (size_t j = 0; j < n; j++) {
            vf_cand *c = &v->cand[which[j]];
            gets[j] = (vf_get){c->id, c->id_len, c->routing, c->routing_len};
            for (size_t e = 0; e < v->nex; e++) {
                const vf_exp *x = &v->ex[e];
                if (x->id_len == c->id_len && memcmp(vf_str(v, x->id_off), c->id, c->id_len) == 0) {
                    gets[j].routing = x->has_rt ? vf_str(v, x->rt_off) : NULL;
                    gets[j].routing_len = x->rt_len;
                    break;
                }
            }
        }
        yajl_val root = NULL, docs = NULL;
        if (vf_mget(v, v->tb->index, gets, n, &root, &docs) != 0)
            goto out;
        for (size_t j = 0; j < n; j++) {
            vf_cand *c = &v->cand[which[j]];
            vf_doc doc;
            if (vf_doc_of(v, docs, j, &doc) != 0) {
                yajl_tree_free(root);
                goto out;
            }
            const vf_exp *x = NULL;
            for (size_t e = 0; e < v->nex && x == NULL; e++)
                if (v->ex[e].id_len == c->id_len && memcmp(vf_str(v, v->ex[e].id_off), c->id, c->id_len) == 0)
                    x = &v->ex[e];
            if (x == NULL) {
                /* the row is gone (or has another id now): its document is the extra pass's business */
                c->final = true;
                continue;
            }
            const char *line;
            size_t len;
            vf_doc_line(v, x->act, &line, &len);
            vc_diff d;
            int rc = vf_compare(v, v->tb->rule, line, len, x->has_rt ? vf_str(v, x->rt_off) : NULL, x->rt_len, &doc, &d);
            if (rc < 0) {
                yajl_tree_free(root);
                goto out;
            }
            if (rc == 0) {
                c->final = true; /* a change in flight at the first read */
                continue;
            }
            /* still different: older than P (or missing), the stream past P */
            bool older = !doc.found || !v->c.es.versioning_on || (doc.version >= 0 && doc.version < pver);
            c->kind = doc.found ? VF_DIFFERENT : VF_MISSING;
            c->d = d;
            ce_free(c->bad_routing);
            c->bad_routing = NULL;
            if (doc.found && strcmp(d.field, "_routing") == 0 && doc.routing != NULL)
                c->bad_routing = ce_strdup(doc.routing);
            if (v->repair) {
                const uint8_t *ap;
                size_t an;
                bulk_action_bytes(&v->b, x->act, &ap, &an);
                ce_free(c->fix);
                c->fix = ce_strndup((const char *)ap, an);
                c->fix_len = c->fix != NULL ? an : 0;
            }
            if (older)
                c->rounds++;
            else
                c->rounds = 0;
            if (older && doc.found && passed && v->c.es.versioning_on) {
                c->confirmed = c->final = true; /* the stream has passed P and the document predates P */
            } else if (round == VF_ROUNDS) {
                c->final = true;
                if (c->rounds == VF_ROUNDS)
                    c->confirmed = true;
                else
                    c->changing = true;
            }
        }
        yajl_tree_free(root);
    }
    ret = 0;
out:
    vf_exp_reset(v);
    ce_free(keysets);
    ce_free(which);
    ce_free(gets);
    return ret;
}

static int vf_recheck(vf *v)
{
    for (size_t i = 0; i < v->ncand; i++) {
        v->cand[i].final = v->cand[i].confirmed = v->cand[i].changing = false;
        v->cand[i].rounds = 0;
    }
    for (int r = 1; r <= VF_ROUNDS; r++) {
        bool pending = false;
        for (size_t i = 0; i < v->ncand && !pending; i++)
            pending = !v->cand[i].final;
        if (!pending)
            break;
        if (vf_round(v, r) != 0)
            return -1;
    }
    return 0;
}

/* ---- repair ------------------------------------------------------------------- */

/* Sends the bytes of acts (each one action, with its document line) through
 * the delivery path. -1 with v->err when a request failed for good. */
static int vf_send(vf *v, dlv_action *acts, size_t n)
{
    if (n == 0)
        return 0;
    dlv_result *res = ce_calloc(n, sizeof *res);
    if (res == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        return -1;
    }
    sink *sinks[1] = {v->s};
    dlv_transport t;
    dlv_sink_transport(&t, sinks);
    dlv_opts o = {.req_cap = &v->req_cap,
                  .streams = 1,
                  .max_retries = v->c.es.max_retries > 0 ? v->c.es.max_retries : 10,
                  .retry_initial_ms = (uint64_t)v->c.es.retry_initial_ms,
                  .retry_max_ms = (uint64_t)v->c.es.retry_max_ms};
    dlv_rc rc = dlv_send(acts, n, &t, &o, res, v->err, sizeof v->err);
    int ret = 0;
    if (rc != DLV_DONE) {
        ret = -1;
    } else {
        for (size_t i = 0; i < n; i++)
            if (res[i].item.cls != SINK_ITEM_OK) {
                snprintf(v->err, sizeof v->err, "repair: the node refused a document (HTTP %d %s: %s)",
                         res[i].item.status, res[i].item.type, res[i].item.reason);
                ce_log(CE_LOG_WARN, "verify", "%s", v->err);
            }
    }
    ce_free(res);
    return ret;
}

/* A delete action (version; routing) as _bulk bytes into out. */
static int vf_delete_bytes(const char *index, const char *id, size_t id_len, const char *rt, size_t rt_len,
                           int64_t version, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -1;
    yajl_gen_config(g, yajl_gen_print_callback, vf_gen_print, out);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "delete")) == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "_index")) == yajl_gen_status_ok)
        s = VF_GKEY(g, index);
    if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "_id")) == yajl_gen_status_ok)
        s = VF_GSTR(g, id, id_len);
    if (s == yajl_gen_status_ok && rt != NULL && (s = VF_GKEY(g, "routing")) == yajl_gen_status_ok)
        s = VF_GSTR(g, rt, rt_len);
    if (s == yajl_gen_status_ok && version > 0) {
        if ((s = VF_GKEY(g, "version")) == yajl_gen_status_ok)
            s = yajl_gen_integer(g, (long long)version);
        if (s == yajl_gen_status_ok && (s = VF_GKEY(g, "version_type")) == yajl_gen_status_ok)
            s = VF_GKEY(g, "external");
    }
    if (s == yajl_gen_status_ok && (s = yajl_gen_map_close(g)) == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    yajl_gen_free(g);
    return s == yajl_gen_status_ok && ce_buf_putc(out, '\n') == 0 ? 0 : -1;
}

/* Re-sends every confirmed candidate (its row's document at version P - 1;
 * a wrongly routed copy deleted first at P - 2), then re-checks them and
 * counts the fixed ones. */
static int vf_repair_rows(vf *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->ncand; i++)
        n += v->cand[i].confirmed && v->cand[i].fix != NULL ? 2 : 0;
    if (n == 0)
        return 0;
    dlv_action *acts = ce_calloc(n, sizeof *acts);
    ce_buf dels;
    ce_buf_init(&dels, VF_MAX_BODY);
    int ret = -1;
    if (acts == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    /* deletes first into one buffer (it must not move while acts point into it) */
    size_t *doff = ce_calloc(v->ncand, sizeof *doff), *dlen = ce_calloc(v->ncand, sizeof *dlen);
    if (doff == NULL || dlen == NULL) {
        ce_free(doff);
        ce_free(dlen);
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < v->ncand; i++) {
        vf_cand *c = &v->cand[i];
        if (!c->confirmed || c->fix == NULL || c->bad_routing == NULL)
            continue;
        /* the version of the fix is P - 1; the delete of the stray copy goes just below it */
        const char *vp = strstr(c->fix, "\"version\":");
        int64_t ver = 0;
        if (vp != NULL) {
            char num[32];
            size_t k = 0;
            for (vp += 10; k + 1 < sizeof num && *vp >= '0' && *vp <= '9'; vp++)
                num[k++] = *vp;
            num[k] = '\0';
            if (ce_parse_i64(num, 1, INT64_MAX, &ver) != 0)
                ver = 0;
        }
        doff[i] = dels.len;
        if (vf_delete_bytes(v->tb->index, c->id, c->id_len, c->bad_routing, strlen(c->bad_routing),
                            ver > 1 ? ver - 1 : 0, &dels) != 0) {
            ce_free(doff);
            ce_free(dlen);
            snprintf(v->err, sizeof v->err, "out of memory");
            goto out;
        }
        dlen[i] = dels.len - doff[i];
    }
    size_t k = 0;
    for (size_t i = 0; i < v->ncand; i++) {
        vf_cand *c = &v->cand[i];
        if (!c->confirmed || c->fix == NULL)
            continue;
        if (dlen[i] > 0)
            acts[k++] = (dlv_action){dels.data + doff[i], dlen[i], 0};
        acts[k++] = (dlv_action){(const uint8_t *)c->fix, c->fix_len, 0};
    }
    ce_free(doff);
    ce_free(dlen);
    if (vf_send(v, acts, k) != 0)
        goto out;
    ret = 0;
out:
    ce_free(acts);
    ce_buf_free(&dels);
    return ret;
}

/* ---- one table ------------------------------------------------------------------ */

static int vf_table(vf *v, vf_tbl *tb)
{
    int ret = -1;
    my_rc mrc;
    v->tb = tb;
    v->rows_done = 0;
    v->rate_start_ms = vf_mono_ms();
    v->rate_rows = 0;
    if (snap_describe(v->my, tb->db, tb->table, &v->st, &mrc, v->err, sizeof v->err) != 0)
        return -1;
    v->estimate = snap_estimate_rows(v->my, tb->db, tb->table);
    vf_exp_reset(v);
    snap_stats ss;
    int rc = snap_read_from(v->my, &v->c.mysql, &v->st, v->c.reindex.chunk_rows, v->method, NULL, vf_row, vf_chunk, v,
                            &ss, v->err, sizeof v->err);
    vf_show_progress(v, true);
    if (rc != 0)
        goto out;
    if (v->ncand > 0) {
        if (vf_recheck(v) != 0)
            goto out;
        size_t conf = 0, chg = 0;
        for (size_t i = 0; i < v->ncand; i++) {
            conf += v->cand[i].confirmed;
            chg += v->cand[i].changing;
        }
        ce_log(CE_LOG_INFO, "verify",
               "%s.%s: %zu difference(s) at the first read: %zu confirmed, %zu resolved by the re-check (the row or "
               "its document changed meanwhile), %zu still changing",
               tb->db, tb->table, v->ncand, conf, v->ncand - conf - chg, chg);
        if (v->repair) {
            if (vf_repair_rows(v) != 0)
                goto out;
            /* re-verify what was sent: fresh re-check rounds of the confirmed rows */
            bool *was = ce_calloc(v->ncand ? v->ncand : 1, sizeof *was);
            if (was == NULL) {
                snprintf(v->err, sizeof v->err, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < v->ncand; i++) {
                was[i] = v->cand[i].confirmed;
                tb->rep->changing += v->cand[i].changing;
            }
            for (size_t i = 0; i < v->ncand; i++) {
                v->cand[i].confirmed = v->cand[i].changing = false;
                v->cand[i].final = !was[i];
                v->cand[i].rounds = 0;
            }
            int rr = 0;
            for (int r = 1; r <= VF_ROUNDS && rr == 0; r++) {
                bool pending = false;
                for (size_t i = 0; i < v->ncand && !pending; i++)
                    pending = !v->cand[i].final;
                if (!pending)
                    break;
                rr = vf_round(v, r);
            }
            if (rr != 0) {
                ce_free(was);
                goto out;
            }
            for (size_t i = 0; i < v->ncand; i++) {
                vf_cand *c = &v->cand[i];
                if (!was[i])
                    continue;
                vc_list *l = c->kind == VF_MISSING ? &tb->rep->missing : &tb->rep->different;
                if (vc_list_add(l, v->rep.max_report, c->id, c->id_len, c->kind == VF_MISSING ? NULL : &c->d) != 0) {
                    ce_free(was);
                    snprintf(v->err, sizeof v->err, "out of memory");
                    goto out;
                }
                if (!c->confirmed && !c->changing)
                    tb->rep->fixed++;
            }
            ce_free(was);
        } else {
            for (size_t i = 0; i < v->ncand; i++) {
                vf_cand *c = &v->cand[i];
                if (c->changing)
                    tb->rep->changing++;
                if (!c->confirmed)
                    continue;
                vc_list *l = c->kind == VF_MISSING ? &tb->rep->missing : &tb->rep->different;
                if (vc_list_add(l, v->rep.max_report, c->id, c->id_len, c->kind == VF_MISSING ? NULL : &c->d) != 0) {
                    snprintf(v->err, sizeof v->err, "out of memory");
                    goto out;
                }
            }
        }
    }
    ret = 0;
out:
    vf_cands_free(v);
    vf_exp_reset(v);
    snap_table_free(&v->st);
    return ret;
}

/* ---- the extra pass -------------------------------------------------------------- */

typedef struct vf_hent {
    char *key; /* id \0 routing (routing may be empty) */
    size_t klen;
    size_t id_len;
    int64_t version;
    bool seen;
} vf_hent;

typedef struct vf_hset {
    vf_hent *v;
    size_t cap, n;
    bool by_id; /* one shard: an id is one document whatever its routing */
} vf_hset;

static uint64_t vf_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* key: id \0 routing; by_id sets compare the id part only. */
static vf_hent *vf_hfind(vf_hset *s, const char *key, size_t klen, size_t id_len, bool insert)
{
    size_t m = s->cap - 1, cl = s->by_id ? id_len : klen;
    for (size_t i = (size_t)vf_hash(key, cl) & m;; i = (i + 1) & m) {
        vf_hent *e = &s->v[i];
        if (e->key == NULL)
            return insert ? e : NULL;
        if ((s->by_id ? e->id_len : e->klen) == cl && memcmp(e->key, key, cl) == 0)
            return e;
    }
}

static void vf_hclear(vf_hset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        ce_free(s->v[i].key);
    memset(s->v, 0, s->cap * sizeof *s->v);
    s->n = 0;
}

static int vf_hkey(ce_buf *b, const char *id, size_t id_len, const char *rt, size_t rt_len)
{
    ce_buf_reset(b);
    return ce_buf_append(b, id, id_len) | ce_buf_putc(b, 0) | (rt ? ce_buf_append(b, rt, rt_len) : 0);
}

typedef struct vf_scan {
    vf *v;
    vf_hset *set;
    ce_buf key;
    const vf_tbl *tb;
} vf_scan;

static int vf_scan_row(void *ud, const row_event *ev)
{
    vf_scan *sc = ud;
    vf *v = sc->v;
    int rc = map_row(sc->tb->rule, ev, &v->mo, v->err, sizeof v->err);
    if (rc != MAP_OK)
        return 1;
    for (size_t i = 0; i < v->mo.n; i++) {
        const map_action *a = &v->mo.act[i];
        if (a->op != MAP_INDEX)
            continue;
        if (vf_hkey(&sc->key, a->id, a->id_len, a->routing, a->routing_len) != 0)
            return 1;
        vf_hent *e = vf_hfind(sc->set, (const char *)sc->key.data, sc->key.len, a->id_len, false);
        if (e != NULL)
            e->seen = true;
    }
    return vf_stop ? 1 : 0;
}

/* Strikes the ids every table of the index produces now; P of the first
 * chunk and of the last into p0/p1. */
static int vf_rescan(vf *v, vf_tbl *tbls, size_t nt, const char *index, vf_hset *set, char *f0, int64_t *p0,
                     char *f1, int64_t *p1)
{
    vf_scan sc = {.v = v, .set = set};
    ce_buf_init(&sc.key, 1u << 20);
    int ret = -1;
    bool first = true;
    for (size_t i = 0; i < nt; i++) {
        if (strcmp(tbls[i].index, index) != 0)
            continue;
        my_rc mrc;
        sc.tb = &tbls[i];
        if (snap_describe(v->my, tbls[i].db, tbls[i].table, &v->st, &mrc, v->err, sizeof v->err) != 0)
            goto out;
        snap_stats ss;
        int rc = snap_read_from(v->my, &v->c.mysql, &v->st, v->c.reindex.chunk_rows, v->method, NULL, vf_scan_row, NULL,
                                &sc, &ss, v->err, sizeof v->err);
        snap_table_free(&v->st);
        if (rc != 0)
            goto out;
        if (first) {
            snprintf(f0, 256, "%s", ss.first_file);
            *p0 = ss.first_pos;
            first = false;
        }
        snprintf(f1, 256, "%s", ss.last_file);
        *p1 = ss.last_pos;
    }
    ret = 0;
out:
    ce_buf_free(&sc.key);
    return ret;
}

/* Confirms or drops what is left in the window; --repair deletes it. */
static int vf_window_done(vf *v, vf_tbl *tbls, size_t nt, vc_index_rep *xr, vf_hset *set)
{
    if (set->n == 0)
        return 0;
    char f0[256] = "", f1[256] = "";
    int64_t p0 = 0, p1 = 0;
    if (vf_rescan(v, tbls, nt, xr->index, set, f0, &p0, f1, &p1) != 0)
        return -1;
    int64_t v0 = map_version(f0, p0, 0, (unsigned)v->c.es.version_epoch);
    /* the candidates: not produced by any row at its chunk's P */
    size_t nc = 0;
    for (size_t i = 0; i < set->cap; i++)
        if (set->v[i].key != NULL && !set->v[i].seen)
            nc++;
    if (nc == 0)
        return 0;
    (void)vf_settle(v, f1, p1);
    vf_get *gets = ce_calloc(VF_MGET_BATCH, sizeof *gets);
    vf_hent **ents = ce_calloc(VF_MGET_BATCH, sizeof *ents);
    vf_get *dgets = ce_calloc(VF_MGET_BATCH, sizeof *dgets);
    ce_buf dels;
    ce_buf_init(&dels, VF_MAX_BODY);
    dlv_action *acts = ce_calloc(VF_MGET_BATCH, sizeof *acts);
    int ret = -1;
    if (gets == NULL || ents == NULL || dgets == NULL || acts == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    char mf[256];
    int64_t mp = 0;
    if (v->repair && snap_master_position(v->my, mf, sizeof mf, &mp, v->err, sizeof v->err) != 0)
        goto out;
    int64_t del_ver = v->repair && v->c.es.versioning_on ? map_version(mf, mp, 0, (unsigned)v->c.es.version_epoch) - 1 : 0;
    size_t i = 0;
    while (i < set->cap) {
        size_t n = 0;
        for (; i < set->cap && n < VF_MGET_BATCH; i++) {
            vf_hent *e = &set->v[i];
            if (e->key == NULL || e->seen)
                continue;
            size_t rl = e->klen - e->id_len - 1;
            gets[n] = (vf_get){e->key, e->id_len, rl > 0 ? e->key + e->id_len + 1 : NULL, rl};
            ents[n++] = e;
        }
        if (n == 0)
            break;
        yajl_val root = NULL, docs = NULL;
        if (vf_mget(v, xr->index, gets, n, &root, &docs) != 0)
            goto out;
        size_t nd = 0;
        ce_buf_reset(&dels);
        size_t *offs = ce_calloc(n, sizeof *offs);
        if (offs == NULL) {
            yajl_tree_free(root);
            snprintf(v->err, sizeof v->err, "out of memory");
            goto out;
        }
        for (size_t j = 0; j < n; j++) {
            vf_doc doc;
            if (vf_doc_of(v, docs, j, &doc) != 0) {
                ce_free(offs);
                yajl_tree_free(root);
                goto out;
            }
            if (!doc.found)
                continue; /* deleted meanwhile: the stream caught up */
            bool old = !v->c.es.versioning_on || (doc.version == ents[j]->version && doc.version < v0);
            if (!old) {
                xr->changing++;
                continue;
            }
            if (vc_list_add(&xr->extra, v->rep.max_report, gets[j].id, gets[j].id_len, NULL) != 0) {
                ce_free(offs);
                yajl_tree_free(root);
                snprintf(v->err, sizeof v->err, "out of memory");
                goto out;
            }
            if (v->repair) {
                offs[nd] = dels.len;
                dgets[nd] = gets[j];
                if (vf_delete_bytes(xr->index, gets[j].id, gets[j].id_len, gets[j].routing, gets[j].routing_len,
                                    del_ver, &dels) != 0) {
                    ce_free(offs);
                    yajl_tree_free(root);
                    snprintf(v->err, sizeof v->err, "out of memory");
                    goto out;
                }
                nd++;
            }
        }
        yajl_tree_free(root);
        for (size_t j = 0; j < nd; j++)
            acts[j] = (dlv_action){dels.data + offs[j], (j + 1 < nd ? offs[j + 1] : dels.len) - offs[j], 0};
        ce_free(offs);
        if (nd > 0) {
            if (vf_send(v, acts, nd) != 0)
                goto out;
            /* re-verify: the deleted ones must be gone */
            size_t m = nd;
            if (vf_mget(v, xr->index, dgets, m, &root, &docs) != 0)
                goto out;
            for (size_t j = 0; j < m; j++) {
                vf_doc doc;
                if (vf_doc_of(v, docs, j, &doc) == 0 && !doc.found)
                    xr->fixed++;
            }
            yajl_tree_free(root);
        }
    }
    ret = 0;
out:
    ce_free(gets);
    ce_free(ents);
    ce_free(dgets);
    ce_free(acts);
    ce_buf_free(&dels);
    return ret;
}

/* index.number_of_shards of index (its first index when an alias); 0 when
 * unknown. */
static long vf_shards(vf *v, const char *index)
{
    char path[1200];
    long status = 0, n = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    if (sink_index_path(index, "/_settings/index.number_of_shards", path, sizeof path) != 0 ||
        vf_req(v, "GET", path, NULL, 0, &status, &resp, &rlen) != 0 || status != 200)
        return 0;
    char perr[64];
    yajl_val root = yajl_tree_parse(resp, perr, sizeof perr);
    if (root != NULL && YAJL_IS_OBJECT(root) && root->u.object.len > 0) {
        const char *p[] = {"settings", "index", "number_of_shards", NULL};
        yajl_val x = yajl_tree_get(root->u.object.values[0], p, yajl_t_string);
        int64_t k;
        if (x != NULL && ce_parse_i64(x->u.string, 1, 100000, &k) == 0)
            n = (long)k;
    }
    yajl_tree_free(root);
    return n;
}

/* The index's primaries indexing.index_total + delete_total: any write
 * (the stream's, a hand's) changes it. -1 when unknown. */
static int64_t vf_index_writes(vf *v, const char *index)
{
    char path[1200];
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    int64_t n = -1;
    if (sink_index_path(index, "/_stats/indexing", path, sizeof path) != 0 ||
        vf_req(v, "GET", path, NULL, 0, &status, &resp, &rlen) != 0 || status != 200)
        return -1;
    char perr[64];
    yajl_val root = yajl_tree_parse(resp, perr, sizeof perr);
    const char *ip[] = {"_all", "primaries", "indexing", "index_total", NULL},
               *dp[] = {"_all", "primaries", "indexing", "delete_total", NULL};
    yajl_val a = root ? yajl_tree_get(root, ip, yajl_t_number) : NULL, d = root ? yajl_tree_get(root, dp, yajl_t_number) : NULL;
    if (a != NULL && d != NULL && YAJL_IS_INTEGER(a) && YAJL_IS_INTEGER(d))
        n = YAJL_GET_INTEGER(a) + YAJL_GET_INTEGER(d);
    yajl_tree_free(root);
    return n;
}

/* The query of the live documents (a soft-deleted one stands for a row that
 * no longer exists). */
static int vf_live_query(const cfg_table *rule, ce_buf *b)
{
    if (rule->delete_mode != CFG_DELETE_SOFT)
        return ce_buf_append_str(b, "{\"match_all\":{}}");
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -1;
    yajl_gen_config(g, yajl_gen_print_callback, vf_gen_print, b);
    yajl_gen_status s = yajl_gen_map_open(g);
    const char *k[] = {"bool", "must_not", "term"};
    for (size_t i = 0; i < 3 && s == yajl_gen_status_ok; i++)
        if ((s = VF_GKEY(g, k[i])) == yajl_gen_status_ok)
            s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok && (s = VF_GKEY(g, rule->soft_field)) == yajl_gen_status_ok)
        s = yajl_gen_bool(g, 1);
    for (size_t i = 0; i < 4 && s == yajl_gen_status_ok; i++)
        s = yajl_gen_map_close(g);
    yajl_gen_free(g);
    return s == yajl_gen_status_ok ? 0 : -1;
}

static int vf_extras(vf *v, vf_tbl *tbls, size_t nt, vc_index_rep *xr)
{
    const cfg_table *rule = NULL;
    uint64_t found = 0;
    int64_t writes0 = -1;
    for (size_t i = 0; i < nt; i++)
        if (strcmp(tbls[i].index, xr->index) == 0) {
            if (rule == NULL)
                writes0 = tbls[i].writes0;
            rule = tbls[i].rule;
            found += tbls[i].found_live;
        }
    char path[1200];
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    int ret = -1;
    ce_buf body, q;
    ce_buf_init(&body, 1u << 20);
    ce_buf_init(&q, 1u << 16);
    vf_hset set = {0};
    yajl_val root = NULL;
    char *scroll_id = NULL;
    if (vf_live_query(rule, &q) != 0 || ce_buf_terminate(&q) != 0) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    /* what the stream indexed is searchable after a refresh (no data changes) */
    if (sink_index_path(xr->index, "/_refresh", path, sizeof path) == 0)
        (void)vf_req(v, "POST", path, NULL, 0, &status, &resp, &rlen);
    if (sink_index_path(xr->index, "/_count", path, sizeof path) != 0) {
        snprintf(v->err, sizeof v->err, "index %s: name cannot be put in a URL", xr->index);
        goto out;
    }
    ce_buf_append_str(&body, "{\"query\":");
    ce_buf_append(&body, q.data, q.len);
    if (ce_buf_putc(&body, '}') != 0 || vf_req(v, "POST", path, body.data, body.len, &status, &resp, &rlen) != 0)
        goto out;
    if (status == 404) {
        xr->extra_checked = true;
        ret = 0;
        goto out;
    }
    char perr[128];
    const char *cp[] = {"count", NULL};
    yajl_val cnt = NULL;
    if (status != 200 || (root = yajl_tree_parse(resp, perr, sizeof perr)) == NULL ||
        (cnt = yajl_tree_get(root, cp, yajl_t_number)) == NULL || !YAJL_IS_INTEGER(cnt)) {
        snprintf(v->err, sizeof v->err, "POST %s%.300s: HTTP %ld: %.300s", sink_base_url(v->s), path, status, resp);
        goto out;
    }
    xr->documents = (uint64_t)YAJL_GET_INTEGER(cnt);
    yajl_tree_free(root);
    root = NULL;
    xr->extra_checked = true;
    /* no write reached the index since before the row pass and it holds as
     * many live documents as the rows' found ones: no other document */
    if (xr->documents == found && writes0 >= 0 && vf_index_writes(v, xr->index) == writes0) {
        ret = 0;
        goto out;
    }
    set.by_id = vf_shards(v, xr->index) == 1;
    set.cap = 1;
    while (set.cap < 2 * VF_WINDOW)
        set.cap <<= 1;
    if ((set.v = ce_calloc(set.cap, sizeof *set.v)) == NULL) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto out;
    }
    /* the walk: scroll sorted by _doc (portable), ids, routing and versions only */
    ce_buf_reset(&body);
    char head[128];
    snprintf(head, sizeof head, "{\"size\":%d,\"sort\":[\"_doc\"],\"_source\":false,\"version\":true,\"query\":",
             VF_SCROLL_SIZE);
    ce_buf_append_str(&body, head);
    ce_buf_append(&body, q.data, q.len);
    if (ce_buf_putc(&body, '}') != 0 || sink_index_path(xr->index, "/_search?scroll=30m", path, sizeof path) != 0) {
        snprintf(v->err, sizeof v->err, "index %s: request too large", xr->index);
        goto out;
    }
    ce_buf key;
    ce_buf_init(&key, 1u << 20);
    for (;;) {
        if (vf_req(v, "POST", path, body.data, body.len, &status, &resp, &rlen) != 0) {
            ce_buf_free(&key);
            goto out;
        }
        if (status != 200 || (root = yajl_tree_parse(resp, perr, sizeof perr)) == NULL) {
            snprintf(v->err, sizeof v->err, "POST %s%.300s: HTTP %ld: %.300s", sink_base_url(v->s), path, status, resp);
            ce_buf_free(&key);
            goto out;
        }
        const char *sp[] = {"_scroll_id", NULL}, *hp[] = {"hits", "hits", NULL};
        yajl_val sid = yajl_tree_get(root, sp, yajl_t_string), hits = yajl_tree_get(root, hp, yajl_t_array);
        if (sid != NULL) {
            ce_free(scroll_id);
            scroll_id = ce_strdup(YAJL_GET_STRING(sid));
        }
        size_t nh = hits != NULL ? hits->u.array.len : 0;
        for (size_t i = 0; i < nh; i++) {
            yajl_val h = hits->u.array.values[i];
            const char *ip[] = {"_id", NULL}, *rp[] = {"_routing", NULL}, *vp[] = {"_version", NULL};
            yajl_val id = yajl_tree_get(h, ip, yajl_t_string), rt = yajl_tree_get(h, rp, yajl_t_string),
                     ver = yajl_tree_get(h, vp, yajl_t_number);
            if (id == NULL)
                continue;
            const char *rs = rt ? YAJL_GET_STRING(rt) : NULL;
            if (vf_hkey(&key, id->u.string, strlen(id->u.string), rs, rs ? strlen(rs) : 0) != 0)
                continue;
            vf_hent *e = vf_hfind(&set, (const char *)key.data, key.len, strlen(id->u.string), true);
            if (e->key != NULL)
                continue;
            if ((e->key = ce_malloc(key.len)) == NULL) {
                snprintf(v->err, sizeof v->err, "out of memory");
                ce_buf_free(&key);
                goto out;
            }
            memcpy(e->key, key.data, key.len);
            e->klen = key.len;
            e->id_len = strlen(id->u.string);
            e->version = ver != NULL && YAJL_IS_INTEGER(ver) ? YAJL_GET_INTEGER(ver) : -1;
            set.n++;
            if (set.n >= VF_WINDOW) {
                if (vf_window_done(v, tbls, nt, xr, &set) != 0) {
                    ce_buf_free(&key);
                    goto out;
                }
                vf_hclear(&set);
            }
        }
        yajl_tree_free(root);
        root = NULL;
        if (nh == 0 || scroll_id == NULL)
            break;
        /* the next page */
        ce_buf_reset(&body);
        yajl_gen g = yajl_gen_alloc(NULL);
        if (g == NULL) {
            ce_buf_free(&key);
            goto out;
        }
        yajl_gen_config(g, yajl_gen_print_callback, vf_gen_print, &body);
        yajl_gen_map_open(g);
        VF_GKEY(g, "scroll");
        VF_GKEY(g, "30m");
        VF_GKEY(g, "scroll_id");
        VF_GKEY(g, scroll_id);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        snprintf(path, sizeof path, "/_search/scroll");
    }
    ce_buf_free(&key);
    if (vf_window_done(v, tbls, nt, xr, &set) != 0)
        goto out;
    ret = 0;
out:
    if (scroll_id != NULL) {
        ce_buf_reset(&body);
        ce_buf_append_str(&body, "{\"scroll_id\":[\"");
        ce_buf_append_str(&body, scroll_id); /* base64 text: no escaping needed */
        ce_buf_append_str(&body, "\"]}");
        (void)sink_request(v->s, "DELETE", "/_search/scroll", body.data, body.len, &status, &resp, &rlen, perr,
                           sizeof perr);
        ce_free(scroll_id);
    }
    yajl_tree_free(root);
    if (set.v != NULL) {
        vf_hclear(&set);
        ce_free(set.v);
    }
    ce_buf_free(&body);
    ce_buf_free(&q);
    return ret;
}

/* ---- the command -------------------------------------------------------------- */

static const char vf_help[] =
    "usage: canal-es verify -c FILE [--table DB.TABLE] [--repair] [--max-report N] [--json]\n"
    "                       [--settle SECONDS] [--log-level error|warn|info|debug]\n"
    "\n"
    "Proves that every index holds exactly the documents the [table] rules make of the MySQL rows:\n"
    "reads every table of the rules (or DB.TABLE) from [mysql] in keyset chunks, builds each row's\n"
    "document with the stream's own code, fetches the indexed one by _id and routing and compares\n"
    "them (key order does not matter; numbers and strings do). Then looks for documents whose row\n"
    "does not exist. A difference is re-checked against a fresh read of its row once the stream has\n"
    "passed that read's binlog position ([checkpoint] file), so rows changing meanwhile are not\n"
    "reported. Read-only unless --repair.\n"
    "\n"
    "  --table DB.TABLE   only this table (extra documents are then looked for only when its index\n"
    "                     holds no other table)\n"
    "  --repair           re-send each difference at the version of its read's position minus one\n"
    "                     (never over a newer change of the stream), delete extra documents with a\n"
    "                     versioned delete, then re-verify them and report what was fixed\n"
    "  --max-report N     ids listed per kind and table (default 10)\n"
    "  --json             print the report as one JSON object\n"
    "  --settle SECONDS   longest wait for the stream to pass a re-read's position (default 30)\n"
    "\n"
    "exit status: 0 identical, 1 differences remain, 2 usage or configuration error,\n"
    "3 the run could not finish (MySQL, the node, a signal)\n";

static int vf_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "canal-es verify: %s%s%s%s\n%s", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", vf_help);
    return 2;
}

static int vf_add_tbl(vf_tbl **tbls, size_t *nt, const cfg_table *rule, const char *db, const char *table,
                      char *err, size_t errlen)
{
    if (*nt % 64 == 0) {
        vf_tbl *n = ce_realloc(*tbls, (*nt + 64) * sizeof *n);
        if (n == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        *tbls = n;
    }
    vf_tbl *t = &(*tbls)[*nt];
    memset(t, 0, sizeof *t);
    t->rule = rule;
    char why[200];
    if (cfg_index_check(rule, db, table, t->index, sizeof t->index, why, sizeof why) != 0) {
        snprintf(err, errlen, "table %.100s.%.100s: its index name '%.300s' is not valid: %.200s", db, table, t->index, why);
        return -1;
    }
    t->db = ce_strdup(db);
    t->table = ce_strdup(table);
    if (t->db == NULL || t->table == NULL) {
        ce_free(t->db);
        ce_free(t->table);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    (*nt)++;
    return 0;
}

int verify_main(int argc, char **argv)
{
    const char *path = NULL, *table = NULL;
    vf *v = ce_calloc(1, sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "canal-es verify: out of memory\n");
        return VF_FAIL;
    }
    v->rep.max_report = 10;
    v->settle_ms = 30000;
    map_out_init(&v->mo);
    ce_buf_init(&v->strs, VF_MAX_BODY);
    int level = -1;
    int ret = 2;
    vf_tbl *tbls = NULL;
    size_t nt = 0;
    for (int i = 2; i < argc; i++) {
        int64_t n;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            table = argv[++i];
        } else if (strcmp(argv[i], "--repair") == 0) {
            v->repair = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            v->json = true;
        } else if (strcmp(argv[i], "--max-report") == 0 && i + 1 < argc) {
            if (ce_parse_i64(argv[++i], 0, 1000000, &n) != 0) {
                ret = vf_usage("--max-report needs a number 0..1000000, not", argv[i]);
                goto out;
            }
            v->rep.max_report = (size_t)n;
        } else if (strcmp(argv[i], "--settle") == 0 && i + 1 < argc) {
            if (ce_parse_i64(argv[++i], 0, 86400, &n) != 0) {
                ret = vf_usage("--settle needs seconds 0..86400, not", argv[i]);
                goto out;
            }
            v->settle_ms = (long)n * 1000;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            ce_log_level lv;
            if (ce_log_parse_level(argv[++i], &lv) != 0) {
                ret = vf_usage("unknown log level", argv[i]);
                goto out;
            }
            level = (int)lv;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(vf_help, stdout);
            ret = 0;
            goto out;
        } else {
            ret = vf_usage("unexpected argument", argv[i]);
            goto out;
        }
    }
    if (path == NULL) {
        ret = vf_usage("-c FILE is required", NULL);
        goto out;
    }
    char db[SNAP_NAME_MAX + 1] = "", tbl[SNAP_NAME_MAX + 1] = "";
    if (table != NULL) {
        const char *dot = strchr(table, '.');
        if (dot == NULL || dot == table || dot[1] == '\0' || (size_t)(dot - table) > SNAP_NAME_MAX ||
            strlen(dot + 1) > SNAP_NAME_MAX) {
            ret = vf_usage("--table is not DB.TABLE:", table);
            goto out;
        }
        snprintf(db, sizeof db, "%.*s", (int)(dot - table), table);
        snprintf(tbl, sizeof tbl, "%s", dot + 1);
    }
    char err[1024];
    if (cfg_load(path, &v->c, err, sizeof err) != 0) {
        fprintf(stderr, "canal-es: %s\n", err);
        goto out;
    }
    v->cfg_ok = true;
    ce_log_level lv;
    if (level >= 0)
        ce_log_set_level((ce_log_level)level);
    else if (ce_log_parse_level(v->c.log.level, &lv) == 0)
        ce_log_set_level(lv);
    ce_log_set_format(strcmp(v->c.log.format, "json") == 0 ? CE_LOG_JSON : CE_LOG_TEXT);
    if (v->c.mysql.host[0] == '\0' && v->c.mysql.socket[0] == '\0') {
        fprintf(stderr, "canal-es verify: %s: [mysql] host (or socket) is not set: verify reads the rows from it\n",
                path);
        goto out;
    }
    const cfg_table *only = NULL;
    if (table != NULL) {
        only = cfg_find_table(&v->c, db, tbl);
        if (only == NULL || !only->enabled) {
            fprintf(stderr, "canal-es verify: %s: %s\n", table,
                    only == NULL ? "no [table] rule matches it" : "its rule has enabled = false");
            goto out;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = vf_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ret = VF_FAIL;
    my_rc mrc;
    if ((v->my = my_connect(&v->c.mysql, &mrc, v->err, sizeof v->err)) == NULL)
        goto fail;
    if ((v->s = sink_new_cfg(&v->c.es, v->err, sizeof v->err)) == NULL || sink_detect(v->s, v->err, sizeof v->err) == SINK_FATAL)
        goto fail;
    v->req_cap = (size_t)v->c.es.bulk_max_bytes;
    v->method = snap_method(v->my, v->c.reindex.position);
    v->progress = isatty(STDERR_FILENO) && !v->json;
    v->mo.versioning = v->c.es.versioning_on;
    v->mo.version_epoch = (unsigned)v->c.es.version_epoch;
    if (bulk_init(&v->b, VF_MAX_BODY) != 0) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto fail;
    }
    v->bulk_ok = true;
    v->rep.repair = v->repair;
    /* the tables */
    for (size_t r = 0; r < v->c.n_tables; r++) {
        const cfg_table *rule = &v->c.tables[r];
        if (!rule->enabled || (only != NULL && rule != only))
            continue;
        if (rule->pattern == NULL) {
            if (only != NULL && (strcmp(rule->db, db) != 0 || strcmp(rule->table, tbl) != 0))
                continue;
            if (vf_add_tbl(&tbls, &nt, rule, rule->db, rule->table, v->err, sizeof v->err) != 0)
                goto fail;
            continue;
        }
        snap_names names;
        if (snap_rule_tables(v->my, &v->c, rule, &names, v->err, sizeof v->err) != 0)
            goto fail;
        int rc = 0;
        for (size_t i = 0; i < names.n && rc == 0; i++) {
            if (only != NULL && (strcmp(names.v[i].db, db) != 0 || strcmp(names.v[i].table, tbl) != 0))
                continue;
            rc = vf_add_tbl(&tbls, &nt, rule, names.v[i].db, names.v[i].table, v->err, sizeof v->err);
        }
        snap_names_free(&names);
        if (rc != 0)
            goto fail;
    }
    if (only != NULL && nt == 0) {
        snprintf(v->err, sizeof v->err, "%s is not a base table of its rule on mysql %s", table, my_peer(v->my));
        goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        tbls[i].writes0 = -1;
        for (size_t j = 0; j < i && tbls[i].writes0 < 0; j++)
            if (strcmp(tbls[j].index, tbls[i].index) == 0)
                tbls[i].writes0 = tbls[j].writes0;
        if (tbls[i].writes0 < 0)
            tbls[i].writes0 = vf_index_writes(v, tbls[i].index);
    }
    for (size_t i = 0; i < nt; i++) {
        if (tbls[i].rule->pipeline != NULL)
            ce_log(CE_LOG_WARN, "verify",
                   "%s.%s: its rule sends documents through pipeline %s: only their presence and routing are "
                   "compared, not their fields",
                   tbls[i].db, tbls[i].table, tbls[i].rule->pipeline);
        char name[600];
        snprintf(name, sizeof name, "%s.%s", tbls[i].db, tbls[i].table);
        if ((tbls[i].rep = vc_add_table(&v->rep, name, tbls[i].index)) == NULL) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto fail;
        }
        if (vf_table(v, &tbls[i]) != 0)
            goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        if (vc_find_index(&v->rep, tbls[i].index) != NULL)
            continue;
        vc_index_rep *xr = vc_add_index(&v->rep, tbls[i].index);
        if (xr == NULL) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto fail;
        }
        if (only != NULL && cfg_index_shared(&v->c, only)) {
            xr->note = ce_strdup("--table was given and the index can hold other tables' documents");
            continue;
        }
        if (vf_extras(v, tbls, nt, xr) != 0)
            goto fail;
    }
    ce_buf out;
    ce_buf_init(&out, 64u << 20);
    int frc = v->json ? vc_format_json(&v->rep, &out) : vc_format_text(&v->rep, &out);
    if (frc == 0)
        fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    ce_buf_free(&out);
    ret = vc_report_differs(&v->rep) ? 1 : 0;
    goto out;
fail:
    if (v->progress)
        fputc('\n', stderr);
    ce_log(CE_LOG_ERROR, "verify", "%s%s", v->err[0] ? v->err : "failed", vf_stop ? " (stopped by a signal)" : "");
out:
    for (size_t i = 0; i < nt; i++) {
        ce_free(tbls[i].db);
        ce_free(tbls[i].table);
    }
    ce_free(tbls);
    vc_report_free(&v->rep);
    if (v->bulk_ok)
        bulk_free(&v->b);
    map_out_free(&v->mo);
    ce_buf_free(&v->strs);
    ce_free(v->ex);
    my_close(v->my);
    my_close(v->lk);
    sink_free(v->s);
    if (v->cfg_ok)
        cfg_free(&v->c);
    ce_free(v);
    return ret;
}
