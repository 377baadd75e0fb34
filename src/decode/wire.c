/* decode/wire: protobuf wire scanning and the Canal message walkers. */
#include "decode/wire.h"

#include <limits.h>
#include <string.h>

/* The field at p (before end), scanned with protobuf-c's limits (see
 * wire.h): where the next one starts, or NULL when malformed. Takes no
 * reader, so the walkers' readers stay in registers. */
static const uint8_t *wire_scan_any(const uint8_t *p, const uint8_t *end, wire_field *f)
{
    size_t rem = (size_t)(end - p);
    if ((p[0] & 0xf8) == 0)
        return NULL; /* field number 0 */
    uint32_t num = (uint32_t)(p[0] & 0x7f) >> 3;
    size_t used = 1;
    if (p[0] & 0x80) {
        size_t max = rem > 5 ? 5 : rem;
        unsigned shift = 4;
        for (;;) {
            if (used == max)
                return NULL;
            uint8_t b = p[used++];
            num |= (uint32_t)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                break;
            shift += 7;
        }
    }
    f->num = num;
    f->type = p[0] & 7;
    p += used;
    rem -= used;
    f->raw = p;
    switch (f->type) {
    case WIRE_VARINT: {
        size_t max = rem > 10 ? 10 : rem;
        size_t i = 0;
        uint64_t v = 0;
        for (;;) {
            if (i == max)
                return NULL; /* unterminated, or more than 10 bytes */
            uint8_t b = p[i];
            v |= (uint64_t)(b & 0x7f) << (7 * i);
            i++;
            if ((b & 0x80) == 0)
                break;
        }
        f->v = v;
        f->raw_len = i;
        break;
    }
    case WIRE_I64:
        if (rem < 8)
            return NULL;
        f->v = 0;
        for (int i = 7; i >= 0; i--)
            f->v = (f->v << 8) | p[i];
        f->raw_len = 8;
        break;
    case WIRE_I32:
        if (rem < 4)
            return NULL;
        f->v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        f->raw_len = 4;
        break;
    case WIRE_LEN: {
        size_t max = rem > 5 ? 5 : rem;
        size_t i = 0;
        size_t n = 0;
        for (;;) {
            if (i == max)
                return NULL; /* protobuf-c: at most 5 bytes of length */
            uint8_t b = p[i];
            n |= (size_t)(b & 0x7f) << (7 * i);
            i++;
            if ((b & 0x80) == 0)
                break;
        }
        if (n > INT_MAX || n > rem - i)
            return NULL;
        f->data.p = p + i;
        f->data.len = n;
        f->raw_len = i + n;
        break;
    }
    default:
        return NULL; /* groups (3, 4) and 6, 7: protobuf-c refuses them */
    }
    return p + f->raw_len;
}

#if defined(__GNUC__)
#define WIRE_INLINE static inline __attribute__((always_inline))
#else
#define WIRE_INLINE static inline
#endif

/* wire_scan_any, with the common case inline: a one-byte tag and a one-byte
 * varint or length (every field of a Column but its sqlType, for instance). */
WIRE_INLINE int wire_scan(wire_reader *r, wire_field *f)
{
    const uint8_t *p = r->p;
    size_t rem = (size_t)(r->end - p);
    if (rem == 0)
        return 0;
    if (rem >= 2 && p[0] >= 8 && p[0] < 0x80 && p[1] < 0x80) {
        uint8_t t = p[0], b = p[1];
        if ((t & 7) == WIRE_VARINT) {
            f->num = t >> 3;
            f->type = WIRE_VARINT;
            f->v = b;
            f->raw = p + 1;
            f->raw_len = 1;
            r->p = p + 2;
            return 1;
        }
        if ((t & 7) == WIRE_LEN && b <= rem - 2) {
            f->num = t >> 3;
            f->type = WIRE_LEN;
            f->data.p = p + 2;
            f->data.len = b;
            f->raw = p + 1;
            f->raw_len = 1 + (size_t)b;
            r->p = p + 2 + b;
            return 1;
        }
    } else if (rem >= 3 && p[0] >= 8 && p[0] < 0x80 && (p[0] & 7) == WIRE_LEN && p[2] < 0x80) {
        /* a two-byte length (a Column, a RowData of 128 bytes and more) */
        size_t n = (size_t)(p[1] & 0x7f) | (size_t)p[2] << 7;
        if (n <= rem - 3) {
            f->num = (uint32_t)p[0] >> 3;
            f->type = WIRE_LEN;
            f->data.p = p + 3;
            f->data.len = n;
            f->raw = p + 1;
            f->raw_len = 2 + n;
            r->p = p + 3 + n;
            return 1;
        }
    }
    wire_field t; /* not f: f stays out of memory (no call sees its address) */
    const uint8_t *next = wire_scan_any(p, r->end, &t);
    if (next == NULL)
        return WIRE_BAD;
    *f = t;
    r->p = next;
    return 1;
}

