/* decode: Entry/RowChange decoding. decode_next walks the wire bytes with
 * decode/wire (no protobuf-c on the hot path); decode_next_pbc is the same
 * with protobuf-c's unpack, kept as the reference the tests and fuzz_wire
 * compare it with. */
#include "decode/decode.h"
#include "decode/wire.h"
#include "entry_protocol.pb-c.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define DECODE_ARENA_MAX ((size_t)1 << 30)

/* row_event.layout: one per ROWDATA entry decoded in the process (any
 * decode_ctx, any thread), never 0. */
static _Atomic uint64_t decode_layouts;

static uint64_t decode_layout_next(void) { return atomic_fetch_add_explicit(&decode_layouts, 1, memory_order_relaxed) + 1; }

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
static int decode_columns_pbc(decode_ctx *d, row_col *dst, Entrypb__Column **src, size_t n)
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

/* The header fields a bad entry is reported with. */
typedef struct decode_pos {
    const char *schema;
    const char *table;
    const char *logfile;
    int64_t offset;
    int64_t execute_time;
} decode_pos;

/* Fills out->bad for the whole entry (the reason is in d->bad_reason). */
static void decode_set_bad(decode_ctx *d, decode_out *out, const uint8_t *data, size_t len, const decode_pos *h)
{
    d->stats.bad++;
    out->n_bad++;
    if (out->n_bad > 1)
        return; /* the first bad row's reason describes the entry */
    out->bad = (decode_bad){.entry = data,
                            .len = len,
                            .schema = h ? h->schema : "",
                            .table = h ? h->table : "",
                            .logfile = h ? h->logfile : "",
                            .offset = h ? h->offset : 0,
                            .execute_time = h ? h->execute_time : 0,
                            .reason = d->bad_reason};
}

static void decode_pos_pbc(decode_pos *p, const Entrypb__Header *h)
{
    *p = (decode_pos){.schema = h->schema_name,
                      .table = h->table_name,
                      .logfile = h->logfile_name,
                      .offset = h->logfile_offset,
                      .execute_time = h->execute_time};
}

static int decode_rowdata_pbc(decode_ctx *d, const uint8_t *data, size_t len, const Entrypb__Entry *e, decode_out *out,
                          char *err, size_t errlen)
{
    const Entrypb__Header *h = e->header;
    static const char empty[] = "";
    decode_pos hp;
    if (h)
        decode_pos_pbc(&hp, h);
    const char *pos_file = h ? h->logfile_name : empty;
    long long pos_off = h ? (long long)h->logfile_offset : 0;
    Entrypb__RowChange *ch = entrypb__row_change__unpack(&d->arena.pb, e->store_value.len, e->store_value.data);
    if (ch == NULL) {
        snprintf(d->bad_reason, sizeof d->bad_reason, "binlog %s:%lld: malformed RowChange (%zu bytes)", pos_file,
                 pos_off, e->store_value.len);
        out->kind = DECODE_BAD;
        decode_set_bad(d, out, data, len, h ? &hp : NULL);
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
        .layout = decode_layout_next(),
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
        if (decode_columns_pbc(d, cols, rd->before_columns, rd->n_before_columns) != 0 ||
            decode_columns_pbc(d, cols + rd->n_before_columns, rd->after_columns, rd->n_after_columns) != 0) {
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
        decode_set_bad(d, out, data, len, h ? &hp : NULL);
    }
    out->kind = DECODE_ROWS;
    out->rows = d->evs;
    out->n = n_ok;
    return 0; /* ch lives in the arena */
}


/* Counts an entry by its type (decode_stats); true for ROWDATA, whose rows
 * the caller decodes. Shared by the wire path and the reference path. */
static bool decode_count_entry(decode_ctx *d, int32_t t)
{
    switch (t) {
    case ENTRYPB__ENTRY_TYPE__TRANSACTIONBEGIN: d->stats.txn_begin++; return false;
    case ENTRYPB__ENTRY_TYPE__TRANSACTIONEND: d->stats.txn_end++; return false;
    case ENTRYPB__ENTRY_TYPE__GTIDLOG: d->stats.gtid++; return false;
    case ENTRYPB__ENTRY_TYPE__HEARTBEAT: d->stats.heartbeat++; return false;
    case ENTRYPB__ENTRY_TYPE__ROWDATA: return true;
    default: d->stats.other++; return false;
    }
}
int decode_next_pbc(decode_ctx *d, const uint8_t *data, size_t len, decode_out *out, char *err, size_t errlen)
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
    if (decode_count_entry(d, (int32_t)t))
        return decode_rowdata_pbc(d, data, len, e, out, err, errlen);
    return 0; /* e lives in the arena */
}

