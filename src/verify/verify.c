/* verify: the command line of `canal-es verify` (see verify.h): arguments,
 * the tables of the rules, the report and the exit status. The row pass is
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

/* ---- the command -------------------------------------------------------------- */

static const char vf_help[] =
    "usage: canal-es verify -c FILE [--table DB.TABLE] [--repair] [--max-report N] [--json]\n"
    "                       [--settle SECONDS] [--log-level error|warn|info|debug]\n"
    "\n"
    "Proves that every index holds exactly the documents the [table] rules make of the MySQL rows:\n"
    "reads every table of the rules (or DB.TABLE) from [mysql] in keyset chunks, builds each row's\n"
    "document with the stream's own code, fetches the indexed one by _id and routing and compares\n"
    "them (key order does not matter; numbers and strings do). Then looks for documents whose row\n"
    "does not exist. A difference is re-checked against a fresh read of its row once the stream has\n"
    "passed that read's binlog position ([checkpoint] file), so rows changing meanwhile are not\n"
    "reported. Read-only unless --repair.\n"
    "\n"
    "  --table DB.TABLE   only this table (extra documents are then looked for only when its index\n"
    "                     holds no other table)\n"
    "  --repair           re-send each difference at the version of its read's position minus one\n"
    "                     (never over a newer change of the stream), delete extra documents with a\n"
    "                     versioned delete, then re-verify them and report what was fixed\n"
    "  --max-report N     ids listed per kind and table (default 10)\n"
    "  --json             print the report as one JSON object\n"
    "  --settle SECONDS   longest wait for the stream to pass a re-read's position (default 30)\n"
    "\n"
    "exit status: 0 identical, 1 differences remain, 2 usage or configuration error,\n"
    "3 the run could not finish (MySQL, the node, a signal)\n";

static int vf_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "canal-es verify: %s%s%s%s\n%s", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", vf_help);
    return 2;
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

int verify_main(int argc, char **argv)
{
    const char *path = NULL, *table = NULL;
    vf *v = ce_calloc(1, sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "canal-es verify: out of memory\n");
        return VF_FAIL;
    }
    v->rep.max_report = 10;
    v->settle_ms = 30000;
    map_out_init(&v->mo);
    ce_buf_init(&v->strs, VF_MAX_BODY);
    int level = -1;
    int ret = 2;
    vf_tbl *tbls = NULL;
    size_t nt = 0;
    for (int i = 2; i < argc; i++) {
        int64_t n;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            table = argv[++i];
        } else if (strcmp(argv[i], "--repair") == 0) {
            v->repair = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            v->json = true;
        } else if (strcmp(argv[i], "--max-report") == 0 && i + 1 < argc) {
            if (ce_parse_i64(argv[++i], 0, 1000000, &n) != 0) {
                ret = vf_usage("--max-report needs a number 0..1000000, not", argv[i]);
                goto out;
            }
            v->rep.max_report = (size_t)n;
        } else if (strcmp(argv[i], "--settle") == 0 && i + 1 < argc) {
            if (ce_parse_i64(argv[++i], 0, 86400, &n) != 0) {
                ret = vf_usage("--settle needs seconds 0..86400, not", argv[i]);
                goto out;
            }
            v->settle_ms = (long)n * 1000;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            ce_log_level lv;
            if (ce_log_parse_level(argv[++i], &lv) != 0) {
                ret = vf_usage("unknown log level", argv[i]);
                goto out;
            }
            level = (int)lv;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(vf_help, stdout);
            ret = 0;
            goto out;
        } else {
            ret = vf_usage("unexpected argument", argv[i]);
            goto out;
        }
    }
    if (path == NULL) {
        ret = vf_usage("-c FILE is required", NULL);
        goto out;
    }
    char db[SNAP_NAME_MAX + 1] = "", tbl[SNAP_NAME_MAX + 1] = "";
    if (table != NULL) {
        const char *dot = strchr(table, '.');
        if (dot == NULL || dot == table || dot[1] == '\0' || (size_t)(dot - table) > SNAP_NAME_MAX ||
            strlen(dot + 1) > SNAP_NAME_MAX) {
            ret = vf_usage("--table is not DB.TABLE:", table);
            goto out;
        }
        snprintf(db, sizeof db, "%.*s", (int)(dot - table), table);
        snprintf(tbl, sizeof tbl, "%s", dot + 1);
    }
    char err[1024];
    if (cfg_load(path, &v->c, err, sizeof err) != 0) {
        fprintf(stderr, "canal-es: %s\n", err);
        goto out;
    }
    v->cfg_ok = true;
    ce_log_level lv;
    if (level >= 0)
        ce_log_set_level((ce_log_level)level);
    else if (ce_log_parse_level(v->c.log.level, &lv) == 0)
        ce_log_set_level(lv);
    ce_log_set_format(strcmp(v->c.log.format, "json") == 0 ? CE_LOG_JSON : CE_LOG_TEXT);
    if (v->c.mysql.host[0] == '\0' && v->c.mysql.socket[0] == '\0') {
        fprintf(stderr, "canal-es verify: %s: [mysql] host (or socket) is not set: verify reads the rows from it\n",
                path);
        goto out;
    }
    const cfg_table *only = NULL;
    if (table != NULL) {
        only = cfg_find_table(&v->c, db, tbl);
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
    if ((v->my = my_connect(&v->c.mysql, &mrc, v->err, sizeof v->err)) == NULL)
        goto fail;
    if ((v->s = sink_new_cfg(&v->c.es, v->err, sizeof v->err)) == NULL ||
        sink_detect(v->s, v->err, sizeof v->err) == SINK_FATAL)
        goto fail;
    v->req_cap = (size_t)v->c.es.bulk_max_bytes;
    v->method = snap_method(v->my, v->c.reindex.position);
    v->progress = isatty(STDERR_FILENO) && !v->json;
    v->mo.versioning = v->c.es.versioning_on;
    v->mo.version_epoch = (unsigned)v->c.es.version_epoch;
    if (bulk_init(&v->b, VF_MAX_BODY) != 0) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto fail;
    }
    v->bulk_ok = true;
    v->rep.repair = v->repair;
    v->rate_start_ms = ce_mono_ms();
    /* the tables */
    for (size_t r = 0; r < v->c.n_tables; r++) {
        const cfg_table *rule = &v->c.tables[r];
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
        if (snap_rule_tables(v->my, &v->c, rule, &names, v->err, sizeof v->err) != 0)
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
        if (only != NULL && cfg_index_shared(&v->c, only)) {
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
    if (v->cfg_ok)
        cfg_free(&v->c);
    ce_free(v);
    return ret;
}
