/* commit/checkpoint: the checkpoint file, the last position acked to Canal.
 *
 * The file holds one JSON object and a newline, e.g.
 *   {"destination":"example","client_id":1001,"batch_id":12,
 *    "binlog_file":"mysql-bin.000001","binlog_offset":4567,"gtid":"",
 *    "source_time_ms":1700000000000,"wall_time_ms":1700000000250,
 *    "rows":10,"actions":10,"version":1}
 * It is written after the ack of its batch (invariant 2) and atomically, as
 * Redis rdbSave does: PATH.tmp, fsync, rename over PATH, fsync the directory.
 * So a reader sees either the old or the new checkpoint, never a mix.
 *
 * Nothing here allocates memory the caller must free; ckpt is a plain value.
 * Errors fill `err` with one line naming the file; the caller logs it. */
#ifndef CE_COMMIT_CHECKPOINT_H
#define CE_COMMIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_VERSION 1
/* Largest checkpoint file ckpt_read accepts (and ckpt_write produces). */
#define CKPT_MAX_FILE ((size_t)64 * 1024)

typedef struct ckpt {
    char destination[128];
    long client_id;
    int64_t batch_id;
    char binlog_file[256];     /* e.g. mysql-bin.000003 */
    int64_t binlog_offset;
    char gtid[512];            /* "" if none */
    int64_t source_time_ms;    /* executeTime of the last change (ms since epoch), 0 if none */
    int64_t wall_time_ms;      /* when the checkpoint was written */
    uint64_t rows, actions;    /* totals since the service started (informational) */
} ckpt;

/* Writes atomically: PATH.tmp (O_CREAT|O_TRUNC, 0644), write all, fsync, close,
 * rename to PATH, fsync the directory. Every string field must be NUL-terminated
 * within its array and valid UTF-8, otherwise nothing is written.
 * 0, or -1 with err "checkpoint PATH: what: strerror"; PATH.tmp never remains. */
int ckpt_write(const char *path, const ckpt *c, char *err, size_t errlen);

/* Reads PATH. 0 ok (*out filled), 1 when the file does not exist (*out
 * untouched), -1 on error (unreadable, larger than CKPT_MAX_FILE, invalid JSON,
 * missing or mistyped field, unsupported version) with err naming PATH.
 * Unknown keys are ignored; rows and actions default to 0. */
int ckpt_read(const char *path, ckpt *out, char *err, size_t errlen);

/* Refuses a checkpoint that belongs to another destination/client: 0 ok, -1 with
 * err "checkpoint PATH belongs to destination X client N, not Y/M". */
int ckpt_check_owner(const char *path, const ckpt *c, const char *destination, long client_id,
                     char *err, size_t errlen);

/* Multi-line human-readable status for `canal-es status` ("key: value" lines):
 * destination, client id, batch, binlog position, gtid, source and wall time as
 * ISO-8601 UTC, lag_seconds = (now_ms - source_time_ms) / 1000 with millisecond
 * precision ("unknown" when source_time_ms is 0), rows and actions.
 * Always NUL-terminates buf (when buflen > 0); truncates when it is too small. */
void ckpt_format_status(const ckpt *c, int64_t now_ms, char *buf, size_t buflen);

#endif
