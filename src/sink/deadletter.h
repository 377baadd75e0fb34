/* sink/deadletter: the dead-letter file. One JSON line per action the search
 * node rejected for good (mapping or parsing errors): the action and document
 * exactly as sent, the error, the table, the binlog position and the time.
 * Lines are appended (O_APPEND) and dl_sync fsyncs them before the batch that
 * holds them is acked. `canal-es replay-dead-letters FILE` re-sends them.
 *
 * The line format (members, the "kind":"row" and "kind":"entry" lines of
 * data that never became an action) is defined in sink/dlline.h. */
#ifndef CE_SINK_DEADLETTER_H
#define CE_SINK_DEADLETTER_H

#include <stddef.h>

#include "bulk/bulk.h"
#include "decode/decode.h"
#include "sink/sink.h"

typedef struct deadletter deadletter;

deadletter *dl_open(const char *path, char *err, size_t errlen);
/* Appends the line for action i of b, which failed with *it. */
int dl_write(deadletter *d, const bulk *b, size_t i, const sink_item *it, char *err, size_t errlen);
/* A "kind":"row" line: ev could not be mapped for `reason`. */
int dl_write_row(deadletter *d, const row_event *ev, const char *reason, char *err, size_t errlen);
/* A "kind":"entry" line: the raw Entry of `bad`, base64. */
int dl_write_entry(deadletter *d, const decode_bad *bad, char *err, size_t errlen);
/* Appends a line for each action of mo, which canal-es refused to send
 * (e.g. an invalid index name) with *it as the error. */
int dl_write_refused(deadletter *d, const map_out *mo, const sink_item *it, char *err, size_t errlen);
int dl_sync(deadletter *d, char *err, size_t errlen);
void dl_close(deadletter *d);
const char *dl_path(const deadletter *d);

#endif
