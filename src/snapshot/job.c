/* snapshot/job: see job.h and docs/reindex.md.
 *
 * Data flows one way: the worker reads a chunk (snapshot.c: rows → map →
 * bulk, no I/O in the row callback), then at the chunk's end delivers the
 * bulk (deliver.c), then saves the job. The pipeline thread only reads the
 * tee target and reports its position, under the manager's mutex. */
#include "snapshot/job.h"
#include "util/json.h"
#include "util/clock.h"
#include "bulk/bulk.h"
#include "deliver/deliver.h"
#include "map/map.h"
#include "sink/automap.h"
#include "sink/deadletter.h"
#include "sink/setup.h"
#include "sink/sink.h"
#include "snapshot/snapshot.h"
#include "snapshot/tables.h"
#include "source/mysql.h"
#include "util/backoff.h"
#include "util/io.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JOB_MAX 256                  /* jobs kept (ended ones are dropped first) */
#define JOB_STATE_MAX (64u << 20)    /* bytes of the state file */
#define JOB_MAX_BODY ((size_t)512 << 20)
#define JOB_GC_DELETES "24h"         /* tombstones kept while a job writes (index.gc_deletes) */
#define JOB_PROGRESS_MS 5000
#define JOB_CATCHUP_IDLE_MS 10000    /* stream caught up this long: nothing more to wait for */
#define JOB_MAX_RESTARTS 3           /* in-place loads started again after DDL */
#define JOB_KEYS_MAX 64
#define JOB_FENCE_MS 60000          /* longest wait of the stream for a job to stop writing at a DDL */
#define JOB_PENDING_MAX (64u << 20) /* bytes of stream deletes kept between two chunks */

typedef enum { JS_QUEUED, JS_LOADING, JS_CATCHING_UP, JS_SWAPPING, JS_DONE, JS_FAILED, JS_CANCELLED } job_state;
static const char *const job_state_names[] = {"queued",   "loading", "catching_up", "swapping",
                                              "done",     "failed",  "cancelled"};

/* What the worker's callbacks return to stop a read. */
enum { JOB_OK = 0, JOB_ERR = 1, JOB_STOP = 2, JOB_CANCEL = 3, JOB_DDL = 4 };

/* Index settings a job changes and restores: [0] refresh_interval,
 * [1] number_of_replicas, [2] gc_deletes. */
#define JOB_NSET 3
static const char *const job_set_keys[JOB_NSET] = {"refresh_interval", "number_of_replicas", "gc_deletes"};

typedef struct job_tbl {
    char *db, *table;
    bool done;
    char *key[JOB_KEYS_MAX]; /* resume after this key (SQL literals); n_key == 0: from the first row */
    size_t n_key;
    uint64_t rows;
} job_tbl;

typedef struct job {
    long id;
    char rule_name[300];
    const cfg_table *rule;
    char table[520];         /* "db.table" as requested */
    bool alias_mode, initial;
    bool marks_loaded;       /* a request that took the place of a queued initial load: records it when done */
    job_state state;
    char index[CFG_INDEX_MAX + 1]; /* alias mode: the new index; in place: the rule's index of `table` */
    job_tbl *tbls;
    size_t n_tbls;           /* 0: not resolved yet */
    uint64_t rows, chunks;
    int64_t estimate;
    char p_file[256];        /* P of the last chunk so far */
    int64_t p_pos;
    char p0_file[256];       /* P of the first chunk */
    int64_t p0_pos;
    int64_t started_ms, finished_ms;
    int resumes;
    char error[700];
    bool cancel;
    bool saved_known;        /* saved[] holds the settings to restore */
    char saved[JOB_NSET][64]; /* "" = not set explicitly (restored with null) */
    /* this process: rate */
    int64_t run_start_ms;
    uint64_t run_start_rows;
} job;

struct job_mgr {
    const cfg *c;
    ce_stats *st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *jobs[JOB_MAX];
    size_t n_jobs;
    long next_id;
    char **loaded;           /* rule names whose initial load completed */
    size_t n_loaded;
    char state_path[4096];   /* "" = not persisted */
    /* tee (worker sets, pipeline reads) */
    atomic_int tee_on;
    const cfg_table *tee_rule;
    char tee_index[CFG_INDEX_MAX + 1];
    /* the stream (pipeline sets) */
    int64_t stream_ver;      /* map_version of the last acked entry; -1 = none */
    int64_t stream_server_id;
    bool caught_up;
    int64_t caught_up_since_ms; /* 0 = not caught up */
    /* a DDL on a table of the running job (job_stream_ddl): the pipeline waits until the worker stopped
     * writing (ddl_fenced), applies the statement, then lets the worker go on (ddl_applied) */
    bool ddl_hit;
    bool ddl_fenced;
    bool ddl_applied;
    char ddl_msg[600];
    job *running;
    /* hard deletes the stream sent for the running job's rule since its last chunk (job_note_delete) */
    ce_buf pending;
    size_t n_pending;
    bool pending_overflow;
    /* the worker */
    pthread_t thread;
    bool started;
    atomic_int quit;
    volatile sig_atomic_t *stop;
    int failed;
};

static bool job_ended(const job *j) { return j->state >= JS_DONE; }

/* pthread_cond_timedwait on m->cv for up to ms (m->mu held). */
static void job_wait_locked(job_mgr *m, long ms)
{
    struct timespec ts = ce_deadline_ts(1, ms);
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}


static void job_tbls_free(job *j)
{
    for (size_t i = 0; i < j->n_tbls; i++) {
        ce_free(j->tbls[i].db);
        ce_free(j->tbls[i].table);
        for (size_t k = 0; k < j->tbls[i].n_key; k++)
            ce_free(j->tbls[i].key[k]);
    }
    ce_free(j->tbls);
    j->tbls = NULL;
    j->n_tbls = 0;
}

static void job_free(job *j)
{
    if (j == NULL)
        return;
    job_tbls_free(j);
    ce_free(j);
}

static const cfg_table *job_find_rule(const cfg *c, const char *name)
{
    char buf[300];
    for (size_t i = 0; i < c->n_tables; i++)
        if (strcmp(cfg_rule_name(&c->tables[i], buf, sizeof buf), name) == 0)
            return &c->tables[i];
    return NULL;
}

static bool job_is_loaded(const job_mgr *m, const char *rule_name)
{
    for (size_t i = 0; i < m->n_loaded; i++)
        if (strcmp(m->loaded[i], rule_name) == 0)
            return true;
    return false;
}

static void job_add_loaded(job_mgr *m, const char *rule_name)
{
    if (job_is_loaded(m, rule_name))
        return;
    char **n = ce_realloc(m->loaded, (m->n_loaded + 1) * sizeof *n);
    if (n == NULL)
        return;
    m->loaded = n;
    if ((m->loaded[m->n_loaded] = ce_strdup(rule_name)) != NULL)
        m->n_loaded++;
}

/* ---- JSON ---------------------------------------------------------------- */

static void job_print(void *ctx, const char *s, size_t n) { ce_buf_append(ctx, s, n); }

static yajl_gen_status job_gstr(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

#define JG_KEY(g, k) job_gstr(g, k)
#define JG_OK(expr)                                                                                                    \
    do {                                                                                                               \
        if (s == yajl_gen_status_ok)                                                                                   \
            s = (expr);                                                                                                \
    } while (0)

static yajl_gen_status job_gen_str_or_null(yajl_gen g, const char *v)
{
    return v != NULL && v[0] != '\0' ? job_gstr(g, v) : yajl_gen_null(g);
}

/* One job for the status (full = false) or the state file (full = true). */
static yajl_gen_status job_gen(yajl_gen g, const job *j, const job_mgr *m, bool full)
{
    yajl_gen_status s = yajl_gen_map_open(g);
    JG_OK(JG_KEY(g, "id"));
    JG_OK(yajl_gen_integer(g, j->id));
    JG_OK(JG_KEY(g, "table"));
    JG_OK(job_gstr(g, j->table));
    JG_OK(JG_KEY(g, "rule"));
    JG_OK(job_gstr(g, j->rule_name));
    JG_OK(JG_KEY(g, "mode"));
    JG_OK(job_gstr(g, j->alias_mode ? "alias" : "in_place"));
    JG_OK(JG_KEY(g, "origin"));
    JG_OK(job_gstr(g, j->initial ? "initial" : "request"));
    JG_OK(JG_KEY(g, "state"));
    JG_OK(job_gstr(g, job_state_names[j->state]));
    JG_OK(JG_KEY(g, "index"));
    JG_OK(job_gstr(g, j->index));
    JG_OK(JG_KEY(g, "alias"));
    JG_OK(job_gen_str_or_null(g, j->rule != NULL ? j->rule->alias : NULL));
    JG_OK(JG_KEY(g, "rows"));
    JG_OK(yajl_gen_integer(g, (long long)j->rows));
    JG_OK(JG_KEY(g, "rows_estimate"));
    JG_OK(yajl_gen_integer(g, (long long)(j->estimate > (int64_t)j->rows ? j->estimate : (int64_t)j->rows)));
    JG_OK(JG_KEY(g, "chunks"));
    JG_OK(yajl_gen_integer(g, (long long)j->chunks));
    JG_OK(JG_KEY(g, "started_ms"));
    JG_OK(yajl_gen_integer(g, (long long)j->started_ms));
    JG_OK(JG_KEY(g, "resumes"));
    JG_OK(yajl_gen_integer(g, j->resumes));
    JG_OK(JG_KEY(g, "error"));
    JG_OK(job_gen_str_or_null(g, j->error));
    if (!full) {
        int64_t now = ce_wall_ms();
        double rate = 0;
        if (j->run_start_ms > 0 && now > j->run_start_ms && j->rows >= j->run_start_rows)
            rate = (double)(j->rows - j->run_start_rows) * 1000.0 / (double)(now - j->run_start_ms);
        JG_OK(JG_KEY(g, "rows_per_s"));
        JG_OK(yajl_gen_double(g, rate));
        JG_OK(JG_KEY(g, "eta_s"));
        if (j->state == JS_LOADING && rate > 0 && j->estimate > (int64_t)j->rows)
            JG_OK(yajl_gen_integer(g, (long long)((double)(j->estimate - (int64_t)j->rows) / rate + 0.5)));
        else
            JG_OK(yajl_gen_null(g));
        JG_OK(JG_KEY(g, "stream_lag_ms"));
        JG_OK(yajl_gen_integer(g, (long long)(stats_lag_seconds(m->st, now) * 1000.0)));
        JG_OK(JG_KEY(g, "finished_ms"));
        if (j->finished_ms > 0)
            JG_OK(yajl_gen_integer(g, (long long)j->finished_ms));
        else
            JG_OK(yajl_gen_null(g));
        JG_OK(yajl_gen_map_close(g));
        return s;
    }
    JG_OK(JG_KEY(g, "marks_loaded"));
    JG_OK(yajl_gen_bool(g, j->marks_loaded));
    JG_OK(JG_KEY(g, "p_file"));
    JG_OK(job_gstr(g, j->p_file));
    JG_OK(JG_KEY(g, "p_pos"));
    JG_OK(yajl_gen_integer(g, (long long)j->p_pos));
    JG_OK(JG_KEY(g, "p0_file"));
    JG_OK(job_gstr(g, j->p0_file));
    JG_OK(JG_KEY(g, "p0_pos"));
    JG_OK(yajl_gen_integer(g, (long long)j->p0_pos));
    JG_OK(JG_KEY(g, "estimate"));
    JG_OK(yajl_gen_integer(g, (long long)j->estimate));
    if (j->saved_known) {
        JG_OK(JG_KEY(g, "saved"));
        JG_OK(yajl_gen_map_open(g));
        for (size_t i = 0; i < JOB_NSET; i++) {
            JG_OK(JG_KEY(g, job_set_keys[i]));
            JG_OK(job_gen_str_or_null(g, j->saved[i]));
        }
        JG_OK(yajl_gen_map_close(g));
    }
    JG_OK(JG_KEY(g, "tables"));
    JG_OK(yajl_gen_array_open(g));
    for (size_t i = 0; i < j->n_tbls; i++) {
        const job_tbl *t = &j->tbls[i];
        JG_OK(yajl_gen_map_open(g));
        JG_OK(JG_KEY(g, "db"));
        JG_OK(job_gstr(g, t->db));
        JG_OK(JG_KEY(g, "table"));
        JG_OK(job_gstr(g, t->table));
        JG_OK(JG_KEY(g, "done"));
        JG_OK(yajl_gen_bool(g, t->done));
        JG_OK(JG_KEY(g, "rows"));
        JG_OK(yajl_gen_integer(g, (long long)t->rows));
        JG_OK(JG_KEY(g, "key"));
        JG_OK(yajl_gen_array_open(g));
        for (size_t k = 0; k < t->n_key; k++)
            JG_OK(job_gstr(g, t->key[k]));
        JG_OK(yajl_gen_array_close(g));
        JG_OK(yajl_gen_map_close(g));
    }
    JG_OK(yajl_gen_array_close(g));
    JG_OK(yajl_gen_map_close(g));
    return s;
}

/* Writes the state file (m->mu held). Ended jobs are not kept. */
static int job_save_locked(job_mgr *m, char *err, size_t errlen)
{
    if (m->state_path[0] == '\0')
        return 0;
    int rc = -1;
    ce_buf out;
    ce_buf_init(&out, JOB_STATE_MAX);
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        snprintf(err, errlen, "reindex state %.300s: out of memory", m->state_path);
        goto out;
    }
    yajl_gen_config(g, yajl_gen_print_callback, job_print, &out);
    yajl_gen_status s = yajl_gen_map_open(g);
    JG_OK(JG_KEY(g, "version"));
    JG_OK(yajl_gen_integer(g, 1));
    JG_OK(JG_KEY(g, "destination"));
    JG_OK(job_gstr(g, m->c->canal.destination));
    JG_OK(JG_KEY(g, "client_id"));
    JG_OK(yajl_gen_integer(g, m->c->canal.client_id));
    JG_OK(JG_KEY(g, "next_id"));
    JG_OK(yajl_gen_integer(g, m->next_id));
    JG_OK(JG_KEY(g, "loaded"));
    JG_OK(yajl_gen_array_open(g));
    for (size_t i = 0; i < m->n_loaded; i++)
        JG_OK(job_gstr(g, m->loaded[i]));
    JG_OK(yajl_gen_array_close(g));
    JG_OK(JG_KEY(g, "jobs"));
    JG_OK(yajl_gen_array_open(g));
    for (size_t i = 0; i < m->n_jobs; i++)
        if (!job_ended(m->jobs[i]))
            JG_OK(job_gen(g, m->jobs[i], m, true));
    JG_OK(yajl_gen_array_close(g));
    JG_OK(yajl_gen_map_close(g));
    if (s != yajl_gen_status_ok || ce_buf_putc(&out, '\n') != 0) {
        snprintf(err, errlen, "reindex state %.300s: cannot encode (too large, or invalid UTF-8 in a name)",
                 m->state_path);
        goto out;
    }
    if (ce_write_file_atomic(m->state_path, out.data, out.len, "reindex state", err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (g != NULL)
        yajl_gen_free(g);
    ce_buf_free(&out);
    return rc;
}

/* Saves; a failure is logged (the job goes on: the next save may work, and
 * a restart would only read some chunks again). */
static int job_save(job_mgr *m)
{
    char err[512];
    pthread_mutex_lock(&m->mu);
    int rc = job_save_locked(m, err, sizeof err);
    pthread_mutex_unlock(&m->mu);
    if (rc != 0)
        ce_log(CE_LOG_ERROR, "reindex", "%s", err);
    return rc;
}

static void job_copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src != NULL ? src : ""); }

