/* config: the INI file (parsed with inih) turned into a validated cfg.
 * Every key lives in one table in config.c (section, key, type, default,
 * range); unknown sections or keys and bad values are "FILE:LINE: message".
 * ${VAR} in a value expands from the environment. cfg_free releases all. */
#ifndef CE_CONFIG_H
#define CE_CONFIG_H

#include <regex.h>
#include <stddef.h>

#include "map/value_opts.h"

#define CFG_MAX_ADDRESSES 16

typedef enum { CFG_DDL_DELETE = 0, CFG_DDL_IGNORE } cfg_ddl_action;
typedef enum { CFG_DELETE_HARD = 0, CFG_DELETE_SOFT } cfg_delete_mode;
/* mapping = auto | dynamic | FILE */
typedef enum { CFG_MAPPING_AUTO = 0, CFG_MAPPING_DYNAMIC, CFG_MAPPING_FILE } cfg_mapping_mode;

/* "a:b" items of rename (old:new) and add_field (name:value). */
typedef struct cfg_pair {
    char *a;
    char *b;
} cfg_pair;

#define CFG_INDEX_MAX 255 /* bytes of an index name */
#define CFG_MAPPING_MAX ((size_t)16 << 20) /* bytes of a mapping file */

/* Options settable in [defaults] and per [table]; `set` has a bit per key
 * given explicitly (CFG_OPT_*), so table values win over defaults. */
enum {
    CFG_OPT_DECIMAL = 1,
    CFG_OPT_TIMEZONE = 2,
    CFG_OPT_BLOB = 4,
    CFG_OPT_ON_TRUNCATE = 8,
    CFG_OPT_ON_DROP = 16,
    CFG_OPT_MAPPING = 32,
    CFG_OPT_SNAPSHOT = 64
};
/* snapshot = initial | never */
typedef enum { CFG_SNAPSHOT_INITIAL = 0, CFG_SNAPSHOT_NEVER } cfg_snapshot_mode;

typedef struct cfg_table {
    char *db;        /* [table DB.TABLE]; NULL for a regex rule */
    char *table;
    char *pattern;   /* [table /REGEX/]: the regex, matched against the whole "db.table" */
    regex_t re;      /* compiled pattern (when pattern != NULL) */
    char *index;     /* template: {db} and {table} are replaced (lowercased) */
    char **id_cols;  /* NULL when the rule takes Canal's isKey columns */
    size_t n_id_cols;
    char *id_separator;  /* between id columns; default "_" */
    char *id_prefix;     /* template like index, prepended to the _id; NULL = none */
    char **include;      /* only these columns (NULL = all) */
    size_t n_include;
    char **exclude;      /* never these columns */
    size_t n_exclude;
    cfg_pair *rename;    /* column old:new in the document */
    size_t n_rename;
    cfg_pair *add_field; /* static name:value fields added to every document */
    size_t n_add_field;
    char *routing;       /* column whose value routes the document; NULL = none */
    char *pipeline;      /* ingest pipeline; NULL = none */
    cfg_delete_mode delete_mode;
    char *soft_field;    /* delete = soft:FIELD */
    int enabled;         /* enabled = false: matched rows are skipped */
    cfg_mapping_mode mapping_mode; /* how a missing index is created (default auto) */
    char *mapping;       /* mapping = FILE: settings + mappings to create the index with; NULL otherwise */
    char **flatten;      /* JSON columns kept out of the mapping (flat_object/flattened/enabled false) */
    size_t n_flatten;
    char *alias;         /* write through this alias; NULL = none */
    cfg_snapshot_mode snapshot; /* initial: with [mysql], load the existing rows on first start */
    int line;        /* line of the [table ...] header */
    value_opts values;   /* decimal, timezone, blob, convert (convs owned here) */
    cfg_ddl_action on_truncate;
    cfg_ddl_action on_drop;
    unsigned set;        /* CFG_OPT_* given in this section */
} cfg_table;

typedef struct cfg_canal {
    char *address;   /* as written: host:port[,host:port...] */
    char *destination;
    char *username;
    char *password;
    long client_id;  /* a Java short on the server, sent as decimal text */
    char *filter;
    long batch_size;
    long fetch_timeout_ms;
    long max_frame_mb;       /* cap of one frame from the server, MiB */
    long max_batches_in_flight; /* batches fetched and not yet acked (read-ahead while one is delivered) */
    char *zookeeper;         /* "" or host:port[,host:port...]: follow the running server */
    long zookeeper_timeout_ms;
    char *connection_charset; /* the Java charset the Canal instance decodes text with (connectionCharset) */
} cfg_canal;

/* [kafka]: Canal's MQ mode as the source instead of [canal] (docs/kafka.md).
 * On when brokers is set; [canal] must then be absent. */
typedef struct cfg_kafka {
    char *brokers;           /* host:port[,host:port...]; "" = off */
    char *topic;             /* a topic, several comma-separated, or ^REGEX */
    char *group_id;
    char *client_id;
    char *tls;               /* "true" | "false"; true when a TLS file is given */
    char *ca_file;
    char *cert_file;
    char *key_file;
    char *verify;            /* "true" | "false" */
    char *sasl_mechanism;    /* "" | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 */
    char *username;          /* secret */
    char *password;          /* secret: never logged */
    long session_timeout_ms;
    long max_poll_records;   /* records of one poll round (one batch) */
    long poll_timeout_ms;    /* how long an idle poll waits for the first record */
    /* resolved by validation */
    int on;
    int tls_on;
} cfg_kafka;

