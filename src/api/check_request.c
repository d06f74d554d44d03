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

int api_identifier_ok(const char *s, size_t len)
{
    return len >= 1 && len <= CHECK_MAX_KEY && memchr(s, '\0', len) == NULL;
}

/* A member's value, as both parsers hand it to the one set of field rules. */
typedef struct {
    enum { VALUE_STRING, VALUE_INTEGER, VALUE_OTHER } kind;
    const char *s; /* VALUE_STRING: not NUL-terminated */
    size_t len;
    int64_t i; /* VALUE_INTEGER */
} value_t;

typedef struct {
    unsigned seen;
    uint64_t window;
} progress_t;

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* An integer field in [min, max]; anything else (real, string, bool, null) is refused. */
static int integer_field(const value_t *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (v->kind != VALUE_INTEGER || v->i < 0 || (uint64_t)v->i < min || (uint64_t)v->i > max)
        return -1;
    *out = (uint64_t)v->i;
    return 0;
}

static int string_field(const value_t *v, const char **s, size_t *len)
{
    if (v->kind != VALUE_STRING || !api_identifier_ok(v->s, v->len))
        return -1;
    *s = v->s;
    *len = v->len;
    return 0;
}

static int reject(api_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int reject(api_error_t *err, const char *fmt, ...)
{
    va_list ap;

    err->code = ERR_INVALID_FIELD;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* The field rules: one member. Returns 0, or -1 with `err` filled. */
static int apply(const char *name, size_t name_len, const value_t *v, check_request_t *out,
                 progress_t *p, api_error_t *err)
{
    if (name_is(name, name_len, "key")) {
        if (string_field(v, &out->key, &out->key_len) != 0)
            return reject(err, "key must be a string of 1 to 512 bytes of UTF-8 without NUL");
        p->seen |= SEEN_KEY;
    } else if (name_is(name, name_len, "limit")) {
        if (integer_field(v, 1, LIMITER_MAX_LIMIT, &out->req.limit) != 0)
            return reject(err, "limit must be an integer from 1 to 1000000000");
        p->seen |= SEEN_LIMIT;
    } else if (name_is(name, name_len, "window")) {
        if (integer_field(v, 1, LIMITER_MAX_WINDOW_MS / 1000, &p->window) != 0)
            return reject(err, "window must be an integer number of seconds from 1 to 31536000");
        p->seen |= SEEN_WINDOW;
    } else if (name_is(name, name_len, "window_ms")) {
        if (integer_field(v, 1, LIMITER_MAX_WINDOW_MS, &out->req.window_ms) != 0)
            return reject(err, "window_ms must be an integer from 1 to 31536000000");
        p->seen |= SEEN_WINDOW_MS;
    } else if (name_is(name, name_len, "cost")) {
        if (integer_field(v, 0, LIMITER_MAX_COST, &out->req.cost) != 0)
            return reject(err, "cost must be an integer from 0 to 1000000000");
        p->seen |= SEEN_COST;
    } else if (name_is(name, name_len, "user_id")) {
        if (string_field(v, &out->user_id, &out->user_id_len) != 0)
            return reject(err, "user_id must be a string of 1 to 512 bytes of UTF-8 without NUL");
        p->seen |= SEEN_USER_ID;
    } else if (name_is(name, name_len, "algorithm")) {
        if (v->kind != VALUE_STRING || !name_is(v->s, v->len, "sliding_window"))
            return reject(err, "algorithm must be \"sliding_window\"");
        out->algorithm = LIMITER_SLIDING_WINDOW;
        p->seen |= SEEN_ALGORITHM;
    } else {
        char shown[48];
        size_t n = name_len < sizeof(shown) - 1 ? name_len : sizeof(shown) - 1;
        for (size_t i = 0; i < n; i++)
            shown[i] = (name[i] > 0x20 && name[i] < 0x7f && name[i] != '\'') ? name[i] : '?';
        shown[n] = '\0';
        return reject(err,
                      "unknown field '%s'; allowed: key, limit, window, window_ms, cost, "
                      "algorithm, user_id",
                      shown);
    }
    return 0;
}

/* The rules on the whole: what is required, and what goes together. */
static int finish(const progress_t *p, check_request_t *out, api_error_t *err)
{
    if (!(p->seen & SEEN_KEY))
        return reject(err, "key is required");
    if (!(p->seen & SEEN_LIMIT))
        return reject(err, "limit is required");
    if ((p->seen & SEEN_WINDOW) && (p->seen & SEEN_WINDOW_MS))
        return reject(err, "give window or window_ms, not both");
    if (!(p->seen & (SEEN_WINDOW | SEEN_WINDOW_MS)))
        return reject(err, "window (seconds) or window_ms is required");
    if (p->seen & SEEN_WINDOW)
        out->req.window_ms = p->window * 1000;
    return 0;
}

static void request_init(check_request_t *out)
{
    memset(out, 0, sizeof(*out));
    out->algorithm = LIMITER_SLIDING_WINDOW;
    out->req.cost = 1;
}

/*
 * The fast path, for the bodies clients actually send: one flat object whose names are
 * plain ASCII and whose values are strings without escapes or non-negative integers. It
 * reads the whole body before applying any rule, so its errors are those of the general
 * path. Anything else (escapes, other values, nesting, duplicate names, malformed input)
 * returns FAST_DECLINED and the general path, jansson, decides.
 */
#define FAST_MAX_MEMBERS 8
enum { FAST_DONE = 0, FAST_DECLINED = 1 };

typedef struct {
    const char *name;
    size_t name_len;
    value_t value;
} member_t;

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string with no escapes and no control bytes, as valid UTF-8; NULL to decline. */
static const char *fast_string(const char *p, const char *end, const char **s, size_t *len)
{
    const char *start = ++p;

    while (p < end && *p != '"') {
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return NULL;
        p++;
    }
    if (p == end || !utf8_valid(start, (size_t)(p - start)))
        return NULL;
    *s = start;
    *len = (size_t)(p - start);
    return p + 1;
}

static int fast_parse(const char *body, size_t len, check_request_t *out, api_error_t *err, int *rc)
{
    const char *p = body, *end = body + len;
    member_t members[FAST_MAX_MEMBERS];
    size_t n = 0;

    p = skip_space(p, end);
    if (p == end || *p++ != '{')
        return FAST_DECLINED;
    p = skip_space(p, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            member_t *m = &members[n];
            if (n == FAST_MAX_MEMBERS || p == end || *p != '"')
                return FAST_DECLINED;
            if ((p = fast_string(p, end, &m->name, &m->name_len)) == NULL)
                return FAST_DECLINED;
            p = skip_space(p, end);
            if (p == end || *p++ != ':')
                return FAST_DECLINED;
            p = skip_space(p, end);
            if (p < end && *p == '"') {
                m->value.kind = VALUE_STRING;
                if ((p = fast_string(p, end, &m->value.s, &m->value.len)) == NULL)
                    return FAST_DECLINED;
            } else if (p < end && *p >= '0' && *p <= '9') {
                /* At most 15 digits, no leading zero, no fraction or exponent. */
                const char *digits = p;
                int64_t v = 0;
                while (p < end && *p >= '0' && *p <= '9' && p - digits < 16)
                    v = v * 10 + (*p++ - '0');
                if (p - digits > 15 || (*digits == '0' && p - digits > 1) ||
                    (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
                    return FAST_DECLINED;
                m->value.kind = VALUE_INTEGER;
                m->value.i = v;
            } else {
                return FAST_DECLINED;
            }
            for (size_t k = 0; k < n; k++) {
                if (members[k].name_len == m->name_len &&
                    memcmp(members[k].name, m->name, m->name_len) == 0)
                    return FAST_DECLINED;
            }
            n++;
            p = skip_space(p, end);
            if (p < end && *p == ',') {
                p = skip_space(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return FAST_DECLINED;
        }
    }
    if (skip_space(p, end) != end)
        return FAST_DECLINED;

    /* The body is valid JSON of the common shape: now the same rules as below. */
    progress_t progress = {0, 0};
    request_init(out);
    for (size_t k = 0; k < n; k++) {
        if (apply(members[k].name, members[k].name_len, &members[k].value, out, &progress, err) !=
            0) {
            *rc = -1;
            return FAST_DONE;
        }
    }
    *rc = finish(&progress, out, err);
    return FAST_DONE;
}

static json_t *fail_json(api_error_t *err, json_t *doc, error_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *fail_json(api_error_t *err, json_t *doc, error_code_t code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    json_decref(doc);
    return NULL;
}

json_t *check_request_parse(const char *body, size_t len, check_request_t *out, api_error_t *err)
{
    int rc;

    if (fast_parse(body, len, out, err, &rc) == FAST_DONE)
        return rc == 0 ? json_null() : NULL;
    return check_request_parse_general(body, len, out, err);
}

json_t *check_request_parse_general(const char *body, size_t len, check_request_t *out,
                                    api_error_t *err)
{
    json_error_t jerr;
    progress_t progress = {0, 0};

    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        if (strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "overflow") != NULL)
            return fail_json(err, NULL, ERR_INVALID_FIELD,
                             "a number in the body is out of range: see the field rules in "
                             "docs/API.md");
        /* jansson quotes the input around the error, which may cut a UTF-8 sequence. */
        utf8_ascii_only(jerr.text);
        return fail_json(err, NULL, ERR_INVALID_JSON, "the body is not valid JSON: %s (at byte %d)",
                         jerr.text, jerr.position);
    }
    if (!json_is_object(doc))
        return fail_json(err, doc, ERR_INVALID_JSON, "the body must be a JSON object");

    request_init(out);
    /* Members in the order they were written, names with their length (\u0000 included). */
    for (void *it = json_object_iter(doc); it != NULL; it = json_object_iter_next(doc, it)) {
        json_t *value = json_object_iter_value(it);
        value_t v = {VALUE_OTHER, NULL, 0, 0};
        if (json_is_string(value)) {
            v.kind = VALUE_STRING;
            v.s = json_string_value(value);
            v.len = json_string_length(value);
        } else if (json_is_integer(value)) {
            v.kind = VALUE_INTEGER;
            v.i = json_integer_value(value);
        }
        if (apply(json_object_iter_key(it), json_object_iter_key_len(it), &v, out, &progress,
                  err) != 0) {
            json_decref(doc);
            return NULL;
        }
    }
    if (finish(&progress, out, err) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
