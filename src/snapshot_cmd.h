/* snapshot_cmd: `canal-es snapshot -c FILE --table DB.TABLE [--all-tables]
 * --dry-run` reads one table (or every table of its rule, src/snapshot/
 * tables.h) from [mysql] chunk by chunk (src/snapshot) and prints the
 * _bulk NDJSON the snapshot would send (map_row + bulk, as `run --dry-run`
 * prints the stream's). Sending, the tee with the stream, the alias swap and
 * resuming belong to the job engine of `run` (docs/reindex.md). */
#ifndef CE_SNAPSHOT_CMD_H
#define CE_SNAPSHOT_CMD_H

/* The whole command: argv[1] is "snapshot". Returns the exit code. */
int snapshot_main(int argc, char **argv);

#endif
