/* run: the single-threaded pipeline of the walking skeleton. */
#include "run.h"
#include "bulk/bulk.h"
#include "commit/ckpt.h"
#include "decode/decode.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "sink/automap.h"
#include "sink/deadletter.h"
#include "sink/setup.h"
#include "sink/sink.h"
#include "snapshot/job.h"
#include "snapshot/refetch.h"
#include "source/canal.h"
#include "stats.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RUN_MAX_BODY ((size_t)512 << 20)
#define RUN_MAX_CONCURRENCY DLV_MAX_STREAMS
#define RUN_MAX_NOTED 1024
#define RUN_MAX_FRAME_ATTEMPTS 3 /* GETs in a row answered by a frame above max_frame_mb: then exit 1 */

void run_opts_default(run_opts *o)
{
    o->retry_initial_ms = 200;
    o->retry_max_ms = 10000;
    o->stats_interval_ms = 10000;
    o->stats = NULL;
    o->jobs = NULL;
    o->exit_when_idle = 0;
    o->dry_run = 0;
}

#define RUN_DRY_MAX_BATCHES 60 /* below the client's 64 outstanding batches */

typedef struct run_ctx {
    const cfg *c;
    const run_opts *o;
    volatile sig_atomic_t *stop;   /* set by SIGTERM/SIGINT: fetch nothing more */
    volatile sig_atomic_t abandon; /* shutdown_timeout_ms passed: give up the batch in hand */
    _Atomic uint64_t stop_deadline; /* monotonic ms; 0 until the stop is seen */
    size_t req_cap;                /* bytes per _bulk request (halved on 413) */
    uint64_t first_buffered_ms;    /* when the oldest buffered action was added; 0 = none */
    char cache_db[256], cache_table[256]; /* the last cfg_find_table lookup */
    const cfg_table *cache_rule;
    size_t cache_slot;             /* its per-table stats slot */
    bool cache_valid;
    canal_client *canal;
    sink *sink;                    /* sinks[0]: DDL, index setup and concurrency 1 */
    sink *sinks[RUN_MAX_CONCURRENCY];
    size_t n_sinks;                /* [elasticsearch] concurrency */
    bulk bulk;
    decode_ctx dec;
    map_out mo;
    ce_backoff bo;
    ce_backoff src_bo;     /* Canal reconnects: reset only by a delivered batch (run_src_healthy) */
    uint64_t src_since_ms; /* when the current Canal connection was made */
    bool src_served;       /* the current (or last) connection answered a GET */
    char src_peer[300];    /* the server of the last "connected" line */
    unsigned frames_too_big; /* consecutive GETs refused for their frame size */
    deadletter *dl;        /* NULL when on_error = halt */
    dlv_action *acts;      /* the actions of the bulk body being delivered */
    dlv_result *res;       /* their results */
    size_t items_cap;
    ckpt last;             /* position of the last row seen; written after each ack */
    ce_stats own_stats;    /* used when run_opts has none */
    ce_stats *st;
    char *noted[RUN_MAX_NOTED]; /* "db.table" already warned about */
    uint64_t noted_rows[RUN_MAX_NOTED];     /* rows skipped per noted table */
    uint64_t noted_reported[RUN_MAX_NOTED]; /* ... as of the last stats line */
    size_t n_noted;
    char *ensured[RUN_MAX_NOTED]; /* indexes checked or created from a mapping file; "index db.table/ncols" for auto */
    size_t n_ensured;
    automap *am;                  /* mapping = auto state; NULL until needed */
    rf_ctx *rf;                   /* text Canal garbles, read back from [mysql] (snapshot/refetch.h) */
    char err[1024];
} run_ctx;

enum { RUN_DONE = 0, RUN_FAIL = -1, RUN_STOPPED = 1, RUN_AGAIN = 2 };

static bool run_stopping(const run_ctx *r) { return *r->stop != 0; }

static uint64_t run_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t run_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Counts one request to the node, its latency and whether the node answered. */
static void run_observe(run_ctx *r, uint64_t t0_us, sink_rc rc)
{
    CE_STAT_ADD(r->st, bulk_requests, 1);
    stats_observe_request(r->st, run_now_us() - t0_us);
    CE_STAT_SET(r->st, search_reachable, rc == SINK_RETRY ? 0 : 1);
}

/* The shutdown deadline (monotonic ms), set by the first caller after the
 * stop request; *first when this call set it. Any thread. */
static uint64_t run_deadline(run_ctx *r, bool *first)
{
    uint64_t d = atomic_load(&r->stop_deadline);
    *first = false;
    if (d == 0) {
        uint64_t nd = run_now_ms() + (uint64_t)r->c->es.shutdown_timeout_ms;
        if (atomic_compare_exchange_strong(&r->stop_deadline, &d, nd)) {
            d = nd;
            *first = true;
        }
    }
    return d;
}

static void run_log_stop(const run_ctx *r)
{
    ce_log(CE_LOG_INFO, "run", "stop requested: fetching nothing more, finishing the batch in hand (up to %ld ms)",
           r->c->es.shutdown_timeout_ms);
}

/* After a stop request the batch in hand may still be finished and acked
 * until shutdown_timeout_ms has passed; then it is abandoned (un-acked).
 * Pipeline thread only. */
static bool run_abandoned(run_ctx *r)
{
    if (r->abandon)
        return true;
    if (!run_stopping(r))
        return false;
    bool first;
    uint64_t d = run_deadline(r, &first);
    if (first)
        run_log_stop(r);
    if (run_now_ms() >= d) {
        r->abandon = 1;
        ce_log(CE_LOG_WARN, "run",
               "shutdown_timeout_ms (%ld) passed: the batch in hand stays un-acked and will be redelivered",
               r->c->es.shutdown_timeout_ms);
    }
    return r->abandon != 0;
}

/* run_abandoned for the transfers and the delivery streams: any thread;
 * the pipeline thread sets r->abandon when the delivery returns. */
