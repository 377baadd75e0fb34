/* config: INI loading (inih) into cfg, table-driven, with file:line errors.
 *
 * inih reads the file through cfg_reader below, which counts lines, so each
 * handler call knows its line. Section headers are also seen by the reader
 * (inih does not report empty sections), which lets us reject unknown or
 * empty sections. All strings in cfg are heap copies owned by cfg. */
#include "config.h"
#include "util/buf.h"
#include "util/ere.h"
#include "util/io.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/parse.h"
#include "util/url.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_LINE 65536
#define CFG_MAX_VALUE 65536

#define CFG_MAX_SECRET 65536

/* CFG_ENUM: a string that must be one of `choices` ("a|b|c").
 * CFG_SECRET: a string; "@/path" reads it from that file (one trailing
 * newline dropped), so secrets need not be in the INI file or environment. */
typedef enum { CFG_STR, CFG_LONG, CFG_ENUM, CFG_SECRET } cfg_type;

typedef struct cfg_key {
    const char *section;
    const char *key;
    cfg_type type;
    const char *def;
    long min;
    long max;
    size_t offset;
    const char *choices;
} cfg_key;

#define CK_STR(sec, k, d, field) {sec, k, CFG_STR, d, 0, 0, offsetof(cfg, field), NULL}
#define CK_LONG(sec, k, d, lo, hi, field) {sec, k, CFG_LONG, d, lo, hi, offsetof(cfg, field), NULL}
#define CK_ENUM(sec, k, d, choices, field) {sec, k, CFG_ENUM, d, 0, 0, offsetof(cfg, field), choices}
#define CK_SECRET(sec, k, field) {sec, k, CFG_SECRET, "", 0, 0, offsetof(cfg, field), NULL}

/* The schema. etc/canal-es.ini and docs/configuration.md list the same keys. */
static const cfg_key cfg_keys[] = {
    CK_STR("canal", "address", "127.0.0.1:11111", canal.address),
    CK_STR("canal", "destination", "example", canal.destination),
    CK_STR("canal", "username", "", canal.username),
    CK_SECRET("canal", "password", canal.password),
    CK_LONG("canal", "client_id", "1001", 1, 32767, canal.client_id),
    CK_STR("canal", "filter", "", canal.filter),
    CK_LONG("canal", "batch_size", "1000", 1, 1000000, canal.batch_size),
    CK_LONG("canal", "fetch_timeout_ms", "500", 1, 600000, canal.fetch_timeout_ms),
    CK_LONG("canal", "max_frame_mb", "64", 1, 1024, canal.max_frame_mb),
    CK_LONG("canal", "max_batches_in_flight", "4", 1, 60, canal.max_batches_in_flight),
    CK_STR("canal", "zookeeper", "", canal.zookeeper),
    CK_LONG("canal", "zookeeper_timeout_ms", "10000", 1000, 600000, canal.zookeeper_timeout_ms),
    CK_STR("canal", "connection_charset", "UTF-8", canal.connection_charset),
    CK_STR("kafka", "brokers", "", kafka.brokers),
    CK_STR("kafka", "topic", "", kafka.topic),
    CK_STR("kafka", "group_id", "canal-es", kafka.group_id),
    CK_STR("kafka", "client_id", "canal-es", kafka.client_id),
    CK_ENUM("kafka", "tls", "false", "true|false", kafka.tls),
    CK_STR("kafka", "ca_file", "", kafka.ca_file),
    CK_STR("kafka", "cert_file", "", kafka.cert_file),
    CK_STR("kafka", "key_file", "", kafka.key_file),
    CK_ENUM("kafka", "verify", "true", "true|false", kafka.verify),
    CK_STR("kafka", "sasl_mechanism", "", kafka.sasl_mechanism),
    CK_SECRET("kafka", "username", kafka.username),
    CK_SECRET("kafka", "password", kafka.password),
    CK_LONG("kafka", "session_timeout_ms", "45000", 6000, 3600000, kafka.session_timeout_ms),
    CK_LONG("kafka", "max_poll_records", "1000", 1, 1000000, kafka.max_poll_records),
    CK_LONG("kafka", "poll_timeout_ms", "500", 1, 600000, kafka.poll_timeout_ms),
    CK_STR("elasticsearch", "url", "http://127.0.0.1:9200", es.url),
    CK_SECRET("elasticsearch", "username", es.username),
    CK_SECRET("elasticsearch", "password", es.password),
    CK_SECRET("elasticsearch", "api_key", es.api_key),
    CK_STR("elasticsearch", "ca_file", "", es.ca_file),
    CK_STR("elasticsearch", "cert_file", "", es.cert_file),
    CK_STR("elasticsearch", "key_file", "", es.key_file),
    CK_ENUM("elasticsearch", "verify", "true", "true|false", es.verify),
    CK_ENUM("elasticsearch", "compression", "none", "none|gzip", es.compression),
    CK_LONG("elasticsearch", "bulk_max_actions", "10000", 1, 1000000, es.bulk_max_actions),
    CK_LONG("elasticsearch", "flush_interval_ms", "1000", 0, 3600000, es.flush_interval_ms),
    CK_LONG("elasticsearch", "concurrency", "1", 1, 64, es.concurrency),
    CK_STR("elasticsearch", "versioning", "external", es.versioning),
    CK_LONG("elasticsearch", "version_epoch", "0", 0, 255, es.version_epoch),
    CK_LONG("elasticsearch", "retry_initial_ms", "200", 1, 600000, es.retry_initial_ms),
    CK_LONG("elasticsearch", "retry_max_ms", "30000", 1, 3600000, es.retry_max_ms),
    CK_LONG("elasticsearch", "max_retries", "0", 0, 1000000000, es.max_retries),
    CK_STR("elasticsearch", "on_error", "", es.on_error),
    CK_STR("elasticsearch", "dead_letter", "", es.dead_letter),
    CK_LONG("elasticsearch", "request_timeout_ms", "60000", 100, 3600000, es.request_timeout_ms),
    CK_LONG("elasticsearch", "bulk_max_bytes", "8388608", 1024, 536870912, es.bulk_max_bytes),
    CK_LONG("elasticsearch", "shutdown_timeout_ms", "30000", 0, 3600000, es.shutdown_timeout_ms),
    CK_STR("mysql", "host", "", mysql.host),
    CK_LONG("mysql", "port", "3306", 1, 65535, mysql.port),
    CK_STR("mysql", "socket", "", mysql.socket),
    CK_STR("mysql", "user", "", mysql.user),
    CK_SECRET("mysql", "password", mysql.password),
    CK_STR("mysql", "ca_file", "", mysql.ca_file),
    CK_ENUM("mysql", "verify", "true", "true|false", mysql.verify),
    CK_LONG("mysql", "connect_timeout_ms", "10000", 100, 600000, mysql.connect_timeout_ms),
    CK_STR("mysql", "time_zone", "+00:00", mysql.time_zone),
    CK_LONG("reindex", "chunk_rows", "1000", 1, 1000000, reindex.chunk_rows),
    CK_ENUM("reindex", "position", "auto", "auto|binlog_snapshot|lock_tables", reindex.position),
    CK_LONG("reindex", "keep_old", "1", 0, 1000, reindex.keep_old),
    CK_LONG("reindex", "max_rows_per_s", "0", 0, 100000000, reindex.max_rows_per_s),
    CK_LONG("reindex", "concurrency", "1", 1, 64, reindex.concurrency),
    CK_LONG("reindex", "max_stream_lag_ms", "5000", 100, 3600000, reindex.max_stream_lag_ms),
    CK_STR("checkpoint", "file", "", checkpoint.file),
    CK_STR("http", "listen", "", http.listen),
    CK_LONG("http", "health_max_lag_s", "60", 1, 31536000, http.health_max_lag_s),
    CK_SECRET("http", "admin_token", http.admin_token),
    CK_ENUM("log", "level", "info", "error|warn|info|debug", log.level),
    CK_ENUM("log", "format", "text", "text|json", log.format),
    CK_STR("log", "file", "", log.file),
};
#define CFG_NKEYS (sizeof cfg_keys / sizeof cfg_keys[0])
_Static_assert(CFG_NKEYS <= 128, "seen_keys has a bit per key");

