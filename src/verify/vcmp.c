/* vcmp: canonical JSON comparison and the verify report (see vcmp.h). */
#include "verify/vcmp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "util/mem.h"

/* ---- numbers ---------------------------------------------------------------- */

/* A JSON number as sign, significant digits (no leading or trailing zeros)
 * and the decimal exponent of the last digit. */
typedef struct vc_num {
    bool neg;
    char dig[800];
    size_t nd;
    long long exp;
} vc_num;

static int vc_num_parse(const char *s, vc_num *n)
{
    memset(n, 0, sizeof *n);
    const char *p = s;
    if (*p == '-') {
        n->neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return -1;
    long long frac = 0;
    bool seen_dot = false;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n->nd == 0 && *p == '0') {
                if (seen_dot)
                    frac++;
                continue; /* leading zero */
            }
            if (n->nd >= sizeof n->dig)
                return -1;
            n->dig[n->nd++] = *p;
            if (seen_dot)
                frac++;
        } else if (*p == '.' && !seen_dot) {
            seen_dot = true;
        } else {
            break;
        }
    }
    long long e = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (e > 100000000LL)
                return -1; /* absurd exponent: compare texts */
            e = e * 10 + (*p - '0');
        }
        if (eneg)
            e = -e;
    }
    if (*p != '\0')
        return -1;
    n->exp = e - frac;
    while (n->nd > 0 && n->dig[n->nd - 1] == '0') {
        n->nd--;
        n->exp++;
    }
    if (n->nd == 0) { /* zero: -0 = 0 */
        n->neg = false;
        n->exp = 0;
    }
    return 0;
}

int vc_number_equal(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    vc_num x, y;
    if (vc_num_parse(a, &x) != 0 || vc_num_parse(b, &y) != 0)
        return 0;
    return x.neg == y.neg && x.nd == y.nd && x.exp == y.exp && memcmp(x.dig, y.dig, x.nd) == 0;
}

/* ---- rendering -------------------------------------------------------------- */

static void vc_gen_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

static yajl_gen_status vc_gen(yajl_gen g, yajl_val v)
{
    if (v == NULL)
        return yajl_gen_null(g);
    switch (v->type) {
    case yajl_t_string:
        return yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    case yajl_t_number:
        return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    case yajl_t_true:
        return yajl_gen_bool(g, 1);
    case yajl_t_false:
        return yajl_gen_bool(g, 0);
    case yajl_t_null:
        return yajl_gen_null(g);
    case yajl_t_object: {
        yajl_gen_status s = yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len && s == yajl_gen_status_ok; i++) {
            const char *k = v->u.object.keys[i];
            s = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            if (s == yajl_gen_status_ok)
                s = vc_gen(g, v->u.object.values[i]);
        }
        return s == yajl_gen_status_ok ? yajl_gen_map_close(g) : s;
    }
    case yajl_t_array: {
        yajl_gen_status s = yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len && s == yajl_gen_status_ok; i++)
            s = vc_gen(g, v->u.array.values[i]);
        return s == yajl_gen_status_ok ? yajl_gen_array_close(g) : s;
    }
    default:
        return yajl_gen_null(g);
    }
}

void vc_render(yajl_val v, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    ce_buf b;
    ce_buf_init(&b, 1u << 20);
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        goto out;
    yajl_gen_config(g, yajl_gen_print_callback, vc_gen_print, &b);
    if (vc_gen(g, v) != yajl_gen_status_ok && b.len == 0)
        goto out;
    if (b.len < outlen) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    } else if (outlen > 4) {
        size_t keep = outlen - 4;
        /* do not cut a UTF-8 sequence */
        while (keep > 0 && (b.data[keep] & 0xC0) == 0x80)
            keep--;
        memcpy(out, b.data, keep);
        memcpy(out + keep, "...", 4);
    }
out:
    if (g != NULL)
        yajl_gen_free(g);
    ce_buf_free(&b);
}

/* ---- comparison ------------------------------------------------------------- */

static void vc_path_key(char *path, size_t len, const char *key)
{
    size_t l = strlen(path);
    if (l < len)
        snprintf(path + l, len - l, "%s%s", l > 0 ? "." : "", key);
}

static void vc_path_index(char *path, size_t len, size_t i)
{
    size_t l = strlen(path);
    if (l < len)
        snprintf(path + l, len - l, "[%zu]", i);
}

