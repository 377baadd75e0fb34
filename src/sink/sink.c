/* sink: libcurl transport (nodes, credentials, TLS, gzip), _bulk response
 * checking and version detection. The sink owns its copies of the options
 * (secrets are wiped on sink_free), the response buffer and the gzip buffer. */
#include "sink/sink.h"
#include "sink/node.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#define ZLIB_CONST
#include <zlib.h>

/* sink_rc and sink_item_class are result kinds: four distinct values each */
_Static_assert(SINK_TOO_LARGE != SINK_OK && SINK_TOO_LARGE != SINK_RETRY && SINK_TOO_LARGE != SINK_FATAL,
               "413 is its own result");
_Static_assert(SINK_ITEM_DEAD == CE_PERMANENT && SINK_ITEM_RETRY == CE_RETRY && SINK_ITEM_FATAL == CE_FATAL,
               "item classes are result kinds");

#define SINK_MAX_RESPONSE ((size_t)256 << 20) /* one response, and all response buffers of the process */
#define SINK_KEEP_RESPONSE ((size_t)64 << 10)  /* a larger response buffer is freed once it was read */
#define SINK_MAX_GZIP ((size_t)1 << 30)
#define SINK_URL_MAX (NODE_URL_MAX + 1024)
#define SINK_SNIPPET 300 /* bytes of a response body quoted in a message */
/* The fields of a _bulk answer that sink_parse_response reads: the node
 * leaves out the rest (_version, result, _shards, _seq_no, caused_by, ...),
 * a third of the bytes when every item succeeded. Items keep their order
 * and their operation key (checked on OpenSearch 2.19 and Elasticsearch
 * 7.17); an error answer (HTTP 4xx/5xx) is not filtered. */
#define SINK_BULK_FILTER \
    "?filter_path=errors,items.*.status,items.*._index,items.*._id,items.*.error.type,items.*.error.reason"

struct sink {
    CURL *curl;
    struct curl_slist *headers;      /* _bulk: x-ndjson, gzip, API key */
    struct curl_slist *json_headers; /* application/json, API key */
    node_list nodes;
    char *username; /* NULL = none */
    char *password;
    char *api_key;  /* NULL = none */
    char *ca_file;  /* NULL = system CAs */
    char *cert_file;
    char *key_file;
    int no_verify;
    int gzip;
    ce_buf resp;
    ce_buf zbody;                    /* the gzip of the last _bulk body */
    long timeout_ms;
    long long retry_after_ms;
    sink_info info;
    char url[SINK_URL_MAX];          /* URL of the last request, without user:password */
    char base[NODE_URL_MAX];         /* its node's base URL, likewise */
    int (*abort_fn)(void *ud);
    void *abort_ud;
    size_t resp_charged;             /* bytes of resp taken from the process' budget (>= resp.cap - 256) */
    int resp_over;                   /* the write callback refused: 1 this response, 2 all together too large */
};

/* Bytes of response buffers allocated by all sinks of the process (the sum
 * of their resp.cap), never above sink_resp_limit: `concurrency` sinks
 * share one bound instead of multiplying it. */
static _Atomic size_t sink_resp_total;
static _Atomic size_t sink_resp_limit = SINK_MAX_RESPONSE;

static int sink_budget_take(size_t n)
{
    size_t cur = atomic_load(&sink_resp_total);
    do {
        if (n > atomic_load(&sink_resp_limit) || cur > atomic_load(&sink_resp_limit) - n)
            return -1;
    } while (!atomic_compare_exchange_weak(&sink_resp_total, &cur, cur + n));
    return 0;
}

static void sink_budget_give(size_t n) { atomic_fetch_sub(&sink_resp_total, n); }

void sink_set_response_limit(size_t bytes) { atomic_store(&sink_resp_limit, bytes); }

size_t sink_response_bytes(void) { return atomic_load(&sink_resp_total); }

/* Frees a response buffer larger than SINK_KEEP_RESPONSE (its bytes go back
 * to the budget); a small one is kept for the next request. */
static void sink_resp_release(sink *s)
{
    if (s->resp.cap > SINK_KEEP_RESPONSE || s->resp_charged > SINK_KEEP_RESPONSE) {
        sink_budget_give(s->resp_charged);
        s->resp_charged = 0;
        ce_buf_free(&s->resp);
    }
}

