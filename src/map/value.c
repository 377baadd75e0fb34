/* map/value: Canal column text → JSON value (rules in docs/type-mapping.md).
 * Facts about what Canal sends come from its LogEventConvert/RowsLogBuffer:
 * integers, BIT and SET bitmasks and ENUM indexes as decimal text, DECIMAL via
 * toPlainString, dates as text, binary/BLOB bytes mapped one byte per code
 * point (ISO-8859-1). Values are written as JSON text straight into the
 * caller's buffer: strings through ce_utf8_json_append (repair and escape in
 * one pass), numbers and literals as they are. Intermediate text lives in the
 * ctx buffers: `bytes` holds recovered bytes / unescaped members, `scratch`
 * canonical numbers and padded decimals; neither is ever the output. */
#include "map/value.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_parse.h>

typedef enum {
    VT_STRING = 0,
    VT_INT,
    VT_DECIMAL,
    VT_FLOAT,
    VT_BIT,
    VT_YEAR,
    VT_DATE,
    VT_DATETIME,
    VT_TIME,
    VT_ENUM,
    VT_SET,
    VT_JSON,
    VT_BLOB,
} value_type;

void value_ctx_init(value_ctx *v)
{
    ce_buf_init(&v->scratch, (size_t)1 << 30);
    ce_buf_init(&v->bytes, (size_t)1 << 30);
    ce_buf_init(&v->text, (size_t)1 << 30);
    v->utf8_repairs = 0;
    v->pad_to = 0;
}

void value_ctx_free(value_ctx *v)
{
    ce_buf_free(&v->scratch);
    ce_buf_free(&v->bytes);
    ce_buf_free(&v->text);
}

/* ---------------- classification ---------------- */

static bool value_is_digit(char c) { return c >= '0' && c <= '9'; }

/* The type names SHOW CREATE TABLE prints (lower case), by first letter. */
static const struct {
    const char *name;
    value_type type;
} value_types[] = {
    {"bigint", VT_INT},       {"bit", VT_BIT},
    {"binary", VT_BLOB},      {"blob", VT_BLOB},
    {"bool", VT_INT},         {"boolean", VT_INT},
    {"char", VT_STRING},      {"date", VT_DATE},
    {"datetime", VT_DATETIME}, {"decimal", VT_DECIMAL},
    {"dec", VT_DECIMAL},      {"double", VT_FLOAT},
    {"enum", VT_ENUM},        {"float", VT_FLOAT},
    {"fixed", VT_DECIMAL},    {"geometry", VT_BLOB},
    {"geometrycollection", VT_BLOB}, {"geomcollection", VT_BLOB},
    {"int", VT_INT},          {"integer", VT_INT},
    {"json", VT_JSON},        {"linestring", VT_BLOB},
    {"longblob", VT_BLOB},    {"mediumint", VT_INT},
    {"mediumblob", VT_BLOB},  {"multipoint", VT_BLOB},
    {"multilinestring", VT_BLOB}, {"multipolygon", VT_BLOB},
    {"numeric", VT_DECIMAL},  {"point", VT_BLOB},
    {"polygon", VT_BLOB},     {"real", VT_FLOAT},
    {"smallint", VT_INT},     {"set", VT_SET},
    {"tinyint", VT_INT},      {"time", VT_TIME},
    {"timestamp", VT_DATETIME}, {"tinyblob", VT_BLOB},
    {"varbinary", VT_BLOB},   {"year", VT_YEAR},
};

/* Without mysqlType (MySQL 8 optional metadata), by java.sql.Types. */
static value_type value_classify_sql(int sql_type)
{
    switch (sql_type) {
    case -7: return VT_BIT; /* BIT; also a SET bitmask */
    case -6: case 5: case 4: case -5: case 16: return VT_INT;
    case 6: case 7: case 8: return VT_FLOAT;
    case 2: case 3: return VT_DECIMAL;
    case 91: return VT_DATE;
    case 92: return VT_TIME;
    case 93: return VT_DATETIME;
    case -2: case -3: case -4: case 2004: return VT_BLOB;
    default: return VT_STRING;
    }
}

/* The first word of mysqlType ("bigint(20) unsigned" → bigint), looked up
 * among the names of its first letter. Unknown names are strings. */
