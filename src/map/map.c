/* map: table rules applied to row events. */
#include "map/map.h"

#include <stdio.h>
#include <string.h>

void map_out_init(map_out *o)
{
    memset(o, 0, sizeof *o);
    ce_buf_init(&o->ids, 4 * MAP_ID_MAX);
}

void map_out_free(map_out *o) { ce_buf_free(&o->ids); }

static const row_col *map_find_col(const row_image *img, const char *name)
{
    for (size_t i = 0; i < img->n; i++)
        if (strcmp(img->cols[i].name, name) == 0)
            return &img->cols[i];
    return NULL;
}

static int map_id_part(const row_event *ev, const row_col *c, const char *which, ce_buf *ids, size_t start,
                       char *err, size_t errlen)
{
    if (c->is_null) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: id column '%s' is NULL in the %s image", ev->logfile,
                 (long long)ev->offset, ev->schema, ev->table, c->name, which);
        return MAP_ERR;
    }
    if (ids->len > start && ce_buf_putc(ids, '_') != 0)
        goto too_long;
    if (ce_buf_append(ids, c->value, c->value_len) != 0 || ids->len - start > MAP_ID_MAX)
        goto too_long;
    return MAP_OK;
too_long:
    snprintf(err, errlen, "binlog %s:%lld: %s.%s: _id longer than %d bytes", ev->logfile, (long long)ev->offset,
             ev->schema, ev->table, MAP_ID_MAX);
    return MAP_ERR;
}

/* Appends the id of `img` to out->ids; *len gets its length. */
static int map_build_id(const cfg_table *rule, const row_event *ev, const row_image *img, const char *which,
                        ce_buf *ids, size_t *len, char *err, size_t errlen)
{
    size_t start = ids->len;
    int rc = MAP_OK;
    if (rule->n_id_cols > 0) {
        for (size_t i = 0; i < rule->n_id_cols && rc == MAP_OK; i++) {
            const row_col *c = map_find_col(img, rule->id_cols[i]);
            if (c == NULL) {
                snprintf(err, errlen, "binlog %s:%lld: %s.%s: id column '%s' (config line %d) is not in the %s image",
                         ev->logfile, (long long)ev->offset, ev->schema, ev->table, rule->id_cols[i], rule->line,
                         which);
                rc = MAP_ERR;
            } else {
                rc = map_id_part(ev, c, which, ids, start, err, errlen);
            }
        }
    } else {
        size_t keys = 0;
        for (size_t i = 0; i < img->n && rc == MAP_OK; i++) {
            if (!img->cols[i].is_key)
                continue;
            keys++;
            rc = map_id_part(ev, &img->cols[i], which, ids, start, err, errlen);
        }
        if (rc == MAP_OK && keys == 0)
            rc = MAP_NO_ID;
    }
    if (rc == MAP_OK && ids->len == start) {
        snprintf(err, errlen, "binlog %s:%lld: %s.%s: empty _id", ev->logfile, (long long)ev->offset, ev->schema,
                 ev->table);
        rc = MAP_ERR;
    }
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

int map_row(const cfg_table *rule, const row_event *ev, map_out *out, char *err, size_t errlen)
{
    out->n = 0;
    ce_buf_reset(&out->ids);
    int64_t version = 0;
    if (out->versioning) {
        version = map_version(ev->logfile, ev->offset, ev->row_index, out->version_epoch);
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
        rc = map_build_id(rule, ev, &ev->after, "after", &out->ids, &new_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        out->act[0] = (map_action){MAP_INDEX, rule->index, (const char *)out->ids.data, new_len, &ev->after, ev,
                                   &rule->values, version};
        out->n = 1;
        return MAP_OK;
    case ROW_DELETE:
        rc = map_build_id(rule, ev, &ev->before, "before", &out->ids, &old_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        out->act[0] = (map_action){MAP_DELETE, rule->index, (const char *)out->ids.data, old_len, NULL, ev,
                                   &rule->values, version};
        out->n = 1;
        return MAP_OK;
    case ROW_UPDATE:
        if (ev->before.n > 0) {
            rc = map_build_id(rule, ev, &ev->before, "before", &out->ids, &old_len, err, errlen);
            if (rc != MAP_OK)
                return rc;
        }
        rc = map_build_id(rule, ev, &ev->after, "after", &out->ids, &new_len, err, errlen);
        if (rc != MAP_OK)
            return rc;
        {
            const char *base = (const char *)out->ids.data;
            const char *new_id = base + old_len;
            if (ev->before.n > 0 && (old_len != new_len || memcmp(base, new_id, new_len) != 0))
                out->act[out->n++] =
                    (map_action){MAP_DELETE, rule->index, base, old_len, NULL, ev, &rule->values, version};
            out->act[out->n++] =
                (map_action){MAP_INDEX, rule->index, new_id, new_len, &ev->after, ev, &rule->values, version};
        }
        return MAP_OK;
    }
    snprintf(err, errlen, "unknown row operation %d", (int)ev->op);
    return MAP_ERR;
}
