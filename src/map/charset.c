/* charset: Java charset names (Canal's serverenCode) against MySQL's. */
#include "map/charset.h"

#include <string.h>

static const char *const cs_text_types[] = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", NULL};

bool cs_is_text_type(const char *data_type)
{
    if (data_type == NULL)
        return false;
    for (const char *const *t = cs_text_types; *t; t++)
        if (strcmp(data_type, *t) == 0)
            return true;
    return false;
}

bool cs_mysql_type_is_text(const char *mysql_type)
{
    if (mysql_type == NULL)
        return false;
    for (const char *const *t = cs_text_types; *t; t++) {
        size_t n = strlen(*t);
        if (strncmp(mysql_type, *t, n) == 0 && (mysql_type[n] == '\0' || mysql_type[n] == '(' || mysql_type[n] == ' '))
            return true;
    }
    return false;
}

/* lower case without '-' and '_': "UTF-8" → "utf8", "Shift_JIS" → "shiftjis" */
static void cs_norm(const char *s, char *out, size_t outlen)
{
    size_t k = 0;
    for (; s && *s && k + 1 < outlen; s++) {
        char c = *s;
        if (c == '-' || c == '_')
            continue;
        out[k++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[k] = '\0';
}

/* Java charset (normalized) → the MySQL charsets it decodes exactly. */
static const struct {
    const char *java;
    const char *mysql[4];
} cs_pairs[] = {
    {"utf8", {"utf8", "utf8mb3", "utf8mb4", NULL}},
    {"gbk", {"gbk", "gb2312", NULL}},
    {"gb18030", {"gb18030", "gb2312", NULL}},
    {"gb2312", {"gb2312", NULL}},
    {"big5", {"big5", NULL}},
    {"shiftjis", {"sjis", NULL}},
    {"sjis", {"sjis", NULL}},
    {"windows31j", {"cp932", NULL}},
    {"ms932", {"cp932", NULL}},
    {"euckr", {"euckr", NULL}},
    {"eucjp", {"ujis", NULL}},
    {"windows1252", {"latin1", NULL}},
    {"cp1252", {"latin1", NULL}},
    {"iso88592", {"latin2", NULL}},
    {"windows1251", {"cp1251", NULL}},
    {"koi8r", {"koi8r", NULL}},
    {"usascii", {"ascii", NULL}},
};

bool cs_canal_exact(const char *enc, const char *cs)
{
    if (cs == NULL)
        return true; /* not text */
    char e[40];
    cs_norm(enc && enc[0] ? enc : "UTF-8", e, sizeof e);
    if (strcmp(cs, "ascii") == 0 || strcmp(cs, "binary") == 0)
        return true; /* binary: bytes, not text (Canal sends them as ISO-8859-1 code points) */
    for (size_t i = 0; i < sizeof cs_pairs / sizeof cs_pairs[0]; i++) {
        if (strcmp(cs_pairs[i].java, e) != 0)
            continue;
        for (size_t j = 0; j < 4 && cs_pairs[i].mysql[j]; j++)
            if (strcmp(cs_pairs[i].mysql[j], cs) == 0)
                return true;
        return false;
    }
    char m[40];
    cs_norm(cs, m, sizeof m);
    return strcmp(e, m) == 0;
}

bool cs_ascii_safe(const char *cs)
{
    static const char *const wide[] = {"ucs2", "utf16", "utf16le", "utf32", "swe7", NULL};
    if (cs == NULL)
        return true;
    for (const char *const *w = wide; *w; w++)
        if (strcmp(cs, *w) == 0)
            return false;
    return true;
}

bool cs_is_ascii(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] >= 0x80)
            return false;
    return true;
}

bool cs_has_fffd(const char *v, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        const void *p = memchr(v + i, 0xEF, len - i - 2);
        if (p == NULL)
            return false;
        i = (size_t)((const char *)p - v);
        if ((unsigned char)v[i + 1] == 0xBF && (unsigned char)v[i + 2] == 0xBD)
            return true;
    }
    return false;
}
