/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Parsing the privacy endpoints' input: JSON bodies and the user_id query parameter. Pure. */
#ifndef RW_API_PRIVACY_REQUEST_H
#define RW_API_PRIVACY_REQUEST_H

#include <stddef.h>

#include "api/check_request.h"

#define PRIVACY_MAX_REASON 200

typedef struct {
    char user_id[CHECK_MAX_KEY + 1];
    size_t user_id_len;
    char reason[PRIVACY_MAX_REASON + 1];
} privacy_request_t;

/*
 * Parses {"user_id": ..., "reason": ...}; `reason` is allowed only when `with_reason`, and
 * defaults to `default_reason`. Returns 0, or -1 with `err` filled.
 */
int privacy_request_parse(const char *body, size_t len, int with_reason, const char *default_reason,
                          privacy_request_t *out, api_error_t *err);

/*
 * Reads user_id from a URL query string ("a=b&user_id=..."), percent-decoded and checked
 * like a key. Returns 0, or -1 with `err` filled.
 */
int privacy_query_parse(const char *query, size_t len, privacy_request_t *out, api_error_t *err);

#endif
