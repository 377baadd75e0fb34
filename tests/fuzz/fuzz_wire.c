/* fuzz_wire: differential libFuzzer target for the wire reader (decode/wire)
 * against protobuf-c, the reference decoder. Every input is decoded twice as
 * an Entry (decode_next vs decode_next_pbc) and twice as a Messages body
 * (canal_batch_parse vs protobuf-c's unpack, then each entry as above); the
 * two must agree field by field (tests/fuzz/wire_diff.h says what is
 * compared) or both refuse the bytes. A disagreement aborts with where. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode/decode.h"
#include "util/log.h"
#include "wire_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static decode_ctx w, r;
    static int ready;
    if (!ready) {
        ce_log_set_level(CE_LOG_ERROR);
        decode_init(&w);
        decode_init(&r);
        ready = 1;
    }
    char why[512] = "";
    if (wire_diff_entry(&w, &r, data, size, why, sizeof why) != 0 ||
        wire_diff_messages(&w, &r, data, size, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_wire: the decoders disagree: %s\n", why);
        abort();
    }
    return 0;
}