static int run_abort_transfer(void *ud)
{
    run_ctx *r = ud;
    if (r->abandon)
        return 1;
    if (!run_stopping(r))
        return 0;
    bool first;
    uint64_t d = run_deadline(r, &first);
    if (first)
        run_log_stop(r);
    return run_now_ms() >= d;
}

/* Sleeps ms, in steps, until done (0) or the batch is abandoned (1). */
static int run_sleep(run_ctx *r, uint64_t ms)
{
    uint64_t end = run_now_ms() + ms;
    for (;;) {
        if (run_abandoned(r))
            return 1;
        uint64_t now = run_now_ms();
        if (now >= end)
            return 0;
        ce_sleep_ms(end - now > 100 ? 100 : end - now, NULL);
    }
}

/* Counts a skipped row of db.table; logs `msg` for the table only the first time. */
static void run_warn_once(run_ctx *r, const char *db, const char *table, const char *msg)
{
    char key[512];
    snprintf(key, sizeof key, "%s.%s", db, table);
    for (size_t i = 0; i < r->n_noted; i++)
        if (r->noted[i] != NULL && strcmp(r->noted[i], key) == 0) {
            r->noted_rows[i]++;
            return;
        }
    if (r->n_noted < RUN_MAX_NOTED) {
        r->noted_rows[r->n_noted] = 1;
        r->noted[r->n_noted++] = ce_strdup(key);
    }
    ce_log(CE_LOG_WARN, "map", "table %s: %s", key, msg);
}

/* "skipped rows by table: a.b=120 (+20), ..." for the tables with new skips. */
static void run_log_skipped(run_ctx *r)
{
    char line[1024];
    size_t n = 0, shown = 0, more = 0;
    for (size_t i = 0; i < r->n_noted; i++) {
        if (r->noted[i] == NULL || r->noted_rows[i] == r->noted_reported[i])
            continue;
        if (shown < 20 && n < sizeof line - 128) {
            int w = snprintf(line + n, sizeof line - n, "%s%s=%llu (+%llu)", shown ? ", " : "", r->noted[i],
                             (unsigned long long)r->noted_rows[i],
                             (unsigned long long)(r->noted_rows[i] - r->noted_reported[i]));
            n += w > 0 && (size_t)w < sizeof line - n ? (size_t)w : 0;
            shown++;
        } else {
            more++;
        }
        r->noted_reported[i] = r->noted_rows[i];
    }
    if (shown > 0)
        ce_log(CE_LOG_INFO, "map", "skipped rows by table (no rule, or no id): %s%s", line, more ? ", ..." : "");
}

/* Logs r->err with the coming delay, counts a retry and sleeps the next
 * full-jitter backoff delay, at least min_ms (a Retry-After). Non-zero when
 * the batch in hand was abandoned meanwhile. */
static int run_backoff(run_ctx *r, ce_backoff *bo, const char *component, long long min_ms)
{
    uint64_t delay = dlv_wait_ms(ce_backoff_next(bo), min_ms);
    CE_STAT_ADD(r->st, retries, 1);
    ce_log(CE_LOG_WARN, component, "%s; retrying in %llu ms (attempt %u%s)", r->err, (unsigned long long)delay,
           bo->attempt, min_ms > 0 ? ", Retry-After" : "");
    return run_sleep(r, delay);
}

/* The items of a finished delivery: rejected ones (and, after max_retries,
 * the ones still failing) go to the dead-letter file, or halt the service. */
static int run_items(run_ctx *r, size_t n)
{
    size_t dead = 0;
    for (size_t i = 0; i < n; i++) {
        sink_item *it = &r->res[i].item;
        if (it->cls == SINK_ITEM_RETRY) {
            ce_log(CE_LOG_WARN, "sink", "%s: item still failing after %ld retries (%d %s): treated as rejected",
                   bulk_table(&r->bulk, i), r->c->es.max_retries, it->status, it->type);
            it->cls = SINK_ITEM_DEAD;
            CE_STAT_ADD(r->st, items_dead, 1);
        }
        if (it->cls != SINK_ITEM_DEAD)
            continue;
        const uint8_t *p;
        size_t len;
        bulk_action_bytes(&r->bulk, i, &p, &len);
        size_t alen = r->bulk.meta[i].doc - r->bulk.meta[i].start;
        if (r->dl == NULL) {
            ce_log(CE_LOG_ERROR, "sink",
                   "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): %.*s; halting without ack "
                   "(on_error = halt)",
                   bulk_table(&r->bulk, i), bulk_logfile(&r->bulk, i), (long long)r->bulk.meta[i].offset, it->status,
                   it->type, it->reason, (int)(alen > 0 ? alen - 1 : 0), (const char *)p);
            return RUN_FAIL;
        }
        if (dl_write(r->dl, &r->bulk, i, it, r->err, sizeof r->err) != 0) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return RUN_FAIL;
        }
        dead++;
        CE_STAT_ADD(r->st, dead_letters, 1);
        ce_log(CE_LOG_WARN, "sink", "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): written to %s",
               bulk_table(&r->bulk, i), bulk_logfile(&r->bulk, i), (long long)r->bulk.meta[i].offset, it->status,
               it->type, it->reason, dl_path(r->dl));
    }
    if (dead > 0 && dl_sync(r->dl, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return RUN_FAIL;
    }
    return RUN_DONE;
}

/* Dry run: what would be sent, on stdout; every item counts as applied. */
static int run_flush_dry(run_ctx *r)
{
    if (fwrite(r->bulk.body.data, 1, r->bulk.body.len, stdout) != r->bulk.body.len || fflush(stdout) != 0) {
        ce_log(CE_LOG_ERROR, "run", "dry run: cannot write to stdout");
        return RUN_FAIL;
    }
    CE_STAT_ADD(r->st, items_ok, r->bulk.n_actions);
    bulk_reset(&r->bulk);
    return RUN_DONE;
}

/* Sends the bulk body through the delivery module (deliver.h: requests of
 * at most r->req_cap bytes, [elasticsearch] concurrency streams, only the
 * failed items sent again) until every item is applied or dead-lettered. */
