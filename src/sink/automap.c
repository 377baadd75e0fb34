/* sink/automap: create a missing index from the derived mapping, extend it
 * per table, report type clashes between tables of one index. */
#include "sink/automap.h"
#include "sink/setup.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define AUTOMAP_MAX_INDEXES 1024
#define AUTOMAP_MAX_BODY ((size_t)8 << 20)
#define AUTOMAP_PROBE_INDEX "canal-es-probe-field-types"

typedef struct am_field {
    char *field;
    char *type; /* t.type points here */
    char *origin; /* "db.table.column (mysql type)" or "index NAME" */
    mapping_ftype t;
} am_field;

typedef struct am_index {
    char *name;
    bool ours;      /* created by mapping = auto (now or before): fields may be added */
    am_field *fields;
    size_t n_fields, cap_fields;
    char **tables;  /* "db.table" already handled */
    size_t n_tables, cap_tables;
} am_index;

struct automap {
    bool caps_known;
    mapping_caps caps;
    am_index *idx;
    size_t n_idx;
};

automap *automap_new(void) { return ce_calloc(1, sizeof(automap)); }

static void automap_index_free(am_index *x)
{
    for (size_t i = 0; i < x->n_fields; i++) {
        ce_free(x->fields[i].field);
        ce_free(x->fields[i].type);
        ce_free(x->fields[i].origin);
    }
    ce_free(x->fields);
    for (size_t i = 0; i < x->n_tables; i++)
        ce_free(x->tables[i]);
    ce_free(x->tables);
    ce_free(x->name);
}

void automap_free(automap *am)
{
    if (am == NULL)
        return;
    for (size_t i = 0; i < am->n_idx; i++)
        automap_index_free(&am->idx[i]);
    ce_free(am->idx);
    ce_free(am);
}

/* 1: the node accepts a field of `type` (with the parameters `params`, "" or ",\"key\":value"), 0: it
 * does not, -1: it would not say. With `named`, a refusal counts only when the node names the type
 * ("No handler for type [scaled_float] declared on field"). */
static int automap_probe(sink *s, const char *type, const char *params, bool named)
{
    char body[300], err[512];
    snprintf(body, sizeof body,
             "{\"index_patterns\":[\"" AUTOMAP_PROBE_INDEX "\"],\"template\":{\"mappings\":{\"properties\":"
             "{\"f\":{\"type\":\"%s\"%s}}}}}",
             type, params);
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    if (sink_request(s, "POST", "/_index_template/_simulate", body, strlen(body), &status, &resp, &rlen, err,
                     sizeof err) != SINK_OK)
        return -1;
    if (status == 200)
        return 1;
    if (status != 400 || resp == NULL ||
        (strstr(resp, "mapper_parsing_exception") == NULL && strstr(resp, "illegal_argument_exception") == NULL))
        return -1;
    if (named) {
        char bracketed[64];
        snprintf(bracketed, sizeof bracketed, "[%s]", type);
        if (strstr(resp, bracketed) == NULL)
            return -1;
    }
    return 0;
}

sink_rc automap_caps(sink *s, mapping_caps *caps, char *err, size_t errlen)
{
    memset(caps, 0, sizeof *caps);
    sink_rc rc = sink_detect(s, err, errlen);
    if (rc != SINK_OK)
        return rc;
    sink_info info = sink_node_info(s);
    bool os = info.flavour == SINK_FLAVOUR_OPENSEARCH;
    int ver = info.major * 100 + info.minor;
    /* by version where the probe is refused: OpenSearch 2.8 / 2.7; Elasticsearch 7.10 / 7.3 (default
     * distribution; a node without them refuses the mapping and the fallback follows) */
    int p = automap_probe(s, "unsigned_long", "", false);
    caps->unsigned_long = p == 1 || (p < 0 && (os ? ver >= 208 : ver >= 710));
    const char *flat = os ? "flat_object" : "flattened";
    p = automap_probe(s, flat, "", false);
    if (p == 1 || (p < 0 && (os ? ver >= 207 : ver >= 703)))
        caps->flat = flat;
    /* every distribution has it (mapper-extras module); a node assembled without that module refuses it */
    caps->no_scaled_float = automap_probe(s, "scaled_float", ",\"scaling_factor\":100", true) == 0;
    return SINK_OK;
}

static am_index *automap_find(automap *am, const char *index)
{
    for (size_t i = 0; i < am->n_idx; i++)
        if (strcmp(am->idx[i].name, index) == 0)
            return &am->idx[i];
    return NULL;
}

