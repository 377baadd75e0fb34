/* sink/automap: `mapping = auto`. Before the first write of a table to an
 * index (or alias), automap_ensure makes sure the index exists: a missing
 * one is created (sink/setup, alias handling included) with the mapping
 * mapping.c derives from the column types of that table's first row event.
 * An index canal-es created so (its mappings' _meta holds
 * MAPPING_META_KEY) gets the fields of a later table of the same index
 * added (PUT _mapping), and so do columns a table gains later (ALTER TABLE:
 * a change with another column count); a field a later table would need
 * with another type is logged once, with both types. Any other existing index is never
 * changed. What the node offers (unsigned_long, flat_object / flattened)
 * is probed once per automap. The automap owns its copies of names. */
#ifndef CE_SINK_AUTOMAP_H
#define CE_SINK_AUTOMAP_H

#include <stddef.h>

#include "config.h"
#include "decode/decode.h"
#include "mapping.h"
#include "sink/sink.h"

typedef struct automap automap;

automap *automap_new(void);
void automap_free(automap *am);
/* What the node offers beyond the core types: GET / (flavour, version),
 * then one _index_template/_simulate per optional type; where the node
 * refuses those (privileges), the version decides. SINK_RETRY when no node
 * answered. */
sink_rc automap_caps(sink *s, mapping_caps *caps, char *err, size_t errlen);
/* Before the first action of ev's table for `index` under rule (mapping =
 * auto). SINK_OK (also when nothing could be done: the node then guesses),
 * SINK_RETRY (try again) or SINK_FATAL (the node refused the derived
 * mapping; err says why). *created is 1 when the index was created. */
sink_rc automap_ensure(automap *am, sink *s, const cfg_table *rule, const char *index, const row_event *ev,
                       int *created, char *err, size_t errlen);

#endif
