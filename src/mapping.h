/* mapping: `canal-es mapping --table DB.TABLE -c FILE` prints a suggested
 * index mapping for a table, derived from the column types Canal reports for
 * it (docs/type-mapping.md) and the table's rule (convert, decimal, blob,
 * include/exclude/rename, add_field, soft delete, routing, flatten): the
 * same body `mapping = auto` creates a missing index with (run.c through
 * sink/automap). The command, which reads the batches waiting in Canal for
 * the column types, is src/cmd/cmd_mapping.c. */
#ifndef CE_MAPPING_H
#define CE_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "decode/decode.h"
#include "util/buf.h"

#define MAPPING_DATE_FORMAT "strict_date_optional_time" /* yyyy-MM-dd['T'HH:mm:ss[.f{1,9}]][offset] */
#define MAPPING_META_KEY "canal_es_mapping"             /* _meta marker of an index created by mapping = auto */

/* What the node offers beyond the core field types (sink/automap detects it). */
typedef struct mapping_caps {
    bool unsigned_long; /* the unsigned_long field type */
    const char *flat;   /* "flat_object", "flattened" or NULL (then object with enabled: false) */
    bool no_scaled_float; /* the node lacks scaled_float (no mapper-extras module): DECIMAL(p,s) as double */
} mapping_caps;

/* The node field mapping of one column. */
typedef struct mapping_ftype {
    const char *type;  /* "long", "scaled_float", ...; NULL: the column is not in the document */
    int scale;         /* scaled_float: scaling_factor 10^scale; -1 otherwise */
    bool keyword_sub;  /* text with a "keyword" subfield (ignore_above 256) */
    bool ignore_above; /* keyword with ignore_above 256 */
    bool disabled;     /* object with enabled: false */
    bool date_format;  /* date with format MAPPING_DATE_FORMAT */
} mapping_ftype;

/* One document field of a row image under its rule. `column` is NULL for
 * add_field and the soft-delete field. Pointers into the rule and image. */
typedef struct mapping_col {
    const char *field;
    const char *column;
    const char *mysql_type;
    mapping_ftype t;
} mapping_col;

/* The mapping of one column of `mysql_type` under the rule's options
 * (convert, decimal, blob, flatten) on a node with caps (NULL: none).
 * Pure; docs/type-mapping.md has the table. */
mapping_ftype mapping_field_type(const cfg_table *rule, const char *column, const char *mysql_type,
                                 const mapping_caps *caps);
/* The fields of a document of img under rule, in document order, into
 * out[0..cap). Returns how many there are (may exceed cap: call again). */
size_t mapping_columns(const cfg_table *rule, const row_image *img, const mapping_caps *caps, mapping_col *out,
                       size_t cap);
/* "scaled_float (scaling_factor 10^2)" for messages. */
void mapping_type_text(const mapping_ftype *t, char *out, size_t outlen);
bool mapping_same_type(const mapping_ftype *a, const mapping_ftype *b);

enum {
    MAPPING_PRETTY = 1,          /* indented, ends with a newline */
    MAPPING_PROPERTIES_ONLY = 2, /* {"properties":{...}} (PUT /index/_mapping) */
};
/* {"mappings":{"_meta":{...},["_routing":{"required":true},]"properties":{...}}}
 * of cols under rule into out. -1 when out is full (out unchanged). */
int mapping_write(const cfg_table *rule, const mapping_col *cols, size_t n, int flags, ce_buf *out);
/* mapping_columns + mapping_write: the body `mapping = auto` creates an
 * index with, and what `canal-es mapping` prints (MAPPING_PRETTY). */
int mapping_suggest(const cfg_table *rule, const row_image *img, const mapping_caps *caps, int flags, ce_buf *out);
/* NULL when an existing field of node `type` (date `format` or NULL,
 * scaled_float `scaling_factor` or 0) holds every value canal-es sends for
 * a column of mysql_type under the rule; else the problem and its fix in
 * out (returned). For check-config. */
const char *mapping_field_problem(const cfg_table *rule, const char *column, const char *mysql_type, const char *type,
                                  const char *format, double scaling_factor, char *out, size_t outlen);

#endif
