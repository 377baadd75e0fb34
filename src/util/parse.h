/* util/parse: range-checked number parsing (no atoi) and small string helpers. */
#ifndef CE_UTIL_PARSE_H
#define CE_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses all of `s` as a base-10 integer in [min, max]. 0 on success. */
int ce_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Splits "host:port" (port 1..65535). host is written NUL-terminated. */
int ce_parse_hostport(const char *s, char *host, size_t hostlen, int *port);
/* Trims ASCII blanks in place; returns s. */
char *ce_trim(char *s);
/* Copies s into dst (dlen > 0), cut to fit; always NUL-terminated. */
void ce_str_copy(char *dst, size_t dlen, const char *s);

#endif
