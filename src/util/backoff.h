/* util/backoff: full-jitter exponential backoff and an interruptible sleep. */
#ifndef CE_UTIL_BACKOFF_H
#define CE_UTIL_BACKOFF_H

#include <signal.h>
#include <stdint.h>

typedef struct ce_backoff {
    uint64_t initial_ms;
    uint64_t max_ms;
    unsigned attempt;
    uint64_t rng;
} ce_backoff;

void ce_backoff_init(ce_backoff *b, uint64_t initial_ms, uint64_t max_ms);
/* Next delay: uniform in [0, min(max, initial * 2^attempt)], attempt++. */
uint64_t ce_backoff_next(ce_backoff *b);
void ce_backoff_reset(ce_backoff *b);
/* Sleeps ms milliseconds or until *stop becomes non-zero; returns *stop. */
int ce_sleep_ms(uint64_t ms, volatile sig_atomic_t *stop);

#endif
