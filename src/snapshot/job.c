/* snapshot/job: see job.h. (Interface stub: no job runs yet.) */
#include "snapshot/job.h"
#include "util/mem.h"

#include <stdio.h>

struct job_mgr {
    const cfg *c;
};

job_mgr *job_mgr_new(const cfg *c, ce_stats *st, char *err, size_t errlen)
{
    (void)st;
    job_mgr *m = ce_calloc(1, sizeof *m);
    if (m == NULL)
        snprintf(err, errlen, "out of memory");
    else
        m->c = c;
    return m;
}

int job_mgr_start(job_mgr *m, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    (void)m, (void)stop, (void)err, (void)errlen;
    return 0;
}

void job_mgr_free(job_mgr *m) { ce_free(m); }

int job_submit(job_mgr *m, const char *db_table, bool in_place, ce_buf *out)
{
    (void)m, (void)db_table, (void)in_place;
    ce_buf_append_str(out, "{\"error\":\"reindex jobs are not available in this build\"}");
    return 503;
}

int job_cancel(job_mgr *m, long id, ce_buf *out)
{
    (void)m, (void)id;
    ce_buf_append_str(out, "{\"error\":\"no such job\"}");
    return 404;
}

int job_status(job_mgr *m, ce_buf *out)
{
    (void)m;
    ce_buf_append_str(out, "{\"jobs\":[]}");
    return 200;
}

bool job_mgr_idle(job_mgr *m, int *failed)
{
    (void)m;
    *failed = 0;
    return true;
}

int job_tee(job_mgr *m, const cfg_table *rule, char *index, size_t len)
{
    (void)m, (void)rule, (void)index, (void)len;
    return 0;
}

void job_note_delete(job_mgr *m, const cfg_table *rule, const char *index, const char *id, size_t id_len,
                     int64_t version)
{
    (void)m, (void)rule, (void)index, (void)id, (void)id_len, (void)version;
}

void job_stream_at(job_mgr *m, const char *file, int64_t offset, int64_t server_id, bool caught_up)
{
    (void)m, (void)file, (void)offset, (void)server_id, (void)caught_up;
}

void job_stream_ddl(job_mgr *m, const ddl_event *ev) { (void)m, (void)ev; }

void job_state_summary(const cfg *c, char *buf, size_t len)
{
    (void)c;
    if (len > 0)
        buf[0] = '\0';
}
