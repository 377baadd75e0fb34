/* deliver: chunking, 413 halving, per-item retries, Retry-After and abort
 * for every `_bulk` sender (see deliver.h). */
#include "deliver/deliver.h"
#include "util/clock.h"

#include "stats.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DLV_MAX_BODY (((size_t)1 << 31) + 4096)

/* What the streams of one call share. */
typedef struct dlv_shared {
    const dlv_action *acts;
    const dlv_transport *t;
    const dlv_opts *o;
    dlv_result *res;
    _Atomic size_t cap;  /* bytes per request */
    _Atomic int stop_all; /* a stream ended the call (fatal, halt, gave up, error) */
} dlv_shared;

typedef struct dlv_stream {
    dlv_shared *sh;
    size_t idx;          /* transport stream */
    const size_t *list;  /* action indexes, ascending */
    size_t count;
    unsigned char *done; /* per list entry: the result is final */
    size_t *chunk;       /* positions in list of the request being sent */
    sink_item *tmp;      /* its items */
    ce_buf body;
    ce_backoff bo;
    dlv_rc rc;
    char err[1024];
} dlv_stream;

static sink_rc dlv_sink_send(void *ud, size_t stream, const void *body, size_t len, size_t n, sink_item *items,
                             long long *retry_after_ms, char *err, size_t errlen)
{
    sink *const *sinks = ud;
    sink_summary sum = {.item = items, .item_cap = n};
    sink_rc rc = sink_bulk(sinks[stream], body, len, n, &sum, err, errlen);
    *retry_after_ms = rc == SINK_RETRY ? sink_retry_after_ms(sinks[stream]) : 0;
    return rc;
}

static const char *dlv_sink_name(void *ud, size_t stream)
{
    sink *const *sinks = ud;
    return sink_last_url(sinks[stream]);
}

void dlv_sink_transport(dlv_transport *t, sink *const *sinks)
{
    *t = (dlv_transport){.send = dlv_sink_send, .name = dlv_sink_name, .ud = (void *)sinks};
}

const char *dlv_rc_name(dlv_rc rc)
{
    switch (rc) {
    case DLV_DONE: return "done";
    case DLV_GAVE_UP: return "gave up";
    case DLV_FATAL: return "fatal";
    case DLV_HALTED: return "halted";
    case DLV_STOPPED: return "stopped";
    }
    return "?";
}

uint64_t dlv_wait_ms(uint64_t backoff_ms, long long retry_after_ms)
{
    if (retry_after_ms > DLV_MAX_RETRY_AFTER_MS)
        retry_after_ms = DLV_MAX_RETRY_AFTER_MS;
    if (retry_after_ms > 0 && backoff_ms < (uint64_t)retry_after_ms)
        return (uint64_t)retry_after_ms;
    return backoff_ms;
}

static bool dlv_aborted(const dlv_stream *s)
{
    const dlv_opts *o = s->sh->o;
    if (atomic_load(&s->sh->stop_all))
        return true;
    return o->should_abort != NULL && o->should_abort(o->abort_ud) != 0;
}