static value_type value_classify(const char *t, int sql_type)
{
    if (t == NULL || t[0] == '\0')
        return value_classify_sql(sql_type);
    char w[24];
    size_t n = 0;
    for (; t[n] != '\0' && t[n] != '(' && t[n] != ' '; n++) {
        if (n == sizeof w - 1)
            return VT_STRING;
        char ch = t[n];
        w[n] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
    }
    w[n] = '\0';
    for (size_t i = 0; i < sizeof value_types / sizeof value_types[0]; i++)
        if (value_types[i].name[0] == w[0] && strcmp(value_types[i].name, w) == 0)
            return value_types[i].type;
    return VT_STRING;
}

int value_is_integer_type(const char *t) { return t != NULL && t[0] != '\0' && value_classify(t, 0) == VT_INT; }

int value_is_integer_text(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '-')
        i = 1;
    if (n == i || n - i > 20 || (s[i] == '0' && n - i > 1))
        return 0; /* empty, too long, or a leading zero (not a JSON number) */
    for (; i < n; i++)
        if (!value_is_digit(s[i]))
            return 0;
    return 1;
}

int value_is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i == n || !value_is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && value_is_digit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && value_is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && value_is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    return i == n;
}

int value_decimal_scale(const char *t)
{
    static const char *const names[] = {"decimal(", "numeric(", "dec(", "fixed("};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(t, names[i], n) != 0)
            continue;
        const char *comma = strchr(t + n, ',');
        if (comma == NULL)
            return 0; /* decimal(p) has scale 0 */
        int scale = 0;
        for (const char *q = comma + 1; value_is_digit(*q) && scale <= 30; q++)
            scale = scale * 10 + (*q - '0');
        return scale <= 30 ? scale : -1;
    }
    return -1;
}


/* ---------------- strings and numbers ---------------- */

/* Raw JSON text (a number, a literal, punctuation) onto w. */
static int value_raw(ce_buf *w, const char *s, size_t n) { return ce_buf_add(w, s, n) == 0 ? VALUE_OK : VALUE_FULL; }

#define VALUE_LIT(w, lit) value_raw((w), (lit), sizeof(lit) - 1)

int value_write_string(value_ctx *v, ce_buf *w, const char *s, size_t n)
{
    size_t repaired = 0;
    if (ce_utf8_json_append(s, n, w, &repaired) != 0)
        return VALUE_FULL;
    v->utf8_repairs += repaired;
    return VALUE_OK;
}

/* Text known to need neither repair nor escapes (ASCII digits, signs, dots,
 * dashes, colons) as a JSON string. */
static int value_plain_string(ce_buf *w, const char *s, size_t n)
{
    if (ce_buf_reserve(w, n + 2) != 0)
        return VALUE_FULL;
    uint8_t *d = w->data + w->len;
    d[0] = '"';
    memcpy(d + 1, s, n);
    d[n + 1] = '"';
    w->len += n + 2;
    return VALUE_OK;
}

/* Writes the JSON form of a number written loosely ("+1", "007", ".5", "5.",
 * "1.0E10") into out. 1: written; 0: not a number; -1: out is full. */
static int value_num_canon(const char *s, size_t n, ce_buf *out)
{
    size_t i = 0, int0, int1, frac0, frac1;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int0 = i;
    while (i < n && value_is_digit(s[i]))
        i++;
    int1 = i;
    frac0 = frac1 = i;
    if (i < n && s[i] == '.') {
        frac0 = ++i;
        while (i < n && value_is_digit(s[i]))
            i++;
        frac1 = i;
    }
    if (int1 == int0 && frac1 == frac0)
        return 0; /* no mantissa digit */
    size_t exp0 = i;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && value_is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i != n)
        return 0;
    while (int0 < int1 && s[int0] == '0')
        int0++; /* leading zeros */
    ce_buf_reset(out);
    int rc = 0;
    if (neg)
        rc |= ce_buf_putc(out, '-');
    rc |= int0 == int1 ? ce_buf_putc(out, '0') : ce_buf_append(out, s + int0, int1 - int0);
    if (frac1 > frac0) {
        rc |= ce_buf_putc(out, '.');
        rc |= ce_buf_append(out, s + frac0, frac1 - frac0);
    }
    rc |= ce_buf_append(out, s + exp0, n - exp0);
    return rc != 0 ? -1 : 1;
}

/* NaN, Infinity and -Infinity as Java prints them (also "inf", "nan"). */
static bool value_is_nonfinite(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '-' || s[0] == '+'))
        s++, n--;
    return (n == 3 && (strncasecmp(s, "nan", 3) == 0 || strncasecmp(s, "inf", 3) == 0)) ||
           (n == 8 && strncasecmp(s, "infinity", 8) == 0);
}

/* A number when the text is one (normalized to the JSON grammar), null for
 * NaN/Infinity, else `fallback`: 's' the text as a string, 'n' null. */
