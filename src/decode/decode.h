/* decode: serialized Canal Entry → row events.
 * One Entry is walked on its wire bytes (decode/wire: no protobuf-c, no
 * per-field allocation); transaction boundaries are told by entryType (BEGIN
 * optional, GTIDLOG tolerated); every row of a ROWDATA entry becomes a
 * row_event with its before and after images kept apart and all columns.
 * The strings of an entry (names, values, header fields) point into one
 * copy of the entry, in an arena reset per entry, each NUL-terminated there
 * (no per-row malloc, no copy per string). Events point into that arena and
 * the context's scratch space: they are valid until the next entry is
 * decoded. */
#ifndef CE_DECODE_DECODE_H
#define CE_DECODE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef enum { ROW_INSERT = 1, ROW_UPDATE = 2, ROW_DELETE = 3 } row_op;

typedef struct row_col {
    const char *name;
    const char *value;     /* text as Canal sent it ("" when NULL); may hold NUL
                              bytes, use value_len; NUL-terminated as well */
    size_t value_len;
    const char *mysql_type;
    int sql_type;
    bool is_null;
    bool is_key;
    bool updated;
} row_col;

typedef struct row_image {
    const row_col *cols;
    size_t n;
} row_image;

typedef struct row_event {
    const char *schema;
    const char *table;
    row_op op;
    row_image before;      /* UPDATE, DELETE */
    row_image after;       /* INSERT, UPDATE */
    const char *logfile;
    int64_t offset;
    int64_t execute_time;  /* ms since epoch */
    uint32_t row_index;    /* row within its binlog event */
    const char *gtid;
    bool snapshot;         /* read by the snapshot at binlog position logfile:offset
                              (src/snapshot): its version is that position's minus one */
    uint64_t layout;       /* 0: unknown. Else the rows of one RowChange (one binlog rows event: one
                              table map, one column bitmap per image), unique in the process: every
                              row_event with this layout has the same schema, table, logfile and offset
                              and, before image with before image and after with after, the same
                              column names and mysqlTypes in the same order (the
                              counts and sqlTypes are still to be compared: Canal widens the sqlType of
                              an unsigned value out of the signed range). Copies of an event that change
                              only values (snapshot/refetch) keep it; producers of other layouts leave it
                              0 (row_event literals do). */
} row_event;

typedef struct decode_stats {
    uint64_t entries;
    uint64_t txn_begin;
    uint64_t txn_end;
    uint64_t gtid;
    uint64_t heartbeat;
    uint64_t rows;
    uint64_t ddl;
    uint64_t other;        /* QUERY and other non-row events */
    uint64_t bad;          /* data handed to on_bad */
} decode_stats;

typedef enum { DDL_OTHER = 0, DDL_TRUNCATE, DDL_DROP } ddl_kind;

/* A DDL statement Canal reports (isDdl). */
typedef struct ddl_event {
    ddl_kind kind;
    const char *schema;
    const char *table;   /* "" when the statement names no table */
    const char *sql;
    const char *logfile;
    int64_t offset;
} ddl_event;

typedef int (*decode_ddl_fn)(void *ud, const ddl_event *ev);

/* Bytes that do not decode: an Entry that is not one, an Entry whose
 * storeValue is not a RowChange, a row without the image its event needs. */
typedef struct decode_bad {
    const uint8_t *entry;  /* the whole Entry as received */
    size_t len;
    const char *schema;    /* "" when unknown (the Entry itself is malformed) */
    const char *table;
    const char *logfile;
    int64_t offset;
    int64_t execute_time;
    const char *reason;    /* the error text, with the binlog position */
} decode_bad;

typedef int (*decode_bad_fn)(void *ud, const decode_bad *b);

/* Every row of one ROWDATA entry (one binlog event, one table), before
 * their row callbacks; the events stay valid until the entry's last row
 * callback returns. A non-zero return stops the entry and is passed back. */
typedef int (*decode_rows_fn)(void *ud, const struct row_event *evs, size_t n);

typedef struct decode_ctx {
    decode_ddl_fn on_ddl;  /* optional; called with the row callback's ud */
    decode_rows_fn on_rows; /* optional; called with the row callback's ud */
    decode_bad_fn on_bad;  /* optional: bad data goes here and decoding goes on
                              (its non-zero result is passed back); without it
                              decode_entry returns -1 */
    ce_arena arena;        /* the strings (reference path: unpacked messages) of the current entry */
    row_col *scratch;      /* the columns of every row of the current entry */
    size_t scratch_cap;
    row_event *evs;        /* its rows */
    size_t evs_cap;
    decode_stats stats;
    /* The header of the last entry with one (any entry type: transaction
     * ends of unmapped tables move it too): where the stream is, and the
     * serverId of the MySQL server that wrote it (0 = none seen), and the
     * charset Canal decoded its text with (serverenCode, a Java charset
     * name such as "UTF-8"; "" = none seen). */
    char pos_file[256];
    int64_t pos_offset;
    int64_t server_id;
    char server_enc[32];
    char bad_reason[512];  /* decode_out.bad.reason */
} decode_ctx;

/* A non-zero return stops the decoding of that entry and is passed back. */
typedef int (*decode_row_fn)(void *ud, const row_event *ev);

void decode_init(decode_ctx *d);
void decode_free(decode_ctx *d);

/* What one Entry holds: decode is a pure producer (no callback, no I/O);
 * the caller (the run loop) decides what to do with it. */
typedef enum {
    DECODE_SKIP = 0, /* transaction marks, GTID, heartbeats, QUERY and other non-row events */
    DECODE_ROWS,     /* rows[0, n): the rows of one binlog event of one table, in order */
    DECODE_DDL,      /* ddl */
    DECODE_BAD,      /* the bytes are not an Entry / RowChange: bad */
} decode_kind;

typedef struct decode_out {
    decode_kind kind;
    const row_event *rows; /* DECODE_ROWS: the rows that have the images their event needs */
    size_t n;
    ddl_event ddl;         /* DECODE_DDL */
    /* DECODE_BAD, or DECODE_ROWS with n_bad rows lacking an image: the whole
     * raw entry and the reason (of the first bad row) */
    decode_bad bad;
    size_t n_bad;
} decode_out;

/* Decodes one Entry into *out, valid until the next decode_next/decode_entry
 * on d (it points into d's arena and scratch space and into data). 0, or -1
 * with err filled when out of memory. Bad bytes are a result (DECODE_BAD),
 * not an error. Counts d->stats. */
int decode_next(decode_ctx *d, const uint8_t *data, size_t len, decode_out *out, char *err, size_t errlen);
/* decode_next done with protobuf-c's unpack: the reference decoder, for tests,
 * fuzzers and benchmarks (the same results; slower). */
int decode_next_pbc(decode_ctx *d, const uint8_t *data, size_t len, decode_out *out, char *err, size_t errlen);
/* The INFO line of a DDL statement (its first 200 bytes on one line). */
void decode_log_ddl(const ddl_event *ev);
/* decode_next with callbacks (the tools that only look at rows: check-config,
 * mapping, the fuzzers and benchmarks): on_bad for bad data (without it,
 * -1 with err), on_ddl, on_rows, then fn per row. */
/* 0 on success; the callback's non-zero result; or -1 with err filled when
 * out of memory or, without on_bad, when the bytes are not a valid
 * Entry/RowChange. */
int decode_entry(decode_ctx *d, const uint8_t *data, size_t len, decode_row_fn fn, void *ud, char *err,
                 size_t errlen);

#endif
