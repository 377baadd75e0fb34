/* util/buf: growable, capped byte buffer. */
#include "util/buf.h"
#include "util/mem.h"

#include <string.h>

void ce_buf_init(ce_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

size_t ce_buf_grow_size(const ce_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return SIZE_MAX;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return b->cap;
    size_t ncap = b->cap ? b->cap : 256;
    if (ncap > b->max)
        ncap = b->max; /* the capacity never passes max: what fits it is within max */
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    return ncap;
}

int ce_buf_reserve(ce_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    size_t ncap = ce_buf_grow_size(b, extra);
    uint8_t *p = ce_realloc(b->data, ncap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int ce_buf_append(ce_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (ce_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int ce_buf_append_str(ce_buf *b, const char *s) { return ce_buf_append(b, s, strlen(s)); }

int ce_buf_putc(ce_buf *b, uint8_t c) { return ce_buf_append(b, &c, 1); }

int ce_buf_terminate(ce_buf *b)
{
    if (ce_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}

void ce_buf_reset(ce_buf *b) { b->len = 0; }

void ce_buf_free(ce_buf *b)
{
    ce_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