static int vc_differ(vc_diff *d, const char *path, yajl_val e, bool e_absent, yajl_val x, bool x_absent)
{
    if (d == NULL)
        return 1;
    snprintf(d->field, sizeof d->field, "%s", path);
    if (e_absent)
        snprintf(d->expected, sizeof d->expected, "(absent)");
    else
        vc_render(e, d->expected, sizeof d->expected);
    if (x_absent)
        snprintf(d->indexed, sizeof d->indexed, "(absent)");
    else
        vc_render(x, d->indexed, sizeof d->indexed);
    return 1;
}

static yajl_val vc_member(yajl_val obj, const char *key, bool *found)
{
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            *found = true;
            return obj->u.object.values[i];
        }
    *found = false;
    return NULL;
}

static int vc_cmp(yajl_val e, yajl_val x, char *path, size_t plen, vc_diff *d, int depth)
{
    yajl_type te = e ? e->type : yajl_t_null, tx = x ? x->type : yajl_t_null;
    bool eb = te == yajl_t_true || te == yajl_t_false, xb = tx == yajl_t_true || tx == yajl_t_false;
    if (te != tx && !(eb && xb))
        return vc_differ(d, path, e, false, x, false);
    if (depth > 256)
        return vc_differ(d, path, e, false, x, false);
    switch (te) {
    case yajl_t_string:
        return strcmp(e->u.string, x->u.string) == 0 ? 0 : vc_differ(d, path, e, false, x, false);
    case yajl_t_number:
        return vc_number_equal(e->u.number.r, x->u.number.r) ? 0 : vc_differ(d, path, e, false, x, false);
    case yajl_t_true:
    case yajl_t_false:
        return te == tx ? 0 : vc_differ(d, path, e, false, x, false);
    case yajl_t_null:
        return 0;
    case yajl_t_array: {
        size_t n = e->u.array.len < x->u.array.len ? e->u.array.len : x->u.array.len;
        size_t l = strlen(path);
        for (size_t i = 0; i < n; i++) {
            vc_path_index(path, plen, i);
            if (vc_cmp(e->u.array.values[i], x->u.array.values[i], path, plen, d, depth + 1))
                return 1;
            path[l] = '\0';
        }
        if (e->u.array.len != x->u.array.len) {
            vc_path_index(path, plen, n);
            return vc_differ(d, path, n < e->u.array.len ? e->u.array.values[n] : NULL, n >= e->u.array.len,
                             n < x->u.array.len ? x->u.array.values[n] : NULL, n >= x->u.array.len);
        }
        return 0;
    }
    case yajl_t_object: {
        size_t l = strlen(path);
        for (size_t i = 0; i < e->u.object.len; i++) {
            bool found;
            yajl_val xv = vc_member(x, e->u.object.keys[i], &found);
            vc_path_key(path, plen, e->u.object.keys[i]);
            if (!found)
                return vc_differ(d, path, e->u.object.values[i], false, NULL, true);
            if (vc_cmp(e->u.object.values[i], xv, path, plen, d, depth + 1))
                return 1;
            path[l] = '\0';
        }
        for (size_t i = 0; i < x->u.object.len; i++) {
            bool found;
            (void)vc_member(e, x->u.object.keys[i], &found);
            if (!found) {
                vc_path_key(path, plen, x->u.object.keys[i]);
                return vc_differ(d, path, NULL, true, x->u.object.values[i], false);
            }
        }
        return 0;
    }
    default:
        return vc_differ(d, path, e, false, x, false);
    }
}

int vc_value_compare(yajl_val expected, yajl_val indexed, vc_diff *d)
{
    char path[VC_FIELD_MAX] = "";
    return vc_cmp(expected, indexed, path, sizeof path, d, 0);
}

