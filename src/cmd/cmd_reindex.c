/* cmd/cmd_reindex: the command line of `canal-es reindex` (reindex_client.h
 * does the work). */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "cmd/reindex_client.h"
#include "util/parse.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>

static const char rc_help[] =
    "usage: canal-es reindex -c FILE --table DB.TABLE [--in-place] [--no-wait] [--log-level LEVEL]\n"
    "       canal-es reindex -c FILE --status\n"
    "       canal-es reindex -c FILE --cancel ID\n"
    "\n"
    "Loads every row of DB.TABLE from [mysql] into its rule's index while the stream runs\n"
    "(docs/reindex.md). A rule with `alias` gets a new index {alias}-{UTC yyyyMMddHHmmss} and the alias\n"
    "is moved to it in one step once it holds every row; --in-place (or a rule without alias) loads\n"
    "into the rule's index. A regex rule loads every table it matches.\n"
    "\n"
    "The request goes to the `canal-es run` of FILE through its [http] listen (POST needs [http]\n"
    "admin_token in FILE, the token the service runs with). Progress is shown until the job ends (a bar\n"
    "on a terminal, else a line every 5 s); --no-wait returns once the job is queued. When no service\n"
    "answers on [http] listen (connection refused) or listen is empty, this process runs the pipeline\n"
    "itself (subscribes, streams, loads, swaps, acks, writes the checkpoint) and exits when the job\n"
    "ended, so the first load can be done before the first `run`. Stop it with SIGINT/SIGTERM: the job\n"
    "resumes from its last saved chunk at the next `run` or `reindex`.\n"
    "\n"
    "  -c, --config FILE   the INI configuration file\n"
    "  --table DB.TABLE    the table to load (a table its [table] rules match)\n"
    "  --in-place          load into the rule's index instead of a new one behind its alias\n"
    "  --no-wait           return once the service queued the job\n"
    "  --status            print the service's jobs: id, table, mode, state, rows/estimate, index, error\n"
    "  --cancel ID         stop job ID (its new index is deleted; the alias stays where it was)\n"
    "  --log-level LEVEL   overrides [log] level (when this process runs the pipeline)\n"
    "\n"
    "exit status: 0 the job is done (--no-wait: queued; --status: printed; --cancel: cancelled),\n"
    "1 the job failed or was cancelled, or the request failed, 2 usage or configuration error\n";

static const char rc_usage_text[] =
    "usage: canal-es reindex -c FILE --table DB.TABLE [--in-place] [--no-wait]\n"
    "       canal-es reindex -c FILE --status | --cancel ID   (--help says more)\n";

int cmd_reindex(int argc, char **argv)
{
    const char *table = NULL, *cancel = NULL;
    bool in_place = false, no_wait = false, status_only = false;
    const cmd_opt opts[] = {
        {.name = "--table", .text = &table},
        {.name = "--cancel", .text = &cancel},
        {.name = "--in-place", .flag = &in_place},
        {.name = "--no-wait", .flag = &no_wait},
        {.name = "--status", .flag = &status_only},
        {0},
    };
    const cmd_spec spec = {.name = "reindex", .help = rc_help, .usage = rc_usage_text, .opts = opts,
                           .log_level = true};
    cmd_args a;
    int rc = cmd_parse(&spec, argc, argv, &a);
    if (rc != CMD_GO_ON)
        return rc;
    int modes = (table != NULL) + status_only + (cancel != NULL);
    if (modes == 0)
        return cmd_usage(&spec, "say what to do: --table DB.TABLE, --status or --cancel ID", NULL);
    if (modes > 1)
        return cmd_usage(&spec, "--table, --status and --cancel go alone", NULL);
    if ((in_place || no_wait) && table == NULL)
        return cmd_usage(&spec, "--in-place and --no-wait go with --table", NULL);
    int64_t cancel_id = 0;
    if (cancel != NULL && ce_parse_i64(cancel, 1, LONG_MAX, &cancel_id) != 0)
        return cmd_usage(&spec, "--cancel needs a job id (a number; --status lists them), not", cancel);
    char db[CMD_NAME_MAX + 1], tbl[CMD_NAME_MAX + 1];
    if (table != NULL && cmd_split_table(table, db, tbl) != 0)
        return cmd_usage(&spec, "--table must be DB.TABLE, not", table);
    cfg c;
    if (cmd_load(a.config, &c) != 0)
        return CMD_USAGE;
    reindex_req req = {.table = table, .in_place = in_place, .no_wait = no_wait, .status_only = status_only,
                       .cancel_id = (long)cancel_id, .level_given = a.level_given};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = reindex_request(&c, a.config, &req);
    curl_global_cleanup();
    cfg_free(&c);
    return rc;
}