/* One request, sent to whichever node sink_send picks. */
typedef struct sink_req {
    const char *method; /* GET, HEAD, POST, PUT, DELETE */
    const char *path;   /* after the node's base URL; begins with '/' */
    const char *query;  /* NULL, or "?..." sent after path but left out of messages */
    struct curl_slist *headers;
    const void *body;   /* POST/PUT */
    size_t len;
} sink_req;

/* Appends to s->resp, taking what the buffer grows by from the process'
 * budget first; 0 (curl ends the transfer) when this response or all of
 * them together would be too large. One byte more is kept for the NUL. */
static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    size_t ncap = n < SIZE_MAX ? ce_buf_grow_size(&s->resp, n + 1) : SIZE_MAX;
    if (ncap == SIZE_MAX) {
        s->resp_over = 1;
        return 0;
    }
    if (ncap > s->resp_charged) {
        if (sink_budget_take(ncap - s->resp_charged) != 0) {
            s->resp_over = 2;
            return 0;
        }
        s->resp_charged = ncap; /* given back by sink_resp_release, even if the allocation fails */
    }
    if (ce_buf_reserve(&s->resp, n + 1) != 0) /* resp.cap becomes ncap */
        return 0;
    return ce_buf_append(&s->resp, ptr, n) == 0 ? n : 0;
}

static uint64_t sink_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* *dst = copy of src, or NULL when src is NULL or "". -1 when out of memory. */
static int sink_dup(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL || src[0] == '\0')
        return 0;
    *dst = ce_strdup(src);
    return *dst != NULL ? 0 : -1;
}

static void sink_free_secret(char *p)
{
    if (p != NULL) {
        explicit_bzero(p, strlen(p));
        ce_free(p);
    }
}

static int sink_has_ctl(const char *v)
{
    for (; v != NULL && *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 1;
    return 0;
}

static int sink_slist_add(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);
    if (n == NULL)
        return -1;
    *h = n;
    return 0;
}

struct curl_slist *sink_build_headers(const char *content_type, int gzip, const char *api_key)
{
    struct curl_slist *h = NULL;
    char line[160];
    char *auth = NULL;
    int ok = 1;
    if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        ok = sink_slist_add(&h, line) == 0;
    }
    if (ok)
        ok = sink_slist_add(&h, "Expect:") == 0; /* no 100-continue round trip */
    if (ok && gzip)
        ok = sink_slist_add(&h, "Content-Encoding: gzip") == 0;
    if (ok && api_key != NULL && api_key[0] != '\0') {
        size_t n = strlen(api_key) + sizeof "Authorization: ApiKey ";
        auth = ce_malloc(n);
        ok = auth != NULL;
        if (ok) {
            snprintf(auth, n, "Authorization: ApiKey %s", api_key);
            ok = sink_slist_add(&h, auth) == 0;
            explicit_bzero(auth, n);
        }
    }
    ce_free(auth);
    if (!ok) {
        curl_slist_free_all(h);
        h = NULL;
    }
    return h;
}

sink *sink_open(const sink_opts *o, char *err, size_t errlen)
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
    ce_buf_init(&s->resp, SINK_MAX_RESPONSE);
    ce_buf_init(&s->zbody, SINK_MAX_GZIP);
    if (node_list_parse(&s->nodes, o->url != NULL ? o->url : "", err, errlen) != 0)
        goto fail;
    if (sink_has_ctl(o->api_key) || sink_has_ctl(o->username) || sink_has_ctl(o->password)) {
        snprintf(err, errlen, "[elasticsearch] username, password and api_key must not contain control characters");
        goto fail;
    }
    if (sink_dup(&s->username, o->username) != 0 || sink_dup(&s->api_key, o->api_key) != 0 ||
        sink_dup(&s->ca_file, o->ca_file) != 0 || sink_dup(&s->cert_file, o->cert_file) != 0 ||
        sink_dup(&s->key_file, o->key_file) != 0)
        goto oom;
    if (s->username != NULL) {
        s->password = ce_strdup(o->password != NULL ? o->password : "");
        if (s->password == NULL)
            goto oom;
    }
    s->no_verify = o->no_verify;
    s->gzip = o->gzip;
    s->timeout_ms = o->timeout_ms;
    snprintf(s->base, sizeof s->base, "%s", s->nodes.v[0].shown);
    s->curl = curl_easy_init();
    s->headers = sink_build_headers("application/x-ndjson", s->gzip, s->api_key);
    s->json_headers = sink_build_headers("application/json", 0, s->api_key);
    if (s->curl == NULL || s->headers == NULL || s->json_headers == NULL)
        goto oom;
    static int warned = 0; /* once per process, not per sink */
    if (s->no_verify && !warned++)
        ce_log(CE_LOG_WARN, "sink",
               "verify = false: the search nodes' TLS certificates and host names are not checked (set ca_file "
               "instead to trust a private CA)");
    return s;
