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
