/* map/value: value conversion for the document body. */
#include "map/value.h"
#include "util/utf8.h"

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

yajl_gen_status value_emit(value_ctx *v, yajl_gen g, const row_col *c)
{
    if (c->is_null)
        return yajl_gen_null(g);
    if (value_is_integer_type(c->mysql_type) && value_is_integer_text(c->value, c->value_len))
        return yajl_gen_number(g, c->value, c->value_len);
    return value_emit_string(v, g, c->value, c->value_len);
}