static int run_flush(run_ctx *r)
{
    r->first_buffered_ms = 0;
    size_t n = r->bulk.n_actions;
    if (n == 0)
        return RUN_DONE;
    if (r->o->dry_run)
        return run_flush_dry(r);
    if (bulk_dlv_actions(&r->bulk, &r->acts, &r->res, &r->items_cap) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "out of memory for %zu bulk items", n);
        return RUN_FAIL;
    }
    dlv_transport t;
    dlv_sink_transport(&t, r->sinks);
    dlv_opts o = {.req_cap = &r->req_cap,
                  .streams = r->n_sinks,
                  .should_abort = run_abort_transfer,
                  .abort_ud = r,
                  .halt_on_dead = r->dl == NULL,
                  .stats = r->st};
    dlv_opts_retries(&o, &r->c->es);
    dlv_rc rc = dlv_send(r->acts, n, &t, &o, r->res, r->err, sizeof r->err);
    switch (rc) {
    case DLV_DONE:
    case DLV_HALTED:
        break;
    case DLV_STOPPED:
        run_abandoned(r);
        r->abandon = 1;
        return RUN_STOPPED;
    case DLV_GAVE_UP:
        ce_log(CE_LOG_ERROR, "sink", "%s; giving up after %ld retries (max_retries), nothing acked", r->err,
               r->c->es.max_retries);
        return RUN_FAIL;
    case DLV_FATAL:
        ce_log(CE_LOG_ERROR, "sink", "%s, stopping", r->err);
        return RUN_FAIL;
    case DLV_ERROR:
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return RUN_FAIL;
    }
    int ir = run_items(r, n);
    if (ir == RUN_DONE)
        bulk_reset(&r->bulk);
    return ir;
}

/* Creates the index from the rule's mapping file (mapping = FILE), or from
 * the mapping derived from the row's column types (mapping = auto: once per
 * index, table and column count), before its first action; retried like a
 * bulk request. */
static int run_ensure_index(run_ctx *r, const cfg_table *rule, const char *index, const row_event *ev)
{
    bool auto_map = rule->mapping_mode == CFG_MAPPING_AUTO;
    if (rule->mapping == NULL && !auto_map)
        return RUN_DONE;
    char key[MAP_INDEX_BUF + 600];
    if (auto_map) /* with the column count: a column added later (ALTER TABLE) is mapped too */
        snprintf(key, sizeof key, "%s %s.%s/%zu", index, ev->schema, ev->table,
                 ev->after.n > 0 ? ev->after.n : ev->before.n);
    else
        snprintf(key, sizeof key, "%s", index);
    for (size_t i = 0; i < r->n_ensured; i++)
        if (strcmp(r->ensured[i], key) == 0)
            return RUN_DONE;
    if (auto_map && r->am == NULL && (r->am = automap_new()) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        return RUN_FAIL;
    }
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)r->c->es.retry_initial_ms, (uint64_t)r->c->es.retry_max_ms);
    for (;;) {
        if (run_abandoned(r))
            return RUN_STOPPED;
        int created = 0;
        uint64_t t0 = run_now_us();
        sink_rc sr = auto_map ? automap_ensure(r->am, r->sink, rule, index, ev, &created, r->err, sizeof r->err)
                              : setup_ensure(r->sink, rule, index, NULL, 0, &created, r->err, sizeof r->err);
        run_observe(r, t0, sr); /* counted as one request, in the histogram too */
        if (sr == SINK_OK) {
            const char *from = auto_map ? "the column types of" : "mapping file";
            const char *what = auto_map ? "" : rule->mapping;
            char table[600];
            snprintf(table, sizeof table, "%s.%s", ev->schema, ev->table);
            if (auto_map)
                what = table;
            if (created && rule->alias != NULL)
                ce_log(CE_LOG_INFO, "sink", "created index %s with write alias %s from %s %s", rule->index,
                       rule->alias, from, what);
            else if (created)
                ce_log(CE_LOG_INFO, "sink", "created index %s from %s %s", index, from, what);
            if (r->n_ensured < RUN_MAX_NOTED)
                r->ensured[r->n_ensured++] = ce_strdup(key); /* NULL (no memory) only means checking again */
            return RUN_DONE;
        }
        if (sr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return RUN_FAIL;
        }
        CE_STAT_ADD(r->st, request_failures, 1);
        if (run_backoff(r, &bo, "sink", sink_retry_after_ms(r->sink)))
            return RUN_STOPPED;
    }
}

/* cfg_find_table with a one-entry cache: rows come in runs of one table. */
static const cfg_table *run_rule(run_ctx *r, const char *db, const char *table)
{
    if (r->cache_valid && strcmp(r->cache_db, db) == 0 && strcmp(r->cache_table, table) == 0)
        return r->cache_rule;
    const cfg_table *rule = cfg_find_table(r->c, db, table);
    r->cache_slot = stats_table_slot(r->st, db, table);
    int a = snprintf(r->cache_db, sizeof r->cache_db, "%s", db);
    int b = snprintf(r->cache_table, sizeof r->cache_table, "%s", table);
    r->cache_valid = a >= 0 && (size_t)a < sizeof r->cache_db && b >= 0 && (size_t)b < sizeof r->cache_table;
    r->cache_rule = rule;
    return rule;
}

/* A row its rule cannot map (r->err says why): written to the dead-letter
 * file (fsynced at once, before any ack) and the stream goes on; with
 * on_error = halt the service stops, nothing acked. */
static int run_row_failed(run_ctx *r, const row_event *ev)
{
    char reason[sizeof r->err];
    snprintf(reason, sizeof reason, "%s", r->err);
    if (r->dl == NULL) {
        if (r->o->dry_run && !r->c->es.halt_on_error) {
            ce_log(CE_LOG_WARN, "map", "%s: dry run: the row would go to the dead-letter file", reason);
            return 0;
        }
        snprintf(r->err, sizeof r->err, "%.900s; halting, nothing acked (on_error = halt)", reason);
        return RUN_FAIL;
    }
    if (dl_write_row(r->dl, ev, reason, r->err, sizeof r->err) != 0 || dl_sync(r->dl, r->err, sizeof r->err) != 0)
        return RUN_FAIL;
    CE_STAT_ADD(r->st, dead_letters, 1);
    ce_log(CE_LOG_WARN, "map", "%s: row not indexed, written to %s", reason, dl_path(r->dl));
    return 0;
}

