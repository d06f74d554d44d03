/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void buf_append(buf_t *b, const char *s, size_t len)
{
    if (b->overflow || b->len + len + 1 > b->cap) {
        b->overflow = true;
        return;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

size_t u64_to_dec(char *out, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

void buf_u64(buf_t *b, uint64_t v)
{
    char tmp[20];

    buf_append(b, tmp, u64_to_dec(tmp, v));
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = true;
        b->data[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

void buf_json_string(buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    buf_append(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t run = i;

        while (run < len && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            buf_append(b, s + i, run - i);
            i = run - 1;
            continue;
        }
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            buf_append(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            buf_append(b, esc, 6);
        }
    }
    buf_append(b, "\"", 1);
}
