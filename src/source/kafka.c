/* source/kafka: the librdkafka consumer behind source.h (see kafka.h).
 * Owns the rd_kafka_t, the open batches' offsets (kafka_off) and the
 * records of every batch not yet freed (kbatch). */
#include "source/kafka.h"
#include "source/kafka_off.h"
#include "source/kafka_rec.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KAFKA_SLICE_MS 100        /* polls are cut in slices that watch the stop flag */
#define KAFKA_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define KAFKA_LAG_EVERY_MS 1000   /* watermarks read into stats at most this often */
#define KAFKA_MAX_ASSIGNED 1024

typedef struct kafka_src {
    kafka_opts o;
    char *brokers, *topic, *group_id, *client_id, *ca_file, *cert_file, *key_file, *mech, *user, *pass;
    rd_kafka_t *rk;
    koff off;
    bool rebalanced;          /* set by the rebalance callback (inside a poll) */
    rd_kafka_message_t *pending; /* returned by the poll that assigned: the first record of the new assignment */
    char rebalance_what[512];
    _Atomic int brokers_down; /* error callback: all brokers down */
    struct {
        char topic[STATS_TOPIC_NAME];
        int32_t partition;
        ce_stats_kpart *st;
    } assigned[KAFKA_MAX_ASSIGNED];
    size_t n_assigned;
    uint64_t lag_at_ms;
    char what[600];
} kafka_src;

/* A batch: its entries point into its records. */
typedef struct kbatch {
    src_batch b;
    krec *recs;
    size_t n_recs, cap_recs;
    src_entry *entries;
    size_t n_entries, cap_entries;
} kbatch;

static void kbatch_free(kbatch *kb)
{
    if (kb == NULL)
        return;
    for (size_t i = 0; i < kb->n_recs; i++)
        krec_free(&kb->recs[i]);
    ce_free(kb->recs);
    ce_free(kb->entries);
    ce_free(kb);
}

/* ---- callbacks ------------------------------------------------------------ */

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* syslog levels: 0..3 errors, 4 warnings; librdkafka logs a broker it cannot reach at 3 on every attempt,
     * which the error callback and /health report once */
    ce_log(level <= 4 ? CE_LOG_WARN : CE_LOG_DEBUG, "kafka", "%s: %s", fac, buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    kafka_src *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&k->brokers_down, 1);
    ce_log(CE_LOG_WARN, "kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                            void *opaque)
{
    (void)rk;
    kafka_src *k = opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        ce_log(CE_LOG_WARN, "kafka", "offset commit of group %s failed: %s (committed again with the next one)",
               k->group_id, rd_kafka_err2str(err));
    if (offsets == NULL || k->o.stats == NULL)
        return;
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0)
            continue;
        ce_stats_kpart *sp = stats_kpart(k->o.stats, tp->topic, tp->partition);
        if (sp != NULL)
            atomic_store(&sp->committed, tp->offset);
    }
}

/* The partitions of a list, "t[0,1,2]" style, for the log line. */
static void kafka_list_text(const rd_kafka_topic_partition_list_t *l, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    const char *prev = NULL;
    for (int i = 0; l != NULL && i < l->cnt && n + 16 < outlen; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        bool same = prev != NULL && strcmp(prev, tp->topic) == 0;
        int w = same ? snprintf(out + n, outlen - n, ",%d", (int)tp->partition)
                     : snprintf(out + n, outlen - n, "%s%s[%d", prev ? "] " : "", tp->topic, (int)tp->partition);
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
        prev = tp->topic;
    }
    if (prev != NULL && n + 1 < outlen)
        snprintf(out + n, outlen - n, "]");
    if (l == NULL || l->cnt == 0)
        snprintf(out, outlen, "none");
}

