/* vio: requests to the node (_mget, counts, settings), the stream's
 * progress (checkpoint, binlog) and the repairs' delivery, for verify. */
#include "verify/vint.h"
#include "util/clock.h"

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

int vf_sleep(uint64_t ms) { return ce_sleep_ms(ms, &vf_stop) != 0 || vf_stop; }

/* ---- the node --------------------------------------------------------------- */

/* One request with retries on transport errors, 429 and 5xx. 0 with
 * *status (and the response) when the node answered; -1 with v->err. */
int vf_req(vf *v, const char *method, const char *path, const void *body, size_t len, long *status,
                  const char **resp, size_t *rlen)
{
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)v->c->es.retry_initial_ms, (uint64_t)v->c->es.retry_max_ms);
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

void vf_gen_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

/* POST index/_mget for gets[0, n): *root holds the parsed answer, docs its
 * "docs" array (n entries, in order). -1 with v->err. */
int vf_mget(vf *v, const char *index, const vf_get *gets, size_t n, yajl_val *root, yajl_val *docs)
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
        v->index_missing = true;
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
        snprintf(v->err, sizeof v->err, "POST %s%.300s: the answer does not hold %zu docs", sink_base_url(v->s),
                 path, n);
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

int vf_doc_of(vf *v, yajl_val docs, size_t i, vf_doc *d)
{
    memset(d, 0, sizeof *d);
    if (docs == NULL)
        return 0;
    yajl_val e = docs->u.array.values[i];
    const char *ep[] = {"error", NULL}, *fp[] = {"found", NULL}, *vp[] = {"_version", NULL},
               *rp[] = {"_routing", NULL}, *sp[] = {"_source", NULL};
    yajl_val err = yajl_tree_get(e, ep, yajl_t_any);
    const char *tp[] = {"error", "type", NULL};
    yajl_val type = yajl_tree_get(e, tp, yajl_t_string);
    if (type != NULL && strcmp(type->u.string, "index_not_found_exception") == 0) {
        v->index_missing = true;
        return 0; /* Elasticsearch 7: no such index, so no such document */
    }
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
bool vf_soft_deleted(const cfg_table *rule, const vf_doc *d)
{
    if (rule->delete_mode != CFG_DELETE_SOFT || d->source == NULL)
        return false;
    const char *p[] = {rule->soft_field, NULL};
    yajl_val f = yajl_tree_get(d->source, p, yajl_t_any);
    return f != NULL && YAJL_IS_TRUE(f);
}

/* Compares an expected document line (and routing) with what the node
 * holds: 0 equal, 1 different (d), -1 with v->err. */
int vf_compare(vf *v, const cfg_table *rule, const char *line, size_t len, const char *rt, size_t rt_len,
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
                           : doc->routing != NULL && strlen(doc->routing) == rt_len &&
                                 memcmp(doc->routing, rt, rt_len) == 0;
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
                         (strcmp(type, "Query") == 0 &&
                          (strncmp(info, "COMMIT", 6) == 0 || strcmp(info, "BEGIN") == 0));
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
int vf_settle(vf *v, const char *file, int64_t pos)
{
    int64_t want = vf_pos_version(file, pos);
    uint64_t start = ce_mono_ms(), changed = start;
    ckpt last = {0};
    bool have = false;
    for (;;) {
        if (v->c->checkpoint.file[0] != '\0') {
            ckpt k;
            char e[512];
            if (ckpt_read(v->c->checkpoint.file, &k, e, sizeof e) == 0) {
                int64_t at = vf_pos_version(k.binlog_file, k.binlog_offset);
                if (want >= 0 && (at >= want || vf_nothing_between(v, &k, file, pos)))
                    return 1;
                if (!have || k.batch_id != last.batch_id || k.binlog_offset != last.binlog_offset ||
                    strcmp(k.binlog_file, last.binlog_file) != 0) {
                    if (have)
                        changed = ce_mono_ms();
                    last = k;
                    have = true;
                }
            }
        }
        uint64_t now = ce_mono_ms();
        if (now - changed >= VF_QUIET_MS || now - start >= (uint64_t)v->settle_ms)
            return 0;
        if (vf_sleep(200))
            return 0;
    }
}

/* ---- repairs and index facts ------------------------------------------------- */

/* Sends the bytes of acts (each one action, with its document line) through
 * the delivery path. -1 with v->err when a request failed for good. */
int vf_send(vf *v, dlv_action *acts, size_t n)
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
                  .max_retries = v->c->es.max_retries > 0 ? v->c->es.max_retries : 10,
                  .retry_initial_ms = (uint64_t)v->c->es.retry_initial_ms,
                  .retry_max_ms = (uint64_t)v->c->es.retry_max_ms};
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
int vf_delete_bytes(const char *index, const char *id, size_t id_len, const char *rt, size_t rt_len,
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

/* index.number_of_shards of index (its first index when an alias); 0 when
 * unknown. */
long vf_shards(vf *v, const char *index)
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
int64_t vf_index_writes(vf *v, const char *index)
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
    yajl_val a = root ? yajl_tree_get(root, ip, yajl_t_number) : NULL;
    yajl_val d = root ? yajl_tree_get(root, dp, yajl_t_number) : NULL;
    if (a != NULL && d != NULL && YAJL_IS_INTEGER(a) && YAJL_IS_INTEGER(d))
        n = YAJL_GET_INTEGER(a) + YAJL_GET_INTEGER(d);
    yajl_tree_free(root);
    return n;
}

int vf_pace(vf *v, size_t rows)
{
    long max = v->c->reindex.max_rows_per_s;
    if (max > 0) {
        v->rate_rows += rows;
        uint64_t due = v->rate_start_ms + v->rate_rows * 1000u / (uint64_t)max, now = ce_mono_ms();
        if (due > now)
            (void)vf_sleep(due - now);
    }
    if (vf_stop) {
        snprintf(v->err, sizeof v->err, "stopped by a signal");
        return -1;
    }
    return 0;
}
