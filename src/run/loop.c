/* run/loop: the service loop (see run.h and run_int.h). The pipeline
 * thread fetches a batch, decodes each entry (decode_next) and hands the
 * rows, DDL and bad data to rows.c, which fills the batch's parts; parts go
 * to the delivery thread (pipe.c) while the next batch is fetched. Results
 * come back in part order: their dead letters are written, and a batch is
 * acked (then checkpointed) once all its parts are, strictly in batch
 * order. At most [canal] max_batches_in_flight batches are in hand and as
 * many parts out, so memory stays bounded through a node outage. */
#include "run/run_int.h"
#include "snapshot/job.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RUN_MAX_FRAME_ATTEMPTS 3 /* GETs in a row answered by a frame above max_frame_mb: then exit 1 */
#define RUN_DRY_MAX_BATCHES 60   /* below the client's 64 outstanding batches */
#define RUN_WAIT_SLICE_MS 100    /* waits for a delivery are cut in slices that watch the shutdown state */

/* ---- the shutdown state ----------------------------------------------- */

run_state run_get_state(run_ctx *r) { return (run_state)atomic_load(&r->state); }

void run_set_state(run_ctx *r, run_state s)
{
    int cur = atomic_load(&r->state);
    while (cur < (int)s) {
        if (!atomic_compare_exchange_weak(&r->state, &cur, (int)s))
            continue;
        if (s == RUN_STOPPING) {
            atomic_store(&r->stop_deadline, ce_mono_ms() + (uint64_t)r->c->es.shutdown_timeout_ms);
            ce_log(CE_LOG_INFO, "run",
                   "stop requested: fetching nothing more, finishing the batches in hand (up to %ld ms)",
                   r->c->es.shutdown_timeout_ms);
        } else if (s == RUN_ABANDONED && cur == RUN_STOPPING) {
            ce_log(CE_LOG_WARN, "run",
                   "shutdown_timeout_ms (%ld) passed: the batches in hand stay un-acked and will be redelivered",
                   r->c->es.shutdown_timeout_ms);
        }
        return;
    }
}

bool run_stopping(run_ctx *r)
{
    if (*r->stop != 0 && run_get_state(r) == RUN_RUNNING)
        run_set_state(r, RUN_STOPPING);
    return run_get_state(r) != RUN_RUNNING;
}

bool run_abandoned(run_ctx *r)
{
    if (!run_stopping(r))
        return false;
    if (run_get_state(r) == RUN_STOPPING && ce_mono_ms() >= atomic_load(&r->stop_deadline))
        run_set_state(r, RUN_ABANDONED);
    return run_get_state(r) == RUN_ABANDONED;
}

ce_result run_sleep(run_ctx *r, uint64_t ms)
{
    uint64_t end = ce_mono_ms() + ms;
    for (;;) {
        if (run_abandoned(r))
            return CE_STOPPED;
        uint64_t now = ce_mono_ms();
        if (now >= end)
            return CE_OK;
        ce_sleep_ms(end - now > RUN_WAIT_SLICE_MS ? RUN_WAIT_SLICE_MS : end - now, NULL);
    }
}

ce_result run_backoff(run_ctx *r, ce_backoff *bo, const char *component, long long min_ms)
{
    uint64_t delay = dlv_wait_ms(ce_backoff_next(bo), min_ms);
    CE_STAT_ADD(r->st, retries, 1);
    ce_log(CE_LOG_WARN, component, "%s; retrying in %llu ms (attempt %u%s)", r->err, (unsigned long long)delay,
           bo->attempt, min_ms > 0 ? ", Retry-After" : "");
    return run_sleep(r, delay);
}

void run_observe(run_ctx *r, uint64_t t0_us, sink_rc rc)
{
    CE_STAT_ADD(r->st, bulk_requests, 1);
    stats_observe_request(r->st, ce_mono_us() - t0_us);
    CE_STAT_SET(r->st, search_reachable, rc == SINK_RETRY ? 0 : 1);
}

/* ---- results, acks, parts ---------------------------------------------- */

/* The items of a delivered part: rejected ones (and, after max_retries,
 * the ones still failing) go to the dead-letter file, or halt the service. */