typedef enum { SEC_NONE, SEC_FIXED, SEC_TABLE, SEC_DEFAULTS } sec_kind;

typedef struct cfg_parser {
    cfg *c;
    const char *name;
    int line;
    bool failed;
    char *err;
    size_t errlen;
    /* reader state */
    const char *text;
    size_t pos;
    size_t len;
    /* section state */
    sec_kind kind;
    char section[256];
    int section_line;
    uint64_t seen_keys[2];   /* bit per cfg_keys entry (fixed sections) */
    int canal_line;          /* where [canal] started, 0 if absent */
    unsigned table_seen;     /* bit per table key */
    unsigned defaults_seen;  /* bit per [defaults] key */
    int defaults_line;       /* where [defaults] started, 0 if absent */
    bool table_has_key;
    long client_id_num;
} cfg_parser;

static void cfg_fail(cfg_parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cfg_fail(cfg_parser *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
    else
        snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
}

/* Expands ${VAR} from the environment ("$$" is a literal "$"). */
static char *cfg_expand(cfg_parser *p, const char *v)
{
    ce_buf b;
    ce_buf_init(&b, CFG_MAX_VALUE);
    char *res = NULL;
    for (const char *s = v; *s; s++) {
        if (s[0] == '$' && s[1] == '$') {
            if (ce_buf_putc(&b, '$') != 0)
                goto too_long;
            s++;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            const char *inner = strstr(s + 2, "${");
            if (inner != NULL && (end == NULL || inner < end)) {
                cfg_fail(p, p->line,
                         "${ inside ${...}: variables cannot be nested; write ${NAME} with NAME an environment "
                         "variable (a literal $ is written $$)");
                goto out;
            }
            if (end == NULL) {
                cfg_fail(p, p->line, "unterminated ${ in value: write ${NAME} (a literal $ is written $$)");
                goto out;
            }
            char var[256];
            size_t n = (size_t)(end - (s + 2));
            if (strspn(s + 2, " \t") >= n) { /* ${} or ${ } */
                cfg_fail(p, p->line,
                         "no variable name in ${...}: write ${NAME} with NAME an environment variable (a literal $ "
                         "is written $$)");
                goto out;
            }
            if (n >= sizeof var) {
                cfg_fail(p, p->line, "'${%.40s...}': a variable name is at most %zu bytes", s + 2, sizeof var - 1);
                goto out;
            }
            memcpy(var, s + 2, n);
            var[n] = '\0';
            if (strcspn(var, "$={ \t") != n) {
                cfg_fail(p, p->line,
                         "'${%.60s}': '%.60s' is not an environment variable name (no $, =, {, spaces or tabs; a "
                         "literal $ is written $$)",
                         var, var);
                goto out;
            }
            const char *val = getenv(var);
            if (val == NULL) {
                cfg_fail(p, p->line, "environment variable %s is not set", var);
                goto out;
            }
            if (ce_buf_append_str(&b, val) != 0)
                goto too_long;
            s = end;
        } else if (ce_buf_putc(&b, (uint8_t)*s) != 0) {
            goto too_long;
        }
    }
    if (ce_buf_terminate(&b) != 0)
        goto too_long;
    res = b.data ? (char *)b.data : ce_strdup("");
    if (res == NULL)
        cfg_fail(p, p->line, "out of memory");
    if (b.data)
        b.data = NULL;
    goto out;
too_long:
    cfg_fail(p, p->line, "value longer than %d bytes", CFG_MAX_VALUE);
out:
    ce_buf_free(&b);
    return res;
}

const char *cfg_index_name_problem(const char *s, char *buf, size_t buflen)
{
    if (*s == '\0')
        return "is empty";
    if (strlen(s) > CFG_INDEX_MAX) {
        snprintf(buf, buflen, "is longer than %d bytes", CFG_INDEX_MAX);
        return buf;
    }
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "is '.' or '..'";
    if (*s == '-' || *s == '_' || *s == '+') {
        snprintf(buf, buflen, "starts with '%c'", *s);
        return buf;
    }
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q >= 'A' && *q <= 'Z')
            return "has upper case";
        if (*q == ' ')
            return "contains a space";
        if (*q < ' ') {
            snprintf(buf, buflen, "contains the control character 0x%02x", *q);
            return buf;
        }
        if (strchr("\\/*?\"<>|,#:", *q) != NULL) {
            snprintf(buf, buflen, "contains '%c'", *q);
            return buf;
        }
    }
    return NULL;
}

static bool cfg_valid_index_name(const char *s)
{
    char buf[64];
    return cfg_index_name_problem(s, buf, sizeof buf) == NULL;
}

static bool cfg_valid_ident(const char *s)
{
    if (*s == '\0')
        return false;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q <= ' ' || *q == '`')
            return false;
    return true;
}

/* Splits a comma-separated list into trimmed, non-empty items. */
static int cfg_split_list(cfg_parser *p, const char *v, char ***out, size_t *n)
{
    char *copy = ce_strdup(v);
    char **items = NULL;
    size_t count = 0;
    int rc = -1;
    if (copy == NULL)
        goto oom;
    size_t cap = 1;
    for (const char *q = v; *q; q++)
        cap += *q == ',';
    items = ce_calloc(cap, sizeof *items);
    if (items == NULL)
        goto oom;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        ce_trim(tok);
        if (*tok == '\0' || !cfg_valid_ident(tok)) {
            cfg_fail(p, p->line, "bad column name in list '%s'", v);
            goto out;
        }
        items[count] = ce_strdup(tok);
        if (items[count] == NULL)
            goto oom;
        count++;
    }
    if (count == 0) {
        cfg_fail(p, p->line, "empty column list");
        goto out;
    }
    *out = items;
    *n = count;
    items = NULL;
    rc = 0;
    goto out;
oom:
    cfg_fail(p, p->line, "out of memory");
out:
    if (items) {
        for (size_t i = 0; i < count; i++)
            ce_free(items[i]);
        ce_free(items);
    }
    ce_free(copy);
    return rc;
}

int cfg_expand_template(const char *tmpl, const char *db, const char *table, int lower, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return -1;
    for (const char *q = tmpl; *q;) {
        const char *val = NULL;
        if (strncmp(q, "{db}", 4) == 0) {
            val = db;
            q += 4;
        } else if (strncmp(q, "{table}", 7) == 0) {
            val = table;
            q += 7;
        } else if (*q == '{') {
            return -1;
        }
        if (val == NULL) {
            if (n + 1 >= outlen)
                goto too_long;
            out[n++] = *q++;
            continue;
        }
        for (const char *v = val; *v; v++) {
            if (n + 1 >= outlen)
                goto too_long;
            out[n++] = lower && *v >= 'A' && *v <= 'Z' ? (char)(*v - 'A' + 'a') : *v;
        }
    }
    out[n] = '\0';
    return 0;
too_long:
    out[n] = '\0'; /* what fits */
    return -1;
}