static bool automap_has_table(const am_index *x, const char *table)
{
    for (size_t i = 0; i < x->n_tables; i++)
        if (strcmp(x->tables[i], table) == 0)
            return true;
    return false;
}

static int automap_add_table(am_index *x, const char *table)
{
    if (x->n_tables == x->cap_tables) {
        size_t cap = x->cap_tables ? x->cap_tables * 2 : 4;
        char **t = ce_realloc(x->tables, cap * sizeof *t);
        if (t == NULL)
            return -1;
        x->tables = t;
        x->cap_tables = cap;
    }
    if ((x->tables[x->n_tables] = ce_strdup(table)) == NULL)
        return -1;
    x->n_tables++;
    return 0;
}

static am_field *automap_field(am_index *x, const char *field)
{
    for (size_t i = 0; i < x->n_fields; i++)
        if (strcmp(x->fields[i].field, field) == 0)
            return &x->fields[i];
    return NULL;
}

static int automap_add_field(am_index *x, const char *field, const mapping_ftype *t, const char *origin)
{
    if (x->n_fields == x->cap_fields) {
        size_t cap = x->cap_fields ? x->cap_fields * 2 : 16;
        am_field *f = ce_realloc(x->fields, cap * sizeof *f);
        if (f == NULL)
            return -1;
        x->fields = f;
        x->cap_fields = cap;
    }
    am_field *f = &x->fields[x->n_fields];
    f->field = ce_strdup(field);
    f->type = ce_strdup(t->type);
    f->origin = ce_strdup(origin);
    if (f->field == NULL || f->type == NULL || f->origin == NULL) {
        ce_free(f->field);
        ce_free(f->type);
        ce_free(f->origin);
        return -1;
    }
    f->t = *t;
    f->t.type = f->type;
    x->n_fields++;
    return 0;
}

static void automap_origin(const row_event *ev, const mapping_col *c, char *out, size_t outlen)
{
    if (c->column != NULL)
        snprintf(out, outlen, "column %s.%s.%s (%s)", ev->schema, ev->table, c->column,
                 c->mysql_type ? c->mysql_type : "no mysqlType");
    else
        snprintf(out, outlen, "%s.%s field %s (add_field / soft delete)", ev->schema, ev->table, c->field);
}

