/* run: the single-threaded pipeline of the walking skeleton. */
#include "run.h"
#include "bulk/bulk.h"
#include "commit/ckpt.h"
#include "decode/decode.h"
#include "map/map.h"
#include "sink/deadletter.h"
#include "sink/sink.h"
#include "source/canal.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RUN_MAX_BODY ((size_t)512 << 20)
#define RUN_MAX_NOTED 1024

void run_opts_default(run_opts *o)
{
    o->bulk_flush_bytes = 8L << 20;
    o->request_timeout_ms = 60000;
    o->retry_initial_ms = 200;
    o->retry_max_ms = 10000;
    o->stats_interval_ms = 10000;
}

typedef struct run_stats {
    unsigned long long batches, rows, actions, requests, retries, item_retries, reconnects, skipped_rows,
        dead_letters;
} run_stats;

typedef struct run_ctx {
    const cfg *c;
    const run_opts *o;
    volatile sig_atomic_t *stop;
    canal_client *canal;
    sink *sink;
    bulk bulk;
    decode_ctx dec;
    map_out mo;
    ce_backoff bo;
    deadletter *dl;        /* NULL when on_error = halt */
    sink_item *items;      /* per-item results of the last response */
    bool *keep;
    size_t items_cap;
    ckpt last;             /* position of the last row seen; written after each ack */
    run_stats st;
    char *noted[RUN_MAX_NOTED]; /* "db.table" already warned about */
    size_t n_noted;
    char err[1024];
} run_ctx;

enum { RUN_DONE = 0, RUN_FAIL = -1, RUN_STOPPED = 1, RUN_AGAIN = 2 };

static bool run_stopping(const run_ctx *r) { return *r->stop != 0; }

/* Logs `msg` for db.table only the first time. */
static void run_warn_once(run_ctx *r, const char *db, const char *table, const char *msg)
{
    char key[512];
    snprintf(key, sizeof key, "%s.%s", db, table);
    for (size_t i = 0; i < r->n_noted; i++)
        if (strcmp(r->noted[i], key) == 0)
            return;
    if (r->n_noted < RUN_MAX_NOTED)
        r->noted[r->n_noted++] = ce_strdup(key);
    ce_log(CE_LOG_WARN, "map", "table %s: %s", key, msg);
}

/* Logs r->err with the coming delay, counts a retry and sleeps the next
 * full-jitter backoff delay. Non-zero when a stop was requested meanwhile. */
static int run_backoff(run_ctx *r, ce_backoff *bo, const char *component)
{
    uint64_t delay = ce_backoff_next(bo);
    r->st.retries++;
    ce_log(CE_LOG_WARN, component, "%s; retrying in %llu ms (attempt %u)", r->err, (unsigned long long)delay,
           bo->attempt);
    return ce_sleep_ms(delay, r->stop);
}

/* Handles the items of one response: done items are dropped from the body,
 * rejected ones go to the dead-letter file (or halt the service), and the
 * body keeps only the items to retry. RUN_DONE when nothing is left. */
static int run_items(run_ctx *r, const sink_summary *sum, bool give_up)
{
    bool any_retry = false;
    for (size_t i = 0; i < r->bulk.n_actions; i++) {
        sink_item *it = &r->items[i];
        if (it->cls == SINK_ITEM_RETRY && give_up) {
            ce_log(CE_LOG_WARN, "sink", "%s: item still failing after %ld retries (%d %s): treated as rejected",
                   bulk_table(&r->bulk, i), r->c->es.max_retries, it->status, it->type);
            it->cls = SINK_ITEM_DEAD;
        }
        if (it->cls == SINK_ITEM_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s: HTTP %d %s: %s: credentials refused, stopping", r->c->es.url,
                   it->status, it->type, it->reason);
            return RUN_FAIL;
        }
        if (it->cls == SINK_ITEM_DEAD) {
            const uint8_t *p;
            size_t n;
            bulk_action_bytes(&r->bulk, i, &p, &n);
            size_t alen = r->bulk.meta[i].doc - r->bulk.meta[i].start;
            if (r->dl == NULL) {
                ce_log(CE_LOG_ERROR, "sink",
                       "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): %.*s; halting without ack "
                       "(on_error = halt)",
                       bulk_table(&r->bulk, i), bulk_logfile(&r->bulk, i), (long long)r->bulk.meta[i].offset,
                       it->status, it->type, it->reason, (int)(alen > 0 ? alen - 1 : 0), (const char *)p);
                return RUN_FAIL;
            }
            if (dl_write(r->dl, &r->bulk, i, it, r->err, sizeof r->err) != 0) {
                ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
                return RUN_FAIL;
            }
            r->st.dead_letters++;
            ce_log(CE_LOG_WARN, "sink", "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): written to %s",
                   bulk_table(&r->bulk, i), bulk_logfile(&r->bulk, i), (long long)r->bulk.meta[i].offset,
                   it->status, it->type, it->reason, dl_path(r->dl));
        }
        r->keep[i] = it->cls == SINK_ITEM_RETRY;
        any_retry |= r->keep[i];
    }
    if (sum->dead > 0 && r->dl != NULL && dl_sync(r->dl, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return RUN_FAIL;
    }
    r->st.actions += sum->ok;
    if (!any_retry) {
        bulk_reset(&r->bulk);
        return RUN_DONE;
    }
    r->st.item_retries += sum->retry;
    bulk_keep(&r->bulk, r->keep);
    return RUN_AGAIN; /* items left to retry */
}