static void kafka_set_assigned(kafka_src *k, const rd_kafka_topic_partition_list_t *l)
{
    for (size_t i = 0; i < k->n_assigned; i++)
        if (k->assigned[i].st != NULL)
            atomic_store(&k->assigned[i].st->assigned, 0);
    k->n_assigned = 0;
    for (int i = 0; l != NULL && i < l->cnt && k->n_assigned < KAFKA_MAX_ASSIGNED; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        size_t j = k->n_assigned++;
        snprintf(k->assigned[j].topic, sizeof k->assigned[j].topic, "%s", tp->topic);
        k->assigned[j].partition = tp->partition;
        k->assigned[j].st = k->o.stats != NULL ? stats_kpart(k->o.stats, tp->topic, tp->partition) : NULL;
        if (k->assigned[j].st != NULL)
            atomic_store(&k->assigned[j].st->assigned, 1);
    }
    k->lag_at_ms = 0;
}

/* Eager (range) protocol: the whole assignment is revoked, then assigned. On
 * revoke the stored offsets (of acked batches only) are committed at once,
 * so the next owner starts right after what was indexed; every open batch
 * is forgotten (its offsets are never stored). */
static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                               void *opaque)
{
    kafka_src *k = opaque;
    char list[400];
    kafka_list_text(parts, list, sizeof list);
    koff_forget(&k->off);
    k->rebalanced = true;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_resp_err_t ae = rd_kafka_assign(rk, parts);
        kafka_set_assigned(k, ae == RD_KAFKA_RESP_ERR_NO_ERROR ? parts : NULL);
        snprintf(k->rebalance_what, sizeof k->rebalance_what, "group %s: partitions assigned: %s%s%s", k->group_id,
                 list, ae ? " (assign failed: " : "", ae ? rd_kafka_err2str(ae) : "");
        if (ae != RD_KAFKA_RESP_ERR_NO_ERROR)
            snprintf(k->rebalance_what + strlen(k->rebalance_what),
                     sizeof k->rebalance_what - strlen(k->rebalance_what), ")");
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk)) {
        rd_kafka_resp_err_t ce = rd_kafka_commit(rk, NULL, 0);
        if (ce != RD_KAFKA_RESP_ERR_NO_ERROR && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
            ce_log(CE_LOG_WARN, "kafka", "group %s: commit on revoke failed: %s (the next owner reads those records "
                                         "again)",
                   k->group_id, rd_kafka_err2str(ce));
    }
    snprintf(k->rebalance_what, sizeof k->rebalance_what, "group %s: partitions %s: %s", k->group_id,
             err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? (rd_kafka_assignment_lost(rk) ? "lost" : "revoked")
                                                          : rd_kafka_err2str(err),
             list);
    rd_kafka_assign(rk, NULL);
    kafka_set_assigned(k, NULL);
}

/* ---- setup ---------------------------------------------------------------- */

static int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errlen)
{
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka: %s: %s", name, why);
        return -1;
    }
    return 0;
}

