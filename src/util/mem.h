/* util/mem: the one allocation wrapper of canal-es.
 * Every heap allocation goes through these so a test can make the Nth one fail
 * (ce_mem_fail_after). Callers own what they get and free it with ce_free. */
#ifndef CE_UTIL_MEM_H
#define CE_UTIL_MEM_H

#include <stddef.h>

void *ce_malloc(size_t n);
void *ce_calloc(size_t count, size_t size);
void *ce_realloc(void *p, size_t n);
char *ce_strdup(const char *s);
char *ce_strndup(const char *s, size_t n);
void ce_free(void *p);

/* Test hook: the allocation after `n` more successful ones fails; -1 disables. */
void ce_mem_fail_after(long n);

#endif
