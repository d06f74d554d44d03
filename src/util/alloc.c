/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void alloc_fail(size_t size)
{
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "ratewatch: out of memory allocating %zu bytes\n", size);

    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        abort();
    abort();
}

void *rw_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        alloc_fail(size);
    return p;
}

void *rw_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        alloc_fail(count * size);
    return p;
}

void *rw_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        alloc_fail(size);
    return p;
}

char *rw_strndup(const char *s, size_t len)
{
    char *p = rw_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rw_strdup(const char *s)
{
    return rw_strndup(s, strlen(s));
}
