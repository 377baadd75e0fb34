/* tables: which MySQL tables a [table] rule loads, and their estimated
 * row counts, from the [mysql] server's information_schema.
 * A plain rule [table DB.TABLE] loads that table; a regex rule
 * [table /REGEX/] loads every base table (outside mysql,
 * information_schema, performance_schema and sys) whose first matching
 * rule in file order (cfg_find_table) is this rule: the rule the stream
 * uses for its rows. A snap_names is owned by its caller, filled by
 * snap_rule_tables and freed with snap_names_free. */
#ifndef CE_SNAPSHOT_TABLES_H
#define CE_SNAPSHOT_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "source/mysql.h"

/* Longest schema or table name accepted from the server, in bytes (MySQL
 * allows 64 characters, at most 4 bytes each in utf8mb4). */
#define SNAP_NAME_MAX 256
/* Most tables one rule may load (a larger match is refused). */
#define SNAP_TABLES_MAX 100000

typedef struct snap_name {
    char *db;
    char *table;
} snap_name;

/* Sorted by db, then table (byte order, strcmp). */
typedef struct snap_names {
    snap_name *v;
    size_t n;
} snap_names;

/* Fills *out (which need not be initialised; freed on failure) with the
 * tables of rule, a rule of conf. 0 on success: n = 0 when a regex rule
 * matches no table. -1 with err naming the rule (and the server) when a
 * plain rule's table does not exist, is not a base table or is claimed by
 * an earlier rule; on a query error; on a name longer than SNAP_NAME_MAX;
 * on more than SNAP_TABLES_MAX tables; when out of memory. */
int snap_rule_tables(my_conn *c, const cfg *conf, const cfg_table *rule, snap_names *out, char *err, size_t errlen);
void snap_names_free(snap_names *l);

/* information_schema.TABLES.TABLE_ROWS of db.table (an estimate for
 * InnoDB); -1 when unknown (no such table, NULL, or a query error). */
int64_t snap_estimate_rows(my_conn *c, const char *db, const char *table);

#endif