/* An entry that does not decode: its raw bytes go to the dead-letter file
 * and the stream goes on; with on_error = halt the service stops. */
static int run_on_bad(void *ud, const decode_bad *b)
{
    run_ctx *r = ud;
    char reason[sizeof r->err];
    snprintf(reason, sizeof reason, "%s", b->reason);
    if (b->logfile[0] != '\0') {
        snprintf(r->last.binlog_file, sizeof r->last.binlog_file, "%s", b->logfile);
        r->last.binlog_offset = b->offset;
    }
    if (r->dl == NULL) {
        if (r->o->dry_run && !r->c->es.halt_on_error) {
            ce_log(CE_LOG_WARN, "decode", "%s: dry run: the entry would go to the dead-letter file", reason);
            return 0;
        }
        snprintf(r->err, sizeof r->err,
                 "%.800s; halting, nothing acked (on_error = halt; with a dead_letter file the raw entry is written "
                 "there and the stream goes on)",
                 reason);
        return RUN_FAIL;
    }
    if (dl_write_entry(r->dl, b, r->err, sizeof r->err) != 0 || dl_sync(r->dl, r->err, sizeof r->err) != 0)
        return RUN_FAIL;
    CE_STAT_ADD(r->st, dead_letters, 1);
    ce_log(CE_LOG_WARN, "decode", "%s: the raw entry (%zu bytes) is written to %s", reason, b->len, dl_path(r->dl));
    return 0;
}

/* A row whose index template gives no valid index name (r->err says which
 * and why; r->mo holds its actions): nothing is sent; the actions go to the
 * dead-letter file (synced before the ack) and the stream goes on, or with
 * on_error = halt canal-es stops without ack. */
static int run_refuse_row(run_ctx *r)
{
    char e[512];
    if (r->o->dry_run) {
        ce_log(CE_LOG_WARN, "map", "%s", r->err);
        return 0;
    }
    if (r->dl == NULL) {
        size_t n = strlen(r->err); /* run_batch logs it */
        snprintf(r->err + n, sizeof r->err - n, "; halting without ack (on_error = halt)");
        return RUN_FAIL;
    }
    sink_item it = {.cls = SINK_ITEM_DEAD, .status = 400, .type = "invalid_index_name_exception"};
    snprintf(it.reason, sizeof it.reason, "%.319s", r->err);
    if (dl_write_refused(r->dl, &r->mo, &it, e, sizeof e) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", e);
        return RUN_FAIL;
    }
    CE_STAT_ADD(r->st, dead_letters, r->mo.n);
    ce_log(CE_LOG_WARN, "map", "%s; written to %s", r->err, dl_path(r->dl));
    return 0;
}

/* A hard delete just appended to the bulk: a job loading the rule sends it
 * again after its chunk in flight (job_note_delete). */
static void run_note_delete(run_ctx *r, const cfg_table *rule, const map_action *a)
{
    if (r->o->jobs == NULL || a->op != MAP_DELETE || r->bulk.n_actions == 0)
        return;
    const uint8_t *p;
    size_t len;
    bulk_action_bytes(&r->bulk, r->bulk.n_actions - 1, &p, &len);
    job_note_delete(r->o->jobs, rule, p, len);
}

/* Text in a charset Canal cannot decode (snapshot/refetch.h): *ev becomes
 * the event with the exact text, or NULL when the row is to be skipped (no
 * longer in MySQL, or dead-lettered for a garbled key). MySQL failures are
 * retried with backoff: indexing Canal's garbled text instead would lose it. */
static int run_charset(run_ctx *r, const cfg_table *rule, const row_event **ev)
{
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)r->c->es.retry_initial_ms, (uint64_t)r->c->es.retry_max_ms);
    for (;;) {
        const row_event *out = NULL;
        rf_rc rc = rf_fix(r->rf, *ev, r->c->canal.connection_charset, rule->soft_field != NULL, &out, r->err, sizeof r->err);
        if (rc == RF_ASIS)
            return 0;
        if (rc == RF_FIXED || rc == RF_GONE) {
            *ev = out;
            return 0;
        }
        if (rc == RF_BADKEY) {
            int frc = run_row_failed(r, *ev);
            *ev = NULL;
            return frc;
        }
        if (run_backoff(r, &bo, "charset", 0))
            return RUN_STOPPED;
    }
}

/* Every row of an entry, before their run_on_row: the text Canal garbles
 * is read back for all of them with one query (snapshot/refetch.h). */
static int run_on_rows(void *ud, const row_event *evs, size_t n)
{
    run_ctx *r = ud;
    const cfg_table *rule = run_rule(r, evs[0].schema, evs[0].table);
    if (rule != NULL && rule->enabled && n > 1) {
        rf_prefetch_begin(r->rf);
        rf_prefetch(r->rf, evs, n, r->c->canal.connection_charset);
        rf_prefetch_end(r->rf);
    }
    return 0;
}

