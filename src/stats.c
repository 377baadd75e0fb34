/* stats: counters and their one-line rendering. */
#include "stats.h"
#include "util/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const double stats_lat_bounds[STATS_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                    1,     2.5,  5,     10,   30,  1e300};

void stats_init(ce_stats *s)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->last_source_time_ms, 0);
    atomic_init(&s->last_ack_wall_ms, 0);
    atomic_init(&s->caught_up, 0);
    atomic_init(&s->canal_connected, 0);
    atomic_init(&s->search_reachable, 1);
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->start_time_ms, ce_wall_ms());
}

void stats_destroy(ce_stats *s) { pthread_mutex_destroy(&s->mu); }

ce_stats_kpart *stats_kpart(ce_stats *s, const char *topic, int32_t partition)
{
    size_t n = atomic_load_explicit(&s->n_kparts, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (s->kparts[i].partition == partition && strcmp(s->kparts[i].topic, topic) == 0)
            return &s->kparts[i];
    if (n >= STATS_MAX_KPARTS)
        return NULL;
    ce_stats_kpart *k = &s->kparts[n];
    snprintf(k->topic, sizeof k->topic, "%s", topic);
    k->partition = partition;
    atomic_store(&k->assigned, 0);
    atomic_store(&k->committed, -1);
    atomic_store(&k->stored, -1);
    atomic_store(&k->high, -1);
    atomic_store(&k->last_ts_ms, 0);
    atomic_store_explicit(&s->n_kparts, n + 1, memory_order_release);
    return k;
}

int64_t stats_kpart_lag(const ce_stats_kpart *k)
{
    int64_t high = atomic_load(&k->high);
    int64_t at = atomic_load(&k->stored);
    if (at < 0)
        at = atomic_load(&k->committed);
    if (high < 0 || at < 0 || high <= at)
        return 0;
    return high - at;
}

double stats_kpart_lag_seconds(const ce_stats_kpart *k, int64_t now_ms)
{
    int64_t ts = atomic_load(&k->last_ts_ms);
    if (stats_kpart_lag(k) == 0 || ts <= 0 || now_ms <= ts)
        return 0.0;
    return (double)(now_ms - ts) / 1000.0;
}

void stats_observe_request(ce_stats *s, uint64_t micros)
{
    double sec = (double)micros / 1e6;
    size_t b = 0;
    while (b + 1 < STATS_LAT_BUCKETS && sec > stats_lat_bounds[b])
        b++;
    CE_STAT_ADD(s, lat_bucket[b], 1);
    CE_STAT_ADD(s, lat_count, 1);
    CE_STAT_ADD(s, lat_sum_us, micros);
}

size_t stats_table_slot(ce_stats *s, const char *db, const char *table)
{
    char name[STATS_TABLE_NAME];
    int w = snprintf(name, sizeof name, "%s.%s", db, table);
    if (w < 0 || (size_t)w >= sizeof name)
        return STATS_MAX_TABLES;
    size_t n = atomic_load_explicit(&s->n_tables, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->tables[i].name, name) == 0)
            return i;
    if (n == STATS_MAX_TABLES)
        return STATS_MAX_TABLES;
    memcpy(s->tables[n].name, name, (size_t)w + 1);
    atomic_store_explicit(&s->n_tables, n + 1, memory_order_release);
    return n;
}

void stats_count_row(ce_stats *s, size_t slot, int op)
{
    if (slot <= STATS_MAX_TABLES && op >= 0 && op < 3)
        atomic_fetch_add_explicit(&s->tables[slot].rows[op], 1, memory_order_relaxed);
}

void stats_count_fffd(ce_stats *s, const char *db, const char *table, const char *column)
{
    char name[STATS_TABLE_NAME];
    int w = snprintf(name, sizeof name, "%s.%s", db, table);
    size_t slot = STATS_MAX_FFFD;
    size_t n = atomic_load_explicit(&s->n_fffd, memory_order_relaxed);
    if (w >= 0 && (size_t)w < sizeof name && strlen(column) < STATS_COLUMN_NAME) {
        for (size_t i = 0; i < n && slot == STATS_MAX_FFFD; i++)
            if (strcmp(s->fffd[i].table, name) == 0 && strcmp(s->fffd[i].column, column) == 0)
                slot = i;
        if (slot == STATS_MAX_FFFD && n < STATS_MAX_FFFD) {
            memcpy(s->fffd[n].table, name, (size_t)w + 1);
            snprintf(s->fffd[n].column, sizeof s->fffd[n].column, "%s", column);
            atomic_store_explicit(&s->n_fffd, n + 1, memory_order_release);
            slot = n;
        }
    }
    atomic_fetch_add_explicit(&s->fffd[slot].values, 1, memory_order_relaxed);
}

void stats_set_ack_position(ce_stats *s, const char *file, int64_t offset)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->ack_file, sizeof s->ack_file, "%s", file);
    atomic_store_explicit(&s->ack_offset, offset, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
}

int64_t stats_ack_position(ce_stats *s, char *file, size_t len)
{
    pthread_mutex_lock(&s->mu);
    snprintf(file, len, "%s", s->ack_file);
    int64_t off = atomic_load_explicit(&s->ack_offset, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    return off;
}

double stats_lag_seconds(const ce_stats *s, int64_t now_ms)
{
    int64_t src = CE_STAT_GET(s, last_source_time_ms);
    if (src <= 0 || CE_STAT_GET(s, caught_up) || now_ms <= src)
        return 0.0;
    return (double)(now_ms - src) / 1000.0;
}

void stats_format(const ce_stats *s, int64_t now_ms, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "batches=%" PRIu64 " acks=%" PRIu64 " rows=%" PRIu64 " skipped_rows=%" PRIu64 " actions=%" PRIu64
             " superseded=%" PRIu64 " bulk_requests=%" PRIu64 " request_failures=%" PRIu64 " splits=%" PRIu64
             " item_retries=%" PRIu64 " dead_letters=%" PRIu64 " retries=%" PRIu64 " reconnects=%" PRIu64
             " frames_too_big=%" PRIu64 " utf8_replaced=%" PRIu64 " lag_s=%.1f",
             CE_STAT_GET(s, batches), CE_STAT_GET(s, acks), CE_STAT_GET(s, rows_in), CE_STAT_GET(s, rows_skipped),
             CE_STAT_GET(s, items_ok), CE_STAT_GET(s, items_superseded), CE_STAT_GET(s, bulk_requests),
             CE_STAT_GET(s, request_failures), CE_STAT_GET(s, requests_split), CE_STAT_GET(s, items_retry),
             CE_STAT_GET(s, dead_letters), CE_STAT_GET(s, retries), CE_STAT_GET(s, reconnects),
             CE_STAT_GET(s, frames_too_big), CE_STAT_GET(s, utf8_repairs), stats_lag_seconds(s, now_ms));
}
