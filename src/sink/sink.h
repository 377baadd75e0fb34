/* sink: sends `_bulk` bodies with libcurl (keep-alive, x-ndjson, optionally
 * gzip) to one of the configured nodes and checks every item of the
 * response. Several URLs: round-robin over the healthy nodes; a node that
 * fails (transport error, TLS error, 5xx) is skipped for a while and the
 * request goes to the next one (sink/node.h). Credentials: basic auth or an
 * API key; TLS: CA file, client certificate, or no verification. The node's
 * distribution and version are read with `GET /` (sink_detect), at startup
 * or else before the first request.
 * The pure parts (response, version JSON, headers, gzip) are tested and
 * fuzzed without a network.
 * Result classes (ce_result kinds, util/result.h): SINK_OK (every item
 * applied; a delete of a missing document counts as applied), SINK_RETRY (transport error, non-2xx status,
 * any failed item, or a response the process has no room for: see
 * sink_set_response_limit), SINK_FATAL (401/403: credentials are wrong;
 * an unsupported node version).
 * Every index name put into a URL path goes through sink_index_path.
 * Messages name the node URL used (never a password or an API key). The
 * sink logs (component "sink") the detected version at INFO, a failover
 * and a node coming back at WARN/INFO, and verify = false at WARN. */
#ifndef CE_SINK_SINK_H
#define CE_SINK_SINK_H

#include <stddef.h>

#include "util/result.h"

/* Results are the project's kinds (util/result.h); the SINK_ names stay for
 * the callers. sink_bulk's CE_PERMANENT is SINK_TOO_LARGE and nothing
 * else: the node refused the body's size (413), so the request as it is can
 * never succeed (send it in smaller parts); a node that refuses a document
 * answers per item (SINK_ITEM_DEAD). A transfer that sink_set_abort's
 * function ended is SINK_RETRY (the caller knows it stopped it). */
typedef ce_result sink_rc;
#define SINK_OK CE_OK
#define SINK_RETRY CE_RETRY         /* whole request failed: transport, timeout, 429, 5xx, bad response */
#define SINK_FATAL CE_FATAL         /* 401/403, an unsupported node */
#define SINK_TOO_LARGE CE_PERMANENT /* 413: send smaller requests */

/* What to do with one bulk item, as a result kind. */
typedef ce_result sink_item_class;
#define SINK_ITEM_OK CE_OK           /* applied; a delete of a missing doc; a version conflict (already newer) */
#define SINK_ITEM_RETRY CE_RETRY     /* 429, 5xx, cluster_block_exception, a status outside 100-599: send it again */
#define SINK_ITEM_DEAD CE_PERMANENT  /* other 4xx (mapping, parsing): dead letter or halt */
#define SINK_ITEM_FATAL CE_FATAL     /* 401/403: credentials */

typedef struct sink_item {
    sink_item_class cls;
    int status;
    char type[96];
    char reason[320];
} sink_item;

sink_item_class sink_classify_item(const char *op, int status, const char *error_type);

typedef struct sink_summary {
    sink_item *item;     /* optional, set by the caller: per-item results */
    size_t item_cap;
    size_t items;
    size_t ok;
    size_t failed;       /* items not OK */
    size_t retry, dead, fatal;
    /* the first failed item */
    int fail_status;
    char fail_index[128];
    char fail_id[128];
    char fail_type[128];
    char fail_reason[256];
} sink_summary;

typedef struct sink sink;

struct cfg_es;

typedef struct sink_opts {
    const char *url;       /* one URL or several, comma-separated */
    long timeout_ms;       /* one HTTP request, connect included */
    const char *username;  /* basic auth when not NULL/"" */
    const char *password;
    const char *api_key;   /* "Authorization: ApiKey <api_key>" when not NULL/"" */
    const char *ca_file;   /* CA bundle for the node's certificate; NULL/"" = system CAs */
    const char *cert_file; /* client certificate and its key (PEM); NULL/"" = none */
    const char *key_file;
    int no_verify;         /* 1: neither the certificate nor the host name is checked */
    int gzip;              /* 1: _bulk bodies are sent gzip-compressed */
} sink_opts;

typedef enum { SINK_FLAVOUR_UNKNOWN = 0, SINK_FLAVOUR_ELASTICSEARCH, SINK_FLAVOUR_OPENSEARCH } sink_flavour;

/* What `GET /` told about the node. */
typedef struct sink_info {
    int detected;        /* 0 until a node answered GET / (or refused to say: flavour stays unknown) */
    sink_flavour flavour;
    int major, minor;    /* 0 when unknown */
    char number[32];     /* version.number as the node gave it ("" when unknown) */
} sink_info;

/* -1 with err on a bad URL list or when out of memory; no network. */
sink *sink_open(const sink_opts *o, char *err, size_t errlen);
/* The options of the [elasticsearch] transport keys of the configuration
 * (pointers into *es, which must outlive the sink_open call). These two are
 * defined by the adapter (opts.c: the sink reads no configuration) and
 * declared here for their callers. */
