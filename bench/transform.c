/* bench-transform: the pure transform path on real wire bytes, no network.
 *
 * Builds (or reads) one serialized Canal Packet{type MESSAGES, body Messages}
 * and runs, for every iteration, what the service does with a fetched batch:
 *   packet_decode (the Packet walked on its bytes) → canal_batch_parse_frame
 *   (the zero-copy Messages walk; canal_get gives the batch the frame) →
 *   decode_next per entry (the wire reader) → cfg_find_table (cached per
 *   table like the service's run_rule) → map_row →
 *   bulk_append (bulk_reset once the body passes 8 MiB).
 *
 * The generated batch: 10 000 rows × 12 columns of mixed types (bigint key,
 * int, varchar, text with Chinese, decimal, datetime, tinyint, bigint
 * unsigned, double, date, enum-like varchar, a nullable varchar with some
 * NULLs); a third of the rows are UPDATEs with both images, the rest mostly
 * INSERTs and some DELETEs; 5 rows per RowChange entry, 4 row entries per
 * transaction between TRANSACTIONBEGIN and TRANSACTIONEND entries.
 *
 *   bench-transform [--iterations N] [--rows N] [--input FILE] [--write-input FILE]
 *                   [--write-output FILE] [--decode-only] [--reference]
 *
 * --input reads one serialized MESSAGES Packet (raw Packet bytes, or with the
 * 4-byte big-endian frame length in front); --write-input writes the
 * generated Packet (raw, no frame length) so other clients can be measured on
 * the same bytes; --write-output writes the NDJSON of one batch so their
 * output can be compared too; --decode-only stops after decode_next, to
 * tell the protobuf share from the map/NDJSON share; --reference decodes
 * with protobuf-c instead (Messages unpack, decode_next_pbc: the path before
 * the wire reader), to compare the two on the same bytes. Without --iterations
 * the count is chosen to run about 3 s. MB are 10^6 bytes. Prints rows/s,
 * rows per CPU second (the process's CPU time: what one core does when
 * others compete for it), input MB/s (Packet bytes), output MB/s (NDJSON
 * bytes) and peak RSS KiB. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bulk/bulk.h"
#include "canal_protocol.pb-c.h"
#include "config.h"
#include "decode/decode.h"
#include "entry_protocol.pb-c.h"
#include "map/map.h"
#include "source/canal.h"
#include "source/frame.h"
#include "source/packet.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#define BENCH_NCOLS 12
#define BENCH_ROWS_PER_ENTRY 5
#define BENCH_ENTRIES_PER_TXN 4
#define BENCH_FLUSH_BYTES (8u << 20)
#define BENCH_BODY_MAX (16u << 20)
#define BENCH_TARGET_SECONDS 3.0

/* ---------------- generation ---------------- */

typedef struct col_def {
    const char *name;
    const char *mysql_type;
    int sql_type;
} col_def;

static const col_def bench_cols[BENCH_NCOLS] = {
    {"id", "bigint(20)", -5},           {"user_id", "int(11)", 4},
    {"title", "varchar(128)", 12},      {"description", "text", 2005},
    {"price", "decimal(10,2)", 3},      {"created_at", "datetime", 93},
    {"status", "tinyint(4)", -6},       {"views", "bigint(20) unsigned", -5},
    {"score", "double", 8},             {"birthday", "date", 91},
    {"category", "varchar(16)", 12},    {"remark", "varchar(255)", 12},
};

/* Values of one row image; `version` changes some columns for UPDATEs. */
typedef struct row_vals {
    char v[BENCH_NCOLS][512];
    int is_null[BENCH_NCOLS];
} row_vals;

