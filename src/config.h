/* config: the INI file (parsed with inih) turned into a validated cfg.
 * Every key lives in one table in config.c (section, key, type, default,
 * range); unknown sections or keys and bad values are "FILE:LINE: message".
 * ${VAR} in a value expands from the environment. cfg_free releases all. */
#ifndef CE_CONFIG_H
#define CE_CONFIG_H

#include <stddef.h>

#include "map/value.h"

#define CFG_MAX_ADDRESSES 16

typedef enum { CFG_DDL_DELETE = 0, CFG_DDL_IGNORE } cfg_ddl_action;

/* Options settable in [defaults] and per [table]; `set` has a bit per key
 * given explicitly (CFG_OPT_*), so table values win over defaults. */
enum { CFG_OPT_DECIMAL = 1, CFG_OPT_TIMEZONE = 2, CFG_OPT_BLOB = 4, CFG_OPT_ON_TRUNCATE = 8, CFG_OPT_ON_DROP = 16 };

typedef struct cfg_table {
    char *db;
    char *table;
    char *index;
    char **id_cols;  /* NULL when the rule takes Canal's isKey columns */
    size_t n_id_cols;
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
    char *zookeeper;         /* "" or host:port[,host:port...]: follow the running server */
    long zookeeper_timeout_ms;
} cfg_canal;

typedef struct cfg_es {
    char *url;
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

typedef struct cfg_checkpoint {
    char *file;              /* "" = no checkpoint file */
} cfg_checkpoint;

typedef struct cfg {
    char *path;
    cfg_checkpoint checkpoint;
    cfg_table defaults;  /* [defaults]: only the option fields are used */
    cfg_canal canal;
    cfg_es es;
    cfg_table *tables;
    size_t n_tables;
} cfg;

/* Loads and validates `path`. On error fills err with "FILE:LINE: message"
 * (or "FILE: message") and returns -1; *out is then empty. */
int cfg_load(const char *path, cfg *out, char *err, size_t errlen);
/* Same from a string; `name` stands for the file name in messages. */
int cfg_load_string(const char *text, const char *name, cfg *out, char *err, size_t errlen);
void cfg_free(cfg *c);
/* The rule for db.table, or NULL. */
const cfg_table *cfg_find_table(const cfg *c, const char *db, const char *table);

#endif