/* One job of the state file; NULL with err. */
static job *job_from_json(job_mgr *m, yajl_val v, char *err, size_t errlen)
{
    job *j = ce_calloc(1, sizeof *j);
    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *rule = ce_json_str(v, "rule"), *state = ce_json_str(v, "state"), *mode = ce_json_str(v, "mode");
    j->id = (long)ce_json_int(v, "id", 0);
    if (rule == NULL || state == NULL || mode == NULL || j->id <= 0) {
        snprintf(err, errlen, "a job lacks id, rule, state or mode");
        goto fail;
    }
    job_copy(j->rule_name, sizeof j->rule_name, rule);
    job_copy(j->table, sizeof j->table, ce_json_str(v, "table"));
    job_copy(j->index, sizeof j->index, ce_json_str(v, "index"));
    job_copy(j->p_file, sizeof j->p_file, ce_json_str(v, "p_file"));
    job_copy(j->p0_file, sizeof j->p0_file, ce_json_str(v, "p0_file"));
    j->p_pos = ce_json_int(v, "p_pos", 0);
    j->p0_pos = ce_json_int(v, "p0_pos", 0);
    j->alias_mode = strcmp(mode, "alias") == 0;
    const char *origin = ce_json_str(v, "origin");
    j->initial = origin != NULL && strcmp(origin, "initial") == 0;
    const char *mp[] = {"marks_loaded", NULL};
    j->marks_loaded = YAJL_IS_TRUE(yajl_tree_get(v, mp, yajl_t_true));
    j->state = JS_QUEUED;
    for (size_t i = 0; i < JS_DONE; i++)
        if (strcmp(state, job_state_names[i]) == 0)
            j->state = (job_state)i;
    j->rows = (uint64_t)ce_json_int(v, "rows", 0);
    j->chunks = (uint64_t)ce_json_int(v, "chunks", 0);
    j->estimate = ce_json_int(v, "estimate", 0);
    j->started_ms = ce_json_int(v, "started_ms", 0);
    j->resumes = (int)ce_json_int(v, "resumes", 0);
    const char *sp[] = {"saved", NULL};
    yajl_val saved = yajl_tree_get(v, sp, yajl_t_object);
    if (saved != NULL) {
        j->saved_known = true;
        for (size_t i = 0; i < JOB_NSET; i++)
            job_copy(j->saved[i], sizeof j->saved[i], ce_json_str(saved, job_set_keys[i]));
    }
    const char *tp[] = {"tables", NULL};
    yajl_val tables = yajl_tree_get(v, tp, yajl_t_array);
    size_t n = tables != NULL ? YAJL_GET_ARRAY(tables)->len : 0;
    if (n > 0 && (j->tbls = ce_calloc(n, sizeof *j->tbls)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val t = YAJL_GET_ARRAY(tables)->values[i];
        job_tbl *jt = &j->tbls[j->n_tbls++];
        const char *db = ce_json_str(t, "db"), *tb = ce_json_str(t, "table");
        if (db == NULL || tb == NULL || (jt->db = ce_strdup(db)) == NULL || (jt->table = ce_strdup(tb)) == NULL) {
            snprintf(err, errlen, "job %ld: a table lacks db or table", j->id);
            goto fail;
        }
        const char *dp[] = {"done", NULL};
        jt->done = YAJL_IS_TRUE(yajl_tree_get(t, dp, yajl_t_true));
        jt->rows = (uint64_t)ce_json_int(t, "rows", 0);
        const char *kp[] = {"key", NULL};
        yajl_val key = yajl_tree_get(t, kp, yajl_t_array);
        for (size_t k = 0; key != NULL && k < YAJL_GET_ARRAY(key)->len && k < JOB_KEYS_MAX; k++) {
            yajl_val kv = YAJL_GET_ARRAY(key)->values[k];
            if (!YAJL_IS_STRING(kv) || (jt->key[k] = ce_strdup(YAJL_GET_STRING(kv))) == NULL) {
                snprintf(err, errlen, "job %ld: a saved key is not a string", j->id);
                goto fail;
            }
            jt->n_key++;
        }
    }
    j->rule = job_find_rule(m->c, j->rule_name);
    return j;
fail:
    job_free(j);
    return NULL;
}

/* Reads the state file into m (no lock needed: not started). 0, or -1. */
static int job_load(job_mgr *m, char *err, size_t errlen)
{
    FILE *f = fopen(m->state_path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "reindex state %s: cannot open: %s", m->state_path, strerror(errno));
        return -1;
    }
    int rc = -1;
    yajl_val root = NULL;
    ce_buf b;
    ce_buf_init(&b, JOB_STATE_MAX);
    char chunk[8192], perr[256];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (ce_buf_append(&b, chunk, n) != 0) {
            snprintf(err, errlen, "reindex state %s: larger than %u bytes", m->state_path, JOB_STATE_MAX);
            goto out;
        }
    if (ferror(f) || ce_buf_terminate(&b) != 0) {
        snprintf(err, errlen, "reindex state %s: cannot read", m->state_path);
        goto out;
    }
    root = yajl_tree_parse((const char *)b.data, perr, sizeof perr);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "reindex state %s: not a JSON object (%.200s); move it away to start over",
                 m->state_path, perr);
        goto out;
    }
    const char *dest = ce_json_str(root, "destination");
    int64_t cid = ce_json_int(root, "client_id", -1);
    if (dest == NULL || strcmp(dest, m->c->canal.destination) != 0 || cid != m->c->canal.client_id) {
        snprintf(err, errlen,
                 "reindex state %s belongs to destination %s client %lld, not %s client %ld: use another checkpoint "
                 "file (the state is the checkpoint file's name + .reindex)",
                 m->state_path, dest ? dest : "?", (long long)cid, m->c->canal.destination, m->c->canal.client_id);
        goto out;
    }
    m->next_id = (long)ce_json_int(root, "next_id", 1);
    const char *lp[] = {"loaded", NULL};
    yajl_val loaded = yajl_tree_get(root, lp, yajl_t_array);
    for (size_t i = 0; loaded != NULL && i < YAJL_GET_ARRAY(loaded)->len; i++) {
        yajl_val v = YAJL_GET_ARRAY(loaded)->values[i];
        if (YAJL_IS_STRING(v))
            job_add_loaded(m, YAJL_GET_STRING(v));
    }
    const char *jp[] = {"jobs", NULL};
    yajl_val jobs = yajl_tree_get(root, jp, yajl_t_array);
    for (size_t i = 0; jobs != NULL && i < YAJL_GET_ARRAY(jobs)->len && m->n_jobs < JOB_MAX; i++) {
        char e[300];
        job *j = job_from_json(m, YAJL_GET_ARRAY(jobs)->values[i], e, sizeof e);
        if (j == NULL) {
            snprintf(err, errlen, "reindex state %s: %s", m->state_path, e);
            goto out;
        }
        if (j->id >= m->next_id)
            m->next_id = j->id + 1;
        m->jobs[m->n_jobs++] = j;
    }
    rc = 0;
out:
    yajl_tree_free(root);
    ce_buf_free(&b);
    fclose(f);
    return rc;
}

/* ---- requests -------------------------------------------------------------- */

static void job_json_error(ce_buf *out, const char *msg)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return;
    yajl_gen_config(g, yajl_gen_print_callback, job_print, out);
    yajl_gen_map_open(g);
    job_gstr(g, "error");
    job_gstr(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_free(g);
}

/* A new job (m->mu held); NULL when there is no room. */
static job *job_add_locked(job_mgr *m, const cfg_table *rule, const char *db, const char *table, bool alias_mode,
                           bool initial)
{
    if (m->n_jobs == JOB_MAX) {
        /* drop the oldest ended job */
        size_t i;
        for (i = 0; i < m->n_jobs && !job_ended(m->jobs[i]); i++)
            ;
        if (i == m->n_jobs)
            return NULL;
        job_free(m->jobs[i]);
        memmove(&m->jobs[i], &m->jobs[i + 1], (m->n_jobs - i - 1) * sizeof m->jobs[0]);
        m->n_jobs--;
    }
    job *j = ce_calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->id = m->next_id++;
    j->rule = rule;
    cfg_rule_name(rule, j->rule_name, sizeof j->rule_name);
    snprintf(j->table, sizeof j->table, "%s.%s", db, table);
    j->alias_mode = alias_mode;
    j->initial = initial;
    j->state = JS_QUEUED;
    j->started_ms = ce_wall_ms();
    if (!alias_mode && cfg_index_for(rule, db, table, j->index, sizeof j->index) != 0)
        j->index[0] = '\0';
    m->jobs[m->n_jobs++] = j;
    return j;
}

