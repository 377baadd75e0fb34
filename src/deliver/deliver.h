/* deliver: the one delivery path. The stream (run.c) and the dead-letter
 * replay (replay.c) hand it a list of `_bulk` actions (byte ranges, each an
 * action line and its document line, if any) and a transport; it sends them
 * in requests of at most *req_cap bytes, halves *req_cap on 413 (a lone
 * action still refused is dead with status 413), sends again only the items
 * that failed (429, 5xx, cluster block) and whole requests that failed
 * (transport, timeout, 429, 5xx), with full-jitter backoff, a Retry-After
 * as the minimum wait (capped at DLV_MAX_RETRY_AFTER_MS) and at most
 * max_retries rounds, and stops when the abort predicate says so.
 * streams > 1: the actions are split by id hash into that many streams sent
 * in parallel (one thread each, transport stream index = the partition), so
 * the actions on one document stay in one stream, in list order.
 * Every action gets a result (dlv_result): the node's last answer for it and
 * whether it is final. The caller decides what a dead item means (dead
 * letter, halt, a .remaining file). Nothing is logged but the retry and the
 * 413 lines (through opts.log, or ce_log component "sink").
 * Memory: the caller owns the actions, the results and *req_cap; dlv keeps
 * nothing between calls. */
#ifndef CE_DELIVER_DELIVER_H
#define CE_DELIVER_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "sink/sink.h"
#include "util/log.h"
#include "util/result.h"

struct ce_stats;

/* A Retry-After is honoured as the minimum wait up to this (10 minutes), by
 * every caller (bulk, replay, index creation, delete_by_query). */
#define DLV_MAX_RETRY_AFTER_MS 600000LL
#define DLV_MAX_STREAMS 64

typedef struct dlv_action {
    const uint8_t *p; /* the action line and document line, each ending in '\n' */
    size_t len;
    uint32_t id_hash; /* streams > 1: actions with the same hash stay in one stream, in order */
} dlv_action;

/* One request of n actions (body, len) on stream `stream`: SINK_OK with
 * items[0, n) filled (sink_item.cls says what each item needs), SINK_RETRY
 * (whole request failed; *retry_after_ms from a Retry-After, else 0),
 * SINK_FATAL (credentials), SINK_TOO_LARGE (413). err on failure. Called
 * from the stream's thread. */
typedef struct dlv_transport {
    sink_rc (*send)(void *ud, size_t stream, const void *body, size_t len, size_t n, sink_item *items,
                    long long *retry_after_ms, char *err, size_t errlen);
    /* For messages: the node of the last request on that stream (may be NULL). */
    const char *(*name)(void *ud, size_t stream);
    void *ud;
} dlv_transport;

/* The transport of the service and the replay: stream i is sinks[i]
 * (sink_bulk; Retry-After from sink_retry_after_ms; names from
 * sink_last_url). sinks must outlive the dlv_send calls. */
void dlv_sink_transport(dlv_transport *t, sink *const *sinks);

typedef struct dlv_opts {
    size_t *req_cap;       /* in/out: bytes per request (SIZE_MAX = no limit); a 413 lowers it for good */
    size_t max_actions;    /* actions per request at most; 0 = no limit */
    size_t streams;        /* 1..DLV_MAX_STREAMS; 0 counts as 1 */
    long max_retries;      /* rounds after the first; 0 = retry forever */
    uint64_t retry_initial_ms, retry_max_ms;
    /* Non-zero: stop now (shutdown deadline). Polled before every request,
     * after a failed one and while waiting; called from several threads
     * when streams > 1. NULL = never. */
    int (*should_abort)(void *ud);
    void *abort_ud;
    /* Waits ms or until should_abort; non-zero when aborted. NULL: sleeps
     * in steps of at most 100 ms, polling should_abort. (Tests.) */
    int (*sleep_ms)(void *ud, uint64_t ms);
    void *sleep_ud;
    /* 1: a dead item ends the call (DLV_HALTED) without sending more (on_error = halt). */
    int halt_on_dead;
    /* The retry and 413 lines; NULL: ce_log(level, "sink", ...). Thread-safe when streams > 1. */
    void (*log)(void *ud, ce_log_level level, const char *msg);
    void *log_ud;
    /* Counters (bulk_requests, request latency, search_reachable,
     * request_failures, requests_split, retries, items_ok, items_superseded,
     * items_retry, items_dead, items_fatal); NULL = none. */
    struct ce_stats *stats;
} dlv_opts;

/* The outcome of dlv_send, as the shared result kinds (util/result.h):
 * DLV_DONE     CE_OK         every action has a final result;
 * DLV_GAVE_UP  CE_RETRY      whole requests still failed (transient) after max_retries rounds (err);
 * DLV_HALTED   CE_PERMANENT  halt_on_dead and an item was dead (rejected for good);
 * DLV_FATAL    CE_FATAL      credentials refused for a request or an item, or out of memory (err);
 * DLV_STOPPED  CE_STOPPED    should_abort: nothing more was sent. */
typedef ce_result dlv_rc;
#define DLV_DONE CE_OK
#define DLV_GAVE_UP CE_RETRY
#define DLV_HALTED CE_PERMANENT
#define DLV_FATAL CE_FATAL
#define DLV_STOPPED CE_STOPPED

typedef struct dlv_result {
    /* The node's last answer, or one made up by dlv (413 of a lone action,
     * status 413, type request_entity_too_large). cls: SINK_ITEM_OK
     * applied (status 409: superseded), SINK_ITEM_DEAD rejected,
     * SINK_ITEM_FATAL credentials, SINK_ITEM_RETRY not applied: still
     * failing after max_retries rounds (final when the call is DLV_DONE),
     * or not settled when the call ended otherwise. */
    sink_item item;
    unsigned char answered; /* item holds an answer for this action */
} dlv_result;

const char *dlv_rc_name(dlv_rc rc);
/* max_retries, retry_initial_ms and retry_max_ms of [elasticsearch] into o
 * (the other fields are left as they are). Defined by the adapter (opts.c:
 * deliver reads no configuration); declared here for its callers. */
struct cfg_es;
void dlv_opts_retries(dlv_opts *o, const struct cfg_es *es);

/* Delivers acts[0, n): res[0, n) get the results (cleared first). err says
 * why on anything but DLV_DONE/DLV_HALTED/DLV_STOPPED. */
dlv_rc dlv_send(const dlv_action *acts, size_t n, const dlv_transport *t, const dlv_opts *o, dlv_result *res,
                char *err, size_t errlen);

/* The backoff delay with a Retry-After (ms, 0 = none) as its minimum,
 * capped at DLV_MAX_RETRY_AFTER_MS. */
uint64_t dlv_wait_ms(uint64_t backoff_ms, long long retry_after_ms);

#endif