oom:
    snprintf(err, errlen, "sink: out of memory");
fail:
    sink_free(s);
    return NULL;
}

sink *sink_new(const char *url, long timeout_ms, char *err, size_t errlen)
{
    sink_opts o = {.url = url, .timeout_ms = timeout_ms};
    return sink_open(&o, err, errlen);
}

void sink_set_abort(sink *s, int (*fn)(void *ud), void *ud)
{
    s->abort_fn = fn;
    s->abort_ud = ud;
}

long long sink_retry_after_ms(const sink *s) { return s->retry_after_ms; }

sink_info sink_node_info(const sink *s) { return s->info; }

void sink_adopt_info(sink *s, const sink *from)
{
    if (from->info.detected)
        s->info = from->info;
}

const char *sink_last_url(const sink *s) { return s->url; }

const char *sink_base_url(const sink *s) { return s->base; }

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
    node_list_free(&s->nodes);
    ce_free(s->username);
    sink_free_secret(s->password);
    sink_free_secret(s->api_key);
    ce_free(s->ca_file);
    ce_free(s->cert_file);
    ce_free(s->key_file);
    sink_budget_give(s->resp_charged);
    ce_buf_free(&s->resp);
    ce_buf_free(&s->zbody);
    ce_free(s);
}

int sink_path_segment(const char *name, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -1;
    for (const unsigned char *q = (const unsigned char *)name; *q; q++) {
        int plain = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '-' ||
                    *q == '.' || *q == '_' || *q == '~';
        if (o + (plain ? 1 : 3) >= outlen) {
            out[0] = '\0';
            return -1;
        }
        if (plain) {
            out[o++] = (char)*q;
        } else {
            out[o++] = '%';
            out[o++] = hex[*q >> 4];
            out[o++] = hex[*q & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

int sink_index_path(const char *index, const char *rest, char *out, size_t outlen)
{
    if (outlen < 2 || sink_path_segment(index, out + 1, outlen - 1) != 0) {
        if (outlen > 0)
            out[0] = '\0';
        return -1;
    }
    out[0] = '/';
    size_t n = strlen(out), r = strlen(rest);
    if (r >= outlen - n) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out + n, rest, r + 1);
    return 0;
}

void sink_redact(char *msg, const char *secret)
{
    size_t sl = secret != NULL ? strlen(secret) : 0;
    if (sl < 4)
        return;
    char *p = msg;
    while ((p = strstr(p, secret)) != NULL) {
        memmove(p + 3, p + sl, strlen(p + sl) + 1); /* sl > 3: the message only shrinks */
        memcpy(p, "***", 3);
        p += 3;
    }
}

/* Both secrets out of a message that quotes something from the network. */
static void sink_scrub(const sink *s, char *msg)
{
    sink_redact(msg, s->password);
    sink_redact(msg, s->api_key);
}

/* The start of the response body on one line (control characters as spaces). */
static void sink_snippet(const sink *s, char *out, size_t outlen)
{
    size_t n = s->resp.len < SINK_SNIPPET ? s->resp.len : SINK_SNIPPET;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        unsigned char c = s->resp.data[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' '; /* runs of blanks and line ends: one space */
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* Whether the start of the response body (its first SINK_SNIPPET bytes) contains `needle`. */
static bool sink_resp_has(const sink *s, const char *needle)
{
    size_t n = s->resp.len < SINK_SNIPPET ? s->resp.len : SINK_SNIPPET;
    size_t k = strlen(needle);
    for (size_t i = 0; k > 0 && i + k <= n; i++)
        if (memcmp(s->resp.data + i, needle, k) == 0)
            return true;
    return false;
}

int sink_gzip(const void *in, size_t len, ce_buf *out, char *err, size_t errlen)
{
    z_stream zs;
    int rc = -1;
    int inited = 0;
    memset(&zs, 0, sizeof zs);
    ce_buf_reset(out);
    if (len > UINT_MAX) {
        snprintf(err, errlen, "gzip: a body of %zu bytes is too large", len);
        goto out;
    }
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, errlen, "gzip: zlib initialisation failed");
        goto out;
    }
    inited = 1;
    uLong bound = deflateBound(&zs, (uLong)len);
    if (bound > UINT_MAX || ce_buf_reserve(out, bound) != 0) {
        snprintf(err, errlen, "gzip: no room for %lu compressed bytes", (unsigned long)bound);
        goto out;
    }
    zs.next_in = in;
    zs.avail_in = (uInt)len;
    zs.next_out = out->data;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    if (zr != Z_STREAM_END) {
        snprintf(err, errlen, "gzip: deflate failed (%d)", zr);
        goto out;
    }
    out->len = zs.total_out;
    rc = 0;
out:
    if (inited)
        deflateEnd(&zs);
    return rc;
}

const char *sink_flavour_name(sink_flavour f)
{
    switch (f) {
    case SINK_FLAVOUR_ELASTICSEARCH:
        return "elasticsearch";
    case SINK_FLAVOUR_OPENSEARCH:
        return "opensearch";
    default:
        return "unknown";
    }
}

/* "7.17.3" → 7, 17. -1 unless it starts with digits '.' digits. */
static int sink_parse_number(const char *v, int *major, int *minor)
{
    char *end = NULL;
    if (v[0] < '0' || v[0] > '9')
        return -1;
    long ma = strtol(v, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9' || ma > 100000)
        return -1;
    long mi = strtol(end + 1, &end, 10);
    if (mi > 100000)
        return -1;
    *major = (int)ma;
    *minor = (int)mi;
    return 0;
}

int sink_parse_version(const char *json, size_t len, sink_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = -1;
    char perr[200] = "";
    yajl_val root = NULL;
    char *copy = ce_strndup(json, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (strlen(copy) != len) {
        snprintf(err, errlen, "NUL byte in the answer");
        goto out;
    }
    root = yajl_tree_parse(copy, perr, sizeof perr);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "the answer is not a JSON object");
        goto out;
    }
    static const char *number_path[] = {"version", "number", NULL};
    static const char *dist_path[] = {"version", "distribution", NULL};
    yajl_val num = yajl_tree_get(root, number_path, yajl_t_string);
    yajl_val dist = yajl_tree_get(root, dist_path, yajl_t_string);
    if (num == NULL) {
        snprintf(err, errlen, "the answer has no version.number");
        goto out;
    }
    const char *v = YAJL_GET_STRING(num);
    const char *d = dist != NULL ? YAJL_GET_STRING(dist) : NULL;
    if (v == NULL || sink_parse_number(v, &out->major, &out->minor) != 0) {
        snprintf(err, errlen, "version.number '%.40s' is not MAJOR.MINOR...", v != NULL ? v : "");
        goto out;
    }
    snprintf(out->number, sizeof out->number, "%s", v);
    out->flavour = d != NULL && strcmp(d, "opensearch") == 0 ? SINK_FLAVOUR_OPENSEARCH : SINK_FLAVOUR_ELASTICSEARCH;
    out->detected = 1;
    rc = 0;
out:
    if (rc != 0)
        memset(out, 0, sizeof *out);
    if (root)
        yajl_tree_free(root);
    ce_free(copy);
    return rc;
}

int sink_version_check(const sink_info *info, char *err, size_t errlen)
{
    if (info->flavour == SINK_FLAVOUR_ELASTICSEARCH && info->major < 7) {
        snprintf(err, errlen,
                 "Elasticsearch %s is not supported: canal-es needs Elasticsearch 7 or later or OpenSearch "
                 "(older versions need a mapping type, _type)",
                 info->number);
        return -1;
    }
    return 0;
}

/* A hint for the TLS failures, appended to curl's message. */
static const char *sink_tls_hint(CURLcode cc)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return " (TLS: the node's certificate could not be verified: set ca_file to the CA that signed it, or "
               "verify = false)";
    case CURLE_SSL_CACERT_BADFILE:
        return " (TLS: ca_file cannot be used)";
    case CURLE_SSL_CERTPROBLEM:
        return " (TLS: cert_file/key_file cannot be used)";
    case CURLE_SSL_CONNECT_ERROR:
        return " (TLS handshake failed)";
    default:
        return "";
    }
}

/* One attempt on node i. SINK_OK with *status and the body in s->resp;
 * SINK_RETRY on a transport error (*aborted when the abort callback ended
 * it or the response was too large: no other node is tried); SINK_FATAL
 * when the URL does not fit. */
static sink_rc sink_perform(sink *s, size_t i, const sink_req *rq, long *status, int *aborted, char *err,
                            size_t errlen)
{
    const node *nd = &s->nodes.v[i];
    char url[SINK_URL_MAX];
    *aborted = 0;
    snprintf(s->base, sizeof s->base, "%s", nd->shown);
    snprintf(s->url, sizeof s->url, "%s%s", nd->shown, rq->path);
    int n = snprintf(url, sizeof url, "%s%s%s", nd->base, rq->path, rq->query != NULL ? rq->query : "");
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(err, errlen, "%s %s: URL too long", rq->method, s->url);
        return SINK_FATAL;
    }
    sink_resp_release(s);
    ce_buf_reset(&s->resp);
    s->resp_over = 0;
    s->retry_after_ms = 0;
    CURL *c = s->curl;
    curl_easy_reset(c); /* keeps the connection cache: keep-alive survives */
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->len : 0));
        if (strcmp(rq->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, rq->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SINK_MAX_RESPONSE); /* by Content-Length, early */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 5000 ? s->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sink_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (s->username != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password);
    }
    if (s->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    if (s->cert_file != NULL)
        curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert_file);
    if (s->key_file != NULL)
        curl_easy_setopt(c, CURLOPT_SSLKEY, s->key_file);
    if (s->no_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->gzip)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* gzip/deflate answers, decoded by curl */
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(c);
    if ((cc == CURLE_WRITE_ERROR && s->resp_over) || cc == CURLE_FILESIZE_EXCEEDED) {
        /* retried later, on this node: the node did nothing wrong */
        *aborted = 1;
        if (s->resp_over == 2)
            snprintf(err, errlen,
                     "%s %s: response not read: the responses in flight of all connections would need more than "
                     "%zu MiB together (%zu MiB in use)",
                     rq->method, s->url, atomic_load(&sink_resp_limit) >> 20, sink_response_bytes() >> 20);
        else
            snprintf(err, errlen, "%s %s: response not read: larger than %zu MiB", rq->method, s->url,
                     SINK_MAX_RESPONSE >> 20);
        sink_scrub(s, err);
        return SINK_RETRY;
    }
    if (cc != CURLE_OK) {
        *aborted = cc == CURLE_ABORTED_BY_CALLBACK;
        snprintf(err, errlen, "%s %s: %s%s", rq->method, s->url, cerr[0] ? cerr : curl_easy_strerror(cc),
                 sink_tls_hint(cc));
        sink_scrub(s, err);
        return SINK_RETRY;
    }
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_off_t ra = 0; /* seconds, from a Retry-After of either form */
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        s->retry_after_ms = ra > 86400 ? 86400000LL : (long long)ra * 1000;
    return SINK_OK;
}

