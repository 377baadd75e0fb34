/* sink: libcurl transport and _bulk response checking. */
#include "sink/sink.h"
#include "util/buf.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define SINK_MAX_RESPONSE (256u << 20)

struct sink {
    CURL *curl;
    struct curl_slist *headers;      /* x-ndjson, for _bulk */
    struct curl_slist *json_headers; /* application/json */
    char *base_url;                  /* without trailing '/' */
    char *bulk_url;
    ce_buf resp;
    long timeout_ms;
    long long retry_after_ms;
    int (*abort_fn)(void *ud);
    void *abort_ud;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    ce_buf *b = ud;
    size_t n = size * nmemb;
    return ce_buf_append(b, ptr, n) == 0 ? n : 0;
}

sink *sink_new(const char *url, long timeout_ms, char *err, size_t errlen)
{
    static int curl_ready = 0;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl initialisation failed");
            return NULL;
        }
        curl_ready = 1;
    }
    sink *s = ce_calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    s->bulk_url = ce_malloc(ul + sizeof "/_bulk");
    s->base_url = ce_strndup(url, ul);
    if (s->bulk_url == NULL || s->base_url == NULL)
        goto oom;
    memcpy(s->bulk_url, url, ul);
    memcpy(s->bulk_url + ul, "/_bulk", sizeof "/_bulk");
    ce_buf_init(&s->resp, SINK_MAX_RESPONSE);
    s->timeout_ms = timeout_ms;
    s->curl = curl_easy_init();
    s->headers = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    if (s->headers)
        s->headers = curl_slist_append(s->headers, "Expect:");
    s->json_headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (s->curl == NULL || s->headers == NULL || s->json_headers == NULL)
        goto oom;
    return s;
oom:
    snprintf(err, errlen, "sink: out of memory");
    sink_free(s);
    return NULL;
}

void sink_set_abort(sink *s, int (*fn)(void *ud), void *ud)
{
    s->abort_fn = fn;
    s->abort_ud = ud;
}

long long sink_retry_after_ms(const sink *s) { return s->retry_after_ms; }

static int sink_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const sink *s = ud;
    return s->abort_fn != NULL && s->abort_fn(s->abort_ud) ? 1 : 0;
}

void sink_free(sink *s)
{
    if (s == NULL)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->json_headers);
    ce_free(s->base_url);
    ce_buf_free(&s->resp);
    ce_free(s->bulk_url);
    ce_free(s);
}

static void sink_copy(char *dst, size_t dlen, const yajl_val v)
{
    if (v && YAJL_IS_STRING(v))
        snprintf(dst, dlen, "%s", YAJL_GET_STRING(v));
    else if (v && YAJL_IS_NUMBER(v))
        snprintf(dst, dlen, "%s", YAJL_GET_NUMBER(v));
    else
        dst[0] = '\0';
}

