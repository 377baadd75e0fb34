/* run: the service loop. source → decode → map → bulk → sink → commit:
 * fetch a Canal batch, turn every row into bulk actions, send them (retrying
 * with backoff until every item is applied), then ack the batch. Nothing is
 * acked before its actions are indexed. A stop request fetches nothing
 * more; the batch in hand is finished and acked within shutdown_timeout_ms,
 * or left un-acked for Canal to redeliver. */
#ifndef CE_RUN_H
#define CE_RUN_H

#include <signal.h>

#include "config.h"
#include "source/canal.h"

#include "stats.h"

typedef struct run_opts {
    long retry_initial_ms;   /* Canal reconnects */
    long retry_max_ms;
    long stats_interval_ms;  /* 0 = no periodic stats line */
    ce_stats *stats;         /* counters to update; NULL = private ones */
    int dry_run;             /* print the NDJSON to stdout, send and ack nothing, stop when caught up */
    struct job_mgr *jobs;    /* snapshot jobs (snapshot/job.h) the stream tees for and reports to; NULL = none */
    int exit_when_idle;      /* `canal-es reindex` without a service: stop once no job is queued or running */
} run_opts;

void run_opts_default(run_opts *o);
/* Returns the process exit code: 0 after a requested stop, 1 on failure. */
int run_service(const cfg *c, const run_opts *o, volatile sig_atomic_t *stop);

#endif
