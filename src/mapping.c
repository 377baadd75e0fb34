/* mapping: suggested index mappings from Canal's column types. */
#include "mapping.h"
#include "bulk/bulk.h"
#include "map/value.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_gen.h>

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

/* DECIMAL(p,s) as scaled_float (a long of value * 10^s) when the node's
 * double parse of the digits is exact: up to 15 significant digits. */
#define MAPPING_SCALED_MAX_DIGITS 15
/* DECIMAL(p,0) as long: 18 digits always fit. */
#define MAPPING_LONG_MAX_DIGITS 18

/* s of "name(p,s)": 0 when absent, -1 when not a number. */
static long mapping_scale(const char *mysql_type)
{
    const char *p = strchr(mysql_type, '(');
    const char *comma = p ? strchr(p, ',') : NULL;
    if (comma == NULL)
        return 0;
    long v = 0;
    for (comma++; *comma == ' '; comma++)
        ;
    for (; *comma >= '0' && *comma <= '9' && v < 1000; comma++)
        v = v * 10 + (*comma - '0');
    return *comma == ')' ? v : -1;
}

static mapping_ftype mapping_t(const char *type)
{
    mapping_ftype t = {.type = type, .scale = -1};
    return t;
}

/* BIGINT UNSIGNED and BIT(64): unsigned_long, or keyword where the node
 * lacks it (exact terms, never a rejected value; ranges are lexicographic). */
static mapping_ftype mapping_ulong(const mapping_caps *caps)
{
    return mapping_t(caps != NULL && caps->unsigned_long ? "unsigned_long" : "keyword");
}

static bool mapping_in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0)
            return true;
    return false;
}

mapping_ftype mapping_field_type(const cfg_table *rule, const char *column, const char *mysql_type,
                                 const mapping_caps *caps)
{
    static const char *const decimals[] = {"decimal", "numeric", "dec", "fixed", NULL};
    static const char *const dates[] = {"date", "datetime", "timestamp", NULL};
    static const char *const texts[] = {"tinytext", "text", "mediumtext", "longtext", NULL};
    static const char *const bins[] = {"binary", "varbinary", NULL};
    static const char *const blobs[] = {"tinyblob",   "blob",     "mediumblob", "longblob",
                                        "geometry",   "point",    "linestring", "polygon",
                                        "multipoint", "multipolygon", "multilinestring", "geometrycollection",
                                        NULL};
    mapping_ftype t = mapping_t(NULL);
    const value_opts *o = rule ? &rule->values : NULL;
    const value_conv *conv = o ? value_find_conv(o, column) : NULL;
    char base[32];
    mapping_base(mysql_type ? mysql_type : "", base, sizeof base);
    bool is_json = strcmp(base, "json") == 0 || (conv != NULL && conv->kind == VALUE_CONV_JSON);
    if (is_json && (conv == NULL || conv->kind == VALUE_CONV_JSON)) {
        if (rule != NULL && mapping_in_list(rule->flatten, rule->n_flatten, column)) {
            if (caps != NULL && caps->flat != NULL)
                return mapping_t(caps->flat);
            t = mapping_t("object");
            t.disabled = true;
            return t;
        }
        return mapping_t("object");
    }
    if (conv != NULL) {
        switch (conv->kind) {
        case VALUE_CONV_DROP:
            return t;
        case VALUE_CONV_STRING:
        case VALUE_CONV_SPLIT:
            return mapping_t("keyword");
        case VALUE_CONV_NUMBER:
            return mapping_t("double");
        case VALUE_CONV_BOOL:
            return mapping_t("boolean");
        case VALUE_CONV_BASE64:
            return mapping_t("binary");
        case VALUE_CONV_TEXT:
            t = mapping_t("text");
            t.keyword_sub = true;
            return t;
        case VALUE_CONV_JSON:
        case VALUE_CONV_NONE:
            break;
        }
    }
    bool uns = mysql_type && strstr(mysql_type, "unsigned") != NULL;
    value_blob_mode blob = o ? o->blob : VALUE_BLOB_AUTO;
    if (strcmp(base, "tinyint") == 0 || strcmp(base, "bool") == 0 || strcmp(base, "boolean") == 0)
        return mapping_t(uns ? "short" : "byte");
    if (strcmp(base, "smallint") == 0)
        return mapping_t(uns ? "integer" : "short");
    if (strcmp(base, "mediumint") == 0)
        return mapping_t("integer");
    if (strcmp(base, "int") == 0 || strcmp(base, "integer") == 0)
        return mapping_t(uns ? "long" : "integer");
    if (strcmp(base, "bigint") == 0)
        return uns ? mapping_ulong(caps) : mapping_t("long");
    if (mapping_is(base, decimals)) {
        long p = mapping_len(mysql_type);
        long s = mapping_scale(mysql_type);
        if (p < 0)
            p = 10; /* DECIMAL = DECIMAL(10,0) */
        if (s == 0 && p <= MAPPING_LONG_MAX_DIGITS)
            return mapping_t("long");
        if (s > 0 && p <= MAPPING_SCALED_MAX_DIGITS && !(caps != NULL && caps->no_scaled_float)) {
            t = mapping_t("scaled_float");
            t.scale = (int)s;
            return t;
        }
        return mapping_t("double");
    }
    if (strcmp(base, "float") == 0)
        return mapping_t("float");
    if (strcmp(base, "double") == 0 || strcmp(base, "real") == 0)
        return mapping_t("double");
    if (strcmp(base, "bit") == 0) {
        long n = mapping_len(mysql_type);
        if (n < 0)
            n = 1;
        return n <= 7 ? mapping_t("byte") : n <= 15 ? mapping_t("short") : n <= 31 ? mapping_t("integer")
             : n <= 63 ? mapping_t("long") : mapping_ulong(caps);
    }
    if (strcmp(base, "year") == 0)
        return mapping_t("short");
    if (mapping_is(base, dates)) {
        t = mapping_t("date");
        t.date_format = true;
        return t;
    }
    if (strcmp(base, "time") == 0 || strcmp(base, "enum") == 0 || strcmp(base, "set") == 0)
        return mapping_t("keyword");
    if (strcmp(base, "char") == 0 || strcmp(base, "varchar") == 0 || mapping_is(base, texts)) {
        t = mapping_t("text");
        t.keyword_sub = true;
        return t;
    }
    if (mapping_is(base, bins) || mapping_is(base, blobs)) {
        if (blob == VALUE_BLOB_BASE64)
            return mapping_t("binary");
        t = mapping_t(mapping_is(base, bins) && blob == VALUE_BLOB_AUTO ? "keyword" : "text");
        t.keyword_sub = strcmp(t.type, "text") == 0;
        t.ignore_above = strcmp(t.type, "keyword") == 0;
        return t;
    }
    t = mapping_t("text"); /* unknown types are sent as strings */
    t.keyword_sub = true;
    return t;
}

