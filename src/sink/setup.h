/* sink/setup: index creation from a rule's `mapping` file. Before the first
 * action for an index, setup_ensure checks that the index (or the rule's
 * alias) exists and otherwise creates it with the file's settings and
 * mappings (or with the mapping sink/automap derived), then points the alias at it (is_write_index). A concurrent
 * creation (resource_already_exists_exception) counts as done. */
#ifndef CE_SINK_SETUP_H
#define CE_SINK_SETUP_H

#include <stddef.h>

#include "config.h"
#include "sink/sink.h"

/* Makes sure `index` (the expanded index template of rule for this row)
 * exists, creating it from `derived` (a JSON body of derived_len bytes,
 * mapping = auto) or else rule->mapping. SINK_OK, SINK_RETRY (transport,
 * 5xx: try again later) or SINK_FATAL (the node refused the mapping, 4xx;
 * err names the file). *created is set to 1 when it created the index. */
sink_rc setup_ensure(sink *s, const cfg_table *rule, const char *index, const char *derived, size_t derived_len,
                     int *created, char *err, size_t errlen);

#endif
