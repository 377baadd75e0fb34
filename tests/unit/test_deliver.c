/* test_deliver: dlv_send against a fake transport (no network, no real
 * sleeps): only the failed items are sent again, 413 halves the request
 * size and a lone too-large action is dead with 413, Retry-After is the
 * minimum wait and is capped, an abort at the deadline stops without
 * reporting anything applied that was not, several streams keep the order
 * of each document's actions, max_retries gives up, credentials are fatal,
 * halt_on_dead ends the call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "deliver/deliver.h"
#include "stats.h"

#define T_MAX 512
#define T_MAX_REQ 1024

/* The body: one line per action, "NNNN xxxx...\n" (NNNN = the action's index). */
typedef struct fake {
    char body[T_MAX * 64];
    dlv_action acts[T_MAX];
    size_t n;
    /* behaviour */
    size_t max_bytes;           /* 413 above this (0 = none) */
    int item_fail[T_MAX];       /* times the item is answered 429 (-1 = always 503) */
    int item_dead[T_MAX];       /* answered 400 */
    int item_fatal[T_MAX];      /* answered 403 */
    int whole_fail;             /* requests failing as a whole (-1 = all) */
    long long retry_after;      /* with them */
    int fatal_request;          /* the first request is answered 401 */
    int abort_after_requests;   /* the abort flag goes up after this many requests (0 = never) */
    int abort_in_transfer;      /* ... and that request fails (aborted transfer) */
    /* what happened */
    pthread_mutex_t mu;
    size_t requests;
    size_t sent[T_MAX_REQ][T_MAX]; /* action indexes of each request */
    size_t sent_n[T_MAX_REQ];
    size_t sent_stream[T_MAX_REQ];
    size_t sent_len[T_MAX_REQ];
    int abort_flag;
    uint64_t sleeps[64];
    size_t n_sleeps;
} fake;

static void fake_init(fake *f, size_t n, const size_t *pad)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t extra = pad != NULL ? pad[i] : 4;
        int w = snprintf(f->body + off, sizeof f->body - off, "%04zu ", i);
        off += (size_t)w;
        memset(f->body + off, 'x', extra);
        off += extra;
        f->body[off++] = '\n';
        f->acts[i] = (dlv_action){.p = (const uint8_t *)f->body + off - (size_t)w - extra - 1,
                                  .len = (size_t)w + extra + 1, .id_hash = (uint32_t)i};
    }
    f->n = n;
}

static sink_rc fake_send(void *ud, size_t stream, const void *body, size_t len, size_t n, sink_item *items,
                         long long *retry_after_ms, char *err, size_t errlen)
{
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    size_t r = f->requests++;
    assert_true(r < T_MAX_REQ);
    f->sent_stream[r] = stream;
    f->sent_len[r] = len;
    /* the body holds exactly the n actions, whole lines */
    const char *p = body, *end = p + len;
    size_t got = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        size_t idx = (size_t)strtoul(p, NULL, 10);
        assert_true(idx < f->n);
        assert_int_equal((size_t)(nl + 1 - p), f->acts[idx].len);
        assert_memory_equal(p, f->acts[idx].p, f->acts[idx].len);
        assert_true(got < T_MAX);
        f->sent[r][got] = idx;
        got++;
        p = nl + 1;
    }
    assert_int_equal(got, n);
    f->sent_n[r] = got;
    sink_rc rc = SINK_OK;
    *retry_after_ms = 0;
    if (f->abort_after_requests > 0 && (int)f->requests >= f->abort_after_requests) {
        f->abort_flag = 1;
        if (f->abort_in_transfer) {
            snprintf(err, errlen, "aborted");
            rc = SINK_RETRY;
            goto out;
        }
    }
    if (f->fatal_request) {
        f->fatal_request = 0;
        snprintf(err, errlen, "fake: HTTP 401: credentials");
        rc = SINK_FATAL;
        goto out;
    }
    if (f->max_bytes > 0 && len > f->max_bytes) {
        snprintf(err, errlen, "fake: HTTP 413");
        rc = SINK_TOO_LARGE;
        goto out;
    }
    if (f->whole_fail != 0) {
        if (f->whole_fail > 0)
            f->whole_fail--;
        snprintf(err, errlen, "fake: HTTP 503");
        *retry_after_ms = f->retry_after;
        rc = SINK_RETRY;
        goto out;
    }
    for (size_t m = 0; m < n; m++) {
        size_t idx = f->sent[r][m];
        sink_item *it = &items[m];
        *it = (sink_item){.cls = SINK_ITEM_OK, .status = 201};
        if (f->item_fatal[idx]) {
            *it = (sink_item){.cls = SINK_ITEM_FATAL, .status = 403};
            snprintf(it->type, sizeof it->type, "security_exception");
        } else if (f->item_dead[idx]) {
            *it = (sink_item){.cls = SINK_ITEM_DEAD, .status = 400};
            snprintf(it->type, sizeof it->type, "mapper_parsing_exception");
        } else if (f->item_fail[idx] != 0) {
            if (f->item_fail[idx] > 0)
                f->item_fail[idx]--;
            *it = (sink_item){.cls = SINK_ITEM_RETRY, .status = 429};
            snprintf(it->type, sizeof it->type, "es_rejected_execution_exception");
        }
    }
