/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"

_Atomic int log_current_level = LOG_LEVEL_INFO;
static _Atomic int log_current_format = LOG_FORMAT_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_configure(log_level_t level, log_format_t format)
{
    atomic_store(&log_current_level, (int)level);
    atomic_store(&log_current_format, (int)format);
}

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = 0; i <= LOG_LEVEL_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(log_level_t level)
{
    return level <= LOG_LEVEL_OFF ? level_names[level] : "unknown";
}

void log_write(log_level_t level, const char *request_id, const char *fields, const char *fmt, ...)
{
    char line[4096], msg[2048], when[40];
    buf_t b = buf_init(line, sizeof(line) - 1);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_format_rfc3339(clock_now_ms(), 1, when, sizeof(when));

    if (atomic_load(&log_current_format) == LOG_FORMAT_TEXT) {
        buf_printf(&b, "%s %-5s %s", when, log_level_name(level), msg);
        if (request_id != NULL)
            buf_printf(&b, " request_id=%s", request_id);
        if (fields != NULL)
            buf_printf(&b, " {%s}", fields);
    } else {
        buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", when, log_level_name(level));
        buf_json_string(&b, msg, strlen(msg));
        if (request_id != NULL) {
            buf_puts(&b, ",\"request_id\":");
            buf_json_string(&b, request_id, strlen(request_id));
        }
        if (fields != NULL && fields[0] != '\0') {
            buf_puts(&b, ",");
            buf_puts(&b, fields);
        }
        buf_puts(&b, "}");
    }
    if (b.overflow)
        b.len = strnlen(line, sizeof(line) - 1);
    line[b.len++] = '\n';
    if (write(STDERR_FILENO, line, b.len) < 0)
        return;
}
