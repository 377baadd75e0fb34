/* map: row event + table rule → document actions (pure, no I/O).
 * INSERT → index(after); DELETE → delete(before); UPDATE → index(after),
 * preceded by delete(old id) when the update changed the id. The `_id` is
 * built from the rule's id columns, else the columns Canal marks isKey,
 * joined with "_". Action ids point into the map_out's buffer. */
#ifndef CE_MAP_MAP_H
#define CE_MAP_MAP_H

#include <stddef.h>

#include "config.h"
#include "decode/decode.h"
#include "map/value.h"
#include "util/buf.h"

#define MAP_ID_MAX 512 /* Elasticsearch's limit for _id, in bytes */

typedef enum { MAP_INDEX = 1, MAP_DELETE = 2 } map_op;

typedef struct map_action {
    map_op op;
    const char *index;
    const char *id;
    size_t id_len;
    const row_image *doc; /* the image to send with MAP_INDEX */
    const row_event *ev;
    const value_opts *values; /* the rule's conversions (owned by the config) */
} map_action;

typedef struct map_out {
    map_action act[2];
    size_t n;
    ce_buf ids;
} map_out;

enum { MAP_OK = 0, MAP_ERR = -1, MAP_NO_ID = 1 };

void map_out_init(map_out *o);
void map_out_free(map_out *o);
/* MAP_OK with out->act[0..n); MAP_NO_ID when the rule lists no id columns and
 * Canal marks no key (the caller skips the table with a warning); MAP_ERR with
 * err naming the table, column and binlog position. */
int map_row(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen);

#endif
