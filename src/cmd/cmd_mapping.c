/* cmd/cmd_mapping: `canal-es mapping -c FILE --table DB.TABLE`: reads the
 * batches waiting in Canal (never acked: Canal delivers them again) until a
 * change of the table shows its column types, and prints the mapping
 * mapping_suggest makes of them (mapping.h). */
#include "opts.h"
#include "cmd/cmd.h"
#include "cmd/cmdline.h"
#include "decode/decode.h"
#include "mapping.h"
#include "run.h"
#include "sink/automap.h"
#include "source/canal.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAPPING_MAX_BATCHES 60 /* below the client's 64 un-acked batches */

typedef struct mapping_find {
    const char *db;
    const char *table;
    const cfg_table *rule;
    const mapping_caps *caps;
    ce_buf *out;
    int found;
} mapping_find;

static int mapping_on_row(void *ud, const row_event *ev)
{
    mapping_find *f = ud;
    if (strcmp(ev->schema, f->db) != 0 || strcmp(ev->table, f->table) != 0)
        return 0;
    const row_image *img = ev->after.n > 0 ? &ev->after : &ev->before;
    if (mapping_suggest(f->rule, img, f->caps, MAPPING_PRETTY, f->out) != 0)
        return -1;
    f->found = 1;
    return 1; /* stop decoding */
}

static const char mapping_help[] =
    "usage: canal-es mapping -c FILE --table DB.TABLE [--timeout SECONDS]\n"
    "\n"
    "Prints the index mapping `mapping = auto` creates for DB.TABLE (settings are yours to add to a\n"
    "mapping file), from the column types Canal reports in its next change of that table, under the\n"
    "table's [table] rule (convert, decimal, blob, include/exclude, rename, add_field, routing,\n"
    "flatten, delete = soft:FIELD) and what the search node offers (unsigned_long, flat_object or\n"
    "flattened; asked once, a node that cannot be reached counts as offering neither). It reads the batches\n"
    "waiting in Canal without acking them (the service gets them again), up to 60 batches or\n"
    "SECONDS (default 60) of waiting: make a change to the table meanwhile if none is pending.\n"
    "Run it while the service is stopped: Canal serves one client per destination at a time.\n"
    "\n"
    "exit status: 0 printed, 1 no change of the table seen, 2 usage or configuration error\n";

int cmd_mapping(int argc, char **argv)
{
    const char *spec_table = NULL;
    int64_t timeout = 60;
    const cmd_opt opts[] = {
        {.name = "--table", .text = &spec_table},
        {.name = "--timeout", .num = &timeout, .min = 1, .max = 86400, .what = "seconds"},
        {0},
    };
    const cmd_spec spec = {.name = "mapping", .help = mapping_help, .opts = opts};
    cmd_args a;
    int rc = cmd_parse(&spec, argc, argv, &a);
    if (rc != CMD_GO_ON)
        return rc;
    char db[CMD_NAME_MAX + 1], table[CMD_NAME_MAX + 1];
    if (spec_table == NULL)
        return cmd_usage(&spec, "--table DB.TABLE is required", NULL);
    if (cmd_split_table(spec_table, db, table) != 0)
        return cmd_usage(&spec, "--table is not DB.TABLE:", spec_table);
    long timeout_s = (long)timeout;
    const char *spec_s = spec_table, *path = a.config;
    cfg c;
    char err[1024];
    if (cmd_load(path, &c) != 0)
        return CMD_USAGE;
    rc = 1;
    canal_client *cc = NULL;
    ce_buf out;
    ce_buf_init(&out, 1u << 20);
    decode_ctx dec;
    decode_init(&dec);
    const cfg_table *rule = cfg_find_table(&c, db, table);
    if (rule == NULL)
        ce_log_print(stderr, "canal-es mapping: no [table] rule of %s matches %s: suggesting with the defaults", path,
                     spec_s);
    ce_log_set_destination(c.canal.destination);
    mapping_caps caps = {0};
    sink *s = sink_new_cfg(&c.es, err, sizeof err);
    if (s == NULL || automap_caps(s, &caps, err, sizeof err) != SINK_OK)
        fprintf(stderr, "canal-es mapping: search node: %s: printing the mapping for a node without unsigned_long "
                "and flat types\n", err);
    sink_free(s);
    canal_opts co;
    opts_canal(&c, &co);
    co.fetch_timeout_ms = 1000;
    cc = canal_new(&co);
    if (cc == NULL) {
        fprintf(stderr, "canal-es mapping: out of memory\n");
        goto out;
    }
    if (canal_connect(cc, err, sizeof err) != CANAL_OK) {
        ce_log_print(stderr, "canal-es mapping: %s", err);
        goto out;
    }
    mapping_find f = {.db = db, .table = table, .rule = rule, .caps = &caps, .out = &out};
    time_t deadline = time(NULL) + timeout_s;
    int batches = 0;
    while (!f.found && batches < MAPPING_MAX_BATCHES && time(NULL) < deadline) {
        canal_batch *m = NULL;
        if (canal_get(cc, &m, err, sizeof err) != CANAL_OK) {
            ce_log_print(stderr, "canal-es mapping: %s", err);
            goto out;
        }
        if (m == NULL)
            continue; /* nothing pending: the GET waited fetch_timeout_ms */
        batches++;
        for (size_t i = 0; i < m->n && !f.found; i++) {
            int dr = decode_entry(&dec, m->entries[i].p, m->entries[i].len, mapping_on_row, &f, err, sizeof err);
            if (dr < 0 && !f.found) {
                ce_log_print(stderr, "canal-es mapping: batch %lld: %s", (long long)m->id, err);
                canal_batch_free(m);
                goto out;
            }
        }
        canal_batch_free(m);
    }
    if (f.found) {
        fputs((const char *)out.data, stdout);
        rc = 0;
    } else {
        ce_log_print(stderr,
                     "canal-es mapping: no change of %s in %d batch(es) / %ld s: write to the table (or raise --timeout) "
                     "and run it again",
                     spec_s, batches, timeout_s);
    }
out:
    canal_free(cc); /* nothing acked: the batches are redelivered after the next connect's rollback */
    decode_free(&dec);
    ce_buf_free(&out);
    cfg_free(&c);
    return rc;
}