void sink_opts_from_cfg(sink_opts *o, const struct cfg_es *es);
/* sink_open with sink_opts_from_cfg. */
sink *sink_new_cfg(const struct cfg_es *es, char *err, size_t errlen);
/* sink_open with URL(s) and timeout only (no credentials, default TLS). */
sink *sink_new(const char *url, long timeout_ms, char *err, size_t errlen);
void sink_free(sink *s);
/* fn(ud) is polled during every transfer; non-zero aborts it (SINK_RETRY). */
void sink_set_abort(sink *s, int (*fn)(void *ud), void *ud);
/* Retry-After of the last response (429/503), in ms; 0 when it had none. */
long long sink_retry_after_ms(const sink *s);
/* Parses a _bulk response; -1 with err when it is not one. The caller's
 * item/item_cap survive (they are not cleared). */
int sink_parse_response(const char *json, size_t len, sink_summary *sum, char *err, size_t errlen);
/* POSTs the body; `actions` is the number of actions in it. SINK_OK means
 * every item has a result in *sum (which may include failed items: see the
 * per-item classes); SINK_RETRY a whole-request failure (transport, 429,
 * 5xx, bad response); SINK_FATAL credentials refused; SINK_TOO_LARGE
 * the node refused the body's size (413). */
sink_rc sink_bulk(sink *s, const void *body, size_t len, size_t actions, sink_summary *sum, char *err,
                  size_t errlen);
/* One request to the node: base URL + path, JSON body (POST/PUT) or none.
 * SINK_OK with *status and the response (NUL-terminated, valid until the
 * next request); SINK_RETRY on a transport error; SINK_FATAL on 401/403. */
sink_rc sink_request(sink *s, const char *method, const char *path, const void *body, size_t len, long *status,
                     const char **resp, size_t *resp_len, char *err, size_t errlen);
/* The node URL without a trailing '/'. */
const char *sink_base_url(const sink *s);
/* Deletes every document of `index` (_delete_by_query, conflicts=proceed,
 * refresh). A missing index counts as done. */
sink_rc sink_delete_all(sink *s, const char *index, long long *deleted, char *err, size_t errlen);

/* GET / on a node (failing over like any request): reads the distribution
 * and version and logs them. SINK_OK when known, or when the node refuses
 * to say (403, 404, not JSON: logged, the version stays unknown); SINK_RETRY
 * when no node answered (sink_bulk and sink_delete_all try again first);
 * SINK_FATAL on 401 or Elasticsearch older than 7. */
sink_rc sink_detect(sink *s, char *err, size_t errlen);
/* What was detected so far (detected = 0 before). */
sink_info sink_node_info(const sink *s);
/* Takes what `from` detected (several sinks to the same nodes ask once). */
void sink_adopt_info(sink *s, const sink *from);
/* The node URL of the last request, without user:password ("" before any). */
const char *sink_last_url(const sink *s);
/* Response buffers: all sinks of the process together hold at most this
 * many bytes (default 256 MiB, also the limit of one response); a response
 * that would need more is not read (SINK_RETRY, the node is not skipped).
 * sink_response_bytes: what they hold now. For tests and the docs. */
void sink_set_response_limit(size_t bytes);
size_t sink_response_bytes(void);

/* Pure helpers, exposed for the tests. */
struct curl_slist;
struct ce_buf;
/* version.distribution and version.number of a `GET /` answer. */
int sink_parse_version(const char *json, size_t len, sink_info *out, char *err, size_t errlen);
/* -1 with err when the node is too old (Elasticsearch before 7). */
int sink_version_check(const sink_info *info, char *err, size_t errlen);
const char *sink_flavour_name(sink_flavour f);
/* Request headers: Content-Type (when not NULL), "Expect:" (no 100-continue),
 * Content-Encoding: gzip (when gzip), Authorization: ApiKey (when api_key is
 * not NULL/""). NULL when out of memory; free with curl_slist_free_all. */
struct curl_slist *sink_build_headers(const char *content_type, int gzip, const char *api_key);
/* out = gzip of [in, in + len) (replacing its content). -1 with err. */
int sink_gzip(const void *in, size_t len, struct ce_buf *out, char *err, size_t errlen);
/* Replaces every occurrence of secret (4 bytes or more) in msg by "***". */
void sink_redact(char *msg, const char *secret);
/* name as one URL path segment: every byte but A-Z a-z 0-9 - . _ ~ is
 * percent-encoded ("%" -> "%25", "*" -> "%2A"), so the node never reads a
 * wildcard, a list or another path out of it. -1 (out "") when name is "",
 * "." or ".." or the result does not fit. */
int sink_path_segment(const char *name, char *out, size_t outlen);
/* "/" + sink_path_segment(index) + rest ("" or starting with '/' or '?'):
 * every path that names an index is built here. -1 as above. */
int sink_index_path(const char *index, const char *rest, char *out, size_t outlen);

#endif