static ce_result run_items(run_ctx *r, run_part *p)
{
    size_t dead = 0;
    const bulk *b = &p->bulk;
    for (size_t i = 0; i < b->n_actions; i++) {
        sink_item *it = &p->res[i].item;
        if (it->cls == SINK_ITEM_RETRY) {
            ce_log(CE_LOG_WARN, "sink", "%s: item still failing after %ld retries (%d %s): treated as rejected",
                   bulk_table(b, i), r->c->es.max_retries, it->status, it->type);
            it->cls = SINK_ITEM_DEAD;
            CE_STAT_ADD(r->st, items_dead, 1);
        }
        if (it->cls != SINK_ITEM_DEAD)
            continue;
        const uint8_t *q;
        size_t len;
        bulk_action_bytes(b, i, &q, &len);
        size_t alen = b->meta[i].doc - b->meta[i].start;
        if (r->dl == NULL) {
            ce_log(CE_LOG_ERROR, "sink",
                   "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): %.*s; halting without ack "
                   "(on_error = halt)",
                   bulk_table(b, i), bulk_logfile(b, i), (long long)b->meta[i].offset, it->status, it->type,
                   it->reason, (int)(alen > 0 ? alen - 1 : 0), (const char *)q);
            return CE_FATAL;
        }
        if (dl_write(r->dl, b, i, it, r->err, sizeof r->err) != 0) {
            ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
            return CE_FATAL;
        }
        dead++;
        CE_STAT_ADD(r->st, dead_letters, 1);
        ce_log(CE_LOG_WARN, "sink", "%s at binlog %s:%lld: document rejected (HTTP %d %s: %s): written to %s",
               bulk_table(b, i), bulk_logfile(b, i), (long long)b->meta[i].offset, it->status, it->type, it->reason,
               dl_path(r->dl));
    }
    if (dead > 0 && dl_sync(r->dl, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return CE_FATAL;
    }
    return CE_OK;
}

/* How a delivered part ended, then its items. */
static ce_result run_part_result(run_ctx *r, run_part *p)
{
    switch (p->rc) {
    case DLV_DONE:
    case DLV_HALTED:
        return run_items(r, p);
    case DLV_STOPPED:
        run_set_state(r, RUN_STOPPING);
        run_set_state(r, RUN_ABANDONED);
        return CE_STOPPED;
    case DLV_GAVE_UP:
        ce_log(CE_LOG_ERROR, "sink", "%s; giving up after %ld retries (max_retries), nothing acked", p->err,
               r->c->es.max_retries);
        return CE_FATAL;
    case DLV_FATAL:
        ce_log(CE_LOG_ERROR, "sink", "%s, stopping", p->err);
        return CE_FATAL;
    }
    return CE_FATAL;
}

static run_batch *run_batch_at(run_ctx *r, size_t i) { return &r->batches[(r->b_head + i) % RUN_MAX_IN_HAND]; }

/* Acks the oldest batch and writes the checkpoint. CE_OK, CE_FATAL, or
 * CE_RETRY when the connection was lost (the batches in hand will be
 * redelivered; r->err says how). */
static ce_result run_ack(run_ctx *r, run_batch *b)
{
    src_rc ar = src_ack(r->src, b->id, r->err, sizeof r->err);
    if (ar == SRC_ERR_ORDER) {
        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
        return CE_FATAL;
    }
    if (ar != SRC_OK) {
        CE_STAT_SET(r->st, canal_connected, 0);
        return CE_RETRY;
    }
    CE_STAT_ADD(r->st, acks, 1);
    CE_STAT_ADD(r->st, batches, 1);
    if (r->o->jobs != NULL)
        job_stream_at(r->o->jobs, b->pos_file, b->pos_offset, b->server_id, false);
    CE_STAT_SET(r->st, last_source_time_ms, (int64_t)b->pos.source_time_ms);
    stats_set_ack_position(r->st, b->pos.binlog_file, b->pos.binlog_offset);
    CE_STAT_SET(r->st, last_ack_wall_ms, (int64_t)ckpt_now_ms());
    if (r->c->checkpoint.file[0] == '\0')
        return CE_OK;
    b->pos.batch_id = b->id;
    b->pos.wall_time_ms = ckpt_now_ms();
    if (ckpt_write(r->c->checkpoint.file, &b->pos, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
        return CE_FATAL;
    }
    return CE_OK;
}

/* Acks every batch at the front that is complete. */
static ce_result run_ack_ready(run_ctx *r)
{
    while (r->b_count > 0) {
        run_batch *b = run_batch_at(r, 0);
        if (!b->sealed || b->parts_pending > 0)
            return CE_OK;
        ce_result rc = run_ack(r, b);
        if (rc != CE_OK)
            return rc;
        r->b_head = (r->b_head + 1) % RUN_MAX_IN_HAND;
        r->b_count--;
    }
    return CE_OK;
}

/* The delivered parts, oldest first, waiting up to wait_ms for the first
 * one; then the acks that became possible. */
static ce_result run_reap(run_ctx *r, uint64_t wait_ms)
{
    ce_result rc = CE_OK;
    for (run_part *p; (p = pipe_pop_done(r->pipe, wait_ms)) != NULL; wait_ms = 0) {
        ce_result prc = run_part_result(r, p);
        uint64_t rep = p->bulk.values.utf8_repairs;
        r->utf8_repairs += rep - p->repairs_counted;
        p->repairs_counted = rep;
        if (p->batch != NULL && p->batch->parts_pending > 0)
            p->batch->parts_pending--;
        pipe_give(r->pipe, p);
        if (prc != CE_OK && rc == CE_OK) {
            rc = prc;
            pipe_fail(r->pipe); /* nothing after it is sent */
        }
    }
    if (rc != CE_OK)
        return rc;
    return run_ack_ready(r);
}

/* Waits for the oldest part out, in slices (a stop past its deadline makes
 * the delivery give up, which ends the wait too). */
static ce_result run_wait_one(run_ctx *r)
{
    size_t before = pipe_out(r->pipe);
    while (before > 0 && pipe_out(r->pipe) == before) {
        (void)run_abandoned(r); /* moves the state on at the deadline: the delivery sees it and stops */
        ce_result rc = run_reap(r, RUN_WAIT_SLICE_MS);
        if (rc != CE_OK)
            return rc;
    }
    return run_reap(r, 0);
}

run_part *run_part_cur(run_ctx *r)
{
    if (r->cur == NULL) {
        r->cur = pipe_take(r->pipe);
        r->cur_since_ms = 0;
        if (r->cur != NULL) {
            r->cur->batch = r->b_count > 0 ? run_batch_at(r, r->b_count - 1) : NULL;
            r->cur->repairs_counted = r->cur->bulk.values.utf8_repairs;
        }
    }
    return r->cur;
}

/* Dry run: what would be sent, on stdout; every item counts as applied. */
static ce_result run_print(run_ctx *r, run_part *p)
{
    const ce_buf *body = &p->bulk.body;
    if (fwrite(body->data, 1, body->len, stdout) != body->len || fflush(stdout) != 0) {
        snprintf(r->err, sizeof r->err, "dry run: cannot write to stdout");
        return CE_FATAL;
    }
    CE_STAT_ADD(r->st, items_ok, p->bulk.n_actions);
    return CE_OK;
}

ce_result run_handoff(run_ctx *r)
{
    run_part *p = r->cur;
    if (p == NULL || p->bulk.n_actions == 0)
        return CE_OK; /* an empty part stays the current one */
    r->cur = NULL;
    if (r->o->dry_run) {
        ce_result rc = run_print(r, p);
        pipe_give(r->pipe, p);
        return rc;
    }
    while (pipe_full(r->pipe)) {
        ce_result rc = run_wait_one(r);
        if (rc != CE_OK) {
            pipe_give(r->pipe, p);
            return rc;
        }
    }
    if (p->batch != NULL)
        p->batch->parts_pending++;
    pipe_push(r->pipe, p);
    return CE_OK;
}

ce_result run_drain(run_ctx *r)
{
    ce_result rc = run_handoff(r);
    while (rc == CE_OK && pipe_out(r->pipe) > 0)
        rc = run_wait_one(r);
    return rc;
}

/* ---- the source -------------------------------------------------------- */

/* Connects (trying each address) until it works, a fatal answer, or a stop.
 * Each failed attempt logs one line with the delay before the next; the
 * backoff (r->src_bo) carries over from the failures before, so a server
 * that accepts and then fails every GET is not hammered. */
static ce_result run_connect(run_ctx *r)
{
    while (!run_stopping(r)) {
        src_rc rc = src_connect(r->src, r->err, sizeof r->err);
        if (rc == SRC_OK) {
            const char *peer = src_peer(r->src);
            CE_STAT_SET(r->st, canal_connected, 1);
            r->src_since_ms = ce_mono_ms();
            /* the last connection to this server answered no GET: the "reconnecting" line of each
             * attempt of such a storm says enough */
            bool again = !r->src_served && strcmp(peer, r->src_peer) == 0;
            r->src_served = false;
            ce_log(again ? CE_LOG_DEBUG : CE_LOG_INFO, "source", "connected to %s %s, subscribed to %s",
                   src_kind(r->src), peer, src_what(r->src));
            snprintf(r->src_peer, sizeof r->src_peer, "%s", peer);
            return CE_OK;
        }
        if (run_stopping(r))
            break; /* the connect was abandoned (CANAL_ERR_INTR) or failed meanwhile */
        if (rc == SRC_ERR_AUTH || rc == SRC_ERR_SERVER || rc == SRC_ERR_FORMAT) {
            bool kafka = r->c->kafka.on;
            ce_log(CE_LOG_ERROR, "source", "%s; check [%s] %s in %s (canal-es check-config -c %s tries it)", r->err,
                   kafka ? "kafka" : "canal",
                   rc == SRC_ERR_AUTH     ? (kafka ? "the TLS and SASL settings" : "username and password")
                   : rc == SRC_ERR_SERVER ? (kafka ? "brokers, topic and group_id" : "destination and filter")
                                          : "topic",
                   r->c->path, r->c->path);
            return CE_FATAL;
        }
        uint64_t delay = ce_backoff_next(&r->src_bo);
        CE_STAT_ADD(r->st, retries, 1);
        ce_log(CE_LOG_WARN, "source", "%s; retrying in %llu ms (attempt %u)", r->err, (unsigned long long)delay,
               r->src_bo.attempt);
        ce_sleep_ms(delay, r->stop);
    }
    return CE_STOPPED;
}

/* A GET was answered: a batch (non-empty) proves the source works and
 * resets the reconnect backoff; empty answers do once the connection has
 * lasted retry_max_ms (an idle but healthy server). */
static void run_src_healthy(run_ctx *r, bool batch)
{
    r->src_served = true;
    r->frames_too_big = 0;
    if (batch || ce_mono_ms() - r->src_since_ms >= (uint64_t)r->o->retry_max_ms)
        ce_backoff_reset(&r->src_bo);
}

/* The connection was lost with batches in hand: what is out is delivered
 * (its dead letters written: the writes are idempotent), nothing is acked,
 * and Canal delivers every un-acked batch again after the reconnect. */
static ce_result run_forget_in_hand(run_ctx *r)
{
    ce_result rc = run_handoff(r);
    while (rc == CE_OK && pipe_out(r->pipe) > 0) {
        run_part *p = pipe_pop_done(r->pipe, RUN_WAIT_SLICE_MS);
        if (p == NULL) {
            (void)run_abandoned(r);
            continue;
        }
        rc = run_part_result(r, p);
        pipe_give(r->pipe, p);
    }
    if (r->cur != NULL) {
        pipe_give(r->pipe, r->cur);
        r->cur = NULL;
    }
    r->b_head = r->b_count = 0;
    return rc;
}

/* run_forget_in_hand, keeping r->err (how the connection was lost) for the
 * reconnect line. */
static ce_result run_forget_keep_err(run_ctx *r)
{
    char saved[sizeof r->err];
    snprintf(saved, sizeof saved, "%s", r->err);
    ce_result rc = run_forget_in_hand(r);
    if (rc == CE_OK)
        snprintf(r->err, sizeof r->err, "%s", saved);
    return rc;
}

/* The Canal connection was lost (r->err says how; `what` is appended):
 * logs one line with the delay, sleeps it (a stop ends the sleep) and
 * reconnects. */
static ce_result run_reconnect(run_ctx *r, ce_log_level level, const char *what)
{
    CE_STAT_SET(r->st, canal_connected, 0);
    CE_STAT_ADD(r->st, reconnects, 1);
    CE_STAT_ADD(r->st, retries, 1);
    uint64_t delay = ce_backoff_next(&r->src_bo);
    ce_log(level, "source", "%s%s; reconnecting in %llu ms (attempt %u)", r->err, what, (unsigned long long)delay,
           r->src_bo.attempt);
    if (ce_sleep_ms(delay, r->stop))
        return CE_STOPPED;
    return run_connect(r);
}

/* The first pass over a batch when [mysql] reads back garbled text: every
 * entry's rows go to rf_prefetch, so the text of the whole batch is read in
 * a few queries (one per 500 rows of a table) instead of one per entry. */
static void run_prefetch_batch(run_ctx *r, const src_batch *m)
{
    decode_stats counted = r->dec.stats; /* the entries are counted by the pass that maps them */
    rf_prefetch_begin(r->rf);
    char err[256];
    for (size_t i = 0; i < m->n; i++) {
        decode_out o;
        if (decode_next(&r->dec, m->entries[i].p, m->entries[i].len, &o, err, sizeof err) != 0 ||
            o.kind != DECODE_ROWS || o.n == 0)
            continue;
        const cfg_table *rule = run_rule(r, o.rows[0].schema, o.rows[0].table);
        if (rule != NULL && rule->enabled)
            rf_prefetch(r->rf, o.rows, o.n, r->c->canal.connection_charset);
    }
    rf_prefetch_end(r->rf);
    r->dec.stats = counted;
}

/* Every entry of batch m into parts; the last part is handed off. */
static ce_result run_batch_fill(run_ctx *r, const src_batch *m)
{
    run_batch *b = run_batch_at(r, r->b_count++);
    *b = (run_batch){.id = m->id};
    if (r->cur != NULL)
        r->cur->batch = b; /* an empty part left from the batch before */
    r->prefetched = false;
    if (rf_enabled(r->rf) && m->n > 1 && rf_any_foreign(r->rf)) {
        run_prefetch_batch(r, m);
        r->prefetched = true;
    }
    ce_result rc = CE_OK;
    for (size_t i = 0; i < m->n && rc == CE_OK; i++) {
        decode_out o;
        if (decode_next(&r->dec, m->entries[i].p, m->entries[i].len, &o, r->err, sizeof r->err) != 0) {
            rc = CE_FATAL;
        } else {
            if (o.n_bad > 0)
                rc = run_bad(r, &o.bad);
            if (rc == CE_OK && o.kind == DECODE_ROWS && o.n > 0)
                rc = run_rows(r, o.rows, o.n);
            else if (rc == CE_OK && o.kind == DECODE_DDL)
                rc = run_ddl(r, &o.ddl);
        }
        if (rc == CE_FATAL)
            ce_log(CE_LOG_ERROR, "run", "batch %lld entry %zu: %s", (long long)m->id, i, r->err);
    }
    b->pos = r->last;
    snprintf(b->pos_file, sizeof b->pos_file, "%s", r->dec.pos_file);
    b->pos_offset = r->dec.pos_offset;
    b->server_id = r->dec.server_id;
    if (rc == CE_OK && r->dl != NULL && dl_sync(r->dl, r->err, sizeof r->err) != 0) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err); /* refused rows: their dead letters before the ack */
        rc = CE_FATAL;
    }
    if (rc == CE_OK)
        rc = run_handoff(r);
    b->sealed = rc == CE_OK; /* a batch not filled to its end is never acked */
    return rc;
}

