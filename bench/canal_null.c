/* bench-canal-null: a null consumer of a Canal destination, to measure
 * Canal's own delivery rate (the ceiling of any client of it).
 *
 * Connects with the project's Canal client (src/source/canal.h: handshake,
 * auth, subscribe, rollback), then GETs and acks batches in order, as the
 * service does: CANAL_GET_NOW while the server holds changes, CANAL_GET_FIRST
 * after an empty GET (--wait: CANAL_GET_WAIT every time). The only work per
 * batch is decode_next on every entry to count its rows (the cheapest
 * meaningful consumer). Exits when --rows rows were seen (the batch holding
 * the last one is acked), or after --timeout-s with exit 1.
 *
 *   bench-canal-null --address HOST:PORT --destination NAME --rows N
 *                    [--username U] [--password-env VAR] [--client-id N] [--filter REGEX]
 *                    [--batch-size N] [--fetch-timeout-ms N] [--wait] [--timeout-s N]
 *
 * The password is read from the environment variable --password-env names
 * (none: no password), so it stays off the command line. The filter defaults
 * to "" (the server keeps the filter it has: Canal keeps the last
 * subscriber's filter for the destination). Prints one line: rows, entries,
 * batches, MB of Messages bodies, seconds from before the connect to the
 * last row, rows/s, and rows/s from the first non-empty GET (without the
 * connect). MB are 10^6 bytes. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "source/canal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse.h"

static volatile sig_atomic_t null_stop;

static void null_on_signal(int sig)
{
    (void)sig;
    null_stop = 1;
}

static void usage(FILE *f)
{
    fputs("usage: bench-canal-null --address HOST:PORT --destination NAME --rows N\n"
          "         [--username U] [--password-env VAR] [--client-id N] [--filter REGEX]\n"
          "         [--batch-size N] [--fetch-timeout-ms N] [--wait] [--timeout-s N]\n",
          f);
}

typedef struct null_args {
    canal_opts co;
    int64_t rows;
    int64_t timeout_s;
    int wait;
} null_args;

/* 0, 1 for --help, 2 on a bad argument (message printed). */
static int null_parse(int argc, char **argv, null_args *a)
{
    int64_t client_id = 1001, batch = 1000, fetch_timeout = 500;
    const char *pw_env = NULL;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(k, "--wait") == 0) {
            a->wait = 1;
            continue;
        } else if (strcmp(k, "--address") == 0) {
            a->co.addresses = v;
        } else if (strcmp(k, "--destination") == 0) {
            a->co.destination = v;
        } else if (strcmp(k, "--username") == 0) {
            a->co.username = v;
        } else if (strcmp(k, "--password-env") == 0) {
            pw_env = v;
        } else if (strcmp(k, "--filter") == 0) {
            a->co.filter = v;
        } else if (strcmp(k, "--rows") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, INT64_C(1000000000000), &a->rows) != 0;
        } else if (strcmp(k, "--client-id") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, 32767, &client_id) != 0;
        } else if (strcmp(k, "--batch-size") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, 1000000, &batch) != 0;
        } else if (strcmp(k, "--fetch-timeout-ms") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, 600000, &fetch_timeout) != 0;
        } else if (strcmp(k, "--timeout-s") == 0) {
            bad = v == NULL || ce_parse_i64(v, 1, 86400, &a->timeout_s) != 0;
        } else {
            fprintf(stderr, "bench-canal-null: unknown argument '%s'\n", k);
            usage(stderr);
            return 2;
        }
        if (bad || v == NULL) {
            fprintf(stderr, "bench-canal-null: %s needs a %s\n", k, bad ? "positive integer in range" : "value");
            return 2;
        }
        i++;
    }
    if (a->co.addresses == NULL || a->co.destination == NULL || a->rows <= 0) {
        fprintf(stderr, "bench-canal-null: --address, --destination and --rows are required\n");
        usage(stderr);
        return 2;
    }
    if (pw_env != NULL) {
        a->co.password = getenv(pw_env);
        if (a->co.password == NULL) {
            fprintf(stderr, "bench-canal-null: environment variable %s is not set\n", pw_env);
            return 2;
        }
    }
    a->co.client_id = (long)client_id;
    a->co.fetch_size = (long)batch;
    a->co.fetch_timeout_ms = (long)fetch_timeout;
    if (a->co.filter == NULL)
        a->co.filter = "";
    return 0;
}