static int run_on_row(void *ud, const row_event *ev)
{
    run_ctx *r = ud;
    CE_STAT_ADD(r->st, rows_in, 1);
    snprintf(r->last.binlog_file, sizeof r->last.binlog_file, "%s", ev->logfile);
    r->last.binlog_offset = ev->offset;
    r->last.source_time_ms = ev->execute_time;
    snprintf(r->last.gtid, sizeof r->last.gtid, "%s", ev->gtid ? ev->gtid : "");
    const cfg_table *rule = run_rule(r, ev->schema, ev->table);
    stats_count_row(r->st, r->cache_slot, ev->op == ROW_INSERT ? 0 : ev->op == ROW_UPDATE ? 1 : 2);
    if (rule == NULL) {
        CE_STAT_ADD(r->st, rows_skipped, 1);
        run_warn_once(r, ev->schema, ev->table, "no [table] rule matches: its rows are not indexed");
        return 0;
    }
    if (!rule->enabled) {
        CE_STAT_ADD(r->st, rows_skipped, 1);
        return 0;
    }
    if (rf_enabled(r->rf)) {
        int crc = run_charset(r, rule, &ev);
        if (crc != 0 || ev == NULL)
            return crc;
    }
    rf_scan(r->rf, ev, r->c->canal.connection_charset, rule->soft_field != NULL);
    int mrc = map_row(rule, ev, &r->mo, r->err, sizeof r->err);
    if (mrc == MAP_NO_ID) {
        CE_STAT_ADD(r->st, rows_skipped, 1);
        run_warn_once(r, ev->schema, ev->table,
                      "no primary key and no 'id' columns configured: its rows are skipped");
        return 0;
    }
    if (mrc == MAP_BAD_INDEX)
        return run_refuse_row(r);
    if (mrc != MAP_OK)
        return run_row_failed(r, ev);
    if ((rule->mapping != NULL || rule->mapping_mode == CFG_MAPPING_AUTO) && !r->o->dry_run) {
        int erc = run_ensure_index(r, rule, r->mo.index, ev);
        if (erc != RUN_DONE)
            return erc;
    }
    for (size_t i = 0; i < r->mo.n; i++) {
        if (bulk_append(&r->bulk, &r->mo.act[i], r->err, sizeof r->err) != 0)
            return RUN_FAIL;
        run_note_delete(r, rule, &r->mo.act[i]);
    }
    char tee[CFG_INDEX_MAX + 1];
    if (r->o->jobs != NULL && job_tee(r->o->jobs, rule, tee, sizeof tee)) {
        /* a reindex of this rule is filling a new index: it gets every change too, from before its first chunk */
        for (size_t i = 0; i < r->mo.n; i++) {
            map_action a = r->mo.act[i];
            a.index = tee;
            if (bulk_append(&r->bulk, &a, r->err, sizeof r->err) != 0)
                return RUN_FAIL;
            run_note_delete(r, rule, &a);
        }
    }
    if (r->bulk.n_actions > 0 && r->first_buffered_ms == 0)
        r->first_buffered_ms = run_now_ms();
    if (r->bulk.body.len >= (size_t)r->c->es.bulk_max_bytes || r->bulk.n_actions >= (size_t)r->c->es.bulk_max_actions ||
        (r->c->es.flush_interval_ms > 0 && r->bulk.n_actions > 0 &&
         run_now_ms() - r->first_buffered_ms >= (uint64_t)r->c->es.flush_interval_ms))
        return run_flush(r);
    return 0;
}

static int run_apply_ddl(run_ctx *r, const ddl_event *ev);

/* A DDL statement: a job reading the table stops writing before it is
 * applied (job_stream_ddl), and goes on (or fails) after. */
static int run_on_ddl(void *ud, const ddl_event *ev)
{
    run_ctx *r = ud;
    if (r->o->jobs != NULL)
        job_stream_ddl(r->o->jobs, ev);
    int rc = run_apply_ddl(r, ev);
    if (r->o->jobs != NULL)
        job_stream_ddl_done(r->o->jobs);
    return rc;
}

/* TRUNCATE / DROP TABLE of a mapped table: flush what came before, then
 * delete the table's documents, retrying like a bulk request. */
static int run_apply_ddl(run_ctx *r, const ddl_event *ev)
{
    rf_forget(r->rf, ev->schema, ev->table); /* its columns' charsets are read again */
    if (ev->kind == DDL_OTHER)
        return 0;
    const cfg_table *rule = run_rule(r, ev->schema, ev->table);
    if (rule == NULL || !rule->enabled)
        return 0;
    char index[MAP_INDEX_BUF], name[300], why[64];
    const char *what = ev->kind == DDL_TRUNCATE ? "TRUNCATE" : "DROP TABLE";
    if (cfg_index_check(rule, ev->schema, ev->table, index, sizeof index, why, sizeof why) != 0) {
        ce_log(CE_LOG_WARN, "map",
               "binlog %s:%lld: %s of %s.%s not applied: index template '%s' (config line %d) gives '%.100s%s', "
               "which is not a valid index name (%s)",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, rule->index, rule->line, index,
               strlen(index) > 100 ? "..." : "", why);
        return 0;
    }
    cfg_ddl_action act = ev->kind == DDL_TRUNCATE ? rule->on_truncate : rule->on_drop;
    if (act == CFG_DDL_IGNORE) {
        ce_log(CE_LOG_INFO, "map", "binlog %s:%lld: %s of %s.%s: index %s kept (on_%s = ignore)", ev->logfile,
               (long long)ev->offset, what, ev->schema, ev->table, index,
               ev->kind == DDL_TRUNCATE ? "truncate" : "drop");
        return 0;
    }
    if (cfg_index_shared(r->c, rule)) {
        ce_log(CE_LOG_WARN, "map",
               "binlog %s:%lld: %s of %s.%s not applied: index %s (rule %s) may hold documents of other tables, "
               "which would go too",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, index,
               cfg_rule_name(rule, name, sizeof name));
        return 0;
    }
    int rc = run_flush(r);
    if (rc != RUN_DONE)
        return rc;
    if (r->o->dry_run) {
        ce_log(CE_LOG_INFO, "map", "dry run: binlog %s:%lld: %s of %s.%s would delete every document of index %s",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, index);
        return RUN_DONE;
    }
    ce_backoff_reset(&r->bo);
    for (;;) {
        long long deleted = 0;
        if (run_abandoned(r))
            return RUN_STOPPED;
        uint64_t t0 = run_now_us();
        sink_rc sr = sink_delete_all(r->sink, index, &deleted, r->err, sizeof r->err);
        run_observe(r, t0, sr);
        if (sr == SINK_OK) {
            ce_log(CE_LOG_INFO, "map", "binlog %s:%lld: %s of %s.%s: deleted %lld documents from index %s",
                   ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, deleted, index);
            return RUN_DONE;
        }
        if (sr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return RUN_FAIL;
        }
        CE_STAT_ADD(r->st, request_failures, 1);
        if (run_backoff(r, &r->bo, "sink", sink_retry_after_ms(r->sink)))
            return RUN_STOPPED;
    }
}

