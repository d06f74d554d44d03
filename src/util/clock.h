/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Wall-clock and monotonic time in the units the rest of the code speaks. */
#ifndef RW_UTIL_CLOCK_H
#define RW_UTIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch. */
uint64_t clock_now_ms(void);

/* Milliseconds on a clock that never jumps; only differences mean anything. */
uint64_t clock_mono_ms(void);

/* Nanoseconds on the monotonic clock, for durations. */
uint64_t clock_mono_ns(void);

/* RFC 3339 UTC time, "2026-12-04T15:45:07Z", or with ".123" milliseconds when `with_ms`. */
size_t clock_format_rfc3339(uint64_t epoch_ms, int with_ms, char *buf, size_t size);

#endif