/* Sends rq to the next healthy node; after a transport error or a 5xx the
 * node is skipped for a while and the request goes to the next healthy node
 * not tried yet. SINK_OK with *status (a 5xx only when no other node was
 * left to try); SINK_RETRY on a transport error of the last node tried or an
 * aborted transfer; SINK_FATAL when the URL does not fit. */
static sink_rc sink_send(sink *s, const sink_req *rq, long *status, char *err, size_t errlen)
{
    uint32_t tried = 0;
    sink_rc rc = SINK_RETRY;
    int i = node_pick(&s->nodes, sink_now_ms(), 0, 1);
    while (i >= 0) {
        int aborted = 0;
        tried |= UINT32_C(1) << i;
        rc = sink_perform(s, (size_t)i, rq, status, &aborted, err, errlen);
        if (rc == SINK_FATAL || aborted)
            return rc;
        if (rc == SINK_OK && *status < 500) {
            if (node_ok(&s->nodes, (size_t)i) && s->nodes.n > 1)
                ce_log(CE_LOG_INFO, "sink", "search node %s answers again", s->base);
            return SINK_OK;
        }
        uint64_t now = sink_now_ms();
        uint64_t skip = node_failed(&s->nodes, (size_t)i, now);
        int next = node_pick(&s->nodes, now, tried, 0);
        if (next >= 0) {
            char why[700];
            if (rc == SINK_OK) {
                char text[SINK_SNIPPET + 1];
                sink_snippet(s, text, sizeof text);
                snprintf(why, sizeof why, "%s %.300s: HTTP %ld: %s", rq->method, s->url, *status, text);
                sink_scrub(s, why);
            } else {
                snprintf(why, sizeof why, "%.*s", (int)(sizeof why - 1), err);
            }
            ce_log(CE_LOG_WARN, "sink", "%s; node %s skipped for %llu ms, trying %s", why, s->base,
                   (unsigned long long)skip, s->nodes.v[next].shown);
        }
        i = next;
    }
    return rc;
}

