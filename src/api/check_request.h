/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Parsing and validating the body of POST /v1/check. Pure: no I/O and no server state, so
 * the unit tests and the fuzzer call it directly. A rejected body is described by a stable
 * error code and a sentence that names the field and the rule.
 */
#ifndef RW_API_CHECK_REQUEST_H
#define RW_API_CHECK_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "http/respond.h"
#include "limiter/limiter.h"

#define CHECK_MAX_KEY 512

typedef struct {
    error_code_t code;
    char message[256];
} api_error_t;

typedef struct {
    const char *key; /* points into the parsed document */
    size_t key_len;
    const char *user_id; /* NULL when absent */
    size_t user_id_len;
    limiter_algorithm_t algorithm;
    limiter_request_t req;
} check_request_t;

/*
 * Parses `body`. On success returns a document to release with json_decref(); the strings
 * `out` points to live in that document or in `body`, so keep both until done with them.
 * Common bodies are read by a single-pass parser that allocates nothing; any other body
 * goes to jansson, and both give the same answer to the same body. On failure returns
 * NULL and fills `err`.
 */
json_t *check_request_parse(const char *body, size_t len, check_request_t *out, api_error_t *err);

/* The general path alone (jansson), for the tests that hold the fast path to it. */
json_t *check_request_parse_general(const char *body, size_t len, check_request_t *out,
                                    api_error_t *err);

/* Validates an opaque identifier (a key or user id): 1..512 bytes, no NUL. */
int api_identifier_ok(const char *s, size_t len);

#endif
