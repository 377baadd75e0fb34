/* decode: Entry/RowChange unpacking with protobuf-c. */
#include "decode/decode.h"
#include "entry_protocol.pb-c.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define DECODE_ARENA_MAX ((size_t)1 << 30)

void decode_init(decode_ctx *d)
{
    memset(d, 0, sizeof *d);
    ce_arena_init(&d->arena, DECODE_ARENA_MAX);
}

void decode_free(decode_ctx *d)
{
    ce_free(d->scratch);
    ce_free(d->evs);
    ce_arena_free(&d->arena);
    memset(d, 0, sizeof *d);
}

static int decode_reserve(decode_ctx *d, size_t n)
{
    if (n <= d->scratch_cap)
        return 0;
    size_t cap = d->scratch_cap ? d->scratch_cap : 64;
    while (cap < n)
        cap *= 2;
    row_col *p = ce_realloc(d->scratch, cap * sizeof *p);
    if (p == NULL)
        return -1;
    d->scratch = p;
    d->scratch_cap = cap;
    return 0;
}

static int decode_reserve_evs(decode_ctx *d, size_t n)
{
    if (n <= d->evs_cap)
        return 0;
    size_t cap = d->evs_cap ? d->evs_cap : 16;
    while (cap < n)
        cap *= 2;
    row_event *p = ce_realloc(d->evs, cap * sizeof *p);
    if (p == NULL)
        return -1;
    d->evs = p;
    d->evs_cap = cap;
    return 0;
}

/* A row without the image its event needs. */
static bool decode_row_bad(const row_event *ev)
{
    return (ev->op == ROW_INSERT && ev->after.n == 0) || (ev->op == ROW_DELETE && ev->before.n == 0) ||
           (ev->op == ROW_UPDATE && ev->after.n == 0);
}

/* Values are protobuf bytes (they may hold NUL): copy each into the arena
 * with a terminating NUL so both (value, value_len) and C-string use work. */
static int decode_columns(decode_ctx *d, row_col *dst, Entrypb__Column **src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Entrypb__Column *c = src[i];
        row_col *o = &dst[i];
        char *v = ce_arena_alloc(&d->arena, c->value.len + 1);
        if (v == NULL)
            return -1;
        if (c->value.len)
            memcpy(v, c->value.data, c->value.len);
        v[c->value.len] = '\0';
        o->name = c->name;
        o->value = v;
        o->value_len = c->value.len;
        o->mysql_type = c->mysql_type;
        o->sql_type = c->sql_type;
        o->is_null = c->is_null_present_case == ENTRYPB__COLUMN__IS_NULL_PRESENT_IS_NULL ? c->is_null : false;
        o->is_key = c->is_key;
        o->updated = c->updated;
    }
    return 0;
}

static Entrypb__EventType decode_event_type(const Entrypb__RowChange *rc, const Entrypb__Header *h)
{
    if (rc->event_type_present_case == ENTRYPB__ROW_CHANGE__EVENT_TYPE_PRESENT_EVENT_TYPE)
        return rc->event_type;
    if (h && h->event_type_present_case == ENTRYPB__HEADER__EVENT_TYPE_PRESENT_EVENT_TYPE)
        return h->event_type;
    return ENTRYPB__EVENT_TYPE__UPDATE; /* the proto2 default */
}

/* Fills out->bad for the whole entry (the reason is in d->bad_reason). */
static void decode_set_bad(decode_ctx *d, decode_out *out, const uint8_t *data, size_t len, const Entrypb__Header *h)
{
    d->stats.bad++;
    out->n_bad++;
    if (out->n_bad > 1)
        return; /* the first bad row's reason describes the entry */
    out->bad = (decode_bad){.entry = data,
                            .len = len,
                            .schema = h ? h->schema_name : "",
                            .table = h ? h->table_name : "",
                            .logfile = h ? h->logfile_name : "",
                            .offset = h ? h->logfile_offset : 0,
                            .execute_time = h ? h->execute_time : 0,
                            .reason = d->bad_reason};
}

