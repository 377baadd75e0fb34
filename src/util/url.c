/* util/url: see url.h. */
#include "util/url.h"

#include <stdio.h>
#include <string.h>

void ce_url_shown(const char *url, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    const char *end = url + len;
    const char *auth = url;
    for (const char *p = url; p + 2 < end; p++) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            auth = p + 3;
            break;
        }
    }
    const char *auth_end = auth;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    size_t head = (size_t)(auth - url);
    const char *rest = at != NULL ? at + 1 : auth;
    size_t tail = (size_t)(end - rest);
    snprintf(out, outlen, "%.*s%.*s", (int)head, url, (int)tail, rest);
}

void ce_url_shown_list(const char *urls, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (const char *p = urls; *p && n + 1 < outlen;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        ce_url_shown(p, len, out + n, outlen - n);
        n += strlen(out + n);
        if (comma == NULL)
            break;
        if (n + 1 < outlen)
            out[n++] = ',';
        out[n] = '\0';
        p = comma + 1;
    }
}

void ce_url_iter_init(ce_url_iter *it, const char *urls)
{
    it->p = urls != NULL ? urls : "";
    it->n = 0;
}

int ce_url_next(ce_url_iter *it, const char **base, size_t *len, char *err, size_t errlen)
{
    if (it->p == NULL)
        return 0;
    char shown[CE_URL_MAX];
    const char *s = it->p;
    const char *comma = strchr(s, ',');
    const char *e = comma != NULL ? comma : s + strlen(s);
    it->p = comma != NULL ? comma + 1 : NULL;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - s);
    ce_url_shown(s, n, shown, sizeof shown);
    if (n == 0) {
        snprintf(err, errlen, "url: empty entry in the list (URLs are separated by commas)");
        return -1;
    }
    if (n >= CE_URL_MAX) {
        snprintf(err, errlen, "url: '%.64s...' is longer than %d bytes", shown, CE_URL_MAX - 1);
        return -1;
    }
    size_t scheme = 0;
    if (n >= 7 && strncmp(s, "http://", 7) == 0)
        scheme = 7;
    else if (n >= 8 && strncmp(s, "https://", 8) == 0)
        scheme = 8;
    if (scheme == 0) {
        snprintf(err, errlen, "url: '%s' must start with http:// or https://", shown);
        return -1;
    }
    if (scheme >= n || s[scheme] == '/' || s[scheme] == ':' || s[scheme] == '@' || s[scheme] == '?' ||
        s[scheme] == '#') {
        snprintf(err, errlen, "url: '%s' names no host", shown);
        return -1;
    }
    if (it->n >= CE_URLS_MAX) {
        snprintf(err, errlen, "url: more than %d URLs", CE_URLS_MAX);
        return -1;
    }
    while (n > scheme + 1 && s[n - 1] == '/')
        n--;
    it->n++;
    *base = s;
    *len = n;
    return 1;
}

int ce_url_list_check(const char *urls, char *err, size_t errlen)
{
    ce_url_iter it;
    const char *b;
    size_t n;
    int rc;
    ce_url_iter_init(&it, urls);
    while ((rc = ce_url_next(&it, &b, &n, err, errlen)) == 1)
        ;
    return rc;
}