static int value_numeric(value_ctx *v, ce_buf *w, const char *s, size_t n, char fallback)
{
    if (value_is_json_number(s, n))
        return value_raw(w, s, n);
    int rc = value_num_canon(s, n, &v->scratch);
    if (rc < 0)
        return VALUE_FAIL;
    if (rc > 0)
        return value_raw(w, (const char *)v->scratch.data, v->scratch.len);
    if (fallback == 'n' || value_is_nonfinite(s, n))
        return VALUE_LIT(w, "null");
    return value_write_string(v, w, s, n);
}

/* Canal renders DECIMAL through BigDecimal, which can drop the declared scale
 * ("100.0" for 100.00 in a DECIMAL(10,2)): pad the fraction with zeros up to
 * the scale of mysqlType. Digits are never removed. decimal=number sends the
 * same digits as a JSON number when they form one. */
static int value_decimal(value_ctx *v, ce_buf *w, const char *s, size_t n, int scale, value_decimal_mode mode)
{
    size_t i = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0, int_digits = 0, frac = 0;
    while (i < n && value_is_digit(s[i]))
        i++, int_digits++;
    bool dot = i < n && s[i] == '.';
    if (dot)
        for (i++; i < n && value_is_digit(s[i]); i++)
            frac++;
    const char *out = s;
    size_t out_n = n;
    if (i == n && int_digits > 0 && (int)frac < scale) {
        ce_buf_reset(&v->scratch);
        if (ce_buf_append(&v->scratch, s, n) != 0 || (!dot && ce_buf_putc(&v->scratch, '.') != 0))
            return VALUE_FAIL;
        for (size_t k = frac; k < (size_t)scale; k++)
            if (ce_buf_putc(&v->scratch, '0') != 0)
                return VALUE_FAIL;
        out = (const char *)v->scratch.data;
        out_n = v->scratch.len;
    }
    if (mode == VALUE_DECIMAL_NUMBER && value_is_json_number(out, out_n))
        return value_raw(w, out, out_n);
    if (i == n) /* sign, digits, dot: ASCII that needs no escape */
        return value_plain_string(w, out, out_n);
    return value_write_string(v, w, s, n);
}

/* ---------------- dates ---------------- */

static bool value_digits_at(const char *s, size_t at, size_t k)
{
    for (size_t i = at; i < at + k; i++)
        if (!value_is_digit(s[i]))
            return false;
    return true;
}

/* "yyyy-MM-dd" at the start of s (n >= 10). */
static bool value_date_shape(const char *s, size_t n)
{
    return n >= 10 && value_digits_at(s, 0, 4) && s[4] == '-' && value_digits_at(s, 5, 2) && s[7] == '-' &&
           value_digits_at(s, 8, 2);
}

/* MySQL's zero and partly-zero dates: month or day 00. */
static bool value_date_zero(const char *s)
{
    return (s[5] == '0' && s[6] == '0') || (s[8] == '0' && s[9] == '0');
}

static int value_date(value_ctx *v, ce_buf *w, const char *s, size_t n)
{
    if (n == 10 && value_date_shape(s, n)) {
        if (value_date_zero(s))
            return VALUE_LIT(w, "null");
        return value_plain_string(w, s, n);
    }
    return value_write_string(v, w, s, n);
}

/* "yyyy-MM-dd HH:mm:ss[.f…]" → "yyyy-MM-ddTHH:mm:ss[.f…][offset]". */
static int value_datetime(value_ctx *v, ce_buf *w, const char *s, size_t n, const value_opts *o)
{
    bool shape = n >= 19 && value_date_shape(s, n) && (s[10] == ' ' || s[10] == 'T') && value_digits_at(s, 11, 2) &&
                 s[13] == ':' && value_digits_at(s, 14, 2) && s[16] == ':' && value_digits_at(s, 17, 2);
    if (shape && n > 19)
        shape = s[19] == '.' && n > 20 && n <= 29 && value_digits_at(s, 20, n - 20);
    if (!shape)
        return value_write_string(v, w, s, n);
    if (value_date_zero(s))
        return VALUE_LIT(w, "null");
    /* "…" + up to 6 bytes of offset; the text is digits and punctuation */
    if (ce_buf_reserve(w, n + 8) != 0)
        return VALUE_FULL;
    uint8_t *d = w->data + w->len;
    size_t k = 0;
    d[k++] = '"';
    memcpy(d + k, s, n);
    d[k + 10] = 'T';
    k += n;
    if (o->tz_set) {
        int off = o->tz_offset_min;
        if (off == 0) {
            d[k++] = 'Z';
        } else {
            int a = off < 0 ? -off : off;
            d[k++] = off < 0 ? '-' : '+';
            d[k++] = (uint8_t)('0' + a / 600);
            d[k++] = (uint8_t)('0' + a / 60 % 10);
            d[k++] = ':';
            d[k++] = (uint8_t)('0' + a % 60 / 10);
            d[k++] = (uint8_t)('0' + a % 10);
        }
    }
    d[k++] = '"';
    w->len += k;
    return VALUE_OK;
}

