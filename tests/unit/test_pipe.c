/* test_pipe: the delivery thread of the service loop (src/run/pipe.c)
 * against a fake transport: parts are sent one at a time in the order they
 * were queued and come back in that order; a failed part stops every part
 * queued after it without sending it; the queue holds at most max_parts;
 * a stop past its deadline ends a part that is still being retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "run/run_int.h"
#include "util/clock.h"

#define T_MAX_REQ 64

typedef struct fake {
    pthread_mutex_t mu;
    char seen[T_MAX_REQ][64]; /* the first _id of each request */
    size_t requests;
    int fatal_on;             /* the request number (1-based) answered 401; 0 = none */
    int always_503;           /* every request fails as a whole */
    volatile int gate;        /* requests wait while 0 */
} fake;

static const char *find(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static sink_rc fake_send(void *ud, size_t stream, const void *body, size_t len, size_t n, sink_item *items,
                         long long *retry_after_ms, char *err, size_t errlen)
{
    fake *f = ud;
    (void)stream;
    *retry_after_ms = 0;
    while (!__atomic_load_n(&f->gate, __ATOMIC_SEQ_CST))
        ce_sleep_ms(1, NULL);
    pthread_mutex_lock(&f->mu);
    size_t k = f->requests++;
    if (k < T_MAX_REQ) {
        const char *id = find(body, len, "\"_id\":\"");
        snprintf(f->seen[k], sizeof f->seen[k], "%.*s", id ? 4 : 0, id ? id + 7 : "");
    }
    pthread_mutex_unlock(&f->mu);
    if (f->always_503) {
        snprintf(err, errlen, "HTTP 503");
        return SINK_RETRY;
    }
    if (f->fatal_on > 0 && (size_t)f->fatal_on == k + 1) {
        snprintf(err, errlen, "HTTP 401");
        return SINK_FATAL;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (sink_item){.cls = SINK_ITEM_OK, .status = 200};
    return SINK_OK;
}

static const char *fake_name(void *ud, size_t stream)
{
    (void)ud, (void)stream;
    return "fake";
}

typedef struct env {
    cfg c;
    run_opts o;
    run_ctx r;
    ce_stats st;
    volatile sig_atomic_t stop;
    fake f;
    dlv_transport t;
} env;

static void env_init(env *e, size_t max_parts, run_pipe **p)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->f.mu, NULL);
    e->f.gate = 1;
    e->c.es.bulk_max_actions = 10000;
    e->c.es.max_retries = 0; /* forever: only an abort ends a failing part */
    e->c.es.retry_initial_ms = 1;
    e->c.es.retry_max_ms = 2;
    e->c.es.shutdown_timeout_ms = 0;
    stats_init(&e->st);
    e->r.c = &e->c;
    e->r.o = &e->o;
    e->r.st = &e->st;
    e->r.stop = &e->stop;
    e->r.n_sinks = 1;
    e->r.req_cap = SIZE_MAX;
    e->r.dl = (deadletter *)1; /* not halt_on_dead; never written by the pipe */
    e->t = (dlv_transport){.send = fake_send, .name = fake_name, .ud = &e->f};
    e->r.transport = &e->t;
    char err[256];
    *p = pipe_new(&e->r, max_parts, err, sizeof err);
    assert_non_null(*p);
}

static void env_free(env *e, run_pipe *p)
{
    pipe_free(p);
    stats_destroy(&e->st);
}

/* A part with one delete action of _id `id`. */
static run_part *part_with(run_pipe *p, const char *id)
{
    run_part *part = pipe_take(p);
    assert_non_null(part);
    map_action a = {.op = MAP_DELETE, .index = "idx", .id = id, .id_len = strlen(id)};
    row_event ev = {.schema = "db", .table = "t", .logfile = "mysql-bin.000001", .offset = 4};
    a.ev = &ev;
    char err[256];
    assert_int_equal(bulk_append(&part->bulk, &a, err, sizeof err), 0);
    return part;
}

