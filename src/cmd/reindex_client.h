/* cmd/reindex_client: what `canal-es reindex` does (its command line is
 * cmd_reindex.c). Asks the service running for a
 * configuration through its [http] listener (GET /reindex, POST /reindex,
 * POST /reindex/cancel, libcurl) and follows the job; when no service
 * answers there (connection refused) or [http] listen is empty, runs the
 * pipeline in this process (service.h) until the job ended. Exit 0 the job
 * is done (or, with --status/--cancel, the request succeeded), 1 it failed
 * or was cancelled, 2 usage or configuration error. */
#ifndef CE_CMD_REINDEX_CLIENT_H
#define CE_CMD_REINDEX_CLIENT_H

#include <stdio.h>

#include "config.h"

#include <stdbool.h>

/* What the command line asks for: one of table, status_only, cancel_id. */
typedef struct reindex_req {
    const char *table; /* DB.TABLE to load */
    bool in_place, no_wait;
    bool status_only;
    long cancel_id;    /* > 0: cancel that job */
    bool level_given;  /* --log-level was given (for the pipeline in this process) */
} reindex_req;

/* The request on the loaded c (FILE path). Returns the exit code above. */
int reindex_request(cfg *c, const char *path, const reindex_req *req);

/* `canal-es status`: the live jobs of the service on c's [http] listen as a
 * table on f. 0 printed; 1 no service answers (a line on f says so); -1
 * [http] listen is empty (nothing printed). */
int reindex_print_live(const cfg *c, FILE *f);

#endif
