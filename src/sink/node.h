/* sink/node: the search nodes of `[elasticsearch] url` (one URL or several,
 * comma-separated). Parses the list (syntax: util/url), picks the node of each request
 * (round-robin over the healthy ones) and skips a node that failed for a
 * while (doubling from NODE_SKIP_MIN_MS to NODE_SKIP_MAX_MS, reset by a
 * success). Pure: the caller passes the monotonic time; no I/O, no logging.
 * A node_list owns its strings; node_list_free releases them. */
#ifndef CE_SINK_NODE_H
#define CE_SINK_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/url.h"

#define NODE_MAX CE_URLS_MAX    /* URLs in one list */
#define NODE_URL_MAX CE_URL_MAX /* bytes of one URL */
#define NODE_SKIP_MIN_MS 1000  /* a node that failed is skipped this long, */
#define NODE_SKIP_MAX_MS 60000 /* doubling after each further failure up to this */

typedef struct node {
    char *base;          /* the URL without trailing '/': what curl is given */
    char *shown;         /* the same without user:password@, for messages */
    uint64_t retry_at;   /* monotonic ms; skipped until then (0 = healthy) */
    uint64_t skip_ms;    /* the skip after the next failure */
    unsigned failures;   /* consecutive failures */
} node;

typedef struct node_list {
    node *v;
    size_t n;
    size_t next; /* round-robin cursor */
} node_list;

/* Parses "http://a:9200, https://b:9200/prefix". Every entry must be
 * http:// or https:// with a host; 1 to NODE_MAX entries. -1 with err (which
 * never holds the user:password of a URL). */
int node_list_parse(node_list *l, const char *urls, char *err, size_t errlen);
void node_list_free(node_list *l);
/* A comma-separated URL list with every user:password@ part removed. */
void node_shown_list(const char *urls, char *out, size_t outlen);
/* The URL without its user:password@ part, into out (truncated to fit). */
void node_shown_url(const char *url, size_t len, char *out, size_t outlen);
/* The node of the next attempt: the next healthy node (retry_at <= now) in
 * round-robin order that is not in `tried` (bit i = node i). When none is
 * healthy and `any` is set, the untried node whose skip ends first. -1 when
 * there is none. */
int node_pick(node_list *l, uint64_t now_ms, uint32_t tried, int any);
/* Node i failed: skipped for the returned number of ms. */
uint64_t node_failed(node_list *l, size_t i, uint64_t now_ms);
/* Node i answered: healthy again. 1 when it had failed before (it is back). */
int node_ok(node_list *l, size_t i);

#endif
