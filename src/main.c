/* main: the command line: the overview and the dispatch to the commands of
 * src/cmd/ (cmd.h). Exit codes: 0 clean stop, 1 runtime failure, 2 usage or
 * configuration error. */
#include "cmd/cmd.h"
#include "source/zk.h"

#include <stdio.h>
#include <string.h>

#ifndef CANAL_ES_VERSION
#define CANAL_ES_VERSION "0.0.0"
#endif

static void main_usage(FILE *f)
{
    fputs("usage: canal-es run -c FILE [--dry-run] [--log-level error|warn|info|debug]\n"
          "       canal-es check-config -c FILE [--peek]\n"
          "       canal-es status -c FILE\n"
          "       canal-es replay-dead-letters -c FILE [--dry-run] DEADLETTER_FILE\n"
          "       canal-es mapping -c FILE --table DB.TABLE [--timeout SECONDS]\n"
          "       canal-es snapshot -c FILE --table DB.TABLE --dry-run\n"
          "       canal-es reindex -c FILE --table DB.TABLE [--in-place] [--no-wait]\n"
          "       canal-es reindex -c FILE --status | --cancel ID\n"
          "       canal-es verify -c FILE [--table DB.TABLE] [--repair] [--max-report N] [--json]\n"
          "       canal-es --help\n"
          "       canal-es --version\n"
          "\n"
          "Keeps Elasticsearch / OpenSearch indexes in step with MySQL through a Canal server.\n"
          "\n"
          "commands:\n"
          "  run            subscribe to Canal and index every change of the configured tables\n"
          "  check-config   validate FILE and try Canal, the search node and every index: one verdict each\n"
          "  status         print the checkpoint ([checkpoint] file) and the lag in seconds\n"
          "  replay-dead-letters  re-send the documents of a dead-letter file (after fixing the mapping);\n"
          "                 what still fails is kept in DEADLETTER_FILE.remaining (see its --help)\n"
          "  mapping        print a suggested index mapping for a table from the types Canal reports\n"
          "  snapshot       read a table from [mysql] in chunks and print the _bulk NDJSON of its rows\n"
          "  reindex        load a table into its index (new index + alias swap, or --in-place) through the\n"
          "                 running service's [http] listen, or in this process when none runs; show,\n"
          "                 or cancel, the jobs\n"
          "\n"
          "options:\n"
          "  -c, --config FILE   the INI configuration file (see etc/canal-es.ini)\n"
          "  --log-level LEVEL   error, warn, info or debug (default: [log] level, info)\n"
          "  --dry-run           (run) print the _bulk NDJSON it would send on stdout; send and ack\n"
          "                      nothing; stop when caught up\n"
          "  -h, --help          this text; COMMAND --help: that command's\n"
          "  -V, --version       the version\n"
          "\n"
          "exit status: 0 stopped on request, 1 runtime failure (or a second signal), 2 usage or configuration error\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("canal-es %s\n", CANAL_ES_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(argv[1], ZK_CHILD_COMMAND) == 0)
        return zk_child_main(argc, argv); /* internal: see source/zk.h */
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(argc, argv);
    if (strcmp(argv[1], "replay-dead-letters") == 0)
        return cmd_replay(argc, argv);
    if (strcmp(argv[1], "mapping") == 0)
        return cmd_mapping(argc, argv);
    if (strcmp(argv[1], "check-config") == 0)
        return cmd_check(argc, argv);
    if (strcmp(argv[1], "snapshot") == 0)
        return cmd_snapshot(argc, argv);
    if (strcmp(argv[1], "reindex") == 0)
        return cmd_reindex(argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    fprintf(stderr, "canal-es: unknown command '%s'\n", argv[1]);
    main_usage(stderr);
    return 2;
}
