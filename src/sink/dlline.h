/* sink/dlline: the dead-letter line format, written and read in one place.
 *
 * One JSON object a line. Every line starts with the result members
 * (dlline_result): "time" (ISO 8601 UTC, ms), "status" (the node's HTTP
 * status; 0: never sent), "error" {"type", "reason"}; then where it came
 * from (dlline_origin): "table" ("db.table"), "binlog" {"file", "offset"},
 * "source_time_ms"; then what it holds:
 *   "action", "document"  the _bulk action line and document exactly as
 *                         sent (document null for a delete);
 *   "kind":"row"          a row the table rule could not map (NULL id
 *                         column, routing column missing, ...): "row":{"op",
 *                         "row_index","before","after"}, images as
 *                         {"column": "text" or null};
 *   "kind":"entry"        a Canal Entry that does not decode (malformed
 *                         RowChange): "entry_base64", the Entry's bytes.
 * Lines with a "kind" hold data that never became an action: replay reports
 * them as not replayable (docs/troubleshooting.md).
 *
 * The writer (sink/deadletter) builds lines with dlline_result and
 * dlline_origin; replay reads them with dlline_to_ndjson and keeps what
 * still fails with dlline_rewrite (a new result, every other member kept). */
#ifndef CE_SINK_DLLINE_H
#define CE_SINK_DLLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>

#include "util/buf.h"

/* The longest line written or read. */
#define DLLINE_MAX_LINE ((size_t)1 << 30)

/* The result members ("time", "status", "error") into the open object of g. */
yajl_gen_status dlline_result(yajl_gen g, const char *when, int status, const char *type, const char *reason);
/* The origin members ("table", "binlog", "source_time_ms") into the open object of g. */
yajl_gen_status dlline_origin(yajl_gen g, const char *table, const char *logfile, long long offset,
                              long long source_time_ms);

typedef enum { DLLINE_OP_INDEX = 0, DLLINE_OP_CREATE, DLLINE_OP_UPDATE, DLLINE_OP_DELETE } dlline_op;

/* What a line holds, for messages and checks (index/id truncated to fit). */
typedef struct dlline_entry {
    dlline_op op;
    char index[128];
    char id[128];
    bool has_version;
    long long version;
    char version_type[32];
    bool has_document; /* a document line follows the action line */
} dlline_entry;

/* Checks one dead-letter line (without its newline) and appends the `_bulk`
 * lines it stands for to out: the action line exactly as recorded (external
 * version and version_type included) and, unless it is a delete, the
 * document; each ends with '\n'. Strings, keys and numbers are kept byte for
 * byte (a NUL escape, 20-digit integers). Returns 0, or -1 with err saying
 * why the line is bad (out is then as it was). */
int dlline_to_ndjson(const char *line, size_t len, ce_buf *out, dlline_entry *e, char *err, size_t errlen);

/* The same line with a new result: `time`, `status` and `error` replaced
 * (written first, as the writer writes them), every other member kept.
 * Appends the line and '\n' to out. 0, or -1 with err (out as it was). */
int dlline_rewrite(const char *line, size_t len, const char *when, int status, const char *type, const char *reason,
                   ce_buf *out, char *err, size_t errlen);

#endif