/* Splits "a:b, c:d" into pairs (split at the first ':' of each item). */
static int cfg_split_pairs(cfg_parser *p, const char *key, const char *v, cfg_pair **out, size_t *n)
{
    char *copy = ce_strdup(v);
    cfg_pair *pairs = NULL;
    size_t count = 0;
    int rc = -1;
    if (copy == NULL)
        goto oom;
    size_t cap = 1;
    for (const char *q = v; *q; q++)
        cap += *q == ',';
    pairs = ce_calloc(cap, sizeof *pairs);
    if (pairs == NULL)
        goto oom;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon == NULL) {
            cfg_fail(p, p->line, "[%s] %s: '%s' is not NAME:VALUE", p->section, key, ce_trim(tok));
            goto out;
        }
        *colon = '\0';
        char *a = ce_trim(tok), *b = ce_trim(colon + 1);
        if (!cfg_valid_ident(a) || (strcmp(key, "rename") == 0 && !cfg_valid_ident(b))) {
            cfg_fail(p, p->line, "[%s] %s: bad name in '%s:%s'", p->section, key, a, b);
            goto out;
        }
        for (size_t i = 0; i < count; i++)
            if (strcmp(pairs[i].a, a) == 0) {
                cfg_fail(p, p->line, "[%s] %s: '%s' given twice", p->section, key, a);
                goto out;
            }
        pairs[count].a = ce_strdup(a);
        pairs[count].b = ce_strdup(b);
        count++;
        if (pairs[count - 1].a == NULL || pairs[count - 1].b == NULL)
            goto oom;
    }
    if (count == 0) {
        cfg_fail(p, p->line, "[%s] %s: empty list", p->section, key);
        goto out;
    }
    *out = pairs;
    *n = count;
    pairs = NULL;
    rc = 0;
    goto out;
oom:
    cfg_fail(p, p->line, "out of memory");
out:
    if (pairs) {
        for (size_t i = 0; i < count; i++) {
            ce_free(pairs[i].a);
            ce_free(pairs[i].b);
        }
        ce_free(pairs);
    }
    ce_free(copy);
    return rc;
}

static void cfg_free_pairs(cfg_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ce_free(pairs[i].a);
        ce_free(pairs[i].b);
    }
    ce_free(pairs);
}

static void cfg_free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ce_free(items[i]);
    ce_free(items);
}

/* "@/path": the file's content without one trailing newline; NULL on error.
 * Only a regular file: opened with O_NONBLOCK and checked with fstat, so a
 * FIFO, a device or a directory is refused instead of blocking the start. */
static char *cfg_read_secret(cfg_parser *p, const cfg_key *k, const char *path)
{
    char *res = NULL;
    ce_buf b;
    ce_buf_init(&b, CFG_MAX_SECRET);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cfg_fail(p, p->line, "[%s] %s: cannot open secret file %s: %s", k->section, k->key, path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cfg_fail(p, p->line, "[%s] %s: secret file %s is not a regular file", k->section, k->key, path);
        goto out;
    }
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cfg_fail(p, p->line, "[%s] %s: cannot read secret file %s: %s", k->section, k->key, path,
                     strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (ce_buf_append(&b, chunk, (size_t)n) != 0) {
            cfg_fail(p, p->line, "[%s] %s: secret file %s is larger than %d bytes", k->section, k->key, path,
                     CFG_MAX_SECRET);
            goto out;
        }
    }
    if (b.len > 0 && b.data[b.len - 1] == '\n')
        b.len--;
    if (b.len > 0 && b.data[b.len - 1] == '\r')
        b.len--;
    if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
        cfg_fail(p, p->line, "[%s] %s: secret file %s holds a NUL byte", k->section, k->key, path);
        goto out;
    }
    res = ce_strndup(b.data ? (const char *)b.data : "", b.len);
    if (res == NULL)
        cfg_fail(p, p->line, "out of memory");
out:
    if (fd >= 0)
        close(fd);
    ce_buf_free(&b);
    return res;
}

/* Is v one of "a|b|c"? */
static bool cfg_in_choices(const char *v, const char *choices)
{
    size_t vl = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == vl && strncmp(c, v, vl) == 0)
            return true;
        if (bar == NULL)
            break;
        c = bar + 1;
    }
    return false;
}

static int cfg_set_key(cfg_parser *p, const cfg_key *k, const char *value, int line)
{
    char **sp = (char **)((char *)p->c + k->offset);
    if (k->type != CFG_LONG) {
        char *v = cfg_expand(p, value);
        if (v == NULL)
            return -1;
        if (k->type == CFG_ENUM && !cfg_in_choices(v, k->choices)) {
            char list[128];
            snprintf(list, sizeof list, "%s", k->choices);
            for (char *q = list; *q; q++)
                if (*q == '|')
                    *q = ',';
            cfg_fail(p, line, "[%s] %s: '%s' is not one of %s", k->section, k->key, v, list);
            ce_free(v);
            return -1;
        }
        if (k->type == CFG_SECRET && v[0] == '@') {
            char *secret = cfg_read_secret(p, k, v + 1);
            ce_free(v);
            if (secret == NULL)
                return -1;
            v = secret;
        }
        ce_free(*sp);
        *sp = v;
        return 0;
    }
    char *v = cfg_expand(p, value);
    if (v == NULL)
        return -1;
    int64_t n;
    int rc = ce_parse_i64(v, k->min, k->max, &n);
    if (rc != 0)
        cfg_fail(p, line, "[%s] %s: '%s' is not an integer in %ld..%ld", k->section, k->key, v, k->min, k->max);
    else
        *(long *)((char *)p->c + k->offset) = (long)n;
    ce_free(v);
    return rc;
}

static const char *const table_keys[] = {
    "index",   "id",      "decimal", "timezone", "blob",    "on_truncate", "on_drop", "convert",
    "id_separator", "id_prefix", "include", "exclude", "rename", "add_field", "routing",  "pipeline",
    "delete",  "enabled", "mapping", "alias", "flatten", "snapshot"};
#define TABLE_NKEYS (sizeof table_keys / sizeof table_keys[0])
enum {
    TK_INDEX, TK_ID, TK_DECIMAL, TK_TIMEZONE, TK_BLOB, TK_ON_TRUNCATE, TK_ON_DROP, TK_CONVERT,
    TK_ID_SEPARATOR, TK_ID_PREFIX, TK_INCLUDE, TK_EXCLUDE, TK_RENAME, TK_ADD_FIELD, TK_ROUTING, TK_PIPELINE,
    TK_DELETE, TK_ENABLED, TK_MAPPING, TK_ALIAS, TK_FLATTEN, TK_SNAPSHOT
};
_Static_assert(TK_SNAPSHOT + 1 == TABLE_NKEYS, "one TK_ per table key");

static int cfg_parse_ddl_action(const char *v, cfg_ddl_action *out)
{
    if (strcmp(v, "delete") == 0)
        *out = CFG_DDL_DELETE;
    else if (strcmp(v, "ignore") == 0)
        *out = CFG_DDL_IGNORE;
    else
        return -1;
    return 0;
}

/* decimal, timezone, blob, mapping, on_truncate, on_drop: shared by [defaults] and
 * [table]. Returns 1 when `key` is one of them (p->failed tells the outcome). */