static int decode_rowdata(decode_ctx *d, const uint8_t *data, size_t len, const Entrypb__Entry *e, decode_out *out,
                          char *err, size_t errlen)
{
    const Entrypb__Header *h = e->header;
    static const char empty[] = "";
    const char *pos_file = h ? h->logfile_name : empty;
    long long pos_off = h ? (long long)h->logfile_offset : 0;
    Entrypb__RowChange *ch = entrypb__row_change__unpack(&d->arena.pb, e->store_value.len, e->store_value.data);
    if (ch == NULL) {
        snprintf(d->bad_reason, sizeof d->bad_reason, "binlog %s:%lld: malformed RowChange (%zu bytes)", pos_file,
                 pos_off, e->store_value.len);
        out->kind = DECODE_BAD;
        decode_set_bad(d, out, data, len, h);
        return 0;
    }
    bool is_ddl = ch->is_ddl_present_case == ENTRYPB__ROW_CHANGE__IS_DDL_PRESENT_IS_DDL && ch->is_ddl;
    Entrypb__EventType et = decode_event_type(ch, h);
    if (is_ddl) {
        d->stats.ddl++;
        out->kind = DECODE_DDL;
        out->ddl = (ddl_event){
            .kind = et == ENTRYPB__EVENT_TYPE__TRUNCATE ? DDL_TRUNCATE
                    : et == ENTRYPB__EVENT_TYPE__ERASE  ? DDL_DROP
                                                        : DDL_OTHER,
            .schema = h && h->schema_name[0] ? h->schema_name : ch->ddl_schema_name,
            .table = h ? h->table_name : empty,
            .sql = ch->sql,
            .logfile = pos_file,
            .offset = pos_off,
        };
        return 0;
    }
    if (et != ENTRYPB__EVENT_TYPE__INSERT && et != ENTRYPB__EVENT_TYPE__UPDATE && et != ENTRYPB__EVENT_TYPE__DELETE) {
        d->stats.other++; /* QUERY and other statements: nothing to index */
        return 0;
    }
    row_event ev = {
        .schema = h ? h->schema_name : empty,
        .table = h ? h->table_name : empty,
        .op = et == ENTRYPB__EVENT_TYPE__INSERT ? ROW_INSERT : et == ENTRYPB__EVENT_TYPE__DELETE ? ROW_DELETE
                                                                                                 : ROW_UPDATE,
        .logfile = pos_file,
        .offset = pos_off,
        .execute_time = h ? h->execute_time : 0,
        .gtid = h ? h->gtid : empty,
    };
    /* every row (the columns of all rows side by side in scratch), so the caller sees them together */
    size_t total = 0;
    for (size_t r = 0; r < ch->n_row_datas; r++)
        total += ch->row_datas[r]->n_before_columns + ch->row_datas[r]->n_after_columns;
    if (decode_reserve(d, total) != 0 || decode_reserve_evs(d, ch->n_row_datas) != 0) {
        snprintf(err, errlen, "binlog %s:%lld: out of memory", pos_file, pos_off);
        return -1;
    }
    size_t used = 0, n_ok = 0;
    for (size_t r = 0; r < ch->n_row_datas; r++) {
        const Entrypb__RowData *rd = ch->row_datas[r];
        row_col *cols = d->scratch + used;
        if (decode_columns(d, cols, rd->before_columns, rd->n_before_columns) != 0 ||
            decode_columns(d, cols + rd->n_before_columns, rd->after_columns, rd->n_after_columns) != 0) {
            snprintf(err, errlen, "binlog %s:%lld: out of memory", pos_file, pos_off);
            return -1;
        }
        used += rd->n_before_columns + rd->n_after_columns;
        ev.before.cols = cols;
        ev.before.n = rd->n_before_columns;
        ev.after.cols = cols + rd->n_before_columns;
        ev.after.n = rd->n_after_columns;
        ev.row_index = (uint32_t)r;
        if (!decode_row_bad(&ev)) {
            d->evs[n_ok++] = ev;
            d->stats.rows++;
            continue;
        }
        if (out->n_bad == 0)
            snprintf(d->bad_reason, sizeof d->bad_reason, "binlog %s:%lld: %s.%s row %zu has no %s image", pos_file,
                     pos_off, ev.schema, ev.table, r, ev.op == ROW_DELETE ? "before" : "after");
        decode_set_bad(d, out, data, len, h);
    }
    out->kind = DECODE_ROWS;
    out->rows = d->evs;
    out->n = n_ok;
    return 0; /* ch lives in the arena */
}

