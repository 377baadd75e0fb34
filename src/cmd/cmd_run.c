/* cmd/cmd_run: the command line of `canal-es run` (service.h runs it). */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "service.h"

#include <stdbool.h>

static const char run_help[] =
    "usage: canal-es run -c FILE [--dry-run] [--log-level error|warn|info|debug]\n"
    "\n"
    "Subscribes to the Canal destination of FILE and indexes every change of the tables its\n"
    "[table] rules match. A Canal batch is acked only after each of its actions was applied by the\n"
    "node or written to the dead-letter file. SIGTERM/SIGINT: finish the batch in hand within\n"
    "shutdown_timeout_ms, ack it, exit 0; a second signal exits at once (1). SIGHUP reopens [log] file.\n"
    "\n"
    "  -c, --config FILE   the INI configuration file\n"
    "  --dry-run           print the _bulk NDJSON on stdout instead of sending it; ack nothing (the\n"
    "                      batches are delivered again later); stop when caught up or after 60 batches\n"
    "  --log-level LEVEL   overrides [log] level\n"
    "\n"
    "exit status: 0 stopped on request, 1 runtime failure, 2 usage or configuration error\n";

int cmd_run(int argc, char **argv)
{
    bool dry_run = false;
    const cmd_opt opts[] = {{.name = "--dry-run", .flag = &dry_run}, {0}};
    const cmd_spec spec = {.name = "run", .help = run_help, .opts = opts, .log_level = true};
    cmd_args a;
    cfg c;
    int rc = cmd_start(&spec, argc, argv, &a, &c);
    if (rc != CMD_GO_ON)
        return rc;
    rc = service_prepare(&c, a.level_given, dry_run);
    if (rc != 0) {
        cfg_free(&c);
        return rc;
    }
    service_signals();
    service *sv = service_open(&c, dry_run);
    rc = sv == NULL ? CMD_FAILED : service_loop(sv, false);
    service_close(sv);
    cfg_free(&c);
    ce_log_close();
    return rc;
}