static int cfg_set_option(cfg_parser *p, cfg_table *t, const char *key, const char *v)
{
    int rc = 0;
    unsigned bit;
    if (strcmp(key, "decimal") == 0) {
        bit = CFG_OPT_DECIMAL;
        rc = value_parse_decimal(v, &t->values.decimal);
        if (rc != 0)
            cfg_fail(p, p->line, "[%s] decimal: '%s' is not one of string, number", p->section, v);
    } else if (strcmp(key, "timezone") == 0) {
        bit = CFG_OPT_TIMEZONE;
        rc = value_parse_timezone(v, &t->values.tz_set, &t->values.tz_offset_min);
        if (rc != 0)
            cfg_fail(p, p->line, "[%s] timezone: '%s' is not UTC or an offset like +08:00 (up to +-14:00)",
                     p->section, v);
    } else if (strcmp(key, "blob") == 0) {
        bit = CFG_OPT_BLOB;
        rc = value_parse_blob(v, &t->values.blob);
        if (rc != 0)
            cfg_fail(p, p->line, "[%s] blob: '%s' is not one of auto, base64, text", p->section, v);
    } else if (strcmp(key, "mapping") == 0) {
        bit = CFG_OPT_MAPPING;
        ce_free(t->mapping);
        t->mapping = NULL;
        if (strcmp(v, "auto") == 0) {
            t->mapping_mode = CFG_MAPPING_AUTO;
        } else if (strcmp(v, "dynamic") == 0) {
            t->mapping_mode = CFG_MAPPING_DYNAMIC;
        } else if (access(v, R_OK) != 0) {
            cfg_fail(p, p->line, "[%s] mapping: '%s' is not auto or dynamic, and cannot be read as a file: %s",
                     p->section, v, strerror(errno));
            rc = -1;
        } else if ((t->mapping = ce_strdup(v)) == NULL) {
            cfg_fail(p, p->line, "out of memory");
            rc = -1;
        } else {
            t->mapping_mode = CFG_MAPPING_FILE;
        }
    } else if (strcmp(key, "snapshot") == 0) {
        bit = CFG_OPT_SNAPSHOT;
        if (strcmp(v, "initial") == 0) {
            t->snapshot = CFG_SNAPSHOT_INITIAL;
        } else if (strcmp(v, "never") == 0) {
            t->snapshot = CFG_SNAPSHOT_NEVER;
        } else {
            cfg_fail(p, p->line, "[%s] snapshot: '%s' is not one of initial, never", p->section, v);
            rc = -1;
        }
    } else if (strcmp(key, "on_truncate") == 0 || strcmp(key, "on_drop") == 0) {
        bool trunc = key[3] == 't';
        bit = trunc ? CFG_OPT_ON_TRUNCATE : CFG_OPT_ON_DROP;
        rc = cfg_parse_ddl_action(v, trunc ? &t->on_truncate : &t->on_drop);
        if (rc != 0)
            cfg_fail(p, p->line, "[%s] %s: '%s' is not one of delete, ignore", p->section, key, v);
    } else {
        return 0;
    }
    t->set |= bit;
    return 1;
}

static void cfg_defaults_key(cfg_parser *p, const char *key, const char *value)
{
    static const char *const keys[] = {"decimal", "timezone", "blob", "on_truncate", "on_drop", "mapping", "snapshot"};
    size_t ki;
    for (ki = 0; ki < sizeof keys / sizeof keys[0]; ki++)
        if (strcmp(key, keys[ki]) == 0)
            break;
    if (ki == sizeof keys / sizeof keys[0]) {
        cfg_fail(p, p->line,
                 "[defaults]: unknown key '%s' (known: decimal, timezone, blob, on_truncate, on_drop, mapping, snapshot)",
                 key);
        return;
    }
    if (p->defaults_seen & (1u << ki)) {
        cfg_fail(p, p->line, "[defaults]: duplicate key '%s'", key);
        return;
    }
    p->defaults_seen |= 1u << ki;
    char *v = cfg_expand(p, value);
    if (v != NULL)
        cfg_set_option(p, &p->c->defaults, key, v);
    ce_free(v);
}

static void cfg_table_done(cfg_parser *p)
{
    if (p->kind != SEC_TABLE || p->failed)
        return;
    cfg_table *t = &p->c->tables[p->c->n_tables - 1];
    if (t->index == NULL)
        cfg_fail(p, p->section_line, "[%s]: missing key 'index'", p->section);
    else if (t->n_include > 0 && t->n_exclude > 0)
        cfg_fail(p, p->section_line, "[%s]: give include or exclude, not both", p->section);
    else if (t->id_separator == NULL && (t->id_separator = ce_strdup("_")) == NULL)
        cfg_fail(p, p->section_line, "out of memory");
}

static cfg_table *cfg_new_table(cfg_parser *p, int line)
{
    cfg_table *nt = ce_realloc(p->c->tables, (p->c->n_tables + 1) * sizeof *nt);
    if (nt == NULL) {
        cfg_fail(p, line, "out of memory");
        return NULL;
    }
    p->c->tables = nt;
    cfg_table *t = &nt[p->c->n_tables++];
    memset(t, 0, sizeof *t);
    t->line = line;
    t->enabled = 1;
    return t;
}

/* [table /REGEX/]: POSIX extended regex over the whole "db.table". */
static int cfg_begin_regex_table(cfg_parser *p, const char *spec, int line)
{
    size_t len = strlen(spec);
    if (len < 3 || spec[len - 1] != '/') {
        cfg_fail(p, line, "section [table %s]: expected [table /REGEX/]", spec);
        return -1;
    }
    for (size_t i = 0; i < p->c->n_tables; i++) {
        const cfg_table *o = &p->c->tables[i];
        if (o->pattern != NULL && strlen(o->pattern) == len - 2 && strncmp(o->pattern, spec + 1, len - 2) == 0) {
            cfg_fail(p, line, "table pattern %s is already configured at line %d", spec, o->line);
            return -1;
        }
    }
    char why[200];
    if (ere_check(spec + 1, len - 2, why, sizeof why) != 0) {
        cfg_fail(p, line, "section [table %s]: pattern refused: %s (table patterns need no more; simplify it)",
                 spec, why);
        return -1;
    }
    char anchored[300];
    int n = snprintf(anchored, sizeof anchored, "^(%.*s)$", (int)(len - 2), spec + 1);
    if (n < 0 || (size_t)n >= sizeof anchored) {
        cfg_fail(p, line, "section [table %s]: pattern too long", spec);
        return -1;
    }
    cfg_table *t = cfg_new_table(p, line);
    if (t == NULL)
        return -1;
    int rc = regcomp(&t->re, anchored, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[200];
        regerror(rc, &t->re, msg, sizeof msg);
        p->c->n_tables--; /* nothing to free: re is not compiled */
        cfg_fail(p, line, "section [table %s]: bad regex: %s", spec, msg);
        return -1;
    }
    t->pattern = ce_strndup(spec + 1, len - 2);
    if (t->pattern == NULL) {
        regfree(&t->re);
        p->c->n_tables--;
        cfg_fail(p, line, "out of memory");
        return -1;
    }
    p->kind = SEC_TABLE;
    return 0;
}

