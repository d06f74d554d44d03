/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The out-of-memory policy, decided once: every allocation in RateWatch goes through these
 * wrappers, which log and abort when the system refuses memory. A rate limiter that cannot
 * allocate cannot keep its promises, and a clean crash is restarted by the supervisor.
 */
#ifndef RW_UTIL_ALLOC_H
#define RW_UTIL_ALLOC_H

#include <stddef.h>

void *rw_malloc(size_t size);
void *rw_calloc(size_t count, size_t size);
void *rw_realloc(void *ptr, size_t size);
char *rw_strdup(const char *s);
char *rw_strndup(const char *s, size_t len);

#endif