int wire_next(wire_reader *r, wire_field *f) { return wire_scan(r, f); }

WIRE_INLINE bool wire_bool_of(const uint8_t *raw, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (raw[i] & 0x7f)
            return true;
    return false;
}

bool wire_bool(const wire_field *f) { return wire_bool_of(f->raw, f->raw_len); }

/* Wire-type checks of known fields: a mismatch fails the message. */
#define WIRE_WANT(f, t)                                                                                                \
    do {                                                                                                               \
        if ((f).type != (t))                                                                                           \
            return WIRE_BAD;                                                                                           \
    } while (0)

static inline int32_t wire_i32(uint64_t v) { return (int32_t)(uint32_t)v; }
static inline int64_t wire_i64(uint64_t v) { return (int64_t)v; }

int wire_packet_parse(const uint8_t *p, size_t len, wire_packet *pk)
{
    wire_reader r;
    wire_field f;
    int rc;
    memset(pk, 0, sizeof *pk);
    wire_init(&r, p, len);
    while ((rc = wire_scan(&r, &f)) == 1) {
        switch (f.num) {
        case 1:
            WIRE_WANT(f, WIRE_VARINT);
            pk->has_magic = true;
            pk->magic = wire_i32(f.v);
            break;
        case 2:
            WIRE_WANT(f, WIRE_VARINT);
            pk->has_version = true;
            pk->version = wire_i32(f.v);
            break;
        case 3:
            WIRE_WANT(f, WIRE_VARINT);
            pk->type = wire_i32(f.v);
            break;
        case 4:
            WIRE_WANT(f, WIRE_VARINT);
            pk->has_compression = true;
            pk->compression = wire_i32(f.v);
            break;
        case 5:
            WIRE_WANT(f, WIRE_LEN);
            pk->body = f.data;
            break;
        default:
            break;
        }
    }
    return rc == 0 ? WIRE_OK : WIRE_BAD;
}

int wire_messages(const uint8_t *p, size_t len, int64_t *batch_id, size_t *n, wire_msg_fn on_msg, void *ud)
{
    wire_reader r;
    wire_field f;
    int rc;
    size_t k = 0;
    *batch_id = 0;
    wire_init(&r, p, len);
    while ((rc = wire_scan(&r, &f)) == 1) {
        if (f.num == 1) {
            WIRE_WANT(f, WIRE_VARINT);
            *batch_id = wire_i64(f.v);
        } else if (f.num == 2) {
            WIRE_WANT(f, WIRE_LEN);
            if (on_msg != NULL)
                on_msg(ud, k, f.data.p, f.data.len);
            k++;
        }
    }
    *n = k;
    return rc == 0 ? WIRE_OK : WIRE_BAD;
}

/* Pair{key = 1, value = 2}: only checked. */
static int wire_pair_check(wire_slice s)
{
    wire_reader r;
    wire_field f;
    int rc;
    wire_init(&r, s.p, s.len);
    while ((rc = wire_scan(&r, &f)) == 1)
        if (f.num == 1 || f.num == 2)
            WIRE_WANT(f, WIRE_LEN);
    return rc == 0 ? WIRE_OK : WIRE_BAD;
}

/* One occurrence of a Header, with the oneof presence a merge needs. */
typedef struct wire_hdr_occ {
    wire_header h;
    bool has_version;
    bool has_source_type;
} wire_hdr_occ;