static int cfg_begin_section(cfg_parser *p, const char *name, int line)
{
    cfg_table_done(p);
    if (p->failed)
        return -1;
    snprintf(p->section, sizeof p->section, "%s", name);
    p->section_line = line;
    /* seen_keys is not reset: its bits are per key of the whole schema, so a
     * key set again in a repeated [canal] section is still a duplicate. */
    p->table_seen = 0;
    if (strcmp(name, "canal") == 0 && p->canal_line == 0)
        p->canal_line = line;
    if (strcmp(name, "canal") == 0 || strcmp(name, "kafka") == 0 || strcmp(name, "elasticsearch") == 0 ||
        strcmp(name, "checkpoint") == 0 || strcmp(name, "mysql") == 0 || strcmp(name, "reindex") == 0 ||
        strcmp(name, "http") == 0 || strcmp(name, "log") == 0) {
        p->kind = SEC_FIXED;
        return 0;
    }
    if (strcmp(name, "defaults") == 0) {
        if (p->defaults_line != 0) {
            cfg_fail(p, line, "[defaults] is already given at line %d", p->defaults_line);
            return -1;
        }
        p->defaults_line = line;
        p->kind = SEC_DEFAULTS;
        return 0;
    }
    if (strncmp(name, "table ", 6) != 0) {
        cfg_fail(p, line, "unknown section [%s] (known: [canal], [kafka], [elasticsearch], [checkpoint], [http], [log], [defaults], "
                   "[table DB.TABLE])",
                 name);
        return -1;
    }
    const char *spec = name + 6;
    while (*spec == ' ')
        spec++;
    if (*spec == '/')
        return cfg_begin_regex_table(p, spec, line);
    const char *dot = strchr(spec, '.');
    if (dot == NULL || dot == spec || dot[1] == '\0' || strchr(spec, ' ') != NULL) {
        cfg_fail(p, line, "section [%s]: expected [table DB.TABLE]", name);
        return -1;
    }
    for (size_t i = 0; i < p->c->n_tables; i++) {
        const cfg_table *o = &p->c->tables[i];
        size_t dl = (size_t)(dot - spec);
        if (o->db != NULL && strlen(o->db) == dl && strncmp(o->db, spec, dl) == 0 && strcmp(o->table, dot + 1) == 0) {
            cfg_fail(p, line, "table %s is already configured at line %d", spec, o->line);
            return -1;
        }
    }
    cfg_table *t = cfg_new_table(p, line);
    if (t == NULL)
        return -1;
    t->db = ce_strndup(spec, (size_t)(dot - spec));
    t->table = ce_strdup(dot + 1);
    if (t->db == NULL || t->table == NULL) {
        cfg_fail(p, line, "out of memory");
        return -1;
    }
    p->kind = SEC_TABLE;
    return 0;
}

static int cfg_table_key(cfg_parser *p, const char *key, const char *value)
{
    cfg_table *t = &p->c->tables[p->c->n_tables - 1];
    size_t ki;
    for (ki = 0; ki < TABLE_NKEYS; ki++)
        if (strcmp(key, table_keys[ki]) == 0)
            break;
    if (ki == TABLE_NKEYS) {
        cfg_fail(p, p->line,
                 "[%s]: unknown key '%s' (known: index, id, id_separator, id_prefix, include, exclude, rename, "
                 "add_field, routing, pipeline, delete, enabled, mapping, alias, flatten, decimal, timezone, blob, "
                 "convert, on_truncate, on_drop, snapshot)",
                 p->section, key);
        return -1;
    }
    if (p->table_seen & (1u << ki)) {
        cfg_fail(p, p->line, "[%s]: duplicate key '%s'", p->section, key);
        return -1;
    }
    p->table_seen |= 1u << ki;
    char *v = cfg_expand(p, value);
    if (v == NULL)
        return -1;
    int rc = 0;
    char probe[CFG_INDEX_MAX + 1];
    if (ki == TK_INDEX || ki == TK_ALIAS) {
        /* a template is valid when every table name could fill it: try "x" */
        if (cfg_expand_template(v, "x", "x", 1, probe, sizeof probe) != 0 || !cfg_valid_index_name(probe) ||
            (ki == TK_ALIAS && strcmp(probe, v) != 0)) {
            cfg_fail(p, p->line,
                     "[%s]: %s '%s' is not a valid index name (lowercase, no spaces or \\/*?\"<>|,#:%s)",
                     p->section, key, v, ki == TK_INDEX ? "; {db} and {table} may be used" : "");
            rc = -1;
        } else {
            *(ki == TK_INDEX ? &t->index : &t->alias) = v;
            v = NULL;
        }
    } else if (ki == TK_ID) {
        if (*v != '\0')
            rc = cfg_split_list(p, v, &t->id_cols, &t->n_id_cols);
    } else if (ki == TK_ID_SEPARATOR) {
        if (strlen(v) > 16) {
            cfg_fail(p, p->line, "[%s] id_separator: longer than 16 bytes", p->section);
            rc = -1;
        } else {
            t->id_separator = v;
            v = NULL;
        }
    } else if (ki == TK_ID_PREFIX) {
        if (cfg_expand_template(v, "x", "x", 0, probe, sizeof probe) != 0) {
            cfg_fail(p, p->line, "[%s] id_prefix: '%s' may only use {db} and {table} and be up to %d bytes",
                     p->section, v, CFG_INDEX_MAX);
            rc = -1;
        } else if (*v != '\0') {
            t->id_prefix = v;
            v = NULL;
        }
    } else if (ki == TK_INCLUDE) {
        rc = cfg_split_list(p, v, &t->include, &t->n_include);
    } else if (ki == TK_EXCLUDE) {
        rc = cfg_split_list(p, v, &t->exclude, &t->n_exclude);
    } else if (ki == TK_RENAME) {
        rc = cfg_split_pairs(p, key, v, &t->rename, &t->n_rename);
    } else if (ki == TK_ADD_FIELD) {
        rc = cfg_split_pairs(p, key, v, &t->add_field, &t->n_add_field);
    } else if (ki == TK_ROUTING || ki == TK_PIPELINE) {
        if (!cfg_valid_ident(v)) {
            cfg_fail(p, p->line, "[%s] %s: '%s' is not a %s name", p->section, key, v,
                     ki == TK_ROUTING ? "column" : "pipeline");
            rc = -1;
        } else {
            *(ki == TK_ROUTING ? &t->routing : &t->pipeline) = v;
            v = NULL;
        }
    } else if (ki == TK_DELETE) {
        if (strcmp(v, "delete") == 0) {
            t->delete_mode = CFG_DELETE_HARD;
        } else if (strncmp(v, "soft:", 5) == 0 && cfg_valid_ident(ce_trim(v + 5))) {
            t->delete_mode = CFG_DELETE_SOFT;
            t->soft_field = ce_strdup(ce_trim(v + 5));
            if (t->soft_field == NULL) {
                cfg_fail(p, p->line, "out of memory");
                rc = -1;
            }
        } else {
            cfg_fail(p, p->line, "[%s] delete: '%s' is not delete or soft:FIELD", p->section, v);
            rc = -1;
        }
    } else if (ki == TK_ENABLED) {
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
            t->enabled = v[0] == 't';
        } else {
            cfg_fail(p, p->line, "[%s] enabled: '%s' is not true or false", p->section, v);
            rc = -1;
        }
    } else if (ki == TK_FLATTEN) {
        rc = cfg_split_list(p, v, &t->flatten, &t->n_flatten);
    } else if (ki == TK_CONVERT) {
        char msg[256];
        if (*v != '\0' && value_parse_convert(v, &t->values.convs, &t->values.n_convs, msg, sizeof msg) != 0) {
            cfg_fail(p, p->line, "[%s] convert: %s", p->section, msg);
            rc = -1;
        }
    } else {
        cfg_set_option(p, t, key, v);
        rc = p->failed ? -1 : 0;
    }
    ce_free(v);
    return rc;
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
    cfg_parser *p = user;
    if (p->failed)
        return 0;
    if (p->kind == SEC_NONE) {
        cfg_fail(p, p->line, "key '%s' outside of any section", name);
        return 0;
    }
    (void)section; /* the reader tracks sections itself */
    if (p->kind == SEC_TABLE)
        return cfg_table_key(p, name, value) == 0;
    if (p->kind == SEC_DEFAULTS) {
        cfg_defaults_key(p, name, value);
        return !p->failed;
    }
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (strcmp(k->section, p->section) != 0 || strcmp(k->key, name) != 0)
            continue;
        if (p->seen_keys[i / 64] & ((uint64_t)1 << (i % 64))) {
            cfg_fail(p, p->line, "[%s]: duplicate key '%s'", p->section, name);
            return 0;
        }
        p->seen_keys[i / 64] |= (uint64_t)1 << (i % 64);
        return cfg_set_key(p, k, value, p->line) == 0;
    }
    char known[768] = "";
    size_t kl = 0;
    for (size_t i = 0; i < CFG_NKEYS && kl < sizeof known; i++)
        if (strcmp(cfg_keys[i].section, p->section) == 0)
            kl += (size_t)snprintf(known + kl, sizeof known - kl, "%s%s", kl ? ", " : "", cfg_keys[i].key);
    cfg_fail(p, p->line, "[%s]: unknown key '%s' (known: %s)", p->section, name, known);
    return 0;
}

