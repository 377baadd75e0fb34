/* sink: sends a `_bulk` body with libcurl (keep-alive, x-ndjson) and checks
 * every item of the response. sink_parse_response is pure (tests, fuzzing).
 * Result classes: SINK_OK (every item applied; a delete of a missing
 * document counts as applied), SINK_RETRY (transport error, non-2xx status,
 * or any failed item), SINK_FATAL (401/403: credentials are wrong). */
#ifndef CE_SINK_SINK_H
#define CE_SINK_SINK_H

#include <stddef.h>

typedef enum {
    SINK_OK = 0,
    SINK_RETRY = 1,     /* whole request failed: transport, timeout, 429, 5xx, bad response */
    SINK_FATAL = 2,     /* 401/403 */
    SINK_TOO_LARGE = 3, /* 413: send smaller requests */
} sink_rc;

/* What to do with one bulk item. */
typedef enum {
    SINK_ITEM_OK = 0,  /* applied; a delete of a missing doc; a version conflict (already newer) */
    SINK_ITEM_RETRY,   /* 429, 5xx, cluster_block_exception: send this item again */
    SINK_ITEM_DEAD,    /* other 4xx (mapping, parsing): dead letter or halt */
    SINK_ITEM_FATAL,   /* 401/403: credentials */
} sink_item_class;

typedef struct sink_item {
    sink_item_class cls;
    int status;
    char type[96];
    char reason[320];
} sink_item;

sink_item_class sink_classify_item(const char *op, int status, const char *error_type);

typedef struct sink_summary {
    sink_item *item;     /* optional, set by the caller: per-item results */
    size_t item_cap;
    size_t items;
    size_t ok;
    size_t failed;       /* items not OK */
    size_t retry, dead, fatal;
    /* the first failed item */
    int fail_status;
    char fail_index[128];
    char fail_id[128];
    char fail_type[128];
    char fail_reason[256];
} sink_summary;

typedef struct sink sink;

sink *sink_new(const char *url, long timeout_ms, char *err, size_t errlen);
void sink_free(sink *s);
/* fn(ud) is polled during every transfer; non-zero aborts it (SINK_RETRY). */
void sink_set_abort(sink *s, int (*fn)(void *ud), void *ud);
/* Retry-After of the last response (429/503), in ms; 0 when it had none. */
long long sink_retry_after_ms(const sink *s);
/* Parses a _bulk response; -1 with err when it is not one. The caller's
 * item/item_cap survive (they are not cleared). */
int sink_parse_response(const char *json, size_t len, sink_summary *sum, char *err, size_t errlen);
/* POSTs the body; `actions` is the number of actions in it. SINK_OK means
 * every item has a result in *sum (which may include failed items: see the
 * per-item classes); SINK_RETRY a whole-request failure (transport, 429,
 * 5xx, bad response); SINK_FATAL credentials refused; SINK_TOO_LARGE
 * the node refused the body's size (413). */
sink_rc sink_bulk(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                  size_t errlen);
/* Deletes every document of `index` (_delete_by_query, conflicts=proceed,
 * refresh). A missing index counts as done. */
sink_rc sink_delete_all(sink *s, const char *index, long long *deleted, char *err, size_t errlen);

#endif
