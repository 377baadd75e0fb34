/* sink/resp: reads a _bulk response with yajl's event parser, keeping only
 * what the per-item handling needs: each item's operation, status,
 * error.type and error.reason, and _index/_id of the first failed item. No
 * tree is built and nothing else is kept (a response of 10 000 items is read
 * in one pass over its bytes, with the parser's few small buffers).
 * The checks are those of a whole-document read: a JSON object with an
 * "items" array whose every element is {"OP": {..., "status": INTEGER}}. */
#include "sink/sink.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

sink_item_class sink_classify_item(const char *op, int status, const char *type)
{
    if (status < 100 || status > 599)
        return SINK_ITEM_RETRY; /* not an HTTP status: a broken node or proxy, not a verdict on the document */
    if (status >= 200 && status < 300)
        return SINK_ITEM_OK;
    if (status == 404 && strcmp(op, "delete") == 0)
        return SINK_ITEM_OK;
    if (status == 409 && strcmp(type, "version_conflict_engine_exception") == 0)
        return SINK_ITEM_OK; /* the index holds a newer version: this change is superseded */
    if (status == 429 || status >= 500 || strcmp(type, "cluster_block_exception") == 0)
        return SINK_ITEM_RETRY;
    if (status == 401 || status == 403)
        return SINK_ITEM_FATAL;
    return SINK_ITEM_DEAD;
}

/* Depths of the containers the reader descends into (any other container is
 * skipped whole). */
enum { RP_ROOT = 1, RP_ITEMS = 2, RP_ITEM = 3, RP_RESULT = 4, RP_ERROR = 5 };

/* What the next value is, from the key before it. */
typedef enum { RK_NONE = 0, RK_ITEMS, RK_STATUS, RK_INDEX, RK_ID, RK_ERROR, RK_TYPE, RK_REASON } rp_key;

typedef enum { RV_STRING, RV_NUMBER, RV_OTHER, RV_MAP, RV_ARRAY } rp_kind;

typedef struct rp {
    sink_summary *sum;
    char *err;
    size_t errlen;
    int depth;      /* containers open */
    int skip_at;    /* > 0: inside a skipped container opened to this depth */
    rp_key key;
    int seen_items; /* the items array began */
    int item_keys;  /* keys of the current item object */
    /* the current item */
    char op[16];
    int has_status, has_type, has_reason, has_index, has_id;
    long long raw;
    char type[96], reason[320], index[128], id[128];
} rp;

static int rp_fail(rp *p, const char *msg)
{
    snprintf(p->err, p->errlen, "%s", msg);
    return 0;
}

static int rp_item_fail(rp *p, const char *what)
{
    snprintf(p->err, p->errlen, "item %zu %s", p->sum->items, what);
    return 0;
}

/* dst = the string or number text v[0, n) (cut to fit). */
static void rp_copy(char *dst, size_t dlen, const unsigned char *v, size_t n)
{
    snprintf(dst, dlen, "%.*s", (int)(n < dlen ? n : dlen - 1), (const char *)v);
}

/* An integer in JSON number syntax that fits a long long (as a whole-tree
 * reader would hold it): 1 with *out. */
static int rp_integer(const unsigned char *v, size_t n, long long *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (i == 0 && v[i] == '-')))
            return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno != 0 || end != buf + n)
        return 0;
    *out = x;
    return 1;
}

