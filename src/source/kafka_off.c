/* source/kafka_off: open Kafka batches and their per-partition marks (see
 * kafka_off.h). The ring owns the marks arrays (reused across batches) and
 * the interned topic names. */
#include "source/kafka_off.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

void koff_init(koff *k)
{
    memset(k, 0, sizeof *k);
    k->next_id = 1;
}

void koff_free(koff *k)
{
    for (size_t i = 0; i < KOFF_MAX_BATCHES; i++)
        ce_free(k->ring[i].marks);
    for (size_t i = 0; i < k->n_topics; i++)
        ce_free(k->topics[i]);
    memset(k, 0, sizeof *k);
}

static koff_batch *koff_at(koff *k, size_t i) { return &k->ring[(k->head + i) % KOFF_MAX_BATCHES]; }

int koff_begin(koff *k, int64_t *id)
{
    if (k->count >= KOFF_MAX_BATCHES)
        return -1;
    koff_batch *b = koff_at(k, k->count++);
    b->id = k->next_id++;
    b->n = 0;
    *id = b->id;
    return 0;
}

static const char *koff_topic(koff *k, const char *topic)
{
    for (size_t i = 0; i < k->n_topics; i++)
        if (strcmp(k->topics[i], topic) == 0)
            return k->topics[i];
    if (k->n_topics >= KOFF_MAX_TOPICS)
        return NULL;
    char *t = ce_strdup(topic);
    if (t != NULL)
        k->topics[k->n_topics++] = t;
    return t;
}

int koff_add(koff *k, const char *topic, int32_t partition, int64_t offset, int64_t ts_ms, char *err, size_t errlen)
{
    if (k->count == 0) {
        snprintf(err, errlen, "kafka: a record outside of any batch");
        return -1;
    }
    koff_batch *b = koff_at(k, k->count - 1);
    const char *t = koff_topic(k, topic);
    if (t == NULL) {
        snprintf(err, errlen, "kafka: more than %d topics, or out of memory", KOFF_MAX_TOPICS);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        koff_mark *m = &b->marks[i];
        if (m->topic == t && m->partition == partition) {
            if (offset + 1 > m->next) {
                m->next = offset + 1;
                m->ts_ms = ts_ms;
            }
            return 0;
        }
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        koff_mark *nm = ce_realloc(b->marks, cap * sizeof *nm);
        if (nm == NULL) {
            snprintf(err, errlen, "kafka: out of memory for the offsets of a batch");
            return -1;
        }
        b->marks = nm;
        b->cap = cap;
    }
    b->marks[b->n++] = (koff_mark){.topic = t, .partition = partition, .next = offset + 1, .ts_ms = ts_ms};
    return 0;
}

size_t koff_last_marks(const koff *k)
{
    return k->count == 0 ? 0 : k->ring[(k->head + k->count - 1) % KOFF_MAX_BATCHES].n;
}

void koff_drop_last(koff *k)
{
    if (k->count > 0)
        k->count--;
}

int koff_ack(koff *k, int64_t batch_id, const koff_batch **out, char *err, size_t errlen)
{
    *out = NULL;
    if (k->count == 0) {
        snprintf(err, errlen, "kafka: ack of batch %lld, but no batch is open", (long long)batch_id);
        return -1;
    }
    koff_batch *b = koff_at(k, 0);
    if (b->id != batch_id) {
        snprintf(err, errlen, "kafka: ack of batch %lld out of order (the oldest open batch is %lld)",
                 (long long)batch_id, (long long)b->id);
        return -1;
    }
    k->head = (k->head + 1) % KOFF_MAX_BATCHES;
    k->count--;
    *out = b; /* its slot is reused only by a later koff_begin */
    return 0;
}

void koff_forget(koff *k) { k->count = 0; }

size_t koff_open(const koff *k) { return k->count; }
