/* fuzz_input: libFuzzer target for the parsers of outside input other than
 * Canal values: the INI loader, the _bulk response parser and the
 * dead-letter line parser. The first byte picks the parser; the rest is the
 * input. Each must return an error or a result, never crash or leak, and a
 * rebuilt dead letter must be valid NDJSON (two JSON lines at most). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "config.h"
#include "replay.h"
#include "sink/dlline.h"
#include "sink/sink.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_ndjson(const ce_buf *b)
{
    const char *p = b->data ? (const char *)b->data : "";
    size_t left = b->len;
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        if (nl == NULL) {
            fprintf(stderr, "fuzz_input: NDJSON without a final newline\n");
            abort();
        }
        size_t n = (size_t)(nl - p);
        char *line = malloc(n + 1);
        if (line == NULL)
            return;
        memcpy(line, p, n);
        line[n] = '\0';
        char perr[128];
        yajl_val v = yajl_tree_parse(line, perr, sizeof perr);
        if (v == NULL && strlen(line) == n) {
            fprintf(stderr, "fuzz_input: rebuilt line is not JSON: %s (%s)\n", line, perr);
            abort();
        }
        yajl_tree_free(v);
        free(line);
        left -= n + 1;
        p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 3;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char err[1024];
    if (which == 0) {
        char *text = malloc(n + 1);
        if (text == NULL)
            return 0;
        memcpy(text, in, n);
        text[n] = '\0';
        cfg c;
        if (cfg_load_string(text, "fuzz.ini", &c, err, sizeof err) == 0)
            cfg_free(&c);
        free(text);
    } else if (which == 1) {
        sink_item items[64];
        sink_summary sum = {.item = items, .item_cap = 64};
        (void)sink_parse_response(in, n, &sum, err, sizeof err);
    } else {
        ce_buf out;
        ce_buf_init(&out, 1u << 24);
        dlline_entry e;
        if (dlline_to_ndjson(in, n, &out, &e, err, sizeof err) == 0)
            fuzz_check_ndjson(&out);
        ce_buf_free(&out);
    }
    return 0;
}
