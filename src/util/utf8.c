/* util/utf8: strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

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

/* 8 bytes of ASCII that a JSON string holds as they are: no byte has its
 * high bit set, is below 0x20, or equals '"' or '\\' (SWAR: exact). */
static int utf8_plain_word(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UTF8_CJK_PAIRS 1
/* The first 6 of 8 bytes (read little-endian) are two 3-byte sequences with
 * lead E1..EC or EE..EF, which need no overlong or surrogate check: bit k of
 * 0xDFFE is set for the lead nibbles allowed (not 0: E0, not D: ED). */
static int utf8_two_3byte(uint64_t x)
{
    if ((x & 0xC0C0F0C0C0F0u) != 0x8080E08080E0u)
        return 0;
    return (0xDFFEu >> (x & 0xF)) & (0xDFFEu >> ((x >> 24) & 0xF)) & 1u;
}
#else
#define UTF8_CJK_PAIRS 0 /* one sequence at a time */
#endif

/* Room for `need` more bytes without moving past max. */
static int utf8_room(ce_buf *out, size_t need)
{
    return need <= out->cap - out->len ? 0 : ce_buf_reserve(out, need);
}

/* One pass over s, writing as it checks. Invariant: the room reserved past
 * d is at least what is left of s plus the closing quote, so ASCII words and
 * CJK pairs are stored 8 bytes at once (two of those bytes are written again
 * by what follows a pair); an escape or U+FFFD, longer than its input byte,
 * reserves the room again. */
int ce_utf8_json_append(const char *s, size_t n, ce_buf *out, size_t *replaced)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t mark = out->len, i = 0, bad = 0;
    if (n > SIZE_MAX - 2 || utf8_room(out, n + 2) != 0)
        return -1;
    uint8_t *d = out->data + out->len;
    *d++ = '"';
    while (i < n) {
        if (n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (p[i] < 0x80) {
                if (utf8_plain_word(x)) {
                    memcpy(d, &x, 8);
                    d += 8;
                    i += 8;
                    continue;
                }
#if UTF8_CJK_PAIRS
            } else if (utf8_two_3byte(x)) {
                do { /* a run of CJK text */
                    memcpy(d, &x, 8);
                    d += 6;
                    i += 6;
                    if (n - i < 8)
                        break;
                    memcpy(&x, p + i, 8);
                } while (utf8_two_3byte(x));
                continue;
#endif
            }
        }
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *d++ = (uint8_t)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_seq_len(p + i, n - i);
            if (l > 0) {
                for (size_t k = 0; k < l; k++)
                    d[k] = p[i + k];
                d += l;
                i += l;
                continue;
            }
        }
        char esc[6] = {'\\', 'u', '0', '0', hex[(c >> 4) & 15], hex[c & 15]};
        size_t el = 2;
        if (c >= 0x80) {
            memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD for one invalid byte */
            el = 3;
            bad++;
        } else if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        } else if (c == '\b') {
            esc[1] = 'b';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\f') {
            esc[1] = 'f';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else {
            el = 6;
        }
        i++;
        out->len = (size_t)(d - out->data);
        if (ce_buf_append(out, esc, el) != 0 || utf8_room(out, n - i + 1) != 0)
            goto full;
        d = out->data + out->len;
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    *replaced += bad;
    return 0;
full:
    out->len = mark;
    return -1;
}