/* The librdkafka configuration of o (a consumer when group is set). */
static rd_kafka_conf_t *kafka_conf(const kafka_opts *o, bool consumer, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    char num[32];
    const char *proto = o->sasl_mechanism[0] != '\0' ? (o->tls ? "sasl_ssl" : "sasl_plaintext")
                                                      : (o->tls ? "ssl" : "plaintext");
    int rc = kafka_set(conf, "bootstrap.servers", o->brokers, err, errlen);
    rc |= rc ? 0 : kafka_set(conf, "client.id", o->client_id, err, errlen);
    rc |= rc ? 0 : kafka_set(conf, "group.id", o->group_id, err, errlen);
    rc |= rc ? 0 : kafka_set(conf, "security.protocol", proto, err, errlen);
    if (rc == 0 && o->tls) {
        if (o->ca_file[0] != '\0')
            rc |= kafka_set(conf, "ssl.ca.location", o->ca_file, err, errlen);
        if (rc == 0 && o->cert_file[0] != '\0')
            rc |= kafka_set(conf, "ssl.certificate.location", o->cert_file, err, errlen);
        if (rc == 0 && o->key_file[0] != '\0')
            rc |= kafka_set(conf, "ssl.key.location", o->key_file, err, errlen);
        if (rc == 0)
            rc |= kafka_set(conf, "enable.ssl.certificate.verification", o->verify ? "true" : "false", err, errlen);
        if (rc == 0 && !o->verify)
            rc |= kafka_set(conf, "ssl.endpoint.identification.algorithm", "none", err, errlen);
    }
    if (rc == 0 && o->sasl_mechanism[0] != '\0') {
        rc |= kafka_set(conf, "sasl.mechanisms", o->sasl_mechanism, err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "sasl.username", o->username, err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "sasl.password", o->password, err, errlen);
    }
    if (rc == 0 && consumer) {
        snprintf(num, sizeof num, "%ld", o->session_timeout_ms);
        rc |= kafka_set(conf, "session.timeout.ms", num, err, errlen);
        /* at-least-once: an offset is stored by the ack of its batch only, and what is stored is committed */
        rc |= rc ? 0 : kafka_set(conf, "enable.auto.offset.store", "false", err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "enable.auto.commit", "true", err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "auto.commit.interval.ms", "1000", err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "auto.offset.reset", "earliest", err, errlen);
        /* librdkafka 2.0.2's cooperative-sticky assignor has known bugs (fixed in 2.3-2.10) */
        rc |= rc ? 0 : kafka_set(conf, "partition.assignment.strategy", "range", err, errlen);
        rc |= rc ? 0 : kafka_set(conf, "enable.partition.eof", "false", err, errlen);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    return conf;
}

/* Brokers answer a metadata request within timeout_ms: 0, or -1 with err. */
static int kafka_reachable(rd_kafka_t *rk, const char *brokers, long timeout_ms, int *n_brokers, char *err,
                           size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, NULL, &md, (int)timeout_ms);
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka brokers %s: no answer to a metadata request within %ld ms: %s", brokers,
                 timeout_ms, rd_kafka_err2str(me));
        return -1;
    }
    if (n_brokers != NULL)
        *n_brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void kafka_close(kafka_src *k)
{
    if (k->rk == NULL)
        return;
    if (k->pending != NULL)
        rd_kafka_message_destroy(k->pending);
    k->pending = NULL;
    rd_kafka_consumer_close(k->rk); /* commits what is stored, leaves the group (revoke callback) */
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    koff_forget(&k->off);
    kafka_set_assigned(k, NULL);
}

/* The topic list as librdkafka wants it (a ^REGEX item subscribes by pattern). */
static rd_kafka_topic_partition_list_t *kafka_topics(const char *topics)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char item[256];
    for (const char *q = topics; l != NULL && *q;) {
        size_t n = strcspn(q, ",");
        const char *s = q;
        size_t len = n;
        while (len > 0 && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0 && len < sizeof item) {
            memcpy(item, s, len);
            item[len] = '\0';
            rd_kafka_topic_partition_list_add(l, item, RD_KAFKA_PARTITION_UA);
        }
        q += n;
        if (*q == ',')
            q++;
    }
    return l;
}

static src_rc kf_connect(void *impl, char *err, size_t errlen)
{
    kafka_src *k = impl;
    kafka_close(k); /* a reconnect: the batches in hand were forgotten, the new member starts at the commits */
    rd_kafka_conf_t *conf = kafka_conf(&k->o, true, err, errlen);
    if (conf == NULL)
        return SRC_ERR_SERVER;
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, kafka_commit_cb);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (k->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka: cannot create the consumer: %s", why);
        return SRC_ERR_SERVER;
    }
    rd_kafka_poll_set_consumer(k->rk);
    atomic_store(&k->brokers_down, 0);
    if (kafka_reachable(k->rk, k->brokers, k->o.connect_timeout_ms, NULL, err, errlen) != 0) {
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
        return SRC_ERR_IO;
    }
    rd_kafka_topic_partition_list_t *topics = kafka_topics(k->topic);
    rd_kafka_resp_err_t se = topics != NULL ? rd_kafka_subscribe(k->rk, topics) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (topics != NULL)
        rd_kafka_topic_partition_list_destroy(topics);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: subscribe to topic %s: %s", k->topic, rd_kafka_err2str(se));
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
        return SRC_ERR_SERVER;
    }
    if (k->o.stats != NULL)
        atomic_store(&k->o.stats->source_kafka, 1);
    return SRC_OK;
}

