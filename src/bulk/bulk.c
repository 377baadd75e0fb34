/* bulk: NDJSON body builder. */
#include "bulk/bulk.h"

#include <stdio.h>
#include <string.h>

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
    value_ctx_free(&b->values);
    memset(b, 0, sizeof *b);
}

void bulk_reset(bulk *b)
{
    ce_buf_reset(&b->body);
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
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = bulk_line_end(b);
    return s;
}

/* The document: every column by its value_opts; `drop` columns are left out. */
static yajl_gen_status bulk_document(bulk *b, const row_image *img, const value_opts *o)
{
    yajl_gen g = b->g;
    yajl_gen_status s = yajl_gen_map_open(g);
    for (size_t i = 0; i < img->n && s == yajl_gen_status_ok; i++) {
        const row_col *c = &img->cols[i];
        const value_conv *conv = value_find_conv(o, c->name);
        if (conv != NULL && conv->kind == VALUE_CONV_DROP)
            continue;
        s = value_emit_string(&b->values, g, c->name, strlen(c->name));
        if (s == yajl_gen_status_ok)
            s = value_emit(&b->values, g, c, o, conv);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok)
        s = bulk_line_end(b);
    return s;
}

int bulk_append(bulk *b, const map_action *a, char *err, size_t errlen)
{
    size_t mark = b->body.len;
    yajl_gen_status s = bulk_action_line(b, a);
    if (s == yajl_gen_status_ok && a->op == MAP_INDEX)
        s = bulk_document(b, a->doc, a->values);
    if (s != yajl_gen_status_ok || b->overflow) {
        snprintf(err, errlen, "%s.%s id %.*s: %s", a->ev ? a->ev->schema : "", a->ev ? a->ev->table : "",
                 (int)(a->id_len > 64 ? 64 : a->id_len), a->id,
                 b->overflow ? "bulk body would exceed its size cap" : "JSON generation failed");
        yajl_gen_reset(b->g, NULL);
        b->body.len = mark;
        b->overflow = false;
        return -1;
    }
    b->n_actions++;
    return 0;
}