/* The credential kind, for messages (never the credential itself). */
static const char *sink_cred_name(const sink *s)
{
    if (s->api_key != NULL)
        return "api_key";
    if (s->username != NULL)
        return "username/password";
    return NULL;
}

/* Classifies a non-2xx status of the request to s->url: 401/403 fatal,
 * 413 too large, anything else retried. */
static sink_rc sink_bad_status(sink *s, const char *method, long status, char *err, size_t errlen)
{
    char text[SINK_SNIPPET + 1];
    sink_rc rc = SINK_RETRY;
    const char *cred = sink_cred_name(s);
    sink_snippet(s, text, sizeof text);
    if (status == 401 && cred != NULL) {
        snprintf(err, errlen, "%s %s: HTTP 401: the node refused the %s credentials: %s", method, s->url, cred,
                 text);
        rc = SINK_FATAL;
    } else if (status == 401) {
        snprintf(err, errlen, "%s %s: HTTP 401: the node needs credentials (set username and password, or api_key): %s",
                 method, s->url, text);
        rc = SINK_FATAL;
    } else if (status == 403 && cred != NULL) {
        snprintf(err, errlen,
                 "%s %s: HTTP 403: the node refused this request with the %s credentials (wrong credentials or a "
                 "missing privilege): %s",
                 method, s->url, cred, text);
        rc = SINK_FATAL;
    } else if (status == 403) {
        snprintf(err, errlen, "%s %s: HTTP 403: forbidden (no credentials configured): %s", method, s->url, text);
        rc = SINK_FATAL;
    } else if (status == 413) {
        snprintf(err, errlen, "%s %s: HTTP 413: request too large: %s", method, s->url, text);
        rc = SINK_TOO_LARGE;
    } else {
        snprintf(err, errlen, "%s %s: HTTP %ld: %s", method, s->url, status, text);
    }
    sink_scrub(s, err);
    return rc;
}

