/* util/arena: a bump allocator for short-lived decode data.
 * Blocks are kept across ce_arena_reset, so a steady stream of batches
 * allocates nothing after warm-up. ce_arena_pb exposes it as a protobuf-c
 * allocator whose free is a no-op; everything is released by reset/free. */
#ifndef CE_UTIL_ARENA_H
#define CE_UTIL_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct ce_arena_block ce_arena_block;

typedef struct ce_arena {
    ce_arena_block *head;   /* block being filled */
    ce_arena_block *blocks; /* all blocks, for reuse and freeing */
    size_t max;             /* cap on total block bytes */
    size_t total;
    ProtobufCAllocator pb;
} ce_arena;

void ce_arena_init(ce_arena *a, size_t max_bytes);
void *ce_arena_alloc(ce_arena *a, size_t n);
void ce_arena_reset(ce_arena *a);
void ce_arena_free(ce_arena *a);

#endif
