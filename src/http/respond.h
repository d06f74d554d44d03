/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Finishing a request. Every function here sends the whole response: after the call the
 * request is answered and its memory may be gone, so the caller touches it no more.
 */
#ifndef RW_HTTP_RESPOND_H
#define RW_HTTP_RESPOND_H

#include <h2o.h>

#include "http/server.h"

/* Stable error codes; each has one HTTP status. */
#define ERROR_CODES(X)                                                                             \
    X(INVALID_JSON, 400, "invalid_json")                                                           \
    X(INVALID_FIELD, 400, "invalid_field")                                                         \
    X(BAD_REQUEST, 400, "bad_request")                                                             \
    X(UNAUTHORIZED, 401, "unauthorized")                                                           \
    X(KEY_REVOKED, 401, "key_revoked")                                                             \
    X(NOT_FOUND, 404, "not_found")                                                                 \
    X(METHOD_NOT_ALLOWED, 405, "method_not_allowed")                                               \
    X(BODY_TOO_LARGE, 413, "body_too_large")                                                       \
    X(UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type")                                       \
    X(HEADERS_TOO_LARGE, 431, "headers_too_large")                                                 \
    X(INTERNAL, 500, "internal")                                                                   \
    X(STORE_FULL, 503, "store_full")                                                               \
    X(STORE_UNAVAILABLE, 503, "store_unavailable")

typedef enum {
#define X(name, status, code) ERR_##name,
    ERROR_CODES(X)
#undef X
        ERR_COUNT
} error_code_t;

/* Whether the request says its body is application/json (parameters allowed). */
int respond_request_is_json(h2o_req_t *req);

/* The largest body an API endpoint reads. */
#define RESPOND_MAX_BODY 8192

/*
 * 0 when the body is declared JSON and within RESPOND_MAX_BODY; otherwise answers 415 or
 * 413 and returns -1, after which the request is finished.
 */
int json_body_ok_or_respond(api_request_t *ar);

/* Adds the headers every response carries: request id and security headers. */
void respond_common_headers(api_request_t *ar);

/* Sends `body` (JSON) with `status`; the body is copied. */
void respond_json(api_request_t *ar, int status, const char *body, size_t len);

/* Sends `body` with `status` and `content_type`; the body is not copied: it must live in
 * the request's pool or longer. */
void respond_text(api_request_t *ar, int status, const char *content_type, const char *body,
                  size_t len);

/* Sends {"error": message, "code": code} with the code's status. */
void respond_error(api_request_t *ar, error_code_t code, const char *message);

/* 405 with an Allow header naming `allow`. */
void respond_method_not_allowed(api_request_t *ar, const char *allow);

#endif