/* Fields of an existing index's mapping (GET /index/_mapping answer). */
static int automap_load(am_index *x, const char *json, char *err, size_t errlen)
{
    char perr[128];
    yajl_val v = yajl_tree_parse(json, perr, sizeof perr);
    int rc = -1;
    if (v == NULL || !YAJL_IS_OBJECT(v) || v->u.object.len == 0) {
        snprintf(err, errlen, "index %s: unreadable _mapping answer", x->name);
        goto out;
    }
    static const char *meta_path[] = {"mappings", "_meta", MAPPING_META_KEY, NULL};
    static const char *props_path[] = {"mappings", "properties", NULL};
    yajl_val first = v->u.object.values[0];
    x->ours = yajl_tree_get(first, meta_path, yajl_t_string) != NULL;
    yajl_val props = yajl_tree_get(first, props_path, yajl_t_object);
    char origin[CFG_INDEX_MAX + 16];
    snprintf(origin, sizeof origin, "index %s", v->u.object.keys[0]);
    for (size_t i = 0; props != NULL && i < props->u.object.len; i++) {
        yajl_val f = props->u.object.values[i];
        static const char *type_path[] = {"type", NULL};
        static const char *factor_path[] = {"scaling_factor", NULL};
        static const char *enabled_path[] = {"enabled", NULL};
        yajl_val ty = yajl_tree_get(f, type_path, yajl_t_string);
        yajl_val fa = yajl_tree_get(f, factor_path, yajl_t_number);
        yajl_val en = yajl_tree_get(f, enabled_path, yajl_t_false);
        mapping_ftype t = {.type = ty ? YAJL_GET_STRING(ty) : "object", .scale = -1, .disabled = en != NULL};
        if (fa != NULL) {
            double d = YAJL_GET_DOUBLE(fa);
            t.scale = 0;
            while (d >= 9.5 && t.scale < 60) {
                d /= 10;
                t.scale++;
            }
        }
        if (automap_add_field(x, props->u.object.keys[i], &t, origin) != 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    if (v)
        yajl_tree_free(v);
    return rc;
}

/* GET /index/_mapping: 1 read into x, 0 missing, else the sink_rc + 10. */
static int automap_read(sink *s, am_index *x, char *err, size_t errlen)
{
    char path[3 * CFG_INDEX_MAX + 16]; /* the name percent-encoded */
    if (sink_index_path(x->name, "/_mapping", path, sizeof path) != 0) {
        snprintf(err, errlen, "index %.300s: not a name for a URL path", x->name);
        return 10 + SINK_FATAL;
    }
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    sink_rc rc = sink_request(s, "GET", path, NULL, 0, &status, &resp, &rlen, err, errlen);
    if (rc != SINK_OK)
        return 10 + rc;
    if (status == 404)
        return 0;
    if (status != 200) {
        snprintf(err, errlen, "GET %s%s: HTTP %ld: %.200s", sink_base_url(s), path, status, resp ? resp : "");
        return 10 + (status == 401 || status == 403 ? SINK_FATAL : SINK_RETRY);
    }
    return automap_load(x, resp, err, errlen) == 0 ? 1 : 10 + SINK_RETRY;
}

/* The index state, created (and filled from the node) on first sight. */
static sink_rc automap_index(automap *am, sink *s, const cfg_table *rule, const char *index, const row_event *ev,
                             am_index **out, int *created, char *err, size_t errlen)
{
    am_index *x = automap_find(am, index);
    if (x != NULL) {
        *out = x;
        return SINK_OK;
    }
    if (am->n_idx >= AUTOMAP_MAX_INDEXES) {
        *out = NULL; /* past the cap: the node guesses */
        return SINK_OK;
    }
    am_index tmp = {.name = ce_strdup(index)};
    sink_rc rc = SINK_RETRY;
    ce_buf body;
    ce_buf_init(&body, AUTOMAP_MAX_BODY);
    if (tmp.name == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int rr = automap_read(s, &tmp, err, errlen);
    if (rr >= 10) {
        rc = (sink_rc)(rr - 10);
        goto out;
    }
    if (rr == 0 && rule->alias != NULL && strchr(rule->index, '{') != NULL) {
        ce_log(CE_LOG_WARN, "sink",
               "alias %s does not exist and index '%s' (config line %d) is a template: mapping = auto cannot create "
               "it, the node guesses the types",
               index, rule->index, rule->line);
    } else if (rr == 0) {
        mapping_caps caps = am->caps;
        for (int attempt = 0; attempt < 2; attempt++) {
            /* the body `canal-es mapping` prints, under the caps of this attempt */
            const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
            body.len = 0;
            if (mapping_suggest(rule, img, &caps, 0, &body) != 0) {
                snprintf(err, errlen, "index %s: the derived mapping is larger than %zu bytes", index,
                         AUTOMAP_MAX_BODY);
                rc = SINK_FATAL;
                goto out;
            }
            rc = setup_ensure(s, rule, index, (const char *)body.data, body.len, created, err, errlen);
            bool optional = caps.unsigned_long || caps.flat != NULL;
            if (rc == SINK_FATAL && optional && strstr(err, "mapper_parsing_exception") != NULL) {
                ce_log(CE_LOG_WARN, "sink", "%s: creating it again without unsigned_long and %s", err,
                       caps.flat ? caps.flat : "flat types");
                caps.unsigned_long = false;
                caps.flat = NULL;
                am->caps = caps; /* the node lacks them */
                continue;
            }
            break;
        }
        if (rc != SINK_OK)
            goto out;
        if (*created) {
            tmp.ours = true;
        } else {
            rr = automap_read(s, &tmp, err, errlen); /* created meanwhile by someone else */
            if (rr >= 10) {
                rc = (sink_rc)(rr - 10);
                goto out;
            }
        }
    }
    if (am->n_idx % 16 == 0) {
        am_index *g = ce_realloc(am->idx, (am->n_idx + 16) * sizeof *g);
        if (g == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = SINK_RETRY;
            goto out;
        }
        am->idx = g;
    }
    am->idx[am->n_idx] = tmp;
    *out = &am->idx[am->n_idx++];
    memset(&tmp, 0, sizeof tmp);
    rc = SINK_OK;
out:
    automap_index_free(&tmp);
    ce_buf_free(&body);
    return rc;
}

sink_rc automap_ensure(automap *am, sink *s, const cfg_table *rule, const char *index, const row_event *ev,
                       int *created, char *err, size_t errlen)
{
    *created = 0;
    char table[600]; /* with the column count: after an ALTER TABLE the table's new columns are added */
    snprintf(table, sizeof table, "%s.%s/%zu", ev->schema, ev->table, ev->after.n > 0 ? ev->after.n : ev->before.n);
    am_index *x = automap_find(am, index);
    if (x != NULL && automap_has_table(x, table))
        return SINK_OK;
    sink_rc rc = SINK_OK;
    if (!am->caps_known) {
        rc = automap_caps(s, &am->caps, err, errlen);
        if (rc != SINK_OK)
            return rc;
        am->caps_known = true;
        ce_log(CE_LOG_INFO, "sink", "mapping = auto: unsigned_long %s, JSON columns in flatten as %s%s",
               am->caps.unsigned_long ? "available" : "not available (keyword instead)",
               am->caps.flat ? am->caps.flat : "object with enabled: false",
               am->caps.no_scaled_float ? ", scaled_float not available (DECIMAL as double)" : "");
    }
    const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
    size_t n = mapping_columns(rule, img, &am->caps, NULL, 0);
    mapping_col *cols = NULL, *fresh = NULL;
    ce_buf add;
    ce_buf_init(&add, AUTOMAP_MAX_BODY);
    rc = automap_index(am, s, rule, index, ev, &x, created, err, errlen);
    if (rc != SINK_OK || x == NULL)
        goto out;
    cols = ce_calloc(n ? n : 1, sizeof *cols); /* under the caps the index was created with */
    if (cols == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SINK_RETRY;
        goto out;
    }
    n = mapping_columns(rule, img, &am->caps, cols, n);
    fresh = ce_calloc(n ? n : 1, sizeof *fresh);
    if (fresh == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SINK_RETRY;
        goto out;
    }
    size_t n_fresh = 0;
    char origin[800], have[96], want[96];
    for (size_t i = 0; i < n && x->ours; i++) {
        am_field *f = automap_field(x, cols[i].field);
        automap_origin(ev, &cols[i], origin, sizeof origin);
        if (f == NULL) {
            fresh[n_fresh++] = cols[i];
        } else if (!*created && !mapping_same_type(&f->t, &cols[i].t)) {
            mapping_type_text(&f->t, have, sizeof have);
            mapping_type_text(&cols[i].t, want, sizeof want);
            double factor = f->t.scale >= 0 ? 1 : 0;
            for (int k = 0; k < f->t.scale; k++)
                factor *= 10;
            char problem[600];
            bool holds = cols[i].column != NULL &&
                         mapping_field_problem(rule, cols[i].column, cols[i].mysql_type, f->t.type, NULL, factor,
                                               problem, sizeof problem) == NULL;
            ce_log(CE_LOG_WARN, "sink",
                   "index %s: field %s is mapped %s (from %s), but %s would need %s: its values are indexed as %s%s "
                   "(give the tables separate indexes, rename the column, or set mapping = FILE)",
                   index, cols[i].field, have, f->origin, origin, want, have,
                   holds ? ", which holds them" : " and may be rejected");
        }
    }
    if (n_fresh > 0 && !*created) {
        if (mapping_write(rule, fresh, n_fresh, MAPPING_PROPERTIES_ONLY, &add) != 0) {
            snprintf(err, errlen, "index %s: the derived mapping is larger than %zu bytes", index, AUTOMAP_MAX_BODY);
            rc = SINK_FATAL;
            goto out;
        }
        char path[3 * CFG_INDEX_MAX + 16]; /* the name percent-encoded */
        if (sink_index_path(index, "/_mapping", path, sizeof path) != 0) {
            snprintf(err, errlen, "index %.300s: not a name for a URL path", index);
            rc = SINK_FATAL;
            goto out;
        }
        long status = 0;
        const char *resp = NULL;
        size_t rlen = 0;
        rc = sink_request(s, "PUT", path, add.data, add.len, &status, &resp, &rlen, err, errlen);
        if (rc != SINK_OK)
            goto out;
        if (status == 429 || status >= 500) {
            snprintf(err, errlen, "PUT %s%s: HTTP %ld", sink_base_url(s), path, status);
            rc = SINK_RETRY;
            goto out;
        }
        if (status < 200 || status >= 300) /* a field added meanwhile with another type: the node keeps its own */
            ce_log(CE_LOG_WARN, "sink", "PUT %s%s (fields of %s.%s): HTTP %ld: %.300s; the node guesses those fields",
                   sink_base_url(s), path, ev->schema, ev->table, status, resp ? resp : "");
        else
            ce_log(CE_LOG_INFO, "sink", "index %s: added %zu field(s) of %s.%s to its mapping", index, n_fresh,
                   ev->schema, ev->table);
    }
    for (size_t i = 0; i < n_fresh; i++) {
        const mapping_col *c = &fresh[i];
        automap_origin(ev, c, origin, sizeof origin);
        if (automap_add_field(x, c->field, &c->t, origin) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = SINK_RETRY;
            goto out;
        }
    }
    if (automap_add_table(x, table) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = SINK_RETRY;
    }
out:
    ce_free(fresh);
    ce_free(cols);
    ce_buf_free(&add);
    return rc;
}