static void bench_row_values(row_vals *rv, uint64_t id, unsigned version)
{
    static const char *const cats[] = {"book", "food", "toy", "tool", "garden", "music"};
    static const char zh[] = "这是一段用于性能测试的中文描述，包含商品的详细信息和用户评论。";
    memset(rv->is_null, 0, sizeof rv->is_null);
    snprintf(rv->v[0], sizeof rv->v[0], "%llu", (unsigned long long)id);
    snprintf(rv->v[1], sizeof rv->v[1], "%llu", (unsigned long long)(id * 7919 % 100000));
    snprintf(rv->v[2], sizeof rv->v[2], "Product %llu - a fairly ordinary title, v%u", (unsigned long long)id,
             version);
    size_t reps = 2 + id % 3, o = 0;
    for (size_t i = 0; i < reps; i++)
        o += (size_t)snprintf(rv->v[3] + o, sizeof rv->v[3] - o, "%s", zh);
    snprintf(rv->v[3] + o, sizeof rv->v[3] - o, " (item %llu, rev %u)", (unsigned long long)id, version);
    snprintf(rv->v[4], sizeof rv->v[4], "%llu.%02u", (unsigned long long)(id % 5000), (unsigned)((id + version) % 100));
    snprintf(rv->v[5], sizeof rv->v[5], "2024-%02u-%02u %02u:%02u:%02u", (unsigned)(id % 12 + 1),
             (unsigned)(id % 28 + 1), (unsigned)(id % 24), (unsigned)((id + version) % 60), (unsigned)(id % 60));
    snprintf(rv->v[6], sizeof rv->v[6], "%u", (unsigned)((id + version) % 4));
    if (id % 10 == 0)
        snprintf(rv->v[7], sizeof rv->v[7], "%llu", 18446744073709551000ULL + (unsigned long long)(id % 600));
    else
        snprintf(rv->v[7], sizeof rv->v[7], "%llu", (unsigned long long)(id * 131 + version));
    snprintf(rv->v[8], sizeof rv->v[8], "%llu.%04llu", (unsigned long long)(id % 100),
             (unsigned long long)((id * 37 + version) % 10000));
    snprintf(rv->v[9], sizeof rv->v[9], "19%02u-%02u-%02u", (unsigned)(id % 100), (unsigned)(id % 12 + 1),
             (unsigned)(id % 28 + 1));
    snprintf(rv->v[10], sizeof rv->v[10], "%s", cats[(id + version) % 6]);
    if (id % 3 == 0) {
        rv->is_null[11] = 1;
        rv->v[11][0] = '\0';
    } else {
        snprintf(rv->v[11], sizeof rv->v[11], "remark for %llu", (unsigned long long)id);
    }
}

/* Fills the 12 Column messages of one image; they point into rv. */
static void bench_fill_columns(Entrypb__Column *cols, Entrypb__Column **ptrs, row_vals *rv, const row_vals *old)
{
    for (int c = 0; c < BENCH_NCOLS; c++) {
        Entrypb__Column *col = &cols[c];
        entrypb__column__init(col);
        col->index = c;
        col->sql_type = bench_cols[c].sql_type;
        col->name = (char *)bench_cols[c].name;
        col->is_key = c == 0;
        col->updated = old != NULL && (old->is_null[c] != rv->is_null[c] || strcmp(old->v[c], rv->v[c]) != 0);
        col->is_null_present_case = ENTRYPB__COLUMN__IS_NULL_PRESENT_IS_NULL; /* Canal always sets it */
        col->is_null = rv->is_null[c] != 0;
        col->value.data = (uint8_t *)rv->v[c];
        col->value.len = strlen(rv->v[c]);
        col->mysql_type = (char *)bench_cols[c].mysql_type;
        ptrs[c] = col;
    }
}

typedef struct msg_list {
    ProtobufCBinaryData *items;
    size_t n, cap;
} msg_list;

