/* map: table rules applied to row events. */
#include "map/map.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAP_KEY_MAX ((size_t)64 << 20) /* a joined key, before hashing */

void map_out_init(map_out *o)
{
    memset(o, 0, sizeof *o);
    ce_buf_init(&o->ids, 4 * MAP_ID_MAX);
    ce_buf_init(&o->key, MAP_KEY_MAX);
    ce_buf_init(&o->index_key, 4 * MAP_INDEX_BUF + 4 * CFG_INDEX_MAX);
    o->index_bad = -1;
}

void map_out_free(map_out *o)
{
    ce_buf_free(&o->ids);
    ce_buf_free(&o->key);
    ce_buf_free(&o->index_key);
    o->index_bad = -1;
}

static const row_col *map_find_col(const row_image *img, const char *name)
{
    for (size_t i = 0; i < img->n; i++)
        if (strcmp(img->cols[i].name, name) == 0)
            return &img->cols[i];
    return NULL;
}

static int map_id_part(const cfg_table *rule, const row_event *ev, const row_col *c, const char *which,
                       ce_buf *key, char *err, size_t errlen)
{
    if (c->is_null) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: id column '%s' is NULL in the %s image", ev->logfile,
                 (long long)ev->offset, ev->schema, ev->table, c->name, which);
        return MAP_ERR;
    }
    if ((key->len > 0 && ce_buf_append_str(key, rule->id_separator ? rule->id_separator : "_") != 0) ||
        ce_buf_add(key, c->value, c->value_len) != 0) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: key longer than %zu bytes", ev->logfile, (long long)ev->offset,
                 ev->schema, ev->table, MAP_KEY_MAX);
        return MAP_ERR;
    }
    return MAP_OK;
}

/* Appends prefix + the id of key k (the rule in map.h) to ids. */
static int map_put_id(const row_event *ev, const char *prefix, const ce_buf *k, ce_buf *ids, char *err,
                      size_t errlen)
{
    size_t plen = strlen(prefix), mlen = strlen(MAP_ID_HASHED);
    int hashed = k->len == 0 || plen + k->len > MAP_ID_MAX ||
                 (k->len >= mlen && memcmp(k->data, MAP_ID_HASHED, mlen) == 0);
    if (!hashed) {
        if (ce_buf_add(ids, prefix, plen) == 0 && ce_buf_add(ids, k->data, k->len) == 0)
            return MAP_OK;
        goto nomem;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    static const char digits[] = "0123456789abcdef";
    if (plen + mlen + 64 > MAP_ID_MAX) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: id_prefix (%zu bytes) leaves no room for a hashed _id "
                 "(%zu bytes) within %d bytes", ev->logfile, (long long)ev->offset, ev->schema, ev->table, plen,
                 mlen + 64, MAP_ID_MAX);
        return MAP_ERR;
    }
    if (EVP_Digest(k->len ? k->data : (const uint8_t *)"", k->len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: SHA-256 of the key failed", ev->logfile,
                 (long long)ev->offset, ev->schema, ev->table);
        return MAP_ERR;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * mdlen] = '\0';
    if (ce_buf_append_str(ids, prefix) == 0 && ce_buf_append_str(ids, MAP_ID_HASHED) == 0 &&
        ce_buf_append_str(ids, hex) == 0)
        return MAP_OK;
nomem:
    snprintf(err, errlen, "binlog %s:%lld: %s.%s: out of memory for the _id", ev->logfile, (long long)ev->offset,
             ev->schema, ev->table);
    return MAP_ERR;
}