/* ---- get -------------------------------------------------------------------- */

/* Watermarks of the assigned partitions into stats (at most once a second). */
static void kafka_update_lag(kafka_src *k)
{
    uint64_t now = ce_mono_ms();
    if (k->o.stats == NULL || (k->lag_at_ms != 0 && now - k->lag_at_ms < KAFKA_LAG_EVERY_MS))
        return;
    k->lag_at_ms = now;
    for (size_t i = 0; i < k->n_assigned; i++) {
        int64_t lo = -1, hi = -1;
        if (k->assigned[i].st != NULL &&
            rd_kafka_get_watermark_offsets(k->rk, k->assigned[i].topic, k->assigned[i].partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0)
            atomic_store(&k->assigned[i].st->high, hi);
    }
}

/* One record into the batch. SRC_OK, or SRC_ERR_FORMAT / SRC_ERR_IO (no memory) with err. */
static src_rc kafka_take(kafka_src *k, kbatch *kb, const rd_kafka_message_t *msg, char *err, size_t errlen)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    char why[600];
    if (kb->n_recs == kb->cap_recs) {
        size_t cap = kb->cap_recs ? kb->cap_recs * 2 : 16;
        krec *nr = ce_realloc(kb->recs, cap * sizeof *nr);
        if (nr == NULL)
            goto oom;
        kb->recs = nr;
        kb->cap_recs = cap;
    }
    krec *r = &kb->recs[kb->n_recs];
    krec_rc rr = krec_parse(msg->payload, msg->len, r, why, sizeof why);
    if (rr == KREC_NOMEM)
        goto oom;
    if (rr != KREC_OK) {
        snprintf(err, errlen, "kafka record %s/%d at offset %lld is %s", topic, (int)msg->partition,
                 (long long)msg->offset, why);
        return SRC_ERR_FORMAT;
    }
    kb->n_recs++;
    if (kb->n_entries + r->n > kb->cap_entries) {
        size_t cap = kb->cap_entries ? kb->cap_entries : 64;
        while (cap < kb->n_entries + r->n)
            cap *= 2;
        src_entry *ne = ce_realloc(kb->entries, cap * sizeof *ne);
        if (ne == NULL)
            goto oom;
        kb->entries = ne;
        kb->cap_entries = cap;
    }
    for (size_t i = 0; i < r->n; i++) {
        size_t len;
        const uint8_t *p = krec_entry(r, i, &len);
        kb->entries[kb->n_entries++] = (src_entry){.p = p, .len = len};
    }
    kb->b.bytes += msg->len;
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(msg, &tt);
    if (koff_add(&k->off, topic, msg->partition, msg->offset, ts > 0 ? ts : 0, err, errlen) != 0)
        return SRC_ERR_IO;
    return SRC_OK;
oom:
    snprintf(err, errlen, "kafka: out of memory for a batch of %zu records", kb->n_recs);
    return SRC_ERR_IO;
}

