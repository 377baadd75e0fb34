/* sink/node: URL list, round-robin and per-node skip after failures. */
#include "sink/node.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

void node_shown_url(const char *url, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    const char *end = url + len;
    const char *auth = url;
    const char *sep = NULL;
    for (const char *p = url; p + 2 < end; p++) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            sep = p + 3;
            break;
        }
    }
    if (sep != NULL)
        auth = sep;
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

/* One trimmed entry [s, e) of the list into l->v[l->n]. */
static int node_add(node_list *l, const char *s, const char *e, char *err, size_t errlen)
{
    char shown[NODE_URL_MAX];
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t len = (size_t)(e - s);
    node_shown_url(s, len, shown, sizeof shown);
    if (len == 0) {
        snprintf(err, errlen, "url: empty entry in the list (URLs are separated by commas)");
        return -1;
    }
    if (len >= NODE_URL_MAX) {
        snprintf(err, errlen, "url: '%.64s...' is longer than %d bytes", shown, NODE_URL_MAX - 1);
        return -1;
    }
    size_t scheme = 0;
    if (len >= 7 && strncmp(s, "http://", 7) == 0)
        scheme = 7;
    else if (len >= 8 && strncmp(s, "https://", 8) == 0)
        scheme = 8;
    if (scheme == 0) {
        snprintf(err, errlen, "url: '%s' must start with http:// or https://", shown);
        return -1;
    }
    if (scheme >= len || s[scheme] == '/' || s[scheme] == ':' || s[scheme] == '@' || s[scheme] == '?' ||
        s[scheme] == '#') {
        snprintf(err, errlen, "url: '%s' names no host", shown);
        return -1;
    }
    if (l->n >= NODE_MAX) {
        snprintf(err, errlen, "url: more than %d URLs", NODE_MAX);
        return -1;
    }
    while (len > scheme + 1 && s[len - 1] == '/')
        len--;
    node *nd = &l->v[l->n];
    nd->base = ce_strndup(s, len);
    node_shown_url(s, len, shown, sizeof shown);
    nd->shown = ce_strdup(shown);
    nd->skip_ms = NODE_SKIP_MIN_MS;
    l->n++; /* counted now so node_list_free releases a half-made entry */
    if (nd->base == NULL || nd->shown == NULL) {
        snprintf(err, errlen, "url: out of memory");
        return -1;
    }
    return 0;
}

int node_list_parse(node_list *l, const char *urls, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->v = ce_calloc(NODE_MAX, sizeof *l->v);
    if (l->v == NULL) {
        snprintf(err, errlen, "url: out of memory");
        return -1;
    }
    const char *s = urls;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma != NULL ? comma : s + strlen(s);
        if (node_add(l, s, e, err, errlen) != 0) {
            node_list_free(l);
            return -1;
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return 0;
}

void node_list_free(node_list *l)
{
    if (l->v != NULL) {
        for (size_t i = 0; i < l->n; i++) {
            ce_free(l->v[i].base);
            ce_free(l->v[i].shown);
        }
        ce_free(l->v);
    }
    memset(l, 0, sizeof *l);
}

int node_pick(node_list *l, uint64_t now_ms, uint32_t tried, int any)
{
    if (l->n == 0)
        return -1;
    for (size_t k = 0; k < l->n; k++) {
        size_t i = (l->next + k) % l->n;
        if ((tried & (UINT32_C(1) << i)) == 0 && l->v[i].retry_at <= now_ms) {
            l->next = (i + 1) % l->n;
            return (int)i;
        }
    }
    if (!any)
        return -1;
    int best = -1;
    for (size_t i = 0; i < l->n; i++) {
        if ((tried & (UINT32_C(1) << i)) != 0)
            continue;
        if (best < 0 || l->v[i].retry_at < l->v[best].retry_at)
            best = (int)i;
    }
    return best;
}

uint64_t node_failed(node_list *l, size_t i, uint64_t now_ms)
{
    node *nd = &l->v[i];
    uint64_t skip = nd->skip_ms;
    nd->retry_at = now_ms + skip;
    nd->failures++;
    nd->skip_ms = skip * 2 > NODE_SKIP_MAX_MS ? NODE_SKIP_MAX_MS : skip * 2;
    return skip;
}

int node_ok(node_list *l, size_t i)
{
    node *nd = &l->v[i];
    int back = nd->failures > 0;
    nd->failures = 0;
    nd->retry_at = 0;
    nd->skip_ms = NODE_SKIP_MIN_MS;
    return back;
}

void node_shown_list(const char *urls, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (const char *p = urls; *p && n + 1 < outlen;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        node_shown_url(p, len, out + n, outlen - n);
        n += strlen(out + n);
        if (comma == NULL)
            break;
        if (n + 1 < outlen)
            out[n++] = ',';
        out[n] = '\0';
        p = comma + 1;
    }
}
