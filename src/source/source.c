/* source/source: the interface's dispatch and the Canal TCP adapter (a thin
 * layer over canal.c: a GET is a batch, an ack a CLIENTACK). */
#include "source/source.h"
#include "util/mem.h"

#include <stdio.h>

src_rc src_connect(source *s, char *err, size_t errlen) { return s->ops->connect(s->impl, err, errlen); }

src_rc src_get(source *s, src_wait mode, src_batch **out, char *err, size_t errlen)
{
    *out = NULL;
    return s->ops->get(s->impl, mode, out, err, errlen);
}

src_rc src_ack(source *s, int64_t batch_id, char *err, size_t errlen)
{
    return s->ops->ack(s->impl, batch_id, err, errlen);
}

void src_batch_free(source *s, src_batch *b)
{
    if (b != NULL)
        s->ops->batch_free(s->impl, b);
}

const char *src_peer(const source *s) { return s->ops->peer(s->impl); }

void src_hold(source *s, int on)
{
    if (s->ops->hold != NULL)
        s->ops->hold(s->impl, on);
}
const char *src_what(const source *s) { return s->ops->what(s->impl); }
const char *src_kind(const source *s) { return s->ops->kind; }

void src_free(source *s)
{
    if (s == NULL)
        return;
    s->ops->free(s->impl);
    ce_free(s);
}

/* ---- Canal TCP ------------------------------------------------------------ */

typedef struct src_canal {
    canal_client *c;
    char what[300];
} src_canal;

static src_rc sc_connect(void *impl, char *err, size_t errlen)
{
    return (src_rc)canal_connect(((src_canal *)impl)->c, err, errlen);
}

static src_rc sc_get(void *impl, src_wait mode, src_batch **out, char *err, size_t errlen)
{
    return (src_rc)canal_get_mode(((src_canal *)impl)->c, (canal_wait)mode, out, err, errlen);
}

static src_rc sc_ack(void *impl, int64_t batch_id, char *err, size_t errlen)
{
    return (src_rc)canal_ack(((src_canal *)impl)->c, batch_id, err, errlen);
}

static void sc_batch_free(void *impl, src_batch *b)
{
    (void)impl;
    canal_batch_free(b);
}

static const char *sc_peer(const void *impl) { return canal_peer(((const src_canal *)impl)->c); }
static void sc_hold(void *impl, int on) { canal_hold(((src_canal *)impl)->c, on); }
static const char *sc_what(const void *impl) { return ((const src_canal *)impl)->what; }

static void sc_free(void *impl)
{
    src_canal *sc = impl;
    canal_free(sc->c);
    ce_free(sc);
}

static const src_ops src_canal_ops = {
    .kind = "canal",
    .connect = sc_connect,
    .get = sc_get,
    .ack = sc_ack,
    .batch_free = sc_batch_free,
    .peer = sc_peer,
    .what = sc_what,
    .free = sc_free,
    .hold = sc_hold,
};

source *src_canal_new(const canal_opts *opts)
{
    source *s = ce_calloc(1, sizeof *s);
    src_canal *sc = ce_calloc(1, sizeof *sc);
    if (s == NULL || sc == NULL || (sc->c = canal_new(opts)) == NULL) {
        ce_free(s);
        ce_free(sc);
        return NULL;
    }
    snprintf(sc->what, sizeof sc->what, "destination %s", opts->destination ? opts->destination : "");
    s->ops = &src_canal_ops;
    s->impl = sc;
    return s;
}
