/* cmd/cmd_verify: the command line of `canal-es verify` (verify/verify.h
 * does the work). */
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "verify/verify.h"

#include <stdio.h>

static const char verify_help[] =
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

int cmd_verify(int argc, char **argv)
{
    const char *table = NULL;
    bool repair = false, json = false;
    int64_t max_report = 10, settle_s = 30;
    const cmd_opt opts[] = {
        {.name = "--table", .text = &table},
        {.name = "--repair", .flag = &repair},
        {.name = "--json", .flag = &json},
        {.name = "--max-report", .num = &max_report, .min = 0, .max = 1000000, .what = "a number"},
        {.name = "--settle", .num = &settle_s, .min = 0, .max = 86400, .what = "seconds"},
        {0},
    };
    const cmd_spec spec = {.name = "verify", .help = verify_help, .opts = opts, .log_level = true};
    cmd_args a;
    int rc = cmd_parse(&spec, argc, argv, &a);
    if (rc != CMD_GO_ON)
        return rc;
    char db[CMD_NAME_MAX + 1] = "", tbl[CMD_NAME_MAX + 1] = "";
    if (table != NULL && cmd_split_table(table, db, tbl) != 0)
        return cmd_usage(&spec, "--table is not DB.TABLE:", table);
    cfg c;
    if (cmd_load(a.config, &c) != 0)
        return CMD_USAGE;
    cmd_apply_log(&a, &c);
    verify_opts o = {.table = table, .db = db, .tbl = tbl, .repair = repair, .json = json,
                     .max_report = (size_t)max_report, .settle_ms = (long)settle_s * 1000};
    rc = verify_run(&c, a.config, &o);
    cfg_free(&c);
    return rc;
}