int vc_json_compare(const char *expected, size_t elen, const char *indexed, size_t ilen, vc_diff *d, char *err,
                    size_t errlen)
{
    int ret = -1;
    char perr[128];
    char *ec = ce_strndup(expected, elen), *ic = ce_strndup(indexed, ilen);
    yajl_val ev = NULL, iv = NULL;
    if (ec == NULL || ic == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((ev = yajl_tree_parse(ec, perr, sizeof perr)) == NULL) {
        snprintf(err, errlen, "the expected document is not JSON: %.100s", perr);
        goto out;
    }
    if ((iv = yajl_tree_parse(ic, perr, sizeof perr)) == NULL) {
        snprintf(err, errlen, "the indexed document is not JSON: %.100s", perr);
        goto out;
    }
    ret = vc_value_compare(ev, iv, d);
out:
    yajl_tree_free(ev);
    yajl_tree_free(iv);
    ce_free(ec);
    ce_free(ic);
    return ret;
}

/* ---- the report ------------------------------------------------------------- */

static void *vc_grow(void *arr, size_t n, size_t size)
{
    /* room for one more: 4, then doubling whenever n reaches a power of two */
    if (n == 0)
        return ce_malloc(4 * size);
    if (n < 4 || (n & (n - 1)) != 0)
        return arr;
    return ce_realloc(arr, n * 2 * size);
}

vc_table_rep *vc_add_table(vc_report *r, const char *name, const char *index)
{
    if (r->nt >= 4 && (r->nt & (r->nt - 1)) == 0) {
        vc_table_rep *nt = ce_realloc(r->t, r->nt * 2 * sizeof *nt);
        if (nt == NULL)
            return NULL;
        r->t = nt;
    } else if (r->nt == 0) {
        if ((r->t = ce_malloc(4 * sizeof *r->t)) == NULL)
            return NULL;
    }
    vc_table_rep *t = &r->t[r->nt];
    memset(t, 0, sizeof *t);
    t->name = ce_strdup(name);
    t->index = ce_strdup(index);
    if (t->name == NULL || t->index == NULL) {
        ce_free(t->name);
        ce_free(t->index);
        return NULL;
    }
    r->nt++;
    return t;
}

vc_index_rep *vc_add_index(vc_report *r, const char *index)
{
    if (r->nx >= 4 && (r->nx & (r->nx - 1)) == 0) {
        vc_index_rep *nx = ce_realloc(r->x, r->nx * 2 * sizeof *nx);
        if (nx == NULL)
            return NULL;
        r->x = nx;
    } else if (r->nx == 0) {
        if ((r->x = ce_malloc(4 * sizeof *r->x)) == NULL)
            return NULL;
    }
    vc_index_rep *x = &r->x[r->nx];
    memset(x, 0, sizeof *x);
    if ((x->index = ce_strdup(index)) == NULL)
        return NULL;
    r->nx++;
    return x;
}

vc_index_rep *vc_find_index(vc_report *r, const char *index)
{
    for (size_t i = 0; i < r->nx; i++)
        if (strcmp(r->x[i].index, index) == 0)
            return &r->x[i];
    return NULL;
}

int vc_list_add(vc_list *l, size_t max, const char *id, size_t id_len, const vc_diff *d)
{
    l->total++;
    if (l->n >= max)
        return 0;
    vc_item *nv = vc_grow(l->v, l->n, sizeof *nv);
    if (nv == NULL)
        return -1;
    l->v = nv;
    vc_item *it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    it->id = ce_strndup(id, id_len);
    if (it->id == NULL)
        return -1;
    if (d != NULL) {
        it->field = ce_strdup(d->field);
        it->expected = ce_strdup(d->expected);
        it->indexed = ce_strdup(d->indexed);
        if (it->field == NULL || it->expected == NULL || it->indexed == NULL) {
            ce_free(it->id);
            ce_free(it->field);
            ce_free(it->expected);
            ce_free(it->indexed);
            return -1;
        }
    }
    l->n++;
    return 0;
}

static void vc_list_free(vc_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ce_free(l->v[i].id);
        ce_free(l->v[i].field);
        ce_free(l->v[i].expected);
        ce_free(l->v[i].indexed);
    }
    ce_free(l->v);
    memset(l, 0, sizeof *l);
}

void vc_report_free(vc_report *r)
{
    for (size_t i = 0; i < r->nt; i++) {
        ce_free(r->t[i].name);
        ce_free(r->t[i].index);
        vc_list_free(&r->t[i].missing);
        vc_list_free(&r->t[i].different);
    }
    for (size_t i = 0; i < r->nx; i++) {
        ce_free(r->x[i].index);
        ce_free(r->x[i].note);
        vc_list_free(&r->x[i].extra);
    }
    ce_free(r->t);
    ce_free(r->x);
    r->t = NULL;
    r->x = NULL;
    r->nt = r->nx = 0;
}

