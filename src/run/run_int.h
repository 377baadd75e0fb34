/* run/run_int.h: what the files of the service loop share (not a public
 * header). The data flows one way:
 *
 *   loop.c   fetch a batch (source) → decode_next per entry → rows.c
 *   rows.c   rule → charset read-back → map → index setup → actions appended
 *            to the batch's current part (a bulk body); DDL and bad data
 *   pipe.c   parts queue → the delivery thread (dlv_send) → results
 *   loop.c   results in part order → dead letters → ack in batch order →
 *            checkpoint
 *
 * Threads: the pipeline thread runs loop.c and rows.c and owns the source
 * (Canal client or Kafka consumer), the setup sink (index creation, TRUNCATE deletes), the decoder,
 * the dead-letter file and every batch record; the delivery thread runs
 * pipe.c's worker and owns the delivery sinks while a part is being sent.
 * They share only the part queue (pipe.c, under its mutex), the stats
 * counters (atomic) and the shutdown state (atomic). */
#ifndef CE_RUN_RUN_INT_H
#define CE_RUN_RUN_INT_H

#include "bulk/bulk.h"
#include "commit/ckpt.h"
#include "decode/decode.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "run.h"
#include "sink/automap.h"
#include "sink/deadletter.h"
#include "sink/sink.h"
#include "snapshot/refetch.h"
#include "source/source.h"
#include "stats.h"
#include "util/backoff.h"
#include "util/result.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define RUN_MAX_BODY ((size_t)512 << 20)
#define RUN_MAX_CONCURRENCY DLV_MAX_STREAMS
#define RUN_MAX_NOTED 1024
#define RUN_MAX_IN_HAND 60 /* below the client's 64 outstanding batches */

/* The one shutdown state (any thread reads it; it only moves forward):
 * RUNNING  fetching;
 * STOPPING a stop was requested: nothing more is fetched, the batches in
 *          hand are finished and acked until shutdown_timeout_ms passes;
 * ABANDONED the deadline passed (or a delivery was stopped): what is not
 *          acked stays un-acked and Canal delivers it again. */
typedef enum { RUN_RUNNING = 0, RUN_STOPPING, RUN_ABANDONED } run_state;

struct run_batch;

/* A part: the actions of one batch, or of a slice of it (a batch whose
 * actions pass bulk_max_bytes / bulk_max_actions, or that holds a DDL,
 * is cut into several), delivered by the delivery thread as one dlv_send. */
typedef struct run_part {
    bulk bulk;
    dlv_action *acts;
    dlv_result *res;
    size_t items_cap;
    struct run_batch *batch;
    dlv_rc rc;         /* set by the delivery thread */
    char err[1024];
    uint64_t repairs_counted; /* bulk.values.utf8_repairs already added to the counters */
    struct run_part *next_free;
} run_part;

/* A batch fetched and not yet acked. */
typedef struct run_batch {
    int64_t id;
    size_t parts_pending; /* handed to the delivery and not reaped yet */
    bool sealed;          /* every entry processed: it can be acked once parts_pending is 0 */
    ckpt pos;             /* the position after its last entry: the checkpoint written at its ack */
    char pos_file[256];   /* the decoder's position after it (job_stream_at) */
    int64_t pos_offset;
    int64_t server_id;
} run_batch;

typedef struct run_pipe run_pipe;