int main(int argc, char **argv)
{
    null_args a = {.timeout_s = 600};
    int pr = null_parse(argc, argv, &a);
    if (pr != 0)
        return pr == 1 ? 0 : 2;
    ce_log_set_level(CE_LOG_WARN);
    struct sigaction sa = {0};
    sa.sa_handler = null_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    a.co.stop = &null_stop;

    int rc = 1;
    char err[512] = "";
    decode_ctx dec;
    decode_init(&dec);
    canal_client *c = canal_new(&a.co);
    if (c == NULL) {
        fprintf(stderr, "bench-canal-null: out of memory\n");
        goto out;
    }
    uint64_t t0 = ce_mono_us();
    uint64_t deadline = t0 + (uint64_t)a.timeout_s * 1000000u;
    if (canal_connect(c, err, sizeof err) != CANAL_OK) {
        fprintf(stderr, "bench-canal-null: connect to %s destination %s: %s\n", a.co.addresses, a.co.destination,
                err);
        goto out;
    }
    uint64_t rows = 0, entries = 0, batches = 0, bytes = 0, t_first = 0, t_last = 0;
    int idle = 0;
    while (rows < (uint64_t)a.rows) {
        if (null_stop || ce_mono_us() >= deadline) {
            fprintf(stderr, "bench-canal-null: %s after %llu of %lld rows\n", null_stop ? "stopped" : "timed out",
                    (unsigned long long)rows, (long long)a.rows);
            goto out;
        }
        canal_wait mode = a.wait ? CANAL_GET_WAIT : idle ? CANAL_GET_FIRST : CANAL_GET_NOW;
        canal_batch *m = NULL;
        canal_rc gr = canal_get_mode(c, mode, &m, err, sizeof err);
        if (gr != CANAL_OK) {
            fprintf(stderr, "bench-canal-null: GET from %s: %s\n", canal_peer(c), err);
            goto out;
        }
        idle = m == NULL;
        if (m == NULL)
            continue;
        if (t_first == 0)
            t_first = ce_mono_us();
        for (size_t i = 0; i < m->n; i++) {
            decode_out o;
            if (decode_next(&dec, m->entries[i].p, m->entries[i].len, &o, err, sizeof err) != 0) {
                fprintf(stderr, "bench-canal-null: batch %lld entry %zu: %s\n", (long long)m->id, i, err);
                canal_batch_free(m);
                goto out;
            }
            if (o.kind == DECODE_ROWS)
                rows += o.n + o.n_bad;
        }
        entries += m->n;
        bytes += m->bytes;
        batches++;
        t_last = ce_mono_us();
        int64_t id = m->id;
        canal_batch_free(m);
        if (canal_ack(c, id, err, sizeof err) != CANAL_OK) {
            fprintf(stderr, "bench-canal-null: ack of batch %lld: %s\n", (long long)id, err);
            goto out;
        }
    }
    double total_s = (double)(t_last - t0) / 1e6;
    double flow_s = (double)(t_last - t_first) / 1e6;
    printf("canal-null: %llu rows in %llu entries, %llu batches, %.1f MB; %.3f s from connect = %.0f rows/s; "
           "%.0f rows/s from the first batch\n",
           (unsigned long long)rows, (unsigned long long)entries, (unsigned long long)batches, (double)bytes / 1e6,
           total_s, total_s > 0 ? (double)rows / total_s : 0.0, flow_s > 0 ? (double)rows / flow_s : 0.0);
    rc = 0;
out:
    canal_free(c);
    decode_free(&dec);
    return rc;
}
