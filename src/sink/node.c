/* sink/node: URL list, round-robin and per-node skip after failures. */
#include "sink/node.h"
#include "util/mem.h"
#include "util/url.h"

#include <stdio.h>
#include <string.h>

void node_shown_url(const char *url, size_t len, char *out, size_t outlen) { ce_url_shown(url, len, out, outlen); }

void node_shown_list(const char *urls, char *out, size_t outlen) { ce_url_shown_list(urls, out, outlen); }

int node_list_parse(node_list *l, const char *urls, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->v = ce_calloc(NODE_MAX, sizeof *l->v);
    if (l->v == NULL) {
        snprintf(err, errlen, "url: out of memory");
        return -1;
    }
    ce_url_iter it;
    const char *b;
    size_t len;
    int rc;
    ce_url_iter_init(&it, urls);
    while ((rc = ce_url_next(&it, &b, &len, err, errlen)) == 1) {
        char shown[NODE_URL_MAX];
        node *nd = &l->v[l->n];
        nd->base = ce_strndup(b, len);
        ce_url_shown(b, len, shown, sizeof shown);
        nd->shown = ce_strdup(shown);
        nd->skip_ms = NODE_SKIP_MIN_MS;
        l->n++; /* counted now so node_list_free releases a half-made entry */
        if (nd->base == NULL || nd->shown == NULL) {
            snprintf(err, errlen, "url: out of memory");
            rc = -1;
            break;
        }
    }
    if (rc != 0)
        node_list_free(l);
    return rc;
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