/* Connects (trying each address) until it works, a fatal answer, or a stop.
 * Each failed attempt logs one line with the delay before the next; the
 * backoff (r->src_bo) carries over from the failures before, so a server
 * that accepts and then fails every GET is not hammered. */
static int run_connect(run_ctx *r)
{
    while (!run_stopping(r)) {
        canal_rc rc = canal_connect(r->canal, r->err, sizeof r->err);
        if (rc == CANAL_OK) {
            const char *peer = canal_peer(r->canal);
            CE_STAT_SET(r->st, canal_connected, 1);
            r->src_since_ms = run_now_ms();
            /* the last connection to this server answered no GET: the "reconnecting" line of each
             * attempt of such a storm says enough */
            bool again = !r->src_served && strcmp(peer, r->src_peer) == 0;
            r->src_served = false;
            ce_log(again ? CE_LOG_DEBUG : CE_LOG_INFO, "source", "connected to canal %s, subscribed to destination %s",
                   peer, r->c->canal.destination);
            snprintf(r->src_peer, sizeof r->src_peer, "%s", peer);
            return RUN_DONE;
        }
        if (run_stopping(r))
            break; /* the connect was abandoned (CANAL_ERR_INTR) or failed meanwhile */
        if (rc == CANAL_ERR_AUTH || rc == CANAL_ERR_SERVER) {
            ce_log(CE_LOG_ERROR, "source", "%s; check [canal] %s in %s (canal-es check-config -c %s tries it)", r->err,
                   rc == CANAL_ERR_AUTH ? "username and password" : "destination and filter", r->c->path,
                   r->c->path);
            return RUN_FAIL;
        }
        uint64_t delay = ce_backoff_next(&r->src_bo);
        CE_STAT_ADD(r->st, retries, 1);
        ce_log(CE_LOG_WARN, "source", "%s; retrying in %llu ms (attempt %u)", r->err, (unsigned long long)delay,
               r->src_bo.attempt);
        ce_sleep_ms(delay, r->stop);
    }
    return RUN_STOPPED;
}

/* A GET was answered: a batch (non-empty) proves the source works and
 * resets the reconnect backoff; empty answers do once the connection has
 * lasted retry_max_ms (an idle but healthy server). */
static void run_src_healthy(run_ctx *r, bool batch)
{
    r->src_served = true;
    r->frames_too_big = 0;
    if (batch || run_now_ms() - r->src_since_ms >= (uint64_t)r->o->retry_max_ms)
        ce_backoff_reset(&r->src_bo);
}

/* The Canal connection was lost (r->err says how; `what` is appended):
 * logs one line with the delay, sleeps it (a stop ends the sleep) and
 * reconnects. */
static int run_reconnect(run_ctx *r, ce_log_level level, const char *what)
{
    CE_STAT_SET(r->st, canal_connected, 0);
    CE_STAT_ADD(r->st, reconnects, 1);
    CE_STAT_ADD(r->st, retries, 1);
    uint64_t delay = ce_backoff_next(&r->src_bo);
    ce_log(level, "source", "%s%s; reconnecting in %llu ms (attempt %u)", r->err, what, (unsigned long long)delay,
           r->src_bo.attempt);
    if (ce_sleep_ms(delay, r->stop))
        return RUN_STOPPED;
    return run_connect(r);
}

static int run_collect_row(void *ud, const row_event *ev)
{
    (void)ud, (void)ev;
    return 0;
}

static int run_collect_bad(void *ud, const decode_bad *b)
{
    (void)ud, (void)b;
    return 0; /* reported by the pass that maps */
}

/* The first pass over a batch when [mysql] reads back garbled text: every
 * entry's rows go to rf_prefetch, so the text of the whole batch is read in
 * a few queries (one per 500 rows of a table) instead of one per entry. */
static int run_collect_rows(void *ud, const row_event *evs, size_t n)
{
    run_ctx *r = ud;
    const cfg_table *rule = run_rule(r, evs[0].schema, evs[0].table);
    if (rule != NULL && rule->enabled)
        rf_prefetch(r->rf, evs, n, r->c->canal.connection_charset);
    return 0;
}

static void run_prefetch_batch(run_ctx *r, const canal_batch *m)
{
    decode_ctx *d = &r->dec;
    decode_rows_fn rows = d->on_rows;
    decode_ddl_fn ddl = d->on_ddl;
    decode_bad_fn bad = d->on_bad;
    decode_stats counted = d->stats; /* the entries are counted by the pass that maps them */
    d->on_rows = run_collect_rows;
    d->on_ddl = NULL;
    d->on_bad = run_collect_bad;
    rf_prefetch_begin(r->rf);
    char err[256];
    for (size_t i = 0; i < m->n; i++)
        (void)decode_entry(d, m->entries[i].p, m->entries[i].len, run_collect_row, r, err, sizeof err);
    rf_prefetch_end(r->rf);
    d->stats = counted;
    d->on_rows = rows;
    d->on_ddl = ddl;
    d->on_bad = bad;
}

static int run_batch(run_ctx *r, const canal_batch *m)
{
    decode_rows_fn rows = r->dec.on_rows;
    if (rows != NULL && m->n > 1 && rf_any_foreign(r->rf)) {
        run_prefetch_batch(r, m);
        r->dec.on_rows = NULL; /* read already */
    }
    int brc = RUN_DONE;
    for (size_t i = 0; i < m->n && brc == RUN_DONE; i++) {
        int rc = decode_entry(&r->dec, m->entries[i].p, m->entries[i].len, run_on_row, r, r->err,
                              sizeof r->err);
        if (rc == RUN_STOPPED) {
            brc = RUN_STOPPED;
        } else if (rc != 0) {
            ce_log(CE_LOG_ERROR, "run", "batch %lld entry %zu: %s", (long long)m->id, i, r->err);
            brc = RUN_FAIL;
        }
    }
    r->dec.on_rows = rows;
    if (brc != RUN_DONE)
        return brc;
    int rc = run_flush(r);
    if (rc == RUN_DONE && r->dl != NULL && dl_sync(r->dl, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err); /* refused rows: their dead letters before the ack */
        return RUN_FAIL;
    }
    return rc;
}

