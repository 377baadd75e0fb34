/* bulk: document actions → an NDJSON `_bulk` body, generated with yajl.
 * index: {"index":{"_index":…,"_id":…}}\n{full document}\n
 * delete: {"delete":{"_index":…,"_id":…}}\n
 * The body buffer has a hard cap; callers flush by size before it is reached. */
#ifndef CE_BULK_BULK_H
#define CE_BULK_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>

#include "map/map.h"
#include "map/value.h"
#include "util/buf.h"

typedef struct bulk {
    yajl_gen g;
    ce_buf body;
    bool overflow;
    size_t n_actions;
    value_ctx values;
} bulk;

int bulk_init(bulk *b, size_t max_bytes);
void bulk_free(bulk *b);
void bulk_reset(bulk *b);
/* Appends one action; on failure the body is left as it was. */
int bulk_append(bulk *b, const map_action *a, char *err, size_t errlen);

#endif
