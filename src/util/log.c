/* util/log: text or JSON records to stderr or a reopenable file. */
#include "util/log.h"
#include "util/clock.h"
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/utf8.h"

#define LOG_MAX_MSG 4096
#define LOG_MAX_RECORD (4 * LOG_MAX_MSG + 512) /* escaping may quadruple the message (\xHH) */

static ce_log_level log_level = CE_LOG_INFO;
static ce_log_format log_format = CE_LOG_TEXT;
static char log_dest[128];
static char log_path[4096];
static int log_fd = -1; /* -1 = stderr */
static volatile sig_atomic_t log_reopen;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const log_lower[] = {"error", "warn", "info", "debug"};

void ce_log_set_level(ce_log_level level) { log_level = level; }

int ce_log_parse_level(const char *name, ce_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, log_lower[i]) == 0) {
            *out = (ce_log_level)i;
            return 0;
        }
    return -1;
}

void ce_log_set_format(ce_log_format f) { log_format = f; }

void ce_log_set_destination(const char *dest) { snprintf(log_dest, sizeof log_dest, "%s", dest ? dest : ""); }

bool ce_log_enabled(ce_log_level level) { return level <= log_level; }

void ce_log_request_reopen(void) { log_reopen = 1; }

static int log_open_fd(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && err != NULL)
        snprintf(err, errlen, "log file %s: cannot open: %s", path, strerror(errno));
    return fd;
}

