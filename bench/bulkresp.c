/* bench-bulkresp: the cost of reading one _bulk response (sink_parse_response),
 * no network. Builds a response of N items (default 10 000) in two shapes:
 *   full      what a node answers without filter_path (OpenSearch 2 / ES 7
 *             fields: _index, _id, _version, result, _shards, _seq_no,
 *             _primary_term, status);
 *   filtered  what it answers to sink_bulk's filter_path (errors, and per
 *             item _index, _id, status, error.type, error.reason).
 * Every 100th item is a 400 mapper_parsing_exception and every 50th a 409
 * version conflict (errors: true), or none with --all-ok. Prints bytes, µs
 * per response and µs per item (best of the repetitions).
 *
 *   bench-bulkresp [--items N] [--reps N] [--all-ok] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/parse.h"

static int add_item(ce_buf *b, size_t i, int full, int all_ok)
{
    char line[700];
    int bad = !all_ok && i % 100 == 7, old = !all_ok && i % 50 == 3;
    int n;
    if (bad)
        n = snprintf(line, sizeof line,
                     "%s{\"index\":{\"_index\":\"orders\",\"_id\":\"%zu\",\"status\":400,\"error\":{"
                     "\"type\":\"mapper_parsing_exception\",\"reason\":\"failed to parse field [qty] of type [integer] "
                     "in document with id '%zu'. Preview of field's value: 'abc'\"%s}}}",
                     i ? "," : "", i, i,
                     full ? ",\"caused_by\":{\"type\":\"number_format_exception\",\"reason\":\"For input string: "
                            "\\\"abc\\\"\"}"
                          : "");
    else if (old)
        n = snprintf(line, sizeof line,
                     "%s{\"index\":{\"_index\":\"orders\",\"_id\":\"%zu\",%s\"status\":409,\"error\":{"
                     "\"type\":\"version_conflict_engine_exception\",\"reason\":\"[%zu]: version conflict, current "
                     "version [1700000000000000002] is higher or equal to the one provided [1700000000000000001]\"%s}}}",
                     i ? "," : "", i, full ? "\"_version\":1700000000000000002," : "", i,
                     full ? ",\"index_uuid\":\"q3Vb1w8tS5yYb2kq0Xk7nA\",\"shard\":\"0\",\"index\":\"orders\"" : "");
    else if (full)
        n = snprintf(line, sizeof line,
                     "%s{\"index\":{\"_index\":\"orders\",\"_id\":\"%zu\",\"_version\":1700000000000000001,"
                     "\"result\":\"created\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":%zu,"
                     "\"_primary_term\":1,\"status\":201}}",
                     i ? "," : "", i, i);
    else
        n = snprintf(line, sizeof line, "%s{\"index\":{\"_index\":\"orders\",\"_id\":\"%zu\",\"status\":201}}",
                     i ? "," : "", i);
    return n > 0 && (size_t)n < sizeof line ? ce_buf_append(b, line, (size_t)n) : -1;
}

static int build(ce_buf *b, size_t items, int full, int all_ok)
{
    ce_buf_reset(b);
    if (ce_buf_append_str(b, full ? "{\"took\":120,\"errors\":" : "{\"errors\":") != 0 ||
        ce_buf_append_str(b, all_ok ? "false,\"items\":[" : "true,\"items\":[") != 0)
        return -1;
    for (size_t i = 0; i < items; i++)
        if (add_item(b, i, full, all_ok) != 0)
            return -1;
    return ce_buf_append_str(b, "]}");
}

int main(int argc, char **argv)
{
    int64_t items = 10000, reps = 50;
    int all_ok = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--items") == 0 && i + 1 < argc && ce_parse_i64(argv[++i], 1, 10000000, &items) == 0)
            continue;
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc && ce_parse_i64(argv[++i], 1, 100000, &reps) == 0)
            continue;
        if (strcmp(argv[i], "--all-ok") == 0) {
            all_ok = 1;
            continue;
        }
        fprintf(stderr, "usage: bench-bulkresp [--items N] [--reps N] [--all-ok]\n");
        return 2;
    }
    sink_item *it = calloc((size_t)items, sizeof *it);
    ce_buf b;
    ce_buf_init(&b, (size_t)1 << 30);
    int rc = 0;
    for (int full = 1; full >= 0 && it != NULL; full--) {
        if (build(&b, (size_t)items, full, all_ok) != 0) {
            fprintf(stderr, "bench-bulkresp: cannot build the response\n");
            rc = 1;
            break;
        }
        uint64_t best = UINT64_MAX;
        sink_summary sum = {0};
        for (int64_t r = 0; r < reps; r++) {
            char err[300];
            sum = (sink_summary){.item = it, .item_cap = (size_t)items};
            uint64_t t0 = ce_mono_us();
            int prc = sink_parse_response((const char *)b.data, b.len, &sum, err, sizeof err);
            uint64_t dt = ce_mono_us() - t0;
            if (prc != 0 || sum.items != (size_t)items) {
                fprintf(stderr, "bench-bulkresp: %s\n", prc != 0 ? err : "item count");
                rc = 1;
                break;
            }
            if (dt < best)
                best = dt;
        }
        if (rc != 0)
            break;
        printf("%-8s %8lld items %9zu bytes  %8.0f us/response  %.3f us/item  (ok %zu, dead %zu, best of %lld)\n",
               full ? "full" : "filtered", (long long)items, b.len, (double)best, (double)best / (double)items,
               sum.ok, sum.dead, (long long)reps);
    }
    free(it);
    ce_buf_free(&b);
    return rc;
}
