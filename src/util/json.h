/* util/json: small checks on JSON text (yajl), for files a configuration
 * names (a rule's mapping file) and read before anything is sent, and the
 * member getters of parsed objects. */
#ifndef CE_UTIL_JSON_H
#define CE_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

/* 0 when text[0, len) (with text[len] == '\0') is one JSON object; -1
 * otherwise, with the parser's message (one line, "" when it had none: not
 * an object, or a NUL byte inside) in why. */
int ce_json_is_object(const char *text, size_t len, char *why, size_t whylen);

/* Members of a parsed object (yajl_tree): the string member key, or NULL
 * when absent or not a string; the integer member key, or def; the number
 * member key (integer or not), or def. obj may be NULL. */
const char *ce_json_str(yajl_val obj, const char *key);
int64_t ce_json_int(yajl_val obj, const char *key, int64_t def);
double ce_json_num(yajl_val obj, const char *key, double def);

#endif
