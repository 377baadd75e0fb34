/* sink/dlline: see dlline.h.
 *
 * Reading: each line is parsed with yajl's event parser and its "action"
 * and "document" values are re-generated token by token with yajl_gen, so
 * strings (a \u0000 escape too) and numbers (20-digit integers) stay exact;
 * the action is then checked with yajl_tree. Rewriting forwards every member
 * but the result ones the same way, after the new result. */
#include "sink/dlline.h"
#include "util/mem.h"
#include "util/parse.h"
#include "util/utf8.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#define DLLINE_MAX_ACTION ((size_t)1 << 20) /* an action line: _index, _id, version... */
#define DLLINE_TIME "time"
#define DLLINE_STATUS "status"
#define DLLINE_ERROR "error"
#define DLLINE_ACTION "action"
#define DLLINE_DOCUMENT "document"
#define DLLINE_KIND "kind"

static void *dlline_yajl_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return ce_malloc(n);
}
static void *dlline_yajl_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return ce_realloc(p, n);
}
static void dlline_yajl_free(void *ctx, void *p)
{
    (void)ctx;
    ce_free(p);
}
static yajl_alloc_funcs dlline_af = {dlline_yajl_malloc, dlline_yajl_realloc, dlline_yajl_free, NULL};

/* A generator's output: a bounded buffer; `full` once an append failed. */
typedef struct dlline_out {
    ce_buf *buf;
    int full;
} dlline_out;

static void dlline_print(void *ctx, const char *s, size_t n)
{
    dlline_out *o = ctx;
    if (!o->full && ce_buf_append(o->buf, s, n) != 0)
        o->full = 1;
}

static yajl_gen dlline_gen_new(dlline_out *o)
{
    yajl_gen g = yajl_gen_alloc(&dlline_af);
    if (g != NULL)
        yajl_gen_config(g, yajl_gen_print_callback, dlline_print, o);
    return g;
}

enum { DLLINE_FWD_SEND = 0, DLLINE_FWD_REWRITE };
/* The first token of a member value. */
enum { DLLINE_KIND_NONE = 0, DLLINE_KIND_NULL, DLLINE_KIND_SCALAR, DLLINE_KIND_MAP, DLLINE_KIND_ARRAY };

/* Forwards the tokens of chosen members of the line's object to generators.
 * SEND: "action" → action, "document" → document, the rest is skipped.
 * REWRITE: new time/status/error first, then every member but those three. */
typedef struct dlline_fwd {
    int mode;
    size_t depth;    /* 0 before the line's object, 1 inside it */
    yajl_gen cur;    /* receives the tokens of the member value being read; NULL skips them */
    yajl_gen next;   /* target of the value after the member name just read */
    int next_is_doc;
    yajl_gen action, document, line;
    int seen_action, seen_document;
    int doc_kind;
    int kind_next;    /* the value being read is the line's "kind" */
    char kind[16];    /* "kind" of a line that holds no action (deadletter.h) */
    const char *fail; /* why a callback stopped the parse */
    const char *when, *type, *reason;
    int status;
} dlline_fwd;

static int dlline_emit(dlline_fwd *f, yajl_gen_status s)
{
    if (s == yajl_gen_status_ok)
        return 1;
    f->fail = s == yajl_max_depth_exceeded ? "nested deeper than 128 levels" : "the JSON cannot be re-generated";
    return 0;
}

/* Before a value token: the line must be an object; a member value starts. */
static int dlline_value(dlline_fwd *f, int kind)
{
    if (f->depth == 0) {
        if (kind != DLLINE_KIND_MAP) {
            f->fail = "the line is not a JSON object";
            return 0;
        }
        return 1;
    }
    if (f->depth == 1) {
        f->cur = f->next;
        if (f->next_is_doc)
            f->doc_kind = kind;
    }
    return 1;
}

