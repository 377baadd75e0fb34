/* run/rows: one decoded entry into the current part (see run_int.h): the
 * rule, the charset read-back, the mapping, the index setup a rule needs
 * before its first action, the actions appended (and teed into a reindex's
 * new index), refused rows and bad bytes to the dead-letter file, and the
 * DDL statements TRUNCATE / DROP TABLE. Runs on the pipeline thread; no
 * decode callback: the loop hands each decode_next result here. */
#include "run/run_int.h"
#include "sink/setup.h"
#include "snapshot/job.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

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
void run_log_skipped(run_ctx *r)
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

/* Creates the index from the rule's mapping file (mapping = FILE), or from
 * the mapping derived from the row's column types (mapping = auto: once per
 * index, table and column count), before its first action; retried like a
 * bulk request. */
static ce_result run_ensure_index(run_ctx *r, const cfg_table *rule, const char *index, const row_event *ev)
{
    bool auto_map = rule->mapping_mode == CFG_MAPPING_AUTO;
    if (rule->mapping == NULL && !auto_map)
        return CE_OK;
    char key[MAP_INDEX_BUF + 600];
    if (auto_map) /* with the column count: a column added later (ALTER TABLE) is mapped too */
        snprintf(key, sizeof key, "%s %s.%s/%zu", index, ev->schema, ev->table,
                 ev->after.n > 0 ? ev->after.n : ev->before.n);
    else
        snprintf(key, sizeof key, "%s", index);
    for (size_t i = 0; i < r->n_ensured; i++)
        if (strcmp(r->ensured[i], key) == 0)
            return CE_OK;
    if (auto_map && r->am == NULL && (r->am = automap_new()) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        return CE_FATAL;
    }
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)r->c->es.retry_initial_ms, (uint64_t)r->c->es.retry_max_ms);
    for (;;) {
        if (run_abandoned(r))
            return CE_STOPPED;
        int created = 0;
        uint64_t t0 = ce_mono_us();
        sink_rc sr = auto_map ? automap_ensure(r->am, r->setup_sink, rule, index, ev, &created, r->err, sizeof r->err)
                              : setup_ensure(r->setup_sink, rule, index, NULL, 0, &created, r->err, sizeof r->err);
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
            return CE_OK;
        }
        if (sr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return CE_FATAL;
        }
        CE_STAT_ADD(r->st, request_failures, 1);
        if (run_backoff(r, &bo, "sink", sink_retry_after_ms(r->setup_sink)))
            return CE_STOPPED;
    }
}

/* cfg_find_table with a one-entry cache: rows come in runs of one table. */
const cfg_table *run_rule(run_ctx *r, const char *db, const char *table)
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
static ce_result run_row_failed(run_ctx *r, const row_event *ev)
{
    char reason[sizeof r->err];
    snprintf(reason, sizeof reason, "%s", r->err);
    if (r->dl == NULL) {
        if (r->o->dry_run && !r->c->es.halt_on_error) {
            ce_log(CE_LOG_WARN, "map", "%s: dry run: the row would go to the dead-letter file", reason);
            return 0;
        }
        snprintf(r->err, sizeof r->err, "%.900s; halting, nothing acked (on_error = halt)", reason);
        return CE_FATAL;
    }
    if (dl_write_row(r->dl, ev, reason, r->err, sizeof r->err) != 0 || dl_sync(r->dl, r->err, sizeof r->err) != 0)
        return CE_FATAL;
    CE_STAT_ADD(r->st, dead_letters, 1);
    ce_log(CE_LOG_WARN, "map", "%s: row not indexed, written to %s", reason, dl_path(r->dl));
    return 0;
}

/* An entry that does not decode: its raw bytes go to the dead-letter file
 * and the stream goes on; with on_error = halt the service stops. */
ce_result run_bad(run_ctx *r, const decode_bad *b)
{
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
        return CE_FATAL;
    }
    if (dl_write_entry(r->dl, b, r->err, sizeof r->err) != 0 || dl_sync(r->dl, r->err, sizeof r->err) != 0)
        return CE_FATAL;
    CE_STAT_ADD(r->st, dead_letters, 1);
    ce_log(CE_LOG_WARN, "decode", "%s: the raw entry (%zu bytes) is written to %s", reason, b->len, dl_path(r->dl));
    return 0;
}


/* A row whose index template gives no valid index name (r->err says which
 * and why; r->mo holds its actions): nothing is sent; the actions go to the
 * dead-letter file (synced before the ack) and the stream goes on, or with
 * on_error = halt canal-es stops without ack. */