sink_rc sink_detect(sink *s, char *err, size_t errlen)
{
    sink_req rq = {.method = "GET", .path = "/", .headers = s->json_headers};
    long status = 0;
    char text[SINK_SNIPPET + 1];
    char perr[256];
    sink_rc rc = sink_send(s, &rq, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status == 401 || status == 429 || status >= 500)
        return sink_bad_status(s, "GET", status, err, errlen);
    sink_info info;
    if (status < 200 || status >= 300) {
        sink_snippet(s, text, sizeof text);
        sink_scrub(s, text);
        ce_log(CE_LOG_WARN, "sink", "GET %s: HTTP %ld: the node does not tell its version (%s%s); continuing", s->url,
               status, status == 403 ? "the credentials may lack the monitor privilege: " : "", text);
        s->info.detected = 1;
        return SINK_OK;
    }
    if (sink_parse_version(s->resp.data ? (const char *)s->resp.data : "", s->resp.len, &info, perr, sizeof perr) !=
        0) {
        ce_log(CE_LOG_WARN, "sink", "GET %s: %s: the version of the node is unknown; continuing", s->url, perr);
        s->info.detected = 1;
        return SINK_OK;
    }
    if (sink_version_check(&info, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "search node %s: %s", s->base, perr);
        return SINK_FATAL;
    }
    s->info = info;
    ce_log(CE_LOG_INFO, "sink", "search node %s: %s %s", s->base, sink_flavour_name(info.flavour), info.number);
    return SINK_OK;
}

