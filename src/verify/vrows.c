/* vrows: the row pass of verify (expected documents per chunk, _mget,
 * canonical comparison), the re-checks of its differences against fresh
 * reads by key, and their repairs (docs/operations.md, "Verifying an
 * index"). */
#include "verify/vint.h"

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

/* ---- key literals and re-reads -------------------------------------------------- */

/* The literal of a key column from the Canal text the row carries; -1 when
 * that text cannot be written back exactly (FLOAT, BINARY(n)). */
int vf_key_literal(ce_buf *b, const snap_col *col, const char *v, size_t len)
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
    return snap_snapshot_position(v->my, file, flen, pos, v->err, sizeof v->err);
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
        if (v->lk == NULL && (v->lk = my_connect(&v->c->mysql, &mrc, v->err, sizeof v->err)) == NULL)
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
            const char *rt = x->has_rt ? vf_str(v, x->rt_off) : NULL;
            int rc = vf_compare(v, v->tb->rule, line, len, rt, x->rt_len, &doc, &d);
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
    if (vf_pace(v, ci->rows) != 0)
        return 1;
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
    size_t *mwhich = ce_calloc(VF_REREAD_BATCH, sizeof *mwhich), nm = 0;
    int ret = -1;
    if (keysets == NULL || which == NULL || gets == NULL || mwhich == NULL) {
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
        int64_t pver = map_version(file, pos, 0, (unsigned)v->c->es.version_epoch);
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
            const char *rt = x->has_rt ? vf_str(v, x->rt_off) : NULL;
            int rc = vf_compare(v, v->tb->rule, line, len, rt, x->rt_len, &doc, &d);
            if (rc < 0) {
                yajl_tree_free(root);
                goto out;
            }
            if (rc == 0) {
                c->final = true; /* a change in flight at the first read */
                continue;
            }
            /* still different: older than P (or missing), the stream past P */
            bool older = !doc.found || !v->c->es.versioning_on || (doc.version >= 0 && doc.version < pver);
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
            if (older && doc.found && passed && v->c->es.versioning_on) {
                c->confirmed = c->final = true; /* the stream has passed P and the document predates P */
            } else if (!doc.found) {
                mwhich[nm++] = which[j]; /* decided after the read below */
            } else if (round == VF_ROUNDS) {
                c->final = true;
                if (c->rounds == VF_ROUNDS)
                    c->confirmed = true;
                else
                    c->changing = true;
            }
        }
        yajl_tree_free(root);
        if (nm == 0)
            continue;
        /* missing: read the rows once more, after the fetch; a row deleted
         * meanwhile (the stream may have removed its document before the
         * fetch) is no loss */
        for (size_t j = 0; j < nm; j++)
            keysets[j] = v->cand[mwhich[j]].keys;
        vf_exp_reset(v);
        if (vf_read_keys(v, keysets, nm, vf_rr_row, v, file, sizeof file, &pos) != 0)
            goto out;
        for (size_t j = 0; j < nm; j++) {
            vf_cand *c = &v->cand[mwhich[j]];
            bool present = false;
            for (size_t e = 0; e < v->nex && !present; e++)
                present = v->ex[e].id_len == c->id_len && memcmp(vf_str(v, v->ex[e].id_off), c->id, c->id_len) == 0;
            if (!present) {
                c->final = true;
                c->rounds = 0;
            } else if (round == VF_ROUNDS) {
                c->final = true;
                if (c->rounds == VF_ROUNDS)
                    c->confirmed = true;
                else
                    c->changing = true;
            }
        }
        nm = 0;
    }
    ret = 0;
out:
    vf_exp_reset(v);
    ce_free(keysets);
    ce_free(which);
    ce_free(gets);
    ce_free(mwhich);
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

int vf_table(vf *v, vf_tbl *tb)
{
    int ret = -1;
    my_rc mrc;
    v->tb = tb;
    v->rows_done = 0;
    v->index_missing = false;
    if (snap_describe(v->my, tb->db, tb->table, &v->st, &mrc, v->err, sizeof v->err) != 0)
        return -1;
    v->estimate = snap_estimate_rows(v->my, tb->db, tb->table);
    vf_exp_reset(v);
    snap_stats ss;
    int rc = snap_read_from(v->my, &v->c->mysql, &v->st, v->c->reindex.chunk_rows, v->method, NULL, vf_row, vf_chunk, v,
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
        if (v->repair && v->index_missing) {
            ce_log(CE_LOG_WARN, "verify",
                   "%s.%s: index %s does not exist: not repaired (a write would create it with the node's guessed "
                   "mapping; start the service, which creates it from the rule, or run a reindex)",
                   tb->db, tb->table, tb->index);
        }
        if (v->repair && !v->index_missing) {
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
