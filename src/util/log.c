/* util/log: stderr logger. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static ce_log_level log_level = CE_LOG_INFO;
static char log_context[128];

void ce_log_set_level(ce_log_level level) { log_level = level; }

void ce_log_set_context(const char *ctx) { snprintf(log_context, sizeof log_context, "%s", ctx ? ctx : ""); }

bool ce_log_enabled(ce_log_level level) { return level <= log_level; }

void ce_log(ce_log_level level, const char *component, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (!ce_log_enabled(level))
        return;
    char when[32] = "";
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %-5s %s%s%s: %s\n", when, names[level], component, log_context[0] ? " " : "",
            log_context, msg);
    fflush(stderr);
}