static int wire_header_occ(const wire_slice *s, wire_hdr_occ *o)
{
    wire_reader r;
    wire_field f;
    int rc;
    memset(o, 0, sizeof *o);
    wire_init(&r, s->p, s->len);
    while ((rc = wire_scan(&r, &f)) == 1) {
        switch (f.num) {
        case 1: /* version */
            WIRE_WANT(f, WIRE_VARINT);
            o->has_version = true;
            break;
        case 2:
            WIRE_WANT(f, WIRE_LEN);
            o->h.logfile_name = f.data;
            break;
        case 3:
            WIRE_WANT(f, WIRE_VARINT);
            o->h.logfile_offset = wire_i64(f.v);
            break;
        case 4:
            WIRE_WANT(f, WIRE_VARINT);
            o->h.server_id = wire_i64(f.v);
            break;
        case 5:
            WIRE_WANT(f, WIRE_LEN);
            o->h.serveren_code = f.data;
            break;
        case 6:
            WIRE_WANT(f, WIRE_VARINT);
            o->h.execute_time = wire_i64(f.v);
            break;
        case 7: /* sourceType */
            WIRE_WANT(f, WIRE_VARINT);
            o->has_source_type = true;
            break;
        case 8:
            WIRE_WANT(f, WIRE_LEN);
            o->h.schema_name = f.data;
            break;
        case 9:
            WIRE_WANT(f, WIRE_LEN);
            o->h.table_name = f.data;
            break;
        case 10: /* eventLength */
            WIRE_WANT(f, WIRE_VARINT);
            break;
        case 11:
            WIRE_WANT(f, WIRE_VARINT);
            o->h.has_event_type = true;
            o->h.event_type = wire_i32(f.v);
            break;
        case 12: /* props */
            WIRE_WANT(f, WIRE_LEN);
            if (wire_pair_check(f.data) != WIRE_OK)
                return WIRE_BAD;
            break;
        case 13:
            WIRE_WANT(f, WIRE_LEN);
            o->h.gtid = f.data;
            break;
        default:
            break;
        }
    }
    return rc == 0 ? WIRE_OK : WIRE_BAD;
}

static void wire_keep(wire_slice *latter, const wire_slice *earlier)
{
    if (latter->p == NULL)
        *latter = *earlier;
}

/* protobuf-c's merge of a repeated Header into the latter occurrence. */
static int wire_header_merge(wire_hdr_occ *l, const wire_hdr_occ *e)
{
    /* a oneof set in neither fails the merge (protobuf-c looks up field 0) */
    if ((!l->has_version && !e->has_version) || (!l->has_source_type && !e->has_source_type) ||
        (!l->h.has_event_type && !e->h.has_event_type))
        return WIRE_BAD;
    l->has_version = true;
    l->has_source_type = true;
    if (!l->h.has_event_type) {
        l->h.has_event_type = true;
        l->h.event_type = e->h.event_type;
    }
    wire_keep(&l->h.logfile_name, &e->h.logfile_name);
    wire_keep(&l->h.serveren_code, &e->h.serveren_code);
    wire_keep(&l->h.schema_name, &e->h.schema_name);
    wire_keep(&l->h.table_name, &e->h.table_name);
    wire_keep(&l->h.gtid, &e->h.gtid);
    return WIRE_OK; /* plain integers: the latter's, present or not */
}

int wire_entry_parse(const uint8_t *p, size_t len, wire_entry *e)
{
    wire_reader r;
    wire_field f;
    int rc;
    wire_hdr_occ acc, occ;
    memset(e, 0, sizeof *e);
    memset(&acc, 0, sizeof acc);
    wire_init(&r, p, len);
    while ((rc = wire_scan(&r, &f)) == 1) {
        switch (f.num) {
        case 1:
            WIRE_WANT(f, WIRE_LEN);
            if (wire_header_occ(&f.data, &occ) != WIRE_OK)
                return WIRE_BAD;
            if (e->has_header && wire_header_merge(&occ, &acc) != WIRE_OK)
                return WIRE_BAD;
            acc = occ;
            e->has_header = true;
            break;
        case 2:
            WIRE_WANT(f, WIRE_VARINT);
            e->has_entry_type = true;
            e->entry_type = wire_i32(f.v);
            break;
        case 3:
            WIRE_WANT(f, WIRE_LEN);
            e->store_value = f.data;
            break;
        default:
            break;
        }
    }
    if (rc != 0)
        return WIRE_BAD;
    e->header = acc.h;
    return WIRE_OK;
}