static ce_result run_refuse_row(run_ctx *r)
{
    char e[512];
    if (r->o->dry_run) {
        ce_log(CE_LOG_WARN, "map", "%s", r->err);
        return 0;
    }
    if (r->dl == NULL) {
        size_t n = strlen(r->err); /* run_batch logs it */
        snprintf(r->err + n, sizeof r->err - n, "; halting without ack (on_error = halt)");
        return CE_FATAL;
    }
    sink_item it = {.cls = SINK_ITEM_DEAD, .status = 400, .type = "invalid_index_name_exception"};
    snprintf(it.reason, sizeof it.reason, "%.319s", r->err);
    if (dl_write_refused(r->dl, &r->mo, &it, e, sizeof e) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", e);
        return CE_FATAL;
    }
    CE_STAT_ADD(r->st, dead_letters, r->mo.n);
    ce_log(CE_LOG_WARN, "map", "%s; written to %s", r->err, dl_path(r->dl));
    return 0;
}

/* A hard delete just appended to the bulk: a job loading the rule sends it
 * again after its chunk in flight (job_note_delete). */
static void run_note_delete(run_ctx *r, const cfg_table *rule, const map_action *a)
{
    if (r->o->jobs == NULL || a->op != MAP_DELETE || r->cur->bulk.n_actions == 0)
        return;
    const uint8_t *p;
    size_t len;
    bulk_action_bytes(&r->cur->bulk, r->cur->bulk.n_actions - 1, &p, &len);
    job_note_delete(r->o->jobs, rule, p, len);
}

/* Text in a charset Canal cannot decode (snapshot/refetch.h): *ev becomes
 * the event with the exact text, or NULL when the row is to be skipped (no
 * longer in MySQL, or dead-lettered for a garbled key). MySQL failures are
 * retried with backoff: indexing Canal's garbled text instead would lose it. */
static ce_result run_charset(run_ctx *r, const cfg_table *rule, const row_event **ev)
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
            return CE_STOPPED;
    }
}

/* Versions from Kafka records (run_int.h, docs/kafka.md#versions). With partitionHash
 * Canal sends every row of a binlog event as its own Entry with the event's
 * header, so the row index inside the event is lost and every row of one
 * event has the event's offset o. Inside one rows event a document is at
 * most deleted (the old id of a key-changing row, a DELETE row) and then
 * indexed (the new id of a later row): a row a MySQL statement changes
 * appears once in its event, and a key can be taken by another row only
 * after its holder gave it up earlier in the same event. So deletes get
 * v(o) and index actions v(o) + 1: both stay below the next event's v(o'),
 * o' >= o + 19 (an event header), and above a snapshot's v(P) - 1. */
void run_kafka_versions(map_out *mo)
{
    for (size_t i = 0; i < mo->n; i++)
        if (mo->act[i].version > 0 && mo->act[i].op == MAP_INDEX && !mo->act[i].soft)
            mo->act[i].version++;
}

static ce_result run_row(run_ctx *r, const row_event *ev)
{
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
        ce_result crc = run_charset(r, rule, &ev);
        if (crc != CE_OK || ev == NULL)
            return crc;
    }
    rf_scan(r->rf, ev, r->c->canal.connection_charset, rule->soft_field != NULL);
    row_event kev;
    if (r->c->kafka.on && !ev->snapshot) {
        kev = *ev; /* Kafka: the row index is not Canal's (run_kafka_versions) */
        kev.row_index = 0;
        ev = &kev;
    }
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
    if (ev == &kev)
        run_kafka_versions(&r->mo);
    if ((rule->mapping != NULL || rule->mapping_mode == CFG_MAPPING_AUTO) && !r->o->dry_run) {
        ce_result erc = run_ensure_index(r, rule, r->mo.index, ev);
        if (erc != CE_OK)
            return erc;
    }
    for (size_t i = 0; i < r->mo.n; i++) {
        if (bulk_append(&r->cur->bulk, &r->mo.act[i], r->err, sizeof r->err) != 0)
            return CE_FATAL;
        run_note_delete(r, rule, &r->mo.act[i]);
    }
    char tee[CFG_INDEX_MAX + 1];
    if (r->o->jobs != NULL && job_tee(r->o->jobs, rule, tee, sizeof tee)) {
        /* a reindex of this rule is filling a new index: it gets every change too, from before its first chunk */
        for (size_t i = 0; i < r->mo.n; i++) {
            map_action a = r->mo.act[i];
            a.index = tee;
            if (bulk_append(&r->cur->bulk, &a, r->err, sizeof r->err) != 0)
                return CE_FATAL;
            run_note_delete(r, rule, &a);
        }
    }
    if (r->cur->bulk.n_actions > 0 && r->cur_since_ms == 0)
        r->cur_since_ms = ce_mono_ms();
    if (r->cur->bulk.body.len >= (size_t)r->c->es.bulk_max_bytes ||
        r->cur->bulk.n_actions >= (size_t)r->c->es.bulk_max_actions ||
        (r->c->es.flush_interval_ms > 0 && r->cur->bulk.n_actions > 0 &&
         ce_mono_ms() - r->cur_since_ms >= (uint64_t)r->c->es.flush_interval_ms))
        return run_handoff(r);
    return CE_OK;
}