/* After a scalar or a closing token: at depth 1 the member value is complete. */
static void dlline_value_done(dlline_fwd *f)
{
    if (f->depth == 1) {
        f->kind_next = 0;
        f->cur = NULL;
        f->next = NULL;
        f->next_is_doc = 0;
    }
}

/* yajl checks UTF-8 loosely (overlong forms, escaped lone surrogates pass):
 * what is sent must be strictly valid. */
static int dlline_utf8(dlline_fwd *f, const unsigned char *s, size_t n)
{
    if (ce_utf8_valid_prefix((const char *)s, n) == n)
        return 1;
    f->fail = "invalid UTF-8 in a string";
    return 0;
}

static int dlline_is(const unsigned char *k, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

#define DLLINE_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), sizeof(k) - 1)
#define DLLINE_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

yajl_gen_status dlline_result(yajl_gen g, const char *when, int status, const char *type, const char *reason)
{
    char st[16];
    int stn = snprintf(st, sizeof st, "%d", status);
    yajl_gen_status s = DLLINE_KEY(g, DLLINE_TIME);
    if (s == yajl_gen_status_ok) s = DLLINE_STR(g, when);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, DLLINE_STATUS);
    if (s == yajl_gen_status_ok) s = yajl_gen_number(g, st, (size_t)stn);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, DLLINE_ERROR);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "type");
    if (s == yajl_gen_status_ok) s = DLLINE_STR(g, type);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "reason");
    if (s == yajl_gen_status_ok) s = DLLINE_STR(g, reason);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    return s;
}

yajl_gen_status dlline_origin(yajl_gen g, const char *table, const char *logfile, long long offset,
                              long long source_time_ms)
{
    yajl_gen_status s = DLLINE_KEY(g, "table");
    if (s == yajl_gen_status_ok) s = DLLINE_STR(g, table);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "binlog");
    if (s == yajl_gen_status_ok) s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "file");
    if (s == yajl_gen_status_ok) s = DLLINE_STR(g, logfile);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "offset");
    if (s == yajl_gen_status_ok) s = yajl_gen_integer(g, offset);
    if (s == yajl_gen_status_ok) s = yajl_gen_map_close(g);
    if (s == yajl_gen_status_ok) s = DLLINE_KEY(g, "source_time_ms");
    if (s == yajl_gen_status_ok) s = yajl_gen_integer(g, source_time_ms);
    return s;
}

/* REWRITE: the object's opening and the new result members. */
static int dlline_rewrite_head(dlline_fwd *f)
{
    yajl_gen_status s = yajl_gen_map_open(f->line);
    if (s == yajl_gen_status_ok)
        s = dlline_result(f->line, f->when, f->status, f->type, f->reason);
    return dlline_emit(f, s);
}

/* A member name of the line's object: chooses where its value goes. */
static int dlline_member(dlline_fwd *f, const unsigned char *k, size_t n)
{
    f->next = NULL;
    f->next_is_doc = 0;
    if (f->mode == DLLINE_FWD_SEND) {
        if (dlline_is(k, n, DLLINE_ACTION)) {
            if (f->seen_action++) {
                f->fail = "\"action\" appears twice";
                return 0;
            }
            f->next = f->action;
        } else if (dlline_is(k, n, DLLINE_DOCUMENT)) {
            if (f->seen_document++) {
                f->fail = "\"document\" appears twice";
                return 0;
            }
            f->next = f->document;
            f->next_is_doc = 1;
        } else if (dlline_is(k, n, DLLINE_KIND)) {
            f->kind_next = 1;
        }
        return 1;
    }
    if (dlline_is(k, n, DLLINE_TIME) || dlline_is(k, n, DLLINE_STATUS) || dlline_is(k, n, DLLINE_ERROR))
        return 1; /* replaced by the new result */
    f->next = f->line;
    return dlline_utf8(f, k, n) && dlline_emit(f, yajl_gen_string(f->line, k, n));
}

