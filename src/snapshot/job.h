/* snapshot/job: the initial loads and reindexes inside `canal-es run`
 * (docs/reindex.md). One worker thread runs the jobs one at a time beside
 * the stream: it reads the table chunk by chunk (snapshot.h), writes each
 * chunk's documents with the version of its binlog position minus one
 * through the delivery module, and saves the job after every chunk whose
 * actions all have final results. A job on a rule with `alias` writes into
 * a new index {alias}-{UTC yyyyMMddHHmmss}; from before its first chunk the
 * stream tees every action of that rule into it as well (job_tee), and when
 * every table is loaded and the stream has passed the last chunk's position
 * the alias is moved in one POST /_aliases. Without alias (or --in-place)
 * the job loads into the rule's index.
 *
 * The state ({checkpoint file}.reindex, written atomically) holds the jobs
 * in progress and the tables whose initial load completed; a restart
 * resumes a job after its last saved chunk, with its tee active before the
 * stream delivers anything.
 *
 * Threads: job_mgr_new/start/free from the service's thread; job_tee,
 * job_note_delete, job_stream_at and job_stream_ddl from the pipeline
 * thread; job_submit/cancel/status from any thread (the HTTP listener). */
#ifndef CE_SNAPSHOT_JOB_H
#define CE_SNAPSHOT_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode/decode.h"
#include "stats.h"
#include "util/buf.h"

typedef struct job_mgr job_mgr;

/* Reads the state file and queues what must run: jobs in progress, then
 * (with [mysql]) the initial load of every rule with snapshot = initial
 * whose tables have no completed load. NULL with err when the state file
 * cannot be read or does not belong to this configuration. */
job_mgr *job_mgr_new(const cfg *c, ce_stats *st, char *err, size_t errlen);
/* Starts the worker thread. stop: the service's stop flag (a stop leaves
 * the chunk in hand unsaved: it is read again after the restart). */
int job_mgr_start(job_mgr *m, volatile sig_atomic_t *stop, char *err, size_t errlen);
/* Stops and joins the worker, frees m (NULL is fine). */
void job_mgr_free(job_mgr *m);

/* Requests. Each returns an HTTP status and appends a JSON object to out:
 * job_submit 202 {"id":N,"table":...,"index":...} when queued; 400 bad
 * table name; 404 no enabled rule for it; 409 a job of that rule is queued
 * or running; 503 no [mysql] section. Errors: {"error":"message"}.
 * db_table: "DB.TABLE" (a regex rule's whole set of tables is loaded). */
int job_submit(job_mgr *m, const char *db_table, bool in_place, ce_buf *out);
/* 200 {"id":N,"state":"cancelled"}; 404 unknown id; 409 already ended. */
int job_cancel(job_mgr *m, long id, ce_buf *out);
/* 200 {"jobs":[{"id":1,"table":"shop.products","rule":"shop.products",
 * "mode":"alias"|"in_place","origin":"initial"|"request",
 * "state":"queued"|"loading"|"catching_up"|"swapping"|"done"|"failed"|"cancelled",
 * "index":"...","alias":"..."|null,"rows":N,"rows_estimate":N,"chunks":N,
 * "rows_per_s":X,"eta_s":N|null,"stream_lag_ms":N,"error":"..."|null,
 * "started_ms":N,"finished_ms":N|null,"resumes":N}, ...]}: the jobs of
 * this process and the ones resumed (resumes: restarts it survived),
 * oldest first. */
int job_status(job_mgr *m, ce_buf *out);
/* true when no job is queued or running; *failed: the number of jobs of
 * this process that ended failed or cancelled. */
bool job_mgr_idle(job_mgr *m, int *failed);

/* Pipeline thread. The index the stream must also write rule's actions to
 * (a running alias job's new index): 1 with it in index, else 0. */
int job_tee(job_mgr *m, const cfg_table *rule, char *index, size_t len);
/* A hard delete the stream is sending for rule: its `_bulk` action line
 * (p, len: one line ending in '\n', with its external version). While a
 * job of that rule runs, the worker sends it again after the chunk it was
 * noted during, so a chunk read before the delete and written after it
 * cannot bring the row back, whatever the node's tombstones. */
void job_note_delete(job_mgr *m, const cfg_table *rule, const uint8_t *p, size_t len);
/* After every ack: the position of the last entry of the batch and the
 * serverId of its header (0 = unknown); after an empty GET: caught_up. */
void job_stream_at(job_mgr *m, const char *file, int64_t offset, int64_t server_id, bool caught_up);
/* A DDL statement on a table, before the stream applies it: a job reading
 * that table stops writing first (this call waits for that, up to 60 s),
 * then fails (alias) or starts again (in place) once job_stream_ddl_done
 * says the statement was applied (a TRUNCATE's _delete_by_query then
 * cannot miss a chunk written after it). */
void job_stream_ddl(job_mgr *m, const ddl_event *ev);
/* After every DDL statement the stream handled (applied or not). */
void job_stream_ddl_done(job_mgr *m);

/* `canal-es status`: the jobs recorded in c's state file, one line each,
 * into buf ("" when none). */
void job_state_summary(const cfg *c, char *buf, size_t len);

#endif
