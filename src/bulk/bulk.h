/* bulk: document actions → an NDJSON `_bulk` body.
 * index: {"index":{"_index":…,"_id":…}}\n{full document}\n
 * delete: {"delete":{"_index":…,"_id":…}}\n
 * The lines are written straight into the body (compact JSON, strings
 * repaired and escaped by value_write_string, byte for byte what yajl_gen
 * would print): one pass per string instead of a validation pass, a repair
 * pass and yajl's escaping pass, no per-token calls. For a document, the
 * field names (JSON-escaped, quoted, with their ':'), the add_field members
 * and each column's conversion are worked out once per (rule, column layout)
 * and reused while rows keep that layout (a few layouts are kept).
 * The body buffer has a hard cap; callers flush by size before it is reached. */
#ifndef CE_BULK_BULK_H
#define CE_BULK_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map/map.h"
#include "map/value.h"
#include "util/buf.h"

/* Where one action came from and where its lines are, kept for per-item
 * retries and dead letters (the row events are gone by flush time). */
typedef struct bulk_meta {
    size_t start;        /* offset of the action line in body */
    size_t doc;          /* offset of the document line (== end when none) */
    size_t where;        /* offset in bulk.strings of "db.table\0logfile\0" */
    int64_t offset;      /* binlog offset of the row's event */
    int64_t exec_time;   /* ms since epoch */
    uint32_t id_hash;    /* FNV-1a of the _id: actions on one document share it (concurrency partitions) */
} bulk_meta;

struct bulk_plan;

typedef struct bulk {
    ce_buf body;
    size_t n_actions;
    value_ctx values;
    bulk_meta *meta;     /* n_actions entries */
    size_t meta_cap;
    ce_buf strings;      /* "db.table\0logfile\0" pairs, shared by consecutive actions */
    size_t last_where;
    uint64_t last_where_layout; /* row_event.layout of the events last_where was checked for (0: none) */
    struct bulk_plan *plans; /* BULK_PLANS document plans (bulk.c) */
    unsigned plan_next;      /* the plan to replace next */
} bulk;

int bulk_init(bulk *b, size_t max_bytes);
void bulk_free(bulk *b);
void bulk_reset(bulk *b);
/* Appends one action; on failure the body is left as it was. An action with
 * a version carries "version" and "version_type":"external". */
int bulk_append(bulk *b, const map_action *a, char *err, size_t errlen);
/* The bytes of action i (its action line and document line, if any). */
void bulk_action_bytes(const bulk *b, size_t i, const uint8_t **p, size_t *n);
/* The delivery list of b's actions (deliver.h): *acts and *res grown to
 * b->n_actions (*cap tracks their size), acts filled with each action's
 * bytes and id hash. -1 when out of memory (the arrays stay as they were). */
struct dlv_action;
struct dlv_result;
int bulk_dlv_actions(const bulk *b, struct dlv_action **acts, struct dlv_result **res, size_t *cap);
/* "db.table" and binlog file of action i. */
const char *bulk_table(const bulk *b, size_t i);
const char *bulk_logfile(const bulk *b, size_t i);
/* The document field name of column `name` under rule r (rename), or NULL
 * when the column is left out (include/exclude, or an add_field or the soft
 * delete field of the same name wins). r NULL: name itself. */
const char *bulk_field_name(const cfg_table *r, const char *name);

#endif