static int dlline_cb_null(void *ctx)
{
    dlline_fwd *f = ctx;
    if (!dlline_value(f, DLLINE_KIND_NULL) || (f->cur && !dlline_emit(f, yajl_gen_null(f->cur))))
        return 0;
    dlline_value_done(f);
    return 1;
}

static int dlline_cb_bool(void *ctx, int b)
{
    dlline_fwd *f = ctx;
    if (!dlline_value(f, DLLINE_KIND_SCALAR) || (f->cur && !dlline_emit(f, yajl_gen_bool(f->cur, b))))
        return 0;
    dlline_value_done(f);
    return 1;
}

/* The number's text as written: yajl_gen_number copies it verbatim. */
static int dlline_cb_number(void *ctx, const char *s, size_t n)
{
    dlline_fwd *f = ctx;
    if (!dlline_value(f, DLLINE_KIND_SCALAR) || (f->cur && !dlline_emit(f, yajl_gen_number(f->cur, s, n))))
        return 0;
    dlline_value_done(f);
    return 1;
}

static int dlline_cb_string(void *ctx, const unsigned char *s, size_t n)
{
    dlline_fwd *f = ctx;
    if (f->depth == 1 && f->kind_next) {
        snprintf(f->kind, sizeof f->kind, "%.*s", (int)(n < sizeof f->kind ? n : sizeof f->kind - 1), (const char *)s);
        if (f->kind[0] == '\0')
            snprintf(f->kind, sizeof f->kind, "?");
    }
    if (!dlline_value(f, DLLINE_KIND_SCALAR) ||
        (f->cur && (!dlline_utf8(f, s, n) || !dlline_emit(f, yajl_gen_string(f->cur, s, n)))))
        return 0;
    dlline_value_done(f);
    return 1;
}

static int dlline_cb_start_map(void *ctx)
{
    dlline_fwd *f = ctx;
    if (!dlline_value(f, DLLINE_KIND_MAP))
        return 0;
    if (f->depth == 0) {
        f->depth = 1;
        return f->mode == DLLINE_FWD_REWRITE ? dlline_rewrite_head(f) : 1;
    }
    if (f->cur && !dlline_emit(f, yajl_gen_map_open(f->cur)))
        return 0;
    f->depth++;
    return 1;
}

static int dlline_cb_key(void *ctx, const unsigned char *k, size_t n)
{
    dlline_fwd *f = ctx;
    if (f->depth == 1)
        return dlline_member(f, k, n);
    return f->cur == NULL || (dlline_utf8(f, k, n) && dlline_emit(f, yajl_gen_string(f->cur, k, n)));
}

static int dlline_cb_end_map(void *ctx)
{
    dlline_fwd *f = ctx;
    f->depth--;
    if (f->depth == 0)
        return f->mode != DLLINE_FWD_REWRITE || dlline_emit(f, yajl_gen_map_close(f->line));
    if (f->cur && !dlline_emit(f, yajl_gen_map_close(f->cur)))
        return 0;
    dlline_value_done(f);
    return 1;
}

static int dlline_cb_start_array(void *ctx)
{
    dlline_fwd *f = ctx;
    if (!dlline_value(f, DLLINE_KIND_ARRAY) || (f->cur && !dlline_emit(f, yajl_gen_array_open(f->cur))))
        return 0;
    f->depth++;
    return 1;
}

static int dlline_cb_end_array(void *ctx)
{
    dlline_fwd *f = ctx;
    f->depth--;
    if (f->cur && !dlline_emit(f, yajl_gen_array_close(f->cur)))
        return 0;
    dlline_value_done(f);
    return 1;
}

static const yajl_callbacks dlline_cb = {
    dlline_cb_null,      dlline_cb_bool,    NULL,
    NULL,                dlline_cb_number,  dlline_cb_string,
    dlline_cb_start_map, dlline_cb_key,     dlline_cb_end_map,
    dlline_cb_start_array, dlline_cb_end_array,
};