static int bench_push(msg_list *l, const ProtobufCMessage *m)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 1024;
        ProtobufCBinaryData *p = ce_realloc(l->items, ncap * sizeof *p);
        if (p == NULL)
            return -1;
        l->items = p;
        l->cap = ncap;
    }
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = ce_malloc(len);
    if (buf == NULL)
        return -1;
    protobuf_c_message_pack(m, buf);
    l->items[l->n].data = buf;
    l->items[l->n].len = len;
    l->n++;
    return 0;
}

static void bench_header(Entrypb__Header *h, Entrypb__Pair **props, Entrypb__Pair *rows_prop, uint64_t offset,
                         Entrypb__EventType et, int with_table)
{
    entrypb__header__init(h);
    h->version_present_case = ENTRYPB__HEADER__VERSION_PRESENT_VERSION;
    h->version = 1;
    h->logfile_name = (char *)"mysql-bin.000042";
    h->logfile_offset = (int64_t)offset;
    h->server_id = 1;
    h->serveren_code = (char *)"UTF-8";
    h->execute_time = 1715900000000LL + (int64_t)(offset / 100);
    h->source_type_present_case = ENTRYPB__HEADER__SOURCE_TYPE_PRESENT_SOURCE_TYPE;
    h->source_type = ENTRYPB__TYPE__MYSQL;
    h->event_length = 1200;
    if (with_table) {
        h->schema_name = (char *)"bench";
        h->table_name = (char *)"orders";
        h->event_type_present_case = ENTRYPB__HEADER__EVENT_TYPE_PRESENT_EVENT_TYPE;
        h->event_type = et;
        props[0] = rows_prop;
        h->n_props = 1;
        h->props = props;
    }
}

static int bench_txn_entry(msg_list *l, Entrypb__EntryType type, uint64_t offset, uint64_t txn)
{
    Entrypb__Header h;
    bench_header(&h, NULL, NULL, offset, ENTRYPB__EVENT_TYPE__EVENT_TYPE_COMPATIBLE_PROTO2, 0);
    char tid[32];
    snprintf(tid, sizeof tid, "%llu", (unsigned long long)txn);
    uint8_t body[128];
    size_t blen;
    if (type == ENTRYPB__ENTRY_TYPE__TRANSACTIONBEGIN) {
        Entrypb__TransactionBegin b = ENTRYPB__TRANSACTION_BEGIN__INIT;
        b.thread_id = 4242;
        blen = entrypb__transaction_begin__get_packed_size(&b);
        entrypb__transaction_begin__pack(&b, body);
    } else {
        Entrypb__TransactionEnd e = ENTRYPB__TRANSACTION_END__INIT;
        e.transaction_id = tid;
        e.execute_time = h.execute_time;
        blen = entrypb__transaction_end__get_packed_size(&e);
        entrypb__transaction_end__pack(&e, body);
    }
    Entrypb__Entry en = ENTRYPB__ENTRY__INIT;
    en.header = &h;
    en.entry_type_present_case = ENTRYPB__ENTRY__ENTRY_TYPE_PRESENT_ENTRY_TYPE;
    en.entry_type = type;
    en.store_value.data = body;
    en.store_value.len = blen;
    return bench_push(l, &en.base);
}

