/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * A bounded text builder over memory the caller owns. Appends past the end are dropped and
 * remembered in `overflow`, so a caller checks once at the end instead of after each step.
 */
#ifndef RW_UTIL_BUF_H
#define RW_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool overflow;
} buf_t;

static inline buf_t buf_init(char *data, size_t cap)
{
    buf_t b = {data, 0, cap, false};

    if (cap > 0)
        data[0] = '\0';
    return b;
}

void buf_append(buf_t *b, const char *s, size_t len);
void buf_puts(buf_t *b, const char *s);
void buf_u64(buf_t *b, uint64_t v);

/* Writes `v` in decimal at `out` (at least 20 bytes, no terminator); returns the length. */
size_t u64_to_dec(char *out, uint64_t v);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` as a JSON string literal, quotes included; control bytes are escaped. */
void buf_json_string(buf_t *b, const char *s, size_t len);

#endif
