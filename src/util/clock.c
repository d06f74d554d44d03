/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t clock_format_rfc3339(uint64_t epoch_ms, int with_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&secs, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        return 0;
    if (with_ms)
        n += (size_t)snprintf(buf + n, size - n, ".%03uZ", (unsigned)(epoch_ms % 1000));
    else
        n += (size_t)snprintf(buf + n, size - n, "Z");
    return n < size ? n : size - 1;
}
