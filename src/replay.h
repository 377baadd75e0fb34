/* replay: `canal-es replay-dead-letters -c FILE [--dry-run] DEADLETTERS`
 * re-sends the actions of a dead-letter file (after the mapping was fixed),
 * keeps what still fails in DEADLETTERS.remaining and reports how many were
 * applied. The functions below the command are pure (unit tests). */
#ifndef CE_REPLAY_H
#define CE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "sink/sink.h"
#include "util/buf.h"

/* The longest dead-letter line read (the writer's own limit). */
#define REPLAY_MAX_LINE ((size_t)1 << 30)

/* The whole command: argv[1] is "replay-dead-letters". Returns the exit code:
 * 0 everything applied or superseded, 1 something remains, 2 usage/config. */
int replay_main(int argc, char **argv);

typedef enum { REPLAY_OP_INDEX = 0, REPLAY_OP_CREATE, REPLAY_OP_UPDATE, REPLAY_OP_DELETE } replay_op;

/* What a line holds, for messages and checks (index/id truncated to fit). */
typedef struct replay_entry {
    replay_op op;
    char index[128];
    char id[128];
    bool has_version;
    long long version;
    char version_type[32];
    bool has_document; /* a document line follows the action line */
} replay_entry;

/* Checks one dead-letter line (without its newline) and appends the `_bulk`
 * lines it stands for to out: the action line exactly as recorded (external
 * version and version_type included) and, unless it is a delete, the
 * document; each ends with '\n'. Strings, keys and numbers are kept byte for
 * byte (a NUL escape, 20-digit integers). Returns 0, or -1 with err saying
 * why the line is bad (out is then as it was). */
int replay_line_to_ndjson(const char *line, size_t len, ce_buf *out, replay_entry *e, char *err, size_t errlen);

/* The same dead-letter line with a new result: `time`, `status` and `error`
 * replaced (written first, as the service writes them), every other member
 * kept. Appends the line and '\n' to out. 0, or -1 with err. */
int replay_rewrite_line(const char *line, size_t len, const char *when, int status, const char *type,
                        const char *reason, ce_buf *out, char *err, size_t errlen);

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