/* ---------------- bytes: BLOB recovery, base64 ---------------- */

/* Canal maps each byte of a binary value to the code point of the same value.
 * 1: bytes in [*out, *out_n) (the text itself when all ASCII, else v->bytes);
 * 0: not that form (a code point above U+00FF, or invalid UTF-8): the value
 * is text already; -1: buffer full. */
static int value_recover(value_ctx *v, const char *s, size_t n, const char **out, size_t *out_n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && p[i] < 0x80)
        i++;
    if (i == n && v->pad_to <= n) {
        *out = s;
        *out_n = n;
        return 1;
    }
    ce_buf_reset(&v->bytes);
    if (ce_buf_reserve(&v->bytes, n > v->pad_to ? n : v->pad_to) != 0)
        return -1;
    uint8_t *d = v->bytes.data;
    size_t k = 0;
    for (i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            d[k++] = p[i];
        } else if ((p[i] == 0xC2 || p[i] == 0xC3) && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
            d[k++] = (uint8_t)(((p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F));
            i++;
        } else {
            return 0;
        }
    }
    /* The binlog drops the trailing 0x00 padding of BINARY(n): put it back. */
    while (k < v->pad_to)
        d[k++] = 0;
    v->bytes.len = k;
    *out = (const char *)d;
    *out_n = k;
    return 1;
}

/* N of a "binary(N)" type (fixed length, zero-padded by MySQL), else 0. */
static size_t value_binary_len(const char *t)
{
    if (t == NULL || strncasecmp(t, "binary(", 7) != 0)
        return 0;
    size_t len = 0;
    for (const char *q = t + 7; *q >= '0' && *q <= '9' && len <= 255; q++)
        len = len * 10 + (size_t)(*q - '0');
    return len <= 255 ? len : 0;
}

/* Standard alphabet, padded (RFC 4648 §4), quoted; written here rather than
 * through OpenSSL's EVP_EncodeBlock, which takes an int length. */
static int value_base64(ce_buf *w, const char *s, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    if (n > (SIZE_MAX / 4 - 1) * 3)
        return VALUE_FULL;
    size_t need = (n + 2) / 3 * 4;
    if (need > SIZE_MAX - 2 || ce_buf_reserve(w, need + 2) != 0)
        return VALUE_FULL;
    uint8_t *o = w->data + w->len;
    size_t i = 0, k = 0;
    o[k++] = '"';
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[k++] = (uint8_t)abc[x >> 18];
        o[k++] = (uint8_t)abc[(x >> 12) & 63];
        o[k++] = (uint8_t)abc[(x >> 6) & 63];
        o[k++] = (uint8_t)abc[x & 63];
    }
    if (i < n) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        o[k++] = (uint8_t)abc[x >> 18];
        o[k++] = (uint8_t)abc[(x >> 12) & 63];
        o[k++] = i + 1 < n ? (uint8_t)abc[(x >> 6) & 63] : '=';
        o[k++] = '=';
    }
    o[k++] = '"';
    w->len += k;
    return VALUE_OK;
}

static int value_blob(value_ctx *v, ce_buf *w, const char *s, size_t n, value_blob_mode mode)
{
    const char *b;
    size_t bn;
    int rc = value_recover(v, s, n, &b, &bn);
    if (rc < 0)
        return VALUE_FAIL;
    if (rc == 0) /* text already: only base64 changes it */
        return mode == VALUE_BLOB_BASE64 ? value_base64(w, s, n) : value_write_string(v, w, s, n);
    if (mode == VALUE_BLOB_BASE64 || (mode == VALUE_BLOB_AUTO && ce_utf8_valid_prefix(b, bn) != bn))
        return value_base64(w, b, bn);
    return value_write_string(v, w, b, bn);
}

/* The bytes of a column for json/base64/text/split conversions: recovered for
 * binary types, the text for the others. */
static int value_source(value_ctx *v, value_type t, const char *s, size_t n, const char **out, size_t *out_n)
{
    *out = s;
    *out_n = n;
    if (t != VT_BLOB)
        return 0;
    return value_recover(v, s, n, out, out_n) < 0 ? -1 : 0;
}

