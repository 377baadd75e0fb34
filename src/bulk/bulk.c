/* bulk: NDJSON body builder. */
#include "bulk/bulk.h"
#include "deliver/deliver.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void bulk_print(void *ctx, const char *s, size_t n)
{
    bulk *b = ctx;
    if (!b->overflow && ce_buf_append(&b->body, s, n) != 0)
        b->overflow = true;
}

int bulk_init(bulk *b, size_t max_bytes)
{
    memset(b, 0, sizeof *b);
    ce_buf_init(&b->body, max_bytes);
    ce_buf_init(&b->strings, max_bytes);
    b->last_where = SIZE_MAX;
    value_ctx_init(&b->values);
    b->g = yajl_gen_alloc(NULL);
    if (b->g == NULL)
        return -1;
    yajl_gen_config(b->g, yajl_gen_print_callback, bulk_print, b);
    return 0;
}

void bulk_free(bulk *b)
{
    if (b->g)
        yajl_gen_free(b->g);
    ce_buf_free(&b->body);
    ce_buf_free(&b->strings);
    ce_free(b->meta);
    value_ctx_free(&b->values);
    memset(b, 0, sizeof *b);
}

void bulk_reset(bulk *b)
{
    ce_buf_reset(&b->body);
    ce_buf_reset(&b->strings);
    b->last_where = SIZE_MAX;
    b->n_actions = 0;
    b->overflow = false;
    yajl_gen_reset(b->g, NULL);
}

#define BULK_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), sizeof(k) - 1)

static yajl_gen_status bulk_line_end(bulk *b)
{
    yajl_gen_reset(b->g, NULL);
    bulk_print(b, "\n", 1);
    return yajl_gen_status_ok;
}

static yajl_gen_status bulk_action_line(bulk *b, const map_action *a)
{
    yajl_gen g = b->g;
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = a->op == MAP_INDEX ? BULK_KEY(g, "index") : BULK_KEY(g, "delete");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = BULK_KEY(g, "_index");
    if (s == yajl_gen_status_ok)
        s = value_emit_string(&b->values, g, a->index, strlen(a->index));
    if (s == yajl_gen_status_ok)
        s = BULK_KEY(g, "_id");
    if (s == yajl_gen_status_ok)
        s = value_emit_string(&b->values, g, a->id, a->id_len);
    if (s == yajl_gen_status_ok && a->routing != NULL) {
        s = BULK_KEY(g, "routing");
        if (s == yajl_gen_status_ok)
            s = value_emit_string(&b->values, g, a->routing, a->routing_len);
    }
    if (s == yajl_gen_status_ok && a->op == MAP_INDEX && a->rule != NULL && a->rule->pipeline != NULL) {
        s = BULK_KEY(g, "pipeline");
        if (s == yajl_gen_status_ok)
            s = value_emit_string(&b->values, g, a->rule->pipeline, strlen(a->rule->pipeline));
    }
    if (a->version > 0) {
        char num[24];
        int n = snprintf(num, sizeof num, "%lld", (long long)a->version);
        if (s == yajl_gen_status_ok)
            s = BULK_KEY(g, "version");
        if (s == yajl_gen_status_ok)
            s = yajl_gen_number(g, num, (size_t)n);
        if (s == yajl_gen_status_ok)
            s = BULK_KEY(g, "version_type");
        if (s == yajl_gen_status_ok)
            s = BULK_KEY(g, "external");
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = bulk_line_end(b);
    return s;
}

static bool bulk_in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0)
            return true;
    return false;
}

const char *bulk_field_name(const cfg_table *r, const char *name)
{
    if (r == NULL)
        return name;
    if (r->n_include > 0 && !bulk_in_list(r->include, r->n_include, name))
        return NULL;
    if (bulk_in_list(r->exclude, r->n_exclude, name))
        return NULL;
    const char *out = name;
    for (size_t i = 0; i < r->n_rename; i++)
        if (strcasecmp(r->rename[i].a, name) == 0) {
            out = r->rename[i].b;
            break;
        }
    for (size_t i = 0; i < r->n_add_field; i++)
        if (strcmp(r->add_field[i].a, out) == 0)
            return NULL;
    if (r->delete_mode == CFG_DELETE_SOFT && strcmp(r->soft_field, out) == 0)
        return NULL;
    return out;
}

/* The document: every column by its value_opts and the rule's
 * include/exclude/rename; `drop` columns are left out; then the rule's
 * add_field values and, with delete = soft:FIELD, FIELD true or false. */
