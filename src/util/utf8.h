/* util/utf8: UTF-8 validation and repair (invalid sequences become U+FFFD). */
#ifndef CE_UTIL_UTF8_H
#define CE_UTIL_UTF8_H

#include <stddef.h>

#include "util/buf.h"

/* Length of the longest valid UTF-8 prefix of s[0..n). Equals n when valid. */
size_t ce_utf8_valid_prefix(const char *s, size_t n);
/* Appends s with every invalid sequence replaced by U+FFFD; adds the number
 * of replacements to *replaced. -1 when `out` is full. */
int ce_utf8_repair(const char *s, size_t n, ce_buf *out, size_t *replaced);

#endif
