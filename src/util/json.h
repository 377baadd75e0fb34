/* util/json: small checks on JSON text (yajl), for files a configuration
 * names (a rule's mapping file) and read before anything is sent. */
#ifndef CE_UTIL_JSON_H
#define CE_UTIL_JSON_H

#include <stddef.h>

/* 0 when text[0, len) (with text[len] == '\0') is one JSON object; -1
 * otherwise, with the parser's message (one line, "" when it had none: not
 * an object, or a NUL byte inside) in why. */
int ce_json_is_object(const char *text, size_t len, char *why, size_t whylen);

#endif