out:
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static const char *fake_name(void *ud, size_t stream)
{
    (void)ud;
    (void)stream;
    return "http://fake:9200";
}

static int fake_abort(void *ud)
{
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    int a = f->abort_flag;
    pthread_mutex_unlock(&f->mu);
    return a;
}

static int fake_sleep(void *ud, uint64_t ms)
{
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    if (f->n_sleeps < 64)
        f->sleeps[f->n_sleeps] = ms;
    f->n_sleeps++;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void quiet(void *ud, ce_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

typedef struct rig {
    fake f;
    dlv_transport t;
    dlv_opts o;
    size_t cap;
    dlv_result res[T_MAX];
    ce_stats st;
    char err[1024];
} rig;

static rig *rig_new(size_t n, const size_t *pad)
{
    rig *g = calloc(1, sizeof *g);
    assert_non_null(g);
    fake_init(&g->f, n, pad);
    stats_init(&g->st);
    g->t = (dlv_transport){.send = fake_send, .name = fake_name, .ud = &g->f};
    g->cap = SIZE_MAX;
    g->o = (dlv_opts){.req_cap = &g->cap, .streams = 1, .retry_initial_ms = 100, .retry_max_ms = 1000,
                      .should_abort = fake_abort, .abort_ud = &g->f, .sleep_ms = fake_sleep, .sleep_ud = &g->f,
                      .log = quiet, .stats = &g->st};
    return g;
}

static dlv_rc rig_run(rig *g)
{
    return dlv_send(g->f.acts, g->f.n, &g->t, &g->o, g->res, g->err, sizeof g->err);
}

static void rig_free(rig *g)
{
    stats_destroy(&g->st);
    pthread_mutex_destroy(&g->f.mu);
    free(g);
}

static void test_only_failed_items_resent(void **state)
{
    (void)state;
    rig *g = rig_new(10, NULL);
    g->f.item_fail[2] = 1;
    g->f.item_fail[5] = 2;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.requests, 3);
    assert_int_equal(g->f.sent_n[0], 10);
    assert_int_equal(g->f.sent_n[1], 2);
    assert_int_equal(g->f.sent[1][0], 2);
    assert_int_equal(g->f.sent[1][1], 5);
    assert_int_equal(g->f.sent_n[2], 1);
    assert_int_equal(g->f.sent[2][0], 5);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(g->res[i].item.cls, SINK_ITEM_OK);
        assert_true(g->res[i].answered);
    }
    assert_int_equal(g->f.n_sleeps, 2);
    assert_true(g->f.sleeps[0] <= 100); /* full jitter, no Retry-After for item retries */
    assert_int_equal(CE_STAT_GET(&g->st, items_ok), 10);
    assert_int_equal(CE_STAT_GET(&g->st, items_retry), 3);
    assert_int_equal(CE_STAT_GET(&g->st, retries), 2);
    assert_int_equal(CE_STAT_GET(&g->st, bulk_requests), 3);
    assert_int_equal(CE_STAT_GET(&g->st, request_failures), 0);
    rig_free(g);
}

static void test_whole_failure_resends_unanswered(void **state)
{
    (void)state;
    rig *g = rig_new(6, NULL);
    size_t one = g->f.acts[0].len;
    rig_free(g);

    g = rig_new(6, NULL);
    g->cap = 2 * one;
    g->f.whole_fail = 1;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.requests, 4); /* failed [0,1], then [0,1] [2,3] [4,5] */
    assert_int_equal(g->f.sent[1][0], 0);
    assert_int_equal(CE_STAT_GET(&g->st, request_failures), 1);
    assert_int_equal(g->f.n_sleeps, 1);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(g->res[i].item.cls, SINK_ITEM_OK);
    rig_free(g);
}