/* ---------------- the wire path ---------------- */

/* One entry's walk. The strings: the entry is copied once into the arena
 * and every string handed out is its place in that copy, with a NUL written
 * over the byte after it. That byte is never part of another string: it is
 * the tag of the next field (of its message or of an enclosing one) or the
 * end of the entry (the copy has one byte more). The walk reads the
 * caller's bytes, never the copy, and those stay intact (decode_bad.entry).
 * One memcpy per entry instead of one per string.
 * Columns go to d->scratch, rows (their column counts first) to d->evs. */
typedef struct decode_walk {
    decode_ctx *d;
    const uint8_t *data; /* the entry as received */
    char *copy;          /* its copy: len + 1 bytes */
    size_t used;         /* columns in scratch */
    size_t rows;         /* rows in evs */
} decode_walk;

#define DECODE_WALK_OOM (-2)

/* snprintf(dst, cap, "%s", src) without the formatting (once per entry). */
static void decode_set_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* s is a slice of w->data (decode/wire hands out nothing else). */
static const char *decode_str(decode_walk *w, wire_slice s)
{
    if (s.len == 0)
        return "";
    char *q = w->copy + (s.p - w->data);
    q[s.len] = '\0';
    return q;
}

static int decode_wire_col(void *ud, bool after, const wire_column *c)
{
    decode_walk *w = ud;
    decode_ctx *d = w->d;
    if (w->used == d->scratch_cap && decode_reserve(d, w->used + 1) != 0)
        return DECODE_WALK_OOM;
    row_col *o = &d->scratch[w->used++];
    o->name = decode_str(w, c->name);
    o->value = decode_str(w, c->value);
    o->value_len = c->value.len;
    o->mysql_type = decode_str(w, c->mysql_type);
    o->sql_type = c->sql_type;
    o->is_null = c->is_null;
    o->is_key = c->is_key;
    o->updated = c->updated;
    row_event *ev = &d->evs[w->rows];
    if (after)
        ev->after.n++;
    else
        ev->before.n++;
    return 0;
}

static int decode_wire_row(void *ud, const uint8_t *p, size_t len)
{
    decode_walk *w = ud;
    if (decode_reserve_evs(w->d, w->rows + 1) != 0)
        return DECODE_WALK_OOM;
    row_event *ev = &w->d->evs[w->rows];
    ev->before.n = 0;
    ev->after.n = 0;
    int rc = wire_rowdata_parse(p, len, decode_wire_col, w);
    if (rc != 0)
        return rc;
    w->rows++;
    return 0;
}

