/* vextra: the extra documents of an index, the bounded method: the index's
 * ids are walked with a scroll (sort _doc, portable to every supported
 * version) in windows of VF_WINDOW ids held in a hash set; for each window
 * every table writing to the index is read again (keyset chunks) and each
 * row's _id (and routing, with several shards) is struck from the set. What
 * is left was produced by no row at that read: an extra candidate. A hashed
 * `~sha256:` id needs no parsing: ids are compared as the rows produce
 * them. The walk is skipped when the index's _count equals the live
 * documents the row pass found and no write reached the index meanwhile. */
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

static int vf_scan_chunk(void *ud, const snap_chunk_info *ci)
{
    vf_scan *sc = ud;
    return vf_pace(sc->v, ci->rows) == 0 ? 0 : 1;
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
        int rc = snap_read_from(v->my, &v->c->mysql, &v->st, v->c->reindex.chunk_rows, v->method, NULL, vf_scan_row,
                                vf_scan_chunk,
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
    int64_t v0 = map_version(f0, p0, 0, (unsigned)v->c->es.version_epoch);
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
    int64_t del_ver = 0;
    if (v->repair && v->c->es.versioning_on)
        del_ver = map_version(mf, mp, 0, (unsigned)v->c->es.version_epoch) - 1;
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
            bool old = !v->c->es.versioning_on || (doc.version == ents[j]->version && doc.version < v0);
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

int vf_extras(vf *v, vf_tbl *tbls, size_t nt, vc_index_rep *xr)
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