/* Sends the bulk body until every item is applied or dead-lettered. Only
 * the failed items are sent again. */
static int run_flush(run_ctx *r)
{
    if (r->bulk.n_actions == 0)
        return RUN_DONE;
    ce_backoff_reset(&r->bo);
    for (long attempt = 0;; attempt++) {
        size_t n = r->bulk.n_actions;
        if (n > r->items_cap) {
            sink_item *ni = ce_realloc(r->items, n * sizeof *ni);
            bool *nk = ce_realloc(r->keep, n * sizeof *nk);
            if (ni != NULL)
                r->items = ni;
            if (nk != NULL)
                r->keep = nk;
            if (ni == NULL || nk == NULL) {
                ce_log(CE_LOG_ERROR, "sink", "out of memory for %zu bulk items", n);
                return RUN_FAIL;
            }
            r->items_cap = n;
        }
        sink_summary sum = {.item = r->items, .item_cap = n};
        sink_rc rc = sink_bulk(r->sink, r->bulk.body.data, r->bulk.body.len, n, &sum, r->err, sizeof r->err);
        r->st.requests++;
        if (rc == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return RUN_FAIL;
        }
        bool give_up = r->c->es.max_retries > 0 && attempt >= r->c->es.max_retries;
        if (rc == SINK_OK) {
            int ir = run_items(r, &sum, give_up);
            if (ir != RUN_AGAIN)
                return ir;
            snprintf(r->err, sizeof r->err, "%zu of %zu items to retry (first: %d %s: %s)", sum.retry, n,
                     sum.fail_status, sum.fail_type, sum.fail_reason);
        } else if (give_up) {
            ce_log(CE_LOG_ERROR, "sink", "%s; giving up after %ld retries (max_retries), nothing acked", r->err,
                   r->c->es.max_retries);
            return RUN_FAIL;
        }
        if (run_backoff(r, &r->bo, "sink"))
            return RUN_STOPPED;
    }
}

static int run_on_row(void *ud, const row_event *ev)
{
    run_ctx *r = ud;
    r->st.rows++;
    snprintf(r->last.binlog_file, sizeof r->last.binlog_file, "%s", ev->logfile);
    r->last.binlog_offset = ev->offset;
    r->last.source_time_ms = ev->execute_time;
    snprintf(r->last.gtid, sizeof r->last.gtid, "%s", ev->gtid ? ev->gtid : "");
    const cfg_table *rule = cfg_find_table(r->c, ev->schema, ev->table);
    if (rule == NULL) {
        r->st.skipped_rows++;
        run_warn_once(r, ev->schema, ev->table, "no [table] rule matches: its rows are not indexed");
        return 0;
    }
    int mrc = map_row(rule, ev, &r->mo, r->err, sizeof r->err);
    if (mrc == MAP_NO_ID) {
        r->st.skipped_rows++;
        run_warn_once(r, ev->schema, ev->table,
                      "no primary key and no 'id' columns configured: its rows are skipped");
        return 0;
    }
    if (mrc != MAP_OK)
        return RUN_FAIL;
    for (size_t i = 0; i < r->mo.n; i++) {
        if (bulk_append(&r->bulk, &r->mo.act[i], r->err, sizeof r->err) != 0)
            return RUN_FAIL;
    }
    if (r->bulk.body.len >= (size_t)r->o->bulk_flush_bytes)
        return run_flush(r);
    return 0;
}

/* The rule of another table writing to the same index, if any. */
static const cfg_table *run_index_sharer(const cfg *c, const cfg_table *rule)
{
    for (size_t i = 0; i < c->n_tables; i++)
        if (&c->tables[i] != rule && strcmp(c->tables[i].index, rule->index) == 0)
            return &c->tables[i];
    return NULL;
}

