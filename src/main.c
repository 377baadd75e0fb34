/* main: the command line. Exit codes: 0 clean stop, 1 runtime failure,
 * 2 usage or configuration error. */
#include "commit/ckpt.h"
#include "config.h"
#include "check.h"
#include "mapping.h"
#include "replay.h"
#include "reindex_cmd.h"
#include "run.h"
#include "service.h"
#include "snapshot_cmd.h"
#include "snapshot/job.h"
#include "source/zk.h"
#include "verify/verify.h"
#include "util/log.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static const char main_run_help[] =
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

static const char main_status_help[] =
    "usage: canal-es status -c FILE\n"
    "\n"
    "Prints the checkpoint of FILE's [checkpoint] file (destination, client id, batch, binlog\n"
    "position, gtid, times) and the lag in seconds, the reindex jobs recorded in its state file\n"
    "({checkpoint file}.reindex) and, when [http] listen is set and a service answers there, its\n"
    "live jobs (GET /reindex).\n"
    "\n"
    "exit status: 0 printed, 1 no checkpoint yet or unreadable, 2 usage or configuration error\n";

/* canal-es status -c FILE: the checkpoint with the lag. */
static int main_status(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(main_status_help, stdout);
            return 0;
        } else {
            ce_log_print(stderr, "canal-es status: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "canal-es status: -c FILE is required\n");
        return 2;
    }
    cfg c;
    char err[1024];
    if (cfg_load(path, &c, err, sizeof err) != 0) {
        ce_log_print(stderr, "canal-es: %s", err);
        return 2;
    }
    int rc = 1;
    ckpt k;
    if (c.checkpoint.file[0] == '\0') {
        ce_log_print(stderr, "canal-es status: %s has no [checkpoint] file", path);
        rc = 2;
    } else {
        int r = ckpt_read(c.checkpoint.file, &k, err, sizeof err);
        if (r == 1)
            ce_log_print(stderr, "canal-es status: checkpoint %s does not exist yet (nothing acked)",
                         c.checkpoint.file);
        else if (r < 0)
            ce_log_print(stderr, "canal-es status: %s", err);
        else {
            char out[8192]; /* room for escaped fields */
            ckpt_format_status(&k, ckpt_now_ms(), out, sizeof out);
            fputs(out, stdout);
            rc = 0;
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

static int main_run(int argc, char **argv)
{
    const char *path = NULL;
    bool level_given = false;
    bool dry_run = false;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level_given = true;
            static const char *const levels[] = {"error", "warn", "info", "debug"};
            const char *l = argv[++i];
            size_t k;
            for (k = 0; k < 4 && strcmp(l, levels[k]) != 0; k++)
                ;
            if (k == 4) {
                fprintf(stderr, "canal-es: unknown log level '%s'\n", l);
                return 2;
            }
            ce_log_set_level((ce_log_level)k);
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(main_run_help, stdout);
            return 0;
        } else {
            fprintf(stderr, "canal-es run: unexpected argument '%s'\n", argv[i]);
            main_usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "canal-es run: -c FILE is required\n");
        main_usage(stderr);
        return 2;
    }
    cfg c;
    char err[1024];
    if (cfg_load(path, &c, err, sizeof err) != 0) {
        fprintf(stderr, "canal-es: %s\n", err);
        return 2;
    }
    int rc = service_prepare(&c, level_given, dry_run);
    if (rc != 0) {
        cfg_free(&c);
        return rc;
    }
    service_signals();
    service *sv = service_open(&c, dry_run);
    rc = sv == NULL ? 1 : service_loop(sv, false);
    service_close(sv);
    cfg_free(&c);
    ce_log_close();
    return rc;
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
        return main_run(argc, argv);
    if (strcmp(argv[1], ZK_CHILD_COMMAND) == 0)
        return zk_child_main(argc, argv); /* internal: see source/zk.h */
    if (strcmp(argv[1], "status") == 0)
        return main_status(argc, argv);
    if (strcmp(argv[1], "replay-dead-letters") == 0)
        return replay_main(argc, argv);
    if (strcmp(argv[1], "mapping") == 0)
        return mapping_main(argc, argv);
    if (strcmp(argv[1], "check-config") == 0)
        return check_main(argc, argv);
    if (strcmp(argv[1], "snapshot") == 0)
        return snapshot_main(argc, argv);
    if (strcmp(argv[1], "reindex") == 0)
        return reindex_main(argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return verify_main(argc, argv);
    fprintf(stderr, "canal-es: unknown command '%s'\n", argv[1]);
    main_usage(stderr);
    return 2;
}