static void run_log_stats(run_ctx *r)
{
    char line[1024];
    uint64_t rep = r->utf8_repairs;
    if (r->cur != NULL)
        rep += r->cur->bulk.values.utf8_repairs - r->cur->repairs_counted;
    CE_STAT_SET(r->st, utf8_repairs, rep);
    stats_format(r->st, (int64_t)ckpt_now_ms(), line, sizeof line);
    ce_log(CE_LOG_INFO, "run", "%s", line);
    run_log_skipped(r);
}

/* A failed GET (cr): CE_OK after a reconnect, or how the loop ends. */
static ce_result run_get_failed(run_ctx *r, src_rc cr)
{
    CE_STAT_SET(r->st, canal_connected, 0);
    if (run_stopping(r)) {
        if (r->b_count == 0) {
            ce_log(CE_LOG_INFO, "run", "stop requested while waiting for Canal: no batch in hand, leaving now");
        } else { /* the connection is gone: what is in hand can no longer be acked on it */
            size_t n = r->b_count;
            (void)run_forget_keep_err(r);
            ce_log(CE_LOG_WARN, "source", "%s; stop requested: the %zu batches in hand will be redelivered", r->err, n);
            run_set_state(r, RUN_ABANDONED);
        }
        return CE_STOPPED;
    }
    if (cr == SRC_ERR_ORDER || cr == SRC_ERR_FORMAT ||
        (r->c->kafka.on && (cr == SRC_ERR_AUTH || cr == SRC_ERR_SERVER))) {
        ce_log(CE_LOG_ERROR, "source", "%s", r->err);
        return CE_FATAL;
    }
    size_t in_hand = r->b_count;
    ce_result rc = run_forget_keep_err(r);
    if (rc != CE_OK)
        return rc;
    if (cr == SRC_ERR_REBALANCE) {
        /* the consumer group moved partitions: what was in hand is read again from the committed offsets */
        CE_STAT_SET(r->st, canal_connected, 1);
        if (in_hand > 0)
            ce_log(CE_LOG_INFO, "source", "%s; the %zu batches in hand stay unacked and are read again", r->err,
                   in_hand);
        else
            ce_log(CE_LOG_INFO, "source", "%s", r->err);
        return CE_OK;
    }
    if (cr == SRC_ERR_TOO_BIG) {
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
            return CE_FATAL;
        }
        return run_reconnect(r, CE_LOG_ERROR, hint);
    }
    return run_reconnect(r, CE_LOG_WARN, "");
}

