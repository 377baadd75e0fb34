/* map/value_opts: parsers for the conversion options of [defaults] and
 * [table] sections (decimal, timezone, blob, convert). Pure functions; on
 * error they return -1 and leave their outputs untouched. */
#include "map/value_opts.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool value_is_digit(char c) { return c >= '0' && c <= '9'; }


static const char *value_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const struct {
    const char *name;
    value_conv_kind kind;
} value_conv_names[] = {
    {"string", VALUE_CONV_STRING}, {"number", VALUE_CONV_NUMBER}, {"bool", VALUE_CONV_BOOL},
    {"json", VALUE_CONV_JSON},     {"base64", VALUE_CONV_BASE64}, {"text", VALUE_CONV_TEXT},
    {"split", VALUE_CONV_SPLIT},   {"drop", VALUE_CONV_DROP},
};

#define VALUE_KINDS "string, number, bool, json, base64, text, split(SEP), drop"

void value_convs_free(value_conv *c, size_t n)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        ce_free(c[i].column);
        ce_free(c[i].sep);
    }
    ce_free(c);
}

/* One "COLUMN:KIND" entry at *pp into *out; *pp is left at ',' or the end. */
static int value_parse_entry(const char **pp, value_conv *out, char *err, size_t errlen)
{
    const char *p = *pp, *col = p;
    while (*p != '\0' && *p != ':' && *p != ',')
        p++;
    const char *col_end = p;
    while (col_end > col && (col_end[-1] == ' ' || col_end[-1] == '\t'))
        col_end--;
    int shown = (int)(p - col > 64 ? 64 : p - col);
    if (*p != ':') {
        snprintf(err, errlen, "'%.*s' has no ':KIND' (entries are COLUMN:KIND, separated by ',')", shown, col);
        return -1;
    }
    if (col_end == col) {
        snprintf(err, errlen, "an entry has no column name before ':'");
        return -1;
    }
    if ((size_t)(col_end - col) > VALUE_CONV_NAME_MAX) {
        snprintf(err, errlen, "column name '%.*s…' is longer than %d bytes", shown, col, VALUE_CONV_NAME_MAX);
        return -1;
    }
    shown = (int)(col_end - col > 64 ? 64 : col_end - col);
    p = value_skip_ws(p + 1);
    const char *kind = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
        p++;
    size_t klen = (size_t)(p - kind);
    size_t ki = 0, nk = sizeof value_conv_names / sizeof value_conv_names[0];
    while (ki < nk && !(strlen(value_conv_names[ki].name) == klen &&
                        strncasecmp(value_conv_names[ki].name, kind, klen) == 0))
        ki++;
    if (ki == nk) {
        const char *ke = kind;
        while (*ke != '\0' && *ke != ',' && ke - kind < 32)
            ke++;
        snprintf(err, errlen, "%.*s: unknown kind '%.*s' (known: " VALUE_KINDS ")", shown, col,
                 (int)(ke - kind), kind);
        return -1;
    }
    const char *sep = NULL;
    size_t seplen = 0;
    if (value_conv_names[ki].kind == VALUE_CONV_SPLIT) {
        p = value_skip_ws(p);
        if (*p != '(') {
            snprintf(err, errlen, "%.*s: split needs its separator: split(SEP), e.g. split(,)", shown, col);
            return -1;
        }
        sep = ++p;
        const char *close = NULL;
        for (const char *q = sep; *q != '\0' && close == NULL; q++) {
            const char *r = value_skip_ws(q + 1);
            if (*q == ')' && (*r == ',' || *r == '\0'))
                close = q;
        }
        if (close == NULL) {
            snprintf(err, errlen, "%.*s: split( has no closing ')'", shown, col);
            return -1;
        }
        seplen = (size_t)(close - sep);
        if (seplen == 0 || seplen > VALUE_CONV_SEP_MAX) {
            snprintf(err, errlen, "%.*s: the split separator must be 1 to %d bytes", shown, col, VALUE_CONV_SEP_MAX);
            return -1;
        }
        p = close + 1;
    }
    p = value_skip_ws(p);
    if (*p != ',' && *p != '\0') {
        snprintf(err, errlen, "%.*s: unexpected '%.16s' after the kind", shown, col, p);
        return -1;
    }
    out->kind = value_conv_names[ki].kind;
    out->column = ce_strndup(col, (size_t)(col_end - col));
    out->sep = sep ? ce_strndup(sep, seplen) : NULL;
    if (out->column == NULL || (sep && out->sep == NULL)) {
        ce_free(out->column);
        ce_free(out->sep);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *pp = p;
    return 0;
}

int value_parse_convert(const char *spec, value_conv **out, size_t *n, char *err, size_t errlen)
{
    value_conv *arr = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = value_skip_ws(spec ? spec : "");
    while (*p != '\0') {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            value_conv *na = ce_realloc(arr, ncap * sizeof *na);
            if (na == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            arr = na;
            cap = ncap;
        }
        value_conv e = {0};
        if (value_parse_entry(&p, &e, err, errlen) != 0)
            goto fail;
        for (size_t i = 0; i < cnt; i++) {
            if (strcasecmp(arr[i].column, e.column) == 0) {
                snprintf(err, errlen, "column '%.64s' is given twice", e.column);
                ce_free(e.column);
                ce_free(e.sep);
                goto fail;
            }
        }
        arr[cnt++] = e;
        if (*p == ',') {
            p = value_skip_ws(p + 1);
            if (*p == '\0') {
                snprintf(err, errlen, "nothing after the last ','");
                goto fail;
            }
        }
    }
    *out = arr;
    *n = cnt;
    return 0;
fail:
    value_convs_free(arr, cnt);
    return -1;
}

int value_parse_timezone(const char *s, int *tz_set, int *offset_min)
{
    if (s == NULL)
        return -1;
    if (*s == '\0') {
        *tz_set = 0;
        *offset_min = 0;
        return 0;
    }
    if (strcasecmp(s, "UTC") == 0 || strcasecmp(s, "Z") == 0) {
        *tz_set = 1;
        *offset_min = 0;
        return 0;
    }
    if ((s[0] != '+' && s[0] != '-') || !value_is_digit(s[1]) || !value_is_digit(s[2]))
        return -1;
    int h = (s[1] - '0') * 10 + (s[2] - '0'), m = 0;
    const char *p = s + 3;
    if (*p == ':')
        p++;
    if (*p != '\0') {
        if (!value_is_digit(p[0]) || !value_is_digit(p[1]) || p[2] != '\0')
            return -1;
        m = (p[0] - '0') * 10 + (p[1] - '0');
    } else if (p != s + 3) {
        return -1; /* "+08:" */
    }
    if (m >= 60 || h * 60 + m > 14 * 60)
        return -1;
    *tz_set = 1;
    *offset_min = s[0] == '-' ? -(h * 60 + m) : h * 60 + m;
    return 0;
}

int value_parse_decimal(const char *s, value_decimal_mode *out)
{
    if (s != NULL && strcasecmp(s, "string") == 0)
        *out = VALUE_DECIMAL_STRING;
    else if (s != NULL && strcasecmp(s, "number") == 0)
        *out = VALUE_DECIMAL_NUMBER;
    else
        return -1;
    return 0;
}

int value_parse_blob(const char *s, value_blob_mode *out)
{
    if (s != NULL && strcasecmp(s, "auto") == 0)
        *out = VALUE_BLOB_AUTO;
    else if (s != NULL && strcasecmp(s, "base64") == 0)
        *out = VALUE_BLOB_BASE64;
    else if (s != NULL && strcasecmp(s, "text") == 0)
        *out = VALUE_BLOB_TEXT;
    else
        return -1;
    return 0;
}