static yajl_gen_status bulk_document(bulk *b, const map_action *a)
{
    const row_image *img = a->doc;
    const value_opts *o = a->values;
    const cfg_table *r = a->rule;
    yajl_gen g = b->g;
    yajl_gen_status s = yajl_gen_map_open(g);
    for (size_t i = 0; i < img->n && s == yajl_gen_status_ok; i++) {
        const row_col *c = &img->cols[i];
        const char *field = bulk_field_name(r, c->name);
        if (field == NULL)
            continue;
        const value_conv *conv = value_find_conv(o, c->name);
        if (conv != NULL && conv->kind == VALUE_CONV_DROP)
            continue;
        s = value_emit_string(&b->values, g, field, strlen(field));
        if (s == yajl_gen_status_ok)
            s = value_emit(&b->values, g, c, o, conv);
    }
    for (size_t i = 0; r != NULL && i < r->n_add_field && s == yajl_gen_status_ok; i++) {
        s = value_emit_string(&b->values, g, r->add_field[i].a, strlen(r->add_field[i].a));
        if (s == yajl_gen_status_ok)
            s = value_emit_string(&b->values, g, r->add_field[i].b, strlen(r->add_field[i].b));
    }
    if (s == yajl_gen_status_ok && r != NULL && r->delete_mode == CFG_DELETE_SOFT) {
        s = value_emit_string(&b->values, g, r->soft_field, strlen(r->soft_field));
        if (s == yajl_gen_status_ok)
            s = yajl_gen_bool(g, a->soft != 0);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = bulk_line_end(b);
    return s;
}

/* Records "db.table\0logfile\0" for the action, reusing the previous pair. */
static int bulk_where(bulk *b, const row_event *ev, size_t *where)
{
    static const row_event none = {.schema = "", .table = "", .logfile = ""};
    if (ev == NULL)
        ev = &none;
    if (b->last_where != SIZE_MAX) {
        const char *prev = (const char *)b->strings.data + b->last_where;
        size_t sl = strlen(ev->schema), tl = strlen(ev->table);
        if (strncmp(prev, ev->schema, sl) == 0 && prev[sl] == '.' && strcmp(prev + sl + 1, ev->table) == 0 &&
            strcmp(prev + sl + 1 + tl + 1, ev->logfile) == 0) {
            *where = b->last_where;
            return 0;
        }
    }
    size_t at = b->strings.len;
    if (ce_buf_append_str(&b->strings, ev->schema) != 0 || ce_buf_putc(&b->strings, '.') != 0 ||
        ce_buf_append(&b->strings, ev->table, strlen(ev->table) + 1) != 0 ||
        ce_buf_append(&b->strings, ev->logfile, strlen(ev->logfile) + 1) != 0) {
        b->strings.len = at;
        return -1;
    }
    b->last_where = at;
    *where = at;
    return 0;
}

static int bulk_meta_reserve(bulk *b, size_t n)
{
    if (n <= b->meta_cap)
        return 0;
    size_t cap = b->meta_cap ? b->meta_cap * 2 : 256;
    while (cap < n)
        cap *= 2;
    bulk_meta *m = ce_realloc(b->meta, cap * sizeof *m);
    if (m == NULL)
        return -1;
    b->meta = m;
    b->meta_cap = cap;
    return 0;
}

int bulk_append(bulk *b, const map_action *a, char *err, size_t errlen)
{
    size_t mark = b->body.len;
    size_t where = 0;
    if (bulk_meta_reserve(b, b->n_actions + 1) != 0 || bulk_where(b, a->ev, &where) != 0) {
        snprintf(err, errlen, "bulk: out of memory");
        return -1;
    }
    yajl_gen_status s = bulk_action_line(b, a);
    size_t doc = b->body.len;
    if (s == yajl_gen_status_ok && a->op == MAP_INDEX)
        s = bulk_document(b, a);
    if (s != yajl_gen_status_ok || b->overflow) {
        snprintf(err, errlen, "%s.%s id %.*s: %s", a->ev ? a->ev->schema : "", a->ev ? a->ev->table : "",
                 (int)(a->id_len > 64 ? 64 : a->id_len), a->id,
                 b->overflow ? "bulk body would exceed its size cap" : "JSON generation failed");
        yajl_gen_reset(b->g, NULL);
        b->body.len = mark;
        b->overflow = false;
        return -1;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < a->id_len; i++)
        h = (h ^ (uint8_t)a->id[i]) * 16777619u;
    b->meta[b->n_actions] = (bulk_meta){.id_hash = h,
                                        .start = mark,
                                        .doc = doc,
                                        .where = where,
                                        .offset = a->ev ? a->ev->offset : 0,
                                        .exec_time = a->ev ? a->ev->execute_time : 0};
    b->n_actions++;
    return 0;
}

void bulk_action_bytes(const bulk *b, size_t i, const uint8_t **p, size_t *n)
{
    size_t end = i + 1 < b->n_actions ? b->meta[i + 1].start : b->body.len;
    *p = b->body.data + b->meta[i].start;
    *n = end - b->meta[i].start;
}

const char *bulk_table(const bulk *b, size_t i) { return (const char *)b->strings.data + b->meta[i].where; }

const char *bulk_logfile(const bulk *b, size_t i)
{
    const char *t = bulk_table(b, i);
    return t + strlen(t) + 1;
}

int bulk_dlv_actions(const bulk *b, dlv_action **acts, dlv_result **res, size_t *cap)
{
    size_t n = b->n_actions;
    if (n > *cap) {
        dlv_action *na = ce_realloc(*acts, n * sizeof *na);
        if (na == NULL)
            return -1;
        *acts = na;
        dlv_result *nr = ce_realloc(*res, n * sizeof *nr);
        if (nr == NULL)
            return -1;
        *res = nr;
        *cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        bulk_action_bytes(b, i, &(*acts)[i].p, &(*acts)[i].len);
        (*acts)[i].id_hash = b->meta[i].id_hash;
    }
    return 0;
}