/* Appends the id of `img` to out->ids; *len gets its length. */
static int map_build_id(const cfg_table *rule, const row_event *ev, const row_image *img, const char *which,
                        map_out *out, size_t *len, char *err, size_t errlen)
{
    ce_buf *ids = &out->ids, *key = &out->key;
    size_t start = ids->len;
    int rc = MAP_OK;
    char prefix[MAP_ID_MAX + 1];
    prefix[0] = '\0';
    if (rule->id_prefix != NULL &&
        cfg_expand_template(rule->id_prefix, ev->schema, ev->table, 0, prefix, sizeof prefix) != 0) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: id_prefix longer than %d bytes", ev->logfile,
                 (long long)ev->offset, ev->schema, ev->table, MAP_ID_MAX);
        return MAP_ERR;
    }
    ce_buf_reset(key);
    if (rule->n_id_cols > 0) {
        for (size_t i = 0; i < rule->n_id_cols && rc == MAP_OK; i++) {
            const row_col *c = map_find_col(img, rule->id_cols[i]);
            if (c == NULL) {
                snprintf(err, errlen, "binlog %s:%lld: %s.%s: id column '%s' (config line %d) is not in the %s image",
                         ev->logfile, (long long)ev->offset, ev->schema, ev->table, rule->id_cols[i], rule->line,
                         which);
                rc = MAP_ERR;
            } else {
                rc = map_id_part(rule, ev, c, which, key, err, errlen);
            }
        }
    } else {
        size_t keys = 0;
        for (size_t i = 0; i < img->n && rc == MAP_OK; i++) {
            if (!img->cols[i].is_key)
                continue;
            keys++;
            rc = map_id_part(rule, ev, &img->cols[i], which, key, err, errlen);
        }
        if (rc == MAP_OK && keys == 0)
            rc = MAP_NO_ID;
    }
    if (rc == MAP_OK)
        rc = map_put_id(ev, prefix, key, ids, err, errlen);
    *len = ids->len - start;
    return rc;
}

int64_t map_version(const char *logfile, int64_t offset, uint32_t row_index, unsigned epoch)
{
    /* the sequence is the digits after the last '.', e.g. mysql-bin.000042 */
    const char *dot = strrchr(logfile, '.');
    if (dot == NULL || dot[1] == '\0' || epoch > MAP_EPOCH_MAX || offset < 0)
        return -1;
    int64_t seq = 0;
    for (const char *q = dot + 1; *q; q++) {
        if (*q < '0' || *q > '9' || seq >= ((int64_t)1 << 22))
            return -1;
        seq = seq * 10 + (*q - '0');
    }
    int64_t pos = offset + (int64_t)row_index;
    if (seq >= ((int64_t)1 << 22) || pos >= ((int64_t)1 << 33))
        return -1;
    return ((int64_t)epoch << 55) | (seq << 33) | pos;
}

/* The routing value of img (rule->routing column), into a. */
static int map_routing(const cfg_table *rule, const row_event *ev, const row_image *img, const char *which,
                       map_action *a, char *err, size_t errlen)
{
    if (rule->routing == NULL)
        return MAP_OK;
    const row_col *c = map_find_col(img, rule->routing);
    if (c == NULL || c->is_null || c->value_len == 0) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: routing column '%s' (config line %d) is %s in the %s image",
                 ev->logfile, (long long)ev->offset, ev->schema, ev->table, rule->routing, rule->line,
                 c == NULL ? "missing" : "NULL or empty", which);
        return MAP_ERR;
    }
    a->routing = c->value;
    a->routing_len = c->value_len;
    return MAP_OK;
}

/* One action; a delete of a soft-delete rule becomes an index of the image. */
static int map_add(const cfg_table *rule, const row_event *ev, map_out *out, map_op op, const char *id,
                   size_t id_len, const row_image *img, const char *which, int64_t version, char *err, size_t errlen)
{
    map_action *a = &out->act[out->n];
    *a = (map_action){.op = op,
                      .index = out->index,
                      .id = id,
                      .id_len = id_len,
                      .doc = op == MAP_INDEX ? img : NULL,
                      .ev = ev,
                      .values = &rule->values,
                      .version = version,
                      .rule = rule};
    if (op == MAP_DELETE && rule->delete_mode == CFG_DELETE_SOFT) {
        a->op = MAP_INDEX;
        a->doc = img;
        a->soft = 1;
    }
    int rc = map_routing(rule, ev, img, which, a, err, errlen);
    if (rc == MAP_OK)
        out->n++;
    return rc;
}

static int map_actions(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen);

/* s equals the NUL-terminated string at *k (NULL equals "\x01", which no
 * template or name holds); *k moves past it. */
static bool map_key_eq(const char **k, const char *s)
{
    const char *t = s ? s : "\x01";
    bool eq = strcmp(*k, t) == 0;
    *k += strlen(*k) + 1;
    return eq;
}