static bool job_rule_busy(const job_mgr *m, const cfg_table *rule)
{
    for (size_t i = 0; i < m->n_jobs; i++)
        if (!job_ended(m->jobs[i]) && m->jobs[i]->rule == rule)
            return true;
    return false;
}

int job_submit(job_mgr *m, const char *db_table, bool in_place, ce_buf *out)
{
    char msg[700], db[256], table[256];
    const char *dot = db_table != NULL ? strchr(db_table, '.') : NULL;
    if (dot == NULL || dot == db_table || dot[1] == '\0' || (size_t)(dot - db_table) >= sizeof db ||
        strlen(dot + 1) >= sizeof table) {
        snprintf(msg, sizeof msg, "table '%.300s' is not DB.TABLE", db_table ? db_table : "");
        job_json_error(out, msg);
        return 400;
    }
    snprintf(db, sizeof db, "%.*s", (int)(dot - db_table), db_table);
    snprintf(table, sizeof table, "%s", dot + 1);
    const cfg *c = m->c;
    if (c->mysql.host[0] == '\0' && c->mysql.socket[0] == '\0') {
        snprintf(msg, sizeof msg, "%s: [mysql] is not set: canal-es cannot read the table (set [mysql] host, user, "
                                  "password)",
                 c->path);
        job_json_error(out, msg);
        return 503;
    }
    const cfg_table *rule = cfg_find_table(c, db, table);
    if (rule == NULL || !rule->enabled) {
        snprintf(msg, sizeof msg, "%s.%s: %s in %s", db, table,
                 rule == NULL ? "no [table] rule matches it" : "its rule has enabled = false", c->path);
        job_json_error(out, msg);
        return 404;
    }
    if (!c->es.versioning_on) {
        snprintf(msg, sizeof msg,
                 "%s.%s: [elasticsearch] versioning = off: a snapshot row could overwrite a newer change; set "
                 "versioning = external",
                 db, table);
        job_json_error(out, msg);
        return 400;
    }
    pthread_mutex_lock(&m->mu);
    int status;
    char name[300];
    bool took_initial = false;
    for (size_t i = 0; i < m->n_jobs; i++) {
        job *q = m->jobs[i];
        if (q->rule == rule && q->initial && q->state == JS_QUEUED) {
            /* the request loads the rule anyway: it takes the place of the initial load not started yet */
            ce_log(CE_LOG_INFO, "reindex", "job %ld (initial load of %s) replaced by the request", q->id, q->table);
            job_free(q);
            memmove(&m->jobs[i], &m->jobs[i + 1], (m->n_jobs - i - 1) * sizeof m->jobs[0]);
            m->n_jobs--;
            CE_STAT_ADD(m->st, reindex_queued, -1);
            took_initial = true;
            break;
        }
    }
    if (job_rule_busy(m, rule)) {
        snprintf(msg, sizeof msg, "%s.%s: a job of rule %s is already queued or running", db, table,
                 cfg_rule_name(rule, name, sizeof name));
        job_json_error(out, msg);
        status = 409;
    } else {
        job *j = job_add_locked(m, rule, db, table, rule->alias != NULL && !in_place, false);
        if (j != NULL)
            j->marks_loaded = took_initial;
        if (j == NULL) {
            job_json_error(out, "too many jobs kept; try again later");
            status = 503;
        } else {
            char err[512];
            if (job_save_locked(m, err, sizeof err) != 0)
                ce_log(CE_LOG_ERROR, "reindex", "%s", err);
            CE_STAT_ADD(m->st, reindex_queued, 1);
            yajl_gen g = yajl_gen_alloc(NULL);
            if (g != NULL) {
                yajl_gen_config(g, yajl_gen_print_callback, job_print, out);
                yajl_gen_map_open(g);
                job_gstr(g, "id");
                yajl_gen_integer(g, j->id);
                job_gstr(g, "table");
                job_gstr(g, j->table);
                job_gstr(g, "rule");
                job_gstr(g, j->rule_name);
                job_gstr(g, "mode");
                job_gstr(g, j->alias_mode ? "alias" : "in_place");
                job_gstr(g, "index");
                job_gstr(g, j->index);
                yajl_gen_map_close(g);
                yajl_gen_free(g);
            }
            ce_log(CE_LOG_INFO, "reindex", "job %ld queued: %s (rule %s, %s)", j->id, j->table, j->rule_name,
                   j->alias_mode ? "new index, then the alias is moved" : "in place");
            pthread_cond_broadcast(&m->cv);
            status = 202;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return status;
}

int job_cancel(job_mgr *m, long id, ce_buf *out)
{
    pthread_mutex_lock(&m->mu);
    job *j = NULL;
    for (size_t i = 0; i < m->n_jobs; i++)
        if (m->jobs[i]->id == id)
            j = m->jobs[i];
    int status;
    char msg[200];
    if (j == NULL) {
        snprintf(msg, sizeof msg, "no job %ld", id);
        job_json_error(out, msg);
        status = 404;
    } else if (job_ended(j)) {
        snprintf(msg, sizeof msg, "job %ld already ended (%s)", id, job_state_names[j->state]);
        job_json_error(out, msg);
        status = 409;
    } else {
        j->cancel = true;
        if (j->state == JS_QUEUED) {
            j->state = JS_CANCELLED;
            j->finished_ms = ce_wall_ms();
            snprintf(j->error, sizeof j->error, "cancelled before it started");
            m->failed++;
            CE_STAT_ADD(m->st, reindex_jobs_failed, 1);
            CE_STAT_ADD(m->st, reindex_queued, -1);
            char err[512];
            if (job_save_locked(m, err, sizeof err) != 0)
                ce_log(CE_LOG_ERROR, "reindex", "%s", err);
        }
        ce_log(CE_LOG_INFO, "reindex", "job %ld (%s): cancel requested", id, j->table);
        char buf[64];
        snprintf(buf, sizeof buf, "{\"id\":%ld,\"state\":\"cancelled\"}", id);
        ce_buf_append_str(out, buf);
        pthread_cond_broadcast(&m->cv);
        status = 200;
    }
    pthread_mutex_unlock(&m->mu);
    return status;
}

int job_status(job_mgr *m, ce_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return 500;
    yajl_gen_config(g, yajl_gen_print_callback, job_print, out);
    pthread_mutex_lock(&m->mu);
    yajl_gen_status s = yajl_gen_map_open(g);
    JG_OK(JG_KEY(g, "jobs"));
    JG_OK(yajl_gen_array_open(g));
    for (size_t i = 0; i < m->n_jobs; i++)
        JG_OK(job_gen(g, m->jobs[i], m, false));
    JG_OK(yajl_gen_array_close(g));
    JG_OK(yajl_gen_map_close(g));
    pthread_mutex_unlock(&m->mu);
    yajl_gen_free(g);
    return s == yajl_gen_status_ok ? 200 : 500;
}

bool job_mgr_idle(job_mgr *m, int *failed)
{
    pthread_mutex_lock(&m->mu);
    bool idle = true;
    for (size_t i = 0; i < m->n_jobs; i++)
        if (!job_ended(m->jobs[i]))
            idle = false;
    *failed = m->failed;
    pthread_mutex_unlock(&m->mu);
    return idle;
}

/* ---- the pipeline's side --------------------------------------------------- */

int job_tee(job_mgr *m, const cfg_table *rule, char *index, size_t len)
{
    if (m == NULL || atomic_load_explicit(&m->tee_on, memory_order_acquire) == 0)
        return 0;
    int on = 0;
    pthread_mutex_lock(&m->mu);
    if (m->tee_rule == rule && m->tee_index[0] != '\0') {
        snprintf(index, len, "%s", m->tee_index);
        on = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return on;
}

void job_note_delete(job_mgr *m, const cfg_table *rule, const uint8_t *p, size_t len)
{
    if (m == NULL || len == 0)
        return;
    pthread_mutex_lock(&m->mu);
    job *j = m->running;
    if (j != NULL && j->rule == rule && j->state == JS_LOADING) {
        if (m->pending.len + len > JOB_PENDING_MAX) {
            if (!m->pending_overflow)
                ce_log(CE_LOG_WARN, "reindex",
                       "job %ld: more than %u bytes of deletes during one chunk: the rest rely on the node's "
                       "tombstones (index.gc_deletes)",
                       j->id, JOB_PENDING_MAX);
            m->pending_overflow = true;
        } else if (ce_buf_append(&m->pending, p, len) == 0) {
            m->n_pending++;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void job_stream_at(job_mgr *m, const char *file, int64_t offset, int64_t server_id, bool caught_up)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    if (file != NULL && file[0] != '\0') {
        int64_t v = map_version(file, offset, 0, (unsigned)m->c->es.version_epoch);
        if (v > m->stream_ver)
            m->stream_ver = v;
    }
    if (server_id != 0)
        m->stream_server_id = server_id;
    if (caught_up && !m->caught_up)
        m->caught_up_since_ms = (int64_t)ce_mono_ms();
    m->caught_up = caught_up;
    pthread_mutex_unlock(&m->mu);
}

void job_stream_ddl(job_mgr *m, const ddl_event *ev)
{
    if (m == NULL || ev->table == NULL || ev->table[0] == '\0')
        return;
    pthread_mutex_lock(&m->mu);
    job *j = m->running;
    bool hit = false;
    if (j != NULL && (j->state == JS_LOADING || j->state == JS_CATCHING_UP) && j->p0_file[0] != '\0') {
        unsigned ep = (unsigned)m->c->es.version_epoch;
        /* a DDL before the first chunk's read view is already in what the chunks read */
        bool after = map_version(ev->logfile, ev->offset, 0, ep) >= map_version(j->p0_file, j->p0_pos, 0, ep);
        for (size_t i = 0; after && i < j->n_tbls; i++)
            if (strcmp(j->tbls[i].db, ev->schema) == 0 && strcmp(j->tbls[i].table, ev->table) == 0) {
                hit = true;
                m->ddl_hit = true;
                m->ddl_fenced = false;
                m->ddl_applied = false;
                snprintf(m->ddl_msg, sizeof m->ddl_msg, "DDL on %s.%s at binlog %s:%lld while the job read it: %.300s",
                         ev->schema, ev->table, ev->logfile, (long long)ev->offset, ev->sql ? ev->sql : "");
            }
    }
    /* The statement (a TRUNCATE's _delete_by_query) is applied after the job has stopped writing: a chunk
     * read before it and written after it would otherwise bring deleted rows back. */
    uint64_t end = ce_mono_ms() + JOB_FENCE_MS;
    while (hit && !m->ddl_fenced && m->running == j && !atomic_load(&m->quit) && !(m->stop && *m->stop)) {
        if (ce_mono_ms() >= end) {
            ce_log(CE_LOG_WARN, "reindex", "job %ld: still writing %d s after %s; applying it anyway", j->id,
                   JOB_FENCE_MS / 1000, m->ddl_msg);
            break;
        }
        job_wait_locked(m, 100);
    }
    pthread_mutex_unlock(&m->mu);
}

void job_stream_ddl_done(job_mgr *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->ddl_hit) {
        m->ddl_applied = true;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
}

/* Worker: it has stopped writing after a DDL; waits until the stream has
 * applied the statement (or a stop), then clears the DDL state. */
static void job_ddl_fence(job_mgr *m)
{
    pthread_mutex_lock(&m->mu);
    m->ddl_fenced = true;
    pthread_cond_broadcast(&m->cv);
    uint64_t end = ce_mono_ms() + JOB_FENCE_MS;
    while (!m->ddl_applied && !atomic_load(&m->quit) && !(m->stop && *m->stop) && ce_mono_ms() < end) {
        job_wait_locked(m, 100);
    }
    m->ddl_hit = false;
    m->ddl_fenced = false;
    m->ddl_applied = false;
    pthread_mutex_unlock(&m->mu);
}

/* ---- the worker ------------------------------------------------------------ */

typedef struct jw {
    job_mgr *m;
    job *j;
    const cfg *c;
    my_conn *my;
    sink *sinks[DLV_MAX_STREAMS];
    size_t n_sinks;
    size_t req_cap;
    bulk b;
    bool bulk_ok;
    map_out mo;
    automap *am;
    deadletter *dl;
    dlv_action *acts;
    dlv_result *res;
    size_t items_cap;
    job_tbl *tbl;            /* the table being read */
    const snap_table *st;    /* its columns and key */
    uint64_t last_progress_ms;
    uint64_t rate_start_ms;  /* max_rows_per_s: rows since then */
    uint64_t rate_rows;
    char err[1024];
} jw;

/* Non-zero when the worker must leave the job now: a stop of the service
 * (JOB_STOP) or a cancel (JOB_CANCEL). Any thread (the delivery's streams). */
static int jw_leave_now(jw *w)
{
    job_mgr *m = w->m;
    if (atomic_load(&m->quit) || (m->stop != NULL && *m->stop))
        return JOB_STOP;
    pthread_mutex_lock(&m->mu);
    bool cancel = w->j->cancel;
    pthread_mutex_unlock(&m->mu);
    return cancel ? JOB_CANCEL : JOB_OK;
}

/* jw_leave_now, or JOB_DDL when the stream met a DDL statement on a table
 * of the job: checked between requests, never inside one (a request the
 * node has received is applied even when the client gives up on it). */
static int jw_leave(jw *w)
{
    int l = jw_leave_now(w);
    if (l != JOB_OK)
        return l;
    pthread_mutex_lock(&w->m->mu);
    bool ddl = w->m->ddl_hit;
    pthread_mutex_unlock(&w->m->mu);
    return ddl ? JOB_DDL : JOB_OK;
}

/* The delivery's and the transfers' abort: a stop or a cancel only. */
static int jw_abort(void *ud) { return jw_leave_now(ud) != JOB_OK; }

/* Sleeps ms in steps; the jw_leave verdict when it must leave. */
static int jw_sleep(jw *w, uint64_t ms)
{
    uint64_t end = ce_mono_ms() + ms;
    for (;;) {
        int l = jw_leave(w);
        if (l != JOB_OK)
            return l;
        uint64_t now = ce_mono_ms();
        if (now >= end)
            return JOB_OK;
        ce_sleep_ms(end - now > 100 ? 100 : end - now, NULL);
    }
}

static void jw_set_state(jw *w, job_state s)
{
    pthread_mutex_lock(&w->m->mu);
    w->j->state = s;
    pthread_mutex_unlock(&w->m->mu);
}

/* One request to the node with retries (transport, 429, 5xx) until done,
 * a 4xx (returned with its status) or leave. JOB_OK with *status. */
static int jw_request(jw *w, const char *method, const char *path, const char *body, long *status, const char **resp,
                      size_t *rlen)
{
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)w->c->es.retry_initial_ms, (uint64_t)w->c->es.retry_max_ms);
    for (;;) {
        sink_rc rc = sink_request(w->sinks[0], method, path, body, body ? strlen(body) : 0, status, resp, rlen,
                                  w->err, sizeof w->err);
        if (rc == SINK_OK && *status != 429 && *status < 500)
            return JOB_OK;
        if (rc == SINK_FATAL)
            return JOB_ERR;
        if (rc == SINK_OK)
            snprintf(w->err, sizeof w->err, "%s %s%s: HTTP %ld", method, sink_base_url(w->sinks[0]), path, *status);
        uint64_t d = dlv_wait_ms(ce_backoff_next(&bo), sink_retry_after_ms(w->sinks[0]));
        ce_log(CE_LOG_WARN, "reindex", "job %ld: %s; retrying in %llu ms", w->j->id, w->err, (unsigned long long)d);
        int l = jw_sleep(w, d);
        if (l != JOB_OK)
            return l;
    }
}

/* The reason of an error answer, for messages. */
static void jw_reason(const char *resp, size_t rlen, char *out, size_t len)
{
    char perr[64];
    char *copy = ce_strndup(resp != NULL ? resp : "", rlen);
    yajl_val root = copy != NULL ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
    const char *rp[] = {"error", "reason", NULL}, *tp[] = {"error", "type", NULL};
    yajl_val r = root != NULL ? yajl_tree_get(root, rp, yajl_t_string) : NULL;
    yajl_val t = root != NULL ? yajl_tree_get(root, tp, yajl_t_string) : NULL;
    if (r != NULL)
        snprintf(out, len, "%s: %s", t ? YAJL_GET_STRING(t) : "error", YAJL_GET_STRING(r));
    else
        snprintf(out, len, "%.200s", copy != NULL ? copy : "");
    yajl_tree_free(root);
    ce_free(copy);
}

/* A request that must succeed (2xx): JOB_ERR with w->err naming it otherwise. */
static int jw_must(jw *w, const char *method, const char *path, const char *body, const char *what)
{
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    int rc = jw_request(w, method, path, body, &status, &resp, &rlen);
    if (rc != JOB_OK)
        return rc;
    if (status < 200 || status >= 300) {
        char reason[400];
        jw_reason(resp, rlen, reason, sizeof reason);
        snprintf(w->err, sizeof w->err, "%s: %s %s%s: HTTP %ld: %s", what, method, sink_base_url(w->sinks[0]), path,
                 status, reason);
        return JOB_ERR;
    }
    return JOB_OK;
}

/* The synthetic row of a table's columns (names and types only): what the
 * index is created from before the first chunk. */
typedef struct jw_shape {
    row_col *cols;
    row_event ev;
} jw_shape;

static int jw_shape_of(const snap_table *t, jw_shape *sh)
{
    sh->cols = ce_calloc(t->n ? t->n : 1, sizeof *sh->cols);
    if (sh->cols == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        sh->cols[i] = (row_col){.name = t->cols[i].name,
                                .value = "",
                                .mysql_type = t->cols[i].column_type,
                                .is_null = true,
                                .is_key = t->cols[i].is_pk};
    sh->ev = (row_event){.schema = t->db,
                         .table = t->table,
                         .op = ROW_INSERT,
                         .after = {.cols = sh->cols, .n = t->n},
                         .logfile = "",
                         .gtid = "",
                         .snapshot = true};
    return 0;
}

/* Makes sure `index` exists as the rule would create it (mapping = auto |
 * FILE | dynamic), from the table's column types. rule may be a copy
 * (alias mode: alias NULL, index = the new index). */
static int jw_ensure(jw *w, const cfg_table *rule, const char *index, const snap_table *t, bool create_dynamic)
{
    jw_shape sh = {0};
    int ret = JOB_ERR;
    if (jw_shape_of(t, &sh) != 0) {
        snprintf(w->err, sizeof w->err, "out of memory");
        goto out;
    }
    if (rule->mapping_mode == CFG_MAPPING_DYNAMIC) {
        if (!create_dynamic) {
            ret = JOB_OK;
            goto out;
        }
        char path[3 * CFG_INDEX_MAX + 64];
        if (sink_index_path(index, "", path, sizeof path) != 0) {
            snprintf(w->err, sizeof w->err, "index %.300s: not a name for a URL path", index);
            goto out;
        }
        ret = jw_must(w, "PUT", path, "{}", "creating the new index");
        goto out;
    }
    if (rule->mapping_mode == CFG_MAPPING_AUTO && w->am == NULL && (w->am = automap_new()) == NULL) {
        snprintf(w->err, sizeof w->err, "out of memory");
        goto out;
    }
    ce_backoff bo;
    ce_backoff_init(&bo, (uint64_t)w->c->es.retry_initial_ms, (uint64_t)w->c->es.retry_max_ms);
    for (;;) {
        int created = 0;
        sink_rc sr = rule->mapping_mode == CFG_MAPPING_AUTO
                         ? automap_ensure(w->am, w->sinks[0], rule, index, &sh.ev, &created, w->err, sizeof w->err)
                         : setup_ensure(w->sinks[0], rule, index, NULL, 0, &created, w->err, sizeof w->err);
        if (sr == SINK_OK) {
            if (created)
                ce_log(CE_LOG_INFO, "reindex", "job %ld: created index %s from %s", w->j->id, index,
                       rule->mapping_mode == CFG_MAPPING_AUTO ? "the column types" : rule->mapping);
            ret = JOB_OK;
            goto out;
        }
        if (sr == SINK_FATAL)
            goto out;
        uint64_t d = dlv_wait_ms(ce_backoff_next(&bo), sink_retry_after_ms(w->sinks[0]));
        ce_log(CE_LOG_WARN, "reindex", "job %ld: %s; retrying in %llu ms", w->j->id, w->err, (unsigned long long)d);
        if ((ret = jw_sleep(w, d)) != JOB_OK)
            goto out;
        ret = JOB_ERR;
    }
out:
    ce_free(sh.cols);
    return ret;
}

/* GET /INDEX/_settings?flat_settings=true: the job's settings of the first
 * index in the answer into saved ("" when not set explicitly). */
static int jw_read_settings(jw *w, const char *index, char saved[JOB_NSET][64])
{
    char path[3 * CFG_INDEX_MAX + 64];
    if (sink_index_path(index, "/_settings?flat_settings=true", path, sizeof path) != 0) {
        snprintf(w->err, sizeof w->err, "index %.300s: not a name for a URL path", index);
        return JOB_ERR;
    }
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    int rc = jw_request(w, "GET", path, NULL, &status, &resp, &rlen);
    if (rc != JOB_OK)
        return rc;
    char perr[128];
    char *copy = ce_strndup(resp != NULL ? resp : "", rlen);
    yajl_val root = copy != NULL && status == 200 ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
    ce_free(copy);
    if (root == NULL || !YAJL_IS_OBJECT(root) || YAJL_GET_OBJECT(root)->len == 0) {
        yajl_tree_free(root);
        snprintf(w->err, sizeof w->err, "GET %s%s: HTTP %ld, no settings in the answer", sink_base_url(w->sinks[0]),
                 path, status);
        return JOB_ERR;
    }
    yajl_val first = YAJL_GET_OBJECT(root)->values[0];
    for (size_t i = 0; i < JOB_NSET; i++) {
        char key[64];
        snprintf(key, sizeof key, "index.%s", job_set_keys[i]);
        const char *p[] = {"settings", key, NULL};
        yajl_val v = yajl_tree_get(first, p, yajl_t_string);
        snprintf(saved[i], 64, "%s", v != NULL ? YAJL_GET_STRING(v) : "");
    }
    yajl_tree_free(root);
    return JOB_OK;
}

/* PUT /INDEX/_settings with values (NULL or "" = null: the default). */
static int jw_put_settings(jw *w, const char *index, const char *const vals[JOB_NSET], const char *what)
{
    char path[3 * CFG_INDEX_MAX + 64], body[512];
    if (sink_index_path(index, "/_settings", path, sizeof path) != 0) {
        snprintf(w->err, sizeof w->err, "index %.300s: not a name for a URL path", index);
        return JOB_ERR;
    }
    size_t n = (size_t)snprintf(body, sizeof body, "{\"index\":{");
    for (size_t i = 0; i < JOB_NSET; i++) {
        if (vals[i] == (const char *)1)
            continue; /* not touched */
        bool null = vals[i] == NULL || vals[i][0] == '\0';
        int k = snprintf(body + n, sizeof body - n, "%s\"%s\":%s%s%s", body[n - 1] == '{' ? "" : ",", job_set_keys[i],
                         null ? "null" : "\"", null ? "" : vals[i], null ? "" : "\"");
        if (k < 0 || (size_t)k >= sizeof body - n) {
            snprintf(w->err, sizeof w->err, "settings too long");
            return JOB_ERR;
        }
        n += (size_t)k;
    }
    snprintf(body + n, sizeof body - n, "}}");
    return jw_must(w, "PUT", path, body, what);
}

/* Sends the bulk through the delivery module until every item has a final
 * result; dead items go to the dead-letter file (or fail the job with
 * on_error = halt). */
static int jw_flush(jw *w)
{
    size_t n = w->b.n_actions;
    if (n == 0)
        return JOB_OK;
    if (bulk_dlv_actions(&w->b, &w->acts, &w->res, &w->items_cap) != 0) {
        snprintf(w->err, sizeof w->err, "out of memory for %zu bulk items", n);
        return JOB_ERR;
    }
    dlv_transport t;
    dlv_sink_transport(&t, w->sinks);
    dlv_opts o = {.req_cap = &w->req_cap,
                  .streams = w->n_sinks,
                  .should_abort = jw_abort,
                  .abort_ud = w,
                  .halt_on_dead = w->dl == NULL};
    dlv_opts_retries(&o, &w->c->es);
    dlv_rc rc = dlv_send(w->acts, n, &t, &o, w->res, w->err, sizeof w->err);
    if (rc == DLV_STOPPED)
        return jw_leave_now(w) != JOB_OK ? jw_leave_now(w) : JOB_STOP;
    if (rc != DLV_DONE && rc != DLV_HALTED) {
        size_t l = strlen(w->err);
        snprintf(w->err + l, sizeof w->err - l, " (%s)", dlv_rc_name(rc));
        return JOB_ERR;
    }
    uint64_t ok = 0, dead = 0;
    for (size_t i = 0; i < n; i++) {
        sink_item *it = &w->res[i].item;
        if (it->cls == SINK_ITEM_OK) {
            ok++;
            continue;
        }
        if (w->dl == NULL) {
            snprintf(w->err, sizeof w->err, "%s: document rejected (HTTP %d %s: %s) (on_error = halt)",
                     bulk_table(&w->b, i), it->status, it->type, it->reason);
            return JOB_ERR;
        }
        if (dl_write(w->dl, &w->b, i, it, w->err, sizeof w->err) != 0)
            return JOB_ERR;
        dead++;
        ce_log(CE_LOG_WARN, "reindex", "job %ld: %s: document rejected (HTTP %d %s: %s): written to %s", w->j->id,
               bulk_table(&w->b, i), it->status, it->type, it->reason, dl_path(w->dl));
    }
    if (dead > 0) {
        CE_STAT_ADD(w->m->st, dead_letters, dead);
        if (dl_sync(w->dl, w->err, sizeof w->err) != 0)
            return JOB_ERR;
    }
    bulk_reset(&w->b);
    return JOB_OK;
}

/* After a chunk is written: the stream's deletes noted meanwhile are sent
 * again (the chunk may have been read before one of them and written after
 * it). A 404 or 409 answer is as good as applied. */
static int jw_redelete(jw *w)
{
    job_mgr *m = w->m;
    ce_buf lines;
    ce_buf_init(&lines, JOB_PENDING_MAX);
    pthread_mutex_lock(&m->mu);
    ce_buf tmp = m->pending; /* take the buffer, leave an empty one */
    m->pending = lines;
    lines = tmp;
    size_t n = m->n_pending;
    m->n_pending = 0;
    m->pending_overflow = false;
    pthread_mutex_unlock(&m->mu);
    int rc = JOB_OK;
    dlv_action *acts = NULL;
    dlv_result *res = NULL;
    if (n == 0)
        goto out;
    acts = ce_calloc(n, sizeof *acts);
    res = ce_calloc(n, sizeof *res);
    if (acts == NULL || res == NULL) {
        snprintf(w->err, sizeof w->err, "out of memory");
        rc = JOB_ERR;
        goto out;
    }
    size_t k = 0, off = 0;
    while (off < lines.len && k < n) {
        const uint8_t *nl = memchr(lines.data + off, '\n', lines.len - off);
        size_t end = nl != NULL ? (size_t)(nl - lines.data) + 1 : lines.len;
        acts[k++] = (dlv_action){.p = lines.data + off, .len = end - off, .id_hash = 0};
        off = end;
    }
    dlv_transport t;
    dlv_sink_transport(&t, w->sinks);
    size_t cap = w->req_cap;
    dlv_opts o = {.req_cap = &cap,
                  .streams = 1,
                  .should_abort = jw_abort,
                  .abort_ud = w};
    dlv_opts_retries(&o, &w->c->es);
    dlv_rc dr = dlv_send(acts, k, &t, &o, res, w->err, sizeof w->err);
    if (dr == DLV_STOPPED)
        rc = jw_leave_now(w) != JOB_OK ? jw_leave_now(w) : JOB_STOP;
    else if (dr != DLV_DONE)
        rc = JOB_ERR;
    else if (ce_log_enabled(CE_LOG_DEBUG))
        ce_log(CE_LOG_DEBUG, "reindex", "job %ld: sent %zu stream deletes again after the chunk", w->j->id, k);
out:
    ce_free(acts);
    ce_free(res);
    ce_buf_free(&lines);
    return rc;
}

/* Row callback: map and buffer (no I/O). */
static int jw_row(void *ud, const row_event *ev)
{
    jw *w = ud;
    const cfg_table *rule = w->j->rule;
    int rc = map_row(rule, ev, &w->mo, w->err, sizeof w->err);
    if (rc == MAP_NO_ID) {
        snprintf(w->err, sizeof w->err, "table %s.%s: no id (the rule's id columns are missing)", ev->schema,
                 ev->table);
        return JOB_ERR;
    }
    if (rc == MAP_BAD_INDEX)
        return JOB_ERR;
    if (rc != MAP_OK) {
        if (w->dl == NULL)
            return JOB_ERR;
        char reason[sizeof w->err];
        snprintf(reason, sizeof reason, "%s", w->err);
        if (dl_write_row(w->dl, ev, reason, w->err, sizeof w->err) != 0 || dl_sync(w->dl, w->err, sizeof w->err) != 0)
            return JOB_ERR;
        CE_STAT_ADD(w->m->st, dead_letters, 1);
        ce_log(CE_LOG_WARN, "reindex", "job %ld: %s: row not indexed, written to %s", w->j->id, reason, dl_path(w->dl));
        return JOB_OK;
    }
    for (size_t i = 0; i < w->mo.n; i++) {
        map_action a = w->mo.act[i];
        if (w->j->alias_mode)
            a.index = w->j->index;
        if (bulk_append(&w->b, &a, w->err, sizeof w->err) != 0)
            return JOB_ERR;
    }
    return JOB_OK;
}

static void jw_progress(jw *w, bool force)
{
    uint64_t now = ce_mono_ms();
    if (!force && now - w->last_progress_ms < JOB_PROGRESS_MS)
        return;
    w->last_progress_ms = now;
    job *j = w->j;
    pthread_mutex_lock(&w->m->mu);
    uint64_t rows = j->rows;
    int64_t est = j->estimate > (int64_t)rows ? j->estimate : (int64_t)rows;
    double rate = 0;
    int64_t wall = ce_wall_ms();
    if (wall > j->run_start_ms && rows >= j->run_start_rows)
        rate = (double)(rows - j->run_start_rows) * 1000.0 / (double)(wall - j->run_start_ms);
    pthread_mutex_unlock(&w->m->mu);
    double lag = stats_lag_seconds(w->m->st, wall);
    char eta[32] = "?";
    if (rate > 0 && est > (int64_t)rows)
        snprintf(eta, sizeof eta, "%.0f s", (double)(est - (int64_t)rows) / rate);
    else if (est <= (int64_t)rows)
        snprintf(eta, sizeof eta, "0 s");
    ce_log(CE_LOG_INFO, "reindex", "job %ld %s: %llu of ~%lld rows (%.0f%%), %.0f rows/s, ETA %s, stream lag %.1f s",
           j->id, j->table, (unsigned long long)rows, (long long)est,
           est > 0 ? 100.0 * (double)rows / (double)est : 100.0, rate, eta, lag);
}

/* The stream keeps priority: while it lags more than max_stream_lag_ms
 * with work in hand, the job waits (up to that long per chunk). Then
 * max_rows_per_s. */
static int jw_pace(jw *w, size_t rows)
{
    const cfg_reindex *r = &w->c->reindex;
    uint64_t waited = 0;
    while (waited < (uint64_t)r->max_stream_lag_ms) {
        int64_t now = ce_wall_ms();
        if (CE_STAT_GET(w->m->st, caught_up) || stats_lag_seconds(w->m->st, now) * 1000.0 < (double)r->max_stream_lag_ms)
            break;
        int l = jw_sleep(w, 100);
        if (l != JOB_OK)
            return l;
        waited += 100;
    }
    if (r->max_rows_per_s > 0) {
        w->rate_rows += rows;
        uint64_t due = w->rate_start_ms + w->rate_rows * 1000u / (uint64_t)r->max_rows_per_s;
        uint64_t now = ce_mono_ms();
        if (due > now) {
            int l = jw_sleep(w, due - now);
            if (l != JOB_OK)
                return l;
        }
    }
    return jw_leave(w);
}

/* Chunk callback: deliver, record the key and P, save, pace. */
static int jw_chunk(void *ud, const snap_chunk_info *ci)
{
    jw *w = ud;
    job *j = w->j;
    job_tbl *t = w->tbl;
    int rc = jw_flush(w);
    if (rc == JOB_OK)
        rc = jw_redelete(w);
    if (rc != JOB_OK)
        return rc;
    char *nk[JOB_KEYS_MAX] = {0};
    size_t n_key = ci->last_key != NULL ? w->st->n_key : 0;
    if (n_key > JOB_KEYS_MAX)
        n_key = JOB_KEYS_MAX;
    for (size_t k = 0; k < n_key; k++)
        if ((nk[k] = ce_strdup(ci->last_key[k])) == NULL) {
            for (size_t x = 0; x < k; x++)
                ce_free(nk[x]);
            snprintf(w->err, sizeof w->err, "out of memory");
            return JOB_ERR;
        }
    pthread_mutex_lock(&w->m->mu);
    if (n_key > 0) {
        for (size_t k = 0; k < t->n_key; k++)
            ce_free(t->key[k]);
        memcpy(t->key, nk, n_key * sizeof nk[0]);
        t->n_key = n_key;
    }
    t->rows += ci->rows;
    t->done = ci->last;
    j->rows += ci->rows;
    j->chunks++;
    snprintf(j->p_file, sizeof j->p_file, "%s", ci->file);
    j->p_pos = ci->pos;
    if (j->p0_file[0] == '\0') {
        snprintf(j->p0_file, sizeof j->p0_file, "%s", ci->file);
        j->p0_pos = ci->pos;
    }
    pthread_mutex_unlock(&w->m->mu);
    CE_STAT_ADD(w->m->st, reindex_rows, ci->rows);
    CE_STAT_ADD(w->m->st, reindex_chunks, 1);
    CE_STAT_SET(w->m->st, reindex_job_rows, (int64_t)j->rows);
    job_save(w->m);
    jw_progress(w, false);
    pthread_mutex_lock(&w->m->mu);
    bool ddl = w->m->ddl_hit;
    pthread_mutex_unlock(&w->m->mu);
    if (ddl)
        return JOB_DDL;
    return jw_pace(w, ci->rows);
}

/* Ends the job (state, time, error), counts it, saves. */
static void jw_end(jw *w, job_state s, const char *error)
{
    job_mgr *m = w->m;
    job *j = w->j;
    pthread_mutex_lock(&m->mu);
    j->state = s;
    j->finished_ms = ce_wall_ms();
    if (error != NULL)
        snprintf(j->error, sizeof j->error, "%s", error);
    if (s == JS_DONE) {
        CE_STAT_ADD(m->st, reindex_jobs_done, 1);
        if (j->initial || j->marks_loaded)
            job_add_loaded(m, j->rule_name);
    } else {
        m->failed++;
        CE_STAT_ADD(m->st, reindex_jobs_failed, 1);
    }
    if (m->tee_rule == j->rule) {
        atomic_store(&m->tee_on, 0);
        m->tee_rule = NULL;
        m->tee_index[0] = '\0';
    }
    char err[512];
    if (job_save_locked(m, err, sizeof err) != 0)
        ce_log(CE_LOG_ERROR, "reindex", "%s", err);
    pthread_mutex_unlock(&m->mu);
}

static void jw_tee(jw *w, bool on)
{
    job_mgr *m = w->m;
    pthread_mutex_lock(&m->mu);
    if (on) {
        m->tee_rule = w->j->rule;
        snprintf(m->tee_index, sizeof m->tee_index, "%s", w->j->index);
        atomic_store(&m->tee_on, 1);
    } else if (m->tee_rule == w->j->rule) {
        atomic_store(&m->tee_on, 0);
        m->tee_rule = NULL;
        m->tee_index[0] = '\0';
    }
    pthread_mutex_unlock(&m->mu);
}

/* Deletes the job's new index (alias mode: failed or cancelled). */
static void jw_drop_new_index(jw *w)
{
    if (!w->j->alias_mode || w->j->index[0] == '\0')
        return;
    char path[3 * CFG_INDEX_MAX + 64], keep[sizeof w->err];
    snprintf(keep, sizeof keep, "%s", w->err);
    if (sink_index_path(w->j->index, "", path, sizeof path) == 0) {
        long status = 0;
        const char *resp = NULL;
        size_t rlen = 0;
        sink_rc rc = sink_request(w->sinks[0], "DELETE", path, NULL, 0, &status, &resp, &rlen, w->err, sizeof w->err);
        if (rc == SINK_OK && status == 200)
            ce_log(CE_LOG_INFO, "reindex", "job %ld: deleted the new index %s (the alias %s was not moved)", w->j->id,
                   w->j->index, w->j->rule->alias);
        else if (rc != SINK_OK || status != 404)
            ce_log(CE_LOG_WARN, "reindex", "job %ld: could not delete the new index %s (HTTP %ld): delete it by hand",
                   w->j->id, w->j->index, status);
    }
    snprintf(w->err, sizeof w->err, "%s", keep);
}

/* The tables of the job (snapshot/tables.h): a plain rule's table; a
 * regex rule's tables that the server has and that this rule is the first
 * to match, whichever of them the request named. */
static int jw_resolve(jw *w)
{
    job *j = w->j;
    if (j->n_tbls > 0)
        return JOB_OK;
    snap_names names = {0};
    if (snap_rule_tables(w->my, w->c, j->rule, &names, w->err, sizeof w->err) != 0)
        return JOB_ERR;
    int rc = JOB_OK;
    if (names.n == 0 && !j->initial) {
        snprintf(w->err, sizeof w->err, "rule %s: the server has no table it matches", j->rule_name);
        rc = JOB_ERR;
        goto out;
    }
    job_tbl *t = ce_calloc(names.n ? names.n : 1, sizeof *t);
    if (t == NULL) {
        snprintf(w->err, sizeof w->err, "out of memory");
        rc = JOB_ERR;
        goto out;
    }
    size_t n = 0;
    for (; n < names.n; n++)
        if ((t[n].db = ce_strdup(names.v[n].db)) == NULL || (t[n].table = ce_strdup(names.v[n].table)) == NULL)
            break;
    pthread_mutex_lock(&w->m->mu);
    j->tbls = t;
    j->n_tbls = n + (n < names.n && t[n].db != NULL ? 1 : 0);
    pthread_mutex_unlock(&w->m->mu);
    if (n < names.n) {
        snprintf(w->err, sizeof w->err, "out of memory");
        rc = JOB_ERR;
        goto out;
    }
    if (j->rule->pattern != NULL)
        ce_log(CE_LOG_INFO, "reindex", "job %ld: rule %s covers %zu table(s)%s%s.%s%s", j->id, j->rule_name, names.n,
               names.n ? ": " : "", names.n ? names.v[0].db : "", names.n ? names.v[0].table : "",
               names.n > 1 ? ", ..." : "");
out:
    snap_names_free(&names);
    return rc;
}

/* Alias mode, before the first chunk: the new index (created with the
 * rule's mapping, load settings), then the tee. Resumed: checks the index
 * is still there and turns the tee on again. */
static int jw_prepare_alias(jw *w, const snap_table *first)
{
    job *j = w->j;
    const cfg_table *rule = j->rule;
    char path[3 * CFG_INDEX_MAX + 64];
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    int rc;
    const char *load[JOB_NSET] = {"-1", "0", JOB_GC_DELETES};
    if (j->index[0] != '\0' && j->saved_known) {
        /* resumed: the new index was created and its settings recorded */
        if (sink_index_path(j->index, "", path, sizeof path) != 0)
            return JOB_ERR;
        if ((rc = jw_request(w, "HEAD", path, NULL, &status, &resp, &rlen)) != JOB_OK)
            return rc;
        if (status != 200) {
            snprintf(w->err, sizeof w->err, "the job's new index %s is gone (HEAD: HTTP %ld); start the reindex again",
                     j->index, status);
            return JOB_ERR;
        }
        return jw_put_settings(w, j->index, load, "load settings of the new index");
    }
    if (j->index[0] != '\0') {
        /* named in an earlier attempt that ended before the index's settings were recorded: start it afresh */
        if (sink_index_path(j->index, "", path, sizeof path) != 0)
            return JOB_ERR;
        if ((rc = jw_request(w, "DELETE", path, NULL, &status, &resp, &rlen)) != JOB_OK)
            return rc;
        if (status != 200 && status != 404) {
            snprintf(w->err, sizeof w->err, "DELETE of the unfinished new index %s: HTTP %ld", j->index, status);
            return JOB_ERR;
        }
        goto create;
    }
    /* the alias must not be a concrete index */
    if (sink_index_path(rule->alias, "", path, sizeof path) != 0)
        return JOB_ERR;
    char apath[3 * CFG_INDEX_MAX + 80];
    snprintf(apath, sizeof apath, "/_alias%s", path);
    if ((rc = jw_request(w, "HEAD", apath, NULL, &status, &resp, &rlen)) != JOB_OK)
        return rc;
    bool alias_exists = status == 200;
    if ((rc = jw_request(w, "HEAD", path, NULL, &status, &resp, &rlen)) != JOB_OK)
        return rc;
    if (status == 200 && !alias_exists) {
        snprintf(w->err, sizeof w->err,
                 "alias %s of rule %s (config line %d) is the name of an index, not an alias: a reindex cannot move "
                 "it (reindex it into another name, or point the alias at an index first)",
                 rule->alias, j->rule_name, rule->line);
        return JOB_ERR;
    }
    char name[CFG_INDEX_MAX + 1], stamp[16];
    ce_utc_stamp(ce_wall_ms(), stamp, sizeof stamp);
    int nl = snprintf(name, sizeof name, "%s-%s", rule->alias, stamp);
    if (nl < 0 || (size_t)nl >= sizeof name) {
        snprintf(w->err, sizeof w->err, "alias %s: the new index name would be longer than %d bytes", rule->alias,
                 CFG_INDEX_MAX);
        return JOB_ERR;
    }
    if (sink_index_path(name, "", path, sizeof path) != 0)
        return JOB_ERR;
    if ((rc = jw_request(w, "HEAD", path, NULL, &status, &resp, &rlen)) != JOB_OK)
        return rc;
    if (status == 200) {
        snprintf(w->err, sizeof w->err, "the new index %s exists already (another reindex this second?); try again",
                 name);
        return JOB_ERR;
    }
    pthread_mutex_lock(&w->m->mu);
    snprintf(j->index, sizeof j->index, "%s", name);
    pthread_mutex_unlock(&w->m->mu);
    job_save(w->m); /* the name first: an index left by a crash from here on is found again */
create:;
    cfg_table copy = *rule; /* the new index, without the alias: it is moved at the end */
    copy.alias = NULL;
    copy.index = j->index;
    if ((rc = jw_ensure(w, &copy, j->index, first, true)) != JOB_OK) {
        char e[sizeof w->err];
        snprintf(e, sizeof e, "creating the new index %s: %.700s", j->index, w->err);
        snprintf(w->err, sizeof w->err, "%s", e);
        return rc;
    }
    char saved[JOB_NSET][64];
    if ((rc = jw_read_settings(w, j->index, saved)) != JOB_OK)
        return rc;
    pthread_mutex_lock(&w->m->mu);
    memcpy(j->saved, saved, sizeof saved);
    j->saved_known = true;
    pthread_mutex_unlock(&w->m->mu);
    job_save(w->m);
    return jw_put_settings(w, j->index, load, "load settings of the new index");
}

/* Waits until the stream has passed P of the last chunk, or nothing was
 * written after it, or the stream has been caught up for a while. */
static int jw_catch_up(jw *w)
{
    job *j = w->j;
    job_mgr *m = w->m;
    unsigned ep = (unsigned)w->c->es.version_epoch;
    int64_t vp = map_version(j->p_file, j->p_pos, 0, ep);
    uint64_t start = ce_mono_ms(), next_log = start + 10000;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int64_t sv = m->stream_ver;
        bool cu = m->caught_up;
        int64_t since = m->caught_up_since_ms;
        pthread_mutex_unlock(&m->mu);
        if (vp < 0 || sv >= vp)
            return JOB_OK;
        char f[256], e[256];
        int64_t pos = 0;
        if (snap_master_position(w->my, f, sizeof f, &pos, e, sizeof e) == 0 && strcmp(f, j->p_file) == 0 &&
            pos == j->p_pos)
            return JOB_OK; /* nothing written after the last chunk's read */
        if (cu && since > 0 && ce_mono_ms() - (uint64_t)since >= JOB_CATCHUP_IDLE_MS)
            return JOB_OK;
        if (ce_mono_ms() >= next_log) {
            ce_log(CE_LOG_INFO, "reindex", "job %ld: waiting for the stream to pass binlog %s:%lld", j->id, j->p_file,
                   (long long)j->p_pos);
            next_log = ce_mono_ms() + 10000;
        }
        int l = jw_sleep(w, 200);
        if (l != JOB_OK)
            return l;
    }
}

static int jw_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)b, *(const char *const *)a); /* newest first */
}

