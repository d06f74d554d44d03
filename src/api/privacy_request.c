/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "api/privacy_request.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/utf8.h"

static int fail(api_error_t *err, error_code_t code, const char *message)
{
    err->code = code;
    snprintf(err->message, sizeof(err->message), "%s", message);
    return -1;
}

static int set_user_id(privacy_request_t *out, const char *s, size_t len, api_error_t *err)
{
    if (!api_identifier_ok(s, len) || !utf8_valid(s, len))
        return fail(err, ERR_INVALID_FIELD,
                    "user_id must be a string of 1 to 512 bytes of UTF-8 without NUL");
    memcpy(out->user_id, s, len);
    out->user_id[len] = '\0';
    out->user_id_len = len;
    return 0;
}

int privacy_request_parse(const char *body, size_t len, int with_reason, const char *default_reason,
                          privacy_request_t *out, api_error_t *err)
{
    json_error_t jerr;
    const char *name;
    json_t *value;
    int rc = -1, have_user = 0;

    memset(out, 0, sizeof(*out));
    snprintf(out->reason, sizeof(out->reason), "%s", default_reason);
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        char message[256];
        /* The same answers as POST /v1/check gives the same faults. */
        if (strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "overflow") != NULL) {
            fail(err, ERR_INVALID_FIELD, "a number in the body is out of range");
            goto out;
        }
        utf8_ascii_only(jerr.text);
        snprintf(message, sizeof(message), "the body is not valid JSON: %s (at byte %d)", jerr.text,
                 jerr.position);
        fail(err, ERR_INVALID_JSON, message);
        goto out;
    }
    if (!json_is_object(doc)) {
        fail(err, ERR_INVALID_JSON, "the body must be a JSON object");
        goto out;
    }
    json_object_foreach(doc, name, value)
    {
        if (strcmp(name, "user_id") == 0) {
            if (!json_is_string(value)) {
                fail(err, ERR_INVALID_FIELD, "user_id must be a string");
                goto out;
            }
            if (set_user_id(out, json_string_value(value), json_string_length(value), err))
                goto out;
            have_user = 1;
        } else if (with_reason && strcmp(name, "reason") == 0) {
            size_t n = json_is_string(value) ? json_string_length(value) : 0;
            if (!json_is_string(value) || n > PRIVACY_MAX_REASON ||
                memchr(json_string_value(value), '\0', n) != NULL) {
                fail(err, ERR_INVALID_FIELD,
                     "reason must be a string of at most 200 bytes without NUL");
                goto out;
            }
            memcpy(out->reason, json_string_value(value), n);
            out->reason[n] = '\0';
        } else {
            fail(err, ERR_INVALID_FIELD,
                 with_reason ? "unknown field; allowed: user_id, reason"
                             : "unknown field; allowed: user_id");
            goto out;
        }
    }
    if (!have_user) {
        fail(err, ERR_INVALID_FIELD, "user_id is required");
        goto out;
    }
    rc = 0;

out:
    json_decref(doc);
    return rc;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int privacy_query_parse(const char *query, size_t len, privacy_request_t *out, api_error_t *err)
{
    const char *p = query, *end = query + len;
    int found = 0;

    memset(out, 0, sizeof(*out));
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));

        if (eq != NULL && eq - p == 7 && memcmp(p, "user_id", 7) == 0) {
            char decoded[CHECK_MAX_KEY + 1];
            size_t n = 0;
            if (found)
                return fail(err, ERR_INVALID_FIELD, "give user_id once");
            for (const char *c = eq + 1; c < stop; c++) {
                int ch = (unsigned char)*c;
                if (ch == '%') {
                    int hi = c + 2 < stop ? hex_digit(c[1]) : -1;
                    int lo = c + 2 < stop ? hex_digit(c[2]) : -1;
                    if (hi < 0 || lo < 0)
                        return fail(err, ERR_INVALID_FIELD, "user_id has a bad %-escape");
                    ch = hi * 16 + lo;
                    c += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (n == CHECK_MAX_KEY)
                    return fail(err, ERR_INVALID_FIELD,
                                "user_id must be 1 to 512 bytes of UTF-8 without NUL");
                decoded[n++] = (char)ch;
            }
            if (set_user_id(out, decoded, n, err) != 0)
                return -1;
            found = 1;
        }
        p = stop + 1;
    }
    if (!found)
        return fail(err, ERR_INVALID_FIELD, "user_id is required as a query parameter");
    return 0;
}