sink_item_class sink_classify_item(const char *op, int status, const char *type)
{
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

int sink_parse_response(const char *json, size_t len, sink_summary *sum, char *err, size_t errlen)
{
    sink_item *keep_item = sum->item;
    size_t keep_cap = sum->item_cap;
    memset(sum, 0, sizeof *sum);
    sum->item = keep_item;
    sum->item_cap = keep_cap;
    int rc = -1;
    char perr[256] = "";
    char *copy = ce_strndup(json, len);
    yajl_val root = NULL;
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (strlen(copy) != len) {
        snprintf(err, errlen, "NUL byte in response");
        goto out;
    }
    root = yajl_tree_parse(copy, perr, sizeof perr);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "response is not a JSON object%s%.200s", perr[0] ? ": " : "", perr);
        goto out;
    }
    static const char *items_path[] = {"items", NULL};
    yajl_val items = yajl_tree_get(root, items_path, yajl_t_array);
    if (items == NULL) {
        snprintf(err, errlen, "response has no \"items\" array");
        goto out;
    }
    for (size_t i = 0; i < items->u.array.len; i++) {
        yajl_val it = items->u.array.values[i];
        if (!YAJL_IS_OBJECT(it) || it->u.object.len != 1 || !YAJL_IS_OBJECT(it->u.object.values[0])) {
            snprintf(err, errlen, "item %zu is not {\"op\":{...}}", i);
            goto out;
        }
        const char *op = it->u.object.keys[0];
        yajl_val res = it->u.object.values[0];
        static const char *status_path[] = {"status", NULL};
        yajl_val st = yajl_tree_get(res, status_path, yajl_t_number);
        if (st == NULL || !YAJL_IS_INTEGER(st)) {
            snprintf(err, errlen, "item %zu has no integer status", i);
            goto out;
        }
        long long status = YAJL_GET_INTEGER(st);
        static const char *idx_path[] = {"_index", NULL};
        static const char *id_path[] = {"_id", NULL};
        static const char *type_path[] = {"error", "type", NULL};
        static const char *reason_path[] = {"error", "reason", NULL};
        char type[96];
        sink_copy(type, sizeof type, yajl_tree_get(res, type_path, yajl_t_any));
        sink_item_class cls = sink_classify_item(op, (int)status, type);
        if (sum->item != NULL && sum->items < sum->item_cap) {
            sink_item *si = &sum->item[sum->items];
            si->cls = cls;
            si->status = (int)status;
            memcpy(si->type, type, sizeof type);
            sink_copy(si->reason, sizeof si->reason, yajl_tree_get(res, reason_path, yajl_t_any));
        }
        sum->items++;
        if (cls == SINK_ITEM_OK) {
            sum->ok++;
            continue;
        }
        sum->retry += cls == SINK_ITEM_RETRY;
        sum->dead += cls == SINK_ITEM_DEAD;
        sum->fatal += cls == SINK_ITEM_FATAL;
        if (sum->failed++ == 0) {
            sum->fail_status = (int)status;
            sink_copy(sum->fail_index, sizeof sum->fail_index, yajl_tree_get(res, idx_path, yajl_t_any));
            sink_copy(sum->fail_id, sizeof sum->fail_id, yajl_tree_get(res, id_path, yajl_t_any));
            snprintf(sum->fail_type, sizeof sum->fail_type, "%s", type);
            sink_copy(sum->fail_reason, sizeof sum->fail_reason, yajl_tree_get(res, reason_path, yajl_t_any));
        }
    }
    rc = 0;
out:
    if (root)
        yajl_tree_free(root);
    ce_free(copy);
    return rc;
}

/* Sends method (POST, PUT, GET, HEAD, DELETE) to url with body (POST/PUT);
 * the response is in s->resp. SINK_OK with *status set, or SINK_RETRY on a
 * transport error. */
static sink_rc sink_send(sink *s, const char *method, const char *url, struct curl_slist *headers, const void *body,
                         size_t len, long *status, char *err, size_t errlen)
{
    ce_buf_reset(&s->resp);
    s->retry_after_ms = 0;
    CURL *c = s->curl;
    curl_easy_reset(c); /* keeps the connection cache: keep-alive survives */
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sink_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, cerr[0] ? cerr : curl_easy_strerror(cc));
        return SINK_RETRY;
    }
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_off_t ra = 0; /* seconds, from a Retry-After of either form */
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        s->retry_after_ms = ra > 86400 ? 86400000LL : (long long)ra * 1000;
    return SINK_OK;
}

/* Classifies a non-2xx status: 401/403 fatal, anything else retried. */
static sink_rc sink_post(sink *s, const char *url, struct curl_slist *headers, const void *body, size_t len,
                         long *status, char *err, size_t errlen)
{
    return sink_send(s, "POST", url, headers, body, len, status, err, errlen);
}

sink_rc sink_request(sink *s, const char *method, const char *path, const void *body, size_t len, long *status,
                     const char **resp, size_t *resp_len, char *err, size_t errlen)
{
    char url[2048];
    int n = snprintf(url, sizeof url, "%s%s%s", s->base_url, path[0] == '/' ? "" : "/", path);
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(err, errlen, "%s %s: URL too long", method, path);
        return SINK_FATAL;
    }
    sink_rc rc = sink_send(s, method, url, s->json_headers, body, len, status, err, errlen);
    if (rc == SINK_OK && ce_buf_terminate(&s->resp) != 0) {
        snprintf(err, errlen, "%s %s: out of memory", method, url);
        return SINK_RETRY;
    }
    if (rc == SINK_OK) {
        *resp = s->resp.data ? (const char *)s->resp.data : "";
        *resp_len = s->resp.len;
        if (*status == 401 || *status == 403) {
            snprintf(err, errlen, "%s %s: HTTP %ld: credentials refused", method, url, *status);
            return SINK_FATAL;
        }
    }
    return rc;
}

