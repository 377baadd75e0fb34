/* wire_diff: the differential check of the wire reader against protobuf-c,
 * shared by tests/fuzz/fuzz_wire.c and tests/unit/test_wire.c.
 *
 * wire_diff_entry decodes one Entry with decode_next (decode/wire) into w
 * and with decode_next_pbc (protobuf-c) into r and compares everything the
 * callers can see: the result, the kind, every row (header fields, every
 * column: name, value bytes and length, NUL at value_len, flags, types),
 * the DDL fields, the bad-data report, the stats counters and the stream
 * position (pos_file, pos_offset, server_id, server_enc).
 * wire_diff_messages does the same for a Messages body: canal_batch_parse
 * against protobuf-c's unpack (both refuse it, or the same batch id and
 * the same entry bytes), then every entry through wire_diff_entry.
 * Each returns 0 when both agree, else 1 with `why` saying where. */
#ifndef CE_TESTS_WIRE_DIFF_H
#define CE_TESTS_WIRE_DIFF_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "canal_protocol.pb-c.h"
#include "decode/decode.h"
#include "source/canal.h"

#define WD_STR(a, b, what)                                                                                             \
    do {                                                                                                               \
        if (strcmp((a), (b)) != 0) {                                                                                   \
            snprintf(why, whylen, "%.40s: '%.160s' vs '%.160s'", (what), (a), (b));                                     \
            return 1;                                                                                                  \
        }                                                                                                              \
    } while (0)

#define WD_INT(a, b, what)                                                                                             \
    do {                                                                                                               \
        if ((long long)(a) != (long long)(b)) {                                                                        \
            snprintf(why, whylen, "%s: %lld vs %lld", (what), (long long)(a), (long long)(b));                         \
            return 1;                                                                                                  \
        }                                                                                                              \
    } while (0)

static inline int wd_image(const row_image *a, const row_image *b, const char *what, char *why, size_t whylen)
{
    WD_INT(a->n, b->n, what);
    for (size_t i = 0; i < a->n; i++) {
        const row_col *x = &a->cols[i], *y = &b->cols[i];
        WD_STR(x->name, y->name, "column name");
        WD_INT(x->value_len, y->value_len, "value_len");
        if (x->value_len && memcmp(x->value, y->value, x->value_len) != 0) {
            snprintf(why, whylen, "%s column %zu: value bytes differ", what, i);
            return 1;
        }
        if (x->value[x->value_len] != '\0' || y->value[y->value_len] != '\0') {
            snprintf(why, whylen, "%s column %zu: value not NUL-terminated", what, i);
            return 1;
        }
        WD_STR(x->mysql_type, y->mysql_type, "mysql_type");
        WD_INT(x->sql_type, y->sql_type, "sql_type");
        WD_INT(x->is_null, y->is_null, "is_null");
        WD_INT(x->is_key, y->is_key, "is_key");
        WD_INT(x->updated, y->updated, "updated");
    }
    return 0;
}

static inline int wd_ctx(const decode_ctx *w, const decode_ctx *r, char *why, size_t whylen)
{
    WD_INT(w->stats.entries, r->stats.entries, "stats.entries");
    WD_INT(w->stats.txn_begin, r->stats.txn_begin, "stats.txn_begin");
    WD_INT(w->stats.txn_end, r->stats.txn_end, "stats.txn_end");
    WD_INT(w->stats.gtid, r->stats.gtid, "stats.gtid");
    WD_INT(w->stats.heartbeat, r->stats.heartbeat, "stats.heartbeat");
    WD_INT(w->stats.rows, r->stats.rows, "stats.rows");
    WD_INT(w->stats.ddl, r->stats.ddl, "stats.ddl");
    WD_INT(w->stats.other, r->stats.other, "stats.other");
    WD_INT(w->stats.bad, r->stats.bad, "stats.bad");
    WD_STR(w->pos_file, r->pos_file, "pos_file");
    WD_INT(w->pos_offset, r->pos_offset, "pos_offset");
    WD_INT(w->server_id, r->server_id, "server_id");
    WD_STR(w->server_enc, r->server_enc, "server_enc");
    return 0;
}

