/* snapsql: the pure parts of the snapshot (no I/O): the column model, the
 * SQL of one chunk (keyset pagination with expanded predicates, identifiers
 * quoted with backticks), the literals of key values, and the text Canal
 * would send for a value (Java's Float/Double.toString, bytes as ISO-8859-1
 * code points). Everything is built into caller-owned ce_bufs. */
#ifndef CE_SNAPSHOT_SNAPSQL_H
#define CE_SNAPSHOT_SNAPSQL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* How a key value is written back into the next chunk's predicate. */
typedef enum {
    SNAP_KEY_NONE = 0, /* not usable as a key column */
    SNAP_KEY_NUM,      /* integers, decimal, float, double, year; bit/enum/set by their number */
    SNAP_KEY_STR,      /* char, varchar, text: _charset X'hex' COLLATE collation */
    SNAP_KEY_BIN,      /* binary, varbinary, blobs: X'hex' */
    SNAP_KEY_TIME      /* date, datetime, timestamp, time: 'text' */
} snap_key_kind;

/* How a selected value becomes Canal's text. */
typedef enum {
    SNAP_VAL_RAW = 0, /* as selected */
    SNAP_VAL_FLOAT,   /* selected as DOUBLE, printed as Java's Float.toString */
    SNAP_VAL_DOUBLE,  /* printed as Java's Double.toString */
    SNAP_VAL_BYTES,   /* one code point per byte, UTF-8 (Canal's ISO-8859-1 string) */
    SNAP_VAL_BINARY_N /* BINARY(n): as BYTES, trailing 0x00 dropped like the binlog */
} snap_val_kind;

typedef struct snap_col {
    char *name;
    char *data_type;   /* information_schema DATA_TYPE, lower case */
    char *column_type; /* COLUMN_TYPE: the mysqlType Canal sends */
    char *charset;     /* CHARACTER_SET_NAME, NULL for non-strings */
    char *collation;
    bool is_pk;        /* COLUMN_KEY = PRI: Canal's isKey */
    snap_key_kind key_kind;
    snap_val_kind val_kind;
} snap_col;

typedef struct snap_table {
    char *db;
    char *table;
    snap_col *cols;
    size_t n;
    size_t *key;      /* indexes into cols, in key order */
    size_t n_key;
    char *key_name;   /* "PRIMARY" or the unique index's name */
} snap_table;

/* Fills key_kind and val_kind of c from data_type. */
void snap_col_classify(snap_col *c);
/* `name` with backticks doubled. */
int snap_quote_ident(ce_buf *b, const char *name);
/* The literal of a key value (raw bytes as selected by the key expression);
 * -1 when the value does not fit the column's kind (err says why). */
int snap_key_literal(ce_buf *b, const snap_col *c, const char *v, size_t len, char *err, size_t errlen);
/* SELECT <value exprs>, <key exprs> FROM `db`.`t` FORCE INDEX (`key`)
 * [WHERE k1 > ? OR (k1 = ? AND k2 > ?) ...] ORDER BY k1, k2 LIMIT limit.
 * last: n_key literals (already built by snap_key_literal), NULL for the
 * first chunk. Result columns: t->n values, then t->n_key keys. */
int snap_build_select(ce_buf *b, const snap_table *t, const char *const *last, long limit);
/* Java's Double.toString(d) (is_float: Float.toString((float)d)); -1 when
 * out is too small (32 bytes always suffice). */
int snap_java_double(double d, bool is_float, char *out, size_t outlen);
/* Canal's text of a selected value of kind k, appended to b (not
 * terminated). -1 when it does not parse (FLOAT/DOUBLE) or b is full. */
int snap_canal_text(ce_buf *b, snap_val_kind k, const char *v, size_t len);

#endif