/* Runs the forwarder over the line. 0, or -1 with err. */
static int dlline_parse(dlline_fwd *f, const char *line, size_t len, char *err, size_t errlen)
{
    int rc = -1;
    yajl_handle h = yajl_alloc(&dlline_cb, &dlline_af, f);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)line, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st != yajl_status_ok) {
        size_t at = yajl_get_bytes_consumed(h);
        if (f->fail != NULL) {
            snprintf(err, errlen, "%s", f->fail);
        } else {
            unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)line, len);
            const char *msg = m ? (const char *)m : "parse error";
            size_t ml = strlen(msg);
            while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
                ml--;
            snprintf(err, errlen, "not valid JSON (%.*s, near byte %zu)", (int)(ml > 200 ? 200 : ml), msg, at);
            if (m)
                yajl_free_error(h, m);
        }
        goto out;
    }
    rc = 0;
out:
    if (h)
        yajl_free(h);
    return rc;
}

static const char *const dlline_op_names[] = {"index", "create", "update", "delete"};

/* Checks the re-generated action line (NUL-terminated) and fills e. */
static int dlline_check_action(const char *text, dlline_entry *e, char *err, size_t errlen)
{
    int rc = -1;
    char perr[160] = "";
    yajl_val v = yajl_tree_parse(text, perr, sizeof perr);
    if (v == NULL) {
        snprintf(err, errlen, "the action cannot be read: %s", perr[0] ? perr : "out of memory");
        goto out;
    }
    if (!YAJL_IS_OBJECT(v) || v->u.object.len != 1) {
        snprintf(err, errlen, "\"action\" must be an object with one member (index, create, update or delete)");
        goto out;
    }
    const char *op = v->u.object.keys[0];
    size_t k;
    for (k = 0; k < 4 && strcmp(op, dlline_op_names[k]) != 0; k++)
        ;
    if (k == 4) {
        snprintf(err, errlen, "unknown action \"%.40s\" (index, create, update or delete)", op);
        goto out;
    }
    e->op = (dlline_op)k;
    yajl_val meta = v->u.object.values[0];
    if (!YAJL_IS_OBJECT(meta)) {
        snprintf(err, errlen, "\"action\".%s must be an object", op);
        goto out;
    }
    static const char *idx_path[] = {"_index", NULL};
    static const char *id_path[] = {"_id", NULL};
    static const char *ver_path[] = {"version", NULL};
    static const char *vt_path[] = {"version_type", NULL};
    yajl_val idx = yajl_tree_get(meta, idx_path, yajl_t_any);
    yajl_val id = yajl_tree_get(meta, id_path, yajl_t_any);
    yajl_val ver = yajl_tree_get(meta, ver_path, yajl_t_any);
    yajl_val vt = yajl_tree_get(meta, vt_path, yajl_t_any);
    if (idx == NULL || !YAJL_IS_STRING(idx) || YAJL_GET_STRING(idx)[0] == '\0') {
        snprintf(err, errlen, "the action has no _index");
        goto out;
    }
    if (id == NULL || !YAJL_IS_STRING(id) || YAJL_GET_STRING(id)[0] == '\0') {
        snprintf(err, errlen, "the action has no _id");
        goto out;
    }
    if (ver != NULL && (!YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) < 0)) {
        snprintf(err, errlen, "the action's version must be a non-negative integer");
        goto out;
    }
    if (vt != NULL && !YAJL_IS_STRING(vt)) {
        snprintf(err, errlen, "the action's version_type must be a string");
        goto out;
    }
    ce_str_copy(e->index, sizeof e->index, YAJL_GET_STRING(idx));
    ce_str_copy(e->id, sizeof e->id, YAJL_GET_STRING(id));
    e->has_version = ver != NULL;
    e->version = ver ? YAJL_GET_INTEGER(ver) : 0;
    ce_str_copy(e->version_type, sizeof e->version_type, vt ? YAJL_GET_STRING(vt) : "");
    rc = 0;