/* A consumer error of a poll: logged; fatal ones end the source. */
static src_rc kafka_poll_error(kafka_src *k, const rd_kafka_message_t *msg, char *err, size_t errlen)
{
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return SRC_OK;
    char why[512];
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(k->rk, why, sizeof why) != 0) {
        snprintf(err, errlen, "kafka: fatal consumer error: %s", why);
        return SRC_ERR_SERVER;
    }
    if (msg->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        msg->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        snprintf(err, errlen, "kafka: %s (topic %s, group %s)", rd_kafka_message_errstr(msg), k->topic, k->group_id);
        return SRC_ERR_AUTH;
    }
    ce_log(CE_LOG_WARN, "kafka", "consumer: %s%s%s", rd_kafka_message_errstr(msg),
           msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? "; waiting for topic " : "",
           msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? k->topic : "");
    return SRC_OK;
}

static src_rc kf_get(void *impl, src_wait mode, src_batch **out, char *err, size_t errlen)
{
    kafka_src *k = impl;
    *out = NULL;
    if (k->rk == NULL) {
        snprintf(err, errlen, "kafka: not connected");
        return SRC_ERR_IO;
    }
    kbatch *kb = ce_calloc(1, sizeof *kb);
    int64_t id = 0;
    if (kb == NULL || koff_begin(&k->off, &id) != 0) {
        ce_free(kb);
        snprintf(err, errlen, "kafka: out of memory or more than %d batches open", KOFF_MAX_BATCHES);
        return SRC_ERR_IO;
    }
    kb->b.id = id;
    src_rc rc = SRC_OK;
    size_t max_bytes = k->o.max_bytes ? k->o.max_bytes : KAFKA_DEFAULT_MAX_BYTES;
    uint64_t wait_ms = mode == SRC_GET_NOW ? 0 : (uint64_t)k->o.poll_timeout_ms;
    uint64_t end = ce_mono_ms() + wait_ms;
    size_t records = 0;
    k->rebalanced = false;
    while (rc == SRC_OK && records < (size_t)k->o.max_poll_records && kb->b.bytes < max_bytes) {
        if (k->o.stop != NULL && *k->o.stop) {
            rc = SRC_ERR_INTR;
            snprintf(err, errlen, "kafka: poll interrupted by a stop request");
            break;
        }
        uint64_t now = ce_mono_ms();
        int t = 0;
        if (records == 0 && now < end)
            t = (int)(end - now > KAFKA_SLICE_MS ? KAFKA_SLICE_MS : end - now);
        rd_kafka_message_t *msg = k->pending;
        k->pending = NULL;
        if (msg == NULL)
            msg = rd_kafka_consumer_poll(k->rk, t);
        if (k->rebalanced) {
            /* The records taken before belong to the old assignment: dropped, their partitions are read again
             * from the committed offsets. A record the same poll returned after the callback is the first one
             * of the new assignment (its position has moved past it): kept for the next round. */
            k->pending = msg;
            snprintf(err, errlen, "%s", k->rebalance_what);
            rc = SRC_ERR_REBALANCE;
            break;
        }
        if (msg == NULL) {
            if (records > 0 || ce_mono_ms() >= end)
                break;
            continue;
        }
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = kafka_poll_error(k, msg, err, errlen);
        else {
            atomic_store(&k->brokers_down, 0);
            rc = kafka_take(k, kb, msg, err, errlen);
            records++;
        }
        rd_kafka_message_destroy(msg);
    }
    kafka_update_lag(k);
    if (k->o.stats != NULL)
        CE_STAT_SET(k->o.stats, canal_connected, atomic_load(&k->brokers_down) ? 0 : 1);
    if (rc != SRC_OK || records == 0) {
        if (rc != SRC_ERR_REBALANCE)
            koff_drop_last(&k->off); /* a rebalance forgot it already */
        kbatch_free(kb);
        return rc;
    }
    kb->b.n = kb->n_entries;
    kb->b.entries = kb->entries;
    kb->b.priv = kb;
    *out = &kb->b;
    return SRC_OK;
}