int wire_rowchange_parse(const uint8_t *p, size_t len, wire_rowchange *rc, wire_row_fn on_row, void *ud)
{
    wire_reader r;
    wire_field f;
    int st;
    memset(rc, 0, sizeof *rc);
    wire_init(&r, p, len);
    while ((st = wire_scan(&r, &f)) == 1) {
        switch (f.num) {
        case 1: /* tableId */
            WIRE_WANT(f, WIRE_VARINT);
            break;
        case 2:
            WIRE_WANT(f, WIRE_VARINT);
            rc->has_event_type = true;
            rc->event_type = wire_i32(f.v);
            break;
        case 10: /* bool: any wire type */
            rc->has_is_ddl = true;
            rc->is_ddl = wire_bool_of(f.raw, f.raw_len);
            break;
        case 11:
            WIRE_WANT(f, WIRE_LEN);
            rc->sql = f.data;
            break;
        case 12: {
            WIRE_WANT(f, WIRE_LEN);
            rc->n_rows++;
            int cr = on_row(ud, f.data.p, f.data.len);
            if (cr != 0)
                return cr;
            break;
        }
        case 13:
            WIRE_WANT(f, WIRE_LEN);
            if (wire_pair_check(f.data) != WIRE_OK)
                return WIRE_BAD;
            break;
        case 14:
            WIRE_WANT(f, WIRE_LEN);
            rc->ddl_schema_name = f.data;
            break;
        default:
            break;
        }
    }
    return st == 0 ? WIRE_OK : WIRE_BAD;
}

/* The varint at p (before end), at most 10 bytes as protobuf-c reads it:
 * where the next field starts, or NULL when malformed; *v: its low 32 bits
 * (all an int32 or enum keeps; a bool reads the bytes). With ten bytes at
 * hand it is read as two words, without a loop: Canal's negative sqlTypes
 * (BIGINT -5, TINYINT -6, BIT -7, ...) take all ten. */
WIRE_INLINE const uint8_t *wire_varint_at(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
    size_t rem = (size_t)(end - p);
    if (rem > 0 && p[0] < 0x80) {
        *v = p[0];
        return p + 1;
    }
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (rem >= 10) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t stop = ~w & 0x8080808080808080ull; /* the high bit clear: the last byte */
        size_t n;
        if (stop != 0)
            n = (size_t)__builtin_ctzll(stop) / 8 + 1;
        else if (p[8] < 0x80)
            n = 9;
        else if (p[9] < 0x80)
            n = 10;
        else
            return NULL; /* more than 10 bytes */
        if (n < 8)
            w &= ((uint64_t)1 << (8 * n)) - 1; /* the bytes after it are not its */
        *v = (uint32_t)((w & 0x7f) | (w >> 1 & 0x3f80) | (w >> 2 & 0x1fc000) | (w >> 3 & 0xfe00000) |
                        (w >> 4 & 0x7f0000000ull));
        return p + n;
    }
#endif
    size_t max = rem > 10 ? 10 : rem;
    uint64_t x = 0;
    for (size_t i = 0; i < max; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *v = (uint32_t)x;
            return p + i + 1;
        }
    }
    return NULL;
}

/* The length-delimited payload at p (its length prefix; before end), as
 * wire_scan_any checks it: where the next field starts, or NULL. */
WIRE_INLINE const uint8_t *wire_len_at(const uint8_t *p, const uint8_t *end, wire_slice *s)
{
    size_t rem = (size_t)(end - p);
    size_t n, i;
    if (rem > 0 && p[0] < 0x80) {
        n = p[0];
        i = 1;
    } else if (rem > 1 && p[1] < 0x80) {
        n = (size_t)(p[0] & 0x7f) | (size_t)p[1] << 7;
        i = 2;
    } else {
        return NULL; /* longer prefixes: left to wire_scan_any */
    }
    if (n > rem - i)
        return NULL;
    s->p = p + i;
    s->len = n;
    return p + i + n;
}

/* A Column's fields in field-number order, the order every protobuf encoder
 * (Canal's Java one, protobuf-c) writes them in, each optional: the walk
 * takes them with one well-predicted test per field. At the first field it
 * does not expect (another order, another wire type, props, a long prefix,
 * malformed bytes) it hands the rest, from that field's tag on, to the
 * general loop, which scans it as if from the start (a later occurrence of
 * a field wins there as it does everywhere). */
