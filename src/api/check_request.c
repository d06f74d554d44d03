/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "api/check_request.h"

#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    SEEN_KEY = 1,
    SEEN_LIMIT = 2,
    SEEN_WINDOW = 4,
    SEEN_WINDOW_MS = 8,
    SEEN_COST = 16,
    SEEN_ALGORITHM = 32,
    SEEN_USER_ID = 64
};

static json_t *fail(api_error_t *err, json_t *doc, error_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *fail(api_error_t *err, json_t *doc, error_code_t code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    json_decref(doc);
    return NULL;
}

int api_identifier_ok(const char *s, size_t len)
{
    return len >= 1 && len <= CHECK_MAX_KEY && memchr(s, '\0', len) == NULL;
}

/* An integer field in [min, max]; anything else (real, string, bool, null) is refused. */
static int integer_field(json_t *value, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(value))
        return -1;
    json_int_t v = json_integer_value(value);
    if (v < 0 || (uint64_t)v < min || (uint64_t)v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

json_t *check_request_parse(const char *body, size_t len, check_request_t *out, api_error_t *err)
{
    json_error_t jerr;
    unsigned seen = 0;
    const char *name;
    json_t *value;
    uint64_t window = 0;

    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        if (strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "overflow") != NULL)
            return fail(err, NULL, ERR_INVALID_FIELD,
                        "a number in the body is out of range: see the field rules in docs/API.md");
        /* jansson quotes the input around the error, which may cut a UTF-8 sequence. */
        utf8_ascii_only(jerr.text);
        return fail(err, NULL, ERR_INVALID_JSON, "the body is not valid JSON: %s (at byte %d)",
                    jerr.text, jerr.position);
    }
    if (!json_is_object(doc))
        return fail(err, doc, ERR_INVALID_JSON, "the body must be a JSON object");

    memset(out, 0, sizeof(*out));
    out->algorithm = LIMITER_SLIDING_WINDOW;
    out->req.cost = 1;

    json_object_foreach(doc, name, value)
    {
        if (strcmp(name, "key") == 0) {
            if (!json_is_string(value) ||
                !api_identifier_ok(json_string_value(value), json_string_length(value)))
                return fail(err, doc, ERR_INVALID_FIELD,
                            "key must be a string of 1 to 512 bytes of UTF-8 without NUL");
            out->key = json_string_value(value);
            out->key_len = json_string_length(value);
            seen |= SEEN_KEY;
        } else if (strcmp(name, "limit") == 0) {
            if (integer_field(value, 1, LIMITER_MAX_LIMIT, &out->req.limit) != 0)
                return fail(err, doc, ERR_INVALID_FIELD,
                            "limit must be an integer from 1 to 1000000000");
            seen |= SEEN_LIMIT;
        } else if (strcmp(name, "window") == 0) {
            if (integer_field(value, 1, LIMITER_MAX_WINDOW_MS / 1000, &window) != 0)
                return fail(err, doc, ERR_INVALID_FIELD,
                            "window must be an integer number of seconds from 1 to 31536000");
            seen |= SEEN_WINDOW;
        } else if (strcmp(name, "window_ms") == 0) {
            if (integer_field(value, 1, LIMITER_MAX_WINDOW_MS, &out->req.window_ms) != 0)
                return fail(err, doc, ERR_INVALID_FIELD,
                            "window_ms must be an integer from 1 to 31536000000");
            seen |= SEEN_WINDOW_MS;
        } else if (strcmp(name, "cost") == 0) {
            if (integer_field(value, 0, LIMITER_MAX_COST, &out->req.cost) != 0)
                return fail(err, doc, ERR_INVALID_FIELD,
                            "cost must be an integer from 0 to 1000000000");
            seen |= SEEN_COST;
        } else if (strcmp(name, "user_id") == 0) {
            if (!json_is_string(value) ||
                !api_identifier_ok(json_string_value(value), json_string_length(value)))
                return fail(err, doc, ERR_INVALID_FIELD,
                            "user_id must be a string of 1 to 512 bytes of UTF-8 without NUL");
            out->user_id = json_string_value(value);
            out->user_id_len = json_string_length(value);
            seen |= SEEN_USER_ID;
        } else if (strcmp(name, "algorithm") == 0) {
            if (!json_is_string(value) ||
                limiter_algorithm_parse(json_string_value(value), &out->algorithm) != 0)
                return fail(err, doc, ERR_INVALID_FIELD, "algorithm must be \"sliding_window\"");
            seen |= SEEN_ALGORITHM;
        } else {
            char shown[48];
            size_t n = strnlen(name, sizeof(shown) - 1);
            for (size_t i = 0; i < n; i++)
                shown[i] = (name[i] > 0x20 && name[i] < 0x7f && name[i] != '\'') ? name[i] : '?';
            shown[n] = '\0';
            return fail(err, doc, ERR_INVALID_FIELD,
                        "unknown field '%s'; allowed: key, limit, window, window_ms, cost, "
                        "algorithm, user_id",
                        shown);
        }
    }

    if (!(seen & SEEN_KEY))
        return fail(err, doc, ERR_INVALID_FIELD, "key is required");
    if (!(seen & SEEN_LIMIT))
        return fail(err, doc, ERR_INVALID_FIELD, "limit is required");
    if ((seen & SEEN_WINDOW) && (seen & SEEN_WINDOW_MS))
        return fail(err, doc, ERR_INVALID_FIELD, "give window or window_ms, not both");
    if (!(seen & (SEEN_WINDOW | SEEN_WINDOW_MS)))
        return fail(err, doc, ERR_INVALID_FIELD, "window (seconds) or window_ms is required");
    if (seen & SEEN_WINDOW)
        out->req.window_ms = window * 1000;
    return doc;
}
