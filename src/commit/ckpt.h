/* commit/ckpt: the checkpoint file, written after every ack.
 * One JSON object: destination, client id, batch id, binlog file and offset,
 * gtid, source time of the last change and wall time. Written atomically as
 * Redis' rdbSave does: temp file, fsync, rename, fsync of the directory. */
#ifndef CE_COMMIT_CKPT_H
#define CE_COMMIT_CKPT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ckpt {
    char destination[128];
    long client_id;
    int64_t batch_id;
    char binlog_file[256];
    int64_t binlog_offset;
    char gtid[512];
    int64_t source_time_ms; /* executeTime of the last change, 0 if unknown */
    int64_t wall_time_ms;   /* when the checkpoint was written */
} ckpt;

int ckpt_write(const char *path, const ckpt *c, char *err, size_t errlen);
/* 0 read, 1 no such file, -1 error (err names the path, on one line).
 * *out is written only on success. */
int ckpt_read(const char *path, ckpt *out, char *err, size_t errlen);
/* 0 when the checkpoint belongs to destination/client_id, else -1 with err. */
int ckpt_check_owner(const char *path, const ckpt *c, const char *destination, long client_id, char *err,
                     size_t errlen);
/* Multi-line human-readable status, lag = now_ms - source_time_ms. */
void ckpt_format_status(const ckpt *c, int64_t now_ms, char *buf, size_t buflen);
int64_t ckpt_now_ms(void);

#endif
