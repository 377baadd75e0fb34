/* util/log: one-line log records: time, level, component, destination,
 * message. Text ("2026-01-02T03:04:05.678Z INFO  run dest=example: ...")
 * or JSON lines ({"time":...,"level":"info","component":"run",
 * "destination":"example","msg":"..."}), to stderr or a file opened with
 * O_APPEND. ce_log_request_reopen() is async-signal-safe (SIGHUP): the file
 * is reopened before the next record, for logrotate. Records are written
 * whole with one write(2) under a mutex, so threads may log. Check
 * ce_log_enabled() before building expensive arguments. Text records are
 * escaped (ce_log_escape), so data from outside (a table name, a node's
 * error reason) cannot start a forged line or send terminal controls. */
#ifndef CE_UTIL_LOG_H
#define CE_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
/* s[0..len) for a terminal or a line-oriented log, into out (NUL-terminated,
 * cut before a piece that does not fit): control characters (C0, DEL, the C1
 * range U+0080..U+009F) become \n, \r, \t or \xHH per byte, bytes of invalid
 * UTF-8 \xHH; valid UTF-8 (Chinese text too) and backslashes stay as they
 * are. Returns the length written. */
size_t ce_log_escape(const char *s, size_t len, char *out, size_t outlen);
/* For command output: the formatted text escaped as ce_log_escape does (a
 * newline inside it too) and one '\n', written to f. At most 4095 bytes of
 * text. */
void ce_log_print(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
