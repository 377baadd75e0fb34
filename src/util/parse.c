/* util/parse: number and address parsing. */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ce_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int ce_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= hostlen)
        return -1;
    int64_t p;
    if (ce_parse_i64(colon + 1, 1, 65535, &p) != 0)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

char *ce_trim(char *s)
{
    char *b = s;
    while (*b == ' ' || *b == '\t')
        b++;
    size_t n = strlen(b);
    while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r' || b[n - 1] == '\n'))
        n--;
    memmove(s, b, n);
    s[n] = '\0';
    return s;
}

void ce_str_copy(char *dst, size_t dlen, const char *s)
{
    size_t n = strnlen(s, dlen - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}
