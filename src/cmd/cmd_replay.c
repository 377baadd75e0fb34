/* cmd/cmd_replay: the command line of `canal-es replay-dead-letters`
 * (replay.h re-sends the lines). */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "replay.h"

#include <stdio.h>

static const char replay_help[] =
    "usage: canal-es replay-dead-letters -c FILE [--dry-run] DEADLETTER_FILE\n"
    "\n"
    "Re-sends the documents of a dead-letter file to the search node of FILE's [elasticsearch] url,\n"
    "with the external versions they were written with (a document changed since is superseded,\n"
    "not overwritten). Lines that still fail are written to DEADLETTER_FILE.remaining (the\n"
    "original file is never modified); when nothing remains, no .remaining file is left.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE   the canal-es configuration (url, request_timeout_ms, bulk_max_bytes,\n"
    "                      retry_initial_ms, retry_max_ms, max_retries)\n"
    "  --dry-run           print the _bulk NDJSON that would be sent, send nothing\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 every line applied or superseded, 1 lines remain (or nothing could be sent),\n"
    "2 usage or configuration error\n";

int cmd_replay(int argc, char **argv)
{
    bool dry_run = false;
    const cmd_opt opts[] = {{.name = "--dry-run", .flag = &dry_run}, {0}};
    const cmd_spec spec = {.name = "replay-dead-letters", .help = replay_help, .opts = opts,
                           .operand = "DEADLETTER_FILE"};
    cmd_args a;
    cfg c;
    int rc = cmd_start(&spec, argc, argv, &a, &c);
    if (rc != CMD_GO_ON)
        return rc;
    rc = replay_file(&c, a.operand, dry_run);
    cfg_free(&c);
    return rc;
}
