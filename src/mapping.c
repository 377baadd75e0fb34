/* mapping: suggested index mappings from Canal's column types. */
#include "mapping.h"
#include "bulk/bulk.h"
#include "run.h"
#include "map/value.h"
#include "source/canal.h"
#include "util/log.h"
#include "util/parse.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#define MAPPING_MAX_BATCHES 60 /* below the client's 64 un-acked batches */
#define MAPPING_OBJECT_DISABLED "object-disabled"

/* The base type: the lowercase word before '(' or ' '. */
static void mapping_base(const char *mysql_type, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *q = mysql_type; *q && *q != '(' && *q != ' ' && n + 1 < outlen; q++)
        out[n++] = (*q >= 'A' && *q <= 'Z') ? (char)(*q - 'A' + 'a') : *q;
    out[n] = '\0';
}

static bool mapping_is(const char *base, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(base, *names) == 0)
            return true;
    return false;
}

/* n of "name(n)" or -1. */
static long mapping_len(const char *mysql_type)
{
    const char *p = strchr(mysql_type, '(');
    if (p == NULL)
        return -1;
    long v = 0;
    for (p++; *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    return *p == ')' || *p == ',' ? v : -1;
}

const char *mapping_field_type(const cfg_table *rule, const char *column, const char *mysql_type)
{
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", NULL};
    static const char *const decimals[] = {"decimal", "numeric", "dec", "fixed", NULL};
    static const char *const floats[] = {"float", "double", "real", NULL};
    static const char *const dates[] = {"date", "datetime", "timestamp", NULL};
    static const char *const texts[] = {"tinytext", "text", "mediumtext", "longtext", NULL};
    static const char *const bins[] = {"binary", "varbinary", NULL};
    static const char *const blobs[] = {"tinyblob",   "blob",     "mediumblob", "longblob",
                                        "geometry",   "point",    "linestring", "polygon",
                                        "multipoint", "multipolygon", "multilinestring", "geometrycollection",
                                        NULL};
    const value_opts *o = rule ? &rule->values : NULL;
    const value_conv *conv = o ? value_find_conv(o, column) : NULL;
    if (conv != NULL) {
        switch (conv->kind) {
        case VALUE_CONV_DROP:
            return NULL;
        case VALUE_CONV_STRING:
        case VALUE_CONV_SPLIT:
            return "keyword";
        case VALUE_CONV_NUMBER:
            return "double";
        case VALUE_CONV_BOOL:
            return "boolean";
        case VALUE_CONV_JSON:
            return MAPPING_OBJECT_DISABLED;
        case VALUE_CONV_BASE64:
            return "binary";
        case VALUE_CONV_TEXT:
            return "text";
        case VALUE_CONV_NONE:
            break;
        }
    }
    char base[32];
    mapping_base(mysql_type ? mysql_type : "", base, sizeof base);
    bool is_unsigned = mysql_type && strstr(mysql_type, "unsigned") != NULL;
    value_blob_mode blob = o ? o->blob : VALUE_BLOB_AUTO;
    if (mapping_is(base, ints))
        return strcmp(base, "bigint") == 0 && is_unsigned ? "unsigned_long" : "long";
    if (mapping_is(base, decimals))
        return o && o->decimal == VALUE_DECIMAL_NUMBER ? "double" : "keyword";
    if (mapping_is(base, floats))
        return "double";
    if (strcmp(base, "bit") == 0)
        return mapping_len(mysql_type) > 63 ? "unsigned_long" : "long";
    if (strcmp(base, "year") == 0)
        return "integer";
    if (mapping_is(base, dates))
        return "date";
    if (strcmp(base, "time") == 0 || strcmp(base, "enum") == 0 || strcmp(base, "set") == 0)
        return "keyword";
    if (strcmp(base, "char") == 0 || strcmp(base, "varchar") == 0)
        return mapping_len(mysql_type) > 256 ? "text" : "keyword";
    if (mapping_is(base, texts))
        return "text";
    if (strcmp(base, "json") == 0)
        return MAPPING_OBJECT_DISABLED;
    if (mapping_is(base, bins))
        return blob == VALUE_BLOB_BASE64 ? "binary" : "keyword";
    if (mapping_is(base, blobs))
        return blob == VALUE_BLOB_BASE64 ? "binary" : "text";
    return "keyword";
}

#define MAP_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), strlen(k))

static yajl_gen_status mapping_field(yajl_gen g, const char *name, const char *type)
{
    yajl_gen_status s = MAP_KEY(g, name);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = MAP_KEY(g, "type");
    bool disabled = strcmp(type, MAPPING_OBJECT_DISABLED) == 0;
    if (s == yajl_gen_status_ok)
        s = MAP_KEY(g, disabled ? "object" : type);
    if (s == yajl_gen_status_ok && disabled) {
        s = MAP_KEY(g, "enabled");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_bool(g, 0);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s;
}

typedef struct mapping_sink {
    ce_buf *out;
    bool overflow;
} mapping_sink;

static void mapping_print(void *ctx, const char *str, size_t len)
{
    mapping_sink *m = ctx;
    if (!m->overflow && ce_buf_append(m->out, str, len) != 0)
        m->overflow = true;
}

int mapping_suggest(const cfg_table *rule, const row_image *img, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -1;
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_indent_string, "  ");
    mapping_sink sink = {.out = out};
    yajl_gen_config(g, yajl_gen_print_callback, mapping_print, &sink);
    size_t start = out->len;
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = MAP_KEY(g, "mappings");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = MAP_KEY(g, "properties");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    for (size_t i = 0; i < img->n && s == yajl_gen_status_ok; i++) {
        const row_col *c = &img->cols[i];
        const char *field = bulk_field_name(rule, c->name);
        const char *type = field ? mapping_field_type(rule, c->name, c->mysql_type) : NULL;
        if (type != NULL)
            s = mapping_field(g, field, type);
    }
    for (size_t i = 0; rule != NULL && i < rule->n_add_field && s == yajl_gen_status_ok; i++)
        s = mapping_field(g, rule->add_field[i].a, "keyword");
    if (s == yajl_gen_status_ok && rule != NULL && rule->delete_mode == CFG_DELETE_SOFT)
        s = mapping_field(g, rule->soft_field, "boolean");
    for (int k = 0; k < 3 && s == yajl_gen_status_ok; k++)
        s = yajl_gen_map_close(g);
    yajl_gen_free(g);
    /* beautify ends the document with a newline */
    if (s != yajl_gen_status_ok || sink.overflow || ce_buf_terminate(out) != 0) {
        out->len = start;
        return -1;
    }
    return 0;
}

typedef struct mapping_find {
    const char *db;
    const char *table;
    const cfg_table *rule;
    ce_buf *out;
    int found;
} mapping_find;

static int mapping_on_row(void *ud, const row_event *ev)
{
    mapping_find *f = ud;
    if (strcmp(ev->schema, f->db) != 0 || strcmp(ev->table, f->table) != 0)
        return 0;
    const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
    if (mapping_suggest(f->rule, img, f->out) != 0)
        return -1;
    f->found = 1;
    return 1; /* stop decoding */
}

static const char mapping_help[] =
    "usage: canal-es mapping -c FILE --table DB.TABLE [--timeout SECONDS]\n"
    "\n"
    "Prints a suggested index mapping (settings are yours to add) for DB.TABLE, from the column types\n"
    "Canal reports in its next change of that table, under the table's [table] rule (convert,\n"
    "decimal, blob, include/exclude, rename, add_field, delete = soft:FIELD). It reads the batches\n"
    "waiting in Canal without acking them (the service gets them again), up to 60 batches or\n"
    "SECONDS (default 60) of waiting: make a change to the table meanwhile if none is pending.\n"
    "Run it while the service is stopped: Canal serves one client per destination at a time.\n"
    "\n"
    "exit status: 0 printed, 1 no change of the table seen, 2 usage or configuration error\n";

int mapping_main(int argc, char **argv)
{
    const char *path = NULL, *spec = NULL;
    long timeout_s = 60;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            spec = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            int64_t v = 0;
            if (ce_parse_i64(argv[++i], 1, 86400, &v) != 0) {
                fprintf(stderr, "canal-es mapping: --timeout must be 1..86400 seconds\n");
                return 2;
            }
            timeout_s = (long)v;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(mapping_help, stdout);
            return 0;
        } else {
            fprintf(stderr, "canal-es mapping: unexpected argument '%s'\n%s", argv[i], mapping_help);
            return 2;
        }
    }
    const char *dot = spec ? strchr(spec, '.') : NULL;
    if (path == NULL || spec == NULL || dot == NULL || dot == spec || dot[1] == '\0' || dot - spec >= 256) {
        fprintf(stderr, "canal-es mapping: -c FILE and --table DB.TABLE are required\n%s", mapping_help);
        return 2;
    }
    char db[256];
    snprintf(db, sizeof db, "%.*s", (int)(dot - spec), spec);
    const char *table = dot + 1;
    cfg c;
    char err[1024];
    if (cfg_load(path, &c, err, sizeof err) != 0) {
        ce_log_print(stderr, "canal-es: %s", err);
        return 2;
    }
    int rc = 1;
    canal_client *cc = NULL;
    ce_buf out;
    ce_buf_init(&out, 1u << 20);
    decode_ctx dec;
    decode_init(&dec);
    const cfg_table *rule = cfg_find_table(&c, db, table);
    if (rule == NULL)
        ce_log_print(stderr, "canal-es mapping: no [table] rule of %s matches %s: suggesting with the defaults", path,
                     spec);
    ce_log_set_destination(c.canal.destination);
    canal_opts co;
    run_canal_opts(&c, &co);
    co.fetch_timeout_ms = 1000;
    cc = canal_new(&co);
    if (cc == NULL) {
        fprintf(stderr, "canal-es mapping: out of memory\n");
        goto out;
    }
    if (canal_connect(cc, err, sizeof err) != CANAL_OK) {
        ce_log_print(stderr, "canal-es mapping: %s", err);
        goto out;
    }
    mapping_find f = {.db = db, .table = table, .rule = rule, .out = &out};
    time_t deadline = time(NULL) + timeout_s;
    int batches = 0;
    while (!f.found && batches < MAPPING_MAX_BATCHES && time(NULL) < deadline) {
        Canalpb__Messages *m = NULL;
        if (canal_get(cc, &m, err, sizeof err) != CANAL_OK) {
            ce_log_print(stderr, "canal-es mapping: %s", err);
            goto out;
        }
        if (m == NULL)
            continue; /* nothing pending: the GET waited fetch_timeout_ms */
        batches++;
        for (size_t i = 0; i < m->n_messages && !f.found; i++) {
            int dr = decode_entry(&dec, m->messages[i].data, m->messages[i].len, mapping_on_row, &f, err, sizeof err);
            if (dr < 0 && !f.found) {
                ce_log_print(stderr, "canal-es mapping: batch %lld: %s", (long long)m->batch_id, err);
                canal_messages_free(m);
                goto out;
            }
        }
        canal_messages_free(m);
    }
    if (f.found) {
        fputs((const char *)out.data, stdout);
        rc = 0;
    } else {
        ce_log_print(stderr,
                     "canal-es mapping: no change of %s in %d batch(es) / %ld s: write to the table (or raise --timeout) "
                     "and run it again",
                     spec, batches, timeout_s);
    }
out:
    canal_free(cc); /* nothing acked: the batches are redelivered after the next connect's rollback */
    decode_free(&dec);
    ce_buf_free(&out);
    cfg_free(&c);
    return rc;
}
