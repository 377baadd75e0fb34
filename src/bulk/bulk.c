/* bulk: NDJSON body builder (the line format in bulk.h). Owns the body, the
 * per-action metadata, the "db.table\0logfile\0" strings and the document
 * plans; bulk_free releases them all. */
#include "bulk/bulk.h"
#include "deliver/deliver.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BULK_PLANS 4
#define BULK_PLAN_TEXT_MAX ((size_t)16 << 20) /* names and field texts of one layout */

/* What a plan depends on in the rule: the lists are owned by the config and
 * do not change while it is in use, so their addresses and counts name them. */
typedef struct bulk_rule_key {
    const cfg_table *rule;
    const value_opts *values;
    char *const *include;
    size_t n_include;
    char *const *exclude;
    size_t n_exclude;
    const cfg_pair *rename;
    size_t n_rename;
    const cfg_pair *add_field;
    size_t n_add_field;
    int delete_mode;
    const char *soft_field;
    const value_conv *convs;
    size_t n_convs;
} bulk_rule_key;

/* One column of a layout: the text it was built for and how it is written. */
typedef struct bulk_col_plan {
    size_t name;     /* offset in text: the column name (NUL-terminated) */
    size_t type;     /* offset in text: mysqlType, or SIZE_MAX for NULL */
    int sql_type;
    bool omit;       /* include/exclude/rename collision, or convert drop */
    size_t key;      /* offset in text: ,"field": (the ',' skipped for the first member) */
    size_t key_len;
    value_prep prep;
} bulk_col_plan;

typedef struct bulk_plan {
    bool used;
    bulk_rule_key rk;
    ce_buf text;
    bulk_col_plan *cols;
    size_t n, cap;
    size_t tail, tail_len;  /* ,"a":"b" per add_field, then ,"FIELD": of a soft delete */
    bool soft;              /* the tail ends with the soft field's key */
    uint64_t repairs;       /* U+FFFD in the names and add_field values of one document */
    uint64_t layout;        /* 0, or a row_event.layout whose images of kind `after` have the names and
                               mysqlTypes of cols (checked once, for the first of them) */
    bool after;
} bulk_plan;

static void bulk_plan_free(bulk_plan *p)
{
    ce_buf_free(&p->text);
    ce_free(p->cols);
    memset(p, 0, sizeof *p);
}

int bulk_init(bulk *b, size_t max_bytes)
{
    memset(b, 0, sizeof *b);
    ce_buf_init(&b->body, max_bytes);
    ce_buf_init(&b->strings, max_bytes);
    b->last_where = SIZE_MAX;
    b->last_where_layout = 0;
    value_ctx_init(&b->values);
    b->plans = ce_calloc(BULK_PLANS, sizeof *b->plans);
    if (b->plans == NULL)
        return -1;
    for (size_t i = 0; i < BULK_PLANS; i++)
        ce_buf_init(&b->plans[i].text, BULK_PLAN_TEXT_MAX);
    return 0;
}

void bulk_free(bulk *b)
{
    ce_buf_free(&b->body);
    ce_buf_free(&b->strings);
    ce_free(b->meta);
    value_ctx_free(&b->values);
    for (size_t i = 0; b->plans != NULL && i < BULK_PLANS; i++)
        bulk_plan_free(&b->plans[i]);
    ce_free(b->plans);
    memset(b, 0, sizeof *b);
}

void bulk_reset(bulk *b)
{
    ce_buf_reset(&b->body);
    ce_buf_reset(&b->strings);
    b->last_where = SIZE_MAX;
    b->last_where_layout = 0;
    b->n_actions = 0;
}

#define BULK_LIT(w, lit) (ce_buf_add((w), (lit), sizeof(lit) - 1) == 0 ? VALUE_OK : VALUE_FULL)

/* Decimal digits of x > 0. */
static int bulk_put_i64(ce_buf *w, int64_t x)
{
    char d[24];
    size_t k = sizeof d;
    uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    do
        d[--k] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (x < 0)
        d[--k] = '-';
    return ce_buf_add(w, d + k, sizeof d - k) == 0 ? VALUE_OK : VALUE_FULL;
}