const char *sink_base_url(const sink *s) { return s->base_url; }

static sink_rc sink_bad_status(sink *s, const char *url, long status, char *err, size_t errlen)
{
    int shown = (int)(s->resp.len > 300 ? 300 : s->resp.len);
    const char *text = s->resp.data ? (const char *)s->resp.data : "";
    if (status == 401 || status == 403) {
        snprintf(err, errlen, "POST %s: HTTP %ld: credentials refused: %.*s", url, status, shown, text);
        return SINK_FATAL;
    }
    if (status == 413) {
        snprintf(err, errlen, "POST %s: HTTP 413: request too large: %.*s", url, shown, text);
        return SINK_TOO_LARGE;
    }
    snprintf(err, errlen, "POST %s: HTTP %ld: %.*s", url, status, shown, text);
    return SINK_RETRY;
}

sink_rc sink_bulk(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                  size_t errlen)
{
    sum->items = sum->ok = sum->failed = sum->retry = sum->dead = sum->fatal = 0;
    long status = 0;
    sink_rc rc = sink_post(s, s->bulk_url, s->headers, body, len, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status < 200 || status >= 300)
        return sink_bad_status(s, s->bulk_url, status, err, errlen);
    char perr[300];
    if (sink_parse_response(s->resp.data ? (const char *)s->resp.data : "", s->resp.len, sum, perr,
                            sizeof perr) != 0) {
        snprintf(err, errlen, "POST %s: bad _bulk response: %s", s->bulk_url, perr);
        return SINK_RETRY;
    }
    if (sum->items != actions) {
        snprintf(err, errlen, "POST %s: %zu items in the response for %zu actions", s->bulk_url, sum->items,
                 actions);
        return SINK_RETRY;
    }
    if (sum->failed > 0)
        snprintf(err, errlen, "POST %s: %zu of %zu items failed; first: index %s id %s status %d %s: %s",
                 s->bulk_url, sum->failed, sum->items, sum->fail_index, sum->fail_id, sum->fail_status,
                 sum->fail_type, sum->fail_reason);
    return SINK_OK;
}

sink_rc sink_delete_all(sink *s, const char *index, long long *deleted, char *err, size_t errlen)
{
    static const char body[] = "{\"query\":{\"match_all\":{}}}";
    char url[1024];
    *deleted = 0;
    int n = snprintf(url, sizeof url, "%s/%s/_delete_by_query?conflicts=proceed&refresh=true", s->base_url, index);
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(err, errlen, "delete_by_query: URL too long for index %s", index);
        return SINK_FATAL;
    }
    long status = 0;
    sink_rc rc = sink_post(s, url, s->json_headers, body, sizeof body - 1, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status == 404)
        return SINK_OK; /* no such index: nothing to delete */
    if (status < 200 || status >= 300)
        return sink_bad_status(s, url, status, err, errlen);
    char perr[256] = "";
    if (ce_buf_terminate(&s->resp) != 0) {
        snprintf(err, errlen, "POST %s: out of memory", url);
        return SINK_RETRY;
    }
    yajl_val root = yajl_tree_parse(s->resp.data ? (const char *)s->resp.data : "", perr, sizeof perr);
    static const char *deleted_path[] = {"deleted", NULL};
    static const char *failures_path[] = {"failures", NULL};
    yajl_val d = root ? yajl_tree_get(root, deleted_path, yajl_t_number) : NULL;
    yajl_val f = root ? yajl_tree_get(root, failures_path, yajl_t_array) : NULL;
    rc = SINK_OK;
    if (d == NULL || !YAJL_IS_INTEGER(d)) {
        snprintf(err, errlen, "POST %s: unexpected response %.200s", url, (const char *)s->resp.data);
        rc = SINK_RETRY;
    } else if (f != NULL && f->u.array.len > 0) {
        snprintf(err, errlen, "POST %s: %zu failures, e.g. %.300s", url, f->u.array.len, (const char *)s->resp.data);
        rc = SINK_RETRY;
    } else {
        *deleted = YAJL_GET_INTEGER(d);
    }
    if (root)
        yajl_tree_free(root);
    return rc;
}
