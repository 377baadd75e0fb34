/* verify: `canal-es verify -c FILE [--table DB.TABLE] [--repair]
 * [--max-report N] [--json] [--settle SECONDS]` proves that the indexes
 * hold exactly the documents the rules make of the MySQL rows, and with
 * --repair fixes what drifted (docs/operations.md, "Verifying an index").
 * Row pass: every table of the rules is read by keyset chunks (src/snapshot),
 * each row mapped with map_row into the document the stream would index,
 * the indexed ones fetched with _mget (by _id and routing) and compared
 * canonically (verify/vcmp.h). Extra pass: per index, _count against the
 * documents found; when they differ the index's ids are walked with a scroll
 * and checked against the rows (see verify.c for the bounded method).
 * Every difference is re-checked against a fresh read of its row after the
 * stream has passed that read's binlog position before it is reported.
 * Exit 0 identical, 1 differences remain, 2 usage or configuration error,
 * 3 the run could not finish (MySQL or the node failed). */
#ifndef CE_VERIFY_VERIFY_H
#define CE_VERIFY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct verify_opts {
    const char *table;     /* --table as given, NULL: every table of the rules */
    const char *db, *tbl;  /* its parts */
    bool repair, json;
    size_t max_report;     /* ids listed per kind and table */
    long settle_ms;        /* longest wait for the stream to pass a re-read's position */
} verify_opts;

/* The run on the loaded c (FILE path, for messages; its [log] applied).
 * Returns the exit code above. The command line is src/cmd/cmd_verify.c. */
int verify_run(const cfg *c, const char *path, const verify_opts *o);

#endif
