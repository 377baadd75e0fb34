/* decode/wire: a bounded protobuf wire reader and zero-copy walkers for the
 * Canal messages on the hot path (Packet, Messages, Entry/Header, RowChange, RowData,
 * Column; proto/canal_protocol.proto and entry_protocol.proto give the field numbers).
 *
 * Nothing is allocated and nothing is copied: every string or bytes field is
 * a slice into the caller's buffer, valid as long as that buffer. Every
 * length is checked against the bytes that remain, so no input reads past
 * its end. Acceptance matches protobuf-c 1.4 (the reference decoder that
 * tests and tests/fuzz/fuzz_wire.c compare against) exactly:
 *   - tags of up to 5 bytes, a first byte whose field bits are 0 refused;
 *     varints of up to 10 bytes; length prefixes of up to 5 bytes and at
 *     most INT_MAX; wire types 3, 4, 6 and 7 (groups, invalid) refused,
 *     for unknown fields too; unknown fields of types 0, 1, 2, 5 skipped;
 *   - a known field of the wrong wire type fails the message, except bool
 *     fields: protobuf-c takes any wire type there and reads "true" when
 *     any scanned byte (a length prefix included) has a low 7-bit set;
 *   - int32/enum fields keep the low 32 bits of the varint, int64 fields
 *     the low 64; the last occurrence of a non-repeated field wins;
 *   - a nested message that appears twice (Entry.header) is merged as
 *     protobuf-c merges: strings and oneof members from the latter when it
 *     has them, plain integers always from the latter (0 when absent), and
 *     a oneof set in neither occurrence fails the unpack (a protobuf-c
 *     quirk, kept so both decoders agree);
 *   - the nested messages decode does not read (Pair props) are still
 *     checked, since a malformed one fails protobuf-c's unpack;
 *   - proto3 throughout: no required fields; strings are not checked for
 *     UTF-8 and may hold NUL bytes (the slice keeps them; C-string users
 *     stop at the first, as with protobuf-c's copies).
 * Results: WIRE_OK, WIRE_BAD (malformed), or a callback's non-zero result. */
#ifndef CE_DECODE_WIRE_H
#define CE_DECODE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_OK 0
#define WIRE_BAD (-1)

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

typedef struct wire_slice {
    const uint8_t *p; /* NULL: the field was absent */
    size_t len;
} wire_slice;

typedef struct wire_reader {
    const uint8_t *p;
    const uint8_t *end;
} wire_reader;

/* One field as scanned. */
typedef struct wire_field {
    uint32_t num;        /* field number, computed as protobuf-c does */
    uint8_t type;        /* wire type */
    uint64_t v;          /* WIRE_VARINT: the value (low 64 bits); WIRE_I64/I32: the little-endian value */
    wire_slice data;     /* WIRE_LEN: the payload */
    const uint8_t *raw;  /* the field's bytes after the tag (a length prefix included) */
    size_t raw_len;
} wire_field;

static inline void wire_init(wire_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p != NULL ? p + len : p; /* an absent field: NULL, 0 (NULL + 0 is undefined in C) */
}

/* 1 with *f filled, 0 at the end, WIRE_BAD when malformed. */
int wire_next(wire_reader *r, wire_field *f);
/* The bool protobuf-c reads from a field of any wire type. */
bool wire_bool(const wire_field *f);

/* Packet (canal_protocol.proto): the envelope, its body a slice of the
 * bytes (p NULL when absent). The has_ flags tell the oneofs that were set. */
typedef struct wire_packet {
    bool has_magic, has_version, has_compression;
    int32_t magic, version, type, compression;
    wire_slice body;
} wire_packet;

int wire_packet_parse(const uint8_t *p, size_t len, wire_packet *pk);

/* Messages (canal_protocol.proto): batch_id, repeated bytes messages.
 * Hands every message to on_msg (optional) in order and counts them in *n. */
typedef void (*wire_msg_fn)(void *ud, size_t i, const uint8_t *p, size_t len);
int wire_messages(const uint8_t *p, size_t len, int64_t *batch_id, size_t *n, wire_msg_fn on_msg, void *ud);

/* Entry.header: the fields decode uses (absent strings have p == NULL). */
typedef struct wire_header {
    wire_slice logfile_name, serveren_code, schema_name, table_name, gtid;
    int64_t logfile_offset, server_id, execute_time;
    bool has_event_type;
    int32_t event_type;
} wire_header;

typedef struct wire_entry {
    bool has_header;
    wire_header header;
    bool has_entry_type;
    int32_t entry_type;
    wire_slice store_value;
} wire_entry;

int wire_entry_parse(const uint8_t *p, size_t len, wire_entry *e);

/* RowChange: its scalar fields; each RowData (field 12) is handed to on_row
 * in order (its bytes, not yet checked: wire_rowdata checks them). */
typedef struct wire_rowchange {
    bool has_event_type;
    int32_t event_type;
    bool has_is_ddl;
    bool is_ddl;
    wire_slice sql, ddl_schema_name;
    size_t n_rows;
} wire_rowchange;

typedef int (*wire_row_fn)(void *ud, const uint8_t *p, size_t len);
int wire_rowchange_parse(const uint8_t *p, size_t len, wire_rowchange *rc, wire_row_fn on_row, void *ud);

typedef struct wire_column {
    wire_slice name, value, mysql_type;
    int32_t sql_type;
    bool is_key, updated, has_is_null, is_null;
} wire_column;

int wire_column_parse(const uint8_t *p, size_t len, wire_column *c);

/* One RowData: on_col for every before column in order (after = false),
 * then every after column in order (after = true). */
typedef int (*wire_col_fn)(void *ud, bool after, const wire_column *c);
int wire_rowdata_parse(const uint8_t *p, size_t len, wire_col_fn on_col, void *ud);

#endif