static int bulk_action_line(bulk *b, const map_action *a)
{
    ce_buf *w = &b->body;
    value_ctx *v = &b->values;
    int s = a->op == MAP_INDEX ? BULK_LIT(w, "{\"index\":{\"_index\":") : BULK_LIT(w, "{\"delete\":{\"_index\":");
    if (s == VALUE_OK)
        s = value_write_string(v, w, a->index, strlen(a->index));
    if (s == VALUE_OK)
        s = BULK_LIT(w, ",\"_id\":");
    if (s == VALUE_OK)
        s = value_write_string(v, w, a->id, a->id_len);
    if (s == VALUE_OK && a->routing != NULL) {
        s = BULK_LIT(w, ",\"routing\":");
        if (s == VALUE_OK)
            s = value_write_string(v, w, a->routing, a->routing_len);
    }
    if (s == VALUE_OK && a->op == MAP_INDEX && a->rule != NULL && a->rule->pipeline != NULL) {
        s = BULK_LIT(w, ",\"pipeline\":");
        if (s == VALUE_OK)
            s = value_write_string(v, w, a->rule->pipeline, strlen(a->rule->pipeline));
    }
    if (s == VALUE_OK && a->version > 0) {
        s = BULK_LIT(w, ",\"version\":");
        if (s == VALUE_OK)
            s = bulk_put_i64(w, a->version);
        if (s == VALUE_OK)
            s = BULK_LIT(w, ",\"version_type\":\"external\"");
    }
    if (s == VALUE_OK)
        s = BULK_LIT(w, "}}\n");
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

/* ---------------- document plans ---------------- */

static void bulk_rule_key_of(bulk_rule_key *k, const map_action *a)
{
    const cfg_table *r = a->rule;
    memset(k, 0, sizeof *k); /* the padding too: keys are compared with memcmp */
    k->rule = r;
    k->values = a->values;
    if (a->values != NULL) {
        k->convs = a->values->convs;
        k->n_convs = a->values->n_convs;
    }
    if (r != NULL) {
        k->include = r->include;
        k->n_include = r->n_include;
        k->exclude = r->exclude;
        k->n_exclude = r->n_exclude;
        k->rename = r->rename;
        k->n_rename = r->n_rename;
        k->add_field = r->add_field;
        k->n_add_field = r->n_add_field;
        k->delete_mode = (int)r->delete_mode;
        k->soft_field = r->delete_mode == CFG_DELETE_SOFT ? r->soft_field : NULL;
    }
}

/* The layout of the action's document (row_event.layout): 0 when unknown or
 * when the document is not one of its event's images; *after: which. */
static uint64_t bulk_layout_of(const map_action *a, bool *after)
{
    *after = false;
    if (a->ev == NULL || a->ev->layout == 0)
        return 0;
    if (a->doc == &a->ev->after) {
        *after = true;
        return a->ev->layout;
    }
    return a->doc == &a->ev->before ? a->ev->layout : 0;
}

static bool bulk_plan_fits(bulk_plan *p, const bulk_rule_key *k, const row_image *img, uint64_t layout, bool after)
{
    if (!p->used || p->n != img->n || memcmp(&p->rk, k, sizeof *k) != 0)
        return false;
    if (layout != 0 && p->layout == layout && p->after == after) {
        /* names and mysqlTypes as the first image of this layout's kind: only the sqlTypes */
        for (size_t i = 0; i < img->n; i++)
            if (img->cols[i].sql_type != p->cols[i].sql_type)
                return false;
        return true;
    }
    const char *text = (const char *)p->text.data;
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        const bulk_col_plan *cp = &p->cols[i];
        if (c->sql_type != cp->sql_type || strcmp(c->name, text + cp->name) != 0)
            return false;
        if (cp->type == SIZE_MAX ? c->mysql_type != NULL
                                 : c->mysql_type == NULL || strcmp(c->mysql_type, text + cp->type) != 0)
            return false;
    }
    p->layout = layout; /* the other images of this layout and kind share these names and types */
    p->after = after;
    return true;
}

/* ,"s": (or ,"s":"t" when t is not NULL) into the plan's text. */
static int bulk_plan_member(bulk_plan *p, const char *s, const char *t, size_t *repairs)
{
    ce_buf *w = &p->text;
    if (ce_buf_putc(w, ',') != 0 || ce_utf8_json_append(s, strlen(s), w, repairs) != 0 || ce_buf_putc(w, ':') != 0)
        return -1;
    if (t != NULL && ce_utf8_json_append(t, strlen(t), w, repairs) != 0)
        return -1;
    return 0;
}

static int bulk_plan_text(bulk_plan *p, const char *s, size_t *at)
{
    *at = p->text.len;
    return ce_buf_append(&p->text, s, strlen(s) + 1);
}

/* Builds p for the action's rule and image layout. -1: out of memory. */
static int bulk_plan_build(bulk_plan *p, const bulk_rule_key *k, const map_action *a)
{
    const row_image *img = a->doc;
    const cfg_table *r = a->rule;
    size_t repairs = 0;
    p->used = false;
    p->n = 0;
    ce_buf_reset(&p->text);
    if (img->n > p->cap) {
        bulk_col_plan *c = ce_realloc(p->cols, img->n * sizeof *c);
        if (c == NULL)
            return -1;
        p->cols = c;
        p->cap = img->n;
    }
    for (size_t i = 0; i < img->n; i++) {
        const row_col *c = &img->cols[i];
        bulk_col_plan *cp = &p->cols[i];
        *cp = (bulk_col_plan){.sql_type = c->sql_type, .type = SIZE_MAX};
        if (bulk_plan_text(p, c->name, &cp->name) != 0 ||
            (c->mysql_type != NULL && bulk_plan_text(p, c->mysql_type, &cp->type) != 0))
            return -1;
        const char *field = bulk_field_name(r, c->name);
        const value_conv *conv = value_find_conv(a->values, c->name);
        cp->omit = field == NULL || (conv != NULL && conv->kind == VALUE_CONV_DROP);
        value_prepare(&cp->prep, c, conv);
        if (cp->omit)
            continue;
        cp->key = p->text.len;
        if (bulk_plan_member(p, field, NULL, &repairs) != 0)
            return -1;
        cp->key_len = p->text.len - cp->key;
    }
    p->tail = p->text.len;
    for (size_t i = 0; r != NULL && i < r->n_add_field; i++)
        if (bulk_plan_member(p, r->add_field[i].a, r->add_field[i].b, &repairs) != 0)
            return -1;
    p->soft = r != NULL && r->delete_mode == CFG_DELETE_SOFT;
    if (p->soft && bulk_plan_member(p, r->soft_field, NULL, &repairs) != 0)
        return -1;
    p->tail_len = p->text.len - p->tail;
    p->repairs = repairs;
    p->rk = *k;
    p->n = img->n;
    p->used = true;
    return 0;
}

