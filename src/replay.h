/* replay: `canal-es replay-dead-letters -c FILE [--dry-run] DEADLETTERS`
 * re-sends the actions of a dead-letter file (after the mapping was fixed),
 * keeps what still fails in DEADLETTERS.remaining and reports how many were
 * applied. The functions below the command are pure (unit tests). */
#ifndef CE_REPLAY_H
#define CE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "sink/sink.h"
#include "util/buf.h"

/* Replays file with the [elasticsearch] settings of c (dry_run: prints the
 * _bulk NDJSON instead). Returns the exit code: 0 everything applied or
 * superseded, 1 something remains, 2 the file cannot be used. The command
 * line is src/cmd/cmd_replay.c. */
int replay_file(const cfg *c, const char *file, bool dry_run);

typedef enum {
    REPLAY_APPLIED = 0,  /* 2xx; a delete answered 404 */
    REPLAY_SUPERSEDED,   /* 409 version conflict: the index holds a newer version */
    REPLAY_REJECTED,     /* other 4xx: still refused */
    REPLAY_RETRY,        /* 429, 5xx, cluster block: send again */
    REPLAY_FATAL,        /* 401/403: credentials */
} replay_outcome;

/* The outcome of one `_bulk` item (as sink_parse_response classified it). */
replay_outcome replay_classify(const sink_item *it);

typedef struct replay_counts {
    size_t lines; /* non-blank lines read */
    size_t applied, superseded, rejected, failed, bad;
} replay_counts;

/* "replayed N: applied A, superseded S, rejected R, failed F, bad lines B" */
void replay_format_summary(const replay_counts *c, char *out, size_t outlen);

#endif