int decode_next(decode_ctx *d, const uint8_t *data, size_t len, decode_out *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    ce_arena_reset(&d->arena);
    Entrypb__Entry *e = entrypb__entry__unpack(&d->arena.pb, len, data);
    if (e == NULL) {
        snprintf(d->bad_reason, sizeof d->bad_reason, "malformed Entry (%zu bytes)", len);
        out->kind = DECODE_BAD;
        decode_set_bad(d, out, data, len, NULL);
        return 0;
    }
    d->stats.entries++;
    if (e->header != NULL && e->header->logfile_name != NULL && e->header->logfile_name[0] != '\0') {
        snprintf(d->pos_file, sizeof d->pos_file, "%s", e->header->logfile_name);
        d->pos_offset = e->header->logfile_offset;
        if (e->header->server_id != 0)
            d->server_id = e->header->server_id;
        if (e->header->serveren_code != NULL && e->header->serveren_code[0] != '\0')
            snprintf(d->server_enc, sizeof d->server_enc, "%s", e->header->serveren_code);
    }
    Entrypb__EntryType t = e->entry_type_present_case == ENTRYPB__ENTRY__ENTRY_TYPE_PRESENT_ENTRY_TYPE
                               ? e->entry_type
                               : ENTRYPB__ENTRY_TYPE__ROWDATA;
    switch (t) {
    case ENTRYPB__ENTRY_TYPE__TRANSACTIONBEGIN:
        d->stats.txn_begin++;
        break;
    case ENTRYPB__ENTRY_TYPE__TRANSACTIONEND:
        d->stats.txn_end++;
        break;
    case ENTRYPB__ENTRY_TYPE__GTIDLOG:
        d->stats.gtid++;
        break;
    case ENTRYPB__ENTRY_TYPE__HEARTBEAT:
        d->stats.heartbeat++;
        break;
    case ENTRYPB__ENTRY_TYPE__ROWDATA:
        return decode_rowdata(d, data, len, e, out, err, errlen);
    default:
        d->stats.other++;
        break;
    }
    return 0; /* e lives in the arena */
}

void decode_log_ddl(const ddl_event *ev)
{
    if (!ce_log_enabled(CE_LOG_INFO))
        return;
    char stmt[201]; /* first 200 bytes, on one line */
    size_t k = 0;
    for (const char *q = ev->sql ? ev->sql : ""; *q && k < sizeof stmt - 1; q++)
        stmt[k++] = (*q == '\n' || *q == '\r' || *q == '\t') ? ' ' : *q;
    stmt[k] = '\0';
    ce_log(CE_LOG_INFO, "decode", "binlog %s:%lld: DDL on %s.%s: %s", ev->logfile, (long long)ev->offset, ev->schema,
           ev->table, stmt);
}

int decode_entry(decode_ctx *d, const uint8_t *data, size_t len, decode_row_fn fn, void *ud, char *err,
                 size_t errlen)
{
    decode_out o;
    if (decode_next(d, data, len, &o, err, errlen) != 0)
        return -1;
    if (o.n_bad > 0) {
        snprintf(err, errlen, "%s", o.bad.reason);
        if (d->on_bad == NULL)
            return -1;
        int rc = d->on_bad(ud, &o.bad);
        if (rc != 0)
            return rc;
    }
    if (o.kind == DECODE_DDL) {
        decode_log_ddl(&o.ddl);
        return d->on_ddl != NULL ? d->on_ddl(ud, &o.ddl) : 0;
    }
    if (o.kind != DECODE_ROWS || o.n == 0)
        return 0;
    if (d->on_rows != NULL) {
        int rc = d->on_rows(ud, o.rows, o.n);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < o.n; i++) {
        int rc = fn(ud, &o.rows[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