/* ---------------- BIT, YEAR ---------------- */

static int value_uint(ce_buf *w, uint64_t x)
{
    char d[20];
    size_t k = sizeof d;
    do
        d[--k] = (char)('0' + x % 10);
    while ((x /= 10) != 0);
    return value_raw(w, d + k, sizeof d - k);
}

/* Canal sends BIT as the decimal number; bytes (one per code point, big
 * endian, up to 8) are accepted too. */
static int value_bit(value_ctx *v, ce_buf *w, const char *s, size_t n)
{
    if (n > 0 && n <= 20 && value_digits_at(s, 0, n))
        return value_numeric(v, w, s, n, 's');
    const char *b;
    size_t bn;
    int rc = value_recover(v, s, n, &b, &bn);
    if (rc < 0)
        return VALUE_FAIL;
    if (rc == 0 || bn == 0 || bn > 8)
        return value_write_string(v, w, s, n);
    uint64_t x = 0;
    for (size_t i = 0; i < bn; i++)
        x = x << 8 | (unsigned char)b[i];
    return value_uint(w, x);
}

static int value_year(value_ctx *v, ce_buf *w, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == '0')
        i++;
    if (n > 0 && i == n)
        return VALUE_LIT(w, "null"); /* "0000": MySQL's zero year */
    return value_numeric(v, w, s, n, 's');
}

/* ---------------- ENUM, SET ---------------- */

/* Parses an unsigned decimal of at most 20 digits without overflow. */
static bool value_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!value_is_digit(s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* The next quoted member of "enum('a','it''s',…)" from *pp (which starts
 * just after '(' or after the previous member): 1 with the raw text in
 * [*m, *m + *mlen) and *esc when it holds doubled quotes or backslashes;
 * 0 at the closing ')'; -1 when malformed. */
static int value_member_next(const char **pp, const char **m, size_t *mlen, bool *esc)
{
    const char *p = *pp;
    while (*p == ' ')
        p++;
    if (*p == ',')
        for (p++; *p == ' '; p++) {
        }
    if (*p == ')')
        return 0;
    if (*p != '\'' && *p != '"')
        return -1;
    char q = *p++;
    const char *start = p;
    *esc = false;
    for (;;) {
        if (*p == '\0')
            return -1;
        if (*p == '\\' && p[1] != '\0') {
            *esc = true;
            p += 2;
        } else if (*p == q && p[1] == q) {
            *esc = true;
            p += 2;
        } else if (*p == q) {
            break;
        } else {
            p++;
        }
    }
    *m = start;
    *mlen = (size_t)(p - start);
    *pp = p + 1;
    return 1;
}

static int value_member(value_ctx *v, ce_buf *w, const char *m, size_t n, bool esc)
{
    if (!esc)
        return value_write_string(v, w, m, n);
    ce_buf_reset(&v->bytes);
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        if (c == '\\' && i + 1 < n) {
            c = m[++i];
            c = c == '0' ? '\0' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b'
              : c == 'Z' ? '\x1a' : c;
        } else if ((c == '\'' || c == '"') && i + 1 < n && m[i + 1] == c) {
            i++;
        }
        if (ce_buf_putc(&v->bytes, (uint8_t)c) != 0)
            return VALUE_FAIL;
    }
    return value_write_string(v, w, (const char *)v->bytes.data, v->bytes.len);
}

/* Canal sends the 1-based index; 0 is MySQL's '' for invalid values. An
 * index without a member, or a type without a list, is sent as the text. */
static int value_enum(value_ctx *v, ce_buf *w, const char *t, const char *s, size_t n)
{
    uint64_t idx;
    if (!value_parse_u64(s, n, &idx))
        return value_write_string(v, w, s, n); /* the member text itself */
    if (idx == 0)
        return VALUE_LIT(w, "\"\"");
    const char *p = t ? strchr(t, '(') : NULL;
    if (p != NULL) {
        p++;
        const char *m;
        size_t mlen;
        bool esc;
        for (uint64_t i = 1; value_member_next(&p, &m, &mlen, &esc) == 1; i++)
            if (i == idx)
                return value_member(v, w, m, mlen, esc);
    }
    return value_write_string(v, w, s, n);
}

/* The first sep[0..sl) in p[0..n), or NULL (memmem is a GNU extension). */
static const char *value_find(const char *p, size_t n, const char *sep, size_t sl)
{
    while (n >= sl) {
        const char *q = memchr(p, sep[0], n - sl + 1);
        if (q == NULL)
            return NULL;
        if (memcmp(q, sep, sl) == 0)
            return q;
        n -= (size_t)(q - p) + 1;
        p = q + 1;
    }
    return NULL;
}

