/* map/value: value conversion for the document body. */
#include "map/value.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

void value_ctx_init(value_ctx *v)
{
    ce_buf_init(&v->scratch, (size_t)1 << 30);
    v->utf8_repairs = 0;
}

void value_ctx_free(value_ctx *v) { ce_buf_free(&v->scratch); }

int value_is_integer_type(const char *t)
{
    static const char *const names[] = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(t, names[i], n) == 0 && (t[n] == '\0' || t[n] == '(' || t[n] == ' '))
            return 1;
    }
    return 0;
}

int value_is_integer_text(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '-')
        i = 1;
    if (n == i || n - i > 20 || (s[i] == '0' && n - i > 1))
        return 0; /* empty, too long, or a leading zero (not a JSON number) */
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

yajl_gen_status value_emit_string(value_ctx *v, yajl_gen g, const char *s, size_t n)
{
    if (ce_utf8_valid_prefix(s, n) == n)
        return yajl_gen_string(g, (const unsigned char *)s, n);
    ce_buf_reset(&v->scratch);
    if (ce_utf8_repair(s, n, &v->scratch, &v->utf8_repairs) != 0)
        return yajl_gen_invalid_string;
    return yajl_gen_string(g, v->scratch.data, v->scratch.len);
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
        for (const char *q = comma + 1; *q >= '0' && *q <= '9' && scale <= 30; q++)
            scale = scale * 10 + (*q - '0');
        return scale <= 30 ? scale : -1;
    }
    return -1;
}

/* Canal renders DECIMAL through BigDecimal, which can drop the declared scale
 * ("100.0" for 100.00 in a DECIMAL(10,2)): pad the fraction with zeros up to
 * the scale of mysqlType. Digits are never removed. */
static yajl_gen_status value_emit_decimal(value_ctx *v, yajl_gen g, const row_col *c, int scale)
{
    const char *s = c->value;
    size_t n = c->value_len, i = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0, int_digits = 0, frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    bool dot = i < n && s[i] == '.';
    if (dot)
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            frac++;
    if (i != n || int_digits == 0 || (int)frac >= scale)
        return value_emit_string(v, g, s, n);
    ce_buf_reset(&v->scratch);
    if (ce_buf_append(&v->scratch, s, n) != 0 || (!dot && ce_buf_putc(&v->scratch, '.') != 0))
        return yajl_gen_invalid_string;
    for (size_t k = frac; k < (size_t)scale; k++)
        if (ce_buf_putc(&v->scratch, '0') != 0)
            return yajl_gen_invalid_string;
    return yajl_gen_string(g, v->scratch.data, v->scratch.len);
}

yajl_gen_status value_emit(value_ctx *v, yajl_gen g, const row_col *c)
{
    if (c->is_null)
        return yajl_gen_null(g);
    /* the first letter keeps the type-name comparisons off most columns */
    switch (c->mysql_type[0] | 0x20) {
    case 't': case 's': case 'm': case 'i': case 'b':
        if (value_is_integer_type(c->mysql_type) && value_is_integer_text(c->value, c->value_len))
            return yajl_gen_number(g, c->value, c->value_len);
        break;
    case 'd': case 'n': case 'f': {
        int scale = value_decimal_scale(c->mysql_type);
        if (scale > 0)
            return value_emit_decimal(v, g, c, scale);
        break;
    }
    default:
        break;
    }
    return value_emit_string(v, g, c->value, c->value_len);
}
