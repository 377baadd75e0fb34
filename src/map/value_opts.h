/* map/value_opts: the conversion options of [defaults] and [table]
 * sections (decimal, blob, timezone, per-column convert) and their parsers.
 * A leaf: the configuration holds these types without including any stage
 * (map/value.h uses them to convert values). Pure functions; on error they
 * return -1 and leave their outputs untouched. */
#ifndef CE_MAP_VALUE_OPTS_H
#define CE_MAP_VALUE_OPTS_H

#include <stddef.h>

typedef enum { VALUE_DECIMAL_STRING = 0, VALUE_DECIMAL_NUMBER } value_decimal_mode;
typedef enum { VALUE_BLOB_AUTO = 0, VALUE_BLOB_BASE64, VALUE_BLOB_TEXT } value_blob_mode;
typedef enum {
    VALUE_CONV_NONE = 0, /* by mysqlType */
    VALUE_CONV_STRING,
    VALUE_CONV_NUMBER,
    VALUE_CONV_BOOL,
    VALUE_CONV_JSON,
    VALUE_CONV_BASE64,
    VALUE_CONV_TEXT,
    VALUE_CONV_SPLIT,
    VALUE_CONV_DROP,
} value_conv_kind;

typedef struct value_conv {
    char *column;
    value_conv_kind kind;
    char *sep; /* VALUE_CONV_SPLIT only */
} value_conv;

typedef struct value_opts {
    value_decimal_mode decimal;
    value_blob_mode blob;
    int tz_set;           /* 0: DATETIME/TIMESTAMP without offset */
    int tz_offset_min;    /* when tz_set: minutes east of UTC; 0 prints "Z" */
    value_conv *convs;    /* per-column overrides (owned by the config) */
    size_t n_convs;
} value_opts;

#define VALUE_CONV_SEP_MAX 32    /* bytes of a split(SEP) separator */
#define VALUE_CONV_NAME_MAX 256  /* bytes of a column name in `convert` */

/* ---- option parsers (pure; used by the config loader) ---- */

/* "COLUMN:KIND, COLUMN:KIND" with KIND one of string, number, bool, json,
 * base64, text, split(SEP), drop (case-insensitive). SEP is the text up to
 * the ')' that ends the entry (followed by ',' or the end), so "tags:split(,)"
 * splits on ','. 0 with *out and *n set (NULL/0 for a blank spec); -1 with err
 * filled and *out and *n untouched. */
int value_parse_convert(const char *spec, value_conv **out, size_t *n, char *err, size_t errlen);
void value_convs_free(value_conv *c, size_t n);
/* "" (unset), "UTC" or "Z" (offset 0), "+HH:MM", "+HHMM" or "+HH" (also '-'),
 * within ±14:00. 0 and outputs set, or -1 and outputs untouched. */
int value_parse_timezone(const char *s, int *tz_set, int *offset_min);
/* "string" | "number" (case-insensitive). 0 or -1. */
int value_parse_decimal(const char *s, value_decimal_mode *out);
/* "auto" | "base64" | "text" (case-insensitive). 0 or -1. */
int value_parse_blob(const char *s, value_blob_mode *out);

#endif