/* Detects the version before the first request when startup could not. */
static sink_rc sink_ready(sink *s, char *err, size_t errlen)
{
    return s->info.detected ? SINK_OK : sink_detect(s, err, errlen);
}

static sink_rc sink_bulk_once(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                              size_t errlen);

sink_rc sink_bulk(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                  size_t errlen)
{
    sink_rc rc = sink_bulk_once(s, body, len, actions, sum, err, errlen);
    sink_resp_release(s); /* read: a large buffer goes back to the budget at once */
    return rc;
}

static sink_rc sink_bulk_once(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                              size_t errlen)
{
    sum->items = sum->ok = sum->failed = sum->retry = sum->dead = sum->fatal = 0;
    sink_rc rc = sink_ready(s, err, errlen);
    if (rc != SINK_OK)
        return rc;
    sink_req rq = {.method = "POST", .path = "/_bulk", .query = SINK_BULK_FILTER, .headers = s->headers, .body = body,
                   .len = len};
    if (s->gzip) {
        char zerr[200];
        if (sink_gzip(body, len, &s->zbody, zerr, sizeof zerr) != 0) {
            snprintf(err, errlen, "POST %s/_bulk: %s", s->base, zerr);
            return SINK_RETRY;
        }
        rq.body = s->zbody.data;
        rq.len = s->zbody.len;
    }
    long status = 0;
    rc = sink_send(s, &rq, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status < 200 || status >= 300)
        return sink_bad_status(s, "POST", status, err, errlen);
    char perr[300];
    if (ce_buf_terminate(&s->resp) != 0) { /* the write callback kept room for it */
        snprintf(err, errlen, "POST %s: out of memory", s->url);
        return SINK_RETRY;
    }
    if (sink_parse_response(s->resp.data ? (const char *)s->resp.data : "", s->resp.len, sum, perr, sizeof perr) !=
        0) {
        snprintf(err, errlen, "POST %s: bad _bulk response: %s", s->url, perr);
        return SINK_RETRY;
    }
    if (sum->items != actions) {
        snprintf(err, errlen, "POST %s: %zu items in the response for %zu actions", s->url, sum->items, actions);
        return SINK_RETRY;
    }
    if (sum->failed > 0)
        snprintf(err, errlen, "POST %s: %zu of %zu items failed; first: index %s id %s status %d %s: %s", s->url,
                 sum->failed, sum->items, sum->fail_index, sum->fail_id, sum->fail_status, sum->fail_type,
                 sum->fail_reason);
    return SINK_OK;
}

