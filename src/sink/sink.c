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
    struct curl_slist *headers;
    char *bulk_url;
    ce_buf resp;
    long timeout_ms;
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
    if (s->bulk_url == NULL)
        goto oom;
    memcpy(s->bulk_url, url, ul);
    memcpy(s->bulk_url + ul, "/_bulk", sizeof "/_bulk");
    ce_buf_init(&s->resp, SINK_MAX_RESPONSE);
    s->timeout_ms = timeout_ms;
    s->curl = curl_easy_init();
    s->headers = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    if (s->headers)
        s->headers = curl_slist_append(s->headers, "Expect:");
    if (s->curl == NULL || s->headers == NULL)
        goto oom;
    return s;
oom:
    snprintf(err, errlen, "sink: out of memory");
    sink_free(s);
    return NULL;
}

void sink_free(sink *s)
{
    if (s == NULL)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
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

int sink_parse_response(const char *json, size_t len, sink_summary *sum, char *err, size_t errlen)
{
    memset(sum, 0, sizeof *sum);
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
        sum->items++;
        if ((status >= 200 && status < 300) || (strcmp(op, "delete") == 0 && status == 404)) {
            sum->ok++;
            continue;
        }
        if (sum->failed++ == 0) {
            static const char *idx_path[] = {"_index", NULL};
            static const char *id_path[] = {"_id", NULL};
            static const char *type_path[] = {"error", "type", NULL};
            static const char *reason_path[] = {"error", "reason", NULL};
            sum->fail_status = (int)status;
            sink_copy(sum->fail_index, sizeof sum->fail_index, yajl_tree_get(res, idx_path, yajl_t_any));
            sink_copy(sum->fail_id, sizeof sum->fail_id, yajl_tree_get(res, id_path, yajl_t_any));
            sink_copy(sum->fail_type, sizeof sum->fail_type, yajl_tree_get(res, type_path, yajl_t_any));
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

sink_rc sink_bulk(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                  size_t errlen)
{
    memset(sum, 0, sizeof *sum);
    ce_buf_reset(&s->resp);
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, s->bulk_url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "POST %s: %s", s->bulk_url, cerr[0] ? cerr : curl_easy_strerror(cc));
        return SINK_RETRY;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int shown = (int)(s->resp.len > 300 ? 300 : s->resp.len);
    if (status == 401 || status == 403) {
        snprintf(err, errlen, "POST %s: HTTP %ld: credentials refused: %.*s", s->bulk_url, status, shown,
                 s->resp.data ? (const char *)s->resp.data : "");
        return SINK_FATAL;
    }
    if (status < 200 || status >= 300) {
        snprintf(err, errlen, "POST %s: HTTP %ld: %.*s", s->bulk_url, status, shown,
                 s->resp.data ? (const char *)s->resp.data : "");
        return SINK_RETRY;
    }
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
    if (sum->failed > 0) {
        snprintf(err, errlen, "POST %s: %zu of %zu items failed; first: index %s id %s status %d %s: %s",
                 s->bulk_url, sum->failed, sum->items, sum->fail_index, sum->fail_id, sum->fail_status,
                 sum->fail_type, sum->fail_reason);
        return SINK_RETRY;
    }
    return SINK_OK;
}
