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

/* Two 3-byte sequences (lead E1..EC or EE..EF: no overlong or surrogate
 * check needed) at p, read as one little-endian word of 8 bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UTF8_CJK_PAIRS 1
static int utf8_two_3byte(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    if ((x & 0xC0C0F0C0C0F0u) != 0x8080E08080E0u)
        return 0;
    unsigned a = (unsigned)(x & 0xF), b = (unsigned)((x >> 24) & 0xF);
    return a != 0 && a != 0xD && b != 0 && b != 0xD;
}
#else
#define UTF8_CJK_PAIRS 0 /* one sequence at a time */
#endif

/* The length of the prefix of p[0..n) a JSON string holds as it is: valid
 * UTF-8 without '"', '\\' or control characters. ASCII goes 8 bytes at a
 * time (a word has none of those bytes when no byte has its high bit set, is
 * below 0x20, or equals '"' or '\\'); 3-byte sequences (CJK) two at a time;
 * other multi-byte text a sequence at a time. */
static size_t utf8_json_plain(const unsigned char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            uint64_t special = (x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
            if (special == 0) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == '"' || c == '\\')
                return i;
            i++;
            continue;
        }
        /* a run of multi-byte sequences */
        while (i < n && p[i] >= 0x80) {
#if UTF8_CJK_PAIRS
            while (n - i >= 8 && utf8_two_3byte(p + i))
                i += 6;
            if (i == n || p[i] < 0x80)
                break;
#endif
            size_t l = utf8_seq_len(p + i, n - i);
            if (l == 0)
                return i;
            i += l;
        }
    }
    return i;
}

int ce_utf8_json_append(const char *s, size_t n, ce_buf *out, size_t *replaced)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t mark = out->len, i = 0, bad = 0;
    if ((out->cap - out->len < 2 || n > out->cap - out->len - 2) && ce_buf_reserve(out, n + 2) != 0)
        return -1;
    out->data[out->len++] = '"';
    while (i < n) {
        size_t k = utf8_json_plain(p + i, n - i);
        if (ce_buf_add(out, p + i, k) != 0)
            goto full;
        i += k;
        if (i == n)
            break;
        unsigned c = p[i++];
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
        if (ce_buf_add(out, esc, el) != 0)
            goto full;
    }
    if (ce_buf_add(out, "\"", 1) != 0)
        goto full;
    *replaced += bad;
    return 0;
full:
    out->len = mark;
    return -1;
}