/* TRUNCATE / DROP TABLE of a mapped table: flush what came before, then
 * delete the table's documents, retrying like a bulk request. */
static int run_on_ddl(void *ud, const ddl_event *ev)
{
    run_ctx *r = ud;
    if (ev->kind == DDL_OTHER)
        return 0;
    const cfg_table *rule = cfg_find_table(r->c, ev->schema, ev->table);
    if (rule == NULL)
        return 0;
    const char *what = ev->kind == DDL_TRUNCATE ? "TRUNCATE" : "DROP TABLE";
    cfg_ddl_action act = ev->kind == DDL_TRUNCATE ? rule->on_truncate : rule->on_drop;
    if (act == CFG_DDL_IGNORE) {
        ce_log(CE_LOG_INFO, "map", "binlog %s:%lld: %s of %s.%s: index %s kept (on_%s = ignore)", ev->logfile,
               (long long)ev->offset, what, ev->schema, ev->table, rule->index,
               ev->kind == DDL_TRUNCATE ? "truncate" : "drop");
        return 0;
    }
    const cfg_table *other = run_index_sharer(r->c, rule);
    if (other != NULL) {
        ce_log(CE_LOG_WARN, "map",
               "binlog %s:%lld: %s of %s.%s not applied: index %s also holds %s.%s, whose documents would go too",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, rule->index, other->db, other->table);
        return 0;
    }
    int rc = run_flush(r);
    if (rc != RUN_DONE)
        return rc;
    ce_backoff_reset(&r->bo);
    for (;;) {
        long long deleted = 0;
        sink_rc sr = sink_delete_all(r->sink, rule->index, &deleted, r->err, sizeof r->err);
        r->st.requests++;
        if (sr == SINK_OK) {
            ce_log(CE_LOG_INFO, "map", "binlog %s:%lld: %s of %s.%s: deleted %lld documents from index %s",
                   ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, deleted, rule->index);
            return RUN_DONE;
        }
        if (sr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return RUN_FAIL;
        }
        if (run_backoff(r, &r->bo, "sink"))
            return RUN_STOPPED;
    }
}

/* Connects (trying each address) until it works, a fatal answer, or a stop. */
static int run_connect(run_ctx *r)
{
    ce_backoff bo;
    ce_backoff_init(&bo, r->o->retry_initial_ms, r->o->retry_max_ms);
    while (!run_stopping(r)) {
        canal_rc rc = canal_connect(r->canal, r->err, sizeof r->err);
        if (rc == CANAL_OK) {
            ce_log(CE_LOG_INFO, "source", "connected to canal %s, subscribed to destination %s",
                   canal_peer(r->canal), r->c->canal.destination);
            return RUN_DONE;
        }
        if (rc == CANAL_ERR_AUTH || rc == CANAL_ERR_SERVER) {
            ce_log(CE_LOG_ERROR, "source", "%s", r->err);
            return RUN_FAIL;
        }
        run_backoff(r, &bo, "source");
    }
    return RUN_STOPPED;
}

static int run_batch(run_ctx *r, const Canalpb__Messages *m)
{
    for (size_t i = 0; i < m->n_messages; i++) {
        int rc = decode_entry(&r->dec, m->messages[i].data, m->messages[i].len, run_on_row, r, r->err,
                              sizeof r->err);
        if (rc == RUN_STOPPED)
            return RUN_STOPPED;
        if (rc != 0) {
            ce_log(CE_LOG_ERROR, "run", "batch %lld entry %zu: %s", (long long)m->batch_id, i, r->err);
            return RUN_FAIL;
        }
    }
    return run_flush(r);
}

static uint64_t run_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void run_log_stats(run_ctx *r)
{
    ce_log(CE_LOG_INFO, "run",
           "batches=%llu rows=%llu actions=%llu bulk_requests=%llu retries=%llu item_retries=%llu "
           "dead_letters=%llu reconnects=%llu skipped_rows=%llu utf8_replaced=%" PRIu64,
           r->st.batches, r->st.rows, r->st.actions, r->st.requests, r->st.retries, r->st.item_retries,
           r->st.dead_letters, r->st.reconnects, r->st.skipped_rows, r->bulk.values.utf8_repairs);
}