/* One item's result object ended: classify it and count it. */
static int rp_item_done(rp *p)
{
    sink_summary *sum = p->sum;
    if (!p->has_status)
        return rp_item_fail(p, "has no integer status");
    int status = p->raw >= 100 && p->raw <= 599 ? (int)p->raw : 0;
    if (status == 0) {
        /* retried: say so rather than print a wrapped int or dead-letter a document the node never judged */
        snprintf(p->type, sizeof p->type, "invalid_item_status");
        snprintf(p->reason, sizeof p->reason,
                 "item status %lld is not an HTTP status (100-599): a broken node or proxy; retried", p->raw);
    }
    sink_item_class cls = sink_classify_item(p->op, status, p->type);
    if (sum->item != NULL && sum->items < sum->item_cap) {
        sink_item *si = &sum->item[sum->items];
        si->cls = cls;
        si->status = status;
        memcpy(si->type, p->type, sizeof si->type);
        memcpy(si->reason, p->reason, sizeof si->reason);
    }
    sum->items++;
    if (cls == SINK_ITEM_OK) {
        sum->ok++;
        return 1;
    }
    sum->retry += cls == SINK_ITEM_RETRY;
    sum->dead += cls == SINK_ITEM_DEAD;
    sum->fatal += cls == SINK_ITEM_FATAL;
    if (sum->failed++ == 0) {
        sum->fail_status = status;
        snprintf(sum->fail_index, sizeof sum->fail_index, "%s", p->index);
        snprintf(sum->fail_id, sizeof sum->fail_id, "%s", p->id);
        snprintf(sum->fail_type, sizeof sum->fail_type, "%s", p->type);
        snprintf(sum->fail_reason, sizeof sum->fail_reason, "%.*s", (int)sizeof sum->fail_reason - 1, p->reason);
    }
    return 1;
}

/* A value (a scalar, or the start of a container) at the current depth. */
static int rp_value(rp *p, rp_kind kind, const unsigned char *v, size_t n)
{
    rp_key key = p->key;
    p->key = RK_NONE;
    int container = kind == RV_MAP || kind == RV_ARRAY;
    if (p->skip_at > 0) {
        p->depth += container;
        return 1;
    }
    int descend = 0;
    switch (p->depth) {
    case 0:
        if (kind != RV_MAP)
            return rp_fail(p, "response is not a JSON object");
        descend = 1;
        break;
    case RP_ROOT:
        if (key == RK_ITEMS) {
            if (kind != RV_ARRAY)
                return rp_fail(p, "response has no \"items\" array");
            p->seen_items = 1;
            descend = 1;
        }
        break;
    case RP_ITEMS:
        if (kind != RV_MAP)
            return rp_item_fail(p, "is not {\"op\":{...}}");
        p->item_keys = 0;
        descend = 1;
        break;
    case RP_ITEM:
        if (kind != RV_MAP)
            return rp_item_fail(p, "is not {\"op\":{...}}");
        p->has_status = p->has_type = p->has_reason = p->has_index = p->has_id = 0;
        p->type[0] = p->reason[0] = p->index[0] = p->id[0] = '\0';
        descend = 1;
        break;
    case RP_RESULT: /* the first of a repeated key wins */
        if (key == RK_STATUS && !p->has_status)
            p->has_status = kind == RV_NUMBER && rp_integer(v, n, &p->raw);
        else if (key == RK_INDEX && !p->has_index && (kind == RV_STRING || kind == RV_NUMBER))
            rp_copy(p->index, sizeof p->index, v, n), p->has_index = 1;
        else if (key == RK_ID && !p->has_id && (kind == RV_STRING || kind == RV_NUMBER))
            rp_copy(p->id, sizeof p->id, v, n), p->has_id = 1;
        else if (key == RK_ERROR && kind == RV_MAP)
            descend = 1;
        break;
    case RP_ERROR:
        if (key == RK_TYPE && !p->has_type && (kind == RV_STRING || kind == RV_NUMBER))
            rp_copy(p->type, sizeof p->type, v, n), p->has_type = 1;
        else if (key == RK_REASON && !p->has_reason && (kind == RV_STRING || kind == RV_NUMBER))
            rp_copy(p->reason, sizeof p->reason, v, n), p->has_reason = 1;
        break;
    default:
        break;
    }
    if (container) {
        p->depth++;
        if (!descend)
            p->skip_at = p->depth;
    }
    return 1;
}

static int rp_end(rp *p)
{
    int d = p->depth--;
    if (p->skip_at > 0) {
        if (d == p->skip_at)
            p->skip_at = 0;
        return 1;
    }
    if (d == RP_RESULT)
        return rp_item_done(p);
    if (d == RP_ITEM && p->item_keys != 1)
        return rp_item_fail(p, "is not {\"op\":{...}}");
    return 1;
}

