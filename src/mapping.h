/* mapping: `canal-es mapping --table DB.TABLE -c FILE` prints a suggested
 * index mapping for a table, derived from the column types Canal reports for
 * it (docs/type-mapping.md) and the table's rule (convert, decimal, blob,
 * include/exclude/rename, add_field, soft delete). It reads batches without
 * acking them and never acks: Canal delivers them again to the service. */
#ifndef CE_MAPPING_H
#define CE_MAPPING_H

#include <stddef.h>

#include "config.h"
#include "decode/decode.h"
#include "util/buf.h"

/* The Elasticsearch field type JSON for one column of `mysql_type` under
 * the rule's options (e.g. {"type":"long"}), or NULL when the column is
 * left out of the document (convert drop). Pure. */
const char *mapping_field_type(const cfg_table *rule, const char *column, const char *mysql_type);
/* {"mappings":{"properties":{...}}} for a row image under the rule,
 * pretty-printed, into out. -1 when out is full. */
int mapping_suggest(const cfg_table *rule, const row_image *img, ce_buf *out);
/* The whole command: argv[1] is "mapping". Returns the exit code. */
int mapping_main(int argc, char **argv);

#endif
