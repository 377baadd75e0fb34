/* snapshot: the chunked read of one MySQL table for the initial load and
 * reindex (docs/reindex.md). The table's key is its primary key, else its
 * first unique key whose columns are all NOT NULL (no prefix parts); a table
 * with neither is refused. Chunks are keyset-paginated on that key, each in
 * its own short START TRANSACTION WITH CONSISTENT SNAPSHOT (REPEATABLE
 * READ), and each is tagged with the binlog position P of its read view.
 * Every row becomes a row_event INSERT like the decoder's (mysqlType from
 * information_schema COLUMN_TYPE, values as the text Canal sends, isKey on
 * the primary key columns) with logfile/offset = P and snapshot = true, so
 * map_row gives it the version of P minus one. Events are valid only inside
 * the callback. */
#ifndef CE_SNAPSHOT_SNAPSHOT_H
#define CE_SNAPSHOT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode/decode.h"
#include "snapshot/snapsql.h"
#include "source/mysql.h"

typedef enum { SNAP_POS_BINLOG_SNAPSHOT = 1, SNAP_POS_LOCK_TABLES = 2 } snap_pos;

typedef struct snap_stats {
    uint64_t chunks;
    uint64_t rows;
    char first_file[256]; /* P of the first and the last chunk */
    int64_t first_pos;
    char last_file[256];
    int64_t last_pos;
    snap_pos method;
} snap_stats;

/* The table's columns and key from information_schema. -1 with err naming
 * the table when it does not exist, has no usable key, or on a query error
 * (*rc says which kind for the latter). */
int snap_describe(my_conn *c, const char *db, const char *table, snap_table *t, my_rc *rc, char *err,
                  size_t errlen);
void snap_table_free(snap_table *t);
/* The method `position` (auto | binlog_snapshot | lock_tables) selects on
 * this server. */
snap_pos snap_method(my_conn *c, const char *position);
/* Reads the whole table chunk by chunk and calls fn for every row in key
 * order. m: the [mysql] section (lock_tables opens a second connection with
 * it). A non-zero fn result stops the read and is returned; -1 with err on a
 * MySQL error. */
typedef int (*snap_row_fn)(void *ud, const row_event *ev);
int snap_read(my_conn *c, const cfg_mysql *m, const snap_table *t, long chunk_rows, snap_pos method, snap_row_fn fn,
              void *ud, snap_stats *st, char *err, size_t errlen);

/* The end of one chunk (after fn saw its rows): P, the rows, the key
 * literals of its last row (t->n_key of them; NULL when rows == 0) to
 * resume after, and whether it was the table's last chunk. */
typedef struct snap_chunk_info {
    const char *file;
    int64_t pos;
    size_t rows;
    const char *const *last_key;
    bool last;
} snap_chunk_info;
typedef int (*snap_chunk_fn)(void *ud, const snap_chunk_info *ci);
/* snap_read starting after the key start_after (t->n_key literals as
 * snap_chunk_info gives them; NULL = from the first row), calling on_chunk
 * (may be NULL) after every chunk; its non-zero result stops the read and
 * is returned. */
int snap_read_from(my_conn *c, const cfg_mysql *m, const snap_table *t, long chunk_rows, snap_pos method,
                   const char *const *start_after, snap_row_fn fn, snap_chunk_fn on_chunk, void *ud, snap_stats *st,
                   char *err, size_t errlen);
/* MariaDB, inside a consistent-snapshot transaction: the binlog position of
 * exactly its read view (binlog_snapshot_file/_position). */
int snap_snapshot_position(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen);
/* SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4): the binlog
 * position the server writes next. */
int snap_master_position(my_conn *c, char *file, size_t file_len, int64_t *pos, char *err, size_t errlen);

#endif
