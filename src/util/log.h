/* util/log: one-line log records on stderr: time, level, component, message.
 * Check ce_log_enabled() before building expensive arguments. */
#ifndef CE_UTIL_LOG_H
#define CE_UTIL_LOG_H

#include <stdbool.h>

typedef enum { CE_LOG_ERROR = 0, CE_LOG_WARN, CE_LOG_INFO, CE_LOG_DEBUG } ce_log_level;

void ce_log_set_level(ce_log_level level);
/* Text shown in every record after the component, e.g. "dest=example". */
void ce_log_set_context(const char *ctx);
bool ce_log_enabled(ce_log_level level);
void ce_log(ce_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
