/* util/log: one-line log records: time, level, component, destination,
 * message. Text ("2026-01-02T03:04:05.678Z INFO  run dest=example: ...")
 * or JSON lines ({"time":...,"level":"info","component":"run",
 * "destination":"example","msg":"..."}), to stderr or a file opened with
 * O_APPEND. ce_log_request_reopen() is async-signal-safe (SIGHUP): the file
 * is reopened before the next record, for logrotate. Records are written
 * whole with one write(2) under a mutex, so threads may log. Check
 * ce_log_enabled() before building expensive arguments. */
#ifndef CE_UTIL_LOG_H
#define CE_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { CE_LOG_ERROR = 0, CE_LOG_WARN, CE_LOG_INFO, CE_LOG_DEBUG } ce_log_level;
typedef enum { CE_LOG_TEXT = 0, CE_LOG_JSON } ce_log_format;

void ce_log_set_level(ce_log_level level);
/* -1 when name is not error, warn, info or debug. */
int ce_log_parse_level(const char *name, ce_log_level *out);
void ce_log_set_format(ce_log_format f);
/* The destination named in every record ("" = none). */
void ce_log_set_destination(const char *dest);
/* Logs to `path` from now on (NULL or "" = stderr). -1 with err when it
 * cannot be opened; the previous output stays. */
int ce_log_open(const char *path, char *err, size_t errlen);
void ce_log_request_reopen(void);
/* Closes the file, back to stderr. */
void ce_log_close(void);
bool ce_log_enabled(ce_log_level level);
void ce_log(ce_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The record ce_log would write, into out (NUL-terminated, ends in '\n'). */
size_t ce_log_format_record(ce_log_format f, long long epoch_ms, ce_log_level level, const char *component,
                            const char *dest, const char *msg, char *out, size_t outlen);

#endif
