/* util/url: the syntax of a search-node URL list (`[elasticsearch] url`:
 * one URL or several, comma-separated) and the user:password-free form of a
 * URL for messages. Pure: no allocation, no I/O. Shared by config (which
 * only checks the list) and sink/node (which keeps one entry per URL). */
#ifndef CE_UTIL_URL_H
#define CE_UTIL_URL_H

#include <stddef.h>

#define CE_URLS_MAX 16  /* URLs in one list */
#define CE_URL_MAX 2048 /* bytes of one URL */

typedef struct ce_url_iter {
    const char *p; /* the rest of the list; NULL after the last entry */
    size_t n;      /* entries returned so far */
} ce_url_iter;

void ce_url_iter_init(ce_url_iter *it, const char *urls);
/* The next entry of the list, trimmed of blanks and of trailing '/':
 * 1 with [*base, *base + *len); 0 after the last entry; -1 with err (which
 * never holds a user:password) when the entry is empty, CE_URL_MAX bytes or
 * longer, not http:// or https://, names no host, or is one too many. */
int ce_url_next(ce_url_iter *it, const char **base, size_t *len, char *err, size_t errlen);
/* Checks the whole list (1 to CE_URLS_MAX entries): 0, or -1 with err. */
int ce_url_list_check(const char *urls, char *err, size_t errlen);
/* The URL [url, url + len) without its user:password@ part, into out
 * (truncated to fit). */
void ce_url_shown(const char *url, size_t len, char *out, size_t outlen);
/* A comma-separated URL list with every user:password@ part removed. */
void ce_url_shown_list(const char *urls, char *out, size_t outlen);

#endif