/* Keeps the keep_old newest previous {alias}-yyyyMMddHHmmss indexes, deletes older ones. */
static void jw_prune(jw *w)
{
    job *j = w->j;
    const char *alias = j->rule->alias;
    char pat[CFG_INDEX_MAX + 8], path[3 * CFG_INDEX_MAX + 128], seg[3 * CFG_INDEX_MAX + 8];
    snprintf(pat, sizeof pat, "%s-", alias);
    if (sink_path_segment(pat, seg, sizeof seg) != 0)
        return;
    snprintf(path, sizeof path, "/_cat/indices/%s*?format=json&h=index&expand_wildcards=all", seg);
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    if (jw_request(w, "GET", path, NULL, &status, &resp, &rlen) != JOB_OK || status != 200)
        return;
    char perr[64];
    char *copy = ce_strndup(resp, rlen);
    yajl_val root = copy != NULL ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
    ce_free(copy);
    if (root == NULL || !YAJL_IS_ARRAY(root)) {
        yajl_tree_free(root);
        return;
    }
    size_t n = YAJL_GET_ARRAY(root)->len, k = 0, plen = strlen(pat);
    char **names = ce_calloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; names != NULL && i < n; i++) {
        const char *ip[] = {"index", NULL};
        yajl_val v = yajl_tree_get(YAJL_GET_ARRAY(root)->values[i], ip, yajl_t_string);
        const char *name = v != NULL ? YAJL_GET_STRING(v) : NULL;
        if (name == NULL || strncmp(name, pat, plen) != 0 || strlen(name) != plen + 14 ||
            strspn(name + plen, "0123456789") != 14 || strcmp(name, j->index) == 0)
            continue;
        names[k++] = (char *)name;
    }
    if (names != NULL) {
        qsort(names, k, sizeof *names, jw_name_cmp);
        for (size_t i = (size_t)w->c->reindex.keep_old; i < k; i++) {
            if (sink_index_path(names[i], "", path, sizeof path) != 0)
                continue;
            char e[sizeof w->err];
            snprintf(e, sizeof e, "deleting old index %s (keep_old = %ld)", names[i], w->c->reindex.keep_old);
            if (jw_must(w, "DELETE", path, NULL, e) == JOB_OK)
                ce_log(CE_LOG_INFO, "reindex", "job %ld: deleted old index %s (keep_old = %ld)", j->id, names[i],
                       w->c->reindex.keep_old);
            else
                ce_log(CE_LOG_WARN, "reindex", "job %ld: %s", j->id, w->err);
        }
    }
    ce_free(names);
    yajl_tree_free(root);
}

