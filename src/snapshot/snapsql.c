/* snapsql: SQL text and Canal's value text for the snapshot, without I/O.
 * Literals are built from bytes the server returned; every piece that comes
 * from the server is either hex-encoded, checked against a short alphabet
 * (numbers, dates, charset names) or a backtick-quoted identifier. */
#include "snapshot/snapsql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool snap_is(const char *t, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(t, *list) == 0)
            return true;
    return false;
}

void snap_col_classify(snap_col *c)
{
    static const char *const nums[] = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal",
                                       "numeric", "float", "double", "real", "year", "bit", "enum", "set", NULL};
    static const char *const strs[] = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", NULL};
    static const char *const bins[] = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", NULL};
    static const char *const times[] = {"date", "datetime", "timestamp", "time", NULL};
    static const char *const geoms[] = {"geometry", "point", "linestring", "polygon", "multipoint",
                                        "multilinestring", "multipolygon", "geometrycollection", NULL};
    const char *t = c->data_type;
    c->key_kind = snap_is(t, nums)    ? SNAP_KEY_NUM
                  : snap_is(t, strs)  ? (c->charset && c->collation ? SNAP_KEY_STR : SNAP_KEY_NONE)
                  : snap_is(t, bins)  ? SNAP_KEY_BIN
                  : snap_is(t, times) ? SNAP_KEY_TIME
                                      : SNAP_KEY_NONE;
    if (strcmp(t, "float") == 0)
        c->val_kind = SNAP_VAL_FLOAT;
    else if (strcmp(t, "double") == 0 || strcmp(t, "real") == 0)
        c->val_kind = SNAP_VAL_DOUBLE;
    else if (strcmp(t, "binary") == 0)
        c->val_kind = SNAP_VAL_BINARY_N;
    else if (snap_is(t, bins) || snap_is(t, geoms))
        c->val_kind = SNAP_VAL_BYTES;
    else
        c->val_kind = SNAP_VAL_RAW;
}

int snap_quote_ident(ce_buf *b, const char *name)
{
    if (ce_buf_putc(b, '`') != 0)
        return -1;
    for (const char *q = name; *q; q++) {
        if (*q == '`' && ce_buf_putc(b, '`') != 0)
            return -1;
        if (ce_buf_putc(b, (uint8_t)*q) != 0)
            return -1;
    }
    return ce_buf_putc(b, '`');
}

static int snap_hex(ce_buf *b, const char *v, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    if (ce_buf_append_str(b, "X'") != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)v[i];
        if (ce_buf_putc(b, (uint8_t)digits[c >> 4]) != 0 || ce_buf_putc(b, (uint8_t)digits[c & 15]) != 0)
            return -1;
    }
    return ce_buf_putc(b, '\'');
}

static bool snap_only(const char *v, size_t len, const char *alphabet)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (v[i] == '\0' || strchr(alphabet, v[i]) == NULL)
            return false;
    return true;
}