/* cfg_index_check, or the kept result of the same template, db and table. */
static int map_index(const cfg_table *rule, const row_event *ev, map_out *out, char *why, size_t whylen)
{
    ce_buf *kb = &out->index_key;
    if (out->index_bad >= 0) {
        const char *k = (const char *)kb->data;
        if (map_key_eq(&k, rule->alias) && map_key_eq(&k, rule->index) && map_key_eq(&k, ev->schema) &&
            map_key_eq(&k, ev->table)) {
            memcpy(out->index, out->index_kept, strlen(out->index_kept) + 1);
            if (out->index_bad)
                snprintf(why, whylen, "%s", out->index_why);
            return out->index_bad;
        }
    }
    int bad = cfg_index_check(rule, ev->schema, ev->table, out->index, sizeof out->index, why, whylen) != 0;
    out->index_bad = -1;
    ce_buf_reset(kb);
    const char *parts[4] = {rule->alias ? rule->alias : "\x01", rule->index ? rule->index : "\x01", ev->schema,
                            ev->table};
    int rc = 0;
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc = ce_buf_append(kb, parts[i], strlen(parts[i]) + 1);
    if (rc == 0) { /* else: not kept (a name too long to keep) */
        memcpy(out->index_kept, out->index, strlen(out->index) + 1);
        snprintf(out->index_why, sizeof out->index_why, "%s", bad ? why : "");
        out->index_bad = bad;
    }
    return bad;
}

int map_row(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen)
{
    char why[64] = "";
    int bad = map_index(rule, ev, out, why, sizeof why);
    int rc = map_actions(rule, ev, out, err, errlen);
    if (rc != MAP_OK || !bad)
        return rc;
    size_t shown = strlen(out->index) > 100 ? 100 : strlen(out->index);
    snprintf(err, errlen,
             "binlog %s:%lld: table %s.%s: index template '%s' (config line %d) gives '%.*s%s', which is not a "
             "valid index name (%s): not sent",
             ev->logfile, (long long)ev->offset, ev->schema, ev->table, rule->alias ? rule->alias : rule->index,
             rule->line, (int)shown, out->index, shown < strlen(out->index) ? "..." : "", why);
    return MAP_BAD_INDEX;
}

/* The actions of the row, into out->index (set by the caller). */
static int map_actions(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen)
{
    out->n = 0;
    ce_buf_reset(&out->ids);
    int64_t version = 0;
    if (out->versioning) {
        version = map_version(ev->logfile, ev->offset, ev->row_index, out->version_epoch);
        /* a snapshot row read at position P is older than every event at or after P
         * and newer than (or equal to) every event before it (docs/reindex.md) */
        if (ev->snapshot && version > 0)
            version--;
        if (version <= 0) {
            snprintf(err, errlen,
                     "binlog %s:%lld row %u: %s.%s: no external version fits these coordinates "
                     "(file sequence < 2^22, offset < 2^33); set versioning = off or use a fresh index",
                     ev->logfile, (long long)ev->offset, ev->row_index, ev->schema, ev->table);
            return MAP_ERR;
        }
    }
    size_t old_len = 0, new_len = 0;
    int rc;
    switch (ev->op) {
    case ROW_INSERT:
        rc = map_build_id(rule, ev, &ev->after, "after", out, &new_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        return map_add(rule, ev, out, MAP_INDEX, (const char *)out->ids.data, new_len, &ev->after, "after", version,
                       err, errlen);
    case ROW_DELETE:
        rc = map_build_id(rule, ev, &ev->before, "before", out, &old_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        return map_add(rule, ev, out, MAP_DELETE, (const char *)out->ids.data, old_len, &ev->before, "before",
                       version, err, errlen);
    case ROW_UPDATE:
        if (ev->before.n > 0) {
            rc = map_build_id(rule, ev, &ev->before, "before", out, &old_len, err, errlen);
            if (rc != MAP_OK)
                return rc;
        }
        rc = map_build_id(rule, ev, &ev->after, "after", out, &new_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        {
            const char *base = (const char *)out->ids.data;
            const char *new_id = base + old_len;
            if (ev->before.n > 0 && (old_len != new_len || memcmp(base, new_id, new_len) != 0)) {
                rc = map_add(rule, ev, out, MAP_DELETE, base, old_len, &ev->before, "before", version, err, errlen);
                if (rc != MAP_OK)
                    return rc;
            }
            return map_add(rule, ev, out, MAP_INDEX, new_id, new_len, &ev->after, "after", version, err, errlen);
        }
    }
    snprintf(err, errlen, "unknown row operation %d", (int)ev->op);
    return MAP_ERR;
}