/* Alias mode, the end: settings back, refresh, one POST /_aliases moving
 * the alias (and its write flag) from the old indexes to the new one. */
static int jw_swap(jw *w)
{
    job *j = w->j;
    const char *alias = j->rule->alias;
    const char *vals[JOB_NSET];
    for (size_t i = 0; i < JOB_NSET; i++)
        vals[i] = j->saved_known ? j->saved[i] : NULL;
    int rc = jw_put_settings(w, j->index, vals, "restoring the settings of the new index");
    char path[3 * CFG_INDEX_MAX + 64], seg[3 * CFG_INDEX_MAX + 8];
    if (rc == JOB_OK && sink_index_path(j->index, "/_refresh", path, sizeof path) == 0)
        rc = jw_must(w, "POST", path, NULL, "refreshing the new index");
    if (rc != JOB_OK)
        return rc;
    if (sink_path_segment(alias, seg, sizeof seg) != 0)
        return JOB_ERR;
    snprintf(path, sizeof path, "/_alias/%s", seg);
    long status = 0;
    const char *resp = NULL;
    size_t rlen = 0;
    if ((rc = jw_request(w, "GET", path, NULL, &status, &resp, &rlen)) != JOB_OK)
        return rc;
    ce_buf body;
    ce_buf_init(&body, 1u << 20);
    yajl_val root = NULL;
    char perr[64];
    if (status == 200) {
        char *copy = ce_strndup(resp, rlen);
        root = copy != NULL ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
        ce_free(copy);
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    int ret = JOB_ERR;
    if (g == NULL)
        goto out;
    yajl_gen_config(g, yajl_gen_print_callback, job_print, &body);
    yajl_gen_map_open(g);
    job_gstr(g, "actions");
    yajl_gen_array_open(g);
    size_t removed = 0;
    char old[600] = "";
    for (size_t i = 0; root != NULL && YAJL_IS_OBJECT(root) && i < YAJL_GET_OBJECT(root)->len; i++) {
        const char *idx = YAJL_GET_OBJECT(root)->keys[i];
        if (strcmp(idx, j->index) == 0)
            continue;
        yajl_gen_map_open(g);
        job_gstr(g, "remove");
        yajl_gen_map_open(g);
        job_gstr(g, "index");
        job_gstr(g, idx);
        job_gstr(g, "alias");
        job_gstr(g, alias);
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        size_t ol = strlen(old);
        snprintf(old + ol, sizeof old - ol, "%s%s", ol ? ", " : "", idx);
        removed++;
    }
    yajl_gen_map_open(g);
    job_gstr(g, "add");
    yajl_gen_map_open(g);
    job_gstr(g, "index");
    job_gstr(g, j->index);
    job_gstr(g, "alias");
    job_gstr(g, alias);
    job_gstr(g, "is_write_index");
    yajl_gen_bool(g, 1);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    if (ce_buf_terminate(&body) != 0)
        goto out;
    if ((ret = jw_must(w, "POST", "/_aliases", (const char *)body.data, "moving the alias")) != JOB_OK)
        goto out;
    ce_log(CE_LOG_INFO, "reindex", "job %ld: alias %s moved to %s%s%s", j->id, alias, j->index,
           removed ? " from " : "", old);
    jw_tee(w, false);
    jw_prune(w);
    ret = JOB_OK;
out:
    if (g != NULL)
        yajl_gen_free(g);
    yajl_tree_free(root);
    ce_buf_free(&body);
    return ret;
}

static const char *const JW_UNTOUCHED = (const char *)1;

/* In place: raise index.gc_deletes of the table's index for the load
 * (restore = false), or put the saved value back (restore = true). */
static int jw_gc_deletes(jw *w, const char *index, bool restore)
{
    job *j = w->j;
    int rc;
    if (!restore) {
        if (!j->saved_known) {
            char saved[JOB_NSET][64];
            if ((rc = jw_read_settings(w, index, saved)) != JOB_OK)
                return rc;
            pthread_mutex_lock(&w->m->mu);
            memcpy(j->saved, saved, sizeof saved);
            j->saved_known = true;
            pthread_mutex_unlock(&w->m->mu);
            job_save(w->m);
        }
        const char *v[JOB_NSET] = {JW_UNTOUCHED, JW_UNTOUCHED, JOB_GC_DELETES};
        return jw_put_settings(w, index, v, "raising index.gc_deletes for the load");
    }
    const char *v[JOB_NSET] = {JW_UNTOUCHED, JW_UNTOUCHED, j->saved_known ? j->saved[2] : NULL};
    rc = jw_put_settings(w, index, v, "restoring index.gc_deletes");
    pthread_mutex_lock(&w->m->mu);
    j->saved_known = false;
    pthread_mutex_unlock(&w->m->mu);
    return rc;
}

/* Reads one table of the job chunk by chunk. */
static int jw_table(jw *w, job_tbl *t)
{
    job *j = w->j;
    snap_table st = {0};
    my_rc mrc;
    int rc = JOB_ERR;
    char index[MAP_INDEX_BUF];
    bool raised = false;
    if (snap_describe(w->my, t->db, t->table, &st, &mrc, w->err, sizeof w->err) != 0)
        goto out;
    if (j->alias_mode) {
        cfg_table copy = *j->rule;
        copy.alias = NULL;
        copy.index = j->index;
        snprintf(index, sizeof index, "%s", j->index);
        if ((rc = jw_ensure(w, &copy, index, &st, false)) != JOB_OK)
            goto out;
    } else {
        char why[64];
        if (cfg_index_check(j->rule, t->db, t->table, index, sizeof index, why, sizeof why) != 0) {
            snprintf(w->err, sizeof w->err, "table %s.%s: index template '%s' (config line %d) gives '%.100s': %s",
                     t->db, t->table, j->rule->index, j->rule->line, index, why);
            goto out;
        }
        if ((rc = jw_ensure(w, j->rule, index, &st, false)) != JOB_OK)
            goto out;
        if ((rc = jw_gc_deletes(w, index, false)) != JOB_OK)
            goto out;
        raised = true;
    }
    w->tbl = t;
    w->st = &st;
    snap_pos method = snap_method(w->my, w->c->reindex.position);
    snap_stats ss;
    if (t->n_key > 0 && t->n_key != st.n_key) {
        snprintf(w->err, sizeof w->err, "table %s.%s: the saved key has %zu columns, key %s has %zu now", t->db,
                 t->table, t->n_key, st.key_name, st.n_key);
        rc = JOB_ERR;
        goto out;
    }
    ce_log(CE_LOG_INFO, "reindex", "job %ld: reading %s.%s on key %s in chunks of %ld rows%s (position = %s) into %s",
           j->id, t->db, t->table, st.key_name, w->c->reindex.chunk_rows, t->n_key > 0 ? ", after the saved key" : "",
           method == SNAP_POS_BINLOG_SNAPSHOT ? "binlog_snapshot" : "lock_tables", index);
    int r = snap_read_from(w->my, &w->c->mysql, &st, w->c->reindex.chunk_rows, method,
                           t->n_key > 0 ? (const char *const *)t->key : NULL, jw_row, jw_chunk, w, &ss, w->err,
                           sizeof w->err);
    w->st = NULL;
    if (r == -1) {
        rc = JOB_ERR;
        goto out;
    }
    rc = r;
    if (rc == JOB_OK) {
        pthread_mutex_lock(&w->m->mu);
        t->done = true;
        pthread_mutex_unlock(&w->m->mu);
    }
out:
    if (raised && rc != JOB_STOP) {
        char keep[sizeof w->err];
        snprintf(keep, sizeof keep, "%s", w->err);
        if (jw_gc_deletes(w, index, true) != JOB_OK)
            ce_log(CE_LOG_WARN, "reindex", "job %ld: %s", j->id, w->err);
        snprintf(w->err, sizeof w->err, "%s", keep);
    }
    bulk_reset(&w->b);
    snap_table_free(&st);
    return rc;
}

/* Connections and buffers of a job. */
static int jw_open(jw *w)
{
    const cfg *c = w->c;
    my_rc mrc;
    if ((w->my = my_connect(&c->mysql, &mrc, w->err, sizeof w->err)) == NULL)
        return JOB_ERR;
    w->n_sinks = (size_t)c->reindex.concurrency;
    if (w->n_sinks < 1 || w->n_sinks > DLV_MAX_STREAMS)
        w->n_sinks = 1;
    for (size_t i = 0; i < w->n_sinks; i++) {
        if ((w->sinks[i] = sink_new_cfg(&c->es, w->err, sizeof w->err)) == NULL)
            return JOB_ERR;
        sink_set_abort(w->sinks[i], jw_abort, w);
    }
    sink_rc dr = sink_detect(w->sinks[0], w->err, sizeof w->err);
    if (dr == SINK_FATAL)
        return JOB_ERR;
    for (size_t i = 1; i < w->n_sinks; i++)
        sink_adopt_info(w->sinks[i], w->sinks[0]);
    if (bulk_init(&w->b, JOB_MAX_BODY) != 0) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return JOB_ERR;
    }
    w->bulk_ok = true;
    map_out_init(&w->mo);
    w->mo.versioning = c->es.versioning_on;
    w->mo.version_epoch = (unsigned)c->es.version_epoch;
    w->req_cap = (size_t)c->es.bulk_max_bytes;
    if (!c->es.halt_on_error && (w->dl = dl_open(c->es.dead_letter, w->err, sizeof w->err)) == NULL)
        return JOB_ERR;
    return JOB_OK;
}