/* Serialized Packet{MESSAGES, Messages{batch_id, entries}} into out. */
static int bench_generate(size_t nrows, ce_buf *out, size_t *n_rows_out)
{
    int rc = -1;
    msg_list l = {0};
    row_vals *before = ce_malloc(BENCH_ROWS_PER_ENTRY * sizeof *before);
    row_vals *after = ce_malloc(BENCH_ROWS_PER_ENTRY * sizeof *after);
    uint8_t *rcbuf = NULL;
    uint8_t *msgbuf = NULL;
    if (before == NULL || after == NULL)
        goto out;
    Entrypb__Column bcols[BENCH_ROWS_PER_ENTRY][BENCH_NCOLS], acols[BENCH_ROWS_PER_ENTRY][BENCH_NCOLS];
    Entrypb__Column *bptr[BENCH_ROWS_PER_ENTRY][BENCH_NCOLS], *aptr[BENCH_ROWS_PER_ENTRY][BENCH_NCOLS];
    Entrypb__RowData rds[BENCH_ROWS_PER_ENTRY];
    Entrypb__RowData *rdp[BENCH_ROWS_PER_ENTRY];
    Entrypb__Pair rows_prop = ENTRYPB__PAIR__INIT;
    Entrypb__Pair *props[1];
    char rows_count[16];
    uint64_t next_id = 1, offset = 4, txn = 1;
    size_t done = 0, entry_no = 0;
    size_t rcbuf_cap = 0;

    while (done < nrows) {
        if (entry_no % BENCH_ENTRIES_PER_TXN == 0 &&
            bench_txn_entry(&l, ENTRYPB__ENTRY_TYPE__TRANSACTIONBEGIN, offset, txn) != 0)
            goto out;
        offset += 80;
        /* a third UPDATE, one in ten DELETE, the rest INSERT; early entries
         * insert so that updates and deletes refer to existing ids */
        Entrypb__EventType et = ENTRYPB__EVENT_TYPE__INSERT;
        if (next_id > 100 && entry_no % 3 == 1)
            et = ENTRYPB__EVENT_TYPE__UPDATE;
        else if (next_id > 100 && entry_no % 10 == 5)
            et = ENTRYPB__EVENT_TYPE__DELETE;
        size_t k = nrows - done < BENCH_ROWS_PER_ENTRY ? nrows - done : BENCH_ROWS_PER_ENTRY;
        for (size_t r = 0; r < k; r++) {
            entrypb__row_data__init(&rds[r]);
            rdp[r] = &rds[r];
            if (et == ENTRYPB__EVENT_TYPE__INSERT) {
                bench_row_values(&after[r], next_id++, 0);
                bench_fill_columns(acols[r], aptr[r], &after[r], NULL);
                rds[r].n_after_columns = BENCH_NCOLS;
                rds[r].after_columns = aptr[r];
            } else {
                uint64_t id = 1 + (done * 2654435761u + r) % (next_id - 1);
                bench_row_values(&before[r], id, 1);
                bench_fill_columns(bcols[r], bptr[r], &before[r], NULL);
                rds[r].n_before_columns = BENCH_NCOLS;
                rds[r].before_columns = bptr[r];
                if (et == ENTRYPB__EVENT_TYPE__UPDATE) {
                    bench_row_values(&after[r], id, 2);
                    if (id % 3 == 0) { /* the NULL column gets a value */
                        after[r].is_null[11] = 0;
                        snprintf(after[r].v[11], sizeof after[r].v[11], "now set %llu", (unsigned long long)id);
                    }
                    bench_fill_columns(acols[r], aptr[r], &after[r], &before[r]);
                    rds[r].n_after_columns = BENCH_NCOLS;
                    rds[r].after_columns = aptr[r];
                }
            }
        }
        Entrypb__RowChange rc_msg = ENTRYPB__ROW_CHANGE__INIT;
        rc_msg.table_id = 88;
        rc_msg.event_type_present_case = ENTRYPB__ROW_CHANGE__EVENT_TYPE_PRESENT_EVENT_TYPE;
        rc_msg.event_type = et;
        rc_msg.is_ddl_present_case = ENTRYPB__ROW_CHANGE__IS_DDL_PRESENT_IS_DDL;
        rc_msg.is_ddl = 0;
        rc_msg.n_row_datas = k;
        rc_msg.row_datas = rdp;
        size_t rclen = entrypb__row_change__get_packed_size(&rc_msg);
        if (rclen > rcbuf_cap) {
            uint8_t *p = ce_realloc(rcbuf, rclen);
            if (p == NULL)
                goto out;
            rcbuf = p;
            rcbuf_cap = rclen;
        }
        entrypb__row_change__pack(&rc_msg, rcbuf);

        Entrypb__Header h;
        snprintf(rows_count, sizeof rows_count, "%zu", k);
        rows_prop.key = (char *)"rowsCount";
        rows_prop.value = rows_count;
        bench_header(&h, props, &rows_prop, offset, et, 1);
        Entrypb__Entry en = ENTRYPB__ENTRY__INIT;
        en.header = &h;
        en.entry_type_present_case = ENTRYPB__ENTRY__ENTRY_TYPE_PRESENT_ENTRY_TYPE;
        en.entry_type = ENTRYPB__ENTRY_TYPE__ROWDATA;
        en.store_value.data = rcbuf;
        en.store_value.len = rclen;
        if (bench_push(&l, &en.base) != 0)
            goto out;
        offset += rclen + 40;
        done += k;
        entry_no++;
        if (entry_no % BENCH_ENTRIES_PER_TXN == 0 || done == nrows) {
            if (bench_txn_entry(&l, ENTRYPB__ENTRY_TYPE__TRANSACTIONEND, offset, txn) != 0)
                goto out;
            offset += 31;
            txn++;
        }
    }

    Canalpb__Messages msgs = CANALPB__MESSAGES__INIT;
    msgs.batch_id = 1;
    msgs.n_messages = l.n;
    msgs.messages = l.items;
    size_t mlen = canalpb__messages__get_packed_size(&msgs);
    msgbuf = ce_malloc(mlen);
    if (msgbuf == NULL)
        goto out;
    canalpb__messages__pack(&msgs, msgbuf);
    /* as Canal's fast path sends it: type and body, no version/compression */
    Canalpb__Packet pkt = CANALPB__PACKET__INIT;
    pkt.type = CANALPB__PACKET_TYPE__MESSAGES;
    pkt.body.data = msgbuf;
    pkt.body.len = mlen;
    size_t plen = canalpb__packet__get_packed_size(&pkt);
    if (ce_buf_reserve(out, plen) != 0)
        goto out;
    canalpb__packet__pack(&pkt, out->data + out->len);
    out->len += plen;
    *n_rows_out = done;
    rc = 0;
out:
    for (size_t i = 0; i < l.n; i++)
        ce_free(l.items[i].data);
    ce_free(l.items);
    ce_free(msgbuf);
    ce_free(rcbuf);
    ce_free(before);
    ce_free(after);
    return rc;
}

