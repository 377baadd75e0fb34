/* run/setup: the service loop's resources (see run_int.h), opened in order
 * and closed in reverse: counters, decoder and mapper, Canal client, the
 * charset read-back, the sinks (node detection on the setup sink), the
 * dead-letter file, the checkpoint owner check, the delivery thread. */
#include "opts.h"
#include "run/run_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

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

static int run_setup_abort(void *ud) { return run_abandoned(ud); }

/* The sinks: one per delivery stream, and the setup sink of the pipeline
 * thread, which asks the node its version first (an unreachable node is
 * asked again before the first request). */
static int run_open_sinks(run_ctx *r)
{
    const cfg *c = r->c;
    r->n_sinks = (size_t)c->es.concurrency;
    if (r->n_sinks < 1 || r->n_sinks > RUN_MAX_CONCURRENCY)
        r->n_sinks = 1;
    r->setup_sink = sink_new_cfg(&c->es, r->err, sizeof r->err);
    for (size_t i = 0; r->setup_sink != NULL && i < r->n_sinks; i++)
        if ((r->sinks[i] = sink_new_cfg(&c->es, r->err, sizeof r->err)) == NULL)
            break;
    if (r->setup_sink == NULL || r->sinks[r->n_sinks - 1] == NULL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return -1;
    }
    sink_set_abort(r->setup_sink, run_setup_abort, r);
    if (r->o->dry_run)
        return 0;
    sink_rc dr = sink_detect(r->setup_sink, r->err, sizeof r->err);
    if (dr == SINK_FATAL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return -1;
    }
    if (dr != SINK_OK)
        ce_log(CE_LOG_WARN, "sink", "%s; the node is asked again before the first request", r->err);
    for (size_t i = 0; i < r->n_sinks; i++)
        sink_adopt_info(r->sinks[i], r->setup_sink);
    return 0;
}

/* The checkpoint must belong to this destination and client. */
static int run_check_checkpoint(run_ctx *r)
{
    const cfg *c = r->c;
    /* with [kafka] the owner is the group (the checkpoint is informational: the offsets are the group's) */
    if (c->kafka.on) {
        snprintf(r->last.destination, sizeof r->last.destination, "kafka:%s", c->kafka.group_id);
        r->last.client_id = 0;
    } else {
        snprintf(r->last.destination, sizeof r->last.destination, "%s", c->canal.destination);
        r->last.client_id = c->canal.client_id;
    }
    if (c->checkpoint.file[0] == '\0' || r->o->dry_run)
        return 0;
    ckpt prev;
    int cr = ckpt_read(c->checkpoint.file, &prev, r->err, sizeof r->err);
    if (cr < 0 || (cr == 0 && ckpt_check_owner(c->checkpoint.file, &prev, r->last.destination, r->last.client_id,
                                               r->err, sizeof r->err) != 0)) {
        ce_log(CE_LOG_ERROR, "commit", "%s", r->err);
        return -1;
    }
    if (cr == 0)
        ce_log(CE_LOG_INFO, "commit", "checkpoint %s: last acked batch %lld at binlog %s:%lld", c->checkpoint.file,
               (long long)prev.batch_id, prev.binlog_file, (long long)prev.binlog_offset);
    return 0;
}

int run_open(run_ctx *r, const cfg *c, const run_opts *o, volatile sig_atomic_t *stop)
{
    r->c = c;
    r->o = o;
    r->stop = stop;
    atomic_init(&r->state, RUN_RUNNING);
    atomic_init(&r->stop_deadline, 0);
    r->req_cap = (size_t)c->es.bulk_max_bytes;
    r->max_in_hand = (size_t)c->canal.max_batches_in_flight;
    if (r->max_in_hand < 1 || r->max_in_hand > RUN_MAX_IN_HAND)
        r->max_in_hand = 2;
    if (o->stats != NULL) {
        r->st = o->stats;
    } else {
        stats_init(&r->own_stats);
        r->st = &r->own_stats;
    }
    decode_init(&r->dec);
    map_out_init(&r->mo);
    r->mo.versioning = c->es.versioning_on;
    r->mo.version_epoch = (unsigned)c->es.version_epoch;
    ce_backoff_init(&r->bo, (uint64_t)c->es.retry_initial_ms, (uint64_t)c->es.retry_max_ms);
    ce_backoff_init(&r->src_bo, (uint64_t)o->retry_initial_ms, (uint64_t)o->retry_max_ms);
    /* With no batch in hand (connect, handshake, GET) nothing is lost by leaving at once: a stop
     * ends those waits. Batches in hand are finished and acked until shutdown_timeout_ms. */
    if (c->kafka.on) {
        kafka_opts ko;
        opts_kafka(c, &ko);
        ko.stop = r->stop;
        ko.stats = r->st;
        r->src = src_kafka_new(&ko);
    } else {
        canal_opts co;
        opts_canal(c, &co);
        co.stop = r->stop;
        r->src = src_canal_new(&co);
    }
    if (r->src == NULL || (r->rf = rf_new(&c->mysql, r->st)) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "out of memory");
        return -1;
    }
    if (run_open_sinks(r) != 0)
        return -1;
    if (!c->es.halt_on_error && !o->dry_run && (r->dl = dl_open(c->es.dead_letter, r->err, sizeof r->err)) == NULL) {
        ce_log(CE_LOG_ERROR, "sink", "%s", r->err);
        return -1;
    }
    if (run_check_checkpoint(r) != 0)
        return -1;
    if ((r->pipe = pipe_new(r, r->max_in_hand, r->err, sizeof r->err)) == NULL) {
        ce_log(CE_LOG_ERROR, "run", "%s", r->err);
        return -1;
    }
    return 0;
}

void run_close(run_ctx *r)
{
    pipe_free(r->pipe); /* the delivery thread first: it uses the sinks */
    r->pipe = NULL;
    r->cur = NULL;
    src_free(r->src);
    r->src = NULL;
    for (size_t i = 0; i < r->n_sinks; i++)
        sink_free(r->sinks[i]);
    sink_free(r->setup_sink);
    dl_close(r->dl);
    decode_free(&r->dec);
    map_out_free(&r->mo);
    run_rows_free(r);
    rf_free(r->rf);
    if (r->st == &r->own_stats)
        stats_destroy(&r->own_stats);
}