int run_service(const cfg *c, const run_opts *o, volatile sig_atomic_t *stop)
{
    run_ctx *r = ce_calloc(1, sizeof *r);
    int exit_code = 1;
    if (r == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        return 1;
    }
    r->c = c;
    r->o = o;
    r->stop = stop;
    decode_init(&r->dec);
    r->dec.on_ddl = run_on_ddl;
    map_out_init(&r->mo);
    r->mo.versioning = c->es.versioning_on;
    r->mo.version_epoch = (unsigned)c->es.version_epoch;
    ce_backoff_init(&r->bo, (uint64_t)c->es.retry_initial_ms, (uint64_t)c->es.retry_max_ms);
    canal_opts co = {
        .addresses = c->canal.address,
        .destination = c->canal.destination,
        .username = c->canal.username,
        .password = c->canal.password,
        .client_id = c->canal.client_id,
        .filter = c->canal.filter,
        .fetch_size = c->canal.batch_size,
        .fetch_timeout_ms = c->canal.fetch_timeout_ms,
        .stop = stop,
    };
    if (bulk_init(&r->bulk, RUN_MAX_BODY) != 0 || (r->canal = canal_new(&co)) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        goto out;
    }
    r->sink = sink_new(c->es.url, o->request_timeout_ms, r->err, sizeof r->err);
    if (r->sink == NULL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        goto out;
    }
    if (!c->es.halt_on_error && (r->dl = dl_open(c->es.dead_letter, r->err, sizeof r->err)) == NULL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        goto out;
    }
    snprintf(r->last.destination, sizeof r->last.destination, "%s", c->canal.destination);
    r->last.client_id = c->canal.client_id;
    if (c->checkpoint.file[0] != '\0') {
        ckpt prev;
        int cr = ckpt_read(c->checkpoint.file, &prev, r->err, sizeof r->err);
        if (cr < 0 || (cr == 0 && ckpt_check_owner(c->checkpoint.file, &prev, c->canal.destination,
                                                   c->canal.client_id, r->err, sizeof r->err) != 0)) {
            ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
            goto out;
        }
        if (cr == 0)
            ce_log(CE_LOG_INFO, "commit", "checkpoint %s: last acked batch %lld at binlog %s:%lld",
                   c->checkpoint.file, (long long)prev.batch_id, prev.binlog_file, (long long)prev.binlog_offset);
    }
    int rc = run_connect(r);
    uint64_t next_stats = run_now_ms() + (uint64_t)o->stats_interval_ms;
    while (rc == RUN_DONE && !run_stopping(r)) {
        Canalpb__Messages *m = NULL;
        canal_rc cr = canal_get(r->canal, &m, r->err, sizeof r->err);
        if (cr != CANAL_OK) {
            if (run_stopping(r))
                break;
            if (cr == CANAL_ERR_ORDER) {
                ce_log(CE_LOG_ERROR, "source", "%s", r->err);
                rc = RUN_FAIL;
                break;
            }
            ce_log(CE_LOG_WARN, "source", "%s; reconnecting", r->err);
            r->st.reconnects++;
            bulk_reset(&r->bulk);
            rc = run_connect(r);
            continue;
        }
        if (m != NULL) {
            rc = run_batch(r, m);
            if (rc == RUN_DONE) {
                canal_rc ar = canal_ack(r->canal, m->batch_id, r->err, sizeof r->err);
                r->st.batches++;
                if (ar == CANAL_OK && c->checkpoint.file[0] != '\0') {
                    r->last.batch_id = m->batch_id;
                    r->last.wall_time_ms = ckpt_now_ms();
                    if (ckpt_write(c->checkpoint.file, &r->last, r->err, sizeof r->err) != 0) {
                        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
                        rc = RUN_FAIL;
                    }
                }
                if (ar == CANAL_ERR_ORDER) {
                    ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
                    rc = RUN_FAIL;
                } else if (ar != CANAL_OK) {
                    /* The batch will be redelivered after reconnect + rollback; writes are idempotent. */
                    ce_log(CE_LOG_WARN, "commit", "%s; reconnecting", r->err);
                    r->st.reconnects++;
                    rc = run_connect(r);
                }
            } else {
                bulk_reset(&r->bulk);
            }
            canal_messages_free(m);
        }
        if (o->stats_interval_ms > 0 && run_now_ms() >= next_stats) {
            run_log_stats(r);
            next_stats = run_now_ms() + (uint64_t)o->stats_interval_ms;
        }
    }
    run_log_stats(r);
    if (rc == RUN_FAIL) {
        exit_code = 1;
    } else {
        ce_log(CE_LOG_INFO, "run", "stopped on request; un-acked batches will be redelivered");
        exit_code = 0;
    }
out:
    canal_free(r->canal);
    sink_free(r->sink);
    dl_close(r->dl);
    ce_free(r->items);
    ce_free(r->keep);
    bulk_free(&r->bulk);
    decode_free(&r->dec);
    map_out_free(&r->mo);
    for (size_t i = 0; i < r->n_noted; i++)
        ce_free(r->noted[i]);
    ce_free(r);
    return exit_code;
}
