/* mysql: libmariadb connection with timeouts, TLS and classified errors.
 * The password is handed to libmariadb only; no message here quotes it
 * (the server's "Access denied" text names the user, never the password). */
#include "source/mysql.h"
#include "util/mem.h"
#include "util/parse.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct my_conn {
    MYSQL *h;
    char peer[300];
};

static my_rc my_classify(unsigned no)
{
    switch (no) {
    case ER_ACCESS_DENIED_ERROR:        /* 1045 */
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
        return MY_ERR_AUTH;
    case ER_DBACCESS_DENIED_ERROR:      /* 1044 */
    case ER_TABLEACCESS_DENIED_ERROR:   /* 1142 */
    case ER_COLUMNACCESS_DENIED_ERROR:  /* 1143 */
    case ER_SPECIFIC_ACCESS_DENIED_ERROR: /* 1227 */
        return MY_ERR_PRIV;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SSL_CONNECTION_ERROR:
        return MY_ERR_CONNECT;
    case CR_OUT_OF_MEMORY:
        return MY_ERR_OOM;
    default:
        return no >= 2000 && no < 3000 ? MY_ERR_CONNECT : MY_ERR_QUERY;
    }
}

my_rc my_error(my_conn *c, const char *what, char *err, size_t errlen)
{
    unsigned no = mysql_errno(c->h);
    my_rc rc = my_classify(no);
    const char *hint = rc == MY_ERR_AUTH      ? " (check [mysql] user and password)"
                       : rc == MY_ERR_PRIV    ? " (a privilege of the [mysql] user is missing, see docs/reindex.md)"
                       : rc == MY_ERR_CONNECT ? " (check [mysql] host, port, socket, ca_file, and that the server runs)"
                                              : "";
    snprintf(err, errlen, "mysql %s: %s%s%s (errno %u)%s", c->peer, what ? what : "", what ? ": " : "",
             mysql_error(c->h), no, hint);
    return rc == MY_OK ? MY_ERR_QUERY : rc;
}

my_conn *my_open(const my_opts *m, my_rc *rc, char *err, size_t errlen)
{
    *rc = MY_ERR_OOM;
    my_conn *c = ce_calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "mysql: out of memory");
        return NULL;
    }
    if (m->socket[0] != '\0')
        snprintf(c->peer, sizeof c->peer, "socket %s", m->socket);
    else
        snprintf(c->peer, sizeof c->peer, "%s:%ld", m->host, m->port);
    c->h = mysql_init(NULL);
    if (c->h == NULL) {
        snprintf(err, errlen, "mysql %s: out of memory", c->peer);
        ce_free(c);
        return NULL;
    }
    unsigned int secs = (unsigned int)((m->connect_timeout_ms + 999) / 1000);
    mysql_options(c->h, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(c->h, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(c->h, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    mysql_options(c->h, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (m->ca_file[0] != '\0') {
        my_bool on = 1, verify = m->verify != 0;
        mysql_options(c->h, MYSQL_OPT_SSL_CA, m->ca_file);
        mysql_options(c->h, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(c->h, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    }
    bool sock = m->socket[0] != '\0';
    if (mysql_real_connect(c->h, sock ? NULL : m->host, m->user, m->password, NULL,
                           sock ? 0 : (unsigned int)m->port, sock ? m->socket : NULL, 0) == NULL) {
        *rc = my_error(c, "connect", err, errlen);
        my_close(c);
        return NULL;
    }
    char q[160];
    snprintf(q, sizeof q, "SET SESSION time_zone = '%s'", m->time_zone); /* validated: no quotes */
    if ((*rc = my_exec(c, q, err, errlen)) != MY_OK) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " ([mysql] time_zone = %s: +HH:MM, or a name in the server's time zone tables)",
                 m->time_zone);
        my_close(c);
        return NULL;
    }
    *rc = MY_OK;
    return c;
}

void my_close(my_conn *c)
{
    if (c == NULL)
        return;
    if (c->h)
        mysql_close(c->h);
    ce_free(c);
}

const char *my_peer(const my_conn *c)
{
    return c->peer;
}

void *my_handle(my_conn *c)
{
    return c->h;
}

my_rc my_exec(my_conn *c, const char *sql, char *err, size_t errlen)
{
    if (mysql_query(c->h, sql) != 0)
        return my_error(c, NULL, err, errlen);
    /* drain every result set of the statement */
    do {
        MYSQL_RES *res = mysql_store_result(c->h);
        if (res)
            mysql_free_result(res);
        else if (mysql_field_count(c->h) != 0)
            return my_error(c, NULL, err, errlen);
    } while (mysql_next_result(c->h) == 0);
    if (mysql_errno(c->h) != 0)
        return my_error(c, NULL, err, errlen);
    return MY_OK;
}

my_rc my_value(my_conn *c, const char *sql, char *out, size_t outlen, int *found, char *err, size_t errlen)
{
    *found = 0;
    if (outlen > 0)
        out[0] = '\0';
    if (mysql_query(c->h, sql) != 0)
        return my_error(c, NULL, err, errlen);
    MYSQL_RES *res = mysql_store_result(c->h);
    if (res == NULL)
        return mysql_field_count(c->h) != 0 ? my_error(c, NULL, err, errlen) : MY_OK;
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned long *len = mysql_fetch_lengths(res);
    if (row && mysql_num_fields(res) > 0 && row[0] != NULL && outlen > 0) {
        size_t n = len[0] < outlen - 1 ? len[0] : outlen - 1;
        memcpy(out, row[0], n);
        out[n] = '\0';
        *found = 1;
    }
    mysql_free_result(res);
    return MY_OK;
}

my_rc my_server_id(my_conn *c, uint32_t *id, char *err, size_t errlen)
{
    char v[32];
    int found;
    my_rc rc = my_value(c, "SELECT @@server_id", v, sizeof v, &found, err, errlen);
    if (rc != MY_OK)
        return rc;
    int64_t n;
    if (!found || ce_parse_i64(v, 0, UINT32_MAX, &n) != 0) {
        snprintf(err, errlen, "mysql %s: @@server_id is '%s', not a number", c->peer, v);
        return MY_ERR_QUERY;
    }
    *id = (uint32_t)n;
    return MY_OK;
}

const char *my_server_version(my_conn *c)
{
    const char *v = mysql_get_server_info(c->h);
    return v ? v : "";
}

int my_is_mariadb(my_conn *c)
{
    const char *v = mysql_get_server_info(c->h);
    return v != NULL && strstr(v, "MariaDB") != NULL;
}
