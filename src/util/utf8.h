/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* UTF-8 validation, for input that no JSON parser has checked and for output we build. */
#ifndef RW_UTIL_UTF8_H
#define RW_UTIL_UTF8_H

#include <stddef.h>

/* Whether `s` is valid UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
int utf8_valid(const char *s, size_t len);

/* Replaces every byte of `s` outside printable ASCII with '?', in place. */
void utf8_ascii_only(char *s);

#endif
