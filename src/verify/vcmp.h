/* vcmp: the pure parts of `canal-es verify` (no I/O): the canonical JSON
 * comparison of an expected document with the indexed one, and the report
 * (per table: rows, documents, missing, different; per index: extra) with
 * its text and JSON renderings.
 * Canonical: objects compare as sets of keys (order does not matter), arrays
 * element by element in order, strings byte for byte after JSON unescaping,
 * numbers by their exact decimal value ("1.50" = "1.5" = "15e-1", "1" !=
 * "1.0000000000000000001"), true/false/null by kind; a number never equals a
 * string. The first differing field is named by its path (a.b[2].c).
 * A vc_report owns every string in it; vc_report_free releases them. */
#ifndef CE_VERIFY_VCMP_H
#define CE_VERIFY_VCMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "util/buf.h"

#define VC_FIELD_MAX 256 /* bytes of a field path in a report */
#define VC_VALUE_MAX 160 /* bytes of a rendered value in a report */

/* The first difference: the field path ("" = the whole document) and both
 * values rendered as short JSON ("(absent)" when the field is missing on
 * that side). Truncated renderings end in "...". */
typedef struct vc_diff {
    char field[VC_FIELD_MAX];
    char expected[VC_VALUE_MAX];
    char indexed[VC_VALUE_MAX];
} vc_diff;

/* 1 when the two JSON number texts have the same exact value; 0 otherwise
 * (also when either is not a JSON number). */
int vc_number_equal(const char *a, const char *b);
/* 0 equal, 1 different (d filled when not NULL). */
int vc_value_compare(yajl_val expected, yajl_val indexed, vc_diff *d);
/* expected, indexed: JSON texts of len bytes (need not be NUL-terminated).
 * 0 equal, 1 different (d), -1 when one does not parse (err says which). */
int vc_json_compare(const char *expected, size_t elen, const char *indexed, size_t ilen, vc_diff *d, char *err,
                    size_t errlen);
/* v rendered as compact JSON into out (truncated with "..." when longer). */
void vc_render(yajl_val v, char *out, size_t outlen);

/* The first max_report items of one kind, and how many there were. */
typedef struct vc_item {
    char *id;
    char *field; /* different only; NULL otherwise */
    char *expected;
    char *indexed;
} vc_item;

typedef struct vc_list {
    vc_item *v;
    size_t n;
    uint64_t total;
} vc_list;

typedef struct vc_table_rep {
    char *name;  /* db.table */
    char *index; /* the index (or alias) its rule writes to */
    uint64_t rows, documents;
    uint64_t changing; /* still changing after every re-check: not counted as different */
    uint64_t fixed;    /* --repair: re-verified equal after the repair */
    vc_list missing, different;
} vc_table_rep;

typedef struct vc_index_rep {
    char *index;
    bool extra_checked;
    char *note;        /* why extra documents were not looked for (NULL when they were) */
    uint64_t documents; /* _count of the index (live documents) */
    uint64_t changing;
    uint64_t fixed;
    vc_list extra;
} vc_index_rep;

typedef struct vc_report {
    vc_table_rep *t;
    size_t nt;
    vc_index_rep *x;
    size_t nx;
    size_t max_report; /* ids listed per kind */
    bool repair;
} vc_report;

typedef struct vc_totals {
    uint64_t tables, rows, documents, missing, extra, different, changing, fixed;
} vc_totals;

/* A new table (or index) entry, valid until the next add of its kind;
 * NULL when out of memory. */
vc_table_rep *vc_add_table(vc_report *r, const char *name, const char *index);
vc_index_rep *vc_add_index(vc_report *r, const char *index);
/* The entry of index, NULL when none. */
vc_index_rep *vc_find_index(vc_report *r, const char *index);
/* Counts one item and keeps it when fewer than max are kept. d NULL: no
 * field. -1 when out of memory (the count is kept). */
int vc_list_add(vc_list *l, size_t max, const char *id, size_t id_len, const vc_diff *d);
void vc_report_free(vc_report *r);
void vc_report_totals(const vc_report *r, vc_totals *t);
/* 1 when something differs after the repair (missing + extra + different
 * > fixed), else 0. */
int vc_report_differs(const vc_report *r);
/* The human report, ending with the line
 * "verify: T tables, R rows, D documents, M missing, E extra, X different". */
int vc_format_text(const vc_report *r, ce_buf *out);
/* The same as one JSON object and a newline. */
int vc_format_json(const vc_report *r, ce_buf *out);

#endif