/* The plan for the action's document: a kept one, or a new one in place of
 * the oldest. NULL when out of memory. */
static const bulk_plan *bulk_plan_for(bulk *b, const map_action *a)
{
    bulk_rule_key k;
    bool after;
    uint64_t layout = bulk_layout_of(a, &after);
    bulk_rule_key_of(&k, a);
    for (size_t i = 0; i < BULK_PLANS; i++)
        if (bulk_plan_fits(&b->plans[i], &k, a->doc, layout, after))
            return &b->plans[i];
    bulk_plan *p = &b->plans[b->plan_next];
    b->plan_next = (b->plan_next + 1) % BULK_PLANS;
    if (bulk_plan_build(p, &k, a) != 0)
        return NULL;
    p->layout = layout;
    p->after = after;
    return p;
}

/* The document: every column by its value_opts and the rule's
 * include/exclude/rename; `drop` columns are left out; then the rule's
 * add_field values and, with delete = soft:FIELD, FIELD true or false. */
static int bulk_document(bulk *b, const map_action *a)
{
    const bulk_plan *p = bulk_plan_for(b, a);
    if (p == NULL)
        return VALUE_FAIL;
    const row_image *img = a->doc;
    const uint8_t *text = p->text.data;
    ce_buf *w = &b->body;
    size_t skip = 1; /* the ',' before the first member */
    int s = BULK_LIT(w, "{");
    for (size_t i = 0; i < img->n && s == VALUE_OK; i++) {
        const bulk_col_plan *cp = &p->cols[i];
        if (cp->omit)
            continue;
        s = ce_buf_add(w, text + cp->key + skip, cp->key_len - skip) == 0 ? VALUE_OK : VALUE_FULL;
        skip = 0;
        if (s == VALUE_OK)
            s = value_write_prepared(&b->values, w, &img->cols[i], a->values, &cp->prep);
    }
    if (s == VALUE_OK && p->tail_len > 0) {
        s = ce_buf_add(w, text + p->tail + skip, p->tail_len - skip) == 0 ? VALUE_OK : VALUE_FULL;
        if (s == VALUE_OK && p->soft)
            s = a->soft ? BULK_LIT(w, "true") : BULK_LIT(w, "false");
    }
    if (s == VALUE_OK)
        s = BULK_LIT(w, "}\n");
    if (s == VALUE_OK)
        b->values.utf8_repairs += p->repairs;
    return s;
}
/* Records "db.table\0logfile\0" for the action, reusing the previous pair. */
static int bulk_where(bulk *b, const row_event *ev, size_t *where)
{
    static const row_event none = {.schema = "", .table = "", .logfile = ""};
    if (ev == NULL)
        ev = &none;
    if (b->last_where != SIZE_MAX) {
        if (ev->layout != 0 && ev->layout == b->last_where_layout) {
            *where = b->last_where; /* a row of the same entry: its schema, table and logfile */
            return 0;
        }
        const char *prev = (const char *)b->strings.data + b->last_where;
        size_t sl = strlen(ev->schema), tl = strlen(ev->table);
        if (strncmp(prev, ev->schema, sl) == 0 && prev[sl] == '.' && strcmp(prev + sl + 1, ev->table) == 0 &&
            strcmp(prev + sl + 1 + tl + 1, ev->logfile) == 0) {
            *where = b->last_where;
            b->last_where_layout = ev->layout;
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
    b->last_where_layout = ev->layout;
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
    int s = bulk_action_line(b, a);
    size_t doc = b->body.len;
    if (s == VALUE_OK && a->op == MAP_INDEX)
        s = bulk_document(b, a);
    if (s != VALUE_OK) {
        snprintf(err, errlen, "%s.%s id %.*s: %s", a->ev ? a->ev->schema : "", a->ev ? a->ev->table : "",
                 (int)(a->id_len > 64 ? 64 : a->id_len), a->id,
                 s == VALUE_FULL ? "bulk body would exceed its size cap" : "JSON generation failed");
        b->body.len = mark;
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