#define MAP_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), strlen(k))
#define MAPPING_KEYWORD_IGNORE_ABOVE 256

static yajl_gen_status mapping_kv(yajl_gen g, const char *k, const char *v)
{
    yajl_gen_status s = MAP_KEY(g, k);
    return s == yajl_gen_status_ok ? MAP_KEY(g, v) : s;
}

static yajl_gen_status mapping_field(yajl_gen g, const char *name, const mapping_ftype *t)
{
    yajl_gen_status s = MAP_KEY(g, name);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = mapping_kv(g, "type", t->type);
    if (s == yajl_gen_status_ok && t->scale >= 0) {
        char factor[40] = "1";
        for (int i = 0; i < t->scale && i + 2 < (int)sizeof factor; i++)
            factor[i + 1] = '0', factor[i + 2] = '\0';
        s = MAP_KEY(g, "scaling_factor");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_number(g, factor, strlen(factor));
    }
    if (s == yajl_gen_status_ok && t->date_format)
        s = mapping_kv(g, "format", MAPPING_DATE_FORMAT);
    if (s == yajl_gen_status_ok && t->disabled) {
        s = MAP_KEY(g, "enabled");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_bool(g, 0);
    }
    if (s == yajl_gen_status_ok && t->ignore_above) {
        s = MAP_KEY(g, "ignore_above");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_integer(g, MAPPING_KEYWORD_IGNORE_ABOVE);
    }
    if (s == yajl_gen_status_ok && t->keyword_sub) {
        s = MAP_KEY(g, "fields");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok)
            s = MAP_KEY(g, "keyword");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok)
            s = mapping_kv(g, "type", "keyword");
        if (s == yajl_gen_status_ok)
            s = MAP_KEY(g, "ignore_above");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_integer(g, MAPPING_KEYWORD_IGNORE_ABOVE);
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s;
}

size_t mapping_columns(const cfg_table *rule, const row_image *img, const mapping_caps *caps, mapping_col *out,
                       size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        const char *field = bulk_field_name(rule, c->name);
        if (field == NULL)
            continue;
        mapping_ftype t = mapping_field_type(rule, c->name, c->mysql_type, caps);
        if (t.type == NULL)
            continue;
        bool dup = false; /* two columns renamed to one field: the first wins, as in the document */
        for (size_t k = 0; k < n && k < cap && !dup; k++)
            dup = strcmp(out[k].field, field) == 0;
        if (dup)
            continue;
        if (n < cap)
            out[n] = (mapping_col){.field = field, .column = c->name, .mysql_type = c->mysql_type, .t = t};
        n++;
    }
    for (size_t i = 0; rule != NULL && i < rule->n_add_field; i++, n++)
        if (n < cap)
            out[n] = (mapping_col){.field = rule->add_field[i].a, .t = mapping_t("keyword")};
    if (rule != NULL && rule->delete_mode == CFG_DELETE_SOFT) {
        if (n < cap)
            out[n] = (mapping_col){.field = rule->soft_field, .t = mapping_t("boolean")};
        n++;
    }
    return n;
}