static void test_413_halves_and_lone_action_dead(void **state)
{
    (void)state;
    size_t pad[20];
    for (size_t i = 0; i < 20; i++)
        pad[i] = 40;
    pad[7] = 300; /* alone above the limit */
    rig *g = rig_new(20, pad);
    g->f.max_bytes = 200;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_true(g->cap <= 200); /* lowered for good */
    for (size_t i = 0; i < 20; i++) {
        if (i == 7) {
            assert_int_equal(g->res[i].item.cls, SINK_ITEM_DEAD);
            assert_int_equal(g->res[i].item.status, 413);
            assert_string_equal(g->res[i].item.type, "request_entity_too_large");
        } else {
            assert_int_equal(g->res[i].item.cls, SINK_ITEM_OK);
        }
    }
    /* every request that was answered fits; nothing was sent twice but the refused ones */
    size_t applied = 0;
    for (size_t r = 0; r < g->f.requests; r++)
        if (g->f.sent_len[r] <= 200)
            applied += g->f.sent_n[r];
    assert_int_equal(applied, 19);
    assert_true(CE_STAT_GET(&g->st, requests_split) >= 2);
    assert_int_equal(CE_STAT_GET(&g->st, items_dead), 1);
    assert_int_equal(g->f.n_sleeps, 0); /* a 413 is not a retry */
    /* the next call starts at the lowered size */
    size_t before = g->f.requests;
    g->f.max_bytes = 200;
    pad[7] = 40;
    assert_int_equal(rig_run(g), DLV_DONE);
    for (size_t r = before; r < g->f.requests; r++)
        assert_true(g->f.sent_len[r] <= 200 || g->f.sent_n[r] == 1);
    rig_free(g);
}

static void test_retry_after_is_minimum_and_capped(void **state)
{
    (void)state;
    rig *g = rig_new(3, NULL);
    g->f.whole_fail = 1;
    g->f.retry_after = 5000;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.n_sleeps, 1);
    assert_int_equal(g->f.sleeps[0], 5000); /* backoff is at most 100 ms here */
    rig_free(g);

    g = rig_new(3, NULL);
    g->f.whole_fail = 1;
    g->f.retry_after = 86400000LL;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.sleeps[0], (uint64_t)DLV_MAX_RETRY_AFTER_MS);
    rig_free(g);

    assert_int_equal(dlv_wait_ms(300, 0), 300);
    assert_int_equal(dlv_wait_ms(300, 100), 300);
    assert_int_equal(dlv_wait_ms(300, 2000), 2000);
    assert_int_equal(dlv_wait_ms(5, DLV_MAX_RETRY_AFTER_MS + 1), (uint64_t)DLV_MAX_RETRY_AFTER_MS);
}

static void test_abort_at_deadline(void **state)
{
    (void)state;
    /* between requests: the first request is answered, then the deadline passes */
    rig *g = rig_new(8, NULL);
    g->cap = 2 * g->f.acts[0].len;
    g->f.abort_after_requests = 1;
    assert_int_equal(rig_run(g), DLV_STOPPED);
    assert_int_equal(g->f.requests, 1);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(g->res[i].item.cls, i < 2 ? SINK_ITEM_OK : SINK_ITEM_RETRY);
        assert_int_equal(g->res[i].answered, i < 2);
    }
    rig_free(g);

    /* during a transfer (sink_set_abort ends it as a failed request) */
    g = rig_new(8, NULL);
    g->cap = 2 * g->f.acts[0].len;
    g->f.abort_after_requests = 2;
    g->f.abort_in_transfer = 1;
    assert_int_equal(rig_run(g), DLV_STOPPED);
    assert_int_equal(g->f.requests, 2);
    assert_int_equal(g->f.n_sleeps, 0);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(g->res[i].item.cls, i < 2 ? SINK_ITEM_OK : SINK_ITEM_RETRY);
    rig_free(g);

    /* while waiting to retry */
    g = rig_new(4, NULL);
    g->f.item_fail[1] = -1;
    g->f.abort_after_requests = 1;
    assert_int_equal(rig_run(g), DLV_STOPPED);
    assert_int_equal(g->f.requests, 1);
    assert_int_equal(g->res[1].item.cls, SINK_ITEM_RETRY);
    assert_int_equal(g->res[0].item.cls, SINK_ITEM_OK);
    rig_free(g);
}

