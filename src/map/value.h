/* map/value: one column value → one JSON value on a yajl generator.
 * Walking-skeleton rules: NULL → null; integer types (by mysqlType) → JSON
 * number with Canal's exact digits; DECIMAL → string padded to its declared
 * scale; everything else → string. Strings are
 * always valid UTF-8: invalid sequences become U+FFFD and are counted. */
#ifndef CE_MAP_VALUE_H
#define CE_MAP_VALUE_H

#include <stddef.h>
#include <yajl/yajl_gen.h>

#include "decode/decode.h"
#include "util/buf.h"

typedef struct value_ctx {
    ce_buf scratch;        /* for UTF-8 repair */
    size_t utf8_repairs;   /* invalid sequences replaced so far */
} value_ctx;

void value_ctx_init(value_ctx *v);
void value_ctx_free(value_ctx *v);
/* True when mysql_type names an integer type (tinyint … bigint, signed or not). */
int value_is_integer_type(const char *mysql_type);
/* True when s is an optional '-' and 1..20 digits without a leading zero. */
int value_is_integer_text(const char *s, size_t n);
/* The scale of a decimal(p,s)/numeric type (0 for decimal(p)); -1 otherwise. */
int value_decimal_scale(const char *mysql_type);
/* Emits a UTF-8-safe JSON string. yajl status. */
yajl_gen_status value_emit_string(value_ctx *v, yajl_gen g, const char *s, size_t n);
/* Emits the column's value. yajl status. */
yajl_gen_status value_emit(value_ctx *v, yajl_gen g, const row_col *c);

#endif