/* An ack failed (connection lost): every batch in hand will be redelivered. */
static ce_result run_ack_failed(run_ctx *r)
{
    ce_result rc = run_forget_keep_err(r);
    if (rc != CE_OK)
        return rc;
    if (run_stopping(r)) {
        ce_log(CE_LOG_WARN, "commit", "%s; the batch will be redelivered", r->err);
        CE_STAT_ADD(r->st, reconnects, 1);
        run_set_state(r, RUN_ABANDONED); /* not acked: redelivered */
        return CE_STOPPED;
    }
    rc = run_reconnect(r, CE_LOG_WARN, "; the batch will be redelivered");
    if (rc == CE_STOPPED)
        run_set_state(r, RUN_ABANDONED); /* stopped while reconnecting: that batch was not acked */
    return rc;
}

/* After the loop: the batches in hand are finished and acked until the
 * shutdown deadline (the delivery gives up then). */
static ce_result run_finish(run_ctx *r)
{
    ce_result rc = run_handoff(r);
    while (rc == CE_OK && (pipe_out(r->pipe) > 0 || r->b_count > 0)) {
        if (pipe_out(r->pipe) == 0) {
            rc = run_ack_ready(r);
            if (rc == CE_OK && r->b_count > 0)
                break; /* a batch not sealed: it failed while being filled */
            continue;
        }
        rc = run_wait_one(r);
    }
    if (rc == CE_RETRY) {
        ce_log(CE_LOG_WARN, "commit", "%s; the batch will be redelivered", r->err);
        run_set_state(r, RUN_STOPPING);
        run_set_state(r, RUN_ABANDONED);
        rc = CE_STOPPED;
    }
    return rc;
}

