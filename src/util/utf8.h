/* util/utf8: UTF-8 validation and repair (invalid sequences become U+FFFD),
 * and JSON strings written from any bytes in one pass. */
#ifndef CE_UTIL_UTF8_H
#define CE_UTIL_UTF8_H

#include <stddef.h>

#include "util/buf.h"

/* Length of the longest valid UTF-8 prefix of s[0..n). Equals n when valid. */
size_t ce_utf8_valid_prefix(const char *s, size_t n);
/* Appends s with every invalid sequence replaced by U+FFFD; adds the number
 * of replacements to *replaced. -1 when `out` is full. */
int ce_utf8_repair(const char *s, size_t n, ce_buf *out, size_t *replaced);
/* Appends s as a quoted JSON string: invalid sequences become U+FFFD (as
 * ce_utf8_repair, counted in *replaced), '"' '\\' and control characters
 * are escaped exactly as yajl_gen_string does (\b \t \n \f \r, else
 * \u00XX with upper-case hex; '/' and DEL as they are). Plain ASCII and
 * valid multi-byte text are copied in runs. -1 when `out` is full (its
 * length is then restored). */
int ce_utf8_json_append(const char *s, size_t n, ce_buf *out, size_t *replaced);

#endif