static int rp_null(void *ud) { return rp_value(ud, RV_OTHER, NULL, 0); }
static int rp_bool(void *ud, int b) { return (void)b, rp_value(ud, RV_OTHER, NULL, 0); }
static int rp_number(void *ud, const char *v, size_t n)
{
    return rp_value(ud, RV_NUMBER, (const unsigned char *)v, n);
}
static int rp_string(void *ud, const unsigned char *v, size_t n) { return rp_value(ud, RV_STRING, v, n); }
static int rp_start_map(void *ud) { return rp_value(ud, RV_MAP, NULL, 0); }
static int rp_start_array(void *ud) { return rp_value(ud, RV_ARRAY, NULL, 0); }
static int rp_end_map(void *ud) { return rp_end(ud); }
static int rp_end_array(void *ud) { return rp_end(ud); }

static int rp_map_key(void *ud, const unsigned char *k, size_t n)
{
    rp *p = ud;
    p->key = RK_NONE;
    if (p->skip_at > 0)
        return 1;
#define RP_IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, n) == 0)
    switch (p->depth) {
    case RP_ROOT:
        if (!p->seen_items && RP_IS("items"))
            p->key = RK_ITEMS;
        break;
    case RP_ITEM:
        if (p->item_keys++ > 0)
            return rp_item_fail(p, "is not {\"op\":{...}}");
        rp_copy(p->op, sizeof p->op, k, n);
        break;
    case RP_RESULT:
        p->key = RP_IS("status") ? RK_STATUS : RP_IS("_index") ? RK_INDEX : RP_IS("_id") ? RK_ID
                 : RP_IS("error") ? RK_ERROR : RK_NONE;
        break;
    case RP_ERROR:
        p->key = RP_IS("type") ? RK_TYPE : RP_IS("reason") ? RK_REASON : RK_NONE;
        break;
    default:
        break;
    }
#undef RP_IS
    return 1;
}

static const yajl_callbacks rp_callbacks = {
    .yajl_null = rp_null,
    .yajl_boolean = rp_bool,
    .yajl_number = rp_number,
    .yajl_string = rp_string,
    .yajl_start_map = rp_start_map,
    .yajl_map_key = rp_map_key,
    .yajl_end_map = rp_end_map,
    .yajl_start_array = rp_start_array,
    .yajl_end_array = rp_end_array,
};

int sink_parse_response(const char *json, size_t len, sink_summary *sum, char *err, size_t errlen)
{
    sink_item *keep_item = sum->item;
    size_t keep_cap = sum->item_cap;
    memset(sum, 0, sizeof *sum);
    sum->item = keep_item;
    sum->item_cap = keep_cap;
    if (memchr(json, '\0', len) != NULL) {
        snprintf(err, errlen, "NUL byte in response");
        return -1;
    }
    rp p = {.sum = sum, .err = err, .errlen = errlen};
    err[0] = '\0';
    /* yajl's own allocator: it does not survive a failed allocation inside (its
     * lexer and buffers do not check), so util/mem's failure injection cannot reach it */
    yajl_handle h = yajl_alloc(&rp_callbacks, NULL, &p);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    yajl_status st = yajl_parse(h, (const unsigned char *)json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_client_canceled) {
        if (err[0] == '\0')
            snprintf(err, errlen, "response not read");
    } else if (st != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)json, len);
        char perr[256];
        snprintf(perr, sizeof perr, "%s", msg != NULL ? (const char *)msg : "");
        for (char *q = perr; *q; q++)
            if (*q == '\n')
                *q = ' ';
        snprintf(err, errlen, "response is not a JSON object%s%.200s", perr[0] ? ": " : "", perr);
        if (msg != NULL)
            yajl_free_error(h, msg);
    } else if (!p.seen_items) {
        snprintf(err, errlen, "response has no \"items\" array");
    } else {
        rc = 0;
    }
    yajl_free(h);
    return rc;
}
