/* stats: counters and their one-line rendering. */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void stats_init(ce_stats *s)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->last_source_time_ms, 0);
    atomic_init(&s->last_ack_wall_ms, 0);
    atomic_init(&s->caught_up, 0);
    atomic_init(&s->canal_connected, 0);
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
             " utf8_replaced=%" PRIu64 " lag_s=%.1f",
             CE_STAT_GET(s, batches), CE_STAT_GET(s, acks), CE_STAT_GET(s, rows_in), CE_STAT_GET(s, rows_skipped),
             CE_STAT_GET(s, items_ok), CE_STAT_GET(s, items_superseded), CE_STAT_GET(s, bulk_requests),
             CE_STAT_GET(s, request_failures), CE_STAT_GET(s, requests_split), CE_STAT_GET(s, items_retry),
             CE_STAT_GET(s, dead_letters), CE_STAT_GET(s, retries), CE_STAT_GET(s, reconnects),
             CE_STAT_GET(s, utf8_repairs), stats_lag_seconds(s, now_ms));
}