/* Parts of s separated by sep (n == 0 → []); each a UTF-8-safe string. */
static int value_split(value_ctx *v, ce_buf *w, const char *s, size_t n, const char *sep)
{
    size_t sl = sep ? strlen(sep) : 0;
    int st = VALUE_LIT(w, "[");
    const char *p = s, *end = s + n;
    for (bool first = true; st == VALUE_OK && n > 0; first = false) {
        const char *hit = sl ? value_find(p, (size_t)(end - p), sep, sl) : NULL;
        const char *stop = hit ? hit : end;
        if (!first)
            st = VALUE_LIT(w, ",");
        if (st == VALUE_OK)
            st = value_write_string(v, w, p, (size_t)(stop - p));
        if (hit == NULL)
            break;
        p = hit + sl;
    }
    return st == VALUE_OK ? VALUE_LIT(w, "]") : st;
}

/* Canal sends the bitmask in decimal: members of set bits, in definition
 * order. Non-numeric text is split on ','. */
static int value_set(value_ctx *v, ce_buf *w, const char *t, const char *s, size_t n)
{
    uint64_t mask;
    if (!value_parse_u64(s, n, &mask))
        return value_split(v, w, s, n, ",");
    const char *p = t ? strchr(t, '(') : NULL;
    if (p == NULL)
        return value_write_string(v, w, s, n);
    p++;
    int st = VALUE_LIT(w, "[");
    const char *m;
    size_t mlen;
    bool esc, first = true;
    for (unsigned i = 0; i < 64 && st == VALUE_OK && (mask >> i) != 0; i++) {
        if (value_member_next(&p, &m, &mlen, &esc) != 1)
            break; /* bits above the member list are ignored */
        if (mask >> i & 1) {
            if (!first)
                st = VALUE_LIT(w, ",");
            first = false;
            if (st == VALUE_OK)
                st = value_member(v, w, m, mlen, esc);
        }
    }
    return st == VALUE_OK ? VALUE_LIT(w, "]") : st;
}

/* ---------------- JSON ---------------- */

/* yajl's allocations through the project's wrapper. */
static void *value_yajl_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return ce_malloc(n);
}
static void *value_yajl_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return ce_realloc(p, n);
}
static void value_yajl_free(void *ctx, void *p)
{
    (void)ctx;
    ce_free(p);
}

/* The parser's tokens written back as compact JSON: per open container
 * whether it is an object and whether a member was written yet. */
typedef struct value_json {
    value_ctx *v;
    ce_buf *w;
    int st;    /* VALUE_OK, or the first write failure */
    int depth; /* open containers */
    bool is_map[VALUE_JSON_MAX_DEPTH + 1];
    bool any[VALUE_JSON_MAX_DEPTH + 1];
} value_json;

#define VJ ((value_json *)ctx)

/* The separator before a value or key at the current depth; a value inside
 * an object follows its key's ':' instead. */
static int vj_sep(value_json *j, bool key)
{
    if (j->depth == 0 || (j->is_map[j->depth] && !key))
        return 1;
    bool any = j->any[j->depth];
    j->any[j->depth] = true;
    if (any && (j->st = VALUE_LIT(j->w, ",")) != VALUE_OK)
        return 0;
    return 1;
}

static int vj_put(value_json *j, const char *s, size_t n)
{
    if (!vj_sep(j, false))
        return 0;
    return (j->st = value_raw(j->w, s, n)) == VALUE_OK;
}

