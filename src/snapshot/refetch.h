/* refetch: the exact text of columns Canal cannot decode, read back from
 * [mysql] (docs/type-mapping.md, "Character sets").
 * Canal decodes every text column with one charset (map/charset.h). For a
 * row event of a table with "foreign" text columns (charset not decoded
 * exactly by Canal's serverenCode) whose foreign values are not all ASCII,
 * rf_fix reads those columns of the row by its key (the snapshot's key:
 * primary, else the first NOT NULL unique key) over a utf8mb4 connection,
 * with the snapshot's conversions, and hands back the event with them
 * substituted. Each table's columns are read from information_schema on its
 * first such row, and again after a DDL on it (rf_forget).
 * rf_scan counts and names (once per column) values that still hold U+FFFD
 * after this, with [mysql] or without it. Pipeline thread only. */
#ifndef CE_SNAPSHOT_REFETCH_H
#define CE_SNAPSHOT_REFETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "decode/decode.h"
#include "source/mysql.h"
#include "stats.h"

typedef struct rf_ctx rf_ctx;

typedef enum {
    RF_ASIS = 0, /* use the event as it is */
    RF_FIXED,    /* *out: the event with the exact text (valid until the next call) */
    RF_GONE,     /* the row is no longer in MySQL (deleted or re-keyed since): *out is a DELETE of the
                    UPDATE's before image to apply instead, or NULL (an INSERT: skip it) */
    RF_BADKEY,   /* err: the key itself is in a charset Canal garbled: the row cannot be read back */
    RF_RETRY     /* err: MySQL could not be reached or failed: try again later */
} rf_rc;

/* m: how to reach MySQL (no host and no socket, or NULL: text is not read
 * back; the strings must outlive the rf_ctx). st: where the reads are
 * counted. NULL when out of memory. */
rf_ctx *rf_open(const my_opts *m, ce_stats *st);
/* rf_open with the [mysql] section (opts_mysql); defined by the adapter
 * (opts.c), which c must outlive. */
struct cfg_mysql;
rf_ctx *rf_new(const struct cfg_mysql *m, ce_stats *st);
void rf_free(rf_ctx *rf);
bool rf_enabled(const rf_ctx *rf);
/* A DDL on db.table: its columns are read again before its next row. */
void rf_forget(rf_ctx *rf, const char *db, const char *table);
/* enc: Canal's serverenCode ("" = UTF-8). soft: the rule writes deletes as
 * documents of the before image (then a DELETE's garbled text is named by
 * rf_scan: the row is gone, nothing can be read back). */
rf_rc rf_fix(rf_ctx *rf, const row_event *ev, const char *enc, bool soft, const row_event **out, char *err,
             size_t errlen);
/* The reads of one Canal batch, in few queries: rf_prefetch_begin, then
 * rf_prefetch with every row of each entry (decode_ctx.on_rows, a first
 * decoding pass over the batch), then rf_prefetch_end. The foreign text of
 * the rows that need it is read with one query per RF_PREFETCH_ROWS rows
 * of a table (a UNION ALL of point lookups by key, across entries); rf_fix
 * of those rows then asks no more. Failures are left to rf_fix (each row
 * reads alone and retries). Without begin (or after rf_forget) rf_prefetch
 * does nothing. */
void rf_prefetch_begin(rf_ctx *rf);
void rf_prefetch(rf_ctx *rf, const row_event *evs, size_t n, const char *enc);
void rf_prefetch_end(rf_ctx *rf);
/* True once a table with text Canal garbles was seen: the batch prefetch
 * pass is worth its decoding. */
bool rf_any_foreign(const rf_ctx *rf);
/* Counts the text values of ev's document image (after; before for a
 * DELETE when soft) that hold U+FFFD, per table and column, and warns once
 * per column with what to do. */
void rf_scan(rf_ctx *rf, const row_event *ev, const char *enc, bool soft);

#endif
