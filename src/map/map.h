/* map: row event + table rule → document actions (pure, no I/O).
 * INSERT → index(after); DELETE → delete(before); UPDATE → index(after),
 * preceded by delete(old id) when the update changed the id. With
 * delete = soft:FIELD a delete is an index of the before-image marked
 * FIELD: true. The `_id` is id_prefix + the key: the rule's id columns (else
 * the columns Canal marks isKey) joined with id_separator. When the key is
 * empty, begins with MAP_ID_HASHED, or would make the _id longer than
 * MAP_ID_MAX bytes, the _id is id_prefix + MAP_ID_HASHED + the lowercase hex
 * SHA-256 of the key instead (docs/type-mapping.md): the row is still
 * indexed, its delete finds it, and no key maps to another key's id. The index comes from
 * the rule's template; routing from its routing column. Action ids point
 * into the map_out's buffer. */
#ifndef CE_MAP_MAP_H
#define CE_MAP_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode/decode.h"
#include "map/value.h"
#include "util/buf.h"

#define MAP_ID_MAX 512 /* Elasticsearch's limit for _id, in bytes */
#define MAP_ID_HASHED "~sha256:" /* marks a hashed _id (72 bytes with the hex digest) */
/* Room for a refused index name: what does not fit is still longer than
 * CFG_INDEX_MAX, so a dead letter never names a valid but different index. */
#define MAP_INDEX_BUF (4 * CFG_INDEX_MAX + 4)

typedef enum { MAP_INDEX = 1, MAP_DELETE = 2 } map_op;

typedef struct map_action {
    map_op op;
    const char *index;
    const char *id;
    size_t id_len;
    const row_image *doc; /* the image to send with MAP_INDEX */
    const row_event *ev;
    const value_opts *values; /* the rule's conversions (owned by the config) */
    int64_t version;          /* external version; 0 = versioning off */
    const cfg_table *rule;    /* include/exclude/rename/add_field/pipeline; NULL = plain */
    const char *routing;      /* routing value (not NUL-terminated); NULL = none */
    size_t routing_len;
    int soft;                 /* delete = soft: the MAP_INDEX of a deleted row: soft_field true */
} map_action;

typedef struct map_out {
    map_action act[2];
    size_t n;
    char index[MAP_INDEX_BUF];     /* the rule's index for this row (or the refused name: MAP_BAD_INDEX) */
    ce_buf ids;
    ce_buf key;              /* scratch: the joined key of one image */
    /* The last index check, reused while rows keep its template, db and
     * table (all it depends on): "alias\0index\0db\0table\0" and the result. */
    ce_buf index_key;
    int index_bad;           /* -1: nothing kept; 0 valid; 1 refused with index_why */
    char index_why[64];
    char index_kept[MAP_INDEX_BUF];
    int versioning;          /* set by the caller: 1 = external versions */
    unsigned version_epoch;  /* 0..MAP_EPOCH_MAX, raised after a binlog numbering restart */
} map_out;

#define MAP_EPOCH_MAX 255

/* The external version of a row: epoch (8 bits) | binlog file sequence (22
 * bits) | event offset + row index (33 bits). It grows along the binlog:
 * the rows of one event stay below the next event's offset because every
 * row takes at least one byte of its event. -1 when the coordinates do not
 * fit (file sequence >= 2^22, offset >= 2^33, no sequence in the name).
 * map_row gives a snapshot row (ev->snapshot) this version minus one. */
int64_t map_version(const char *logfile, int64_t offset, uint32_t row_index, unsigned epoch);

enum { MAP_OK = 0, MAP_ERR = -1, MAP_NO_ID = 1, MAP_BAD_INDEX = 2 };

void map_out_init(map_out *o);
void map_out_free(map_out *o);
/* MAP_OK with out->act[0..n); MAP_NO_ID when the rule lists no id columns and
 * Canal marks no key (the caller skips the table with a warning); MAP_ERR with
 * err naming the table, column and binlog position; MAP_BAD_INDEX when the
 * index template gives this table a name that is not a valid index name:
 * the actions are built (for the dead-letter file) but must not be sent, and
 * err names the table, the template, its config line, the name, why, and
 * the binlog position. */
int map_row(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen);

#endif
