/* service: what `canal-es run` and a `canal-es reindex` without a running
 * service share, so both start the pipeline the same way: the log settings
 * and local checks of the configuration, the signal handlers, the counters,
 * the [http] server with its reindex endpoints wired to the job manager, the
 * job manager itself and the service loop (run.h).
 *
 * Order: service_prepare, service_signals, service_open, (job_submit on
 * service_jobs before the worker starts), service_loop, service_close. The
 * service owns the counters, the server and the job manager; the caller owns
 * the cfg, which must outlive the service. */
#ifndef CE_SERVICE_H
#define CE_SERVICE_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "snapshot/job.h"

/* Set by the first SIGINT/SIGTERM (service_signals); a second one exits at
 * once with 1. */
extern volatile sig_atomic_t service_stop;

/* Applies c's [log] settings (level unless level_given, format, file) and
 * refuses what check_local refuses. 0, or 2 (the exit code) after printing
 * why. */
int service_prepare(cfg *c, bool level_given, bool dry_run);
/* SIGINT/SIGTERM stop (service_stop), SIGHUP reopens [log] file, SIGPIPE
 * ignored. */
void service_signals(void);

typedef struct service service;

/* The counters, the [http] server when listen is set (not in a dry run), the
 * job manager (not in a dry run) and the admin endpoints on the server.
 * NULL after logging why (exit code 1). */
service *service_open(const cfg *c, bool dry_run);
/* The job manager (NULL in a dry run): job_submit before service_loop
 * queues a job the worker starts with. */
job_mgr *service_jobs(service *s);
/* Starts the job worker and runs the stream until a stop (or, with
 * exit_when_idle, until no job is queued or running). The exit code. */
int service_loop(service *s, bool exit_when_idle);
/* Stops the server, frees the job manager and the counters (NULL is fine). */
void service_close(service *s);

#endif
