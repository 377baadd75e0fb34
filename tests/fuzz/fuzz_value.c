/* fuzz_value: libFuzzer target for map/value.
 * Input: 4 option bytes, then mysqlType up to the first NUL, then the value
 * (any bytes). The value is emitted inside a document on a yajl generator
 * with UTF-8 validation on; the result must parse back with yajl_tree_parse
 * and be valid UTF-8, or the target aborts.
 *   byte 0: bit 0 decimal=number, bits 1-2 blob mode, bit 3 timezone set,
 *           bit 4 isNull, bits 5-6 split separator
 *   byte 1: convert kind (mod 9)   byte 2: timezone offset step
 *   byte 3: sqlType (index into a table) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "map/value.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const unsigned char *out, size_t n)
{
    fprintf(stderr, "fuzz_value: %s: %.*s\n", what, (int)(n > 4096 ? 4096 : n), (const char *)out);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static value_ctx v;
    static int ready;
    static const int sql_types[] = {0, -7, -6, 5, 4, -5, 6, 7, 8, 2, 3, 1, 12, -1, 91, 92, 93, -2, -3, -4, 2004, 2005};
    static char *const seps[] = {",", " | ", ";;", "\xff"};
    if (!ready) {
        value_ctx_init(&v);
        ready = 1;
    }
    if (size < 4)
        return 0;
    uint8_t flags = data[0], sql_sel = data[3];
    value_opts o = {.decimal = (flags & 1) ? VALUE_DECIMAL_NUMBER : VALUE_DECIMAL_STRING,
                    .blob = (value_blob_mode)(((flags >> 1) & 3) % 3),
                    .tz_set = (flags >> 3) & 1,
                    .tz_offset_min = ((int)data[2] - 128) * 840 / 128};
    value_conv conv = {.column = (char *)"k", .kind = (value_conv_kind)(data[1] % 9), .sep = seps[(flags >> 5) & 3]};
    data += 4;
    size -= 4;

    /* mysqlType: up to the first NUL (at most 255 bytes), the rest is the value */
    char type[256];
    const uint8_t *nul = memchr(data, 0, size < sizeof type ? size : sizeof type);
    size_t tn = nul ? (size_t)(nul - data) : 0;
    memcpy(type, data, tn);
    type[tn] = '\0';
    const uint8_t *val = nul ? nul + 1 : data;
    size_t vn = nul ? size - tn - 1 : size;
    row_col c = {.name = "k",
                 .value = (const char *)val,
                 .value_len = vn,
                 .mysql_type = type,
                 .sql_type = sql_types[sql_sel % (sizeof sql_types / sizeof sql_types[0])],
                 .is_null = (flags >> 4) & 1};

    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return 0;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_status st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)"k", 1);
    if (st == yajl_gen_status_ok)
        st = value_emit(&v, g, &c, &o, &conv);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)"z", 1);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_number(g, "1", 1);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    const unsigned char *buf = NULL;
    size_t len = 0;
    yajl_gen_get_buf(g, &buf, &len);
    if (st != yajl_gen_status_ok) {
        char what[64];
        snprintf(what, sizeof what, "generator status %d", (int)st);
        fuzz_fail(what, buf, len);
    }
    if (ce_utf8_valid_prefix((const char *)buf, len) != len)
        fuzz_fail("output is not valid UTF-8", buf, len);
    char *text = malloc(len + 1);
    if (text == NULL)
        abort();
    memcpy(text, buf, len);
    text[len] = '\0';
    char err[256];
    yajl_val tree = yajl_tree_parse(text, err, sizeof err);
    if (tree == NULL || !YAJL_IS_OBJECT(tree) || tree->u.object.len != 2)
        fuzz_fail(tree == NULL ? err : "not a 2-key object", buf, len);
    yajl_tree_free(tree);
    free(text);
    yajl_gen_free(g);
    return 0;
}