static void test_streams_keep_per_id_order(void **state)
{
    (void)state;
    rig *g = rig_new(T_MAX, NULL);
    for (size_t i = 0; i < T_MAX; i++) {
        g->f.acts[i].id_hash = (uint32_t)((i * 7919u) % 37u); /* 37 documents, interleaved */
        if (i % 11 == 0)
            g->f.item_fail[i] = 1;
    }
    g->cap = 16 * g->f.acts[0].len;
    g->o.streams = 4;
    assert_int_equal(rig_run(g), DLV_DONE);
    for (size_t i = 0; i < T_MAX; i++)
        assert_int_equal(g->res[i].item.cls, SINK_ITEM_OK);
    /* every document's actions go to one stream, first sent in list order */
    size_t stream_of[37], last[37];
    bool seen[37] = {false};
    bool first_sent[T_MAX] = {false};
    size_t streams_used[4] = {0};
    for (size_t r = 0; r < g->f.requests; r++) {
        streams_used[g->f.sent_stream[r]]++;
        for (size_t m = 0; m < g->f.sent_n[r]; m++) {
            size_t idx = g->f.sent[r][m];
            uint32_t h = g->f.acts[idx].id_hash;
            if (seen[h])
                assert_int_equal(stream_of[h], g->f.sent_stream[r]);
            if (!first_sent[idx]) {
                if (seen[h])
                    assert_true(idx > last[h]);
                last[h] = idx;
                first_sent[idx] = true;
            }
            seen[h] = true;
            stream_of[h] = g->f.sent_stream[r];
            assert_int_equal(h % 4, g->f.sent_stream[r]);
        }
    }
    for (size_t p = 0; p < 4; p++)
        assert_true(streams_used[p] > 0);
    assert_int_equal(CE_STAT_GET(&g->st, items_ok), T_MAX);
    rig_free(g);
}

static void test_max_retries_gives_up(void **state)
{
    (void)state;
    /* an item failing for ever: 1 + 3 attempts, then it stays SINK_ITEM_RETRY, the call is done */
    rig *g = rig_new(4, NULL);
    g->f.item_fail[2] = -1;
    g->o.max_retries = 3;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.requests, 4);
    assert_int_equal(g->f.n_sleeps, 3);
    assert_int_equal(g->res[2].item.cls, SINK_ITEM_RETRY);
    assert_int_equal(g->res[2].item.status, 429);
    assert_true(g->res[2].answered);
    assert_int_equal(g->res[0].item.cls, SINK_ITEM_OK);
    rig_free(g);

    /* whole requests failing for ever: DLV_GAVE_UP with the error */
    g = rig_new(4, NULL);
    g->f.whole_fail = -1;
    g->o.max_retries = 2;
    assert_int_equal(rig_run(g), DLV_GAVE_UP);
    assert_int_equal(g->f.requests, 3);
    assert_non_null(strstr(g->err, "503"));
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(g->res[i].item.cls, SINK_ITEM_RETRY);
        assert_false(g->res[i].answered);
        assert_non_null(strstr(g->res[i].item.reason, "503"));
    }
    rig_free(g);
}

static void test_fatal_and_halt(void **state)
{
    (void)state;
    rig *g = rig_new(4, NULL);
    g->f.fatal_request = 1;
    assert_int_equal(rig_run(g), DLV_FATAL);
    assert_non_null(strstr(g->err, "401"));
    assert_int_equal(g->f.requests, 1);
    rig_free(g);

    g = rig_new(4, NULL);
    g->f.item_fatal[1] = 1;
    assert_int_equal(rig_run(g), DLV_FATAL);
    assert_non_null(strstr(g->err, "403"));
    assert_int_equal(g->res[1].item.cls, SINK_ITEM_FATAL);
    assert_int_equal(g->res[3].item.cls, SINK_ITEM_OK); /* answered in the same response: reported */
    rig_free(g);

    /* a dead item: final (the caller writes the dead letter) */
    g = rig_new(6, NULL);
    g->f.item_dead[1] = 1;
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->res[1].item.cls, SINK_ITEM_DEAD);
    assert_int_equal(g->res[1].item.status, 400);
    assert_int_equal(CE_STAT_GET(&g->st, items_dead), 1);
    rig_free(g);

    /* halt_on_dead: nothing sent after the dead item's request */
    g = rig_new(6, NULL);
    g->cap = 2 * g->f.acts[0].len;
    g->f.item_dead[1] = 1;
    g->o.halt_on_dead = 1;
    assert_int_equal(rig_run(g), DLV_HALTED);
    assert_int_equal(g->f.requests, 1);
    assert_int_equal(g->res[1].item.cls, SINK_ITEM_DEAD);
    assert_int_equal(g->res[0].item.cls, SINK_ITEM_OK);
    assert_int_equal(g->res[4].item.cls, SINK_ITEM_RETRY);
    assert_false(g->res[4].answered);
    rig_free(g);
}

static void test_empty(void **state)
{
    (void)state;
    rig *g = rig_new(0, NULL);
    assert_int_equal(rig_run(g), DLV_DONE);
    assert_int_equal(g->f.requests, 0);
    rig_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_failed_items_resent),
        cmocka_unit_test(test_whole_failure_resends_unanswered),
        cmocka_unit_test(test_413_halves_and_lone_action_dead),
        cmocka_unit_test(test_retry_after_is_minimum_and_capped),
        cmocka_unit_test(test_abort_at_deadline),
        cmocka_unit_test(test_streams_keep_per_id_order),
        cmocka_unit_test(test_max_retries_gives_up),
        cmocka_unit_test(test_fatal_and_halt),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
