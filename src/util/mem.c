/* util/mem: allocation wrapper with failure injection for tests. */
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static long mem_budget = -1;

static int mem_should_fail(void)
{
    if (mem_budget < 0)
        return 0;
    if (mem_budget == 0)
        return 1;
    mem_budget--;
    return 0;
}

void ce_mem_fail_after(long n) { mem_budget = n; }

void *ce_malloc(size_t n)
{
    if (mem_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *ce_calloc(size_t count, size_t size)
{
    if (mem_should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *ce_realloc(void *p, size_t n)
{
    if (mem_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *ce_strndup(const char *s, size_t n)
{
    char *d = ce_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ce_strdup(const char *s) { return ce_strndup(s, strlen(s)); }

void ce_free(void *p) { free(p); }
