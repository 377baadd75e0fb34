/* run/pipe: the delivery thread and its queue of parts (see run_int.h).
 * The pipeline thread fetches, decodes and maps the next batch while this
 * thread sends the parts before it, one dlv_send at a time and in order, so
 * the actions on one document reach the node in binlog order (and, with
 * concurrency > 1, dlv_send keeps them in one stream). The queue is a ring
 * of at most max_parts; results are read back by the pipeline thread. */
#include "run/run_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <string.h>
#include <time.h>

struct run_pipe {
    run_ctx *r;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* a part queued, or quit */
    pthread_cond_t done_cv; /* a part delivered */
    run_part **ring;    /* queued parts, oldest first */
    size_t cap, head, count;
    size_t sending;     /* ring index + 1 of the part being sent; 0 = none */
    size_t delivered;   /* parts at the head whose rc is set */
    bool quit;
    bool failed;        /* a part ended badly: send nothing more */
    run_part *free_list;
    run_part **all;     /* every part made, for pipe_free */
    size_t n_all, max_all;
};

/* The transfer's abort predicate: a stop past the deadline, or a failure. */
static int pipe_should_abort(void *ud)
{
    run_pipe *p = ud;
    if (run_abandoned(p->r))
        return 1;
    pthread_mutex_lock(&p->mu);
    bool f = p->failed;
    pthread_mutex_unlock(&p->mu);
    return f;
}

static void pipe_send(run_pipe *p, run_part *part)
{
    run_ctx *r = p->r;
    size_t n = part->bulk.n_actions;
    if (bulk_dlv_actions(&part->bulk, &part->acts, &part->res, &part->items_cap) != 0) {
        snprintf(part->err, sizeof part->err, "out of memory for %zu bulk items", n);
        part->rc = DLV_FATAL;
        return;
    }
    dlv_transport t;
    if (r->transport != NULL)
        t = *r->transport;
    else
        dlv_sink_transport(&t, r->sinks);
    dlv_opts o = {.req_cap = &r->req_cap,
                  .max_actions = (size_t)r->c->es.bulk_max_actions,
                  .streams = r->n_sinks,
                  .should_abort = pipe_should_abort,
                  .abort_ud = p,
                  .halt_on_dead = r->dl == NULL,
                  .stats = r->st};
    dlv_opts_retries(&o, &r->c->es);
    part->err[0] = '\0';
    part->rc = dlv_send(part->acts, n, &t, &o, part->res, part->err, sizeof part->err);
}

static void *pipe_thread(void *ud)
{
    run_pipe *p = ud;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->delivered == p->count)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit)
            break;
        size_t idx = (p->head + p->delivered) % p->cap;
        run_part *part = p->ring[idx];
        bool skip = p->failed;
        p->sending = idx + 1;
        pthread_mutex_unlock(&p->mu);
        if (skip) {
            snprintf(part->err, sizeof part->err, "not sent: an earlier part failed");
            part->rc = DLV_STOPPED;
        } else {
            pipe_send(p, part);
        }
        pthread_mutex_lock(&p->mu);
        p->sending = 0;
        if (part->rc != DLV_DONE)
            p->failed = true; /* halted, stopped or failed: nothing after it is sent */
        p->delivered++;
        pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

run_pipe *pipe_new(run_ctx *r, size_t max_parts, char *err, size_t errlen)
{
    run_pipe *p = ce_calloc(1, sizeof *p);
    if (p == NULL)
        goto oom;
    p->r = r;
    p->cap = max_parts < 1 ? 1 : max_parts;
    p->max_all = p->cap + 1; /* the queued ones and the one being filled */
    p->ring = ce_calloc(p->cap, sizeof *p->ring);
    p->all = ce_calloc(p->max_all, sizeof *p->all);
    if (p->ring == NULL || p->all == NULL)
        goto oom;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (pthread_create(&p->th, NULL, pipe_thread, p) != 0) {
        snprintf(err, errlen, "cannot start the delivery thread");
        pipe_free(p);
        return NULL;
    }
    p->started = true;
    for (size_t i = 0; i < r->n_sinks; i++)
        if (r->sinks[i] != NULL)
            sink_set_abort(r->sinks[i], pipe_should_abort, p); /* a transfer in flight ends at the deadline */
    return p;
oom:
    snprintf(err, errlen, "out of memory");
    if (p != NULL) {
        ce_free(p->ring);
        ce_free(p->all);
        ce_free(p);
    }
    return NULL;
}

void pipe_free(run_pipe *p)
{
    if (p == NULL)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->quit = true;
        p->failed = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        pthread_cond_destroy(&p->done_cv);
    }
    for (size_t i = 0; i < p->n_all; i++) {
        bulk_free(&p->all[i]->bulk);
        ce_free(p->all[i]->acts);
        ce_free(p->all[i]->res);
        ce_free(p->all[i]);
    }
    ce_free(p->all);
    ce_free(p->ring);
    ce_free(p);
}

run_part *pipe_take(run_pipe *p)
{
    run_part *part = p->free_list; /* the free list is the pipeline thread's alone */
    if (part != NULL) {
        p->free_list = part->next_free;
        part->next_free = NULL;
        return part;
    }
    if (p->n_all >= p->max_all)
        return NULL;
    part = ce_calloc(1, sizeof *part);
    if (part == NULL || bulk_init(&part->bulk, RUN_MAX_BODY) != 0) {
        ce_free(part);
        return NULL;
    }
    p->all[p->n_all++] = part;
    return part;
}

void pipe_give(run_pipe *p, run_part *part)
{
    bulk_reset(&part->bulk);
    part->batch = NULL;
    part->rc = DLV_DONE;
    part->err[0] = '\0';
    part->next_free = p->free_list;
    p->free_list = part;
}

void pipe_push(run_pipe *p, run_part *part)
{
    pthread_mutex_lock(&p->mu);
    p->ring[(p->head + p->count) % p->cap] = part;
    p->count++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

size_t pipe_out(run_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

bool pipe_full(run_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    bool full = p->count >= p->cap;
    pthread_mutex_unlock(&p->mu);
    return full;
}

run_part *pipe_pop_done(run_pipe *p, uint64_t wait_ms)
{
    pthread_mutex_lock(&p->mu);
    if (p->delivered == 0 && wait_ms > 0 && p->count > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += (time_t)(wait_ms / 1000);
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        while (p->delivered == 0 && p->count > 0)
            if (pthread_cond_timedwait(&p->done_cv, &p->mu, &dl) != 0)
                break;
    }
    run_part *part = NULL;
    if (p->delivered > 0) {
        part = p->ring[p->head];
        p->ring[p->head] = NULL;
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->delivered--;
    }
    pthread_mutex_unlock(&p->mu);
    return part;
}

void pipe_fail(run_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    p->failed = true;
    pthread_mutex_unlock(&p->mu);
}