static run_part *pop_wait(run_pipe *p)
{
    uint64_t end = ce_mono_ms() + 10000;
    run_part *part = NULL;
    while (part == NULL && ce_mono_ms() < end)
        part = pipe_pop_done(p, 100);
    assert_non_null(part);
    return part;
}

static void test_parts_in_order(void **state)
{
    (void)state;
    env e;
    run_pipe *p;
    env_init(&e, 3, &p);
    e.f.gate = 0; /* hold the first request: the others queue behind it */
    const char *ids[] = {"id00", "id01", "id02"};
    run_part *parts[3];
    for (int i = 0; i < 3; i++) {
        assert_false(pipe_full(p));
        parts[i] = part_with(p, ids[i]);
        pipe_push(p, parts[i]);
    }
    assert_true(pipe_full(p));
    assert_int_equal(pipe_out(p), 3);
    assert_null(pipe_pop_done(p, 0)); /* nothing delivered yet */
    __atomic_store_n(&e.f.gate, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 3; i++) {
        run_part *got = pop_wait(p);
        assert_ptr_equal(got, parts[i]);
        assert_int_equal(got->rc, DLV_DONE);
        assert_int_equal(got->res[0].item.cls, SINK_ITEM_OK);
        pipe_give(p, got);
    }
    assert_int_equal(e.f.requests, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(e.f.seen[i], ids[i]);
    assert_int_equal(pipe_out(p), 0);
    env_free(&e, p);
}

static void test_failure_stops_later_parts(void **state)
{
    (void)state;
    env e;
    run_pipe *p;
    env_init(&e, 4, &p);
    e.f.gate = 0;
    e.f.fatal_on = 2;
    run_part *parts[3];
    const char *ids[] = {"id10", "id11", "id12"};
    for (int i = 0; i < 3; i++) {
        parts[i] = part_with(p, ids[i]);
        pipe_push(p, parts[i]);
    }
    __atomic_store_n(&e.f.gate, 1, __ATOMIC_SEQ_CST);
    run_part *a = pop_wait(p), *b = pop_wait(p), *c = pop_wait(p);
    assert_ptr_equal(a, parts[0]);
    assert_int_equal(a->rc, DLV_DONE);
    assert_ptr_equal(b, parts[1]);
    assert_int_equal(b->rc, DLV_FATAL);
    assert_ptr_equal(c, parts[2]);
    assert_int_equal(c->rc, DLV_STOPPED);
    assert_int_equal(e.f.requests, 2); /* the third part was never sent */
    pipe_give(p, a);
    pipe_give(p, b);
    pipe_give(p, c);
    env_free(&e, p);
}

static void test_stop_deadline_ends_a_retrying_part(void **state)
{
    (void)state;
    env e;
    run_pipe *p;
    env_init(&e, 2, &p);
    e.f.always_503 = 1;
    run_part *part = part_with(p, "id20");
    pipe_push(p, part);
    uint64_t t0 = ce_mono_ms();
    while (e.f.requests < 3 && ce_mono_ms() - t0 < 10000) /* it is being retried */
        ce_sleep_ms(1, NULL);
    assert_true(e.f.requests >= 3);
    e.stop = 1; /* shutdown_timeout_ms 0: the deadline is now */
    run_part *got = pop_wait(p);
    assert_ptr_equal(got, part);
    assert_int_equal(got->rc, DLV_STOPPED);
    assert_int_equal(run_get_state(&e.r), RUN_ABANDONED);
    pipe_give(p, got);
    env_free(&e, p);
}

static void test_take_is_bounded(void **state)
{
    (void)state;
    env e;
    run_pipe *p;
    env_init(&e, 2, &p);
    run_part *a = pipe_take(p), *b = pipe_take(p), *c = pipe_take(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(pipe_take(p)); /* max_parts queued + the one being filled */
    pipe_give(p, b);
    assert_ptr_equal(pipe_take(p), b);
    pipe_give(p, a);
    pipe_give(p, b);
    pipe_give(p, c);
    env_free(&e, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_in_order),
        cmocka_unit_test(test_failure_stops_later_parts),
        cmocka_unit_test(test_stop_deadline_ends_a_retrying_part),
        cmocka_unit_test(test_take_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