static int decode_rowdata_wire(decode_ctx *d, decode_walk *w, const uint8_t *data, size_t len, const wire_entry *e,
                               const decode_pos *hp, const char *gtid, decode_out *out, char *err, size_t errlen)
{
    wire_rowchange ch;
    int rc = wire_rowchange_parse(e->store_value.p, e->store_value.len, &ch, decode_wire_row, w);
    if (rc == DECODE_WALK_OOM) {
        snprintf(err, errlen, "binlog %s:%lld: out of memory", hp->logfile, (long long)hp->offset);
        return -1;
    }
    if (rc != WIRE_OK) {
        snprintf(d->bad_reason, sizeof d->bad_reason, "binlog %s:%lld: malformed RowChange (%zu bytes)", hp->logfile,
                 (long long)hp->offset, e->store_value.len);
        out->kind = DECODE_BAD;
        decode_set_bad(d, out, data, len, e->has_header ? hp : NULL);
        return 0;
    }
    int32_t et = ch.has_event_type                ? ch.event_type
                 : e->header.has_event_type      ? e->header.event_type
                                                 : ENTRYPB__EVENT_TYPE__UPDATE; /* the proto2 default */
    if (ch.is_ddl) {
        d->stats.ddl++;
        out->kind = DECODE_DDL;
        out->ddl = (ddl_event){
            .kind = et == ENTRYPB__EVENT_TYPE__TRUNCATE ? DDL_TRUNCATE
                    : et == ENTRYPB__EVENT_TYPE__ERASE  ? DDL_DROP
                                                        : DDL_OTHER,
            .schema = hp->schema[0] ? hp->schema : decode_str(w, ch.ddl_schema_name),
            .table = hp->table,
            .sql = decode_str(w, ch.sql),
            .logfile = hp->logfile,
            .offset = hp->offset,
        };
        return 0;
    }
    if (et != ENTRYPB__EVENT_TYPE__INSERT && et != ENTRYPB__EVENT_TYPE__UPDATE && et != ENTRYPB__EVENT_TYPE__DELETE) {
        d->stats.other++; /* QUERY and other statements: nothing to index */
        return 0;
    }
    row_op op = et == ENTRYPB__EVENT_TYPE__INSERT ? ROW_INSERT : et == ENTRYPB__EVENT_TYPE__DELETE ? ROW_DELETE
                                                                                                   : ROW_UPDATE;
    /* the rows hold their column counts: give them their columns and header, keep those with their image */
    size_t at = 0, n_ok = 0;
    uint64_t layout = decode_layout_next();
    for (size_t r = 0; r < w->rows; r++) {
        size_t nb = d->evs[r].before.n, na = d->evs[r].after.n;
        row_event ev = {
            .schema = hp->schema,
            .table = hp->table,
            .op = op,
            .before = {.cols = d->scratch + at, .n = nb},
            .after = {.cols = d->scratch + at + nb, .n = na},
            .logfile = hp->logfile,
            .offset = hp->offset,
            .execute_time = hp->execute_time,
            .row_index = (uint32_t)r,
            .gtid = gtid,
            .layout = layout,
        };
        at += nb + na;
        if (!decode_row_bad(&ev)) {
            d->evs[n_ok++] = ev; /* n_ok <= r: rows not read yet stay in place */
            d->stats.rows++;
            continue;
        }
        if (out->n_bad == 0)
            snprintf(d->bad_reason, sizeof d->bad_reason, "binlog %s:%lld: %s.%s row %zu has no %s image", hp->logfile,
                     (long long)hp->offset, ev.schema, ev.table, r, ev.op == ROW_DELETE ? "before" : "after");
        decode_set_bad(d, out, data, len, e->has_header ? hp : NULL);
    }
    out->kind = DECODE_ROWS;
    out->rows = d->evs;
    out->n = n_ok;
    return 0;
}

int decode_next(decode_ctx *d, const uint8_t *data, size_t len, decode_out *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    ce_arena_reset(&d->arena);
    wire_entry e;
    if (wire_entry_parse(data, len, &e) != WIRE_OK) {
        snprintf(d->bad_reason, sizeof d->bad_reason, "malformed Entry (%zu bytes)", len);
        out->kind = DECODE_BAD;
        decode_set_bad(d, out, data, len, NULL);
        return 0;
    }
    decode_walk w = {.d = d, .data = data};
    w.copy = ce_arena_alloc(&d->arena, len + 1);
    if (w.copy == NULL) {
        snprintf(err, errlen, "entry of %zu bytes: out of memory", len);
        return -1;
    }
    if (len)
        memcpy(w.copy, data, len);
    const wire_header *h = &e.header; /* all empty without a header */
    decode_pos hp = {.schema = decode_str(&w, h->schema_name),
                     .table = decode_str(&w, h->table_name),
                     .logfile = decode_str(&w, h->logfile_name),
                     .offset = h->logfile_offset,
                     .execute_time = h->execute_time};
    d->stats.entries++;
    if (hp.logfile[0] != '\0') {
        decode_set_str(d->pos_file, sizeof d->pos_file, hp.logfile);
        d->pos_offset = h->logfile_offset;
        if (h->server_id != 0)
            d->server_id = h->server_id;
        const char *enc = decode_str(&w, h->serveren_code);
        if (enc[0] != '\0')
            decode_set_str(d->server_enc, sizeof d->server_enc, enc);
    }
    int32_t t = e.has_entry_type ? e.entry_type : ENTRYPB__ENTRY_TYPE__ROWDATA;
    if (decode_count_entry(d, t)) {
        const char *gtid = decode_str(&w, h->gtid);
        return decode_rowdata_wire(d, &w, data, len, &e, &hp, gtid, out, err, errlen);
    }
    return 0;
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
