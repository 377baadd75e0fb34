/* reindex_cmd: `canal-es reindex`. Asks the service running for a
 * configuration through its [http] listener (GET /reindex, POST /reindex,
 * POST /reindex/cancel, libcurl) and follows the job; when no service
 * answers there (connection refused) or [http] listen is empty, runs the
 * pipeline in this process (service.h) until the job ended. Exit 0 the job
 * is done (or, with --status/--cancel, the request succeeded), 1 it failed
 * or was cancelled, 2 usage or configuration error. */
#ifndef CE_REINDEX_CMD_H
#define CE_REINDEX_CMD_H

#include <stdio.h>

#include "config.h"

/* The whole command: argv[1] is "reindex". Returns the exit code. */
int reindex_main(int argc, char **argv);

/* `canal-es status`: the live jobs of the service on c's [http] listen as a
 * table on f. 0 printed; 1 no service answers (a line on f says so); -1
 * [http] listen is empty (nothing printed). */
int reindex_print_live(const cfg *c, FILE *f);

#endif