/* ---------------- input / output files ---------------- */

static int bench_read_file(const char *path, ce_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench-transform: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (ce_buf_append(out, chunk, n) != 0) {
            fprintf(stderr, "bench-transform: %s: larger than %zu bytes\n", path, out->max);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "bench-transform: %s: read error\n", path);
        rc = -1;
    }
    fclose(f);
    if (rc != 0)
        return -1;
    /* a frame header in front: the 4-byte big-endian length equals the rest */
    size_t plen = 0;
    if (out->len >= FRAME_HEADER_LEN && frame_parse(out->data, out->len, out->max, &plen) == FRAME_OK &&
        plen == out->len - FRAME_HEADER_LEN) {
        memmove(out->data, out->data + FRAME_HEADER_LEN, plen);
        out->len = plen;
        fprintf(stderr, "bench-transform: %s: frame header stripped\n", path);
    }
    return 0;
}

static int bench_write_file(const char *path, const ce_buf *in)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "bench-transform: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = fwrite(in->data, 1, in->len, f) == in->len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "bench-transform: %s: write failed\n", path);
    return rc;
}

/* ---------------- the measured transform ---------------- */

typedef struct bench_ctx {
    const cfg *c;
    const cfg_table *fallback;
    map_out mo;
    bulk b;
    decode_ctx dec;
    uint64_t rows, actions, skipped, out_bytes, flushes;
    uint64_t ops[4]; /* by row_op */
    FILE *dump;      /* --write-output: NDJSON of the warm-up batch */
    int decode_only; /* --decode-only: stop after decode_next */
    int reference;   /* --reference: protobuf-c (Messages unpack, decode_next_pbc) */
    char last_db[256], last_table[256]; /* the service's one-entry rule cache (run_rule): rows come in runs */
    const cfg_table *last_rule;
    char err[512];
} bench_ctx;

