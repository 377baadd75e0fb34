/* cmd/cmd_status: `canal-es status -c FILE`: the checkpoint with the lag,
 * the reindex jobs of the state file and the live ones of the service. */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "cmd/reindex_client.h"
#include "commit/ckpt.h"
#include "opts.h"
#include "util/mem.h"
#include "snapshot/job.h"
#include "util/clock.h"

#include <curl/curl.h>
#include <stdio.h>

static const char status_help[] =
    "usage: canal-es status -c FILE\n"
    "\n"
    "Prints the checkpoint of FILE's [checkpoint] file (destination, client id, batch, binlog\n"
    "position, gtid, times) and the lag in seconds, the reindex jobs recorded in its state file\n"
    "({checkpoint file}.reindex) and, when [http] listen is set and a service answers there, its\n"
    "live jobs (GET /reindex). With [kafka]: the group's state and members, and per partition the\n"
    "committed offset, the high watermark and the lag (the checkpoint file is then optional).\n"
    "\n"
    "exit status: 0 printed, 1 no checkpoint yet or unreadable, 2 usage or configuration error\n";

/* [kafka]: the group's partitions, committed offsets and lag. 0 when the
 * brokers answered. */
static int status_kafka(const cfg *c)
{
    kafka_opts ko;
    opts_kafka(c, &ko);
    kafka_probe *p = ce_calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    int rc = kafka_probe_run(&ko, 10000, p);
    if (rc != 0) {
        ce_log_print(stderr, "canal-es status: %s", p->err);
    } else {
        printf("kafka: brokers %s (%d in the cluster), group %s: state %s, %d members\n", c->kafka.brokers,
               p->brokers_up, c->kafka.group_id, p->group_state[0] ? p->group_state : "unknown", p->group_members);
        if (!p->topic_exists)
            printf("kafka: %s\n", p->err);
        for (size_t i = 0; i < p->n_parts; i++) {
            const kafka_probe_part *pp = &p->parts[i];
            long long from = pp->committed >= 0 ? pp->committed : pp->low;
            long long lag = pp->high >= 0 && from >= 0 && pp->high > from ? pp->high - from : 0;
            printf("  %s/%d: committed %lld, high watermark %lld, lag %lld records\n", p->topic, (int)pp->partition,
                   (long long)pp->committed, (long long)pp->high, lag);
        }
    }
    ce_free(p);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    const cmd_spec spec = {.name = "status", .help = status_help};
    cmd_args a;
    cfg c;
    int rc = cmd_start(&spec, argc, argv, &a, &c);
    if (rc != CMD_GO_ON)
        return rc;
    char err[1024];
    rc = CMD_FAILED;
    ckpt k;
    if (c.kafka.on)
        rc = status_kafka(&c) == 0 ? CMD_OK : CMD_FAILED;
    if (c.kafka.on && c.checkpoint.file[0] == '\0') {
        /* the group's offsets are the position */
    } else if (c.checkpoint.file[0] == '\0') {
        ce_log_print(stderr, "canal-es status: %s has no [checkpoint] file", a.config);
        rc = CMD_USAGE;
    } else {
        int r = ckpt_read(c.checkpoint.file, &k, err, sizeof err);
        if (c.kafka.on && r == 1)
            ; /* nothing acked by this instance yet: the group's offsets said it */
        else if (r == 1)
            ce_log_print(stderr, "canal-es status: checkpoint %s does not exist yet (nothing acked)",
                         c.checkpoint.file);
        else if (r < 0)
            ce_log_print(stderr, "canal-es status: %s", err);
        else {
            char out[8192]; /* room for escaped fields */
            ckpt_format_status(&k, ce_wall_ms(), out, sizeof out);
            fputs(out, stdout);
            if (!c.kafka.on)
                rc = CMD_OK;
        }
        char jobs[8192];
        job_state_summary(&c, jobs, sizeof jobs);
        if (jobs[0] != '\0')
            printf("reindex jobs recorded in the state file:\n%s", jobs);
    }
    if (c.http.listen[0] != '\0') {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        reindex_print_live(&c, stdout);
        curl_global_cleanup();
    }
    cfg_free(&c);
    return rc;
}