static inline int wire_diff_entry(decode_ctx *w, decode_ctx *r, const uint8_t *p, size_t n, char *why, size_t whylen)
{
    decode_out a, b;
    char ea[512] = "", eb[512] = "";
    int ra = decode_next(w, p, n, &a, ea, sizeof ea);
    int rb = decode_next_pbc(r, p, n, &b, eb, sizeof eb);
    WD_INT(ra, rb, "result");
    if (ra != 0)
        return 0; /* out of memory in both */
    WD_INT(a.kind, b.kind, "kind");
    WD_INT(a.n, b.n, "rows");
    WD_INT(a.n_bad, b.n_bad, "n_bad");
    if (a.n_bad > 0) {
        WD_INT(a.bad.entry == p, b.bad.entry == p, "bad.entry");
        WD_INT(a.bad.len, b.bad.len, "bad.len");
        WD_STR(a.bad.schema, b.bad.schema, "bad.schema");
        WD_STR(a.bad.table, b.bad.table, "bad.table");
        WD_STR(a.bad.logfile, b.bad.logfile, "bad.logfile");
        WD_INT(a.bad.offset, b.bad.offset, "bad.offset");
        WD_INT(a.bad.execute_time, b.bad.execute_time, "bad.execute_time");
        WD_STR(a.bad.reason, b.bad.reason, "bad.reason");
    }
    if (a.kind == DECODE_DDL) {
        WD_INT(a.ddl.kind, b.ddl.kind, "ddl.kind");
        WD_STR(a.ddl.schema, b.ddl.schema, "ddl.schema");
        WD_STR(a.ddl.table, b.ddl.table, "ddl.table");
        WD_STR(a.ddl.sql, b.ddl.sql, "ddl.sql");
        WD_STR(a.ddl.logfile, b.ddl.logfile, "ddl.logfile");
        WD_INT(a.ddl.offset, b.ddl.offset, "ddl.offset");
    }
    for (size_t i = 0; a.kind == DECODE_ROWS && i < a.n; i++) {
        const row_event *x = &a.rows[i], *y = &b.rows[i];
        WD_STR(x->schema, y->schema, "row schema");
        WD_STR(x->table, y->table, "row table");
        WD_INT(x->op, y->op, "row op");
        WD_STR(x->logfile, y->logfile, "row logfile");
        WD_INT(x->offset, y->offset, "row offset");
        WD_INT(x->execute_time, y->execute_time, "row execute_time");
        WD_INT(x->row_index, y->row_index, "row_index");
        WD_STR(x->gtid, y->gtid, "row gtid");
        WD_INT(x->snapshot, y->snapshot, "row snapshot");
        if (wd_image(&x->before, &y->before, "before", why, whylen) ||
            wd_image(&x->after, &y->after, "after", why, whylen))
            return 1;
    }
    return wd_ctx(w, r, why, whylen);
}

static inline int wire_diff_messages(decode_ctx *w, decode_ctx *r, const uint8_t *p, size_t n, char *why,
                                     size_t whylen)
{
    char err[256];
    canal_batch *cb = canal_batch_parse(p, n, NULL, err, sizeof err);
    Canalpb__Messages *m = canalpb__messages__unpack(NULL, n, p);
    int rc = 1;
    if ((cb == NULL) != (m == NULL)) {
        snprintf(why, whylen, "Messages: wire %s, protobuf-c %s", cb ? "accepts" : "refuses",
                 m ? "accepts" : "refuses");
        goto out;
    }
    rc = 0;
    if (cb == NULL)
        goto out;
    rc = 1;
    if (cb->id != m->batch_id || cb->n != m->n_messages || cb->bytes != n) {
        snprintf(why, whylen, "Messages: batch %lld/%zu entries vs %lld/%zu", (long long)cb->id, cb->n,
                 (long long)m->batch_id, m->n_messages);
        goto out;
    }
    for (size_t i = 0; i < cb->n; i++) {
        const canal_entry *e = &cb->entries[i];
        if (e->len != m->messages[i].len || (e->len && memcmp(e->p, m->messages[i].data, e->len) != 0)) {
            snprintf(why, whylen, "Messages: entry %zu bytes differ", i);
            goto out;
        }
        if (wire_diff_entry(w, r, e->p, e->len, why, whylen) != 0)
            goto out;
    }
    rc = 0;
out:
    canal_batch_free(cb);
    if (m)
        canalpb__messages__free_unpacked(m, NULL);
    return rc;
}

#undef WD_STR
#undef WD_INT

#endif