int snap_key_literal(ce_buf *b, const snap_col *c, const char *v, size_t len, char *err, size_t errlen)
{
    switch (c->key_kind) {
    case SNAP_KEY_NUM:
        if (!snap_only(v, len, "0123456789+-.eE"))
            break;
        return ce_buf_append(b, v, len);
    case SNAP_KEY_TIME:
        if (!snap_only(v, len, "0123456789-:. "))
            break;
        if (ce_buf_putc(b, '\'') != 0 || ce_buf_append(b, v, len) != 0)
            return -1;
        return ce_buf_putc(b, '\'');
    case SNAP_KEY_STR: {
        static const char names[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        if (!snap_only(c->charset, strlen(c->charset), names) || !snap_only(c->collation, strlen(c->collation), names))
            break;
        if (ce_buf_putc(b, '_') != 0 || ce_buf_append_str(b, c->charset) != 0 || ce_buf_putc(b, ' ') != 0 ||
            snap_hex(b, v, len) != 0 || ce_buf_append_str(b, " COLLATE ") != 0 ||
            ce_buf_append_str(b, c->collation) != 0)
            return -1;
        return 0;
    }
    case SNAP_KEY_BIN:
        return snap_hex(b, v, len);
    case SNAP_KEY_NONE:
        break;
    }
    snprintf(err, errlen, "key column %s (%s): value '%.*s' cannot be written back as a %s literal", c->name,
             c->column_type, (int)(len > 40 ? 40 : len), v, c->data_type);
    return -1;
}

static int snap_value_expr(ce_buf *b, const snap_col *c)
{
    const char *t = c->data_type;
    int rc = 0;
    if (strcmp(t, "enum") == 0 || strcmp(t, "set") == 0) {
        /* Canal sends the 1-based index and the bitmask */
        rc |= ce_buf_putc(b, '(');
        rc |= snap_quote_ident(b, c->name);
        rc |= ce_buf_append_str(b, " + 0)");
    } else if (strcmp(t, "bit") == 0) {
        /* Canal sends the unsigned number */
        rc |= ce_buf_append_str(b, "CAST(");
        rc |= snap_quote_ident(b, c->name);
        rc |= ce_buf_append_str(b, " AS UNSIGNED)");
    } else if (c->val_kind == SNAP_VAL_FLOAT) {
        /* the text protocol prints FLOAT with 6 digits; as DOUBLE it is exact
         * (also as a key value written back into the predicate) */
        rc |= ce_buf_append_str(b, "CAST(");
        rc |= snap_quote_ident(b, c->name);
        rc |= ce_buf_append_str(b, " AS DOUBLE)");
    } else {
        rc |= snap_quote_ident(b, c->name);
    }
    return rc ? -1 : 0;
}

int snap_build_select(ce_buf *b, const snap_table *t, const char *const *last, long limit)
{
    int rc = ce_buf_append_str(b, "SELECT ");
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0)
            rc |= ce_buf_append_str(b, ", ");
        rc |= snap_value_expr(b, &t->cols[i]);
    }
    for (size_t i = 0; i < t->n_key; i++) {
        rc |= ce_buf_append_str(b, ", ");
        rc |= snap_value_expr(b, &t->cols[t->key[i]]);
    }
    rc |= ce_buf_append_str(b, " FROM ");
    rc |= snap_quote_ident(b, t->db);
    rc |= ce_buf_putc(b, '.');
    rc |= snap_quote_ident(b, t->table);
    rc |= ce_buf_append_str(b, " FORCE INDEX (");
    rc |= snap_quote_ident(b, t->key_name);
    rc |= ce_buf_putc(b, ')');
    if (last != NULL) {
        /* k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...: an index range MariaDB can use,
         * where the row constructor (k1, k2) > (v1, v2) would scan */
        rc |= ce_buf_append_str(b, " WHERE ");
        for (size_t i = 0; i < t->n_key; i++) {
            if (i > 0)
                rc |= ce_buf_append_str(b, " OR (");
            for (size_t j = 0; j < i; j++) {
                rc |= snap_quote_ident(b, t->cols[t->key[j]].name);
                rc |= ce_buf_append_str(b, " = ");
                rc |= ce_buf_append_str(b, last[j]);
                rc |= ce_buf_append_str(b, " AND ");
            }
            rc |= snap_quote_ident(b, t->cols[t->key[i]].name);
            rc |= ce_buf_append_str(b, " > ");
            rc |= ce_buf_append_str(b, last[i]);
            if (i > 0)
                rc |= ce_buf_putc(b, ')');
        }
    }
    rc |= ce_buf_append_str(b, " ORDER BY ");
    for (size_t i = 0; i < t->n_key; i++) {
        if (i > 0)
            rc |= ce_buf_append_str(b, ", ");
        rc |= snap_quote_ident(b, t->cols[t->key[i]].name);
    }
    char lim[40];
    snprintf(lim, sizeof lim, " LIMIT %ld", limit);
    rc |= ce_buf_append_str(b, lim);
    rc |= ce_buf_terminate(b);
    return rc ? -1 : 0;
}

