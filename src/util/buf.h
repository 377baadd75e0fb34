/* util/buf: a growable byte buffer with a mandatory maximum size.
 * The buffer owns `data`; ce_buf_free releases it. Appends beyond `max`
 * fail with -1 and leave the buffer unchanged. */
#ifndef CE_UTIL_BUF_H
#define CE_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ce_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} ce_buf;

void ce_buf_init(ce_buf *b, size_t max);
int ce_buf_reserve(ce_buf *b, size_t extra);
/* The capacity ce_buf_reserve(b, extra) would leave (b->cap when it fits
 * already); SIZE_MAX when len + extra is beyond max. Lets a caller account for
 * memory before it is allocated. */
size_t ce_buf_grow_size(const ce_buf *b, size_t extra);
int ce_buf_append(ce_buf *b, const void *p, size_t n);
int ce_buf_append_str(ce_buf *b, const char *s);
/* ce_buf_append, inline when the bytes fit the capacity already (hot paths);
 * up to 16 bytes are copied as two overlapping fixed-size moves instead of a
 * call to memcpy. */
static inline int ce_buf_add(ce_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > b->cap - b->len)
        return ce_buf_append(b, p, n);
    uint8_t *d = b->data + b->len;
    const uint8_t *s = p;
    if (n >= 8 && n <= 16) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n < 4) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    } else {
        memcpy(d, s, n);
    }
    b->len += n;
    return 0;
}
int ce_buf_putc(ce_buf *b, uint8_t c);
/* Appends a NUL that is not counted in len (for C-string consumers). */
int ce_buf_terminate(ce_buf *b);
void ce_buf_reset(ce_buf *b);
void ce_buf_free(ce_buf *b);

#endif