ce_result run_rows(run_ctx *r, const row_event *evs, size_t n)
{
    if (run_part_cur(r) == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory for a bulk body");
        return CE_FATAL;
    }
    if (rf_enabled(r->rf) && !r->prefetched && n > 1) {
        /* the text Canal garbles is read back for every row of the entry with one query (snapshot/refetch.h) */
        const cfg_table *rule = run_rule(r, evs[0].schema, evs[0].table);
        if (rule != NULL && rule->enabled) {
            rf_prefetch_begin(r->rf);
            rf_prefetch(r->rf, evs, n, r->c->canal.connection_charset);
            rf_prefetch_end(r->rf);
        }
    }
    for (size_t i = 0; i < n; i++) {
        ce_result rc = run_row(r, &evs[i]);
        if (rc != CE_OK)
            return rc;
        if (r->cur == NULL && i + 1 < n && run_part_cur(r) == NULL) { /* handed off: a new part for the rest */
            snprintf(r->err, sizeof r->err, "out of memory for a bulk body");
            return CE_FATAL;
        }
    }
    return CE_OK;
}

/* TRUNCATE / DROP TABLE of a mapped table: deliver what came before, then
 * delete the table's documents, retrying like a bulk request. */
static ce_result run_apply_ddl(run_ctx *r, const ddl_event *ev)
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
    if (act == CFG_DDL_IGNORE && r->c->kafka.on) {
        /* partition 0 carries the DDL, other partitions the rows around it: no delete can tell them apart */
        ce_log(CE_LOG_WARN, "map",
               "binlog %s:%lld: %s of %s.%s: index %s kept (Kafka source: the statement is unordered against the "
               "rows of other partitions); its documents stay until the index is rebuilt (docs/kafka.md#ddl-truncate-"
               "and-drop)",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, index);
        return 0;
    }
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
    ce_result rc = run_drain(r);
    if (rc != CE_OK)
        return rc;
    if (r->o->dry_run) {
        ce_log(CE_LOG_INFO, "map", "dry run: binlog %s:%lld: %s of %s.%s would delete every document of index %s",
               ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, index);
        return CE_OK;
    }
    ce_backoff_reset(&r->bo);
    for (;;) {
        long long deleted = 0;
        if (run_abandoned(r))
            return CE_STOPPED;
        uint64_t t0 = ce_mono_us();
        sink_rc sr = sink_delete_all(r->setup_sink, index, &deleted, r->err, sizeof r->err);
        run_observe(r, t0, sr);
        if (sr == SINK_OK) {
            ce_log(CE_LOG_INFO, "map", "binlog %s:%lld: %s of %s.%s: deleted %lld documents from index %s",
                   ev->logfile, (long long)ev->offset, what, ev->schema, ev->table, deleted, index);
            return CE_OK;
        }
        if (sr == SINK_FATAL) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return CE_FATAL;
        }
        CE_STAT_ADD(r->st, request_failures, 1);
        if (run_backoff(r, &r->bo, "sink", sink_retry_after_ms(r->setup_sink)))
            return CE_STOPPED;
    }
}

/* A DDL statement: a job reading the table stops writing before it is
 * applied (job_stream_ddl), and goes on (or fails) after. */
ce_result run_ddl(run_ctx *r, const ddl_event *ev)
{
    decode_log_ddl(ev);
    if (r->o->jobs != NULL)
        job_stream_ddl(r->o->jobs, ev);
    ce_result rc = run_apply_ddl(r, ev);
    if (r->o->jobs != NULL)
        job_stream_ddl_done(r->o->jobs);
    return rc;
}

void run_rows_free(run_ctx *r)
{
    for (size_t i = 0; i < r->n_noted; i++)
        ce_free(r->noted[i]);
    for (size_t i = 0; i < r->n_ensured; i++)
        ce_free(r->ensured[i]);
    automap_free(r->am);
    r->am = NULL;
    r->n_noted = r->n_ensured = 0;
}
