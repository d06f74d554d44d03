/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Structured logging to stderr: one JSON object per line, or a line of text for people.
 * The LOG_* macros test the level before any argument is formatted, so a disabled call
 * costs one load and a compare. Each line is written with a single write(2).
 */
#ifndef RW_UTIL_LOG_H
#define RW_UTIL_LOG_H

#include <stdatomic.h>

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_OFF
} log_level_t;

typedef enum { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT } log_format_t;

extern _Atomic int log_current_level;

void log_configure(log_level_t level, log_format_t format);
int log_level_parse(const char *name, log_level_t *out);
const char *log_level_name(log_level_t level);

/*
 * Writes one record. `request_id` may be NULL. `fields` is NULL or a preformatted run of
 * JSON members (`"k":"v","n":1`) that the JSON format appends and the text format shows.
 */
void log_write(log_level_t level, const char *request_id, const char *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_enabled(level)                                                                         \
    ((int)(level) >= atomic_load_explicit(&log_current_level, memory_order_relaxed))

#define LOG_AT(level, rid, fields, ...)                                                            \
    do {                                                                                           \
        if (log_enabled(level))                                                                    \
            log_write(level, rid, fields, __VA_ARGS__);                                            \
    } while (0)

#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, NULL, NULL, __VA_ARGS__)
#define LOG_INFO(...)  LOG_AT(LOG_LEVEL_INFO, NULL, NULL, __VA_ARGS__)
#define LOG_WARN(...)  LOG_AT(LOG_LEVEL_WARN, NULL, NULL, __VA_ARGS__)
#define LOG_ERROR(...) LOG_AT(LOG_LEVEL_ERROR, NULL, NULL, __VA_ARGS__)

#endif