/* The loop: fetch while fewer than max_batches_in_flight batches are in
 * hand; with work out, ask Canal for what it holds now (GET NOW) and, when
 * it holds nothing, wait for a delivery instead; idle, wait on the server
 * for the first change (GET FIRST). */
static ce_result run_loop(run_ctx *r, bool *idle_exit, int *jobs_failed)
{
    const run_opts *o = r->o;
    ce_result rc = run_connect(r);
    uint64_t next_stats = ce_mono_ms() + (uint64_t)o->stats_interval_ms;
    bool idle = true; /* the last GET found nothing: wait on the server for the first change */
    uint64_t dry_batches = 0;
    while (rc == CE_OK && !run_stopping(r)) {
        /* an ack can fail in any step that reaps (CE_RETRY: the connection is gone): every batch in hand is then
         * delivered again after the reconnect */
        rc = run_reap(r, 0);
        if (rc == CE_RETRY)
            rc = run_ack_failed(r);
        if (rc != CE_OK)
            break;
        if (r->b_count >= r->max_in_hand) {
            rc = run_wait_one(r);
            if (rc == CE_RETRY)
                rc = run_ack_failed(r);
            continue;
        }
        bool busy = r->b_count > 0;
        src_batch *m = NULL;
        src_wait mode = idle && !busy ? SRC_GET_FIRST : SRC_GET_NOW;
        /* with batches in hand a stop must not cut this GET off: the connection would close and they could
         * not be acked (GET NOW answers at once) */
        src_hold(r->src, busy);
        src_rc cr = src_get(r->src, mode, &m, r->err, sizeof r->err);
        if (cr != SRC_OK) {
            rc = run_get_failed(r, cr);
            continue;
        }
        idle = m == NULL;
        run_src_healthy(r, m != NULL);
        CE_STAT_SET(r->st, caught_up, m == NULL && !busy);
        if (m == NULL && !busy && o->jobs != NULL)
            job_stream_at(o->jobs, NULL, 0, 0, true);
        if (m == NULL && o->dry_run) {
            ce_log(CE_LOG_INFO, "run", "dry run: caught up, nothing acked; the batches will be delivered again");
            break;
        }
        if (m == NULL && busy) {
            rc = run_wait_one(r); /* nothing new: the next delivery, then ask again */
        } else if (m != NULL) {
            /* A stop request from here on still lets this batch finish and be acked. */
            rc = run_batch_fill(r, m);
            src_batch_free(r->src, m);
            if (rc == CE_OK && o->dry_run) {
                r->b_count = 0; /* printed, never acked */
                CE_STAT_ADD(r->st, batches, 1);
                if (++dry_batches >= RUN_DRY_MAX_BATCHES) {
                    ce_log(CE_LOG_INFO, "run", "dry run: stopping after %d batches (nothing acked)",
                           RUN_DRY_MAX_BATCHES);
                    rc = CE_STOPPED;
                }
            }
        }
        if (rc == CE_RETRY)
            rc = run_ack_failed(r);
        if (o->stats_interval_ms > 0 && ce_mono_ms() >= next_stats) {
            run_log_stats(r);
            next_stats = ce_mono_ms() + (uint64_t)o->stats_interval_ms;
        }
        if (rc == CE_OK && o->exit_when_idle && o->jobs != NULL && r->b_count == 0 &&
            job_mgr_idle(o->jobs, jobs_failed)) {
            ce_log(CE_LOG_INFO, "run", "no reindex job left%s: stopping (every batch fetched was acked)",
                   *jobs_failed ? " (one failed)" : "");
            *idle_exit = true;
            break;
        }
    }
    if (rc == CE_OK || rc == CE_STOPPED) {
        if (!o->dry_run) {
            ce_result frc = run_finish(r);
            if (frc == CE_FATAL)
                rc = frc;
        }
    }
    if (r->b_count > 0 && run_get_state(r) != RUN_RUNNING)
        run_set_state(r, RUN_ABANDONED); /* batches left un-acked */
    return rc;
}