static void jw_close(jw *w)
{
    my_close(w->my);
    for (size_t i = 0; i < w->n_sinks; i++)
        sink_free(w->sinks[i]);
    if (w->bulk_ok) {
        bulk_free(&w->b);
        map_out_free(&w->mo);
    }
    automap_free(w->am);
    dl_close(w->dl);
    ce_free(w->acts);
    ce_free(w->res);
}

/* The server the snapshot reads must be the one whose binlog Canal reads. */
static int jw_check_server(jw *w)
{
    uint32_t id = 0;
    if (my_server_id(w->my, &id, w->err, sizeof w->err) != MY_OK)
        return JOB_ERR;
    pthread_mutex_lock(&w->m->mu);
    int64_t sid = w->m->stream_server_id;
    pthread_mutex_unlock(&w->m->mu);
    if (sid != 0 && sid != (int64_t)id) {
        snprintf(w->err, sizeof w->err,
                 "[mysql] %s has server_id %u, but Canal's entries come from serverId %lld: the snapshot would read "
                 "another server than the binlog Canal reads (point [mysql] at that server)",
                 my_peer(w->my), id, (long long)sid);
        return JOB_ERR;
    }
    return JOB_OK;
}

static void job_run(job_mgr *m, job *j)
{
    jw w = {.m = m, .j = j, .c = m->c};
    int rc = JOB_ERR;
    int restarts = 0;
    pthread_mutex_lock(&m->mu);
    bool resumed = j->state != JS_QUEUED;
    if (j->rule == NULL) {
        pthread_mutex_unlock(&m->mu);
        snprintf(w.err, sizeof w.err, "rule %s is no longer in %s", j->rule_name, m->c->path);
        goto fail;
    }
    j->state = JS_LOADING;
    j->run_start_ms = ce_wall_ms();
    j->run_start_rows = j->rows;
    m->running = j;
    m->ddl_hit = false;
    ce_buf_reset(&m->pending);
    m->n_pending = 0;
    pthread_mutex_unlock(&m->mu);
    CE_STAT_SET(m->st, reindex_running, 1);
    CE_STAT_ADD(m->st, reindex_queued, -1);
    CE_STAT_SET(m->st, reindex_job_rows, (int64_t)j->rows);
    w.rate_start_ms = ce_mono_ms();
    ce_log(CE_LOG_INFO, "reindex", "job %ld %s (%s, rule %s): %s%s", j->id, resumed ? "resumed" : "started",
           j->initial ? "initial load" : "reindex", j->rule_name,
           j->alias_mode ? "into a new index, then the alias is moved" : "in place into ",
           j->alias_mode ? "" : j->index);
    if (!m->c->es.versioning_on) {
        snprintf(w.err, sizeof w.err, "[elasticsearch] versioning = off: a snapshot row could overwrite a newer "
                                      "change; set versioning = external");
        goto fail;
    }
    if ((rc = jw_open(&w)) != JOB_OK || (rc = jw_check_server(&w)) != JOB_OK || (rc = jw_resolve(&w)) != JOB_OK)
        goto fail;
again:;
    int64_t est = 0;
    for (size_t i = 0; i < j->n_tbls; i++) {
        int64_t e = snap_estimate_rows(w.my, j->tbls[i].db, j->tbls[i].table);
        est += e > 0 ? e : 0;
    }
    pthread_mutex_lock(&m->mu);
    j->estimate = est;
    pthread_mutex_unlock(&m->mu);
    CE_STAT_SET(m->st, reindex_job_estimate, est);
    if (j->p0_file[0] == '\0') {
        /* a DDL from here on may not be in what the chunks read */
        char f[256], e[256];
        int64_t pos = 0;
        if (snap_master_position(w.my, f, sizeof f, &pos, e, sizeof e) == 0) {
            pthread_mutex_lock(&m->mu);
            snprintf(j->p0_file, sizeof j->p0_file, "%s", f);
            j->p0_pos = pos;
            pthread_mutex_unlock(&m->mu);
        }
    }
    if (j->alias_mode) {
        /* every table's fields are in the new index before the tee sends it any change */
        for (size_t i = 0; i < j->n_tbls; i++) {
            snap_table st = {0};
            my_rc mrc;
            if (snap_describe(w.my, j->tbls[i].db, j->tbls[i].table, &st, &mrc, w.err, sizeof w.err) != 0) {
                rc = JOB_ERR;
                goto fail;
            }
            if (i == 0) {
                rc = jw_prepare_alias(&w, &st);
            } else {
                cfg_table copy = *j->rule;
                copy.alias = NULL;
                copy.index = j->index;
                rc = jw_ensure(&w, &copy, j->index, &st, false);
            }
            snap_table_free(&st);
            if (rc != JOB_OK)
                goto fail;
        }
        jw_tee(&w, true);
        ce_log(CE_LOG_INFO, "reindex", "job %ld: new index %s for alias %s; the stream writes rule %s into it too",
               j->id, j->index, j->rule->alias, j->rule_name);
    }
    job_save(m);
    for (size_t i = 0; i < j->n_tbls; i++) {
        if (j->tbls[i].done)
            continue;
        rc = jw_table(&w, &j->tbls[i]);
        if (rc == JOB_DDL && !j->alias_mode && restarts < JOB_MAX_RESTARTS) {
            restarts++;
            pthread_mutex_lock(&m->mu);
            ce_log(CE_LOG_WARN, "reindex", "job %ld: %s: loading the rule's tables again from the start", j->id,
                   m->ddl_msg);
            pthread_mutex_unlock(&m->mu);
            job_ddl_fence(m); /* the stream applies the statement before the first chunk is read again */
            pthread_mutex_lock(&m->mu);
            j->p0_file[0] = '\0';
            for (size_t k = 0; k < j->n_tbls; k++) {
                for (size_t x = 0; x < j->tbls[k].n_key; x++)
                    ce_free(j->tbls[k].key[x]);
                j->tbls[k].n_key = 0;
                j->tbls[k].done = false;
                j->tbls[k].rows = 0;
            }
            j->rows = 0;
            pthread_mutex_unlock(&m->mu);
            goto again;
        }
        if (rc == JOB_DDL)
            goto ddl;
        if (rc != JOB_OK)
            goto fail;
    }
    jw_progress(&w, true);
    if (j->alias_mode) {
        jw_set_state(&w, JS_CATCHING_UP);
        job_save(m);
        if ((rc = jw_catch_up(&w)) == JOB_DDL)
            goto ddl;
        if (rc != JOB_OK)
            goto fail;
        /* from here the swap goes on (a DDL the stream meets now finds the job swapping, and the stream
         * adds a new column's field through the alias as for any table) */
        pthread_mutex_lock(&m->mu);
        bool ddl_now = m->ddl_hit;
        if (!ddl_now)
            j->state = JS_SWAPPING;
        pthread_mutex_unlock(&m->mu);
        if (ddl_now)
            goto ddl;
        job_save(m);
        if ((rc = jw_swap(&w)) != JOB_OK)
            goto fail;
    }
    jw_end(&w, JS_DONE, NULL);
    ce_log(CE_LOG_INFO, "reindex", "job %ld done: %s, %llu rows in %llu chunks%s%s", j->id, j->table,
           (unsigned long long)j->rows, (unsigned long long)j->chunks, j->alias_mode ? ", alias now on " : "",
           j->alias_mode ? j->index : "");
    goto out;
ddl:
    pthread_mutex_lock(&m->mu);
    snprintf(w.err, sizeof w.err, "%s: the job stopped (%s)", m->ddl_msg,
             j->alias_mode ? "the new index could mix two table shapes" : "in-place loads start again at most 3 times");
    pthread_mutex_unlock(&m->mu);
    jw_tee(&w, false);
    job_ddl_fence(m);
    rc = JOB_ERR;
fail:
    if (rc == JOB_STOP) {
        ce_log(CE_LOG_INFO, "reindex", "job %ld: stopped with the service; it resumes after its last saved chunk",
               j->id);
        goto out;
    }
    if (rc == JOB_CANCEL) {
        jw_tee(&w, false);
        jw_drop_new_index(&w);
        jw_end(&w, JS_CANCELLED, "cancelled");
        ce_log(CE_LOG_INFO, "reindex", "job %ld cancelled", j->id);
        goto out;
    }
    jw_tee(&w, false);
    if (w.n_sinks > 0)
        jw_drop_new_index(&w);
    ce_log(CE_LOG_ERROR, "reindex", "job %ld (%s) failed: %s", j->id, j->table, w.err);
    jw_end(&w, JS_FAILED, w.err);
out:
    pthread_mutex_lock(&m->mu);
    m->running = NULL;
    pthread_mutex_unlock(&m->mu);
    CE_STAT_SET(m->st, reindex_running, 0);
    jw_close(&w);
}