void vc_report_totals(const vc_report *r, vc_totals *t)
{
    memset(t, 0, sizeof *t);
    t->tables = r->nt;
    for (size_t i = 0; i < r->nt; i++) {
        t->rows += r->t[i].rows;
        t->documents += r->t[i].documents;
        t->missing += r->t[i].missing.total;
        t->different += r->t[i].different.total;
        t->changing += r->t[i].changing;
        t->fixed += r->t[i].fixed;
    }
    for (size_t i = 0; i < r->nx; i++) {
        t->extra += r->x[i].extra.total;
        t->documents += r->x[i].extra.total;
        t->changing += r->x[i].changing;
        t->fixed += r->x[i].fixed;
    }
}

int vc_report_differs(const vc_report *r)
{
    vc_totals t;
    vc_report_totals(r, &t);
    return t.missing + t.extra + t.different > t.fixed ? 1 : 0;
}

/* ---- text ------------------------------------------------------------------- */

static int vc_printf(ce_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int vc_printf(ce_buf *b, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return ce_buf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static int vc_text_list(ce_buf *b, const char *what, const vc_list *l)
{
    if (l->total == 0)
        return 0;
    int rc = vc_printf(b, "  %s:", what);
    for (size_t i = 0; i < l->n; i++) {
        const vc_item *it = &l->v[i];
        if (it->field != NULL)
            rc |= vc_printf(b, "\n    %s: %s: expected %s, indexed %s", it->id, it->field[0] ? it->field : "(document)",
                            it->expected, it->indexed);
        else
            rc |= vc_printf(b, "%s %s", i ? "," : "", it->id);
    }
    if (l->total > l->n)
        rc |= vc_printf(b, "%s(and %llu more)", l->n > 0 && l->v[0].field != NULL ? "\n    " : " ",
                        (unsigned long long)(l->total - l->n));
    rc |= ce_buf_putc(b, '\n');
    return rc ? -1 : 0;
}

int vc_format_text(const vc_report *r, ce_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < r->nt; i++) {
        const vc_table_rep *t = &r->t[i];
        rc |= vc_printf(out, "%s -> %s: %llu rows, %llu documents, %llu missing, %llu different", t->name, t->index,
                        (unsigned long long)t->rows, (unsigned long long)t->documents,
                        (unsigned long long)t->missing.total, (unsigned long long)t->different.total);
        if (t->changing > 0)
            rc |= vc_printf(out, ", %llu still changing (not counted)", (unsigned long long)t->changing);
        if (r->repair)
            rc |= vc_printf(out, ", %llu fixed", (unsigned long long)t->fixed);
        rc |= ce_buf_putc(out, '\n');
        rc |= vc_text_list(out, "missing", &t->missing);
        rc |= vc_text_list(out, "different", &t->different);
    }
    for (size_t i = 0; i < r->nx; i++) {
        const vc_index_rep *x = &r->x[i];
        if (!x->extra_checked) {
            rc |= vc_printf(out, "index %s: extra documents not checked: %s\n", x->index, x->note ? x->note : "");
            continue;
        }
        rc |= vc_printf(out, "index %s: %llu documents, %llu extra", x->index, (unsigned long long)x->documents,
                        (unsigned long long)x->extra.total);
        if (x->changing > 0)
            rc |= vc_printf(out, ", %llu still changing (not counted)", (unsigned long long)x->changing);
        if (r->repair)
            rc |= vc_printf(out, ", %llu fixed", (unsigned long long)x->fixed);
        rc |= ce_buf_putc(out, '\n');
        rc |= vc_text_list(out, "extra", &x->extra);
    }
    vc_totals t;
    vc_report_totals(r, &t);
    rc |= vc_printf(out, "verify: %llu tables, %llu rows, %llu documents, %llu missing, %llu extra, %llu different",
                    (unsigned long long)t.tables, (unsigned long long)t.rows, (unsigned long long)t.documents,
                    (unsigned long long)t.missing, (unsigned long long)t.extra, (unsigned long long)t.different);
    if (r->repair)
        rc |= vc_printf(out, ", %llu fixed", (unsigned long long)t.fixed);
    rc |= ce_buf_putc(out, '\n');
    return rc ? -1 : 0;
}

/* ---- JSON ------------------------------------------------------------------- */

#define VC_STR(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

static yajl_gen_status vc_kv_u64(yajl_gen g, const char *k, uint64_t v)
{
    yajl_gen_status s = VC_STR(g, k);
    return s == yajl_gen_status_ok ? yajl_gen_integer(g, (long long)v) : s;
}

static yajl_gen_status vc_gen_list(yajl_gen g, const char *k, const vc_list *l)
{
    yajl_gen_status s = VC_STR(g, k);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_array_open(g);
    for (size_t i = 0; i < l->n && s == yajl_gen_status_ok; i++) {
        const vc_item *it = &l->v[i];
        if (it->field == NULL) {
            s = VC_STR(g, it->id);
            continue;
        }
        s = yajl_gen_map_open(g);
        const char *kv[][2] = {{"id", it->id}, {"field", it->field}, {"expected", it->expected},
                               {"indexed", it->indexed}};
        for (size_t j = 0; j < 4 && s == yajl_gen_status_ok; j++) {
            s = VC_STR(g, kv[j][0]);
            if (s == yajl_gen_status_ok)
                s = VC_STR(g, kv[j][1]);
        }
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
    }
    return s == yajl_gen_status_ok ? yajl_gen_array_close(g) : s;
}

int vc_format_json(const vc_report *r, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -1;
    yajl_gen_config(g, yajl_gen_print_callback, vc_gen_print, out);
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = VC_STR(g, "tables");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_array_open(g);
    for (size_t i = 0; i < r->nt && s == yajl_gen_status_ok; i++) {
        const vc_table_rep *t = &r->t[i];
        s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok && (s = VC_STR(g, "table")) == yajl_gen_status_ok)
            s = VC_STR(g, t->name);
        if (s == yajl_gen_status_ok && (s = VC_STR(g, "index")) == yajl_gen_status_ok)
            s = VC_STR(g, t->index);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "rows", t->rows);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "documents", t->documents);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "missing", t->missing.total);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "different", t->different.total);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "changing", t->changing);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "fixed", t->fixed);
        if (s == yajl_gen_status_ok)
            s = vc_gen_list(g, "missing_ids", &t->missing);
        if (s == yajl_gen_status_ok)
            s = vc_gen_list(g, "different_ids", &t->different);
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_array_close(g);
    if (s == yajl_gen_status_ok)
        s = VC_STR(g, "indexes");
    if (s == yajl_gen_status_ok)
        s = yajl_gen_array_open(g);
    for (size_t i = 0; i < r->nx && s == yajl_gen_status_ok; i++) {
        const vc_index_rep *x = &r->x[i];
        s = yajl_gen_map_open(g);
        if (s == yajl_gen_status_ok && (s = VC_STR(g, "index")) == yajl_gen_status_ok)
            s = VC_STR(g, x->index);
        if (s == yajl_gen_status_ok && (s = VC_STR(g, "extra_checked")) == yajl_gen_status_ok)
            s = yajl_gen_bool(g, x->extra_checked);
        if (s == yajl_gen_status_ok && x->note != NULL && (s = VC_STR(g, "note")) == yajl_gen_status_ok)
            s = VC_STR(g, x->note);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "documents", x->documents);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "extra", x->extra.total);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "changing", x->changing);
        if (s == yajl_gen_status_ok)
            s = vc_kv_u64(g, "fixed", x->fixed);
        if (s == yajl_gen_status_ok)
            s = vc_gen_list(g, "extra_ids", &x->extra);
        if (s == yajl_gen_status_ok)
            s = yajl_gen_map_close(g);
    }
    if (s == yajl_gen_status_ok)
        s = yajl_gen_array_close(g);
    vc_totals t;
    vc_report_totals(r, &t);
    const char *names[] = {"tables", "rows", "documents", "missing", "extra", "different", "changing", "fixed"};
    uint64_t vals[] = {t.tables, t.rows, t.documents, t.missing, t.extra, t.different, t.changing, t.fixed};
    if (s == yajl_gen_status_ok && (s = VC_STR(g, "summary")) == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    for (size_t i = 0; i < 8 && s == yajl_gen_status_ok; i++)
        s = vc_kv_u64(g, names[i], vals[i]);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok && (s = VC_STR(g, "identical")) == yajl_gen_status_ok)
        s = yajl_gen_bool(g, !vc_report_differs(r));
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    yajl_gen_free(g);
    if (s != yajl_gen_status_ok)
        return -1;
    return ce_buf_putc(out, '\n');
}