int run_service(const cfg *c, const run_opts *o, volatile sig_atomic_t *stop)
{
    run_ctx *r = ce_calloc(1, sizeof *r);
    if (r == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        return 1;
    }
    int exit_code = 1;
    if (run_open(r, c, o, stop) == 0) {
        bool idle_exit = false;
        int jobs_failed = 0;
        ce_result rc = run_loop(r, &idle_exit, &jobs_failed);
        run_log_stats(r);
        if (rc == CE_RETRY || rc == CE_PERMANENT) { /* every step handles these: a bug if one gets here */
            ce_log(CE_LOG_ERROR, "run", "the loop ended with '%s' (%s): exiting 1, nothing more acked",
                   ce_result_name(rc), r->err);
            exit_code = 1;
        } else if (rc == CE_FATAL) {
            exit_code = 1;
        } else if (idle_exit) {
            exit_code = jobs_failed ? 1 : 0;
        } else if (o->dry_run) {
            ce_log(CE_LOG_INFO, "run", "dry run finished: %llu batches, %llu actions printed, nothing sent or acked",
                   (unsigned long long)CE_STAT_GET(r->st, batches), (unsigned long long)CE_STAT_GET(r->st, items_ok));
            exit_code = 0;
        } else if (run_get_state(r) == RUN_ABANDONED) {
            ce_log(CE_LOG_INFO, "run", "stopped on request; the un-acked batch will be redelivered");
            exit_code = 0;
        } else {
            ce_log(CE_LOG_INFO, "run", "stopped on request; every batch fetched was acked%s",
                   c->checkpoint.file[0] ? " and checkpointed" : "");
            exit_code = 0;
        }
    }
    run_close(r);
    ce_free(r);
    return exit_code;
}