void mapping_type_text(const mapping_ftype *t, char *out, size_t outlen)
{
    if (t->scale >= 0)
        snprintf(out, outlen, "%s (scaling_factor 10^%d)", t->type, t->scale);
    else
        snprintf(out, outlen, "%s%s", t->type, t->disabled ? " (enabled: false)" : "");
}

bool mapping_same_type(const mapping_ftype *a, const mapping_ftype *b)
{
    return strcmp(a->type, b->type) == 0 && a->scale == b->scale && a->disabled == b->disabled;
}

typedef struct mapping_out_sink {
    ce_buf *out;
    bool overflow;
} mapping_out_sink;

static void mapping_print(void *ctx, const char *str, size_t len)
{
    mapping_out_sink *m = ctx;
    if (!m->overflow && ce_buf_append(m->out, str, len) != 0)
        m->overflow = true;
}

int mapping_write(const cfg_table *rule, const mapping_col *cols, size_t n, int flags, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -1;
    if (flags & MAPPING_PRETTY) {
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_config(g, yajl_gen_indent_string, "  ");
    }
    mapping_out_sink ms = {.out = out};
    yajl_gen_config(g, yajl_gen_print_callback, mapping_print, &ms);
    size_t start = out->len;
    int depth = 0;
    yajl_gen_status s = yajl_gen_map_open(g);
    depth++;
    if (!(flags & MAPPING_PROPERTIES_ONLY)) {
        if (s == yajl_gen_status_ok)
            s = MAP_KEY(g, "mappings");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_open(g);
        depth++;
        if (s == yajl_gen_status_ok)
            s = MAP_KEY(g, "_meta");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok)
            s = mapping_kv(g, MAPPING_META_KEY, "auto");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
        if (s == yajl_gen_status_ok && rule != NULL && rule->routing != NULL) {
            s = MAP_KEY(g, "_routing"); /* every action carries the routing column's value */
            if (s == yajl_gen_status_ok)
                s = yajl_gen_map_open(g);
            if (s == yajl_gen_status_ok)
                s = MAP_KEY(g, "required");
            if (s == yajl_gen_status_ok)
                s = yajl_gen_bool(g, 1);
            if (s == yajl_gen_status_ok)
                s = yajl_gen_map_close(g);
        }
    }
    if (s == yajl_gen_status_ok)
        s = MAP_KEY(g, "properties");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    depth++;
    for (size_t i = 0; i < n && s == yajl_gen_status_ok; i++)
        s = mapping_field(g, cols[i].field, &cols[i].t);
    for (; depth > 0 && s == yajl_gen_status_ok; depth--)
        s = yajl_gen_map_close(g);
    yajl_gen_free(g);
    if (s != yajl_gen_status_ok || ms.overflow || ce_buf_terminate(out) != 0) {
        out->len = start;
        return -1;
    }
    return 0;
}

int mapping_suggest(const cfg_table *rule, const row_image *img, const mapping_caps *caps, int flags, ce_buf *out)
{
    size_t n = mapping_columns(rule, img, caps, NULL, 0);
    mapping_col *cols = ce_calloc(n ? n : 1, sizeof *cols);
    if (cols == NULL)
        return -1;
    n = mapping_columns(rule, img, caps, cols, n);
    int rc = mapping_write(rule, cols, n, flags, out);
    ce_free(cols);
    return rc;
}

/* Integer field types by range; -1 when not one. */
static int mapping_int_rank(const char *type)
{
    static const char *const ranks[] = {"byte", "short", "integer", "long", NULL};
    for (int i = 0; ranks[i]; i++)
        if (strcmp(type, ranks[i]) == 0)
            return i;
    return -1;
}

static bool mapping_is_string_type(const char *type)
{
    static const char *const names[] = {"keyword", "text", "wildcard", "match_only_text", "search_as_you_type",
                                        "constant_keyword", NULL};
    return mapping_is(type, names);
}

/* The format (a||b||...) has one of names. */
static bool mapping_format_has(const char *format, const char *const *names)
{
    char one[128];
    for (const char *q = format; *q;) {
        const char *e = strstr(q, "||");
        size_t n = e ? (size_t)(e - q) : strlen(q);
        snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), q);
        if (mapping_is(one, names))
            return true;
        q += n + (e ? 2 : 0);
    }
    return false;
}