int wire_column_parse(const uint8_t *p, size_t len, wire_column *c)
{
    wire_reader r;
    wire_field f;
    int rc;
    const uint8_t *end = p + len, *q;
    uint32_t v;
    memset(c, 0, sizeof *c);
    if (p < end && p[0] == 0x08) { /* index */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        p = q;
    }
    if (p < end && p[0] == 0x10) { /* sqlType */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        c->sql_type = (int32_t)v;
        p = q;
    }
    if (p < end && p[0] == 0x1a) { /* name */
        if ((q = wire_len_at(p + 1, end, &c->name)) == NULL)
            goto general;
        p = q;
    }
    if (p < end && p[0] == 0x20) { /* isKey */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        c->is_key = wire_bool_of(p + 1, (size_t)(q - p - 1));
        p = q;
    }
    if (p < end && p[0] == 0x28) { /* updated */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        c->updated = wire_bool_of(p + 1, (size_t)(q - p - 1));
        p = q;
    }
    if (p < end && p[0] == 0x30) { /* isNull */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        c->has_is_null = true;
        c->is_null = wire_bool_of(p + 1, (size_t)(q - p - 1));
        p = q;
    }
    if (p < end && p[0] == 0x42) { /* value */
        if ((q = wire_len_at(p + 1, end, &c->value)) == NULL)
            goto general;
        p = q;
    }
    if (p < end && p[0] == 0x48) { /* length */
        if ((q = wire_varint_at(p + 1, end, &v)) == NULL)
            goto general;
        p = q;
    }
    if (p < end && p[0] == 0x52) { /* mysqlType */
        if ((q = wire_len_at(p + 1, end, &c->mysql_type)) == NULL)
            goto general;
        p = q;
    }
    if (p == end)
        return WIRE_OK;
general:
    wire_init(&r, p, (size_t)(end - p));
    while ((rc = wire_scan(&r, &f)) == 1) {
        switch (f.num) {
        case 1: /* index */
        case 9: /* length */
            WIRE_WANT(f, WIRE_VARINT);
            break;
        case 2:
            WIRE_WANT(f, WIRE_VARINT);
            c->sql_type = wire_i32(f.v);
            break;
        case 3:
            WIRE_WANT(f, WIRE_LEN);
            c->name = f.data;
            break;
        case 4:
            c->is_key = wire_bool_of(f.raw, f.raw_len);
            break;
        case 5:
            c->updated = wire_bool_of(f.raw, f.raw_len);
            break;
        case 6:
            c->has_is_null = true;
            c->is_null = wire_bool_of(f.raw, f.raw_len);
            break;
        case 7:
            WIRE_WANT(f, WIRE_LEN);
            if (wire_pair_check(f.data) != WIRE_OK)
                return WIRE_BAD;
            break;
        case 8:
            WIRE_WANT(f, WIRE_LEN);
            c->value = f.data;
            break;
        case 10:
            WIRE_WANT(f, WIRE_LEN);
            c->mysql_type = f.data;
            break;
        default:
            break;
        }
    }
    return rc == 0 ? WIRE_OK : WIRE_BAD;
}

int wire_rowdata_parse(const uint8_t *p, size_t len, wire_col_fn on_col, void *ud)
{
    wire_reader r;
    wire_field f;
    wire_column c;
    int rc;
    const uint8_t *first_after = NULL; /* the tag of the first after column */
    wire_init(&r, p, len);
    for (;;) {
        const uint8_t *at = r.p;
        if ((rc = wire_scan(&r, &f)) != 1)
            break;
        switch (f.num) {
        case 1: {
            WIRE_WANT(f, WIRE_LEN);
            if (wire_column_parse(f.data.p, f.data.len, &c) != WIRE_OK)
                return WIRE_BAD;
            int cr = on_col(ud, false, &c);
            if (cr != 0)
                return cr;
            break;
        }
        case 2:
            WIRE_WANT(f, WIRE_LEN);
            if (first_after == NULL)
                first_after = at;
            break;
        case 3:
            WIRE_WANT(f, WIRE_LEN);
            if (wire_pair_check(f.data) != WIRE_OK)
                return WIRE_BAD;
            break;
        default:
            break;
        }
    }
    if (rc != 0)
        return WIRE_BAD;
    if (first_after == NULL)
        return WIRE_OK;
    /* the after columns, in order; the framing of everything was checked above */
    r.p = first_after;
    while (wire_scan(&r, &f) == 1) {
        if (f.num != 2)
            continue;
        if (wire_column_parse(f.data.p, f.data.len, &c) != WIRE_OK)
            return WIRE_BAD;
        int cr = on_col(ud, true, &c);
        if (cr != 0)
            return cr;
    }
    return WIRE_OK;
}
