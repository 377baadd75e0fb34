/* util/backoff: full jitter (AWS architecture blog's "Full Jitter"). */
#include "util/backoff.h"
#include "util/clock.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

void ce_backoff_init(ce_backoff *b, uint64_t initial_ms, uint64_t max_ms)
{
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
    b->attempt = 0;
    b->rng = (ce_mono_us() << 16) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ULL;
}

void ce_backoff_reset(ce_backoff *b) { b->attempt = 0; }

static uint64_t backoff_rand(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t ce_backoff_next(ce_backoff *b)
{
    uint64_t cap = b->initial_ms;
    for (unsigned i = 0; i < b->attempt && cap < b->max_ms; i++)
        cap *= 2;
    if (cap > b->max_ms)
        cap = b->max_ms;
    if (b->attempt < 64)
        b->attempt++;
    return backoff_rand(&b->rng) % (cap + 1);
}

int ce_sleep_ms(uint64_t ms, volatile sig_atomic_t *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        uint64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {.tv_sec = (time_t)(step / 1000), .tv_nsec = (long)(step % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !(stop && *stop))
            ;
        ms -= step;
    }
    return stop ? (int)*stop : 0;
}