static int vj_null(void *ctx) { return vj_put(VJ, "null", 4); }
static int vj_bool(void *ctx, int b) { return b ? vj_put(VJ, "true", 4) : vj_put(VJ, "false", 5); }
/* the number's text as written (a JSON number: the parser checked it) */
static int vj_number(void *ctx, const char *s, size_t n) { return vj_put(VJ, s, n); }
/* escapes are decoded by yajl and may form lone surrogates: repaired */
static int vj_string(void *ctx, const unsigned char *s, size_t n)
{
    if (!vj_sep(VJ, false))
        return 0;
    return (VJ->st = value_write_string(VJ->v, VJ->w, (const char *)s, n)) == VALUE_OK;
}
static int vj_key(void *ctx, const unsigned char *s, size_t n)
{
    if (!vj_sep(VJ, true))
        return 0;
    if ((VJ->st = value_write_string(VJ->v, VJ->w, (const char *)s, n)) != VALUE_OK)
        return 0;
    return (VJ->st = VALUE_LIT(VJ->w, ":")) == VALUE_OK;
}
static int vj_open(value_json *j, bool map)
{
    if (j->depth >= VALUE_JSON_MAX_DEPTH || !vj_sep(j, false))
        return 0; /* too deep: the value is sent as a string */
    if ((j->st = map ? VALUE_LIT(j->w, "{") : VALUE_LIT(j->w, "[")) != VALUE_OK)
        return 0;
    j->depth++;
    j->is_map[j->depth] = map;
    j->any[j->depth] = false;
    return 1;
}
static int vj_close(value_json *j, bool map)
{
    j->depth--;
    return (j->st = map ? VALUE_LIT(j->w, "}") : VALUE_LIT(j->w, "]")) == VALUE_OK;
}
static int vj_start_map(void *ctx) { return vj_open(VJ, true); }
static int vj_end_map(void *ctx) { return vj_close(VJ, true); }
static int vj_start_array(void *ctx) { return vj_open(VJ, false); }
static int vj_end_array(void *ctx) { return vj_close(VJ, false); }

static const yajl_callbacks value_json_cb = {vj_null,      vj_bool, NULL,       NULL,           vj_number,
                                             vj_string,    vj_start_map, vj_key, vj_end_map, vj_start_array,
                                             vj_end_array};

/* Runs the parser over s; 1 parsed completely, 0 invalid (or canceled), -1 no memory. */
static int value_json_run(value_json *j, const char *s, size_t n)
{
    static yajl_alloc_funcs af = {value_yajl_malloc, value_yajl_realloc, value_yajl_free, NULL};
    yajl_handle h = yajl_alloc(&value_json_cb, &af, j);
    if (h == NULL)
        return -1;
    yajl_status st = yajl_parse(h, (const unsigned char *)s, n);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok ? 1 : 0;
}

/* The JSON value itself, re-written token by token (canonical, valid) as it
 * is parsed. Invalid JSON, or nesting deeper than VALUE_JSON_MAX_DEPTH, is
 * taken back and sent as a string; "" as null. */
static int value_json_value(value_ctx *v, ce_buf *w, const char *s, size_t n)
{
    if (n == 0)
        return VALUE_LIT(w, "null");
    size_t mark = w->len;
    value_json j = {.v = v, .w = w, .st = VALUE_OK};
    int rc = value_json_run(&j, s, n);
    if (rc == 1 && j.st == VALUE_OK)
        return VALUE_OK;
    w->len = mark;
    if (j.st != VALUE_OK)
        return j.st;
    if (rc < 0)
        return VALUE_FAIL;
    return value_write_string(v, w, s, n);
}

/* ---------------- dispatch ---------------- */

static int value_by_type(value_ctx *v, ce_buf *w, const row_col *c, const value_prep *p, const char *s, size_t n,
                         const value_opts *o)
{
    switch ((value_type)p->type) {
    case VT_INT:
    case VT_FLOAT:
        return value_numeric(v, w, s, n, 's');
    case VT_DECIMAL:
        return value_decimal(v, w, s, n, p->scale, o->decimal);
    case VT_BIT:
        return value_bit(v, w, s, n);
    case VT_YEAR:
        return value_year(v, w, s, n);
    case VT_DATE:
        return value_date(v, w, s, n);
    case VT_DATETIME:
        return value_datetime(v, w, s, n, o);
    case VT_ENUM:
        return value_enum(v, w, c->mysql_type, s, n);
    case VT_SET:
        return value_set(v, w, c->mysql_type, s, n);
    case VT_JSON:
        return value_json_value(v, w, s, n);
    case VT_BLOB:
        return value_blob(v, w, s, n, o->blob);
    case VT_TIME:
    case VT_STRING:
        break;
    }
    return value_write_string(v, w, s, n);
}

static void value_trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n'))
        (*s)++, (*n)--;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
        (*n)--;
}

static int value_lit_bool(ce_buf *w, bool b) { return b ? VALUE_LIT(w, "true") : VALUE_LIT(w, "false"); }

/* 0 → false, other numbers → true, "true"/"false" as such, else null; a BIT
 * column sent as bytes is true when a byte is not zero. */
