/* mysql: a client connection to the MySQL/MariaDB server Canal reads
 * ([mysql] section), through libmariadb. Used by the snapshot (initial load
 * and reindex) and check-config; the stream never talks to MySQL.
 * Errors name host:port (or the socket) and the server's message, never the
 * password. A my_conn is owned by its caller and freed with my_close. */
#ifndef CE_SOURCE_MYSQL_H
#define CE_SOURCE_MYSQL_H

#include <stddef.h>
#include <stdint.h>

typedef struct my_conn my_conn;

/* What kind of failure the last error was (for the caller's hint). */
typedef enum {
    MY_OK = 0,
    MY_ERR_CONNECT,  /* unreachable, refused, timeout, unknown host, TLS */
    MY_ERR_AUTH,     /* wrong user or password */
    MY_ERR_PRIV,     /* a privilege is missing */
    MY_ERR_QUERY,    /* any other server error */
    MY_ERR_OOM
} my_rc;

/* Where and how to connect (the [mysql] section, built by opts_mysql).
 * Strings are never NULL ("" = not set) and must outlive my_open. */
typedef struct my_opts {
    const char *host;
    long port;
    const char *socket;       /* Unix socket path; when set, host and port are not used */
    const char *user;
    const char *password;     /* never logged */
    const char *ca_file;      /* TLS CA bundle; "" = no TLS */
    int verify;               /* 1: check the server certificate and host name (with ca_file) */
    long connect_timeout_ms;  /* also the read and write timeout (rounded up to seconds) */
    const char *time_zone;    /* session time_zone (checked by the config: no quotes) */
} my_opts;

/* Connects with the timeouts and TLS of o, character set utf8mb4, and
 * sets the session time_zone. NULL with err filled and *rc set on failure. */
my_conn *my_open(const my_opts *o, my_rc *rc, char *err, size_t errlen);
/* my_open with the options of a [mysql] section (opts_mysql). Defined by
 * the adapter (opts.c); declared here so that its callers need not include it. */
struct cfg_mysql;
my_conn *my_connect(const struct cfg_mysql *m, my_rc *rc, char *err, size_t errlen);
void my_close(my_conn *c);
/* "host:port" or "socket PATH". */
const char *my_peer(const my_conn *c);
/* The libmariadb handle (MYSQL *), for the snapshot's result reading. */
void *my_handle(my_conn *c);
/* Runs a statement and discards any result. */
my_rc my_exec(my_conn *c, const char *sql, char *err, size_t errlen);
/* The first column of the first row of sql, into out (NUL-terminated;
 * *found = 0 and out = "" when there is no row or the value is NULL). */
my_rc my_value(my_conn *c, const char *sql, char *out, size_t outlen, int *found, char *err, size_t errlen);
/* The error of the last call on c as "mysql HOST:PORT: MESSAGE (errno N)",
 * classified. */
my_rc my_error(my_conn *c, const char *what, char *err, size_t errlen);
/* @@server_id of the server. */
my_rc my_server_id(my_conn *c, uint32_t *id, char *err, size_t errlen);
/* The server's version string (e.g. "10.11.19-MariaDB-0+deb12u1-log"). */
const char *my_server_version(my_conn *c);
/* 1 when the server is MariaDB (its version string says so). */
int my_is_mariadb(my_conn *c);

#endif