int snap_java_double(double d, bool is_float, char *out, size_t outlen)
{
    int n;
    if (isnan(d)) {
        n = snprintf(out, outlen, "NaN");
        return n < 0 || (size_t)n >= outlen ? -1 : 0;
    }
    float f = (float)d;
    if (isinf(is_float ? (double)f : d)) {
        n = snprintf(out, outlen, "%sInfinity", d < 0 ? "-" : "");
        return n < 0 || (size_t)n >= outlen ? -1 : 0;
    }
    if (d == 0) {
        n = snprintf(out, outlen, "%s0.0", signbit(d) ? "-" : "");
        return n < 0 || (size_t)n >= outlen ? -1 : 0;
    }
    /* the shortest digits that read back as the same value, like Java's FloatingDecimal */
    char buf[48];
    double x = is_float ? (double)f : d;
    for (int p = 1; p <= (is_float ? 9 : 17); p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (is_float ? strtof(buf, NULL) == f : strtod(buf, NULL) == d)
            break;
    }
    bool neg = buf[0] == '-';
    char digits[24];
    size_t nd = 0;
    const char *q = buf + (neg ? 1 : 0);
    for (; *q && *q != 'e' && nd < sizeof digits - 1; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    long e = *q == 'e' ? strtol(q + 1, NULL, 10) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    char res[64];
    size_t r = 0;
    if (neg)
        res[r++] = '-';
    if (e >= -3 && e < 7) {
        if (e < 0) {
            res[r++] = '0';
            res[r++] = '.';
            for (long z = 0; z < -e - 1; z++)
                res[r++] = '0';
            memcpy(res + r, digits, nd);
            r += nd;
        } else {
            for (long i = 0; i <= e; i++)
                res[r++] = (size_t)i < nd ? digits[i] : '0';
            res[r++] = '.';
            if ((size_t)e + 1 < nd) {
                memcpy(res + r, digits + e + 1, nd - (size_t)e - 1);
                r += nd - (size_t)e - 1;
            } else {
                res[r++] = '0';
            }
        }
        res[r] = '\0';
    } else {
        res[r++] = digits[0];
        res[r++] = '.';
        if (nd > 1) {
            memcpy(res + r, digits + 1, nd - 1);
            r += nd - 1;
        } else {
            res[r++] = '0';
        }
        snprintf(res + r, sizeof res - r, "E%ld", e);
    }
    n = snprintf(out, outlen, "%s", res);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int snap_canal_text(ce_buf *b, snap_val_kind k, const char *v, size_t len)
{
    switch (k) {
    case SNAP_VAL_FLOAT:
    case SNAP_VAL_DOUBLE: {
        char num[64], out[40];
        if (len == 0 || len >= sizeof num)
            return -1;
        memcpy(num, v, len);
        num[len] = '\0';
        char *end = NULL;
        double d = strtod(num, &end);
        if (end == num || *end != '\0' || snap_java_double(d, k == SNAP_VAL_FLOAT, out, sizeof out) != 0)
            return -1;
        return ce_buf_append_str(b, out);
    }
    case SNAP_VAL_BINARY_N:
        while (len > 0 && v[len - 1] == '\0')
            len--;
        /* fall through */
    case SNAP_VAL_BYTES:
        for (size_t i = 0; i < len; i++) {
            uint8_t c = (uint8_t)v[i];
            int rc = c < 0x80 ? ce_buf_putc(b, c)
                              : (ce_buf_putc(b, (uint8_t)(0xC0 | (c >> 6))) |
                                 ce_buf_putc(b, (uint8_t)(0x80 | (c & 0x3F))));
            if (rc != 0)
                return -1;
        }
        return 0;
    case SNAP_VAL_RAW:
        break;
    }
    return ce_buf_append(b, v, len);
}
