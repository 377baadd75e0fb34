/* util/clock: the clocks every module reads. Monotonic time for deadlines,
 * intervals and latencies; wall time (ms since the epoch) for what is shown
 * or stored; ISO 8601 UTC text of a wall time. */
#ifndef CE_UTIL_CLOCK_H
#define CE_UTIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t ce_mono_ms(void);
uint64_t ce_mono_us(void);
int64_t ce_wall_ms(void);
/* "2026-12-02T03:36:55.123Z" (UTC, milliseconds) of wall_ms into buf;
 * "" when wall_ms < 0 or buf is too small. Returns the length written. */
size_t ce_iso_utc(int64_t wall_ms, char *buf, size_t len);
/* "20261202033655" (UTC, yyyyMMddHHmmss: no separators, no milliseconds;
 * the suffix of a reindex's new index) of wall_ms into buf; as ce_iso_utc
 * otherwise. */
size_t ce_utc_stamp(int64_t wall_ms, char *buf, size_t len);
/* The CLOCK_REALTIME (realtime != 0, for pthread_cond_timedwait) or
 * CLOCK_MONOTONIC time ms milliseconds from now, normalized. */
struct timespec ce_deadline_ts(int realtime, long ms);

#endif
