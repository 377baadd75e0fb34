/* stats: the service's counters in one place. run.c updates them from the
 * pipeline thread; anything else (the periodic log line, a metrics endpoint)
 * reads them concurrently. Fields are relaxed atomics: each is exact, a
 * snapshot of several is not a transaction. */
#ifndef CE_STATS_H
#define CE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ce_stats {
    _Atomic uint64_t rows_in;        /* row changes decoded (mapped or not) */
    _Atomic uint64_t rows_skipped;   /* rows of tables without a rule / without an id */
    _Atomic uint64_t batches;        /* Canal batches fully processed */
    _Atomic uint64_t acks;           /* batches acked to Canal */
    _Atomic uint64_t bulk_requests;  /* HTTP requests sent to the node (bulk and delete_by_query) */
    _Atomic uint64_t request_failures; /* whole requests failed: transport, timeout, 429, 5xx */
    _Atomic uint64_t requests_split; /* 413 answers that made canal-es send smaller requests */
    _Atomic uint64_t items_ok;       /* applied (incl. deletes of missing documents) */
    _Atomic uint64_t items_superseded; /* 409 on an external version: the index holds a newer one */
    _Atomic uint64_t items_retry;    /* item results 429/5xx/cluster block, sent again */
    _Atomic uint64_t items_dead;     /* rejected for good */
    _Atomic uint64_t items_fatal;    /* 401/403 item results */
    _Atomic uint64_t retries;        /* backoff sleeps (bulk, delete_by_query, connect) */
    _Atomic uint64_t dead_letters;   /* lines written to the dead-letter file */
    _Atomic uint64_t reconnects;     /* Canal connections re-established after a loss */
    _Atomic uint64_t utf8_repairs;   /* values with invalid UTF-8 replaced by U+FFFD */
    _Atomic int64_t last_source_time_ms; /* execute time of the last acked change, 0 = none */
    _Atomic int64_t last_ack_wall_ms;    /* wall time of the last ack, 0 = none */
    _Atomic int caught_up;           /* 1 after an empty GET: nothing waits in Canal */
    _Atomic int canal_connected;
} ce_stats;

#define CE_STAT_ADD(s, field, n) atomic_fetch_add_explicit(&(s)->field, (uint64_t)(n), memory_order_relaxed)
#define CE_STAT_SET(s, field, v) atomic_store_explicit(&(s)->field, (v), memory_order_relaxed)
#define CE_STAT_GET(s, field) atomic_load_explicit(&(s)->field, memory_order_relaxed)

void stats_init(ce_stats *s);
/* Seconds between the source time of the last acked change and now_ms;
 * 0 when caught up or when nothing was acked yet. */
double stats_lag_seconds(const ce_stats *s, int64_t now_ms);
/* One "key=value ..." line of every counter, NUL-terminated in out. */
void stats_format(const ce_stats *s, int64_t now_ms, char *out, size_t outlen);

#endif