out:
    if (v)
        yajl_tree_free(v);
    return rc;
}

int dlline_to_ndjson(const char *line, size_t len, ce_buf *out, dlline_entry *e, char *err, size_t errlen)
{
    int rc = -1;
    size_t mark = out->len;
    ce_buf act, doc;
    ce_buf_init(&act, DLLINE_MAX_ACTION);
    ce_buf_init(&doc, DLLINE_MAX_LINE);
    dlline_out ao = {&act, 0}, dout = {&doc, 0};
    yajl_gen ga = dlline_gen_new(&ao);
    yajl_gen gd = dlline_gen_new(&dout);
    memset(e, 0, sizeof *e);
    if (ga == NULL || gd == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    dlline_fwd f = {.mode = DLLINE_FWD_SEND, .action = ga, .document = gd};
    if (dlline_parse(&f, line, len, err, errlen) != 0)
        goto out;
    if (ao.full || dout.full) {
        snprintf(err, errlen, ao.full ? "the action is larger than 1 MiB" : "out of memory for the document");
        goto out;
    }
    if (!f.seen_action && f.kind[0] != '\0') {
        snprintf(err, errlen,
                 "not replayable: a %s canal-es could not turn into a document (\"kind\":\"%s\"); fix the cause "
                 "(see \"error\") and re-sync the row from MySQL",
                 strcmp(f.kind, "entry") == 0 ? "Canal entry" : strcmp(f.kind, "row") == 0 ? "row" : "record", f.kind);
        goto out;
    }
    if (!f.seen_action) {
        snprintf(err, errlen, "no \"action\" member");
        goto out;
    }
    if (ce_buf_terminate(&act) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (dlline_check_action((const char *)act.data, e, err, errlen) != 0)
        goto out;
    const char *opname = dlline_op_names[e->op];
    if (e->op == DLLINE_OP_DELETE) {
        if (f.seen_document && f.doc_kind != DLLINE_KIND_NULL) {
            snprintf(err, errlen, "a delete action has no document (\"document\" must be null)");
            goto out;
        }
    } else if (!f.seen_document || f.doc_kind != DLLINE_KIND_MAP) {
        snprintf(err, errlen, "the %s action needs a document object: \"document\" is %s", opname,
                 !f.seen_document ? "missing" : f.doc_kind == DLLINE_KIND_NULL ? "null" : "not an object");
        goto out;
    }
    e->has_document = e->op != DLLINE_OP_DELETE;
    if (ce_buf_append(out, act.data, act.len) != 0 || ce_buf_putc(out, '\n') != 0 ||
        (e->has_document && (ce_buf_append(out, doc.data, doc.len) != 0 || ce_buf_putc(out, '\n') != 0))) {
        out->len = mark;
        snprintf(err, errlen, "the action does not fit in the request buffer (%zu bytes)", out->max);
        goto out;
    }
    rc = 0;
out:
    if (ga)
        yajl_gen_free(ga);
    if (gd)
        yajl_gen_free(gd);
    ce_buf_free(&act);
    ce_buf_free(&doc);
    return rc;
}

int dlline_rewrite(const char *line, size_t len, const char *when, int status, const char *type,
                        const char *reason, ce_buf *out, char *err, size_t errlen)
{
    int rc = -1;
    size_t mark = out->len;
    dlline_out lo = {out, 0};
    yajl_gen g = dlline_gen_new(&lo);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    dlline_fwd f = {.mode = DLLINE_FWD_REWRITE, .line = g, .when = when, .status = status, .type = type,
                    .reason = reason};
    if (dlline_parse(&f, line, len, err, errlen) != 0)
        goto out;
    if (lo.full || ce_buf_putc(out, '\n') != 0) {
        snprintf(err, errlen, "the rewritten line does not fit in memory");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        out->len = mark;
    if (g)
        yajl_gen_free(g);
    return rc;
}
