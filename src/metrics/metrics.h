/* metrics: the counters of stats.h as a Prometheus text exposition (format
 * 0.0.4) for GET /metrics, the health verdict for GET /health and the admin
 * endpoints of the reindex jobs (GET /reindex, POST /reindex, POST
 * /reindex/cancel), served by a libmicrohttpd thread on [http] listen.
 * Rendering is pure (tests). The admin endpoints call the callbacks of a
 * metrics_admin (the service wraps snapshot/job.h; tests pass fakes). */
#ifndef CE_METRICS_METRICS_H
#define CE_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "util/buf.h"

/* Appends the exposition to out. -1 when out is full. */
int metrics_render(ce_stats *s, int64_t now_ms, const char *version, ce_buf *out);
/* Appends the /health JSON to out and returns the HTTP status: 200 when
 * connected to Canal, the node answered the last request and the lag is
 * below max_lag_s; 503 otherwise, with the reasons. */
int metrics_health(ce_stats *s, int64_t now_ms, long max_lag_s, ce_buf *out);

/* Resolves [http] listen: "host:port", "[v6addr]:port" or "v6addr:port"
 * (the last colon starts the port). The first address is written to ss.
 * -1 with err ("[http] listen ...: why") when it is not host:port or does not
 * resolve. Used by metrics_start and by the checks run before serving. */
struct sockaddr_storage;
int metrics_listen_addr(const char *listen, struct sockaddr_storage *ss, int *port, char *err, size_t errlen);

typedef struct metrics_server metrics_server;

/* Serves /metrics and /health on listen ("host:port"). NULL with err when
 * the address is bad or cannot be bound. */
metrics_server *metrics_start(const char *listen, ce_stats *s, long max_lag_s, const char *version, char *err,
                              size_t errlen);
void metrics_stop(metrics_server *m);

/* The reindex endpoints. Each callback appends a JSON object to out and
 * returns the HTTP status to answer (the contract of job_status, job_submit
 * and job_cancel in snapshot/job.h). They are called from the server's
 * thread, one request at a time. */
typedef struct metrics_admin {
    int (*status)(void *ud, ce_buf *out);
    int (*submit)(void *ud, const char *db_table, bool in_place, ce_buf *out);
    int (*cancel)(void *ud, long id, ce_buf *out);
    void *ud;
    const char *token; /* [http] admin_token the POSTs must send as "Authorization: Bearer TOKEN"; NULL or
                        * "" = every POST answers 403 */
} metrics_admin;

/* Sets (a copied: the token too) or clears (a NULL) the admin callbacks;
 * safe while the server runs. Without them /reindex answers 503. -1 when out
 * of memory (the previous callbacks stay). */
int metrics_set_admin(metrics_server *m, const metrics_admin *a);
/* 1 when the resolved [http] listen address is a loopback one (127/8, ::1). */
int metrics_addr_is_loopback(const struct sockaddr_storage *ss);

#endif
