/* map/value: one Canal column value (text + isNull + mysqlType) → one JSON
 * value, written as text into a ce_buf (value_write) or handed to a yajl
 * generator (value_emit, for callers that build a document with yajl). The
 * rules by mysqlType, the per-column convert kinds and the options are listed
 * in docs/type-mapping.md. Every string written is valid UTF-8: invalid
 * sequences become U+FFFD and are counted in value_ctx.utf8_repairs; strings
 * are escaped as yajl_gen_string escapes them, in the same pass.
 * Ownership: value_ctx owns capped scratch buffers reused for every value
 * (no allocation per value, except a yajl parser for JSON values);
 * value_parse_convert returns an array the caller frees with value_convs_free. */
#ifndef CE_MAP_VALUE_H
#define CE_MAP_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "decode/decode.h"
#include "map/value_opts.h"
#include "util/buf.h"

#define VALUE_JSON_MAX_DEPTH 100 /* deeper JSON values are sent as a string */

typedef struct value_ctx {
    ce_buf scratch;          /* intermediate text of one value (canonical numbers, padded decimals) */
    ce_buf bytes;            /* recovered BLOB bytes, unescaped ENUM/SET members */
    ce_buf text;             /* value_emit: the JSON text handed to the generator */
    uint64_t utf8_repairs;   /* invalid UTF-8 sequences replaced so far */
    size_t pad_to;         /* BINARY(n): recovered bytes are zero-padded to n */
} value_ctx;

void value_ctx_init(value_ctx *v);
void value_ctx_free(value_ctx *v);
/* True when mysql_type names an integer type (tinyint … bigint, signed or not). */
int value_is_integer_type(const char *mysql_type);
/* True when s is an optional '-' and 1..20 digits without a leading zero. */
int value_is_integer_text(const char *s, size_t n);
/* True when s[0..n) is a number exactly as the JSON grammar (RFC 8259) has it. */
int value_is_json_number(const char *s, size_t n);
/* The scale of a decimal(p,s)/numeric type (0 for decimal(p)); -1 otherwise. */
int value_decimal_scale(const char *mysql_type);
/* Results of the value_write functions. On failure `out` keeps its length. */
enum { VALUE_OK = 0, VALUE_FULL = -1 /* `out` is full */, VALUE_FAIL = -2 /* scratch full, no memory */ };

/* What a column's conversion depends on besides its value (mysqlType,
 * sqlType, its convert override), worked out once: callers that see the same
 * column layout row after row keep it (bulk caches one per column). */
typedef struct value_prep {
    int type;               /* the value's class by mysqlType / sqlType (private to value.c) */
    int scale;              /* DECIMAL: the declared scale */
    size_t pad_to;          /* BINARY(n): n */
    const value_conv *conv; /* NULL, or the override (not VALUE_CONV_NONE) */
} value_prep;

void value_prepare(value_prep *p, const row_col *c, const value_conv *conv);
/* Appends a UTF-8-safe JSON string. */
int value_write_string(value_ctx *v, ce_buf *out, const char *s, size_t n);
/* Appends the column's JSON value: NULL → null; with conv (not NONE) by the
 * convert kind, else by mysqlType (by sqlType when Canal sent no mysqlType).
 * o NULL = the defaults. VALUE_CONV_DROP writes null: callers omit the column. */
int value_write(value_ctx *v, ce_buf *out, const row_col *c, const value_opts *o, const value_conv *conv);
/* value_write with p from value_prepare(p, c', conv) for a column c' of the
 * same mysqlType and sqlType. */
int value_write_prepared(value_ctx *v, ce_buf *out, const row_col *c, const value_opts *o, const value_prep *p);
/* value_write onto a generator (as one value, where a value may go). */
yajl_gen_status value_emit(value_ctx *v, yajl_gen g, const row_col *c, const value_opts *o,
                           const value_conv *conv);
/* The override for `column` (ASCII case-insensitive, as MySQL names), or NULL. */
const value_conv *value_find_conv(const value_opts *o, const char *column);

#endif
