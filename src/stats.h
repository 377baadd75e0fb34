/* stats: the service's counters in one place. run.c updates them from the
 * pipeline thread; anything else (the periodic log line, a metrics endpoint)
 * reads them concurrently. Fields are relaxed atomics: each is exact, a
 * snapshot of several is not a transaction. */
#ifndef CE_STATS_H
#define CE_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_MAX_TABLES 256   /* per-table row counters; more tables share the "other" slot */
#define STATS_TABLE_NAME 192
#define STATS_LAT_BUCKETS 13
#define STATS_MAX_FFFD 64      /* (table, column) series of values holding U+FFFD; more share "other" */
#define STATS_COLUMN_NAME 200   /* request latency histogram: see stats_lat_bounds */

/* Rows of one table by operation. `name` is written once, before the slot
 * is published (n_tables, release), and never changes. */
typedef struct ce_stats_table {
    char name[STATS_TABLE_NAME]; /* "db.table", or "" for the overflow slot */
    _Atomic uint64_t rows[3];    /* insert, update, delete */
} ce_stats_table;

/* Values holding U+FFFD of one text column, as indexed. Published like
 * ce_stats_table (n_fffd, release). */
typedef struct ce_stats_fffd {
    char table[STATS_TABLE_NAME]; /* "db.table"; "" for the overflow slot */
    char column[STATS_COLUMN_NAME];
    _Atomic uint64_t values;
} ce_stats_fffd;

#define STATS_MAX_KPARTS 256    /* Kafka partitions with their own series; more are not shown */
#define STATS_TOPIC_NAME 250

/* One Kafka partition this consumer was assigned at some point (source/kafka.c
 * writes; the metrics thread reads). topic and partition are written once,
 * before the slot is published (n_kparts, release). */
typedef struct ce_stats_kpart {
    char topic[STATS_TOPIC_NAME];
    int32_t partition;
    _Atomic int assigned;        /* 1 while assigned to this consumer */
    _Atomic int64_t committed;   /* the group's committed offset (-1 = none known) */
    _Atomic int64_t stored;      /* offset + 1 of the last record whose batch was acked (-1 = none) */
    _Atomic int64_t high;        /* high watermark last seen (-1 = unknown) */
    _Atomic int64_t last_ts_ms;  /* timestamp of the last acked record (0 = none) */
} ce_stats_kpart;

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
    _Atomic uint64_t frames_too_big; /* GET answers refused: frame above [canal] max_frame_mb */
    _Atomic uint64_t utf8_repairs;   /* values with invalid UTF-8 replaced by U+FFFD */
    _Atomic int64_t last_source_time_ms; /* execute time of the last acked change, 0 = none */
    _Atomic int64_t last_ack_wall_ms;    /* wall time of the last ack, 0 = none */
    _Atomic int caught_up;           /* 1 after an empty GET: nothing waits in Canal */
    _Atomic int canal_connected;
    _Atomic int search_reachable;    /* 1 until a request fails as a whole, again after one succeeds */
    _Atomic int64_t start_time_ms;
    /* snapshot jobs (snapshot/job.h): initial loads and reindexes */
    _Atomic uint64_t reindex_rows;       /* snapshot rows written, all jobs */
    _Atomic uint64_t reindex_chunks;     /* chunks completed (saved) */
    _Atomic uint64_t reindex_jobs_done;  /* jobs finished (swapped, or loaded in place) */
    _Atomic uint64_t reindex_jobs_failed;/* failed or cancelled */
    _Atomic int reindex_running;         /* 1 while a job is loading, catching up or swapping */
    _Atomic int reindex_queued;          /* jobs waiting */
    _Atomic int64_t reindex_job_rows;    /* rows done of the running job */
    _Atomic int64_t reindex_job_estimate;/* its estimate (information_schema.TABLES) */
    /* _bulk request latency (whole requests, any outcome) */
    _Atomic uint64_t lat_bucket[STATS_LAT_BUCKETS]; /* non-cumulative counts per bound */
    _Atomic uint64_t lat_count;
    _Atomic uint64_t lat_sum_us;
    /* per-table rows; slots [0, n_tables) are published, slot STATS_MAX_TABLES is "other" */
    ce_stats_table tables[STATS_MAX_TABLES + 1];
    _Atomic size_t n_tables;
    /* text of columns Canal cannot decode (map/charset.h, snapshot/refetch.h) */
    ce_stats_fffd fffd[STATS_MAX_FFFD + 1];
    _Atomic size_t n_fffd;
    _Atomic uint64_t charset_reads;     /* rows whose text was read back from [mysql] */
    _Atomic uint64_t charset_read_us;   /* time spent in those reads */
    _Atomic uint64_t charset_gone;      /* rows no longer in MySQL when read back */
    /* the Kafka source (source/kafka.c): 0 = Canal TCP */
    _Atomic int source_kafka;
    ce_stats_kpart kparts[STATS_MAX_KPARTS];
    _Atomic size_t n_kparts;
    /* position of the last ack */
    pthread_mutex_t mu;              /* guards ack_file */
    char ack_file[128];
    _Atomic int64_t ack_offset;
} ce_stats;

#define CE_STAT_ADD(s, field, n) atomic_fetch_add_explicit(&(s)->field, (uint64_t)(n), memory_order_relaxed)
#define CE_STAT_SET(s, field, v) atomic_store_explicit(&(s)->field, (v), memory_order_relaxed)
#define CE_STAT_GET(s, field) atomic_load_explicit(&(s)->field, memory_order_relaxed)

void stats_init(ce_stats *s);
void stats_destroy(ce_stats *s);
/* Upper bounds of the latency buckets, in seconds (the last is +Inf). */
extern const double stats_lat_bounds[STATS_LAT_BUCKETS];
void stats_observe_request(ce_stats *s, uint64_t micros);
/* The slot of db.table (pipeline thread only), or the overflow slot. */
size_t stats_table_slot(ce_stats *s, const char *db, const char *table);
/* op: 0 insert, 1 update, 2 delete. */
void stats_count_row(ce_stats *s, size_t slot, int op);
/* Counts a value of db.table's column holding U+FFFD (pipeline thread only). */
void stats_count_fffd(ce_stats *s, const char *db, const char *table, const char *column);
void stats_set_ack_position(ce_stats *s, const char *file, int64_t offset);
/* Copies the last acked binlog file (NUL-terminated) and returns its offset. */
int64_t stats_ack_position(ce_stats *s, char *file, size_t len);
/* Seconds between the source time of the last acked change and now_ms;
 * 0 when caught up or when nothing was acked yet. */
double stats_lag_seconds(const ce_stats *s, int64_t now_ms);
/* The slot of topic/partition, created (unassigned, offsets -1) when new;
 * NULL when STATS_MAX_KPARTS are taken. One writer thread. */
ce_stats_kpart *stats_kpart(ce_stats *s, const char *topic, int32_t partition);
/* Records behind the high watermark (0 when unknown or caught up) and
 * seconds since the last acked record's timestamp while behind (0 when
 * caught up). */
int64_t stats_kpart_lag(const ce_stats_kpart *k);
double stats_kpart_lag_seconds(const ce_stats_kpart *k, int64_t now_ms);
/* One "key=value ..." line of every counter, NUL-terminated in out. */
void stats_format(const ce_stats *s, int64_t now_ms, char *out, size_t outlen);

#endif