const char *mapping_field_problem(const cfg_table *rule, const char *column, const char *mysql_type, const char *type,
                                  const char *format, double scaling_factor, char *out, size_t outlen)
{
    const mapping_caps all = {.unsigned_long = true, .flat = "flat_object"};
    mapping_ftype d = mapping_field_type(rule, column, mysql_type, &all);
    if (d.type == NULL || type == NULL)
        return NULL;
    char want[96];
    mapping_type_text(&d, want, sizeof want);
    const char *mt = mysql_type ? mysql_type : "?";
    int have_rank = mapping_int_rank(type);
    bool have_num = have_rank >= 0 || strcmp(type, "unsigned_long") == 0 || strcmp(type, "double") == 0 ||
                    strcmp(type, "float") == 0 || strcmp(type, "half_float") == 0 ||
                    strcmp(type, "scaled_float") == 0;
    bool have_str = mapping_is_string_type(type);
    int want_rank = mapping_int_rank(d.type);
    bool want_ulong = strcmp(d.type, "unsigned_long") == 0;
    if (want_rank >= 0 || want_ulong) {
        if (have_str || strcmp(type, "double") == 0 || strcmp(type, "float") == 0 || strcmp(type, "scaled_float") == 0)
            return NULL;
        if (strcmp(type, "unsigned_long") == 0) {
            if (want_ulong || (mysql_type && strstr(mysql_type, "unsigned")) || strncmp(mt, "bit", 3) == 0)
                return NULL;
            snprintf(out, outlen, "unsigned_long cannot hold the negative values of %s (fix: %s)", mt, want);
            return out;
        }
        if (have_rank >= 0 && (want_ulong || have_rank < want_rank)) {
            snprintf(out, outlen, "%s cannot hold every value of %s, e.g. %s (fix: %s%s)", type, mt,
                     want_ulong ? "18446744073709551615" : want_rank == 3 ? "4294967295" : "2147483647", want,
                     want_ulong ? ", or keyword where the node has no unsigned_long" : "");
            return out;
        }
        if (have_rank >= 0)
            return NULL;
    } else if (strcmp(d.type, "scaled_float") == 0 || strcmp(d.type, "double") == 0 ||
               strcmp(d.type, "float") == 0) {
        if (have_str || strcmp(type, "double") == 0 || strcmp(type, "float") == 0)
            return NULL;
        if (strcmp(type, "scaled_float") == 0) {
            double need = 1;
            for (int i = 0; i < d.scale; i++)
                need *= 10;
            if (d.scale < 0 || scaling_factor <= 0 || scaling_factor >= need * 0.999)
                return NULL;
            snprintf(out, outlen, "scaling_factor %g rounds the %d decimals of %s (fix: %s)", scaling_factor,
                     d.scale, mt, want);
            return out;
        }
        if (have_num) {
            snprintf(out, outlen, "%s drops the fraction of %s values (fix: %s)", type, mt, want);
            return out;
        }
    } else if (strcmp(d.type, "date") == 0) {
        static const char *const any[] = {"strict_date_optional_time", "date_optional_time",
                                          "strict_date_optional_time_nanos", NULL};
        static const char *const date_only[] = {"strict_date", "date", "yyyy-MM-dd", "strict_date_optional_time",
                                                "date_optional_time", "strict_date_optional_time_nanos", NULL};
        char base[32];
        mapping_base(mt, base, sizeof base);
        bool is_date = strcmp(base, "date") == 0;
        if (have_str)
            return NULL;
        if (strcmp(type, "date") == 0 || strcmp(type, "date_nanos") == 0) {
            if (strcmp(type, "date_nanos") == 0) {
                snprintf(out, outlen, "date_nanos cannot hold %s values before 1970 (fix: date, format %s)", mt,
                         MAPPING_DATE_FORMAT);
                return out;
            }
            if (format == NULL || mapping_format_has(format, is_date ? date_only : any))
                return NULL;
            snprintf(out, outlen,
                     "format %s does not accept what canal-es sends for %s (e.g. %s, with the configured offset "
                     "when timezone is set) (fix: format %s)",
                     format, mt, is_date ? "2024-02-29" : "2024-02-29T23:59:59.123456", MAPPING_DATE_FORMAT);
            return out;
        }
    } else if (strcmp(d.type, "object") == 0 || strcmp(d.type, "flat_object") == 0) {
        static const char *const objs[] = {"object", "nested", "flat_object", "flattened", NULL};
        if (mapping_is(type, objs))
            return NULL;
    } else if (strcmp(d.type, "binary") == 0) {
        if (have_str || strcmp(type, "binary") == 0)
            return NULL;
    } else if (strcmp(d.type, "boolean") == 0) {
        if (have_str || strcmp(type, "boolean") == 0)
            return NULL;
    } else { /* strings: text, keyword */
        if (have_str)
            return NULL;
    }
    snprintf(out, outlen, "%s cannot hold the %s values canal-es sends for %s (fix: %s)", type, d.type, mt, want);
    return out;
}