/* The next job to run: a resumed one first, then the oldest queued. */
static job *job_pick_locked(job_mgr *m)
{
    for (size_t i = 0; i < m->n_jobs; i++)
        if (!job_ended(m->jobs[i]) && m->jobs[i]->state != JS_QUEUED)
            return m->jobs[i];
    for (size_t i = 0; i < m->n_jobs; i++)
        if (m->jobs[i]->state == JS_QUEUED)
            return m->jobs[i];
    return NULL;
}

static bool job_quit(job_mgr *m) { return atomic_load(&m->quit) || (m->stop != NULL && *m->stop); }

static void *job_main(void *ud)
{
    job_mgr *m = ud;
    while (!job_quit(m)) {
        pthread_mutex_lock(&m->mu);
        job *j = job_pick_locked(m);
        if (j == NULL) {
            job_wait_locked(m, 200);
            pthread_mutex_unlock(&m->mu);
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        job_run(m, j);
    }
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

job_mgr *job_mgr_new(const cfg *c, ce_stats *st, char *err, size_t errlen)
{
    job_mgr *m = ce_calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->c = c;
    m->st = st;
    m->next_id = 1;
    m->stream_ver = -1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    ce_buf_init(&m->pending, JOB_PENDING_MAX);
    atomic_init(&m->tee_on, 0);
    atomic_init(&m->quit, 0);
    if (c->checkpoint.file[0] != '\0' &&
        (size_t)snprintf(m->state_path, sizeof m->state_path, "%s.reindex", c->checkpoint.file) >=
            sizeof m->state_path) {
        snprintf(err, errlen, "[checkpoint] file: path too long");
        goto fail;
    }
    if (m->state_path[0] != '\0' && job_load(m, err, errlen) != 0)
        goto fail;
    bool mysql = c->mysql.host[0] != '\0' || c->mysql.socket[0] != '\0';
    size_t initial = 0;
    for (size_t i = 0; i < m->n_jobs; i++) {
        job *j = m->jobs[i];
        if (j->state != JS_QUEUED)
            j->resumes++;
        CE_STAT_ADD(st, reindex_queued, 1);
        if (j->rule == NULL)
            continue;
        /* the tee of a job that was writing its new index is on before the stream delivers anything */
        if (j->alias_mode && j->state != JS_QUEUED && j->index[0] != '\0' && m->tee_rule == NULL) {
            m->tee_rule = j->rule;
            snprintf(m->tee_index, sizeof m->tee_index, "%s", j->index);
            atomic_store(&m->tee_on, 1);
        }
    }
    for (size_t i = 0; i < c->n_tables; i++) {
        const cfg_table *t = &c->tables[i];
        char name[300];
        cfg_rule_name(t, name, sizeof name);
        if (!t->enabled || t->snapshot != CFG_SNAPSHOT_INITIAL || job_is_loaded(m, name) || job_rule_busy(m, t))
            continue;
        initial++;
        if (!mysql || !c->es.versioning_on)
            continue;
        job *j = job_add_locked(m, t, t->db ? t->db : "", t->table ? t->table : name, false, true);
        if (j == NULL)
            break;
        if (t->pattern != NULL)
            snprintf(j->table, sizeof j->table, "%s", name);
        CE_STAT_ADD(st, reindex_queued, 1);
        ce_log(CE_LOG_INFO, "reindex", "job %ld queued: initial load of %s (snapshot = initial, no completed load in %s)",
               j->id, name, m->state_path[0] ? m->state_path : "(no [checkpoint] file)");
    }
    if (initial > 0 && !mysql)
        ce_log(CE_LOG_WARN, "reindex",
               "[mysql] is not set: the rows already in %zu table rule(s) are not loaded, only changes from now on "
               "reach the index (set [mysql] to load them, or snapshot = never to say so)",
               initial);
    else if (initial > 0 && !c->es.versioning_on)
        ce_log(CE_LOG_WARN, "reindex",
               "[elasticsearch] versioning = off: existing rows are not loaded (a snapshot row could overwrite a "
               "newer change)");
    else if (initial > 0 && m->state_path[0] == '\0')
        ce_log(CE_LOG_WARN, "reindex",
               "no [checkpoint] file: completed initial loads cannot be recorded, so they run again at every start");
    return m;
fail:
    job_mgr_free(m);
    return NULL;
}

int job_mgr_start(job_mgr *m, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    m->stop = stop;
    char e[512];
    pthread_mutex_lock(&m->mu);
    int sr = job_save_locked(m, e, sizeof e);
    pthread_mutex_unlock(&m->mu);
    if (sr != 0) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    if (pthread_create(&m->thread, NULL, job_main, m) != 0) {
        snprintf(err, errlen, "cannot start the reindex thread");
        return -1;
    }
    m->started = true;
    return 0;
}

void job_mgr_free(job_mgr *m)
{
    if (m == NULL)
        return;
    atomic_store(&m->quit, 1);
    if (m->started) {
        pthread_mutex_lock(&m->mu);
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->thread, NULL);
    }
    for (size_t i = 0; i < m->n_jobs; i++)
        job_free(m->jobs[i]);
    for (size_t i = 0; i < m->n_loaded; i++)
        ce_free(m->loaded[i]);
    ce_free(m->loaded);
    ce_buf_free(&m->pending);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    ce_free(m);
}

void job_state_summary(const cfg *c, char *buf, size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (c->checkpoint.file[0] == '\0')
        return;
    job_mgr *m = ce_calloc(1, sizeof *m);
    if (m == NULL)
        return;
    m->c = c;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    char err[512];
    size_t n = 0;
    if ((size_t)snprintf(m->state_path, sizeof m->state_path, "%s.reindex", c->checkpoint.file) <
            sizeof m->state_path &&
        job_load(m, err, sizeof err) != 0) {
        snprintf(buf, len, "reindex state: %s\n", err);
    } else {
        for (size_t i = 0; i < m->n_loaded && n < len; i++) {
            int w = snprintf(buf + n, len - n, "%s%s%s", i == 0 ? "initial load done: " : ", ", m->loaded[i],
                             i + 1 == m->n_loaded ? "\n" : "");
            n += w > 0 ? (size_t)w : 0;
        }
        for (size_t i = 0; i < m->n_jobs && n < len; i++) {
            const job *j = m->jobs[i];
            int w = snprintf(buf + n, len - n, "job %ld %s (%s, %s): %s, %llu rows of ~%lld, %llu chunks%s%s\n", j->id,
                             j->table, j->alias_mode ? "alias" : "in place", j->initial ? "initial" : "request",
                             job_state_names[j->state], (unsigned long long)j->rows, (long long)j->estimate,
                             (unsigned long long)j->chunks, j->index[0] ? ", index " : "", j->index);
            n += w > 0 ? (size_t)w : 0;
        }
    }
    job_mgr_free(m);
}