static int value_bool(value_ctx *v, ce_buf *w, value_type t, const char *s, size_t n)
{
    value_trim(&s, &n);
    if (n == 4 && strncasecmp(s, "true", 4) == 0)
        return value_lit_bool(w, true);
    if (n == 5 && strncasecmp(s, "false", 5) == 0)
        return value_lit_bool(w, false);
    int rc = value_num_canon(s, n, &v->scratch);
    if (rc < 0)
        return VALUE_FAIL;
    if (rc > 0) {
        bool zero = true;
        for (size_t i = 0; i < v->scratch.len; i++) {
            uint8_t ch = v->scratch.data[i];
            if (ch == 'e' || ch == 'E')
                break;
            if (ch >= '1' && ch <= '9')
                zero = false;
        }
        return value_lit_bool(w, !zero);
    }
    if (t == VT_BIT && n > 0) {
        const char *b;
        size_t bn;
        rc = value_recover(v, s, n, &b, &bn);
        if (rc < 0)
            return VALUE_FAIL;
        if (rc > 0) {
            bool any = false;
            for (size_t i = 0; i < bn; i++)
                any |= b[i] != 0;
            return value_lit_bool(w, any);
        }
    }
    return VALUE_LIT(w, "null");
}

static int value_by_conv(value_ctx *v, ce_buf *w, value_type t, const char *s, size_t n, const value_conv *conv)
{
    const char *b;
    size_t bn;
    switch (conv->kind) {
    case VALUE_CONV_STRING:
        return value_write_string(v, w, s, n);
    case VALUE_CONV_NUMBER:
        value_trim(&s, &n);
        return value_numeric(v, w, s, n, 'n');
    case VALUE_CONV_BOOL:
        return value_bool(v, w, t, s, n);
    case VALUE_CONV_JSON:
    case VALUE_CONV_BASE64:
    case VALUE_CONV_TEXT:
    case VALUE_CONV_SPLIT:
        if (value_source(v, t, s, n, &b, &bn) != 0)
            return VALUE_FAIL;
        if (conv->kind == VALUE_CONV_JSON)
            return value_json_value(v, w, b, bn);
        if (conv->kind == VALUE_CONV_BASE64)
            return value_base64(w, b, bn);
        if (conv->kind == VALUE_CONV_TEXT)
            return value_write_string(v, w, b, bn);
        return value_split(v, w, b, bn, conv->sep);
    case VALUE_CONV_DROP:
    case VALUE_CONV_NONE:
        break;
    }
    return VALUE_LIT(w, "null");
}

void value_prepare(value_prep *p, const row_col *c, const value_conv *conv)
{
    value_type t = value_classify(c->mysql_type, c->sql_type);
    int scale = t == VT_DECIMAL && c->mysql_type ? value_decimal_scale(c->mysql_type) : 0;
    *p = (value_prep){.type = (int)t,
                      .scale = scale < 0 ? 0 : scale,
                      .pad_to = t == VT_BLOB ? value_binary_len(c->mysql_type) : 0,
                      .conv = conv != NULL && conv->kind != VALUE_CONV_NONE ? conv : NULL};
}

int value_write_prepared(value_ctx *v, ce_buf *w, const row_col *c, const value_opts *o, const value_prep *p)
{
    static const value_opts defaults; /* decimal=string, blob=auto, no timezone */
    if (c->is_null)
        return VALUE_LIT(w, "null");
    if (o == NULL)
        o = &defaults;
    const char *s = c->value ? c->value : "";
    size_t n = c->value ? c->value_len : 0;
    v->pad_to = p->pad_to;
    if (p->conv != NULL)
        return value_by_conv(v, w, (value_type)p->type, s, n, p->conv);
    return value_by_type(v, w, c, p, s, n, o);
}

int value_write(value_ctx *v, ce_buf *w, const row_col *c, const value_opts *o, const value_conv *conv)
{
    value_prep p;
    if (c->is_null)
        return VALUE_LIT(w, "null");
    value_prepare(&p, c, conv);
    return value_write_prepared(v, w, c, o, &p);
}

yajl_gen_status value_emit(value_ctx *v, yajl_gen g, const row_col *c, const value_opts *o, const value_conv *conv)
{
    ce_buf_reset(&v->text);
    if (value_write(v, &v->text, c, o, conv) != VALUE_OK)
        return yajl_gen_invalid_string;
    /* yajl_gen_number copies its text as it is: the JSON value, whole */
    return yajl_gen_number(g, (const char *)v->text.data, v->text.len);
}

const value_conv *value_find_conv(const value_opts *o, const char *column)
{
    if (o == NULL || o->n_convs == 0 || column == NULL)
        return NULL;
    for (size_t i = 0; i < o->n_convs; i++)
        if (strcasecmp(o->convs[i].column, column) == 0)
            return &o->convs[i];
    return NULL;
}
