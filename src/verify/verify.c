/* verify: the run of `canal-es verify` (see verify.h; its command line is
 * src/cmd/cmd_verify.c): the tables of the rules, the report and the exit
 * status. The row pass is
 * in vrows.c, the extra documents in vextra.c, the correctness argument in
 * docs/operations.md ("Verifying an index").
 * Memory: one chunk of expected documents (bulk + per-row offsets), one
 * _mget batch, the candidates of one table (at most VF_CAND_MAX, each with
 * its key literals), and for the extra pass a window of at most VF_WINDOW
 * index ids. Nothing grows with the table. */
#include "verify/verify.h"
#include "verify/vint.h"

#include "bulk/bulk.h"
#include "commit/ckpt.h"
#include "config.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "snapshot/tables.h"
#include "source/mysql.h"
#include "util/backoff.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <mysql.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

volatile sig_atomic_t vf_stop = 0;

static void vf_on_signal(int sig)
{
    (void)sig;
    vf_stop = 1;
}

static int vf_add_tbl(vf_tbl **tbls, size_t *nt, const cfg_table *rule, const char *db, const char *table,
                      char *err, size_t errlen)
{
    if (*nt % 64 == 0) {
        vf_tbl *n = ce_realloc(*tbls, (*nt + 64) * sizeof *n);
        if (n == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        *tbls = n;
    }
    vf_tbl *t = &(*tbls)[*nt];
    memset(t, 0, sizeof *t);
    t->rule = rule;
    char why[200];
    if (cfg_index_check(rule, db, table, t->index, sizeof t->index, why, sizeof why) != 0) {
        snprintf(err, errlen, "table %.100s.%.100s: its index name '%.300s' is not valid: %.200s", db, table,
                 t->index, why);
        return -1;
    }
    t->db = ce_strdup(db);
    t->table = ce_strdup(table);
    if (t->db == NULL || t->table == NULL) {
        ce_free(t->db);
        ce_free(t->table);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    (*nt)++;
    return 0;
}

int verify_run(const cfg *c, const char *path, const verify_opts *o)
{
    vf *v = ce_calloc(1, sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "canal-es verify: out of memory\n");
        return VF_FAIL;
    }
    v->c = c;
    v->repair = o->repair;
    v->json = o->json;
    v->rep.max_report = o->max_report;
    v->settle_ms = o->settle_ms;
    map_out_init(&v->mo);
    ce_buf_init(&v->strs, VF_MAX_BODY);
    int ret = 2;
    vf_tbl *tbls = NULL;
    size_t nt = 0;
    const char *table = o->table;
    const char *db = o->db, *tbl = o->tbl;
    if (v->c->mysql.host[0] == '\0' && v->c->mysql.socket[0] == '\0') {
        fprintf(stderr, "canal-es verify: %s: [mysql] host (or socket) is not set: verify reads the rows from it\n",
                path);
        goto out;
    }
    const cfg_table *only = NULL;
    if (table != NULL) {
        only = cfg_find_table(v->c, db, tbl);
        if (only == NULL || !only->enabled) {
            fprintf(stderr, "canal-es verify: %s: %s\n", table,
                    only == NULL ? "no [table] rule matches it" : "its rule has enabled = false");
            goto out;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = vf_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ret = VF_FAIL;
    my_rc mrc;
    if ((v->my = my_connect(&v->c->mysql, &mrc, v->err, sizeof v->err)) == NULL)
        goto fail;
    if ((v->s = sink_new_cfg(&v->c->es, v->err, sizeof v->err)) == NULL ||
        sink_detect(v->s, v->err, sizeof v->err) == SINK_FATAL)
        goto fail;
    v->req_cap = (size_t)v->c->es.bulk_max_bytes;
    v->method = snap_method(v->my, v->c->reindex.position);
    v->progress = isatty(STDERR_FILENO) && !v->json;
    v->mo.versioning = v->c->es.versioning_on;
    v->mo.version_epoch = (unsigned)v->c->es.version_epoch;
    if (bulk_init(&v->b, VF_MAX_BODY) != 0) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto fail;
    }
    v->bulk_ok = true;
    v->rep.repair = v->repair;
    v->rate_start_ms = ce_mono_ms();
    /* the tables */
    for (size_t r = 0; r < v->c->n_tables; r++) {
        const cfg_table *rule = &v->c->tables[r];
        if (!rule->enabled || (only != NULL && rule != only))
            continue;
        if (rule->pattern == NULL) {
            if (only != NULL && (strcmp(rule->db, db) != 0 || strcmp(rule->table, tbl) != 0))
                continue;
            if (vf_add_tbl(&tbls, &nt, rule, rule->db, rule->table, v->err, sizeof v->err) != 0)
                goto fail;
            continue;
        }
        snap_names names;
        if (snap_rule_tables(v->my, v->c, rule, &names, v->err, sizeof v->err) != 0)
            goto fail;
        int rc = 0;
        for (size_t i = 0; i < names.n && rc == 0; i++) {
            if (only != NULL && (strcmp(names.v[i].db, db) != 0 || strcmp(names.v[i].table, tbl) != 0))
                continue;
            rc = vf_add_tbl(&tbls, &nt, rule, names.v[i].db, names.v[i].table, v->err, sizeof v->err);
        }
        snap_names_free(&names);
        if (rc != 0)
            goto fail;
    }
    if (only != NULL && nt == 0) {
        snprintf(v->err, sizeof v->err, "%s is not a base table of its rule on mysql %s", table, my_peer(v->my));
        goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        tbls[i].writes0 = -1;
        for (size_t j = 0; j < i && tbls[i].writes0 < 0; j++)
            if (strcmp(tbls[j].index, tbls[i].index) == 0)
                tbls[i].writes0 = tbls[j].writes0;
        if (tbls[i].writes0 < 0)
            tbls[i].writes0 = vf_index_writes(v, tbls[i].index);
    }
    for (size_t i = 0; i < nt; i++) {
        if (tbls[i].rule->pipeline != NULL)
            ce_log(CE_LOG_WARN, "verify",
                   "%s.%s: its rule sends documents through pipeline %s: only their presence and routing are "
                   "compared, not their fields",
                   tbls[i].db, tbls[i].table, tbls[i].rule->pipeline);
        char name[600];
        snprintf(name, sizeof name, "%s.%s", tbls[i].db, tbls[i].table);
        if ((tbls[i].rep = vc_add_table(&v->rep, name, tbls[i].index)) == NULL) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto fail;
        }
        if (vf_table(v, &tbls[i]) != 0)
            goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        if (vc_find_index(&v->rep, tbls[i].index) != NULL)
            continue;
        vc_index_rep *xr = vc_add_index(&v->rep, tbls[i].index);
        if (xr == NULL) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto fail;
        }
        if (only != NULL && cfg_index_shared(v->c, only)) {
            xr->note = ce_strdup("--table was given and the index can hold other tables' documents");
            continue;
        }
        if (vf_extras(v, tbls, nt, xr) != 0)
            goto fail;
    }
    ce_buf out;
    ce_buf_init(&out, 64u << 20);
    int frc = v->json ? vc_format_json(&v->rep, &out) : vc_format_text(&v->rep, &out);
    if (frc == 0)
        fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    ce_buf_free(&out);
    ret = vc_report_differs(&v->rep) ? 1 : 0;
    goto out;
fail:
    if (v->progress)
        fputc('\n', stderr);
    ce_log(CE_LOG_ERROR, "verify", "%s%s", v->err[0] ? v->err : "failed", vf_stop ? " (stopped by a signal)" : "");
out:
    for (size_t i = 0; i < nt; i++) {
        ce_free(tbls[i].db);
        ce_free(tbls[i].table);
    }
    ce_free(tbls);
    vc_report_free(&v->rep);
    if (v->bulk_ok)
        bulk_free(&v->b);
    map_out_free(&v->mo);
    ce_buf_free(&v->strs);
    ce_free(v->ex);
    my_close(v->my);
    my_close(v->lk);
    sink_free(v->s);
    ce_free(v);
    return ret;
}
