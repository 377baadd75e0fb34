/* util/utf8: strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#include "util/utf8.h"

#include <stdint.h>

/* Length of the valid sequence starting at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

size_t ce_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq_len(p + i, n - i);
        if (l == 0)
            break;
        i += l;
    }
    return i;
}

int ce_utf8_repair(const char *s, size_t n, ce_buf *out, size_t *replaced)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    size_t i = 0;
    while (i < n) {
        size_t ok = ce_utf8_valid_prefix(s + i, n - i);
        if (ce_buf_append(out, s + i, ok) != 0)
            return -1;
        i += ok;
        if (i < n) {
            if (ce_buf_append(out, fffd, 3) != 0)
                return -1;
            (*replaced)++;
            i++; /* skip one byte; each bad byte becomes one U+FFFD */
        }
    }
    return 0;
}
