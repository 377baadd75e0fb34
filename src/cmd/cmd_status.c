/* cmd/cmd_status: `canal-es status -c FILE`: the checkpoint with the lag,
 * the reindex jobs of the state file and the live ones of the service. */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "cmd/reindex_client.h"
#include "commit/ckpt.h"
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
    "live jobs (GET /reindex).\n"
    "\n"
    "exit status: 0 printed, 1 no checkpoint yet or unreadable, 2 usage or configuration error\n";

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
    if (c.checkpoint.file[0] == '\0') {
        ce_log_print(stderr, "canal-es status: %s has no [checkpoint] file", a.config);
        rc = CMD_USAGE;
    } else {
        int r = ckpt_read(c.checkpoint.file, &k, err, sizeof err);
        if (r == 1)
            ce_log_print(stderr, "canal-es status: checkpoint %s does not exist yet (nothing acked)",
                         c.checkpoint.file);
        else if (r < 0)
            ce_log_print(stderr, "canal-es status: %s", err);
        else {
            char out[8192]; /* room for escaped fields */
            ckpt_format_status(&k, ce_wall_ms(), out, sizeof out);
            fputs(out, stdout);
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