static void run_log_stats(run_ctx *r)
{
    char line[1024];
    CE_STAT_SET(r->st, utf8_repairs, r->bulk.values.utf8_repairs);
    stats_format(r->st, (int64_t)ckpt_now_ms(), line, sizeof line);
    ce_log(CE_LOG_INFO, "run", "%s", line);
    run_log_skipped(r);
}

/* Acks batch m and writes the checkpoint. RUN_DONE, RUN_FAIL, or RUN_AGAIN
 * when the connection was lost (the batch will be redelivered). */
static int run_ack(run_ctx *r, const canal_batch *m)
{
    canal_rc ar = canal_ack(r->canal, m->id, r->err, sizeof r->err);
    if (ar == CANAL_ERR_ORDER) {
        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
        return RUN_FAIL;
    }
    if (ar != CANAL_OK) {
        /* Redelivered after reconnect + rollback; writes are idempotent. The caller logs r->err. */
        CE_STAT_SET(r->st, canal_connected, 0);
        return RUN_AGAIN;
    }
    CE_STAT_ADD(r->st, acks, 1);
    if (r->o->jobs != NULL)
        job_stream_at(r->o->jobs, r->dec.pos_file, r->dec.pos_offset, r->dec.server_id, false);
    CE_STAT_SET(r->st, last_source_time_ms, (int64_t)r->last.source_time_ms);
    stats_set_ack_position(r->st, r->last.binlog_file, r->last.binlog_offset);
    CE_STAT_SET(r->st, last_ack_wall_ms, (int64_t)ckpt_now_ms());
    if (r->c->checkpoint.file[0] == '\0')
        return RUN_DONE;
    r->last.batch_id = m->id;
    r->last.wall_time_ms = ckpt_now_ms();
    if (ckpt_write(r->c->checkpoint.file, &r->last, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
        return RUN_FAIL;
    }
    return RUN_DONE;
}

void run_canal_opts(const cfg *c, canal_opts *co)
{
    *co = (canal_opts){
        .addresses = c->canal.address,
        .destination = c->canal.destination,
        .username = c->canal.username,
        .password = c->canal.password,
        .client_id = c->canal.client_id,
        .filter = c->canal.filter,
        .fetch_size = c->canal.batch_size,
        .fetch_timeout_ms = c->canal.fetch_timeout_ms,
        .max_frame = (size_t)c->canal.max_frame_mb << 20,
        .zookeeper = c->canal.zookeeper,
        .zookeeper_timeout_ms = c->canal.zookeeper_timeout_ms,
    };
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
    r->req_cap = SIZE_MAX;
    if (o->stats != NULL) {
        r->st = o->stats;
    } else {
        stats_init(&r->own_stats);
        r->st = &r->own_stats;
    }
    decode_init(&r->dec);
    r->dec.on_ddl = run_on_ddl;
    r->dec.on_bad = run_on_bad;
    map_out_init(&r->mo);
    r->mo.versioning = c->es.versioning_on;
    r->mo.version_epoch = (unsigned)c->es.version_epoch;
    ce_backoff_init(&r->bo, (uint64_t)c->es.retry_initial_ms, (uint64_t)c->es.retry_max_ms);
    canal_opts co;
    run_canal_opts(c, &co);
    /* With no batch in hand (connect, handshake, GET) nothing is lost by leaving at once: a stop
     * ends those waits. A batch in hand is finished and acked until shutdown_timeout_ms (run_abandoned). */
    co.stop = r->stop;
    ce_backoff_init(&r->src_bo, (uint64_t)o->retry_initial_ms, (uint64_t)o->retry_max_ms);
    if (bulk_init(&r->bulk, RUN_MAX_BODY) != 0 || (r->canal = canal_new(&co)) == NULL ||
        (r->rf = rf_new(&c->mysql, r->st)) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        goto out;
    }
    if (rf_enabled(r->rf))
        r->dec.on_rows = run_on_rows; /* reads of garbled text batched per entry */
    r->n_sinks = (size_t)c->es.concurrency;
    if (r->n_sinks < 1 || r->n_sinks > RUN_MAX_CONCURRENCY)
        r->n_sinks = 1;
    for (size_t i = 0; i < r->n_sinks; i++) {
        r->sinks[i] = sink_new_cfg(&c->es, r->err, sizeof r->err);
        if (r->sinks[i] == NULL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            goto out;
        }
        sink_set_abort(r->sinks[i], run_abort_transfer, r);
    }
    r->sink = r->sinks[0];
    if (!o->dry_run) {
        /* the node's version; an unreachable node is asked again before the first request */
        sink_rc dr = sink_detect(r->sink, r->err, sizeof r->err);
        if (dr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            goto out;
        }
        if (dr != SINK_OK)
            ce_log(CE_LOG_WARN, "sink", "%s; the node is asked again before the first request", r->err);
        for (size_t i = 1; i < r->n_sinks; i++)
            sink_adopt_info(r->sinks[i], r->sink);
    }
    if (!c->es.halt_on_error && !o->dry_run && (r->dl = dl_open(c->es.dead_letter, r->err, sizeof r->err)) == NULL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        goto out;
    }
    snprintf(r->last.destination, sizeof r->last.destination, "%s", c->canal.destination);
    r->last.client_id = c->canal.client_id;
    if (c->checkpoint.file[0] != '\0' && !o->dry_run) {
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
    int jobs_failed = 0;
    bool idle_exit = false;
    int rc = run_connect(r);
    uint64_t next_stats = run_now_ms() + (uint64_t)o->stats_interval_ms;
    bool idle = true; /* the last GET found nothing: wait on the server for the first change */
    while (rc == RUN_DONE && !run_stopping(r)) {
        canal_batch *m = NULL;
        canal_rc cr = canal_get_mode(r->canal, idle ? CANAL_GET_FIRST : CANAL_GET_NOW, &m, r->err, sizeof r->err);
        idle = cr != CANAL_OK || m == NULL;
        if (cr != CANAL_OK) {
            CE_STAT_SET(r->st, canal_connected, 0);
            if (run_stopping(r)) {
                ce_log(CE_LOG_INFO, "run", "stop requested while waiting for Canal: no batch in hand, leaving now");
                break;
            }
            if (cr == CANAL_ERR_ORDER) {
                ce_log(CE_LOG_ERROR, "source", "%s", r->err);
                rc = RUN_FAIL;
                break;
            }
            bulk_reset(&r->bulk);
            if (cr == CANAL_ERR_TOO_BIG) {
                /* Canal sends the same batch again after the rollback: retrying cannot help for long */
                CE_STAT_ADD(r->st, frames_too_big, 1);
                char hint[300];
                r->frames_too_big++;
                snprintf(hint, sizeof hint,
                         " ([canal] max_frame_mb = %ld): lower [canal] batch_size, or raise max_frame_mb if single "
                         "rows are that large (refused %u of %d times before canal-es exits)",
                         r->c->canal.max_frame_mb, r->frames_too_big, RUN_MAX_FRAME_ATTEMPTS);
                if (r->frames_too_big >= RUN_MAX_FRAME_ATTEMPTS) {
                    ce_log(CE_LOG_ERROR, "source", "%s%s; giving up after %u attempts (exit 1)", r->err, hint,
                           r->frames_too_big);
                    rc = RUN_FAIL;
                    break;
                }
                rc = run_reconnect(r, CE_LOG_ERROR, hint);
                continue;
            }
            rc = run_reconnect(r, CE_LOG_WARN, "");
            continue;
        }
        run_src_healthy(r, m != NULL);
        CE_STAT_SET(r->st, caught_up, m == NULL);
        if (m == NULL && r->o->jobs != NULL)
            job_stream_at(r->o->jobs, NULL, 0, 0, true);
        if (m == NULL && o->dry_run) {
            ce_log(CE_LOG_INFO, "run", "dry run: caught up, nothing acked; the batches will be delivered again");
            break;
        }
        if (m != NULL) {
            /* A stop request from here on still lets this batch finish and be acked. */
            rc = run_batch(r, m);
            if (rc == RUN_DONE && o->dry_run) {
                CE_STAT_ADD(r->st, batches, 1);
                if (CE_STAT_GET(r->st, batches) >= RUN_DRY_MAX_BATCHES) {
                    ce_log(CE_LOG_INFO, "run", "dry run: stopping after %d batches (nothing acked)",
                           RUN_DRY_MAX_BATCHES);
                    rc = RUN_STOPPED;
                }
            } else if (rc == RUN_DONE) {
                CE_STAT_ADD(r->st, batches, 1);
                rc = run_ack(r, m);
                if (rc == RUN_AGAIN) {
                    if (run_stopping(r)) {
                        ce_log(CE_LOG_WARN, "commit", "%s; the batch will be redelivered", r->err);
                        CE_STAT_ADD(r->st, reconnects, 1);
                        r->abandon = 1; /* not acked: redelivered */
                        rc = RUN_STOPPED;
                    } else {
                        rc = run_reconnect(r, CE_LOG_WARN, "; the batch will be redelivered");
                        if (rc == RUN_STOPPED)
                            r->abandon = 1; /* stopped while reconnecting: that batch was not acked */
                    }
                }
            } else {
                bulk_reset(&r->bulk);
            }
            canal_batch_free(m);
        }
        if (o->stats_interval_ms > 0 && run_now_ms() >= next_stats) {
            run_log_stats(r);
            next_stats = run_now_ms() + (uint64_t)o->stats_interval_ms;
        }
        if (rc == RUN_DONE && o->exit_when_idle && o->jobs != NULL && job_mgr_idle(o->jobs, &jobs_failed)) {
            ce_log(CE_LOG_INFO, "run", "no reindex job left%s: stopping (every batch fetched was acked)",
                   jobs_failed ? " (one failed)" : "");
            idle_exit = true;
            break;
        }
    }
    run_log_stats(r);
    if (rc == RUN_FAIL) {
        exit_code = 1;
    } else if (idle_exit) {
        exit_code = jobs_failed ? 1 : 0;
    } else if (o->dry_run) {
        ce_log(CE_LOG_INFO, "run", "dry run finished: %llu batches, %llu actions printed, nothing sent or acked",
               (unsigned long long)CE_STAT_GET(r->st, batches), (unsigned long long)CE_STAT_GET(r->st, items_ok));
        exit_code = 0;
    } else if (r->abandon) {
        ce_log(CE_LOG_INFO, "run", "stopped on request; the un-acked batch will be redelivered");
        exit_code = 0;
    } else {
        ce_log(CE_LOG_INFO, "run", "stopped on request; every batch fetched was acked%s",
               c->checkpoint.file[0] ? " and checkpointed" : "");
        exit_code = 0;
    }
out:
    canal_free(r->canal);
    for (size_t i = 0; i < r->n_sinks; i++)
        sink_free(r->sinks[i]);
    dl_close(r->dl);
    ce_free(r->acts);
    ce_free(r->res);
    bulk_free(&r->bulk);
    decode_free(&r->dec);
    map_out_free(&r->mo);
    for (size_t i = 0; i < r->n_noted; i++)
        ce_free(r->noted[i]);
    for (size_t i = 0; i < r->n_ensured; i++)
        ce_free(r->ensured[i]);
    automap_free(r->am);
    rf_free(r->rf);
    if (r->st == &r->own_stats)
        stats_destroy(&r->own_stats);
    ce_free(r);
    return exit_code;
}