static void dlv_log(const dlv_stream *s, ce_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void dlv_log(const dlv_stream *s, ce_log_level level, const char *fmt, ...)
{
    const dlv_opts *o = s->sh->o;
    if (o->log == NULL && !ce_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (o->log != NULL)
        o->log(o->log_ud, level, msg);
    else
        ce_log(level, "sink", "%s", msg);
}

static const char *dlv_name(const dlv_stream *s)
{
    const dlv_transport *t = s->sh->t;
    const char *n = t->name != NULL ? t->name(t->ud, s->idx) : NULL;
    return n != NULL && n[0] != '\0' ? n : "node";
}

/* Sleeps ms in steps, polling the abort predicate; non-zero when aborted. */
static int dlv_sleep(const dlv_stream *s, uint64_t ms)
{
    const dlv_opts *o = s->sh->o;
    if (o->sleep_ms != NULL)
        return o->sleep_ms(o->sleep_ud, ms) != 0 || dlv_aborted(s);
    uint64_t end = ce_mono_us() / 1000u + ms;
    for (;;) {
        if (dlv_aborted(s))
            return 1;
        uint64_t now = ce_mono_us() / 1000u;
        if (now >= end)
            return 0;
        ce_sleep_ms(end - now > 100 ? 100 : end - now, NULL);
    }
}

static void dlv_count(const dlv_stream *s, size_t which, uint64_t n)
{
    ce_stats *st = s->sh->o->stats;
    if (st == NULL || n == 0)
        return;
    switch (which) {
    case 0: CE_STAT_ADD(st, items_ok, n); break;
    case 1: CE_STAT_ADD(st, items_superseded, n); break;
    case 2: CE_STAT_ADD(st, items_retry, n); break;
    case 3: CE_STAT_ADD(st, items_dead, n); break;
    case 4: CE_STAT_ADD(st, items_fatal, n); break;
    case 5: CE_STAT_ADD(st, request_failures, n); break;
    case 6: CE_STAT_ADD(st, requests_split, n); break;
    default: CE_STAT_ADD(st, retries, n); break;
    }
}
enum { DLV_C_OK, DLV_C_SUPERSEDED, DLV_C_RETRY, DLV_C_DEAD, DLV_C_FATAL, DLV_C_FAILURE, DLV_C_SPLIT, DLV_C_RETRIES };

/* Lowers the shared request size to at most cap. */
static void dlv_lower_cap(dlv_shared *sh, size_t cap)
{
    size_t cur = atomic_load(&sh->cap);
    while (cap < cur && !atomic_compare_exchange_weak(&sh->cap, &cur, cap))
        ;
}

/* The pending actions from list position *pos on, as many as fit in the
 * request size (at least one): s->chunk[0, *k), their body in (*body, *len). */
static int dlv_build(dlv_stream *s, size_t pos, size_t *k, const void **body, size_t *len)
{
    const dlv_action *acts = s->sh->acts;
    size_t cap = atomic_load(&s->sh->cap);
    size_t total = 0, n = 0;
    bool contiguous = true;
    for (size_t j = pos; j < s->count; j++) {
        if (s->done[j])
            continue;
        const dlv_action *a = &acts[s->list[j]];
        if (n > 0 && (total + a->len > cap || (s->sh->o->max_actions > 0 && n >= s->sh->o->max_actions)))
            break;
        if (n > 0) {
            const dlv_action *prev = &acts[s->list[s->chunk[n - 1]]];
            contiguous = contiguous && prev->p + prev->len == a->p;
        }
        s->chunk[n++] = j;
        total += a->len;
    }
    *k = n;
    *len = total;
    if (contiguous) {
        *body = acts[s->list[s->chunk[0]]].p;
        return 0;
    }
    ce_buf_reset(&s->body);
    for (size_t m = 0; m < n; m++) {
        const dlv_action *a = &acts[s->list[s->chunk[m]]];
        if (ce_buf_append(&s->body, a->p, a->len) != 0) {
            snprintf(s->err, sizeof s->err, "out of memory for a %zu-byte request", total);
            return -1;
        }
    }
    *body = s->body.data;
    return 0;
}

/* A final result for list position j. DLV_HALTED when it is dead and the
 * call must end. */
static int dlv_settle(dlv_stream *s, size_t j)
{
    const dlv_opts *o = s->sh->o;
    const sink_item *it = &s->sh->res[s->list[j]].item;
    s->done[j] = 1;
    if (it->cls == SINK_ITEM_OK) {
        dlv_count(s, DLV_C_OK, 1);
        if (it->status == 409)
            dlv_count(s, DLV_C_SUPERSEDED, 1);
        return 0;
    }
    dlv_count(s, DLV_C_DEAD, 1);
    return o->halt_on_dead ? DLV_HALTED : 0;
}

/* One round: every pending action once. DLV_DONE with *whole_failed and
 * *retry_after when a request failed as a whole (the actions after it are
 * not sent this round), or how the call ends. */
static dlv_rc dlv_round(dlv_stream *s, bool *whole_failed, long long *retry_after)
{
    dlv_shared *sh = s->sh;
    const dlv_transport *t = sh->t;
    size_t pos = 0;
    while (pos < s->count) {
        if (s->done[pos]) {
            pos++;
            continue;
        }
        if (dlv_aborted(s))
            return DLV_STOPPED;
        size_t k, len;
        const void *body;
        if (dlv_build(s, pos, &k, &body, &len) != 0)
            return DLV_FATAL;
        long long ra = 0;
        uint64_t t0 = ce_mono_us();
        sink_rc rc = t->send(t->ud, s->idx, body, len, k, s->tmp, &ra, s->err, sizeof s->err);
        if (sh->o->stats != NULL) {
            CE_STAT_ADD(sh->o->stats, bulk_requests, 1);
            stats_observe_request(sh->o->stats, ce_mono_us() - t0);
            CE_STAT_SET(sh->o->stats, search_reachable, rc == SINK_RETRY ? 0 : 1);
        }
        size_t next = s->chunk[k - 1] + 1;
        if (rc == SINK_OK) {
            /* every answer is recorded (what was applied is reported) before a fatal item or a halt ends the call */
            dlv_rc end = DLV_DONE;
            for (size_t m = 0; m < k; m++) {
                size_t j = s->chunk[m];
                dlv_result *r = &sh->res[s->list[j]];
                r->item = s->tmp[m];
                r->answered = 1;
                if (r->item.cls == SINK_ITEM_FATAL) {
                    dlv_count(s, DLV_C_FATAL, 1);
                    if (end != DLV_FATAL)
                        snprintf(s->err, sizeof s->err, "%s: HTTP %d %s: %s: credentials refused", dlv_name(s),
                                 r->item.status, r->item.type, r->item.reason);
                    end = DLV_FATAL;
                } else if (r->item.cls == SINK_ITEM_RETRY) {
                    dlv_count(s, DLV_C_RETRY, 1);
                } else if (dlv_settle(s, j) == DLV_HALTED && end == DLV_DONE) {
                    end = DLV_HALTED;
                }
            }
            if (end != DLV_DONE)
                return end;
            pos = next;
            continue;
        }
        if (rc == SINK_FATAL)
            return DLV_FATAL;
        if (rc == SINK_TOO_LARGE) {
            dlv_count(s, DLV_C_SPLIT, 1);
            if (k == 1) {
                size_t j = s->chunk[0];
                dlv_result *r = &sh->res[s->list[j]];
                r->item = (sink_item){.cls = SINK_ITEM_DEAD, .status = 413};
                snprintf(r->item.type, sizeof r->item.type, "request_entity_too_large");
                snprintf(r->item.reason, sizeof r->item.reason,
                         "the node refused a %zu-byte request holding only this action (HTTP 413)", len);
                r->answered = 1;
                if (dlv_settle(s, j) == DLV_HALTED)
                    return DLV_HALTED;
                pos = next;
                continue;
            }
            size_t cap = len / 2 > 0 ? len / 2 : 1;
            if (cap < atomic_load(&sh->cap)) {
                dlv_lower_cap(sh, cap);
                dlv_log(s, CE_LOG_WARN, "%s: node refused %zu bytes (413): now sending at most %zu bytes per request",
                        dlv_name(s), len, cap);
            }
            continue; /* the same actions, in smaller requests */
        }
        dlv_count(s, DLV_C_FAILURE, 1);
        for (size_t m = 0; m < k; m++) {
            dlv_result *r = &sh->res[s->list[s->chunk[m]]];
            if (!r->answered)
                snprintf(r->item.reason, sizeof r->item.reason, "%.300s", s->err);
        }
        if (dlv_aborted(s))
            return DLV_STOPPED;
        *whole_failed = true;
        *retry_after = ra;
        return DLV_DONE;
    }
    return DLV_DONE;
}

/* Rounds until every action of the stream is settled, the retries are used
 * up, or the call ends. */
static dlv_rc dlv_stream_run(dlv_stream *s)
{
    const dlv_opts *o = s->sh->o;
    ce_backoff_init(&s->bo, o->retry_initial_ms, o->retry_max_ms);
    for (long attempt = 0;; attempt++) {
        bool whole_failed = false;
        long long ra = 0;
        dlv_rc rc = dlv_round(s, &whole_failed, &ra);
        if (rc != DLV_DONE)
            return rc;
        size_t pending = 0;
        const sink_item *first = NULL;
        for (size_t j = 0; j < s->count; j++) {
            if (s->done[j])
                continue;
            pending++;
            if (first == NULL)
                first = &s->sh->res[s->list[j]].item;
        }
        if (pending == 0)
            return DLV_DONE;
        if (!whole_failed)
            snprintf(s->err, sizeof s->err, "%s: %zu of %zu items to retry (first: %d %s: %s)", dlv_name(s), pending,
                     s->count, first->status, first->type, first->reason);
        if (o->max_retries > 0 && attempt >= o->max_retries)
            return whole_failed ? DLV_GAVE_UP : DLV_DONE; /* items still failing stay SINK_ITEM_RETRY */
        uint64_t delay = dlv_wait_ms(ce_backoff_next(&s->bo), whole_failed ? ra : 0);
        dlv_count(s, DLV_C_RETRIES, 1);
        char of[48] = "";
        if (o->max_retries > 0)
            snprintf(of, sizeof of, " of %ld", o->max_retries);
        dlv_log(s, CE_LOG_WARN, "%s; retrying in %llu ms (attempt %u%s%s)", s->err, (unsigned long long)delay,
                s->bo.attempt, of, whole_failed && ra > 0 ? ", Retry-After" : "");
        if (dlv_sleep(s, delay))
            return DLV_STOPPED;
    }
}

static void *dlv_thread(void *ud)
{
    dlv_stream *s = ud;
    s->rc = dlv_stream_run(s);
    if (s->rc != DLV_DONE && s->rc != DLV_STOPPED)
        atomic_store(&s->sh->stop_all, 1);
    return NULL;
}

/* Which outcome of several streams the call reports. */
static int dlv_rank(dlv_rc rc)
{
    switch (rc) {
    case DLV_FATAL: return 5;
    case DLV_HALTED: return 3;
    case DLV_GAVE_UP: return 2;
    case DLV_STOPPED: return 1;
    default: return 0;
    }
}

dlv_rc dlv_send(const dlv_action *acts, size_t n, const dlv_transport *t, const dlv_opts *o, dlv_result *res,
                char *err, size_t errlen)
{
    dlv_rc rc = DLV_FATAL;
    size_t k = o->streams < 1 ? 1 : o->streams > DLV_MAX_STREAMS ? DLV_MAX_STREAMS : o->streams;
    dlv_shared sh = {.acts = acts, .t = t, .o = o, .res = res};
    atomic_init(&sh.cap, *o->req_cap > 0 ? *o->req_cap : 1);
    atomic_init(&sh.stop_all, 0);
    dlv_stream s[DLV_MAX_STREAMS];
    pthread_t th[DLV_MAX_STREAMS];
    bool started[DLV_MAX_STREAMS] = {false};
    size_t start[DLV_MAX_STREAMS + 1] = {0};
    size_t *list = NULL, *chunk = NULL;
    unsigned char *done = NULL;
    sink_item *tmp = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    for (size_t i = 0; i < n; i++)
        res[i] = (dlv_result){.item = {.cls = SINK_ITEM_RETRY}};
    if (n == 0)
        return DLV_DONE;
    list = ce_malloc(n * sizeof *list);
    chunk = ce_malloc(n * sizeof *chunk);
    done = ce_calloc(n, 1);
    tmp = ce_malloc(n * sizeof *tmp);
    if (list == NULL || chunk == NULL || done == NULL || tmp == NULL) {
        snprintf(err, errlen, "out of memory for %zu bulk items", n);
        goto out;
    }
    /* partition by id hash, each partition in list order */
    for (size_t i = 0; i < n; i++)
        start[acts[i].id_hash % k + 1]++;
    for (size_t p = 0; p < k; p++)
        start[p + 1] += start[p];
    size_t fill[DLV_MAX_STREAMS];
    memcpy(fill, start, k * sizeof fill[0]);
    for (size_t i = 0; i < n; i++)
        list[fill[acts[i].id_hash % k]++] = i;
    for (size_t p = 0; p < k; p++) {
        s[p] = (dlv_stream){.sh = &sh, .idx = p, .list = list + start[p], .count = start[p + 1] - start[p],
                            .done = done + start[p], .chunk = chunk + start[p], .tmp = tmp + start[p],
                            .rc = DLV_DONE};
        ce_buf_init(&s[p].body, DLV_MAX_BODY);
    }
    /* the last non-empty partition runs in this thread, the others in their own */
    size_t inline_p = k;
    for (size_t p = k; p-- > 0;)
        if (s[p].count > 0) {
            inline_p = p;
            break;
        }
    rc = DLV_DONE;
    for (size_t p = 0; p < inline_p; p++) {
        if (s[p].count == 0)
            continue;
        if (pthread_create(&th[p], NULL, dlv_thread, &s[p]) != 0) {
            snprintf(s[p].err, sizeof s[p].err, "cannot start delivery stream %zu of %zu", p + 1, k);
            s[p].rc = DLV_FATAL;
            atomic_store(&sh.stop_all, 1);
            break;
        }
        started[p] = true;
    }
    if (inline_p < k && !atomic_load(&sh.stop_all))
        dlv_thread(&s[inline_p]);
    else if (inline_p < k)
        s[inline_p].rc = DLV_STOPPED;
    for (size_t p = 0; p < k; p++) {
        if (started[p])
            pthread_join(th[p], NULL);
        if (dlv_rank(s[p].rc) > dlv_rank(rc)) {
            rc = s[p].rc;
            snprintf(err, errlen, "%s", s[p].err);
        }
        ce_buf_free(&s[p].body);
    }
    *o->req_cap = atomic_load(&sh.cap);
out:
    ce_free(list);
    ce_free(chunk);
    ce_free(done);
    ce_free(tmp);
    return rc;
}
