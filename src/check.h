/* check: `canal-es check-config -c FILE` validates the configuration and
 * tries every connection it names: the Canal server (authentication,
 * destination, subscribe), the search node (credentials, distribution and
 * version) and each rule's index or alias (exists, or will be created).
 * One verdict line per item ("ok", "warn", "FAIL"); exit 0 only when no
 * item failed. */
#ifndef CE_CHECK_H
#define CE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The checks `run` makes before it starts, on what a loaded cfg names on this
 * machine: [log] file, [checkpoint] file and dead_letter can be opened as
 * run opens them (not a directory, the directory exists), [http] listen
 * resolves. dry_run skips what a dry run does not use (all but the log).
 * Calls say(ctx, message) per problem ("[section] key ...: why"); returns
 * their number. Used by run (exit 2) and check-config (FAIL verdicts), so
 * both refuse the same configurations with the same message. */
typedef void (*check_say_fn)(void *ctx, const char *message);
int check_local(const cfg *c, int dry_run, check_say_fn say, void *ctx);

/* The verdict of [mysql]'s @@server_id (mysql_id, server "peer") against
 * the distinct serverIds of the Canal entries check-config --peek read
 * (ids[0..n), newest last): "ok" when the newest equals mysql_id, "FAIL"
 * when it differs, NULL when n == 0 (nothing to compare); msg tells which,
 * naming both ids. */
const char *check_server_ids(const char *peer, uint32_t mysql_id, const int64_t *ids, size_t n, char *msg,
                             size_t msglen);

/* Every verdict on the loaded c (FILE path), one line each on stdout, and
 * the total. Returns the exit code: 0 nothing failed, 1 something failed.
 * The command line is src/cmd/cmd_check.c. */
int check_run(const cfg *c, const char *path, bool peek);

#endif