static int bench_on_row(void *ud, const row_event *ev)
{
    bench_ctx *x = ud;
    x->rows++;
    x->ops[ev->op & 3]++;
    if (x->decode_only)
        return 0;
    const cfg_table *rule = x->last_rule;
    if (rule == NULL || strcmp(x->last_db, ev->schema) != 0 || strcmp(x->last_table, ev->table) != 0) {
        rule = cfg_find_table(x->c, ev->schema, ev->table);
        if (rule == NULL)
            rule = x->fallback;
        snprintf(x->last_db, sizeof x->last_db, "%s", ev->schema);
        snprintf(x->last_table, sizeof x->last_table, "%s", ev->table);
        x->last_rule = rule;
    }
    int mrc = map_row(rule, ev, &x->mo, x->err, sizeof x->err);
    if (mrc == MAP_NO_ID) {
        x->skipped++;
        return 0;
    }
    if (mrc != MAP_OK)
        return -1;
    for (size_t i = 0; i < x->mo.n; i++) {
        if (bulk_append(&x->b, &x->mo.act[i], x->err, sizeof x->err) != 0)
            return -1;
        x->actions++;
    }
    if (x->b.body.len > BENCH_FLUSH_BYTES) {
        if (x->dump && fwrite(x->b.body.data, 1, x->b.body.len, x->dump) != x->b.body.len) {
            snprintf(x->err, sizeof x->err, "--write-output: write failed");
            return -1;
        }
        x->out_bytes += x->b.body.len;
        x->flushes++;
        bulk_reset(&x->b);
    }
    return 0;
}

/* One entry's rows, as decode_entry hands them out. */
static int bench_entry(bench_ctx *x, size_t i, const uint8_t *p, size_t len)
{
    char derr[512] = "";
    decode_out o;
    int rc = x->reference ? decode_next_pbc(&x->dec, p, len, &o, derr, sizeof derr)
                          : decode_next(&x->dec, p, len, &o, derr, sizeof derr);
    if (rc == 0 && o.n_bad > 0) {
        snprintf(derr, sizeof derr, "%s", o.bad.reason);
        rc = -1;
    }
    for (size_t k = 0; rc == 0 && o.kind == DECODE_ROWS && k < o.n; k++)
        rc = bench_on_row(x, &o.rows[k]);
    if (rc != 0 && derr[0])
        snprintf(x->err, sizeof x->err, "entry %zu: %s", i, derr);
    return rc;
}

/* One batch, as the service handles it: canal_get's packet_decode and
 * canal_batch_parse_frame (on the payload: no copy), decode_next per entry.
 * --reference: the protobuf-c path (Messages unpack, decode_next_pbc). */
static int bench_once(bench_ctx *x, const uint8_t *payload, size_t len)
{
    packet_view pv;
    if (packet_decode(payload, len, &pv, x->err, sizeof x->err) != 0)
        return -1;
    int rc = -1;
    Canalpb__Messages *m = NULL;
    canal_batch *b = NULL;
    if (pv.type != CANALPB__PACKET_TYPE__MESSAGES) {
        snprintf(x->err, sizeof x->err, "packet type %d is not MESSAGES (7)", (int)pv.type);
        goto out;
    }
    if (x->reference) {
        m = canalpb__messages__unpack(NULL, pv.body_len, pv.body);
        if (m == NULL) {
            snprintf(x->err, sizeof x->err, "body is not a Messages");
            goto out;
        }
        for (size_t i = 0; i < m->n_messages; i++)
            if (bench_entry(x, i, m->messages[i].data, m->messages[i].len) != 0)
                goto out;
        rc = 0;
        goto out;
    }
    /* canal_get hands a big body's frame buffer to the batch; here the payload stays ours */
    b = canal_batch_parse_frame(pv.body, pv.body_len, NULL, x->err, sizeof x->err);
    if (b == NULL)
        goto out;
    for (size_t i = 0; i < b->n; i++)
        if (bench_entry(x, i, b->entries[i].p, b->entries[i].len) != 0)
            goto out;
    rc = 0;
out:
    canal_batch_free(b);
    if (m)
        canalpb__messages__free_unpacked(m, NULL);
    packet_free(&pv);
    return rc;
}