typedef struct run_ctx {
    const cfg *c;
    const run_opts *o;
    volatile sig_atomic_t *stop;   /* set by SIGTERM/SIGINT */
    _Atomic int state;             /* run_state */
    _Atomic uint64_t stop_deadline; /* monotonic ms; 0 until the stop is seen */
    size_t req_cap;                /* bytes per _bulk request (bulk_max_bytes; halved on 413); delivery thread */
    size_t max_in_hand;            /* [canal] max_batches_in_flight */
    char cache_db[256], cache_table[256]; /* the last cfg_find_table lookup */
    const cfg_table *cache_rule;
    size_t cache_slot;             /* its per-table stats slot */
    bool cache_valid;
    source *src;                   /* Canal TCP or Kafka (source/source.h) */
    sink *setup_sink;              /* pipeline thread: node detection, index setup, TRUNCATE/DROP deletes */
    sink *sinks[RUN_MAX_CONCURRENCY]; /* delivery thread: one per stream */
    size_t n_sinks;                /* [elasticsearch] concurrency */
    const dlv_transport *transport; /* NULL: the sinks (tests put a fake here) */
    decode_ctx dec;
    map_out mo;
    ce_backoff bo;
    ce_backoff src_bo;     /* Canal reconnects: reset only by a delivered batch (run_src_healthy) */
    uint64_t src_since_ms; /* when the current Canal connection was made */
    bool src_served;       /* the current (or last) connection answered a GET */
    char src_peer[300];    /* the server of the last "connected" line */
    unsigned frames_too_big; /* consecutive GETs refused for their frame size */
    deadletter *dl;        /* NULL when on_error = halt */
    run_pipe *pipe;
    /* batches in hand, oldest first (a ring of RUN_MAX_IN_HAND) */
    run_batch batches[RUN_MAX_IN_HAND];
    size_t b_head, b_count;
    run_part *cur;         /* the part being filled (NULL: none yet) */
    uint64_t cur_since_ms; /* when its first action was added */
    bool prefetched;       /* the batch's garbled text was read back already (one pass over all its entries) */
    ckpt last;             /* position of the last entry seen */
    uint64_t utf8_repairs; /* of every part reaped */
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

/* ---- setup.c: what the loop needs, opened and closed ------------------- */
/* The counters, decoder, Canal client, sinks (one per delivery stream and
 * the setup sink), dead-letter file, checkpoint check, delivery thread.
 * 0, or -1 after logging why; run_close frees what was opened. */
int run_open(run_ctx *r, const cfg *c, const run_opts *o, volatile sig_atomic_t *stop);
void run_close(run_ctx *r);

/* ---- loop.c: the state, clocks and waits every file uses ---------------- */
run_state run_get_state(run_ctx *r);
/* Moves the state forward (never back); logs the change. */
void run_set_state(run_ctx *r, run_state s);
/* STOPPING or later: fetch nothing more. Reads the stop flag. */
bool run_stopping(run_ctx *r);
/* ABANDONED: give up what is in hand. Moves STOPPING to ABANDONED once the
 * deadline has passed. Any thread. */
bool run_abandoned(run_ctx *r);
/* Sleeps ms in steps until done (CE_OK) or abandoned (CE_STOPPED). */
ce_result run_sleep(run_ctx *r, uint64_t ms);
/* Logs r->err with the coming delay, counts a retry and sleeps the next
 * full-jitter backoff delay, at least min_ms (a Retry-After). */
ce_result run_backoff(run_ctx *r, ce_backoff *bo, const char *component, long long min_ms);
void run_observe(run_ctx *r, uint64_t t0_us, sink_rc rc);

/* ---- rows.c: one decoded entry into the current part ------------------- */
/* The rule of db.table (one-entry cache; r->cache_slot is its stats slot). */
const cfg_table *run_rule(run_ctx *r, const char *db, const char *table);
/* The rows of one entry: mapped into the current part. */
ce_result run_rows(run_ctx *r, const row_event *evs, size_t n);
/* Bad bytes: the raw entry to the dead-letter file, or halt. */
ce_result run_bad(run_ctx *r, const decode_bad *b);
/* A DDL statement: what came before is delivered first (loop.c's
 * run_drain), then TRUNCATE/DROP are applied. */
ce_result run_ddl(run_ctx *r, const ddl_event *ev);
/* [kafka]: the actions of one row mapped with row index 0 get the versions
 * of the Kafka scheme: deletes v(offset), index actions v(offset) + 1. */
void run_kafka_versions(map_out *mo);
/* The per-table skip counts for the stats line. */
void run_log_skipped(run_ctx *r);
void run_rows_free(run_ctx *r);

/* ---- loop.c: parts and batches ------------------------------------------ */
/* The current part, taken from the pipe's free list when there is none. */
run_part *run_part_cur(run_ctx *r);
/* Hands the current part (if it holds actions) to the delivery; it waits
 * while max_batches_in_flight parts are out, finishing the oldest. */
ce_result run_handoff(run_ctx *r);
/* Hands off the current part and waits until every part handed off so far
 * is delivered and its results processed (the acks of the batches that are
 * complete are sent too). */
ce_result run_drain(run_ctx *r);

/* ---- pipe.c: the delivery thread ---------------------------------------- */
run_pipe *pipe_new(run_ctx *r, size_t max_parts, char *err, size_t errlen);
/* Stops the thread (after the part it is sending) and frees every part. */
void pipe_free(run_pipe *p);
/* A part to fill: a free one, or a new one while fewer than max_parts + 1
 * exist; NULL when out of memory. */
run_part *pipe_take(run_pipe *p);
/* A reaped part back to the free list (its bulk reset). */
void pipe_give(run_pipe *p, run_part *part);
/* Queues part for delivery; the caller must have checked pipe_full. */
void pipe_push(run_pipe *p, run_part *part);
/* Parts queued or being sent, not yet popped. */
size_t pipe_out(run_pipe *p);
bool pipe_full(run_pipe *p);
/* The oldest part, once delivered (its rc set), removed from the queue; NULL
 * when none is (yet). wait_ms: how long to wait for it (0: don't). */
run_part *pipe_pop_done(run_pipe *p, uint64_t wait_ms);
/* No more parts are sent after a failure: those queued end DLV_STOPPED. */
void pipe_fail(run_pipe *p);

#endif
