/* vint: what the files of `canal-es verify` share (src/verify/verify.h is
 * the command; vcmp.h the pure comparison and report). vio.c: requests to
 * the node, the stream's progress, repairs through dlv_send; vrows.c: the
 * row pass and the re-checks; vextra.c: the extra documents; verify.c: the
 * run (its command line: src/cmd/cmd_verify.c). A vf is owned by verify_run. */
#ifndef CE_VERIFY_VINT_H
#define CE_VERIFY_VINT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "bulk/bulk.h"
#include "config.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "source/mysql.h"
#include "util/buf.h"
#include "verify/vcmp.h"

#define VF_MAX_BODY ((size_t)256 << 20)
#define VF_MGET_BATCH 500     /* ids per _mget */
#define VF_REREAD_BATCH 200   /* rows per re-read */
#define VF_CAND_MAX 20000     /* differences of one table re-checked (more: reported as found) */
#define VF_WINDOW 100000      /* index ids per extra-pass window */
#define VF_SCROLL_SIZE 1000
#define VF_ROUNDS 3           /* re-check rounds */
#define VF_QUIET_MS 3000      /* checkpoint unchanged this long: the stream has nothing more in hand */
#define VF_TRIES 6            /* attempts of one request to the node */
#define VF_KEYS_MAX 64
#define VF_EVENTS 8           /* binlog events looked at after the checkpoint's */

enum { VF_OK = 0, VF_FAIL = 3 };
enum { VF_MISSING = 1, VF_DIFFERENT = 2 };

/* Set by SIGINT/SIGTERM: the run stops (exit 3). */
extern volatile sig_atomic_t vf_stop;

/* A difference of the row pass being re-checked. */
typedef struct vf_cand {
    char *id;
    size_t id_len;
    char *routing; /* expected routing (NULL = none) */
    size_t routing_len;
    char *keys;    /* n_key NUL-terminated key literals; NULL: the key cannot be written back */
    int kind;
    vc_diff d;
    char *bad_routing; /* the indexed _routing when only that differs */
    char *fix;         /* --repair: the index action (version P - 1) of the last re-read */
    size_t fix_len;
    int rounds;        /* rounds in which it still differed with an older document */
    bool final;        /* confirmed, resolved or changing */
    bool confirmed, changing;
} vf_cand;

/* One expected document of the chunk (or of a re-read). */
typedef struct vf_exp {
    size_t act;              /* action index in the bulk */
    size_t id_off, id_len;   /* in strs */
    size_t rt_off, rt_len;
    bool has_rt;
    size_t key_off;          /* key literals in strs */
    bool has_key;
} vf_exp;

typedef struct vf_tbl {
    const cfg_table *rule;
    char *db, *table;
    char index[MAP_INDEX_BUF];
    uint64_t found_live; /* documents of its rows found, not soft-deleted */
    int64_t writes0;     /* the index's write counters before the row pass (-1 unknown) */
    vc_table_rep *rep;
} vf_tbl;

typedef struct vf {
    const cfg *c;
    my_conn *my, *lk;
    sink *s;
    size_t req_cap;
    snap_pos method;
    vc_report rep;
    bool repair, json, progress;
    bool index_missing; /* an _mget found no index (the table in hand): --repair would create it unmapped */
    long settle_ms;
    /* the table in hand */
    vf_tbl *tb;
    snap_table st;
    map_out mo;
    bulk b;
    bool bulk_ok;
    ce_buf strs;
    vf_exp *ex;
    size_t nex, excap;
    vf_cand *cand;
    size_t ncand;
    uint64_t rows_done;
    int64_t estimate;
    uint64_t rate_start_ms, rate_rows;
    char err[1024];
} vf;

#define VF_GSTR(g, s, n) yajl_gen_string(g, (const unsigned char *)(s), (n))
#define VF_GKEY(g, k) yajl_gen_string(g, (const unsigned char *)(k), strlen(k))

/* One requested document of an _mget. */
typedef struct vf_get {
    const char *id;
    size_t id_len;
    const char *routing;
    size_t routing_len;
} vf_get;

/* What one _mget entry says: -1 with v->err on an error entry. */
typedef struct vf_doc {
    bool found;
    int64_t version;
    const char *routing;
    yajl_val source;
} vf_doc;

/* Sleeps ms; non-zero when a signal stopped the run. */
int vf_sleep(uint64_t ms);
void vf_gen_print(void *ctx, const char *s, size_t n);
/* One request with retries on transport errors, 429 and 5xx. 0 with
 * *status (and the response) when the node answered; -1 with v->err. */
int vf_req(vf *v, const char *method, const char *path, const void *body, size_t len, long *status,
           const char **resp, size_t *rlen);
/* POST index/_mget for gets[0, n): *root holds the parsed answer, *docs its
 * "docs" array (n entries, in order; NULL when the index does not exist).
 * -1 with v->err. */
int vf_mget(vf *v, const char *index, const vf_get *gets, size_t n, yajl_val *root, yajl_val *docs);
/* Entry i of an _mget answer; -1 with v->err on an error entry. */
int vf_doc_of(vf *v, yajl_val docs, size_t i, vf_doc *d);
/* true when the document is soft-deleted under the rule (FIELD true). */
bool vf_soft_deleted(const cfg_table *rule, const vf_doc *d);
/* An expected document line (and routing) against the indexed one: 0
 * equal, 1 different (d), -1 with v->err. */
int vf_compare(vf *v, const cfg_table *rule, const char *line, size_t len, const char *rt, size_t rt_len,
               const vf_doc *doc, vc_diff *d);
/* Waits until the stream has passed P (1) or the wait ended without proof (0). */
int vf_settle(vf *v, const char *file, int64_t pos);
/* acts[0, n) through the delivery path; -1 with v->err. */
int vf_send(vf *v, dlv_action *acts, size_t n);
/* A delete action (version when > 0; routing) as _bulk bytes appended to out. */
int vf_delete_bytes(const char *index, const char *id, size_t id_len, const char *rt, size_t rt_len, int64_t version,
                    ce_buf *out);
/* index.number_of_shards (0 unknown); the primaries' index_total +
 * delete_total (-1 unknown): any write changes it. */
long vf_shards(vf *v, const char *index);
int64_t vf_index_writes(vf *v, const char *index);

/* The SQL literal of a key column from the Canal text a row carries (the
 * inverse of the snapshot's conversion), appended to b; -1 when that text
 * cannot be written back exactly (FLOAT, BINARY(n), a byte string that is
 * not ISO-8859-1 as UTF-8). Pure. */
int vf_key_literal(ce_buf *b, const snap_col *col, const char *v, size_t len);

/* [reindex] max_rows_per_s after rows more rows were read (over every read
 * of the run); -1 with v->err when a signal stopped the run. */
int vf_pace(vf *v, size_t rows);

/* The row pass of one table, its re-checks and (--repair) its repairs, into tb->rep. */
int vf_table(vf *v, vf_tbl *tb);
/* The extra documents of index xr (tables tbls[0, nt) writing to it). */
int vf_extras(vf *v, vf_tbl *tbls, size_t nt, vc_index_rep *xr);

#endif