static double bench_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_now(void) { return bench_clock(CLOCK_MONOTONIC); }

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-transform [--iterations N] [--rows N] [--input FILE] [--write-input FILE]\n"
               "                       [--write-output FILE] [--decode-only] [--reference]\n"
               "  --iterations N     batches to transform (default: about %.0f s worth)\n"
               "  --rows N           rows in the generated batch (default 10000)\n"
               "  --input FILE       read one serialized MESSAGES Packet (raw, or with its frame length)\n"
               "  --write-input FILE write the generated Packet (raw Packet bytes) and go on\n"
               "  --write-output FILE write the NDJSON of one batch (to compare clients' output)\n"
               "  --decode-only      stop after decode_next (no map, no NDJSON): the protobuf share\n"
               "  --reference        decode with protobuf-c (Messages unpack, decode_next_pbc) to compare\n",
               BENCH_TARGET_SECONDS);
}

int main(int argc, char **argv)
{
    int64_t iterations = 0, nrows = 10000;
    int decode_only = 0, reference = 0;
    const char *input = NULL, *write_input = NULL, *write_output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--decode-only") == 0) {
            decode_only = 1;
            continue;
        } else if (strcmp(a, "--reference") == 0) {
            reference = 1;
            continue;
        } else if (strcmp(a, "--iterations") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, INT64_C(1000000000), &iterations) != 0;
        } else if (strcmp(a, "--rows") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, INT64_C(10000000), &nrows) != 0;
        } else if (strcmp(a, "--input") == 0) {
            input = v;
            bad = v == NULL;
        } else if (strcmp(a, "--write-output") == 0) {
            write_output = v;
            bad = v == NULL;
        } else if (strcmp(a, "--write-input") == 0) {
            write_input = v;
            bad = v == NULL;
        } else {
            fprintf(stderr, "bench-transform: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "bench-transform: %s needs a %s\n", a,
                    strstr(a, "input") ? "file name" : "positive integer");
            return 2;
        }
        i++;
    }
    ce_log_set_level(CE_LOG_WARN);

    int rc = 1;
    ce_buf packet;
    ce_buf_init(&packet, (size_t)1 << 30);
    cfg c = {0};
    char fb_index[] = "bench";
    cfg_table fallback = {.index = fb_index}; /* any other table: its isKey columns */
    bench_ctx x = {.c = &c, .fallback = &fallback, .decode_only = decode_only, .reference = reference};
    map_out_init(&x.mo);
    decode_init(&x.dec);
    int have_bulk = bulk_init(&x.b, BENCH_BODY_MAX) == 0;
    char err[512];
    if (!have_bulk) {
        fprintf(stderr, "bench-transform: out of memory\n");
        goto out;
    }
    size_t gen_rows = 0;
    if (input) {
        if (bench_read_file(input, &packet) != 0) {
            rc = 2;
            goto out;
        }
    } else if (bench_generate((size_t)nrows, &packet, &gen_rows) != 0) {
        fprintf(stderr, "bench-transform: cannot build the batch (out of memory)\n");
        goto out;
    }
    if (write_input && bench_write_file(write_input, &packet) != 0) {
        rc = 2;
        goto out;
    }
    if (cfg_load_string("[table bench.orders]\nindex = orders\nid = id\n", "bench.ini", &c, err, sizeof err) != 0) {
        fprintf(stderr, "bench-transform: %s\n", err);
        goto out;
    }

    if (write_output && (x.dump = fopen(write_output, "wb")) == NULL) {
        fprintf(stderr, "bench-transform: %s: %s\n", write_output, strerror(errno));
        rc = 2;
        goto out;
    }
    /* one warm-up batch: checks the input and sizes the run */
    double t0 = bench_now();
    if (bench_once(&x, packet.data, packet.len) != 0) {
        fprintf(stderr, "bench-transform: %s\n", x.err);
        goto out;
    }
    double one = bench_now() - t0;
    if (x.dump) {
        int bad = fwrite(x.b.body.data, 1, x.b.body.len, x.dump) != x.b.body.len;
        bad |= fclose(x.dump) != 0;
        x.dump = NULL;
        if (bad) {
            fprintf(stderr, "bench-transform: %s: write failed\n", write_output);
            rc = 2;
            goto out;
        }
    }
    uint64_t rows_per_batch = x.rows, actions_per_batch = x.actions;
    uint64_t out_per_batch = x.out_bytes + x.b.body.len;
    uint64_t entries_per_batch = x.dec.stats.entries;
    uint64_t ins = x.ops[ROW_INSERT], upd = x.ops[ROW_UPDATE], del = x.ops[ROW_DELETE];
    uint64_t begins = x.dec.stats.txn_begin, ends = x.dec.stats.txn_end;
    if (iterations == 0) {
        double want = BENCH_TARGET_SECONDS / (one > 1e-9 ? one : 1e-9);
        iterations = want < 1 ? 1 : want > 1e9 ? 1000000000 : (int64_t)want;
    }

    x.rows = x.actions = x.skipped = x.out_bytes = x.flushes = 0;
    bulk_reset(&x.b);
    t0 = bench_now();
    double c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
    for (int64_t it = 0; it < iterations; it++) {
        if (bench_once(&x, packet.data, packet.len) != 0) {
            fprintf(stderr, "bench-transform: iteration %lld: %s\n", (long long)it, x.err);
            goto out;
        }
    }
    double secs = bench_now() - t0;
    double cpu = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
    x.out_bytes += x.b.body.len;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double in_bytes = (double)packet.len * (double)iterations;
    printf("input: %s, %zu bytes, %llu entries, %llu rows per batch\n", input ? input : "generated", packet.len,
           (unsigned long long)entries_per_batch, (unsigned long long)rows_per_batch);
    printf("rows: %llu INSERT, %llu UPDATE, %llu DELETE; %llu BEGIN, %llu END entries\n", (unsigned long long)ins,
           (unsigned long long)upd, (unsigned long long)del, (unsigned long long)begins, (unsigned long long)ends);
    printf("per batch: %llu actions, %llu NDJSON bytes\n", (unsigned long long)actions_per_batch,
           (unsigned long long)out_per_batch);
    printf("iterations: %lld in %.3f s\n", (long long)iterations, secs);
    printf("rows/s: %.0f\n", (double)x.rows / secs);
    printf("rows per CPU second: %.0f (%.3f s of CPU: on a busy machine, the figure of this process alone)\n",
           (double)x.rows / (cpu > 1e-9 ? cpu : 1e-9), cpu);
    printf("input MB/s: %.1f\n", in_bytes / secs / 1e6);
    printf("output MB/s: %.1f\n", (double)x.out_bytes / secs / 1e6);
    printf("skipped rows: %llu\n", (unsigned long long)x.skipped);
    printf("peak RSS KiB: %ld\n", ru.ru_maxrss);
    rc = 0;
out:
    if (x.dump)
        fclose(x.dump);
    if (have_bulk)
        bulk_free(&x.b);
    decode_free(&x.dec);
    map_out_free(&x.mo);
    cfg_free(&c);
    ce_buf_free(&packet);
    return rc;
}