typedef struct cfg_es {
    char *url;               /* one URL, or several comma-separated (round-robin, failover) */
    char *username;          /* basic auth; "" = none */
    char *password;
    char *api_key;           /* "Authorization: ApiKey ..."; "" = none */
    char *ca_file;           /* TLS: CA bundle to verify the node with; "" = system CAs */
    char *cert_file;         /* TLS client certificate and key; "" = none */
    char *key_file;
    char *verify;            /* "true" | "false" */
    char *compression;       /* "none" | "gzip" */
    long bulk_max_actions;   /* send the body when it holds this many actions */
    long flush_interval_ms;  /* send what is buffered after this long (0 = at the end of each batch only) */
    long concurrency;        /* bulk requests in flight */
    char *versioning;        /* "external" | "off" */
    long version_epoch;      /* 0..255 */
    long retry_initial_ms;
    long retry_max_ms;
    long max_retries;        /* 0 = forever */
    char *on_error;          /* "dead_letter" | "halt" | "" (dead_letter when a file is set, else halt) */
    char *dead_letter;       /* path or "" */
    long request_timeout_ms; /* one HTTP request, connect included */
    long bulk_max_bytes;     /* send the body when it reaches this size */
    long shutdown_timeout_ms;/* on SIGTERM: time left to finish and ack the batch in hand */
    /* resolved by validation */
    int versioning_on;
    int halt_on_error;
} cfg_es;

/* [mysql]: the server whose binlog Canal reads, for the snapshot (initial
 * load / reindex, docs/reindex.md). host and socket both empty = not set. */
typedef struct cfg_mysql {
    char *host;
    long port;
    char *socket;            /* Unix socket path; when set, host and port are not used */
    char *user;
    char *password;          /* secret: never logged */
    char *ca_file;           /* TLS: CA bundle; "" = no TLS */
    char *verify;            /* "true" | "false": check the server certificate and host name */
    long connect_timeout_ms;
    char *time_zone;         /* session time_zone: the zone Canal's JVM prints TIMESTAMP in */
} cfg_mysql;

/* [reindex]: the chunked snapshot. */
typedef struct cfg_reindex {
    long chunk_rows;
    char *position;          /* "auto" | "binlog_snapshot" | "lock_tables" */
    long keep_old;           /* previous indexes {alias}-* kept after a swap */
    long max_rows_per_s;     /* 0 = unlimited */
    long concurrency;        /* _bulk requests of a job in flight */
    long max_stream_lag_ms;  /* the job waits while the stream lags more than this */
} cfg_reindex;

typedef struct cfg_checkpoint {
    char *file;              /* "" = no checkpoint file */
} cfg_checkpoint;

typedef struct cfg_http {
    char *listen;            /* "host:port" for /metrics and /health; "" = off */
    long health_max_lag_s;   /* /health answers 503 above this lag */
    char *admin_token;       /* Bearer token of the POST endpoints; "" = they answer 403 */
} cfg_http;

typedef struct cfg_log {
    char *level;             /* error | warn | info | debug */
    char *format;            /* text | json */
    char *file;              /* "" = stderr; reopened on SIGHUP */
} cfg_log;

typedef struct cfg {
    char *path;
    cfg_checkpoint checkpoint;
    cfg_http http;
    cfg_log log;
    cfg_table defaults;  /* [defaults]: only the option fields are used */
    cfg_canal canal;
    cfg_kafka kafka;
    cfg_es es;
    cfg_mysql mysql;
    cfg_reindex reindex;
    cfg_table *tables;
    size_t n_tables;
} cfg;

/* Loads and validates `path`. On error fills err with "FILE:LINE: message"
 * (or "FILE: message") and returns -1; *out is then empty. */
int cfg_load(const char *path, cfg *out, char *err, size_t errlen);
/* Same from a string; `name` stands for the file name in messages. */
int cfg_load_string(const char *text, const char *name, cfg *out, char *err, size_t errlen);
void cfg_free(cfg *c);
/* The first rule (file order) matching db.table, or NULL. A disabled rule
 * is returned too: callers check `enabled`. */
const cfg_table *cfg_find_table(const cfg *c, const char *db, const char *table);
/* Expands {db} and {table} (lowercased when `lower`) in tmpl. -1 when the
 * result does not fit or tmpl names another {variable}. */
int cfg_expand_template(const char *tmpl, const char *db, const char *table, int lower, char *out, size_t outlen);
/* The index name the rule writes to for db.table (alias when set, else the
 * expanded index template). -1 when it does not fit or is not a valid name. */
int cfg_index_for(const cfg_table *t, const char *db, const char *table, char *out, size_t outlen);
/* cfg_index_for saying why: -1 with why ("contains a space", "is longer
 * than 255 bytes"); out then holds the name as far as it fits. */
int cfg_index_check(const cfg_table *t, const char *db, const char *table, char *out, size_t outlen, char *why,
                    size_t whylen);
/* Why name is not a valid Elasticsearch/OpenSearch index name (lower case;
 * none of \ / * ? " < > | , # : space or control characters; not starting
 * with - _ +; not . or ..; at most 255 bytes), or NULL when it is one. `%`
 * is valid (paths escape it). buf holds the text for some answers. */
const char *cfg_index_name_problem(const char *name, char *buf, size_t buflen);
/* 1 when the rule's index can hold the documents of more than one table. */
int cfg_index_shared(const cfg *c, const cfg_table *t);
/* The i-th key of the schema: fixed sections first (def = the default), then
 * the [table] keys (section "table", def NULL). -1 past the end. */
int cfg_schema_key(size_t i, const char **section, const char **key, const char **def);
/* A short name of the rule for messages: "shop.items" or "/regex/". */
const char *cfg_rule_name(const cfg_table *t, char *buf, size_t len);

#endif
