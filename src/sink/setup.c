/* sink/setup: HEAD, PUT the index from the mapping file (or a derived mapping), add the alias. */
#include "sink/setup.h"
#include "util/io.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* 4xx/5xx text for messages: the node's error type and reason when present. */
static void setup_reason(const char *resp, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.300s", resp);
    char perr[64];
    yajl_val v = yajl_tree_parse(resp, perr, sizeof perr);
    static const char *type_path[] = {"error", "type", NULL};
    static const char *reason_path[] = {"error", "reason", NULL};
    yajl_val t = v ? yajl_tree_get(v, type_path, yajl_t_string) : NULL;
    yajl_val r = v ? yajl_tree_get(v, reason_path, yajl_t_string) : NULL;
    if (t != NULL)
        snprintf(out, outlen, "%s: %.300s", YAJL_GET_STRING(t), r ? YAJL_GET_STRING(r) : "");
    if (v)
        yajl_tree_free(v);
}

sink_rc setup_ensure(sink *s, const cfg_table *rule, const char *index, const char *derived, size_t derived_len,
                     int *created, char *err, size_t errlen)
{
    *created = 0;
    if (rule->mapping == NULL && derived == NULL)
        return SINK_OK;
    const char *source = derived != NULL ? "the mapping derived from the column types" : rule->mapping;
    char path[3 * CFG_INDEX_MAX + 64], reason[400]; /* an index name, percent-encoded */
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    /* index is what the actions name: the alias when set, else the index itself */
    if (sink_index_path(index, "", path, sizeof path) != 0) {
        snprintf(err, errlen, "index %.300s: not a name for a URL path", index);
        return SINK_FATAL;
    }
    sink_rc rc = sink_request(s, "HEAD", path, NULL, 0, &status, &resp, &rlen, err, errlen);
    if (rc != SINK_OK || status == 200)
        return rc;
    if (status != 404) {
        snprintf(err, errlen, "HEAD %s%s: HTTP %ld", sink_base_url(s), path, status);
        return SINK_RETRY;
    }
    char target[CFG_INDEX_MAX + 1];
    if (rule->alias != NULL) {
        /* the concrete index behind the alias; its template may not use the row's names here */
        if (cfg_expand_template(rule->index, "", "", 1, target, sizeof target) != 0 || strchr(rule->index, '{')) {
            snprintf(err, errlen, "[table] line %d: with alias and mapping = %s, index must be a plain name", rule->line,
                     derived != NULL ? "auto" : "FILE");
            return SINK_FATAL;
        }
    } else {
        snprintf(target, sizeof target, "%s", index);
    }
    char *body = NULL;
    size_t blen = derived_len;
    if (derived == NULL && ce_read_file(rule->mapping, CFG_MAPPING_MAX, "mapping file", &body, &blen, err, errlen) != 0)
        return SINK_FATAL;
    if (sink_index_path(target, "", path, sizeof path) != 0) {
        ce_free(body);
        snprintf(err, errlen, "index %.300s: not a name for a URL path", target);
        return SINK_FATAL;
    }
    rc = sink_request(s, "PUT", path, derived != NULL ? derived : body, blen, &status, &resp, &rlen, err, errlen);
    ce_free(body);
    if (rc != SINK_OK)
        return rc;
    if (status >= 200 && status < 300) {
        *created = 1;
    } else if (status == 400 && strstr(resp, "resource_already_exists_exception") != NULL) {
        /* created meanwhile (or the index exists and only the alias is missing) */
    } else {
        setup_reason(resp, reason, sizeof reason);
        snprintf(err, errlen, "PUT %s%s with %s%s (config line %d): HTTP %ld: %s", sink_base_url(s), path,
                 derived != NULL ? "" : "mapping file ", source, rule->line, status, reason);
        return status >= 500 || status == 429 ? SINK_RETRY : SINK_FATAL;
    }
    if (rule->alias == NULL)
        return SINK_OK;
    char actions[800];
    snprintf(actions, sizeof actions,
             "{\"actions\":[{\"add\":{\"index\":\"%s\",\"alias\":\"%s\",\"is_write_index\":true}}]}", target,
             rule->alias);
    rc = sink_request(s, "POST", "/_aliases", actions, strlen(actions), &status, &resp, &rlen, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status < 200 || status >= 300) {
        setup_reason(resp, reason, sizeof reason);
        snprintf(err, errlen, "POST %s/_aliases (alias %s -> %s, config line %d): HTTP %ld: %s", sink_base_url(s),
                 rule->alias, target, rule->line, status, reason);
        return status >= 500 || status == 429 ? SINK_RETRY : SINK_FATAL;
    }
    return SINK_OK;
}
