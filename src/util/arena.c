/* util/arena: bump allocation in chunks of at least 64 KiB. */
#include "util/arena.h"
#include "util/mem.h"

#include <stdint.h>

#define ARENA_MIN_BLOCK ((size_t)64 << 10)
#define ARENA_ALIGN 16

struct ce_arena_block {
    ce_arena_block *next; /* in a->blocks */
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

static void *arena_pb_alloc(void *ud, size_t n) { return ce_arena_alloc(ud, n); }

static void arena_pb_free(void *ud, void *p)
{
    (void)ud;
    (void)p;
}

void ce_arena_init(ce_arena *a, size_t max_bytes)
{
    a->head = NULL;
    a->blocks = NULL;
    a->max = max_bytes;
    a->total = 0;
    a->pb.alloc = arena_pb_alloc;
    a->pb.free = arena_pb_free;
    a->pb.allocator_data = a;
}

void *ce_arena_alloc(ce_arena *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    /* Blocks after head are empty (they were reset): take the first that fits. */
    for (ce_arena_block *b = a->head; b; b = b->next) {
        if (b->size - b->used >= n) {
            void *p = b->data + b->used;
            b->used += n;
            a->head = b;
            return p;
        }
    }
    size_t size = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
    if (size > a->max || a->total > a->max - size)
        return NULL;
    ce_arena_block *b = ce_malloc(sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->used = n;
    a->total += size;
    /* insert after head: blocks behind head are in use, blocks after it empty */
    if (a->head) {
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->blocks;
        a->blocks = b;
    }
    a->head = b;
    return b->data;
}

void ce_arena_reset(ce_arena *a)
{
    for (ce_arena_block *b = a->blocks; b; b = b->next)
        b->used = 0;
    a->head = a->blocks;
}

void ce_arena_free(ce_arena *a)
{
    ce_arena_block *b = a->blocks;
    while (b) {
        ce_arena_block *next = b->next;
        ce_free(b);
        b = next;
    }
    a->head = NULL;
    a->blocks = NULL;
    a->total = 0;
}