/* inih line reader. inih (with realloc on) may ask for a long line in
 * several chunks; only a chunk that starts a line counts as a new line and
 * may be a section header. */
static char *cfg_reader(char *str, int num, void *stream)
{
    cfg_parser *p = stream;
    if (p->pos >= p->len || p->failed || num < 2)
        return NULL;
    const char *start = p->text + p->pos;
    const char *nl = memchr(start, '\n', p->len - p->pos);
    size_t line_len = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
    bool line_start = p->pos == 0 || p->text[p->pos - 1] == '\n';
    if (line_start) {
        p->line++;
        if (line_len > CFG_MAX_LINE - 2) {
            cfg_fail(p, p->line, "line longer than %d bytes", CFG_MAX_LINE - 2);
            return NULL;
        }
    }
    size_t n = line_len < (size_t)num - 1 ? line_len : (size_t)num - 1;
    memcpy(str, start, n);
    str[n] = '\0';
    p->pos += n;
    if (!line_start)
        return str;
    /* section header? */
    const char *s = str;
    while (*s == ' ' || *s == '\t')
        s++;
    if (p->line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
        s += 3;
    if (*s == '[') {
        /* the last ']' of the line: a [table /REGEX/] pattern may hold ']' */
        const char *e = NULL;
        for (const char *q = s; *q && *q != '\n'; q++)
            if (*q == ']')
                e = q;
        if (e == NULL) {
            cfg_fail(p, p->line, n < line_len ? "section header too long" : "section header without ']'");
            return NULL;
        }
        char name[256];
        size_t l = (size_t)(e - s - 1);
        if (l >= sizeof name) {
            cfg_fail(p, p->line, "section name too long");
            return NULL;
        }
        memcpy(name, s + 1, l);
        name[l] = '\0';
        ce_trim(name);
        if (cfg_begin_section(p, name, p->line) != 0)
            return NULL;
    }
    return str;
}

static int cfg_apply_defaults(cfg_parser *p)
{
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (k->type != CFG_LONG) {
            char **sp = (char **)((char *)p->c + k->offset);
            if (*sp == NULL && (*sp = ce_strdup(k->def)) == NULL) {
                cfg_fail(p, 0, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

static void cfg_init_longs(cfg *c)
{
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (k->type == CFG_LONG) {
            int64_t v = 0;
            (void)ce_parse_i64(k->def, k->min, k->max, &v);
            *(long *)((char *)c + k->offset) = (long)v;
        }
    }
}

/* Table options not given in the [table] section come from [defaults]. */
static void cfg_inherit_defaults(cfg *c)
{
    const cfg_table *d = &c->defaults;
    for (size_t i = 0; i < c->n_tables; i++) {
        cfg_table *t = &c->tables[i];
        if (!(t->set & CFG_OPT_DECIMAL))
            t->values.decimal = d->values.decimal;
        if (!(t->set & CFG_OPT_BLOB))
            t->values.blob = d->values.blob;
        if (!(t->set & CFG_OPT_TIMEZONE)) {
            t->values.tz_set = d->values.tz_set;
            t->values.tz_offset_min = d->values.tz_offset_min;
        }
        if (!(t->set & CFG_OPT_ON_TRUNCATE))
            t->on_truncate = d->on_truncate;
        if (!(t->set & CFG_OPT_ON_DROP))
            t->on_drop = d->on_drop;
        if (!(t->set & CFG_OPT_SNAPSHOT))
            t->snapshot = d->snapshot;
        if (!(t->set & CFG_OPT_MAPPING)) {
            t->mapping_mode = d->mapping_mode;
            t->mapping = d->mapping ? ce_strdup(d->mapping) : NULL; /* NULL (no memory) checked in validation */
        }
    }
}

/* A rule's mapping file: readable, at most CFG_MAPPING_MAX bytes, and one
 * JSON object (settings and mappings; the node judges the rest when
 * sink/setup creates the index with it). -1 with err ("mapping file PATH: ..."). */
static int cfg_check_mapping_file(const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    char why[256];
    if (ce_read_file(path, CFG_MAPPING_MAX, "mapping file", &text, &len, err, errlen) != 0)
        return -1;
    int rc = ce_json_is_object(text, len, why, sizeof why);
    if (rc != 0)
        snprintf(err, errlen, "mapping file %s: not a JSON object (settings and mappings)%s%.200s", path,
                 why[0] ? ": " : "", why);
    ce_free(text);
    return rc;
}

/* [elasticsearch] url, credentials and TLS files. Messages never quote a
 * password, an API key or the user:password of a URL. */
static int cfg_validate_transport(cfg_parser *p)
{
    const cfg_es *es = &p->c->es;
    char msg[600];
    if (ce_url_list_check(es->url, msg, sizeof msg) != 0) {
        cfg_fail(p, 0, "[elasticsearch] %s", msg);
        return -1;
    }
    if (es->username[0] != '\0' && es->password[0] == '\0') {
        cfg_fail(p, 0, "[elasticsearch] username is set but password is empty");
        return -1;
    }
    if (es->password[0] != '\0' && es->username[0] == '\0') {
        cfg_fail(p, 0, "[elasticsearch] password is set but username is empty");
        return -1;
    }
    if (es->api_key[0] != '\0' && es->username[0] != '\0') {
        cfg_fail(p, 0, "[elasticsearch] api_key and username/password are both set: keep one of them");
        return -1;
    }
    if ((es->cert_file[0] != '\0') != (es->key_file[0] != '\0')) {
        cfg_fail(p, 0, "[elasticsearch] %s is set without %s (a client certificate needs both)",
                 es->cert_file[0] != '\0' ? "cert_file" : "key_file", es->cert_file[0] != '\0' ? "key_file" : "cert_file");
        return -1;
    }
    const struct {
        const char *key;
        const char *path;
    } files[] = {{"ca_file", es->ca_file}, {"cert_file", es->cert_file}, {"key_file", es->key_file}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i].path[0] != '\0' && access(files[i].path, R_OK) != 0) {
            cfg_fail(p, 0, "[elasticsearch] %s: cannot read %s: %s", files[i].key, files[i].path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* [mysql]: user with host or socket; a readable ca_file; a time_zone the
 * session can take ('+HH:MM', a name, SYSTEM: no quotes or backslashes). */
static int cfg_validate_mysql(cfg_parser *p)
{
    const cfg_mysql *m = &p->c->mysql;
    bool set = m->host[0] != '\0' || m->socket[0] != '\0';
    if (!set && (m->user[0] != '\0' || m->password[0] != '\0')) {
        cfg_fail(p, 0, "[mysql] user or password is set but neither host nor socket");
        return -1;
    }
    if (set && m->user[0] == '\0') {
        cfg_fail(p, 0, "[mysql] user must be set (the snapshot reads the tables as this user)");
        return -1;
    }
    if (m->ca_file[0] != '\0' && access(m->ca_file, R_OK) != 0) {
        cfg_fail(p, 0, "[mysql] ca_file: cannot read %s: %s", m->ca_file, strerror(errno));
        return -1;
    }
    size_t tzl = strlen(m->time_zone);
    if (tzl == 0 || tzl > 64 || strcspn(m->time_zone, "'\\\"`;") != tzl) {
        cfg_fail(p, 0, "[mysql] time_zone: '%.64s' is not a time zone (+HH:MM, or a name the server knows)",
                 m->time_zone);
        return -1;
    }
    return 0;
}

/* [kafka]: on when brokers is set, and then the only source: [canal] absent,
 * brokers host:port, a topic and a group, SASL complete, TLS files readable.
 * A TRUNCATE or DROP read from partition 0 is unordered against the rows
 * of the other partitions (docs/kafka.md): on_truncate / on_drop = delete
 * are refused, and their default is ignore. */
static int cfg_validate_kafka(cfg_parser *p)
{
    cfg *c = p->c;
    cfg_kafka *k = &c->kafka;
    if (k->brokers[0] == '\0')
        return 0;
    k->on = 1;
    if (p->canal_line != 0) {
        cfg_fail(p, p->canal_line,
                 "[canal] and [kafka] brokers are both given: canal-es reads one source, Canal's TCP port ([canal]) "
                 "or its Kafka topic ([kafka]); remove one of them");
        return -1;
    }
    char *copy = ce_strdup(k->brokers);
    if (copy == NULL) {
        cfg_fail(p, 0, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        char host[256];
        int port;
        ce_trim(tok);
        if (ce_parse_hostport(tok, host, sizeof host, &port) != 0) {
            cfg_fail(p, 0, "[kafka] brokers: '%s' is not host:port", tok);
            rc = -1;
        }
    }
    ce_free(copy);
    if (rc != 0)
        return -1;
    if (k->topic[0] == '\0' || k->group_id[0] == '\0' || k->client_id[0] == '\0') {
        cfg_fail(p, 0, "[kafka] %s must not be empty (the topic Canal writes: canal.mq.topic)",
                 k->topic[0] == '\0' ? "topic" : k->group_id[0] == '\0' ? "group_id" : "client_id");
        return -1;
    }
    if (k->topic[0] == '^') {
        regex_t re;
        if (regcomp(&re, k->topic, REG_EXTENDED | REG_NOSUB) != 0) {
            cfg_fail(p, 0, "[kafka] topic: '%.200s' is not a regular expression", k->topic);
            return -1;
        }
        regfree(&re);
    }
    const char *m = k->sasl_mechanism;
    if (m[0] != '\0' && strcmp(m, "PLAIN") != 0 && strcmp(m, "SCRAM-SHA-256") != 0 && strcmp(m, "SCRAM-SHA-512") != 0) {
        cfg_fail(p, 0, "[kafka] sasl_mechanism: '%.60s' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", m);
        return -1;
    }
    if (m[0] != '\0' && (k->username[0] == '\0' || k->password[0] == '\0')) {
        cfg_fail(p, 0, "[kafka] sasl_mechanism = %s needs username and password", m);
        return -1;
    }
    if (m[0] == '\0' && (k->username[0] != '\0' || k->password[0] != '\0')) {
        cfg_fail(p, 0, "[kafka] username or password is set but sasl_mechanism is not (PLAIN, SCRAM-SHA-256, "
                       "SCRAM-SHA-512)");
        return -1;
    }
    if ((k->cert_file[0] != '\0') != (k->key_file[0] != '\0')) {
        cfg_fail(p, 0, "[kafka] %s is set without %s (a client certificate needs both)",
                 k->cert_file[0] != '\0' ? "cert_file" : "key_file", k->cert_file[0] != '\0' ? "key_file" : "cert_file");
        return -1;
    }
    const struct {
        const char *key;
        const char *path;
    } files[] = {{"ca_file", k->ca_file}, {"cert_file", k->cert_file}, {"key_file", k->key_file}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i].path[0] == '\0')
            continue;
        k->tls_on = 1;
        if (access(files[i].path, R_OK) != 0) {
            cfg_fail(p, 0, "[kafka] %s: cannot read %s: %s", files[i].key, files[i].path, strerror(errno));
            return -1;
        }
    }
    if (strcmp(k->tls, "true") == 0)
        k->tls_on = 1;
    for (size_t i = 0; i < c->n_tables; i++) {
        cfg_table *t = &c->tables[i];
        const char *key = NULL;
        if (t->on_truncate == CFG_DDL_DELETE && ((t->set | c->defaults.set) & CFG_OPT_ON_TRUNCATE))
            key = "on_truncate";
        else if (t->on_drop == CFG_DDL_DELETE && ((t->set | c->defaults.set) & CFG_OPT_ON_DROP))
            key = "on_drop";
        if (key != NULL) {
            char name[300];
            cfg_fail(p, t->line,
                     "[table %s] %s = delete cannot be used with [kafka]: Canal writes DDL to partition 0, unordered "
                     "against the rows other partitions' consumers write, so deleting every document could delete "
                     "rows written after the statement; set %s = ignore and rebuild the index with canal-es reindex "
                     "after a TRUNCATE (docs/kafka.md)",
                     cfg_rule_name(t, name, sizeof name), key, key);
            return -1;
        }
        t->on_truncate = CFG_DDL_IGNORE;
        t->on_drop = CFG_DDL_IGNORE;
    }
    return 0;
}

static int cfg_validate(cfg_parser *p)
{
    cfg *c = p->c;
    cfg_inherit_defaults(c);
    if (c->n_tables == 0) {
        cfg_fail(p, 0, "no [table DB.TABLE] section: nothing to sync");
        return -1;
    }
    /* every address must parse */
    char *copy = ce_strdup(c->canal.address);
    if (copy == NULL) {
        cfg_fail(p, 0, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char host[256];
        int port;
        ce_trim(tok);
        if (ce_parse_hostport(tok, host, sizeof host, &port) != 0) {
            cfg_fail(p, 0, "[canal] address: '%s' is not host:port", tok);
            rc = -1;
            break;
        }
        count++;
    }
    if (rc == 0 && (count == 0 || count > CFG_MAX_ADDRESSES)) {
        cfg_fail(p, 0, "[canal] address: expected 1 to %d host:port entries", CFG_MAX_ADDRESSES);
        rc = -1;
    }
    ce_free(copy);
    if (rc == 0 && *c->canal.destination == '\0') {
        cfg_fail(p, 0, "[canal] destination must not be empty");
        rc = -1;
    }
    if (rc == 0) {
        if (strcmp(c->es.versioning, "external") == 0) {
            c->es.versioning_on = 1;
        } else if (strcmp(c->es.versioning, "off") != 0) {
            cfg_fail(p, 0, "[elasticsearch] versioning: '%s' is not one of external, off", c->es.versioning);
            rc = -1;
        }
    }
    if (rc == 0) {
        if (strcmp(c->es.on_error, "halt") == 0 || (c->es.on_error[0] == '\0' && c->es.dead_letter[0] == '\0')) {
            c->es.halt_on_error = 1;
        } else if (strcmp(c->es.on_error, "dead_letter") == 0 || c->es.on_error[0] == '\0') {
            if (c->es.dead_letter[0] == '\0') {
                cfg_fail(p, 0, "[elasticsearch] on_error = dead_letter needs dead_letter = PATH");
                rc = -1;
            }
        } else {
            cfg_fail(p, 0, "[elasticsearch] on_error: '%s' is not one of dead_letter, halt", c->es.on_error);
            rc = -1;
        }
    }
    if (rc == 0 && c->es.retry_max_ms < c->es.retry_initial_ms) {
        cfg_fail(p, 0, "[elasticsearch] retry_max_ms (%ld) is below retry_initial_ms (%ld)", c->es.retry_max_ms,
                 c->es.retry_initial_ms);
        rc = -1;
    }
    if (rc == 0)
        rc = cfg_validate_transport(p);
    if (rc == 0)
        rc = cfg_validate_mysql(p);
    if (rc == 0)
        rc = cfg_validate_kafka(p);
    if (rc == 0 && c->http.listen[0] != '\0') {
        char host[256];
        int port = 0;
        if (ce_parse_hostport(c->http.listen, host, sizeof host, &port) != 0) {
            cfg_fail(p, 0, "[http] listen: '%s' is not host:port (e.g. 127.0.0.1:9180)", c->http.listen);
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        char msg[700];
        if (t->mapping_mode == CFG_MAPPING_FILE && t->mapping == NULL) {
            cfg_fail(p, t->line, "out of memory");
            rc = -1;
        }
        if (t->mapping == NULL)
            continue;
        if (t->alias != NULL && strchr(t->index, '{') != NULL) {
            cfg_fail(p, t->line, "[table]: with alias and mapping, index must be a plain name (the index to create)");
            rc = -1;
        } else if (cfg_check_mapping_file(t->mapping, msg, sizeof msg) != 0) {
            cfg_fail(p, t->line, "[table] %s", msg);
            rc = -1;
        }
    }
    return rc;
}

int cfg_load_string(const char *text, const char *name, cfg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cfg_parser p = {.c = out, .name = name, .err = err, .errlen = errlen, .text = text, .len = strlen(text)};
    if (errlen)
        err[0] = '\0';
    cfg_init_longs(out);
    out->path = ce_strdup(name);
    /* Debian's inih exposes its compile-time options as variables: one key
     * per line, lines up to CFG_MAX_LINE bytes read into a growing buffer. */
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = CFG_MAX_LINE;
    /* Report the first error of the file: without this inih goes on after a
     * syntax error and a later handler error would be the one reported. */
    ini_stop_on_first_error = true;
    int rc = ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
    if (!p.failed && rc > 0)
        cfg_fail(&p, rc, "syntax error (expected [section] or key = value)");
    else if (!p.failed && rc < 0)
        cfg_fail(&p, 0, "cannot parse (out of memory)");
    if (!p.failed)
        cfg_table_done(&p);
    if (!p.failed)
        cfg_apply_defaults(&p);
    if (!p.failed)
        cfg_validate(&p);
    if (p.failed) {
        cfg_free(out);
        return -1;
    }
    return 0;
}

int cfg_load(const char *path, cfg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %m", path);
        return -1;
    }
    ce_buf b;
    ce_buf_init(&b, 16u << 20);
    int rc = -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (ce_buf_append(&b, chunk, n) != 0) {
            snprintf(err, errlen, "%s: file larger than 16 MiB", path);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
        snprintf(err, errlen, "%s: NUL byte in file", path);
        goto out;
    }
    if (ce_buf_terminate(&b) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    rc = cfg_load_string(b.data ? (const char *)b.data : "", path, out, err, errlen);
out:
    ce_buf_free(&b);
    fclose(f);
    return rc;
}

void cfg_free(cfg *c)
{
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (cfg_keys[i].type != CFG_LONG) {
            char **sp = (char **)((char *)c + cfg_keys[i].offset);
            ce_free(*sp);
        }
    for (size_t i = 0; i < c->n_tables; i++) {
        cfg_table *t = &c->tables[i];
        ce_free(t->db);
        ce_free(t->table);
        if (t->pattern != NULL)
            regfree(&t->re);
        ce_free(t->pattern);
        ce_free(t->index);
        cfg_free_list(t->id_cols, t->n_id_cols);
        ce_free(t->id_separator);
        ce_free(t->id_prefix);
        cfg_free_list(t->include, t->n_include);
        cfg_free_list(t->exclude, t->n_exclude);
        cfg_free_pairs(t->rename, t->n_rename);
        cfg_free_pairs(t->add_field, t->n_add_field);
        ce_free(t->routing);
        ce_free(t->pipeline);
        ce_free(t->soft_field);
        ce_free(t->mapping);
        ce_free(t->alias);
        cfg_free_list(t->flatten, t->n_flatten);
        value_convs_free(t->values.convs, t->values.n_convs);
    }
    ce_free(c->tables);
    ce_free(c->defaults.mapping);
    ce_free(c->path);
    memset(c, 0, sizeof *c);
}

const cfg_table *cfg_find_table(const cfg *c, const char *db, const char *table)
{
    char full[600];
    int n = snprintf(full, sizeof full, "%s.%s", db, table);
    bool full_ok = n > 0 && (size_t)n < sizeof full;
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        if (t->pattern == NULL) {
            if (strcmp(t->db, db) == 0 && strcmp(t->table, table) == 0)
                return t;
        } else if (full_ok && regexec(&t->re, full, 0, NULL, 0) == 0) {
            return t;
        }
    }
    return NULL;
}

int cfg_index_check(const cfg_table *t, const char *db, const char *table, char *out, size_t outlen, char *why,
                    size_t whylen)
{
    char buf[64];
    const char *problem = NULL;
    if (t->alias != NULL) {
        if (snprintf(out, outlen, "%s", t->alias) >= (int)outlen)
            problem = "does not fit";
    } else if (cfg_expand_template(t->index, db, table, 1, out, outlen) != 0) {
        snprintf(buf, sizeof buf, "is longer than %d bytes", CFG_INDEX_MAX);
        problem = buf;
    } else {
        problem = cfg_index_name_problem(out, buf, sizeof buf);
    }
    if (problem == NULL)
        return 0;
    snprintf(why, whylen, "%s", problem);
    return -1;
}

int cfg_index_for(const cfg_table *t, const char *db, const char *table, char *out, size_t outlen)
{
    char why[64];
    return cfg_index_check(t, db, table, out, outlen, why, sizeof why);
}

int cfg_index_shared(const cfg *c, const cfg_table *t)
{
    bool per_table = strstr(t->index, "{table}") != NULL && (t->db != NULL || strstr(t->index, "{db}") != NULL);
    if (t->pattern != NULL && !per_table && t->alias == NULL)
        return 1; /* several tables match the pattern, one index */
    if (t->alias != NULL)
        return 1; /* an alias may point anywhere */
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *o = &c->tables[i];
        if (o != t && (strcmp(o->index, t->index) == 0 || (o->alias && t->alias && strcmp(o->alias, t->alias) == 0)))
            return 1;
    }
    return 0;
}

const char *cfg_rule_name(const cfg_table *t, char *buf, size_t len)
{
    if (t->pattern != NULL)
        snprintf(buf, len, "/%s/", t->pattern);
    else
        snprintf(buf, len, "%s.%s", t->db, t->table);
    return buf;
}

int cfg_schema_key(size_t i, const char **section, const char **key, const char **def)
{
    if (i < CFG_NKEYS) {
        *section = cfg_keys[i].section;
        *key = cfg_keys[i].key;
        *def = cfg_keys[i].def;
        return 0;
    }
    i -= CFG_NKEYS;
    if (i < TABLE_NKEYS) {
        *section = "table";
        *key = table_keys[i];
        *def = NULL;
        return 0;
    }
    return -1;
}
