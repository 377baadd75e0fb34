/* util/clock: see clock.h. */
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t ce_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ce_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t ce_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000;
}

/* The UTC second of wall_ms, "yyyy-MM-ddTHH:mm:ss" or (compact)
 * "yyyyMMddHHmmss"; 0 (buf "") when it does not fit. */
static size_t clock_utc(int64_t wall_ms, int compact, char *buf, size_t len)
{
    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (wall_ms < 0)
        return 0;
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (gmtime_r(&s, &tm) == NULL)
        return 0;
    size_t k = compact ? strftime(buf, len, "%Y%m%d%H%M%S", &tm) : strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (k == 0)
        buf[0] = '\0';
    return k;
}

size_t ce_utc_stamp(int64_t wall_ms, char *buf, size_t len)
{
    return clock_utc(wall_ms, 1, buf, len);
}

struct timespec ce_deadline_ts(int realtime, long ms)
{
    struct timespec ts;
    clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

size_t ce_iso_utc(int64_t wall_ms, char *buf, size_t len)
{
    size_t k = clock_utc(wall_ms, 0, buf, len);
    if (k == 0)
        return 0;
    int w = snprintf(buf + k, len - k, ".%03dZ", (int)(wall_ms % 1000));
    if (w < 0 || (size_t)w >= len - k) {
        buf[0] = '\0';
        return 0;
    }
    return k + (size_t)w;
}