static src_rc kf_ack(void *impl, int64_t batch_id, char *err, size_t errlen)
{
    kafka_src *k = impl;
    const koff_batch *b = NULL;
    if (koff_ack(&k->off, batch_id, &b, err, errlen) != 0)
        return SRC_ERR_ORDER;
    if (b->n == 0 || k->rk == NULL)
        return SRC_OK;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)b->n);
    if (l == NULL) {
        snprintf(err, errlen, "kafka: out of memory storing the offsets of batch %lld", (long long)batch_id);
        return SRC_ERR_IO;
    }
    for (size_t i = 0; i < b->n; i++)
        rd_kafka_topic_partition_list_add(l, b->marks[i].topic, b->marks[i].partition)->offset = b->marks[i].next;
    /* a partition revoked meanwhile answers __STATE: its records are read again by its new owner */
    rd_kafka_resp_err_t se = rd_kafka_offsets_store(k->rk, l);
    for (size_t i = 0; i < b->n && k->o.stats != NULL; i++) {
        if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        ce_stats_kpart *sp = stats_kpart(k->o.stats, b->marks[i].topic, b->marks[i].partition);
        if (sp != NULL) {
            atomic_store(&sp->stored, b->marks[i].next);
            if (b->marks[i].ts_ms > 0)
                atomic_store(&sp->last_ts_ms, b->marks[i].ts_ms);
        }
    }
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR)
        ce_log(CE_LOG_DEBUG, "kafka", "batch %lld: offsets not stored (%s): partitions no longer assigned",
               (long long)batch_id, rd_kafka_err2str(se));
    rd_kafka_topic_partition_list_destroy(l);
    return SRC_OK;
}

static void kf_batch_free(void *impl, src_batch *b)
{
    (void)impl;
    kbatch_free(b->priv);
}

static const char *kf_peer(const void *impl) { return ((const kafka_src *)impl)->brokers; }
static const char *kf_what(const void *impl) { return ((const kafka_src *)impl)->what; }

static void kf_free(void *impl)
{
    kafka_src *k = impl;
    if (k == NULL)
        return;
    kafka_close(k);
    koff_free(&k->off);
    ce_free(k->brokers);
    ce_free(k->topic);
    ce_free(k->group_id);
    ce_free(k->client_id);
    ce_free(k->ca_file);
    ce_free(k->cert_file);
    ce_free(k->key_file);
    ce_free(k->mech);
    ce_free(k->user);
    ce_free(k->pass);
    ce_free(k);
}

static const src_ops src_kafka_ops = {
    .kind = "kafka",
    .connect = kf_connect,
    .get = kf_get,
    .ack = kf_ack,
    .batch_free = kf_batch_free,
    .peer = kf_peer,
    .what = kf_what,
    .free = kf_free,
};

static char *kafka_dup(const char *s) { return ce_strdup(s != NULL ? s : ""); }

source *src_kafka_new(const kafka_opts *o)
{
    source *s = ce_calloc(1, sizeof *s);
    kafka_src *k = ce_calloc(1, sizeof *k);
    if (s == NULL || k == NULL)
        goto fail;
    koff_init(&k->off);
    k->o = *o;
    k->brokers = kafka_dup(o->brokers);
    k->topic = kafka_dup(o->topic);
    k->group_id = kafka_dup(o->group_id);
    k->client_id = kafka_dup(o->client_id);
    k->ca_file = kafka_dup(o->ca_file);
    k->cert_file = kafka_dup(o->cert_file);
    k->key_file = kafka_dup(o->key_file);
    k->mech = kafka_dup(o->sasl_mechanism);
    k->user = kafka_dup(o->username);
    k->pass = kafka_dup(o->password);
    if (!k->brokers || !k->topic || !k->group_id || !k->client_id || !k->ca_file || !k->cert_file || !k->key_file ||
        !k->mech || !k->user || !k->pass)
        goto fail;
    k->o.brokers = k->brokers;
    k->o.topic = k->topic;
    k->o.group_id = k->group_id;
    k->o.client_id = k->client_id;
    k->o.ca_file = k->ca_file;
    k->o.cert_file = k->cert_file;
    k->o.key_file = k->key_file;
    k->o.sasl_mechanism = k->mech;
    k->o.username = k->user;
    k->o.password = k->pass;
    if (k->o.max_poll_records < 1)
        k->o.max_poll_records = 1000;
    if (k->o.poll_timeout_ms < 1)
        k->o.poll_timeout_ms = 500;
    if (k->o.connect_timeout_ms < 1)
        k->o.connect_timeout_ms = 10000;
    snprintf(k->what, sizeof k->what, "topic %s as group %s", k->topic, k->group_id);
    s->ops = &src_kafka_ops;
    s->impl = k;
    return s;
fail:
    if (k != NULL)
        kf_free(k);
    ce_free(s);
    return NULL;
}

