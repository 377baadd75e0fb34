/* util/json: see json.h. */
#include "util/json.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

int ce_json_is_object(const char *text, size_t len, char *why, size_t whylen)
{
    char perr[256] = "";
    yajl_val v = strlen(text) == len ? yajl_tree_parse(text, perr, sizeof perr) : NULL;
    int rc = v != NULL && YAJL_IS_OBJECT(v) ? 0 : -1;
    for (char *q = perr; *q; q++)
        if (*q == '\n')
            *q = ' ';
    if (whylen > 0)
        snprintf(why, whylen, "%s", rc == 0 ? "" : perr);
    if (v)
        yajl_tree_free(v);
    return rc;
}

const char *ce_json_str(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj != NULL ? yajl_tree_get(obj, path, yajl_t_string) : NULL;
    return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

int64_t ce_json_int(yajl_val obj, const char *key, int64_t def)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj != NULL ? yajl_tree_get(obj, path, yajl_t_number) : NULL;
    return v != NULL && YAJL_IS_INTEGER(v) ? (int64_t)YAJL_GET_INTEGER(v) : def;
}

double ce_json_num(yajl_val obj, const char *key, double def)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj != NULL ? yajl_tree_get(obj, path, yajl_t_number) : NULL;
    if (v == NULL)
        return def;
    return YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
}