sink_rc sink_request(sink *s, const char *method, const char *path, const void *body, size_t len, long *status,
                     const char **resp, size_t *resp_len, char *err, size_t errlen)
{
    char p[SINK_URL_MAX - NODE_URL_MAX];
    int n = snprintf(p, sizeof p, "%s%s", path[0] == '/' ? "" : "/", path);
    if (n < 0 || (size_t)n >= sizeof p) {
        snprintf(err, errlen, "%s %s%.100s...: URL too long", method, s->base, path);
        return SINK_FATAL;
    }
    /* the version first, unless that is the question */
    sink_rc rc = strcmp(method, "GET") == 0 && strcmp(p, "/") == 0 ? SINK_OK : sink_ready(s, err, errlen);
    if (rc != SINK_OK)
        return rc;
    sink_req rq = {.method = method, .path = p, .headers = s->json_headers, .body = body, .len = len};
    rc = sink_send(s, &rq, status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (ce_buf_terminate(&s->resp) != 0) {
        snprintf(err, errlen, "%s %s: out of memory", method, s->url);
        return SINK_RETRY;
    }
    *resp = s->resp.data ? (const char *)s->resp.data : "";
    *resp_len = s->resp.len;
    if (*status == 401 || *status == 403)
        return sink_bad_status(s, method, *status, err, errlen);
    return SINK_OK;
}

sink_rc sink_delete_all(sink *s, const char *index, long long *deleted, char *err, size_t errlen)
{
    static const char body[] = "{\"query\":{\"match_all\":{}}}";
    char path[1024];
    *deleted = 0;
    if (sink_index_path(index, "/_delete_by_query?conflicts=proceed&refresh=true", path, sizeof path) != 0) {
        snprintf(err, errlen, "delete_by_query: URL too long for index %.300s", index);
        return SINK_FATAL;
    }
    char rpath[1024];
    if (sink_index_path(index, "/_refresh", rpath, sizeof rpath) != 0) {
        snprintf(err, errlen, "delete_by_query: URL too long for index %.300s", index);
        return SINK_FATAL;
    }
    sink_rc rc = sink_ready(s, err, errlen);
    if (rc != SINK_OK)
        return rc;
    /* _delete_by_query only sees what a refresh made searchable: documents indexed since the last
     * refresh (the rows written just before the TRUNCATE) would survive it */
    sink_req rr = {.method = "POST", .path = rpath, .headers = s->json_headers, .body = "", .len = 0};
    long status = 0;
    rc = sink_send(s, &rr, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status == 404)
        return SINK_OK; /* no such index: nothing to delete */
    if (status < 200 || status >= 300)
        return sink_bad_status(s, "POST", status, err, errlen);
    sink_req rq = {.method = "POST", .path = path, .headers = s->json_headers, .body = body, .len = sizeof body - 1};
    rc = sink_send(s, &rq, &status, err, errlen);
    if (rc != SINK_OK)
        return rc;
    if (status == 404)
        return SINK_OK; /* no such index: nothing to delete */
    if (status == 400 && sink_resp_has(s, "no handler found for uri")) {
        /* a node without the reindex module (it brings _delete_by_query): retrying cannot help */
        snprintf(err, errlen,
                 "POST %s: HTTP 400: the node has no _delete_by_query (its reindex module is missing), so a TRUNCATE "
                 "or DROP TABLE cannot be applied: install the module, or set on_truncate = ignore (on_drop = ignore) "
                 "for the table",
                 s->url);
        sink_scrub(s, err);
        return SINK_FATAL;
    }
    if (status < 200 || status >= 300)
        return sink_bad_status(s, "POST", status, err, errlen);
    char perr[256] = "";
    if (ce_buf_terminate(&s->resp) != 0) {
        snprintf(err, errlen, "POST %s: out of memory", s->url);
        return SINK_RETRY;
    }
    yajl_val root = yajl_tree_parse(s->resp.data ? (const char *)s->resp.data : "", perr, sizeof perr);
    static const char *deleted_path[] = {"deleted", NULL};
    static const char *failures_path[] = {"failures", NULL};
    yajl_val d = root ? yajl_tree_get(root, deleted_path, yajl_t_number) : NULL;
    yajl_val f = root ? yajl_tree_get(root, failures_path, yajl_t_array) : NULL;
    rc = SINK_OK;
    if (d == NULL || !YAJL_IS_INTEGER(d)) {
        snprintf(err, errlen, "POST %s: unexpected response %.200s", s->url, (const char *)s->resp.data);
        rc = SINK_RETRY;
    } else if (f != NULL && f->u.array.len > 0) {
        snprintf(err, errlen, "POST %s: %zu failures, e.g. %.300s", s->url, f->u.array.len,
                 (const char *)s->resp.data);
        rc = SINK_RETRY;
    } else {
        *deleted = YAJL_GET_INTEGER(d);
    }
    if (root)
        yajl_tree_free(root);
    return rc;
}