/* ---- probe (check-config, status) --------------------------------------------------- */

int kafka_probe_run(const kafka_opts *o, long timeout_ms, kafka_probe *p)
{
    memset(p, 0, sizeof *p);
    p->group_members = -1;
    char why[512];
    int rc = -1;
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_conf_t *conf = kafka_conf(o, true, p->err, sizeof p->err);
    if (conf == NULL)
        return -1;
    /* a consumer handle that never subscribes: it reads metadata and the group's commits, joins nothing */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(p->err, sizeof p->err, "kafka: cannot create a client: %.400s", why);
        return -1;
    }
    if (kafka_reachable(rk, o->brokers, timeout_ms, &p->brokers_up, p->err, sizeof p->err) != 0)
        goto out;
    rc = 0;
    size_t tl = strcspn(o->topic, ",");
    snprintf(p->topic, sizeof p->topic, "%.*s", (int)(tl < sizeof p->topic ? tl : sizeof p->topic - 1), o->topic);
    if (p->topic[0] == '^') {
        snprintf(p->err, sizeof p->err, "topic %s is a pattern: its topics are not probed", p->topic);
        goto out;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, p->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (me == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->topic_exists = 1;
        for (int i = 0; i < md->topics[0].partition_cnt && p->n_parts < KAFKA_PROBE_MAX_PARTS; i++)
            p->parts[p->n_parts++] = (kafka_probe_part){.partition = md->topics[0].partitions[i].id,
                                                        .low = -1, .high = -1, .committed = -1};
    } else {
        snprintf(p->err, sizeof p->err, "topic %s: %s", p->topic,
                 me != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(me)
                 : md->topic_cnt == 1             ? rd_kafka_err2str(md->topics[0].err)
                                                  : "not in the metadata");
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    if (!p->topic_exists)
        goto out;
    l = rd_kafka_topic_partition_list_new((int)p->n_parts);
    for (size_t i = 0; l != NULL && i < p->n_parts; i++) {
        int64_t lo = -1, hi = -1;
        if (rd_kafka_query_watermark_offsets(rk, p->topic, p->parts[i].partition, &lo, &hi, (int)timeout_ms) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->parts[i].low = lo;
            p->parts[i].high = hi;
        }
        rd_kafka_topic_partition_list_add(l, p->topic, p->parts[i].partition);
    }
    if (l != NULL && rd_kafka_committed(rk, l, (int)timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt && (size_t)i < p->n_parts; i++)
            p->parts[i].committed = l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR ? l->elems[i].offset : -1;
    const struct rd_kafka_group_list *gl = NULL;
    if (rd_kafka_list_groups(rk, o->group_id, &gl, (int)timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && gl != NULL) {
        if (gl->group_cnt == 1 && gl->groups[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(p->group_state, sizeof p->group_state, "%s", gl->groups[0].state ? gl->groups[0].state : "");
            p->group_members = gl->groups[0].member_cnt;
        }
        rd_kafka_group_list_destroy(gl);
    }
out:
    if (l != NULL)
        rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}