int ce_log_open(const char *path, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&log_mu);
    if (path == NULL || path[0] == '\0') {
        if (log_fd >= 0)
            close(log_fd);
        log_fd = -1;
        log_path[0] = '\0';
    } else if (strlen(path) >= sizeof log_path) {
        snprintf(err, errlen, "log file path longer than %zu bytes", sizeof log_path - 1);
        rc = -1;
    } else {
        int fd = log_open_fd(path, err, errlen);
        if (fd < 0) {
            rc = -1;
        } else {
            if (log_fd >= 0)
                close(log_fd);
            log_fd = fd;
            snprintf(log_path, sizeof log_path, "%s", path);
        }
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

void ce_log_close(void) { (void)ce_log_open(NULL, NULL, 0); }

/* Appends s as the inside of a JSON string: quotes, backslashes and
 * controls escaped, invalid UTF-8 replaced by U+FFFD. */
static size_t log_json_escape(const char *s, char *out, size_t n, size_t cap)
{
    size_t len = strlen(s);
    size_t i = 0;
    while (i < len && n + 6 <= cap) { /* the longest piece is 6 bytes (\u00XX) */
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
            i++;
        } else if (ch < 0x20) {
            static const char hex[] = "0123456789abcdef";
            if (ch == '\n' || ch == '\t' || ch == '\r') {
                out[n++] = '\\';
                out[n++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
            } else {
                memcpy(out + n, "\\u00", 4);
                n += 4;
                out[n++] = hex[ch >> 4];
                out[n++] = hex[ch & 15];
            }
            i++;
        } else if (ch < 0x80) {
            out[n++] = (char)ch;
            i++;
        } else {
            size_t k = 1;
            while (i + k < len && k < 4 && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                k++;
            if (ce_utf8_valid_prefix(s + i, k) == k) {
                memcpy(out + n, s + i, k);
                n += k;
                i += k;
            } else {
                memcpy(out + n, "\xEF\xBF\xBD", 3);
                n += 3;
                i++;
            }
        }
    }
    return n;
}

/* Appends s as text: C0 controls, DEL and C1 controls (U+0080..U+009F)
 * escaped (\n \r \t, else \xHH per byte), invalid UTF-8 as \xHH per byte;
 * valid UTF-8 and backslashes kept. Stops before a piece that does not fit. */
static size_t log_text_escape(const char *s, size_t len, char *out, size_t n, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        size_t k = 1;
        int esc = ch < 0x20 || ch == 0x7F;
        if (ch >= 0x80) {
            while (i + k < len && k < 4 && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                k++;
            k = ce_utf8_valid_prefix(s + i, k);
            if (k == 0) {
                k = 1;
                esc = 1; /* not valid UTF-8 */
            } else if (ch == 0xC2 && (unsigned char)s[i + 1] < 0xA0) {
                esc = 1; /* a C1 control */
            }
        }
        if (!esc) {
            if (n + k > cap)
                break;
            memcpy(out + n, s + i, k);
            n += k;
        } else {
            if (n + 4 * k > cap)
                break;
            for (size_t j = 0; j < k; j++) {
                unsigned char b = (unsigned char)s[i + j];
                out[n++] = '\\';
                if (b == '\n' || b == '\r' || b == '\t') {
                    out[n++] = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
                } else {
                    out[n++] = 'x';
                    out[n++] = hex[b >> 4];
                    out[n++] = hex[b & 15];
                }
            }
        }
        i += k;
    }
    return n;
}

size_t ce_log_escape(const char *s, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    size_t n = log_text_escape(s, len, out, 0, outlen - 1);
    out[n] = '\0';
    return n;
}

void ce_log_print(FILE *f, const char *fmt, ...)
{
    char msg[LOG_MAX_MSG];
    char line[4 * LOG_MAX_MSG + 2];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = w < 0 ? 0 : (size_t)w >= sizeof msg ? sizeof msg - 1 : (size_t)w;
    size_t n = log_text_escape(msg, len, line, 0, sizeof line - 2);
    line[n++] = '\n';
    fwrite(line, 1, n, f);
}

/* Appends as much of s as fits below cap. */
static size_t log_put(char *out, size_t n, size_t cap, const char *s)
{
    size_t len = strlen(s);
    if (n >= cap)
        return n;
    if (len > cap - n)
        len = cap - n;
    memcpy(out + n, s, len);
    return n + len;
}

size_t ce_log_format_record(ce_log_format f, long long epoch_ms, ce_log_level level, const char *component,
                            const char *dest, const char *msg, char *out, size_t outlen)
{
    char when[40];
    ce_iso_utc((int64_t)epoch_ms, when, sizeof when);
    size_t n = 0;
    if (outlen < 8)
        return 0;
    if (f == CE_LOG_TEXT) {
        /* data from outside (table names, node answers) must not forge lines or drive a terminal */
        size_t cap = outlen - 2;
        int w = snprintf(out, cap + 1, "%s %-5s ", when, log_names[level]);
        n = w < 0 ? 0 : (size_t)w > cap ? cap : (size_t)w;
        n = log_text_escape(component, strlen(component), out, n, cap);
        if (dest[0]) {
            n = log_put(out, n, cap, " dest=");
            n = log_text_escape(dest, strlen(dest), out, n, cap);
        }
        n = log_put(out, n, cap, ": ");
        n = log_text_escape(msg, strlen(msg), out, n, cap);
    } else {
        /* every piece is cut to what fits, leaving room for "\"}\n\0" */
        size_t cap = outlen - 4;
        n = log_put(out, n, cap, "{\"time\":\"");
        n = log_json_escape(when, out, n, cap);
        n = log_put(out, n, cap, "\",\"level\":\"");
        n = log_put(out, n, cap, log_lower[level]);
        n = log_put(out, n, cap, "\",\"component\":\"");
        n = log_json_escape(component, out, n, cap);
        if (dest[0]) {
            n = log_put(out, n, cap, "\",\"destination\":\"");
            n = log_json_escape(dest, out, n, cap);
        }
        n = log_put(out, n, cap, "\",\"msg\":\"");
        n = log_json_escape(msg, out, n, cap);
        out[n++] = '"';
        out[n++] = '}';
    }
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

void ce_log(ce_log_level level, const char *component, const char *fmt, ...)
{
    if (!ce_log_enabled(level))
        return;
    int64_t now_ms = ce_wall_ms();
    char msg[LOG_MAX_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static char record[LOG_MAX_RECORD]; /* used under log_mu */
    pthread_mutex_lock(&log_mu);
    if (log_reopen) {
        log_reopen = 0;
        if (log_path[0] != '\0') {
            int fd = log_open_fd(log_path, NULL, 0);
            if (fd >= 0) {
                close(log_fd);
                log_fd = fd;
            }
        }
    }
    size_t n = ce_log_format_record(log_format, (long long)now_ms, level,
                                    component, log_dest, msg, record, sizeof record);
    int fd = log_fd >= 0 ? log_fd : STDERR_FILENO;
    (void)ce_write_all(fd, record, n); /* nowhere to report a failed log write */
    pthread_mutex_unlock(&log_mu);
}
