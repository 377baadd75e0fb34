/* cmd/cmd_check: the command line of `canal-es check-config` (check.h gives
 * the verdicts). */
#include "check.h"
#include "cmd/cmd.h"
#include "cmd/cmdline.h"

#include <stdio.h>

static const char check_help[] =
    "usage: canal-es check-config -c FILE [--peek]\n"
    "\n"
    "Loads FILE (every error as FILE:LINE), makes the checks `run` makes before starting ([log] file,\n"
    "[checkpoint] file and dead_letter can be opened, [http] listen resolves), then connects to the\n"
    "Canal server (authentication, destination, subscribe; nothing is acked), to the [mysql] server\n"
    "when set (credentials, server_id, SELECT and a usable key per exact rule, the tables of each\n"
    "regex rule, the text columns Canal garbles: charset not UTF-8), to the search node (credentials,\n"
    "version) and checks each [table] rule's index or alias. Prints one verdict per item: ok, warn or FAIL.\n"
    "--peek also reads the changes waiting in Canal (up to 60 batches, until 1 s passes without one;\n"
    "never acked, Canal delivers them again) for their column types and compares the fields of each\n"
    "existing index with what canal-es sends for those columns: a warning per field that cannot hold\n"
    "it, naming the column and the fix; names the text columns whose waiting values hold U+FFFD\n"
    "(text Canal could not decode); and compares the [mysql] server's @@server_id with the\n"
    "serverId of those entries (FAIL when they differ: the snapshot would read another server than\n"
    "the one whose binlog Canal reads). Use it while the service is stopped: Canal serves one client\n"
    "per destination, and batches taken by this command would stall the service's acks until it\n"
    "reconnects.\n"
    "\n"
    "exit status: 0 nothing failed, 1 something failed, 2 usage or configuration error\n";

int cmd_check(int argc, char **argv)
{
    bool peek = false;
    const cmd_opt opts[] = {{.name = "--peek", .flag = &peek}, {0}};
    const cmd_spec spec = {.name = "check-config", .help = check_help, .opts = opts};
    cmd_args a;
    int rc = cmd_parse(&spec, argc, argv, &a);
    if (rc != CMD_GO_ON)
        return rc;
    cfg c;
    char err[1024];
    if (cfg_load(a.config, &c, err, sizeof err) != 0) {
        ce_log_print(stdout, "FAIL  config %s", err); /* the configuration's verdict */
        return CMD_USAGE;
    }
    rc = check_run(&c, a.config, peek);
    cfg_free(&c);
    return rc;
}
